//! Fetching from the ServiceTracker API into a spool inside the extract's
//! `.partial` folder, so an extract killed at any moment continues where
//! it stopped when run again — with no page fetched twice into the landed
//! data and none missed.
//!
//! Layout of `<extract>.partial/_spool/`:
//! - `_state.json`: the source URL, the `since` of a delta and the page
//!   size — a later run resumes this folder only when all three match;
//! - `<object>/page-NNNNNN.json`: each page's body exactly as received
//!   (after checking it parses), written under a temporary name and renamed;
//! - `<object>/checkpoint.json`: pages and records kept, the cursor of the
//!   next page, and whether the object is complete. It is written after the
//!   page it counts, so a page on disk beyond the checkpoint is from a run
//!   that died in between and is fetched again;
//! - `<object>/deleted.json`: the deletions the source reported;
//! - `files/<hex of attachment id>`: attachment contents.
//!
//! Landing reads only the spool; the spool is removed once the extract is
//! complete. The API key is never written here.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::atomic_write::write_atomically;
use crate::error::{Error, IoContext, Result};
use crate::source::api::{ApiClient, DeletedRecord};

pub const SPOOL_DIR: &str = "_spool";
const STATE_FILE: &str = "_state.json";
const CHECKPOINT_FILE: &str = "checkpoint.json";
const DELETED_SPOOL_FILE: &str = "deleted.json";
const FILES_DIR: &str = "files";

/// What a spool was started for; resuming needs the same.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpoolState {
    pub source: String,
    pub since: Option<String>,
    pub page_size: usize,
}

/// Progress of one object.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Checkpoint {
    pub pages: u64,
    pub records: u64,
    pub bytes: u64,
    pub next_cursor: Option<String>,
    pub done: bool,
    /// The server does not know the object (404).
    pub missing: bool,
    pub deletions_done: bool,
}

/// A spool folder.
#[derive(Debug, Clone)]
pub struct Spool {
    pub dir: PathBuf,
}

impl Spool {
    pub fn at(extract_folder: &Path) -> Self {
        Spool {
            dir: extract_folder.join(SPOOL_DIR),
        }
    }

    pub fn create(extract_folder: &Path, state: &SpoolState) -> Result<Self> {
        let spool = Spool::at(extract_folder);
        std::fs::create_dir_all(&spool.dir).at(&spool.dir)?;
        write_atomically(&spool.dir.join(STATE_FILE), json_bytes(state))?;
        Ok(spool)
    }

    /// The state a spool was started with, if it has one.
    pub fn state(&self) -> Option<SpoolState> {
        let bytes = std::fs::read(self.dir.join(STATE_FILE)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    fn object_dir(&self, object: &str) -> PathBuf {
        self.dir.join(object)
    }

    pub fn checkpoint(&self, object: &str) -> Result<Checkpoint> {
        let path = self.object_dir(object).join(CHECKPOINT_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                Error::input(
                    &path,
                    format!("the checkpoint is damaged ({e})"),
                    "delete the extract's .partial folder and extract again",
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Checkpoint::default()),
            Err(e) => Err(e).at(&path),
        }
    }

    fn save_checkpoint(&self, object: &str, checkpoint: &Checkpoint) -> Result<()> {
        write_atomically(
            &self.object_dir(object).join(CHECKPOINT_FILE),
            json_bytes(checkpoint),
        )
    }

    pub fn page_path(&self, object: &str, page: u64) -> PathBuf {
        self.object_dir(object).join(format!("page-{page:06}.json"))
    }

    pub fn deleted(&self, object: &str) -> Result<Vec<DeletedRecord>> {
        let path = self.object_dir(object).join(DELETED_SPOOL_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                Error::input(
                    &path,
                    format!("the spooled deletions are damaged ({e})"),
                    "delete the extract's .partial folder and extract again",
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(e).at(&path),
        }
    }

    pub fn attachment_path(&self, id: &str) -> PathBuf {
        self.dir.join(FILES_DIR).join(hex::encode(id.as_bytes()))
    }

    /// Fetches `object` from its checkpoint to its last page, then its
    /// deletions. `on_records` sees how many records each page added.
    pub async fn fetch_object(
        &self,
        client: &ApiClient,
        object: &str,
        state: &SpoolState,
        on_records: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<Checkpoint> {
        let dir = self.object_dir(object);
        std::fs::create_dir_all(&dir).at(&dir)?;
        let mut checkpoint = self.checkpoint(object)?;
        while !checkpoint.done {
            let fetched = client
                .page(
                    object,
                    state.page_size,
                    checkpoint.next_cursor.as_deref(),
                    state.since.as_deref(),
                )
                .await?;
            let Some((page, body_len)) = fetched else {
                checkpoint.done = true;
                checkpoint.missing = true;
                checkpoint.deletions_done = true;
                self.save_checkpoint(object, &checkpoint)?;
                return Ok(checkpoint);
            };
            let records = page.data.len() as u64;
            if records > 0 {
                let body = serde_json::to_vec(&page.data).expect("raw JSON serializes");
                write_atomically(&self.page_path(object, checkpoint.pages + 1), &body)?;
                checkpoint.pages += 1;
                checkpoint.records += records;
                checkpoint.bytes += body_len as u64;
            }
            match page.next_cursor {
                // A server repeating a cursor would page forever.
                Some(next) if checkpoint.next_cursor.as_deref() == Some(next.as_str()) => {
                    return Err(Error::Remote(format!(
                        "ServiceTracker returned the same cursor twice for {object} ({next}); the listing cannot continue"
                    )));
                }
                Some(next) => checkpoint.next_cursor = Some(next),
                None => {
                    checkpoint.next_cursor = None;
                    checkpoint.done = true;
                }
            }
            self.save_checkpoint(object, &checkpoint)?;
            on_records(records);
        }
        if !checkpoint.deletions_done {
            let deleted = client.deleted(object, state.since.as_deref()).await?;
            write_atomically(&dir.join(DELETED_SPOOL_FILE), json_bytes(&deleted))?;
            checkpoint.deletions_done = true;
            self.save_checkpoint(object, &checkpoint)?;
        }
        Ok(checkpoint)
    }

    /// Downloads every attachment not already in the spool, `parallel` at a
    /// time. Contents are checked when landed, not here: a mismatch is a
    /// finding about the data, not a reason to stop fetching.
    pub async fn fetch_attachments(
        self: &Arc<Self>,
        client: &Arc<ApiClient>,
        ids: Vec<String>,
        parallel: usize,
        on_done: Arc<dyn Fn(u64) + Send + Sync>,
    ) -> Result<()> {
        let files = self.dir.join(FILES_DIR);
        std::fs::create_dir_all(&files).at(&files)?;
        let semaphore = Arc::new(tokio::sync::Semaphore::new(parallel.max(1)));
        let mut tasks = tokio::task::JoinSet::new();
        for id in ids {
            let path = self.attachment_path(&id);
            if path.exists() || missing_marker(&path).exists() {
                on_done(1);
                continue;
            }
            let permit = semaphore
                .clone()
                .acquire_owned()
                .await
                .expect("the semaphore is never closed");
            let client = client.clone();
            let on_done = on_done.clone();
            tasks.spawn(async move {
                let _permit = permit;
                let result = match client.attachment(&id).await? {
                    Some(bytes) => write_atomically(&path, &bytes),
                    None => write_atomically(&missing_marker(&path), b""),
                };
                on_done(1);
                result
            });
            // Surface a failure early instead of after every download.
            while let Some(done) = tasks.try_join_next() {
                done.expect("attachment tasks do not panic")?;
            }
        }
        while let Some(done) = tasks.join_next().await {
            done.expect("attachment tasks do not panic")?;
        }
        Ok(())
    }

    /// An attachment's spooled content: `None` when the server had none.
    pub fn attachment(&self, id: &str) -> Option<Vec<u8>> {
        std::fs::read(self.attachment_path(id)).ok()
    }

    pub fn remove(&self) -> Result<()> {
        std::fs::remove_dir_all(&self.dir).at(&self.dir)
    }
}

/// Written when the server answered 404 for an attachment, so a resumed run
/// does not ask again.
fn missing_marker(path: &Path) -> PathBuf {
    path.with_extension("missing")
}

fn json_bytes(value: &impl Serialize) -> Vec<u8> {
    serde_json::to_vec_pretty(value).expect("spool records serialize")
}

/// The spooled pages of `object`, in order, exactly as many as its
/// checkpoint counts.
pub fn spooled_pages(spool: &Spool, object: &str, checkpoint: &Checkpoint) -> Vec<PathBuf> {
    (1..=checkpoint.pages)
        .map(|page| spool.page_path(object, page))
        .collect()
}
