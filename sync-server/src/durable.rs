//! Group commit. The serving connection commits without waiting for the disk (WAL with
//! `synchronous=NORMAL`: a commit survives the process being killed, not yet a power cut); one
//! `fsync` of the write-ahead log then makes every commit before it durable. A device's accepted
//! changes are acknowledged only once that `fsync` is done, so devices writing at the same time
//! share one instead of queueing behind one each while the hub is locked.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{Notify, watch};

/// Shortest time between two `fsync`s of the log: a commit waits at most this long for its
/// `fsync` beyond the `fsync` itself, and a busy server makes at most 100 a second.
pub const FLUSH_EVERY: Duration = Duration::from_millis(10);

/// Commits waiting to become durable, and the flusher that makes them so.
#[derive(Debug)]
pub struct Durability {
    /// The store's write-ahead log (`None` for a store without a file).
    wal: Option<PathBuf>,
    /// Sequence number of the last commit that must become durable.
    written: AtomicU64,
    /// Sequence number up to which commits are durable.
    durable: watch::Sender<u64>,
    wake: Notify,
    /// The log, kept open once it exists (the hub's connection keeps SQLite from deleting it).
    log: std::sync::Mutex<Option<std::fs::File>>,
}

impl Durability {
    /// For the store file at `db_path` (empty for an in-memory store).
    pub fn new(db_path: &str) -> Durability {
        Durability {
            wal: (!db_path.is_empty()).then(|| PathBuf::from(format!("{db_path}-wal"))),
            written: AtomicU64::new(0),
            durable: watch::channel(0).0,
            wake: Notify::new(),
            log: std::sync::Mutex::new(None),
        }
    }

    /// Records that a commit was made; returns its sequence number, to pass to [`Self::wait`].
    pub fn wrote(&self) -> u64 {
        let seq = self.written.fetch_add(1, Ordering::SeqCst) + 1;
        self.wake.notify_one();
        seq
    }

    /// Waits until commit `seq` is durable.
    pub async fn wait(&self, seq: u64) {
        let mut durable = self.durable.subscribe();
        let _ = durable.wait_for(|d| *d >= seq).await;
    }

    /// Makes every commit so far durable now (blocking).
    pub fn sync_now(&self) -> std::io::Result<()> {
        let target = self.written.load(Ordering::SeqCst);
        self.sync_log()?;
        self.durable.send_if_modified(|d| {
            let advanced = target > *d;
            *d = (*d).max(target);
            advanced
        });
        Ok(())
    }

    /// The flusher: whenever commits are waiting, one `fsync` for all of them, at most one every
    /// [`FLUSH_EVERY`] so that under load each covers many. Runs until the log cannot be synced,
    /// and returns why: what was written can then no longer be known to be on disk (a failed
    /// `fsync` may drop the pages it could not write, and a later one succeed without them), so
    /// nothing more is acknowledged and the server must stop. Devices keep what was not
    /// acknowledged and send it again.
    pub async fn run(self: std::sync::Arc<Self>) -> std::io::Error {
        let mut last = tokio::time::Instant::now() - FLUSH_EVERY;
        loop {
            self.wake.notified().await;
            tokio::time::sleep_until(last + FLUSH_EVERY).await;
            last = tokio::time::Instant::now();
            let me = self.clone();
            match tokio::task::spawn_blocking(move || me.sync_now()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return e,
                Err(e) => return std::io::Error::other(e),
            }
        }
    }

    /// `fsync` of the write-ahead log. Without a log file everything is in the database file,
    /// which SQLite syncs when it checkpoints.
    fn sync_log(&self) -> std::io::Result<()> {
        let Some(wal) = self.wal.as_deref() else {
            return Ok(());
        };
        let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        if log.is_none() {
            match std::fs::File::open(wal) {
                Ok(file) => *log = Some(file),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        log.as_ref().expect("opened above").sync_data()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn a_log_that_cannot_be_synced_stops_the_flusher_and_nothing_is_acknowledged() {
        let dir = tempfile::tempdir().unwrap();
        // The log's folder is a file: opening the log fails, as a failing disk would.
        std::fs::write(dir.path().join("store"), b"").unwrap();
        let db = dir.path().join("store").join("s.sqlite3");
        let d = Arc::new(Durability::new(db.to_str().unwrap()));
        let commit = d.wrote();
        let error = tokio::time::timeout(Duration::from_secs(5), d.clone().run())
            .await
            .expect("the flusher stops");
        assert_eq!(error.kind(), std::io::ErrorKind::NotADirectory, "{error}");
        let acknowledged = tokio::time::timeout(Duration::from_millis(100), d.wait(commit)).await;
        assert!(
            acknowledged.is_err(),
            "a commit not known to be on disk is not acknowledged"
        );
    }

    #[tokio::test]
    async fn a_commit_is_acknowledged_once_the_log_is_synced() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("s.sqlite3");
        std::fs::write(format!("{}-wal", db.display()), b"log").unwrap();
        let d = Arc::new(Durability::new(db.to_str().unwrap()));
        let first = d.wrote();
        let second = d.wrote();
        // Nothing flushed yet: waiting does not finish.
        let waiting = tokio::time::timeout(Duration::from_millis(50), d.wait(second)).await;
        assert!(waiting.is_err());
        tokio::spawn(d.clone().run());
        tokio::time::timeout(Duration::from_secs(5), d.wait(second))
            .await
            .expect("one flush covers both commits");
        tokio::time::timeout(Duration::from_secs(5), d.wait(first))
            .await
            .unwrap();
    }
}
