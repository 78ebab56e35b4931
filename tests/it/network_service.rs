//! The network service's rules with recording fake peers and a real embedded chain: who gets
//! which broadcast (spec 11.13, items 94–101), block requests to a chosen peer and the failure
//! policy (items 90–92, spec 5.5), and block serving (spec 11.9, items 61–65).

use crate::support::chain::genesis_chain;
use crate::support::node::test_network_service;
use aelf_net::chain::{Chain, EmbeddedChain};
use aelf_net::crypto::NodeKey;
use aelf_net::network::broadcast::BroadcastKind;
use aelf_net::network::peer::{FailureKind, Peer, PeerRequestError};
use aelf_net::network::peer_pool::{PeerPool, PoolLimits};
use aelf_net::network::reconnection::Reconnections;
use aelf_net::network::service::{NetworkError, NetworkService, MAX_BLOCK_AGE_TO_BROADCAST_MS};
use aelf_net::network::sync_state::SyncState;
use aelf_net::pb::network_types::{BlockRequest, BlocksRequest};
use aelf_net::testing::{FakePeer, NOW};
use aelf_net::types::{block_hash, Hash};
use protobuf::MessageField;
use std::sync::atomic::Ordering;
use std::sync::Arc;

struct Fixture {
    pool: Arc<PeerPool>,
    chain: Arc<EmbeddedChain>,
    reconnections: Arc<Reconnections>,
    service: NetworkService,
    peers: Vec<Arc<FakePeer>>,
    _dir: tempfile::TempDir,
}

/// Three ready fake peers (two outbound, one inbound) in a pool, a synced node at [`NOW`].
fn fixture(sync: SyncState) -> Fixture {
    let (chain, dir) = genesis_chain();
    let pool = Arc::new(PeerPool::new(PoolLimits::unlimited()));
    let peers: Vec<Arc<FakePeer>> = (1..=3u8)
        .map(|i| Arc::new(FakePeer::new(i, &format!("10.0.0.{i}:6800"), i == 3)))
        .collect();
    for p in &peers {
        pool.try_add(p.clone() as Arc<dyn Peer>, NOW).unwrap();
    }
    let (service, reconnections, _reports) =
        test_network_service(pool.clone(), chain.clone(), NOW, sync);
    Fixture {
        pool,
        chain,
        reconnections,
        service,
        peers,
        _dir: dir,
    }
}

/// Produces `n` valid blocks on the chain; their hashes.
fn grow(chain: &EmbeddedChain, n: usize) -> Vec<Hash> {
    crate::support::chain::grow(chain, n)
        .iter()
        .map(|b| block_hash(b.header.as_ref().unwrap()).unwrap())
        .collect()
}

/// A signed block on the best tip stamped `time` (broadcast only, never attached).
fn fresh_block(
    f: &Fixture,
    time: i64,
) -> (aelf_net::pb::network_types::BlockWithTransactions, Hash) {
    let key = NodeKey::generate();
    let tip = f.chain.best_chain();
    let block =
        crate::support::chain::unchecked_block(&tip, f.chain.chain_id(), &key, time, Vec::new());
    let hash = block_hash(block.header.as_ref().unwrap()).unwrap();
    (block, hash)
}

#[test]
fn old_blocks_are_neither_broadcast_nor_announced() {
    let f = fixture(SyncState::finished());
    let old = NOW - MAX_BLOCK_AGE_TO_BROADCAST_MS - 60_000;
    let (block, hash) = fresh_block(&f, old);
    let report = f.service.broadcast_block(&block, hash, None).unwrap();
    assert_eq!(report.queued, 0);
    f.service.broadcast_announcement(hash, 2, old).unwrap();
    for p in &f.peers {
        assert!(p.sent.lock().is_empty());
        assert!(!p.knowledge.knows_block(&hash));
    }
}

#[test]
fn a_fresh_block_goes_once_to_every_peer_and_is_marked_known() {
    let f = fixture(SyncState::finished());
    let (block, hash) = fresh_block(&f, NOW);
    let report = f.service.broadcast_block(&block, hash, None).unwrap();
    assert_eq!(report.queued, 3);
    // Again: everybody knows it now.
    let again = f.service.broadcast_block(&block, hash, None).unwrap();
    assert_eq!((again.queued, again.already_known), (0, 3));
    // And its announcement is not sent to peers that got the block.
    f.service.broadcast_announcement(hash, 2, NOW).unwrap();
    for p in &f.peers {
        assert_eq!(p.sent_ids(), vec![hash]);
        assert_eq!(p.sent.lock()[0].kind, BroadcastKind::Block);
        assert!(p.knowledge.knows_block(&hash));
    }
}

#[test]
fn the_next_producer_gets_the_block_first() {
    let f = fixture(SyncState::finished());
    let (block, hash) = fresh_block(&f, NOW);
    let first = f.peers[2].pubkey_hex.clone();
    f.service
        .broadcast_block(&block, hash, Some(&first))
        .unwrap();
    // Every peer got it; the order of enqueueing is observable through the known caches only,
    // so check the peer named first got it at all and nobody twice.
    for p in &f.peers {
        assert_eq!(p.sent_ids(), vec![hash]);
    }
}

#[test]
fn not_ready_and_full_peers_do_not_stop_the_others_and_are_not_marked() {
    let f = fixture(SyncState::finished());
    f.peers[0].ready.store(false, Ordering::SeqCst);
    f.peers[1].full.store(true, Ordering::SeqCst);
    let report = f
        .service
        .broadcast_announcement(Hash([5; 32]), 9, NOW)
        .unwrap();
    // Not-ready peers are not even listed as targets (the pool gives ready peers only).
    assert_eq!((report.queued, report.queue_full), (1, 1));
    assert!(!f.peers[0].knowledge.knows_block(&Hash([5; 32])));
    assert!(!f.peers[1].knowledge.knows_block(&Hash([5; 32])));
    assert!(f.peers[2].knowledge.knows_block(&Hash([5; 32])));
}

#[test]
fn peers_that_know_an_item_are_skipped() {
    let f = fixture(SyncState::finished());
    let id = Hash([8; 32]);
    f.peers[0].knowledge.try_add_known_transaction(id, NOW);
    f.peers[1].knowledge.try_add_known_block(Hash([9; 32]), NOW);
    let tx = aelf_net::pb::aelf_core::Transaction::new();
    let report = f.service.broadcast_transaction(&tx, id).unwrap();
    assert_eq!((report.queued, report.already_known), (2, 1));
    assert!(f.peers[0].sent.lock().is_empty());
    // Transactions are not marked known on sending (spec 12 quirk 12): a second broadcast
    // goes out again.
    assert_eq!(f.service.broadcast_transaction(&tx, id).unwrap().queued, 2);
    f.service
        .broadcast_announcement(Hash([9; 32]), 3, NOW)
        .unwrap();
    assert_eq!(f.peers[1].sent_ids(), vec![id, id]);
}

#[test]
fn lib_announcements_go_to_every_peer_every_time() {
    let f = fixture(SyncState::finished());
    let lib = Hash([3; 32]);
    f.service.broadcast_lib(lib, 100).unwrap();
    f.service.broadcast_lib(lib, 100).unwrap();
    for p in &f.peers {
        let sent = p.sent.lock();
        assert_eq!(sent.len(), 2);
        assert!(sent
            .iter()
            .all(|i| i.kind == BroadcastKind::LibAnnouncement && i.height == 100));
    }
}

#[test]
fn an_unsynced_node_sends_transactions_only() {
    let f = fixture(SyncState::new(512));
    let (block, hash) = fresh_block(&f, NOW);
    assert_eq!(
        f.service
            .broadcast_block(&block, hash, None)
            .unwrap()
            .queued,
        0
    );
    assert_eq!(
        f.service
            .broadcast_announcement(hash, 2, NOW)
            .unwrap()
            .queued,
        0
    );
    assert_eq!(f.service.broadcast_lib(hash, 1).unwrap().queued, 0);
    let tx = aelf_net::pb::aelf_core::Transaction::new();
    assert_eq!(
        f.service
            .broadcast_transaction(&tx, Hash([1; 32]))
            .unwrap()
            .queued,
        3
    );
}

#[test]
fn requests_to_unknown_peers_fail_with_the_csharp_message() {
    let f = fixture(SyncState::finished());
    let err = f.service.get_blocks("04ff", &Hash::ZERO, 5).unwrap_err();
    assert_eq!(err, NetworkError::UnknownPeer("04ff".into()));
    assert_eq!(err.to_string(), "Could not find peer 04ff.");
    assert!(f.service.get_block("", &Hash::ZERO).is_err());
}

#[test]
fn request_failures_follow_the_failure_policy() {
    let f = fixture(SyncState::finished());
    let (outbound, inbound) = (&f.peers[0], &f.peers[2]);
    // A handler failure on the remote is an empty success; the peer stays.
    outbound.answers.lock().push_back(Err(PeerRequestError::new(
        FailureKind::HandlerException,
        "boom",
    )));
    assert_eq!(
        f.service.get_blocks(&outbound.pubkey_hex, &Hash::ZERO, 5),
        Ok(Vec::new())
    );
    // An unrecoverable failure drops the peer; an outbound peer is scheduled for reconnection.
    outbound
        .answers
        .lock()
        .push_back(Err(PeerRequestError::unrecoverable("gone")));
    assert!(matches!(
        f.service.get_blocks(&outbound.pubkey_hex, &Hash::ZERO, 5),
        Err(NetworkError::Request { .. })
    ));
    assert!(f.pool.get(&outbound.pubkey_hex).is_none());
    assert_eq!(outbound.disconnects.load(Ordering::SeqCst), 1);
    // An inbound peer (not a boot node) is dropped without reconnection.
    f.service.handle_failure(
        &inbound.pubkey_hex,
        &PeerRequestError::unrecoverable("gone"),
    );
    assert!(f.pool.get(&inbound.pubkey_hex).is_none());
    let scheduled = f.reconnections.list();
    assert_eq!(scheduled.len(), 1);
    assert_eq!(scheduled[0].pubkey_hex, outbound.pubkey_hex);
    assert_eq!(
        scheduled[0].next_attempt,
        NOW + 60_000,
        "one period after the loss"
    );
    // An unstable but still ready peer is kept; Rpc failures too.
    let third = &f.peers[1];
    f.service.handle_failure(
        &third.pubkey_hex,
        &PeerRequestError::new(FailureKind::PeerUnstable, "slow"),
    );
    f.service.handle_failure(
        &third.pubkey_hex,
        &PeerRequestError::new(FailureKind::Rpc, "x"),
    );
    assert!(f.pool.get(&third.pubkey_hex).is_some());
}

#[test]
fn successful_block_requests_are_measured() {
    let f = fixture(SyncState::finished());
    let peer = &f.peers[0];
    for _ in 0..101 {
        f.service
            .get_blocks(&peer.pubkey_hex, &Hash::ZERO, 5)
            .unwrap();
        f.service.get_block(&peer.pubkey_hex, &Hash::ZERO).unwrap();
    }
    let snapshot = peer.knowledge.metrics().snapshot();
    assert_eq!(snapshot.len(), 2);
    for (method, metrics) in snapshot {
        assert_eq!(metrics.len(), 100, "{method}");
        let prefix = if method == "GetBlock" {
            "Block request for"
        } else {
            "Get blocks for"
        };
        assert!(metrics[0].info.starts_with(prefix), "{}", metrics[0].info);
    }
}

#[test]
fn serving_blocks_follows_the_csharp_rules() {
    let f = fixture(SyncState::finished());
    let genesis = f.chain.genesis_hash();
    let hashes = grow(&f.chain, 6);
    let head = *hashes.last().unwrap();
    let requester = f.peers[0].pubkey_hex.clone();

    let reply = f.service.serve_block(
        Some(&requester),
        &BlockRequest {
            hash: MessageField::some(head.to_proto()),
            ..Default::default()
        },
    );
    let block = reply.block.into_option().expect("the head is served");
    assert_eq!(block_hash(block.header.as_ref().unwrap()).unwrap(), head);
    assert!(f.peers[0].knowledge.knows_block(&head));
    assert!(f
        .service
        .serve_block(
            None,
            &BlockRequest {
                hash: MessageField::some(Hash([0xee; 32]).to_proto()),
                ..Default::default()
            }
        )
        .block
        .is_none());
    assert!(f
        .service
        .serve_block(None, &BlockRequest::new())
        .block
        .is_none());

    let blocks = |previous: Hash, count: i32| {
        f.service
            .serve_blocks(&BlocksRequest {
                previous_block_hash: MessageField::some(previous.to_proto()),
                count,
                ..Default::default()
            })
            .blocks
    };
    let five = blocks(genesis, 5);
    assert_eq!(five.len(), 5);
    let first = five[0].header.as_ref().unwrap();
    assert_eq!(
        Hash::from_proto(&first.previous_block_hash).unwrap(),
        genesis
    );
    assert!(blocks(genesis, 51).is_empty());
    assert!(blocks(genesis, 0).is_empty());
    assert!(blocks(genesis, -3).is_empty());
    assert!(blocks(Hash([0xee; 32]), 5).is_empty());
    assert!(f
        .service
        .serve_blocks(&BlocksRequest::new())
        .blocks
        .is_empty());
    // Capped at the head.
    assert_eq!(blocks(genesis, 50).len(), 6);
    // Not served blocks are not marked known.
    assert!(!f.peers[0].knowledge.knows_block(&hashes[0]));
}

#[test]
fn an_unsynced_node_serves_nothing() {
    let f = fixture(SyncState::new(512));
    let genesis = f.chain.genesis_hash();
    grow(&f.chain, 2);
    let reply = f.service.serve_block(
        None,
        &BlockRequest {
            hash: MessageField::some(genesis.to_proto()),
            ..Default::default()
        },
    );
    assert!(reply.block.is_none());
    let list = f.service.serve_blocks(&BlocksRequest {
        previous_block_hash: MessageField::some(genesis.to_proto()),
        count: 2,
        ..Default::default()
    });
    assert!(list.blocks.is_empty());
}
