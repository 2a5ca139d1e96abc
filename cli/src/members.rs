//! `duet devices`: the notebook's devices as named members.

use crate::args::DevicesCmd;
use crate::commands::Output;
use crate::json::notebook::list;
use crate::json::sync::Member;
use anyhow::Result;
use duet_core::{DeviceView, Duet};
use std::fmt::Write as _;

/// `duet devices [list | name NAME]`.
pub fn devices(duet: &mut Duet, cmd: Option<DevicesCmd>, out: &Output) -> Result<()> {
    match cmd.unwrap_or(DevicesCmd::List) {
        DevicesCmd::List => {
            let all = duet.members().devices()?;
            // A device linked only for private notes has no notebook to judge.
            let refused = match duet.notebook() {
                Ok(nb) => duet.members().refused(&nb.id)?,
                Err(_) => Vec::new(),
            };
            let rows: Vec<Member> = list(&all);
            out.print(&rows, || {
                let mut text = listing(&all, out);
                for r in &refused {
                    let _ = writeln!(text, "{}", out.palette.warn(&format!("Not counted: {r}.")));
                }
                text
            });
        }
        DevicesCmd::Remove { device } => {
            let gone = duet.members().remove(&device)?;
            let name = gone.name.clone().unwrap_or_else(|| "a device".into());
            out.print(&Member::from(&gone), || {
                format!(
                    "Removed {name} ({}, {}). The notebook moved to new keys: the other devices get them on their next sync, and that device is refused from now on.\n",
                    gone.person,
                    gone.id.get(..8).unwrap_or(&gone.id)
                )
            });
        }
        DevicesCmd::Name { name } => {
            let name = duet.set_device_name(&name)?;
            out.print(&crate::json::results::DeviceNamed { name: name.clone() }, || {
                format!("This device is now {name:?}; the other devices see it after their next sync.\n")
            });
        }
    }
    Ok(())
}

/// The devices as a table, one line each.
fn listing(all: &[DeviceView], out: &Output) -> String {
    let p = out.palette;
    let mut text = String::new();
    for d in all {
        let name = d
            .name
            .clone()
            .unwrap_or_else(|| "(an older Duet: no name yet)".into());
        let seen = if d.removed {
            "removed".to_owned()
        } else if d.private_notes_only {
            "linked for private notes only".to_owned()
        } else if d.this_device {
            "this device".to_owned()
        } else {
            d.last_seen
                .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
                .map(|t| format!("last seen {} UTC", t.strftime("%Y-%m-%d %H:%M")))
                .unwrap_or_else(|| "not heard from yet".into())
        };
        let added = d
            .added
            .as_deref()
            .map(|a| format!("added {a}"))
            .unwrap_or_default();
        let _ = writeln!(
            text,
            "{}  {} ({})  {name}  {added}  {}",
            p.id(d.id.get(..8).unwrap_or(&d.id)),
            d.person,
            d.role.as_str(),
            p.dim(&seen)
        );
        if let Some(fp) = &d.fingerprint {
            let _ = writeln!(text, "          {}", p.dim(&format!("fingerprint {fp}")));
        }
        if d.shared_ticket {
            let mine = all
                .iter()
                .any(|me| me.this_device && !me.private_notes_only && me.person == d.person);
            let short = d.id.get(..8).unwrap_or(&d.id);
            let what = if mine {
                format!("duet devices remove {short}")
            } else {
                format!("ask {} to remove it from one of their devices", d.person)
            };
            let _ = writeln!(
                text,
                "          joined with the same one-time ticket as another device: if you do not know it, {what}"
            );
        }
    }
    text
}
