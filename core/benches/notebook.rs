//! Speed of the things people feel, each beside its baseline in the same run:
//! - `cold_open`: open a home and read the current meeting, at year 1 and year 5, against
//!   loading the same 5-year content as one Automerge document;
//! - `durable_edit`: one note appended and flushed through the library, against
//!   Automerge's own edit plus a raw fdatasync of its bytes;
//! - and, printed once: the store's size on disk against the documents' `save()` sizes.
//!
//! Run: `cargo bench -p duet-core --bench notebook`

use criterion::{criterion_group, criterion_main, Criterion};
use duet_core::sample::{generate, write_home, SampleSpec};
use duet_core::{Duet, Section};
use std::hint::black_box;
use std::io::Write;

fn benches(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let home5 = dir.path().join("five-years");
    let home1 = dir.path().join("one-year");
    let mut five = generate(SampleSpec::years(5)).expect("generate");
    let saved5 = write_home(&home5, &mut five).expect("write");
    let mut one = generate(SampleSpec::years(1)).expect("generate");
    write_home(&home1, &mut one).expect("write");
    let single = five.single.save();
    {
        let duet = Duet::open(&home5).expect("open");
        let on_disk = duet.store_size().expect("size");
        println!(
            "store size: {on_disk} bytes on disk for {saved5} bytes of saved documents ({:.2}x); one-document save: {} bytes",
            on_disk as f64 / saved5 as f64,
            single.len()
        );
    }

    let mut open = c.benchmark_group("cold_open");
    open.sample_size(20);
    open.bench_function("duet_year5_current_meeting", |b| {
        b.iter(|| {
            let mut duet = Duet::open(&home5).expect("open");
            black_box(duet.meetings().get(None).expect("meeting"));
        })
    });
    open.bench_function("duet_year1_current_meeting", |b| {
        b.iter(|| {
            let mut duet = Duet::open(&home1).expect("open");
            black_box(duet.meetings().get(None).expect("meeting"));
        })
    });
    open.bench_function("baseline_single_document_year5", |b| {
        b.iter(|| black_box(automerge::AutoCommit::load(&single).expect("load")))
    });
    open.finish();

    let mut edit = c.benchmark_group("durable_edit");
    let mut duet = Duet::open(&home5).expect("open");
    duet.meetings()
        .note(Section::Notes, "warm", None)
        .expect("note");
    edit.bench_function("duet_note_flushed", |b| {
        b.iter(|| {
            duet.meetings()
                .note(Section::Notes, "A line typed during the meeting.", None)
                .expect("note")
        })
    });
    drop(duet);
    let mut doc = automerge::AutoCommit::new();
    let text = {
        use automerge::transaction::Transactable;
        doc.put_object(automerge::ROOT, "notes", automerge::ObjType::Text)
            .expect("text")
    };
    let mut file = std::fs::File::create(dir.path().join("raw.bin")).expect("file");
    edit.bench_function("baseline_automerge_edit_fdatasync", |b| {
        b.iter(|| {
            use automerge::transaction::Transactable;
            let len = automerge::ReadDoc::length(&doc, &text);
            doc.splice_text(&text, len, 0, "A line typed during the meeting.")
                .expect("splice");
            doc.commit();
            let bytes = doc.save_incremental();
            file.write_all(&bytes).expect("write");
            file.sync_data().expect("fdatasync");
        })
    });
    edit.finish();
}

criterion_group!(notebook, benches);
criterion_main!(notebook);
