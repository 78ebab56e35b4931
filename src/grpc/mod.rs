//! Layer 1, gRPC infrastructure (aelf.OS.Network.Grpc): the `PeerService` server on grpcio's
//! C-core, outbound peers, TLS, wire handshakes, metadata authentication, the stream mode.
//!
//! Transport only. It may use [`crate::network`] and below, never [`crate::os`]; it builds no
//! layer-2 object and runs no layer-2 policy: what it receives goes up through [`upcalls`],
//! and peers enter and leave the pool only through
//! [`PeerLifecycle`](crate::network::lifecycle::PeerLifecycle).
//!
//! From the bottom up (each imports only what is listed before it):
//!
//! * `tls`, `metadata`, `error` — certificates, header names and call policies, the layer's
//!   error type and its mapping to gRPC statuses.
//! * `channel`, `client` — pinned channels; blocking unary calls to one remote.
//! * `sender` — every peer's three send queues and their sender threads; the legacy broadcast
//!   streams (encoded once, written as raw bytes).
//! * `peer` — [`peer::GrpcPeer`], a legacy-mode peer with its request thread.
//! * `upcalls` — the layer-2 objects the transport hands things to.
//! * `stream` — stream mode (`RequestByStream`): the link, the request registry and protocol,
//!   [`stream::stream_peer::StreamPeer`] and the dispatch of what the remote asks.
//! * `connection` — dialing (legacy and stream) and accepting handshakes.
//! * `server` — the `PeerService` handlers, the authentication checker, the server side of
//!   `RequestByStream`.
//! * `transport` — starting and stopping all of it.

pub mod channel;
pub mod client;
pub mod connection;
pub mod error;
pub mod metadata;
pub mod peer;
pub mod sender;
pub mod server;
pub mod stream;
pub mod tls;
pub mod transport;
pub mod upcalls;
