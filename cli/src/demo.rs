//! `duet demo`: Duet's main job end to end with no set-up. Two devices (a manager's laptop
//! and a report's) in temporary homes prepare the same 1-1 offline, exchange bundle files
//! both ways, then sync once more over QUIC on loopback (one serves, the other syncs), then
//! through a relay on loopback at different moments, and end with the same merged meeting,
//! which is printed. A private note Ana writes on the way never reaches Bo.

use crate::render::{self, Palette};
use anyhow::{ensure, Context, Result};
use duet_core::model::views::Cadence;
use duet_core::{dates, Duet, JoinAs, Owner, Role, Section};
use duet_node::net::client::{sync_with, PeerOutcome};
use duet_node::net::relay_client;
use duet_node::net::server::Server;
use duet_node::Home;
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
    ana.agenda()
        .add("Feedback on the design review", false, None)?;
    let bundle_bytes = ana.bundle_out(&bundle_to_bo)?;
    say(&format!(
        "   She hands Bo a {bundle_bytes}-byte bundle file."
    ));

    say("2. Bo (report) joins from the bundle on his laptop.");
    let mut bo = Duet::init(&bo_home, "Bo")?;
    bo.bundle_in(&bundle_to_bo, Some(JoinAs::Role(Role::Report)))?;

    say("3. Both prepare offline, at the same time, without any network.");
    ana.meetings()
        .note(Section::Checkin, "Ana: busy week, planning season.", None)?;
    ana.agenda()
        .add("Conference budget for next year", false, None)?;
    ana.commitments()
        .add("Send Bo the leveling guide", &Owner::Me, None, None)?;
    ana.private_notes().add(
        "Privately: ask whether on-call is why Bo seems tired.",
        None,
    )?;
    bo.meetings().note(
        Section::Wins,
        "Bo: the importer shipped a week early.",
        None,
    )?;
    bo.meetings().note(
        Section::Challenges,
        "Bo: on-call is eating focus time.",
        None,
    )?;
    bo.agenda()
        .add("Ask about the staff engineer path", false, None)?;
    bo.commitments()
        .add("Write up the on-call proposal", &Owner::Me, None, None)?;

    say("4. They swap bundle files both ways and merge (no network at all).");
    bo.bundle_out(&bundle_to_ana)?;
    let to_ana = ana.bundle_in(&bundle_to_ana, None)?;
    ana.bundle_out(&bundle_to_bo)?;
    let to_bo = bo.bundle_in(&bundle_to_bo, None)?;
    say(&format!(
        "   Ana received {} change(s); Bo received {} change(s).",
        to_ana.changes, to_bo.changes
    ));

    say("5. Back on the same network, each adds one more item; Ana's laptop serves, Bo syncs over QUIC.");
    ana.agenda()
        .add("Ana: thanks for the on-call write-up", false, None)?;
    let ana_fingerprint = ana.peers().tls_identity()?.fingerprint();
    drop(ana);
    bo.agenda()
        .add("Bo: pair on the on-call rota?", false, None)?;
    let outcome = sync_over_quic(&ana_home, bo, ana_fingerprint)?;
    let bo = Duet::open(&bo_home)?;
    for r in &outcome.reports {
        say(&format!(
            "   Bo sent {} change(s) and received {}, in {} bytes of sync frames.",
            r.sent_changes,
            r.summary(),
            outcome.bytes_sent + outcome.bytes_received
        ));
    }
    let ana = Duet::open(&ana_home)?;

    say("6. A relay on loopback: they are never online together. Ana pushes in the evening,");
    say("   Bo pulls the next morning and pushes his answer; Ana pulls it later.");
    let relay_dir = dir.path().join("relay");
    let (ana_sent, bo_got, ana_got) = via_relay(&relay_dir, ana, bo)?;
    let mut ana = Duet::open(&ana_home)?;
    let mut bo = Duet::open(&bo_home)?;
    say(&format!(
        "   Ana sent {ana_sent} change(s); Bo received {bo_got}; Ana received {ana_got}. The relay only ever held ciphertext."
    ));

    let ana_view = ana.meetings().overview()?;
    let bo_view = bo.meetings().overview()?;
    ensure!(
        ana_view.meeting == bo_view.meeting
            && ana_view.open_commitments == bo_view.open_commitments,
        "the two devices did not converge"
    );
    ensure!(
        bo.private_notes().list()?.is_empty() && bo.insights().search("Privately")?.is_empty(),
        "Ana's private note reached Bo's laptop"
    );
    say("   Ana's private note stayed with her: Bo's laptop never received it.");
    if let Some(q) = ana.questions().suggest()? {
        say(&format!(
            "   A question `duet ask` suggests for next time: {}",
            q.text
        ));
    }
    say("7. Both laptops now show the same meeting:\n");
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&crate::json::notebook::Overview::from(&bo_view))?
        );
    } else {
        print!("{}", render::overview(&bo_view, Palette::for_stdout()));
        println!("\nBoth devices converged. Try it yourself: duet init --name YOU");
    }
    Ok(ExitCode::SUCCESS)
}

/// Serves Ana's home on a loopback port for as long as Bo's sync takes. Each home runs on
/// its own thread as in a node; both are closed on return.
fn sync_over_quic(
    ana_home: &std::path::Path,
    bo: Duet,
    ana_fingerprint: [u8; 32],
) -> Result<PeerOutcome> {
    let ana = Home::spawn(Duet::open(ana_home)?)?;
    let bo = Home::spawn(bo)?;
    let rt = network_runtime()?;
    let result = rt.block_on(async {
        let server = Server::bind(
            ana.handle(),
            "127.0.0.1:0".parse().context("loopback address")?,
            Box::new(|_| {}),
        )
        .await?;
        let addr = server.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(server.run(async {
            let _ = stopped.await;
        }));
        let outcome = sync_with(
            &bo.handle(),
            addr,
            duet_node::net::tls::Pins::Exactly([ana_fingerprint].into()),
        )
        .await;
        let _ = stop.send(());
        let _ = serving.await;
        Ok(outcome?)
    });
    drop(rt);
    ana.close();
    bo.close();
    result
}

/// Runs a relay in this process on a loopback port; Ana and Bo sync through it one after
/// the other. Returns what each side sent and received.
fn via_relay(dir: &std::path::Path, ana: Duet, bo: Duet) -> Result<(usize, String, String)> {
    let (ana, bo) = (Home::spawn(ana)?, Home::spawn(bo)?);
    let (ana_home, bo_home) = (ana.handle(), bo.handle());
    let rt = network_runtime()?;
    let result = rt.block_on(async {
        let store = duet_relay::store::RelayStore::open(dir)?;
        let server = duet_relay::server::RelayServer::bind(
            store,
            "127.0.0.1:0".parse().context("loopback address")?,
            // On loopback only: no team token needed.
            duet_relay::config::RelayConfig {
                require_team_token: false,
                ..Default::default()
            },
        )
        .await?;
        let addr = server.local_addr()?;
        let fingerprint = duet_core::crypto::fingerprint_text(&server.fingerprint());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(server.run(async {
            let _ = stopped.await;
        }));
        let result = async {
            for home in [&ana_home, &bo_home] {
                let (addr, fingerprint) = (addr.to_string(), fingerprint.clone());
                home.call(move |d| d.relay().set(&addr, &fingerprint, None))
                    .await?;
            }
            let notebook = ana_home
                .call(|d| {
                    d.agenda()
                        .add("Ana: read before Thursday: the leveling guide", false, None)?;
                    d.selected_notebook()
                })
                .await?;
            let sent = relay_client::sync_relay(&ana_home, &notebook).await?;
            bo_home
                .call(|d| {
                    d.meetings()
                        .note(Section::LookAhead, "Bo: will read it on the train.", None)
                })
                .await?;
            let got = relay_client::sync_relay(&bo_home, &notebook).await?;
            let back = relay_client::sync_relay(&ana_home, &notebook).await?;
            Ok::<_, anyhow::Error>((
                sent.report.sent_changes,
                got.report.summary(),
                back.report.summary(),
            ))
        }
        .await;
        let _ = stop.send(());
        let _ = serving.await;
        result
    });
    drop(rt);
    ana.close();
    bo.close();
    result
}

/// The runtime the demo's network steps run on.
fn network_runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the network runtime")
}
