//! `duet notebook …`: create, list, choose, rename, set the cadence of, show and end notebooks.

use super::*;

pub(super) fn run(duet: &mut Duet, cmd: NotebookCmd, out: &Output) -> Result<()> {
    let p = out.palette;
    match cmd {
        NotebookCmd::New {
            title,
            me,
            with,
            cadence: c,
            first,
            from_ics,
            event,
        } => {
            if let Some(file) = from_ics {
                // Read whole before anything is made: a refused file creates nothing.
                let series = crate::ics_import::read_series(&file, event.as_deref())?;
                let rhythm = Cadence {
                    every_days: series.every_days,
                    minutes: series.minutes,
                };
                let nb = duet.notebook_new(&title, me, &with, rhythm, series.next)?;
                crate::ics_import::apply(duet, &series)?;
                out.print(&crate::ics_import::imported(&series, &nb.id), || {
                    format!(
                        "Created notebook {} ({}); it is now current.\n{}",
                        nb.title,
                        nb.id.get(..8).unwrap_or(&nb.id),
                        crate::ics_import::words(&series)
                    )
                });
                return Ok(());
            }
            let first = first.unwrap_or_else(dates::today);
            let nb =
                duet.notebook_new(&title, me, &with, cadence(&c, Cadence::default())?, first)?;
            out.print(&Notebook::from(&nb), || format!("Created notebook {} ({}); it is now current, with a first meeting on {first}.\n", nb.title, nb.id.get(..8).unwrap_or(&nb.id)));
        }
        NotebookCmd::List => {
            let list = duet.notebooks()?;
            out.print(&list_of::<_, Notebook>(&list), || {
                render::notebooks(&list, p)
            });
        }
        NotebookCmd::Use { notebook } => {
            let nb = duet.use_notebook(&notebook)?;
            out.print(&Notebook::from(&nb), || {
                format!("Now using {}.\n", nb.title)
            });
        }
        NotebookCmd::Rename { title } => {
            let nb = duet.rename(&title)?;
            out.print(&Notebook::from(&nb), || {
                format!("Renamed to {}.\n", nb.title)
            });
        }
        NotebookCmd::Cadence { cadence: c, at, tz } => {
            let base = duet.notebook()?.cadence;
            let time = match &at {
                Some(at) => Some(duet.schedule().set_time(at, tz.as_deref())?),
                None => duet.schedule().time()?,
            };
            let nb = duet.set_cadence(cadence(&c, base)?)?;
            out.print(&Notebook::from(&nb), || {
                let when = time
                    .as_ref()
                    .map(|t| format!(" at {} ({})", t.at, t.tz))
                    .unwrap_or_default();
                format!(
                    "Meeting every {} days{when} for {} minutes.\n",
                    nb.cadence.every_days, nb.cadence.minutes
                )
            });
        }
        NotebookCmd::Show => {
            let nb = duet.notebook()?;
            out.print(&Notebook::from(&nb), || render::notebook(&nb, p));
        }
        NotebookCmd::End => {
            let nb = duet.end_notebook()?;
            out.print(&Notebook::from(&nb), || {
                format!(
                    "Ended the 1-1 {}. The notebook is read-only here, and on the other device once it syncs; `duet sync` carries the end there (and to the relay, whose mailbox then goes).\n",
                    nb.title
                )
            });
        }
    }
    Ok(())
}
