//! Pinning each core's thread to a CPU of its own (`pin_cores`).
//!
//! Why: a core that is woken by another (a change to fan out, a batch of renewals, a reply) has
//! to wait for a CPU. Unpinned, the scheduler often wakes it on the CPU the waker runs on, busy
//! with the waker itself, and the wake-up costs milliseconds under load instead of tens of
//! microseconds (`BENCHMARKS.md`, "Pinned cores"). Pinned, each core's thread always wakes on
//! its own CPU. Only when every core gets its own CPU: with more cores than CPUs the threads
//! must share, which only the scheduler can balance.

use std::io;
use std::sync::OnceLock;

/// The process's CPUs as they were before any core was pinned (set by [`remember_process_cpus`]).
static PROCESS_CPUS: OnceLock<Vec<usize>> = OnceLock::new();

/// Keep the process's CPUs, so threads started later from a pinned core can be given them back.
pub fn remember_process_cpus(cpus: &[usize]) {
    let _ = PROCESS_CPUS.set(cpus.to_vec());
}

/// Give the calling thread the process's CPUs again. A thread inherits the affinity of the
/// thread that starts it, so a helper started from a pinned core (a blocking name lookup) would
/// otherwise compete with that core on its CPU. Does nothing if no core was ever pinned.
pub fn unpin_current_thread() {
    let Some(cpus) = PROCESS_CPUS.get() else {
        return;
    };
    if let Err(e) = set_current_thread(cpus) {
        tracing::warn!("cannot give a helper thread the process's CPUs back: {e}");
    }
}

/// The CPUs this process may run on (its affinity mask, as set by `taskset`, cgroups or
/// systemd's `CPUAffinity=`), in increasing order. The mask holds 1,024 CPUs (`cpu_set_t`); on a
/// machine with more, the call fails and the cores are not pinned.
pub fn allowed_cpus() -> io::Result<Vec<usize>> {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; sched_getaffinity writes at most its size.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::cpu_set_t>();
    // SAFETY: `set` is a live cpu_set_t of `size` bytes.
    if unsafe { libc::sched_getaffinity(0, size, &mut set) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let max = 8 * size;
    // SAFETY: CPU_ISSET reads the set within its size (cpu < 8 * size).
    Ok((0..max)
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect())
}

/// Which CPU each core's thread is pinned to, or `None` when they are not pinned (`pin_cores =
/// "off"`, or not exactly one allowed CPU per core).
pub fn plan(mode: &str, cores: usize, allowed: &[usize]) -> Option<Vec<usize>> {
    assert!(cores > 0);
    if mode == "off" || allowed.len() != cores {
        return None;
    }
    Some(allowed[..cores].to_vec())
}

/// Set when a core's thread could not be pinned: the core-to-CPU map is then wrong.
static PIN_FAILED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether some core's thread could not be pinned.
pub fn a_pin_failed() -> bool {
    PIN_FAILED.load(std::sync::atomic::Ordering::Relaxed)
}

/// Pin the calling thread to `cpu`.
pub fn pin_current_thread(cpu: usize) -> io::Result<()> {
    let pinned = set_current_thread(&[cpu]);
    if pinned.is_err() {
        PIN_FAILED.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    pinned
}

/// Let the calling thread run on `cpus` only.
fn set_current_thread(cpus: &[usize]) -> io::Result<()> {
    // SAFETY: as in allowed_cpus; CPU_SET writes within the set (checked below).
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::cpu_set_t>();
    for &cpu in cpus {
        if cpu >= 8 * size {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("cpu {cpu} is beyond the affinity mask"),
            ));
        }
        // SAFETY: cpu < 8 * size, checked above.
        unsafe { libc::CPU_SET(cpu, &mut set) };
    }
    // SAFETY: `set` is a live cpu_set_t of `size` bytes; 0 is the calling thread.
    if unsafe { libc::sched_setaffinity(0, size, &set) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_each_core_to_its_own_allowed_cpu_or_not_at_all() {
        assert_eq!(plan("auto", 2, &[0, 1]), Some(vec![0, 1]));
        assert_eq!(plan("auto", 2, &[3, 5]), Some(vec![3, 5]));
        assert_eq!(plan("auto", 3, &[0, 1]), None, "more cores than CPUs");
        assert_eq!(
            plan("auto", 2, &[0, 1, 2, 3]),
            None,
            "which two is not ours to pick"
        );
        assert_eq!(plan("off", 2, &[0, 1]), None);
    }

    #[test]
    fn the_process_may_run_somewhere_and_a_thread_can_be_pinned_there() {
        let allowed = allowed_cpus().unwrap();
        assert!(!allowed.is_empty());
        let cpu = *allowed.last().unwrap();
        let all = allowed.clone();
        std::thread::spawn(move || {
            pin_current_thread(cpu).unwrap();
            assert_eq!(allowed_cpus().unwrap(), vec![cpu]);
            set_current_thread(&all).unwrap();
            assert_eq!(allowed_cpus().unwrap(), all);
        })
        .join()
        .unwrap();
        assert!(pin_current_thread(1 << 20).is_err());
    }
}
