//! [`EmbeddedChain`]: the [`Chain`] kept in `<data_dir>/chain.redb`.
//!
//! Owns the open store, the in-memory index, the consensus state of every block from the LIB
//! up, and the subscribers, and the order of an attach: stateless checks (no lock), then —
//! under the attach lock — the fork choice, the AEDPoS rules against the parent's consensus
//! state, one store commit (block, index entry and consensus state together), the index update
//! and the events. The LIB is the irreversible height the new best block's consensus state
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

use super::aedpos::{self, ConsensusState};
use super::events::Subscribers;
use super::index::{BlockIndex, Decision, IndexEntry};
use super::store::{BlockWrite, Loaded, Store};
use super::validate::{check_contents, identify, BlockVerifier, Placement, Verdict};
use super::{
    genesis_block, AttachOutcome, BatchOutcome, Chain, ChainError, ChainEvent, ChainMode,
    ChainSettings, ChainTip, GENESIS_HEIGHT,
};
use crate::pb::network_types::BlockWithTransactions;
use crate::thread::StoppableThread;
use crate::types::{
    chain_id_to_name, timestamp_millis, BlockWithTransactionsExt, Clock, Hash, SystemClock,
};
use crossbeam_channel::Receiver;
use log::{debug, info};
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

    /// Stores a follower's first block: only the checkpoint itself is taken (anything else
    /// builds on a block we do not have); its consensus state is learned from its header.
    /// Called under the attach lock.
    fn attach_checkpoint(
        &self,
        root: ChainTip,
        block: &BlockWithTransactions,
        placement: &Placement,
    ) -> Result<AttachOutcome, ChainError> {
        if placement.hash != root.hash {
            return Err(ChainError::UnknownParent {
                block: placement.hash,
                parent: placement.parent,
            });
        }
        if placement.height != root.height {
            return Err(ChainError::WrongHeight {
                block: placement.hash,
                expected: root.height,
                got: placement.height,
            });
        }
        let header = block.header.as_ref().ok_or(ChainError::MissingHeader)?;
        let state =
            ConsensusState::from_checkpoint(header).map_err(|source| ChainError::Consensus {
                block: root.hash,
                source,
            })?;
        self.store.init(
            self.settings.chain_id,
            root.hash,
            block,
            root.height,
            &state.encode(),
        )?;
        let loaded = self
            .store
            .load(self.keep_below_lib)?
            .ok_or_else(empty_after_creation)?;
        let index = rebuild_index(loaded)?;
        self.states
            .write()
            .insert(root.hash, (root.height, state.clone()));
        *self.index.write() = index;
        info!(
            "checkpoint {} at height {} stored ({} miners in round {}): following from it",
            root.hash,
            root.height,
            state.miners().len(),
            state.round_number()
        );
        self.subscribers.send(&[ChainEvent::BlockAccepted {
            hash: root.hash,
            height: root.height,
        }]);
        Ok(AttachOutcome::Extended)
    }

    /// Attaches checked blocks in order under the attach lock, stopping at the first refused.
    /// Consecutive blocks that extend the best chain one after another are stored in one
    /// write transaction; anything else (a side branch, a reorganisation, the checkpoint)
    /// first commits what is staged, so the index decides it.
    fn attach_verified(&self, blocks: Vec<(BlockWithTransactions, Verdict)>) -> BatchOutcome {
        let _attaching = self.attach.lock();
        let mut outcomes = Vec::with_capacity(blocks.len());
        let mut staged: Vec<Staged> = Vec::new();
        // The outcomes from this position on belong to the staged blocks (until committed).
        let mut staged_from = 0;
        let mut refused = None;
        for (block, verdict) in blocks {
            let placement = match self.admit(&block, verdict) {
                Ok(Some(placement)) => placement,
                Ok(None) => {
                    outcomes.push(AttachOutcome::AlreadyKnown);
                    continue;
                }
                Err(e) => {
                    refused = Some(e);
                    break;
                }
            };
            if staged.iter().any(|s| s.placement.hash == placement.hash) {
                outcomes.push(AttachOutcome::AlreadyKnown);
                continue;
            }
            if !extends_staged(&staged, &placement) {
                if let Err(e) = self.commit(&mut staged) {
                    outcomes.truncate(staged_from);
                    refused = Some(e);
                    break;
                }
            }
            if staged.is_empty() {
                staged_from = outcomes.len();
            }
            match self.stage(&mut staged, block, placement) {
                Ok(outcome) => outcomes.push(outcome),
                Err(e) => {
                    refused = Some(e);
                    break;
                }
            }
        }
        if let Err(e) = self.commit(&mut staged) {
            outcomes.truncate(staged_from);
            refused = Some(e);
        }
        BatchOutcome { outcomes, refused }
    }

    /// The checks a block passes before the attach decides anything: its stateless verdict
    /// (a block already stored is taken as known even when its copy here is broken) and its
    /// time. `None` when the block is already stored.
    fn admit(
        &self,
        block: &BlockWithTransactions,
        verdict: Verdict,
    ) -> Result<Option<Placement>, ChainError> {
        let placement = verdict.placement?;
        if self.has_block(&placement.hash) {
            return Ok(None);
        }
        verdict.contents?;
        let time_ms = block
            .header
            .as_ref()
            .map(|h| timestamp_millis(&h.time))
            .unwrap_or(0);
        let now_ms = self.clock.now_millis();
        if time_ms > now_ms.saturating_add(ALLOWED_FUTURE_BLOCK_MS) {
            return Err(ChainError::FutureBlock {
                block: placement.hash,
                ahead_ms: time_ms - now_ms,
            });
        }
        Ok(Some(placement))
    }

    /// Decides where a checked block goes and applies the AEDPoS rules to it, against the last
    /// staged block when it builds on it (see [`extends_staged`]) and against the index
    /// otherwise (then nothing is staged). Stages it for [`EmbeddedChain::commit`].
    fn stage(
        &self,
        staged: &mut Vec<Staged>,
        block: BlockWithTransactions,
        placement: Placement,
    ) -> Result<AttachOutcome, ChainError> {
        let header = block.header.as_ref().ok_or(ChainError::MissingHeader)?;
        let (mut decision, lib_now, parent_state) = match staged.last() {
            Some(last) => {
                let expected = last.placement.height.saturating_add(1);
                if placement.height != expected {
                    return Err(ChainError::WrongHeight {
                        block: placement.hash,
                        expected,
                        got: placement.height,
                    });
                }
                let decision = Decision {
                    outcome: AttachOutcome::Extended,
                    entry: IndexEntry {
                        height: placement.height,
                        parent: placement.parent,
                        seq: last.decision.entry.seq.saturating_add(1),
                    },
                    fork_height: last.placement.height,
                    newly_canonical: vec![ChainTip {
                        hash: placement.hash,
                        height: placement.height,
                    }],
                    new_lib_height: None,
                };
                let lib_now = staged
                    .iter()
                    .filter_map(|s| s.decision.new_lib_height)
                    .max()
                    .unwrap_or_else(|| self.index.read().lib().height);
                (decision, lib_now, last.state.clone())
            }
            None => {
                // (The read guard must be gone before the checkpoint's index write.)
                let awaiting = self.index.read().awaiting_root();
                if let Some(root) = awaiting {
                    return self.attach_checkpoint(root, &block, &placement);
                }
                let (decision, lib_now) = self.place(&placement)?;
                // The parent is at or above the LIB (the fork choice refused anything below),
                // so its consensus state is kept.
                let parent_state = self.consensus_state(&placement.parent).ok_or_else(|| {
                    ChainError::Corrupt(format!(
                        "no consensus state for block {} (parent of {})",
                        placement.parent, placement.hash
                    ))
                })?;
                (decision, lib_now, parent_state)
            }
        };
        let state = aedpos::apply_header(&parent_state, header).map_err(|source| {
            ChainError::Consensus {
                block: placement.hash,
                source,
            }
        })?;
        if decision.outcome == AttachOutcome::Extended {
            let confirmed = state.irreversible_height().min(placement.height);
            if confirmed > lib_now {
                decision.new_lib_height = Some(confirmed);
            }
        }
        let outcome = decision.outcome;
        staged.push(Staged {
            encoded: state.encode(),
            block,
            placement,
            decision,
            state,
        });
        Ok(outcome)
    }

    /// The fork choice for a block whose parent is in the index (or below its window: then
    /// the block forks at or below the LIB), with the LIB height it was made against.
    fn place(&self, placement: &Placement) -> Result<(Decision, i64), ChainError> {
        let index = self.index.read();
        match index.place(placement) {
            Ok(decision) => Ok((decision, index.lib().height)),
            Err(e @ ChainError::UnknownParent { .. }) => {
                // A parent below the index's window is at or below the LIB.
                if let Some(height) = self.store.height_of(&placement.parent)? {
                    return Err(ChainError::BelowIrreversible {
                        block: placement.hash,
                        fork_height: height,
                        lib_height: index.lib().height,
                    });
                }
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    /// Stores the staged blocks in one write transaction, then records them in memory (their
    /// consensus states, the index) and sends their events. Empties `staged` either way; on a
    /// store error nothing of it was stored.
    fn commit(&self, staged: &mut Vec<Staged>) -> Result<(), ChainError> {
        if staged.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(staged);
        let writes: Vec<BlockWrite<'_>> = batch
            .iter()
            .map(|s| BlockWrite {
                hash: s.placement.hash,
                block: &s.block,
                entry: s.decision.entry,
                consensus: &s.encoded,
                best: (s.decision.outcome == AttachOutcome::Extended).then_some(s.placement.hash),
                canonical: &s.decision.newly_canonical,
                lib_height: s.decision.new_lib_height,
            })
            .collect();
        self.store.write_blocks(&writes)?;
        drop(writes);
        let new_lib = batch.iter().filter_map(|s| s.decision.new_lib_height).max();
        let mut events = Vec::new();
        {
            let mut states = self.states.write();
            for s in &batch {
                states.insert(s.placement.hash, (s.placement.height, s.state.clone()));
            }
            if let Some(lib) = new_lib {
                states.retain(|_, (height, _)| *height >= lib);
            }
        }
        {
            let mut index = self.index.write();
            for s in &batch {
                index.apply(s.placement.hash, &s.decision);
                events.extend(s.decision.newly_canonical.iter().map(|t| {
                    ChainEvent::BlockAccepted {
                        hash: t.hash,
                        height: t.height,
                    }
                }));
                if s.decision.new_lib_height.is_some() {
                    let lib = index.lib();
                    events.push(ChainEvent::NewIrreversible {
                        hash: lib.hash,
                        height: lib.height,
                    });
                }
            }
            let floor = index.lib().height - self.keep_below_lib;
            if floor >= index.root_height() + PRUNE_STEP {
                index.prune_below(floor);
            }
        }
        for s in &batch {
            if s.decision.outcome == AttachOutcome::Extended && s.decision.newly_canonical.len() > 1
            {
                info!(
                    "best chain switched branch at height {}: new tip {} at height {}",
                    s.decision.fork_height, s.placement.hash, s.placement.height
                );
            }
            debug!(
                "attached block {} at height {}: {:?}",
                s.placement.hash, s.placement.height, s.decision.outcome
            );
        }
        self.subscribers.send(&events);
        Ok(())
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

/// A block decided and checked under the attach lock, waiting for its batch's commit.
struct Staged {
    block: BlockWithTransactions,
    placement: Placement,
    decision: Decision,
    /// The consensus state after the block, and its encoding for the store.
    state: ConsensusState,
    encoded: Vec<u8>,
}

/// Whether a block can be staged after the staged ones without asking the index: nothing is
/// staged, or it builds on the last staged block, which extended the best chain (so, once
/// committed, it is the best tip and the new block simply extends it).
fn extends_staged(staged: &[Staged], placement: &Placement) -> bool {
    staged.last().is_none_or(|last| {
        last.placement.hash == placement.parent && last.decision.outcome == AttachOutcome::Extended
    })
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
