//! The propagate scenario: blocks mined on one node of a random graph (degrees 3–4), timed
//! from mined to accepted at every node, per hop against a raw delivery of the same block.
//!
//! Owns the graph, the timing and the rows. It must not touch the other scenarios.

use super::{channel, percentile, pool_len, start_node, wait, Scratch};
use crate::report::{Report, Row, Series};
use crate::sink::{genesis_chain, Sink};
use crate::Sizes;
use aelf_net::chain::{Chain, ChainEvent};
use aelf_net::grpc::sender::raw_method;
use aelf_net::network::endpoint::Endpoint;
use aelf_net::node::Node;
use aelf_net::pb::network_types::BlockWithTransactions;
use aelf_net::pb::peer_service::VoidReply;
use aelf_net::types::Hash;
use futures_util::SinkExt as _;
use grpcio::{CallOption, EnvBuilder, Method, WriteFlags};
use protobuf::Message;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

const RAW_BLOCKS: Method<Arc<[u8]>, VoidReply> = raw_method("/PeerService/BlockBroadcastStream");

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

/// Runs the scenario: a row per graph size and block size.
pub fn run(sizes: &Sizes, report: &mut Report) -> Result<(), String> {
    for &k in &sizes.propagate_nodes {
        for &txs in &sizes.propagate_block_txs {
            let adj = graph(k);
            let dist = hops(&adj);
            let dirs: Vec<Scratch> = (0..k)
                .map(|i| Scratch::new(&format!("prop-{i}")))
                .collect::<Result<_, _>>()?;
            let mut nodes: Vec<Node> = Vec::new();
            // Blocks an eighth of an AEDPoS slot apart: every 400 ms (1 s for big blocks).
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
                    c.chain.mining_interval_ms = interval * 8;
                    if i == 0 {
                        c.producer.enabled = true;
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
            report.add_series(Series {
                scenario: "propagate",
                label: format!("{k} nodes, {txs} tx/block"),
                samples: latencies.clone(),
            });
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
