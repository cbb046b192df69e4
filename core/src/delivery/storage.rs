//! Disk persistence: payloads that cannot be delivered now wait in files.
//!
//! One directory per user and instrumentation key (the key itself never
//! appears in the path: a hash of it does). The directory is 0700 and must
//! belong to us; files are 0600 and written atomically (temp file + rename).
//! A process takes a file by renaming it to a lease with an expiry, so two
//! processes sharing the directory never send the same file twice, and a lease
//! left by a crashed process is taken over once it expires. Size and age are
//! capped; what falls out is counted. Any I/O failure (read-only or full file
//! system) switches persistence off with one diagnostic: never a crash.
//!
//! The directory is read only now and then ([`RESCAN`], or when nothing known
//! is left to send): between reads an in-memory index of the files and their
//! total size keeps a write and a lease from costing a scan of every file,
//! which during an outage meant O(files) per batch. Other processes' files are
//! seen at the next read.

use super::storage_error::StorageError;
use crate::accounting::Counters;
use crate::diagnostics::Diagnostics;
use bytes::Bytes;
use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How stale the index may get before a write or a lease reads the directory
/// again, to see files other processes wrote or gave up.
const RESCAN: Duration = Duration::from_secs(5);

const BLOB: &str = "blob";
const LEASE: &str = "lease";
const TMP: &str = "tmp";

#[derive(Debug, Clone)]
pub struct StorageSettings {
    pub max_bytes: u64,
    pub retention: Duration,
    /// How long a taken file stays ours before another process may take it.
    pub lease: Duration,
}

/// The default directory: `<temp>/genkit-azure-<uid>/<hash of the key>`.
pub fn default_directory(instrumentation_key: &str) -> PathBuf {
    std::env::temp_dir()
        .join(format!("genkit-azure-{}", current_uid()))
        .join(format!("{:016x}", fnv1a(instrumentation_key.as_bytes())))
}

fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(unix)]
fn current_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}
#[cfg(not(unix))]
fn current_uid() -> u32 {
    0
}

/// A file taken for sending.
#[derive(Debug)]
pub(crate) struct Leased {
    stem: String,
    path: PathBuf,
    /// Where the file goes back if it must wait again.
    blob_path: PathBuf,
    pub body: Bytes,
}

#[derive(Debug)]
pub(crate) struct Storage {
    dir: PathBuf,
    settings: StorageSettings,
    enabled: AtomicBool,
    seq: AtomicU64,
    index: Mutex<Index>,
}

/// What the directory holds as far as this process knows: its own writes,
/// leases and deletes as they happen, everything else as of the last read.
#[derive(Debug, Default)]
struct Index {
    /// Blobs and leases by stem, oldest first (stems start with the write time).
    files: BTreeMap<String, Entry>,
    /// Their total size.
    bytes: u64,
    /// Bytes of writes under way, not in `files` yet: counted against the cap.
    reserved: u64,
    /// When the directory was last read; `None` before the first read.
    read_at: Option<Instant>,
    /// How many times the directory was read (for tests).
    reads: u64,
}

impl Index {
    fn stale(&self) -> bool {
        self.read_at.is_none_or(|t| t.elapsed() >= RESCAN)
    }

    fn insert(&mut self, entry: Entry) {
        self.bytes += entry.size;
        if let Some(old) = self.files.insert(entry.stem.clone(), entry) {
            self.bytes = self.bytes.saturating_sub(old.size);
        }
    }

    fn remove(&mut self, stem: &str) {
        if let Some(old) = self.files.remove(stem) {
            self.bytes = self.bytes.saturating_sub(old.size);
        }
    }
}

impl Storage {
    /// Opens (creating if needed) the directory. `Err` says why persistence is off.
    pub fn open(dir: &Path, settings: StorageSettings) -> Result<Self, StorageError> {
        create_private_dir(dir).map_err(|source| StorageError::Create {
            dir: dir.to_path_buf(),
            source,
        })?;
        check_private_dir(dir)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            settings,
            enabled: AtomicBool::new(true),
            seq: AtomicU64::new(0),
            index: Mutex::default(),
        })
    }

    fn index(&self) -> MutexGuard<'_, Index> {
        self.index.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reads the directory into the index.
    fn read_dir(&self, index: &mut Index) {
        index.files.clear();
        index.bytes = 0;
        for entry in self.entries() {
            index.insert(entry);
        }
        index.read_at = Some(Instant::now());
        index.reads += 1;
    }

    pub fn enabled(&self) -> bool {
        self.enabled.load(Relaxed)
    }

    fn disable(&self, what: &str, e: &io::Error, diagnostics: &Diagnostics) {
        if self.enabled.swap(false, Relaxed) {
            diagnostics.say("storage-off", || {
                format!(
                    "disk persistence is off ({what} in {} failed: {e}); undelivered data now waits in memory only",
                    self.dir.display()
                )
            });
        }
    }

    /// Writes a payload. Makes room by dropping the oldest files (counted).
    /// Returns false when it could not be written.
    pub fn write(&self, body: &[u8], counters: &Counters, diagnostics: &Diagnostics) -> bool {
        self.write_file(body, counters, diagnostics).is_some()
    }

    /// Writes every body, or none: when one cannot be written, those
    /// already written are removed again (their content is still in the
    /// caller's hands, e.g. a leased file that will be released).
    pub fn write_all(
        &self,
        bodies: &[&[u8]],
        counters: &Counters,
        diagnostics: &Diagnostics,
    ) -> bool {
        let mut written = Vec::with_capacity(bodies.len());
        for body in bodies {
            match self.write_file(body, counters, diagnostics) {
                Some(path) => written.push((path, body.len() as u64)),
                None => {
                    for (path, size) in written {
                        if fs::remove_file(path).is_ok() {
                            Counters::sub(&counters.disk_bytes, size);
                        }
                    }
                    return false;
                }
            }
        }
        true
    }

    fn write_file(
        &self,
        body: &[u8],
        counters: &Counters,
        diagnostics: &Diagnostics,
    ) -> Option<PathBuf> {
        if !self.enabled() {
            return None;
        }
        let size = body.len() as u64;
        if size > self.settings.max_bytes {
            return None;
        }
        self.make_room(size, counters);
        let name = format!(
            "{:020}-{}-{:06}",
            now_nanos(),
            std::process::id(),
            self.seq.fetch_add(1, Relaxed) % 1_000_000
        );
        let tmp = self.dir.join(format!("{name}.{TMP}"));
        let done = self.dir.join(format!("{name}.{BLOB}"));
        // Written without the index's lock: the fsync is slow, and other
        // writes and leases need not wait for it.
        let result = (|| {
            let mut f = private_file(&tmp)?;
            f.write_all(body)?;
            f.sync_data()?;
            fs::rename(&tmp, &done)
        })();
        let mut index = self.index();
        index.reserved = index.reserved.saturating_sub(size);
        match result {
            Ok(()) => {
                if let Some(entry) = Entry::parse(done.clone(), size) {
                    index.insert(entry);
                }
                drop(index);
                Counters::add(&counters.persisted_batches, 1);
                Counters::add(&counters.disk_bytes, size);
                Some(done)
            }
            Err(e) => {
                drop(index);
                let _ = fs::remove_file(&tmp);
                self.disable("writing a batch", &e, diagnostics);
                None
            }
        }
    }

    /// Drops the oldest files (counted) until `incoming` more bytes fit under
    /// the cap, and reserves them.
    fn make_room(&self, incoming: u64, counters: &Counters) {
        let mut index = self.index();
        if index.stale() {
            self.read_dir(&mut index);
        }
        while index.bytes + index.reserved + incoming > self.settings.max_bytes {
            // Leases are being sent: only blobs are evicted.
            let Some(oldest) = index
                .files
                .values()
                .find(|e| matches!(e.kind, Kind::Blob))
                .map(|e| (e.stem.clone(), e.path.clone(), e.size))
            else {
                break;
            };
            let (stem, path, size) = oldest;
            if fs::remove_file(&path).is_ok() {
                Counters::add(&counters.dropped_disk_full_batches, 1);
                Counters::sub(&counters.disk_bytes, size);
            }
            // Removed, or already gone (taken or removed by another process).
            index.remove(&stem);
        }
        index.reserved += incoming;
    }

    /// Takes the oldest file nobody holds, dropping those past retention.
    pub fn lease_oldest(&self, counters: &Counters, diagnostics: &Diagnostics) -> Option<Leased> {
        if !self.enabled() {
            return None;
        }
        let mut index = self.index();
        let mut read = false;
        if index.stale() {
            self.read_dir(&mut index);
            read = true;
        }
        loop {
            let now = SystemTime::now();
            let candidate = index
                .files
                .values()
                .find(|e| match &e.kind {
                    Kind::Blob => true,
                    Kind::Lease { until_ms, .. } => *until_ms < ms_since_epoch(now),
                })
                .cloned();
            let Some(entry) = candidate else {
                // Nothing known is left: other processes may have written or
                // given up files since the last read.
                if read {
                    return None;
                }
                self.read_dir(&mut index);
                read = true;
                continue;
            };
            index.remove(&entry.stem);
            let blob_path = match &entry.kind {
                Kind::Blob => entry.path.clone(),
                Kind::Lease { blob_path, .. } => blob_path.clone(),
            };
            if entry.age(now) > self.settings.retention {
                if fs::remove_file(&entry.path).is_ok() {
                    Counters::add(&counters.dropped_retention_batches, 1);
                    Counters::sub(&counters.disk_bytes, entry.size);
                }
                continue;
            }
            let lease_ms = u64::try_from(self.settings.lease.as_millis()).unwrap_or(u64::MAX);
            let until = ms_since_epoch(now).saturating_add(lease_ms);
            let lease_path = PathBuf::from(format!("{}.{until}.{LEASE}", blob_path.display()));
            // The rename is the lock: exactly one process wins it. A loser's
            // entry is gone from the index: the file is someone else's now.
            if fs::rename(&entry.path, &lease_path).is_err() {
                continue;
            }
            index.insert(Entry {
                path: lease_path.clone(),
                kind: Kind::Lease {
                    until_ms: until,
                    blob_path: blob_path.clone(),
                },
                ..entry.clone()
            });
            drop(index);
            return match fs::read(&lease_path) {
                Ok(body) => Some(Leased {
                    stem: entry.stem,
                    path: lease_path,
                    blob_path,
                    body: body.into(),
                }),
                Err(e) => {
                    self.disable("reading a batch", &e, diagnostics);
                    None
                }
            };
        }
    }

    /// The leased file was delivered (or dropped for good): remove it.
    pub fn delete(&self, leased: Leased, counters: &Counters) {
        if fs::remove_file(&leased.path).is_ok() {
            Counters::sub(&counters.disk_bytes, leased.body.len() as u64);
        }
        self.index().remove(&leased.stem);
    }

    /// The leased file must wait again: give it back.
    pub fn release(&self, leased: Leased) {
        let renamed = fs::rename(&leased.path, &leased.blob_path).is_ok();
        let mut index = self.index();
        index.remove(&leased.stem);
        if renamed {
            if let Some(entry) = Entry::parse(leased.blob_path, leased.body.len() as u64) {
                index.insert(entry);
            }
        }
    }

    /// How many times the directory was read so far.
    #[cfg(test)]
    fn directory_reads(&self) -> u64 {
        self.index().reads
    }

    /// Bytes in the directory now (all processes), from a scan.
    #[cfg(test)]
    pub fn scan_bytes(&self) -> u64 {
        self.entries().iter().map(|e| e.size).sum()
    }

    /// Blobs and leases in the directory now (all processes).
    fn entries(&self) -> Vec<Entry> {
        let Ok(rd) = fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        rd.filter_map(|e| e.ok())
            .filter_map(|e| Entry::parse(e.path(), e.metadata().ok()?.len()))
            .collect()
    }
}

#[derive(Debug, Clone)]
enum Kind {
    Blob,
    Lease { until_ms: u64, blob_path: PathBuf },
}

#[derive(Debug, Clone)]
struct Entry {
    path: PathBuf,
    stem: String,
    written_nanos: u128,
    size: u64,
    kind: Kind,
}

impl Entry {
    fn parse(path: PathBuf, size: u64) -> Option<Entry> {
        let name = path.file_name()?.to_str()?.to_string();
        let (stem, kind) = if let Some(stem) = name.strip_suffix(&format!(".{BLOB}")) {
            (stem.to_string(), Kind::Blob)
        } else if let Some(rest) = name.strip_suffix(&format!(".{LEASE}")) {
            let (blob, until) = rest.rsplit_once('.')?;
            let stem = blob.strip_suffix(&format!(".{BLOB}"))?.to_string();
            (
                stem,
                Kind::Lease {
                    until_ms: until.parse().ok()?,
                    blob_path: path.with_file_name(blob),
                },
            )
        } else {
            return None;
        };
        let written_nanos = stem.split('-').next()?.parse().ok()?;
        Some(Entry {
            path,
            stem,
            written_nanos,
            size,
            kind,
        })
    }

    fn age(&self, now: SystemTime) -> Duration {
        let now = now
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        Duration::from_nanos(now.saturating_sub(self.written_nanos).min(u64::MAX as u128) as u64)
    }
}

fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos()
}

fn ms_since_epoch(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as u64
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}
#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)
}

/// Refuses a directory another user owns or others can read or write: a
/// shared temp dir must not let them read telemetry or plant files.
#[cfg(unix)]
fn check_private_dir(dir: &Path) -> Result<(), StorageError> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let md = fs::metadata(dir).map_err(|source| StorageError::Inspect {
        dir: dir.to_path_buf(),
        source,
    })?;
    if md.uid() != current_uid() {
        return Err(StorageError::ForeignOwner {
            dir: dir.to_path_buf(),
        });
    }
    if md.mode() & 0o077 != 0 {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(|source| {
            StorageError::NotPrivate {
                dir: dir.to_path_buf(),
                source,
            }
        })?;
    }
    Ok(())
}
#[cfg(not(unix))]
fn check_private_dir(_dir: &Path) -> Result<(), StorageError> {
    Ok(())
}

#[cfg(unix)]
fn private_file(path: &Path) -> io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}
#[cfg(not(unix))]
fn private_file(path: &Path) -> io::Result<fs::File> {
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> StorageSettings {
        StorageSettings {
            max_bytes: 1000,
            retention: Duration::from_secs(3600),
            lease: Duration::from_secs(60),
        }
    }

    #[test]
    fn files_are_private_leased_once_and_oldest_first() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("store");
        let (c, d) = (Counters::default(), Diagnostics::default());
        let s = Storage::open(&dir, settings()).unwrap();
        assert!(s.write(b"first", &c, &d));
        assert!(s.write(b"second", &c, &d));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
                0o700
            );
            for e in fs::read_dir(&dir).unwrap() {
                assert_eq!(
                    e.unwrap().metadata().unwrap().permissions().mode() & 0o777,
                    0o600
                );
            }
        }
        let other = Storage::open(&dir, settings()).unwrap(); // a second process
        let a = s.lease_oldest(&c, &d).unwrap();
        assert_eq!(&a.body[..], b"first");
        let b = other.lease_oldest(&c, &d).unwrap();
        assert_eq!(
            &b.body[..],
            b"second",
            "a leased file is not handed out twice"
        );
        assert!(s.lease_oldest(&c, &d).is_none());
        s.release(a);
        assert_eq!(&other.lease_oldest(&c, &d).unwrap().body[..], b"first");
        other.delete(b, &c);
    }

    #[test]
    fn an_expired_lease_is_taken_over() {
        let tmp = tempfile::tempdir().unwrap();
        let (c, d) = (Counters::default(), Diagnostics::default());
        let mut st = settings();
        st.lease = Duration::ZERO;
        let crashed = Storage::open(tmp.path(), st.clone()).unwrap();
        assert!(crashed.write(b"orphan", &c, &d));
        let _held = crashed.lease_oldest(&c, &d).unwrap(); // never released: the owner died
        std::thread::sleep(Duration::from_millis(5));
        let next = Storage::open(tmp.path(), st).unwrap();
        assert_eq!(&next.lease_oldest(&c, &d).unwrap().body[..], b"orphan");
    }

    #[test]
    fn the_cap_drops_the_oldest_and_retention_drops_the_stale() {
        let tmp = tempfile::tempdir().unwrap();
        let (c, d) = (Counters::default(), Diagnostics::default());
        let s = Storage::open(tmp.path(), settings()).unwrap();
        for i in 0..5u8 {
            assert!(s.write(&[i; 300], &c, &d));
        }
        assert!(s.scan_bytes() <= 1000);
        assert_eq!(c.snapshot().dropped_disk_full_batches, 2);
        assert_eq!(
            s.lease_oldest(&c, &d).unwrap().body[0],
            2,
            "oldest went first"
        );

        let mut st = settings();
        st.retention = Duration::ZERO;
        let stale = Storage::open(tmp.path(), st).unwrap();
        assert!(stale.lease_oldest(&c, &d).is_none());
        assert_eq!(c.snapshot().dropped_retention_batches, 2);
    }

    #[test]
    fn writes_and_leases_do_not_read_the_directory_each_time() {
        let tmp = tempfile::tempdir().unwrap();
        let (c, d) = (Counters::default(), Diagnostics::default());
        let mut st = settings();
        st.max_bytes = 1 << 20;
        let s = Storage::open(tmp.path(), st).unwrap();
        for i in 0..200u32 {
            assert!(s.write(&i.to_le_bytes(), &c, &d));
        }
        for i in 0..100u32 {
            let leased = s.lease_oldest(&c, &d).unwrap();
            assert_eq!(&leased.body[..], &i.to_le_bytes());
            s.delete(leased, &c);
        }
        let leased = s.lease_oldest(&c, &d).unwrap();
        s.release(leased);
        // One read, then the index (a slow disk may pass RESCAN once or
        // twice); a read per call would be 300.
        assert!(s.directory_reads() < 10, "{}", s.directory_reads());
        assert_eq!(c.snapshot().disk_bytes, 100 * 4);
        assert_eq!(s.index().bytes, s.scan_bytes(), "the index keeps the total");
    }

    #[test]
    fn other_processes_files_are_seen_when_nothing_known_is_left() {
        let tmp = tempfile::tempdir().unwrap();
        let (c, d) = (Counters::default(), Diagnostics::default());
        let ours = Storage::open(tmp.path(), settings()).unwrap();
        let theirs = Storage::open(tmp.path(), settings()).unwrap();
        assert!(ours.write(b"ours", &c, &d));
        assert!(theirs.write(b"theirs", &c, &d));
        // Our index is fresh and knows only our file...
        let first = ours.lease_oldest(&c, &d).unwrap();
        assert_eq!(&first.body[..], b"ours");
        ours.delete(first, &c);
        // ...and once it is sent, the directory is read again.
        assert_eq!(&ours.lease_oldest(&c, &d).unwrap().body[..], b"theirs");
        assert!(ours.lease_oldest(&c, &d).is_none());
    }

    #[test]
    fn the_cap_counts_other_processes_files() {
        let tmp = tempfile::tempdir().unwrap();
        let (c, d) = (Counters::default(), Diagnostics::default());
        let ours = Storage::open(tmp.path(), settings()).unwrap();
        let theirs = Storage::open(tmp.path(), settings()).unwrap();
        assert!(theirs.write(&[1; 600], &c, &d));
        // Ours reads the directory before its first write: their file counts.
        assert!(ours.write(&[2; 600], &c, &d));
        assert_eq!(
            c.snapshot().dropped_disk_full_batches,
            1,
            "theirs, the oldest, went"
        );
        assert!(ours.scan_bytes() <= 1000);
    }

    #[test]
    fn a_failing_file_system_turns_persistence_off_instead_of_failing() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("store");
        let (c, d) = (Counters::default(), Diagnostics::default());
        let s = Storage::open(&dir, settings()).unwrap();
        // The directory vanishing makes every write fail, as a read-only or
        // full file system would (permission bits alone don't stop root).
        fs::remove_dir_all(&dir).unwrap();
        assert!(!s.write(b"x", &c, &d));
        assert!(!s.enabled());
        assert!(!s.write(b"y", &c, &d), "stays off");
        assert_eq!(c.snapshot().persisted_batches, 0);
    }

    #[test]
    fn a_directory_that_cannot_be_created_is_refused_at_open() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("a-file");
        fs::write(&file, b"").unwrap();
        let err = Storage::open(&file.join("sub"), settings()).unwrap_err();
        assert!(matches!(err, StorageError::Create { .. }), "{err:?}");
        assert!(err.to_string().starts_with("cannot use "), "{err}");
    }

    #[test]
    fn the_default_directory_hides_the_key() {
        let p = default_directory("11111111-2222-3333-4444-555555555555");
        assert!(!p.to_string_lossy().contains("11111111"));
        assert_eq!(p, default_directory("11111111-2222-3333-4444-555555555555"));
    }
}
