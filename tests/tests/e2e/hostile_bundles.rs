//! No input crashes a decoder: bundles whose checksum is right but whose documents are
//! random bytes, or real documents with flipped bits, are refused or merged harmlessly,
//! never a panic, and an unchanged notebook stays readable.

use duet_core::bundle::{Bundle, BundleDoc};
use duet_core::Duet;
use proptest::prelude::*;

struct Home {
    _dir: tempfile::TempDir,
    duet: Duet,
    bundle: Bundle,
    file: std::path::PathBuf,
}

fn home() -> Home {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut duet = duet_tests::library_home(dir.path(), "Ana");
    duet.agenda().add("an item", false, None).expect("add");
    let file = dir.path().join("b.duet");
    duet.bundle_out(&file).expect("bundle out");
    let bundle = Bundle::decode(&std::fs::read(&file).expect("read")).expect("decode");
    Home {
        _dir: dir,
        duet,
        bundle,
        file,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn hostile_documents_in_a_valid_bundle_never_panic(
        which in 0usize..3,
        random in proptest::collection::vec(any::<u8>(), 0..600),
        flips in proptest::collection::vec((any::<usize>(), 0u8..8), 1..6),
        use_random in any::<bool>(),
    ) {
        let mut h = home();
        let before = serde_json::to_string(&h.duet.meetings().history().expect("history")).expect("json");
        let mut bundle = h.bundle.clone();
        let which = which % bundle.docs.len();
        let doc: &mut BundleDoc = &mut bundle.docs[which];
        if use_random {
            doc.bytes = random;
        } else {
            for (at, bit) in flips {
                let len = doc.bytes.len();
                doc.bytes[at % len] ^= 1 << bit;
            }
        }
        std::fs::write(&h.file, bundle.encode()).expect("write");
        // Refused or merged, never a panic (a panic fails this test).
        let result = h.duet.bundle_in(&h.file, None);
        if result.is_err() {
            let after = serde_json::to_string(&h.duet.meetings().history().expect("history")).expect("json");
            prop_assert_eq!(before, after, "a refused bundle changed the notebook");
        }
    }
}
