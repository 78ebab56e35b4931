//! [`EmbeddedChain`]: the [`Chain`] kept in `<data_dir>/chain.redb`.
//!
//! Owns the open store, the in-memory index, the consensus state of every block from the LIB
//! up, the subscribers and the verify threads, and the order of an attach: stateless checks
//! first, without the lock (a batch's on the verify threads, side by side), then — under the
//! attach lock, in `attach.rs` — the fork choice, the AEDPoS rules against the parent's
//! consensus state, one store commit per run of blocks that extend the best chain (blocks,
//! index entries and consensus states together), the index update and the events. Attaches
//! never wait for the disk when a flush interval is set (the `chain-flush` thread makes the
//! store durable). The LIB is the irreversible height the new best block's consensus state
//! confirms (never a fixed depth). A follower's store starts empty: until the checkpoint block
//! arrives (block sync fetches it by hash) the chain names it as best block and LIB and takes
//! no other block. The index holds the blocks from `keep_below_lib` below the LIB up; older
//! ones are answered from the store. It must not validate, choose forks, apply consensus rules
//! or lay out the store itself (`validate`, `index`, `aedpos` and `store` do).
//!
//! # Locking
//!
//! Attaches are serialised by `attach` (a mutex held through the commit), so the index cannot
//! change between the decision and its application. Readers take the `index` read lock, which a
//! writer holds only for the in-memory update after the commit: reads never wait for the disk.
//! The index is updated after the commit, so any hash it names is readable from the store.

mod attach;

use super::aedpos::ConsensusState;
use super::events::Subscribers;
use super::index::BlockIndex;
use super::store::{Loaded, Store};
use super::validate::{check_contents, identify, BlockVerifier, Verdict};
use super::{
    genesis_block, AttachOutcome, BatchOutcome, Chain, ChainError, ChainEvent, ChainMode,
    ChainSettings, ChainTip, GENESIS_HEIGHT,
};
use crate::pb::network_types::BlockWithTransactions;
use crate::thread::StoppableThread;
use crate::types::{chain_id_to_name, BlockWithTransactionsExt, Clock, Hash, SystemClock};
use crossbeam_channel::Receiver;
use log::info;
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// File name of the chain store inside the data directory.
pub const CHAIN_FILE: &str = "chain.redb";
/// A block whose time is further ahead of the local clock is refused (C#
/// `KernelConstants.AllowedFutureBlockTimeSpan`, 4 seconds).
pub const ALLOWED_FUTURE_BLOCK_MS: i64 = 4_000;

/// Blocks kept in memory below the LIB by default (besides every block above it).
pub const DEFAULT_KEEP_BELOW_LIB: i64 = 1024;
/// Verify threads by default (`[threads] block_verifiers`).
pub const DEFAULT_BLOCK_VERIFIERS: usize = 2;
/// The in-memory index forgets blocks in steps of this many (not on every attach).
const PRUNE_STEP: i64 = 256;

/// How the store writes (see [`Store`]'s durability notes) and how much of the chain the
/// in-memory index holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainOptions {
    /// Zero: every attach is durable when it returns. Otherwise no attach waits for the disk:
    /// a `chain-flush` thread makes the store durable once per interval.
    pub flush_interval: Duration,
    /// Threads that check the blocks of a batch ([`Chain::attach_blocks`]) side by side
    /// (`[threads] block_verifiers`; at least 1).
    pub block_verifiers: usize,
    /// The index holds every block above the LIB and this many below it; older blocks are
    /// read from the store when asked for. Memory stays flat however long the chain grows.
    pub keep_below_lib: i64,
}

impl Default for ChainOptions {
    fn default() -> ChainOptions {
        ChainOptions {
            flush_interval: Duration::ZERO,
            keep_below_lib: DEFAULT_KEEP_BELOW_LIB,
            block_verifiers: DEFAULT_BLOCK_VERIFIERS,
        }
    }
}

/// The embedded chain. Closing: dropping it (or [`EmbeddedChain::close`]) stops the flush
/// thread, makes the last attaches durable and closes the redb file cleanly.
pub struct EmbeddedChain {
    /// Holds a reference to the store; stopped on drop before the store is released.
    flusher: Option<StoppableThread>,
    settings: ChainSettings,
    genesis: Hash,
    store: Arc<Store>,
    index: RwLock<BlockIndex>,
    /// The consensus state after each block from the LIB up (with its height), so forks above
    /// the LIB can be checked; pruned as the LIB advances.
    states: RwLock<HashMap<Hash, (i64, ConsensusState)>>,
    /// Serialises attaches from the fork choice through the events.
    attach: Mutex<()>,
    /// Checks the blocks of a batch in parallel before the attach lock is taken.
    verifier: BlockVerifier,
    subscribers: Subscribers,
    clock: Arc<dyn Clock>,
    keep_below_lib: i64,
}

impl EmbeddedChain {
    /// Opens `<data_dir>/chain.redb` (creating `data_dir` and the store, with the genesis block,
    /// on first open). A store holding another chain id or genesis than `settings` describe is
    /// refused with [`ChainError::GenesisMismatch`].
    pub fn open(data_dir: &Path, settings: ChainSettings) -> Result<EmbeddedChain, ChainError> {
        EmbeddedChain::open_with(data_dir, settings, ChainOptions::default())
    }

    /// [`EmbeddedChain::open`] with store options.
    pub fn open_with(
        data_dir: &Path,
        settings: ChainSettings,
        options: ChainOptions,
    ) -> Result<EmbeddedChain, ChainError> {
        std::fs::create_dir_all(data_dir).map_err(|source| ChainError::DataDir {
            path: data_dir.to_owned(),
            source,
        })?;
        let store = Arc::new(Store::open(
            &data_dir.join(CHAIN_FILE),
            options.flush_interval,
        )?);
        let (root, genesis) = match settings.mode {
            ChainMode::Development => {
                let genesis = genesis_block(&settings)
                    .block_hash()
                    .map_err(ChainError::InvalidBlock)?;
                (genesis, genesis)
            }
            ChainMode::Follow {
                checkpoint,
                genesis_hash,
            } => (checkpoint.hash, genesis_hash),
        };
        let keep = options.keep_below_lib.max(0);
        let mut loaded = store.load(keep)?;
        if loaded.is_none() {
            if let ChainMode::Development = settings.mode {
                let block = genesis_block(&settings);
                let state = ConsensusState::development(&settings.development_params()).map_err(
                    |source| ChainError::Consensus {
                        block: root,
                        source,
                    },
                )?;
                store.init(
                    settings.chain_id,
                    root,
                    &block,
                    GENESIS_HEIGHT,
                    &state.encode(),
                )?;
                info!("chain store created with genesis {root}");
                loaded = store.load(keep)?;
            }
        }
        let (index, states) = match loaded {
            Some(loaded) => {
                if loaded.chain_id != settings.chain_id || loaded.genesis != root {
                    let name = |id| chain_id_to_name(id).unwrap_or_else(|| "?".into());
                    return Err(ChainError::GenesisMismatch {
                        stored_chain_id: loaded.chain_id,
                        stored_name: name(loaded.chain_id),
                        stored_genesis: loaded.genesis,
                        config_chain_id: settings.chain_id,
                        config_name: name(settings.chain_id),
                        config_genesis: root,
                    });
                }
                let index = rebuild_index(loaded)?;
                let states = load_states(&store, &index)?;
                (index, states)
            }
            None => match settings.mode {
                ChainMode::Follow { checkpoint, .. } => {
                    info!(
                        "following from checkpoint {} at height {}: fetching it from peers",
                        checkpoint.hash, checkpoint.height
                    );
                    (BlockIndex::awaiting(checkpoint), HashMap::new())
                }
                ChainMode::Development => return Err(empty_after_creation()),
            },
        };
        let flusher = if options.flush_interval.is_zero() {
            None
        } else {
            Some(
                start_flusher(store.clone(), options.flush_interval).map_err(|source| {
                    ChainError::DataDir {
                        path: data_dir.to_owned(),
                        source,
                    }
                })?,
            )
        };
        let verifier = BlockVerifier::start(options.block_verifiers.max(1))
            .map_err(ChainError::VerifyThreads)?;
        Ok(EmbeddedChain {
            verifier,
            flusher,
            settings,
            genesis,
            store,
            index: RwLock::new(index),
            states: RwLock::new(states),
            attach: Mutex::new(()),
            subscribers: Subscribers::default(),
            clock: Arc::new(SystemClock),
            keep_below_lib: keep,
        })
    }

    /// Up to `max` best-chain hashes after `hash`, from the index or, below its window, the
    /// store.
    fn canonical_after(&self, hash: &Hash, max: usize) -> Result<Vec<Hash>, ChainError> {
        let (in_memory, known, root) = {
            let index = self.index.read();
            (
                index.canonical_after(hash, max),
                index.contains(hash),
                index.root_height(),
            )
        };
        if known {
            return Ok(in_memory);
        }
        let Some(height) = self.store.height_of(hash)? else {
            return Ok(Vec::new());
        };
        if height >= root || self.canonical_hash(height)? != Some(*hash) {
            return Ok(Vec::new());
        }
        // Below the window: the store's best chain (committed before the index learns of a
        // block, so it holds at least what the index names).
        self.store.canonical_range(height + 1, max)
    }

    /// How many blocks the in-memory index holds (the rest are on disk only).
    pub fn indexed_blocks(&self) -> usize {
        self.index.read().in_memory()
    }

    /// The chain reading the time (for the future-block rule) from `clock`.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> EmbeddedChain {
        self.clock = clock;
        self
    }

    /// The consensus state after a block from the LIB up (`None` below it or when unknown).
    pub fn consensus_state(&self, hash: &Hash) -> Option<ConsensusState> {
        self.states.read().get(hash).map(|(_, s)| s.clone())
    }

    pub fn settings(&self) -> &ChainSettings {
        &self.settings
    }

    /// The tips of the open branches (above the LIB) and the best tip, highest first.
    pub fn branches(&self) -> Vec<ChainTip> {
        self.index.read().branches()
    }

    /// Whether attaches wait to be made durable (with a flush interval).
    pub fn has_unflushed_writes(&self) -> bool {
        self.store.has_pending()
    }

    /// Events dropped so far because a subscriber's queue was full, over all subscribers.
    pub fn dropped_events(&self) -> u64 {
        self.subscribers.dropped_total()
    }

    /// Closes the store. Same as dropping the chain; spelled out for ordered shutdowns.
    pub fn close(self) {
        drop(self);
    }
}

impl Drop for EmbeddedChain {
    /// Stops the flush thread, so the chain holds the last reference to the store, whose own
    /// drop then makes the last attaches durable.
    fn drop(&mut self) {
        if let Some(flusher) = self.flusher.take() {
            flusher.stop();
        }
    }
}

/// The in-memory index of what the store loaded (its window from the floor up).
fn rebuild_index(loaded: Loaded) -> Result<BlockIndex, ChainError> {
    BlockIndex::rebuild(
        loaded.entries,
        loaded.floor_root,
        loaded.best,
        loaded.lib_height,
    )
}

/// A development store that is still empty after its creation.
fn empty_after_creation() -> ChainError {
    ChainError::Corrupt("the store is empty right after its creation".into())
}

/// The consensus states of the indexed blocks from the LIB up, read from the store.
fn load_states(
    store: &Store,
    index: &BlockIndex,
) -> Result<HashMap<Hash, (i64, ConsensusState)>, ChainError> {
    let blocks = index.blocks_from(index.lib().height);
    let hashes: Vec<Hash> = blocks.iter().map(|(hash, _)| *hash).collect();
    let encoded = store.consensus_states(&hashes)?;
    let mut states = HashMap::with_capacity(blocks.len());
    for ((hash, height), bytes) in blocks.into_iter().zip(encoded) {
        let bytes = bytes.ok_or_else(|| {
            ChainError::Corrupt(format!("block {hash} has no stored consensus state"))
        })?;
        let state = ConsensusState::decode(&bytes)
            .map_err(|e| ChainError::Corrupt(format!("consensus state of {hash}: {e}")))?;
        states.insert(hash, (height, state));
    }
    Ok(states)
}

/// The `chain-flush` thread: every `interval`, makes pending commits durable.
fn start_flusher(store: Arc<Store>, interval: Duration) -> std::io::Result<StoppableThread> {
    StoppableThread::spawn("chain-flush", move |stop| loop {
        match stop.recv_timeout(interval) {
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                if store.has_pending() {
                    if let Err(e) = store.flush() {
                        log::error!("chain store flush failed: {e}");
                    }
                }
            }
            _ => return Ok(()),
        }
    })
}

impl Chain for EmbeddedChain {
    fn chain_id(&self) -> i32 {
        self.settings.chain_id
    }

    fn genesis_hash(&self) -> Hash {
        self.genesis
    }

    fn awaiting_checkpoint(&self) -> Option<ChainTip> {
        self.index.read().awaiting_root()
    }

    fn best_chain(&self) -> ChainTip {
        self.index.read().best()
    }

    fn last_irreversible(&self) -> ChainTip {
        self.index.read().lib()
    }

    fn has_block(&self, hash: &Hash) -> bool {
        if self.index.read().contains(hash) {
            return true;
        }
        // Below the index's window: the store knows (a read error counts as unknown).
        self.store.height_of(hash).ok().flatten().is_some()
    }

    fn block_by_hash(&self, hash: &Hash) -> Result<Option<BlockWithTransactions>, ChainError> {
        if !self.has_block(hash) {
            return Ok(None);
        }
        self.store.block(hash)
    }

    fn block_by_height(&self, height: i64) -> Result<Option<BlockWithTransactions>, ChainError> {
        match self.canonical_hash(height)? {
            Some(hash) => self.store.block(&hash),
            None => Ok(None),
        }
    }

    fn canonical_hash(&self, height: i64) -> Result<Option<Hash>, ChainError> {
        let (in_memory, root) = {
            let index = self.index.read();
            (index.canonical_at(height), index.root_height())
        };
        if in_memory.is_some() || height >= root || self.awaiting_checkpoint().is_some() {
            return Ok(in_memory);
        }
        self.store.canonical_at(height)
    }

    fn blocks_after(
        &self,
        hash: &Hash,
        max: usize,
    ) -> Result<Vec<BlockWithTransactions>, ChainError> {
        let hashes = self.canonical_after(hash, max)?;
        let blocks = self.store.blocks(&hashes)?;
        hashes
            .iter()
            .zip(blocks)
            .map(|(hash, block)| {
                block.ok_or_else(|| {
                    ChainError::Corrupt(format!("indexed block {hash} is not stored"))
                })
            })
            .collect()
    }

    fn attach_block(&self, block: BlockWithTransactions) -> Result<AttachOutcome, ChainError> {
        let placement = identify(&block, self.settings.chain_id)?;
        if self.has_block(&placement.hash) {
            return Ok(AttachOutcome::AlreadyKnown);
        }
        let contents = check_contents(&block, &placement);
        let verdict = Verdict {
            placement: Ok(placement),
            contents,
        };
        let mut batch = self.attach_verified(vec![(block, verdict)]);
        match batch.refused {
            Some(e) => Err(e),
            None => batch.outcomes.pop().ok_or(ChainError::Unverified(0)),
        }
    }

    fn attach_blocks(&self, blocks: Vec<BlockWithTransactions>) -> BatchOutcome {
        let n = blocks.len();
        let verified = self.verifier.check_all(blocks, self.settings.chain_id);
        let lost = verified.len();
        let mut batch = self.attach_verified(verified);
        if batch.refused.is_none() && lost < n {
            batch.refused = Some(ChainError::Unverified(lost));
        }
        batch
    }

    fn subscribe(&self, capacity: usize) -> Receiver<ChainEvent> {
        self.subscribers.subscribe(capacity)
    }
}
