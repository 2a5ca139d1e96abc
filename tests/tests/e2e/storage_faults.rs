//! Storage faults give errors, not damage: an engine that fails its Nth write (EIO or
//! ENOSPC) makes the edit fail with a typed error and no panic; after reopening on the
//! healthy engine, every acknowledged edit is there, nothing after the failed edit is, and
//! the failed edit itself is either wholly there or absent.

use duet_core::store::{Engine, Entry, StoreError, TreeName};
use duet_core::{Duet, DuetError, Section};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Wraps an engine and fails the write numbered `fail_at` (inserts, replaces and flushes
/// counted together), and every write after it, with the given OS error.
struct FailingEngine {
    inner: Arc<dyn Engine>,
    writes: AtomicUsize,
    fail_at: usize,
    errno: i32,
}

impl FailingEngine {
    fn write(&self) -> Result<(), StoreError> {
        if self.writes.fetch_add(1, Ordering::SeqCst) + 1 >= self.fail_at {
            return Err(StoreError::Engine(std::io::Error::from_raw_os_error(
                self.errno,
            )));
        }
        Ok(())
    }
}

impl Engine for FailingEngine {
    fn get(&self, tree: TreeName, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.get(tree, key)
    }
    fn insert(&self, tree: TreeName, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.write()?;
        self.inner.insert(tree, key, value)
    }
    fn scan_prefix(&self, tree: TreeName, prefix: &[u8]) -> Result<Vec<Entry>, StoreError> {
        self.inner.scan_prefix(tree, prefix)
    }
    fn keys_with_prefix(&self, tree: TreeName, prefix: &[u8]) -> Result<Vec<Vec<u8>>, StoreError> {
        self.inner.keys_with_prefix(tree, prefix)
    }
    fn last_key_with_prefix(
        &self,
        tree: TreeName,
        prefix: &[u8],
    ) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.last_key_with_prefix(tree, prefix)
    }
    fn replace(
        &self,
        tree: TreeName,
        put: (&[u8], &[u8]),
        remove: &[Vec<u8>],
    ) -> Result<(), StoreError> {
        self.write()?;
        self.inner.replace(tree, put, remove)
    }
    fn flush(&self) -> Result<(), StoreError> {
        self.write()?;
        self.inner.flush()
    }
    fn size_on_disk(&self) -> Result<u64, StoreError> {
        self.inner.size_on_disk()
    }
    fn abandon(&self) {
        // The inner engine did not fail: it may shut down normally, which is what a
        // process that exits after the error does with whatever reached the disk.
    }
}

/// Edits that touch every kind of write: meeting chunks, the index, the commitments
/// document, and compaction (more than 16 chunks of one document).
fn edit(duet: &mut Duet, step: usize) -> Result<(), DuetError> {
    match step % 4 {
        0 => duet
            .meetings()
            .note(Section::Notes, &edit_marker(step), None)
            .map(drop),
        1 => duet.agenda().add(&edit_marker(step), false, None).map(drop),
        2 => duet
            .commitments()
            .add(&edit_marker(step), &duet_core::Owner::Me, None, None)
            .map(drop),
        _ => duet.agenda().add(&edit_marker(step), true, None).map(drop),
    }
}

fn edit_marker(step: usize) -> String {
    format!("<edit {step}>")
}

fn state(duet: &mut Duet) -> String {
    serde_json::to_string(&(
        duet.meetings().history().expect("history"),
        duet.commitments().list(false).expect("commitments"),
        duet.agenda().list(None).expect("agenda").1,
    ))
    .expect("json")
}

#[test]
fn a_failing_nth_write_gives_a_typed_error_and_loses_nothing_acknowledged() {
    const STEPS: usize = 40;
    let (mut runs, mut faulted) = (0, 0);
    for errno in [5, 28] {
        // Every write position of the first edits, then a spread of later ones.
        for fail_at in (1..=24).chain((30..=160).step_by(13)) {
            let dir = tempfile::tempdir().expect("tempdir");
            drop(duet_tests::library_home(dir.path(), "Ana"));
            let home = dir.path().join("Ana");
            let mut acknowledged = 0;
            let mut failed_at_step = None;
            {
                let mut duet = duet_tests::open_in_process("open", || {
                    Duet::open_with(&home, |inner| {
                        Arc::new(FailingEngine {
                            inner,
                            writes: AtomicUsize::new(0),
                            fail_at,
                            errno,
                        })
                    })
                });
                for step in 0..STEPS {
                    match edit(&mut duet, step) {
                        Ok(()) => acknowledged = step + 1,
                        Err(DuetError::Store(
                            StoreError::Engine(_)
                            | StoreError::DiskFull { .. }
                            | StoreError::Failed { .. },
                        )) => {
                            failed_at_step = Some(step);
                            break;
                        }
                        Err(other) => {
                            panic!("errno {errno}, write {fail_at}: untyped failure {other}")
                        }
                    }
                }
                // Later calls on the failed store are refused, not attempted.
                if failed_at_step.is_some() {
                    let again = edit(&mut duet, STEPS);
                    assert!(
                        matches!(again, Err(DuetError::Store(_))),
                        "a failed store was used again: {again:?}"
                    );
                }
            }
            runs += 1;
            faulted += usize::from(failed_at_step.is_some());
            // Any error but a moment's lock (see `open_in_process`) fails the test.
            let mut reopened = duet_tests::open_home(&home);
            let now = state(&mut reopened);
            let context =
                format!("errno {errno}, write {fail_at}, failed at step {failed_at_step:?}");
            for step in 0..acknowledged {
                assert!(
                    now.contains(&edit_marker(step)),
                    "{context}: acknowledged edit {step} lost"
                );
            }
            for step in acknowledged + 1..=STEPS {
                assert!(
                    !now.contains(&edit_marker(step)),
                    "{context}: edit {step} appeared"
                );
            }
        }
    }
    assert!(
        faulted * 10 >= runs * 9,
        "only {faulted} of {runs} runs met a failing write: the script writes too little"
    );
}
