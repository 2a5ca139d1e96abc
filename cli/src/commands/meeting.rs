//! `duet meeting …`: put meetings on the books, list, show, cancel and reschedule them.

use super::*;

pub(super) fn run(duet: &mut Duet, cmd: MeetingCmd, out: &Output) -> Result<()> {
    let p = out.palette;
    match cmd {
        MeetingCmd::New { on } => {
            let m = duet.meetings().book(on)?;
            out.print(&MeetingSummary::from(&m), || {
                format!("Meeting {} on {} is on the books.\n", m.id, m.date)
            });
        }
        MeetingCmd::Import { file, event } => {
            let series = crate::ics_import::read_series(&file, event.as_deref())?;
            crate::ics_import::apply(duet, &series)?;
            let next = series.next.to_string();
            let booked = duet
                .meetings()
                .list()?
                .iter()
                .any(|m| m.status.is_upcoming() && m.date == next);
            if !booked {
                duet.meetings().book(Some(series.next))?;
            }
            let nb = duet.notebook()?;
            out.print(&crate::ics_import::imported(&series, &nb.id), || {
                crate::ics_import::words(&series)
            });
        }
        MeetingCmd::List => {
            let list = duet.meetings().list()?;
            let current = list
                .iter()
                .find(|m| m.status.is_upcoming())
                .map(|m| m.id.clone());
            out.print(&list_of::<_, MeetingSummary>(&list), || {
                render::meetings(&list, current.as_deref(), p)
            });
        }
        MeetingCmd::Show { id } => {
            let m = duet.meetings().get(id.as_deref())?;
            let nb = duet.notebook()?;
            out.print_lazy(|| Meeting::from(&m), || render::meeting(&m, &nb, p));
        }
        MeetingCmd::Cancel { id } => {
            let w = duet.meetings().cancel(id.as_deref())?;
            out.print(&Wrap::from(&w), || {
                format!(
                    "Canceled the meeting on {}; {} item(s) carried to {} ({}).\n",
                    w.held.date,
                    w.carried.len(),
                    w.next.date,
                    w.next.id
                )
            });
        }
        MeetingCmd::Reschedule { id, to } => {
            let m = duet.meetings().reschedule(id.as_deref(), to)?;
            out.print(&MeetingSummary::from(&m), || {
                format!("Meeting {} is now on {}.\n", m.id, m.date)
            });
        }
    }
    Ok(())
}
