//! The development block producer: a miner of the development chain's AEDPoS rounds. It builds,
//! signs and attaches a block on the best tip whenever its miner key may produce
//! (its time slot, up to the max-blocks count spaced an eighth of a slot apart, the round's
//! termination), writing the consensus data `aedpos::next_production` gives, and fills it
//! with pending and synthetic transactions.
//!
//! Owns the `producer` thread, the block builders ([`build_signed_block`] for any header,
//! [`build_block`] / [`build_block_on`] / [`build_next`] for a valid next block of a
//! development chain, as tests and benches use them) and [`synthetic_transactions`]. It must not talk to peers (the
//! `on_mined` callback hands mined blocks to whoever broadcasts them) nor read the system clock
//! directly (time comes from a [`Clock`]). Errors are logged, never fatal.

use super::aedpos::{
    apply_header, earliest_production, ConsensusError, ConsensusState, Production as Consensus,
    CONSENSUS_KEY,
};
use super::validate::transactions_root;
use super::{AttachOutcome, Chain, ChainError, ChainSettings, ChainTip, EmbeddedChain};
use crate::crypto::NodeKey;
use crate::pb::aelf_block::{BlockHeader, BlockHeaderExtraDataEntry};
use crate::pb::aelf_core::Transaction;
use crate::pb::network_types::BlockWithTransactions;
use crate::thread::StoppableThread;
use crate::types::{block_hash, timestamp_from_millis, transaction_id, Address, Clock, Hash};
use crossbeam_channel::{Receiver, RecvTimeoutError};
use log::{debug, info, warn};
use protobuf::MessageField;
use std::io;
use std::sync::Arc;
use std::time::Duration;

/// At most this many pending transactions go into one block, besides the synthetic ones.
pub const MAX_PENDING_PER_BLOCK: usize = 4096;
/// The public-key bytes whose address receives every synthetic transfer.
pub const SYNTHETIC_SINK_SEED: &[u8] = b"aelf-net synthetic sink";
/// The method name of synthetic transactions.
pub const SYNTHETIC_METHOD: &str = "Transfer";
/// The producer looks at the best tip at least this often (another miner's block changes whose
/// turn it is).
const POLL: Duration = Duration::from_millis(50);

/// Which miner this node is, and how many synthetic transactions to add.
#[derive(Clone)]
pub struct ProducerSettings {
    /// The key this node signs its blocks with (its node key, a development miner's; a key
    /// that is no miner of the round in force never produces).
    pub miner_key: NodeKey,
    /// Synthetic transactions added to every block.
    pub transactions_per_block: u32,
}

/// Where the producer takes transactions from (the transaction pool, later).
pub trait PendingTransactions: Send + Sync {
    /// Removes and returns up to `max` transactions.
    fn take(&self, max: usize) -> Vec<Transaction>;
}

/// No pending transactions, ever: blocks carry only synthetic ones.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoPendingTransactions;

impl PendingTransactions for NoPendingTransactions {
    fn take(&self, _max: usize) -> Vec<Transaction> {
        Vec::new()
    }
}

/// The next valid block of the development chain `chain` on its best tip, by the first of the
/// chain's development miners that may produce at or after `not_before_ms` (see
/// [`build_block_on`]).
pub fn build_block(
    chain: &EmbeddedChain,
    not_before_ms: i64,
    txs: Vec<Transaction>,
) -> Result<BlockWithTransactions, ChainError> {
    let keys = chain.settings().development_miner_keys();
    build_block_on(chain, &chain.best_chain(), &keys, not_before_ms, txs)
}

/// The next valid block on `parent` (any block of `chain` from the LIB up): of the `miners`,
/// the one that may produce earliest at or after `not_before_ms` signs it, at that time, with
/// the consensus data the development producer writes. Fails with [`ChainError::Consensus`]
/// when none of them is a miner of the round in force, [`ChainError::UnknownParent`] when the
/// parent's consensus state is not kept.
pub fn build_block_on(
    chain: &EmbeddedChain,
    parent: &ChainTip,
    miners: &[NodeKey],
    not_before_ms: i64,
    txs: Vec<Transaction>,
) -> Result<BlockWithTransactions, ChainError> {
    let state = chain
        .consensus_state(&parent.hash)
        .ok_or(ChainError::UnknownParent {
            block: Hash::ZERO,
            parent: parent.hash,
        })?;
    build_next(chain.settings(), parent, &state, miners, not_before_ms, txs).map(|(b, _)| b)
}

/// [`build_block_on`] without a chain: the next block on `parent`, whose consensus state is
/// `parent_state`, and the consensus state after it (to build a branch before attaching it).
pub fn build_next(
    settings: &ChainSettings,
    parent: &ChainTip,
    parent_state: &ConsensusState,
    miners: &[NodeKey],
    not_before_ms: i64,
    txs: Vec<Transaction>,
) -> Result<(BlockWithTransactions, ConsensusState), ChainError> {
    let params = settings.development_params();
    let (key, production) = miners
        .iter()
        .filter_map(|key| {
            earliest_production(
                &params,
                parent_state,
                parent.height,
                key.pubkey(),
                not_before_ms,
            )
            .map(|p| (key, p))
        })
        .min_by_key(|(_, p)| p.time_ms)
        .ok_or(ChainError::Consensus {
            block: Hash::ZERO,
            source: ConsensusError::NotAMiner("none of the given keys".into()),
        })?;
    let block = build_signed_block(parent, settings.chain_id, key, &production, txs)?;
    let header = block.header.as_ref().ok_or(ChainError::MissingHeader)?;
    let state = apply_header(parent_state, header).map_err(|source| ChainError::Consensus {
        block: block_hash(header).unwrap_or(Hash::ZERO),
        source,
    })?;
    Ok((block, state))
}

/// A block on `parent` (any block, not only the best tip): height `parent + 1`, the
/// transactions' merkle root, world-state and status roots zero, the production's time and
/// consensus data (none when empty), signed by `key`. Checks nothing about the consensus.
/// Fails when a transaction cannot be hashed, or the header breaks a hashing rule (a negative
/// chain id or parent height).
pub fn build_signed_block(
    parent: &ChainTip,
    chain_id: i32,
    key: &NodeKey,
    production: &Consensus,
    txs: Vec<Transaction>,
) -> Result<BlockWithTransactions, ChainError> {
    let extra_data = if production.consensus.is_empty() {
        Vec::new()
    } else {
        vec![BlockHeaderExtraDataEntry {
            key: CONSENSUS_KEY.to_owned(),
            value: production.consensus.clone(),
            ..Default::default()
        }]
    };
    let mut header = BlockHeader {
        version: 0,
        chain_id,
        previous_block_hash: MessageField::some(parent.hash.to_proto()),
        merkle_tree_root_of_transactions: MessageField::some(transactions_root(&txs)?.to_proto()),
        merkle_tree_root_of_world_state: MessageField::some(Hash::ZERO.to_proto()),
        merkle_tree_root_of_transaction_status: MessageField::some(Hash::ZERO.to_proto()),
        height: parent.height.saturating_add(1),
        extra_data,
        time: MessageField::some(timestamp_from_millis(production.time_ms)),
        signer_pubkey: key.pubkey().to_vec(),
        ..Default::default()
    };
    let hash = block_hash(&header).map_err(ChainError::InvalidBlock)?;
    header.signature = key.sign(&hash).to_vec();
    Ok(BlockWithTransactions {
        header: MessageField::some(header),
        transactions: txs,
        ..Default::default()
    })
}

/// `count` signed transfers from `key`'s address to the synthetic sink, referring to `tip`,
/// with the big-endian nonces `nonce_start..` as params so each one is distinct.
pub fn synthetic_transactions(
    key: &NodeKey,
    tip: &ChainTip,
    count: usize,
    nonce_start: u64,
) -> Vec<Transaction> {
    let from = key.address().to_proto();
    let to = Address::from_pubkey(SYNTHETIC_SINK_SEED).to_proto();
    let prefix = tip.hash.0.get(..4).unwrap_or_default().to_vec();
    (0..count as u64)
        .filter_map(|i| {
            let mut tx = Transaction {
                from: MessageField::some(from.clone()),
                to: MessageField::some(to.clone()),
                // Clamped so the id always computes (a real tip is never below 1).
                ref_block_number: tip.height.max(0),
                ref_block_prefix: prefix.clone(),
                method_name: SYNTHETIC_METHOD.to_owned(),
                params: nonce_start.wrapping_add(i).to_be_bytes().to_vec(),
                ..Default::default()
            };
            // Every precondition of `transaction_id` holds by construction.
            let id = transaction_id(&tx).ok()?;
            tx.signature = key.sign(&id).to_vec();
            Some(tx)
        })
        .collect()
}

/// The running `producer` thread. [`BlockProducer::stop`] (or dropping it) stops and joins it.
pub struct BlockProducer {
    thread: StoppableThread,
}

/// What the producer thread owns.
struct Production {
    chain: Arc<EmbeddedChain>,
    settings: ProducerSettings,
    clock: Arc<dyn Clock>,
    pending: Arc<dyn PendingTransactions>,
    on_mined: Box<dyn Fn(&BlockWithTransactions) + Send>,
    /// The next synthetic nonce.
    nonce: u64,
}

impl BlockProducer {
    /// Starts the `producer` thread: whenever `settings.miner_key` may produce on the
    /// best tip, it builds a block from up to [`MAX_PENDING_PER_BLOCK`] pending transactions
    /// plus the synthetic ones, attaches it and, when it extends the best chain, calls
    /// `on_mined` with it.
    pub fn start(
        chain: Arc<EmbeddedChain>,
        settings: ProducerSettings,
        clock: Arc<dyn Clock>,
        pending: Arc<dyn PendingTransactions>,
        on_mined: Box<dyn Fn(&BlockWithTransactions) + Send>,
    ) -> io::Result<BlockProducer> {
        let mut production = Production {
            chain,
            settings,
            clock,
            pending,
            on_mined,
            nonce: 0,
        };
        let thread = StoppableThread::spawn("producer", move |stop| {
            production.run(&stop);
            Ok(())
        })?;
        Ok(BlockProducer { thread })
    }

    /// Stops the thread and waits for it: immediately, or after the block being produced.
    pub fn stop(self) {
        self.thread.stop();
    }
}

impl Production {
    fn run(&mut self, stop: &Receiver<()>) {
        let params = self.chain.settings().development_params();
        // A block the chain refused (e.g. the continuous-blocks rule while this node's miners
        // are cut off from the others) is not tried again on the same tip for one time slot.
        let mut refused: Option<(Hash, i64)> = None;
        loop {
            let tip = self.chain.best_chain();
            let now = self.clock.now_millis();
            let mut wait = POLL;
            let backing_off = refused.is_some_and(|(hash, until)| hash == tip.hash && now < until);
            let state = if backing_off {
                None
            } else {
                self.chain.consensus_state(&tip.hash)
            };
            let key = self.settings.miner_key.pubkey();
            // Its turn now, or when it comes (`None`: no miner of the round in force).
            match state.and_then(|s| earliest_production(&params, &s, tip.height, key, now)) {
                Some(p) if p.time_ms <= now => {
                    if self.produce_one(&tip, &p) {
                        wait = Duration::ZERO;
                    } else {
                        refused = Some((tip.hash, now + params.mining_interval_ms));
                    }
                }
                Some(p) => {
                    let until = u64::try_from(p.time_ms - now).unwrap_or(0);
                    wait = wait.min(Duration::from_millis(until.max(1)));
                }
                None => {}
            }
            match stop.recv_timeout(wait) {
                Err(RecvTimeoutError::Timeout) => {}
                _ => return,
            }
        }
    }

    /// Builds and attaches one block; true when it extended the best chain.
    fn produce_one(&mut self, tip: &ChainTip, consensus: &Consensus) -> bool {
        let key = &self.settings.miner_key;
        let mut txs = self.pending.take(MAX_PENDING_PER_BLOCK);
        txs.truncate(MAX_PENDING_PER_BLOCK);
        // One malformed pending transaction must not stop production.
        let taken = txs.len();
        txs.retain(|tx| transaction_id(tx).is_ok());
        if txs.len() < taken {
            warn!(
                "dropped {} pending transactions that cannot be hashed",
                taken - txs.len()
            );
        }
        let count = self.settings.transactions_per_block as usize;
        txs.extend(synthetic_transactions(key, tip, count, self.nonce));
        self.nonce = self.nonce.wrapping_add(count as u64);

        let block = match build_signed_block(tip, self.chain.chain_id(), key, consensus, txs) {
            Ok(block) => block,
            Err(e) => {
                warn!("cannot build a block: {e}");
                return false;
            }
        };
        let (height, hash) = match block.header.as_ref().map(|h| (h.height, block_hash(h))) {
            Some((height, Ok(hash))) => (height, hash),
            _ => {
                warn!("built a block without a hashable header");
                return false;
            }
        };
        match self.chain.attach_block(block.clone()) {
            Ok(AttachOutcome::Extended) => {
                info!(
                    "block mined: height {height} hash {hash} txs {}",
                    block.transactions.len()
                );
                (self.on_mined)(&block);
                true
            }
            Ok(AttachOutcome::SideBranch) => {
                warn!("mined block {hash} at height {height} landed on a side branch");
                false
            }
            Ok(AttachOutcome::AlreadyKnown) => {
                debug!("mined block {hash} was already known");
                false
            }
            Err(e) => {
                warn!("cannot attach mined block at height {height}: {e}");
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::{ChainSettings, EmbeddedChain};
    use crate::crypto::{recover_pubkey, verify};
    use crate::types::{sha256, BlockWithTransactionsExt, ManualClock};
    use parking_lot::Mutex;
    use std::time::Instant;

    #[test]
    fn synthetic_transactions_are_signed_distinct_and_refer_to_the_tip() {
        let key = NodeKey::generate();
        let tip = ChainTip {
            hash: sha256(b"tip"),
            height: 7,
        };
        let txs = synthetic_transactions(&key, &tip, 5, 10);
        assert_eq!(txs.len(), 5);
        let mut ids: Vec<Hash> = txs.iter().map(|t| transaction_id(t).unwrap()).collect();
        for (tx, id) in txs.iter().zip(&ids) {
            verify(id, &tx.signature, key.pubkey()).unwrap();
            assert_eq!(tx.ref_block_number, 7);
            assert_eq!(tx.ref_block_prefix, tip.hash.0[..4].to_vec());
            assert_eq!(tx.method_name, SYNTHETIC_METHOD);
        }
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 5);
    }

    #[test]
    fn no_pending_transactions_is_empty() {
        assert!(NoPendingTransactions.take(10).is_empty());
    }

    const GENESIS_TIME: i64 = 1_767_225_600;
    const DEADLINE: Duration = Duration::from_secs(30);

    fn fresh() -> (EmbeddedChain, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let settings = ChainSettings::development(9_992_731, GENESIS_TIME);
        (EmbeddedChain::open(dir.path(), settings).unwrap(), dir)
    }

    /// Pending transactions handed out once.
    struct OnePending(Mutex<Vec<Transaction>>);

    impl PendingTransactions for OnePending {
        fn take(&self, max: usize) -> Vec<Transaction> {
            let mut txs = self.0.lock();
            let n = txs.len().min(max);
            txs.drain(..n).collect()
        }
    }

    #[test]
    fn the_producer_mines_signed_aedpos_blocks_and_stops_promptly() {
        let (chain, _dir) = fresh();
        let chain = Arc::new(chain);
        let key = chain.settings().development_miner_keys().remove(0);
        // A minute after genesis: round 1 is long over, so the first block opens round 2.
        let clock = ManualClock::new(GENESIS_TIME * 1000 + 60_000);
        let pending_tx = synthetic_transactions(&key, &chain.best_chain(), 1, u64::MAX)
            .pop()
            .unwrap();
        let unhashable = Transaction::default();
        let pending = Arc::new(OnePending(Mutex::new(vec![unhashable, pending_tx.clone()])));
        let (mined_tx, mined_rx) = crossbeam_channel::bounded(64);
        let producer = BlockProducer::start(
            chain.clone(),
            ProducerSettings {
                miner_key: key.clone(),
                transactions_per_block: 3,
            },
            Arc::new(clock.clone()),
            pending,
            Box::new(move |b: &BlockWithTransactions| {
                let _ = mined_tx.try_send(b.clone());
            }),
        )
        .unwrap();

        // Time moves only while the producer waits for it.
        let started = Instant::now();
        let mut mined = Vec::new();
        while mined.len() < 4 {
            assert!(started.elapsed() < DEADLINE, "4 blocks mined in time");
            match mined_rx.recv_timeout(Duration::from_millis(100)) {
                Ok(b) => mined.push(b),
                Err(_) => clock.advance(250),
            }
        }
        let stopping = Instant::now();
        producer.stop();
        assert!(
            stopping.elapsed() < Duration::from_secs(5),
            "stop took {:?}",
            stopping.elapsed()
        );

        assert_eq!(mined[0].header.height, 2);
        assert_eq!(
            mined[0].transactions.len(),
            4,
            "the hashable pending one plus 3 synthetic"
        );
        assert_eq!(mined[0].transactions[0], pending_tx);
        assert_eq!(mined[1].transactions.len(), 3);
        let behaviours: Vec<_> = mined
            .iter()
            .map(|b| {
                let info = crate::chain::aedpos::header_consensus(b.header.as_ref().unwrap())
                    .expect("consensus data");
                info.behaviour.value()
            })
            .collect();
        use crate::pb::aedpos::AElfConsensusBehaviour as B;
        assert_eq!(
            behaviours,
            vec![
                B::NEXT_ROUND as i32,
                B::UPDATE_VALUE as i32,
                B::TINY_BLOCK as i32,
                B::TINY_BLOCK as i32
            ]
        );
        let mut ids = Vec::new();
        for b in &mined {
            assert!(chain.has_block(&b.block_hash().unwrap()));
            let h = b.header.as_ref().unwrap();
            assert_eq!(h.signer_pubkey, key.pubkey().to_vec());
            verify(&b.block_hash().unwrap(), &h.signature, key.pubkey()).unwrap();
            for tx in &b.transactions {
                let id = transaction_id(tx).unwrap();
                assert_eq!(recover_pubkey(&id, &tx.signature).unwrap(), *key.pubkey());
                assert_eq!(tx.method_name, SYNTHETIC_METHOD);
                ids.push(id);
            }
        }
        let n = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), n, "transaction ids are distinct");

        // Nothing is mined after stop returned.
        let height = chain.best_chain().height;
        clock.advance(60_000);
        while mined_rx.try_recv().is_ok() {}
        assert_eq!(chain.best_chain().height, height);
    }

    #[test]
    fn a_key_that_is_no_miner_never_produces_and_the_producer_stops() {
        let (chain, _dir) = fresh();
        let chain = Arc::new(chain);
        let producer = BlockProducer::start(
            chain.clone(),
            ProducerSettings {
                miner_key: NodeKey::generate(),
                transactions_per_block: 0,
            },
            Arc::new(ManualClock::new(GENESIS_TIME * 1000 + 60_000)),
            Arc::new(NoPendingTransactions),
            Box::new(|_| {}),
        )
        .unwrap();
        let started = Instant::now();
        producer.stop();
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(chain.best_chain().height, 1);
    }

    #[test]
    fn built_blocks_follow_the_rules_and_the_lib_comes_from_the_consensus() {
        let (chain, _dir) = fresh();
        let settings = ChainSettings {
            consensus: crate::chain::DevelopmentConsensus {
                miners: 3,
                ..Default::default()
            },
            ..*chain.settings()
        };
        drop(chain);
        let dir = tempfile::tempdir().unwrap();
        let chain = EmbeddedChain::open(dir.path(), settings).unwrap();
        let mut signers = std::collections::HashSet::new();
        let mut t = GENESIS_TIME * 1000;
        for _ in 0..60 {
            let b = build_block(&chain, t, Vec::new()).unwrap();
            let h = b.header.as_ref().unwrap();
            t = crate::types::timestamp_millis(&h.time);
            signers.insert(h.signer_pubkey.clone());
            assert_eq!(chain.attach_block(b).unwrap(), AttachOutcome::Extended);
        }
        assert_eq!(signers.len(), 3, "all three miners produced");
        let lib = chain.last_irreversible().height;
        assert!(
            lib > 1 && lib < 61 - 8,
            "a consensus LIB, not best − 8: {lib}"
        );
        // A block by a key that is no miner is refused and nothing is stored.
        let stranger = NodeKey::generate();
        let tip = chain.best_chain();
        let state = chain.consensus_state(&tip.hash).unwrap();
        let params = chain.settings().development_params();
        let miner = &chain.settings().development_miner_keys()[0];
        let p = earliest_production(&params, &state, tip.height, miner.pubkey(), t).unwrap();
        let forged = build_signed_block(&tip, chain.chain_id(), &stranger, &p, vec![]).unwrap();
        assert!(matches!(
            chain.attach_block(forged.clone()),
            Err(ChainError::Consensus { .. })
        ));
        assert!(!chain.has_block(&forged.block_hash().unwrap()));
        // Reopened: the same tip, LIB and consensus state.
        let best = chain.best_chain();
        drop(chain);
        let chain = EmbeddedChain::open(dir.path(), settings).unwrap();
        assert_eq!(chain.best_chain(), best);
        assert_eq!(chain.last_irreversible().height, lib);
        assert_eq!(chain.consensus_state(&best.hash), Some(state));
        let next = build_block(&chain, t, Vec::new()).unwrap();
        assert_eq!(chain.attach_block(next).unwrap(), AttachOutcome::Extended);
    }
}
