//! Recurring talking points: "career goals, every fourth meeting", "quarterly goals, the
//! first 1-1 of the month". Kept in the index document:
//!
//! ```text
//! ROOT { recur/<id> { text, every?, monthly?, author, added_at, stopped_at? } }
//! ```
//!
//! Each point is its own map at the root, made by one device (never a shared map two
//! devices could create at once). When a meeting becomes current, each point due on it is
//! put on its agenda as a carried item (the index's `backlog`, flagged `carried`: see
//! `item`) under an id made from the point and the occurrence ([`occurrence_id`]). Two
//! devices that put the same meeting on the books offline therefore add the same item under
//! the same key, and merge into one.

use super::am;
use super::views::MeetingSummary;
use super::{MeetingStatus, ModelError};
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjType, ReadDoc, ROOT};
use serde::{Deserialize, Serialize};

/// The root-key prefix of a recurring point.
const RECUR_PREFIX: &str = "recur/";
/// The largest "every N meetings" taken (about four years of weekly 1-1s).
pub const MAX_EVERY: u32 = 200;

/// When a point comes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// On every Nth meeting of the notebook (meetings numbered from 1, canceled ones not
    /// counted): every 2 is meetings 2, 4, 6…
    Every(u32),
    /// On the first meeting of each calendar month.
    Monthly,
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rule::Every(1) => f.write_str("every meeting"),
            Rule::Every(n) => write!(f, "every {n} meetings"),
            Rule::Monthly => f.write_str("the first meeting of each month"),
        }
    }
}

/// A recurring point as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recurring {
    /// Random id.
    pub id: String,
    /// What comes back on the agenda.
    pub text: String,
    /// When.
    pub rule: Rule,
    /// Who added it (person id).
    pub author: String,
    /// When it was added (Unix milliseconds).
    pub added_at: i64,
    /// When it was stopped, if it was.
    pub stopped_at: Option<i64>,
}

/// Adds a recurring point.
pub fn add(doc: &mut AutoCommit, point: &Recurring) -> Result<(), ModelError> {
    let obj = doc.put_object(ROOT, format!("{RECUR_PREFIX}{}", point.id), ObjType::Map)?;
    am::put_text(doc, &obj, "text", &point.text)?;
    match point.rule {
        Rule::Every(n) => doc.put(&obj, "every", i64::from(n))?,
        Rule::Monthly => doc.put(&obj, "monthly", true)?,
    }
    doc.put(&obj, "author", point.author.as_str())?;
    doc.put(&obj, "added_at", point.added_at)?;
    Ok(())
}

/// Every recurring point, stopped ones too, oldest first.
pub fn all(doc: &AutoCommit) -> Result<Vec<Recurring>, ModelError> {
    let mut out = Vec::new();
    for key in doc.keys(ROOT) {
        let Some(id) = key.strip_prefix(RECUR_PREFIX) else {
            continue;
        };
        let Some(obj) = am::map(doc, &ROOT, &key)? else {
            continue;
        };
        let rule = if am::bool(doc, &obj, "monthly")?.unwrap_or(false) {
            Rule::Monthly
        } else {
            match am::int(doc, &obj, "every")?.and_then(|n| u32::try_from(n).ok()) {
                Some(n) if (1..=MAX_EVERY).contains(&n) => Rule::Every(n),
                // Written by something other than Duet: not a point Duet can keep.
                _ => continue,
            }
        };
        out.push(Recurring {
            id: id.to_owned(),
            text: am::text(doc, &obj, "text")?,
            rule,
            author: am::str(doc, &obj, "author")?.unwrap_or_default(),
            added_at: am::int(doc, &obj, "added_at")?.unwrap_or(0),
            stopped_at: am::int(doc, &obj, "stopped_at")?,
        });
    }
    out.sort_by(|a, b| a.added_at.cmp(&b.added_at).then_with(|| a.id.cmp(&b.id)));
    Ok(out)
}

/// Stops a recurring point: it is added to no later meeting.
pub fn stop(doc: &mut AutoCommit, id: &str, at: i64) -> Result<(), ModelError> {
    let obj = am::map(doc, &ROOT, &format!("{RECUR_PREFIX}{id}"))?.ok_or_else(|| {
        ModelError::Missing {
            kind: "recurring point",
            id: id.to_owned(),
        }
    })?;
    if am::int(doc, &obj, "stopped_at")?.is_none() {
        doc.put(&obj, "stopped_at", at)?;
    }
    Ok(())
}

/// The occurrence of `rule` that `meeting` is, if the point is due on it: `n4` for the
/// fourth meeting, `m202612` for the first meeting of December 2026. `meetings` is every
/// meeting of the notebook, by date then id (as `index::meetings` gives them).
pub fn occurrence(rule: Rule, meetings: &[MeetingSummary], meeting: &str) -> Option<String> {
    let counted: Vec<&MeetingSummary> = meetings
        .iter()
        .filter(|m| m.status != MeetingStatus::Canceled)
        .collect();
    let at = counted.iter().position(|m| m.id == meeting)?;
    match rule {
        Rule::Every(n) => {
            let number = u32::try_from(at + 1).ok()?;
            (number % n.max(1) == 0).then(|| format!("n{number}"))
        }
        Rule::Monthly => {
            let month = counted[at].date.get(..7)?;
            let first = counted
                .iter()
                .position(|m| m.date.get(..7) == Some(month))?;
            (first == at).then(|| format!("m{}", month.replace('-', "")))
        }
    }
}

/// The agenda item id of a point's occurrence: the same on every device, letters and
/// digits only (so a typed prefix finds it like any id).
pub fn occurrence_id(point: &str, occurrence: &str) -> String {
    format!("{point}{occurrence}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meetings(statuses: &[(&str, MeetingStatus)]) -> Vec<MeetingSummary> {
        statuses
            .iter()
            .enumerate()
            .map(|(i, (date, status))| MeetingSummary {
                id: format!("m{i}"),
                date: (*date).into(),
                status: *status,
                conflicts: vec![],
                reschedules: 0,
                planned: None,
                minutes: None,
            })
            .collect()
    }

    #[test]
    fn every_two_is_due_on_meetings_two_four_and_six_and_canceled_ones_do_not_count() {
        use MeetingStatus::*;
        let all = meetings(&[
            ("2026-12-01", Held),
            ("2026-12-08", Held),
            ("2026-12-15", Canceled),
            ("2026-12-22", Held),
            ("2026-12-29", Held),
            ("2027-01-05", Scheduled),
        ]);
        let due: Vec<Option<String>> = all
            .iter()
            .map(|m| occurrence(Rule::Every(2), &all, &m.id))
            .collect();
        assert_eq!(
            due,
            vec![None, Some("n2".into()), None, None, Some("n4".into()), None]
        );
        let monthly: Vec<Option<String>> = all
            .iter()
            .map(|m| occurrence(Rule::Monthly, &all, &m.id))
            .collect();
        assert_eq!(monthly[0].as_deref(), Some("m202612"));
        assert_eq!(monthly[5].as_deref(), Some("m202701"));
        assert!(monthly[1..5].iter().all(Option::is_none));
    }

    #[test]
    fn points_from_two_devices_merge_and_a_stop_holds() {
        let mut ana = AutoCommit::new();
        let mut bo = ana.fork();
        let point = |id: &str, rule| Recurring {
            id: id.into(),
            text: format!("point {id}"),
            rule,
            author: "p1".into(),
            added_at: 1,
            stopped_at: None,
        };
        add(&mut ana, &point("a1", Rule::Every(4))).expect("ana");
        add(&mut bo, &point("b1", Rule::Monthly)).expect("bo");
        ana.merge(&mut bo).expect("merge");
        stop(&mut ana, "b1", 5).expect("stop");
        let all = all(&ana).expect("all");
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].rule, Rule::Every(4));
        assert_eq!(all[1].stopped_at, Some(5));
        assert!(stop(&mut ana, "zz", 5).is_err());
    }
}
