//! The `block-sync` thread against scripted peers and a real chain: a download in batches
//! attaches every block, a peer that serves a broken sequence is reported abnormal, and a
//! fetched block that is not the announced one is refused (spec 6.4); a node on a fork
//! switches to a longer branch many download rounds deep.

use crate::support::chain::{block_time, genesis_chain, genesis_chain_with_miners, grow};
use crate::support::node::test_network_service;
use crate::support::wait::wait_until;
use aelf_net::chain::{build_block_on, Chain, EmbeddedChain};
use aelf_net::network::peer::Peer;
use aelf_net::network::peer_pool::{PeerPool, PoolLimits};
use aelf_net::network::penalty::{Offence, PenaltyReport};
use aelf_net::network::sync_state::SyncState;
use aelf_net::os::announcement_cache::AnnouncementCache;
use aelf_net::os::block_sync::{BlockSync, SyncJob, SyncSettings};
use aelf_net::pb::network_types::BlockWithTransactions;
use aelf_net::testing::{FakePeer, NOW};
use aelf_net::types::block_hash;
use std::sync::Arc;

/// `n` blocks built on a fresh chain of the same genesis (the remote's chain).
fn remote_blocks(n: usize) -> (Vec<BlockWithTransactions>, tempfile::TempDir) {
    let (chain, dir) = genesis_chain();
    (grow(&chain, n), dir)
}

struct Local {
    chain: Arc<EmbeddedChain>,
    peer: Arc<FakePeer>,
    sync: BlockSync,
    jobs: aelf_net::os::block_sync::SyncJobs,
    reports: crossbeam_channel::Receiver<PenaltyReport>,
    _dir: tempfile::TempDir,
}

impl Local {
    /// The abnormal-peer reports (inconsistent blocks) so far.
    fn abnormal_reports(&self) -> Vec<PenaltyReport> {
        self.reports
            .try_iter()
            .filter(|r| r.offence == Offence::InconsistentBlocks)
            .collect()
    }
}

fn local(batch: usize) -> Local {
    let (chain, dir) = genesis_chain();
    local_on(batch, chain, dir)
}

fn local_on(batch: usize, chain: Arc<EmbeddedChain>, dir: tempfile::TempDir) -> Local {
    let pool = Arc::new(PeerPool::new(PoolLimits::unlimited()));
    let peer = Arc::new(FakePeer::new(1, "10.0.0.1:6800", false));
    pool.try_add(peer.clone() as Arc<dyn Peer>, NOW).unwrap();
    let (network, _reconnections, reports) =
        test_network_service(pool, chain.clone(), NOW, SyncState::finished());
    let network = Arc::new(network);
    let (sync, jobs) = BlockSync::start(
        chain.clone(),
        network.clone(),
        Arc::new(AnnouncementCache::new(100)),
        SyncSettings {
            max_block_download_count: 50,
            max_batch_request_block_count: batch,
        },
    )
    .unwrap();
    Local {
        chain,
        peer,
        sync,
        jobs,
        reports,
        _dir: dir,
    }
}

#[test]
fn a_download_attaches_every_batch() {
    let (blocks, _remote) = remote_blocks(25);
    let l = local(10);
    {
        let mut answers = l.peer.answers.lock();
        for batch in blocks.chunks(10) {
            answers.push_back(Ok(batch.to_vec()));
        }
    }
    l.jobs.submit(SyncJob::Download {
        peer: l.peer.pubkey_hex.clone(),
        target: 26,
    });
    wait_until("height 26", || l.chain.best_chain().height == 26);
    let head = block_hash(blocks[24].header.as_ref().unwrap()).unwrap();
    assert_eq!(l.chain.best_chain().hash, head);
    assert!(l.abnormal_reports().is_empty());
    l.sync.stop();
}

#[test]
fn a_broken_sequence_is_reported_abnormal_and_not_attached() {
    let (blocks, _remote) = remote_blocks(6);
    let l = local(10);
    // Block 4 is missing from the answer: heights jump.
    let mut broken = blocks.clone();
    broken.remove(3);
    l.peer.answers.lock().push_back(Ok(broken));
    l.jobs.submit(SyncJob::Download {
        peer: l.peer.pubkey_hex.clone(),
        target: 7,
    });
    wait_until("an abnormal report", || !l.abnormal_reports().is_empty());
    // What came before the gap is attached, nothing after it.
    assert_eq!(l.chain.best_chain().height, 4);
    l.sync.stop();
}

#[test]
fn a_fetched_block_that_is_not_the_announced_one_is_refused() {
    let (blocks, _remote) = remote_blocks(2);
    let l = local(10);
    let announced = block_hash(blocks[0].header.as_ref().unwrap()).unwrap();
    // The peer answers with block 3 for the announced block 2.
    l.peer.answers.lock().push_back(Ok(vec![blocks[1].clone()]));
    l.jobs.submit(SyncJob::Fetch {
        hash: announced,
        height: 2,
        peer: l.peer.pubkey_hex.clone(),
    });
    wait_until("an abnormal report", || {
        let reports = l.abnormal_reports();
        reports.iter().any(|r| r.pubkey_hex == l.peer.pubkey_hex)
    });
    assert_eq!(l.chain.best_chain().height, 1);
    // The right block is attached when served.
    l.peer.answers.lock().push_back(Ok(vec![blocks[0].clone()]));
    l.jobs.submit(SyncJob::Fetch {
        hash: announced,
        height: 2,
        peer: l.peer.pubkey_hex.clone(),
    });
    wait_until("height 2", || l.chain.best_chain().height == 2);
    l.sync.stop();
}

/// A node whose own branch (60 blocks, longer than a download round) forked from the peer's
/// right after genesis, with the LIB still at genesis (a deep irreversibility, as when a
/// partitioned half cannot finalise), switches to the peer's longer branch of 130 blocks: after the first
/// request finds the peer without our best block, the download restarts from the LIB and then
/// goes on round after round (50 blocks each) along the peer's branch, which stays a side
/// branch for us until it outgrows ours. A regression: later rounds used to restart from our
/// own best block, so the first round was fetched again and again, forever.
#[test]
fn a_fork_many_rounds_deep_is_followed_to_the_longer_branch() {
    // Three miners; locally only two of them produce, so 2/3 + 1 never confirm anything.
    let (remote, _remote_dir) = genesis_chain_with_miners(3);
    grow(&remote, 130);
    let (chain, dir) = genesis_chain_with_miners(3);
    let l = local_on(10, chain, dir);
    let two = &l.chain.settings().development_miner_keys()[..2];
    // Later than the remote's first block: a different branch from height 2 on.
    let mut not_before = l.chain.settings().development_params().start_ms + 1;
    for _ in 0..60 {
        let tip = l.chain.best_chain();
        let block = build_block_on(&l.chain, &tip, two, not_before, Vec::new()).unwrap();
        not_before = block_time(&block);
        l.chain.attach_block(block).unwrap();
    }
    assert_eq!(l.chain.best_chain().height, 61);
    assert_eq!(l.chain.last_irreversible().height, 1);
    *l.peer.serves.lock() = Some(remote.clone() as Arc<dyn Chain>);

    l.jobs.submit(SyncJob::Download {
        peer: l.peer.pubkey_hex.clone(),
        target: 131,
    });
    wait_until("the peer's branch is best", || {
        l.chain.best_chain() == remote.best_chain()
    });
    // One empty answer after our best block, then 13 batches of 10 and the empty end at most.
    let requests = l
        .peer
        .block_requests
        .load(std::sync::atomic::Ordering::SeqCst);
    assert!(requests <= 16, "{requests} block requests");
    assert!(l.abnormal_reports().is_empty());
    l.sync.stop();
}
