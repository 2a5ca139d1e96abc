//! Themes: `#tags` written in agenda items, notes and commitments, and how they recur over
//! the meetings; and the commitments that keep slipping (done late, open past due, or due
//! dates pushed back), with their themes.
//!
//! Tags live in the text itself, so they merge like the text does and need no schema of
//! their own: `#growth`, `#workload`, `#on-call` (letters, digits, `-` and `_`; matched
//! without regard to case).

use super::{date_of_millis, History};
use crate::model::views::{AgendaItem, Commitment, MeetingView, SectionText};
use crate::model::{CommitmentStatus, MeetingStatus};
use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// A theme and where it came up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Theme {
    /// The tag, lower case, without `#`.
    pub tag: String,
    /// Meetings it came up in.
    pub meetings: usize,
    /// Times it was written.
    pub mentions: usize,
    /// The first meeting it came up in.
    pub first: String,
    /// The last meeting it came up in.
    pub last: String,
    /// Whether it came up in at least three meetings.
    pub recurring: bool,
    /// For each of the last [`RECENT_MEETINGS`] held meetings, oldest first, whether it came
    /// up there: how the theme moves over time.
    pub recent: Vec<bool>,
}

/// How many of the latest held meetings [`Theme::recent`] covers.
pub const RECENT_MEETINGS: usize = 12;

/// A commitment that slipped, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slipping {
    /// The commitment.
    pub commitment: Commitment,
    /// The meeting date it was made in.
    pub made_on: String,
    /// Its themes.
    pub tags: Vec<String>,
    /// Why it counts as slipping, in plain words.
    pub why: String,
}

/// What `duet themes` shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Themes {
    /// Every theme, most meetings first.
    pub themes: Vec<Theme>,
    /// Commitments that keep slipping, oldest first.
    pub slipping: Vec<Slipping>,
}

/// The tags in a text, lower case, without `#`, each once.
pub fn tags(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut chars = text.char_indices().peekable();
    let mut prev: Option<char> = None;
    while let Some((_, c)) = chars.next() {
        // A tag starts at `#` not glued to a word before it (so `C#` or `a#b` are not tags).
        if c == '#' && !prev.is_some_and(|p| p.is_alphanumeric()) {
            let mut tag = String::new();
            while let Some((_, n)) = chars.peek() {
                if n.is_alphanumeric() || *n == '-' || *n == '_' {
                    tag.extend(n.to_lowercase());
                    chars.next();
                } else {
                    break;
                }
            }
            let tag = tag.trim_end_matches(['-', '_']).to_owned();
            // `#1` is a number, not a theme.
            if tag.chars().any(char::is_alphabetic) {
                out.insert(tag);
            }
            prev = Some('x');
            continue;
        }
        prev = Some(c);
    }
    out
}

/// A meeting's tags, each with the number of its texts (agenda items, notes, commitments)
/// that mention it: what [`themes`] needs of a meeting, small enough to keep per meeting.
pub fn meeting_tags(
    agenda: &[AgendaItem],
    sections: &[SectionText],
    commitments: &[Commitment],
) -> BTreeMap<String, usize> {
    let texts = agenda
        .iter()
        .map(|i| i.text.as_str())
        .chain(sections.iter().map(|s| s.text.as_str()))
        .chain(commitments.iter().map(|c| c.text.as_str()));
    let mut out = BTreeMap::new();
    for text in texts {
        for tag in tags(text) {
            *out.entry(tag).or_insert(0) += 1;
        }
    }
    out
}

/// Themes over the whole history, and the commitments that keep slipping.
pub fn themes(h: &History<'_>) -> Themes {
    let tagged: Vec<(&MeetingView, BTreeMap<String, usize>)> = h
        .meetings
        .iter()
        .map(|m| (m, meeting_tags(&m.agenda, &m.sections, &m.commitments)))
        .collect();
    themes_of(&tagged, h.today)
}

/// [`themes`] from each meeting's [`meeting_tags`] (its agenda and sections may then be
/// left empty; its commitments are read).
pub fn themes_of(meetings: &[(&MeetingView, BTreeMap<String, usize>)], today: Date) -> Themes {
    let mut by_tag: BTreeMap<&str, (BTreeSet<&str>, usize, &str, &str)> = BTreeMap::new();
    for (m, tags) in meetings {
        let date = m.summary.date.as_str();
        for (tag, mentions) in tags {
            let entry = by_tag
                .entry(tag.as_str())
                .or_insert_with(|| (BTreeSet::new(), 0, date, date));
            entry.0.insert(m.summary.id.as_str());
            entry.1 += mentions;
            entry.2 = entry.2.min(date);
            entry.3 = entry.3.max(date);
        }
    }
    let held: Vec<&str> = meetings
        .iter()
        .filter(|(m, _)| m.summary.status == MeetingStatus::Held)
        .map(|(m, _)| m.summary.id.as_str())
        .collect();
    let recent_ids = &held[held.len().saturating_sub(RECENT_MEETINGS)..];
    let mut themes: Vec<Theme> = by_tag
        .into_iter()
        .map(|(tag, (meetings, mentions, first, last))| Theme {
            recent: recent_ids.iter().map(|id| meetings.contains(*id)).collect(),
            tag: tag.to_owned(),
            meetings: meetings.len(),
            mentions,
            first: first.to_owned(),
            last: last.to_owned(),
            recurring: meetings.len() >= 3,
        })
        .collect();
    themes.sort_by(|a, b| {
        b.meetings
            .cmp(&a.meetings)
            .then_with(|| b.last.cmp(&a.last))
            .then_with(|| a.tag.cmp(&b.tag))
    });

    let mut slipping = Vec::new();
    for (m, _) in meetings {
        for c in &m.commitments {
            if let Some(why) = slip_reason(c, today) {
                slipping.push(Slipping {
                    commitment: c.clone(),
                    made_on: m.summary.date.clone(),
                    tags: tags(&c.text).into_iter().collect(),
                    why,
                });
            }
        }
    }
    Themes { themes, slipping }
}

fn slip_reason(c: &Commitment, today: Date) -> Option<String> {
    let due = c.due.as_deref().and_then(|d| d.parse::<Date>().ok());
    let mut why = Vec::new();
    if c.slips > 0 {
        why.push(format!(
            "due date pushed back {} time{}",
            c.slips,
            if c.slips == 1 { "" } else { "s" }
        ));
    }
    match (c.status, due) {
        (CommitmentStatus::Open, Some(d)) if d < today => {
            why.push(format!("open {} days past due", (today - d).get_days()))
        }
        (CommitmentStatus::Done, Some(d)) => {
            if let Some(closed) = c.closed_at.and_then(date_of_millis) {
                if closed > d {
                    why.push(format!("done {} days late", (closed - d).get_days()));
                }
            }
        }
        _ => {}
    }
    (!why.is_empty()).then(|| why.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insights::fixtures::*;
    use crate::model::Section;

    proptest::proptest! {
        #[test]
        fn any_text_yields_clean_tags(text in ".{0,200}") {
            for tag in tags(&text) {
                proptest::prop_assert!(!tag.is_empty());
                // Lower-casing may add combining marks (İ -> i̇), never spaces or `#`.
                proptest::prop_assert!(!tag.chars().any(|c| c.is_whitespace() || c == '#'));
                proptest::prop_assert!(tag.chars().any(char::is_alphabetic));
            }
        }
    }

    #[test]
    fn tags_are_found_where_people_write_them() {
        let t = tags("Talk about #Growth and #on-call load, not C# or issue #12. #workload.");
        let t: Vec<&str> = t.iter().map(String::as_str).collect();
        assert_eq!(t, vec!["growth", "on-call", "workload"]);
        assert!(tags("no tags here # at all").is_empty());
        assert_eq!(tags("#Café"), BTreeSet::from(["café".to_owned()]));
    }

    #[test]
    fn recurring_themes_and_slipping_commitments_are_listed() {
        let nb = notebook();
        let mut meetings = Vec::new();
        for (i, d) in ["2026-05-05", "2026-05-12", "2026-05-19"]
            .iter()
            .enumerate()
        {
            let mut m = meeting(&format!("m{i}"), d, MeetingStatus::Held);
            m.agenda
                .push(item(&format!("a{i}"), "on-call again #workload", "bo"));
            meetings.push(m);
        }
        write(
            &mut meetings[1],
            Section::LookAhead,
            "course in June #growth",
        );
        let mut late = commitment(
            "c1",
            "rebalance the rota #workload",
            "ana",
            Some("2026-05-20"),
            CommitmentStatus::Open,
            None,
        );
        late.slips = 2;
        meetings[0].commitments.push(late);
        meetings[0].commitments.push(commitment(
            "c2",
            "on time",
            "bo",
            Some("2026-05-20"),
            CommitmentStatus::Done,
            Some("2026-05-19"),
        ));
        let t = themes(&history(&nb, &meetings, "2026-06-01"));
        assert_eq!(t.themes[0].tag, "workload");
        assert_eq!(t.themes[0].meetings, 3);
        assert_eq!(t.themes[0].mentions, 4);
        assert!(t.themes[0].recurring);
        assert_eq!(
            (t.themes[0].first.as_str(), t.themes[0].last.as_str()),
            ("2026-05-05", "2026-05-19")
        );
        assert!(!t.themes[1].recurring);
        assert_eq!(t.themes[0].recent, vec![true, true, true]);
        assert_eq!(t.themes[1].recent, vec![false, true, false]);
        assert_eq!(t.slipping.len(), 1);
        assert_eq!(t.slipping[0].tags, vec!["workload".to_owned()]);
        assert_eq!(
            t.slipping[0].why,
            "due date pushed back 2 times, open 12 days past due"
        );
    }
}
