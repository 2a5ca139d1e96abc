//! Questions worth asking in a 1-1: a built-in bank, the pair's own, and when each was
//! asked. Kept in the index document's `questions` map with flat keys:
//!
//! ```text
//! questions { "own/<id>":              { text, added_by, added_at },
//!             "asked/<question>/<meeting>": unix millis }
//! ```
//!
//! Flat keys instead of nested maps because two devices that ask the same question in the
//! same meeting, offline, each write the same key with a scalar: the merge keeps one record
//! and loses nothing. A nested `asked_in` map created on both devices would conflict, and
//! one device's records would vanish behind the other's.

use super::am;
use super::ModelError;
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjId, ObjType, ROOT};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The built-in bank: open questions that careful managers ask. Ids are stable forever
/// (asked records refer to them); add new questions at the end with new ids.
pub const BANK: &[(&str, &str)] = &[
    ("b01", "What's been weighing on you the most lately?"),
    ("b02", "What would you change if you were in my seat?"),
    (
        "b03",
        "What's one thing I could do to make your work easier?",
    ),
    (
        "b04",
        "What are you working on that you'd like more feedback on?",
    ),
    ("b05", "What's something you learned recently?"),
    (
        "b06",
        "Where do you want to be in a year, and what would help you get there?",
    ),
    (
        "b07",
        "What's a recent win you're proud of that I might have missed?",
    ),
    (
        "b08",
        "Is anything getting in the way of doing your best work?",
    ),
    ("b09", "How are you feeling about your workload right now?"),
    ("b10", "What's something we should stop doing as a team?"),
    ("b11", "Who on the team has helped you lately?"),
    (
        "b12",
        "What part of your work gives you the most energy? The least?",
    ),
    ("b13", "Is there a decision you're waiting on from me?"),
    ("b14", "What skill would you like to build next?"),
    ("b15", "How could our 1-1s be more useful to you?"),
    ("b16", "What's unclear about our priorities right now?"),
    ("b17", "What feedback do you have for me?"),
    ("b18", "What's a risk you see that others might not?"),
    (
        "b19",
        "When did you last feel really stuck, and what got you unstuck?",
    ),
    ("b20", "What would make next week a great week for you?"),
];

/// A question and when it was last asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Question {
    /// `b01`... for the bank, a random id for the pair's own.
    pub id: String,
    /// The question.
    pub text: String,
    /// Whether it is one of the pair's own.
    pub own: bool,
    /// The person who added it (own questions).
    pub added_by: Option<String>,
    /// The meetings it was asked in.
    pub asked_in: Vec<String>,
    /// When it was last asked (Unix milliseconds).
    pub last_asked: Option<i64>,
}

fn questions_obj(doc: &AutoCommit) -> Result<ObjId, ModelError> {
    am::required_map(doc, &ROOT, "questions")
}

/// Adds one of the pair's own questions.
pub fn add_own(
    doc: &mut AutoCommit,
    id: &str,
    text: &str,
    added_by: &str,
    at: i64,
) -> Result<(), ModelError> {
    let map = questions_obj(doc)?;
    let obj = doc.put_object(&map, format!("own/{id}"), ObjType::Map)?;
    doc.put(&obj, "text", text)?;
    doc.put(&obj, "added_by", added_by)?;
    doc.put(&obj, "added_at", at)?;
    Ok(())
}

/// Records that a question was asked in a meeting.
pub fn mark_asked(
    doc: &mut AutoCommit,
    question: &str,
    meeting: &str,
    at: i64,
) -> Result<(), ModelError> {
    let map = questions_obj(doc)?;
    doc.put(&map, format!("asked/{question}/{meeting}"), at)?;
    Ok(())
}

/// Every question, the bank first, then the pair's own by when they were added.
pub fn all(doc: &AutoCommit) -> Result<Vec<Question>, ModelError> {
    let map = questions_obj(doc)?;
    let mut asked: BTreeMap<String, Vec<(i64, String)>> = BTreeMap::new();
    let mut own = Vec::new();
    for key in am::keys(doc, &map) {
        if let Some(rest) = key.strip_prefix("asked/") {
            let Some((question, meeting)) = rest.split_once('/') else {
                continue;
            };
            let at = am::int(doc, &map, &key)?.unwrap_or(0);
            asked
                .entry(question.to_owned())
                .or_default()
                .push((at, meeting.to_owned()));
        } else if let Some(id) = key.strip_prefix("own/") {
            let Some(obj) = am::map(doc, &map, &key)? else {
                continue;
            };
            let text = am::str(doc, &obj, "text")?.unwrap_or_default();
            if text.is_empty() {
                continue;
            }
            own.push((
                am::int(doc, &obj, "added_at")?.unwrap_or(0),
                id.to_owned(),
                text,
                am::str(doc, &obj, "added_by")?,
            ));
        }
    }
    own.sort();
    let mut finish = |id: &str, text: String, is_own: bool, added_by: Option<String>| {
        let mut when = asked.remove(id).unwrap_or_default();
        when.sort();
        Question {
            id: id.to_owned(),
            text,
            own: is_own,
            added_by,
            last_asked: when.last().map(|(at, _)| *at),
            asked_in: when.into_iter().map(|(_, m)| m).collect(),
        }
    };
    let mut out: Vec<Question> = BANK
        .iter()
        .map(|(id, text)| finish(id, (*text).to_owned(), false, None))
        .collect();
    for (_, id, text, by) in own {
        out.push(finish(&id, text, true, by));
    }
    Ok(out)
}

/// The question to suggest: one never asked before if any (the pair's own first), else the
/// one asked longest ago. `seed` (the meeting id) rotates among equals, so both people see
/// the same suggestion for the same meeting, and another meeting gets another question.
pub fn suggest<'a>(questions: &'a [Question], seed: &str) -> Option<&'a Question> {
    let rank = |q: &Question| {
        (
            q.last_asked.is_some(),
            q.last_asked.unwrap_or(0),
            !q.own,
            blake3::hash(format!("{seed}/{}", q.id).as_bytes()).as_bytes()[..8].to_vec(),
        )
    };
    questions.iter().min_by_key(|q| rank(q))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> AutoCommit {
        let mut doc = AutoCommit::new();
        doc.put_object(ROOT, "questions", ObjType::Map)
            .expect("questions");
        doc
    }

    #[test]
    fn never_asked_questions_come_first_then_the_oldest() {
        let mut d = doc();
        add_own(&mut d, "q1", "What surprised you this week?", "p1", 5).expect("add");
        let all_q = all(&d).expect("all");
        let first = suggest(&all_q, "m1").expect("one");
        assert_eq!(
            first.id, "q1",
            "the pair's own unasked question comes first"
        );
        mark_asked(&mut d, "q1", "m1", 10).expect("asked");
        for (i, (id, _)) in BANK.iter().enumerate() {
            mark_asked(&mut d, id, "m1", 100 + i as i64).expect("asked");
        }
        let all_q = all(&d).expect("all");
        assert_eq!(suggest(&all_q, "m2").expect("one").id, "q1");
        assert_eq!(
            all_q.iter().find(|q| q.id == "b02").expect("b02").asked_in,
            vec!["m1".to_owned()]
        );
    }

    #[test]
    fn the_same_question_asked_on_two_devices_merges_into_one_record() {
        let mut a = doc();
        let mut b = a.fork();
        mark_asked(&mut a, "b01", "m1", 1).expect("a");
        mark_asked(&mut b, "b01", "m1", 2).expect("b");
        a.merge(&mut b).expect("merge");
        let q = all(&a).expect("all");
        let b01 = q.iter().find(|q| q.id == "b01").expect("b01");
        assert_eq!(b01.asked_in, vec!["m1".to_owned()]);
    }

    #[test]
    fn the_suggestion_rotates_with_the_meeting() {
        let q = all(&doc()).expect("all");
        let picks: std::collections::BTreeSet<&str> = ["m1", "m2", "m3", "m4", "m5", "m6"]
            .iter()
            .filter_map(|m| suggest(&q, m).map(|q| q.id.as_str()))
            .collect();
        assert!(picks.len() > 1, "one question for every meeting: {picks:?}");
        assert_eq!(suggest(&q, "m1"), suggest(&q, "m1"));
    }
}
