//! `kring backup` and `kring restore` for the embedded SQLite database: an online, consistent
//! copy taken while `serve` keeps writing (`VACUUM INTO` reads one snapshot, so the copy holds
//! every write committed before it began and none half), with the kept files beside it; and
//! its way back, which never replaces a database without being told to.
//!
//! PostgreSQL has its own tools (`pg_dump`/`pg_restore`, see the README); a bucket is backed up
//! with the bucket's.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection};

use crate::db::Db;
use crate::error::Error;

/// What a backup or a restore copied.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Copied {
    pub database_bytes: u64,
    pub files: u64,
}

const POSTGRES: &str = "kring backup copies the embedded SQLite database; for PostgreSQL use \
     pg_dump -Fc (and pg_restore), as the README shows";

/// Copies the database `db` serves to `to` (a new file), and with `files` the kept files of
/// `files.0` (a files directory) into `files.1` (a new directory).
pub async fn backup(db: &Db, to: &Path, files: Option<(&Path, &Path)>) -> Result<Copied, Error> {
    let Db::Sqlite { read, .. } = db else {
        return Err(Error::Config(POSTGRES.into()));
    };
    refuse_existing(to)?;
    if let Some((_, into)) = files {
        refuse_existing(into)?;
    }
    // Written beside its name and renamed when whole, so a file at `to` is always a complete
    // copy.
    let partial = with_suffix(to, ".partial");
    let _ = std::fs::remove_file(&partial);
    let target = text_of(&partial)?;
    let mut lent = read.lend().await?;
    let copied = sqlx::query(AssertSqlSafe(format!(
        "VACUUM INTO '{}'",
        target.replace('\'', "''")
    )))
    .execute(lent.connection()?)
    .await;
    lent.settle(&copied);
    copied?;
    check_integrity(&partial).await?;
    sync_file(&partial)?;
    std::fs::rename(&partial, to).map_err(|e| io("naming the backup", to, e))?;
    let mut copied = Copied {
        database_bytes: std::fs::metadata(to).map(|m| m.len()).unwrap_or(0),
        files: 0,
    };
    if let Some((from, into)) = files {
        copied.files = copy_tree(&from.join("objects"), &into.join("objects"))?;
    }
    Ok(copied)
}

/// Puts the backup `from` in place as the SQLite database of `database_url`, and with `files`
/// the backed-up files of `files.0` into the files directory `files.1`. An existing database
/// is refused unless `replace`; the server must be stopped first.
pub async fn restore(
    from: &Path,
    database_url: &str,
    replace: bool,
    files: Option<(&Path, &Path)>,
) -> Result<Copied, Error> {
    let Some(target) = sqlite_file(database_url)? else {
        return Err(Error::Config(POSTGRES.into()));
    };
    if target.exists() && !replace {
        return Err(Error::Config(format!(
            "{} exists: stop kring and restore with --replace to overwrite it",
            target.display()
        )));
    }
    check_integrity(from).await?;
    if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| io("making", parent, e))?;
    }
    let incoming = with_suffix(&target, ".restoring");
    std::fs::copy(from, &incoming).map_err(|e| io("copying", from, e))?;
    sync_file(&incoming)?;
    // The old database's journal belongs to it alone.
    for journal in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(with_suffix(&target, journal));
    }
    std::fs::rename(&incoming, &target).map_err(|e| io("naming", &target, e))?;
    let mut copied = Copied {
        database_bytes: std::fs::metadata(&target).map(|m| m.len()).unwrap_or(0),
        files: 0,
    };
    if let Some((from, into)) = files {
        copied.files = copy_tree(&from.join("objects"), &into.join("objects"))?;
    }
    Ok(copied)
}

/// The file a `sqlite:` URL names; `None` for any other database.
pub fn sqlite_file(database_url: &str) -> Result<Option<PathBuf>, Error> {
    if !database_url.starts_with("sqlite:") {
        return Ok(None);
    }
    let options = SqliteConnectOptions::from_str(database_url).map_err(Error::config)?;
    Ok(Some(options.get_filename().to_path_buf()))
}

/// SQLite's own check of every page and index of the file at `path`.
async fn check_integrity(path: &Path) -> Result<(), Error> {
    let mut connection: SqliteConnection = SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .connect()
        .await?;
    let (verdict,): (String,) = sqlx::query_as("PRAGMA integrity_check")
        .fetch_one(&mut connection)
        .await?;
    connection.close().await?;
    match verdict.as_str() {
        "ok" => Ok(()),
        other => Err(Error::Config(format!(
            "{} fails SQLite's integrity check: {other}",
            path.display()
        ))),
    }
}

fn refuse_existing(path: &Path) -> Result<(), Error> {
    match path.exists() {
        true => Err(Error::Config(format!(
            "{} exists: a backup goes to a new name",
            path.display()
        ))),
        false => Ok(()),
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn text_of(path: &Path) -> Result<&str, Error> {
    path.to_str()
        .ok_or_else(|| Error::Config(format!("{} is not UTF-8", path.display())))
}

fn sync_file(path: &Path) -> Result<(), Error> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| io("syncing", path, e))
}

fn io(doing: &str, path: &Path, e: std::io::Error) -> Error {
    Error::Config(format!("{doing} {}: {e}", path.display()))
}

/// Copies every file under `from` to the same place under `into`; how many. A missing `from`
/// is an empty tree (nothing was ever uploaded).
fn copy_tree(from: &Path, into: &Path) -> Result<u64, Error> {
    if !from.exists() {
        return Ok(0);
    }
    std::fs::create_dir_all(into).map_err(|e| io("making", into, e))?;
    let mut copied = 0;
    for entry in std::fs::read_dir(from).map_err(|e| io("reading", from, e))? {
        let entry = entry.map_err(|e| io("reading", from, e))?;
        let (source, target) = (entry.path(), into.join(entry.file_name()));
        let kind = entry.file_type().map_err(|e| io("reading", &source, e))?;
        if kind.is_dir() {
            copied += copy_tree(&source, &target)?;
        } else if kind.is_file() {
            std::fs::copy(&source, &target).map_err(|e| io("copying", &source, e))?;
            copied += 1;
        }
    }
    Ok(copied)
}
