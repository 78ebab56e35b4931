//! A node's network side in this process ([`TestNode`]: key, handshakes, the network server on
//! a free loopback port, the events it hands up) and the pieces tests assemble themselves: the
//! network core, a network service over a given pool, the reconnection book.

use super::chain::genesis_chain;
use super::{free_port, LEGACY};
use aelf_net::chain::EmbeddedChain;
use std::sync::Arc;
use tempfile::TempDir;

/// A reconnection book with the C# defaults (60 s period, one day).
pub fn test_reconnections() -> Arc<aelf_net::network::reconnection::Reconnections> {
    Arc::new(aelf_net::network::reconnection::Reconnections::new(
        test_reconnection_policy(),
    ))
}

pub fn test_reconnection_policy() -> aelf_net::network::reconnection::ReconnectionPolicy {
    aelf_net::network::reconnection::ReconnectionPolicy {
        period_ms: 60_000,
        max_time_ms: 86_400_000,
        persistent: Vec::new(),
        persistent_max_backoff_ms: 600_000,
    }
}

/// A network service over `pool` and `chain` at `now`, with its reconnection book and the
/// receiving end of its offence reports.
pub fn test_network_service(
    pool: Arc<aelf_net::network::peer_pool::PeerPool>,
    chain: Arc<EmbeddedChain>,
    now: i64,
    sync: aelf_net::network::sync_state::SyncState,
) -> (
    aelf_net::network::service::NetworkService,
    Arc<aelf_net::network::reconnection::Reconnections>,
    crossbeam_channel::Receiver<aelf_net::network::penalty::PenaltyReport>,
) {
    let reconnections = test_reconnections();
    let (reporter, reports) = aelf_net::network::penalty::penalty_queue(1_024);
    let clock: Arc<dyn aelf_net::types::Clock> = Arc::new(aelf_net::types::ManualClock::new(now));
    let (events, _receivers) = aelf_net::network::inbound::network_events(16, 16);
    let inbound = Arc::new(aelf_net::network::inbound::InboundBroadcasts::new(
        pool.clone(),
        chain.clone(),
        clock.clone(),
        events,
        reporter.clone(),
    ));
    let lifecycle = Arc::new(aelf_net::network::lifecycle::PeerLifecycle::new(
        pool.clone(),
        Arc::new(aelf_net::network::node_table::NodeTable::new(512)),
        reconnections.clone(),
        Vec::new(),
        inbound,
        clock.clone(),
    ));
    let service = aelf_net::network::service::NetworkService::new(
        pool,
        chain,
        clock,
        Arc::new(sync),
        lifecycle,
        reporter,
    );
    (service, reconnections, reports)
}

/// A node's pool and core network services around `chain`, synced (it serves and broadcasts at
/// once), with the given pool limits; and the OS layer's event queues they publish to.
pub fn test_core(
    chain: Arc<EmbeddedChain>,
    clock: Arc<dyn aelf_net::types::Clock>,
    limits: aelf_net::network::peer_pool::PoolLimits,
) -> (
    aelf_net::node::core_layer::CoreLayer,
    aelf_net::network::inbound::NetworkEventReceivers,
) {
    aelf_net::node::core_layer::CoreLayer::new(
        chain,
        clock,
        aelf_net::node::core_layer::CoreLayerSettings {
            limits,
            capacities: Default::default(),
            compress_blocks: true,
            boot_nodes: Vec::new(),
            node_table_capacity: 512,
            node_table_subnet_limit: 0,
            sync: Arc::new(aelf_net::network::sync_state::SyncState::finished()),
            reconnection: test_reconnection_policy(),
        },
    )
}

/// One node's network side in this process: key, handshake provider, the gRPC transport on a
/// free loopback port (legacy or stream mode by `version`), and the OS-layer event queues its
/// core publishes to (for tests that look at what the network hands up).
pub struct TestNode {
    pub key: aelf_net::crypto::NodeKey,
    pub handshakes: Arc<aelf_net::network::handshake::HandshakeProvider>,
    pub chain: Arc<EmbeddedChain>,
    pub port: u16,
    pub events: aelf_net::network::inbound::NetworkEventReceivers,
    failures: Option<aelf_net::node::core_layer::FailureHandler>,
    server: Option<aelf_net::grpc::transport::GrpcTransport>,
    _dir: TempDir,
}

impl TestNode {
    /// Announces `version`, any peer may connect, the system clock.
    pub fn start(version: &str) -> TestNode {
        TestNode::start_with(
            version,
            Arc::new(aelf_net::types::SystemClock),
            aelf_net::network::handshake::Authorization::Any,
        )
    }

    /// A legacy-mode node.
    pub fn legacy() -> TestNode {
        TestNode::start(LEGACY)
    }

    pub fn start_with(
        version: &str,
        clock: Arc<dyn aelf_net::types::Clock>,
        auth: aelf_net::network::handshake::Authorization,
    ) -> TestNode {
        use aelf_net::grpc::connection::ConnectionSettings;
        use aelf_net::grpc::transport::{GrpcTransport, GrpcTransportSettings};
        use aelf_net::node::core_layer::FailureHandler;
        use aelf_net::types::NodeVersion;
        let (chain, dir) = genesis_chain();
        let key = aelf_net::crypto::NodeKey::generate();
        let port = free_port();
        let handshakes = Arc::new(aelf_net::network::handshake::HandshakeProvider::new(
            key.clone(),
            chain.clone(),
            port,
            version.into(),
            clock.clone(),
            auth,
        ));
        let (core, events) = test_core(chain.clone(), clock.clone(), Default::default());
        let settings = GrpcTransportSettings {
            listen_address: "127.0.0.1".parse().unwrap(),
            listening_port: port,
            boot_nodes: Vec::new(),
            persistent_peers: Vec::new(),
            goodbye_on_shutdown: true,
            connection: ConnectionSettings {
                dial_timeout: std::time::Duration::from_secs(3),
                max_message_length: 104_857_600,
                stream_min_version: NodeVersion::parse("1.4.0.0").unwrap(),
                node_version: NodeVersion::parse(version).unwrap(),
            },
            completion_queues: 1,
            handshake_workers: 2,
            block_servers: 1,
            stream_servers: 1,
        };
        let failures =
            FailureHandler::start(core.network.clone(), core.failures).expect("net-failures");
        let server = GrpcTransport::start(
            settings,
            handshakes.clone(),
            clock,
            key.pubkey_hex(),
            core.upcalls,
        )
        .expect("start the transport");
        TestNode {
            key,
            handshakes,
            chain,
            port,
            events,
            failures: Some(failures),
            server: Some(server),
            _dir: dir,
        }
    }

    pub fn net(&self) -> &aelf_net::grpc::transport::GrpcTransport {
        self.server.as_ref().expect("running")
    }

    pub fn endpoint(&self) -> aelf_net::network::endpoint::Endpoint {
        aelf_net::network::endpoint::Endpoint {
            host: "127.0.0.1".into(),
            port: self.port,
        }
    }

    /// Dials `other` and expects the connection to be made.
    pub fn connect_to(&self, other: &TestNode) {
        assert!(self
            .net()
            .connections()
            .connect(&other.endpoint())
            .expect("connect"));
    }

    pub fn peer_count(&self) -> usize {
        self.net().connections().pool().len()
    }

    pub fn has_ready_peer(&self, key: &aelf_net::crypto::NodeKey) -> bool {
        self.net()
            .connections()
            .pool()
            .get(&key.pubkey_hex())
            .is_some_and(|p| p.is_ready())
    }

    /// Which end of the stream we are for `key`'s peer, if it is a stream peer: the back
    /// peer is the inbound one.
    pub fn role_of(
        &self,
        key: &aelf_net::crypto::NodeKey,
    ) -> Option<aelf_net::grpc::stream::stream_peer::StreamRole> {
        use aelf_net::grpc::stream::stream_peer::StreamRole;
        use aelf_net::network::peer::PeerMode;
        let peer = self.net().connections().pool().get(&key.pubkey_hex())?;
        (peer.profile().mode == PeerMode::Stream).then(|| {
            if peer.is_inbound() {
                StreamRole::Back
            } else {
                StreamRole::Dialer
            }
        })
    }

    /// The pool's peer for `key`.
    pub fn peer(&self, key: &aelf_net::crypto::NodeKey) -> Arc<dyn aelf_net::network::peer::Peer> {
        self.net()
            .connections()
            .pool()
            .get(&key.pubkey_hex())
            .expect("a pool peer")
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        if let Some(failures) = self.failures.take() {
            failures.stop();
        }
        if let Some(server) = self.server.take() {
            server.stop();
        }
    }
}
