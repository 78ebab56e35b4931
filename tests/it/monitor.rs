//! Issue 19, what an operator looks at: `aelf-netctl crawl` over a line of eight real daemons
//! (heights, keys, stream and legacy mode, topology, a stopped node, a refusing node, nothing
//! left connected); every
//! query of the Grafana dashboard evaluated by a real Prometheus scraping a small devnet; the
//! alert rules checked and unit-tested by promtool. Prometheus, promtool and Graphviz are
//! installed by `make deps`; a missing one fails the test with that hint.
//!
//! The daemons here are child processes on 127.0.0.1 with the crawl test's own config (a line
//! of boot nodes, one legacy node); waits and HTTP go through `support`.

use crate::support::wait::{wait_until, DEADLINE};
use aelf_net::api::client::ApiClient;
use aelf_net::crawl::{crawl, dot, CrawlOptions, CrawlReport, Status};
use aelf_net::crypto::{load_or_create_key_file, NodeKey};
use aelf_net::network::endpoint::Endpoint;
use aelf_net::types::chain_id_from_name;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

const NETD: &str = env!("CARGO_BIN_EXE_aelf-netd");
const NETCTL: &str = env!("CARGO_BIN_EXE_aelf-netctl");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

// === helpers ===

/// Fails with the `make deps` hint when `program` is not installed.
fn require(program: &str, package: &str) {
    let found = Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    assert!(
        found,
        "`{program}` is missing: `make deps` installs it (Debian package {package})"
    );
}

/// `n` ports free on 127.0.0.1 right now (all held at once, so they differ).
fn free_ports(n: usize) -> Vec<u16> {
    let held: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind a free port"))
        .collect();
    held.iter()
        .map(|l| l.local_addr().expect("local address").port())
        .collect()
}

/// GET `url` (`http://host:port/path`): (status, body); status 0 when nothing answers.
fn get(url: &str) -> (u16, String) {
    let rest = url.strip_prefix("http://").unwrap_or(url);
    let (base, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let client = ApiClient::new(&format!("http://{base}")).with_timeout(Duration::from_secs(10));
    match client.request("GET", if path.is_empty() { "/" } else { path }, None) {
        Ok(answer) => (answer.status, answer.body),
        Err(_) => (0, String::new()),
    }
}

fn get_json(url: &str) -> Option<Value> {
    match get(url) {
        (200, body) => serde_json::from_str(&body).ok(),
        _ => None,
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: kill(2) on a child we own and have not reaped.
    unsafe { libc::kill(child.id() as i32, sig) };
}

/// One aelf-netd process on 127.0.0.1, killed when dropped.
struct Daemon {
    child: Child,
    dir: PathBuf,
    p2p: SocketAddr,
    api: SocketAddr,
    key: NodeKey,
    /// The config file, rewritten for reloads.
    config: PathBuf,
}

/// How to start one daemon.
struct NodeSpec<'a> {
    p2p_port: u16,
    api_port: u16,
    boot_nodes: Vec<String>,
    producer: bool,
    /// Extra `[network]` lines.
    network: &'a str,
    /// `[node] node_version`; the default when `None`.
    node_version: Option<&'a str>,
}

/// The config of a node whose data lives in `data_dir`.
fn config_text(data_dir: &Path, spec: &NodeSpec<'_>) -> String {
    let boots: Vec<String> = spec.boot_nodes.iter().map(|b| format!("{b:?}")).collect();
    let version = spec
        .node_version
        .map_or(String::new(), |v| format!("node_version = {v:?}\n"));
    format!(
        "[node]\ndata_dir = {data:?}\n{version}\n\
         [network]\nlisten_address = \"127.0.0.1\"\nlistening_port = {p2p}\nboot_nodes = [{boots}]\n{extra}\n\n\
         [producer]\nenabled = {producer}\n\n[chain]\nmining_interval_ms = 800\n\n\
         [api]\nlisten = \"127.0.0.1:{api}\"\n",
        data = data_dir.display().to_string(),
        p2p = spec.p2p_port,
        boots = boots.join(", "),
        extra = spec.network,
        producer = spec.producer,
        api = spec.api_port,
    )
}

impl Daemon {
    /// Starts a node in `root/name` and waits until its API answers.
    fn start(root: &Path, name: &str, spec: &NodeSpec<'_>) -> Daemon {
        let dir = root.join(name);
        let data_dir = dir.join("data");
        let (key, _) = load_or_create_key_file(&data_dir).expect("node key");
        // A producing node is development miner 1: its node key is that miner's key.
        let key = if spec.producer {
            aelf_net::chain::aedpos::development_key(1)
        } else {
            key
        };
        let config = dir.join("aelf-netd.toml");
        std::fs::write(&config, config_text(&data_dir, spec)).expect("write config");
        let log = std::fs::File::create(dir.join("aelf-netd.log")).expect("log file");
        let child = Command::new(NETD)
            .arg("--config")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("start aelf-netd");
        let daemon = Daemon {
            child,
            dir,
            p2p: SocketAddr::from(([127, 0, 0, 1], spec.p2p_port)),
            api: SocketAddr::from(([127, 0, 0, 1], spec.api_port)),
            key,
            config,
        };
        wait_until(&format!("{name}'s API"), || daemon.chain().is_some());
        daemon
    }

    /// Rewrites its config from `spec` and tells it to reload (SIGHUP).
    fn reload(&self, spec: &NodeSpec<'_>) {
        std::fs::write(&self.config, config_text(&self.dir.join("data"), spec))
            .expect("rewrite config");
        signal(&self.child, libc::SIGHUP);
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.api)
    }

    fn chain(&self) -> Option<Value> {
        get_json(&self.url("/api/blockChain/chainStatus"))
    }

    fn height(&self) -> i64 {
        self.chain()
            .and_then(|c| c["BestChainHeight"].as_i64())
            .unwrap_or(-1)
    }

    /// Public keys of its peers (`None` when the API does not answer).
    fn peer_keys(&self) -> Option<Vec<String>> {
        let peers = get_json(&self.url("/api/net/peers"))?;
        Some(
            peers
                .as_array()?
                .iter()
                .map(|p| p["Pubkey"].as_str().unwrap_or_default().to_owned())
                .collect(),
        )
    }

    /// The hash of its best-chain block at `height`.
    fn block_hash(&self, height: i64) -> Option<String> {
        get_json(&self.url(&format!(
            "/api/blockChain/blockByHeight?blockHeight={height}"
        )))
        .and_then(|b| b["BlockHash"].as_str().map(str::to_owned))
    }

    fn endpoint(&self) -> String {
        self.p2p.to_string()
    }

    /// SIGTERM and wait for the exit.
    fn stop(&mut self) {
        signal(&self.child, libc::SIGTERM);
        let status = self.child.wait().expect("wait for aelf-netd");
        assert!(status.success(), "aelf-netd stopped with {status}");
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if std::thread::panicking() {
            let log = std::fs::read_to_string(self.dir.join("aelf-netd.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!("== {} (last lines)", self.dir.display());
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

// === the crawler ===

/// The one node of the line that announces an old version: it and the crawler (and its
/// neighbours) talk legacy mode, the rest stream mode.
const LEGACY_NODE: usize = 5;

/// `n` nodes booted as a line (node i dials node i − 1), discovery off so that each knows
/// exactly its neighbours; node 1 produces; node [`LEGACY_NODE`] + 1 is at version 1.3.0.0.
fn line(root: &Path, n: usize) -> Vec<Daemon> {
    let ports = free_ports(2 * n);
    let mut nodes: Vec<Daemon> = Vec::new();
    for i in 0..n {
        let spec = NodeSpec {
            p2p_port: ports[i],
            api_port: ports[n + i],
            boot_nodes: nodes.last().map(|d| d.endpoint()).into_iter().collect(),
            producer: i == 0,
            network: "enable_peer_discovery = false",
            node_version: (i == LEGACY_NODE).then_some("1.3.0.0"),
        };
        nodes.push(Daemon::start(root, &format!("node-{}", i + 1), &spec));
    }
    nodes
}

/// Until every running node has exactly the line's peers: its neighbours' keys, no other.
fn wait_for_line_peers(nodes: &[Daemon], running: &[usize]) {
    for &i in running {
        let expected: BTreeSet<String> = [i.checked_sub(1), Some(i + 1)]
            .into_iter()
            .flatten()
            .filter(|j| running.contains(j))
            .map(|j| nodes[j].key.pubkey_hex())
            .collect();
        wait_until(
            &format!("node {}'s peers to be its line neighbours", i + 1),
            || {
                nodes[i]
                    .peer_keys()
                    .is_some_and(|keys| keys.into_iter().collect::<BTreeSet<_>>() == expected)
            },
        );
    }
}

fn crawl_from(seeds: &[&Daemon]) -> CrawlReport {
    let seeds = seeds
        .iter()
        .map(|d| Endpoint::parse(&d.endpoint()).expect("endpoint"))
        .collect();
    let mut options = CrawlOptions::new(seeds, chain_id_from_name("AELF").expect("AELF"));
    options.listen_address = [127, 0, 0, 1].into();
    options.node_timeout = Duration::from_secs(20);
    options.total_timeout = DEADLINE;
    crawl(&options).expect("crawl starts")
}

fn netctl_crawl(args: &[&str]) -> Output {
    Command::new(NETCTL)
        .arg("crawl")
        .args(args)
        .output()
        .expect("run aelf-netctl crawl")
}

/// The DOT has an edge between `a` and `b`, in either order.
fn has_edge(dot: &str, a: &str, b: &str) -> bool {
    dot.contains(&format!("\"{a}\" -- \"{b}\";")) || dot.contains(&format!("\"{b}\" -- \"{a}\";"))
}

#[test]
fn crawl_finds_a_line_of_eight_with_heights_topology_refusals_and_leaves_nothing_behind() {
    require("dot", "graphviz");
    let root = tempfile::tempdir().unwrap();
    let mut nodes = line(root.path(), 8);
    let all: Vec<usize> = (0..8).collect();
    wait_for_line_peers(&nodes, &all);
    wait_until("the line to sync past height 3", || {
        nodes.iter().all(|n| n.height() >= 3)
    });
    let endpoints: Vec<String> = nodes.iter().map(Daemon::endpoint).collect();

    // The command line, JSON: every node answered with its own key, chain and heights.
    let out = netctl_crawl(&[&endpoints[0], "--listen", "127.0.0.1", "--json"]);
    assert!(out.status.success(), "crawl --json: {}", text(&out));
    let report: Value = serde_json::from_slice(&out.stdout).expect("crawl --json is JSON");
    let found = report["nodes"].as_array().expect("nodes");
    assert_eq!(found.len(), 8, "{report:#}");
    let by_endpoint: HashMap<&str, &Value> = found
        .iter()
        .map(|n| (n["endpoint"].as_str().unwrap_or_default(), n))
        .collect();
    for (i, node) in nodes.iter().enumerate() {
        let n = by_endpoint[endpoints[i].as_str()];
        assert_eq!(n["status"], "answered", "{n:#}");
        assert_eq!(n["pubkey"], node.key.pubkey_hex().as_str(), "{n:#}");
        assert_eq!(n["chain_id"], "AELF");
        let (version, mode) = if i == LEGACY_NODE {
            ("1.3.0.0", "legacy")
        } else {
            ("1.9.0.0", "stream")
        };
        assert_eq!(n["node_version"], version, "{n:#}");
        assert_eq!(n["mode"], mode, "{n:#}");
        assert_eq!(n["goodbye"], true, "{n:#}");
        // Heights and hashes are the node's own chain at the time of its handshake.
        let best = n["best_height"].as_i64().expect("best height");
        let lib = n["lib_height"].as_i64().expect("LIB height");
        assert!(best >= 3 && lib <= best, "{n:#}");
        assert_eq!(n["best_hash"].as_str(), node.block_hash(best).as_deref());
        assert_eq!(n["lib_hash"].as_str(), node.block_hash(lib).as_deref());
        let neighbours: BTreeSet<&str> = n["neighbours"]
            .as_array()
            .expect("neighbours")
            .iter()
            .filter_map(|x| x["endpoint"].as_str())
            .collect();
        let expected: BTreeSet<&str> = [i.checked_sub(1), Some(i + 1)]
            .into_iter()
            .flatten()
            .filter(|j| *j < 8)
            .map(|j| endpoints[j].as_str())
            .collect();
        assert_eq!(neighbours, expected, "node {}", i + 1);
    }

    // DOT on stdout, and the picture through Graphviz.
    let svg = root.path().join("topology.svg");
    let out = netctl_crawl(&[
        &endpoints[0],
        "--listen",
        "127.0.0.1",
        "--dot",
        "--svg",
        svg.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "crawl --dot: {}", text(&out));
    let dot = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(dot.matches(" -- ").count(), 7, "{dot}");
    for pair in endpoints.windows(2) {
        assert!(has_edge(&dot, &pair[0], &pair[1]), "{dot}");
    }
    let picture = std::fs::read_to_string(&svg).expect("the SVG was written");
    assert!(picture.contains("<svg") && picture.contains(&endpoints[7]));

    // Node 8 stops; node 4 takes only its neighbours' keys (SIGHUP). Crawled from nodes 1 and
    // 5 (nothing beyond the refusing node 4 is reachable otherwise).
    nodes[7].stop();
    let keys = format!(
        "authorized_peers = \"authorized\"\nauthorized_keys = [{:?}, {:?}]",
        nodes[2].key.pubkey_hex(),
        nodes[4].key.pubkey_hex()
    );
    let spec = NodeSpec {
        p2p_port: nodes[3].p2p.port(),
        api_port: nodes[3].api.port(),
        boot_nodes: vec![endpoints[2].clone()],
        producer: false,
        network: &format!("enable_peer_discovery = false\n{keys}"),
        node_version: None,
    };
    nodes[3].reload(&spec);
    wait_until("node 4 to refuse strangers", || {
        let mut options = CrawlOptions::new(
            vec![Endpoint::parse(&endpoints[3]).unwrap()],
            chain_id_from_name("AELF").unwrap(),
        );
        options.listen_address = [127, 0, 0, 1].into();
        options.max_nodes = 1;
        crawl(&options).is_ok_and(|r| r.nodes[0].status == Status::Refused)
    });
    let report = crawl_from(&[&nodes[0], &nodes[4]]);
    let status: HashMap<&str, (Status, Option<&str>)> = report
        .nodes
        .iter()
        .map(|n| (n.endpoint.as_str(), (n.status, n.reason.as_deref())))
        .collect();
    assert_eq!(report.nodes.len(), 8, "{report:#?}");
    for i in [0, 1, 2, 4, 5, 6] {
        assert_eq!(
            status[endpoints[i].as_str()].0,
            Status::Answered,
            "{report:#?}"
        );
    }
    assert_eq!(
        status[endpoints[3].as_str()],
        (Status::Refused, Some("CONNECTION_REFUSED")),
        "{report:#?}"
    );
    let (stopped, why) = status[endpoints[7].as_str()];
    assert_eq!(stopped, Status::Unreachable, "{report:#?}");
    assert!(why.is_some_and(|w| w.contains("cannot connect")), "{why:?}");
    assert!(!report.timed_out && !report.truncated);
    if let Ok(path) = std::env::var("AELF_NET_TOPOLOGY_SVG") {
        // How docs/devnet-topology.svg is made.
        dot::render_svg(&dot::to_dot(&report), Path::new(&path)).expect("render the picture");
    }

    // Nothing is left connected: every running node is back to exactly its line neighbours.
    let running: Vec<usize> = (0..7).collect();
    wait_for_line_peers(&nodes, &running);
}

#[test]
fn crawl_tells_a_tls_failure_from_an_unreachable_node_and_fails_when_none_answers() {
    // Accepts TCP and hangs up at once: the TLS handshake cannot complete.
    let closer = TcpListener::bind("127.0.0.1:0").unwrap();
    let closer_addr = closer.local_addr().unwrap();
    let hang_up = std::thread::spawn(move || {
        if let Ok((stream, _)) = closer.accept() {
            drop(stream);
        }
    });
    let nobody = format!("127.0.0.1:{}", free_ports(1)[0]);
    let out = netctl_crawl(&[
        &closer_addr.to_string(),
        &nobody,
        "--listen",
        "127.0.0.1",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("no node answered"), "{}", text(&out));
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON before the error");
    let status = |endpoint: &str| {
        report["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|n| n["endpoint"] == endpoint)
            .map(|n| n["status"].clone())
    };
    assert_eq!(status(&closer_addr.to_string()), Some("tls_failure".into()));
    assert_eq!(status(&nobody), Some("unreachable".into()));
    // The crawler connected (its TLS failed), so the hang-up thread is done.
    hang_up.join().unwrap();
}

// === the dashboard ===

/// Every target expression of the dashboard (rows' nested panels included), with its panel.
fn dashboard_queries(dashboard: &Value) -> Vec<(String, String)> {
    fn walk(panels: &Value, out: &mut Vec<(String, String)>) {
        for panel in panels.as_array().into_iter().flatten() {
            let title = panel["title"].as_str().unwrap_or("?").to_owned();
            for target in panel["targets"].as_array().into_iter().flatten() {
                let expr = target["expr"].as_str().unwrap_or_default();
                assert!(
                    !expr.trim().is_empty(),
                    "panel {title:?} has an empty query"
                );
                assert_eq!(
                    target["datasource"]["uid"], "${datasource}",
                    "panel {title:?}: queries go to the dashboard's data source variable"
                );
                out.push((title.clone(), expr.to_owned()));
            }
            if panel["type"] != "row" {
                assert!(
                    panel["targets"].as_array().is_some_and(|t| !t.is_empty()),
                    "panel {title:?} has no query"
                );
            }
            walk(&panel["panels"], out);
        }
    }
    let mut out = Vec::new();
    walk(&dashboard["panels"], &mut out);
    out
}

/// A Grafana query as Prometheus takes it: the variables replaced, `$instance` by "any".
fn substituted(expr: &str) -> String {
    expr.replace("${instance}", ".+")
        .replace("$instance", ".+")
        .replace("$__rate_interval", "10s")
        .replace("$__interval", "5s")
}

/// A Prometheus process on a free 127.0.0.1 port, killed when dropped.
struct Prometheus {
    child: Child,
    url: String,
    dir: PathBuf,
}

impl Prometheus {
    fn start(dir: &Path, targets: &[SocketAddr], rules: &Path) -> Prometheus {
        let port = free_ports(1)[0];
        let targets: Vec<String> = targets.iter().map(|t| format!("\"{t}\"")).collect();
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
                 rule_files: [{rules:?}]\n\
                 scrape_configs:\n  - job_name: aelf-net\n    static_configs:\n      - targets: [{}]\n",
                targets.join(", ")
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start prometheus");
        let prometheus = Prometheus {
            child,
            url: format!("http://127.0.0.1:{port}"),
            dir: dir.to_owned(),
        };
        wait_until("Prometheus to be ready", || {
            get(&format!("{}/-/ready", prometheus.url)).0 == 200
        });
        prometheus
    }

    /// An instant query's result vector (`None` on an error answer).
    fn query(&self, promql: &str) -> Option<Vec<Value>> {
        let q: String = form_urlencoded::byte_serialize(promql.as_bytes()).collect();
        let answer = get_json(&format!("{}/api/v1/query?query={q}", self.url))?;
        (answer["status"] == "success").then(|| {
            answer["data"]["result"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default();
            eprintln!("== prometheus.log\n{log}");
        }
    }
}

#[test]
fn every_dashboard_query_returns_data_from_a_real_prometheus() {
    require("prometheus", "prometheus");
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(ROOT).join("conf/grafana/aelf-net.json"))
            .expect("conf/grafana/aelf-net.json"),
    )
    .expect("the dashboard is JSON");
    let queries = dashboard_queries(&dashboard);
    assert!(queries.len() >= 20, "{} queries", queries.len());
    let variables = dashboard["templating"]["list"]
        .as_array()
        .expect("variables");
    let instance = variables
        .iter()
        .find(|v| v["name"] == "instance")
        .expect("an instance variable");
    assert_eq!(
        instance["query"]["query"],
        "label_values(aelf_net_chain_best_height, instance)"
    );
    assert!(variables
        .iter()
        .any(|v| v["name"] == "datasource" && v["query"] == "prometheus"));
    let ids: Vec<i64> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["id"].as_i64())
        .collect();
    assert_eq!(
        ids.iter().collect::<BTreeSet<_>>().len(),
        ids.len(),
        "panel ids are unique"
    );

    // A small devnet in legacy mode (its requests are unary calls, timed in the histogram):
    // a producer A, B which also boots from a dead endpoint (reconnection attempts), and C,
    // frozen once connected (its health checks fail: request failures). Health checks and
    // discovery every second.
    let root = tempfile::tempdir().unwrap();
    let ports = free_ports(7);
    let network = "peer_reconnection_period_ms = 1000\npeer_discovery_period_ms = 1000";
    let spec = |i: usize, boot_nodes: Vec<String>| NodeSpec {
        p2p_port: ports[i],
        api_port: ports[3 + i],
        boot_nodes,
        producer: i == 0,
        network,
        node_version: Some("1.3.0.0"),
    };
    let a = Daemon::start(root.path(), "a", &spec(0, vec![]));
    let dead = format!("127.0.0.1:{}", ports[6]);
    let b = Daemon::start(root.path(), "b", &spec(1, vec![a.endpoint(), dead]));
    let c = Daemon::start(root.path(), "c", &spec(2, vec![a.endpoint()]));
    wait_until("A to have B and C as peers", || {
        a.peer_keys()
            .is_some_and(|k| k.contains(&b.key.pubkey_hex()) && k.contains(&c.key.pubkey_hex()))
    });

    let prometheus = Prometheus::start(
        root.path(),
        &[a.api, b.api, c.api],
        &Path::new(ROOT).join("conf/prometheus/aelf-net-rules.yml"),
    );
    wait_until("Prometheus to scrape all three nodes", || {
        prometheus
            .query("up{job=\"aelf-net\"} == 1")
            .is_some_and(|r| r.len() == 3)
    });
    signal(&c.child, libc::SIGSTOP);

    // The instance variable lists the nodes.
    let values = get_json(&format!(
        "{}/api/v1/label/instance/values?match[]=aelf_net_chain_best_height",
        prometheus.url
    ))
    .expect("label values");
    assert_eq!(values["data"].as_array().map(Vec::len), Some(3), "{values}");

    // Every panel's query returns data.
    for (title, expr) in &queries {
        let promql = substituted(expr);
        wait_until(&format!("data for panel {title:?}: {promql}"), || {
            prometheus.query(&promql).is_some_and(|r| !r.is_empty())
        });
    }

    // Every metric family the node serves is on the dashboard.
    let (_, metrics) = get(&a.url("/metrics"));
    let families: BTreeSet<&str> = metrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(families.len() >= 18, "{metrics}");
    for family in families {
        assert!(
            queries.iter().any(|(_, q)| q.contains(family)),
            "metric {family} is on no panel"
        );
    }

    // The alert rules load and evaluate against the real series.
    wait_until("every alert rule evaluated without error", || {
        get_json(&format!("{}/api/v1/rules", prometheus.url)).is_some_and(|r| {
            let rules: Vec<&Value> = r["data"]["groups"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|g| g["rules"].as_array().into_iter().flatten())
                .collect();
            rules.len() == 8 && rules.iter().all(|rule| rule["health"] == "ok")
        })
    });
    signal(&c.child, libc::SIGCONT);
}

// === the alert rules ===

#[test]
fn alert_rules_pass_promtool_check_and_their_unit_tests() {
    require("promtool", "prometheus");
    let dir = Path::new(ROOT).join("conf/prometheus");
    let rules = std::fs::read_to_string(dir.join("aelf-net-rules.yml")).unwrap();
    let tests = std::fs::read_to_string(dir.join("aelf-net-rules.test.yml")).unwrap();
    let alerts: Vec<&str> = rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- alert: "))
        .collect();
    for wanted in [
        "AelfNetNoPeers",
        "AelfNetFewPeers",
        "AelfNetChainHeightStalled",
        "AelfNetLibStalled",
        "AelfNetQueueDrops",
        "AelfNetPeerStalled",
        "AelfNetBansSpiking",
        "AelfNetMemoryGrowing",
    ] {
        assert!(alerts.contains(&wanted), "no alert {wanted}");
    }
    // Every alert, including any added later, has a unit test that expects it to fire.
    for alert in &alerts {
        let fires = tests.split("- eval_time:").any(|case| {
            case.contains(&format!("alertname: {alert}\n")) && case.contains("exp_labels:")
        });
        assert!(fires, "no unit test expects {alert} to fire");
    }

    let check = Command::new("promtool")
        .args(["check", "rules", "aelf-net-rules.yml"])
        .current_dir(&dir)
        .output()
        .expect("run promtool");
    assert!(check.status.success(), "{}", text(&check));
    assert!(
        text(&check).contains(&format!("SUCCESS: {} rules found", alerts.len())),
        "{}",
        text(&check)
    );
    let unit = Command::new("promtool")
        .args(["test", "rules", "aelf-net-rules.test.yml"])
        .current_dir(&dir)
        .output()
        .expect("run promtool");
    assert!(unit.status.success(), "{}", text(&unit));
}
