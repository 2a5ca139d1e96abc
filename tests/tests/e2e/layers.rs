//! The layers inside `duet-core` point one way, where crates cannot yet say so: no file of
//! a lower layer names a module or type of a higher one (`crate::…`), except the few
//! exceptions listed here, each with why it stands and where it goes.
//!
//! Ranks, low to high: the protocol re-exports and small parsers (`wire`, `crypto`,
//! `control`, `ids`, `dates`), the model, insights and the sync engines, the store, the app
//! API with the notebook and the files and tickets it reads and writes (`duet`,
//! `notebook.rs`, `bundle.rs`, …), and on top the node and the network ends (`node`,
//! `net`). `docs/ARCHITECTURE.md` states the invariant and names this test.
//!
//! The sync drivers (the `duet-node` crate) reach a home only through the sync port
//! (`core/src/home/port.rs`): no other file of the core or the node runs calls on a home,
//! and only the node crate imports the port, so a front end cannot make a sync step.

use std::path::{Path, PathBuf};

/// The layers checked: a folder or file of `core/src` and its rank.
const CHECKED: &[(&str, u8)] = &[
    ("model", 1),
    ("insights", 2),
    ("sync", 2),
    ("store", 3),
    ("duet", 4),
    ("notebook.rs", 4),
    ("digests.rs", 4),
    ("packing.rs", 4),
    ("bundle.rs", 4),
    ("invite.rs", 4),
    ("one_time_invite.rs", 4),
    ("sealing.rs", 4),
    ("sheet_text.rs", 4),
    ("error.rs", 4),
];

/// Named exceptions: (file under `core/src`, the `crate::` name it may use, why).
const EXCEPTIONS: &[(&str, &str, &str)] = &[];

/// The rank of what `crate::NAME` names; anything not listed (the app API's types at the
/// crate's root) counts as the app API.
fn rank(name: &str) -> u8 {
    match name {
        "wire" | "crypto" | "control" | "ids" | "dates" => 0,
        "model" => 1,
        "insights" | "sync" => 2,
        "store" => 3,
        "node" | "net" => 5,
        _ => 4,
    }
}

fn repo() -> PathBuf {
    let tests = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    tests.parent().map(Path::to_owned).unwrap_or(tests)
}

fn core_src() -> PathBuf {
    repo().join("core/src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    if dir.is_file() {
        out.push(dir.to_owned());
        return;
    }
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every `crate::NAME` in `text` outside line comments, with its line number.
fn crate_paths(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or_default();
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let after = &rest[at + "crate::".len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.push((i + 1, name));
            }
            rest = after;
        }
    }
    out
}

#[test]
fn no_lower_layer_of_the_core_names_a_higher_one() {
    let src = core_src();
    let mut found = Vec::new();
    let mut used_exceptions = Vec::new();
    for (folder, own) in CHECKED {
        let mut files = Vec::new();
        rust_files(&src.join(folder), &mut files);
        assert!(!files.is_empty(), "no files under core/src/{folder}");
        for file in files {
            let relative = file
                .strip_prefix(&src)
                .map(|p| p.to_string_lossy().replace('\\', "/"))
                .unwrap_or_default();
            let text = std::fs::read_to_string(&file)
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            for (line, name) in crate_paths(&text) {
                if rank(&name) <= *own {
                    continue;
                }
                if EXCEPTIONS
                    .iter()
                    .any(|(f, n, _)| *f == relative && *n == name)
                {
                    used_exceptions.push((relative.clone(), name));
                    continue;
                }
                found.push(format!("core/src/{relative}:{line}: crate::{name}"));
            }
        }
    }
    assert!(
        found.is_empty(),
        "lower layers name higher ones (move the code, or add a named exception with why):\n{}",
        found.join("\n")
    );
    // An exception nobody needs any more is taken off the list.
    for (file, name, _) in EXCEPTIONS {
        assert!(
            used_exceptions.iter().any(|(f, n)| f == file && n == name),
            "the exception for crate::{name} in {file} is no longer needed: remove it"
        );
    }
}

#[test]
fn crate_paths_are_found_in_code_and_not_in_comments() {
    let text =
        "use crate::model::X; // crate::node\nlet a = crate::Duet::open(crate::ids::parse());";
    assert_eq!(
        crate_paths(text),
        vec![
            (1, "model".to_owned()),
            (2, "Duet".to_owned()),
            (2, "ids".to_owned())
        ]
    );
    assert_eq!(rank("node"), 5);
    assert_eq!(rank("Duet"), 4);
    assert_eq!(rank("model"), 1);
}

/// The files that may run calls on a home: the home itself and the sync port.
const HOME_CALLERS: &[&str] = &["core/src/home/actor.rs", "core/src/home/port.rs"];

/// Every Rust file under these folders of the repository, as (path from the root, text).
fn sources(folders: &[&str]) -> Vec<(String, String)> {
    let root = repo();
    let mut files = Vec::new();
    for folder in folders {
        rust_files(&root.join(folder), &mut files);
    }
    files
        .into_iter()
        .map(|file| {
            let relative = file
                .strip_prefix(&root)
                .map(|p| p.to_string_lossy().replace('\\', "/"))
                .unwrap_or_default();
            let text = std::fs::read_to_string(&file)
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            (relative, text)
        })
        .collect()
}

/// The lines of `text`, outside line comments, that contain `needle`.
fn lines_naming(relative: &str, text: &str, needle: &str) -> Vec<String> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| line.split("//").next().unwrap_or_default().contains(needle))
        .map(|(i, _)| format!("{relative}:{}", i + 1))
        .collect()
}

#[test]
fn the_sync_drivers_reach_a_home_only_through_the_port() {
    let mut found = Vec::new();
    for (relative, text) in sources(&["core/src", "core/node/src"]) {
        if HOME_CALLERS.contains(&relative.as_str()) {
            continue;
        }
        found.extend(lines_naming(&relative, &text, ".call("));
        found.extend(lines_naming(&relative, &text, "call_blocking("));
    }
    assert!(
        found.is_empty(),
        "calls on a home outside the sync port (add a typed call to core/src/home/port.rs):\n{}",
        found.join("\n")
    );
}

#[test]
fn only_the_node_crate_takes_the_sync_port() {
    let mut found = Vec::new();
    for (relative, text) in sources(&["cli/src", "mobile/src", "relay/src", "tests"]) {
        found.extend(lines_naming(&relative, &text, "SyncPort"));
    }
    // This file names it in its checks, which is not a use.
    found.retain(|at| !at.starts_with("tests/tests/e2e/layers.rs"));
    assert!(
        found.is_empty(),
        "a front end takes the sync port (call the app API or the node's service):\n{}",
        found.join("\n")
    );
    let node: Vec<String> = sources(&["core/node/src"])
        .iter()
        .flat_map(|(relative, text)| lines_naming(relative, text, "SyncPort"))
        .collect();
    assert!(
        !node.is_empty(),
        "the node crate reaches homes through the port"
    );
}
