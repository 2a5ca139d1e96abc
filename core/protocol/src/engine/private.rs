//! Keeps a home private at rest: its folders are 0700 and its files 0600 whatever the
//! process's umask, because they hold notebook secrets, device and TLS keys and every note.
//!
//! Folders are created with their final mode (no window in which another user could open
//! them), and whatever already exists is tightened when a store opens: a home made by an
//! older Duet, or files sled created later under the default umask. Nothing is followed
//! through a symbolic link.

use std::io;
use std::path::Path;

/// Mode of every folder of a home: the owner only.
pub const DIR_MODE: u32 = 0o700;
/// Mode of every file of a home: the owner only, never executable.
pub const FILE_MODE: u32 = 0o600;

/// Creates `path` (and missing parents) with the last folder private, or makes an existing
/// folder private.
pub fn create_private_dir(path: &Path) -> io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, DIR_MODE);
    match builder.create(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && path.is_dir() => tighten(path),
        Err(e) => Err(e),
    }
}

/// Makes one file or folder private (a symbolic link is left alone).
pub fn tighten(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::symlink_metadata(path)?;
        let wanted = if meta.is_dir() {
            DIR_MODE
        } else if meta.is_file() {
            FILE_MODE
        } else {
            // Sockets keep their own mode (the control socket is made 0600 by its creator).
            return Ok(());
        };
        if meta.permissions().mode() & 0o777 != wanted {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(wanted))?;
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Makes `root` and everything under it private. Entries that vanish meanwhile (sled removes
/// old snapshots) are skipped.
pub fn tighten_tree(root: &Path) -> io::Result<()> {
    let skip_gone = |r: io::Result<()>| match r {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    };
    skip_gone(tighten(root))?;
    if !std::fs::symlink_metadata(root).is_ok_and(|m| m.is_dir()) {
        return Ok(());
    }
    for entry in std::fs::read_dir(root)? {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        skip_gone(tighten_tree(&entry.path()))?;
    }
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path)
            .expect("metadata")
            .permissions()
            .mode()
            & 0o777
    }

    #[test]
    fn a_new_folder_is_private_and_an_open_one_is_tightened() {
        let dir = tempfile::tempdir().expect("tempdir");
        let home = dir.path().join("a").join("home");
        create_private_dir(&home).expect("create");
        assert_eq!(mode(&home), DIR_MODE);

        let file = home.join("old-file");
        std::fs::write(&file, b"secret").expect("write");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        create_private_dir(&home).expect("again");
        assert_eq!(mode(&home), DIR_MODE);
        tighten_tree(&home).expect("tighten");
        assert_eq!(mode(&file), FILE_MODE);
    }

    #[test]
    fn a_link_out_of_the_home_is_not_followed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let outside = dir.path().join("outside");
        std::fs::write(&outside, b"not ours").expect("write");
        std::fs::set_permissions(&outside, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let home = dir.path().join("home");
        create_private_dir(&home).expect("create");
        std::os::unix::fs::symlink(&outside, home.join("link")).expect("symlink");
        tighten_tree(&home).expect("tighten");
        assert_eq!(mode(&outside), 0o644);
    }
}
