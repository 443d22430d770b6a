//! Giving freed memory back to the operating system after clients leave. glibc keeps freed heap
//! memory for reuse (large blocks too, once its dynamic mmap threshold has risen past their
//! size), so after an attack that made the server buffer hundreds of megabytes the process
//! would stay that large. Connections report the large buffers they free; each core checks
//! every [`TRIM_INTERVAL`] and, when more than [`TRIM_AFTER_FREED`] was freed since its last
//! trim, calls `malloc_trim(0)` (which returns the free pages of every arena). The request path
//! only adds to a counter.

use std::cell::Cell;
use std::time::{Duration, Instant};

/// How often a core looks at what was freed; also the least time between two of its trims.
pub const TRIM_INTERVAL: Duration = Duration::from_secs(2);
/// Bytes freed since the last trim that make the next check trim.
pub const TRIM_AFTER_FREED: usize = 16 * 1024 * 1024;

/// Large buffers freed on one core since it last trimmed.
#[derive(Default)]
pub struct Trimmer {
    freed: Cell<usize>,
}

impl Trimmer {
    /// A buffer of `bytes` was freed (call it for large buffers only; small ones are reused by
    /// the allocator anyway).
    pub fn note_freed(&self, bytes: usize) {
        self.freed.set(self.freed.get().saturating_add(bytes));
    }

    /// Check every [`TRIM_INTERVAL`], forever.
    pub async fn run(&self, core: usize) {
        loop {
            monoio::time::sleep(TRIM_INTERVAL).await;
            if self.freed.get() < TRIM_AFTER_FREED {
                continue;
            }
            let freed = self.freed.replace(0);
            let started = Instant::now();
            let released = trim();
            tracing::debug!(
                core,
                freed,
                released,
                took_us = started.elapsed().as_micros() as u64,
                "returned freed memory to the system"
            );
        }
    }
}

/// Whether the allocator gave memory back.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim() -> bool {
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe { libc::malloc_trim(0) == 1 }
}

/// Other allocators return memory on their own.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() -> bool {
    false
}
