//! Durable state across server processes: a [`NodeHome`] keeps one node's data dir and config
//! file while servers come and go on it (graceful stop, `kill -9`, refused starts), and the
//! helpers here read and damage its SQLite database file the way an operator's disk could.

use std::fs;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::payload::SHA_ARGS;
use crate::process::{run_server_at, EarlyExit, Server};

/// The database file inside a node's data dir.
pub const DB_FILE: &str = "artemis.db";

/// How long a stopping server may take: a graceful stop writes the registry to disk first.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// One node's home: a data dir and a config file that outlive the servers started on them.
/// Every server runs with `--region SHA --zone SHAJQ`, the config file and the extra arguments
/// given at creation. Removed on drop.
pub struct NodeHome {
    root: PathBuf,
    data_dir: PathBuf,
    args: Vec<String>,
}

impl NodeHome {
    /// A fresh home; `config_toml` (if any) becomes its config file, `extra` is appended to
    /// every start.
    pub fn new(config_toml: Option<&str>, extra: &[&str]) -> NodeHome {
        static NEXT_ID: AtomicUsize = AtomicUsize::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let root = std::env::temp_dir().join(format!(
            "artemis-it-home-{}-{}-{nanos}",
            std::process::id(),
            NEXT_ID.fetch_add(1, Ordering::Relaxed)
        ));
        let data_dir = root.join("data");
        fs::create_dir_all(&data_dir).expect("create node data dir");
        let mut args: Vec<String> = SHA_ARGS.iter().map(|s| s.to_string()).collect();
        if let Some(toml) = config_toml {
            let path = root.join("artemis.toml");
            fs::write(&path, toml).expect("write node config");
            args.push("--config".into());
            args.push(path.display().to_string());
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        NodeHome {
            root,
            data_dir,
            args,
        }
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// `<data_dir>/artemis.db`.
    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join(DB_FILE)
    }

    fn arg_refs(&self) -> Vec<&str> {
        self.args.iter().map(String::as_str).collect()
    }

    /// Starts a server on this home (a free port each time); panics if it does not come up.
    pub fn start(&self) -> Server {
        Server::start_at("127.0.0.1:0", &self.data_dir, &self.arg_refs())
    }

    /// Starts a server on this home listening on `listen` (a fixed port: a node others know by
    /// its URL); `Err` if it exits before listening.
    pub fn try_start_on(&self, listen: &str) -> Result<Server, EarlyExit> {
        Server::try_start_at(listen, &self.data_dir, &self.arg_refs())
    }

    /// Starts a server on this home at the fixed address `listen` (a node of a cluster, whose
    /// address its peers are told), with `extra` arguments for this start only; panics if it
    /// does not come up.
    pub fn start_listening(&self, listen: SocketAddr, extra: &[&str]) -> Server {
        let mut args = self.arg_refs();
        args.extend_from_slice(extra);
        Server::start_at(&listen.to_string(), &self.data_dir, &args)
    }

    /// Starts a server on this home expecting it to exit on its own (a refused start); returns
    /// its exit status and stderr.
    pub fn start_expecting_exit(&self) -> (ExitStatus, String) {
        run_server_at("127.0.0.1:0", Some(&self.data_dir), &self.arg_refs())
    }
}

impl Drop for NodeHome {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.root);
    }
}

impl Server {
    /// SIGTERM, as an operator's graceful stop; asserts the server exits 0.
    pub fn stop_gracefully(&mut self) {
        self.signal(libc::SIGTERM);
        let status = self.wait_exit(STOP_TIMEOUT).unwrap_or_else(|| {
            panic!(
                "still running {STOP_TIMEOUT:?} after SIGTERM; stderr:\n{}",
                self.stderr()
            )
        });
        assert_eq!(
            status.code(),
            Some(0),
            "graceful stop: {status:?}; stderr:\n{}",
            self.stderr()
        );
    }

    /// SIGKILL: the process ends at once, with no chance to write anything more.
    pub fn kill_hard(&mut self) {
        self.signal(libc::SIGKILL);
        assert!(
            self.wait_exit(STOP_TIMEOUT).is_some(),
            "SIGKILL did not end the server"
        );
    }
}

pub fn read_bytes(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Sets the permission bits of `path` (the tests run as root, so the server checks the bits
/// rather than relying on a failing write).
pub fn set_mode(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {mode:o} {}: {e}", path.display()));
}

/// Offset of `PRAGMA user_version` in an SQLite database header: a 4-byte big-endian integer.
const USER_VERSION_OFFSET: usize = 60;

/// `PRAGMA user_version` as the database file's header stores it.
pub fn user_version(db: &Path) -> u32 {
    let bytes = read_bytes(db);
    assert!(
        bytes.len() >= 100 && bytes.starts_with(b"SQLite format 3\0"),
        "{} is not an SQLite database ({} bytes)",
        db.display(),
        bytes.len()
    );
    let field: [u8; 4] = bytes[USER_VERSION_OFFSET..USER_VERSION_OFFSET + 4]
        .try_into()
        .unwrap();
    u32::from_be_bytes(field)
}

/// The write-ahead log SQLite keeps beside `db` in WAL mode.
pub fn wal_path(db: &Path) -> PathBuf {
    db.with_file_name(format!("{}-wal", db.file_name().unwrap().to_string_lossy()))
}

/// Bytes in the write-ahead log beside `db` (0 when there is none).
pub fn wal_len(db: &Path) -> u64 {
    fs::metadata(wal_path(db)).map_or(0, |m| m.len())
}

/// Asserts that the write-ahead log beside `db` is absent or empty, so the main file alone is
/// the database: pages in the log (page 1 included) override the main file's, so an edit of the
/// main file under a non-empty log would not be what SQLite reads. A server that closed its
/// database on a graceful stop has checkpointed and removed its log.
pub fn assert_no_wal(db: &Path) {
    let wal = wal_path(db);
    let wal_len = wal_len(db);
    assert_eq!(
        wal_len,
        0,
        "{} holds {wal_len} bytes after the server stopped: its database was not closed \
         (checkpointed), so {} alone is not the database",
        wal.display(),
        db.display()
    );
}

/// Rewrites the `user_version` in the header of a database no process has open (see
/// [`assert_no_wal`]).
pub fn set_user_version(db: &Path, version: u32) {
    assert_no_wal(db);
    let mut bytes = read_bytes(db);
    assert!(bytes.len() >= 100, "{} is too short", db.display());
    bytes[USER_VERSION_OFFSET..USER_VERSION_OFFSET + 4].copy_from_slice(&version.to_be_bytes());
    fs::write(db, &bytes).unwrap_or_else(|e| panic!("write {}: {e}", db.display()));
}

/// A valid, empty SQLite database (one 4096-byte page: the file header and an empty schema
/// table) whose `user_version` is `version`, built by hand from the file format so a test
/// needs no SQLite of its own.
pub fn empty_database(version: u32) -> Vec<u8> {
    const PAGE: usize = 4096;
    let mut db = vec![0u8; PAGE];
    db[..16].copy_from_slice(b"SQLite format 3\0");
    db[16..18].copy_from_slice(&(PAGE as u16).to_be_bytes());
    db[18] = 1; // file format write version: legacy (rollback journal)
    db[19] = 1; // read version
    db[20] = 0; // reserved bytes per page
    db[21] = 64; // max embedded payload fraction (fixed)
    db[22] = 32; // min embedded payload fraction (fixed)
    db[23] = 32; // leaf payload fraction (fixed)
    db[24..28].copy_from_slice(&1u32.to_be_bytes()); // file change counter
    db[28..32].copy_from_slice(&1u32.to_be_bytes()); // size in pages
    db[44..48].copy_from_slice(&4u32.to_be_bytes()); // schema format number
    db[56..60].copy_from_slice(&1u32.to_be_bytes()); // text encoding: UTF-8
    db[USER_VERSION_OFFSET..USER_VERSION_OFFSET + 4].copy_from_slice(&version.to_be_bytes());
    db[92..96].copy_from_slice(&1u32.to_be_bytes()); // version-valid-for = change counter
    db[96..100].copy_from_slice(&3_045_000u32.to_be_bytes()); // SQLITE_VERSION_NUMBER
                                                              // Page 1's b-tree header: an empty table leaf whose cell content area starts at the end.
    db[100] = 0x0D;
    db[105..107].copy_from_slice(&(PAGE as u16).to_be_bytes());
    db
}
