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

/// A follower starts from a checkpoint it does not hold: block sync fetches the checkpoint by
/// hash first. A peer serving another block for that hash is reported abnormal and nothing is
/// stored; served the right one, the follower stores it and downloads on from it to the peer's
/// best block, checking every block by the AEDPoS rules learned from the checkpoint's header,
/// and its LIB is the consensus LIB (at least the checkpoint).
#[test]
fn a_follower_fetches_its_checkpoint_by_hash_then_follows_the_chain() {
    let (remote, _remote_dir) = genesis_chain_with_miners(3);
    let blocks = grow(&remote, 120);
    // A checkpoint at a round change, as an operator takes a LIB from a trusted node.
    let checkpoint = &blocks[49];
    let checkpoint_tip = aelf_net::chain::ChainTip {
        hash: block_hash(checkpoint.header.as_ref().unwrap()).unwrap(),
        height: checkpoint.header.height,
    };
    let mut settings = *remote.settings();
    settings.mode = aelf_net::chain::ChainMode::Follow {
        checkpoint: checkpoint_tip,
        genesis_hash: remote.genesis_hash(),
    };
    let dir = tempfile::tempdir().unwrap();
    let chain = Arc::new(EmbeddedChain::open(dir.path(), settings).unwrap());
    assert_eq!(chain.best_chain(), checkpoint_tip);
    assert_eq!(chain.awaiting_checkpoint(), Some(checkpoint_tip));
    let l = local_on(10, chain, dir);
    // First a block that is not the checkpoint, then the checkpoint.
    l.peer
        .answers
        .lock()
        .push_back(Ok(vec![blocks[50].clone()]));
    l.jobs.submit(SyncJob::Download {
        peer: l.peer.pubkey_hex.clone(),
        target: 121,
    });
    wait_until("the wrong checkpoint reported", || {
        !l.abnormal_reports().is_empty()
    });
    assert_eq!(l.chain.awaiting_checkpoint(), Some(checkpoint_tip));
    l.peer
        .answers
        .lock()
        .push_back(Ok(vec![checkpoint.clone()]));
    *l.peer.serves.lock() = Some(remote.clone() as Arc<dyn Chain>);
    l.jobs.submit(SyncJob::Download {
        peer: l.peer.pubkey_hex.clone(),
        target: 121,
    });
    wait_until("the follower at the peer's best", || {
        l.chain.best_chain() == remote.best_chain()
    });
    assert_eq!(l.chain.awaiting_checkpoint(), None);
    assert_eq!(l.chain.last_irreversible(), remote.last_irreversible());
    assert!(l.chain.last_irreversible().height > checkpoint_tip.height);
    // Below the checkpoint it holds nothing.
    assert_eq!(
        l.chain.block_by_height(checkpoint_tip.height - 1).unwrap(),
        None
    );
    l.sync.stop();
}

/// A peer that serves a block its signer may not produce (no miner of the round) is charged
/// and the block is not stored.
#[test]
fn a_block_by_a_non_miner_is_refused_and_charged() {
    let (remote, _remote_dir) = genesis_chain();
    let l = local(10);
    let stranger = aelf_net::crypto::NodeKey::generate();
    let tip = remote.best_chain();
    let state = remote.consensus_state(&tip.hash).unwrap();
    let params = remote.settings().development_params();
    let miner = &remote.settings().development_miner_keys()[0];
    // The miner's own consensus data, re-signed (sender and signer) by a stranger.
    let production = aelf_net::chain::aedpos::earliest_production(
        &params,
        &state,
        tip.height,
        miner.pubkey(),
        0,
    )
    .unwrap();
    let mut info = aelf_net::chain::aedpos::decode_consensus(&production.consensus).unwrap();
    info.sender_pubkey = stranger.pubkey().to_vec();
    let forged_production = aelf_net::chain::aedpos::Production {
        consensus: protobuf::Message::write_to_bytes(&info).unwrap(),
        time_ms: production.time_ms,
    };
    // A chain of 30 so that the single-miner start (no checks below height 24) is over.
    grow(&remote, 30);
    let tip = remote.best_chain();
    let forged = aelf_net::chain::build_signed_block(
        &tip,
        remote.chain_id(),
        &stranger,
        &forged_production,
        Vec::new(),
    )
    .unwrap();
    let mut served = grow_copy(&remote);
    served.push(forged.clone());
    for batch in served.chunks(10) {
        l.peer.answers.lock().push_back(Ok(batch.to_vec()));
    }
    l.jobs.submit(SyncJob::Download {
        peer: l.peer.pubkey_hex.clone(),
        target: 32,
    });
    wait_until("the forger charged", || {
        l.reports
            .try_iter()
            .any(|r| r.offence == Offence::BadSignature)
    });
    assert_eq!(l.chain.best_chain(), remote.best_chain());
    assert!(!l
        .chain
        .has_block(&block_hash(forged.header.as_ref().unwrap()).unwrap()));
    l.sync.stop();
}

/// The blocks after genesis of `chain`'s best chain.
fn grow_copy(chain: &EmbeddedChain) -> Vec<BlockWithTransactions> {
    chain.blocks_after(&chain.genesis_hash(), 1000).unwrap()
}
