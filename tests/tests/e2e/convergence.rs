//! Convergence: random concurrent edit scripts on 2-3 replicas, exchanged by bundle in random
//! orders with duplicates and drops, end with identical views and every edit present.

use duet_core::{Duet, JoinAs, Owner, Role, Section};
use proptest::prelude::*;
use std::path::PathBuf;

#[derive(Debug, Clone)]
enum Op {
    AddItem,
    Note(usize),
    Commit,
    MarkDone(usize),
    EditItem(usize),
    Send { to: usize },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => Just(Op::AddItem),
        3 => (0usize..5).prop_map(Op::Note),
        2 => Just(Op::Commit),
        1 => (0usize..8).prop_map(Op::MarkDone),
        1 => (0usize..8).prop_map(Op::EditItem),
        3 => (0usize..3).prop_map(|to| Op::Send { to }),
    ]
}

struct Replicas {
    _dir: tempfile::TempDir,
    devices: Vec<Duet>,
    files: PathBuf,
    sent: usize,
}

impl Replicas {
    fn new(n: usize) -> Replicas {
        let dir = tempfile::tempdir().expect("tempdir");
        let files = dir.path().join("bundles");
        std::fs::create_dir_all(&files).expect("mkdir");
        let mut first = duet_tests::library_home(dir.path(), "Ana");
        let join = files.join("join.duet");
        first.bundle_out(&join).expect("bundle out");
        let mut devices = vec![first];
        for i in 1..n {
            let mut d = Duet::init(&dir.path().join(format!("r{i}")), "Bo").expect("init");
            d.bundle_in(&join, Some(JoinAs::Role(Role::Report)))
                .expect("join");
            devices.push(d);
        }
        Replicas {
            _dir: dir,
            devices,
            files,
            sent: 0,
        }
    }

    fn send(&mut self, from: usize, to: usize) {
        if from == to {
            return;
        }
        self.sent += 1;
        let file = self.files.join(format!("{}.duet", self.sent));
        self.devices[from].bundle_out(&file).expect("bundle out");
        self.devices[to].bundle_in(&file, None).expect("bundle in");
    }
}

fn items(d: &mut Duet) -> Vec<(String, String)> {
    let (meeting, _) = d.agenda().list(None).expect("agenda");
    meeting
        .map(|m| m.agenda.into_iter().map(|i| (i.id, i.text)).collect())
        .unwrap_or_default()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn random_concurrent_edits_converge_with_nothing_lost(
        n in 2usize..=3,
        script in proptest::collection::vec((0usize..3, op()), 1..30),
    ) {
        let mut r = Replicas::new(n);
        let mut markers = Vec::new();
        for (step, (who, op)) in script.into_iter().enumerate() {
            let who = who % n;
            let marker = format!("m{step}r{who}");
            let d = &mut r.devices[who];
            match op {
                Op::AddItem => {
                    d.agenda().add(&marker, false, None).expect("add");
                    markers.push(marker);
                }
                Op::Note(s) => {
                    let section = [Section::Checkin, Section::Wins, Section::Challenges, Section::LookAhead, Section::Notes][s];
                    d.meetings().note(section, &marker, None).expect("note");
                    markers.push(marker);
                }
                Op::Commit => {
                    d.commitments().add(&marker, &Owner::Me, None, None).expect("commit");
                    markers.push(marker);
                }
                Op::MarkDone(i) => {
                    let items = items(d);
                    if !items.is_empty() {
                        d.agenda().done(&items[i % items.len()].0, None).expect("done");
                    }
                }
                Op::EditItem(i) => {
                    // An edit keeps the old words and adds a marker: every edit stays checkable.
                    let items = items(d);
                    if !items.is_empty() {
                        let (id, text) = &items[i % items.len()];
                        d.agenda().edit(id, &format!("{text} +{marker}"), None).expect("edit");
                        markers.push(marker);
                    }
                }
                Op::Send { to } => r.send(who, to % n),
            }
        }
        // Heal: everyone sends to everyone, twice (duplicates are harmless).
        for _ in 0..2 {
            for from in 0..n {
                for to in 0..n {
                    r.send(from, to);
                }
            }
        }
        let views: Vec<String> = r
            .devices
            .iter_mut()
            .map(|d| serde_json::to_string(&(d.meetings().history().expect("history"), d.commitments().list(false).expect("commitments"))).expect("json"))
            .collect();
        for v in &views[1..] {
            prop_assert_eq!(v, &views[0]);
        }
        let lost: Vec<&String> = markers.iter().filter(|m| !views[0].contains(m.as_str())).collect();
        prop_assert!(lost.is_empty(), "lost edits: {:?}", lost);
    }
}
