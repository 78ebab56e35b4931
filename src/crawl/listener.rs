//! The crawler's dial-back listener: a TLS `PeerService` that answers `Ping` and nothing else.
//!
//! A remote accepting a legacy-mode handshake dials the initiator back at the port its
//! handshake announces (certificate fetch, then `Ping`) before it answers (spec 4.3 step 5);
//! this is that port. Every other call gets UNIMPLEMENTED: the crawler never confirms its
//! handshakes, so no remote has a reason to send it anything else. It must not hold any state
//! about the nodes it serves.

use crate::grpc::channel::{server_channel_args, DEFAULT_MAX_MESSAGE_LENGTH};
use crate::grpc::tls::{server_credentials, TlsIdentity};
use crate::pb::peer_service::{PingRequest, PongReply};
use crate::pb::peer_service_grpc::{create_peer_service, PeerService};
use grpcio::{Environment, RpcContext, Server, ServerBuilder, UnarySink};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// Answers `Ping`; the generated defaults answer the rest with UNIMPLEMENTED.
#[derive(Clone)]
struct PingOnly;

impl PeerService for PingOnly {
    fn ping(&mut self, ctx: RpcContext, _req: PingRequest, sink: UnarySink<PongReply>) {
        ctx.spawn(async move {
            let _ = sink.success(PongReply::new()).await;
        });
    }
}

/// The running listener; stopped (and its port closed) when dropped.
pub struct DialBackListener {
    /// `None` once shut down.
    server: Option<Server>,
    local_addr: SocketAddr,
}

impl DialBackListener {
    /// Listens on `address:port` (0: any free port) with a fresh self-signed certificate.
    pub fn start(env: Arc<Environment>, address: IpAddr, port: u16) -> Result<Self, String> {
        let identity = TlsIdentity::generate().map_err(|e| e.to_string())?;
        let mut server = ServerBuilder::new(env.clone())
            .channel_args(server_channel_args(&env, DEFAULT_MAX_MESSAGE_LENGTH).build_args())
            .register_service(create_peer_service(PingOnly))
            .build()
            .map_err(|e| format!("cannot build the dial-back listener: {e}"))?;
        let host = match address {
            IpAddr::V6(ip) => format!("[{ip}]"),
            IpAddr::V4(ip) => ip.to_string(),
        };
        let bound = server
            .add_listening_port(format!("{host}:{port}"), server_credentials(&identity))
            .map_err(|e| format!("cannot listen on {host}:{port} for dial-backs: {e}"))?;
        server.start();
        Ok(DialBackListener {
            server: Some(server),
            local_addr: SocketAddr::new(address, bound),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }
}

impl Drop for DialBackListener {
    fn drop(&mut self) {
        if let Some(mut server) = self.server.take() {
            let _ = futures_executor::block_on(server.shutdown());
        }
    }
}
