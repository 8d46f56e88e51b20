//! SQLite's read connections, lent for one statement at a time. sqlx's pool pings a connection
//! on its worker thread every time one goes back to it: one more thread hop, and a spawned task,
//! for every statement. A SQLite connection is a handle on a local file and cannot have hung up;
//! what could leave one unfit is a statement abandoned mid-way, and such a connection is closed
//! instead of lent again.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Connection};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::Error;

/// How long a statement waits for a connection before it fails (as sqlx's acquire timeout).
const LEND_WITHIN: Duration = Duration::from_secs(10);

/// At most `size` read connections, opened when first needed and kept while fit.
#[derive(Clone, Debug)]
pub struct Readers(Arc<Shared>);

#[derive(Debug)]
struct Shared {
    options: SqliteConnectOptions,
    idle: Mutex<Vec<SqliteConnection>>,
    places: Arc<Semaphore>,
    open: AtomicU32,
    closed: AtomicBool,
}

impl Readers {
    /// Opens one connection at once, so a database that cannot be read fails here.
    pub async fn open(options: SqliteConnectOptions, size: u32) -> Result<Readers, Error> {
        let first = options.connect().await?;
        let readers = Readers(Arc::new(Shared {
            options,
            idle: Mutex::new(vec![first]),
            places: Arc::new(Semaphore::new(usize::try_from(size).unwrap_or(1))),
            open: AtomicU32::new(1),
            closed: AtomicBool::new(false),
        }));
        Ok(readers)
    }

    /// A connection for one statement, waited for at most [`LEND_WITHIN`].
    pub async fn lend(&self) -> Result<Lent, Error> {
        match self
            .lend_by(tokio::time::Instant::now() + LEND_WITHIN)
            .await
        {
            Err(Error::QueryTimeout) => Err(Error::Unavailable("database pool timed out".into())),
            lent => lent,
        }
    }

    /// A connection, waited for no longer than `until` ([`Error::QueryTimeout`] after).
    pub async fn lend_by(&self, until: tokio::time::Instant) -> Result<Lent, Error> {
        let started = std::time::Instant::now();
        let waiting = self.0.places.clone().acquire_owned();
        let place = match tokio::time::timeout_at(until, waiting).await {
            Ok(Ok(place)) => place,
            Ok(Err(_)) => return Err(Error::Unavailable("the database is closed".into())),
            Err(_) => return Err(Error::QueryTimeout),
        };
        crate::telemetry::pool_wait("read", started.elapsed());
        let kept = self.0.idle.lock().ok().and_then(|mut idle| idle.pop());
        let connection = match kept {
            Some(connection) => connection,
            None => {
                let opened = self.0.options.connect().await?;
                self.0.open.fetch_add(1, Ordering::SeqCst);
                opened
            }
        };
        Ok(Lent {
            connection: Some(connection),
            readers: self.0.clone(),
            _place: place,
            settled: false,
        })
    }

    /// Connections open, and how many of them wait unused.
    pub fn size(&self) -> u32 {
        self.0.open.load(Ordering::SeqCst)
    }

    pub fn num_idle(&self) -> usize {
        self.0.idle.lock().map_or(0, |idle| idle.len())
    }

    /// Closes the connections waiting unused; those lent out close when they come back.
    pub async fn close(&self) {
        self.0.closed.store(true, Ordering::SeqCst);
        self.0.places.close();
        let idle: Vec<SqliteConnection> = self
            .0
            .idle
            .lock()
            .map(|mut idle| idle.drain(..).collect())
            .unwrap_or_default();
        for connection in idle {
            self.0.open.fetch_sub(1, Ordering::SeqCst);
            let _ = connection.close().await;
        }
    }
}

/// A lent connection; it goes back when dropped, if its statement ran to the end
/// ([`Lent::settle`]), and is closed otherwise.
pub struct Lent {
    connection: Option<SqliteConnection>,
    readers: Arc<Shared>,
    _place: OwnedSemaphorePermit,
    settled: bool,
}

impl Lent {
    pub fn connection(&mut self) -> Result<&mut SqliteConnection, Error> {
        self.connection
            .as_mut()
            .ok_or_else(|| Error::Internal("a lent connection is gone".into()))
    }

    /// The statement ran to its end (its result, or an error SQLite reported): the connection
    /// is fit for the next one.
    pub fn settle<T>(&mut self, result: &Result<T, sqlx::Error>) {
        self.settled = matches!(result, Ok(_) | Err(sqlx::Error::Database(_)));
    }
}

impl Drop for Lent {
    fn drop(&mut self) {
        let Some(connection) = self.connection.take() else {
            return;
        };
        let keep = self.settled && !self.readers.closed.load(Ordering::SeqCst);
        if keep && let Ok(mut idle) = self.readers.idle.lock() {
            idle.push(connection);
            return;
        }
        // Dropped, the connection's worker thread finishes what it was running and closes it.
        self.readers.open.fetch_sub(1, Ordering::SeqCst);
        drop(connection);
    }
}
