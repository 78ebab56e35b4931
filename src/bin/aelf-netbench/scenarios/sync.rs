//! The sync scenario: a fresh node downloads a prepared chain from another, in legacy and in
//! stream mode, against raw RequestBlocks from a minimal grpcio server and the chain's own
//! attach rate.
//!
//! Owns building the chain and the three measurements. It must not touch the other scenarios.

use super::{channel, start_node, wait, Scratch};
use crate::report::{Report, Row};
use crate::sink::{genesis_chain, ServedChain, Sink};
use crate::Sizes;
use aelf_net::chain::{build_block, Chain, EmbeddedChain};
use aelf_net::config::{ChainModeName, Config};
use aelf_net::network::endpoint::Endpoint;
use aelf_net::pb::network_types::{BlockWithTransactions, BlocksRequest};
use aelf_net::pb::peer_service_grpc::PeerServiceClient;
use aelf_net::types::{block_hash, timestamp_millis, Hash};
use grpcio::EnvBuilder;
use protobuf::Message;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Builds a chain of `height` blocks (empty bodies) in `dir`; the blocks after genesis.
fn build_chain(dir: &Path, height: usize) -> Result<Vec<BlockWithTransactions>, String> {
    let c = Config::default();
    let chain = EmbeddedChain::open_with(dir, c.chain_settings(), c.chain_options())
        .map_err(|e| e.to_string())?;
    let mut blocks = Vec::with_capacity(height);
    // AEDPoS blocks from genesis on (valid consensus data, times in the past).
    let mut not_before = 0;
    for _ in 1..height {
        let block = build_block(&chain, not_before, Vec::new()).map_err(|e| e.to_string())?;
        not_before = block
            .header
            .time
            .as_ref()
            .map(timestamp_millis)
            .unwrap_or(0);
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

/// What a sync run measured: its time, and this process's resident memory when the fresh
/// node had covered half of the way and all of it (MiB).
struct Synced {
    elapsed: Duration,
    rss_half_mib: f64,
    rss_end_mib: f64,
}

/// This process's resident memory, MiB.
fn rss_mib() -> f64 {
    super::peers::process_stats(std::process::id())
        .map(|(rss, _)| rss / (1024.0 * 1024.0))
        .unwrap_or(0.0)
}

/// A fresh node (its config changed by `tweak`) syncs from one holding the chain in
/// `prepared`, from height `from`: until it reaches `height`.
fn fresh_node_syncs(
    prepared: &Path,
    version: &str,
    from: i64,
    height: i64,
    tweak: impl FnOnce(&mut Config),
) -> Result<Synced, String> {
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
        tweak(c);
    })?;
    let half = from + (height - from) / 2;
    wait("the fresh node half way", || {
        b.chain().best_chain().height >= half
    })?;
    let rss_half_mib = rss_mib();
    wait("the fresh node to sync", || {
        b.chain().best_chain().height >= height
    })?;
    let elapsed = t0.elapsed();
    let rss_end_mib = rss_mib();
    b.shutdown();
    a.shutdown();
    Ok(Synced {
        elapsed,
        rss_half_mib,
        rss_end_mib,
    })
}

/// A fresh node syncs from one holding the chain: elapsed until it reaches `height`.
fn our_sync(prepared: &Path, version: &str, height: i64) -> Result<Duration, String> {
    Ok(fresh_node_syncs(prepared, version, 1, height, |_| {})?.elapsed)
}

/// A follower (`[chain] mode = "follow"`) from the checkpoint `checkpoint` of the chain in
/// `prepared`: fetches it by hash, then syncs to `height` checking every block's AEDPoS data
/// from the checkpoint's round on.
fn our_follow(prepared: &Path, checkpoint: (i64, Hash), height: i64) -> Result<Synced, String> {
    fresh_node_syncs(prepared, "1.9.0.0", checkpoint.0, height, |c| {
        c.chain.mode = ChainModeName::Follow;
        c.chain.checkpoint_height = checkpoint.0;
        c.chain.checkpoint_hash = Some(checkpoint.1);
    })
}

/// The chain alone: validating and storing the blocks in the node's batches, no network (the
/// ceiling of ours).
fn attach_only(blocks: &[BlockWithTransactions], batch: usize) -> Result<Duration, String> {
    let dir = Scratch::new("attach")?;
    let c = Config::default();
    let chain = EmbeddedChain::open_with(&dir.0, c.chain_settings(), c.chain_options())
        .map_err(|e| e.to_string())?;
    let t0 = Instant::now();
    for chunk in blocks.chunks(batch.max(1)) {
        if let Some(e) = chain.attach_blocks(chunk.to_vec()).refused {
            return Err(e.to_string());
        }
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

/// Runs the scenario: a row per mode (legacy, stream).
pub fn run(sizes: &Sizes, report: &mut Report) -> Result<(), String> {
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
    let attach = attach_only(&blocks, batch as usize)?;
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
    // Follow mode: from a checkpoint a tenth of the way up.
    let k = blocks.len() / 10;
    let checkpoint_block = &blocks[k];
    let checkpoint = (
        checkpoint_block.header.get_or_default().height,
        block_hash(checkpoint_block.header.get_or_default()).map_err(|e| e.to_string())?,
    );
    let ours = our_follow(&prepared.0, checkpoint, height)?;
    let followed = (height - checkpoint.0) as f64;
    let rate = followed / ours.elapsed.as_secs_f64();
    let raw_rate = n / raw.as_secs_f64();
    report.add(Row {
        scenario: "follow",
        case: format!("{followed} blocks from a checkpoint, stream"),
        figures: vec![
            ("ours_blocks_per_s", rate),
            ("raw_blocks_per_s", raw_rate),
            ("ours_over_raw", rate / raw_rate),
            ("rss_mib_half_way", ours.rss_half_mib),
            ("rss_mib_at_the_tip", ours.rss_end_mib),
        ],
        note: format!(
            "{:.0} % of raw RequestBlocks; the checkpoint fetched by hash, then every block checked by the AEDPoS rules; resident memory of the whole bench process (both nodes and the prepared blocks) half way and at the tip",
            rate / raw_rate * 100.0
        ),
    });
    Ok(())
}
