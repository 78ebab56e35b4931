//! The transaction pool's admission rules against a real embedded chain, through
//! `submit_transaction` (the path of both the local API and received transactions), with
//! recording fake peers: only what a C# node's pool would take is pooled and relayed.

use crate::support::chain::genesis_chain;
use crate::support::node::test_network_service;
use aelf_net::chain::{synthetic_transactions, Chain, ChainTip, EmbeddedChain};
use aelf_net::crypto::NodeKey;
use aelf_net::network::peer::Peer;
use aelf_net::network::peer_pool::{PeerPool, PoolLimits};
use aelf_net::network::sync_state::SyncState;
use aelf_net::os::events::submit_transaction;
use aelf_net::os::tx_pool::TxPool;
use aelf_net::pb::aelf_core::Transaction;
use aelf_net::testing::{FakePeer, NOW};
use aelf_net::types::{block_hash, transaction_id, Hash};
use std::sync::Arc;

/// Appends `n` empty blocks to the best chain.
fn grow(chain: &EmbeddedChain, n: usize) {
    crate::support::chain::grow(chain, n);
}

/// One transfer from `key` referring to `tip`, changed by `edit` and signed again.
fn tx(
    key: &NodeKey,
    tip: &ChainTip,
    nonce: u64,
    edit: impl FnOnce(&mut Transaction),
) -> Transaction {
    let mut tx = synthetic_transactions(key, tip, 1, nonce).remove(0);
    edit(&mut tx);
    tx.signature = key.sign(&transaction_id(&tx).unwrap()).to_vec();
    tx
}

#[test]
fn only_transactions_a_c_sharp_pool_takes_are_pooled_and_relayed() {
    let (chain, _dir) = genesis_chain();
    let peers: Vec<Arc<FakePeer>> = (1..=2u8)
        .map(|i| Arc::new(FakePeer::new(i, &format!("10.0.0.{i}:6800"), false)))
        .collect();
    let pool = Arc::new(PeerPool::new(PoolLimits::unlimited()));
    for p in &peers {
        pool.try_add(p.clone() as Arc<dyn Peer>, NOW).unwrap();
    }
    let (service, _reconnections, _reports) =
        test_network_service(pool, chain.clone(), NOW, SyncState::finished());
    let txs = TxPool::new(64);
    let key = NodeKey::generate();

    grow(&chain, 3);
    let old = ChainTip {
        hash: block_hash(
            chain
                .block_by_height(2)
                .unwrap()
                .unwrap()
                .header
                .as_ref()
                .unwrap(),
        )
        .unwrap(),
        height: 2,
    };
    let best = chain.best_chain();
    let refused = [
        // The right height, another block's prefix: not a block of our chain.
        tx(
            &key,
            &ChainTip {
                hash: Hash([0xee; 32]),
                height: best.height,
            },
            1,
            |_| {},
        ),
        // A block above our best chain.
        tx(
            &key,
            &ChainTip {
                hash: best.hash,
                height: best.height + 1,
            },
            2,
            |_| {},
        ),
        // No block at height 0.
        tx(
            &key,
            &ChainTip {
                hash: Hash::ZERO,
                height: 0,
            },
            3,
            |_| {},
        ),
        // Over TransactionPoolConsts.TransactionSizeLimit (5 MiB).
        tx(&key, &best, 4, |t| t.params = vec![1; 5 * 1024 * 1024]),
        // A `to` address that is not 32 bytes.
        tx(&key, &best, 5, |t| {
            t.to.as_mut().unwrap().value = vec![2; 20]
        }),
    ];
    for (i, bad) in refused.into_iter().enumerate() {
        assert!(
            submit_transaction(&txs, chain.as_ref(), &service, bad).is_err(),
            "refused[{i}] was accepted"
        );
    }
    assert!(txs.is_empty());
    for p in &peers {
        assert!(p.sent_ids().is_empty(), "nothing refused is relayed");
    }

    // Valid: referring to the best tip, or to an older block of the best chain.
    let a =
        submit_transaction(&txs, chain.as_ref(), &service, tx(&key, &best, 10, |_| {})).unwrap();
    let b = submit_transaction(&txs, chain.as_ref(), &service, tx(&key, &old, 11, |_| {})).unwrap();
    for p in &peers {
        assert_eq!(p.sent_ids(), vec![a, b]);
    }

    // 512 blocks later (KernelConstants.ReferenceBlockValidPeriod) a reference to block 2 has
    // expired: refused.
    grow(&chain, 510);
    assert_eq!(chain.best_chain().height, 2 + 512);
    assert!(
        submit_transaction(&txs, chain.as_ref(), &service, tx(&key, &old, 12, |_| {})).is_err()
    );
    for p in &peers {
        assert_eq!(p.sent_ids(), vec![a, b]);
    }
}

/// Received transactions through the `os-events` thread: those no honest C# node relays
/// (malformed address, oversize, bad signature) count against the sender; those only our view
/// of the chain refuses (a reference block we do not have yet, on another branch, expired) do
/// not. A pending transaction leaves the pool once the best chain makes it expire.
#[test]
fn received_transactions_count_against_the_sender_only_when_no_honest_peer_sends_them() {
    use crate::support::wait::wait_until;
    use aelf_net::network::inbound::{network_events, NetworkEvent};
    use aelf_net::network::penalty::Offence;
    use aelf_net::os::announcement_cache::AnnouncementCache;
    use aelf_net::os::block_sync::{BlockSync, SyncSettings};
    use aelf_net::os::events::{EventLoop, EventLoopParts};

    let (chain, _dir) = genesis_chain();
    let peer_pool = Arc::new(PeerPool::new(PoolLimits::unlimited()));
    let (service, _reconnections, reports) =
        test_network_service(peer_pool, chain.clone(), NOW, SyncState::finished());
    let network = Arc::new(service);
    let announcements = Arc::new(AnnouncementCache::new(64));
    let dyn_chain: Arc<dyn Chain> = chain.clone();
    let (sync, jobs) = BlockSync::start(
        dyn_chain.clone(),
        network.clone(),
        announcements.clone(),
        SyncSettings::default(),
    )
    .unwrap();
    let (events, receivers) = network_events(16, 1_024);
    let txs = Arc::new(TxPool::new(64));
    let chain_events = chain.subscribe(1_024);
    let event_loop = EventLoop::start(EventLoopParts {
        chain: dyn_chain,
        network,
        tx_pool: txs.clone(),
        sync: Arc::new(SyncState::finished()),
        announcements,
        jobs,
        events: receivers,
        chain_events,
        producer_pubkey: None,
    })
    .unwrap();
    let send = |tx: Transaction| {
        let id = transaction_id(&tx).unwrap();
        events.publish(NetworkEvent::TransactionReceived {
            transaction: tx,
            id,
            sender: "sender".into(),
        });
        id
    };

    let key = NodeKey::generate();
    grow(&chain, 3);
    let best = chain.best_chain();
    let not_counted = [
        tx(
            &key,
            &ChainTip {
                hash: best.hash,
                height: best.height + 1,
            },
            1,
            |_| {},
        ),
        tx(
            &key,
            &ChainTip {
                hash: Hash([0xee; 32]),
                height: best.height,
            },
            2,
            |_| {},
        ),
    ];
    for t in not_counted {
        send(t);
    }
    let mut counted = vec![
        send(tx(&key, &best, 3, |t| {
            t.to.as_mut().unwrap().value = vec![2; 20]
        })),
        send(tx(&key, &best, 4, |t| t.params = vec![1; 5 * 1024 * 1024])),
    ];
    let mut forged = tx(&key, &best, 5, |_| {});
    forged.signature = NodeKey::generate()
        .sign(&transaction_id(&forged).unwrap())
        .to_vec();
    counted.push(send(forged));
    let good = send(tx(&key, &best, 6, |_| {}));
    wait_until("the valid transaction in the pool", || txs.contains(&good));
    let reported: Vec<Hash> = reports
        .try_iter()
        .map(|r| match r.offence {
            Offence::InvalidTransaction(id) => id,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(reported, counted);
    assert_eq!(txs.len(), 1);

    // The pending transaction (reference block 4) may still go into block 4 + 512, built on
    // 4 + 511; once the best chain is at 4 + 512 it has expired and leaves the pool.
    grow(&chain, 511);
    assert_eq!(chain.best_chain().height, 4 + 511);
    let late = send(tx(&key, &chain.best_chain(), 7, |_| {}));
    wait_until("a later transaction in the pool", || txs.contains(&late));
    assert!(txs.contains(&good));
    grow(&chain, 1);
    wait_until("the expired transaction gone", || !txs.contains(&good));
    assert!(txs.contains(&late));
    assert_eq!(txs.stats().expired, 1);
    event_loop.stop();
    sync.stop();
}
