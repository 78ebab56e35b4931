//! The gRPC layer's error type and the one place where failures become gRPC status codes or are
//! classified the way the C# client classifies them (spec 3.4).

use super::tls::TlsError;
use crate::network::handshake::HandshakeRejection;
use crate::pb::network_types::HandshakeError;
use grpcio::{ConnectivityState, RpcStatus, RpcStatusCode};
use thiserror::Error;

pub use crate::network::peer::FailureKind;

/// Everything that can go wrong in the gRPC layer.
#[derive(Debug, Error)]
pub enum GrpcError {
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("{method} failed: {status:?} {message} ({kind:?})")]
    Call {
        method: &'static str,
        status: RpcStatusCode,
        message: String,
        kind: FailureKind,
    },
    #[error("handshake refused by the remote: {0:?}")]
    Refused(HandshakeError),
    #[error("the remote's handshake reply is invalid: {0}")]
    InvalidReply(HandshakeRejection),
    #[error("the remote's reply carries no handshake")]
    EmptyReply,
    #[error("not dialing {endpoint}: {reason}")]
    NotDialing { endpoint: String, reason: String },
    #[error("the peer's request thread is gone or its queue is full")]
    PeerBusy,
    #[error(transparent)]
    Request(#[from] crate::network::peer::PeerRequestError),
    #[error("cannot start thread: {0}")]
    Thread(std::io::Error),
    #[error("cannot start the peer service: {0}")]
    Server(grpcio::Error),
}

impl GrpcError {
    /// The classification of a failed call, or `Unrecoverable` for failures that are not calls.
    pub fn kind(&self) -> FailureKind {
        match self {
            GrpcError::Call { kind, .. } => *kind,
            GrpcError::Request(e) => e.kind,
            // The peer's request queue is full (or it is closing): slow, not necessarily gone.
            GrpcError::PeerBusy => FailureKind::PeerUnstable,
            _ => FailureKind::Unrecoverable,
        }
    }
}

impl From<GrpcError> for crate::network::peer::PeerRequestError {
    fn from(e: GrpcError) -> Self {
        let timed_out = matches!(
            &e,
            GrpcError::Call { status, .. } if *status == RpcStatusCode::DEADLINE_EXCEEDED
        );
        crate::network::peer::PeerRequestError::new(e.kind(), e.to_string()).timed_out(timed_out)
    }
}

/// Classifies a failed unary call as the C# `GrpcPeer.HandleRpcException` does: the channel's
/// state at that moment decides first, then the status code.
pub fn classify(err: &grpcio::Error, state: ConnectivityState) -> FailureKind {
    match state {
        ConnectivityState::GRPC_CHANNEL_SHUTDOWN | ConnectivityState::GRPC_CHANNEL_IDLE => {
            FailureKind::Unrecoverable
        }
        ConnectivityState::GRPC_CHANNEL_TRANSIENT_FAILURE
        | ConnectivityState::GRPC_CHANNEL_CONNECTING => FailureKind::PeerUnstable,
        ConnectivityState::GRPC_CHANNEL_READY => match err {
            grpcio::Error::RpcFailure(s) if s.code() == RpcStatusCode::CANCELLED => {
                FailureKind::Unrecoverable
            }
            grpcio::Error::RpcFailure(s) if s.code() == RpcStatusCode::UNKNOWN => {
                FailureKind::HandlerException
            }
            grpcio::Error::RpcFailure(_) => FailureKind::Rpc,
            _ => FailureKind::Unrecoverable,
        },
    }
}

/// The status a refused call gets from our server. Authentication failures are CANCELLED, as
/// the C# AuthInterceptor answers (a C# client then drops the connection).
pub fn unauthenticated(reason: &str) -> RpcStatus {
    RpcStatus::with_message(RpcStatusCode::CANCELLED, reason.to_owned())
}

/// The status for a handler failure the C# node would throw from (status UNKNOWN).
pub fn handler_failure(reason: String) -> RpcStatus {
    RpcStatus::with_message(RpcStatusCode::UNKNOWN, reason)
}

/// The status that ends a broadcast stream whose item was refused (spec 1.2): CANCELLED for a
/// caller that is not a pool peer, UNKNOWN for an item the C# node would throw on.
pub fn inbound_status(e: &crate::network::inbound::InboundError) -> RpcStatus {
    use crate::network::inbound::InboundError;
    match e {
        InboundError::UnknownPeer(_) => unauthenticated(&e.to_string()),
        InboundError::Malformed { .. } => handler_failure(e.to_string()),
    }
}

/// The status when a bounded worker queue is full: the caller may retry later.
pub fn overloaded(what: &str) -> RpcStatus {
    RpcStatus::with_message(RpcStatusCode::RESOURCE_EXHAUSTED, format!("{what} is busy"))
}
