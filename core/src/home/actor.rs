//! The home's owner: one thread holds the open [`Duet`] (its sled store, the documents in
//! use, the per-run Automerge actor) and runs calls one at a time; everyone else holds a
//! cheap, cloneable [`HomeHandle`] that sends it calls and awaits the replies.
//!
//! Network code never holds the store: it asks the home for what it needs (a call of a few
//! milliseconds), waits on the network with nothing held, and hands the result back in
//! another call. So an edit never waits behind a sync's network wait, on a laptop or a phone.
//! The home also publishes a counter of durable writes, which the node's background sync
//! watches to push local edits.

use crate::{Duet, DuetError};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, watch};

/// Calls queued for the home before callers wait for room: a person types far slower, and
/// a sync makes one call per step, so a full queue means the home is stuck, not busy.
pub const MAX_QUEUED_CALLS: usize = 256;

/// A call runs on the home and returns how to deliver its reply, which the thread does
/// only after publishing the write count (so a caller that wrote sees the count moved).
type Call = Box<dyn FnOnce(&mut Duet) -> Reply + Send>;
type Reply = Box<dyn FnOnce() + Send>;

enum Job {
    Call(Call),
    Close,
}

/// A cheap, cloneable way to reach the home's owner thread.
#[derive(Clone)]
pub struct HomeHandle {
    jobs: mpsc::Sender<Job>,
    writes: watch::Receiver<u64>,
    documents: watch::Receiver<u64>,
    home: Arc<PathBuf>,
}

impl std::fmt::Debug for HomeHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HomeHandle")
            .field("home", &self.home)
            .finish()
    }
}

/// The home's owner thread; [`Home::close`] (or dropping it) ends it and closes the store.
pub struct Home {
    handle: HomeHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Home {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Home")
            .field("home", &self.handle.home)
            .finish()
    }
}

impl Home {
    /// Moves an open home onto its own thread.
    pub fn spawn(duet: Duet) -> Result<Home, DuetError> {
        let home = Arc::new(duet.home().to_owned());
        let (jobs, mut queue) = mpsc::channel::<Job>(MAX_QUEUED_CALLS);
        let (writes_tx, writes) = watch::channel(duet.write_count());
        let (documents_tx, documents) = watch::channel(duet.document_write_count());
        let thread = std::thread::Builder::new()
            .name("duet-home".into())
            .spawn(move || {
                let mut duet = duet;
                while let Some(job) = queue.blocking_recv() {
                    let reply = match job {
                        Job::Call(call) => call(&mut duet),
                        Job::Close => break,
                    };
                    let count = duet.write_count();
                    writes_tx.send_if_modified(|seen| {
                        let changed = *seen != count;
                        *seen = count;
                        changed
                    });
                    let content = duet.document_write_count();
                    documents_tx.send_if_modified(|seen| {
                        let changed = *seen != content;
                        *seen = content;
                        changed
                    });
                    reply();
                }
                // Calls still queued are dropped: their callers hear the home closed.
                drop(queue);
                drop(duet);
            })
            .map_err(|e| DuetError::io("starting the home's thread for", &home, e))?;
        Ok(Home {
            handle: HomeHandle {
                jobs,
                writes,
                documents,
                home,
            },
            thread: Some(thread),
        })
    }

    /// A handle to the home.
    pub fn handle(&self) -> HomeHandle {
        self.handle.clone()
    }

    /// Finishes the call in progress, refuses the rest, and closes the store before
    /// returning (so another process may open the home right after).
    pub fn close(mut self) {
        self.shut();
    }

    fn shut(&mut self) {
        // A full queue must not block the close: the thread ends once the channel closes.
        let _ = self.handle.jobs.try_send(Job::Close);
        if let Some(thread) = self.thread.take() {
            // Dropping our sender is not enough while other handles live; `Close` ends it.
            let _ = thread.join();
        }
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        if self.thread.is_some() {
            if let Ok(permit) = self.handle.jobs.try_reserve() {
                permit.send(Job::Close);
            }
            // Not joined: a drop inside an async task must not block it.
            self.thread = None;
        }
    }
}

/// A call as a job for the home's thread, and where its result will arrive.
fn job<T, E>(
    f: impl FnOnce(&mut Duet) -> Result<T, E> + Send + 'static,
) -> (Job, oneshot::Receiver<Result<T, E>>)
where
    T: Send + 'static,
    E: Send + 'static,
{
    let (reply, answer) = oneshot::channel();
    let call: Call = Box::new(move |duet| {
        let result = f(duet);
        Box::new(move || {
            let _ = reply.send(result);
        })
    });
    (Job::Call(call), answer)
}

impl HomeHandle {
    /// The home directory.
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// Runs `f` on the home and returns its result. Waits only for the calls queued before
    /// it (each a few milliseconds), never for the network.
    pub async fn call<T, E>(
        &self,
        f: impl FnOnce(&mut Duet) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DuetError> + Send + 'static,
    {
        let (call, answer) = job(f);
        self.jobs
            .send(call)
            .await
            .map_err(|_| E::from(DuetError::HomeClosed))?;
        answer.await.map_err(|_| E::from(DuetError::HomeClosed))?
    }

    /// [`HomeHandle::call`] for threads outside any async runtime (a phone's UI thread,
    /// the CLI's main thread). Panics if called from inside an async task.
    pub fn call_blocking<T, E>(
        &self,
        f: impl FnOnce(&mut Duet) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DuetError> + Send + 'static,
    {
        let (call, answer) = job(f);
        self.jobs
            .blocking_send(call)
            .map_err(|_| E::from(DuetError::HomeClosed))?;
        answer
            .blocking_recv()
            .map_err(|_| E::from(DuetError::HomeClosed))?
    }

    /// A counter of the home's durable writes, changed after every call that wrote: local
    /// edits and arrivals alike.
    pub fn writes(&self) -> watch::Receiver<u64> {
        self.writes.clone()
    }

    /// A counter of the home's writes of notebook content, changed after every call that
    /// wrote some (local edits and arrivals alike; never bookkeeping).
    pub fn document_writes(&self) -> watch::Receiver<u64> {
        self.documents.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn home() -> (tempfile::TempDir, Home) {
        let dir = tempfile::tempdir().expect("temp dir");
        let duet = Duet::init(&dir.path().join("home"), "Ana").expect("init");
        (dir, Home::spawn(duet).expect("spawn"))
    }

    #[test]
    fn calls_run_on_the_home_and_writes_are_counted() {
        let (_dir, home) = home();
        let handle = home.handle();
        let writes = handle.writes();
        let before = *writes.borrow();
        let name = handle
            .call_blocking(|d| Ok::<_, DuetError>(d.name().to_owned()))
            .expect("name");
        assert_eq!(name, "Ana");
        assert_eq!(*writes.borrow(), before, "a read is not a write");
        handle
            .call_blocking(|d| {
                d.notebook_new(
                    "Ana / Bo",
                    crate::Role::Manager,
                    "Bo",
                    Default::default(),
                    crate::dates::today(),
                )
                .map(|_| ())
            })
            .expect("new notebook");
        assert!(*writes.borrow() > before, "an edit is a write");
        home.close();
    }

    #[test]
    fn a_closed_home_refuses_calls_and_releases_the_store() {
        let (dir, home) = home();
        let handle = home.handle();
        home.close();
        let err = handle
            .call_blocking(|d| Ok::<_, DuetError>(d.name().to_owned()))
            .expect_err("closed");
        assert!(matches!(err, DuetError::HomeClosed));
        Duet::open(&dir.path().join("home")).expect("the store is free again");
    }

    #[test]
    fn async_callers_are_answered() {
        let (_dir, home) = home();
        let handle = home.handle();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let name = rt
            .block_on(handle.call(|d| Ok::<_, DuetError>(d.name().to_owned())))
            .expect("name");
        assert_eq!(name, "Ana");
        home.close();
    }
}
