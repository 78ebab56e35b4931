//! The development block producer: builds, signs and attaches a block on the best tip at a fixed
//! interval, filled with pending and synthetic transactions.
//!
//! Owns the `producer` thread, [`build_block`] and [`synthetic_transactions`]. It must not talk
//! to peers (the `on_mined` callback hands mined blocks to whoever broadcasts them) nor read the
//! system clock directly (time comes from a [`Clock`]). Errors are logged, never fatal.

use super::validate::transactions_root;
use super::{AttachOutcome, Chain, ChainError, ChainTip};
use crate::crypto::NodeKey;
use crate::pb::aelf_block::BlockHeader;
use crate::pb::aelf_core::Transaction;
use crate::pb::network_types::BlockWithTransactions;
use crate::thread::StoppableThread;
use crate::types::{block_hash, timestamp_from_millis, transaction_id, Address, Clock, Hash};
use crossbeam_channel::{select, tick, Receiver, TryRecvError};
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
/// The shortest production interval; a configured 0 is taken as this.
const MIN_INTERVAL_MS: u64 = 1;

/// How often to produce and how many synthetic transactions to add.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerSettings {
    /// Time between two blocks, in milliseconds.
    pub interval_ms: u64,
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

/// The next block on `chain`'s best tip, carrying `txs`, timed `now_millis` and signed by `key`.
/// Fails only when a transaction cannot be hashed (see [`build_block_on`]).
pub fn build_block(
    chain: &dyn Chain,
    key: &NodeKey,
    now_millis: i64,
    txs: Vec<Transaction>,
) -> Result<BlockWithTransactions, ChainError> {
    build_block_on(&chain.best_chain(), chain.chain_id(), key, now_millis, txs)
}

/// A block on `parent` (any block, not only the best tip): height `parent + 1`, the
/// transactions' merkle root, world-state and status roots zero, time `now_millis`, signed by
/// `key`. Fails when a transaction cannot be hashed, or the header breaks a hashing rule (a
/// negative chain id or parent height).
pub fn build_block_on(
    parent: &ChainTip,
    chain_id: i32,
    key: &NodeKey,
    now_millis: i64,
    txs: Vec<Transaction>,
) -> Result<BlockWithTransactions, ChainError> {
    let mut header = BlockHeader {
        version: 0,
        chain_id,
        previous_block_hash: MessageField::some(parent.hash.to_proto()),
        merkle_tree_root_of_transactions: MessageField::some(transactions_root(&txs)?.to_proto()),
        merkle_tree_root_of_world_state: MessageField::some(Hash::ZERO.to_proto()),
        merkle_tree_root_of_transaction_status: MessageField::some(Hash::ZERO.to_proto()),
        height: parent.height.saturating_add(1),
        time: MessageField::some(timestamp_from_millis(now_millis)),
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
    chain: Arc<dyn Chain>,
    key: NodeKey,
    settings: ProducerSettings,
    clock: Arc<dyn Clock>,
    pending: Arc<dyn PendingTransactions>,
    on_mined: Box<dyn Fn(&BlockWithTransactions) + Send>,
    /// The next synthetic nonce.
    nonce: u64,
}

impl BlockProducer {
    /// Starts the `producer` thread: every `interval_ms` it builds a block on the best tip from
    /// up to [`MAX_PENDING_PER_BLOCK`] pending transactions plus the synthetic ones, attaches it
    /// and, when it extends the best chain, calls `on_mined` with it.
    pub fn start(
        chain: Arc<dyn Chain>,
        key: NodeKey,
        settings: ProducerSettings,
        clock: Arc<dyn Clock>,
        pending: Arc<dyn PendingTransactions>,
        on_mined: Box<dyn Fn(&BlockWithTransactions) + Send>,
    ) -> io::Result<BlockProducer> {
        let mut production = Production {
            chain,
            key,
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
        let interval = Duration::from_millis(self.settings.interval_ms.max(MIN_INTERVAL_MS));
        let ticker = tick(interval);
        loop {
            select! {
                recv(stop) -> _ => return,
                recv(ticker) -> _ => {
                    // A stop that arrived together with the tick wins.
                    if !matches!(stop.try_recv(), Err(TryRecvError::Empty)) {
                        return;
                    }
                    self.produce_one();
                }
            }
        }
    }

    fn produce_one(&mut self) {
        let tip = self.chain.best_chain();
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
        txs.extend(synthetic_transactions(&self.key, &tip, count, self.nonce));
        self.nonce = self.nonce.wrapping_add(count as u64);

        let block = match build_block(&*self.chain, &self.key, self.clock.now_millis(), txs) {
            Ok(block) => block,
            Err(e) => {
                warn!("cannot build a block: {e}");
                return;
            }
        };
        let (height, hash) = match block.header.as_ref().map(|h| (h.height, block_hash(h))) {
            Some((height, Ok(hash))) => (height, hash),
            _ => {
                warn!("built a block without a hashable header");
                return;
            }
        };
        match self.chain.attach_block(block.clone()) {
            Ok(AttachOutcome::Extended) => {
                info!(
                    "block mined: height {height} hash {hash} txs {}",
                    block.transactions.len()
                );
                (self.on_mined)(&block);
            }
            Ok(AttachOutcome::SideBranch) => {
                warn!("mined block {hash} at height {height} landed on a side branch")
            }
            Ok(AttachOutcome::AlreadyKnown) => debug!("mined block {hash} was already known"),
            Err(e) => warn!("cannot attach mined block at height {height}: {e}"),
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

    const START_MS: i64 = 1_767_225_660_000;
    const DEADLINE: Duration = Duration::from_secs(30);

    fn fresh() -> (EmbeddedChain, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let settings = ChainSettings {
            chain_id: 9_992_731,
            genesis_time: 1_767_225_600,
            irreversible_depth: 8,
        };
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
    fn the_producer_mines_signed_blocks_and_stops_promptly() {
        let (chain, _dir) = fresh();
        let chain = Arc::new(chain);
        let key = NodeKey::generate();
        let clock = ManualClock::new(START_MS);
        let pending_tx = synthetic_transactions(&key, &chain.best_chain(), 1, u64::MAX)
            .pop()
            .unwrap();
        let unhashable = Transaction::default();
        let pending = Arc::new(OnePending(Mutex::new(vec![unhashable, pending_tx.clone()])));
        let (mined_tx, mined_rx) = crossbeam_channel::bounded(64);
        let producer = BlockProducer::start(
            chain.clone(),
            key.clone(),
            ProducerSettings {
                interval_ms: 50,
                transactions_per_block: 3,
            },
            Arc::new(clock.clone()),
            pending,
            Box::new(move |b: &BlockWithTransactions| {
                let _ = mined_tx.try_send(b.clone());
            }),
        )
        .unwrap();

        let mut mined = Vec::new();
        while mined.len() < 3 {
            mined.push(
                mined_rx
                    .recv_timeout(DEADLINE)
                    .expect("a block mined in time"),
            );
            clock.advance(1000);
        }
        let started = Instant::now();
        producer.stop();
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "stop took {:?}",
            started.elapsed()
        );

        assert_eq!(mined[0].header.height, 2);
        assert_eq!(
            mined[0].transactions.len(),
            4,
            "the hashable pending one plus 3 synthetic"
        );
        assert_eq!(mined[0].transactions[0], pending_tx);
        assert_eq!(mined[1].transactions.len(), 3);
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
        while mined_rx.try_recv().is_ok() {}
        assert_eq!(chain.best_chain().height, height);
    }

    #[test]
    fn a_producer_stops_even_with_a_long_interval() {
        let (chain, _dir) = fresh();
        let producer = BlockProducer::start(
            Arc::new(chain),
            NodeKey::generate(),
            ProducerSettings {
                interval_ms: 3_600_000,
                transactions_per_block: 0,
            },
            Arc::new(ManualClock::new(START_MS)),
            Arc::new(NoPendingTransactions),
            Box::new(|_| {}),
        )
        .unwrap();
        let started = Instant::now();
        producer.stop();
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
