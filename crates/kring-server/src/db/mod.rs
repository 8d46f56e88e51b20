//! Storage: one enum over SQLite and PostgreSQL (DESIGN §4). This module is the only place that
//! knows there are two engines; everything above it builds statements once with sea-query (or
//! writes portable SQL with `?` placeholders) and decodes rows by the column types it asks for.

mod budget;
pub mod dialect;
mod migrate;
mod readers;
mod totals;
mod writer;

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use kring_core::Value;
use kring_core::schema::ColumnType;
use sea_query::{PostgresQueryBuilder, SqliteQueryBuilder};
use sea_query_sqlx::{SqlxBinder, SqlxValues};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{AssertSqlSafe, PgPool, Row as _};

use crate::config::DEFAULT_QUERY_TIMEOUT;
use crate::error::Error;

pub use budget::{Deadline, Place};
pub use migrate::migrate;
pub use readers::Readers;
pub use totals::{Remembered, Totals};
pub use writer::Writer;

use budget::{Admission, Watch};

/// Which SQL engine a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A connection pool on either engine.
///
/// SQLite allows one writer at a time, so writes go through a pool of one connection (queued in
/// process instead of spinning on `SQLITE_BUSY`) and reads through a pool of several.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite {
        read: Readers,
        write: Writer,
        counts: Arc<Counts>,
        access: Access,
        bounds: Bounds,
        space: Space,
        totals: Totals,
    },
    Postgres {
        pool: PgPool,
        counts: Arc<Counts>,
        access: Access,
        bounds: Bounds,
        space: Space,
        totals: Totals,
    },
}

/// How much `/ready` writes to learn whether writes fit again: more than most writes need.
const ROOM_PROBE_BYTES: usize = 64 * 1024;

/// Whether writes are failing for want of space: set by a write that found the disk full,
/// cleared by `/ready`'s probe once a write of some size commits again (a small write may
/// still fit where a typical one does not). Shared by a pool's handles and its transactions, so `/ready`
/// can say not-ready while it is set (and prove it stale with a real write).
#[derive(Clone, Debug, Default)]
pub struct Space(Arc<AtomicBool>);

impl Space {
    pub fn is_full(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// Passes a write's result through, noting a full disk.
    fn noted<T>(&self, result: Result<T, Error>) -> Result<T, Error> {
        if matches!(result, Err(Error::StorageFull)) {
            self.0.store(true, Ordering::SeqCst);
        }
        result
    }

    fn has_room(&self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

/// What bounds the expensive reads of one pool (see [`Db::fetch_within`]).
#[derive(Clone, Debug)]
pub struct Bounds {
    pub query_timeout: Duration,
    admission: Arc<Admission>,
}

impl Bounds {
    /// One owner may hold `places` of the reads in flight.
    fn new(query_timeout: Duration, places: usize) -> Bounds {
        Bounds {
            query_timeout,
            admission: Admission::new(places),
        }
    }
}

/// The expensive reads one company may run at once on SQLite: half of this machine's cores,
/// at most half of the read connections. SQLite reads run on this machine's cores, so a share
/// of the pool alone is not enough: four such reads on two cores tripled another company's
/// p99 (the `kring-bench isolation` run in the README).
fn sqlite_places() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let half_pool = usize::try_from(SQLITE_READERS / 2).unwrap_or(1);
    (cores / 2).clamp(1, half_pool)
}

/// SQLite's read connections; PostgreSQL's whole pool.
const SQLITE_READERS: u32 = 8;
const POSTGRES_CONNECTIONS: u32 = 32;

/// How many SQLite virtual-machine steps run between two looks at a statement's deadline
/// (a few tens of microseconds).
const PROGRESS_STEPS: i32 = 10_000;

/// A statement rendered for one engine, with its bound values.
pub struct Sql {
    text: String,
    values: SqlxValues,
}

/// Anything that can become a [`Sql`] for a given backend: sea-query statements and
/// [`Raw`] portable SQL.
pub trait Statement {
    fn render(&self, backend: Backend) -> Sql;
}

macro_rules! sea_statement {
    ($($ty:ty),*) => {$(
        impl Statement for $ty {
            fn render(&self, backend: Backend) -> Sql {
                let (text, values) = match backend {
                    Backend::Sqlite => self.build_sqlx(SqliteQueryBuilder),
                    Backend::Postgres => self.build_sqlx(PostgresQueryBuilder),
                };
                Sql { text, values }
            }
        }
    )*};
}
sea_statement!(
    sea_query::SelectStatement,
    sea_query::InsertStatement,
    sea_query::UpdateStatement,
    sea_query::DeleteStatement
);

/// Hand-written SQL that is the same on both engines, with `?` placeholders (rewritten to `$n`
/// for PostgreSQL). For fixed statements that read better as SQL than as a builder chain.
pub struct Raw {
    pub text: std::borrow::Cow<'static, str>,
    pub values: Vec<sea_query::Value>,
}

impl Raw {
    pub fn new(text: &'static str, values: Vec<sea_query::Value>) -> Raw {
        Raw {
            text: text.into(),
            values,
        }
    }

    /// SQL built at run time: only from Kring's own identifiers, never from input.
    pub fn owned(text: String, values: Vec<sea_query::Value>) -> Raw {
        Raw {
            text: text.into(),
            values,
        }
    }
}

impl Statement for Raw {
    fn render(&self, backend: Backend) -> Sql {
        let text = match backend {
            Backend::Sqlite => self.text.to_string(),
            Backend::Postgres => numbered_placeholders(&self.text),
        };
        Sql {
            text,
            values: SqlxValues(sea_query::Values(self.values.clone())),
        }
    }
}

/// How the database would run a statement (`EXPLAIN QUERY PLAN` on SQLite, `EXPLAIN` on
/// PostgreSQL), for tests that check a statement uses its index.
pub struct Explain<'a, S: Statement>(pub &'a S);

impl<S: Statement> Statement for Explain<'_, S> {
    fn render(&self, backend: Backend) -> Sql {
        let mut sql = self.0.render(backend);
        let prefix = match backend {
            Backend::Sqlite => "EXPLAIN QUERY PLAN ",
            Backend::Postgres => "EXPLAIN ",
        };
        sql.text.insert_str(0, prefix);
        sql
    }
}

fn numbered_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    out
}

/// SQLite keeps timestamps as fixed-width text (see the migration); sqlx would write them in a
/// variable-width format whose text order is not time order, so convert before binding.
fn sqlite_values(values: SqlxValues) -> SqlxValues {
    let converted = values
        .0
        .0
        .into_iter()
        .map(|v| match v {
            sea_query::Value::ChronoDateTimeUtc(t) => {
                sea_query::Value::String(t.map(|t| kring_core::time::format_timestamp(&t)))
            }
            other => other,
        })
        .collect();
    SqlxValues(sea_query::Values(converted))
}

impl Db {
    /// Opens (and for SQLite creates) the database named by `url`: `sqlite://path`,
    /// `sqlite::memory:` is refused (each pooled connection would get its own empty database),
    /// `postgres://…`.
    pub async fn connect(url: &str) -> Result<Db, Error> {
        Db::connect_bounded(url, DEFAULT_QUERY_TIMEOUT).await
    }

    /// [`Db::connect`] with `query_timeout` for every request's expensive reads (and, on
    /// PostgreSQL, twice that, at least ten seconds, as every statement's `statement_timeout`).
    pub async fn connect_bounded(url: &str, query_timeout: Duration) -> Result<Db, Error> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url).map_err(Error::config)?;
            return Db::connect_postgres(options, query_timeout).await;
        }
        if url.starts_with("sqlite:") {
            if url.contains(":memory:") || url.contains("mode=memory") {
                return Err(Error::Config(
                    "an in-memory SQLite database cannot be shared by a pool; use a file".into(),
                ));
            }
            let options = SqliteConnectOptions::from_str(url).map_err(Error::config)?;
            return Db::connect_sqlite(options, query_timeout).await;
        }
        Err(Error::Config(format!(
            "unsupported database URL (use sqlite://… or postgres://…): {}",
            crate::config::redacted(url)
        )))
    }

    async fn connect_postgres(
        options: PgConnectOptions,
        query_timeout: Duration,
    ) -> Result<Db, Error> {
        // A backstop for every statement, reads and writes alike (migrations lift it). Bounded
        // reads are cancelled at their own deadline; nothing else comes near this.
        let backstop = (query_timeout * 2).max(Duration::from_secs(10));
        let budget = format!("{}ms", backstop.as_millis());
        let pool = PgPoolOptions::new()
            .max_connections(POSTGRES_CONNECTIONS)
            .acquire_timeout(Duration::from_secs(10))
            // No JIT: it compiles a plan whose estimate is high (a probe per row of a walk
            // that stops at its 25th) for longer than the plan runs (145 ms for a 2 ms page).
            .connect_with(options.options([("statement_timeout", budget.as_str()), ("jit", "off")]))
            .await?;
        Ok(Db::Postgres {
            pool,
            counts: Arc::default(),
            // Changes other instances make are heard once the listener is connected.
            access: Access::new(false),
            bounds: Bounds::new(
                query_timeout,
                usize::try_from(POSTGRES_CONNECTIONS / 2).unwrap_or(1),
            ),
            space: Space::default(),
            totals: Totals::default(),
        })
    }

    async fn connect_sqlite(
        options: SqliteConnectOptions,
        query_timeout: Duration,
    ) -> Result<Db, Error> {
        let options = sqlite_settings(options);
        let write = Writer::open(options.clone()).await?;
        let read = Readers::open(options.read_only(true), SQLITE_READERS).await?;
        Ok(Db::Sqlite {
            read,
            write,
            counts: Arc::default(),
            // One process serves a SQLite database: every change is this process's own.
            access: Access::new(true),
            bounds: Bounds::new(query_timeout, sqlite_places()),
            space: Space::default(),
            totals: Totals::default(),
        })
    }

    pub fn backend(&self) -> Backend {
        match self {
            Db::Sqlite { .. } => Backend::Sqlite,
            Db::Postgres { .. } => Backend::Postgres,
        }
    }

    /// How many reads outside a transaction this pool has run: lets tests prove that a request
    /// costs a fixed number of statements, however many rows it returns.
    pub fn reads(&self) -> u64 {
        self.counts().reads.load(Ordering::Relaxed)
    }

    /// How many statements this pool's transactions have run, `BEGIN` and `COMMIT` included:
    /// what a write costs in round trips to the database.
    pub fn transaction_statements(&self) -> u64 {
        self.counts().in_transactions.load(Ordering::Relaxed)
    }

    /// How many changes to what tokens act as this pool has committed or heard of, while
    /// every such change is heard: `None` while another instance's could go unheard (a
    /// PostgreSQL listener that is not connected), when nothing may be remembered.
    pub fn access_epoch(&self) -> Option<u64> {
        self.access().epoch()
    }

    /// Another instance committed a change to what tokens act as (its notification arrived).
    pub fn heard_access_change(&self) {
        self.access().bump();
    }

    /// Whether other instances' changes are heard now (see [`Db::access_epoch`]); a change of
    /// either way counts as a change, so nothing remembered before it is trusted after.
    pub fn hearing_access_changes(&self, hearing: bool) {
        let access = self.access();
        access.0.hearing.store(hearing, Ordering::SeqCst);
        access.bump();
    }

    fn access(&self) -> &Access {
        match self {
            Db::Sqlite { access, .. } | Db::Postgres { access, .. } => access,
        }
    }

    fn counts(&self) -> &Arc<Counts> {
        match self {
            Db::Sqlite { counts, .. } | Db::Postgres { counts, .. } => counts,
        }
    }

    /// The same pools with a read counter of their own, for background work (the webhook
    /// worker), so its polling is not counted as the requests' reads.
    pub fn for_background(&self) -> Db {
        match self {
            Db::Sqlite {
                read,
                write,
                access,
                bounds,
                space,
                totals,
                ..
            } => Db::Sqlite {
                read: read.clone(),
                write: write.clone(),
                counts: Arc::default(),
                access: access.clone(),
                bounds: bounds.clone(),
                space: space.clone(),
                totals: totals.clone(),
            },
            Db::Postgres {
                pool,
                access,
                bounds,
                space,
                totals,
                ..
            } => Db::Postgres {
                pool: pool.clone(),
                counts: Arc::default(),
                access: access.clone(),
                bounds: bounds.clone(),
                space: space.clone(),
                totals: totals.clone(),
            },
        }
    }

    fn bounds(&self) -> &Bounds {
        match self {
            Db::Sqlite { bounds, .. } | Db::Postgres { bounds, .. } => bounds,
        }
    }

    /// `query` with its values inlined, as this engine would run it: a key for what it answers.
    pub fn inlined(&self, query: &sea_query::SelectStatement) -> String {
        match self.backend() {
            Backend::Sqlite => query.to_string(SqliteQueryBuilder),
            Backend::Postgres => query.to_string(PostgresQueryBuilder),
        }
    }

    /// The filtered totals remembered under their data versions.
    pub fn totals(&self) -> &Totals {
        match self {
            Db::Sqlite { totals, .. } | Db::Postgres { totals, .. } => totals,
        }
    }

    pub fn space(&self) -> &Space {
        match self {
            Db::Sqlite { space, .. } | Db::Postgres { space, .. } => space,
        }
    }

    /// How many expensive reads one owner may have in flight on this pool.
    pub fn expensive_places(&self) -> usize {
        self.bounds().admission.places()
    }

    /// The deadline of a request's expensive reads that start now.
    pub fn deadline(&self) -> Deadline {
        Deadline::after(self.bounds().query_timeout)
    }

    /// A place among `owner`'s expensive reads in flight, waited for until `deadline`: one
    /// company cannot hold more than half of the read connections (on SQLite, nor more than
    /// half of the cores).
    pub async fn admit(&self, owner: i64, deadline: Deadline) -> Result<Place, Error> {
        self.bounds().admission.enter(owner, deadline).await
    }

    /// A read whose cost the client chooses (a filter, an order, a deep page): stopped at
    /// `deadline` (503, [`Error::QueryTimeout`]), and stopped too when the request is dropped
    /// (the client went away, or the server is shutting down) instead of running on.
    pub async fn fetch_within(
        &self,
        stmt: &impl Statement,
        types: &[ColumnType],
        deadline: Deadline,
    ) -> Result<Vec<Vec<Value>>, Error> {
        let sql = stmt.render(self.backend());
        let started = Instant::now();
        let fetched = match self {
            Db::Sqlite { read, counts, .. } => {
                counts.reads.fetch_add(1, Ordering::Relaxed);
                sqlite::fetch_within(read, sql, types, deadline).await
            }
            Db::Postgres { pool, counts, .. } => {
                counts.reads.fetch_add(1, Ordering::Relaxed);
                postgres::fetch_within(pool, sql, types, deadline).await
            }
        };
        crate::telemetry::statement("read", started.elapsed());
        fetched
    }

    /// Runs a read outside any transaction.
    pub async fn fetch(
        &self,
        stmt: &impl Statement,
        types: &[ColumnType],
    ) -> Result<Vec<Vec<Value>>, Error> {
        let sql = stmt.render(self.backend());
        let started = Instant::now();
        let fetched = match self {
            Db::Sqlite { read, counts, .. } => {
                counts.reads.fetch_add(1, Ordering::Relaxed);
                sqlite::fetch_lent(read, sql, types).await
            }
            Db::Postgres { pool, counts, .. } => {
                counts.reads.fetch_add(1, Ordering::Relaxed);
                postgres::fetch(pool, sql, types).await
            }
        };
        crate::telemetry::statement("read", started.elapsed());
        fetched
    }

    /// Starts a write transaction (SQLite: `BEGIN IMMEDIATE` on the writer connection, so the
    /// write lock is taken up front and never upgraded mid-transaction).
    pub async fn begin(&self) -> Result<Tx, Error> {
        let waiting = Instant::now();
        let conn = match self {
            Db::Sqlite { write, .. } => Conn::Sqlite(write.begin().await?),
            Db::Postgres { pool, .. } => Conn::Postgres(pool.begin().await?),
        };
        crate::telemetry::pool_wait("write", waiting.elapsed());
        let counts = self.counts().clone();
        counts.in_transactions.fetch_add(1, Ordering::Relaxed);
        Ok(Tx {
            conn,
            space: self.space().clone(),
            counts,
            access: self.access().clone(),
            changes_access: false,
            locks: Vec::new(),
        })
    }

    /// Each pool by name with its open and idle connections, for the metrics.
    pub fn pools(&self) -> Vec<(&'static str, u32, u32)> {
        let idle = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        match self {
            Db::Sqlite { read, write, .. } => vec![("read", read.size(), idle(read.num_idle())), {
                let (open, free) = write.state();
                ("write", open, free)
            }],
            Db::Postgres { pool, .. } => vec![("all", pool.size(), idle(pool.num_idle()))],
        }
    }

    /// `SELECT 1`, for readiness probes.
    pub async fn ping(&self) -> Result<(), Error> {
        self.fetch(
            &Raw::new("SELECT CAST(1 AS BIGINT)", vec![]),
            &[ColumnType::Int],
        )
        .await
        .map(|_| ())
    }

    /// Runs a read and opens (and rolls back) a write transaction at once, each given no longer
    /// than `within`: a pool whose connections are all held does not answer in time. While
    /// writes are failing for want of space, the write check is a real one: [`Db::write_room`].
    pub async fn probe(&self, within: Duration) -> Probe {
        let reads = bounded(within, self.ping());
        let writes = bounded(within, async {
            match self.space().is_full() {
                true => self.write_room().await,
                false => self.begin().await?.rollback().await,
            }
        });
        let (reads, writes) = tokio::join!(reads, writes);
        Probe { reads, writes }
    }

    /// Commits a row of [`ROOM_PROBE_BYTES`] and then its removal: only a write that reaches
    /// the disk shows there is room again (an empty transaction allocates nothing). Random
    /// content, so PostgreSQL cannot compress it away. Clears [`Space`] when both commit.
    async fn write_room(&self) -> Result<(), Error> {
        let mut filler = [0u8; ROOM_PROBE_BYTES / 2];
        getrandom::fill(&mut filler).map_err(|e| Error::Internal(format!("random: {e}")))?;
        let filler: String = filler.iter().map(|b| format!("{b:02x}")).collect();
        let mut tx = self.begin().await?;
        let id = tx
            .insert(&Raw::new(
                "INSERT INTO storage_probe (filler) VALUES (?) RETURNING id",
                vec![filler.into()],
            ))
            .await?;
        tx.commit().await?;
        let mut tx = self.begin().await?;
        tx.execute(&Raw::new(
            "DELETE FROM storage_probe WHERE id = ?",
            vec![id.into()],
        ))
        .await?;
        tx.commit().await?;
        self.space().has_room();
        Ok(())
    }

    /// Refreshes the planner's statistics. Without them SQLite takes `company_id = ?` for a
    /// selective condition and walks a whole tenant through that index instead of following a
    /// foreign key (a 100,000-customer list with contacts went from 0.9 s to 1 ms with them).
    /// `thorough` analyses everything (after a bulk load); otherwise only what changed enough.
    pub async fn analyze(&self, thorough: bool) -> Result<(), Error> {
        let mut tx = self.begin().await?;
        match (self, thorough) {
            (Db::Sqlite { .. }, true) => {
                tx.execute(&Raw::new("ANALYZE", vec![])).await?;
                without_value_histograms(&mut tx).await?
            }
            (Db::Sqlite { .. }, false) => {
                tx.execute(&Raw::new("PRAGMA optimize=0x10002", vec![]))
                    .await?;
                without_value_histograms(&mut tx).await?
            }
            // Kring's own tables only: the database may hold other schemas.
            (Db::Postgres { .. }, true) => {
                tx.execute(&Raw::new("SET LOCAL statement_timeout = 0", vec![]))
                    .await?;
                for table in crate::registry::tables() {
                    let statement = format!("ANALYZE \"{table}\"");
                    tx.execute(&Raw::owned(statement, vec![])).await?;
                }
                0
            }
            // PostgreSQL's autovacuum keeps statistics current on its own.
            (Db::Postgres { .. }, false) => 0,
        };
        tx.commit().await
    }

    pub async fn close(&self) {
        match self {
            Db::Sqlite { read, write, .. } => {
                read.close().await;
                write.close().await;
            }
            Db::Postgres { pool, .. } => pool.close().await,
        }
    }
}

/// Kring's settings for every SQLite connection to the database `url` names.
pub fn sqlite_options(url: &str) -> Result<SqliteConnectOptions, Error> {
    Ok(sqlite_settings(
        SqliteConnectOptions::from_str(url).map_err(Error::config)?,
    ))
}

fn sqlite_settings(options: SqliteConnectOptions) -> SqliteConnectOptions {
    options
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10))
        .pragma("cache_size", "-16000")
        // Scans read the file through one shared mapping instead of copying its pages into
        // every connection's cache (a filtered list over 100,000 rows: 100 ms to 30 ms).
        .pragma("mmap_size", "268435456")
}

/// Something reads can run on: the pools, or a transaction (which then sees its own writes).
pub enum Reader<'a> {
    Db(&'a Db),
    Tx(&'a mut Tx),
}

impl Reader<'_> {
    pub fn backend(&self) -> Backend {
        match self {
            Reader::Db(db) => db.backend(),
            Reader::Tx(tx) => tx.backend(),
        }
    }

    pub async fn fetch(
        &mut self,
        stmt: &impl Statement,
        types: &[ColumnType],
    ) -> Result<Vec<Vec<Value>>, Error> {
        match self {
            Reader::Db(db) => db.fetch(stmt, types).await,
            Reader::Tx(tx) => tx.fetch(stmt, types).await,
        }
    }
}

/// A write transaction. Dropped without [`Tx::commit`], it rolls back.
pub struct Tx {
    conn: Conn,
    space: Space,
    counts: Arc<Counts>,
    access: Access,
    /// This transaction changes what tokens act as (see [`Tx::changes_access`]).
    changes_access: bool,
    /// The advisory locks taken so far (see [`Tx::first_lock_of`]).
    locks: Vec<i64>,
}

/// The PostgreSQL channel on which an instance announces a committed change to what tokens
/// act as, sent inside the changing transaction so it is delivered only if that commits.
pub const ACCESS_CHANNEL: &str = "kring_access";

/// The count of committed changes to what tokens act as, shared by a pool's handles and its
/// transactions; and whether changes made elsewhere are heard.
#[derive(Clone, Debug)]
pub struct Access(Arc<AccessState>);

#[derive(Debug)]
struct AccessState {
    epoch: AtomicU64,
    hearing: AtomicBool,
}

impl Access {
    fn new(hearing: bool) -> Access {
        Access(Arc::new(AccessState {
            epoch: AtomicU64::new(0),
            hearing: AtomicBool::new(hearing),
        }))
    }

    fn epoch(&self) -> Option<u64> {
        // The epoch is read after `hearing`: a listener that reconnects bumps it after saying
        // so, and a reader that saw the old epoch with the new flag only misses a hit.
        let hearing = self.0.hearing.load(Ordering::SeqCst);
        let epoch = self.0.epoch.load(Ordering::SeqCst);
        hearing.then_some(epoch)
    }

    fn bump(&self) {
        self.0.epoch.fetch_add(1, Ordering::SeqCst);
    }
}

/// The statements a pool's handle has run (see [`Db::reads`], [`Db::transaction_statements`]).
#[derive(Debug, Default)]
pub struct Counts {
    reads: AtomicU64,
    in_transactions: AtomicU64,
}

enum Conn {
    Sqlite(writer::Unit),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

impl Tx {
    pub fn backend(&self) -> Backend {
        match self.conn {
            Conn::Sqlite(..) => Backend::Sqlite,
            Conn::Postgres(_) => Backend::Postgres,
        }
    }

    pub async fn fetch(
        &mut self,
        stmt: &impl Statement,
        types: &[ColumnType],
    ) -> Result<Vec<Vec<Value>>, Error> {
        let sql = stmt.render(self.backend());
        self.counted();
        let started = Instant::now();
        let fetched = match &mut self.conn {
            Conn::Sqlite(unit) => sqlite::fetch(unit.connection()?, sql, types).await,
            Conn::Postgres(tx) => postgres::fetch(&mut **tx, sql, types).await,
        };
        crate::telemetry::statement("write", started.elapsed());
        self.space.noted(fetched)
    }

    /// Runs a statement and returns the number of rows it touched.
    pub async fn execute(&mut self, stmt: &impl Statement) -> Result<u64, Error> {
        let sql = stmt.render(self.backend());
        self.counted();
        let started = Instant::now();
        let executed = match &mut self.conn {
            Conn::Sqlite(unit) => match unit.connection() {
                Ok(connection) => {
                    sqlx::query_with(AssertSqlSafe(sql.text), sqlite_values(sql.values))
                        .execute(connection)
                        .await
                        .map(|done| done.rows_affected())
                        .map_err(Error::from)
                }
                Err(e) => Err(e),
            },
            Conn::Postgres(tx) => sqlx::query_with(AssertSqlSafe(sql.text), sql.values)
                .execute(&mut **tx)
                .await
                .map(|done| done.rows_affected())
                .map_err(Error::from),
        };
        crate::telemetry::statement("write", started.elapsed());
        self.space.noted(executed)
    }

    /// Runs an `INSERT … RETURNING id` and returns the id.
    pub async fn insert(&mut self, stmt: &impl Statement) -> Result<i64, Error> {
        let rows = self.fetch(stmt, &[ColumnType::Int]).await?;
        rows.first()
            .and_then(|row| row.first())
            .and_then(Value::as_int)
            .ok_or_else(|| Error::Internal("an insert returned no id".into()))
    }

    fn counted(&self) {
        self.counts.in_transactions.fetch_add(1, Ordering::Relaxed);
    }

    /// Notes the lock `key` as taken in this transaction; false if it already was.
    pub fn first_lock_of(&mut self, key: i64) -> bool {
        if self.locks.contains(&key) {
            return false;
        }
        self.locks.push(key);
        true
    }

    /// Marks this transaction as changing what tokens act as (a revoked token, a user's role, a
    /// role's permissions, the company's language): once it commits, nothing remembered of any
    /// token before it is trusted, here or, through [`ACCESS_CHANNEL`], on other instances.
    pub fn changes_access(&mut self) {
        self.changes_access = true;
    }

    pub async fn commit(mut self) -> Result<(), Error> {
        if self.changes_access && self.backend() == Backend::Postgres {
            let notify = format!("SELECT CAST(pg_notify('{ACCESS_CHANNEL}', '') AS TEXT)");
            self.fetch(&Raw::owned(notify, vec![]), &[ColumnType::Text])
                .await?;
        }
        self.counted();
        let (changes_access, access) = (self.changes_access, self.access.clone());
        let committed = match self.conn {
            Conn::Sqlite(unit) => unit.commit().await,
            Conn::Postgres(tx) => Ok(tx.commit().await?),
        };
        // Even a commit that failed may have reached the database (a connection lost in
        // `COMMIT`): what was remembered before it is not trusted either way.
        if changes_access {
            access.bump();
        }
        self.space.noted(committed)
    }

    pub async fn rollback(self) -> Result<(), Error> {
        match self.conn {
            Conn::Sqlite(unit) => unit.rollback().await,
            Conn::Postgres(tx) => Ok(tx.rollback().await?),
        }
    }
}

/// Drops the per-value samples (`sqlite_stat4`) an `ANALYZE` just wrote, in its transaction, so
/// no connection ever plans with them. With them, SQLite re-plans a statement at every new
/// binding of a parameter compared with an indexed column (the token lookup, every `id = ?`):
/// a share of every request's CPU. The per-index averages (`sqlite_stat1`) stay, which is what
/// the planner needs to tell a selective index from a broad one.
async fn without_value_histograms(tx: &mut Tx) -> Result<u64, Error> {
    let present: Vec<(i64,)> = tx
        .fetch_as(&Raw::new(
            "SELECT COUNT(*) FROM sqlite_master WHERE name = 'sqlite_stat4'",
            vec![],
        ))
        .await?;
    if present.first().is_some_and(|(n,)| *n > 0) {
        return tx
            .execute(&Raw::new("DELETE FROM sqlite_stat4", vec![]))
            .await;
    }
    Ok(0)
}

/// What `/ready` learns from the database: whether a read and a write transaction each
/// answered within the probe's bound.
#[derive(Debug)]
pub struct Probe {
    pub reads: Result<(), Error>,
    pub writes: Result<(), Error>,
}

/// Decodes a row by the column types asked for. The engines differ only in how temporal values
/// come back (SQLite: Kring's text format; PostgreSQL: native types), given as two expressions.
macro_rules! decode_row {
    ($row:expr, $types:expr, |$i:ident| timestamp: $timestamp:expr, date: $date:expr) => {
        $types
            .iter()
            .enumerate()
            .map(|($i, ty)| {
                Ok(match ty {
                    ColumnType::Int => $row.try_get::<Option<i64>, _>($i)?.map(Value::Int),
                    ColumnType::Float => $row.try_get::<Option<f64>, _>($i)?.map(Value::Float),
                    ColumnType::Bool => $row.try_get::<Option<bool>, _>($i)?.map(Value::Bool),
                    ColumnType::Text | ColumnType::Json => {
                        $row.try_get::<Option<String>, _>($i)?.map(Value::Text)
                    }
                    ColumnType::Timestamp => $timestamp.map(Value::Timestamp),
                    ColumnType::Date => $date.map(Value::Date),
                }
                .unwrap_or(Value::Null))
            })
            .collect::<Result<Vec<Value>, Error>>()
    };
}

mod sqlite {
    use super::*;
    use kring_core::time::{parse_date, parse_timestamp};

    pub async fn fetch<'e>(
        executor: impl sqlx::Executor<'e, Database = sqlx::Sqlite>,
        sql: Sql,
        types: &[ColumnType],
    ) -> Result<Vec<Vec<Value>>, Error> {
        let rows = sqlx::query_with(AssertSqlSafe(sql.text), sqlite_values(sql.values))
            .fetch_all(executor)
            .await?;
        decode(&rows, types)
    }

    /// Runs `sql` on a lent read connection.
    pub async fn fetch_lent(
        readers: &Readers,
        sql: Sql,
        types: &[ColumnType],
    ) -> Result<Vec<Vec<Value>>, Error> {
        let mut lent = readers.lend().await?;
        let fetched = rows(lent.connection()?, sql).await;
        lent.settle(&fetched);
        decode(&fetched?, types)
    }

    async fn rows(
        connection: &mut sqlx::SqliteConnection,
        sql: Sql,
    ) -> Result<Vec<sqlx::sqlite::SqliteRow>, sqlx::Error> {
        sqlx::query_with(AssertSqlSafe(sql.text), sqlite_values(sql.values))
            .fetch_all(connection)
            .await
    }

    fn decode(
        rows: &[sqlx::sqlite::SqliteRow],
        types: &[ColumnType],
    ) -> Result<Vec<Vec<Value>>, Error> {
        rows.iter()
            .map(|row| {
                decode_row!(row, types, |i|
                    timestamp: row.try_get::<Option<String>, _>(i)?.and_then(|s| parse_timestamp(&s)),
                    date: row.try_get::<Option<String>, _>(i)?.and_then(|s| parse_date(&s)))
            })
            .collect()
    }

    /// Runs `sql` on a read connection whose progress callback stops it at the deadline or
    /// when this future is dropped. A connection left running an abandoned statement is
    /// closed, never lent to another request.
    pub async fn fetch_within(
        readers: &Readers,
        sql: Sql,
        types: &[ColumnType],
        deadline: Deadline,
    ) -> Result<Vec<Vec<Value>>, Error> {
        let mut lent = readers.lend_by(deadline.instant()).await?;
        let watch = Watch::new(deadline);
        let seen = watch.clone();
        let connection = lent.connection()?;
        connection
            .lock_handle()
            .await?
            .set_progress_handler(PROGRESS_STEPS, move || seen.keep_going());
        // Dropped mid-statement (the request went away), `lent` is not settled and the
        // connection is closed; the callback stops the statement at once.
        let _abandoned = Abandon(watch.clone());
        let fetched = rows(connection, sql).await;
        watch.finish();
        lent.settle(&fetched);
        timed_out(
            fetched
                .map_err(Error::from)
                .and_then(|rows| decode(&rows, types)),
            deadline,
        )
    }

    /// Marks the watch abandoned when the statement's future is dropped before it finished.
    struct Abandon(Arc<Watch>);

    impl Drop for Abandon {
        fn drop(&mut self) {
            self.0.abandon();
        }
    }
}

/// `check`, or a [`Error::QueryTimeout`] if it takes longer than `within`.
async fn bounded(
    within: Duration,
    check: impl std::future::Future<Output = Result<(), Error>>,
) -> Result<(), Error> {
    tokio::time::timeout(within, check)
        .await
        .unwrap_or(Err(Error::QueryTimeout))
}

/// A pool connection, waited for no longer than `deadline`.
async fn acquire_by<C>(
    acquiring: impl std::future::Future<Output = Result<C, sqlx::Error>>,
    deadline: Deadline,
) -> Result<C, Error> {
    match tokio::time::timeout_at(deadline.instant(), acquiring).await {
        Ok(connection) => Ok(connection?),
        Err(_) => Err(Error::QueryTimeout),
    }
}

/// A bounded read's result: any failure once the deadline has passed is the deadline's.
fn timed_out<T>(result: Result<T, Error>, deadline: Deadline) -> Result<T, Error> {
    match result {
        Err(_) if deadline.passed() => Err(Error::QueryTimeout),
        other => other,
    }
}

mod postgres {
    use super::*;
    use chrono::{DateTime, NaiveDate, Utc};

    pub async fn fetch<'e>(
        executor: impl sqlx::Executor<'e, Database = sqlx::Postgres>,
        sql: Sql,
        types: &[ColumnType],
    ) -> Result<Vec<Vec<Value>>, Error> {
        let rows = sqlx::query_with(AssertSqlSafe(sql.text), sql.values)
            .fetch_all(executor)
            .await?;
        rows.iter()
            .map(|row| {
                decode_row!(row, types, |i|
                    timestamp: row.try_get::<Option<DateTime<Utc>>, _>(i)?,
                    date: row.try_get::<Option<NaiveDate>, _>(i)?)
            })
            .collect()
    }

    /// Runs `sql` until the deadline. If the request is dropped first (or the deadline
    /// passes), the server is told to cancel the statement, and the connection leaves the pool
    /// so that the cancel can never reach another request's statement.
    pub async fn fetch_within(
        pool: &PgPool,
        sql: Sql,
        types: &[ColumnType],
        deadline: Deadline,
    ) -> Result<Vec<Vec<Value>>, Error> {
        let mut connection = acquire_by(pool.acquire(), deadline).await?;
        let process: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut *connection)
            .await?;
        let mut held = Held {
            connection: Some(connection),
            process,
            pool: pool.clone(),
        };
        let connection = held
            .connection
            .as_mut()
            .ok_or_else(|| Error::Internal("connection already released".into()))?;
        let fetched =
            tokio::time::timeout_at(deadline.instant(), fetch(&mut **connection, sql, types)).await;
        match fetched {
            Ok(result) => {
                held.process = 0;
                timed_out(result, deadline)
            }
            Err(_) => Err(Error::QueryTimeout),
        }
    }

    struct Held {
        connection: Option<sqlx::pool::PoolConnection<sqlx::Postgres>>,
        /// The backend running the statement; 0 once it is done.
        process: i32,
        pool: PgPool,
    }

    impl Drop for Held {
        fn drop(&mut self) {
            let Some(connection) = self.connection.take() else {
                return;
            };
            if self.process == 0 {
                return;
            }
            let detached = connection.detach();
            let (pool, process) = (self.pool.clone(), self.process);
            tokio::spawn(async move {
                let _ = sqlx::query("SELECT pg_cancel_backend($1)")
                    .bind(process)
                    .execute(&pool)
                    .await;
                drop(detached);
            });
        }
    }
}

/// Converts a core value to a bindable one. NULLs carry the column's type: PostgreSQL refuses
/// a text-typed NULL for a `BIGINT` or `TIMESTAMPTZ` column.
pub fn bind(value: &Value, ty: ColumnType) -> sea_query::Value {
    match value {
        Value::Null => match ty {
            ColumnType::Int => sea_query::Value::BigInt(None),
            ColumnType::Float => sea_query::Value::Double(None),
            ColumnType::Bool => sea_query::Value::Bool(None),
            ColumnType::Text | ColumnType::Json => sea_query::Value::String(None),
            ColumnType::Timestamp => sea_query::Value::ChronoDateTimeUtc(None),
            ColumnType::Date => sea_query::Value::ChronoDate(None),
        },
        Value::Int(i) => (*i).into(),
        Value::Float(f) => (*f).into(),
        Value::Bool(b) => (*b).into(),
        Value::Text(s) => s.clone().into(),
        Value::Timestamp(t) => (*t).into(),
        Value::Date(d) => (*d).into(),
    }
}

/// One value of a typed row: the column type it is read as, and its decoding.
pub trait FromValue: Sized {
    const TYPE: ColumnType;
    fn from_value(value: Value) -> Option<Self>;
}

macro_rules! from_value {
    ($($ty:ty => $column:ident, $variant:ident);* $(;)?) => {$(
        impl FromValue for $ty {
            const TYPE: ColumnType = ColumnType::$column;
            fn from_value(value: Value) -> Option<Self> {
                match value {
                    Value::$variant(v) => Some(v),
                    _ => None,
                }
            }
        }
    )*};
}
from_value!(
    i64 => Int, Int;
    f64 => Float, Float;
    bool => Bool, Bool;
    String => Text, Text;
    chrono::DateTime<chrono::Utc> => Timestamp, Timestamp;
    chrono::NaiveDate => Date, Date;
);

/// A column that may be NULL.
impl<T: FromValue> FromValue for Option<T> {
    const TYPE: ColumnType = T::TYPE;
    fn from_value(value: Value) -> Option<Self> {
        match value {
            Value::Null => Some(None),
            other => T::from_value(other).map(Some),
        }
    }
}

/// A row of a fixed-shape statement, decoded by position into a tuple of typed values, so a
/// caller names the types once instead of matching `Vec<Value>`s.
pub trait FromRow: Sized {
    const TYPES: &'static [ColumnType];
    fn from_row(row: Vec<Value>) -> Option<Self>;
}

macro_rules! from_row {
    ($($name:ident),+) => {
        impl<$($name: FromValue),+> FromRow for ($($name,)+) {
            const TYPES: &'static [ColumnType] = &[$($name::TYPE),+];
            fn from_row(row: Vec<Value>) -> Option<Self> {
                let mut values = row.into_iter();
                let row = ($($name::from_value(values.next()?)?,)+);
                values.next().is_none().then_some(row)
            }
        }
    };
}
from_row!(A);
from_row!(A, B);
from_row!(A, B, C);
from_row!(A, B, C, D);
from_row!(A, B, C, D, E);
from_row!(A, B, C, D, E, F);
from_row!(A, B, C, D, E, F, G);
from_row!(A, B, C, D, E, F, G, H);

/// A named typed row: a struct whose fields are read by position, in the order they are
/// declared, for statements too wide for a tuple to read well.
macro_rules! typed_row {
    ($(#[$meta:meta])* $vis:vis struct $name:ident { $($field:ident: $ty:ty),+ $(,)? }) => {
        $(#[$meta])*
        $vis struct $name {
            $($field: $ty),+
        }

        impl $crate::db::FromRow for $name {
            const TYPES: &'static [kring_core::schema::ColumnType] =
                &[$(<$ty as $crate::db::FromValue>::TYPE),+];
            fn from_row(row: Vec<kring_core::Value>) -> Option<Self> {
                let mut values = row.into_iter();
                let row = $name {
                    $($field: <$ty as $crate::db::FromValue>::from_value(values.next()?)?),+
                };
                values.next().is_none().then_some(row)
            }
        }
    };
}
pub(crate) use typed_row;

fn typed<T: FromRow>(rows: Vec<Vec<Value>>) -> Result<Vec<T>, Error> {
    rows.into_iter()
        .map(|row| {
            T::from_row(row).ok_or_else(|| {
                Error::Internal(format!("a row is not {}", std::any::type_name::<T>()))
            })
        })
        .collect()
}

impl Db {
    /// [`Db::fetch`] for a fixed-shape statement, each row as `T`.
    pub async fn fetch_as<T: FromRow>(&self, stmt: &impl Statement) -> Result<Vec<T>, Error> {
        typed(self.fetch(stmt, T::TYPES).await?)
    }
}

impl Tx {
    /// [`Tx::fetch`] for a fixed-shape statement, each row as `T`.
    pub async fn fetch_as<T: FromRow>(&mut self, stmt: &impl Statement) -> Result<Vec<T>, Error> {
        typed(self.fetch(stmt, T::TYPES).await?)
    }
}

#[cfg(test)]
mod typed_rows {
    use super::*;

    #[test]
    fn rows_decode_into_tuples_and_refuse_another_shape() {
        let row = vec![Value::Int(7), Value::Null, Value::Text("a".into())];
        let decoded = <(i64, Option<i64>, String)>::from_row(row.clone());
        assert_eq!(decoded, Some((7, None, "a".to_string())));
        assert_eq!(
            <(i64, Option<i64>, String)>::TYPES,
            &[ColumnType::Int, ColumnType::Int, ColumnType::Text]
        );
        assert_eq!(
            <(i64, i64, String)>::from_row(row.clone()),
            None,
            "NULL is no i64"
        );
        assert_eq!(
            <(i64, Option<i64>)>::from_row(row),
            None,
            "a column too many"
        );
        assert_eq!(<(i64,)>::from_row(vec![]), None, "a column too few");
    }

    typed_row! {
        #[derive(Debug, PartialEq)]
        struct Named {
            id: i64,
            note: Option<String>,
        }
    }

    #[test]
    fn named_rows_decode_in_declared_order() {
        assert_eq!(Named::TYPES, &[ColumnType::Int, ColumnType::Text]);
        let row = vec![Value::Int(3), Value::Null];
        assert_eq!(Named::from_row(row), Some(Named { id: 3, note: None }));
        let swapped = vec![Value::Text("a".into()), Value::Int(3)];
        assert_eq!(Named::from_row(swapped), None);
    }
}
