//! `BlockSync`: the `block-sync` thread that fetches blocks this node learned about but does
//! not have (C# `BlockFetchService`, `BlockDownloadService`; spec 5.6, 6.4) and attaches them.
//!
//! Owns the fetch and download jobs: a bounded, de-duplicated job queue, the download loop that
//! checks heights and parent links (an inconsistent peer is reported abnormal; the scheduler
//! applies the penalty) and hands each served batch to the chain at once
//! ([`Chain::attach_blocks`]: checked on the verify threads, stored in one transaction) while
//! the next batch is requested, alternates from the announcement cache when a fetch fails, and
//! a fallback to other synced peers when a download fails. Requests block this thread only; it
//! must not touch the transport or the event queues.

use super::announcement_cache::AnnouncementCache;
use crate::chain::{Chain, ChainError, ChainTip};
use crate::network::peer::short_key;
use crate::network::penalty::Offence;
use crate::network::service::NetworkService;
use crate::pb::network_types::BlockWithTransactions;
use crate::thread::StoppableThread;
use crate::types::{block_hash, Hash};
use crossbeam_channel::{bounded, select, Receiver, Sender, TrySendError};
use log::{debug, info, warn};
use parking_lot::Mutex;
use std::collections::HashSet;
use std::sync::Arc;

/// Jobs waiting for the sync thread at most; more are dropped (the next announcement or
/// block brings them back).
pub const SYNC_JOB_QUEUE: usize = 256;
/// Blocks above our best height by at most this are fetched one by one; further ahead
/// starts a batch download (C# `BlockSyncModeHeightOffset`).
pub const BLOCK_SYNC_MODE_HEIGHT_OFFSET: i64 = 12;
/// Other peers a failed download is retried with (C#: up to 2 more).
const DOWNLOAD_RETRY_PEERS: usize = 2;

/// How blocks are downloaded (`[sync]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncSettings {
    /// Blocks per download round (`max_block_download_count`).
    pub max_block_download_count: usize,
    /// Blocks per RequestBlocks (`max_batch_request_block_count`, at most 50).
    pub max_batch_request_block_count: usize,
}

impl Default for SyncSettings {
    fn default() -> SyncSettings {
        SyncSettings {
            max_block_download_count: 50,
            max_batch_request_block_count: 10,
        }
    }
}

/// Work for the sync thread.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SyncJob {
    /// Get block `hash` (announced at `height`) from `peer`, alternates after it.
    Fetch {
        hash: Hash,
        height: i64,
        peer: String,
    },
    /// Download the best chain of `peer` up to `target` height.
    Download { peer: String, target: i64 },
}

/// The queue end the event thread holds.
#[derive(Clone)]
pub struct SyncJobs {
    queue: Sender<SyncJob>,
    /// Jobs queued and not yet started: the same job is not queued twice.
    queued: Arc<Mutex<HashSet<SyncJob>>>,
}

impl SyncJobs {
    /// Queues `job` unless the same job is already waiting; never blocks.
    pub fn submit(&self, job: SyncJob) {
        if !self.queued.lock().insert(job.clone()) {
            return;
        }
        if let Err(e) = self.queue.try_send(job) {
            let job = match e {
                TrySendError::Full(job) | TrySendError::Disconnected(job) => job,
            };
            self.queued.lock().remove(&job);
            debug!("sync queue full or gone, dropping {job:?}");
        }
    }
}

/// The running `block-sync` thread.
pub struct BlockSync {
    thread: StoppableThread,
}

impl BlockSync {
    /// Starts the thread; returns it and the queue end for the event thread.
    pub fn start(
        chain: Arc<dyn Chain>,
        network: Arc<NetworkService>,
        announcements: Arc<AnnouncementCache>,
        settings: SyncSettings,
    ) -> std::io::Result<(BlockSync, SyncJobs)> {
        let (queue, jobs) = bounded(SYNC_JOB_QUEUE);
        let queued = Arc::new(Mutex::new(HashSet::new()));
        let worker = Syncer {
            chain,
            network,
            announcements,
            settings,
        };
        let taken = queued.clone();
        let thread = StoppableThread::spawn("block-sync", move |stop| {
            worker.run(&jobs, &stop, &taken);
            Ok(())
        })?;
        Ok((BlockSync { thread }, SyncJobs { queue, queued }))
    }

    /// Stops the thread after the request it is in.
    pub fn stop(self) {
        self.thread.stop();
    }
}

/// What the sync thread owns.
struct Syncer {
    chain: Arc<dyn Chain>,
    network: Arc<NetworkService>,
    announcements: Arc<AnnouncementCache>,
    settings: SyncSettings,
}

/// How attaching a served block went.
enum Attached {
    Yes,
    /// Its parent is missing: the peer's chain forks below what we asked from.
    NoParent,
    Refused,
}

impl Syncer {
    fn run(&self, jobs: &Receiver<SyncJob>, stop: &Receiver<()>, queued: &Mutex<HashSet<SyncJob>>) {
        loop {
            let job = select! {
                recv(jobs) -> job => match job {
                    Ok(job) => job,
                    Err(_) => return,
                },
                recv(stop) -> _ => return,
            };
            queued.lock().remove(&job);
            match job {
                SyncJob::Fetch { hash, height, peer } => self.fetch(hash, height, peer),
                SyncJob::Download { peer, target } => self.download_with_fallback(&peer, target),
            }
        }
    }

    /// Fetches one announced block from `peer`, then from the other announcers in turn.
    fn fetch(&self, hash: Hash, height: i64, first: String) {
        let mut peer = Some(first);
        while let Some(current) = peer.take() {
            if self.chain.has_block(&hash) {
                return;
            }
            match self.network.get_block(&current, &hash) {
                Ok(Some(block)) => match self.check_fetched(&block, hash, height) {
                    Ok(()) => match self.attach(&current, block) {
                        Attached::Yes | Attached::Refused => return,
                        Attached::NoParent => {
                            self.download_with_fallback(&current, height);
                            return;
                        }
                    },
                    Err(reason) => self.network.report_abnormal(&current, &reason),
                },
                Ok(None) => debug!("{current} has no block {hash}"),
                Err(e) => debug!("fetching {hash}: {e}"),
            }
            peer = self.announcements.next_alternate(&hash);
        }
    }

    /// A fetched block must be the one announced.
    fn check_fetched(
        &self,
        block: &BlockWithTransactions,
        hash: Hash,
        height: i64,
    ) -> Result<(), String> {
        let header = block.header.as_ref().ok_or("block without header")?;
        let got = block_hash(header).map_err(|e| e.to_string())?;
        if got != hash || header.height != height {
            return Err(format!(
                "served block {got} at {} for {hash} at {height}",
                header.height
            ));
        }
        Ok(())
    }

    /// A follower without its checkpoint block fetches it from `peer` by hash first; a peer
    /// that serves another block for that hash is reported abnormal. True when the checkpoint
    /// is stored (or none is awaited).
    fn fetch_checkpoint(&self, peer: &str) -> bool {
        let Some(root) = self.chain.awaiting_checkpoint() else {
            return true;
        };
        match self.network.get_block(peer, &root.hash) {
            Ok(Some(block)) => {
                if let Err(reason) = self.check_fetched(&block, root.hash, root.height) {
                    warn!(
                        "{} served a wrong checkpoint block: {reason}",
                        short_key(peer)
                    );
                    self.network.report_abnormal(peer, &reason);
                    return false;
                }
                matches!(self.attach(peer, block), Attached::Yes)
            }
            Ok(None) => {
                debug!("{} has no checkpoint block {}", short_key(peer), root.hash);
                false
            }
            Err(e) => {
                debug!("fetching the checkpoint {}: {e}", root.hash);
                false
            }
        }
    }

    /// Attaches a block `peer` served; a forged one (bad signature, or refused by the AEDPoS
    /// rules) is charged to the peer.
    fn attach(&self, peer: &str, block: BlockWithTransactions) -> Attached {
        match self.chain.attach_block(block) {
            Ok(_) => Attached::Yes,
            Err(e) => self.refused(peer, e),
        }
    }

    /// What a refusal of a block `peer` served means; a forged block (bad signature, or
    /// refused by the AEDPoS rules) is charged to the peer.
    fn refused(&self, peer: &str, e: ChainError) -> Attached {
        match e {
            ChainError::UnknownParent { .. } => Attached::NoParent,
            e @ (ChainError::BadSignature { .. } | ChainError::Consensus { .. }) => {
                warn!("not attaching a synced block from {peer}: {e}");
                self.network
                    .report(peer, Offence::BadSignature, e.to_string());
                Attached::Refused
            }
            e => {
                warn!("not attaching a synced block: {e}");
                Attached::Refused
            }
        }
    }

    /// Downloads from `peer`; when that fails, from up to two other synced peers.
    fn download_with_fallback(&self, peer: &str, target: i64) {
        if self.download(peer, target) {
            return;
        }
        let others: Vec<String> = self
            .network
            .pool()
            .peers(false)
            .into_iter()
            .filter(|p| p.pubkey_hex() != peer && p.knowledge().is_sync_finished())
            .map(|p| p.pubkey_hex().to_owned())
            .take(DOWNLOAD_RETRY_PEERS)
            .collect();
        for other in others {
            if self.chain.best_chain().height >= target || self.download(&other, target) {
                return;
            }
        }
    }

    /// One round: up to `round` blocks after `start` from `peer`, attached in order. While a
    /// batch is checked and attached, the next one is already being requested (a second
    /// thread for the round), so the round trip and the store's work overlap. `None` when the
    /// peer failed or served something inconsistent; otherwise how many blocks were attached
    /// and the last of them (`start` when none).
    fn download_round(
        &self,
        peer: &str,
        start: ChainTip,
        batch: i32,
        round: usize,
    ) -> Option<(usize, ChainTip)> {
        std::thread::scope(|scope| {
            // One request in flight and one answer waiting at most.
            let (ask, asks) = bounded::<Hash>(1);
            let (answer, answers) = bounded(1);
            let network = &self.network;
            let prefetch = std::thread::Builder::new()
                .name("block-sync-fetch".into())
                .spawn_scoped(scope, move || {
                    for after in asks {
                        if answer
                            .send(network.get_blocks(peer, &after, batch))
                            .is_err()
                        {
                            return;
                        }
                    }
                });
            if let Err(e) = prefetch {
                warn!("cannot start the block prefetch thread: {e}");
                return None;
            }
            let (mut last_hash, mut last_height) = (start.hash, start.height);
            let mut fetched = 0;
            let mut requested = ask.send(start.hash).is_ok();
            while requested && fetched < round {
                let blocks = match answers.recv() {
                    Ok(Ok(blocks)) => blocks,
                    Ok(Err(e)) => {
                        debug!("download from {peer} stopped: {e}");
                        return None;
                    }
                    Err(_) => return None,
                };
                requested = false;
                if blocks.is_empty() {
                    break;
                }
                // Ask for the next batch before working on this one.
                let tail = blocks
                    .last()
                    .and_then(|b| b.header.as_ref())
                    .and_then(|h| block_hash(h).ok());
                if let Some(tail) = tail {
                    if fetched + blocks.len() < round {
                        requested = ask.send(tail).is_ok();
                    }
                }
                // The blocks that follow each other are attached as one batch (checked side by
                // side, stored in one transaction); a break in the links ends the round after it.
                let mut linked = Vec::with_capacity(blocks.len());
                let mut tail = (last_hash, last_height);
                let mut broken = None;
                for block in blocks {
                    match Self::check_next(&block, tail.0, tail.1) {
                        Ok(next) => {
                            tail = next;
                            linked.push(block);
                        }
                        Err(reason) => {
                            broken = Some(reason);
                            break;
                        }
                    }
                }
                let batch = self.chain.attach_blocks(linked);
                fetched += batch.outcomes.len();
                if let Some(e) = batch.refused {
                    self.refused(peer, e);
                    return None;
                }
                if let Some(reason) = broken {
                    self.network.report_abnormal(peer, &reason);
                    return None;
                }
                (last_hash, last_height) = tail;
            }
            Some((
                fetched,
                ChainTip {
                    hash: last_hash,
                    height: last_height,
                },
            ))
        })
    }

    /// A downloaded block must follow the previous one: its hash and height, or why it does
    /// not (the caller reports the peer).
    fn check_next(
        block: &BlockWithTransactions,
        last_hash: Hash,
        last_height: i64,
    ) -> Result<(Hash, i64), String> {
        let header = block
            .header
            .as_ref()
            .ok_or("served a block without header")?;
        let parent = header
            .previous_block_hash
            .as_ref()
            .and_then(|h| Hash::from_proto(h).ok());
        let hash = block_hash(header).map_err(|e| format!("served a bad block: {e}"))?;
        if header.height != last_height + 1 || parent != Some(last_hash) {
            return Err(format!(
                "served block {hash} at {} after {last_hash} at {last_height}",
                header.height
            ));
        }
        Ok((hash, header.height))
    }

    /// Downloads `peer`'s chain in rounds until our best chain reaches `target`, the peer has
    /// nothing more, or it serves something inconsistent. True when `target` was reached.
    ///
    /// The first round asks for what follows our best block. When the peer's best chain does
    /// not contain that block (we are on a fork), the download starts again from our LIB,
    /// which every honest peer shares. Every later round goes on from the last block the one
    /// before attached: on a fork the peer's branch stays a side branch until it outgrows ours,
    /// so restarting from our best block would ask for the same blocks again and again.
    fn download(&self, peer: &str, target: i64) -> bool {
        if !self.fetch_checkpoint(peer) {
            return false;
        }
        let batch = self.settings.max_batch_request_block_count.clamp(1, 50) as i32;
        let round = self.settings.max_block_download_count.max(1);
        let mut start = self.chain.best_chain();
        let mut tried_lib = false;
        loop {
            if self.chain.best_chain().height >= target {
                return true;
            }
            let Some((fetched, last)) = self.download_round(peer, start, batch, round) else {
                return false;
            };
            if fetched == 0 {
                let lib = self.chain.last_irreversible();
                if !tried_lib && start.height > lib.height {
                    (start, tried_lib) = (lib, true);
                    continue;
                }
                return self.chain.best_chain().height >= target;
            }
            start = last;
            info!(
                "synced {fetched} blocks from {}: best height {}, downloaded up to {}",
                short_key(peer),
                self.chain.best_chain().height,
                last.height
            );
        }
    }
}
