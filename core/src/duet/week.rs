//! The week across every notebook of this home (`duet week`, `duet today`, the phone's
//! `week()`): each notebook read once, then put together by [`crate::insights::week`].
use super::commits::open_commitments;
use super::*;
use crate::insights::health::Window;
use crate::insights::week::{self, in_window, NotebookWeek, Week};
use jiff::civil::Date;
use std::ops::DerefMut;

impl Duet {
    fn notebook_weeks(
        &mut self,
        from: Date,
        to: Date,
        today: Date,
    ) -> Result<Vec<NotebookWeek>, DuetError> {
        let mut out = Vec::new();
        let today_text = today.to_string();
        for record in self.shared_records()? {
            if self.join_pending(&record.id)?
                && self.store.load_doc(&record.id, INDEX_DOC)?.is_none()
            {
                continue;
            }
            self.selected = Some(record.id.clone());
            let mut nb = self.load()?;
            let notebook = self.view_of(&mut nb, false)?;
            if notebook.ended.is_some() {
                self.keep(nb);
                continue;
            }
            let index = nb.index_view(&self.store)?;
            let booked = index
                .meetings
                .iter()
                .any(|m| m.status.is_upcoming() && m.date >= today_text);
            let mut meetings = Vec::new();
            for summary in index
                .meetings
                .iter()
                .filter(|m| in_window(m.status, &m.date, from, to))
            {
                meetings.push(match meeting_view(&self.store, &mut nb, &summary.id) {
                    Ok(view) => view,
                    // Its content has not arrived here yet: the date is still worth showing.
                    Err(DuetError::MeetingNotHere { .. }) => MeetingView {
                        summary: summary.clone(),
                        agenda: Vec::new(),
                        sections: Vec::new(),
                        commitments: Vec::new(),
                    },
                    Err(e) => return Err(e),
                });
            }
            let open_commitments = open_commitments(&self.store, &mut nb)?;
            self.keep(nb);
            let signals = self.insights().health(Window::default())?.signals;
            out.push(NotebookWeek {
                notebook,
                meetings,
                booked,
                open_commitments,
                signals,
            });
        }
        Ok(out)
    }
}

impl<D: DerefMut<Target = Duet>> Schedule<D> {
    /// Every notebook's 1-1s on the books from `from` to `to` (with who has added to each
    /// agenda, the items carried often and the drift signals), the open commitments owed
    /// each way, and the notebooks with no meeting on the books. Ended 1-1s, and
    /// notebooks joined whose content has not arrived, are left out.
    pub fn week(&mut self, from: Date, to: Date) -> Result<Week, DuetError> {
        let today = crate::dates::today();
        let saved = self.duet.selected.take();
        let read = self.duet.notebook_weeks(from, to, today);
        self.duet.selected = saved;
        Ok(week::week(&read?, from, to, today))
    }
}
