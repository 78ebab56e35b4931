//! `NodeApi`: the operator API's backend on a running node — what each route reads from the
//! chain, the pool and the transaction pool, and the operator's commands (add or remove a
//! peer, ban or unban a host), carried out through the same layer-2 calls the node uses.
//!
//! Transactions sent through the API are decoded and their signatures checked here first (as
//! the C# web API does before publishing), then handed to the pool through
//! [`submit_transaction`]. A transaction's status is looked up in the pool, then in the last
//! [`TX_SEARCH_DEPTH`] blocks of the best chain (the chain keeps no transaction index): memory
//! stays bounded, and a transaction included deeper is reported as not existing.
//!
//! Owns the translation between the API's shapes ([`crate::api`]) and the node's objects. It
//! must not keep state of its own or start threads (the API server's workers call it).

use crate::api::{ApiBackend, ChainStatus, PeerSummary, TxRefusal, TxStatus};
use crate::chain::{Chain, EmbeddedChain};
use crate::crypto::recover_pubkey;
use crate::metrics::{metrics, StateSnapshot};
use crate::network::blacklist::Ban;
use crate::network::broadcast::QueueKind;
use crate::network::connector::PeerConnector;
use crate::network::endpoint::Endpoint;
use crate::network::handshake::PROTOCOL_VERSION;
use crate::network::lifecycle::Removal;
use crate::network::node_table::NodeRecord;
use crate::network::reconnection::ReconnectingPeer;
use crate::network::service::NetworkService;
use crate::os::events::submit_transaction;
use crate::os::tx_pool::{TxPool, TxRejection};
use crate::pb::aelf_core::Transaction;
use crate::pb::network_types::BlockWithTransactions;
use crate::types::{chain_id_to_name, transaction_id, Address, Hash};
use log::info;
use protobuf::Message;
use std::collections::HashMap;
use std::sync::Arc;

/// A host removed through the API stays banned this long (C# `int.MaxValue` seconds); an
/// operator lifts it with `DELETE /api/net/bans`.
const REMOVED_PEER_BAN_MS: i64 = i32::MAX as i64 * 1000;

/// Blocks below and including the best one searched for a transaction's status: the C#
/// node's reference-block validity period (`KernelConstants.ReferenceBlockValidPeriod`), the
/// span within which a transaction can be included after the block it refers to.
pub const TX_SEARCH_DEPTH: i64 = 512;

/// `raw` decoded, with its id, when its signature recovers to its `From` address (C#
/// `Transaction.VerifySignature`).
fn checked_transaction(raw: &[u8]) -> Result<(Transaction, Hash), TxRefusal> {
    let tx = Transaction::parse_from_bytes(raw)
        .map_err(|e| TxRefusal::Invalid(format!("not an aelf.Transaction: {e}")))?;
    let id = transaction_id(&tx).map_err(|e| TxRefusal::Invalid(e.to_string()))?;
    let Some(from) = tx.from.as_ref() else {
        return Err(TxRefusal::Invalid(format!(
            "transaction {id} has no From address"
        )));
    };
    let signed_by = recover_pubkey(&id, &tx.signature)
        .map(|pubkey| Address::from_pubkey(&pubkey))
        .map_err(|e| TxRefusal::BadSignature(format!("transaction {id}: {e}")))?;
    if signed_by.0.as_slice() != from.value.as_slice() {
        return Err(TxRefusal::BadSignature(format!(
            "transaction {id} is not signed by its From address"
        )));
    }
    Ok((tx, id))
}

/// What the operator API reads and does on this node.
pub(super) struct NodeApi {
    pub chain: Arc<EmbeddedChain>,
    pub tx_pool: Arc<TxPool>,
    pub network: Arc<NetworkService>,
    /// Dials for `add_peer`.
    pub connector: Arc<dyn PeerConnector>,
    /// `[node] node_version`, shown as the node's version.
    pub node_version: String,
    /// `[reputation] ban_duration_ms`: an operator's ban without a duration.
    pub ban_duration_ms: i64,
    /// `[chain] genesis_contract_address`, shown in the chain status.
    pub genesis_contract_address: Option<String>,
}

impl ApiBackend for NodeApi {
    fn chain_status(&self) -> ChainStatus {
        let (best, lib) = (self.chain.best_chain(), self.chain.last_irreversible());
        ChainStatus {
            chain_id: chain_id_to_name(self.chain.chain_id()).unwrap_or_default(),
            genesis_block_hash: self.chain.genesis_hash(),
            best_chain_hash: best.hash,
            best_chain_height: best.height,
            last_irreversible_block_hash: lib.hash,
            last_irreversible_block_height: lib.height,
            branches: self
                .chain
                .branches()
                .into_iter()
                .map(|t| (t.hash, t.height))
                .collect(),
            genesis_contract_address: self.genesis_contract_address.clone(),
        }
    }

    fn block_by_hash(&self, hash: &Hash) -> Result<Option<BlockWithTransactions>, String> {
        self.chain.block_by_hash(hash).map_err(|e| e.to_string())
    }

    fn block_by_height(&self, height: i64) -> Result<Option<BlockWithTransactions>, String> {
        self.chain
            .block_by_height(height)
            .map_err(|e| e.to_string())
    }

    fn send_transactions(&self, raws: &[Vec<u8>]) -> Result<Vec<Hash>, TxRefusal> {
        let numbered = |i: usize, reason: String| {
            if raws.len() > 1 {
                format!("transaction {i} of the batch: {reason}; none was sent")
            } else {
                reason
            }
        };
        let mut checked = Vec::with_capacity(raws.len());
        for (i, raw) in raws.iter().enumerate() {
            match checked_transaction(raw) {
                Ok(tx) => checked.push(tx),
                Err(TxRefusal::BadSignature(r)) => {
                    return Err(TxRefusal::BadSignature(numbered(i, r)))
                }
                Err(TxRefusal::Invalid(r)) => return Err(TxRefusal::Invalid(numbered(i, r))),
                Err(TxRefusal::Busy(r)) => return Err(TxRefusal::Busy(numbered(i, r))),
            }
        }
        let mut ids = Vec::with_capacity(checked.len());
        for (tx, id) in checked {
            let sent_before = || match ids.len() {
                0 => String::new(),
                n => format!(" ({n} sent before it)"),
            };
            match submit_transaction(&self.tx_pool, self.chain.as_ref(), &self.network, tx) {
                Ok(id) => ids.push(id),
                // Sent before (a client's retry), or already in a block: the C# node answers
                // the id again and so does this one.
                Err(TxRejection::Duplicate(_)) => ids.push(id),
                Err(e @ TxRejection::Full(_)) => {
                    return Err(TxRefusal::Busy(format!("{e}{}", sent_before())))
                }
                Err(TxRejection::BadSignature(_)) => {
                    return Err(TxRefusal::BadSignature(format!(
                        "bad signature on transaction {id}{}",
                        sent_before()
                    )))
                }
                Err(other) => return Err(TxRefusal::Invalid(format!("{other}{}", sent_before()))),
            }
        }
        Ok(ids)
    }

    fn transaction_status(&self, id: &Hash) -> Result<TxStatus, String> {
        if self.tx_pool.contains(id) {
            return Ok(TxStatus::Pending);
        }
        let best = self.chain.best_chain().height;
        let lowest = best.saturating_sub(TX_SEARCH_DEPTH - 1).max(1);
        for height in (lowest..=best).rev() {
            let Some(block) = self
                .chain
                .block_by_height(height)
                .map_err(|e| e.to_string())?
            else {
                // The best chain moved down meanwhile (a reorganisation): search what is left.
                continue;
            };
            for tx in &block.transactions {
                if transaction_id(tx).ok().as_ref() == Some(id) {
                    let header = block.header.get_or_default();
                    let block_hash = crate::types::block_hash(header).map_err(|e| e.to_string())?;
                    return Ok(TxStatus::Included {
                        block_hash,
                        block_height: header.height,
                        transaction: tx.clone(),
                    });
                }
            }
        }
        Ok(TxStatus::Unknown)
    }

    fn transaction_pool_size(&self) -> usize {
        self.tx_pool.len()
    }

    fn peers(&self) -> Vec<PeerSummary> {
        self.network
            .pool()
            .peers(true)
            .iter()
            .map(|p| {
                let profile = p.profile();
                let knowledge = p.knowledge();
                let chain = knowledge.chain_state();
                PeerSummary {
                    endpoint: p.endpoint().to_string(),
                    pubkey: p.pubkey_hex().to_owned(),
                    protocol_version: profile.protocol_version,
                    node_version: profile.node_version,
                    connection_time_ms: p.connection_time(),
                    connection_status: profile.connection_status,
                    inbound: p.is_inbound(),
                    mode: profile.mode.name(),
                    queues: p.queue_stats(),
                    request_metrics: knowledge
                        .metrics()
                        .snapshot()
                        .into_iter()
                        .flat_map(|(_, list)| list)
                        .collect(),
                    best_height: chain.best_height,
                    lib_height: chain.lib_height,
                    sync_finished: knowledge.is_sync_finished(),
                }
            })
            .collect()
    }

    fn versions(&self) -> (String, i32) {
        (self.node_version.clone(), PROTOCOL_VERSION)
    }

    fn add_peer(&self, endpoint: &Endpoint) -> bool {
        if self.network.pool().blacklist().remove(&endpoint.host) {
            info!("api: {} is no longer banned", endpoint.host);
        }
        match self.connector.dial(endpoint) {
            Ok(joined) => {
                info!(
                    "api: add peer {endpoint}: {}",
                    if joined { "connected" } else { "not dialed" }
                );
                joined
            }
            Err(e) => {
                info!("api: add peer {endpoint} failed: {e}");
                false
            }
        }
    }

    fn remove_peer(&self, endpoint: &Endpoint) -> bool {
        self.network.reconnections().cancel(endpoint);
        let Some(peer) = self.network.pool().find_by_endpoint(endpoint) else {
            return false;
        };
        let now = self.network.now();
        self.network.pool().blacklist().ban(
            &endpoint.host,
            REMOVED_PEER_BAN_MS,
            "removed by an operator",
            now,
        );
        self.network.lifecycle().remove(&peer, Removal::Operator);
        info!("api: removed peer {endpoint}; its host is banned until unbanned");
        true
    }

    fn bans(&self) -> Vec<Ban> {
        self.network.pool().blacklist().bans(self.network.now())
    }

    fn ban(&self, host: &str, duration_ms: Option<i64>, reason: &str) -> (i64, usize) {
        let now = self.network.now();
        let duration = duration_ms.unwrap_or(self.ban_duration_ms);
        let blacklist = self.network.pool().blacklist();
        // An operator's ban replaces any ban the host already has.
        blacklist.remove(host);
        blacklist.ban(host, duration, reason, now);
        let expiry = blacklist
            .expiry(host, now)
            .unwrap_or(now.saturating_add(duration));
        let disconnected = self
            .network
            .lifecycle()
            .remove_host(host, Removal::Operator);
        info!(
            "api: banned {host} for {duration} ms ({reason}); {disconnected} peer(s) disconnected"
        );
        (expiry, disconnected)
    }

    fn unban(&self, host: &str) -> bool {
        let lifted = self.network.pool().blacklist().remove(host);
        if lifted {
            info!("api: unbanned {host}");
        }
        lifted
    }

    fn nodes(&self) -> Vec<NodeRecord> {
        self.network.lifecycle().nodes().records()
    }

    fn reconnections(&self) -> Vec<ReconnectingPeer> {
        self.network.reconnections().list()
    }

    fn metrics(&self) -> String {
        let mut peers: HashMap<(&'static str, &'static str), i64> = HashMap::new();
        let mut queue_depth = [0i64; 3];
        for p in self.network.pool().peers(true) {
            let direction = if p.is_inbound() {
                "inbound"
            } else {
                "outbound"
            };
            *peers
                .entry((direction, p.profile().mode.name()))
                .or_default() += 1;
            let stats = p.queue_stats();
            for kind in QueueKind::ALL {
                queue_depth[kind.index()] += stats.of(kind).buffered as i64;
            }
        }
        let (best, lib) = (self.chain.best_chain(), self.chain.last_irreversible());
        metrics().render(&StateSnapshot {
            peers: peers.into_iter().map(|((d, m), n)| (d, m, n)).collect(),
            queue_depth,
            bans: self.bans().len() as i64,
            node_table: self.network.lifecycle().nodes().len() as i64,
            reconnections_pending: self.network.reconnections().len() as i64,
            best_chain_height: best.height,
            lib_height: lib.height,
            transaction_pool: self.tx_pool.len() as i64,
        })
    }
}
