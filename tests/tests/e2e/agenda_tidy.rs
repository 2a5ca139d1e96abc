//! An agenda nobody tends stays readable: on a notebook grown with nothing ever ticked,
//! `show`, `agenda list` and `prep` fold the items carried again and again into a line per
//! band, `agenda list --all` lists them, and `agenda tidy` moves them to the backlog in one
//! edit once asked with `--yes` (before that it only says what it would do), which one
//! `duet undo` takes back whole.

use duet_core::sample::{grow, Habit};
use duet_tests::Device;

#[test]
fn long_carried_items_fold_list_on_asking_and_tidy_into_the_backlog() {
    let home = tempfile::tempdir().expect("tempdir");
    // Twelve weeks, two items a week, nothing ever ticked: the current agenda holds items
    // carried from 1 to 12 times.
    drop(grow(home.path(), 12, Habit::NeverTicked).expect("grown"));
    let ana = Device { home };

    let agenda = ana.json(&["agenda", "list"]);
    let items = agenda["agenda"].as_array().expect("items").clone();
    let long: Vec<&serde_json::Value> = items
        .iter()
        .filter(|i| i["carried"].as_u64().is_some_and(|c| c >= 3))
        .collect();
    assert!(
        long.len() > 5,
        "enough long-carried items to fold: {}",
        long.len()
    );

    for args in [&["show"][..], &["agenda", "list"], &["prep"]] {
        let text = ana.ok(args);
        assert!(text.contains("⋯"), "{args:?} folds: {text}");
        assert!(text.contains("duet agenda tidy"), "{text}");
        let shown = long
            .iter()
            .filter(|i| text.contains(i["text"].as_str().unwrap_or_default()))
            .count();
        assert_eq!(
            shown, 0,
            "{args:?} shows none of the folded items one by one"
        );
    }
    let all = ana.ok(&["agenda", "list", "--all"]);
    for item in &long {
        assert!(
            all.contains(item["text"].as_str().unwrap_or_default()),
            "{all}"
        );
    }

    // Asked without --yes, tidy says what it would move and changes nothing.
    let plan = ana.json(&["agenda", "tidy"]);
    assert_eq!(plan["done"], false);
    let planned = plan["items"].as_array().expect("items").len();
    assert!(planned > 0);
    assert_eq!(ana.json(&["agenda", "list"])["agenda"], agenda["agenda"]);

    let tidied = ana.json(&["agenda", "tidy", "--yes"]);
    assert_eq!(tidied["done"], true);
    assert_eq!(tidied["items"].as_array().map(Vec::len), Some(planned));
    let after = ana.json(&["agenda", "list"]);
    assert!(after["agenda"]
        .as_array()
        .expect("items")
        .iter()
        .all(|i| i["carried"].as_u64() < Some(6)));
    let backlog: Vec<String> = after["backlog"]
        .as_array()
        .expect("backlog")
        .iter()
        .map(|i| i["text"].as_str().unwrap_or_default().to_owned())
        .collect();
    for moved in tidied["items"].as_array().expect("items") {
        assert!(backlog.contains(&moved["text"].as_str().unwrap_or_default().to_owned()));
    }

    // One edit, so one undo puts every item back where it was.
    let undone = ana.json(&["undo"]);
    assert!(
        undone["what"]
            .as_str()
            .is_some_and(|w| w.starts_with(&format!("agenda tidy: {planned} items"))),
        "{undone}"
    );
    let restored = ana.json(&["agenda", "list"]);
    assert_eq!(restored["agenda"], agenda["agenda"]);
    assert_eq!(restored["backlog"], agenda["backlog"]);
}
