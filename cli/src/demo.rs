//! `duet demo`: Duet's main job end to end with no set-up. Two devices (a manager's laptop
//! and a report's) in temporary homes prepare the same 1-1 offline, exchange bundle files
//! both ways, and end with the same merged meeting, which is printed.

use crate::render::{self, Palette};
use anyhow::{ensure, Context, Result};
use duet_core::model::views::Cadence;
use duet_core::{dates, Duet, JoinAs, Owner, Role, Section};
use std::process::ExitCode;

/// Runs the demo; with `json`, prints the merged overview as JSON.
pub fn run(json: bool) -> Result<ExitCode> {
    let dir = tempfile::tempdir().context("making a temporary folder for the demo")?;
    let say = |s: &str| {
        if !json {
            println!("{s}");
        }
    };
    let ana_home = dir.path().join("ana-laptop");
    let bo_home = dir.path().join("bo-laptop");
    let bundle_to_bo = dir.path().join("to-bo.duet");
    let bundle_to_ana = dir.path().join("to-ana.duet");

    say("1. Ana (manager) starts a notebook on her laptop and adds to the agenda.");
    let mut ana = Duet::init(&ana_home, "Ana")?;
    ana.notebook_new(
        "Ana / Bo weekly",
        Role::Manager,
        "Bo",
        Cadence::default(),
        dates::today(),
    )?;
    ana.agenda_add("Feedback on the design review", false, None)?;
    let bundle_bytes = ana.bundle_out(&bundle_to_bo)?;
    say(&format!(
        "   She hands Bo a {bundle_bytes}-byte bundle file."
    ));

    say("2. Bo (report) joins from the bundle on his laptop.");
    let mut bo = Duet::init(&bo_home, "Bo")?;
    bo.bundle_in(&bundle_to_bo, Some(JoinAs::Role(Role::Report)))?;

    say("3. Both prepare offline, at the same time, without any network.");
    ana.note(Section::Checkin, "Ana: busy week, planning season.", None)?;
    ana.agenda_add("Conference budget for next year", false, None)?;
    ana.commit_add("Send Bo the leveling guide", &Owner::Me, None, None)?;
    bo.note(
        Section::Wins,
        "Bo: the importer shipped a week early.",
        None,
    )?;
    bo.note(
        Section::Challenges,
        "Bo: on-call is eating focus time.",
        None,
    )?;
    bo.agenda_add("Ask about the staff engineer path", false, None)?;
    bo.commit_add("Write up the on-call proposal", &Owner::Me, None, None)?;

    say("4. They swap bundle files both ways and merge.");
    bo.bundle_out(&bundle_to_ana)?;
    let to_ana = ana.bundle_in(&bundle_to_ana, None)?;
    ana.bundle_out(&bundle_to_bo)?;
    let to_bo = bo.bundle_in(&bundle_to_bo, None)?;
    say(&format!(
        "   Ana received {} change(s); Bo received {} change(s).",
        to_ana.changes, to_bo.changes
    ));

    let ana_view = ana.overview()?;
    let bo_view = bo.overview()?;
    ensure!(
        ana_view.meeting == bo_view.meeting
            && ana_view.open_commitments == bo_view.open_commitments,
        "the two devices did not converge"
    );
    say("5. Both laptops now show the same meeting:\n");
    if json {
        println!("{}", serde_json::to_string_pretty(&ana_view)?);
    } else {
        print!("{}", render::overview(&ana_view, Palette::for_stdout()));
        println!("\nBoth devices converged. Try it yourself: duet init --name YOU");
    }
    Ok(ExitCode::SUCCESS)
}
