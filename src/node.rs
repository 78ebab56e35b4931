//! `Node`: a running aelf-net node assembled from a [`Config`]: node key, embedded chain,
//! handshake provider and (when enabled) the development block producer.
//!
//! Owns the start order, the live reload of what can change without a restart, and the ordered
//! shutdown. It must not parse command lines or handle signals (that is [`crate::daemon`]'s).

use crate::api::{ApiBackend, ApiError, ApiServer, BasicAuth, ChainStatus, PeerSummary};
use crate::chain::{BlockProducer, Chain, ChainError, EmbeddedChain, ProducerSettings};
use crate::config::{AuthorizedPeers, Config, NetworkConfig};
use crate::crypto::{load_or_create_key_file, KeyFileError, NodeKey};
use crate::grpc::connection::{ConnectionService, ConnectionSettings};
use crate::grpc::error::GrpcError;
use crate::grpc::network_server::{NetworkServer, NetworkServerSettings};
use crate::grpc::services::{NetworkCore, NetworkCoreSettings};
use crate::metrics::{metrics, StateSnapshot};
use crate::network::blacklist::Ban;
use crate::network::broadcast::{QueueCapacities, QueueKind};
use crate::network::connector::PeerConnector;
use crate::network::discovery::Discovery;
use crate::network::endpoint::Endpoint;
use crate::network::handshake::{Authorization, HandshakeProvider, PROTOCOL_VERSION};
use crate::network::node_table::NodeRecord;
use crate::network::peer_pool::PoolLimits;
use crate::network::penalty::{OffenceWeights, PenaltySettings};
use crate::network::reconnection::{ReconnectingPeer, ReconnectionPolicy, Reconnections};
use crate::network::service::NetworkService;
use crate::network::sync_state::{SyncState, INITIAL_SYNC_OFFSET};
use crate::os::announcement_cache::{AnnouncementCache, ANNOUNCEMENT_CACHE_CAPACITY};
use crate::os::block_sync::{BlockSync, SyncSettings};
use crate::os::events::{submit_transaction, EventLoop, EventLoopParts};
use crate::os::scheduler::{Scheduler, SchedulerParts, SchedulerSettings};
use crate::os::tx_pool::TxPool;
use crate::pb::aelf_core::Transaction;
use crate::pb::network_types::BlockWithTransactions;

use crate::types::{chain_id_to_name, Clock, Hash};
use log::{info, warn};
use protobuf::Message;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;
use thiserror::Error;

/// Why a node could not start.
#[derive(Debug, Error)]
pub enum NodeError {
    #[error(transparent)]
    KeyFile(#[from] KeyFileError),
    #[error("cannot open the chain: {0}")]
    Chain(#[from] ChainError),
    #[error("cannot start the network: {0}")]
    Network(#[from] GrpcError),
    #[error("cannot start the operator API: {0}")]
    Api(#[from] ApiError),
    #[error("cannot start the {what} thread: {source}")]
    Thread {
        what: &'static str,
        source: std::io::Error,
    },
}

/// A started node. Dropping it without [`Node::shutdown`] still closes the store, but skips the
/// ordered stop of its threads.
pub struct Node {
    /// The config the node runs with; replaced (the live parts) on reload.
    config: Config,
    key: NodeKey,
    chain: Arc<EmbeddedChain>,
    handshakes: Arc<HandshakeProvider>,
    /// The peer service and connections; stopped first on shutdown.
    network: Option<NetworkServer>,
    /// Broadcasting, block requests, the failure policy.
    network_service: Arc<NetworkService>,
    /// Pending transactions (fed by peers and the local entry point).
    tx_pool: Arc<TxPool>,
    /// Health checks, reconnection, discovery and penalties; stopped before the network.
    scheduler: Option<Scheduler>,
    /// The `block-sync` thread; stopped after the network.
    block_sync: Option<BlockSync>,
    /// The `os-events` thread; stopped after the network.
    events: Option<EventLoop>,
    /// Present when `[producer] enabled`; stopped after the network.
    producer: Option<BlockProducer>,
    /// The operator API; stopped first.
    api: Option<ApiServer>,
}

impl Node {
    /// Loads (or creates) the node key, opens the chain and starts the producer.
    pub fn start(config: Config, clock: Arc<dyn Clock>) -> Result<Node, NodeError> {
        let data_dir = &config.node.data_dir;
        let (key, created) = load_or_create_key_file(data_dir)?;
        if created {
            info!("created a new node key in {}", data_dir.display());
        }
        let chain = Arc::new(EmbeddedChain::open_with(
            data_dir,
            config.chain_settings(),
            config.store_options(),
        )?);
        let name = chain_id_to_name(config.node.chain_id).unwrap_or_else(|| "?".into());
        info!("node pubkey {}", key.pubkey_hex());
        info!("node address {}", key.address());
        info!(
            "chain id {name} ({}), genesis hash {}",
            config.node.chain_id,
            chain.genesis_hash()
        );
        let (best, lib) = (chain.best_chain(), chain.last_irreversible());
        info!(
            "best chain height {} hash {}, last irreversible height {} hash {}",
            best.height, best.hash, lib.height, lib.hash
        );

        let handshakes = Arc::new(HandshakeProvider::new(
            key.clone(),
            chain.clone(),
            config.network.listening_port,
            config.node.node_version.to_string(),
            clock.clone(),
            authorization(&config.network),
        ));

        let thread = |what: &'static str| move |source| NodeError::Thread { what, source };
        let sync_state = Arc::new(SyncState::new(
            i64::try_from(config.network.initial_sync_offset).unwrap_or(INITIAL_SYNC_OFFSET),
        ));
        let (core, network_events) = NetworkCore::new(
            chain.clone(),
            clock.clone(),
            core_settings(&config, sync_state.clone()),
        );
        let network_service = core.services.network.clone();
        let penalties = core.penalties.clone();
        let tx_pool = Arc::new(TxPool::new(config.network.transaction_pool_capacity));
        let announcements = Arc::new(AnnouncementCache::new(ANNOUNCEMENT_CACHE_CAPACITY));
        let (block_sync, jobs) = BlockSync::start(
            chain.clone(),
            network_service.clone(),
            announcements.clone(),
            SyncSettings {
                max_block_download_count: config.sync.max_block_download_count,
                max_batch_request_block_count: config.sync.max_batch_request_block_count,
            },
        )
        .map_err(thread("block-sync"))?;
        let events = EventLoop::start(EventLoopParts {
            chain: chain.clone(),
            network: network_service.clone(),
            tx_pool: tx_pool.clone(),
            sync: sync_state,
            announcements,
            jobs,
            events: network_events,
            chain_events: chain.subscribe(CHAIN_EVENT_QUEUE),
            producer_pubkey: config.producer.enabled.then(|| key.pubkey_hex()),
        })
        .map_err(thread("os-events"))?;

        let network = NetworkServer::start(
            network_settings(&config),
            handshakes.clone(),
            clock.clone(),
            key.pubkey_hex(),
            core,
        )?;
        let connections = network.connections().clone();
        let scheduler = Scheduler::start(
            SchedulerParts {
                network: network_service.clone(),
                discovery: Arc::new(Discovery::new(
                    connections.nodes().clone(),
                    key.pubkey_hex(),
                )),
                connector: connections as Arc<dyn PeerConnector>,
                clock: clock.clone(),
            },
            scheduler_settings(&config),
            config.threads.scheduler_workers,
            penalties,
        )
        .map_err(thread("scheduler"))?;

        let producer = if config.producer.enabled {
            let settings = ProducerSettings {
                interval_ms: config.producer.interval_ms,
                transactions_per_block: config.producer.transactions_per_block,
            };
            info!(
                "block producer on: every {} ms, {} synthetic transactions per block",
                settings.interval_ms, settings.transactions_per_block
            );
            let producer = BlockProducer::start(
                chain.clone(),
                key.clone(),
                settings,
                clock,
                tx_pool.clone(),
                // Our blocks are broadcast by the event thread when the chain accepts them.
                Box::new(|_| {}),
            )
            .map_err(thread("producer"))?;
            Some(producer)
        } else {
            None
        };

        let api = ApiServer::start(
            config.api.listen,
            Arc::new(NodeApi {
                chain: chain.clone(),
                tx_pool: tx_pool.clone(),
                network: network_service.clone(),
                connections: network.connections().clone(),
                node_version: config.node.node_version.to_string(),
                ban_duration_ms: millis(config.reputation.ban_duration_ms),
            }),
            config.threads.api_workers,
            BasicAuth::new(
                config.api.basic_auth_user.clone(),
                config.api.basic_auth_password.clone(),
            ),
        )?;

        Ok(Node {
            api: Some(api),
            config,
            key,
            chain,
            handshakes,
            network: Some(network),
            network_service,
            tx_pool,
            scheduler: Some(scheduler),
            block_sync: Some(block_sync),
            events: Some(events),
            producer,
        })
    }

    /// The running network server.
    pub fn network(&self) -> Option<&NetworkServer> {
        self.network.as_ref()
    }

    pub fn key(&self) -> &NodeKey {
        &self.key
    }

    pub fn chain(&self) -> &Arc<EmbeddedChain> {
        &self.chain
    }

    pub fn handshakes(&self) -> &Arc<HandshakeProvider> {
        &self.handshakes
    }

    pub fn network_service(&self) -> &Arc<NetworkService> {
        &self.network_service
    }

    pub fn tx_pool(&self) -> &Arc<TxPool> {
        &self.tx_pool
    }

    /// Lost peers waiting to be dialed again.
    pub fn reconnections(&self) -> &Arc<Reconnections> {
        self.network_service.reconnections()
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Applies what can change live (log level, authorized peers and keys) and names, in the
    /// log, each changed section that only takes effect after a restart.
    pub fn reload(&mut self, new: Config) {
        if new.log.level != self.config.log.level {
            crate::logging::set_level(new.log.level);
            info!("reload: log level is now {}", new.log.level);
        }
        let auth = authorization(&new.network);
        if auth != self.handshakes.authorization() {
            self.handshakes.set_authorization(auth);
            info!("reload: authorized peers updated");
        }
        let pending = restart_needed(&self.config, &new);
        if pending.is_empty() {
            info!("reload: configuration applied");
        } else {
            warn!(
                "reload: changes to {} take effect after a restart",
                pending.join(", ")
            );
        }
        self.config.log.level = new.log.level;
        self.config.network.authorized_peers = new.network.authorized_peers;
        self.config.network.authorized_keys = new.network.authorized_keys;
    }

    /// Ordered stop: the operator API (no new transactions), the scheduler (no new dials), the
    /// network (peers are told
    /// goodbye), the sync and event threads, the producer (no new blocks), then the chain
    /// store is closed.
    pub fn shutdown(mut self) {
        let started = Instant::now();
        if let Some(api) = self.api.take() {
            api.stop();
        }
        if let Some(scheduler) = self.scheduler.take() {
            scheduler.stop();
        }
        if let Some(network) = self.network.take() {
            network.stop();
        }
        if let Some(block_sync) = self.block_sync.take() {
            block_sync.stop();
        }
        if let Some(events) = self.events.take() {
            events.stop();
        }
        if let Some(producer) = self.producer.take() {
            producer.stop();
        }
        drop(self.handshakes);
        drop(self.chain);
        info!("node stopped in {} ms", started.elapsed().as_millis());
    }
}

/// A host removed through the API stays banned this long (C# `int.MaxValue` seconds); an
/// operator lifts it with `DELETE /api/net/bans`.
const REMOVED_PEER_BAN_MS: i64 = i32::MAX as i64 * 1000;

/// What the operator API reads and does on this node.
struct NodeApi {
    chain: Arc<EmbeddedChain>,
    tx_pool: Arc<TxPool>,
    network: Arc<NetworkService>,
    connections: Arc<ConnectionService>,
    /// `[node] node_version`, shown as the node's version.
    node_version: String,
    /// `[reputation] ban_duration_ms`: an operator's ban without a duration.
    ban_duration_ms: i64,
}

impl NodeApi {
    /// Disconnects (gracefully) every pool peer on `host`; how many.
    fn disconnect_host(&self, host: &str) -> usize {
        let peers = self.network.pool().peers_by_host(host);
        let lifecycle = self.connections.lifecycle();
        peers
            .iter()
            .filter(|p| lifecycle.disconnect_by_pubkey(p.pubkey_hex(), true))
            .count()
    }
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

    fn send_transaction(&self, raw: &[u8]) -> Result<Hash, String> {
        let tx =
            Transaction::parse_from_bytes(raw).map_err(|e| format!("not a transaction: {e}"))?;
        submit_transaction(&self.tx_pool, &self.network, tx).map_err(|e| e.to_string())
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
        match self.connections.connect(endpoint) {
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
        self.connections
            .lifecycle()
            .disconnect_by_pubkey(peer.pubkey_hex(), true);
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
        let disconnected = self.disconnect_host(host);
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
        self.connections.nodes().records()
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
            node_table: self.connections.nodes().len() as i64,
            reconnections_pending: self.network.reconnections().len() as i64,
            best_chain_height: best.height,
            lib_height: lib.height,
            transaction_pool: self.tx_pool.len() as i64,
        })
    }
}

/// Chain events waiting for the event thread at most (more are dropped and counted by the
/// chain; the next block's events carry the state forward).
const CHAIN_EVENT_QUEUE: usize = 1_024;

/// What the pool and the core network services take from the config.
fn core_settings(config: &Config, sync: Arc<SyncState>) -> NetworkCoreSettings {
    let n = &config.network;
    NetworkCoreSettings {
        limits: PoolLimits {
            max_peers: n.max_peers,
            max_peers_per_ip_address: n.max_peers_per_ip_address,
            max_inbound_peers: n.max_inbound_peers,
            max_outbound_peers: n.max_outbound_peers,
        },
        capacities: QueueCapacities {
            blocks: n.block_queue_capacity,
            transactions: n.transaction_queue_capacity,
            announcements: n.announcement_queue_capacity,
        },
        compress_blocks: n.compress_blocks_on_request,
        boot_nodes: n.boot_nodes.clone(),
        sync,
        reconnection: ReconnectionPolicy {
            period_ms: millis(n.peer_reconnection_period_ms),
            max_time_ms: millis(n.maximum_reconnection_time_ms),
            persistent: n.persistent_peers.clone(),
            persistent_max_backoff_ms: millis(n.persistent_peer_max_backoff_ms),
        },
    }
}

/// A config duration in ms as the signed milliseconds the core uses (saturating).
fn millis(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}

/// What the scheduler takes from the config.
fn scheduler_settings(config: &Config) -> SchedulerSettings {
    let (n, r) = (&config.network, &config.reputation);
    SchedulerSettings {
        health_check_period_ms: millis(n.peer_reconnection_period_ms),
        discovery_period_ms: millis(n.peer_discovery_period_ms),
        discovery_enabled: n.enable_peer_discovery,
        stalled_send_timeout_ms: n.stalled_send_timeout_ms,
        penalties: PenaltySettings {
            invalid_transaction_limit: n.peer_invalid_transaction_limit as usize,
            invalid_transaction_window_ms: millis(n.peer_invalid_transaction_timeout_ms),
            ban_duration_ms: millis(r.ban_duration_ms),
            half_life_ms: millis(r.half_life_ms),
            disconnect_threshold: r.disconnect_threshold,
            ban_threshold: r.ban_threshold,
            weights: OffenceWeights {
                invalid_transaction: r.invalid_transaction_penalty,
                bad_signature: r.bad_signature_penalty,
                malformed_message: r.malformed_message_penalty,
                inconsistent_blocks: r.inconsistent_blocks_penalty,
                request_timeout: r.request_timeout_penalty,
            },
        },
    }
}

/// What the network server takes from the config.
fn network_settings(config: &Config) -> NetworkServerSettings {
    let n = &config.network;
    NetworkServerSettings {
        listen_address: n.listen_address,
        listening_port: n.listening_port,
        boot_nodes: n.boot_nodes.clone(),
        persistent_peers: n.persistent_peers.clone(),
        node_table_capacity: n.peer_discovery_max_nodes_to_keep as usize,
        node_table_subnet_limit: n.peer_discovery_max_nodes_per_subnet as usize,
        connection: ConnectionSettings {
            dial_timeout: std::time::Duration::from_millis(n.peer_dial_timeout_ms),
            max_message_length: n.max_message_size,
            stream_min_version: n.support_stream_min_version,
            node_version: config.node.node_version,
        },
        completion_queues: config.threads.grpc_completion_queues,
        handshake_workers: config.threads.handshake_workers,
        block_servers: config.threads.block_servers,
    }
}

/// The handshake authorization policy of a `[network]` section.
pub fn authorization(network: &NetworkConfig) -> Authorization {
    match network.authorized_peers {
        AuthorizedPeers::Any => Authorization::Any,
        AuthorizedPeers::Authorized => {
            Authorization::Only(network.authorized_keys.iter().copied().collect())
        }
    }
}

/// Sections (or keys) whose change needs a restart.
fn restart_needed(old: &Config, new: &Config) -> Vec<&'static str> {
    let without_live = |n: &NetworkConfig| NetworkConfig {
        authorized_peers: AuthorizedPeers::Any,
        authorized_keys: Vec::new(),
        ..n.clone()
    };
    let mut changed = Vec::new();
    if old.node != new.node {
        changed.push("[node]");
    }
    if without_live(&old.network) != without_live(&new.network) {
        changed.push("[network]");
    }
    if old.chain != new.chain {
        changed.push("[chain]");
    }
    if old.reputation != new.reputation {
        changed.push("[reputation]");
    }
    if old.sync != new.sync {
        changed.push("[sync]");
    }
    if old.producer != new.producer {
        changed.push("[producer]");
    }
    if old.api != new.api {
        changed.push("[api]");
    }
    if old.threads != new.threads {
        changed.push("[threads]");
    }
    if old.log.file != new.log.file {
        changed.push("log.file");
    }
    changed
}
