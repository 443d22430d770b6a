//! The admin commands (`artemis services`, `instances`, `pull-out`, `pull-in`, `ops`, `nodes`,
//! `config check`, `config from-java`) run as the real binary against a real server: their
//! output, what they change on the node, and their exit codes (0 done, 1 the node refused or
//! could not be reached, 2 a command line or file that cannot work).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use harness::*;

/// What a command run ended with.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn assert_code(&self, code: i32, ctx: &str) -> &Run {
        assert_eq!(
            self.code,
            Some(code),
            "{ctx}: stdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    fn ok(&self, ctx: &str) -> &Run {
        self.assert_code(0, ctx);
        assert!(self.stderr.is_empty(), "{ctx}: stderr:\n{}", self.stderr);
        self
    }

    /// A failure: `code`, nothing on stdout, and one `artemis: ...` line on stderr containing
    /// `needle`.
    fn fails(&self, code: i32, needle: &str, ctx: &str) {
        self.assert_code(code, ctx);
        assert!(self.stdout.is_empty(), "{ctx}: stdout:\n{}", self.stdout);
        assert!(
            self.stderr.starts_with("artemis: ") && self.stderr.contains(needle),
            "{ctx}: stderr does not say {needle:?}:\n{}",
            self.stderr
        );
    }

    /// Table rows below the header, split into cells; asserts the header.
    fn rows(&self, header: &[&str]) -> Vec<Vec<String>> {
        let mut lines = self.stdout.lines();
        let got: Vec<&str> = lines.next().unwrap_or("").split_whitespace().collect();
        assert_eq!(got, header, "table header:\n{}", self.stdout);
        lines
            .map(|l| l.split_whitespace().map(String::from).collect())
            .collect()
    }

    fn json(&self) -> Value {
        sonic_rs::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

/// `artemis ARGS` with `ARTEMIS_TOKEN` set to `token_env` (and unset when `None`, whatever the
/// test's own environment holds).
fn artemis_with_token_env(args: &[&str], token_env: Option<&str>) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_artemis"));
    cmd.args(args)
        .stdin(Stdio::null())
        .env_remove("ARTEMIS_TOKEN");
    if let Some(token) = token_env {
        cmd.env("ARTEMIS_TOKEN", token);
    }
    // The commands bound every connect and read themselves, so this cannot hang.
    let out = cmd.output().expect("run artemis");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn artemis(args: &[&str]) -> Run {
    artemis_with_token_env(args, None)
}

/// `artemis ARGS --server <server's URL>`.
fn against(server: &Server, args: &[&str]) -> Run {
    let url = server.url();
    let mut all = args.to_vec();
    all.extend(["--server", &url]);
    artemis(&all)
}

/// A directory for files a test writes, removed at the end.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!(
            "artemis-admin-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        Scratch(dir)
    }

    fn write(&self, name: &str, text: &str) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, text).expect("write scratch file");
        path_text(&path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn path_text(path: &Path) -> String {
    path.to_str().expect("temp paths are UTF-8").to_string()
}

fn cells(rows: &[Vec<String>], column: usize) -> Vec<&str> {
    rows.iter().map(|r| r[column].as_str()).collect()
}

#[test]
fn services_and_instances_list_what_discovery_and_management_see() {
    let server = Server::start_sha(&[], None);
    let mut c = server.client();
    let a1 = Inst::new("cli-a", "a-1").ip("10.1.0.1");
    let a2 = Inst::new("cli-a", "a-2").ip("10.1.0.2").zone("SHAOY");
    let b1 = Inst::new("cli-b", "b-1").ip("10.1.0.3");
    register(&mut c, &[a1, a2, b1]);

    let run = against(&server, &["services"]);
    let rows = run.ok("services").rows(&["SERVICE", "INSTANCES"]);
    assert_eq!(rows, [["cli-a", "2"], ["cli-b", "1"]]);
    let v = against(&server, &["services", "--json"]).json();
    assert_success_status(&v, "services --json");
    assert_eq!(arr_len(&v["services"], "services"), 2, "{}", dump(&v));

    let run = against(&server, &["services", "--service", "CLI-A"]);
    let rows = run
        .ok("services --service")
        .rows(&["INSTANCE", "IP", "PORT", "ZONE", "URL"]);
    assert_eq!(
        rows,
        [
            [
                "a-1",
                "10.1.0.1",
                "8080",
                "SHAJQ",
                "http://10.0.0.1:8080/cli-a"
            ],
            [
                "a-2",
                "10.1.0.2",
                "8080",
                "SHAOY",
                "http://10.0.0.1:8080/cli-a"
            ],
        ]
    );
    let v = against(&server, &["services", "--service", "cli-b", "--json"]).json();
    assert_eq!(
        v["service"]["serviceId"].as_str(),
        Some("cli-b"),
        "{}",
        dump(&v)
    );

    let run = against(&server, &["instances", "cli-a"]);
    let header = ["INSTANCE", "IP", "PORT", "ZONE", "STATUS", "URL"];
    let rows = run.ok("instances").rows(&header);
    assert_eq!(cells(&rows, 0), ["a-1", "a-2"]);
    assert_eq!(cells(&rows, 4), ["up", "up"]);
    let v = against(&server, &["instances", "cli-a", "--json"]).json();
    assert_eq!(
        arr_len(&v["service"]["instances"], "instances"),
        2,
        "{}",
        dump(&v)
    );
}

#[test]
fn unknown_services_fail() {
    let server = Server::start_sha(&[], None);
    against(&server, &["services", "--service", "no-such-service"]).fails(
        1,
        "\"no-such-service\" has no discoverable instance",
        "services --service unknown",
    );
    against(&server, &["instances", "no-such-service"]).fails(
        1,
        "\"no-such-service\" has no registered instance",
        "instances unknown",
    );
    // --json does not turn the failure into output.
    against(&server, &["instances", "no-such-service", "--json"]).fails(
        1,
        "no registered instance",
        "instances unknown --json",
    );
}

#[test]
fn pull_out_and_pull_in_change_what_clients_discover() {
    let server = Server::start_sha(&[], None);
    let mut c = server.client();
    let insts = [
        Inst::new("cli-traffic", "t-1").ip("10.2.0.1"),
        Inst::new("cli-traffic", "t-2").ip("10.2.0.2"),
        Inst::new("cli-traffic", "t-3").ip("10.2.0.3").zone("SHAOY"),
    ];
    register(&mut c, &insts);
    let all = ["t-1", "t-2", "t-3"];

    // The region defaults to the node's (SHA): the pull-out takes effect.
    let run = against(
        &server,
        &[
            "pull-out",
            "instance",
            "cli-traffic",
            "t-1",
            "--operator",
            "alice",
        ],
    );
    assert_eq!(
        run.ok("pull-out instance").stdout,
        "pulled out instance t-1 of service cli-traffic in region SHA\n"
    );
    assert_eq!(lookup_ids(&mut c, "cli-traffic"), ["t-2", "t-3"]);
    let rows = against(&server, &["instances", "cli-traffic"])
        .rows(&["INSTANCE", "IP", "PORT", "ZONE", "STATUS", "URL"]);
    assert_eq!(cells(&rows, 4), ["down", "up", "up"]);

    let run = against(
        &server,
        &[
            "pull-out",
            "server",
            "10.2.0.2",
            "--operator",
            "alice",
            "--json",
        ],
    );
    assert_write_ok(&run.ok("pull-out server --json").json(), "pull-out server");
    assert_eq!(lookup_ids(&mut c, "cli-traffic"), ["t-3"]);

    let args = [
        "pull-out",
        "zone",
        "cli-traffic",
        "SHAOY",
        "--operator",
        "bob",
        "--reason",
        "rack move",
    ];
    against(&server, &args).ok("pull-out zone");
    assert!(lookup_ids(&mut c, "cli-traffic").is_empty());
    // With every instance pulled out, discovery has nothing to show.
    against(&server, &["services", "--service", "cli-traffic"]).fails(
        1,
        "no discoverable instance",
        "services --service, all pulled out",
    );

    for (kind, target) in [
        ("instance", &["cli-traffic", "t-1"][..]),
        ("server", &["10.2.0.2"][..]),
        ("zone", &["cli-traffic", "SHAOY"][..]),
    ] {
        let mut args = vec!["pull-in", kind];
        args.extend_from_slice(target);
        args.extend(["--operator", "carol"]);
        let run = against(&server, &args);
        assert!(
            run.ok(&format!("pull-in {kind}"))
                .stdout
                .starts_with(&format!("pulled in {kind} ")),
            "{}",
            run.stdout
        );
    }
    assert_eq!(lookup_ids(&mut c, "cli-traffic"), all);

    // Another region's key is another key: nothing of SHA goes away.
    let args = [
        "pull-out",
        "server",
        "10.2.0.1",
        "--operator",
        "alice",
        "--region",
        "FRA",
    ];
    let run = against(&server, &args);
    assert!(run
        .ok("pull-out --region")
        .stdout
        .ends_with("in region FRA\n"));
    assert_eq!(lookup_ids(&mut c, "cli-traffic"), all);
}

#[test]
fn ops_lists_operations_newest_first() {
    let server = Server::start_sha(&[], None);
    let mut c = server.client();
    register(&mut c, &[Inst::new("cli-ops", "o-1").ip("10.3.0.1")]);
    let steps: [&[&str]; 4] = [
        &[
            "pull-out",
            "instance",
            "cli-ops",
            "o-1",
            "--operator",
            "alice",
        ],
        &["pull-out", "server", "10.3.0.9", "--operator", "bob"],
        &[
            "pull-out",
            "zone",
            "cli-ops",
            "SHAJQ",
            "--operator",
            "carol",
        ],
        &[
            "pull-in",
            "instance",
            "cli-ops",
            "o-1",
            "--operator",
            "dave",
        ],
    ];
    for step in steps {
        against(&server, step).ok(&format!("{step:?}"));
    }

    let header = [
        "TIME",
        "KIND",
        "REGION",
        "TARGET",
        "ACTION",
        "OPERATION",
        "OPERATOR",
    ];
    let rows = against(&server, &["ops"]).rows(&header);
    assert_eq!(cells(&rows, 6), ["dave", "carol", "bob", "alice"]);
    assert_eq!(cells(&rows, 1), ["instance", "zone", "server", "instance"]);
    assert_eq!(
        cells(&rows, 3),
        ["cli-ops/o-1", "cli-ops/SHAJQ", "10.3.0.9", "cli-ops/o-1"]
    );
    assert_eq!(
        cells(&rows, 4),
        ["pull-in", "pull-out", "pull-out", "pull-out"]
    );
    assert_eq!(cells(&rows, 5), ["pullout"; 4]);
    assert_eq!(cells(&rows, 2), ["SHA"; 4]);
    assert!(
        rows.iter().all(|r| r[0].len() == 20 && r[0].ends_with('Z')),
        "{rows:?}"
    );

    // Server operations name no service: --service leaves them out.
    let rows = against(&server, &["ops", "--service", "CLI-OPS"]).rows(&header);
    assert_eq!(cells(&rows, 6), ["dave", "carol", "alice"]);
    let rows = against(&server, &["ops", "--service", "other"]).rows(&header);
    assert!(rows.is_empty(), "{rows:?}");
    let rows = against(&server, &["ops", "--kind", "zone"]).rows(&header);
    assert_eq!(cells(&rows, 6), ["carol"]);
    let rows = against(&server, &["ops", "--region", "FRA"]).rows(&header);
    assert!(rows.is_empty(), "{rows:?}");

    let v = against(&server, &["ops", "--json"]).json();
    for (kind, count) in [("instance", 2), ("server", 1), ("zone", 1)] {
        assert_success_status(&v[kind], kind);
        assert_eq!(arr_len(&v[kind]["logs"], kind), count, "{}", dump(&v));
    }
    let v = against(&server, &["ops", "--kind", "server", "--json"]).json();
    assert_eq!(v.as_object().map(|o| o.len()), Some(1), "{}", dump(&v));

    against(
        &server,
        &["ops", "--kind", "server", "--service", "cli-ops"],
    )
    .fails(
        2,
        "--service cannot filter server operations",
        "ops --kind server --service",
    );
    against(&server, &["ops", "--kind", "group"]).fails(2, "--kind", "ops --kind group");
}

#[test]
fn nodes_lists_the_node_under_its_path_prefix() {
    let server = Server::start_sha(&["--path-prefix", "/artemis-service"], None);
    let url = format!("{}/artemis-service", server.url());
    let run = artemis(&["nodes", "--server", &url]);
    let rows = run
        .ok("nodes")
        .rows(&["URL", "REGION", "ZONE", "STATUS", "REGISTRY", "DISCOVERY"]);
    assert_eq!(
        rows,
        [[format!("{url}/").as_str(), REGION, ZONE, "up", "yes", "yes"]]
    );
    // cluster.json's list of node statuses, or node.json's one from a node without it.
    let v = artemis(&["nodes", "--server", &url, "--json"]).json();
    assert_success_status(&v, "nodes --json");
    let status = if v["nodesStatus"].is_array() {
        v["nodesStatus"][0].clone()
    } else {
        v["nodeStatus"].clone()
    };
    assert_eq!(
        status["node"]["url"].as_str(),
        Some(format!("{url}/").as_str()),
        "{}",
        dump(&v)
    );
}

#[test]
fn writes_need_a_configured_token() {
    let server = Server::start_sha(&[], Some("[management]\ntokens = [\"s3cret\"]\n"));
    let mut c = server.client();
    register(&mut c, &[Inst::new("cli-token", "k-1").ip("10.4.0.1")]);
    let url = server.url();
    let pull_out = |extra: &[&str], token_env: Option<&str>| {
        let mut args = vec![
            "pull-out",
            "server",
            "10.4.0.1",
            "--operator",
            "alice",
            "--server",
            &url,
        ];
        args.extend_from_slice(extra);
        artemis_with_token_env(&args, token_env)
    };

    pull_out(&[], None).fails(1, "no-permission", "no token");
    pull_out(&["--token", "wrong"], None).fails(1, "no-permission", "wrong token");
    pull_out(&[], Some("wrong")).fails(1, "no-permission", "wrong ARTEMIS_TOKEN");
    assert_eq!(lookup_ids(&mut c, "cli-token"), ["k-1"]);

    pull_out(&["--token", "s3cret"], None).ok("--token");
    assert!(lookup_ids(&mut c, "cli-token").is_empty());
    let args = [
        "pull-in",
        "server",
        "10.4.0.1",
        "--operator",
        "alice",
        "--server",
        &url,
    ];
    artemis_with_token_env(&args, Some("s3cret")).ok("ARTEMIS_TOKEN");
    assert_eq!(lookup_ids(&mut c, "cli-token"), ["k-1"]);
    // --token wins over the environment.
    pull_out(&["--token", "wrong"], Some("s3cret")).fails(1, "no-permission", "--token first");
    // Reads stay open.
    against(&server, &["instances", "cli-token"]).ok("read without token");
}

#[test]
fn unreachable_nodes_and_unusable_urls_fail() {
    // A port nobody listens on: bound, then released.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let url = format!("http://127.0.0.1:{port}");
    for args in [
        &["nodes"][..],
        &["services"],
        &["instances", "x"],
        &["ops"],
        &["pull-out", "server", "10.0.0.1", "--operator", "alice"],
        &[
            "pull-in",
            "zone",
            "s",
            "z",
            "--operator",
            "alice",
            "--region",
            "SHA",
        ],
    ] {
        let mut all = args.to_vec();
        all.extend(["--server", &url]);
        artemis(&all).fails(1, &format!("cannot reach {url}"), &format!("{args:?}"));
    }
    artemis(&["nodes", "--server", "https://127.0.0.1:8443"]).fails(
        2,
        "https is not supported",
        "https",
    );
    artemis(&["services", "--server", "127.0.0.1:8080"]).fails(2, "--server", "no scheme");
}

#[test]
fn config_check_validates_without_starting() {
    let dir = Scratch::new("check");
    let good = dir.write(
        "good.toml",
        "region_id = \"SHA\"\nlisten = \"127.0.0.1:1\"\n[lease]\nttl_ms = 30000\n",
    );
    let run = artemis(&["config", "check", &good]);
    assert_eq!(run.ok("config check good").stdout, "ok\n");
    // The example file documents every key with its default.
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/artemis.example.toml");
    artemis(&["config", "check", example]).ok("config check example");

    let out_of_range = dir.write("range.toml", "[lease]\nttl_ms = 5\n");
    artemis(&["config", "check", &out_of_range]).fails(2, "lease.ttl_ms", "out of range");
    let unknown = dir.write("unknown.toml", "[lease]\nttl = 5\n");
    artemis(&["config", "check", &unknown]).fails(2, "ttl", "unknown key");
    let missing = path_text(&dir.0.join("missing.toml"));
    artemis(&["config", "check", &missing]).fails(2, "cannot read", "missing file");
}

#[test]
fn config_from_java_converts_a_server_file_that_then_runs() {
    let dir = Scratch::new("from-java");
    let properties = dir.write(
        "artemis.properties",
        "\
# a Java Artemis server
region.id=SHA
zone.id=SHAJQ
artemis.service.cluster.nodes=SHAJQ:http://10.0.0.5:8080/artemis-service/
artemis.service.registry.instance.lease-manager.lease.ttl=30000
artemis.service.registry.legacy-instance.lease-manager.lease.ttl=90000
artemis.service.registry.allow-from-other-zone=false
artemis.service.discovery.allow-from-other-zone=true
artemis.service.status.rate-limiter.rate-limit-map=get-leases:10
artemis.servce.typo=1
",
    );
    let run = artemis(&["config", "from-java", &properties]);
    run.assert_code(0, "from-java");
    let notes: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(notes.len(), 2, "{}", run.stderr);
    assert!(notes.iter().all(|n| n.starts_with("# ")), "{}", run.stderr);
    assert!(
        notes[0].contains("artemis.service.cluster.nodes (line 4)"),
        "{}",
        run.stderr
    );
    assert_eq!(
        notes[1],
        "# unknown key, not converted: artemis.servce.typo (line 10)"
    );
    // The rate-limit override carries over as a per-identity limit of the status limiter.
    assert!(
        run.stdout
            .contains("status.per_identity = { get-leases = 10 }  # artemis.service.status.rate-limiter.rate-limit-map (line 9)"),
        "{}",
        run.stdout
    );

    let toml = dir.write("artemis.toml", &run.stdout);
    artemis(&["config", "check", &toml]).ok("check the converted file");
    // The converted file runs a node with the Java node's region, zone and zone policies.
    let server = Server::start(&[], Some(&run.stdout));
    let v = artemis(&["nodes", "--server", &server.url(), "--json"]).json();
    let status = if v["nodesStatus"].is_array() {
        v["nodesStatus"][0].clone()
    } else {
        v["nodeStatus"].clone()
    };
    assert_eq!(status["node"]["zone"]["regionId"].as_str(), Some("SHA"));
    assert_eq!(status["node"]["zone"]["zoneId"].as_str(), Some("SHAJQ"));
    assert_eq!(status["allowRegistryFromOtherZone"].as_bool(), Some(false));
    assert_eq!(status["allowDiscoveryFromOtherZone"].as_bool(), Some(true));

    let bad = dir.write(
        "bad.properties",
        "artemis.service.registry.instance.lease-manager.lease.ttl=20s\n",
    );
    artemis(&["config", "from-java", &bad]).fails(
        2,
        "lease.ttl (line 1): \"20s\" is not a whole number",
        "bad value",
    );
    let missing = path_text(&dir.0.join("missing.properties"));
    artemis(&["config", "from-java", &missing]).fails(2, "cannot read", "missing file");
}
