//! Duet's `.automerge` exports are standard Automerge: the JavaScript implementation loads
//! them, edits them in Duet's schema, and Duet merges the edit back.
//!
//! Needs Node.js and `npm ci --prefix tests/js`, so it is ignored by default;
//! `.ci/run` installs both and runs it by name:
//! `cargo test -p duet-tests --test e2e cross_implementation -- --ignored`.

use duet_tests::{path, Device};
use std::path::PathBuf;
use std::process::Command;

#[test]
#[ignore = "needs Node.js and `npm ci --prefix tests/js`; run by .ci/run"]
fn javascript_automerge_loads_exports_and_its_edits_merge_back() {
    let js = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("js");
    assert!(
        js.join("node_modules/@automerge/automerge").exists(),
        "run `npm ci --prefix tests/js` first"
    );
    let ana = Device::with_notebook("Ana", "Ana / Bo", "Bo");
    ana.ok(&["agenda", "add", "written by duet"]);
    ana.ok(&[
        "note",
        "a note for the JavaScript side",
        "--section",
        "wins",
    ]);
    let dir = ana.file("export");
    ana.ok(&["export", "--format", "automerge", "--output", path(&dir)]);

    let out = Command::new("node")
        .arg(js.join("edit_export.mjs"))
        .arg(&dir)
        .arg("added in JavaScript")
        .output()
        .expect("node must be installed");
    assert!(
        out.status.success(),
        "JavaScript Automerge failed on Duet's export: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(seen["title"], "Ana / Bo");
    assert_eq!(seen["documents"], 3, "index, open commitments, one meeting");

    let report = ana.json(&["import", path(&dir)]);
    assert_eq!(report["documents"], 1);
    let agenda = ana.json(&["agenda", "list"]);
    assert_eq!(
        duet_tests::agenda_texts(&agenda),
        vec!["written by duet", "added in JavaScript"]
    );
}
