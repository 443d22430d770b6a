//! `/health` answer times on the same server while other work runs: the black-box check that no
//! request freezes a core (start the server with `--shards 1` so every connection shares it).

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::process::Server;

/// Bound on any one `/health` answer while an attack runs. It only catches freezes (the target is
/// a p99 far below it), so it holds on a loaded test machine.
pub const HEALTH_BOUND: Duration = Duration::from_millis(500);

/// Pause between two `/health` requests, so polling does not compete with the work for the CPU.
const POLL_GAP: Duration = Duration::from_millis(5);

/// Runs `work` on another thread and asks `/health` on a connection of its own, again and again,
/// until `work` returns. Returns what `work` returned and how long each `/health` answer took.
pub fn health_times_during<T: Send>(
    server: &Server,
    work: impl FnOnce() -> T + Send,
) -> (T, Vec<Duration>) {
    let done = AtomicBool::new(false);
    thread::scope(|scope| {
        let worker = scope.spawn(|| {
            // Set even if `work` panics, so the polling below ends and the panic is reported.
            let _done = SetOnDrop(&done);
            work()
        });
        let mut client = server.client();
        let mut times = Vec::new();
        while !done.load(Ordering::Acquire) {
            let start = Instant::now();
            let (status, _) = client.get("/health");
            times.push(start.elapsed());
            assert_eq!(status, 200, "/health during the work");
            thread::sleep(POLL_GAP);
        }
        let result = worker
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (result, times)
    })
}

/// Asserts every `/health` answer came within [`HEALTH_BOUND`] and that some came while the work
/// ran (more than the one that may have raced its start); prints the figures for the record.
pub fn assert_health_responsive(times: &[Duration], ctx: &str) {
    assert!(
        times.len() > 1,
        "{ctx}: /health was asked only {} times",
        times.len()
    );
    let mut sorted = times.to_vec();
    sorted.sort();
    let p99 = sorted[(sorted.len() * 99 / 100).min(sorted.len() - 1)];
    let max = *sorted.last().expect("not empty");
    eprintln!("{ctx}: /health n={} p99={p99:?} max={max:?}", sorted.len());
    assert!(max < HEALTH_BOUND, "{ctx}: a /health answer took {max:?}");
}

struct SetOnDrop<'a>(&'a AtomicBool);

impl Drop for SetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}
