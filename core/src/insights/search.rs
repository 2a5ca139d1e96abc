//! Text search across every meeting (agenda items, the sections, commitments), the
//! backlog, and the person's own private notes when the caller passes them.
//!
//! Matching ignores case (Unicode lower case) and finds every word of the query, in any
//! order, within one entry: `search "rota workload"` finds "the on-call rota is #workload".

use super::History;
use crate::model::private::PrivateNote;
use crate::model::views::{AgendaItem, Commitment, MeetingSummary, SectionText};
use crate::model::Section;
use serde::{Deserialize, Serialize};

/// Where a hit was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HitKind {
    /// An agenda item.
    Agenda,
    /// A section of the notes (`section` says which).
    Note,
    /// A commitment.
    Commitment,
    /// One of the person's private notes.
    Private,
    /// An agenda item kept in the backlog (no meeting yet).
    Backlog,
}

/// One entry that matches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hit {
    /// The meeting id (empty for a private note without one).
    pub meeting: String,
    /// The meeting's date.
    pub date: String,
    /// What kind of entry.
    pub kind: HitKind,
    /// The section key for notes.
    pub section: Option<String>,
    /// The entry's id (item, commitment or private note).
    pub id: Option<String>,
    /// The matching line (for notes, the paragraph that matched).
    pub text: String,
}

/// What search reads of one meeting: its own agenda items, its sections and its
/// commitments (kept for every past meeting, so a search reads no meeting's whole view).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeetingText {
    /// Agenda items: id and text.
    agenda: Vec<(String, String)>,
    /// Sections: which, and the text.
    sections: Vec<(Section, String)>,
    /// Commitments: id and text.
    commitments: Vec<(String, String)>,
}

impl MeetingText {
    /// The searchable text of a meeting's parts.
    pub fn of(agenda: &[AgendaItem], sections: &[SectionText], commitments: &[Commitment]) -> Self {
        MeetingText {
            agenda: agenda
                .iter()
                .map(|i| (i.id.clone(), i.text.clone()))
                .collect(),
            sections: sections
                .iter()
                .map(|s| (s.section, s.text.clone()))
                .collect(),
            commitments: commitments
                .iter()
                .map(|c| (c.id.clone(), c.text.clone()))
                .collect(),
        }
    }
}

/// Every entry matching all words of `query`, oldest meeting first.
pub fn search(h: &History<'_>, private: &[PrivateNote], query: &str) -> Vec<Hit> {
    let texts: Vec<MeetingText> = h
        .meetings
        .iter()
        .map(|m| MeetingText::of(&m.agenda, &m.sections, &m.commitments))
        .collect();
    let meetings: Vec<(&MeetingSummary, &MeetingText)> =
        h.meetings.iter().map(|m| &m.summary).zip(&texts).collect();
    search_texts(&meetings, h.backlog, private, query)
}

/// [`search`] over each meeting's searchable text.
pub fn search_texts(
    meetings: &[(&MeetingSummary, &MeetingText)],
    backlog: &[AgendaItem],
    private: &[PrivateNote],
    query: &str,
) -> Vec<Hit> {
    let words: Vec<String> = query.split_whitespace().map(str::to_lowercase).collect();
    if words.is_empty() {
        return Vec::new();
    }
    let matches = |text: &str| {
        let lower = text.to_lowercase();
        words.iter().all(|w| lower.contains(w.as_str()))
    };
    let mut out = Vec::new();
    for (summary, text) in meetings {
        let hit = |kind, section: Option<String>, id: Option<String>, text: &str| Hit {
            meeting: summary.id.clone(),
            date: summary.date.clone(),
            kind,
            section,
            id,
            text: text.to_owned(),
        };
        for (id, item) in text.agenda.iter().filter(|(_, t)| matches(t)) {
            out.push(hit(HitKind::Agenda, None, Some(id.clone()), item));
        }
        for (section, body) in &text.sections {
            for para in body.lines().filter(|p| matches(p)) {
                out.push(hit(
                    HitKind::Note,
                    Some(section.key().to_owned()),
                    None,
                    para,
                ));
            }
        }
        for (id, c) in text.commitments.iter().filter(|(_, t)| matches(t)) {
            out.push(hit(HitKind::Commitment, None, Some(id.clone()), c));
        }
    }
    for note in private.iter().filter(|n| matches(&n.text)) {
        let meeting = note.meeting.clone().unwrap_or_default();
        let date = meetings
            .iter()
            .find(|(m, _)| m.id == meeting)
            .map(|(m, _)| m.date.clone())
            .unwrap_or_default();
        out.push(Hit {
            meeting,
            date,
            kind: HitKind::Private,
            section: None,
            id: Some(note.id.clone()),
            text: note.text.clone(),
        });
    }
    out.sort_by(|a, b| a.date.cmp(&b.date));
    // Items kept for later belong to no meeting yet: they come last.
    for item in backlog.iter().filter(|i| matches(&i.text)) {
        out.push(Hit {
            meeting: String::new(),
            date: String::new(),
            kind: HitKind::Backlog,
            section: None,
            id: Some(item.id.clone()),
            text: item.text.clone(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insights::fixtures::*;
    use crate::model::{CommitmentStatus, MeetingStatus, Section};

    #[test]
    fn every_kind_of_entry_is_searched_by_all_words_in_any_case() {
        let nb = notebook();
        let mut m = meeting("m1", "2026-05-05", MeetingStatus::Held);
        m.agenda.push(item("a1", "The on-call ROTA", "bo"));
        write(
            &mut m,
            Section::Challenges,
            "first line\nrota is heavy on-call\nlast",
        );
        m.commitments.push(commitment(
            "c1",
            "fix the rota for on-call",
            "ana",
            None,
            CommitmentStatus::Open,
            None,
        ));
        let private = vec![PrivateNote {
            id: "p1".into(),
            notebook: "nb".into(),
            meeting: Some("m1".into()),
            text: "Bo seemed tired of on-call; rota?".into(),
            at: 1,
        }];
        let meetings = vec![m];
        let backlog = vec![item("k1", "rota review, later (on-call)", "ana")];
        let h = History {
            notebook: &nb,
            meetings: &meetings,
            backlog: &backlog,
            today: "2026-06-01".parse().expect("date"),
        };
        let hits = search(&h, &private, "rota ON-CALL");
        let kinds: Vec<HitKind> = hits.iter().map(|h| h.kind).collect();
        assert_eq!(
            kinds,
            vec![
                HitKind::Agenda,
                HitKind::Note,
                HitKind::Commitment,
                HitKind::Private,
                HitKind::Backlog
            ]
        );
        assert_eq!(hits[1].text, "rota is heavy on-call");
        assert_eq!(hits[3].date, "2026-05-05");
        assert!(search(&h, &private, "rota holiday").is_empty());
        assert!(search(&h, &private, "   ").is_empty());
    }
}
