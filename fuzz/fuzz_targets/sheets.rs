//! Any text as a meeting sheet saved from `duet edit`: reading never panics, and a sheet
//! as Duet writes it reads back with its sections.
#![no_main]

use duet_core::sheet_text::{parse, render, Parts, People};
use duet_core::model::views::{MeetingSummary, MeetingView, Person, SectionText};
use duet_core::model::MeetingStatus;
use duet_core::{Role, Section, SheetHeads, SheetSource};
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeSet;

fn source(wins: &str) -> SheetSource {
    let person = |id: &str, name: &str, role| Person {
        id: id.into(),
        name: name.into(),
        role,
    };
    SheetSource {
        notebook: "n1".into(),
        meeting: MeetingView {
            summary: MeetingSummary {
                id: "m1".into(),
                date: "2026-12-08".into(),
                status: MeetingStatus::Scheduled,
                conflicts: vec![],
                reschedules: 0,
                planned: None,
                minutes: None,
            },
            agenda: vec![],
            sections: Section::ALL
                .into_iter()
                .map(|section| SectionText {
                    section,
                    text: if section == Section::Wins { wins.to_owned() } else { String::new() },
                })
                .collect(),
            commitments: vec![],
        },
        title: "Ana / Bo 1-1".into(),
        people: vec![person("p1", "Ana", Role::Manager), person("p2", "Bo", Role::Report)],
        me: Some("p1".into()),
        heads: SheetHeads::default(),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let empty = source("");
    let known: BTreeSet<String> = ["aaaaaaaa".to_owned()].into();
    let _ = parse(text, &People::of(&empty), &known);
    // Any text in a section is written so that it reads back as that section's text.
    let written = source(text);
    let sheet = parse(&render(&written, Parts::All), &People::of(&written), &known)
        .expect("a sheet Duet wrote reads back");
    assert!(sheet.sections.iter().any(|s| s.section == Section::Wins));
});
