//! Writing during the meeting: `duet edit` with a scripted editor, while the other device's
//! edits to the same meeting arrive between opening and saving.

use duet_tests::{pair, path, section_text, send, Device, Serving};
use std::path::{Path, PathBuf};

/// Writes an editor script: a Python program that edits the file it is given as the test
/// says, then runs the shell command in `DUET_TEST_MEANWHILE` (another device's edits
/// arriving) before it exits.
fn editor(dir: &Path, name: &str, body: &str) -> PathBuf {
    let script = dir.join(name);
    let text = format!(
        "import os, subprocess, sys\n\
         p = sys.argv[1]\n\
         s = open(p).read()\n\
         {body}\n\
         open(p, 'w').write(s)\n\
         meanwhile = os.environ.get('DUET_TEST_MEANWHILE')\n\
         if meanwhile:\n    subprocess.run(['sh', '-c', meanwhile], check=True)\n"
    );
    std::fs::write(&script, text).unwrap_or_else(|e| panic!("writing the editor: {e}"));
    script
}

fn edit(
    device: &Device,
    editor: &Path,
    meanwhile: Option<&str>,
    args: &[&str],
) -> std::process::Output {
    let mut cmd = device.command();
    cmd.arg("edit")
        .args(args)
        .env_remove("VISUAL")
        .env("EDITOR", format!("python3 {}", path(editor)));
    match meanwhile {
        Some(m) => cmd.env("DUET_TEST_MEANWHILE", m),
        None => cmd.env_remove("DUET_TEST_MEANWHILE"),
    };
    cmd.output()
        .unwrap_or_else(|e| panic!("running duet edit: {e}"))
}

fn item<'a>(meeting: &'a serde_json::Value, text: &str) -> &'a serde_json::Value {
    meeting["agenda"]
        .as_array()
        .and_then(|a| a.iter().find(|i| i["text"] == text))
        .unwrap_or_else(|| panic!("no agenda item {text:?} in {meeting}"))
}

#[test]
fn edits_in_the_editor_merge_with_what_the_other_device_wrote_meanwhile() {
    let (ana, bo) = pair();
    ana.ok(&["agenda", "add", "Promo packet"]);
    ana.ok(&["agenda", "add", "On-call load"]);
    ana.ok(&["note", "Roadmap: Q1 first", "--section", "notes"]);
    ana.ok(&[
        "commit",
        "add",
        "Send the doc",
        "--owner",
        "them",
        "--due",
        "2026-12-10",
    ]);
    send(&ana, &bo);

    // While Ana's editor is open, Bo adds an item, writes a note and rewords the same
    // commitment; his changes reach Ana's home before she saves.
    let commitment = ana.json(&["commit", "list", "--open"])[0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    bo.ok(&["agenda", "add", "Team offsite"]);
    bo.ok(&["note", "Bo: the pager is heavy", "--section", "notes"]);
    bo.ok(&[
        "commit",
        "edit",
        &commitment,
        "--text",
        "Send the doc today",
    ]);
    let bundle = bo.file("meanwhile.duet");
    let meanwhile = format!(
        "{duet} --home {bo} bundle out {f} && {duet} --home {ana} bundle in {f}",
        duet = path(&duet_tests::duet_binary()),
        bo = path(bo.home.path()),
        ana = path(ana.home.path()),
        f = path(&bundle),
    );
    let script = editor(
        ana.home.path(),
        "ana-editor.py",
        "s = s.replace('- [ ] Promo packet', '- [x] Promo packet')\n\
         s = s.replace('Roadmap: Q1 first', 'Roadmap: Q1 and Q2 first\\nAna: hiring plan next')\n\
         s = s.replace('Send the doc', 'Send the leveling doc')\n\
         s = s.replace('## Check-in\\n', '## Check-in\\nBoth rested\\n')",
    );
    let out = edit(&ana, &script, Some(&meanwhile), &[]);
    assert!(
        out.status.success(),
        "duet edit failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("1 agenda item ticked"), "{said}");

    let check = |device: &Device| {
        let meeting = &device.json(&["show"])["meeting"];
        assert_eq!(item(meeting, "Promo packet")["discussed"], true);
        assert_eq!(item(meeting, "On-call load")["discussed"], false);
        item(meeting, "Team offsite");
        assert_eq!(
            section_text(meeting, "notes"),
            "Roadmap: Q1 and Q2 first\nAna: hiring plan next\nBo: the pager is heavy",
            "both devices' notes survive, each where it was written"
        );
        assert_eq!(section_text(meeting, "checkin"), "Both rested");
        let open = device.json(&["commit", "list", "--open"]);
        assert_eq!(open[0]["text"], "Send the leveling doc today", "{open}");
    };
    check(&ana);
    send(&ana, &bo);
    check(&bo);
}

#[test]
fn a_broken_file_is_refused_with_its_line_and_kept_for_resume() {
    let ana = Device::new("Ana");
    ana.ok(&[
        "notebook", "new", "Ana / Bo", "--me", "manager", "--with", "Bo",
    ]);
    ana.ok(&["agenda", "add", "Promo packet"]);
    let before = ana.json(&["show"]);

    let breaks = editor(
        ana.home.path(),
        "breaks.py",
        "s = s.replace('## Wins', '## Winz')\n\
         s = s.replace('## Notes\\n', '## Notes\\nA note worth keeping\\n')",
    );
    let out = edit(&ana, &breaks, None, &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown heading \"## Winz\"") && err.contains("line "),
        "{err}"
    );
    assert!(err.contains("duet edit --resume"), "{err}");
    assert_eq!(ana.json(&["show"]), before, "nothing was written");

    // A new edit of the same meeting is refused while the draft is kept.
    let untouched = editor(ana.home.path(), "untouched.py", "pass");
    let out = edit(&ana, &untouched, None, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--resume"));

    let fixes = editor(
        ana.home.path(),
        "fixes.py",
        "assert 'A note worth keeping' in s\ns = s.replace('## Winz', '## Wins')",
    );
    let out = edit(&ana, &fixes, None, &["--resume"]);
    assert!(
        out.status.success(),
        "resume failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meeting = &ana.json(&["show"])["meeting"];
    assert_eq!(section_text(meeting, "notes"), "A note worth keeping");
    let drafts = std::fs::read_dir(ana.home.path().join("drafts"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(drafts, 0, "an applied draft is gone");

    // An editor that fails keeps the draft too; --discard throws it away.
    let fails = editor(ana.home.path(), "fails.py", "sys.exit(3)");
    let out = edit(&ana, &fails, None, &["--section", "wins"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(ana.ok(&["edit", "--discard"]).contains("Threw away"));
}

#[test]
fn edit_works_through_a_running_node_and_one_section_at_a_time() {
    let ana = Device::new("Ana");
    ana.ok(&[
        "notebook", "new", "Ana / Bo", "--me", "manager", "--with", "Bo",
    ]);
    ana.ok(&["note", "Shipped sync", "--section", "wins"]);
    let node = Serving::start(&ana, "127.0.0.1:0");
    let script = editor(
        ana.home.path(),
        "wins.py",
        "assert '## Agenda' not in s and '## Notes' not in s\n\
         s = s.replace('Shipped sync', 'Shipped sync\\nFixed the flaky test')",
    );
    let out = edit(&ana, &script, None, &["--section", "wins"]);
    assert!(
        out.status.success(),
        "duet edit through the node failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meeting = &ana.json(&["show"])["meeting"];
    assert_eq!(
        section_text(meeting, "wins"),
        "Shipped sync\nFixed the flaky test"
    );
    assert!(node.stop(), "the node stops cleanly");
}
