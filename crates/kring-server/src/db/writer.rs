//! SQLite's one writer, with group commit: the transactions of requests that queue for the
//! writer together share one `COMMIT`, and so one fsync.
//!
//! Each request's transaction is a savepoint inside a batch (one `BEGIN IMMEDIATE … COMMIT`):
//! it is all-or-nothing on its own (`ROLLBACK TO` undoes only it), and its commit is
//! acknowledged only once the batch's `COMMIT` has returned, so no acknowledged write can be
//! lost. The batch commits when no other request waits for the writer, when it holds
//! [`MOST_UNITS`] units, or when it has been open for [`LONGEST_BATCH`]. A `COMMIT` that fails
//! fails every unit in its batch; none of them was acknowledged.
//!
//! A request dropped mid-transaction (the client went away) cannot roll back in its destructor;
//! it marks its savepoint for undoing, and whoever takes the writer next undoes it first. A
//! background task takes the writer whenever a batch could otherwise be left open with nobody
//! coming to commit it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Connection};
use tokio::sync::{Mutex, Notify, OwnedMutexGuard, oneshot};

use crate::error::Error;

/// The most units one batch commits together.
const MOST_UNITS: usize = 64;
/// How long a batch stays open for more units while requests keep queueing.
const LONGEST_BATCH: Duration = Duration::from_millis(10);
/// How long a request waits for the writer before it is told the database is busy (503).
const WAIT_FOR_WRITER: Duration = Duration::from_secs(30);

/// The writer connection and its batch.
#[derive(Clone, Debug)]
pub struct Writer(Arc<Shared>);

#[derive(Debug)]
struct Shared {
    options: SqliteConnectOptions,
    batch: Arc<Mutex<Batch>>,
    /// Requests waiting for the writer: while there are any, a batch stays open for them.
    waiting: AtomicUsize,
    /// Wakes the task that commits a batch nobody else will.
    orphaned: Arc<Notify>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        // The task holds only a weak handle: woken, it finds the writer gone and ends.
        self.orphaned.notify_one();
    }
}

#[derive(Debug, Default)]
struct Batch {
    /// Opened on first use; closed after any failure, so the next unit gets a fresh one.
    connection: Option<SqliteConnection>,
    /// When the batch's transaction began; `None` outside one.
    began: Option<Instant>,
    /// The committed units' waiters, answered when the batch's `COMMIT` returns.
    acks: Vec<oneshot::Sender<Result<(), Error>>>,
    /// A unit was dropped inside its savepoint: undo it before anything else runs.
    undo: bool,
}

impl Writer {
    pub async fn open(options: SqliteConnectOptions) -> Result<Writer, Error> {
        let connection = options.connect().await?;
        let shared = Arc::new(Shared {
            options,
            batch: Arc::new(Mutex::new(Batch {
                connection: Some(connection),
                ..Batch::default()
            })),
            waiting: AtomicUsize::new(0),
            orphaned: Arc::new(Notify::new()),
        });
        tokio::spawn(commit_orphans(
            Arc::downgrade(&shared),
            shared.orphaned.clone(),
        ));
        Ok(Writer(shared))
    }

    /// Starts one unit (a savepoint in the open batch, or in a new one).
    pub async fn begin(&self) -> Result<Unit, Error> {
        let Ok(mut batch) = tokio::time::timeout(WAIT_FOR_WRITER, self.take()).await else {
            return Err(Error::Unavailable("database pool timed out".into()));
        };
        batch.settle().await;
        batch.open_unit(&self.0.options).await?;
        Ok(Unit {
            batch: Some(batch),
            writer: self.0.clone(),
        })
    }

    /// The writer outside any batch, for what cannot run in one (migrations).
    pub async fn exclusive(&self) -> Result<Exclusive, Error> {
        let mut batch = self.take().await;
        batch.settle().await;
        batch.commit().await;
        batch.connection(&self.0.options).await?;
        Ok(Exclusive(batch))
    }

    /// Whether the connection is open, and whether it is free now (for the metrics).
    pub fn state(&self) -> (u32, u32) {
        match self.0.batch.try_lock() {
            Ok(batch) => {
                let open = u32::from(batch.connection.is_some());
                (open, open)
            }
            Err(_) => (1, 0),
        }
    }

    pub async fn close(&self) {
        let mut batch = self.take().await;
        batch.settle().await;
        batch.commit().await;
        if let Some(connection) = batch.connection.take() {
            let _ = connection.close().await;
        }
    }

    /// The batch, counted among the waiters until it is ours.
    async fn take(&self) -> OwnedMutexGuard<Batch> {
        let waiting = Waiting::new(&self.0);
        let batch = self.0.batch.clone().lock_owned().await;
        waiting.arrived();
        batch
    }
}

/// Counts one request among the writer's waiters; one that gives up waiting (dropped) may have
/// been the one a batch stayed open for, so the background task looks.
struct Waiting<'a> {
    shared: &'a Shared,
    arrived: bool,
}

impl<'a> Waiting<'a> {
    fn new(shared: &'a Shared) -> Waiting<'a> {
        shared.waiting.fetch_add(1, Ordering::SeqCst);
        Waiting {
            shared,
            arrived: false,
        }
    }

    fn arrived(mut self) {
        self.arrived = true;
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.shared.waiting.fetch_sub(1, Ordering::SeqCst);
        if !self.arrived {
            self.shared.orphaned.notify_one();
        }
    }
}

impl Batch {
    async fn connection(
        &mut self,
        options: &SqliteConnectOptions,
    ) -> Result<&mut SqliteConnection, Error> {
        if self.connection.is_none() {
            self.connection = Some(options.connect().await?);
        }
        self.connection
            .as_mut()
            .ok_or_else(|| Error::Internal("the writer connection is gone".into()))
    }

    /// Begins the batch if none is open, then the unit's savepoint in it.
    async fn open_unit(&mut self, options: &SqliteConnectOptions) -> Result<(), Error> {
        let opening = self.began.is_none();
        let connection = self.connection(options).await?;
        if opening {
            if let Err(e) = execute(connection, "BEGIN IMMEDIATE").await {
                self.connection = None;
                return Err(e);
            }
            self.began = Some(Instant::now());
        }
        let Some(connection) = self.connection.as_mut() else {
            return Err(Error::Internal("the writer connection is gone".into()));
        };
        if let Err(e) = execute(connection, "SAVEPOINT unit").await {
            self.fail(&e).await;
            return Err(e);
        }
        Ok(())
    }

    /// Undoes the savepoint of a unit that was dropped inside it. When that fails, SQLite has
    /// ended the whole transaction on its own (a full disk, an I/O error): the units released
    /// into it are gone too, and are told so; whoever settles starts afresh.
    async fn settle(&mut self) {
        if !std::mem::take(&mut self.undo) {
            return;
        }
        let Some(connection) = self.connection.as_mut() else {
            return;
        };
        let undone = match execute(connection, "ROLLBACK TO unit").await {
            Ok(()) => execute(connection, "RELEASE unit").await,
            Err(e) => Err(e),
        };
        if let Err(e) = undone {
            self.fail(&e).await;
        }
    }

    /// Commits the batch, if one is open, and answers its units.
    async fn commit(&mut self) {
        if self.began.take().is_none() {
            return;
        }
        let Some(connection) = self.connection.as_mut() else {
            self.answer(|| Err(Error::Internal("the writer connection is gone".into())));
            return;
        };
        match execute(connection, "COMMIT").await {
            Ok(()) => {
                crate::telemetry::committed_together(self.acks.len());
                self.answer(|| Ok(()))
            }
            Err(e) => self.fail(&e).await,
        }
    }

    /// Rolls the whole batch back after `cause` and fails every unit in it; the connection is
    /// replaced, since SQLite may have ended the transaction on its own.
    async fn fail(&mut self, cause: &Error) {
        if let Some(mut connection) = self.connection.take() {
            let _ = execute(&mut connection, "ROLLBACK").await;
            drop(connection);
        }
        self.began = None;
        self.undo = false;
        self.answer(|| Err(shared_failure(cause)));
    }

    fn answer(&mut self, result: impl Fn() -> Result<(), Error>) {
        for ack in self.acks.drain(..) {
            let _ = ack.send(result());
        }
    }
}

/// The same failure told to each unit of a batch.
fn shared_failure(cause: &Error) -> Error {
    match cause {
        Error::StorageFull => Error::StorageFull,
        Error::QueryTimeout => Error::QueryTimeout,
        Error::Unavailable(why) => Error::Unavailable(why.clone()),
        other => Error::Internal(format!("the batch's commit failed: {other}")),
    }
}

async fn execute(connection: &mut SqliteConnection, sql: &'static str) -> Result<(), Error> {
    sqlx::query(sql).execute(connection).await?;
    Ok(())
}

/// One request's transaction: a savepoint in the open batch. Dropped without
/// [`Unit::commit`], it is undone.
pub struct Unit {
    batch: Option<OwnedMutexGuard<Batch>>,
    writer: Arc<Shared>,
}

impl Unit {
    pub fn connection(&mut self) -> Result<&mut SqliteConnection, Error> {
        self.batch
            .as_mut()
            .and_then(|batch| batch.connection.as_mut())
            .ok_or_else(|| Error::Internal("the writer connection is gone".into()))
    }

    /// Keeps the unit's work, then waits until the batch holding it is committed.
    pub async fn commit(mut self) -> Result<(), Error> {
        let Some(mut batch) = self.batch.take() else {
            return Err(Error::Internal("the unit has ended".into()));
        };
        let connection = batch.connection(&self.writer.options).await?;
        if let Err(e) = execute(connection, "RELEASE unit").await {
            batch.fail(&e).await;
            return Err(e);
        }
        let (ack, acked) = oneshot::channel();
        batch.acks.push(ack);
        let full = batch.acks.len() >= MOST_UNITS
            || batch.began.is_some_and(|at| at.elapsed() >= LONGEST_BATCH);
        if full || self.writer.waiting.load(Ordering::SeqCst) == 0 {
            // In a task of its own, so that this request going away cannot cut the commit
            // short for the others.
            tokio::spawn(async move {
                let mut batch = batch;
                batch.commit().await;
            });
        } else {
            drop(batch);
        }
        acked
            .await
            .unwrap_or_else(|_| Err(Error::Internal("the batch's commit was lost".into())))
    }

    /// Undoes the unit's work; the batch goes on for the others.
    pub async fn rollback(mut self) -> Result<(), Error> {
        let Some(mut batch) = self.batch.take() else {
            return Ok(());
        };
        batch.undo = true;
        batch.settle().await;
        if self.writer.waiting.load(Ordering::SeqCst) == 0 {
            batch.commit().await;
        }
        Ok(())
    }
}

impl Drop for Unit {
    fn drop(&mut self) {
        if let Some(mut batch) = self.batch.take() {
            batch.undo = true;
            drop(batch);
            self.writer.orphaned.notify_one();
        }
    }
}

/// The writer connection outside any batch.
pub struct Exclusive(OwnedMutexGuard<Batch>);

impl Exclusive {
    pub fn connection(&mut self) -> Result<&mut SqliteConnection, Error> {
        self.0
            .connection
            .as_mut()
            .ok_or_else(|| Error::Internal("the writer connection is gone".into()))
    }
}

/// Commits what a dropped unit or a waiter that gave up left open with nobody coming for it.
async fn commit_orphans(writer: Weak<Shared>, orphaned: Arc<Notify>) {
    loop {
        orphaned.notified().await;
        let Some(shared) = writer.upgrade() else {
            return;
        };
        let mut batch = shared.batch.clone().lock_owned().await;
        batch.settle().await;
        if shared.waiting.load(Ordering::SeqCst) == 0 {
            batch.commit().await;
        }
    }
}
