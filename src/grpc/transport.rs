//! `GrpcTransport`: the running gRPC side of a node — the TLS `PeerService` server, the
//! connection service and the start-up dialer — started and stopped in order.
//!
//! Owns the threads of layer 1: grpcio's completion-queue threads (`grpc-server-*`,
//! `grpc-client-*`), the `handshake-<i>`, `block-server-<i>` and `stream-server-<i>` (at a
//! lowered priority) workers and the `dialer`. It is transport only: the layer-2 objects it
//! hands things to come in as [`Upcalls`], built by [`crate::node`], which also drains the
//! peers' failure reports. Periodic work (expiry of unconfirmed peers, health checks,
//! reconnection, discovery) is the OS layer's scheduler, which reaches the transport through
//! [`crate::network::connector::PeerConnector`]. It must not touch the chain beyond what the
//! handshake provider reads.

use super::channel::server_channel_args;
use super::connection::{ConnectionService, ConnectionSettings};
use super::error::GrpcError;
use super::server::auth::AuthChecker;
use super::server::{PeerServiceImpl, BLOCK_SERVER_QUEUE, HANDSHAKE_QUEUE};
use super::stream::dispatch::STREAM_SERVER_QUEUE;
use super::tls::{server_credentials, TlsIdentity};
use super::upcalls::Upcalls;
use crate::network::endpoint::Endpoint;
use crate::network::handshake::HandshakeProvider;
use crate::network::lifecycle::Removal;
use crate::pb::peer_service_grpc::create_peer_service;
use crate::thread::WorkerPool;
use crate::types::Clock;
use crossbeam_channel::{bounded, Sender};
use grpcio::{EnvBuilder, Environment, Server, ServerBuilder};
use log::{info, warn};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::thread::JoinHandle;

/// How much lower the `stream-server-<i>` threads run than the rest (nice value): when the
/// cores are busy, a peer's health check is answered before the next batch of blocks is read.
pub const STREAM_SERVER_NICENESS: i32 = 10;

/// What the transport needs to start.
#[derive(Debug, Clone)]
pub struct GrpcTransportSettings {
    pub listen_address: IpAddr,
    pub listening_port: u16,
    pub boot_nodes: Vec<Endpoint>,
    /// `[network] persistent_peers`: dialed at start with the boot nodes.
    pub persistent_peers: Vec<Endpoint>,
    /// `[network] goodbye_on_shutdown`: tell every peer goodbye when stopping (the C# node
    /// does not).
    pub goodbye_on_shutdown: bool,
    pub connection: ConnectionSettings,
    /// `[threads] grpc_completion_queues`: for the server and for our outgoing channels each.
    pub completion_queues: usize,
    /// `[threads] handshake_workers`.
    pub handshake_workers: usize,
    /// `[threads] block_servers`.
    pub block_servers: usize,
    /// `[threads] stream_servers`: the block reads stream peers ask for.
    pub stream_servers: usize,
}

/// A started transport. [`GrpcTransport::stop`] stops it in order.
pub struct GrpcTransport {
    server: Server,
    connections: Arc<ConnectionService>,
    workers: WorkerPool,
    block_servers: WorkerPool,
    /// Whether [`GrpcTransport::stop`] tells peers goodbye.
    goodbye_on_shutdown: bool,
    stream_servers: WorkerPool,
    /// Dropping it stops the dialer.
    stop: Option<Sender<()>>,
    threads: Vec<JoinHandle<()>>,
    local_addr: SocketAddr,
}

impl GrpcTransport {
    /// Binds the TLS server (a fresh self-signed certificate), then dials the boot nodes and
    /// persistent peers on the `dialer` thread and tells the OS layer the network is
    /// initialized. What arrives is handed to `upcalls`.
    pub fn start(
        settings: GrpcTransportSettings,
        handshakes: Arc<HandshakeProvider>,
        clock: Arc<dyn Clock>,
        own_pubkey_hex: String,
        upcalls: Upcalls,
    ) -> Result<GrpcTransport, GrpcError> {
        let queues = settings.completion_queues.max(1);
        let server_env = Arc::new(
            EnvBuilder::new()
                .cq_count(queues)
                .name_prefix("grpc-server")
                .build(),
        );
        let client_env: Arc<Environment> = Arc::new(
            EnvBuilder::new()
                .cq_count(queues)
                .name_prefix("grpc-client")
                .build(),
        );
        let lifecycle = upcalls.lifecycle.clone();
        let stream_servers = WorkerPool::start_niced(
            "stream-server",
            settings.stream_servers,
            STREAM_SERVER_QUEUE,
            STREAM_SERVER_NICENESS,
        )
        .map_err(GrpcError::Thread)?;
        let connections = Arc::new(ConnectionService::new(
            handshakes,
            client_env,
            clock,
            settings.connection.clone(),
            own_pubkey_hex,
            upcalls,
            stream_servers.handle(),
        ));
        let workers = WorkerPool::start("handshake", settings.handshake_workers, HANDSHAKE_QUEUE)
            .map_err(GrpcError::Thread)?;
        let block_servers =
            WorkerPool::start("block-server", settings.block_servers, BLOCK_SERVER_QUEUE)
                .map_err(GrpcError::Thread)?;
        let identity = TlsIdentity::generate()?;
        let service = create_peer_service(PeerServiceImpl::new(
            connections.clone(),
            &workers,
            &block_servers,
        ));
        let mut server = ServerBuilder::new(server_env.clone())
            .channel_args(
                server_channel_args(&server_env, settings.connection.max_message_length)
                    .build_args(),
            )
            .register_service(service)
            .add_checker(AuthChecker::new(lifecycle.pool().clone()))
            .build()
            .map_err(GrpcError::Server)?;
        let host = match settings.listen_address {
            IpAddr::V6(ip) => format!("[{ip}]"),
            IpAddr::V4(ip) => ip.to_string(),
        };
        let port = server
            .add_listening_port(
                format!("{host}:{}", settings.listening_port),
                server_credentials(&identity),
            )
            .map_err(GrpcError::Server)?;
        server.start();
        let local_addr = SocketAddr::new(settings.listen_address, port);
        info!("peer service listening on {local_addr} (TLS)");

        let (stop_tx, stop_rx) = bounded::<()>(0);
        let mut threads = Vec::new();
        let dialer = connections.clone();
        let mut startup = settings.boot_nodes.clone();
        for endpoint in &settings.persistent_peers {
            if !startup.contains(endpoint) {
                startup.push(endpoint.clone());
            }
        }
        threads.push(
            crate::thread::spawn("dialer", move || {
                for endpoint in &startup {
                    if !matches!(
                        stop_rx.try_recv(),
                        Err(crossbeam_channel::TryRecvError::Empty)
                    ) {
                        break;
                    }
                    match dialer.connect(endpoint) {
                        Ok(true) => {}
                        Ok(false) => info!("start-up dial of {endpoint}: not dialed"),
                        Err(e) => {
                            // C#: a boot node that fails at start is retried later.
                            lifecycle.startup_dial_failed(endpoint);
                            warn!("start-up dial of {endpoint} failed ({e}); will retry");
                        }
                    }
                }
                lifecycle.network_initialized();
                Ok(())
            })
            .map_err(GrpcError::Thread)?,
        );
        Ok(GrpcTransport {
            server,
            connections,
            workers,
            block_servers,
            goodbye_on_shutdown: settings.goodbye_on_shutdown,
            stream_servers,
            stop: Some(stop_tx),
            threads,
            local_addr,
        })
    }

    /// The address the server listens on (with the real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn connections(&self) -> &Arc<ConnectionService> {
        &self.connections
    }

    /// Ordered stop: the dialer, then every peer is removed for [`Removal::Shutdown`] (told
    /// goodbye only with `goodbye_on_shutdown`; by default, as the C# node, the connections
    /// just close and the peers will dial us again), then the server stops accepting and open
    /// calls are cancelled, then the workers end (the stream servers after the queued block
    /// reads).
    pub fn stop(self) {
        let GrpcTransport {
            mut server,
            connections,
            workers,
            block_servers,
            goodbye_on_shutdown,
            stream_servers,
            stop,
            threads,
            ..
        } = self;
        drop(stop);
        for t in threads {
            let _ = t.join();
        }
        connections.lifecycle().remove_all(Removal::Shutdown {
            goodbye: goodbye_on_shutdown,
        });
        let shutdown = server.shutdown();
        server.cancel_all_calls();
        let _ = futures_executor::block_on(shutdown);
        // The service clones inside the server hold the workers' queue: drop them first so the
        // workers see it close.
        drop(server);
        workers.stop();
        block_servers.stop();
        // Block reads still queued run and find their streams closed.
        stream_servers.stop();
        info!("peer service stopped");
    }
}
