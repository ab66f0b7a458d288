//! Group commit: changesets committed at the same time share one database transaction, so
//! one disk flush acknowledges many of them.
//!
//! A commit queues its changeset and waits. While no batch is being written, the first
//! commit to arrive starts a writer task; the writer takes everything queued (at most
//! [`MAX_BATCH`]), writes it as one transaction through the backend's [`BatchWriter`],
//! answers each commit with its own outcome, and goes on while more is queued. Each
//! changeset stays atomic and is checked on its own: one that conflicts fails alone (the
//! backend undoes it to a savepoint) and the others of its batch still land; a transaction
//! that cannot be committed fails every changeset in it, and none is acknowledged.
//!
//! The writer is a task of its own, so a caller that stops waiting (a client gone away)
//! never cuts a batch short; if the runtime stops under it, the commits it held and those
//! queued are answered with an error (none of them was acknowledged).

use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use latch_grant::{Changeset, StoreError};
use tokio::sync::oneshot;

/// The most changesets one transaction takes (bounds a transaction's size and so the wait
/// of the commits queued behind it).
pub(crate) const MAX_BATCH: usize = 256;

/// Writes a batch of changesets in one transaction, in order.
#[async_trait]
pub(crate) trait BatchWriter: Send + Sync + 'static {
    /// Each changeset's own outcome, in order, once the transaction that holds the
    /// successful ones is committed; an `Err` when the transaction itself failed (then none
    /// of them was written).
    async fn write_batch(
        &self,
        batch: &[Changeset],
    ) -> Result<Vec<Result<(), StoreError>>, StoreError>;
}

struct Job {
    changes: Changeset,
    done: oneshot::Sender<Result<(), StoreError>>,
}

#[derive(Default)]
struct Queue {
    jobs: Vec<Job>,
    /// A writer task is running (it will take what is queued).
    running: bool,
}

struct Shared<W> {
    writer: W,
    queue: Mutex<Queue>,
}

/// Commits of one store handle, written in batches.
pub(crate) struct GroupCommit<W> {
    shared: Arc<Shared<W>>,
}

impl<W> std::fmt::Debug for GroupCommit<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit").finish_non_exhaustive()
    }
}

impl<W: BatchWriter> GroupCommit<W> {
    pub(crate) fn new(writer: W) -> Self {
        GroupCommit {
            shared: Arc::new(Shared {
                writer,
                queue: Mutex::default(),
            }),
        }
    }

    /// Commit `changes` (in a batch with whatever else is being committed) and return its
    /// own outcome once it is durable or has failed.
    pub(crate) async fn commit(&self, changes: Changeset) -> Result<(), StoreError> {
        let (done, outcome) = oneshot::channel();
        let start = {
            let mut queue = self
                .shared
                .queue
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            queue.jobs.push(Job { changes, done });
            !std::mem::replace(&mut queue.running, true)
        };
        if start {
            tokio::spawn(drain(Arc::clone(&self.shared)));
        }
        outcome.await.unwrap_or_else(|_| {
            Err(StoreError::Database(
                "the commit was abandoned before it finished (the server is stopping); it was not acknowledged"
                    .to_owned(),
            ))
        })
    }
}

/// Marks the writer stopped when its task ends, however it ends. Ended early (the runtime
/// dropped the task), it also drops what is queued, so those commits fail rather than wait
/// for a writer that is not coming.
struct Running<'a, W> {
    shared: &'a Shared<W>,
    finished: bool,
}

impl<W> Drop for Running<'_, W> {
    fn drop(&mut self) {
        let mut queue = self
            .shared
            .queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        queue.running = false;
        if !self.finished {
            queue.jobs.clear();
        }
    }
}

async fn drain<W: BatchWriter>(shared: Arc<Shared<W>>) {
    let mut running = Running {
        shared: &shared,
        finished: false,
    };
    loop {
        let jobs = {
            let mut queue = shared.queue.lock().unwrap_or_else(PoisonError::into_inner);
            if queue.jobs.is_empty() {
                // Still under the lock: a commit queued after this sees `running` false and
                // starts the next writer.
                queue.running = false;
                running.finished = true;
                return;
            }
            let take = queue.jobs.len().min(MAX_BATCH);
            let rest = queue.jobs.split_off(take);
            std::mem::replace(&mut queue.jobs, rest)
        };
        let (batch, answers): (Vec<Changeset>, Vec<_>) =
            jobs.into_iter().map(|j| (j.changes, j.done)).unzip();
        match shared.writer.write_batch(&batch).await {
            Ok(outcomes) if outcomes.len() == answers.len() => {
                for (answer, outcome) in answers.into_iter().zip(outcomes) {
                    let _ = answer.send(outcome);
                }
            }
            Ok(_) => {
                for answer in answers {
                    let _ = answer.send(Err(StoreError::Database(
                        "a batch's outcomes do not match its changesets".to_owned(),
                    )));
                }
            }
            Err(e) => {
                for answer in answers {
                    let _ = answer.send(Err(copy(&e)));
                }
            }
        }
    }
}

/// The same error again (one failed transaction answers every commit in it).
pub(crate) fn copy(e: &StoreError) -> StoreError {
    match e {
        StoreError::Conflict(m) => StoreError::Conflict(m.clone()),
        StoreError::Corrupt(m) => StoreError::Corrupt(m.clone()),
        StoreError::Database(m) => StoreError::Database(m.clone()),
        StoreError::Location { url, reason } => StoreError::Location {
            url: url.clone(),
            reason: reason.clone(),
        },
    }
}
