//! `PeerClient`: blocking unary calls to one remote `PeerService`, with the C# client's
//! metadata, deadlines and retries.
//!
//! Owns one grpcio channel (pinned to the remote's certificate). Every call blocks the calling
//! thread, so it must never be used from a completion-queue thread or a spawned future.

use super::error::{classify, FailureKind, GrpcError};
use super::metadata::{call_option, CallPolicy};
use crate::metrics::metrics;
use crate::pb::network_types::{
    BlockList, BlockReply, BlockRequest, BlocksRequest, ConfirmHandshakeRequest, DisconnectReason,
    Handshake, HandshakeReply, HandshakeRequest, NodeList, NodesRequest,
};
use crate::pb::peer_service::{HealthCheckRequest, PingRequest, VoidReply};
use crate::pb::peer_service_grpc::PeerServiceClient;
use crate::types::Hash;
use grpcio::{CallOption, Channel};
use protobuf::MessageField;
use std::time::Instant;

/// The RequestBlock message for `hash`.
pub fn block_request(hash: &Hash) -> BlockRequest {
    BlockRequest {
        hash: MessageField::some(hash.to_proto()),
        ..Default::default()
    }
}

/// The RequestBlocks message for `count` blocks after `previous`.
pub fn blocks_request(previous: &Hash, count: i32) -> BlocksRequest {
    BlocksRequest {
        previous_block_hash: MessageField::some(previous.to_proto()),
        count,
        ..Default::default()
    }
}

/// A client for one remote peer service.
#[derive(Clone)]
pub struct PeerClient {
    channel: Channel,
    stub: PeerServiceClient,
    /// Our own public key (hex), sent as `public-key` on every call.
    own_pubkey_hex: String,
}

impl PeerClient {
    pub fn new(channel: Channel, own_pubkey_hex: String) -> PeerClient {
        PeerClient {
            stub: PeerServiceClient::new(channel.clone()),
            channel,
            own_pubkey_hex,
        }
    }

    pub fn channel(&self) -> &Channel {
        &self.channel
    }

    /// Our own public key (hex), the `public-key` header of every call.
    pub fn own_pubkey_hex(&self) -> &str {
        &self.own_pubkey_hex
    }

    /// The channel is Idle or Ready: usable for calls (C# `IsReady` / graceful-disconnect test).
    pub fn is_usable(&self) -> bool {
        use grpcio::ConnectivityState::{GRPC_CHANNEL_IDLE, GRPC_CHANNEL_READY};
        matches!(
            self.channel.check_connectivity_state(false),
            GRPC_CHANNEL_IDLE | GRPC_CHANNEL_READY
        )
    }

    /// The channel's state under its C# (`Grpc.Core.ChannelState`) name.
    pub fn connection_status(&self) -> &'static str {
        use grpcio::ConnectivityState::*;
        match self.channel.check_connectivity_state(false) {
            GRPC_CHANNEL_IDLE => "Idle",
            GRPC_CHANNEL_CONNECTING => "Connecting",
            GRPC_CHANNEL_READY => "Ready",
            GRPC_CHANNEL_TRANSIENT_FAILURE => "TransientFailure",
            GRPC_CHANNEL_SHUTDOWN => "Shutdown",
        }
    }

    /// Runs `call` up to `1 + policy.retries` times, each with a fresh deadline; the whole
    /// round trip is observed in the request metrics.
    fn call<R>(
        &self,
        method: &'static str,
        policy: CallPolicy,
        session: Option<&[u8]>,
        call: impl Fn(&PeerServiceClient, CallOption) -> grpcio::Result<R>,
    ) -> Result<R, GrpcError> {
        let started = Instant::now();
        let mut attempt = 0;
        let result = loop {
            let opt = call_option(&self.own_pubkey_hex, session, policy.timeout);
            match call(&self.stub, opt) {
                Ok(reply) => break Ok(reply),
                Err(e) if attempt >= policy.retries => {
                    let kind = classify(&e, self.channel.check_connectivity_state(false));
                    let (status, message) = match &e {
                        grpcio::Error::RpcFailure(s) => (s.code(), s.message().to_owned()),
                        other => (grpcio::RpcStatusCode::UNKNOWN, other.to_string()),
                    };
                    break Err(GrpcError::Call {
                        method,
                        status,
                        message,
                        kind,
                    });
                }
                Err(e) => {
                    log::debug!("{method} attempt {} failed: {e}", attempt + 1);
                    attempt += 1;
                }
            }
        };
        metrics().request(method, started.elapsed(), result.is_ok());
        result
    }

    pub fn ping(&self, policy: CallPolicy) -> Result<(), GrpcError> {
        self.call("Ping", policy, None, |s, o| {
            s.ping_opt(&PingRequest::new(), o)
        })
        .map(drop)
    }

    pub fn do_handshake(
        &self,
        handshake: &Handshake,
        policy: CallPolicy,
    ) -> Result<HandshakeReply, GrpcError> {
        let request = HandshakeRequest {
            handshake: MessageField::some(handshake.clone()),
            ..Default::default()
        };
        self.call("DoHandshake", policy, None, |s, o| {
            s.do_handshake_opt(&request, o)
        })
    }

    pub fn confirm_handshake(&self, session: &[u8], policy: CallPolicy) -> Result<(), GrpcError> {
        let request = ConfirmHandshakeRequest::new();
        self.call("ConfirmHandshake", policy, Some(session), |s, o| {
            s.confirm_handshake_opt(&request, o)
        })
        .map(|_: VoidReply| ())
    }

    pub fn check_health(&self, session: &[u8], policy: CallPolicy) -> Result<(), GrpcError> {
        let request = HealthCheckRequest::new();
        self.call("CheckHealth", policy, Some(session), |s, o| {
            s.check_health_opt(&request, o)
        })
        .map(drop)
    }

    pub fn get_nodes(
        &self,
        session: &[u8],
        max_count: i32,
        policy: CallPolicy,
    ) -> Result<NodeList, GrpcError> {
        let request = NodesRequest {
            max_count,
            ..Default::default()
        };
        self.call("GetNodes", policy, Some(session), |s, o| {
            s.get_nodes_opt(&request, o)
        })
    }

    pub fn request_block(
        &self,
        session: &[u8],
        request: &BlockRequest,
        policy: CallPolicy,
    ) -> Result<BlockReply, GrpcError> {
        self.call("RequestBlock", policy, Some(session), |s, o| {
            s.request_block_opt(request, o)
        })
    }

    pub fn request_blocks(
        &self,
        session: &[u8],
        request: &BlocksRequest,
        policy: CallPolicy,
    ) -> Result<BlockList, GrpcError> {
        self.call("RequestBlocks", policy, Some(session), |s, o| {
            s.request_blocks_opt(request, o)
        })
    }

    pub fn disconnect(&self, session: &[u8], policy: CallPolicy) -> Result<(), GrpcError> {
        let request = DisconnectReason::new();
        self.call("Disconnect", policy, Some(session), |s, o| {
            s.disconnect_opt(&request, o)
        })
        .map(drop)
    }

    /// `true` when a failure of this client's calls should drop the peer.
    pub fn is_fatal(err: &GrpcError) -> bool {
        err.kind() == FailureKind::Unrecoverable
    }
}
