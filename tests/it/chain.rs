//! The embedded chain on real files: genesis, attach rules, fork choice, the LIB, events,
//! restarts and concurrent attaches. The producer thread is tested in `src/chain/producer.rs`.

use crate::support::wait::{wait_until, DEADLINE};
use aelf_net::chain::{
    build_block, build_block_on, genesis_block, synthetic_transactions, AttachOutcome, Chain,
    ChainError, ChainEvent, ChainSettings, ChainTip, EmbeddedChain, StoreOptions,
};
use aelf_net::crypto::{NodeKey, SignatureError};
use aelf_net::pb::aelf_block::BlockHeader;
use aelf_net::pb::network_types::BlockWithTransactions;
use aelf_net::types::{
    block_hash, chain_id_from_name, sha256, BlockWithTransactionsExt, Hash, ManualClock, TypesError,
};
use crossbeam_channel::{bounded, Receiver};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;

/// 2026-01-01T00:00:00Z.
const GENESIS_TIME: i64 = 1_767_225_600;
/// Block times start one minute after genesis.
const START_MS: i64 = (GENESIS_TIME + 60) * 1000;

fn settings(depth: i64) -> ChainSettings {
    ChainSettings {
        chain_id: chain_id_from_name("AELF").unwrap(),
        genesis_time: GENESIS_TIME,
        irreversible_depth: depth,
    }
}

fn open(dir: &Path, depth: i64) -> EmbeddedChain {
    EmbeddedChain::open(dir, settings(depth)).unwrap()
}

fn fresh(depth: i64) -> (EmbeddedChain, TempDir) {
    let dir = tempfile::tempdir().unwrap();
    (open(dir.path(), depth), dir)
}

fn tip_of(block: &BlockWithTransactions) -> ChainTip {
    ChainTip {
        hash: block.block_hash().unwrap(),
        height: block.header.height,
    }
}

fn hash_of(block: &BlockWithTransactions) -> Hash {
    block.block_hash().unwrap()
}

/// Builds and attaches `n` blocks on the best tip (one second apart on `clock`), expecting each
/// to extend the chain; returns them.
fn mine(
    chain: &EmbeddedChain,
    key: &NodeKey,
    clock: &ManualClock,
    n: usize,
) -> Vec<BlockWithTransactions> {
    (0..n)
        .map(|_| {
            use aelf_net::types::Clock;
            clock.advance(1000);
            let tip = chain.best_chain();
            let txs = synthetic_transactions(key, &tip, 2, tip.height as u64 * 100);
            let block = build_block(chain, key, clock.now_millis(), txs).unwrap();
            assert_eq!(
                chain.attach_block(block.clone()).unwrap(),
                AttachOutcome::Extended
            );
            block
        })
        .collect()
}

/// A branch of `n` blocks on `parent`, signed by `key`, timed from `start_ms` (not attached).
fn branch(parent: ChainTip, key: &NodeKey, start_ms: i64, n: usize) -> Vec<BlockWithTransactions> {
    let mut out = Vec::new();
    let mut tip = parent;
    for i in 0..n {
        let b = build_block_on(
            &tip,
            settings(0).chain_id,
            key,
            start_ms + i as i64 * 1000,
            vec![],
        )
        .unwrap();
        tip = tip_of(&b);
        out.push(b);
    }
    out
}

/// Recomputes the hash of a tampered block and signs it again with `key`.
fn resign(mut block: BlockWithTransactions, key: &NodeKey) -> BlockWithTransactions {
    let header = block.header.as_mut().unwrap();
    header.signature.clear();
    let hash = block_hash(header).unwrap();
    header.signature = key.sign(&hash).to_vec();
    block
}

fn drain(rx: &Receiver<ChainEvent>) -> Vec<ChainEvent> {
    rx.try_iter().collect()
}

fn accepted(b: &BlockWithTransactions) -> ChainEvent {
    let t = tip_of(b);
    ChainEvent::BlockAccepted {
        hash: t.hash,
        height: t.height,
    }
}

#[test]
fn genesis_is_deterministic_and_stable_across_restarts() {
    let (a, dir_a) = fresh(8);
    let (b, _dir_b) = fresh(8);
    let expected = genesis_block(&settings(8)).block_hash().unwrap();
    assert_eq!(a.genesis_hash(), expected);
    assert_eq!(b.genesis_hash(), expected);
    let later = ChainSettings {
        genesis_time: GENESIS_TIME + 1,
        ..settings(8)
    };
    assert_ne!(genesis_block(&later).block_hash().unwrap(), expected);

    let tip = ChainTip {
        hash: expected,
        height: 1,
    };
    assert_eq!(a.best_chain(), tip);
    assert_eq!(a.last_irreversible(), tip);
    let stored = a.block_by_height(1).unwrap().unwrap();
    assert_eq!(stored, genesis_block(&settings(8)));
    assert!(stored.header.signature.is_empty() && stored.header.signer_pubkey.is_empty());

    a.close();
    let a = open(dir_a.path(), 8);
    assert_eq!(a.genesis_hash(), expected);
    assert_eq!(a.best_chain(), tip);
    // Re-attaching genesis is a no-op.
    assert_eq!(
        a.attach_block(genesis_block(&settings(8))).unwrap(),
        AttachOutcome::AlreadyKnown
    );
}

#[test]
fn a_data_dir_with_another_genesis_is_refused_clearly() {
    let (chain, dir) = fresh(8);
    let genesis = chain.genesis_hash();
    drop(chain);
    let other_time = ChainSettings {
        genesis_time: GENESIS_TIME + 1,
        ..settings(8)
    };
    let err = EmbeddedChain::open(dir.path(), other_time).err().unwrap();
    let msg = err.to_string();
    assert!(matches!(err, ChainError::GenesisMismatch { .. }), "{msg}");
    assert!(msg.contains(&genesis.to_string()), "{msg}");
    assert!(msg.contains("AELF"), "{msg}");
    assert!(msg.contains(&genesis_block(&other_time).block_hash().unwrap().to_string()));

    let other_chain = ChainSettings {
        chain_id: chain_id_from_name("tDVV").unwrap(),
        ..settings(8)
    };
    let msg = EmbeddedChain::open(dir.path(), other_chain)
        .err()
        .unwrap()
        .to_string();
    assert!(msg.contains("AELF") && msg.contains("tDVV"), "{msg}");
    // The original config still opens it.
    assert_eq!(open(dir.path(), 8).genesis_hash(), genesis);
}

/// Asserts that attaching `$block` to `$chain` fails with an error matching `$pat`.
macro_rules! rejects {
    ($chain:expr, $block:expr, $pat:pat) => {
        let result = $chain.attach_block($block);
        assert!(matches!(result, Err($pat)), "got {result:?}");
    };
}

#[test]
fn a_data_dir_in_use_is_refused() {
    let (chain, dir) = fresh(8);
    let err = EmbeddedChain::open(dir.path(), settings(8)).err().unwrap();
    assert!(matches!(err, ChainError::InUse(_)), "{err}");
    assert!(err.to_string().contains("chain.redb"), "{err}");
    chain.close();
    open(dir.path(), 8);
}

#[test]
fn attach_rejects_every_invalid_block_and_stores_none() {
    let (chain, _dir) = fresh(8);
    let key = NodeKey::generate();
    let tip = chain.best_chain();
    let txs = synthetic_transactions(&key, &tip, 3, 0);
    let good = build_block(&chain, &key, START_MS, txs).unwrap();
    let tamper = |f: &dyn Fn(&mut BlockWithTransactions)| {
        let mut b = good.clone();
        f(&mut b);
        b
    };
    // The header changed, then signed again so that only the change is wrong.
    let header =
        |f: &dyn Fn(&mut BlockHeader)| resign(tamper(&|b| f(b.header.as_mut().unwrap())), &key);

    rejects!(
        chain,
        header(&|h| h.previous_block_hash = Some(sha256(b"?").to_proto()).into()),
        ChainError::UnknownParent { .. }
    );
    rejects!(
        chain,
        header(&|h| h.height = 3),
        ChainError::WrongHeight {
            expected: 2,
            got: 3,
            ..
        }
    );
    rejects!(
        chain,
        tamper(&|b| b.header.as_mut().unwrap().height = 0),
        ChainError::InvalidBlock(TypesError::BlockHeader(_))
    );
    rejects!(
        chain,
        header(&|h| h.chain_id = 1),
        ChainError::WrongChainId { got: 1, .. }
    );
    rejects!(
        chain,
        header(&|h| h.merkle_tree_root_of_transactions = Some(sha256(b"r").to_proto()).into()),
        ChainError::BadTransactionsRoot { .. }
    );
    rejects!(
        chain,
        tamper(&|b| drop(b.transactions.pop())),
        ChainError::BadTransactionsRoot { .. }
    );
    rejects!(
        chain,
        tamper(&|b| b.transactions[1].method_name.clear()),
        ChainError::InvalidTransaction {
            index: 1,
            source: TypesError::Transaction(_)
        }
    );
    rejects!(
        chain,
        tamper(&|b| b.header.as_mut().unwrap().signature.clear()),
        ChainError::BadSignature {
            source: SignatureError::Length(0),
            ..
        }
    );
    rejects!(
        chain,
        tamper(&|b| b.header.as_mut().unwrap().signature[10] ^= 0xff),
        ChainError::BadSignature { .. }
    );
    // Signed by another key than the one it names.
    rejects!(
        chain,
        resign(good.clone(), &NodeKey::generate()),
        ChainError::BadSignature {
            source: SignatureError::WrongKey,
            ..
        }
    );
    rejects!(
        chain,
        header(&|h| h.signer_pubkey.truncate(33)),
        ChainError::BadSignature {
            source: SignatureError::BadPubkey,
            ..
        }
    );
    rejects!(
        chain,
        tamper(&|b| b.header.as_mut().unwrap().signer_pubkey.clear()),
        ChainError::InvalidBlock(TypesError::BlockHeader(_))
    );
    rejects!(
        chain,
        tamper(&|b| b.header.clear()),
        ChainError::MissingHeader
    );

    assert_eq!(chain.best_chain(), tip);
    assert!(!chain.has_block(&hash_of(&good)));
    assert_eq!(chain.attach_block(good).unwrap(), AttachOutcome::Extended);
}

#[test]
fn reattaching_a_block_is_already_known_without_events() {
    let (chain, _dir) = fresh(8);
    let key = NodeKey::generate();
    let events = chain.subscribe(16);
    let block = build_block(&chain, &key, START_MS, vec![]).unwrap();
    assert_eq!(
        chain.attach_block(block.clone()).unwrap(),
        AttachOutcome::Extended
    );
    assert_eq!(drain(&events), vec![accepted(&block)]);
    assert_eq!(
        chain.attach_block(block.clone()).unwrap(),
        AttachOutcome::AlreadyKnown
    );
    assert!(drain(&events).is_empty());
    assert_eq!(chain.best_chain(), tip_of(&block));
    assert_eq!(chain.block_by_hash(&hash_of(&block)).unwrap(), Some(block));
}

#[test]
fn a_longer_side_branch_takes_over_and_equal_height_keeps_the_first() {
    let (chain, _dir) = fresh(100);
    let (alice, bob) = (NodeKey::generate(), NodeKey::generate());
    let clock = ManualClock::new(START_MS);
    let events = chain.subscribe(64);
    let genesis = chain.best_chain();
    let main = mine(&chain, &alice, &clock, 2);
    assert_eq!(drain(&events), vec![accepted(&main[0]), accepted(&main[1])]);

    let side = branch(genesis, &bob, START_MS + 500, 3);
    assert_eq!(
        chain.attach_block(side[0].clone()).unwrap(),
        AttachOutcome::SideBranch
    );
    // Same height as the best tip: the first seen stays best.
    assert_eq!(
        chain.attach_block(side[1].clone()).unwrap(),
        AttachOutcome::SideBranch
    );
    assert_eq!(chain.best_chain(), tip_of(&main[1]));
    assert!(drain(&events).is_empty());
    assert!(chain.has_block(&hash_of(&side[1])));
    // Off the best chain: stored, readable by hash, but nothing follows it.
    assert_eq!(
        chain.block_by_hash(&hash_of(&side[0])).unwrap().as_ref(),
        Some(&side[0])
    );
    assert!(chain
        .blocks_after(&hash_of(&side[0]), 10)
        .unwrap()
        .is_empty());

    // One higher: the side branch becomes the best chain.
    assert_eq!(
        chain.attach_block(side[2].clone()).unwrap(),
        AttachOutcome::Extended
    );
    assert_eq!(chain.best_chain(), tip_of(&side[2]));
    assert_eq!(
        drain(&events),
        side.iter().map(accepted).collect::<Vec<_>>()
    );
    for (i, b) in side.iter().enumerate() {
        assert_eq!(
            chain.block_by_height(i as i64 + 2).unwrap().as_ref(),
            Some(b)
        );
    }
    assert!(chain
        .blocks_after(&hash_of(&main[0]), 10)
        .unwrap()
        .is_empty());
    assert_eq!(chain.blocks_after(&genesis.hash, 10).unwrap(), side);
    // Mining continues on the new best chain.
    let more = mine(&chain, &alice, &clock, 1);
    assert_eq!(more[0].header.height, 5);
}

#[test]
fn the_lib_trails_the_best_tip_and_announces_each_advance() {
    let (chain, _dir) = fresh(2);
    let key = NodeKey::generate();
    let clock = ManualClock::new(START_MS);
    let events = chain.subscribe(64);
    let genesis = chain.best_chain();

    let blocks = mine(&chain, &key, &clock, 2);
    assert_eq!(chain.last_irreversible(), genesis);
    assert_eq!(
        drain(&events).len(),
        2,
        "no LIB event while it stays at genesis"
    );

    let more = mine(&chain, &key, &clock, 2);
    assert_eq!(chain.best_chain().height, 5);
    assert_eq!(chain.last_irreversible(), tip_of(&blocks[1]));
    let lib_events: Vec<_> = drain(&events)
        .into_iter()
        .filter(|e| matches!(e, ChainEvent::NewIrreversible { .. }))
        .collect();
    assert_eq!(
        lib_events,
        vec![
            ChainEvent::NewIrreversible {
                hash: hash_of(&blocks[0]),
                height: 2
            },
            ChainEvent::NewIrreversible {
                hash: hash_of(&blocks[1]),
                height: 3
            },
        ]
    );
    // Per attach: the accepted block first, then the LIB.
    mine(&chain, &key, &clock, 1);
    assert_eq!(
        drain(&events)[1],
        ChainEvent::NewIrreversible {
            hash: hash_of(&more[0]),
            height: 4
        }
    );
}

#[test]
fn a_fork_below_the_lib_is_rejected() {
    let (chain, _dir) = fresh(2);
    let (alice, bob) = (NodeKey::generate(), NodeKey::generate());
    let clock = ManualClock::new(START_MS);
    let main = mine(&chain, &alice, &clock, 4);
    let lib = chain.last_irreversible();
    assert_eq!(lib, tip_of(&main[1]));

    // Forks at height 2, below the LIB at 3.
    let deep = branch(tip_of(&main[0]), &bob, START_MS + 500, 1);
    assert!(matches!(
        chain.attach_block(deep[0].clone()),
        Err(ChainError::BelowIrreversible {
            fork_height: 2,
            lib_height: 3,
            ..
        })
    ));
    assert!(!chain.has_block(&hash_of(&deep[0])));
    // Forks at the LIB itself: allowed.
    let shallow = branch(lib, &bob, START_MS + 500, 3);
    assert_eq!(
        chain.attach_block(shallow[0].clone()).unwrap(),
        AttachOutcome::SideBranch
    );
    assert_eq!(
        chain.attach_block(shallow[1].clone()).unwrap(),
        AttachOutcome::SideBranch
    );
    assert_eq!(
        chain.attach_block(shallow[2].clone()).unwrap(),
        AttachOutcome::Extended
    );
    assert_eq!(chain.last_irreversible(), tip_of(&shallow[0]));
    // The abandoned main branch now forks below the LIB.
    let stale = branch(tip_of(&main[3]), &alice, START_MS + 9000, 1);
    assert!(matches!(
        chain.attach_block(stale[0].clone()),
        Err(ChainError::BelowIrreversible { .. })
    ));
}

#[test]
fn blocks_after_and_block_by_height_follow_the_best_chain() {
    let (chain, _dir) = fresh(8);
    let key = NodeKey::generate();
    let clock = ManualClock::new(START_MS);
    let genesis = chain.best_chain();
    let blocks = mine(&chain, &key, &clock, 5);

    assert_eq!(chain.blocks_after(&genesis.hash, 100).unwrap(), blocks);
    assert_eq!(
        chain.blocks_after(&genesis.hash, 2).unwrap(),
        blocks[..2].to_vec()
    );
    assert_eq!(
        chain.blocks_after(&hash_of(&blocks[2]), 100).unwrap(),
        blocks[3..].to_vec()
    );
    assert!(chain.blocks_after(&genesis.hash, 0).unwrap().is_empty());
    assert!(chain
        .blocks_after(&hash_of(&blocks[4]), 100)
        .unwrap()
        .is_empty());
    assert!(chain
        .blocks_after(&sha256(b"unknown"), 100)
        .unwrap()
        .is_empty());
    assert_eq!(
        chain.blocks_after(&genesis.hash, usize::MAX).unwrap().len(),
        5
    );

    for (i, b) in blocks.iter().enumerate() {
        assert_eq!(
            chain.block_by_height(i as i64 + 2).unwrap().as_ref(),
            Some(b)
        );
    }
    for h in [i64::MIN, -1, 0, 7, i64::MAX] {
        assert_eq!(chain.block_by_height(h).unwrap(), None, "height {h}");
    }
    assert_eq!(chain.block_by_hash(&sha256(b"unknown")).unwrap(), None);
    // Transactions survive the store.
    let stored = chain.block_by_hash(&hash_of(&blocks[0])).unwrap().unwrap();
    assert_eq!(stored.transactions.len(), 2);
    assert_eq!(
        stored.computed_transactions_root().unwrap(),
        blocks[0].computed_transactions_root().unwrap()
    );
}

#[test]
fn a_restart_keeps_the_chain_and_the_lib_never_goes_back() {
    let dir = tempfile::tempdir().unwrap();
    let (alice, bob) = (NodeKey::generate(), NodeKey::generate());
    let clock = ManualClock::new(START_MS);
    let (blocks, side, best, lib) = {
        let chain = open(dir.path(), 2);
        let blocks = mine(&chain, &alice, &clock, 5);
        let side = branch(tip_of(&blocks[3]), &bob, START_MS + 500, 1);
        assert_eq!(
            chain.attach_block(side[0].clone()).unwrap(),
            AttachOutcome::SideBranch
        );
        (blocks, side, chain.best_chain(), chain.last_irreversible())
    };
    assert_eq!(best, tip_of(&blocks[4]));
    assert_eq!(lib.height, 4);

    // A deeper irreversibility setting must not move the stored LIB back.
    let chain = open(dir.path(), 10);
    assert_eq!(chain.best_chain(), best);
    assert_eq!(chain.last_irreversible(), lib);
    assert_eq!(
        chain.blocks_after(&chain.genesis_hash(), 100).unwrap(),
        blocks
    );
    assert!(chain.has_block(&hash_of(&side[0])));
    assert_eq!(
        chain.block_by_hash(&hash_of(&side[0])).unwrap().as_ref(),
        Some(&side[0])
    );
    // The side branch is still a side branch, and still wins when it grows.
    let grown = branch(tip_of(&side[0]), &bob, START_MS + 10_000, 2);
    assert_eq!(
        chain.attach_block(grown[0].clone()).unwrap(),
        AttachOutcome::Extended
    );
    assert_eq!(chain.block_by_height(6).unwrap().as_ref(), Some(&side[0]));
    chain.close();

    let chain = open(dir.path(), 10);
    assert_eq!(chain.best_chain(), tip_of(&grown[0]));
    assert_eq!(
        chain.attach_block(grown[0].clone()).unwrap(),
        AttachOutcome::AlreadyKnown
    );
    assert_eq!(
        chain.attach_block(grown[1].clone()).unwrap(),
        AttachOutcome::Extended
    );
}

#[test]
fn a_full_subscriber_loses_events_without_blocking_attach() {
    let (chain, _dir) = fresh(8);
    let key = NodeKey::generate();
    let clock = ManualClock::new(START_MS);
    let slow = chain.subscribe(1);
    let fast = chain.subscribe(100);
    let gone = chain.subscribe(1);
    drop(gone);
    let blocks = mine(&chain, &key, &clock, 5);
    assert_eq!(drain(&slow), vec![accepted(&blocks[0])]);
    assert_eq!(
        drain(&fast),
        blocks.iter().map(accepted).collect::<Vec<_>>()
    );
    assert_eq!(chain.dropped_events(), 4);
    // Room again: the next event arrives.
    let next = mine(&chain, &key, &clock, 1);
    assert_eq!(drain(&slow), vec![accepted(&next[0])]);
}

#[test]
fn concurrent_attaches_store_each_block_once() {
    let (chain, _dir) = fresh(8);
    let chain = Arc::new(chain);
    let key = NodeKey::generate();
    let blocks = branch(chain.best_chain(), &key, START_MS, 20);
    let events = chain.subscribe(100);
    let (done_tx, done_rx) = bounded(4);
    let mut handles = Vec::new();
    for t in 0..4 {
        let (chain, blocks, done) = (chain.clone(), blocks.clone(), done_tx.clone());
        handles.push(
            aelf_net::thread::spawn(&format!("attach-{t}"), move || {
                let mut extended = 0;
                for b in blocks {
                    match chain.attach_block(b) {
                        Ok(AttachOutcome::Extended) => extended += 1,
                        Ok(AttachOutcome::AlreadyKnown) => {}
                        other => return Err(format!("unexpected {other:?}")),
                    }
                }
                done.send(extended).map_err(|e| e.to_string())
            })
            .unwrap(),
        );
    }
    let total: usize = (0..4)
        .map(|_| done_rx.recv_timeout(DEADLINE).unwrap())
        .sum();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(total, 20);
    assert_eq!(chain.best_chain(), tip_of(&blocks[19]));
    let accepted_events = drain(&events)
        .into_iter()
        .filter(|e| matches!(e, ChainEvent::BlockAccepted { .. }))
        .count();
    assert_eq!(accepted_events, 20);
}

#[test]
fn with_a_flush_interval_closing_makes_every_attach_durable() {
    let dir = tempfile::tempdir().unwrap();
    let key = NodeKey::generate();
    let clock = ManualClock::new(START_MS);
    // An interval no test reaches: only the first attach and the close are durable commits.
    let options = StoreOptions {
        flush_interval: Duration::from_secs(3600),
    };
    let chain = EmbeddedChain::open_with(dir.path(), settings(2), options).unwrap();
    let blocks = mine(&chain, &key, &clock, 6);
    let best = chain.best_chain();
    chain.close();
    let reopened = EmbeddedChain::open_with(dir.path(), settings(2), options).unwrap();
    assert_eq!(reopened.best_chain(), best);
    assert_eq!(reopened.best_chain(), tip_of(blocks.last().unwrap()));
    assert_eq!(reopened.last_irreversible().height, best.height - 2);
}

#[test]
fn the_flush_thread_makes_recent_attaches_durable_within_the_interval() {
    let dir = tempfile::tempdir().unwrap();
    let key = NodeKey::generate();
    let clock = ManualClock::new(START_MS);
    let options = StoreOptions {
        flush_interval: Duration::from_millis(20),
    };
    let chain = EmbeddedChain::open_with(dir.path(), settings(2), options).unwrap();
    mine(&chain, &key, &clock, 4);
    wait_until("the recent attaches flushed", || {
        !chain.has_unflushed_writes()
    });
}
