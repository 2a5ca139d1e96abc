//! Recurring talking points on the phone: added by either person, seen by both, put on the
//! agenda of each meeting they are due on (marked in `AgendaItemRecord::recurring_point`).

use crate::app::DuetApp;
use crate::error::MobileError;
use duet_core::model::recur::{Recurring, Rule};

/// A recurring talking point.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RecurringPointRecord {
    /// Its id (what `stop_recurring_point` takes).
    pub id: String,
    /// What comes back on the agenda.
    pub text: String,
    /// Every this many meetings; `None` for a monthly point.
    pub every: Option<u32>,
    /// On the first meeting of each month.
    pub monthly: bool,
    /// Who added it (person id).
    pub author: String,
    /// Whether it was stopped.
    pub stopped: bool,
}

impl From<Recurring> for RecurringPointRecord {
    fn from(p: Recurring) -> Self {
        RecurringPointRecord {
            every: match p.rule {
                Rule::Every(n) => Some(n),
                Rule::Monthly => None,
            },
            monthly: p.rule == Rule::Monthly,
            stopped: p.stopped_at.is_some(),
            id: p.id,
            text: p.text,
            author: p.author,
        }
    }
}

#[uniffi::export]
impl DuetApp {
    /// Adds a talking point that comes back on every `every`th meeting, or, with `every`
    /// `None`, on the first meeting of each month.
    pub fn add_recurring_point(
        &self,
        text: String,
        every: Option<u32>,
    ) -> Result<RecurringPointRecord, MobileError> {
        let rule = every.map_or(Rule::Monthly, Rule::Every);
        self.edit("recurring point", move |d| {
            Ok(d.agenda().add_recurring(&text, rule)?.into())
        })
    }

    /// The current notebook's recurring points, stopped ones too, oldest first.
    pub fn recurring_points(&self) -> Result<Vec<RecurringPointRecord>, MobileError> {
        self.with(|d| {
            Ok(d.agenda()
                .recurring()?
                .into_iter()
                .map(Into::into)
                .collect())
        })
    }

    /// Stops a recurring point: no later meeting gets it.
    pub fn stop_recurring_point(&self, id: String) -> Result<RecurringPointRecord, MobileError> {
        self.edit("recurring point stopped", move |d| {
            Ok(d.agenda().stop_recurring(&id)?.into())
        })
    }
}
