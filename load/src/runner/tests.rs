use super::*;

/// An `Interrupt` no test signals.
static NEVER: Interrupt = Interrupt::new();

/// An `Interrupt` of this test only, already signalled.
fn interrupted() -> &'static Interrupt {
    let stop = Box::leak(Box::new(Interrupt::new()));
    stop.signal();
    stop
}

#[test]
fn connections_are_spread_evenly() {
    let spread: Vec<usize> = (0..3).map(|t| connections_of_thread(64, 3, t)).collect();
    assert_eq!(spread, vec![22, 21, 21]);
    assert_eq!(connections_of_thread(1, 2, 1), 0);
}

#[test]
fn the_timeline_has_a_second_per_interval_and_the_end_falls_in_the_last() {
    let start = Instant::now();
    let window = Window {
        start,
        measure: start + Duration::from_secs(1),
        end: start + Duration::from_secs(3),
        stop: &NEVER,
    };
    let mut stats = Stats::for_duration(Duration::from_millis(1500));
    assert_eq!(stats.timeline.len(), 2);
    for at in [
        window.measure,
        window.measure + Duration::from_millis(999),
        window.measure + Duration::from_millis(1000),
        window.end,
    ] {
        stats.interval_at(&window, at).expect("inside").requests += 1;
    }
    let per_second: Vec<u64> = stats.timeline.iter().map(|i| i.requests).collect();
    assert_eq!(per_second, vec![2, 2]);
}

#[test]
fn settling_drops_the_connection_unless_the_server_kept_it_alive() {
    let mut conn = Some(());
    assert_eq!(settle(&mut conn, Ok(Ok((Ok(()), true)))), (Ok(()), true));
    assert!(conn.is_some());
    let refused = Err("http-503".to_string());
    assert_eq!(
        settle(&mut conn, Ok(Ok((refused.clone(), false)))),
        (refused, true)
    );
    assert!(conn.is_none());
    conn = Some(());
    let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
    assert_eq!(
        settle(&mut conn, Ok(Err(ConnError::Io(reset)))),
        (Err("io".to_string()), false)
    );
    assert!(conn.is_none());
}

#[test]
fn ready_threads_start_on_one_window_and_return_in_order() {
    let progress: Vec<Progress> = (0..3).map(|_| Progress::default()).collect();
    let (results, window) = run_threads(
        "test-ready",
        3,
        &NEVER,
        Duration::ZERO,
        Duration::ZERO,
        &progress,
        &mut |_, _| {},
        |t, gate| gate.ready().map(|window| (t, window.start)),
    )
    .expect("every thread got ready");
    assert_eq!(
        results,
        vec![(0, window.start), (1, window.start), (2, window.start)]
    );
}

#[test]
fn a_thread_that_cannot_get_ready_abandons_the_run() {
    let progress: Vec<Progress> = (0..3).map(|_| Progress::default()).collect();
    let result = run_threads(
        "test-fail",
        3,
        &NEVER,
        Duration::ZERO,
        Duration::ZERO,
        &progress,
        &mut |_, _| panic!("an abandoned run reports no progress"),
        |t, gate| {
            if t == 1 {
                return Err(gate.fail("cannot subscribe".into()));
            }
            gate.ready()
        },
    );
    assert_eq!(result.err(), Some("cannot subscribe".to_string()));
}

#[test]
fn progress_counts_what_the_report_will_count() {
    let progress = Progress::default();
    progress.count(Phase::WarmUp, false);
    progress.count(Phase::WarmUp, true);
    progress.count(Phase::Measure, false);
    progress.count(Phase::Measure, true);
    progress.count(Phase::Measure, false);
    progress.count(Phase::After, true);
    let read = |c: &AtomicU64| c.load(Ordering::Relaxed);
    assert_eq!(read(&progress.finished), 6);
    assert_eq!(read(&progress.measured), 3);
    assert_eq!(read(&progress.measured_errors), 1);
    assert_eq!(read(&progress.warmup_errors), 1);
}

#[test]
fn progress_ticks_every_second_of_each_phase_and_at_its_end() {
    let start = Instant::now();
    let at = |ms: u64| start + Duration::from_millis(ms);
    let window = Window {
        start,
        measure: at(1500),
        end: at(4000),
        stop: &NEVER,
    };
    assert_eq!(window.next_tick(start), at(1000));
    assert_eq!(window.next_tick(at(1020)), at(1500));
    assert_eq!(window.next_tick(at(1500)), at(2500));
    assert_eq!(window.next_tick(at(2510)), at(3500));
    assert_eq!(window.next_tick(at(3510)), at(4000));
    assert_eq!(window.next_tick(at(4010)), at(5000));
    assert_eq!(window.phase(at(1499)), Phase::WarmUp);
    assert_eq!(window.phase(at(1500)), Phase::Measure);
    assert_eq!(window.phase(at(4000)), Phase::Measure);
    assert_eq!(window.phase(at(4001)), Phase::After);
    // Without a warm-up the first second is measured.
    let no_warmup = Window {
        measure: start,
        ..window
    };
    assert_eq!(no_warmup.next_tick(start), at(1000));
    assert_eq!(no_warmup.phase(start), Phase::Measure);
    assert!(!window.cut_short());
    assert_eq!(window.settled().end, window.end);
}

#[test]
fn ctrl_c_ends_the_measurement_where_it_was_noticed() {
    let stop = interrupted();
    let cutoff = stop.cutoff().expect("interrupted");
    let start = cutoff - Duration::from_millis(2500);
    let at = |ms: u64| start + Duration::from_millis(ms);
    let window = Window {
        start,
        measure: at(1000),
        end: at(10_000),
        stop,
    };
    assert_eq!(window.measured_end(), cutoff);
    assert!(window.cut_short());
    assert_eq!(window.settled().end, cutoff);
    assert_eq!(window.phase(cutoff), Phase::Measure);
    assert_eq!(window.phase(cutoff + Duration::from_nanos(1)), Phase::After);
    // The line of the last measured stretch is due at the cut-off, not a second later.
    assert_eq!(window.next_tick(at(1200)), at(2000));
    assert_eq!(window.next_tick(at(2010)), cutoff);
    assert_eq!(window.next_tick(cutoff), at(3500));

    // Interrupted in the warm-up: sending stops there, and nothing was measured.
    let in_warmup = Window {
        measure: at(5000),
        ..window
    };
    assert_eq!(in_warmup.measured_end(), cutoff);
    assert!(in_warmup.cut_short());
    assert_eq!(in_warmup.settled().end, in_warmup.measure);
    assert_eq!(in_warmup.phase(cutoff), Phase::WarmUp);
    assert_eq!(
        in_warmup.phase(cutoff + Duration::from_nanos(1)),
        Phase::After
    );
    assert_eq!(in_warmup.next_tick(at(2010)), cutoff);
    assert_eq!(in_warmup.next_tick(cutoff), cutoff + Duration::from_secs(1));
}

#[test]
fn a_cut_timeline_keeps_the_seconds_measured() {
    for (measured_ms, seconds) in [(0, 0), (1, 1), (1500, 2), (2000, 2), (2001, 3)] {
        let mut stats = Stats::for_duration(Duration::from_secs(9));
        for interval in &mut stats.timeline {
            interval.requests = 1;
        }
        stats.cut_timeline(Duration::from_millis(measured_ms));
        assert_eq!(stats.timeline.len(), seconds, "{measured_ms} ms");
        // What lay past the cut-off is folded into the last second kept (only a request at
        // the cut-off itself can be there).
        let kept: u64 = stats.timeline.iter().map(|i| i.requests).sum();
        assert_eq!(kept, if seconds == 0 { 0 } else { 9 }, "{measured_ms} ms");
    }
}
