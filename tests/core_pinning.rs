//! `pin_cores`: with exactly one allowed CPU per shard each core's thread runs on a CPU of its
//! own; otherwise, or with `--pin-cores off`, the threads keep the process's CPUs.

use harness::*;

/// "0-2,5" → [0, 1, 2, 5].
fn parse_cpu_list(list: &str) -> Vec<usize> {
    let mut cpus = Vec::new();
    for part in list.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => cpus.extend(a.parse::<usize>().unwrap()..=b.parse().unwrap()),
            None => cpus.push(part.parse().unwrap()),
        }
    }
    cpus
}

fn cpus_allowed(status_path: &str) -> Vec<usize> {
    let status = std::fs::read_to_string(status_path).unwrap();
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .expect("Cpus_allowed_list in /proc status");
    parse_cpu_list(line)
}

/// Each `artemis-core-N` thread of `pid`, by N, with the CPUs it may run on.
fn core_threads(pid: i32) -> Vec<(usize, Vec<usize>)> {
    let mut cores = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let task = task.unwrap().path();
        let name = std::fs::read_to_string(task.join("comm")).unwrap_or_default();
        if let Some(n) = name.trim().strip_prefix("artemis-core-") {
            let status = task.join("status");
            cores.push((n.parse().unwrap(), cpus_allowed(status.to_str().unwrap())));
        }
    }
    cores.sort();
    cores
}

fn ours() -> Vec<usize> {
    cpus_allowed("/proc/self/status")
}

#[test]
fn one_shard_per_allowed_cpu_pins_each_core_to_its_own_cpu() {
    let allowed = ours();
    let shards = allowed.len().to_string();
    let server = Server::start_sha(&["--shards", &shards], None);
    let cores = core_threads(server.pid());
    assert_eq!(cores.len(), allowed.len(), "{cores:?}");
    let mut pinned: Vec<usize> = cores
        .iter()
        .map(|(n, cpus)| {
            assert_eq!(cpus.len(), 1, "core {n} may run on {cpus:?}");
            cpus[0]
        })
        .collect();
    pinned.sort();
    assert_eq!(pinned, allowed, "every allowed CPU has one core");
    // It serves as before.
    let mut c = server.client();
    register(&mut c, &[Inst::new("pinned-svc", "1")]);
}

#[test]
fn pin_cores_off_or_more_shards_than_cpus_leaves_the_threads_unpinned() {
    let allowed = ours();
    let exact = allowed.len().to_string();
    let more = (allowed.len() + 1).to_string();
    for args in [
        vec!["--shards", exact.as_str(), "--pin-cores", "off"],
        vec!["--shards", more.as_str()],
    ] {
        let server = Server::start(&args, None);
        let cores = core_threads(server.pid());
        assert!(!cores.is_empty());
        for (n, cpus) in &cores {
            assert_eq!(cpus, &allowed, "{args:?}: core {n}");
        }
    }
}

#[test]
fn an_unknown_pin_cores_value_stops_the_start() {
    assert_config_rejected("pin_cores = \"always\"\n", "pin_cores");
    let (status, stderr) = run_to_exit(&["--pin-cores", "always"], None);
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("pin_cores"), "{stderr}");
}
