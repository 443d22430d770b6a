//! `artemis load`: the load generator. It drives a running server over keep-alive HTTP/1.1
//! connections from one monoio event loop per thread (the same runtime and HTTP code as the
//! server), checks every response, and reports throughput, errors by kind and latency
//! percentiles from HDR histograms.
//!
//! A run: parse the flags into a [`Plan`]; probe the target (unreachable: exit 3); populate the
//! registry and pull out `--pulled-out` instances (untimed); serialize every request once; run
//! warm-up + measurement (`runner`); with `--cleanup`, remove the population again; print the
//! table (or JSON) and exit 0, or 1 with `--fail-on-error` if any response was an error. Ctrl-C
//! cuts the run short but still cleans up and reports (`interrupt`), exiting 130.

mod check;
mod cleanup;
mod client;
mod histogram;
mod interrupt;
mod populate;
mod progress;
mod pull_out;
mod push;
mod report;
mod runner;
mod scenario;
mod timer;
mod wording;
mod ws;

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use argh::FromArgs;

use check::Check;
use interrupt::{Interrupt, CTRL_C, EXIT_INTERRUPTED};
use populate::unix_ms;
use progress::ProgressLine;
use report::{Measured, Report, Stage};
use runner::{Shared, Transport};
use scenario::{parse_mix, Endpoint, Op, Population, RequestTable, Scenario, Tables};

/// Exit code: bad flags.
pub const EXIT_USAGE: u8 = 2;
/// Exit code: nothing answers at the target address.
pub const EXIT_UNREACHABLE: u8 = 3;

/// Drive a running server with load and report throughput, errors and latency.
#[derive(FromArgs, Debug)]
#[argh(
    subcommand,
    name = "load",
    note = "Ctrl-C stops the run early: the results measured so far are printed, marked\n\
            as interrupted (after --cleanup, if given), and the exit status is 130, so that\n\
            scripts can tell a cut-short run from a complete one. A second Ctrl-C exits 130\n\
            at once, printing nothing more.",
    error_code(0, "the run completed"),
    error_code(
        1,
        "the run or its cleanup failed, or --fail-on-error saw an error response"
    ),
    error_code(2, "invalid flags"),
    error_code(3, "nothing answers at --target"),
    error_code(130, "interrupted by Ctrl-C")
)]
pub struct LoadArgs {
    /// server URL, optionally with a path prefix (default http://127.0.0.1:8080); for raw-post,
    /// the URL that is POSTed to
    #[argh(option, default = "String::from(\"http://127.0.0.1:8080\")")]
    pub target: String,
    /// what to send (default heartbeat): heartbeat, register, lookup, ws-heartbeat, push, mixed,
    /// raw-post (fixed heartbeat-sized POST to --target, only HTTP 200 checked: reference
    /// servers), wait-empty (poll lookups of the --services services until all are empty;
    /// --duration is the deadline), manage (one durable operate-instance write per request:
    /// every instance pulled out in turn, then every one pulled back in)
    #[argh(option, default = "String::from(\"heartbeat\")")]
    pub scenario: String,
    /// concurrent keep-alive connections (default 64); push: the registering connections
    #[argh(option, default = "64")]
    pub connections: usize,
    /// open loop: send this many requests (push: registrations) per second in total, latency
    /// measured from each request's intended send time (default: closed loop, as fast as
    /// responses come back)
    #[argh(option)]
    pub rate: Option<f64>,
    /// measured time, e.g. 10s, 500ms, 1m (default 10s); 0s only populates
    #[argh(option, default = "String::from(\"10s\")")]
    pub duration: String,
    /// unmeasured time before the measurement (default 2s)
    #[argh(option, default = "String::from(\"2s\")")]
    pub warmup: String,
    /// generator threads, one event loop each (default: available cores)
    #[argh(option)]
    pub threads: Option<usize>,
    /// instances per heartbeat or register request (default 1)
    #[argh(option, default = "1")]
    pub batch: usize,
    /// instances to register before the run (default 10000)
    #[argh(option, default = "10000")]
    pub instances: usize,
    /// services the instances are spread over (default 100)
    #[argh(option, default = "100")]
    pub services: usize,
    /// lookup: instances of each looked-up service (sets --instances to services x this)
    #[argh(option)]
    pub instances_per_service: Option<usize>,
    /// push: the node the subscribers connect to (default: --target); with a cluster, another
    /// node than --target measures register → replication → push on that node
    #[argh(option)]
    pub watch: Option<String>,
    /// push: WebSocket subscribers, spread round-robin over the --services services; latency is
    /// from a registration's send to each subscriber's receipt of the change (default 1000)
    #[argh(option, default = "1000")]
    pub subscribers: usize,
    /// mixed: operation weights (default heartbeat=90,lookup=9,register=1)
    #[argh(option, default = "String::from(\"heartbeat=90,lookup=9,register=1\")")]
    pub mix: String,
    /// region of the generated instances and lookups (default "default")
    #[argh(option, default = "String::from(\"default\")")]
    pub region: String,
    /// zone of the generated instances and lookups (default "default")
    #[argh(option, default = "String::from(\"default\")")]
    pub zone: String,
    /// service ids are <prefix>-NNNNN (default "svc")
    #[argh(option, default = "String::from(\"svc\")")]
    pub service_prefix: String,
    /// a request without a response after this long counts as a timeout error (default 10s)
    #[argh(option, default = "String::from(\"10s\")")]
    pub timeout: String,
    /// print one JSON object with the results instead of the table
    #[argh(switch)]
    pub json: bool,
    /// do not register the instances first (they must exist already)
    #[argh(switch)]
    pub no_populate: bool,
    /// after populating, pull out this many of the instances (the last ones, spread evenly over
    /// the services, each service keeping one visible) with durable management writes, and
    /// confirm by lookups that they are hidden, before measuring (default 0)
    #[argh(option, default = "0")]
    pub pulled_out: usize,
    /// exit 1 if any response was an error
    #[argh(switch)]
    pub fail_on_error: bool,
    /// lookups send `Accept-Encoding: gzip` (the Java client's HTTP stack does); a connection
    /// inflates and checks each distinct gzip answer once and gives an answer with the same
    /// status, length and gzip trailer (CRC-32, length) the same verdict (inflating each would
    /// cost the generator more CPU than the server spends on the request)
    #[argh(switch)]
    pub accept_gzip: bool,
    /// at the end (also after Ctrl-C or a failure), unregister every instance of the population
    /// (--instances over --services named by --service-prefix), first pulling back in the ones
    /// --pulled-out or the manage scenario pulled out
    #[argh(switch)]
    pub cleanup: bool,
}

/// A validated run description.
#[derive(Clone, Debug)]
struct Plan {
    pub scenario: Scenario,
    pub url: String,
    pub addr: SocketAddr,
    pub endpoint: Endpoint,
    pub connections: usize,
    pub threads: usize,
    pub rate: Option<f64>,
    pub duration: Duration,
    pub warmup: Duration,
    pub timeout: Duration,
    pub batch: usize,
    pub population: Population,
    pub subscribers: usize,
    /// push: where the subscribers connect (the target unless `--watch` names another node).
    pub watch_addr: SocketAddr,
    pub watch_endpoint: Endpoint,
    pub mix: Vec<(Op, u32)>,
    pub populate: bool,
    /// Instances to pull out after populating.
    pub pulled_out: usize,
    pub json: bool,
    pub fail_on_error: bool,
    pub cleanup: bool,
    /// Ctrl-C, which cuts the run short.
    pub stop: &'static Interrupt,
}

impl Plan {
    pub fn from_args(args: &LoadArgs) -> Result<Plan, String> {
        let scenario = Scenario::parse(&args.scenario).ok_or_else(|| {
            format!(
                "--scenario: unknown scenario {:?} ({})",
                args.scenario,
                Scenario::NAMES
            )
        })?;
        let (host, addr, path) = parse_target(&args.target)?;
        let path = if scenario == Scenario::RawPost {
            if path.is_empty() {
                "/".to_string()
            } else {
                path
            }
        } else {
            path.trim_end_matches('/').to_string()
        };
        if args.connections == 0 {
            return Err("--connections must be at least 1".into());
        }
        if let Some(rate) = args.rate {
            if !(rate.is_finite() && rate > 0.0) {
                return Err("--rate must be a positive number of requests per second".into());
            }
        }
        if args.batch == 0 {
            return Err("--batch must be at least 1".into());
        }
        if args.services == 0 {
            return Err("--services must be at least 1".into());
        }
        let instances = match (scenario, args.instances_per_service) {
            (Scenario::Lookup, Some(per)) if per > 0 => args.services * per,
            (_, Some(0)) => return Err("--instances-per-service must be at least 1".into()),
            _ => args.instances,
        };
        if instances == 0 && scenario != Scenario::WaitEmpty {
            return Err("--instances must be at least 1".into());
        }
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let max_threads = if scenario == Scenario::Push {
            args.connections.max(args.subscribers)
        } else {
            args.connections
        };
        let threads = args.threads.unwrap_or(cores).clamp(1, max_threads.max(1));
        let mix = match scenario {
            Scenario::Mixed => parse_mix(&args.mix)?,
            Scenario::Register => vec![(Op::Register, 1)],
            Scenario::Lookup => vec![(Op::Lookup, 1)],
            Scenario::RawPost => vec![(Op::Raw, 1)],
            Scenario::WsHeartbeat => vec![(Op::WsHeartbeat, 1)],
            Scenario::Push => vec![(Op::Register, 1)],
            Scenario::Manage => vec![(Op::Manage, 1)],
            _ => vec![(Op::Heartbeat, 1)],
        };
        let population = Population {
            prefix: args.service_prefix.clone(),
            region: args.region.clone(),
            zone: args.zone.clone(),
            instances,
            services: args.services,
        };
        let populate = scenario.populates() && !args.no_populate;
        if args.pulled_out > 0 {
            // The manage scenario pulls its instances out and in itself.
            if !populate || scenario == Scenario::Manage {
                return Err(format!(
                    "--pulled-out: only for a run that populates the registry (not {scenario}, \
                     not with --no-populate)"
                ));
            }
            pull_out::validate(&population, args.pulled_out)?;
        }
        if args.cleanup && matches!(scenario, Scenario::RawPost | Scenario::WaitEmpty) {
            return Err(format!(
                "--cleanup: {scenario} registers nothing to clean up"
            ));
        }
        let (watch_addr, watch_endpoint) = match &args.watch {
            Some(url) if scenario == Scenario::Push => {
                let (host, addr, path) =
                    parse_target(url).map_err(|e| e.replacen("--target", "--watch", 1))?;
                let path = path.trim_end_matches('/').to_string();
                (
                    addr,
                    Endpoint {
                        host,
                        path,
                        accept_gzip: false,
                    },
                )
            }
            Some(_) => return Err("--watch: only for the push scenario".into()),
            None => (
                addr,
                Endpoint {
                    host: host.clone(),
                    path: path.clone(),
                    accept_gzip: false,
                },
            ),
        };
        Ok(Plan {
            scenario,
            url: args.target.clone(),
            addr,
            endpoint: Endpoint {
                host,
                path,
                accept_gzip: args.accept_gzip,
            },
            connections: args.connections,
            threads,
            rate: args.rate,
            duration: parse_duration(&args.duration).map_err(|e| format!("--duration: {e}"))?,
            warmup: parse_duration(&args.warmup).map_err(|e| format!("--warmup: {e}"))?,
            timeout: parse_duration(&args.timeout)
                .map_err(|e| format!("--timeout: {e}"))?
                .max(Duration::from_millis(1)),
            batch: args.batch,
            population,
            subscribers: args.subscribers,
            watch_addr,
            watch_endpoint,
            mix,
            populate,
            pulled_out: args.pulled_out,
            json: args.json,
            fail_on_error: args.fail_on_error,
            cleanup: args.cleanup,
            stop: &CTRL_C,
        })
    }
}

/// `http://host[:port][/path]` → (Host header, resolved address, path).
fn parse_target(url: &str) -> Result<(String, SocketAddr, String), String> {
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        format!("--target: {url:?} is not an http:// URL (https is not supported)")
    })?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if authority.is_empty() {
        return Err(format!("--target: {url:?} has no host"));
    }
    if path.contains(['?', '#', ' ']) {
        return Err(format!("--target: {url:?}: no query or fragment allowed"));
    }
    let with_port = if authority.rsplit_once(':').is_some_and(|(h, p)| {
        !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && !h.ends_with(':')
    }) || authority.ends_with(']') && authority.starts_with('[')
    {
        if authority.ends_with(']') {
            format!("{authority}:80")
        } else {
            authority.to_string()
        }
    } else {
        format!("{authority}:80")
    };
    let addr = with_port
        .to_socket_addrs()
        .map_err(|e| format!("--target: cannot resolve {authority:?}: {e}"))?
        .next()
        .ok_or_else(|| format!("--target: {authority:?} resolves to no address"))?;
    Ok((authority.to_string(), addr, path.to_string()))
}

/// `10s`, `500ms`, `2m`, `1.5s`, or a plain number of seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (number, unit) = match s.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("invalid duration {s:?} (e.g. 10s, 500ms, 2m)"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(format!("invalid duration unit in {s:?} (ms, s, m, h)")),
    };
    if !seconds.is_finite() || !(0.0..=86_400.0 * 7.0).contains(&seconds) {
        return Err(format!("duration {s:?} out of range"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// Runs `artemis load` and returns the process exit code.
pub fn main(args: LoadArgs) -> ExitCode {
    let plan = match Plan::from_args(&args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("artemis load: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    if let Err(e) = interrupt::install() {
        eprintln!("artemis load: cannot catch Ctrl-C ({e}); it will end the run without a report");
    }
    if let Err(e) = TcpStream::connect_timeout(&plan.addr, Duration::from_secs(3)) {
        eprintln!(
            "artemis load: target {} ({}) is unreachable: {e}",
            plan.url, plan.addr
        );
        return ExitCode::from(EXIT_UNREACHABLE);
    }
    let Outcome { report, errors } = run(&plan);
    // A failed run has a report worth printing only if the failure came after the measurement
    // (cleanup).
    if errors.is_empty() || report.measured.is_some() {
        if plan.json {
            println!("{}", report.json());
        } else {
            print!("{}", report.table());
        }
    }
    for e in &errors {
        eprintln!("artemis load: {e}");
    }
    if plan.stop.requested() {
        return ExitCode::from(EXIT_INTERRUPTED);
    }
    if !errors.is_empty() {
        return ExitCode::FAILURE;
    }
    if plan.fail_on_error && report.errors() > 0 {
        eprintln!(
            "artemis load: {} (--fail-on-error)",
            match report.errors() {
                1 => "1 response was an error".to_string(),
                n => format!("{n} responses were errors"),
            }
        );
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// What a run produced: its report, and what went wrong (the run's failure, cleanup's).
struct Outcome {
    report: Report,
    errors: Vec<String>,
}

/// Runs a validated plan against a reachable target, cleaning up afterwards if asked to (even
/// after a failure or Ctrl-C).
fn run(plan: &Plan) -> Outcome {
    let mut report = Report {
        scenario: plan.scenario.name().to_string(),
        target: plan.url.clone(),
        connections: plan.connections,
        threads: plan.threads,
        rate: plan.rate,
        batch: plan.batch,
        warmup: plan.warmup,
        duration: plan.duration,
        populate: None,
        pulled_out: None,
        measured: None,
        wait: None,
        interrupted: None,
        cleanup: None,
        extra: Vec::new(),
    };
    let mut errors = Vec::new();
    if plan.scenario == Scenario::WaitEmpty {
        let deadline = plan.duration.max(Duration::from_millis(1));
        match populate::wait_empty(
            plan.addr,
            &plan.endpoint,
            &plan.population,
            deadline,
            plan.timeout,
            plan.stop,
        ) {
            Ok(wait) => report.wait = Some(wait),
            Err(e) => errors.push(e),
        }
        return Outcome { report, errors };
    }
    raise_fd_limit();
    if let Err(e) = set_up_and_measure(plan, &mut report) {
        errors.push(e);
    }
    if plan.cleanup {
        let pop = &plan.population;
        eprintln!(
            "artemis load: cleanup: unregistering {}",
            wording::count(pop.instances as u64, "instance", "instances")
        );
        let pulled_out = match plan.scenario {
            Scenario::Manage => 0..pop.instances,
            _ => pull_out::pulled_out(pop, plan.pulled_out),
        };
        match cleanup::cleanup(plan.addr, &plan.endpoint, pop, pulled_out, plan.timeout) {
            Ok(c) => report.cleanup = Some(c),
            Err(e) => errors.push(e),
        }
    }
    Outcome { report, errors }
}

/// Populates, pulls out, and measures, as far as the plan asks and Ctrl-C lets it.
fn set_up_and_measure(plan: &Plan, report: &mut Report) -> Result<(), String> {
    if plan.populate {
        let pop = &plan.population;
        eprintln!(
            "artemis load: populating {} over {}",
            wording::count(pop.instances as u64, "instance", "instances"),
            wording::count(pop.services as u64, "service", "services")
        );
        let populated =
            populate::populate(plan.addr, &plan.endpoint, pop, plan.timeout, plan.stop)?;
        let complete = populated.complete;
        report.populate = Some(populated);
        if !complete {
            report.interrupted = Some(Stage::Populating);
            return Ok(());
        }
    }
    if plan.pulled_out > 0 {
        let pulled_out = pull_out::pull_out(
            plan.addr,
            &plan.endpoint,
            &plan.population,
            plan.pulled_out,
            plan.timeout,
            plan.stop,
        )?;
        let complete = pulled_out.complete;
        report.pulled_out = Some(pulled_out);
        if !complete {
            report.interrupted = Some(Stage::PullingOut);
            return Ok(());
        }
    }
    if plan.duration.is_zero() {
        return Ok(());
    }
    let push = plan.scenario == Scenario::Push;
    // Push runs count the registrations as requests and report the pushes' latency.
    let (ops, request_ops, latency_ops) = if push {
        (
            vec![Op::Register, Op::Push],
            vec![Op::Register],
            vec![Op::Push],
        )
    } else {
        let ops: Vec<Op> = plan.mix.iter().map(|&(op, _)| op).collect();
        (ops.clone(), ops.clone(), ops)
    };
    let mut progress = ProgressLine::new();
    let started_unix_ms = unix_ms();
    let on_tick = |counters: &[runner::Progress], window| progress.tick(counters, window);
    let (cpu_before, timed) = if push {
        let cpu_before = cpu_seconds();
        (cpu_before, push::run(plan, on_tick))
    } else {
        let shared = Arc::new(runner_shared(plan));
        let cpu_before = cpu_seconds();
        (cpu_before, runner::run(shared, on_tick))
    };
    let (mut stats, window) = timed?;
    progress.finish();
    let settled = window.settled();
    if window.cut_short() {
        stats.cut_timeline(settled.end - settled.measure);
        report.interrupted = Some(if settled.end <= window.measure {
            Stage::WarmUp
        } else {
            Stage::Measuring
        });
    }
    record_cpu(report, cpu_before, &settled);
    report.measured = Some(Measured {
        stats,
        window: settled,
        measure_unix_ms: started_unix_ms + plan.warmup.as_millis() as u64,
        ops,
        request_ops,
        latency_ops,
    });
    Ok(())
}

/// What the generator threads of a non-push run share: every request serialized up front, and
/// how each operation's responses are checked.
fn runner_shared(plan: &Plan) -> Shared {
    let mut tables = Tables::default();
    let mut checks = [Check::Artemis; scenario::OPS];
    for &(op, _) in &plan.mix {
        let table = match op {
            Op::Heartbeat | Op::Register => {
                RequestTable::instances(&plan.endpoint, op, &plan.population, plan.batch)
            }
            Op::Lookup => RequestTable::lookups(&plan.endpoint, &plan.population),
            Op::Manage => RequestTable::operations(&plan.endpoint, &plan.population),
            Op::Raw => RequestTable::raw(&plan.endpoint, &plan.population),
            Op::WsHeartbeat => RequestTable::ws_heartbeats(&plan.population, plan.batch),
            Op::Push | Op::Unregister => unreachable!("{} is no measured operation", op.name()),
        };
        tables.insert(op, table);
        checks[op.index()] = match op {
            Op::Raw => Check::HttpOk,
            Op::Lookup if plan.populate => Check::LookupNonEmpty,
            _ => Check::Artemis,
        };
    }
    let transport = if plan.scenario == Scenario::WsHeartbeat {
        Transport::WebSocket(format!("{}/ws/registry/heartbeat", plan.endpoint.path))
    } else {
        Transport::Http
    };
    Shared {
        stop: plan.stop,
        addr: plan.addr,
        host: plan.endpoint.host.clone(),
        transport,
        tables,
        mix: plan.mix.clone(),
        checks,
        connections: plan.connections,
        threads: plan.threads,
        rate: plan.rate,
        warmup: plan.warmup,
        duration: plan.duration,
        timeout: plan.timeout,
        progress: (0..plan.threads).map(|_| Default::default()).collect(),
    }
}

/// CPU time this process has used so far: (user, system) seconds.
fn cpu_seconds() -> (f64, f64) {
    // SAFETY: getrusage writes into a local, zero-initialised struct.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (secs(usage.ru_utime), secs(usage.ru_stime))
}

/// The generator's own CPU use over the run (warm-up included), so reports can say how much of the
/// shared machine the client took: `client_cpu_user_s`, `client_cpu_sys_s`, and
/// `client_cpu_cores` (CPU seconds per wall-clock second).
fn record_cpu(report: &mut Report, before: (f64, f64), window: &runner::Window) {
    let after = cpu_seconds();
    let wall = (window.end - window.start).as_secs_f64().max(1e-9);
    let (user, sys) = (after.0 - before.0, after.1 - before.1);
    report.extra.push(("client_cpu_user_s".into(), user));
    report.extra.push(("client_cpu_sys_s".into(), sys));
    report
        .extra
        .push(("client_cpu_cores".into(), (user + sys) / wall));
}

/// Push runs hold a socket per subscriber: lift the soft open-file limit to the hard one.
fn raise_fd_limit() {
    // SAFETY: plain getrlimit/setrlimit on a local, initialised struct.
    unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert!(parse_duration("10x").is_err());
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn targets() {
        let (host, addr, path) = parse_target("http://127.0.0.1:8080").unwrap();
        assert_eq!(
            (host.as_str(), addr.port(), path.as_str()),
            ("127.0.0.1:8080", 8080, "")
        );
        let (_, addr, path) = parse_target("http://127.0.0.1:9/artemis-service/").unwrap();
        assert_eq!((addr.port(), path.as_str()), (9, "/artemis-service/"));
        let (host, addr, _) = parse_target("http://127.0.0.1").unwrap();
        assert_eq!((host.as_str(), addr.port()), ("127.0.0.1", 80));
        let (_, addr, _) = parse_target("http://[::1]:81/x").unwrap();
        assert_eq!(addr.port(), 81);
        assert!(parse_target("https://127.0.0.1").is_err());
        assert!(parse_target("127.0.0.1:80").is_err());
        assert!(parse_target("http:///x").is_err());
    }
}
