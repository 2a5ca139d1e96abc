//! A generator of realistic notebooks for benchmarks and load tests: years of weekly
//! meetings written by two authors, as Duet stores them (an index, the open commitments, and
//! one document per meeting) and, for comparison, as one single Automerge document with the same content.
//!
//! Every edit is its own Automerge change, alternating between the two authors' actors, as
//! real use produces them.

use crate::crypto::{DeviceKey, NotebookSecret};
use crate::duet::settings::{CurrentNotebook, IdentityKey, OwnerName};
use crate::error::DuetError;
use crate::model::commitments::{self, COMMITMENTS_DOC};
use crate::model::index::{self, NewNotebook, INDEX_DOC};
use crate::model::item::NewItem;
use crate::model::meeting::{self, NewCommitment};
use crate::model::views::{Cadence, Person};
use crate::model::{CommitmentStatus, MeetingStatus, Role, Section};
use crate::store::{NotebookRecord, Store};
use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, ObjType, ROOT};
use jiff::civil::date;
use jiff::ToSpan;
use std::path::Path;

/// The shape of a generated notebook.
#[derive(Debug, Clone, Copy)]
pub struct SampleSpec {
    /// Weekly meetings (the last one is still to come).
    pub meetings: usize,
    /// Agenda items per meeting.
    pub agenda_per_meeting: usize,
    /// Commitments made per meeting.
    pub commitments_per_meeting: usize,
    /// Bytes of notes per meeting, over the five rhythm sections.
    pub note_bytes_per_meeting: usize,
}

impl SampleSpec {
    /// `years` of weekly 1-1s: five years is 260 meetings, ~3,000 agenda items, ~1,500
    /// commitments and ~1 MB of notes.
    pub fn years(years: usize) -> SampleSpec {
        SampleSpec {
            meetings: 52 * years,
            agenda_per_meeting: 12,
            commitments_per_meeting: 6,
            note_bytes_per_meeting: 3_900,
        }
    }
}

/// A generated notebook.
pub struct SampleNotebook {
    /// The notebook's secret.
    pub secret: NotebookSecret,
    /// Its documents as Duet stores them: the index, the open commitments, then each meeting.
    pub docs: Vec<(String, AutoCommit)>,
    /// The same content as one Automerge document (the baseline Duet's split beats).
    pub single: AutoCommit,
    /// The device key registered as the manager.
    pub device: DeviceKey,
}

/// Words that notes are made of. Paragraphs are drawn from them at random (seeded, so every
/// run generates the same notebook): repeated text would compress unrealistically well and
/// flatter every size figure.
const WORDS: &[&str] = &[
    "we",
    "talked",
    "about",
    "the",
    "week",
    "project",
    "launch",
    "review",
    "design",
    "team",
    "feedback",
    "blocked",
    "on",
    "waiting",
    "for",
    "plan",
    "next",
    "sprint",
    "deadline",
    "customer",
    "bug",
    "fixed",
    "shipped",
    "migration",
    "database",
    "oncall",
    "incident",
    "postmortem",
    "hiring",
    "interview",
    "promotion",
    "career",
    "growth",
    "goal",
    "quarter",
    "roadmap",
    "priority",
    "scope",
    "estimate",
    "risk",
    "help",
    "support",
    "mentor",
    "pairing",
    "learning",
    "conference",
    "budget",
    "travel",
    "holiday",
    "tired",
    "energy",
    "focus",
    "meetings",
    "too",
    "many",
    "fewer",
    "more",
    "time",
    "with",
    "and",
    "but",
    "because",
    "so",
    "agreed",
    "will",
    "should",
    "could",
    "check",
    "follow",
    "up",
    "ask",
    "share",
    "draft",
    "document",
    "proposal",
    "decision",
    "owner",
    "clear",
    "unclear",
    "progress",
    "stuck",
    "moving",
    "faster",
    "slower",
    "good",
    "hard",
    "great",
    "worried",
    "excited",
    "platform",
    "api",
    "latency",
    "tests",
    "flaky",
    "release",
    "rollback",
    "metrics",
    "dashboard",
    "users",
];

/// A deterministic pseudo-random source (xorshift64*): the generator needs variety, not
/// quality, and must not depend on the machine.
struct Words(u64);

impl Words {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A paragraph of about `bytes` bytes.
    fn paragraph(&mut self, bytes: usize) -> String {
        let mut out = String::with_capacity(bytes + 16);
        while out.len() < bytes {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(WORDS[(self.next() % WORDS.len() as u64) as usize]);
        }
        out.push('.');
        out
    }
}

/// Bytes per generated paragraph of notes.
const PARAGRAPH_BYTES: usize = 120;

/// Generates a notebook of the given shape.
pub fn generate(spec: SampleSpec) -> Result<SampleNotebook, DuetError> {
    generate_for(spec, DeviceKey::generate())
}

/// [`generate`], with `device` registered as the manager's device: several notebooks
/// generated for one device go in one home (a manager with several reports).
pub fn generate_for(spec: SampleSpec, device: DeviceKey) -> Result<SampleNotebook, DuetError> {
    let ana = ActorId::random();
    let bo = ActorId::random();
    let (ana_id, bo_id) = ("anaperso".to_owned(), "boperson".to_owned());
    let mut idx = AutoCommit::new().with_actor(ana.clone());
    index::create(
        &mut idx,
        &NewNotebook {
            title: "Ana / Bo weekly",
            people: [
                Person {
                    id: ana_id.clone(),
                    name: "Ana".into(),
                    role: Role::Manager,
                },
                Person {
                    id: bo_id.clone(),
                    name: "Bo".into(),
                    role: Role::Report,
                },
            ],
            device: (&device.public_hex(), &ana_id),
            cadence: Cadence::default(),
        },
    )?;
    idx.commit();
    let mut open = AutoCommit::new().with_actor(ana.clone());
    commitments::create(&mut open)?;
    open.commit();
    let mut single = AutoCommit::new().with_actor(ana.clone());
    single.put(ROOT, "title", "Ana / Bo weekly")?;
    let single_meetings = single.put_object(ROOT, "meetings", ObjType::Map)?;
    single.commit();

    let start = date(2021, 11, 29);
    let mut words = Words(0x5eed_d0e7_1a2b_3c4d);
    let mut docs = Vec::new();
    let mut open_from_last: Vec<(String, String)> = Vec::new();
    let mut counter = 0usize;
    for m in 0..spec.meetings {
        let mid = format!("m{m:07}");
        let day = start
            .checked_add((7 * m as i64).days())
            .map_err(|e| DuetError::Invalid(e.to_string()))?
            .to_string();
        let last = m + 1 == spec.meetings;
        index::add_meeting(&mut idx, &mid, &day)?;
        idx.commit();
        let mut doc = AutoCommit::new().with_actor(ana.clone());
        meeting::create(&mut doc, &mid)?;
        doc.commit();
        let sm = single.put_object(&single_meetings, mid.as_str(), ObjType::Map)?;
        single.put(&sm, "date", day.as_str())?;
        let s_agenda = single.put_object(&sm, "agenda", ObjType::Map)?;
        let s_commit = single.put_object(&sm, "commitments", ObjType::Map)?;
        let mut s_sections = Vec::new();
        for section in Section::ALL {
            s_sections.push(single.put_object(&sm, section.key(), ObjType::Text)?);
        }
        single.commit();

        for a in 0..spec.agenda_per_meeting {
            let actor = if a % 2 == 0 { &ana } else { &bo };
            let author = if a % 2 == 0 { &ana_id } else { &bo_id };
            counter += 1;
            let id = format!("a{counter:07}");
            let text = format!("Agenda item {counter}: a topic worth raising this week");
            doc.set_actor(actor.clone());
            meeting::add_item(
                &mut doc,
                &NewItem {
                    id: &id,
                    text: &text,
                    author,
                    added_at: counter as i64,
                    position: counter as f64,
                    carried_from: None,
                    discussed: !last,
                    recur: None,
                },
            )?;
            doc.commit();
            single.set_actor(actor.clone());
            let it = single.put_object(&s_agenda, id.as_str(), ObjType::Map)?;
            let t = single.put_object(&it, "text", ObjType::Text)?;
            single.splice_text(&t, 0, 0, &text)?;
            single.put(&it, "author", author.as_str())?;
            single.put(&it, "discussed", !last)?;
            single.commit();
        }
        let paragraphs = spec.note_bytes_per_meeting / PARAGRAPH_BYTES;
        for p in 0..paragraphs {
            let actor = if p % 2 == 0 { &ana } else { &bo };
            let section = Section::ALL[p % 5];
            doc.set_actor(actor.clone());
            let paragraph = words.paragraph(PARAGRAPH_BYTES);
            meeting::append(&mut doc, section, &paragraph)?;
            doc.commit();
            single.set_actor(actor.clone());
            let t = &s_sections[p % 5];
            let len = automerge::ReadDoc::length(&single, t);
            single.splice_text(t, len, 0, &paragraph)?;
            single.commit();
        }
        // Last week's open commitments close in this meeting.
        for (cid, made_in) in open_from_last.drain(..) {
            if let Some((_, prev)) = docs.iter_mut().find(|(id, _)| *id == made_in) {
                let prev: &mut AutoCommit = prev;
                prev.set_actor(bo.clone());
                meeting::set_commitment_status(prev, &cid, CommitmentStatus::Done, counter as i64)?;
                prev.commit();
            }
            open.set_actor(bo.clone());
            commitments::remove_open(&mut open, &cid)?;
            open.commit();
        }
        for c in 0..spec.commitments_per_meeting {
            counter += 1;
            let id = format!("c{counter:07}");
            let owner = if c % 2 == 0 { &ana_id } else { &bo_id };
            let text = format!("Commitment {counter}: follow up on this by next week");
            doc.set_actor(if c % 2 == 0 { ana.clone() } else { bo.clone() });
            meeting::add_commitment(
                &mut doc,
                &NewCommitment {
                    id: &id,
                    text: &text,
                    owner,
                    due: None,
                    made_in: &mid,
                },
            )?;
            doc.commit();
            open.set_actor(ana.clone());
            commitments::add_open(&mut open, &id, &mid)?;
            open.commit();
            open_from_last.push((id.clone(), mid.clone()));
            let c_obj = single.put_object(&s_commit, id.as_str(), ObjType::Map)?;
            let t = single.put_object(&c_obj, "text", ObjType::Text)?;
            single.splice_text(&t, 0, 0, &text)?;
            single.put(&c_obj, "owner", owner.as_str())?;
            single.commit();
        }
        if !last {
            index::set_meeting_status(&mut idx, &mid, MeetingStatus::Held)?;
            idx.commit();
        }
        docs.push((mid, doc));
    }
    let mut all = vec![
        (INDEX_DOC.to_owned(), idx),
        (COMMITMENTS_DOC.to_owned(), open),
    ];
    all.extend(docs);
    Ok(SampleNotebook {
        secret: NotebookSecret::generate(),
        docs: all,
        single,
        device,
    })
}

/// Writes a generated notebook into a new home (snapshots, as after compaction), ready for
/// `Duet::open`. Returns the sum of the documents' `save()` sizes.
pub fn write_home(home: &Path, sample: &mut SampleNotebook) -> Result<usize, DuetError> {
    let mut store = Store::open(home)?;
    store.put(&IdentityKey(), &sample.device.to_bytes().to_vec())?;
    store.put(&OwnerName(), &"Ana".to_owned())?;
    let id = sample.secret.notebook_id();
    store.put(&CurrentNotebook(), &id)?;
    write_notebook(&mut store, sample, "Ana / Bo weekly")
}

/// Adds a notebook generated [for](generate_for) the home's device to the home at `home`,
/// under `title` in its list; the bytes its documents take.
pub fn add_to_home(
    home: &Path,
    sample: &mut SampleNotebook,
    title: &str,
) -> Result<usize, DuetError> {
    let mut store = Store::open(home)?;
    write_notebook(&mut store, sample, title)
}

fn write_notebook(
    store: &mut Store,
    sample: &mut SampleNotebook,
    title: &str,
) -> Result<usize, DuetError> {
    let id = sample.secret.notebook_id();
    store.put_notebook(&NotebookRecord {
        id: id.clone(),
        secret_hex: data_encoding::HEXLOWER.encode(sample.secret.as_bytes()),
        title: title.into(),
        personal: false,
    })?;
    let mut total = 0;
    for (doc_id, doc) in &mut sample.docs {
        let bytes = doc.save();
        total += bytes.len();
        store.compact(&id, doc_id, &bytes)?;
    }
    store.flush()?;
    Ok(total)
}

/// How a grown notebook's pair uses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Habit {
    /// Items are ticked as they are discussed, commitments closed the week after.
    Ticking,
    /// Nothing is ever ticked or closed: each week two agenda items, three notes and one
    /// commitment, then the meeting is wrapped (the pattern that made history grow with the
    /// square of its age when each wrap copied every undiscussed item).
    NeverTicked,
}

/// Grows a notebook in a new home through the façade, one edit at a time as the CLI makes
/// them (each persisted), for `meetings` weekly meetings: a notebook as real use leaves it,
/// wraps and carries included. Returns the opened home.
pub fn grow(home: &Path, meetings: usize, habit: Habit) -> Result<crate::Duet, DuetError> {
    use crate::{Duet, Owner};
    // Weekly meetings that all lie in the past, each held on its day: the one after the
    // last ends today.
    let weeks = i64::try_from(meetings).map_err(|e| DuetError::Invalid(e.to_string()))?;
    let day = |week: i64| {
        crate::dates::today()
            .checked_sub((7 * (weeks - week)).days())
            .map_err(|e| DuetError::Invalid(e.to_string()))
    };
    let mut duet = Duet::init(home, "Ana")?;
    duet.notebook_new(
        "Ana / Bo weekly",
        Role::Manager,
        "Bo",
        Cadence::default(),
        day(0)?,
    )?;
    let mut words = Words(0x0dd5_eed5_7a11_c0de);
    let mut last_commitment: Option<String> = None;
    for week in 0..meetings {
        let mut ticks = Vec::new();
        for n in 0..2 {
            let item = duet.agenda().add(
                &format!("Week {week} topic {n}: {}", words.paragraph(40)),
                false,
                None,
            )?;
            ticks.push(item.id);
        }
        for section in [Section::Checkin, Section::Wins, Section::LookAhead] {
            duet.meetings()
                .note(section, &words.paragraph(PARAGRAPH_BYTES), None)?;
        }
        let owner = if week % 2 == 0 {
            Owner::Me
        } else {
            Owner::Them
        };
        let made = duet.commitments().add(
            &format!("Week {week} follow-up: {}", words.paragraph(30)),
            &owner,
            None,
            None,
        )?;
        if habit == Habit::Ticking {
            for id in &ticks {
                duet.agenda().done(id, None)?;
            }
            if let Some(id) = last_commitment.take() {
                duet.commitments().close(&id, CommitmentStatus::Done)?;
            }
            last_commitment = Some(made.id);
        }
        // The next meeting goes on the books on its own day, not one cadence after today.
        let week = i64::try_from(week).map_err(|e| DuetError::Invalid(e.to_string()))?;
        duet.meetings().book(Some(day(week + 1)?))?;
        duet.meetings().wrap(
            None,
            &crate::WrapNotes {
                takeaway: Some(&words.paragraph(60)),
                ..Default::default()
            },
        )?;
    }
    Ok(duet)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insights::health::Window;
    use crate::Duet;

    /// The notebook's meetings' ids, by date.
    fn meeting_ids(duet: &mut Duet) -> Vec<String> {
        duet.meetings()
            .list()
            .expect("meetings")
            .into_iter()
            .map(|m| m.id)
            .collect()
    }

    /// Every read a front end makes, once.
    fn read_everything(duet: &mut Duet) {
        duet.meetings().overview().expect("show");
        duet.insights().prep().expect("prep");
        duet.agenda().list(None).expect("agenda list");
        duet.commitments().list(true).expect("commit list --open");
        duet.insights().health(Window::default()).expect("health");
        duet.insights().themes().expect("themes");
        duet.insights().search("topic").expect("search");
        duet.meetings().history().expect("history");
        duet.meetings().takeaways().expect("history's takeaways");
    }

    /// Records a home kept open reads to answer every view a second time.
    fn records_to_read_again(meetings: usize) -> u64 {
        let dir = tempfile::tempdir().expect("tempdir");
        let home = dir.path().join("home");
        drop(grow(&home, meetings, Habit::NeverTicked).expect("grow"));
        let mut duet = Duet::open(&home).expect("open");
        read_everything(&mut duet);
        let before = duet.records_read();
        read_everything(&mut duet);
        duet.records_read() - before
    }

    #[test]
    fn a_home_kept_open_answers_views_again_without_reading_every_meeting() {
        // A node answers `show`, `search` and the rest again and again: what it reads the
        // second time must not grow with the notebook's age.
        let young = records_to_read_again(4);
        let old = records_to_read_again(24);
        assert_eq!(
            young, old,
            "records read again: {young} for 4 meetings, {old} for 24"
        );
    }

    #[test]
    fn reads_load_no_document_and_an_edit_loads_only_its_meeting() {
        let dir = tempfile::tempdir().expect("tempdir");
        let home = dir.path().join("home");
        drop(grow(&home, 6, Habit::NeverTicked).expect("grow"));
        // The first reads after growing may fill kept views once.
        read_everything(&mut Duet::open(&home).expect("open"));
        let mut duet = Duet::open(&home).expect("open");
        read_everything(&mut duet);
        assert_eq!(duet.documents_loaded(), 0, "reads use kept views only");
        drop(duet);
        let mut duet = Duet::open(&home).expect("open");
        duet.meetings()
            .note(Section::Wins, "a win", None)
            .expect("note");
        assert_eq!(
            duet.documents_loaded(),
            1,
            "a note loads the current meeting, not the index"
        );
    }

    #[test]
    fn health_from_digests_matches_health_from_every_meeting_in_full() {
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, habit) in [("t", Habit::Ticking), ("n", Habit::NeverTicked)] {
            let mut duet = grow(&dir.path().join(name), 20, habit).expect("grow");
            let notebook = duet.notebook().expect("notebook");
            let meetings = duet.meetings().history().expect("history");
            let backlog = duet.agenda().list(None).expect("agenda").1;
            let today = crate::dates::today();
            for window in [
                Window::Last(1),
                Window::default(),
                Window::Last(100),
                Window::Since(today.checked_sub(60.days()).expect("a day")),
            ] {
                let whole = crate::insights::health::health(
                    &crate::insights::History {
                        notebook: &notebook,
                        meetings: &meetings,
                        backlog: &backlog,
                        today,
                    },
                    window,
                );
                assert_eq!(
                    duet.insights().health(window).expect("health"),
                    whole,
                    "{name} {window:?}"
                );
            }
        }
    }

    #[test]
    fn themes_from_digests_match_themes_from_every_meeting_in_full() {
        let dir = tempfile::tempdir().expect("tempdir");
        let home = dir.path().join("home");
        let mut duet = grow(&home, 10, Habit::NeverTicked).expect("grow");
        let meetings = meeting_ids(&mut duet);
        let whole = |duet: &mut Duet| {
            let notebook = duet.notebook().expect("notebook");
            let meetings = duet.meetings().history().expect("history");
            let backlog = duet.agenda().list(None).expect("agenda").1;
            crate::insights::themes::themes(&crate::insights::History {
                notebook: &notebook,
                meetings: &meetings,
                backlog: &backlog,
                today: crate::dates::today(),
            })
        };
        for (at, text) in [
            (1, "#growth and #on-call"),
            (4, "more #growth"),
            (7, "#growth"),
        ] {
            duet.meetings()
                .note(Section::Wins, text, Some(&meetings[at]))
                .expect("note");
        }
        duet.agenda()
            .add("the #on-call rota", false, None)
            .expect("agenda");
        let before = duet.insights().themes().expect("themes");
        assert_eq!(before, whole(&mut duet));
        assert_eq!(before.themes[0].tag, "growth");
        assert_eq!(before.themes[0].meetings, 3);
        drop(duet);
        // A past meeting edited after the digests were kept.
        let mut duet = Duet::open(&home).expect("open");
        duet.meetings()
            .note(
                Section::Challenges,
                "#on-call again, #growth",
                Some(&meetings[2]),
            )
            .expect("note");
        drop(duet);
        let mut duet = Duet::open(&home).expect("open");
        let after = duet.insights().themes().expect("themes");
        assert_eq!(after, whole(&mut duet));
        assert_eq!(after.themes[0].meetings, 4, "{after:?}");
    }

    #[test]
    fn search_from_kept_texts_matches_search_over_every_meeting_in_full() {
        let whole = |duet: &mut Duet, query: &str| {
            let notebook = duet.notebook().expect("notebook");
            let meetings = duet.meetings().history().expect("history");
            let backlog = duet.agenda().list(None).expect("agenda").1;
            let private = duet.private_notes().list().expect("private notes");
            crate::insights::search::search(
                &crate::insights::History {
                    notebook: &notebook,
                    meetings: &meetings,
                    backlog: &backlog,
                    today: crate::dates::today(),
                },
                &private,
                query,
            )
        };
        for habit in [Habit::Ticking, Habit::NeverTicked] {
            let dir = tempfile::tempdir().expect("tempdir");
            let home = dir.path().join("home");
            let mut duet = grow(&home, 8, habit).expect("grow");
            let meetings = meeting_ids(&mut duet);
            duet.meetings()
                .note(
                    Section::Wins,
                    "the rota\nmoved to Fridays",
                    Some(&meetings[2]),
                )
                .expect("note");
            duet.agenda()
                .add("rota for the holidays", false, None)
                .expect("agenda");
            duet.private_notes()
                .add("ask about the rota", Some(&meetings[3]))
                .expect("private note");
            let queries = ["topic", "ROTA", "rota fridays", "week 3", "nothing like it"];
            for query in queries {
                assert_eq!(
                    duet.insights().search(query).expect("search"),
                    whole(&mut duet, query)
                );
            }
            assert_eq!(duet.insights().search("rota").expect("search").len(), 3);
            drop(duet);
            // A past meeting edited after its text was kept, read by a new process.
            let mut duet = Duet::open(&home).expect("open");
            duet.meetings()
                .note(Section::Challenges, "rota again", Some(&meetings[5]))
                .expect("note");
            drop(duet);
            let mut duet = Duet::open(&home).expect("open");
            for query in queries {
                assert_eq!(
                    duet.insights().search(query).expect("search"),
                    whole(&mut duet, query)
                );
            }
            assert_eq!(duet.insights().search("rota").expect("search").len(), 4);
        }
    }

    #[test]
    fn kept_digests_follow_edits_to_takeaways_and_commitments() {
        let dir = tempfile::tempdir().expect("tempdir");
        let home = dir.path().join("home");
        drop(grow(&home, 4, Habit::Ticking).expect("grow"));
        let takeaway_of = |duet: &mut Duet, meeting: &str| {
            duet.meetings()
                .takeaways()
                .expect("takeaways")
                .into_iter()
                .find(|(m, _)| m.id == meeting)
                .map(|(_, t)| t)
                .expect("the meeting is listed")
        };
        let open_ids = |duet: &mut Duet| -> Vec<String> {
            let mut ids: Vec<String> = duet
                .commitments()
                .list(true)
                .expect("open commitments")
                .into_iter()
                .map(|c| c.id)
                .collect();
            ids.sort();
            ids
        };
        let mut duet = Duet::open(&home).expect("open");
        let current = duet.meetings().get(None).expect("current").summary.id;
        // Fill the kept digests, then change what they hold in another process.
        assert_eq!(takeaway_of(&mut duet, &current), "");
        let before = open_ids(&mut duet);
        drop(duet);
        let mut duet = Duet::open(&home).expect("open");
        duet.meetings()
            .note(Section::Takeaway, "ship it", None)
            .expect("note");
        let made = duet
            .commitments()
            .add("Write the proposal", &crate::Owner::Me, None, None)
            .expect("commit");
        // One made in an earlier meeting is closed: its meeting's digest is out of date.
        let closed = before.first().expect("an open commitment").clone();
        duet.commitments()
            .close(&closed, CommitmentStatus::Done)
            .expect("close");
        drop(duet);
        let mut duet = Duet::open(&home).expect("open");
        assert_eq!(takeaway_of(&mut duet, &current), "ship it");
        let mut expected: Vec<String> =
            before.iter().filter(|id| **id != closed).cloned().collect();
        expected.push(made.id.clone());
        expected.sort();
        assert_eq!(open_ids(&mut duet), expected, "the new commitment is open");
        // Every history view agrees with the full views.
        let full: Vec<(String, String)> = duet
            .meetings()
            .history()
            .expect("history")
            .into_iter()
            .map(|m| {
                (
                    m.summary.id.clone(),
                    m.section(Section::Takeaway).to_owned(),
                )
            })
            .collect();
        let kept: Vec<(String, String)> = duet
            .meetings()
            .takeaways()
            .expect("takeaways")
            .into_iter()
            .map(|(m, t)| (m.id, t))
            .collect();
        assert_eq!(kept, full);
    }
}
