//! The five scenarios. Each measures ours and, where the issue asks, the raw grpcio baseline in
//! the same run, and adds rows to the report.

use crate::report::{Report, Row};
use crate::sink::{genesis_chain, ServedChain, Sink};
use crate::Sizes;
use aelf_net::api::client::ApiClient;
use aelf_net::chain::{build_block_on, Chain, ChainEvent, ChainTip, EmbeddedChain};
use aelf_net::config::Config;
use aelf_net::crypto::NodeKey;
use aelf_net::grpc::channel::{connect, DEFAULT_MAX_MESSAGE_LENGTH};
use aelf_net::grpc::sender::raw_method;
use aelf_net::network::endpoint::Endpoint;
use aelf_net::node::Node;
use aelf_net::pb::aelf_core::{Address, Transaction};
use aelf_net::pb::network_types::{BlockWithTransactions, BlocksRequest};
use aelf_net::pb::peer_service::VoidReply;
use aelf_net::pb::peer_service_grpc::PeerServiceClient;
use aelf_net::ports::free_port;
use aelf_net::types::{block_hash, transaction_id, Clock as _, Hash, NodeVersion, SystemClock};
use futures_util::SinkExt as _;
use grpcio::{CallOption, Channel, EnvBuilder, Environment, Method, WriteFlags};
use protobuf::Message;
use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Write as _};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// No single wait in a scenario lasts longer than this.
const DEADLINE: Duration = Duration::from_secs(120);
/// Encoded size the fanout transactions are padded to.
const TX_BYTES: usize = 250;

// ---- shared helpers ----

/// A scratch folder removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(what: &str) -> Result<Scratch, String> {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("aelf-netbench-{}-{what}-{n}", std::process::id()));
        std::fs::create_dir_all(&path)
            .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        Ok(Scratch(path))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// User + system CPU time of this process.
fn cpu_time() -> Duration {
    // SAFETY: getrusage fills the struct we pass.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// Polls `done` every few ms until it holds or [`DEADLINE`] passes.
fn wait(what: &str, mut done: impl FnMut() -> bool) -> Result<(), String> {
    let end = Instant::now() + DEADLINE;
    while !done() {
        if Instant::now() > end {
            return Err(format!("timed out waiting for {what}"));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    Ok(())
}

/// A node in this process on loopback, with `tweak` applied to its config.
fn start_node(dir: &Path, version: &str, tweak: impl FnOnce(&mut Config)) -> Result<Node, String> {
    let mut c = Config::default();
    c.node.data_dir = dir.to_path_buf();
    c.node.node_version = NodeVersion::parse(version).map_err(|e| e.to_string())?;
    c.network.listen_address = "127.0.0.1".parse().map_err(|e| format!("{e}"))?;
    c.network.listening_port = free_port().map_err(|e| e.to_string())?;
    c.network.enable_peer_discovery = false;
    c.network.max_peers_per_ip_address = 0;
    c.api.listen = "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?;
    tweak(&mut c);
    Node::start(c, Arc::new(SystemClock)).map_err(|e| format!("node: {e}"))
}

fn pool_len(node: &Node) -> usize {
    node.network_service().pool().peers(false).len()
}

/// Percentile (nearest rank) of sorted samples.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// A transaction, its id and its encoding.
type Item = (Transaction, Hash, Arc<[u8]>);

/// `count` transactions padded to about [`TX_BYTES`] each, with ids and encodings.
fn transactions(count: usize) -> Result<Vec<Item>, String> {
    (0..count)
        .map(|i| {
            let mut tx = Transaction::new();
            tx.from = Some(Address {
                value: vec![1; 32],
                ..Address::default()
            })
            .into();
            tx.to = Some(Address {
                value: vec![2; 32],
                ..Address::default()
            })
            .into();
            tx.ref_block_number = i as i64;
            tx.ref_block_prefix = vec![3; 4];
            tx.method_name = "Transfer".into();
            tx.signature = vec![4; 65];
            let base = tx.compute_size() as usize;
            let mut params = (i as u64).to_le_bytes().to_vec();
            params.resize(TX_BYTES.saturating_sub(base + 3), 5);
            tx.params = params;
            let id = transaction_id(&tx).map_err(|e| e.to_string())?;
            let bytes: Arc<[u8]> = tx.write_to_bytes().map_err(|e| e.to_string())?.into();
            Ok((tx, id, bytes))
        })
        .collect()
}

// ---- the sink child process ----

/// Sinks in a child process (`aelf-netbench sinks`), so the sender's CPU is its own.
struct SinkProcess {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    ports: Vec<u16>,
}

impl SinkProcess {
    fn spawn(count: usize, stall: usize) -> Result<SinkProcess, String> {
        let me = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut child = Command::new(me)
            .args([
                "sinks",
                "--count",
                &count.to_string(),
                "--stall",
                &stall.to_string(),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start the sinks: {e}"))?;
        let stdin = child.stdin.take().ok_or("no sink stdin")?;
        let mut stdout = BufReader::new(child.stdout.take().ok_or("no sink stdout")?);
        let mut ports = Vec::new();
        loop {
            let mut line = String::new();
            if stdout.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
                return Err("the sink process ended early".into());
            }
            match line.split_whitespace().collect::<Vec<_>>().as_slice() {
                ["port", p] => {
                    ports.push(p.parse().map_err(|_| format!("bad sink line {line:?}"))?)
                }
                ["ready"] => break,
                _ => return Err(format!("bad sink line {line:?}")),
            }
        }
        Ok(SinkProcess {
            child,
            stdin,
            stdout,
            ports,
        })
    }

    fn ask(&mut self, command: &str) -> Result<String, String> {
        writeln!(self.stdin, "{command}").map_err(|e| e.to_string())?;
        let mut line = String::new();
        self.stdout
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        Ok(line)
    }

    fn counts(&mut self) -> Result<Vec<u64>, String> {
        let line = self.ask("counts")?;
        line.split_whitespace()
            .skip(1)
            .map(|c| c.parse().map_err(|_| format!("bad counts {line:?}")))
            .collect()
    }

    fn reset(&mut self) -> Result<(), String> {
        self.ask("reset").map(drop)
    }
}

impl Drop for SinkProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---- fanout and slow peer ----

const RAW_TRANSACTIONS: Method<Arc<[u8]>, VoidReply> =
    raw_method("/PeerService/TransactionBroadcastStream");
const RAW_BLOCKS: Method<Arc<[u8]>, VoidReply> = raw_method("/PeerService/BlockBroadcastStream");

/// A pinned TLS channel to a loopback sink.
fn channel(env: &Arc<Environment>, port: u16) -> Result<Channel, String> {
    connect(
        "127.0.0.1",
        port,
        env.clone(),
        Duration::from_secs(10),
        DEFAULT_MAX_MESSAGE_LENGTH,
    )
    .map(|(c, _)| c)
    .map_err(|e| format!("cannot reach sink {port}: {e}"))
}

/// One fanout run: wall time until every healthy sink has every item, and sender CPU.
struct Run {
    elapsed: Duration,
    cpu: Duration,
}

/// Raw: one client-streaming call per sink, all items sent by one future per call on the
/// completion queue (`send_all` of an iterator), the most grpcio can do.
fn raw_fanout(sinks: &mut SinkProcess, items: &[Arc<[u8]>]) -> Result<Run, String> {
    let env = Arc::new(EnvBuilder::new().cq_count(2).name_prefix("raw").build());
    let channels: Vec<Channel> = sinks
        .ports
        .iter()
        .map(|p| channel(&env, *p))
        .collect::<Result<_, _>>()?;
    sinks.reset()?;
    let (cpu0, t0) = (cpu_time(), Instant::now());
    // The clients (and their channels) live until delivery is complete.
    let mut clients = Vec::new();
    for ch in channels {
        let client = grpcio::Client::new(ch);
        let (mut sink, receiver) = client
            .client_streaming(&RAW_TRANSACTIONS, CallOption::default())
            .map_err(|e| e.to_string())?;
        sink.enhance_batch(true);
        let payloads: Vec<Arc<[u8]>> = items.to_vec();
        client.spawn(async move {
            let mut s = futures_util::stream::iter(
                payloads.into_iter().map(|b| Ok((b, WriteFlags::default()))),
            );
            if sink.send_all(&mut s).await.is_ok() && sink.close().await.is_ok() {
                let _ = receiver.await;
            }
        });
        clients.push(client);
    }
    let want = items.len() as u64;
    wait("raw fanout delivery", || {
        sinks.counts().is_ok_and(|c| c.iter().all(|n| *n >= want))
    })?;
    let run = Run {
        elapsed: t0.elapsed(),
        cpu: cpu_time() - cpu0,
    };
    drop(clients);
    Ok(run)
}

/// Ours: a node (legacy mode, so broadcasts are client streams as in raw) dials every sink,
/// then broadcasts the items; done when the first `healthy` sinks after the stalled ones have
/// them all.
fn our_fanout(sinks: &mut SinkProcess, items: &[Item], stalled: usize) -> Result<Run, String> {
    let dir = Scratch::new("fanout")?;
    let n = sinks.ports.len() as u32;
    let node = start_node(&dir.0, "1.3.0.0", |c| {
        c.network.transaction_queue_capacity = items.len().clamp(1, 100_000);
        c.network.max_peers = n + 4;
        c.network.max_outbound_peers = n + 4;
    })?;
    let connections = node.network().ok_or("no network")?.connections().clone();
    for port in &sinks.ports {
        let endpoint = Endpoint {
            host: "127.0.0.1".into(),
            port: *port,
        };
        if !connections.connect(&endpoint).map_err(|e| e.to_string())? {
            return Err(format!("the node did not connect to sink {port}"));
        }
    }
    wait("all sinks in the pool", || {
        pool_len(&node) == sinks.ports.len()
    })?;
    sinks.reset()?;
    let service = node.network_service().clone();
    let (cpu0, t0) = (cpu_time(), Instant::now());
    for (tx, id, _) in items {
        service
            .broadcast_transaction(tx, *id)
            .map_err(|e| e.to_string())?;
    }
    let want = items.len() as u64;
    wait("fanout delivery", || {
        sinks
            .counts()
            .is_ok_and(|c| c.iter().skip(stalled).all(|n| *n >= want))
    })?;
    let run = Run {
        elapsed: t0.elapsed(),
        cpu: cpu_time() - cpu0,
    };
    node.shutdown();
    Ok(run)
}

/// The run with the median wall time.
fn median(mut runs: Vec<Run>) -> Run {
    runs.sort_by_key(|r| r.elapsed);
    let mid = runs.len() / 2;
    runs.swap_remove(mid)
}

pub fn fanout(sizes: &Sizes, report: &mut Report) -> Result<(), String> {
    let items = transactions(sizes.fanout_items)?;
    let bytes: Vec<Arc<[u8]>> = items.iter().map(|(_, _, b)| b.clone()).collect();
    for &n in &sizes.fanout_peers {
        let mut sinks = SinkProcess::spawn(n, 0)?;
        let (mut ours, mut raw) = (Vec::new(), Vec::new());
        for _ in 0..sizes.repeats.max(1) {
            ours.push(our_fanout(&mut sinks, &items, 0)?);
            raw.push(raw_fanout(&mut sinks, &bytes)?);
        }
        let (ours, raw) = (median(ours), median(raw));
        let delivered = (items.len() * n) as f64;
        let rate = |r: &Run| delivered / r.elapsed.as_secs_f64();
        let cpu_us = |r: &Run| r.cpu.as_secs_f64() * 1e6 / items.len() as f64;
        let ratio = rate(&ours) / rate(&raw);
        report.add(Row {
            scenario: "fanout",
            case: format!(
                "{} tx x {n} peers, median of {}",
                items.len(),
                sizes.repeats.max(1)
            ),
            figures: vec![
                ("ours_items_per_s", rate(&ours)),
                ("raw_items_per_s", rate(&raw)),
                ("ours_over_raw", ratio),
                ("ours_cpu_us_per_item", cpu_us(&ours)),
                ("raw_cpu_us_per_item", cpu_us(&raw)),
            ],
            note: format!(
                "{:.0} % of raw grpcio{}",
                ratio * 100.0,
                if n == 8 {
                    " (goal at 8 peers: at least 90 %)"
                } else {
                    ""
                }
            ),
        });
    }
    Ok(())
}

pub fn slow_peer(sizes: &Sizes, report: &mut Report) -> Result<(), String> {
    let items = transactions(sizes.slow_items)?;
    let mut healthy_sinks = SinkProcess::spawn(8, 0)?;
    let mut slow_sinks = SinkProcess::spawn(8, 1)?;
    let (mut healthy, mut slow) = (Vec::new(), Vec::new());
    for _ in 0..sizes.repeats.max(1) {
        healthy.push(our_fanout(&mut healthy_sinks, &items, 0)?);
        slow.push(our_fanout(&mut slow_sinks, &items, 1)?);
    }
    let (healthy, slow) = (median(healthy), median(slow));
    let per_sink = |r: &Run| items.len() as f64 / r.elapsed.as_secs_f64();
    let share = per_sink(&slow) / per_sink(&healthy);
    report.add(Row {
        scenario: "slow",
        case: format!("{} tx, 1 of 8 sinks stops reading", items.len()),
        figures: vec![
            ("healthy_items_per_s_per_sink", per_sink(&healthy)),
            ("slow_items_per_s_per_other_sink", per_sink(&slow)),
            ("share_of_healthy", share),
        ],
        note: format!(
            "the 7 others keep {:.0} % (goal: at least 95 %)",
            share * 100.0
        ),
    });
    Ok(())
}

// ---- sync ----

/// Builds a chain of `height` blocks (empty bodies) in `dir`; the blocks after genesis.
fn build_chain(dir: &Path, height: usize) -> Result<Vec<BlockWithTransactions>, String> {
    let chain =
        EmbeddedChain::open(dir, Config::default().chain_settings()).map_err(|e| e.to_string())?;
    let key = NodeKey::generate();
    let mut blocks = Vec::with_capacity(height);
    let start_ms = SystemClock.now_millis() - height as i64 * 10;
    for i in 1..height {
        let tip: ChainTip = chain.best_chain();
        let block = build_block_on(
            &tip,
            chain.chain_id(),
            &key,
            start_ms + i as i64 * 10,
            Vec::new(),
        )
        .map_err(|e| e.to_string())?;
        chain
            .attach_block(block.clone())
            .map_err(|e| e.to_string())?;
        blocks.push(block);
    }
    chain.close();
    Ok(blocks)
}

fn copy_dir(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::create_dir_all(to).map_err(|e| e.to_string())?;
    for entry in std::fs::read_dir(from).map_err(|e| e.to_string())? {
        let entry = entry.map_err(|e| e.to_string())?;
        if entry.path().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

/// A fresh node syncs from one holding the chain: elapsed until it reaches `height`.
fn our_sync(prepared: &Path, version: &str, height: i64) -> Result<Duration, String> {
    let (a_dir, b_dir) = (Scratch::new("sync-a")?, Scratch::new("sync-b")?);
    copy_dir(prepared, &a_dir.0)?;
    let a = start_node(&a_dir.0, version, |_| {})?;
    let a_port = a.config().network.listening_port;
    let t0 = Instant::now();
    let b = start_node(&b_dir.0, version, |c| {
        c.network.boot_nodes = vec![Endpoint {
            host: "127.0.0.1".into(),
            port: a_port,
        }];
    })?;
    wait("the fresh node to sync", || {
        b.chain().best_chain().height >= height
    })?;
    let elapsed = t0.elapsed();
    b.shutdown();
    a.shutdown();
    Ok(elapsed)
}

/// The chain alone: validating and storing the blocks, no network (the ceiling of ours).
fn attach_only(blocks: &[BlockWithTransactions]) -> Result<Duration, String> {
    let dir = Scratch::new("attach")?;
    let c = Config::default();
    let chain = EmbeddedChain::open_with(&dir.0, c.chain_settings(), c.store_options())
        .map_err(|e| e.to_string())?;
    let t0 = Instant::now();
    for block in blocks {
        chain
            .attach_block(block.clone())
            .map_err(|e| e.to_string())?;
    }
    Ok(t0.elapsed())
}

/// Raw: the same RequestBlocks (batches of the node's size) from a minimal grpcio server.
fn raw_sync(
    blocks: &[BlockWithTransactions],
    genesis: Hash,
    batch: i32,
) -> Result<Duration, String> {
    let env = Arc::new(EnvBuilder::new().cq_count(2).name_prefix("raw").build());
    let dir = Scratch::new("raw-sync")?;
    let chain = genesis_chain(&dir.0)?;
    let served = Arc::new(ServedChain::new(
        std::iter::once(
            chain
                .block_by_height(1)
                .ok()
                .flatten()
                .ok_or("no genesis")?,
        )
        .chain(blocks.iter().cloned())
        .collect(),
    ));
    let sink = Sink::start(&env, &chain, false, Some(served))?;
    let client = PeerServiceClient::new(channel(&env, sink.port)?);
    let t0 = Instant::now();
    let (mut previous, mut got) = (genesis, 0usize);
    while got < blocks.len() {
        let request = BlocksRequest {
            previous_block_hash: Some(previous.to_proto()).into(),
            count: batch,
            ..BlocksRequest::default()
        };
        let list = client.request_blocks(&request).map_err(|e| e.to_string())?;
        let last = list.blocks.last().ok_or("the raw server sent no blocks")?;
        previous = block_hash(last.header.get_or_default()).map_err(|e| e.to_string())?;
        got += list.blocks.len();
    }
    Ok(t0.elapsed())
}

pub fn sync(sizes: &Sizes, report: &mut Report) -> Result<(), String> {
    let prepared = Scratch::new("sync-chain")?;
    let blocks = build_chain(&prepared.0, sizes.sync_height)?;
    let height = sizes.sync_height as i64;
    let mb: f64 = blocks.iter().map(|b| b.compute_size() as f64).sum::<f64>() / 1e6;
    let n = blocks.len() as f64;
    let first = blocks
        .first()
        .ok_or("the chain has no blocks after genesis")?;
    let genesis = Hash::from_proto(
        first
            .header
            .get_or_default()
            .previous_block_hash
            .get_or_default(),
    )
    .map_err(|e| e.to_string())?;
    let batch = Config::default().sync.max_batch_request_block_count as i32;
    let raw = raw_sync(&blocks, genesis, batch)?;
    let attach = attach_only(&blocks)?;
    for (mode, version) in [("legacy", "1.3.0.0"), ("stream", "1.9.0.0")] {
        let ours = our_sync(&prepared.0, version, height)?;
        let rate = n / ours.as_secs_f64();
        let raw_rate = n / raw.as_secs_f64();
        report.add(Row {
            scenario: "sync",
            case: format!("{height} blocks, {mode}"),
            figures: vec![
                ("ours_blocks_per_s", rate),
                ("ours_mb_per_s", mb / ours.as_secs_f64()),
                ("raw_blocks_per_s", raw_rate),
                ("ours_over_raw", rate / raw_rate),
                ("attach_only_blocks_per_s", n / attach.as_secs_f64()),
            ],
            note: format!(
                "{:.0} % of raw RequestBlocks; ours includes validating and storing every block (goal: 20 000 small blocks/s)",
                rate / raw_rate * 100.0
            ),
        });
    }
    Ok(())
}

// ---- propagate ----

/// A connected random graph on `k` nodes with degrees 3–4: a ring plus chords.
fn graph(k: usize) -> Vec<Vec<usize>> {
    let mut adj: Vec<Vec<usize>> = vec![Vec::new(); k];
    let link = |a: usize, b: usize, adj: &mut Vec<Vec<usize>>| {
        if a != b && !adj[a].contains(&b) {
            adj[a].push(b);
            adj[b].push(a);
        }
    };
    for i in 0..k {
        link(i, (i + 1) % k, &mut adj);
    }
    let mut tries = 0;
    while adj.iter().any(|n| n.len() < 3) && tries < 10_000 {
        tries += 1;
        let a = rand::random_range(0..k);
        let b = rand::random_range(0..k);
        if adj[a].len() < 4 && adj[b].len() < 4 && (adj[a].len() < 3 || adj[b].len() < 3) {
            link(a, b, &mut adj);
        }
    }
    adj
}

/// Hops from node 0 to each node.
fn hops(adj: &[Vec<usize>]) -> Vec<usize> {
    let mut dist = vec![usize::MAX; adj.len()];
    let mut queue = VecDeque::from([0]);
    dist[0] = 0;
    while let Some(a) = queue.pop_front() {
        for &b in &adj[a] {
            if dist[b] == usize::MAX {
                dist[b] = dist[a] + 1;
                queue.push_back(b);
            }
        }
    }
    dist
}

type Accepted = Arc<parking_lot::Mutex<HashMap<Hash, Instant>>>;

/// Records when each block is accepted by a node.
fn watch(node: &Node) -> Accepted {
    let seen: Accepted = Arc::default();
    let events = node.chain().subscribe(65_536);
    let record = seen.clone();
    std::thread::spawn(move || {
        for event in events {
            if let ChainEvent::BlockAccepted { hash, .. } = event {
                record.lock().entry(hash).or_insert_with(Instant::now);
            }
        }
    });
    seen
}

/// Median time to deliver one block's bytes over a fresh client stream and get the reply.
fn raw_block_round_trip(block: &BlockWithTransactions) -> Result<Duration, String> {
    let env = Arc::new(EnvBuilder::new().cq_count(1).name_prefix("raw").build());
    let dir = Scratch::new("raw-hop")?;
    let chain = genesis_chain(&dir.0)?;
    let sink = Sink::start(&env, &chain, false, None)?;
    let client = grpcio::Client::new(channel(&env, sink.port)?);
    let bytes: Arc<[u8]> = block.write_to_bytes().map_err(|e| e.to_string())?.into();
    let mut samples = Vec::new();
    for _ in 0..21 {
        let t0 = Instant::now();
        let (mut s, receiver) = client
            .client_streaming(&RAW_BLOCKS, CallOption::default())
            .map_err(|e| e.to_string())?;
        let bytes = bytes.clone();
        futures_executor::block_on(async move {
            s.send((bytes, WriteFlags::default())).await?;
            s.close().await?;
            receiver.await
        })
        .map_err(|e| e.to_string())?;
        samples.push(t0.elapsed().as_secs_f64());
    }
    samples.sort_by(f64::total_cmp);
    Ok(Duration::from_secs_f64(percentile(&samples, 50.0)))
}

pub fn propagate(sizes: &Sizes, report: &mut Report) -> Result<(), String> {
    for &k in &sizes.propagate_nodes {
        for &txs in &sizes.propagate_block_txs {
            let adj = graph(k);
            let dist = hops(&adj);
            let dirs: Vec<Scratch> = (0..k)
                .map(|i| Scratch::new(&format!("prop-{i}")))
                .collect::<Result<_, _>>()?;
            let mut nodes: Vec<Node> = Vec::new();
            let interval = if txs >= 1000 { 1_000 } else { 400 };
            for i in 0..k {
                let boots: Vec<Endpoint> = adj[i]
                    .iter()
                    .filter(|&&j| j < i)
                    .map(|&j| Endpoint {
                        host: "127.0.0.1".into(),
                        port: nodes[j].config().network.listening_port,
                    })
                    .collect();
                nodes.push(start_node(&dirs[i].0, "1.9.0.0", |c| {
                    c.network.boot_nodes = boots;
                    if i == 0 {
                        c.producer.enabled = true;
                        c.producer.interval_ms = interval;
                        c.producer.transactions_per_block = txs;
                    }
                })?);
            }
            let seen: Vec<Accepted> = nodes.iter().map(watch).collect();
            wait("the graph connected", || {
                nodes
                    .iter()
                    .enumerate()
                    .all(|(i, n)| pool_len(n) >= adj[i].len())
            })?;
            // Blocks mined from now on are measured.
            let ready = Instant::now();
            let measured = |seen0: &HashMap<Hash, Instant>| -> Vec<Hash> {
                let mut fresh: Vec<(Instant, Hash)> = seen0
                    .iter()
                    .filter(|(_, t)| **t > ready)
                    .map(|(h, t)| (*t, *h))
                    .collect();
                fresh.sort();
                fresh
                    .into_iter()
                    .take(sizes.propagate_blocks)
                    .map(|(_, h)| h)
                    .collect()
            };
            wait("blocks mined and accepted everywhere", || {
                let blocks = measured(&seen[0].lock());
                blocks.len() == sizes.propagate_blocks
                    && seen.iter().all(|s| {
                        let s = s.lock();
                        blocks.iter().all(|h| s.contains_key(h))
                    })
            })?;
            let blocks = measured(&seen[0].lock());
            let (mut latencies, mut per_hop) = (Vec::new(), Vec::new());
            for h in &blocks {
                let mined = seen[0].lock()[h];
                for i in 1..k {
                    let at = seen[i].lock()[h];
                    let ms = at.saturating_duration_since(mined).as_secs_f64() * 1e3;
                    latencies.push(ms);
                    per_hop.push(ms / dist[i].max(1) as f64);
                }
            }
            latencies.sort_by(f64::total_cmp);
            per_hop.sort_by(f64::total_cmp);
            let sample = nodes[0]
                .chain()
                .block_by_hash(&blocks[0])
                .map_err(|e| e.to_string())?
                .ok_or("the measured block is not stored")?;
            for n in nodes {
                n.shutdown();
            }
            let raw_ms = raw_block_round_trip(&sample)?.as_secs_f64() * 1e3;
            let hop50 = percentile(&per_hop, 50.0);
            report.add(Row {
                scenario: "propagate",
                case: format!("{k} nodes, {txs} tx/block, {} blocks", blocks.len()),
                figures: vec![
                    ("p50_ms", percentile(&latencies, 50.0)),
                    ("p99_ms", percentile(&latencies, 99.0)),
                    ("max_hops", *dist.iter().max().unwrap_or(&0) as f64),
                    ("per_hop_p50_ms", hop50),
                    ("raw_block_round_trip_ms", raw_ms),
                    ("per_hop_over_raw", hop50 / raw_ms.max(1e-6)),
                ],
                note: format!(
                    "mined to accepted at every node; a hop (announce, request, validate, store) costs {:.1}x a raw delivery of the block's {} bytes",
                    hop50 / raw_ms.max(1e-6),
                    sample.compute_size()
                ),
            });
        }
    }
    Ok(())
}

// ---- peers ----

/// `VmRSS` (bytes) and `Threads` of a process.
fn process_stats(pid: u32) -> Result<(f64, f64), String> {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| e.to_string())?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    Ok((field("VmRSS:") * 1024.0, field("Threads:")))
}

/// The node under test as its own process, so its RSS and threads are its own.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
        let _ = self.0.wait();
    }
}

pub fn peers(sizes: &Sizes, report: &mut Report) -> Result<(), String> {
    let bin = std::env::current_exe()
        .map_err(|e| e.to_string())?
        .with_file_name("aelf-netd");
    if !bin.exists() {
        return Err(format!("{} not found (build the workspace)", bin.display()));
    }
    let env = Arc::new(EnvBuilder::new().cq_count(2).name_prefix("peer").build());
    let chain_dir = Scratch::new("peers-chain")?;
    let chain = genesis_chain(&chain_dir.0)?;
    for &count in &sizes.peer_counts {
        let sinks: Vec<Sink> = (0..count)
            .map(|_| Sink::start(&env, &chain, false, None))
            .collect::<Result<_, _>>()?;
        let dir = Scratch::new("peers-node")?;
        let api_port = free_port().map_err(|e| e.to_string())?;
        let api: SocketAddr = ([127, 0, 0, 1], api_port).into();
        let config = dir.0.join("aelf-netd.toml");
        let limit = count + 8;
        std::fs::write(
            &config,
            format!(
                "[node]\ndata_dir = {:?}\nnode_version = \"1.3.0.0\"\n[network]\nlisten_address = \"127.0.0.1\"\nlistening_port = {}\n\
                 max_peers = {limit}\nmax_outbound_peers = {limit}\nmax_peers_per_ip_address = 0\nenable_peer_discovery = false\n\
                 [api]\nlisten = \"{api}\"\nbasic_auth_user = \"bench\"\nbasic_auth_password = \"bench\"\n[threads]\napi_workers = 8\n[log]\nlevel = \"error\"\n",
                dir.0.join("data").display().to_string(),
                free_port().map_err(|e| e.to_string())?,
            ),
        )
        .map_err(|e| e.to_string())?;
        let child = Command::new(&bin)
            .arg("--config")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start aelf-netd: {e}"))?;
        let daemon = Daemon(child);
        let pid = daemon.0.id();
        let client = ApiClient::to(api)
            .with_timeout(Duration::from_secs(60))
            .with_basic_auth("bench", "bench");
        wait("the daemon's API", || {
            client
                .request("GET", "/api/net/networkInfo", None)
                .is_ok_and(|a| a.status == 200)
        })?;
        let (rss0, threads0) = process_stats(pid)?;
        let ports: Vec<u16> = sinks.iter().map(|s| s.port).collect();
        let t0 = Instant::now();
        let workers: Vec<_> = ports
            .chunks(ports.len().div_ceil(8).max(1))
            .map(|chunk| {
                let chunk = chunk.to_vec();
                let client = client.clone();
                std::thread::spawn(move || {
                    for port in chunk {
                        let body = format!(r#"{{"Address":"127.0.0.1:{port}"}}"#);
                        let _ = client.request("POST", "/api/net/peer", Some(&body));
                    }
                })
            })
            .collect();
        for w in workers {
            let _ = w.join();
        }
        wait("every peer connected", || {
            client
                .request("GET", "/api/net/networkInfo", None)
                .is_ok_and(|a| {
                    serde_json::from_str::<serde_json::Value>(&a.body)
                        .is_ok_and(|v| v["Connections"].as_u64() == Some(count as u64))
                })
        })?;
        let connect_s = t0.elapsed().as_secs_f64();
        let (rss1, threads1) = process_stats(pid)?;
        drop(daemon);
        drop(sinks);
        let per = |a: f64, b: f64| (b - a) / count as f64;
        report.add(Row {
            scenario: "peers",
            case: format!("{count} idle peers"),
            figures: vec![
                ("rss_kib_per_peer", per(rss0, rss1) / 1024.0),
                ("threads_per_peer", per(threads0, threads1)),
                ("handshakes_per_s", count as f64 / connect_s),
                ("node_rss_mib", rss1 / 1024.0 / 1024.0),
                ("node_threads", threads1),
            ],
            note: "goals: at most 256 KiB and 5 threads per idle peer; 500 peers on 2 cores".into(),
        });
    }
    Ok(())
}
