//! Why disk persistence is off: the directory could not be made, inspected,
//! or kept private. Never fatal; the pipeline says it once and goes on from
//! memory.

use std::io;
use std::path::PathBuf;

/// Why `Storage::open` refused a directory.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StorageError {
    #[error("cannot use {}: {source}", dir.display())]
    Create { dir: PathBuf, source: io::Error },
    #[error("cannot inspect {}: {source}", dir.display())]
    Inspect { dir: PathBuf, source: io::Error },
    #[error("{} belongs to another user", dir.display())]
    ForeignOwner { dir: PathBuf },
    #[error("{} is open to other users and cannot be made private: {source}", dir.display())]
    NotPrivate { dir: PathBuf, source: io::Error },
}
