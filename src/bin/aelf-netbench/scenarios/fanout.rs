//! The fanout scenario: transactions broadcast to 1, 8 or 32 sinks, ours (a node in legacy
//! mode) against raw grpcio client streams to the same sinks; items/s and sender CPU per item.
//! Its pieces (the transactions, one run of each side, the median) serve the slow-peer
//! scenario too.
//!
//! Owns the fanout runs and rows. It must not start the sinks' process itself (see `sinks`).

use super::sinks::SinkProcess;
use super::{channel, cpu_time, pool_len, start_node, wait, Scratch};
use crate::report::{Report, Row};
use crate::Sizes;
use aelf_net::grpc::sender::raw_method;
use aelf_net::network::endpoint::Endpoint;
use aelf_net::pb::aelf_core::{Address, Transaction};
use aelf_net::pb::peer_service::VoidReply;
use aelf_net::types::{transaction_id, Hash};
use futures_util::SinkExt as _;
use grpcio::{CallOption, Channel, EnvBuilder, Method, WriteFlags};
use protobuf::Message;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Encoded size the fanout transactions are padded to.
const TX_BYTES: usize = 250;

/// A transaction, its id and its encoding.
pub type Item = (Transaction, Hash, Arc<[u8]>);

/// `count` transactions padded to about [`TX_BYTES`] each, with ids and encodings.
pub fn transactions(count: usize) -> Result<Vec<Item>, String> {
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

const RAW_TRANSACTIONS: Method<Arc<[u8]>, VoidReply> =
    raw_method("/PeerService/TransactionBroadcastStream");

/// One fanout run: wall time until every healthy sink has every item, and sender CPU.
pub struct Run {
    pub elapsed: Duration,
    pub cpu: Duration,
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
pub fn our_fanout(sinks: &mut SinkProcess, items: &[Item], stalled: usize) -> Result<Run, String> {
    let dir = Scratch::new("fanout")?;
    let n = sinks.ports.len() as u32;
    let node = start_node(&dir.0, "1.3.0.0", |c| {
        c.network.transaction_queue_capacity = items.len().clamp(1, 100_000);
        c.network.max_peers = n + 4;
        c.network.max_outbound_peers = n + 4;
    })?;
    let connections = node.transport().ok_or("no network")?.connections().clone();
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
pub fn median(mut runs: Vec<Run>) -> Run {
    runs.sort_by_key(|r| r.elapsed);
    let mid = runs.len() / 2;
    runs.swap_remove(mid)
}

/// Runs the scenario: a row per peer count.
pub fn run(sizes: &Sizes, report: &mut Report) -> Result<(), String> {
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
