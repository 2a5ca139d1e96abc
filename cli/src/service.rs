//! `duet service install|uninstall|status`: the node as a service of the person's session,
//! so it runs after every login without a terminal. On Linux a systemd user unit
//! (`~/.config/systemd/user/`, enabled and started with `systemctl --user`); on macOS a
//! launchd agent (`~/Library/LaunchAgents/`, loaded with `launchctl`; untested here).
//! Installing twice changes nothing; the unit names this binary and this home.

use crate::commands::Output;
use anyhow::{anyhow, Context, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What `duet service` reports.
#[derive(Debug, Serialize)]
pub struct ServiceState {
    /// The unit or agent file.
    pub file: PathBuf,
    /// Whether it is there.
    pub installed: bool,
    /// Whether it was written now (false: it was there as it should be, or removed).
    pub changed: bool,
    /// Whether the service manager says it runs, when it could be asked.
    pub running: Option<bool>,
    /// What the person may still want to do.
    pub note: Option<String>,
}

crate::json::contract!(ServiceState);

/// The service's name: `duet` for the default home, `duet-XXXXXXXX` for another (so two
/// homes on one account get two services).
fn name(home: &Path, default_home: bool) -> String {
    if default_home {
        "duet".to_owned()
    } else {
        let hash = path_hash(home.as_os_str().as_encoded_bytes());
        format!("duet-{}", &hash[..8])
    }
}

/// FNV-1a of the home's path: a stable short name, not a secret, and free of the
/// characters systemd would escape in a unit name.
fn path_hash(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// The systemd user unit that runs `duet serve` on `home`.
pub fn systemd_unit(binary: &Path, home: &Path) -> String {
    format!(
        "[Unit]
Description=Duet node: keeps this device's 1-1 notebooks in sync and reminds before 1-1s
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
ExecStart={} --home {} serve
Restart=on-failure
RestartSec=5
# The node stops cleanly on SIGTERM: acknowledged edits are on disk.
KillSignal=SIGTERM
TimeoutStopSec=20

[Install]
WantedBy=default.target
",
        quote(binary),
        quote(home)
    )
}

/// The launchd agent that runs `duet serve` on `home`.
pub fn launchd_agent(label: &str, binary: &Path, home: &Path) -> String {
    let esc = |p: &Path| {
        p.display()
            .to_string()
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>Label</key><string>{label}</string>
  <key>ProgramArguments</key>
  <array><string>{}</string><string>--home</string><string>{}</string><string>serve</string></array>
  <key>RunAtLoad</key><true/>
  <key>KeepAlive</key><dict><key>SuccessfulExit</key><false/></dict>
</dict>
</plist>
"#,
        esc(binary),
        esc(home)
    )
}

/// A path quoted for a systemd command line (spaces and quotes kept).
fn quote(p: &Path) -> String {
    let text = p.display().to_string();
    if text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+".contains(c))
    {
        text
    } else {
        format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

/// Where the unit goes: `$XDG_CONFIG_HOME/systemd/user`, else `~/.config/systemd/user`.
fn systemd_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("XDG_CONFIG_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir).join("systemd/user"));
    }
    let home = std::env::var_os("HOME").ok_or_else(|| anyhow!("HOME is not set"))?;
    Ok(PathBuf::from(home).join(".config/systemd/user"))
}

/// What `service` was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Write, enable and start it.
    Install {
        /// Write the file only.
        no_start: bool,
    },
    /// Stop, disable and remove it.
    Uninstall,
    /// Say how it stands.
    Status,
}

/// `duet service …` for `home` (`default_home`: the one used when no --home is given).
pub fn run(home: &Path, default_home: bool, action: Action, out: &Output) -> Result<()> {
    let binary = std::env::current_exe().context("finding this binary")?;
    let home = std::path::absolute(home).context("the home's path")?;
    let name = name(&home, default_home);
    let state = if cfg!(target_os = "macos") {
        launchd(&name, &binary, &home, action)?
    } else {
        systemd(&name, &binary, &home, action)?
    };
    out.print(&state, || {
        let mut text = match (action, state.installed, state.changed) {
            (Action::Install { .. }, _, true) => format!("Installed {}.", state.file.display()),
            (Action::Install { .. }, _, false) => {
                format!("{} is installed already.", state.file.display())
            }
            (Action::Uninstall, _, true) => format!("Removed {}.", state.file.display()),
            (Action::Uninstall, _, false) => "No Duet service was installed.".to_owned(),
            (Action::Status, true, _) => format!("Installed: {}.", state.file.display()),
            (Action::Status, false, _) => "Not installed (duet service install).".to_owned(),
        };
        match state.running {
            Some(true) => text.push_str(" It runs."),
            Some(false) if state.installed => text.push_str(" It does not run now."),
            _ => {}
        }
        if let Some(note) = &state.note {
            text.push_str(&format!("\n{note}"));
        }
        text.push('\n');
        text
    });
    Ok(())
}

fn systemd(name: &str, binary: &Path, home: &Path, action: Action) -> Result<ServiceState> {
    let unit = format!("{name}.service");
    let file = systemd_dir()?.join(&unit);
    let want = systemd_unit(binary, home);
    let have = std::fs::read_to_string(&file).ok();
    let systemctl = |args: &[&str]| {
        Command::new("systemctl")
            .arg("--user")
            .args(args)
            .output()
            .ok()
    };
    let running = || systemctl(&["is-active", "--quiet", &unit]).map(|o| o.status.success());
    match action {
        Action::Install { no_start } => {
            let changed = have.as_deref() != Some(want.as_str());
            if changed {
                if let Some(dir) = file.parent() {
                    std::fs::create_dir_all(dir)
                        .with_context(|| format!("making {}", dir.display()))?;
                }
                crate::calendar::write_atomically(&file, &want)?;
            }
            let mut note = Some(format!(
                "To keep it running while you are logged out: loginctl enable-linger {}",
                std::env::var("USER").unwrap_or_else(|_| "$USER".into())
            ));
            let mut started = None;
            if !no_start {
                let reloaded = systemctl(&["daemon-reload"]).is_some_and(|o| o.status.success());
                let enabled = reloaded
                    && systemctl(&["enable", "--now", &unit]).is_some_and(|o| o.status.success());
                if enabled {
                    started = running();
                } else {
                    note = Some(format!(
                        "systemd's user manager did not answer: start it later with systemctl --user enable --now {unit}"
                    ));
                }
            }
            Ok(ServiceState {
                file,
                installed: true,
                changed,
                running: started,
                note,
            })
        }
        Action::Uninstall => {
            if have.is_none() {
                return Ok(ServiceState {
                    file,
                    installed: false,
                    changed: false,
                    running: None,
                    note: None,
                });
            }
            let _ = systemctl(&["disable", "--now", &unit]);
            std::fs::remove_file(&file).with_context(|| format!("removing {}", file.display()))?;
            let _ = systemctl(&["daemon-reload"]);
            Ok(ServiceState {
                file,
                installed: false,
                changed: true,
                running: None,
                note: None,
            })
        }
        Action::Status => {
            let installed = have.is_some();
            let note = match &have {
                Some(text) if *text != want => Some(
                    "It names another binary or home than this one: duet service install updates it."
                        .to_owned(),
                ),
                _ => None,
            };
            Ok(ServiceState {
                file,
                installed,
                changed: false,
                running: if installed { running() } else { None },
                note,
            })
        }
    }
}

fn launchd(name: &str, binary: &Path, home: &Path, action: Action) -> Result<ServiceState> {
    let label = format!("org.duet.{name}");
    let home_dir = std::env::var_os("HOME").ok_or_else(|| anyhow!("HOME is not set"))?;
    let file = PathBuf::from(home_dir)
        .join("Library/LaunchAgents")
        .join(format!("{label}.plist"));
    let want = launchd_agent(&label, binary, home);
    let have = std::fs::read_to_string(&file).ok();
    let launchctl = |args: &[&str]| Command::new("launchctl").args(args).output().ok();
    match action {
        Action::Install { no_start } => {
            let changed = have.as_deref() != Some(want.as_str());
            if changed {
                if let Some(dir) = file.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                crate::calendar::write_atomically(&file, &want)?;
            }
            if !no_start {
                let path = file.display().to_string();
                let _ = launchctl(&["unload", &path]);
                let _ = launchctl(&["load", "-w", &path]);
            }
            Ok(ServiceState {
                file,
                installed: true,
                changed,
                running: None,
                note: None,
            })
        }
        Action::Uninstall => {
            let existed = have.is_some();
            if existed {
                let _ = launchctl(&["unload", "-w", &file.display().to_string()]);
                std::fs::remove_file(&file)?;
            }
            Ok(ServiceState {
                file,
                installed: false,
                changed: existed,
                running: None,
                note: None,
            })
        }
        Action::Status => Ok(ServiceState {
            installed: have.is_some(),
            file,
            changed: false,
            running: None,
            note: None,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unit_runs_this_binary_on_this_home_and_quotes_what_needs_it() {
        let unit = systemd_unit(
            Path::new("/usr/local/bin/duet"),
            Path::new("/home/ana/My Duet"),
        );
        assert!(
            unit.contains("ExecStart=/usr/local/bin/duet --home \"/home/ana/My Duet\" serve"),
            "{unit}"
        );
        assert!(unit.contains("Restart=on-failure"));
        assert!(unit.contains("WantedBy=default.target"));
        assert_eq!(name(Path::new("/x"), true), "duet");
        let other = name(Path::new("/home/ana/other"), false);
        assert!(other.starts_with("duet-") && other.len() == 13, "{other}");
        assert_eq!(other, name(Path::new("/home/ana/other"), false));
        let plist = launchd_agent("org.duet.duet", Path::new("/bin/duet"), Path::new("/h&o"));
        assert!(plist.contains("<string>/h&amp;o</string>"), "{plist}");
    }
}
