//! `Node`: a running aelf-net node assembled from a [`Config`] — node key, embedded chain,
//! handshake provider, the three layers, the operator API and (when enabled) the development
//! block producer.
//!
//! Owns the start order, the live reload of what can change without a restart, and the ordered
//! stop (also of a start that failed halfway, and on drop). It must not parse command lines or
//! handle signals (that is [`crate::daemon`]'s).
//!
//! * `core_layer` — layer 2 built and wired ([`core_layer::CoreLayer`]), and the
//!   `net-failures` thread.
//! * `settings` — the config mapped onto each component's settings.
//! * `api_backend` — what the operator API reads and does on this node.

mod api_backend;
pub mod core_layer;
mod settings;

use crate::api::{ApiError, ApiServer, BasicAuth};
use crate::chain::{BlockProducer, Chain, ChainError, EmbeddedChain, ProducerSettings};
use crate::config::Config;
use crate::crypto::{load_or_create_key_file, KeyFileError, NodeKey};
use crate::grpc::error::GrpcError;
use crate::grpc::transport::GrpcTransport;
use crate::network::connector::PeerConnector;
use crate::network::discovery::Discovery;
use crate::network::handshake::HandshakeProvider;
use crate::network::lifecycle::PeerLifecycle;
use crate::network::reconnection::Reconnections;
use crate::network::service::NetworkService;
use crate::network::sync_state::{SyncState, INITIAL_SYNC_OFFSET};
use crate::os::announcement_cache::{AnnouncementCache, ANNOUNCEMENT_CACHE_CAPACITY};
use crate::os::block_sync::{BlockSync, SyncSettings};
use crate::os::events::{EventLoop, EventLoopParts};
use crate::os::scheduler::{Scheduler, SchedulerParts};
use crate::os::tx_pool::TxPool;
use crate::types::{chain_id_to_name, Clock};
use api_backend::NodeApi;
use core_layer::{CoreLayer, FailureHandler};
use log::{info, warn};
pub use settings::authorization;
use settings::{core_settings, millis, restart_needed, scheduler_settings, transport_settings};
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

/// A started node. [`Node::shutdown`] (or dropping it) stops its threads in order.
pub struct Node {
    /// The config the node runs with; replaced (the live parts) on reload.
    config: Config,
    key: NodeKey,
    chain: Arc<EmbeddedChain>,
    handshakes: Arc<HandshakeProvider>,
    /// Broadcasting, block requests, the failure policy.
    network_service: Arc<NetworkService>,
    /// Pending transactions (fed by peers and the local entry point).
    tx_pool: Arc<TxPool>,
    /// The operator API; stopped first.
    api: Option<ApiServer>,
    /// Health checks, reconnection, discovery and penalties; stopped before the transport.
    scheduler: Option<Scheduler>,
    /// The `net-failures` thread; stopped before the transport.
    failures: Option<FailureHandler>,
    /// The peer service and connections.
    transport: Option<GrpcTransport>,
    /// The `block-sync` thread; stopped after the transport.
    block_sync: Option<BlockSync>,
    /// The `os-events` thread; stopped after the transport.
    events: Option<EventLoop>,
    /// Present when `[producer] enabled`; stopped after the transport.
    producer: Option<BlockProducer>,
}

impl Node {
    /// Loads (or creates) the node key, opens the chain, builds the layers and starts their
    /// threads. A failure part way stops what had started, in order, before it returns.
    pub fn start(config: Config, clock: Arc<dyn Clock>) -> Result<Node, NodeError> {
        let data_dir = &config.node.data_dir;
        let (key, created) = load_or_create_key_file(data_dir)?;
        if created {
            info!("created a new node key in {}", data_dir.display());
        }
        // A development miner's node key is its development key (the miner signs with the node
        // key, and peers take a pushed block only from its signer).
        let key = match config.producer_key() {
            Some(miner) => {
                info!(
                    "producer on: this node is development miner {} (its key replaces the key file's)",
                    config.producer.miner
                );
                miner
            }
            None => key,
        };
        let chain = Arc::new(EmbeddedChain::open_with(
            data_dir,
            config.chain_settings(),
            config.chain_options(),
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
        let sync_state = Arc::new(SyncState::new(
            i64::try_from(config.network.initial_sync_offset).unwrap_or(INITIAL_SYNC_OFFSET),
        ));
        let (core, network_events) = CoreLayer::new(
            chain.clone(),
            clock.clone(),
            core_settings(&config, sync_state.clone()),
        );
        let CoreLayer {
            lifecycle,
            network,
            upcalls,
            failures,
            penalties,
        } = core;
        let tx_pool = Arc::new(TxPool::new(config.network.transaction_pool_capacity));
        // From here on threads start: should one fail, dropping `node` stops the others.
        let mut node = Node {
            config,
            key,
            chain,
            handshakes,
            network_service: network,
            tx_pool,
            api: None,
            scheduler: None,
            failures: None,
            transport: None,
            block_sync: None,
            events: None,
            producer: None,
        };
        let (config, chain, network) = (
            node.config.clone(),
            node.chain.clone(),
            node.network_service.clone(),
        );
        let thread = |what: &'static str| move |source| NodeError::Thread { what, source };

        let announcements = Arc::new(AnnouncementCache::new(ANNOUNCEMENT_CACHE_CAPACITY));
        let (block_sync, jobs) = BlockSync::start(
            chain.clone(),
            network.clone(),
            announcements.clone(),
            SyncSettings {
                max_block_download_count: config.sync.max_block_download_count,
                max_batch_request_block_count: config.sync.max_batch_request_block_count,
            },
        )
        .map_err(thread("block-sync"))?;
        node.block_sync = Some(block_sync);
        let events = EventLoop::start(EventLoopParts {
            chain: chain.clone(),
            network: network.clone(),
            tx_pool: node.tx_pool.clone(),
            sync: sync_state,
            announcements,
            jobs,
            events: network_events,
            chain_events: chain.subscribe(CHAIN_EVENT_QUEUE),
            producer_pubkey: config
                .producer_key()
                .is_some()
                .then(|| node.key.pubkey_hex()),
        })
        .map_err(thread("os-events"))?;
        node.events = Some(events);

        node.failures =
            Some(FailureHandler::start(network.clone(), failures).map_err(thread("net-failures"))?);
        let transport = GrpcTransport::start(
            transport_settings(&config),
            node.handshakes.clone(),
            clock.clone(),
            node.key.pubkey_hex(),
            upcalls,
        )?;
        let connector = transport.connections().clone() as Arc<dyn PeerConnector>;
        node.transport = Some(transport);
        let scheduler = Scheduler::start(
            SchedulerParts {
                network: network.clone(),
                discovery: Arc::new(Discovery::new(
                    lifecycle.nodes().clone(),
                    node.key.pubkey_hex(),
                )),
                connector: connector.clone(),
                clock: clock.clone(),
            },
            scheduler_settings(&config),
            config.threads.scheduler_workers,
            penalties,
        )
        .map_err(thread("scheduler"))?;
        node.scheduler = Some(scheduler);

        // `producer_key` is the one place that decides whether this node mines.
        let mining = config.producer_key().is_some();
        if config.producer.enabled && !mining {
            warn!("[producer] enabled is ignored in follow mode: a follower does not mine");
        }
        if mining {
            let settings = ProducerSettings {
                miner_key: node.key.clone(),
                transactions_per_block: config.producer.transactions_per_block,
            };
            info!(
                "block producer on: development miner {} of {}, {} ms slots, {} synthetic transactions per block",
                config.producer.miner,
                config.chain.miners,
                config.chain.mining_interval_ms,
                settings.transactions_per_block
            );
            if config.producer.miner > config.chain.miners {
                warn!(
                    "[producer] miner {} is above [chain] miners = {}: it never produces",
                    config.producer.miner, config.chain.miners
                );
            }
            let producer = BlockProducer::start(
                chain.clone(),
                settings,
                clock,
                node.tx_pool.clone(),
                // Our blocks are broadcast by the event thread when the chain accepts them.
                Box::new(|_| {}),
            )
            .map_err(thread("producer"))?;
            node.producer = Some(producer);
        }

        let api = ApiServer::start(
            config.api.listen,
            Arc::new(NodeApi {
                chain: chain.clone(),
                tx_pool: node.tx_pool.clone(),
                network: network.clone(),
                connector,
                node_version: config.node.node_version.to_string(),
                ban_duration_ms: millis(config.reputation.ban_duration_ms),
                genesis_contract_address: config.chain.genesis_contract_address.clone(),
            }),
            config.threads.api_workers,
            BasicAuth::new(
                config.api.basic_auth_user.clone(),
                config.api.basic_auth_password.clone(),
            ),
        )?;
        node.api = Some(api);
        Ok(node)
    }

    /// The running gRPC transport.
    pub fn transport(&self) -> Option<&GrpcTransport> {
        self.transport.as_ref()
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

    /// Where peers enter and leave the pool.
    pub fn lifecycle(&self) -> &Arc<PeerLifecycle> {
        self.network_service.lifecycle()
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
    /// failure handler, the transport (peers are removed for shutdown), the sync and event
    /// threads, the producer (no new blocks); the chain store closes when the node is dropped.
    pub fn shutdown(mut self) {
        let started = Instant::now();
        self.stop_threads();
        info!("node stopped in {} ms", started.elapsed().as_millis());
    }

    /// Stops, in order, whichever threads are running; nothing when none is.
    fn stop_threads(&mut self) {
        if let Some(api) = self.api.take() {
            api.stop();
        }
        if let Some(scheduler) = self.scheduler.take() {
            scheduler.stop();
        }
        if let Some(failures) = self.failures.take() {
            failures.stop();
        }
        if let Some(transport) = self.transport.take() {
            transport.stop();
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
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.stop_threads();
    }
}

/// Chain events waiting for the event thread at most (more are dropped and counted by the
/// chain; the next block's events carry the state forward).
const CHAIN_EVENT_QUEUE: usize = 1_024;
