//! `duet commit …`: commitments and who owns them: add, close, reword, drop and list.

use super::*;

pub(super) fn run(duet: &mut Duet, cmd: CommitCmd, out: &Output) -> Result<()> {
    let p = out.palette;
    match cmd {
        CommitCmd::Add { text, owner, due } => {
            let c = duet.commitments().add(&text, &owner, due, None)?;
            let nb = duet.notebook()?;
            out.print(&Commitment::from(&c), || {
                format!(
                    "Commitment {} for {}{}.\n",
                    c.id,
                    nb.name_of(&c.owner),
                    c.due
                        .as_deref()
                        .map(|d| format!(", due {d}"))
                        .unwrap_or_default()
                )
            });
        }
        CommitCmd::Done { id } => {
            let c = duet
                .commitments()
                .close(id.as_str(), CommitmentStatus::Done)?;
            out.print(&Commitment::from(&c), || format!("Done: {}\n", c.text));
        }
        CommitCmd::Edit { id, text, due } => {
            let c = duet.commitments().edit(id.as_str(), text.as_deref(), due)?;
            out.print(&Commitment::from(&c), || format!("Now: {}\n", c.text))
        }
        CommitCmd::Drop { id } => {
            let c = duet
                .commitments()
                .close(id.as_str(), CommitmentStatus::Dropped)?;
            out.print(&Commitment::from(&c), || format!("Dropped: {}\n", c.text));
        }
        CommitCmd::List { open } => {
            let list = duet.commitments().list(open)?;
            let nb = duet.notebook()?;
            out.print_lazy(
                || list_of::<_, Commitment>(&list),
                || {
                    if list.is_empty() {
                        return "No commitments.\n".into();
                    }
                    list.iter()
                        .map(|c| render::commitment_line(c, &nb, p))
                        .collect()
                },
            );
        }
    }
    Ok(())
}
