//! Starting Kring: preparing the state, serving, the background loops and shutting down.

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::auth::cache::Principals;
use crate::auth::rate_limit;
use crate::config::Config;
use crate::db::{self, Db};
use crate::error::Error;
use crate::files;
use crate::state::{AppState, Shared};
use crate::{routes, webhooks};

/// Makes _ring_ the process's TLS crypto provider, which every `reqwest` client needs before it
/// is built (Kring's build has no other provider). `prepare` calls it; code that builds a client
/// without preparing a server (tests, tools) calls it first. Calling it again does nothing.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Migrates the schema, fills what older records left empty, then brings the permissions the
/// registry implies, and the built-in roles' grants, up to date (a new resource's permissions
/// reach existing companies).
pub async fn migrate(db: &Db) -> Result<(), Error> {
    db::migrate(db).await?;
    crate::engine::write::fill_missing(db).await?;
    crate::auth::sync_permissions(db).await
}

/// Connects, migrates and returns the application state.
pub async fn prepare(config: Config) -> Result<AppState, Error> {
    config.check()?;
    install_tls_provider();
    let egress = Arc::new(webhooks::Egress::new(&config)?);
    let db = Db::connect_bounded(&config.database_url, config.query_timeout).await?;
    migrate(&db).await?;
    db.analyze(false).await?;
    let limiter = match &config.redis_url {
        Some(url) => {
            let clock = config.clock.clone();
            rate_limit::Limiter::redis(url, &config.redis_prefix, config.rate_limit, clock).await?
        }
        None => rate_limit::Limiter::memory(config.rate_limit, config.clock.clone()),
    };
    let concurrency_limit = config.concurrency_limit;
    let files = files::FileStore::new(&config)?;
    files.sweep_staging().await;
    let link_key = files::link_key(&db).await?;
    let principals = Arc::new(Principals::new(config.principal_cache));
    Ok(AppState::new(Shared {
        db,
        principals,
        config: Arc::new(config),
        limiter: Arc::new(limiter),
        concurrency: Arc::new(rate_limit::Concurrency::new(concurrency_limit)),
        egress,
        files: Arc::new(files),
        link_key: Arc::new(link_key),
    }))
}

/// Serves on `listener` until `shutdown` completes, then finishes in-flight requests, stops the
/// webhook worker (releasing the deliveries it had claimed) and closes the database.
/// `/metrics` alone on `address` (`--metrics-bind`), for a scraper on a network the API's
/// clients do not reach.
async fn serve_metrics(
    address: &str,
    state: AppState,
) -> Result<tokio::task::JoinHandle<()>, Error> {
    let listener = TcpListener::bind(address)
        .await
        .map_err(|e| Error::Config(format!("binding --metrics-bind {address}: {e}")))?;
    tracing::info!(address = %address, "metrics are served");
    let app = routes::metrics_router(state);
    Ok(tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::warn!(error = %e, "the metrics listener stopped");
        }
    }))
}

pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let db = state.db.clone();
    let statistics = tokio::spawn(keep_statistics_fresh(db.clone()));
    let access = tokio::spawn(hear_access_changes(db.clone()));
    let worker = AppState::new(Shared {
        db: state.db.for_background(),
        ..Shared::clone(&state)
    });
    let (stop_deliveries, stop) = tokio::sync::watch::channel(false);
    let deliveries = tokio::spawn(webhooks::run(worker, stop));
    let file_sweeper = tokio::spawn(sweep_files(state.db.for_background(), state.files.clone()));
    let orphan_sweeper = tokio::spawn(sweep_orphans(
        state.db.for_background(),
        state.files.clone(),
        state.config.orphan_grace,
    ));
    crate::telemetry::install();
    let metrics = match state.config.metrics_bind.clone() {
        Some(address) => Some(serve_metrics(&address, state.clone()).await?),
        None => None,
    };
    let limits = state.config.connections;
    let app = routes::router(state);
    let served = crate::http::listener::run(listener, app, limits, shutdown).await;
    statistics.abort();
    access.abort();
    if let Some(metrics) = metrics {
        metrics.abort();
    }
    file_sweeper.abort();
    orphan_sweeper.abort();
    stop_deliveries.send_replace(true);
    // The worker drops its attempts and releases their claims; bounded, should the database
    // not answer.
    if tokio::time::timeout(std::time::Duration::from_secs(10), deliveries)
        .await
        .is_err()
    {
        tracing::warn!(
            "the webhook worker did not stop in time; its claims expire with their lease"
        );
    }
    db.close().await;
    served
}

/// On PostgreSQL, listens for the changes other instances make to what tokens act as
/// (`db::ACCESS_CHANNEL`), so that each forgets the principals it remembers at once; while
/// the listener is not connected, none are remembered. SQLite has no other instance.
async fn hear_access_changes(db: Db) {
    let Db::Postgres { pool, .. } = &db else {
        return;
    };
    loop {
        if let Ok(mut listener) = sqlx::postgres::PgListener::connect_with(pool).await
            && listener.listen(db::ACCESS_CHANNEL).await.is_ok()
        {
            db.hearing_access_changes(true);
            // `None` or an error: the connection is gone, and what was said meanwhile unheard.
            while let Ok(Some(_)) = listener.try_recv().await {
                db.heard_access_change();
            }
            db.hearing_access_changes(false);
            tracing::warn!("lost the access-change listener; reconnecting");
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}

/// Refreshes the query planner's statistics every hour, as SQLite recommends for long-lived
/// connections; cheap when little has changed.
async fn keep_statistics_fresh(db: Db) {
    let mut hourly = tokio::time::interval(std::time::Duration::from_secs(3600));
    hourly.tick().await;
    loop {
        hourly.tick().await;
        if let Err(e) = db.analyze(false).await {
            tracing::warn!(error = %e, "refreshing planner statistics failed");
        }
    }
}

/// Removes the files of deleted media every half minute (right away while a backlog lasts).
async fn sweep_files(db: Db, store: Arc<files::FileStore>) {
    loop {
        match files::sweep_deletions(&db, &store).await {
            Ok(n) if n > 0 => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "sweeping deleted files failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(30)) => {}
            _ = store.deleted() => {}
        }
    }
}

/// Removes kept files that no media row names (an upload killed between keeping its file and
/// committing), at start and then every hour.
async fn sweep_orphans(db: Db, store: Arc<files::FileStore>, grace: std::time::Duration) {
    let mut hourly = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        hourly.tick().await;
        match files::sweep_orphans(&db, &store, grace).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(files = n, "swept files that no record names"),
            Err(e) => tracing::warn!(error = %e, "sweeping unrecorded files failed"),
        }
    }
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}

/// Logs to stderr; `RUST_LOG` (or `KRING_LOG`) filters, `info` by default.
pub fn init_logging(json: bool) {
    let filter = std::env::var("KRING_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr);
    let _ = match json {
        // One object per line, each event's fields at its top level.
        true => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init(),
        // Colour only for a person at a terminal: a file or a pipe gets plain text.
        false => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
    };
}

/// Logging for tests: warnings and errors (a 500's detail) into the test's captured output.
pub fn init_test_logging() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
        ))
        .with_test_writer()
        .try_init();
}
