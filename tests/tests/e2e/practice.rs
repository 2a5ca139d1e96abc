//! What makes 1-1s good, end to end through the real `duet` binary on two devices that
//! exchange bundles: questions asked are remembered per notebook and the pair's own
//! questions sync; health, themes, search, history, prep and the one-meeting summary read
//! what both people wrote.

use duet_tests::{pair, send, Device};

fn ids(list: &serde_json::Value, key: &str) -> Vec<String> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v[key].as_str().map(str::to_owned))
        .collect()
}

fn first_open_commitment(d: &Device) -> String {
    ids(&d.json(&["commit", "list", "--open"]), "id")
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no open commitment"))
}

#[test]
fn questions_are_shared_remembered_and_suggested_alike_on_both_sides() {
    let (ana, bo) = pair();
    let own = ana.json(&["ask", "--new", "What drained you this week?"]);
    let own_id = own["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(own["own"], true);
    // Unasked questions of the pair's own come first.
    assert_eq!(ana.json(&["ask"])["suggestion"]["id"], own_id.as_str());
    send(&ana, &bo);
    assert_eq!(bo.json(&["ask"])["suggestion"]["id"], own_id.as_str());

    // Bo asks it and puts it on the agenda; Ana asks a bank question offline at the same time.
    let asked = bo.json(&["ask", &own_id, "--add"]);
    assert_eq!(asked["item"]["text"], "What drained you this week?");
    ana.json(&["ask", "b02"]);
    send(&bo, &ana);
    send(&ana, &bo);
    for d in [&ana, &bo] {
        let all = d.json(&["ask", "--list"]);
        let asked: Vec<String> = all
            .as_array()
            .into_iter()
            .flatten()
            .filter(|q| q["asked_in"].as_array().is_some_and(|a| !a.is_empty()))
            .filter_map(|q| q["id"].as_str().map(str::to_owned))
            .collect();
        assert_eq!(asked, vec!["b02".to_owned(), own_id.clone()]);
    }
    // Neither asked question is suggested again while others have never been asked.
    let next = ana.json(&["ask"])["suggestion"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(next != own_id && next != "b02", "{next}");
    assert_eq!(bo.json(&["ask"])["suggestion"]["id"], next.as_str());
}

#[test]
fn health_themes_search_history_and_prep_read_both_peoples_work() {
    let (ana, bo) = pair();
    ana.ok(&["agenda", "add", "Hiring plan #growth"]);
    bo.ok(&["agenda", "add", "On-call is heavy #workload"]);
    bo.ok(&[
        "note",
        "Rota burns me out #workload",
        "--section",
        "challenges",
    ]);
    send(&bo, &ana);
    ana.ok(&[
        "commit",
        "add",
        "Rebalance the rota #workload",
        "--owner",
        "me",
        "--due",
        "+3d",
    ]);
    ana.ok(&[
        "wrap",
        "--takeaway",
        "Rota first",
        "--next",
        "Draft a rota",
        "--need",
        "A contractor",
    ]);
    let c = first_open_commitment(&ana);
    ana.ok(&["commit", "edit", &c, "--due", "+10d"]);
    ana.ok(&["meeting", "reschedule", "--to", "+9d"]);
    send(&ana, &bo);

    for d in [&ana, &bo] {
        let h = d.json(&["health"]);
        assert_eq!(h["window"], 1, "{h}");
        assert_eq!(h["held"], 1);
        let brought: Vec<u64> = h["agenda_by"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s["items"].as_u64())
            .collect();
        assert_eq!(brought, vec![1, 1], "{h}");
        assert!(h["next_meeting"]["reschedules"].as_u64() == Some(1), "{h}");

        let t = d.json(&["themes"]);
        assert_eq!(t["themes"][0]["tag"], "workload", "{t}");
        assert_eq!(t["themes"][0]["mentions"], 3, "{t}");
        assert_eq!(t["slipping"][0]["commitment"]["id"], c.as_str(), "{t}");
        assert_eq!(t["slipping"][0]["commitment"]["slips"], 1, "{t}");

        let hits = d.json(&["search", "ROTA"]);
        assert_eq!(hits.as_array().map(Vec::len), Some(4), "{hits}");

        let history = d.json(&["history"]);
        assert_eq!(history[0]["takeaway"], "Rota first", "{history}");

        let prep = d.json(&["prep"]);
        assert_eq!(prep["last_takeaway"][1], "Rota first", "{prep}");
        assert_eq!(ids(&prep["open_commitments"], "id"), vec![c.clone()]);
        assert!(prep["question"]["text"].is_string(), "{prep}");
        // Undiscussed items carried over: both people's.
        assert_eq!(prep["agenda"].as_array().map(Vec::len), Some(2), "{prep}");

        let summary = d.ok(&["export", "--meeting", "last"]);
        for part in [
            "## Key takeaway",
            "Rota first",
            "Rebalance the rota",
            "## What Bo needs",
            "A contractor",
            "Next 1-1:",
        ] {
            assert!(summary.contains(part), "{part} missing:\n{summary}");
        }
    }
    let out = ana.run(&["export", "--meeting", "last", "--format", "json"]);
    assert!(!out.status.success());
}

#[test]
fn history_views_read_from_their_cache_never_show_a_stale_meeting() {
    let (ana, bo) = pair();
    ana.ok(&["note", "first take", "--section", "notes"]);
    ana.ok(&["wrap", "--takeaway", "Keep going"]);
    send(&ana, &bo);
    let held = ana.json(&["history"])[0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    // Ana's history views now come from the cache; Bo edits the held meeting elsewhere.
    assert_eq!(
        ana.json(&["search", "afterthought"])
            .as_array()
            .map(Vec::len),
        Some(0)
    );
    bo.ok(&[
        "note",
        "an afterthought",
        "--section",
        "notes",
        "--meeting",
        &held,
    ]);
    send(&bo, &ana);
    let hits = ana.json(&["search", "afterthought"]);
    assert_eq!(hits[0]["meeting"], held.as_str(), "{hits}");
    // Ana's own edit to the held meeting shows at once too.
    ana.ok(&["note", "one more", "--section", "notes", "--meeting", &held]);
    let notes = ana.json(&["meeting", "show", &held]);
    let text = notes["sections"].to_string();
    assert!(
        text.contains("one more") && text.contains("an afterthought"),
        "{text}"
    );
    assert_eq!(ana.json(&["history"]), bo_then_ana_history(&bo, &ana));
}

/// Bo's history after receiving Ana's latest, for comparison with Ana's.
fn bo_then_ana_history(bo: &Device, ana: &Device) -> serde_json::Value {
    send(ana, bo);
    bo.json(&["history"])
}

#[test]
fn health_words_its_signals_from_records_and_dates_make_sense_after_an_early_wrap() {
    use jiff::ToSpan;
    let today = duet_core::dates::today();
    let day = |days: i64| {
        today
            .checked_add(days.days())
            .unwrap_or_else(|e| panic!("date: {e}"))
            .to_string()
    };
    let ana = Device::new("Ana");
    // The first 1-1 was two months ago; Bo took on something with no due date, never done.
    ana.ok(&[
        "notebook",
        "new",
        "Ana / Bo",
        "--me",
        "manager",
        "--with",
        "Bo",
        "--first",
        &day(-60),
    ]);
    ana.ok(&["commit", "add", "Write up the incident", "--owner", "them"]);
    ana.ok(&["note", "The outage", "--section", "challenges"]);
    let wrap = ana.json(&["wrap"]);
    assert_eq!(wrap["held_early_from"], serde_json::Value::Null, "{wrap}");
    let next = wrap["next"]["date"].as_str().unwrap_or_default().to_owned();
    assert_eq!(next, day(7), "{wrap}");

    // The next one is wrapped a week early: it was held today, and says so.
    ana.ok(&["note", "Hiring", "--section", "challenges"]);
    let said = ana.ok(&["wrap", "--minutes", "25"]);
    assert!(
        said.contains(&format!("planned for {}", render_day(&next)))
            && said.contains("recorded as held today"),
        "{said}"
    );
    let meetings = ana.json(&["meeting", "list"]);
    let held: Vec<&serde_json::Value> = meetings
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["status"] == "held")
        .collect();
    assert_eq!(held.len(), 2, "{meetings}");
    assert_eq!(held[1]["date"], day(0).as_str(), "{meetings}");
    assert_eq!(held[1]["planned"], next.as_str(), "{meetings}");
    assert_eq!(held[1]["minutes"], 25, "{meetings}");
    // The next meeting counts from the day it was held.
    let current = ana.json(&["meeting", "show"]);
    assert_eq!(current["date"], day(7).as_str(), "{current}");

    let h = ana.json(&["health"]);
    assert_eq!(h["days_since_held"], 0, "{h}");
    assert_eq!(h["last_held"], day(0).as_str(), "{h}");
    let signals = h["signals"].as_array().cloned().unwrap_or_default();
    let kinds: Vec<&str> = signals.iter().filter_map(|s| s["kind"].as_str()).collect();
    assert_eq!(kinds, ["stale_commitments"], "{h}");
    let stale = &signals[0];
    assert_eq!(stale["name"], "Bo");
    assert_eq!(stale["count"], 1);
    assert_eq!(stale["open_over_days"], 14);
    assert_eq!(stale["oldest"][0]["since"], day(-60).as_str(), "{stale}");
    let text = stale["text"].as_str().unwrap_or_default();
    assert!(
        text.starts_with("Bo has 1 commitment with no due date open for over 2 weeks, from "),
        "{text}"
    );
    let plain = ana.ok(&["health"]);
    assert!(plain.contains(text), "{plain}");
    assert!(plain.contains("last held today"), "{plain}");

    // A window by date.
    let since = ana.json(&["health", "--since", &day(-1)]);
    assert_eq!(
        (since["window"].as_u64(), since["since"].as_str()),
        (Some(1), Some(day(-1).as_str())),
        "{since}"
    );
    let both = ana.run(&["health", "--since", "today", "--last", "3"]);
    assert_eq!(both.status.code(), Some(2));
}

/// A date as the CLI prints it, with its weekday.
fn render_day(date: &str) -> String {
    date.parse::<jiff::civil::Date>()
        .map(|d| d.strftime("%a %Y-%m-%d").to_string())
        .unwrap_or_else(|_| date.to_owned())
}

#[test]
fn the_open_commitments_kept_beside_their_document_follow_every_close_and_merge() {
    let (ana, bo) = pair();
    for text in ["Send the plan", "Book the room", "Ask finance"] {
        ana.ok(&["commit", "add", text, "--owner", "me"]);
    }
    send(&ana, &bo);
    let open = |d: &Device| -> Vec<String> {
        let mut texts = ids(&d.json(&["commit", "list", "--open"]), "text");
        texts.sort();
        texts
    };
    assert_eq!(open(&ana).len(), 3);
    // Read again from the kept list, then closed in another process: never the stale list.
    assert_eq!(open(&ana).len(), 3);
    let plan = ids(&ana.json(&["commit", "list", "--open"]), "id")[0].clone();
    let plan_text = ids(&ana.json(&["commit", "list", "--open"]), "text")[0].clone();
    ana.ok(&["commit", "done", &plan]);
    assert!(!open(&ana).contains(&plan_text), "{:?}", open(&ana));
    assert_eq!(open(&ana).len(), 2);
    // Bo drops one offline; the merge changes the list Ana reads next.
    let dropped = ids(&bo.json(&["commit", "list", "--open"]), "id")
        .into_iter()
        .find(|id| *id != plan)
        .unwrap_or_else(|| panic!("another open commitment"));
    bo.ok(&["commit", "drop", &dropped]);
    send(&bo, &ana);
    assert_eq!(open(&ana).len(), 1, "{:?}", open(&ana));
    assert_eq!(
        open(&ana),
        open(&bo)
            .into_iter()
            .filter(|t| *t != plan_text)
            .collect::<Vec<_>>()
    );
}
