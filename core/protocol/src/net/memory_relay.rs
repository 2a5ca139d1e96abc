//! A relay held in memory, reached through the same [`RelayLink`] as a real one, and
//! bound by the same mailbox rules as `duet-relay` ([`crate::mailbox`]: a token opens its
//! mailbox and nothing else, only a push creates one, a retired or closed mailbox is read
//! but never written, a retired one is a tombstone, members delete only a closed mailbox,
//! a compaction folds the log up to a point into one snapshot), answered with no sockets. It also shows a device the faults a real relay can: entries withheld from
//! pulls, a mailbox forgotten, the whole relay restored from an earlier backup, an old
//! entry replayed as a new one. Tests drive whole relay rounds through it.

use super::relay_client::{Entries, MailboxKey, RELAY_PORT};
use super::relay_link::{RelayLink, RelayReplies};
use super::NetError;
use crate::crypto::token_verifier;
use crate::mailbox::{self, MailboxRecord, Refusal, Standing};
use crate::wire::{RelayRefusal, RelayReply, RelayRequest};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};

/// Entries in one reply page: small, so that every pull of a real notebook pages.
pub const MEMORY_PAGE_ENTRIES: usize = 16;

/// A relay in memory; clones share it.
#[derive(Clone)]
pub struct MemoryRelay {
    state: Arc<Mutex<Relay>>,
    addr: SocketAddr,
}

impl Default for MemoryRelay {
    fn default() -> Self {
        MemoryRelay::new()
    }
}

impl std::fmt::Debug for MemoryRelay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryRelay")
            .field("mailboxes", &self.lock().mailboxes.len())
            .finish()
    }
}

/// Everything the relay holds at one moment, as a backup would keep it.
#[derive(Debug, Clone)]
pub struct MemoryBackup(Relay);

#[derive(Debug, Clone, Default)]
struct Relay {
    mailboxes: BTreeMap<String, Mailbox>,
    /// Ids of retired mailboxes whose content an operator forced away: never made again.
    tombstones: BTreeSet<String>,
    /// (mailbox, sequence number) of entries pulls leave out.
    withheld: BTreeSet<(String, u64)>,
    /// Requests answered so far.
    requests: usize,
}

#[derive(Debug, Clone)]
struct Mailbox {
    record: MailboxRecord,
    log: BTreeMap<u64, Vec<u8>>,
    standing: Standing,
    /// Push endpoints by slot verifier.
    wakes: BTreeMap<[u8; 32], String>,
}

/// What a test sees of one mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxState {
    /// The newest entry's sequence number.
    pub head: u64,
    /// Entries held (a compaction's snapshot counts as one).
    pub entries: usize,
    /// Whether it is live, closed or retired.
    pub standing: Standing,
}

impl MemoryRelay {
    /// An empty relay.
    pub fn new() -> MemoryRelay {
        MemoryRelay {
            state: Arc::default(),
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, RELAY_PORT)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Relay> {
        // A test that panicked while holding the lock left whole data: each request is
        // applied in one step.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A copy of everything held now.
    pub fn backup(&self) -> MemoryBackup {
        MemoryBackup(self.lock().clone())
    }

    /// Puts back what a backup held, dropping everything written since (an operator
    /// restoring last week's disk).
    pub fn restore(&self, backup: &MemoryBackup) {
        let mut relay = self.lock();
        let requests = relay.requests;
        *relay = backup.0.clone();
        relay.requests = requests;
    }

    /// Loses a mailbox whole, tombstone and all (a lost disk, a restore from before it
    /// was made). Whether it was there.
    pub fn forget(&self, mailbox: &str) -> bool {
        let mut relay = self.lock();
        let tombstone = relay.tombstones.remove(mailbox);
        relay.mailboxes.remove(mailbox).is_some() || tombstone
    }

    /// An operator's forced delete (`duet-relay mailbox delete --force`): the content
    /// goes; a retired mailbox's id stays a tombstone, never made again. Whether it was
    /// there.
    pub fn force_delete(&self, mailbox: &str) -> bool {
        let mut relay = self.lock();
        let Some(gone) = relay.mailboxes.remove(mailbox) else {
            return false;
        };
        if gone.standing == Standing::Retired {
            relay.tombstones.insert(mailbox.to_owned());
        }
        true
    }

    /// Leaves the entry `seq` of `mailbox` out of every pull from now on, while serving
    /// the ones after it.
    pub fn withhold(&self, mailbox: &str, seq: u64) {
        self.lock().withheld.insert((mailbox.to_owned(), seq));
    }

    /// Appends a copy of the entry `seq` of `mailbox` as a new entry; its new sequence
    /// number, or `None` when there is no such entry.
    pub fn replay(&self, mailbox: &str, seq: u64) -> Option<u64> {
        let mut relay = self.lock();
        let m = relay.mailboxes.get_mut(mailbox)?;
        let envelope = m.log.get(&seq)?.clone();
        m.record.head += 1;
        let head = m.record.head;
        m.log.insert(head, envelope);
        Some(head)
    }

    /// The mailboxes held, by id.
    pub fn mailboxes(&self) -> BTreeMap<String, MailboxState> {
        self.lock()
            .mailboxes
            .iter()
            .map(|(id, m)| {
                let state = MailboxState {
                    head: m.record.head,
                    entries: m.log.len(),
                    standing: m.standing,
                };
                (id.clone(), state)
            })
            .collect()
    }

    /// Every entry a mailbox holds (withheld ones too).
    pub fn entries(&self, mailbox: &str) -> Entries {
        self.lock()
            .mailboxes
            .get(mailbox)
            .map(|m| m.log.iter().map(|(s, e)| (*s, e.clone())).collect())
            .unwrap_or_default()
    }

    /// The push endpoints a mailbox holds.
    pub fn wakes(&self, mailbox: &str) -> Vec<String> {
        self.lock()
            .mailboxes
            .get(mailbox)
            .map(|m| m.wakes.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Requests answered so far.
    pub fn requests(&self) -> usize {
        self.lock().requests
    }
}

impl RelayLink for MemoryRelay {
    type Replies<'a> = MemoryReplies;

    fn addr(&self) -> SocketAddr {
        self.addr
    }

    async fn open_request(
        &self,
        key: &MailboxKey,
        create: bool,
        request: RelayRequest,
    ) -> Result<MemoryReplies, NetError> {
        let mut relay = self.lock();
        relay.requests += 1;
        let replies = relay.answer(key, create, request);
        Ok(MemoryReplies {
            replies: replies.into_iter(),
            addr: self.addr,
        })
    }
}

/// The replies to one request to a [`MemoryRelay`].
#[derive(Debug)]
pub struct MemoryReplies {
    replies: std::vec::IntoIter<RelayReply>,
    addr: SocketAddr,
}

impl RelayReplies for MemoryReplies {
    async fn next(&mut self) -> Result<RelayReply, NetError> {
        self.replies.next().ok_or_else(|| NetError::Broken {
            addr: self.addr,
            detail: "the relay ended the stream".into(),
        })
    }
}

fn refused(r: Refusal) -> Vec<RelayReply> {
    vec![RelayReply::Refused {
        why: r.why,
        message: r.message.to_owned(),
    }]
}

impl Relay {
    /// One request, under the relay's own rules (`crate::mailbox`).
    fn answer(&mut self, key: &MailboxKey, create: bool, request: RelayRequest) -> Vec<RelayReply> {
        let id = &key.mailbox;
        if let Err(r) = mailbox::check_mailbox_id(id) {
            return refused(r);
        }
        let verifier = token_verifier(&key.token);
        let held = self.mailboxes.get(id);
        let record = held.map(|m| m.record);
        let standing = match held {
            Some(m) => m.standing,
            None if self.tombstones.contains(id) => Standing::Retired,
            None => Standing::Live,
        };
        // No team token is asked for: this relay is open, as a team's own often is.
        if let Err(r) = mailbox::admit(record.as_ref(), &verifier, create, false) {
            return refused(r);
        }
        if let Err(r) = mailbox::check_request(record.as_ref(), standing, &request) {
            return refused(r);
        }
        let withheld = &self.withheld;
        let mailbox = self.mailboxes.entry(id.clone()).or_insert(Mailbox {
            record: MailboxRecord::new(verifier),
            log: BTreeMap::new(),
            standing: Standing::Live,
            wakes: BTreeMap::new(),
        });
        match request {
            RelayRequest::Push { envelope } => {
                match mailbox
                    .record
                    .accept_push(&verifier, envelope.len(), u64::MAX)
                {
                    Ok(seq) => {
                        mailbox.log.insert(seq, envelope);
                        vec![RelayReply::Pushed { seq }]
                    }
                    Err(_) => refused(Refusal {
                        why: RelayRefusal::NoMailbox,
                        message: mailbox::NO_MAILBOX,
                    }),
                }
            }
            RelayRequest::Pull { after } => {
                let served: Vec<(u64, Vec<u8>)> = mailbox
                    .log
                    .range(after.saturating_add(1)..)
                    .filter(|(seq, _)| !withheld.contains(&(id.clone(), **seq)))
                    .map(|(seq, e)| (*seq, e.clone()))
                    .collect();
                pages(served)
            }
            RelayRequest::Compact { upto, envelope } => {
                let upto = mailbox.record.compaction_point(upto);
                mailbox.log.retain(|seq, _| *seq > upto);
                mailbox.log.insert(upto, envelope);
                mailbox.record.floor = upto;
                vec![RelayReply::Compacted { upto }]
            }
            RelayRequest::Retire => {
                mailbox.standing = mailbox.standing.after(false);
                vec![RelayReply::Retired]
            }
            RelayRequest::Close => {
                mailbox.standing = mailbox.standing.after(true);
                vec![RelayReply::Closed]
            }
            RelayRequest::Delete => {
                self.mailboxes.remove(id);
                vec![RelayReply::Deleted]
            }
            RelayRequest::Take => {
                let entries: Vec<(u64, Vec<u8>)> = mailbox
                    .log
                    .iter()
                    .filter(|(seq, _)| !withheld.contains(&(id.clone(), **seq)))
                    .map(|(seq, e)| (*seq, e.clone()))
                    .collect();
                if entries.iter().map(|(_, e)| e.len()).sum::<usize>() > mailbox::MAX_TAKE_BYTES {
                    return refused(Refusal {
                        why: RelayRefusal::BadRequest,
                        message: mailbox::TOO_LARGE_TO_TAKE,
                    });
                }
                self.mailboxes.remove(id);
                vec![RelayReply::Entries {
                    entries,
                    more: false,
                }]
            }
            RelayRequest::SetWake { slot, endpoint } => {
                let key = crate::wake::slot_verifier(&slot);
                match endpoint {
                    None => {
                        mailbox.wakes.remove(&key);
                    }
                    Some(url) => {
                        let full = mailbox.wakes.len() >= crate::wake::MAX_WAKES_PER_MAILBOX
                            && !mailbox.wakes.contains_key(&key);
                        if full || crate::wake::WakeEndpoint::parse(&url).is_err() {
                            return refused(Refusal {
                                why: RelayRefusal::WakeRefused,
                                message: "this relay does not take that push endpoint",
                            });
                        }
                        mailbox.wakes.insert(key, url);
                    }
                }
                vec![RelayReply::WakeSet]
            }
            RelayRequest::Subscribe { .. } => refused(Refusal {
                why: RelayRefusal::BadRequest,
                message: "this relay carries no subscriptions",
            }),
            RelayRequest::Open { .. } => refused(Refusal {
                why: RelayRefusal::BadRequest,
                message: "Open twice",
            }),
        }
    }
}

/// Entries as the relay pages them: full pages flagged `more`, and always a last page
/// (empty when there is nothing).
fn pages(entries: Vec<(u64, Vec<u8>)>) -> Vec<RelayReply> {
    let mut out: Vec<RelayReply> = entries
        .chunks(MEMORY_PAGE_ENTRIES)
        .map(|page| RelayReply::Entries {
            entries: page.to_vec(),
            more: true,
        })
        .collect();
    match out.last_mut() {
        Some(RelayReply::Entries { more, .. }) => *more = false,
        _ => out.push(RelayReply::Entries {
            entries: Vec::new(),
            more: false,
        }),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(token: u8) -> MailboxKey {
        MailboxKey {
            mailbox: "ab".into(),
            token: [token; 32],
            team_token: None,
        }
    }

    fn run<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(f)
    }

    fn why(e: NetError) -> RelayRefusal {
        match e {
            NetError::RelayRefused { why, .. } => why,
            other => panic!("not a refusal: {other}"),
        }
    }

    #[test]
    fn a_push_creates_and_only_the_token_opens() {
        run(async {
            let relay = MemoryRelay::new();
            assert_eq!(
                why(relay.pull(&key(1), 0).await.expect_err("none yet")),
                RelayRefusal::NoMailbox
            );
            assert_eq!(relay.push(&key(1), vec![1]).await.expect("push"), 1);
            assert_eq!(relay.push(&key(1), vec![2]).await.expect("push"), 2);
            assert_eq!(
                why(relay.pull(&key(2), 0).await.expect_err("stranger")),
                RelayRefusal::NoMailbox
            );
            assert_eq!(
                why(relay.push(&key(2), vec![9]).await.expect_err("stranger")),
                RelayRefusal::NoMailbox
            );
            assert_eq!(
                relay.pull(&key(1), 1).await.expect("pull"),
                vec![(2, vec![2])]
            );
        });
    }

    #[test]
    fn pulls_page_and_withheld_entries_are_left_out() {
        run(async {
            let relay = MemoryRelay::new();
            let n = MEMORY_PAGE_ENTRIES as u64 * 2 + 3;
            for i in 0..n {
                relay.push(&key(1), vec![i as u8]).await.expect("push");
            }
            relay.withhold("ab", 5);
            let all = relay.pull(&key(1), 0).await.expect("pull");
            assert_eq!(all.len() as u64, n - 1);
            assert!(all.iter().all(|(seq, _)| *seq != 5));
            assert_eq!(relay.entries("ab").len() as u64, n, "held, only not served");
        });
    }

    #[test]
    fn a_retired_mailbox_is_a_tombstone_and_a_closed_one_goes() {
        run(async {
            let relay = MemoryRelay::new();
            relay.push(&key(1), vec![1]).await.expect("push");
            assert_eq!(
                why(relay.delete(&key(1)).await.expect_err("live")),
                RelayRefusal::BadRequest
            );
            relay.retire(&key(1)).await.expect("retire");
            assert_eq!(
                why(relay.push(&key(1), vec![2]).await.expect_err("retired")),
                RelayRefusal::Retired
            );
            assert_eq!(
                why(relay
                    .compact(&key(1), 1, vec![3])
                    .await
                    .expect_err("retired")),
                RelayRefusal::Retired
            );
            assert_eq!(
                why(relay.delete(&key(1)).await.expect_err("a tombstone")),
                RelayRefusal::Retired
            );
            assert_eq!(
                why(relay.close_mailbox(&key(1)).await.expect_err("a tombstone")),
                RelayRefusal::Retired
            );
            assert_eq!(relay.pull(&key(1), 0).await.expect("read").len(), 1);
            // Forced away by an operator, its id is still never made again.
            assert!(relay.force_delete("ab"));
            assert_eq!(
                why(relay.push(&key(1), vec![4]).await.expect_err("tombstone")),
                RelayRefusal::Retired
            );
            // A closed mailbox is read, never written, and its members delete it.
            let other = MailboxKey {
                mailbox: "cd".into(),
                ..key(2)
            };
            relay.push(&other, vec![1]).await.expect("push");
            relay.close_mailbox(&other).await.expect("close");
            assert_eq!(
                why(relay.push(&other, vec![2]).await.expect_err("closed")),
                RelayRefusal::Retired
            );
            relay.delete(&other).await.expect("delete");
            assert!(relay.mailboxes().is_empty());
            // A take is one step: the first taker gets the entries, the next finds nothing.
            let third = MailboxKey {
                mailbox: "ef".into(),
                ..key(3)
            };
            relay.push(&third, vec![4]).await.expect("push");
            assert_eq!(
                relay.take(&third).await.expect("take"),
                Some(vec![(1, vec![4])])
            );
            assert_eq!(relay.take(&third).await.expect("take again"), None);
        });
    }

    #[test]
    fn compaction_folds_the_log_and_a_restore_brings_the_old_log_back() {
        run(async {
            let relay = MemoryRelay::new();
            for i in 1..=4u8 {
                relay.push(&key(1), vec![i]).await.expect("push");
            }
            let backup = relay.backup();
            assert_eq!(
                relay.compact(&key(1), 9, vec![0]).await.expect("compact"),
                4
            );
            assert_eq!(relay.entries("ab"), vec![(4, vec![0])]);
            assert_eq!(relay.push(&key(1), vec![5]).await.expect("push"), 5);
            relay.restore(&backup);
            assert_eq!(relay.entries("ab").len(), 4);
            assert_eq!(relay.replay("ab", 2), Some(5));
            assert_eq!(relay.entries("ab").last(), Some(&(5, vec![2])));
            assert!(relay.forget("ab"));
            assert!(!relay.forget("ab"));
        });
    }
}
