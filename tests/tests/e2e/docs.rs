//! The docs are true: every shell block marked `sh runnable` in the README and the user
//! guide runs, in order, against a temporary home with the `duet` just built; every
//! relative link in the README and `docs/` reaches a file and heading that exist; the
//! book's table of contents lists every page; and the README stays a front door.

use duet_tests::duet_binary;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The README is the front door, not the manual: past this, text belongs in `docs/`.
const README_MAX_LINES: usize = 250;

/// The info string that marks a shell block the tests run.
const RUNNABLE: &str = "sh runnable";

fn workspace() -> PathBuf {
    let tests = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    tests.parent().map(Path::to_path_buf).unwrap_or(tests)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The Markdown pages: the README and everything in `docs/`.
fn pages() -> Vec<PathBuf> {
    let root = workspace();
    let mut pages = vec![root.join("README.md")];
    let docs = std::fs::read_dir(root.join("docs")).unwrap_or_else(|e| panic!("docs/: {e}"));
    for entry in docs.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "md") {
            pages.push(path);
        }
    }
    pages.sort();
    pages
}

/// Lines outside fenced code blocks, with their line numbers.
fn prose(text: &str) -> Vec<(usize, &str)> {
    let mut in_fence = false;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if !in_fence {
            out.push((i + 1, line));
        }
    }
    out
}

/// The fenced blocks whose info string is `info`, with the line each starts on.
fn blocks(text: &str, info: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    let mut in_other = false;
    for (i, line) in text.lines().enumerate() {
        let fence = line.trim_start().strip_prefix("```");
        match (fence, current.take()) {
            (Some(_), Some(block)) => out.push(block),
            (Some(rest), None) if !in_other && rest.trim() == info => {
                current = Some((i + 1, String::new()))
            }
            (Some(_), None) => in_other = !in_other,
            (None, Some((start, mut body))) => {
                body.push_str(line);
                body.push('\n');
                current = Some((start, body));
            }
            (None, None) => {}
        }
    }
    out
}

/// A heading's anchor as GitHub and mdBook make it: lower case, letters, digits, `-` and
/// `_` kept, spaces to `-`, the rest dropped.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

fn anchors(text: &str) -> BTreeSet<String> {
    prose(text)
        .into_iter()
        .filter_map(|(_, line)| {
            let hashes = line.chars().take_while(|c| *c == '#').count();
            (hashes > 0 && line[hashes..].starts_with(' ')).then(|| anchor(&line[hashes..]))
        })
        .collect()
}

/// The targets of inline links `[text](target)` outside code, with their line numbers.
fn links(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (number, line) in prose(text) {
        let mut rest = line;
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let Some(end) = after.find(')') else { break };
            out.push((number, after[..end].to_owned()));
            rest = &after[end..];
        }
    }
    out
}

fn run_blocks(page: &Path) {
    let text = read(page);
    let runnable = blocks(&text, RUNNABLE);
    assert!(
        !runnable.is_empty(),
        "{} has no `{RUNNABLE}` block",
        page.display()
    );
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let bin_dir = duet_binary()
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let path = std::env::join_paths(std::iter::once(bin_dir).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .unwrap_or_else(|e| panic!("PATH: {e}"));
    for (line, body) in runnable {
        let out = Command::new("bash")
            .args(["-euo", "pipefail", "-c", &body])
            .current_dir(dir.path())
            .env("PATH", &path)
            .env("DUET_HOME", dir.path().join("home"))
            .env("DUET_KEYCHAIN", "off")
            .env("NO_COLOR", "1")
            .env("EDITOR", "true")
            .env_remove("VISUAL")
            .output()
            .unwrap_or_else(|e| panic!("running bash: {e}"));
        assert!(
            out.status.success(),
            "the block at {}:{line} failed ({:?}):\n{body}\nstdout:\n{}\nstderr:\n{}",
            page.display(),
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn the_readme_tour_runs_as_written() {
    run_blocks(&workspace().join("README.md"));
}

#[test]
fn the_user_guide_examples_run_as_written() {
    run_blocks(&workspace().join("docs/user-guide.md"));
}

#[test]
fn every_relative_link_reaches_a_page_and_heading_that_exist() {
    let mut broken = Vec::new();
    for page in pages() {
        let text = read(&page);
        let dir = page.parent().map(Path::to_path_buf).unwrap_or_default();
        for (line, target) in links(&text) {
            if target.starts_with("http://")
                || target.starts_with("https://")
                || target.starts_with("mailto:")
            {
                continue;
            }
            let (file, fragment) = match target.split_once('#') {
                Some((file, fragment)) => (file, Some(fragment)),
                None => (target.as_str(), None),
            };
            let linked = if file.is_empty() {
                page.clone()
            } else {
                dir.join(file)
            };
            if !linked.exists() {
                broken.push(format!(
                    "{}:{line}: {target} (no such file)",
                    page.display()
                ));
                continue;
            }
            if let Some(fragment) = fragment {
                if !anchors(&read(&linked)).contains(fragment) {
                    broken.push(format!(
                        "{}:{line}: {target} (no such heading)",
                        page.display()
                    ));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn the_book_lists_every_page_of_the_manual() {
    let docs = workspace().join("docs");
    let summary = read(&docs.join("SUMMARY.md"));
    let listed: BTreeSet<String> = links(&summary).into_iter().map(|(_, t)| t).collect();
    let missing: Vec<String> = pages()
        .into_iter()
        .filter(|p| p.starts_with(&docs))
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .filter(|name| name != "SUMMARY.md" && !listed.contains(name))
        .collect();
    assert!(missing.is_empty(), "pages not in SUMMARY.md: {missing:?}");
}

#[test]
fn the_readme_stays_a_front_door() {
    let lines = read(&workspace().join("README.md")).lines().count();
    assert!(
        lines <= README_MAX_LINES,
        "README.md has {lines} lines (at most {README_MAX_LINES}): move the manual into docs/"
    );
}

#[test]
fn link_and_block_parsing_find_what_is_there() {
    let text = "# Top\n[a](x.md#top) and [b](y.md)\n```sh runnable\necho hi\n```\n```sh\n[c](not-a-link)\n```\n## Lost a phone?\n";
    assert_eq!(
        links(text),
        vec![(2, "x.md#top".to_owned()), (2, "y.md".to_owned())]
    );
    assert_eq!(blocks(text, RUNNABLE), vec![(3, "echo hi\n".to_owned())]);
    assert!(anchors(text).contains("lost-a-phone"));
    assert!(anchors(text).contains("top"));
}
