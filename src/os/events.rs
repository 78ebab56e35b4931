//! `EventLoop`: the `os-events` thread that turns network and chain events into chain and
//! network actions (spec 5.6, 8.6, 9): received transactions into the pool and on to the
//! peers, received blocks and announcements into attaches or sync jobs, accepted blocks into
//! announcements (and, for our own blocks, the full-block broadcast first), new LIBs into LIB
//! announcements, and the initial sync state.
//!
//! Owns the event handling order. It never waits on the network: broadcasts only enqueue and
//! fetches go to the `block-sync` thread ([`super::block_sync`]). It must not touch the
//! transport.

use super::announcement_cache::AnnouncementCache;
use super::block_sync::{SyncJob, SyncJobs, BLOCK_SYNC_MODE_HEIGHT_OFFSET};
use super::tx_pool::{TxPool, TxRejection};
use crate::chain::{Chain, ChainError, ChainEvent};
use crate::network::inbound::{NetworkEvent, NetworkEventReceivers};
use crate::network::peer::short_key;
use crate::network::penalty::Offence;
use crate::network::service::NetworkService;
use crate::network::sync_state::{SyncState, SyncStatus};
use crate::pb::aelf_core::Transaction;
use crate::pb::network_types::BlockWithTransactions;
use crate::thread::StoppableThread;
use crate::types::{timestamp_millis, transaction_ids, Hash};
use crossbeam_channel::{select, Receiver};
use log::{debug, info, warn};
use std::sync::Arc;

/// Takes a transaction into the pool when it passes the checks a C# node's pool makes against
/// our best chain, and, when it is new, sends it to the peers (the local entry point and the
/// receive path share it). Returns its id; a refused transaction is never relayed.
pub fn submit_transaction<C: Chain + ?Sized>(
    pool: &TxPool,
    chain: &C,
    network: &NetworkService,
    tx: Transaction,
) -> Result<Hash, TxRejection> {
    let id = pool.add(tx.clone(), chain)?;
    if let Err(e) = network.broadcast_transaction(&tx, id) {
        warn!("not broadcasting transaction {id}: {e}");
    }
    Ok(id)
}

/// What the event thread works with.
pub struct EventLoopParts {
    pub chain: Arc<dyn Chain>,
    pub network: Arc<NetworkService>,
    pub tx_pool: Arc<TxPool>,
    pub sync: Arc<SyncState>,
    pub announcements: Arc<AnnouncementCache>,
    pub jobs: SyncJobs,
    pub events: NetworkEventReceivers,
    pub chain_events: Receiver<ChainEvent>,
    /// This node's public key (hex), when it produces blocks: accepted blocks it signed are
    /// broadcast in full before they are announced.
    pub producer_pubkey: Option<String>,
}

/// The running `os-events` thread.
pub struct EventLoop {
    thread: StoppableThread,
}

impl EventLoop {
    pub fn start(parts: EventLoopParts) -> std::io::Result<EventLoop> {
        let thread = StoppableThread::spawn("os-events", move |stop| {
            Handler { parts }.run(&stop);
            Ok(())
        })?;
        Ok(EventLoop { thread })
    }

    /// Stops the thread after the event it is handling.
    pub fn stop(self) {
        self.thread.stop();
    }
}

struct Handler {
    parts: EventLoopParts,
}

impl Handler {
    fn run(&self, stop: &Receiver<()>) {
        let p = &self.parts;
        loop {
            select! {
                recv(stop) -> _ => return,
                recv(p.chain_events) -> event => match event {
                    Ok(event) => self.on_chain_event(event),
                    Err(_) => return,
                },
                recv(p.events.blocks) -> event => match event {
                    Ok(event) => self.on_network_event(event),
                    Err(_) => return,
                },
                recv(p.events.other) -> event => match event {
                    Ok(event) => self.on_network_event(event),
                    Err(_) => return,
                },
            }
        }
    }

    fn on_network_event(&self, event: NetworkEvent) {
        match event {
            NetworkEvent::TransactionReceived {
                transaction,
                id,
                sender,
            } => self.on_transaction(transaction, id, &sender),
            NetworkEvent::BlockReceived {
                block,
                hash,
                height,
                sender,
            } => self.on_block(block, hash, height, &sender),
            NetworkEvent::AnnouncementReceived {
                hash,
                height,
                sender,
            } => self.on_announcement(hash, height, &sender),
            NetworkEvent::PeerConnected {
                pubkey_hex,
                best_hash,
                best_height,
            } => self.on_announcement(best_hash, best_height, &pubkey_hex),
            NetworkEvent::NetworkInitialized => {
                let status = self.parts.sync.start(
                    self.parts.chain.last_irreversible().height,
                    &self.peer_libs(),
                );
                info!("network initialized; initial sync: {status:?}");
            }
        }
    }

    /// A transaction from a peer: pooled and relayed when it passes the checks. One no honest
    /// C# node would relay counts against the sender (the C# invalid-transaction rule, spec
    /// 8.4); one only our view of the chain refuses (a reference block we do not have yet,
    /// expired, on another branch) does not.
    fn on_transaction(&self, transaction: Transaction, id: Hash, sender: &str) {
        let p = &self.parts;
        match submit_transaction(&p.tx_pool, p.chain.as_ref(), &p.network, transaction) {
            Ok(_) => {}
            Err(e) if e.counts_against_sender() => {
                p.network
                    .report(sender, Offence::InvalidTransaction(id), e.to_string());
            }
            Err(e) => debug!("transaction {id} from {}: {e}", short_key(sender)),
        }
    }

    /// LIB heights of the ready peers (for the initial sync target).
    fn peer_libs(&self) -> Vec<i64> {
        self.parts
            .network
            .pool()
            .peers(false)
            .iter()
            .map(|p| p.knowledge().chain_state().lib_height)
            .collect()
    }

    /// A full block from its producer: attached when it is near our best chain, otherwise a
    /// download toward it (C# `BlockReceivedEventHandler`).
    fn on_block(&self, block: BlockWithTransactions, hash: Hash, height: i64, sender: &str) {
        let chain = &self.parts.chain;
        if height <= chain.last_irreversible().height || chain.has_block(&hash) {
            return;
        }
        let signer = block
            .header
            .as_ref()
            .map(|h| hex::encode(&h.signer_pubkey))
            .unwrap_or_default();
        if signer != sender {
            debug!(
                "ignoring relayed block {height} {hash} from {}",
                short_key(sender)
            );
            return;
        }
        if height > chain.best_chain().height + BLOCK_SYNC_MODE_HEIGHT_OFFSET {
            self.download(sender, height);
            return;
        }
        match chain.attach_block(block) {
            Ok(_) => {}
            Err(ChainError::UnknownParent { .. }) => self.download(sender, height),
            Err(e) => match offence_for(&e) {
                Some(offence) => {
                    warn!(
                        "refused block {height} {hash} from {}: {e}",
                        short_key(sender)
                    );
                    self.parts.network.report(sender, offence, e.to_string());
                }
                None => warn!("block {height} {hash} from {}: {e}", short_key(sender)),
            },
        }
    }

    /// An announced block we lack: fetched from the announcer (alternates kept in the cache),
    /// or downloaded when far ahead (C# `AnnouncementReceivedEventHandler`).
    fn on_announcement(&self, hash: Hash, height: i64, sender: &str) {
        let chain = &self.parts.chain;
        if height <= chain.last_irreversible().height || chain.has_block(&hash) {
            return;
        }
        if !self.parts.announcements.add(hash, height, sender) {
            return;
        }
        if height > chain.best_chain().height + BLOCK_SYNC_MODE_HEIGHT_OFFSET {
            self.download(sender, height);
        } else {
            self.parts.jobs.submit(SyncJob::Fetch {
                hash,
                height,
                peer: sender.to_owned(),
            });
        }
    }

    fn download(&self, peer: &str, target: i64) {
        self.parts.jobs.submit(SyncJob::Download {
            peer: peer.to_owned(),
            target,
        });
    }

    fn on_chain_event(&self, event: ChainEvent) {
        let p = &self.parts;
        match event {
            ChainEvent::BlockAccepted { hash, height } => {
                let block = match p.chain.block_by_hash(&hash) {
                    Ok(Some(block)) => block,
                    Ok(None) => return,
                    Err(e) => {
                        warn!("cannot read accepted block {hash}: {e}");
                        return;
                    }
                };
                // (The block that ends the initial sync is announced like the ones after it.)
                self.track_sync(height);
                // The peers before the pool: hashing a big block's transactions took longer
                // than the rest of the hop here.
                self.announce_accepted(&block, hash);
                let ids = transaction_ids(&block.transactions).unwrap_or_default();
                p.tx_pool.on_best_chain_block(height, &ids);
                info!("best chain: height {height} hash {hash}");
            }
            ChainEvent::NewIrreversible { hash, height } => {
                if let Err(e) = p.network.broadcast_lib(hash, height) {
                    warn!("not announcing LIB {height} {hash}: {e}");
                }
            }
        }
    }

    /// Sends an accepted block on: in full first when we produced it, then the announcement
    /// to every peer that lacks it.
    fn announce_accepted(&self, block: &BlockWithTransactions, hash: Hash) {
        let Some(header) = block.header.as_ref() else {
            return;
        };
        let p = &self.parts;
        let height = header.height;
        let time = header.time.as_ref().map(timestamp_millis).unwrap_or(0);
        let ours = p
            .producer_pubkey
            .as_deref()
            .is_some_and(|key| hex::encode(&header.signer_pubkey) == key);
        if ours {
            if let Err(e) = p.network.broadcast_block(block, hash, None) {
                warn!("not broadcasting block {height} {hash}: {e}");
            }
        }
        if let Err(e) = p.network.broadcast_announcement(hash, height, time) {
            warn!("not announcing block {height} {hash}: {e}");
        }
    }

    /// While syncing, an accepted block at or above the target may finish the initial sync.
    fn track_sync(&self, height: i64) {
        let p = &self.parts;
        if let SyncStatus::Syncing { target } = p.sync.status() {
            if height >= target {
                let status = p.sync.on_block_accepted(
                    p.chain.best_chain().height,
                    p.chain.last_irreversible().height,
                    &self.peer_libs(),
                );
                if status == SyncStatus::Finished {
                    info!("initial sync finished at height {height}");
                }
            }
        }
    }
}

/// What a pushed block the chain refused says about its sender: forged (a bad signature, or a
/// block its signer may not produce by the AEDPoS rules), malformed, or nothing (a block we
/// cannot place yet, a store error).
fn offence_for(e: &ChainError) -> Option<Offence> {
    match e {
        ChainError::BadSignature { .. } | ChainError::Consensus { .. } => {
            Some(Offence::BadSignature)
        }
        ChainError::MissingHeader
        | ChainError::WrongChainId { .. }
        | ChainError::InvalidBlock(_)
        | ChainError::InvalidTransaction { .. }
        | ChainError::BadTransactionsRoot { .. }
        | ChainError::WrongHeight { .. } => Some(Offence::MalformedMessage),
        _ => None,
    }
}
