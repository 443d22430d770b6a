//! One server per data dir: the server holds an exclusive `flock` on `<data_dir>/artemis.lock`
//! for its whole life, and records its pid there so a refused second server can name the holder.
//!
//! The kernel drops the lock when the process ends however it ends (a crash or SIGKILL included),
//! so a stale lock file never blocks a restart. The file stays in place after exit: unlinking it
//! would let a new server lock a fresh file while another still holds the unlinked one.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::path::Path;

/// Name of the lock file inside the data dir.
pub const LOCK_FILE: &str = "artemis.lock";

/// The data dir held by this process; the lock lasts as long as this value.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

/// Create `dir` if needed and lock it for this process. Fails, naming the dir and (if recorded)
/// the pid of the holder, when another process holds it.
pub fn lock(dir: &Path) -> Result<DataDirLock, String> {
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("data_dir: cannot create {}: {e}", dir.display()))?;
    let path = dir.join(LOCK_FILE);
    let mut file = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| format!("data_dir: cannot open {}: {e}", path.display()))?;
    // SAFETY: flock on a descriptor `file` owns; it only changes the lock on it.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        let error = std::io::Error::last_os_error();
        if error.raw_os_error() == Some(libc::EWOULDBLOCK) {
            return Err(held_elsewhere(dir, &mut file));
        }
        return Err(format!("data_dir: cannot lock {}: {error}", path.display()));
    }
    record_pid(&mut file).map_err(|e| format!("data_dir: cannot write {}: {e}", path.display()))?;
    Ok(DataDirLock { _file: file })
}

fn record_pid(file: &mut File) -> std::io::Result<()> {
    file.set_len(0)?;
    writeln!(file, "{}", std::process::id())?;
    file.flush()
}

fn held_elsewhere(dir: &Path, file: &mut File) -> String {
    let mut recorded = String::new();
    // The holder may be between truncating and writing its pid: then no pid is named.
    let holder = match file
        .read_to_string(&mut recorded)
        .ok()
        .and(recorded.trim().parse::<u32>().ok())
    {
        Some(pid) => format!(" (pid {pid})"),
        None => String::new(),
    };
    format!(
        "data_dir: {} is in use by another artemis server{holder}; each server needs its own \
         data dir",
        display(dir)
    )
}

/// The dir as given, and its absolute form when that differs, so the message names the one the
/// operator recognises.
fn display(dir: &Path) -> String {
    match std::fs::canonicalize(dir) {
        Ok(absolute) if absolute != dir => format!("{} ({})", dir.display(), absolute.display()),
        _ => dir.display().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "artemis-lock-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_second_lock_on_the_same_dir_is_refused_naming_the_dir_and_pid() {
        let dir = temp_dir("second");
        let held = lock(&dir).expect("first lock");
        // flock locks belong to the open file, so a second open in this process conflicts too.
        let error = lock(&dir).expect_err("second lock");
        assert!(error.contains(&dir.display().to_string()), "{error}");
        assert!(
            error.contains(&format!("(pid {})", std::process::id())),
            "{error}"
        );
        drop(held);
        let again = lock(&dir).expect("lock after release");
        drop(again);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_lock_file_records_the_holder_pid() {
        let dir = temp_dir("pid");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(LOCK_FILE), "a much longer stale content\n").unwrap();
        let held = lock(&dir).expect("lock");
        let recorded = std::fs::read_to_string(dir.join(LOCK_FILE)).unwrap();
        assert_eq!(recorded, format!("{}\n", std::process::id()));
        drop(held);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
