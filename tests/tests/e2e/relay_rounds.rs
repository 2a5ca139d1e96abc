//! Whole relay rounds with no sockets: real homes (sled stores in temporary directories,
//! each on its own home thread) sync through `MemoryRelay`, which keeps the relay's mailbox
//! rules in memory, and which misbehaves as a real relay can: restored from an old backup,
//! a mailbox forgotten, an entry withheld or replayed. Each round is the code the CLI, the
//! phone and the node run (`duet_node::net::relay_client`, over a `RelayLink`), so these
//! tests reach every relay step (rotation, farewell, welcome, end, compaction, rewind)
//! deterministically and in milliseconds. A peer round runs the same way over
//! `MemoryPeerLink`, with the QUIC drivers' own code on both sides.

use duet_core::mailbox::Standing;
use duet_core::one_time_invite::OneTimeInvite;
use duet_core::{Duet, DuetError, Role};
use duet_node::net::memory_relay::MemoryRelay;
use duet_node::net::relay_client::{self, RelayLink, RelayOutcome};
use duet_node::net::{local_error, NetError};
use duet_node::{Home, HomeHandle};
use std::path::Path;

/// The relay's certificate fingerprint as the devices pin it (mailboxes are bound to it).
const RELAY_FINGERPRINT: [u8; 32] = [7; 32];
/// Where the devices believe the relay is; nothing connects there.
const RELAY_ADDR: &str = "127.0.0.1:7879";

/// One device: its home on its own thread, and the notebook it syncs.
struct Member {
    home: Option<Home>,
    handle: HomeHandle,
    notebook: String,
}

impl Drop for Member {
    fn drop(&mut self) {
        if let Some(home) = self.home.take() {
            home.close();
        }
    }
}

impl Member {
    fn spawn(duet: Duet, notebook: String) -> Member {
        let home = Home::spawn(duet).expect("home thread");
        let handle = home.handle();
        Member {
            home: Some(home),
            handle,
            notebook,
        }
    }

    /// Runs `f` on this device's home with its notebook selected.
    fn on<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Duet) -> Result<T, DuetError> + Send + 'static,
    ) -> T {
        let id = self.notebook.clone();
        self.handle
            .call_blocking(move |d| {
                d.select(&id)?;
                f(d)
            })
            .unwrap_or_else(|e| panic!("on the home: {e}"))
    }

    fn add(&self, text: &str) {
        let text = text.to_owned();
        self.on(move |d| d.agenda().add(&text, true, None).map(|_| ()));
    }

    /// The backlog's texts, as this device has them.
    fn items(&self) -> Vec<String> {
        let mut texts: Vec<String> = self
            .on(|d| d.agenda().list(None))
            .1
            .into_iter()
            .map(|i| i.text)
            .collect();
        texts.sort();
        texts
    }

    fn device_id(&self) -> String {
        self.handle
            .call_blocking(|d| Ok::<_, DuetError>(d.device_id()))
            .expect("device id")
    }

    /// The mailbox this device syncs through now.
    fn mailbox(&self) -> String {
        let id = self.notebook.clone();
        self.handle
            .call_blocking(move |d| d.relay().mailbox_key(&id))
            .expect("mailbox key")
            .mailbox
    }

    fn sync(&self, relay: &impl RelayLink) -> Result<RelayOutcome, NetError> {
        runtime().block_on(relay_client::sync_relay_epochs(
            &self.handle,
            &self.notebook,
            relay,
        ))
    }

    fn synced(&self, relay: &impl RelayLink) -> RelayOutcome {
        self.sync(relay)
            .unwrap_or_else(|e| panic!("relay round: {e}"))
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Ana's laptop with a new notebook on the relay.
fn manager(dir: &Path) -> Member {
    let mut ana = Duet::init(&dir.join("ana"), "Ana").expect("init");
    let view = ana
        .notebook_new(
            "Ana / Bo",
            Role::Manager,
            "Bo",
            Default::default(),
            duet_core::dates::today(),
        )
        .expect("notebook");
    ana.relay()
        .set(
            RELAY_ADDR,
            &duet_core::crypto::fingerprint_text(&RELAY_FINGERPRINT),
            None,
        )
        .expect("relay set");
    Member::spawn(ana, view.id)
}

/// A one-time ticket to `inviter`'s notebook naming the relay.
fn ticket(inviter: &Member) -> OneTimeInvite {
    inviter.on(|d| {
        let notebook = d.selected_notebook()?;
        let relay = d
            .relay()
            .setting(&notebook)?
            .ok_or(DuetError::NoNotebook)?
            .relay_info()?;
        d.members().invite_once(Vec::new(), Some(relay), None)
    })
}

/// A device of `person` that joins `inviter`'s notebook as people do with the inviter
/// offline: the inviter's round leaves the ticket's welcome on the relay, the joiner takes
/// it and completes the join with its first round.
fn joined(
    dir: &Path,
    folder: &str,
    person: &str,
    role: Role,
    inviter: &Member,
    relay: &MemoryRelay,
) -> Member {
    let ticket = ticket(inviter);
    inviter.synced(relay);
    let grant = runtime()
        .block_on(relay_client::take_welcome(relay, &ticket))
        .expect("take the welcome")
        .expect("the welcome is on the relay");
    let mut duet = Duet::init(&dir.join(folder), person).expect("init");
    let id = duet.joins().granted(&ticket, &grant, role).expect("join");
    let member = Member::spawn(duet, id);
    member.synced(relay);
    member
}

/// Ana's laptop and Bo's laptop on one notebook, both through `relay`.
fn pair(dir: &Path, relay: &MemoryRelay) -> (Member, Member) {
    let ana = manager(dir);
    ana.add("first item");
    ana.synced(relay);
    let bo = joined(dir, "bo", "Bo", Role::Report, &ana, relay);
    ana.synced(relay);
    (ana, bo)
}

#[test]
fn two_devices_meet_and_converge_through_a_relay_in_memory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let relay = MemoryRelay::new();
    let (ana, bo) = pair(dir.path(), &relay);
    assert_eq!(bo.items(), ["first item"]);
    // Enough rounds that a pull spans several pages of the relay's replies.
    for i in 0..20 {
        ana.add(&format!("ana {i:02}"));
        ana.synced(&relay);
        bo.add(&format!("bo {i:02}"));
        bo.synced(&relay);
    }
    let fresh = joined(dir.path(), "bo-phone", "Bo", Role::Report, &ana, &relay);
    let pulled = relay.entries(&ana.mailbox()).len();
    assert!(
        pulled > duet_node::net::memory_relay::MEMORY_PAGE_ENTRIES,
        "{pulled} entries"
    );
    ana.synced(&relay);
    assert_eq!(ana.items().len(), 41);
    assert_eq!(ana.items(), bo.items());
    assert_eq!(ana.items(), fresh.items());
    // A round with nothing new pushes nothing.
    let quiet = ana.synced(&relay);
    assert_eq!(quiet.pushed, None);
    assert!(quiet.report.nothing_new());
}

#[test]
fn a_removed_device_reads_nothing_written_after_its_removal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let relay = MemoryRelay::new();
    let (ana, bo) = pair(dir.path(), &relay);
    let phone = joined(dir.path(), "ana-phone", "Ana", Role::Manager, &ana, &relay);
    ana.synced(&relay);
    bo.synced(&relay);
    let old = ana.mailbox();

    let lost = phone.device_id();
    ana.on(move |d| d.members().remove(&lost[..8]).map(|_| ()));
    ana.add("after the removal");
    ana.synced(&relay);
    let new = ana.mailbox();
    assert_ne!(old, new, "the removal moved the notebook to a new mailbox");
    let mailboxes = relay.mailboxes();
    assert_eq!(mailboxes[&old].standing, Standing::Retired);
    assert_eq!(mailboxes[&new].standing, Standing::Live);

    // Bo's laptop finds the new keys in the old mailbox and reads the new one in one round.
    let round = bo.synced(&relay);
    assert!(round.pulled > 0);
    assert_eq!(bo.mailbox(), new);
    assert!(bo.items().contains(&"after the removal".to_owned()));

    // The removed phone learns it was removed and gets nothing written after.
    let refused = phone
        .sync(&relay)
        .expect_err("a removed device syncs no more");
    assert!(
        matches!(local_error(&refused), Some(DuetError::RemovedDevice { .. })),
        "{refused}"
    );
    assert!(!phone.items().contains(&"after the removal".to_owned()));
}

#[test]
fn a_relay_restored_from_an_old_backup_is_read_again_and_loses_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let relay = MemoryRelay::new();
    let (ana, bo) = pair(dir.path(), &relay);
    let backup = relay.backup();
    for text in ["after the backup 1", "after the backup 2"] {
        ana.add(text);
        ana.synced(&relay);
    }
    bo.synced(&relay);
    relay.restore(&backup);

    // Ana's anchor is missing from the restored log: she reads it again and pushes again.
    let round = ana.synced(&relay);
    assert!(round.rewound, "the restore was not noticed");
    assert!(round.pushed.is_some(), "nothing was pushed again");
    // Bo notices too, and nobody loses an item.
    bo.add("bo after the restore");
    assert!(bo.synced(&relay).rewound);
    ana.synced(&relay);
    let fresh = joined(dir.path(), "bo-phone", "Bo", Role::Report, &ana, &relay);
    assert_eq!(ana.items().len(), 4, "{:?}", ana.items());
    assert_eq!(ana.items(), bo.items());
    assert_eq!(ana.items(), fresh.items());
}

#[test]
fn a_forgotten_mailbox_is_made_again_from_what_the_devices_hold() {
    let dir = tempfile::tempdir().expect("tempdir");
    let relay = MemoryRelay::new();
    let (ana, bo) = pair(dir.path(), &relay);
    bo.add("bo's item");
    bo.synced(&relay);
    assert!(relay.forget(&ana.mailbox()));

    // Each device finds the mailbox gone, reads nothing it had not, and pushes again what
    // it holds: Ana her part, Bo his item, which Ana had not yet read.
    for member in [&ana, &bo] {
        let round = member.synced(&relay);
        assert!(round.rewound);
        assert!(round.pushed.is_some());
    }
    ana.synced(&relay);
    let fresh = joined(dir.path(), "bo-phone", "Bo", Role::Report, &ana, &relay);
    assert_eq!(ana.items(), ["bo's item", "first item"]);
    assert_eq!(fresh.items(), ana.items());
}

#[test]
fn an_entry_the_relay_withholds_is_reported_and_a_replayed_one_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let relay = MemoryRelay::new();
    let (ana, bo) = pair(dir.path(), &relay);
    let mut pushed = Vec::new();
    for i in 0..3 {
        ana.add(&format!("batch {i}"));
        pushed.push(ana.synced(&relay).pushed.expect("pushed"));
    }
    relay.withhold(&ana.mailbox(), pushed[1]);
    bo.synced(&relay);
    let items = bo.items();
    assert!(items.contains(&"batch 0".to_owned()), "{items:?}");
    assert!(!items.contains(&"batch 1".to_owned()), "{items:?}");
    let notebook = bo.notebook.clone();
    let withheld = bo.on(move |d| d.relay().withheld(&notebook));
    assert_eq!(withheld.len(), 1, "{withheld:?}");
    assert_eq!(withheld[0].from, withheld[0].to, "one batch: {withheld:?}");

    // An old entry sent again is taken for what it is: nothing new.
    let before = ana.items();
    relay.replay(&ana.mailbox(), pushed[0]).expect("replayed");
    ana.synced(&relay);
    assert_eq!(ana.items(), before);
}

#[test]
fn an_ended_1_1_closes_then_deletes_its_mailbox() {
    let dir = tempfile::tempdir().expect("tempdir");
    let relay = MemoryRelay::new();
    let (ana, bo) = pair(dir.path(), &relay);
    let mailbox = ana.mailbox();
    ana.on(|d| d.end_notebook().map(|_| ()));
    ana.synced(&relay);
    assert_eq!(
        relay.mailboxes()[&mailbox].standing,
        Standing::Closed,
        "the ender closes it"
    );

    bo.synced(&relay);
    assert!(
        relay.mailboxes().is_empty(),
        "the other side deletes it once it has read the end"
    );
    let id = bo.notebook.clone();
    assert!(bo.on(move |d| d.ended_on(&id)).is_some());
    // Later rounds find nothing to do, and write nothing.
    let requests = relay.requests();
    ana.sync(&relay).expect("a later round");
    bo.sync(&relay).expect("a later round");
    assert!(relay.mailboxes().is_empty());
    assert!(
        relay.requests() - requests <= 2,
        "{} requests",
        relay.requests() - requests
    );
}

#[test]
fn compaction_leaves_one_snapshot_that_a_new_device_reads_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let relay = MemoryRelay::new();
    let (ana, bo) = pair(dir.path(), &relay);
    for i in 0..6 {
        ana.add(&format!("ana {i}"));
        ana.synced(&relay);
        bo.synced(&relay);
    }
    let before = relay.entries(&ana.mailbox()).len();
    let upto = runtime()
        .block_on(relay_client::compact_on(&ana.handle, &ana.notebook, &relay))
        .expect("compact");
    let after = relay.entries(&ana.mailbox());
    assert!(upto > 0);
    assert!(after.len() < before, "{before} -> {}", after.len());
    assert_eq!(
        after[0].0, upto,
        "the snapshot stands at the point it covers"
    );

    bo.add("bo after the compaction");
    bo.synced(&relay);
    let fresh = joined(dir.path(), "bo-phone", "Bo", Role::Report, &ana, &relay);
    ana.synced(&relay);
    assert_eq!(fresh.items().len(), 8, "{:?}", fresh.items());
    assert_eq!(fresh.items(), ana.items());
    assert_eq!(bo.items(), ana.items());
}

#[test]
fn a_one_time_invite_s_welcome_is_left_taken_once_and_noticed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let relay = MemoryRelay::new();
    let ana = manager(dir.path());
    ana.add("first item");
    let ticket = ticket(&ana);
    // Ana's round leaves the welcome on the relay.
    ana.synced(&relay);
    let rt = runtime();
    let grant = rt
        .block_on(relay_client::take_welcome(&relay, &ticket))
        .expect("take")
        .expect("the welcome is there");
    assert!(
        rt.block_on(relay_client::take_welcome(&relay, &ticket))
            .expect("take again")
            .is_none(),
        "a welcome is taken once"
    );
    let mut duet = Duet::init(&dir.path().join("bo"), "Bo").expect("init");
    let id = duet
        .joins()
        .granted(&ticket, &grant, Role::Report)
        .expect("join");
    let bo = Member::spawn(duet, id);
    bo.synced(&relay);
    assert_eq!(bo.items(), ["first item"]);
    // Ana's next round sees the welcome gone: the invite is used.
    ana.synced(&relay);
    let invites = ana.on(|d| d.members().invites());
    assert_eq!(invites.len(), 1);
    assert_eq!(invites[0].state, "used", "{invites:?}");
}

/// Ana's laptop, Bo's laptop and Ana's phone on one notebook; Bo's laptop goes offline,
/// and Ana removes her phone (lost) and writes on. Returns (ana, bo, phone, the old mailbox).
fn removal_while_bo_is_offline(
    dir: &Path,
    relay: &MemoryRelay,
) -> (Member, Member, Member, String) {
    let (ana, bo) = pair(dir, relay);
    let phone = joined(dir, "ana-phone", "Ana", Role::Manager, &ana, relay);
    ana.synced(relay);
    bo.synced(relay);
    let old = ana.mailbox();
    let lost = phone.device_id();
    ana.on(move |d| d.members().remove(&lost[..8]).map(|_| ()));
    ana.add("ana after the removal");
    ana.synced(relay);
    assert_eq!(relay.mailboxes()[&old].standing, Standing::Retired);
    (ana, bo, phone, old)
}

#[test]
fn a_retired_mailbox_stays_for_the_device_that_missed_the_removal_and_no_member_deletes_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let relay = MemoryRelay::new();
    let (ana, bo, phone, old) = removal_while_bo_is_offline(dir.path(), &relay);
    // The lost phone holds the old mailbox's token: it may not delete it.
    let id = phone.notebook.clone();
    let key = phone
        .handle
        .call_blocking(move |d| d.relay().mailbox_key(&id))
        .expect("key");
    assert_eq!(key.mailbox, old);
    match runtime().block_on(relay.delete(&key)) {
        Err(NetError::RelayRefused { why, .. }) => {
            assert_eq!(why, duet_core::wire::RelayRefusal::Retired)
        }
        other => panic!("a member deleted a retired mailbox: {other:?}"),
    }
    // Bo's laptop, back, finds the notice in it and follows the notebook to its new keys.
    bo.add("bo back online");
    bo.synced(&relay);
    assert_eq!(bo.mailbox(), ana.mailbox());
    ana.synced(&relay);
    assert!(ana.items().contains(&"bo back online".to_owned()));
    assert!(bo.items().contains(&"ana after the removal".to_owned()));
    assert!(phone.sync(&relay).is_err(), "the removed phone still syncs");
    let on_phone = phone.items();
    assert!(!on_phone.contains(&"ana after the removal".to_owned()));
    assert!(!on_phone.contains(&"bo back online".to_owned()));
}

#[test]
fn a_retired_mailbox_an_operator_forced_away_is_never_made_again_with_the_old_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let relay = MemoryRelay::new();
    let (_ana, bo, phone, old) = removal_while_bo_is_offline(dir.path(), &relay);
    assert!(relay.force_delete(&old));
    // Bo's laptop finds its mailbox gone and would push its whole notebook there again,
    // sealed with the old key the lost phone holds: the relay refuses to make it again.
    bo.add("bo's note under the old key");
    match bo.sync(&relay) {
        Err(NetError::RelayRefused { why, .. }) => {
            assert_eq!(why, duet_core::wire::RelayRefusal::Retired)
        }
        other => panic!("the old mailbox was made again: {other:?}"),
    }
    assert!(!relay.mailboxes().contains_key(&old));
    let _ = phone.sync(&relay);
    assert!(!phone
        .items()
        .contains(&"bo's note under the old key".to_owned()));
}

#[test]
fn a_member_cannot_forge_another_device_s_chain_link_to_make_a_withheld_report() {
    let dir = tempfile::tempdir().expect("tempdir");
    let relay = MemoryRelay::new();
    let (ana, bo) = pair(dir.path(), &relay);
    let phone = joined(dir.path(), "bo-phone", "Bo", Role::Report, &ana, &relay);
    for i in 0..2 {
        ana.add(&format!("ana {i}"));
        ana.synced(&relay);
    }
    phone.synced(&relay);
    // Bo holds the notebook's envelope key, as every member does, and seals a batch under
    // Ana's sender id whose link claims she sent 1,000 batches: had it been followed, Bo's
    // phone would report that the relay withheld hundreds of hers.
    let secret = bo
        .on(|d| d.members().invite(Vec::new(), None))
        .notebook_secret();
    let key = secret.envelope_key();
    let ana_sender = duet_core::sync::relay::sender_id(&key, &ana.device_id());
    let bo_key = duet_core::crypto::DeviceKey::from_bytes(&[42; 32]).expect("a device key");
    let forged = duet_core::sync::relay::seal(
        &key,
        &ana.notebook,
        ana_sender,
        duet_core::sync::relay::Chain {
            counter: 1_000,
            previous: [0; 16],
        },
        &[],
        &bo_key,
    );
    let id = ana.notebook.clone();
    let mailbox = ana
        .handle
        .call_blocking(move |d| d.relay().mailbox_key(&id))
        .expect("key");
    runtime()
        .block_on(relay.push(&mailbox, forged))
        .expect("the relay takes it");
    phone.synced(&relay);
    let notebook = phone.notebook.clone();
    let withheld = phone.on(move |d| d.relay().withheld(&notebook));
    assert!(
        withheld.is_empty(),
        "a forged link made a report: {withheld:?}"
    );
    // Ana's own next batch still links on from her last one: nothing is reported either.
    ana.add("ana 2");
    ana.synced(&relay);
    phone.synced(&relay);
    let notebook = phone.notebook.clone();
    assert!(phone.on(move |d| d.relay().withheld(&notebook)).is_empty());
    assert!(phone.items().contains(&"ana 2".to_owned()));
}

/// This device's TLS fingerprint, as a peer names it.
fn fingerprint(member: &Member) -> String {
    let fp = member
        .handle
        .call_blocking(|d| d.peers().tls_identity().map(|t| t.fingerprint()))
        .expect("tls identity");
    duet_core::crypto::fingerprint_text(&fp)
}

/// One peer round over an in-memory link: `client` offers the notebook, `server` reads
/// its `Open` and answers, both drivers the same code as over QUIC.
fn peer_round(client: &Member, server: &Member) -> duet_core::SyncReport {
    use duet_node::net::client::offer_notebook;
    use duet_node::net::peer_link::{MemoryPeerLink, PeerLink};
    use duet_node::net::server::answer_notebook;
    let (mut near, mut far) = MemoryPeerLink::pair(RELAY_ADDR.parse().expect("addr"));
    let (client_fp, server_fp) = (fingerprint(client), fingerprint(server));
    let notebook = client.notebook.clone();
    runtime().block_on(async {
        let offer = offer_notebook(&client.handle, &mut near, &notebook, &server_fp);
        let answer = async {
            let (open, _) = far.recv().await?.expect("the client opens");
            let notebook =
                duet_core::sync::session::expect_open(open, std::slice::from_ref(&notebook))?;
            answer_notebook(&server.handle, &mut far, notebook, &client_fp).await
        };
        let (offered, answered) = tokio::join!(offer, answer);
        let answered = answered.unwrap_or_else(|e| panic!("server: {e}"));
        assert!(answered.is_some(), "the server saw the sync to its end");
        offered.unwrap_or_else(|e| panic!("client: {e}")).report
    })
}

#[test]
fn two_devices_converge_over_a_peer_link_in_memory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let relay = MemoryRelay::new();
    let (ana, bo) = pair(dir.path(), &relay);
    // Written with no relay round since: only the peer link can carry them.
    ana.add("from ana, directly");
    bo.add("from bo, directly");
    let report = peer_round(&ana, &bo);
    assert_eq!(report.agenda_items, 1, "ana received bo's item: {report:?}");
    assert!(report.sent_changes > 0, "ana sent hers: {report:?}");
    let both = [
        "first item".to_owned(),
        "from ana, directly".to_owned(),
        "from bo, directly".to_owned(),
    ];
    assert_eq!(ana.items(), both);
    assert_eq!(bo.items(), both);
    // Nothing new: a second round, the other way, sends no change and brings no item.
    let again = peer_round(&bo, &ana);
    assert_eq!(
        (again.sent_changes, again.agenda_items),
        (0, 0),
        "{again:?}"
    );
}
