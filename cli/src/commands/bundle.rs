//! `duet bundle …`: the notebook as one file, out and in, for devices that cannot connect.

use super::*;

pub(super) fn run(duet: &mut Duet, cmd: BundleCmd, out: &Output) -> Result<()> {
    match cmd {
        BundleCmd::Out { file } => {
            let bytes = duet.bundle_out(&file)?;
            let written = crate::json::results::BundleWritten {
                file: file.clone(),
                bytes: bytes as u64,
            };
            out.print(&written, || {
                format!("Wrote {} ({bytes} bytes). It contains the notebook and its secret: hand it over privately.\n", file.display())
            });
        }
        BundleCmd::In {
            file,
            join,
            as_role,
        } => {
            let join = match (join, as_role) {
                (true, Some(r)) => Some(JoinAs::Role(r)),
                _ => None,
            };
            let r = duet.bundle_in(&file, join)?;
            out.print(&Merge::from(&r), || {
                let joined = if r.joined {
                    "Joined the notebook. "
                } else {
                    ""
                };
                format!(
                    "{joined}Merged {} new change(s) into {} document(s).\n",
                    r.changes, r.documents
                )
            });
        }
    }
    Ok(())
}
