//! [`EmbeddedChain`]: the [`Chain`] kept in `<data_dir>/chain.redb`.
//!
//! Owns the open store, the in-memory index and the subscribers, and the order of an attach:
//! stateless checks (no lock), then — under the attach lock — the fork choice, one store
//! commit, the index update and the events. It must not validate, choose forks or lay out the
//! store itself (`validate`, `index` and `store` do).
//!
//! # Locking
//!
//! Attaches are serialised by `attach` (a mutex held through the commit), so the index cannot
//! change between the decision and its application. Readers take the `index` read lock, which a
//! writer holds only for the in-memory update after the commit: reads never wait for the disk.
//! The index is updated after the commit, so any hash it names is readable from the store.

use super::events::Subscribers;
use super::index::BlockIndex;
use super::store::{BlockWrite, Store};
use super::validate::{check_contents, identify};
use super::{
    genesis_block, AttachOutcome, Chain, ChainError, ChainEvent, ChainSettings, ChainTip,
    GENESIS_HEIGHT,
};
use crate::pb::network_types::BlockWithTransactions;
use crate::thread::StoppableThread;
use crate::types::{chain_id_to_name, BlockWithTransactionsExt, Hash};
use crossbeam_channel::Receiver;
use log::{debug, info};
use parking_lot::{Mutex, RwLock};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// File name of the chain store inside the data directory.
pub const CHAIN_FILE: &str = "chain.redb";

/// How the store writes (see [`Store`]'s durability notes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreOptions {
    /// Zero: every attach is durable when it returns. Otherwise at most one durable commit
    /// per interval, and a `chain-flush` thread makes the rest durable within the interval.
    pub flush_interval: Duration,
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
    /// Serialises attaches from the fork choice through the events.
    attach: Mutex<()>,
    subscribers: Subscribers,
}

impl EmbeddedChain {
    /// Opens `<data_dir>/chain.redb` (creating `data_dir` and the store, with the genesis block,
    /// on first open). A store holding another chain id or genesis than `settings` describe is
    /// refused with [`ChainError::GenesisMismatch`].
    pub fn open(data_dir: &Path, settings: ChainSettings) -> Result<EmbeddedChain, ChainError> {
        EmbeddedChain::open_with(data_dir, settings, StoreOptions::default())
    }

    /// [`EmbeddedChain::open`] with store options.
    pub fn open_with(
        data_dir: &Path,
        settings: ChainSettings,
        options: StoreOptions,
    ) -> Result<EmbeddedChain, ChainError> {
        std::fs::create_dir_all(data_dir).map_err(|source| ChainError::DataDir {
            path: data_dir.to_owned(),
            source,
        })?;
        let genesis_block = genesis_block(&settings);
        let genesis = genesis_block
            .block_hash()
            .map_err(ChainError::InvalidBlock)?;
        let store = Arc::new(Store::open(
            &data_dir.join(CHAIN_FILE),
            options.flush_interval,
        )?);
        let loaded = match store.load()? {
            Some(loaded) => loaded,
            None => {
                store.init(settings.chain_id, genesis, &genesis_block, GENESIS_HEIGHT)?;
                info!("chain store created with genesis {genesis}");
                store.load()?.ok_or_else(|| {
                    ChainError::Corrupt("the store is empty right after its creation".into())
                })?
            }
        };
        if loaded.chain_id != settings.chain_id || loaded.genesis != genesis {
            let name = |id| chain_id_to_name(id).unwrap_or_else(|| "?".into());
            return Err(ChainError::GenesisMismatch {
                stored_chain_id: loaded.chain_id,
                stored_name: name(loaded.chain_id),
                stored_genesis: loaded.genesis,
                config_chain_id: settings.chain_id,
                config_name: name(settings.chain_id),
                config_genesis: genesis,
            });
        }
        let index = BlockIndex::rebuild(
            loaded.entries,
            genesis,
            loaded.best,
            loaded.lib_height,
            settings.irreversible_depth,
        )?;
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
        Ok(EmbeddedChain {
            flusher,
            settings,
            genesis,
            store,
            index: RwLock::new(index),
            attach: Mutex::new(()),
            subscribers: Subscribers::default(),
        })
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

    fn best_chain(&self) -> ChainTip {
        self.index.read().best()
    }

    fn last_irreversible(&self) -> ChainTip {
        self.index.read().lib()
    }

    fn has_block(&self, hash: &Hash) -> bool {
        self.index.read().contains(hash)
    }

    fn block_by_hash(&self, hash: &Hash) -> Result<Option<BlockWithTransactions>, ChainError> {
        if !self.has_block(hash) {
            return Ok(None);
        }
        self.store.block(hash)
    }

    fn block_by_height(&self, height: i64) -> Result<Option<BlockWithTransactions>, ChainError> {
        let hash = self.index.read().canonical_at(height);
        match hash {
            Some(hash) => self.store.block(&hash),
            None => Ok(None),
        }
    }

    fn canonical_hash(&self, height: i64) -> Result<Option<Hash>, ChainError> {
        Ok(self.index.read().canonical_at(height))
    }

    fn blocks_after(
        &self,
        hash: &Hash,
        max: usize,
    ) -> Result<Vec<BlockWithTransactions>, ChainError> {
        let hashes = self.index.read().canonical_after(hash, max);
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
        check_contents(&block, &placement)?;

        let _attaching = self.attach.lock();
        let decision = {
            let index = self.index.read();
            if index.contains(&placement.hash) {
                return Ok(AttachOutcome::AlreadyKnown);
            }
            index.place(&placement)?
        };
        let extended = decision.outcome == AttachOutcome::Extended;
        self.store.write_block(&BlockWrite {
            hash: placement.hash,
            block: &block,
            entry: decision.entry,
            best: extended.then_some(placement.hash),
            lib_height: decision.new_lib_height,
        })?;

        let mut events: Vec<ChainEvent> = decision
            .newly_canonical
            .iter()
            .map(|t| ChainEvent::BlockAccepted {
                hash: t.hash,
                height: t.height,
            })
            .collect();
        let lib = {
            let mut index = self.index.write();
            index.apply(placement.hash, &decision);
            index.lib()
        };
        if decision.new_lib_height.is_some() {
            events.push(ChainEvent::NewIrreversible {
                hash: lib.hash,
                height: lib.height,
            });
        }
        if extended && decision.newly_canonical.len() > 1 {
            info!(
                "best chain switched branch at height {}: new tip {} at height {}",
                decision.fork_height, placement.hash, placement.height
            );
        }
        debug!(
            "attached block {} at height {}: {:?}",
            placement.hash, placement.height, decision.outcome
        );
        self.subscribers.send(&events);
        Ok(decision.outcome)
    }

    fn subscribe(&self, capacity: usize) -> Receiver<ChainEvent> {
        self.subscribers.subscribe(capacity)
    }
}
