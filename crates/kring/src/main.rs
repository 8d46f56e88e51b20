//! `kring`: the command line. Every command takes the database the same way:
//! `--database-url` / `KRING_DATABASE_URL`, else `<data-dir>/kring.db` (SQLite).

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use kring_server::{Config, Db, admin, config};

#[derive(Parser)]
#[command(
    name = "kring",
    version,
    about = "Kring, a self-hostable CRM API server"
)]
struct Cli {
    /// `text` (colour only on a terminal) or `json`: one JSON object per line, for a log
    /// collector.
    #[arg(long, env = "KRING_LOG_FORMAT", default_value = "text", global = true, value_parser = ["text", "json"])]
    log_format: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct DatabaseArgs {
    /// sqlite://path/to/kring.db or postgres://user@host/db. Default: <data-dir>/kring.db.
    #[arg(long, env = "KRING_DATABASE_URL", global = true)]
    database_url: Option<String>,
    /// Where the embedded SQLite database lives when no URL is given.
    #[arg(
        long,
        env = "KRING_DATA_DIR",
        default_value = "./kring-data",
        global = true
    )]
    data_dir: PathBuf,
}

impl DatabaseArgs {
    fn url(&self) -> anyhow::Result<String> {
        Ok(config::database_url(
            self.database_url.as_deref(),
            &self.data_dir,
        )?)
    }

    async fn open_migrated(&self) -> anyhow::Result<Db> {
        let db = Db::connect(&self.url()?)
            .await
            .context("opening the database")?;
        kring_server::migrate(&db)
            .await
            .context("migrating the database")?;
        Ok(db)
    }
}

/// How `serve` delivers webhooks.
#[derive(Args, Clone)]
struct WebhookArgs {
    /// Deliver webhooks to loopback and private addresses too (closed networks, tests).
    #[arg(long, env = "KRING_WEBHOOK_ALLOW_PRIVATE")]
    webhook_allow_private: bool,
    /// A PEM file of extra certificate authorities to trust for HTTPS webhook targets, besides
    /// the system's.
    #[arg(long, env = "KRING_WEBHOOK_CA_FILE")]
    webhook_ca_file: Option<PathBuf>,
    /// Seconds one webhook attempt may take.
    #[arg(long, env = "KRING_WEBHOOK_TIMEOUT_SECONDS", default_value_t = config::DEFAULT_WEBHOOK_TIMEOUT)]
    webhook_timeout_seconds: u64,
    /// Seconds a claimed delivery stays with its instance before another may take it over
    /// (after a crash); longer than the timeout.
    #[arg(long, env = "KRING_WEBHOOK_LEASE_SECONDS", default_value_t = config::DEFAULT_WEBHOOK_LEASE)]
    webhook_lease_seconds: u64,
}

impl WebhookArgs {
    fn apply(self, config: &mut Config) {
        config.webhook_allow_private = self.webhook_allow_private;
        config.webhook_ca_file = self.webhook_ca_file.filter(|p| !p.as_os_str().is_empty());
        config.webhook_timeout_seconds = self.webhook_timeout_seconds;
        config.webhook_lease_seconds = self.webhook_lease_seconds;
    }
}

/// An S3-compatible bucket for uploaded files, instead of the local files directory.
#[derive(Args, Clone)]
struct S3Args {
    /// The S3 endpoint (https://s3.eu-west-1.amazonaws.com, http://127.0.0.1:9000); with it,
    /// files are kept in the bucket, so several instances serve the same files.
    #[arg(long, env = "KRING_S3_ENDPOINT")]
    s3_endpoint: Option<String>,
    #[arg(long, env = "KRING_S3_BUCKET")]
    s3_bucket: Option<String>,
    #[arg(long, env = "KRING_S3_REGION", default_value = "us-east-1")]
    s3_region: String,
    #[arg(long, env = "KRING_S3_ACCESS_KEY_ID")]
    s3_access_key_id: Option<String>,
    #[arg(long, env = "KRING_S3_SECRET_ACCESS_KEY", hide_env_values = true)]
    s3_secret_access_key: Option<String>,
    /// Address objects as <bucket>.<endpoint host> (AWS) rather than <endpoint>/<bucket>.
    #[arg(long, env = "KRING_S3_VIRTUAL_HOST")]
    s3_virtual_host: bool,
}

impl S3Args {
    fn config(self) -> anyhow::Result<Option<config::S3Config>> {
        let Some(endpoint) = self.s3_endpoint.filter(|e| !e.is_empty()) else {
            return Ok(None);
        };
        let (Some(bucket), Some(access_key_id), Some(secret_access_key)) = (
            self.s3_bucket,
            self.s3_access_key_id,
            self.s3_secret_access_key,
        ) else {
            anyhow::bail!(
                "--s3-endpoint needs --s3-bucket, --s3-access-key-id and --s3-secret-access-key"
            );
        };
        Ok(Some(config::S3Config {
            endpoint,
            bucket,
            region: self.s3_region,
            access_key_id,
            secret_access_key,
            virtual_host: self.s3_virtual_host,
        }))
    }
}

// Parsed once at start and matched at once: the size of `Serve`'s many options costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Migrate the database and serve the API.
    Serve {
        /// Address to listen on.
        #[arg(long, env = "KRING_BIND", default_value = "127.0.0.1:8080")]
        bind: String,
        /// Largest JSON or form body accepted, in bytes.
        #[arg(long, env = "KRING_BODY_LIMIT", default_value_t = 1024 * 1024)]
        body_limit: usize,
        /// Requests per minute per token owner on /api (per client IP without a valid token).
        #[arg(long, env = "KRING_RATE_LIMIT", default_value_t = config::DEFAULT_RATE_LIMIT)]
        rate_limit: u64,
        /// Requests one token owner may have in progress at once on this instance (429 above).
        #[arg(long, env = "KRING_CONCURRENCY_LIMIT", default_value_t = config::DEFAULT_CONCURRENCY_LIMIT)]
        concurrency_limit: usize,
        /// Seconds a request's expensive reads (filters, orders, deep pages) may run before
        /// they are stopped with a 503; on PostgreSQL also every statement's limit.
        #[arg(long, env = "KRING_QUERY_TIMEOUT", default_value_t = 5.0, value_parser = seconds)]
        query_timeout: f64,
        /// Without --public-url, a host (besides loopback) whose `Host` header absolute URLs
        /// may follow; repeat for several. Any other `Host` is answered 421.
        #[arg(
            long = "allowed-host",
            env = "KRING_ALLOWED_HOSTS",
            value_delimiter = ','
        )]
        allowed_hosts: Vec<String>,
        /// Origins whose browser apps may call the API (https://app.example.com), or * for
        /// any; repeat or separate with commas. None by default.
        #[arg(
            long = "cors-origins",
            env = "KRING_CORS_ORIGINS",
            value_delimiter = ','
        )]
        cors_origins: Vec<String>,
        /// Fractional digits of the timestamps in responses: 6 as Laravel writes them, 3 as
        /// Cirqll's documentation shows them (0 to 6).
        #[arg(long, env = "KRING_TIMESTAMP_PRECISION", default_value_t = 6)]
        timestamp_precision: usize,
        /// Require PKCE of confidential OAuth clients too (public clients always need it).
        #[arg(long, env = "KRING_REQUIRE_PKCE")]
        require_pkce: bool,
        /// Connections open at once; more are closed as soon as they are accepted.
        #[arg(long, env = "KRING_MAX_CONNECTIONS", default_value_t = 4096)]
        max_connections: usize,
        /// Seconds a client has to send a request's head, on a new connection and between
        /// the requests of a kept-alive one.
        #[arg(long, env = "KRING_HEADER_TIMEOUT", default_value_t = 10.0, value_parser = seconds)]
        header_timeout: f64,
        /// The slowest a request body may arrive, in bytes per second, after its first ten
        /// seconds.
        #[arg(long, env = "KRING_MIN_BODY_RATE", default_value_t = 1024)]
        min_body_rate: u64,
        #[command(flatten)]
        webhooks: WebhookArgs,
        /// Keep rate-limit counters in this Redis (redis://host:6379) so that several instances
        /// share one budget. Without it, each instance counts in memory.
        #[arg(long, env = "KRING_REDIS_URL")]
        redis_url: Option<String>,
        /// Prefix of Kring's Redis keys; give every instance of one deployment the same.
        #[arg(long, env = "KRING_REDIS_PREFIX", default_value = "kring")]
        redis_prefix: String,
        /// Where uploaded files are kept. Default: <data-dir>/files.
        #[arg(long, env = "KRING_FILES_DIR")]
        files_dir: Option<PathBuf>,
        /// Largest uploaded file, in bytes (413 above).
        #[arg(long, env = "KRING_UPLOAD_FILE_LIMIT", default_value_t = config::DEFAULT_UPLOAD_FILE_LIMIT)]
        upload_file_limit: u64,
        /// Largest multipart request, in bytes (413 above).
        #[arg(long, env = "KRING_UPLOAD_REQUEST_LIMIT", default_value_t = config::DEFAULT_UPLOAD_REQUEST_LIMIT)]
        upload_request_limit: u64,
        /// The public base URL of this server (https://crm.example.com), for download links.
        /// Default: taken from each request's Host header.
        #[arg(long, env = "KRING_PUBLIC_URL")]
        public_url: Option<String>,
        #[command(flatten)]
        s3: Box<S3Args>,
        /// Seconds a kept file that no record names must be old before it is swept (what an
        /// upload killed before its commit left); checked at start and every hour.
        #[arg(long, env = "KRING_ORPHAN_GRACE", default_value_t = 3600.0, value_parser = seconds)]
        orphan_grace: f64,
        /// Seconds a download link in a response opens its file, with no header needed.
        #[arg(long, env = "KRING_FILE_LINK_LIFETIME", default_value_t = 3600.0, value_parser = seconds)]
        file_link_lifetime: f64,
        /// Seconds a token's principal is remembered at most (0: read for every request); a
        /// revocation or a change of role, permissions or language forgets them at once.
        #[arg(long, env = "KRING_PRINCIPAL_CACHE", default_value_t = 5.0, value_parser = seconds)]
        principal_cache: f64,
        /// A bearer token that opens `/metrics` on this port (without one, that route is 404).
        #[arg(long, env = "KRING_METRICS_TOKEN")]
        metrics_token: Option<String>,
        /// Serve `/metrics` alone, without a token, on this address too (e.g. 127.0.0.1:9090).
        #[arg(long, env = "KRING_METRICS_BIND")]
        metrics_bind: Option<String>,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Copy the SQLite database, consistently, while `serve` keeps writing; with --files, the
    /// uploaded files too.
    Backup {
        /// The new file the copy goes to.
        #[arg(long)]
        to: PathBuf,
        /// A new directory to copy the kept files into.
        #[arg(long)]
        files: Option<PathBuf>,
        /// The deployment's files directory. Default: <data-dir>/files.
        #[arg(long, env = "KRING_FILES_DIR")]
        files_dir: Option<PathBuf>,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Put a backup in place as the SQLite database (stop `serve` first).
    Restore {
        /// The backup file.
        #[arg(long)]
        from: PathBuf,
        /// A backup's files directory, copied into the files directory.
        #[arg(long)]
        files: Option<PathBuf>,
        /// Overwrite an existing database.
        #[arg(long)]
        replace: bool,
        /// The deployment's files directory. Default: <data-dir>/files.
        #[arg(long, env = "KRING_FILES_DIR")]
        files_dir: Option<PathBuf>,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Copy a whole SQLite deployment onto a new, empty PostgreSQL database, then verify it
    /// (rows and a checksum per table).
    Move {
        /// The SQLite database: sqlite://path/to/kring.db.
        #[arg(long)]
        from: String,
        /// The PostgreSQL database: postgres://user@host/db (migrated here; must hold no data).
        #[arg(long)]
        to: String,
        /// The deployment's files directory, whose kept files go to the bucket when one is
        /// given (--s3-*); without a bucket they stay where they are.
        #[arg(long, env = "KRING_FILES_DIR")]
        files_dir: Option<PathBuf>,
        #[command(flatten)]
        s3: Box<S3Args>,
    },
    /// Print the OpenAPI 3.1 document that `/openapi.json` serves.
    Openapi,
    /// Apply pending migrations (safe to run again).
    Migrate {
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Fill a company with demo customers, for trying Kring out and for benchmarks.
    Seed {
        /// How many customers to add.
        #[arg(long)]
        customers: u64,
        /// The company to fill (created with a demo owner if it does not exist).
        #[arg(long, default_value = DEFAULT_DEMO_COMPANY)]
        company: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage personal access tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Manage OAuth clients.
    Client {
        #[command(subcommand)]
        command: ClientCommand,
    },
}

#[derive(Subcommand)]
enum ClientCommand {
    /// Register an OAuth client owned by a user; prints its id and secret as JSON (the secret
    /// is stored only as a hash and cannot be shown again).
    Create {
        /// The user who owns the client (client-credentials tokens act as this user).
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// An allowed redirect URI (exact match); repeat for several.
        #[arg(long = "redirect", required = true)]
        redirects: Vec<String>,
        /// A public client (no secret; a browser or native app). PKCE protects its codes.
        #[arg(long)]
        public: bool,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user (and its company, if new); prints the user as JSON.
    Create {
        #[arg(long)]
        company: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        email: String,
        #[arg(long, env = "KRING_USER_PASSWORD")]
        password: String,
        #[arg(long, default_value = "company_owner", value_parser = ["company_owner", "company_viewer"])]
        role: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a personal access token; prints the token alone on stdout.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "cli")]
        name: String,
        /// Space-separated scopes (`customers:read contacts:write`); `*` is everything.
        #[arg(long, default_value = "*")]
        scopes: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

/// A positive, finite number of seconds.
fn seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 && s <= 86_400.0 => Ok(s),
        _ => Err(format!(
            "'{text}' is not a number of seconds (such as 5 or 0.5)"
        )),
    }
}

/// The demo owner of a seeded company: `demo@kring.test` for the default one, and an address
/// of its own for any other, so each can be named to `kring token create`.
fn demo_owner_email(company: &str) -> String {
    if company == DEFAULT_DEMO_COMPANY {
        return "demo@kring.test".into();
    }
    let slug: String = company
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let slug: Vec<&str> = slug.split('-').filter(|part| !part.is_empty()).collect();
    format!("demo-{}@kring.test", slug.join("-"))
}

const DEFAULT_DEMO_COMPANY: &str = "Kring Demo";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    kring_server::init_logging(cli.log_format == "json");
    // Any command may reach a bucket or a webhook target over HTTPS.
    kring_server::install_tls_provider();
    match cli.command {
        Command::Serve {
            bind,
            body_limit,
            rate_limit,
            concurrency_limit,
            query_timeout,
            allowed_hosts,
            require_pkce,
            cors_origins,
            timestamp_precision,
            max_connections,
            header_timeout,
            min_body_rate,
            webhooks,
            redis_url,
            redis_prefix,
            files_dir,
            upload_file_limit,
            upload_request_limit,
            public_url,
            s3,
            orphan_grace,
            file_link_lifetime,
            principal_cache,
            metrics_token,
            metrics_bind,
            database,
        } => {
            let mut config = Config::new(database.url()?);
            config.files_dir = files_dir.unwrap_or_else(|| database.data_dir.join("files"));
            config.upload_file_limit = upload_file_limit;
            config.upload_request_limit = upload_request_limit;
            config.public_url = public_url.filter(|u| !u.is_empty());
            config.s3 = (*s3).config()?;
            config.orphan_grace = std::time::Duration::from_secs_f64(orphan_grace);
            config.file_link_lifetime = std::time::Duration::from_secs_f64(file_link_lifetime);
            config.principal_cache = std::time::Duration::from_secs_f64(principal_cache);
            config.metrics_token = metrics_token.filter(|t| !t.is_empty());
            config.metrics_bind = metrics_bind.filter(|b| !b.is_empty());
            config.body_limit = body_limit;
            config.rate_limit = rate_limit;
            config.concurrency_limit = concurrency_limit;
            config.query_timeout = std::time::Duration::from_secs_f64(query_timeout);
            config.allowed_hosts = allowed_hosts;
            config.require_pkce = require_pkce;
            config.cors_origins = cors_origins;
            config.timestamp_precision = timestamp_precision;
            config.connections.max_connections = max_connections.max(1);
            config.connections.header_timeout = std::time::Duration::from_secs_f64(header_timeout);
            config.connections.min_body_rate = min_body_rate;
            webhooks.apply(&mut config);
            config.redis_url = redis_url.filter(|u| !u.is_empty());
            config.redis_prefix = redis_prefix;
            let state = kring_server::prepare(config)
                .await
                .context("preparing the database")?;
            let listener = tokio::net::TcpListener::bind(&bind)
                .await
                .with_context(|| format!("binding {bind}"))?;
            tracing::info!(address = %listener.local_addr()?, "kring is listening");
            kring_server::serve(state, listener, kring_server::shutdown_signal()).await?;
        }
        Command::Backup {
            to,
            files,
            files_dir,
            database,
        } => {
            let files_dir = files_dir.unwrap_or_else(|| database.data_dir.join("files"));
            let db = Db::connect(&database.url()?).await?;
            let copied = kring_server::backup::backup(
                &db,
                &to,
                files.as_deref().map(|into| (files_dir.as_path(), into)),
            )
            .await;
            db.close().await;
            let copied = copied?;
            eprintln!(
                "backed up {} bytes of database to {} and {} files",
                copied.database_bytes,
                to.display(),
                copied.files
            );
        }
        Command::Restore {
            from,
            files,
            replace,
            files_dir,
            database,
        } => {
            let files_dir = files_dir.unwrap_or_else(|| database.data_dir.join("files"));
            let copied = kring_server::backup::restore(
                &from,
                &database.url()?,
                replace,
                files.as_deref().map(|backup| (backup, files_dir.as_path())),
            )
            .await?;
            eprintln!(
                "restored {} bytes of database and {} files",
                copied.database_bytes, copied.files
            );
        }
        Command::Move {
            from,
            to,
            files_dir,
            s3,
        } => {
            move_deployment(&from, &to).await?;
            if let Some(s3) = s3.config()? {
                let files_dir =
                    files_dir.context("--s3-endpoint with kring move needs --files-dir")?;
                let mut config = Config::new(to.clone());
                config.s3 = Some(s3);
                config.files_dir = files_dir.clone();
                let uploaded = kring_server::files::FileStore::new(&config)?
                    .upload_kept(&files_dir)
                    .await?;
                eprintln!("put {uploaded} kept files in the bucket");
            }
        }
        Command::Openapi => {
            let document = serde_json::to_string_pretty(&kring_server::openapi::document())?;
            println!("{document}");
        }
        Command::Migrate { database } => {
            database.open_migrated().await?.close().await;
            eprintln!("migrations applied");
        }
        Command::Seed {
            customers,
            company,
            database,
        } => {
            let db = database.open_migrated().await?;
            if !admin::company_exists(&db, &company).await? {
                let email = demo_owner_email(&company);
                admin::create_user(
                    &db,
                    &company,
                    "Demo Owner",
                    &email,
                    "kring-demo-password",
                    "company_owner",
                )
                .await?;
                eprintln!(
                    "created {company} with owner {email}; `kring token create --email {email}` gives a token"
                );
            }
            kring_server::seed::demo(&db, &company, customers).await?;
            db.close().await;
            eprintln!("added {customers} customers to {company}");
        }
        Command::User {
            command:
                UserCommand::Create {
                    company,
                    name,
                    email,
                    password,
                    role,
                    database,
                },
        } => {
            let db = database.open_migrated().await?;
            let user = admin::create_user(&db, &company, &name, &email, &password, &role).await?;
            db.close().await;
            println!("{}", serde_json::to_string_pretty(&user)?);
        }
        Command::Client {
            command:
                ClientCommand::Create {
                    email,
                    name,
                    redirects,
                    public,
                    database,
                },
        } => {
            let db = database.open_migrated().await?;
            let client =
                kring_server::oauth::clients::create(&db, &email, &name, &redirects, public)
                    .await?;
            db.close().await;
            println!("{client}");
        }
        Command::Token {
            command:
                TokenCommand::Create {
                    email,
                    name,
                    scopes,
                    database,
                },
        } => {
            let db = database.open_migrated().await?;
            let token = admin::create_token_with_scopes(&db, &email, &name, &scopes).await?;
            db.close().await;
            println!("{token}");
        }
    }
    Ok(())
}

/// `kring move`: the copy with a progress bar on a terminal (a line per table otherwise), then
/// the verification's table.
async fn move_deployment(from: &str, to: &str) -> anyhow::Result<()> {
    let source_file = kring_server::backup::sqlite_file(from)?;
    anyhow::ensure!(
        source_file.is_some_and(|file| file.exists()),
        "--from names no SQLite database: {from}"
    );
    let source = Db::connect(from).await?;
    let target = Db::connect(to).await?;
    kring_server::migrate(&target).await?;
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let bar = indicatif::ProgressBar::hidden();
    if terminal {
        bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        bar.set_style(
            indicatif::ProgressStyle::with_template("{msg:>24} [{bar:40}] {pos}/{len}")
                .map_err(|e| anyhow::anyhow!("{e}"))?,
        );
    }
    let mut current = String::new();
    let moved = kring_server::mover::move_all(&source, &target, &mut |step| {
        if step.table != current {
            if !terminal && !current.is_empty() {
                eprintln!("copied {current}");
            }
            current = step.table.to_string();
            bar.set_message(current.clone());
            bar.set_length(step.total);
        }
        bar.set_position(step.done);
    })
    .await;
    bar.finish_and_clear();
    source.close().await;
    target.close().await;
    let verified = moved?;
    let mut unequal = 0;
    for table in &verified {
        let mark = if table.equal() { "ok" } else { "DIFFERS" };
        if !table.equal() {
            unequal += 1;
        }
        eprintln!(
            "{:<28} {:>9} rows  {}  {}",
            table.table, table.target_rows, table.target_checksum, mark
        );
    }
    anyhow::ensure!(unequal == 0, "{unequal} tables differ after the move");
    eprintln!(
        "moved {} tables; every count and checksum is equal",
        verified.len()
    );
    Ok(())
}
