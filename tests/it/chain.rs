//! The embedded chain on real files: genesis, attach rules, fork choice, the LIB, events,
//! restarts and concurrent attaches. The producer thread is tested in `src/chain/producer.rs`.

use crate::support::chain::block_time;
use crate::support::wait::{wait_until, DEADLINE};
use aelf_net::chain::aedpos::{decode_consensus, ConsensusError};
use aelf_net::chain::{
    build_block, build_next, genesis_block, synthetic_transactions, AttachOutcome, Chain,
    ChainError, ChainEvent, ChainOptions, ChainSettings, ChainTip, EmbeddedChain,
};
use aelf_net::crypto::{NodeKey, SignatureError};
use aelf_net::pb::aelf_block::BlockHeader;
use aelf_net::pb::network_types::BlockWithTransactions;
use aelf_net::types::{
    block_hash, chain_id_from_name, sha256, BlockWithTransactionsExt, Hash, ManualClock, TypesError,
};
use crossbeam_channel::{bounded, Receiver};
use protobuf::Message;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;

/// 2026-01-01T00:00:00Z.
const GENESIS_TIME: i64 = 1_767_225_600;

/// A development chain of `miners` miners with 4-second slots.
fn settings_with(miners: u32) -> ChainSettings {
    let mut s = ChainSettings::development(chain_id_from_name("AELF").unwrap(), GENESIS_TIME);
    s.consensus.miners = miners;
    s
}

fn settings() -> ChainSettings {
    settings_with(1)
}

fn open(dir: &Path) -> EmbeddedChain {
    EmbeddedChain::open(dir, settings()).unwrap()
}

fn fresh() -> (EmbeddedChain, TempDir) {
    let dir = tempfile::tempdir().unwrap();
    (open(dir.path()), dir)
}

fn fresh_with(miners: u32) -> (EmbeddedChain, TempDir) {
    let dir = tempfile::tempdir().unwrap();
    (
        EmbeddedChain::open(dir.path(), settings_with(miners)).unwrap(),
        dir,
    )
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

/// The time of the best block.
fn best_time(chain: &EmbeddedChain) -> i64 {
    block_time(
        &chain
            .block_by_hash(&chain.best_chain().hash)
            .unwrap()
            .unwrap(),
    )
}

/// Builds and attaches `n` valid blocks (two synthetic transactions each) on the best tip,
/// expecting each to extend the chain; returns them.
fn mine(chain: &EmbeddedChain, n: usize) -> Vec<BlockWithTransactions> {
    let key = NodeKey::generate();
    (0..n)
        .map(|_| {
            let tip = chain.best_chain();
            let txs = synthetic_transactions(&key, &tip, 2, tip.height as u64 * 100);
            let block = build_block(chain, best_time(chain), txs).unwrap();
            assert_eq!(
                chain.attach_block(block.clone()).unwrap(),
                AttachOutcome::Extended
            );
            block
        })
        .collect()
}

/// A branch of `n` valid blocks on `parent` (a block of `chain` from its LIB up), the first
/// at or after `not_before_ms`, by the chain's miners (not attached).
fn branch(
    chain: &EmbeddedChain,
    parent: ChainTip,
    not_before_ms: i64,
    n: usize,
) -> Vec<BlockWithTransactions> {
    let keys = chain.settings().development_miner_keys();
    let mut state = chain.consensus_state(&parent.hash).unwrap();
    let (mut tip, mut not_before) = (parent, not_before_ms);
    (0..n)
        .map(|_| {
            let (b, next) =
                build_next(chain.settings(), &tip, &state, &keys, not_before, vec![]).unwrap();
            (tip, state, not_before) = (tip_of(&b), next, block_time(&b));
            b
        })
        .collect()
}

/// The first miner's key (the one of a one-miner chain).
fn miner() -> NodeKey {
    settings().development_miner_keys().remove(0)
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
    let (a, dir_a) = fresh();
    let (b, _dir_b) = fresh();
    let expected = genesis_block(&settings()).block_hash().unwrap();
    assert_eq!(a.genesis_hash(), expected);
    assert_eq!(b.genesis_hash(), expected);
    let later = ChainSettings {
        genesis_time: GENESIS_TIME + 1,
        ..settings()
    };
    assert_ne!(genesis_block(&later).block_hash().unwrap(), expected);

    let tip = ChainTip {
        hash: expected,
        height: 1,
    };
    assert_eq!(a.best_chain(), tip);
    assert_eq!(a.last_irreversible(), tip);
    let stored = a.block_by_height(1).unwrap().unwrap();
    assert_eq!(stored, genesis_block(&settings()));
    assert!(stored.header.signature.is_empty() && stored.header.signer_pubkey.is_empty());

    a.close();
    let a = open(dir_a.path());
    assert_eq!(a.genesis_hash(), expected);
    assert_eq!(a.best_chain(), tip);
    // Re-attaching genesis is a no-op.
    assert_eq!(
        a.attach_block(genesis_block(&settings())).unwrap(),
        AttachOutcome::AlreadyKnown
    );
}

#[test]
fn a_data_dir_with_another_genesis_is_refused_clearly() {
    let (chain, dir) = fresh();
    let genesis = chain.genesis_hash();
    drop(chain);
    let other_time = ChainSettings {
        genesis_time: GENESIS_TIME + 1,
        ..settings()
    };
    let err = EmbeddedChain::open(dir.path(), other_time).err().unwrap();
    let msg = err.to_string();
    assert!(matches!(err, ChainError::GenesisMismatch { .. }), "{msg}");
    assert!(msg.contains(&genesis.to_string()), "{msg}");
    assert!(msg.contains("AELF"), "{msg}");
    assert!(msg.contains(&genesis_block(&other_time).block_hash().unwrap().to_string()));

    let other_chain = ChainSettings {
        chain_id: chain_id_from_name("tDVV").unwrap(),
        ..settings()
    };
    let msg = EmbeddedChain::open(dir.path(), other_chain)
        .err()
        .unwrap()
        .to_string();
    assert!(msg.contains("AELF") && msg.contains("tDVV"), "{msg}");
    // The original config still opens it.
    assert_eq!(open(dir.path()).genesis_hash(), genesis);
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
    let (chain, dir) = fresh();
    let err = EmbeddedChain::open(dir.path(), settings()).err().unwrap();
    assert!(matches!(err, ChainError::InUse(_)), "{err}");
    assert!(err.to_string().contains("chain.redb"), "{err}");
    chain.close();
    open(dir.path());
}

#[test]
fn attach_rejects_every_invalid_block_and_stores_none() {
    // Three miners: a one-miner chain takes its first blocks without checks, as the C# node.
    let (chain, _dir) = fresh_with(3);
    let key = miner();
    let tip = chain.best_chain();
    let txs = synthetic_transactions(&NodeKey::generate(), &tip, 3, 0);
    let good = build_block(&chain, 0, txs).unwrap();
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
    // The AEDPoS rules: no consensus data, data that does not parse, a sender that is not the
    // signer, a signer that is no miner.
    rejects!(
        chain,
        header(&|h| h.extra_data.clear()),
        ChainError::Consensus {
            source: ConsensusError::Missing,
            ..
        }
    );
    rejects!(
        chain,
        header(&|h| h.extra_data[0].value = vec![0xff, 0x01, 0x02]),
        ChainError::Consensus {
            source: ConsensusError::Unparseable(_),
            ..
        }
    );
    let stranger = NodeKey::generate();
    let signed_by_stranger = |as_sender: bool| {
        let mut b = good.clone();
        let h = b.header.as_mut().unwrap();
        let mut info = decode_consensus(&h.extra_data[0].value).unwrap();
        if as_sender {
            info.sender_pubkey = stranger.pubkey().to_vec();
        }
        h.extra_data[0].value = info.write_to_bytes().unwrap();
        h.signer_pubkey = stranger.pubkey().to_vec();
        resign(b, &stranger)
    };
    rejects!(
        chain,
        signed_by_stranger(false),
        ChainError::Consensus {
            source: ConsensusError::SenderNotSigner,
            ..
        }
    );
    rejects!(
        chain,
        signed_by_stranger(true),
        ChainError::Consensus {
            source: ConsensusError::NotAMiner(_),
            ..
        }
    );

    assert_eq!(chain.best_chain(), tip);
    assert!(!chain.has_block(&hash_of(&good)));
    assert_eq!(chain.attach_block(good).unwrap(), AttachOutcome::Extended);
}

#[test]
fn reattaching_a_block_is_already_known_without_events() {
    let (chain, _dir) = fresh();
    let events = chain.subscribe(16);
    let block = build_block(&chain, 0, vec![]).unwrap();
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
    let (chain, _dir) = fresh_with(3);
    let events = chain.subscribe(64);
    let genesis = chain.best_chain();
    let main = mine(&chain, 2);
    assert_eq!(drain(&events), vec![accepted(&main[0]), accepted(&main[1])]);

    // Another branch from genesis, its first block later than main's.
    let side = branch(&chain, genesis, block_time(&main[0]) + 1, 3);
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
    let more = mine(&chain, 1);
    assert_eq!(more[0].header.height, 5);
}

/// The LIB after each attach is the irreversible height the best block's consensus state
/// confirms (genesis while none), and each advance is announced once, after the block.
#[test]
fn the_lib_is_the_consensus_lib_and_each_advance_is_announced() {
    let (chain, _dir) = fresh_with(3);
    let events = chain.subscribe(1024);
    let genesis = chain.best_chain();
    let mut advances = 0;
    let mut deepest_gap = 0;
    for _ in 0..120 {
        let before = chain.last_irreversible();
        let block = mine(&chain, 1).remove(0);
        let best = chain.best_chain();
        let confirmed = chain
            .consensus_state(&best.hash)
            .unwrap()
            .irreversible_height();
        let lib = chain.last_irreversible();
        assert_eq!(lib.height, confirmed.max(1), "at height {}", best.height);
        assert!(chain.block_by_height(lib.height).unwrap().is_some());
        assert_eq!(Some(lib.hash), chain.canonical_hash(lib.height).unwrap());
        let got = drain(&events);
        if lib.height > before.height {
            advances += 1;
            assert_eq!(
                got,
                vec![
                    accepted(&block),
                    ChainEvent::NewIrreversible {
                        hash: lib.hash,
                        height: lib.height
                    }
                ]
            );
        } else {
            assert_eq!(got, vec![accepted(&block)]);
        }
        deepest_gap = deepest_gap.max(best.height - lib.height);
    }
    assert!(advances >= 3, "the LIB advanced {advances} times");
    assert_ne!(chain.last_irreversible(), genesis);
    assert!(
        deepest_gap > 8,
        "not a fixed depth of 8: the gap reached {deepest_gap}"
    );
}

#[test]
fn a_fork_below_the_lib_is_rejected_and_a_reorg_above_it_is_followed() {
    let (chain, _dir) = fresh_with(3);
    // Three miners fill a round with 25 blocks; the LIB moves once a round.
    let mut main = mine(&chain, 2);
    // A block forking at height 2, built now and offered once the LIB is past it.
    let deep = branch(&chain, tip_of(&main[0]), block_time(&main[1]) + 1, 1);
    main.extend(mine(&chain, 78));
    let lib = chain.last_irreversible();
    assert!(lib.height > 3, "the LIB advanced: {lib:?}");

    assert!(matches!(
        chain.attach_block(deep[0].clone()),
        Err(ChainError::BelowIrreversible { fork_height: 2, .. })
    ));
    assert!(!chain.has_block(&hash_of(&deep[0])));
    // Forks at the LIB itself: allowed, and a longer branch takes over (a reorg of more than
    // 8 blocks above the LIB).
    let above = (chain.best_chain().height - lib.height) as usize;
    assert!(above > 8, "{above} blocks above the LIB");
    // A block on main's tip, built before the reorg and offered after it.
    let late = branch(&chain, tip_of(main.last().unwrap()), 0, 1);
    let next_on_main = &main[(lib.height - 1) as usize];
    let shallow = branch(&chain, lib, block_time(next_on_main) + 1, above + 30);
    for b in &shallow[..above] {
        assert_eq!(
            chain.attach_block(b.clone()).unwrap(),
            AttachOutcome::SideBranch
        );
    }
    for b in &shallow[above..] {
        assert_eq!(
            chain.attach_block(b.clone()).unwrap(),
            AttachOutcome::Extended
        );
    }
    assert_eq!(chain.best_chain(), tip_of(shallow.last().unwrap()));
    let new_lib = chain.last_irreversible();
    assert!(new_lib.height > lib.height, "{new_lib:?} after {lib:?}");
    // The abandoned main branch now forks below the LIB.
    assert!(matches!(
        chain.attach_block(late[0].clone()),
        Err(ChainError::BelowIrreversible { .. })
    ));
}

#[test]
fn blocks_after_and_block_by_height_follow_the_best_chain() {
    let (chain, _dir) = fresh();
    let genesis = chain.best_chain();
    let blocks = mine(&chain, 5);

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
fn a_restart_keeps_the_chain_its_consensus_states_and_the_lib() {
    let dir = tempfile::tempdir().unwrap();
    let (blocks, side, best, lib) = {
        let chain = open(dir.path());
        let blocks = mine(&chain, 14);
        let side = branch(&chain, tip_of(&blocks[12]), block_time(&blocks[13]) + 1, 1);
        assert_eq!(
            chain.attach_block(side[0].clone()).unwrap(),
            AttachOutcome::SideBranch
        );
        (blocks, side, chain.best_chain(), chain.last_irreversible())
    };
    assert_eq!(best, tip_of(&blocks[13]));
    assert!(lib.height > 1, "{lib:?}");

    let chain = open(dir.path());
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
    // The side branch is still a side branch (its consensus state was kept), and still wins
    // when it grows.
    let grown = branch(&chain, tip_of(&side[0]), block_time(&side[0]), 2);
    for b in &grown {
        assert_eq!(
            chain.attach_block(b.clone()).unwrap(),
            AttachOutcome::Extended
        );
    }
    assert_eq!(chain.block_by_height(15).unwrap().as_ref(), Some(&side[0]));
    chain.close();

    let chain = open(dir.path());
    assert_eq!(chain.best_chain(), tip_of(&grown[1]));
    assert_eq!(
        chain.attach_block(grown[1].clone()).unwrap(),
        AttachOutcome::AlreadyKnown
    );
    assert!(chain.last_irreversible().height >= lib.height);
    mine(&chain, 1);
}

/// A block more than 4 seconds ahead of the local clock is refused (C#
/// `AllowedFutureBlockTimeSpan`), and accepted once the clock has caught up.
#[test]
fn a_block_from_the_future_is_refused_until_its_time() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(GENESIS_TIME * 1000);
    let chain = open(dir.path()).with_clock(Arc::new(clock.clone()));
    // Round 1's first slot is 4 s after genesis: one more second ahead is too much.
    let block = build_block(&chain, GENESIS_TIME * 1000 + 5_000, vec![]).unwrap();
    assert!(matches!(
        chain.attach_block(block.clone()),
        Err(ChainError::FutureBlock { .. })
    ));
    assert!(!chain.has_block(&hash_of(&block)));
    clock.advance(1_000);
    assert_eq!(chain.attach_block(block).unwrap(), AttachOutcome::Extended);
}

#[test]
fn a_full_subscriber_loses_events_without_blocking_attach() {
    let (chain, _dir) = fresh();
    let slow = chain.subscribe(1);
    let fast = chain.subscribe(100);
    let gone = chain.subscribe(1);
    drop(gone);
    let blocks = mine(&chain, 5);
    assert_eq!(drain(&slow), vec![accepted(&blocks[0])]);
    assert_eq!(
        drain(&fast),
        blocks.iter().map(accepted).collect::<Vec<_>>()
    );
    assert_eq!(chain.dropped_events(), 4);
    // Room again: the next event arrives.
    let next = mine(&chain, 1);
    assert_eq!(drain(&slow), vec![accepted(&next[0])]);
}

#[test]
fn concurrent_attaches_store_each_block_once() {
    let (chain, _dir) = fresh();
    let chain = Arc::new(chain);
    let blocks = branch(&chain, chain.best_chain(), 0, 20);
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
    // An interval no test reaches: only the first attach and the close are durable commits.
    let options = ChainOptions {
        flush_interval: Duration::from_secs(3600),
        ..ChainOptions::default()
    };
    let chain = EmbeddedChain::open_with(dir.path(), settings(), options).unwrap();
    let blocks = mine(&chain, 12);
    let (best, lib) = (chain.best_chain(), chain.last_irreversible());
    assert!(lib.height > 1);
    chain.close();
    let reopened = EmbeddedChain::open_with(dir.path(), settings(), options).unwrap();
    assert_eq!(reopened.best_chain(), best);
    assert_eq!(reopened.best_chain(), tip_of(blocks.last().unwrap()));
    assert_eq!(reopened.last_irreversible(), lib);
}

#[test]
fn the_flush_thread_makes_recent_attaches_durable_within_the_interval() {
    let dir = tempfile::tempdir().unwrap();
    let options = ChainOptions {
        flush_interval: Duration::from_millis(20),
        ..ChainOptions::default()
    };
    let chain = EmbeddedChain::open_with(dir.path(), settings(), options).unwrap();
    mine(&chain, 4);
    wait_until("the recent attaches flushed", || {
        !chain.has_unflushed_writes()
    });
}

/// Memory stays bounded however long the chain grows: the index holds the blocks above the LIB
/// and a window below it; older blocks are answered from the store (by hash, by height, and
/// as what follows a hash), a fork on one of them is below the LIB, and a restart loads only
/// the window.
#[test]
fn the_index_holds_a_window_below_the_lib_and_the_store_answers_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let options = ChainOptions {
        keep_below_lib: 16,
        ..ChainOptions::default()
    };
    let chain = EmbeddedChain::open_with(dir.path(), settings(), options).unwrap();
    let mut blocks = mine(&chain, 2);
    // Forks at height 2: offered once height 2 has left the window.
    let early = branch(&chain, tip_of(&blocks[0]), block_time(&blocks[1]) + 1, 1);
    blocks.extend(mine(&chain, 698));
    let (best, lib) = (chain.best_chain(), chain.last_irreversible());
    let bound = |chain: &EmbeddedChain| {
        let held = chain.indexed_blocks() as i64;
        let lib = chain.last_irreversible().height;
        let best = chain.best_chain().height;
        assert!(
            held <= best - lib + 16 + 256 + 1,
            "{held} blocks in memory, best {best}, LIB {lib}"
        );
    };
    bound(&chain);
    assert!(chain.indexed_blocks() < 400, "{}", chain.indexed_blocks());

    let check = |chain: &EmbeddedChain| {
        assert!(chain.has_block(&hash_of(&blocks[0])));
        assert!(chain.has_block(&chain.genesis_hash()));
        assert_eq!(chain.block_by_height(2).unwrap().as_ref(), Some(&blocks[0]));
        assert_eq!(chain.canonical_hash(3).unwrap(), Some(hash_of(&blocks[1])));
        assert_eq!(
            chain.blocks_after(&chain.genesis_hash(), 50).unwrap(),
            blocks[..50].to_vec()
        );
        // Across the window's edge and on to the tip.
        assert_eq!(
            chain.blocks_after(&hash_of(&blocks[10]), 10_000).unwrap(),
            blocks[11..].to_vec()
        );
        assert_eq!(
            chain.block_by_hash(&hash_of(&blocks[5])).unwrap().as_ref(),
            Some(&blocks[5])
        );
        assert!(matches!(
            chain.attach_block(early[0].clone()),
            Err(ChainError::BelowIrreversible { .. })
        ));
        assert!(!chain.has_block(&hash_of(&early[0])));
    };
    check(&chain);
    chain.close();

    let chain = EmbeddedChain::open_with(dir.path(), settings(), options).unwrap();
    assert_eq!((chain.best_chain(), chain.last_irreversible()), (best, lib));
    assert!(chain.indexed_blocks() < 100, "{}", chain.indexed_blocks());
    check(&chain);
    blocks.extend(mine(&chain, 5));
    bound(&chain);
}

/// Blocks attached in batches (checked on the verify threads, stored a run at a time) end in
/// the same chain, with the same outcomes and events, as the same blocks attached one by one:
/// a main chain with LIB advances, a side branch, a reorganisation inside a batch, and blocks
/// repeated within a batch.
#[test]
fn batches_attach_exactly_as_one_by_one() {
    let (one_by_one, _a) = fresh_with(3);
    let events_a = one_by_one.subscribe(4096);
    let mut sequence = mine(&one_by_one, 60);
    // A branch from five below the tip that outgrows the main chain, then more on top.
    let fork = tip_of(&sequence[54]);
    let side = branch(&one_by_one, fork, block_time(&sequence[55]) + 1, 8);
    let mut outcomes = vec![AttachOutcome::Extended; 60];
    for b in &side {
        outcomes.push(one_by_one.attach_block(b.clone()).unwrap());
        sequence.push(b.clone());
    }
    assert_eq!(outcomes[60..65], [AttachOutcome::SideBranch; 5]);
    assert_eq!(outcomes[65..], [AttachOutcome::Extended; 3]);
    sequence.extend(mine(&one_by_one, 12));
    outcomes.extend([AttachOutcome::Extended; 12]);
    let expected_events = drain(&events_a);
    assert!(one_by_one.last_irreversible().height > 1);

    for size in [7, sequence.len()] {
        let (batched, dir) = fresh_with(3);
        let events_b = batched.subscribe(4096);
        let mut got = Vec::new();
        for chunk in sequence.chunks(size) {
            let mut blocks = chunk.to_vec();
            // A block repeated within the batch is known the second time.
            blocks.push(chunk[0].clone());
            let batch = batched.attach_blocks(blocks);
            assert!(batch.refused.is_none(), "{:?}", batch.refused);
            assert_eq!(batch.outcomes.last(), Some(&AttachOutcome::AlreadyKnown));
            got.extend_from_slice(&batch.outcomes[..chunk.len()]);
        }
        assert_eq!(got, outcomes, "batches of {size}");
        assert_eq!(drain(&events_b), expected_events, "batches of {size}");
        assert_eq!(batched.best_chain(), one_by_one.best_chain());
        assert_eq!(batched.last_irreversible(), one_by_one.last_irreversible());
        assert_eq!(batched.branches(), one_by_one.branches());
        // What was stored is what a restart finds.
        drop(batched);
        let reopened = EmbeddedChain::open(dir.path(), settings_with(3)).unwrap();
        assert_eq!(reopened.best_chain(), one_by_one.best_chain());
        assert_eq!(reopened.last_irreversible(), one_by_one.last_irreversible());
        let best = one_by_one.best_chain().hash;
        assert_eq!(
            reopened.consensus_state(&best),
            one_by_one.consensus_state(&best)
        );
    }
}

/// A batch stops at its first bad block: the blocks before it are stored, it and the ones
/// after it are not, and the refusal names it.
#[test]
fn a_batch_stops_at_its_first_bad_block_and_keeps_the_ones_before() {
    let (source, _a) = fresh();
    let blocks = mine(&source, 10);
    let mut batch = blocks.clone();
    let forged = resign(batch[5].clone(), &NodeKey::generate());
    batch[5] = forged.clone();

    let (chain, _b) = fresh();
    let events = chain.subscribe(64);
    let outcome = chain.attach_blocks(batch);
    assert_eq!(outcome.outcomes, vec![AttachOutcome::Extended; 5]);
    assert!(
        matches!(
            outcome.refused,
            Some(ChainError::BadSignature { block, .. }) if block == hash_of(&forged)
        ),
        "{:?}",
        outcome.refused
    );
    assert_eq!(chain.best_chain(), tip_of(&blocks[4]));
    assert!(!chain.has_block(&hash_of(&forged)));
    assert!(!chain.has_block(&hash_of(&blocks[6])));
    assert_eq!(
        drain(&events),
        blocks[..5].iter().map(accepted).collect::<Vec<_>>()
    );
    // The rest attaches once the good block is offered.
    let rest = chain.attach_blocks(blocks[5..].to_vec());
    assert!(rest.refused.is_none());
    assert_eq!(chain.best_chain(), tip_of(&blocks[9]));
}
