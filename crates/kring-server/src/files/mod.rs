//! Uploaded files: kept under names Kring generates, in a local directory or an S3-compatible
//! bucket, recorded as `media` rows in the write's transaction, and served back only to the
//! owning company (`crate::api::files`).
//!
//! An upload is first *staged* (streamed to the local `incoming/`), then validated; a write that
//! keeps it moves it to `objects/<company>/` (or uploads it to `<company>/<key>` in the bucket)
//! before its transaction commits, so every committed row has its file. Whatever is still staged
//! when the request ends, because validation failed or the client went away, is deleted then;
//! what a crash left staged is swept at the next start.
//!
//! Staging is the instance's own: `incoming/` lives in its `--files-dir`, which no other
//! instance uses (instances share files through a bucket, never through one directory), so
//! whatever is staged when an instance starts belongs to no running request.

mod bucket;

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use chrono::Utc;
use kring_core::Value;
use kring_core::manageit::FileKind;
use kring_core::schema::ColumnType;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::db::{Raw, Tx};
use crate::error::Error;
use crate::tenant::Tenant;

/// Where files live: `<root>/incoming/<key>` while a request runs; once a write keeps them,
/// `<root>/objects/<company>/<key>` or, with a bucket, its object `<company>/<key>`. Keys are
/// random hex, never a client's file name.
#[derive(Debug, Clone)]
pub struct FileStore {
    root: PathBuf,
    bucket: Option<bucket::Bucket>,
    /// Told when a deletion has committed, so the sweeper need not wait for its next round.
    deletions: Arc<tokio::sync::Notify>,
}

/// A file streamed to `incoming/` whose request has not decided about it yet.
#[derive(Debug)]
pub struct StagedFile {
    pub key: String,
    pub size: u64,
    pub kind: FileKind,
    /// Hex SHA-256 of the content: the same upload sent twice is the same request.
    pub sha256: String,
}

/// Bytes of a file kept to tell its kind.
const SNIFFED_BYTES: usize = 512;

impl FileStore {
    pub fn new(config: &crate::config::Config) -> Result<FileStore, Error> {
        Ok(FileStore {
            root: config.files_dir.clone(),
            bucket: config.s3.as_ref().map(bucket::Bucket::new).transpose()?,
            deletions: Arc::default(),
        })
    }

    /// Says that a transaction which queued files for removal ([`forget`]) has committed.
    pub fn wake_sweeper(&self) {
        self.deletions.notify_one();
    }

    /// Resolves when [`FileStore::wake_sweeper`] was called.
    pub async fn deleted(&self) {
        self.deletions.notified().await;
    }

    /// Deletes everything staged, at start, before this instance serves a request: what a
    /// killed server left behind (T74). Only this instance stages here, and none of its
    /// requests runs yet, so no staged file can still be wanted; waiting for it to age (as
    /// a directory shared by live instances would need) would only keep a crash's leftovers.
    pub async fn sweep_staging(&self) {
        let Ok(mut entries) = tokio::fs::read_dir(self.root.join("incoming")).await else {
            return;
        };
        while let Ok(Some(entry)) = entries.next_entry().await {
            if let Err(e) = tokio::fs::remove_file(entry.path()).await {
                tracing::warn!(error = %e, path = %entry.path().display(), "a staged file could not be removed");
            }
        }
    }

    /// Refuses an upload of up to `bytes` that would not leave [`reserve`] free where it is
    /// staged (with a bucket too: staging is always local), so that an upload never fills the
    /// disk the database may share. Nothing is read before this check.
    pub fn check_room(&self, bytes: u64) -> Result<(), Error> {
        let Some(stats) = self
            .root
            .ancestors()
            .find_map(|dir| rustix::fs::statvfs(dir).ok())
        else {
            return Ok(());
        };
        let free = stats.f_bavail.saturating_mul(stats.f_frsize);
        let size = stats.f_blocks.saturating_mul(stats.f_frsize);
        let spare = free.saturating_sub(reserve(size));
        match bytes <= spare {
            true => Ok(()),
            false => Err(Error::NoRoomForUpload {
                needed: bytes,
                free: spare,
            }),
        }
    }

    fn incoming(&self, key: &str) -> PathBuf {
        self.root.join("incoming").join(key)
    }

    fn object(&self, company_id: i64, key: &str) -> PathBuf {
        self.root
            .join("objects")
            .join(company_id.to_string())
            .join(key)
    }

    /// Starts staging one upload under a new key.
    pub async fn stage(&self) -> Result<Staging, Error> {
        let key = random_key()?;
        let path = self.incoming(&key);
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(io_error)?;
        }
        let file = tokio::fs::File::create(&path).await.map_err(io_error)?;
        Ok(Staging {
            key,
            path,
            file: Some(file),
            size: 0,
            head: Vec::new(),
            digest: Sha256::new(),
        })
    }

    /// Moves a staged file to its company's objects, before the write that records it begins:
    /// a directory sync or a bucket upload must not hold the database (on SQLite, the one
    /// writer every write waits for). The row commits after the file is in place (C2).
    pub async fn keep(
        &self,
        company_id: i64,
        staged: &StagedFile,
        content_type: &str,
    ) -> Result<(), Error> {
        crate::telemetry::uploaded(staged.size);
        let incoming = self.incoming(&staged.key);
        if let Some(bucket) = &self.bucket {
            let key = format!("{company_id}/{}", staged.key);
            bucket
                .put_file(&key, &incoming, staged.size, &staged.sha256, content_type)
                .await?;
            let _ = tokio::fs::remove_file(&incoming).await;
            return Ok(());
        }
        let target = self.object(company_id, &staged.key);
        let Some(parent) = target.parent() else {
            return Err(Error::Internal("an object path has no directory".into()));
        };
        tokio::fs::create_dir_all(parent).await.map_err(io_error)?;
        tokio::fs::rename(incoming, &target)
            .await
            .map_err(io_error)?;
        // A rename is durable once its directory is synced; the row committing next must not
        // outlive the file's name after a power loss (C2).
        sync_dir(parent).await
    }

    /// Removes a kept file; one already gone is fine.
    pub async fn remove(&self, company_id: i64, key: &str) -> Result<(), Error> {
        if let Some(bucket) = &self.bucket {
            return bucket.delete(&format!("{company_id}/{key}")).await;
        }
        match tokio::fs::remove_file(self.object(company_id, key)).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_error(e)),
            _ => Ok(()),
        }
    }

    /// Puts every file kept in the files directory `from` (`objects/<company>/<key>`) into
    /// this store's bucket under the same `<company>/<key>`, the name its row gives it; how
    /// many. Without a bucket there is nothing to do. For a deployment that moves its files
    /// into a bucket (`kring move`).
    pub async fn upload_kept(&self, from: &std::path::Path) -> Result<u64, Error> {
        let Some(bucket) = &self.bucket else {
            return Ok(0);
        };
        let objects = from.join("objects");
        let Ok(companies) = std::fs::read_dir(&objects) else {
            return Ok(0);
        };
        let mut uploaded = 0;
        for company in companies.flatten() {
            let Ok(files) = std::fs::read_dir(company.path()) else {
                continue;
            };
            let company = company.file_name().to_string_lossy().to_string();
            for file in files.flatten() {
                let path = file.path();
                if !file.file_type().is_ok_and(|t| t.is_file()) {
                    continue;
                }
                // Kept files are bounded by the upload limit: read whole to hash them.
                let bytes = tokio::fs::read(&path).await.map_err(io_error)?;
                let digest = hex(&Sha256::digest(&bytes));
                let key = format!("{company}/{}", file.file_name().to_string_lossy());
                let size = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
                bucket
                    .put_file(&key, &path, size, &digest, "application/octet-stream")
                    .await?;
                uploaded += 1;
            }
        }
        Ok(uploaded)
    }

    /// A kept file's content as a streaming body and its length; `None` when it is missing.
    pub async fn open(
        &self,
        company_id: i64,
        key: &str,
    ) -> Result<Option<(Body, Option<u64>)>, Error> {
        if let Some(bucket) = &self.bucket {
            let Some(response) = bucket.get(&format!("{company_id}/{key}")).await? else {
                return Ok(None);
            };
            let length = response.content_length();
            return Ok(Some((Body::from_stream(response.bytes_stream()), length)));
        }
        let Ok(file) = tokio::fs::File::open(self.object(company_id, key)).await else {
            return Ok(None);
        };
        let length = file.metadata().await.map(|m| m.len()).ok();
        // In 64 KiB chunks, so a download never sits whole in memory.
        let chunks = tokio_util::io::ReaderStream::with_capacity(file, 64 * 1024);
        Ok(Some((Body::from_stream(chunks), length)))
    }

    /// Deletes what is still staged under `keys`.
    pub fn discard(&self, keys: impl IntoIterator<Item = String>) {
        for key in keys {
            let _ = std::fs::remove_file(self.incoming(&key));
        }
    }
}

/// One upload being written; [`Staging::finish`] closes it. Dropped unfinished, it deletes its
/// file.
pub struct Staging {
    key: String,
    path: PathBuf,
    file: Option<tokio::fs::File>,
    size: u64,
    head: Vec<u8>,
    digest: Sha256,
}

impl Staging {
    pub fn size(&self) -> u64 {
        self.size
    }

    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), Error> {
        if self.head.len() < SNIFFED_BYTES {
            let take = (SNIFFED_BYTES - self.head.len()).min(chunk.len());
            self.head
                .extend_from_slice(chunk.get(..take).unwrap_or_default());
        }
        self.size += u64::try_from(chunk.len()).unwrap_or(u64::MAX);
        self.digest.update(chunk);
        match self.file.as_mut() {
            Some(file) => file.write_all(chunk).await.map_err(io_error),
            None => Ok(()),
        }
    }

    pub async fn finish(mut self) -> Result<StagedFile, Error> {
        if let Some(mut file) = self.file.take() {
            file.flush().await.map_err(io_error)?;
            file.sync_all().await.map_err(io_error)?;
        }
        let staged = StagedFile {
            key: std::mem::take(&mut self.key),
            size: self.size,
            kind: kring_core::manageit::sniff(&self.head),
            sha256: hex(&std::mem::take(&mut self.digest).finalize()),
        };
        // Finished: the request now owns the file and discards or keeps it.
        self.path = PathBuf::new();
        Ok(staged)
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// What uploads leave free on a filesystem of `size` bytes: a twentieth of it, at most 32 MiB.
fn reserve(size: u64) -> u64 {
    (size / 20).min(32 * 1024 * 1024)
}

async fn sync_dir(dir: &std::path::Path) -> Result<(), Error> {
    let dir = tokio::fs::File::open(dir).await.map_err(io_error)?;
    dir.sync_all().await.map_err(io_error)
}

fn io_error(e: std::io::Error) -> Error {
    match e.kind() {
        std::io::ErrorKind::StorageFull => Error::StorageFull,
        _ => Error::Internal(format!("file storage: {e}")),
    }
}

fn random_key() -> Result<String, Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| Error::Internal(format!("random: {e}")))?;
    Ok(hex(&bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The name a file is shown and downloaded under: the client's base name without control,
/// format (bidi) or path characters, at most 255 bytes, never empty, `.` or `..` (T43).
pub fn display_name(client_name: &str) -> String {
    let base = client_name.rsplit(['/', '\\']).next().unwrap_or("");
    let mut name = String::new();
    for c in base.chars().filter(|c| is_shown(*c)) {
        if name.len() + c.len_utf8() > 255 {
            break;
        }
        name.push(c);
    }
    let name = name.trim().to_string();
    if name.is_empty() || name.chars().all(|c| c == '.') {
        "file".to_string()
    } else {
        name
    }
}

fn is_shown(c: char) -> bool {
    !(c.is_control()
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
        || matches!(c, ':' | '*' | '?' | '"' | '<' | '>' | '|'))
}

/// The content type a file is stored and served with: what its bytes are, not what the client
/// said (T42); never HTML.
pub fn content_type(kind: FileKind, extension: Option<&str>) -> &'static str {
    match (kind, extension) {
        (FileKind::Pdf, _) => "application/pdf",
        (FileKind::Png, _) => "image/png",
        (FileKind::Jpeg, _) => "image/jpeg",
        (FileKind::Gif, _) => "image/gif",
        (FileKind::Webp, _) => "image/webp",
        (FileKind::Zip, Some("docx")) => {
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        }
        (FileKind::Zip, Some("xlsx")) => {
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        }
        (FileKind::Zip, _) => "application/zip",
        (FileKind::Ole, Some("xls")) => "application/vnd.ms-excel",
        (FileKind::Ole, _) => "application/msword",
        (FileKind::Text, _) => "text/plain; charset=utf-8",
        (FileKind::Unknown, _) => "application/octet-stream",
    }
}

/// A file as a record keeps it.
pub struct NewMedia<'a> {
    pub model: &'a str,
    pub model_id: i64,
    pub collection: &'a str,
    pub name: &'a str,
    pub staged: &'a StagedFile,
    pub mime_type: &'a str,
}

/// Records a kept file ([`FileStore::keep`], before the transaction began) as a `media` row of
/// `model_id`, in `tx`.
pub async fn record(tx: &mut Tx, tenant: Tenant, media: NewMedia<'_>) -> Result<(), Error> {
    let now = Utc::now();
    let size = i64::try_from(media.staged.size).unwrap_or(i64::MAX);
    tx.insert(&Raw::new(
        "INSERT INTO media (company_id, model_type, model_id, uuid, collection_name, name, \
         file_name, mime_type, size, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        vec![
            tenant.company_id.into(),
            media.model.into(),
            media.model_id.into(),
            media.staged.key.clone().into(),
            media.collection.into(),
            media.name.into(),
            media.name.into(),
            media.mime_type.into(),
            size.into(),
            now.into(),
            now.into(),
        ],
    ))
    .await?;
    Ok(())
}

/// Deletes the media rows of a customer's collection (a replaced photo, a file field's files);
/// the trigger on `media` queues their files for the sweeper, in `tx`, so the bytes go once the
/// deletion has committed.
pub async fn forget(
    tx: &mut Tx,
    tenant: Tenant,
    model: &str,
    id: i64,
    collection: &str,
) -> Result<(), Error> {
    tx.execute(&Raw::new(
        "DELETE FROM media WHERE company_id = ? AND model_type = ? AND model_id = ? \
         AND collection_name = ?",
        vec![
            tenant.company_id.into(),
            model.into(),
            id.into(),
            collection.into(),
        ],
    ))
    .await?;
    Ok(())
}

/// The key that signs download links: made once per deployment, at the first start, and kept
/// in the database so that every instance signs and checks with the same one.
pub async fn link_key(db: &crate::db::Db) -> Result<Vec<u8>, Error> {
    let made = crate::crypto::random_secret()?;
    let mut tx = db.begin().await?;
    tx.execute(&Raw::new(
        "INSERT INTO server_keys (name, secret) VALUES ('file_links', ?) \
         ON CONFLICT (name) DO NOTHING",
        vec![made.into()],
    ))
    .await?;
    let rows: Vec<(String,)> = tx
        .fetch_as(&Raw::new(
            "SELECT secret FROM server_keys WHERE name = 'file_links'",
            vec![],
        ))
        .await?;
    tx.commit().await?;
    rows.into_iter()
        .next()
        .map(|(secret,)| secret.into_bytes())
        .ok_or_else(|| Error::Internal("the download link key is missing".into()))
}

/// Removes the files of deleted media rows (queued by the trigger on `media`), a batch at a
/// time; returns how many went. Safe on several instances at once: removing twice is harmless.
pub async fn sweep_deletions(db: &crate::db::Db, store: &FileStore) -> Result<usize, Error> {
    let queued = db
        .fetch(
            &Raw::new(
                "SELECT id, company_id, uuid FROM file_deletions ORDER BY id LIMIT 100",
                vec![],
            ),
            &[ColumnType::Int, ColumnType::Int, ColumnType::Text],
        )
        .await?;
    let mut done = Vec::new();
    for row in &queued {
        if let [Value::Int(id), Value::Int(company), Value::Text(uuid)] = row.as_slice() {
            match store.remove(*company, uuid).await {
                Ok(()) => done.push(sea_query::Value::from(*id)),
                // Kept in the queue: the next sweep tries again.
                Err(e) => tracing::warn!(error = %e, uuid, "a deleted file could not be removed"),
            }
        }
    }
    if !done.is_empty() {
        let mut tx = db.begin().await?;
        let placeholders = vec!["?"; done.len()].join(", ");
        tx.execute(&Raw::owned(
            format!("DELETE FROM file_deletions WHERE id IN ({placeholders})"),
            done.clone(),
        ))
        .await?;
        tx.commit().await?;
    }
    Ok(done.len())
}

/// Files looked up in one statement while sweeping.
const SWEEP_BATCH: usize = 500;

/// Deletes kept files older than `grace` that no media row names: what a write killed between
/// keeping its file and committing left behind. Walks the whole store a batch at a time; safe
/// beside live writes (theirs are younger than `grace`) and on several instances at once.
/// Returns how many went.
pub async fn sweep_orphans(
    db: &crate::db::Db,
    store: &FileStore,
    grace: std::time::Duration,
) -> Result<usize, Error> {
    let cutoff = std::time::SystemTime::now()
        .checked_sub(grace)
        .unwrap_or(std::time::UNIX_EPOCH);
    let mut swept = 0;
    if let Some(bucket) = &store.bucket {
        let mut after: Option<String> = None;
        loop {
            let page = bucket.list(after.as_deref()).await?;
            let old = page.objects.iter().filter_map(|(name, written)| {
                let written = std::time::SystemTime::from(*written.as_ref()?);
                let (company, key) = name.split_once('/')?;
                (written < cutoff).then_some(())?;
                own_key(company, key)
            });
            swept += remove_unrecorded(db, store, old.collect()).await?;
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(swept),
            }
        }
    }
    let Ok(mut companies) = tokio::fs::read_dir(store.root.join("objects")).await else {
        return Ok(0);
    };
    while let Ok(Some(company)) = companies.next_entry().await {
        let Ok(mut files) = tokio::fs::read_dir(company.path()).await else {
            continue;
        };
        let mut batch = Vec::new();
        while let Ok(Some(file)) = files.next_entry().await {
            let old = file
                .metadata()
                .await
                .and_then(|m| m.modified())
                .is_ok_and(|at| at < cutoff);
            let named = own_key(
                &company.file_name().to_string_lossy(),
                &file.file_name().to_string_lossy(),
            );
            if let Some(named) = named.filter(|_| old) {
                batch.push(named);
            }
            if batch.len() >= SWEEP_BATCH {
                swept += remove_unrecorded(db, store, std::mem::take(&mut batch)).await?;
            }
        }
        swept += remove_unrecorded(db, store, batch).await?;
    }
    Ok(swept)
}

/// A kept file's company and key, when its name is one Kring gives (anything else in the
/// store is not Kring's to delete).
fn own_key(company: &str, key: &str) -> Option<(i64, String)> {
    let company = company.parse::<i64>().ok()?;
    let shaped = key.len() == 32 && key.bytes().all(|b| b.is_ascii_hexdigit());
    shaped.then(|| (company, key.to_string()))
}

/// Removes those of `files` that no media row names; how many went.
async fn remove_unrecorded(
    db: &crate::db::Db,
    store: &FileStore,
    files: Vec<(i64, String)>,
) -> Result<usize, Error> {
    let mut by_company: std::collections::BTreeMap<i64, Vec<String>> = Default::default();
    for (company, key) in files {
        by_company.entry(company).or_default().push(key);
    }
    let mut removed = 0;
    for (company, keys) in by_company {
        let placeholders = vec!["?"; keys.len()].join(", ");
        let mut values = vec![sea_query::Value::from(company)];
        values.extend(keys.iter().map(|k| sea_query::Value::from(k.clone())));
        let recorded: Vec<(String,)> = db
            .fetch_as(&Raw::owned(
                format!("SELECT uuid FROM media WHERE company_id = ? AND uuid IN ({placeholders})"),
                values,
            ))
            .await?;
        let recorded: std::collections::HashSet<String> =
            recorded.into_iter().map(|(uuid,)| uuid).collect();
        for key in keys.iter().filter(|k| !recorded.contains(*k)) {
            match store.remove(company, key).await {
                Ok(()) => removed += 1,
                Err(e) => {
                    tracing::warn!(error = %e, key, "an unrecorded file could not be removed")
                }
            }
        }
    }
    Ok(removed)
}
