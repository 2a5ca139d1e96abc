//! Writing during the meeting: `duet edit` with a scripted editor, while the other device's
//! edits to the same meeting arrive between opening and saving; and `duet meet`, the
//! full-screen view, driven through a real tmux (send-keys, capture-pane) while the other
//! device writes through a real relay.

use duet_tests::{pair, path, section_text, send, Device, Relay, Serving};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

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
         s = s.replace('## Check-in\\n', '## Check-in\\nBoth rested\\n')\n\
         lines = s.split('\\n')\n\
         a = next(i for i, l in enumerate(lines) if 'Promo packet' in l)\n\
         b = next(i for i, l in enumerate(lines) if 'On-call load' in l)\n\
         lines[a], lines[b] = lines[b], lines[a]\n\
         lines.insert(lines.index('## Agenda') + 1, '- [ ] First things first')\n\
         s = '\\n'.join(lines)",
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
        assert_eq!(
            duet_tests::agenda_texts(meeting),
            [
                "First things first",
                "On-call load",
                "Promo packet",
                "Team offsite"
            ],
            "a line added at the top and a line moved up are where they were written"
        );
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
    let ana = Device::with_notebook("Ana", "Ana / Bo", "Bo");
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
    let ana = Device::with_notebook("Ana", "Ana / Bo", "Bo");
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

/// A tmux server of the test's own (its socket in a temp dir), with one window.
struct Tmux {
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl Tmux {
    fn start(command: &str) -> Tmux {
        let dir = tempfile::tempdir().expect("tempdir");
        let tmux = Tmux {
            socket: dir.path().join("tmux.sock"),
            _dir: dir,
        };
        let status = tmux
            .cmd(&["new-session", "-d", "-x", "120", "-y", "32", command])
            .status()
            .unwrap_or_else(|e| panic!("tmux is needed for this test (.ci/run installs it): {e}"));
        assert!(status.success(), "tmux new-session failed");
        tmux
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("tmux");
        // "no server running" once the view has quit is expected, not news.
        cmd.arg("-S")
            .arg(&self.socket)
            .args(args)
            .stderr(std::process::Stdio::null());
        cmd
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "0"];
        args.extend_from_slice(keys);
        assert!(self.cmd(&args).status().is_ok_and(|s| s.success()));
    }

    fn text(&self, text: &str) {
        assert!(self
            .cmd(&["send-keys", "-t", "0", "-l", "--", text])
            .status()
            .is_ok_and(|s| s.success()));
    }

    fn screen(&self) -> String {
        let out = self
            .cmd(&["capture-pane", "-p", "-t", "0"])
            .output()
            .unwrap_or_else(|e| panic!("capture-pane: {e}"));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until the screen shows `what` (with a generous limit for a loaded machine).
    fn wait_for(&self, what: impl Fn(&str) -> bool, why: &str) -> String {
        duet_tests::eventually(Duration::from_secs(30), why, || {
            let screen = self.screen();
            if what(&screen) {
                Ok(screen)
            } else {
                Err(format!("the screen shows:\n{screen}"))
            }
        })
    }

    /// Whether the window (the command in it) is gone.
    fn ended(&self) -> bool {
        !self
            .cmd(&["has-session", "-t", "0"])
            .status()
            .is_ok_and(|s| s.success())
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]).status();
    }
}

/// `duet meet` on a device's home, as a tmux window runs it.
fn meet_command(device: &Device) -> String {
    format!(
        "env DUET_HOME={} NO_COLOR=1 DUET_KEYCHAIN=off {} meet",
        path(device.home.path()),
        path(&duet_tests::duet_binary())
    )
}

/// The screen line holding `text`.
fn line_with<'s>(screen: &'s str, text: &str) -> &'s str {
    screen.lines().find(|l| l.contains(text)).unwrap_or("")
}

#[test]
fn the_meeting_view_ticks_types_and_shows_what_the_other_device_adds_through_a_relay() {
    let dir = tempfile::tempdir().expect("tempdir");
    let relay = Relay::start(&dir.path().join("relay"), "127.0.0.1:0", None);
    let ana = Device::with_notebook("Ana", "Ana / Bo", "Bo");
    let relay_addr = relay.addr.to_string();
    ana.ok(&[
        "relay",
        "set",
        &relay_addr,
        "--fingerprint",
        &relay.fingerprint,
    ]);
    ana.ok(&["agenda", "add", "Promo packet"]);
    ana.ok(&["agenda", "add", "On-call load"]);
    ana.ok(&["sync"]);
    let ticket = duet_tests::invite(&ana, "127.0.0.1:9");
    let bo = Device::new("Bo");
    let joined = bo.json(&["join", &ticket, "--as", "report"]);
    assert_eq!(joined["synced"], true, "{joined}");

    // Ana opens the view; no node runs, so the view is the node while it is open.
    let command = meet_command(&ana);
    let tmux = Tmux::start(&command);
    tmux.wait_for(
        |s| s.contains("Promo packet") && s.contains("q quit"),
        "the view opens",
    );

    // Tick the second item, move it up, and type a note into Wins.
    tmux.keys(&["Down", "Space"]);
    tmux.wait_for(
        |s| line_with(s, "On-call load").contains("[x]"),
        "the tick shows",
    );
    tmux.keys(&["K"]);
    tmux.wait_for(
        |s| s.find("On-call load") < s.find("Promo packet"),
        "the item moves up",
    );
    tmux.keys(&["2"]);
    tmux.text("-5% pager load since the fix");
    tmux.keys(&["Enter"]);
    tmux.wait_for(
        |s| s.contains("  -5% pager load since the fix"),
        "the note shows",
    );

    // Bo adds an item on his laptop and syncs through the relay: it appears by itself.
    bo.ok(&["agenda", "add", "Bo-relay-marker"]);
    bo.ok(&["sync"]);
    let pushed = Instant::now();
    tmux.wait_for(|s| s.contains("Bo-relay-marker"), "Bo's item arrives");
    eprintln!(
        "Bo's item appeared on Ana's screen {} ms after his sync returned",
        pushed.elapsed().as_millis()
    );

    // While the view is open, other commands run through it.
    let meeting = &ana.json(&["show"])["meeting"];
    assert_eq!(
        section_text(meeting, "wins"),
        "-5% pager load since the fix"
    );
    let texts = duet_tests::agenda_texts(meeting);
    assert_eq!(texts, ["On-call load", "Promo packet", "Bo-relay-marker"]);
    assert_eq!(item(meeting, "On-call load")["discussed"], true);

    // Quitting leaves everything saved, and the view's edits reach Bo through the relay.
    tmux.keys(&["q"]);
    duet_tests::eventually(Duration::from_secs(10), "the view to quit on q", || {
        tmux.ended()
            .then_some(())
            .ok_or_else(|| "its window is still there".to_owned())
    });
    assert!(
        !ana.home.path().join("node.sock").exists(),
        "the view's node is gone"
    );
    bo.ok(&["sync"]);
    let meeting = &bo.json(&["show"])["meeting"];
    assert_eq!(
        section_text(meeting, "wins"),
        "-5% pager load since the fix"
    );
    assert_eq!(item(meeting, "On-call load")["discussed"], true);

    // A view killed with SIGKILL loses nothing it showed, and the home opens right after.
    drop(tmux);
    let tmux = Tmux::start(&command);
    tmux.wait_for(|s| s.contains("q quit"), "the view opens again");
    tmux.keys(&["n"]);
    tmux.text("typed-before-kill");
    tmux.keys(&["Enter"]);
    tmux.wait_for(|s| s.contains("  typed-before-kill"), "the note shows");
    let pid = tmux
        .cmd(&["list-panes", "-t", "0", "-F", "#{pane_pid}"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    assert!(Command::new("kill")
        .args(["-KILL", &pid])
        .status()
        .is_ok_and(|s| s.success()));
    duet_tests::eventually(Duration::from_secs(10), "the killed view to go", || {
        tmux.ended()
            .then_some(())
            .ok_or_else(|| "its window is still there".to_owned())
    });
    let meeting = &ana.json(&["show"])["meeting"];
    assert_eq!(section_text(meeting, "notes"), "typed-before-kill");
}

#[test]
fn items_are_reordered_and_unticked_from_the_command_line_too() {
    let ana = Device::with_notebook("Ana", "Ana / Bo", "Bo");
    let ids: Vec<String> = ["first", "second", "third"]
        .iter()
        .map(|t| {
            ana.json(&["agenda", "add", t])["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    ana.ok(&["agenda", "order", &ids[2], "--before", &ids[0]]);
    ana.ok(&["agenda", "order", &ids[0], "--after", &ids[1]]);
    let meeting = &ana.json(&["show"])["meeting"];
    assert_eq!(
        duet_tests::agenda_texts(meeting),
        ["third", "second", "first"]
    );
    ana.ok(&["agenda", "done", &ids[1]]);
    ana.ok(&["agenda", "undone", &ids[1]]);
    assert_eq!(
        item(&ana.json(&["show"])["meeting"], "second")["discussed"],
        false
    );
    let itself = ana.run(&["agenda", "order", &ids[1], "--after", &ids[1]]);
    assert_eq!(itself.status.code(), Some(2));
    let nowhere = ana.run(&["agenda", "order", &ids[1]]);
    assert_eq!(
        nowhere.status.code(),
        Some(2),
        "--before or --after is required"
    );
}

#[test]
fn the_meeting_view_works_through_a_running_node() {
    let ana = Device::with_notebook("Ana", "Ana / Bo", "Bo");
    ana.ok(&["agenda", "add", "Promo packet"]);
    let node = Serving::start(&ana, "127.0.0.1:0");
    let command = meet_command(&ana);
    let tmux = Tmux::start(&command);
    tmux.wait_for(
        |s| s.contains("live through the running node") && s.contains("Promo packet"),
        "the view opens on the node",
    );
    tmux.keys(&["Space"]);
    tmux.keys(&["3"]);
    tmux.text("typed-through-the-node");
    tmux.keys(&["Enter"]);
    tmux.wait_for(
        |s| s.contains("  typed-through-the-node") && line_with(s, "Promo packet").contains("[x]"),
        "the edits show",
    );
    // An edit made elsewhere through the node shows too.
    ana.ok(&["agenda", "add", "added-in-another-terminal"]);
    tmux.wait_for(
        |s| s.contains("added-in-another-terminal"),
        "the other terminal's item shows",
    );
    tmux.keys(&["q"]);
    let meeting = &ana.json(&["show"])["meeting"];
    assert_eq!(
        section_text(meeting, "challenges"),
        "typed-through-the-node"
    );
    assert_eq!(item(meeting, "Promo packet")["discussed"], true);
    assert!(node.stop(), "the node stops cleanly");
}

#[test]
fn a_tick_by_a_slipped_key_is_undone_with_u_and_redone_with_ctrl_r() {
    let ana = Device::with_notebook("Ana", "Ana / Bo", "Bo");
    ana.ok(&["agenda", "add", "Promo packet"]);
    let tmux = Tmux::start(&meet_command(&ana));
    tmux.wait_for(|s| s.contains("Promo packet"), "the view opens");
    tmux.keys(&["Space"]);
    tmux.wait_for(
        |s| line_with(s, "Promo packet").contains("[x]"),
        "the tick shows",
    );
    tmux.keys(&["u"]);
    let screen = tmux.wait_for(
        |s| line_with(s, "Promo packet").contains("[ ]"),
        "the undone tick shows",
    );
    assert!(
        screen.contains("Undone: agenda item ticked"),
        "the status line says what was undone: {screen}"
    );
    // The screen and `duet show` agree.
    assert_eq!(
        item(&ana.json(&["show"])["meeting"], "Promo packet")["discussed"],
        false
    );
    tmux.keys(&["C-r"]);
    tmux.wait_for(
        |s| line_with(s, "Promo packet").contains("[x]"),
        "the redone tick shows",
    );
    tmux.keys(&["q"]);
    assert_eq!(
        item(&ana.json(&["show"])["meeting"], "Promo packet")["discussed"],
        true
    );
}
