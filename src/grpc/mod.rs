//! Layer 1, gRPC infrastructure (aelf.OS.Network.Grpc): the `PeerService` server on grpcio's
//! C-core, outbound peers, TLS, wire handshakes, the stream mode and metadata authentication.
//!
//! Nothing here yet: the connections issue fills it. It may use [`crate::network`] and below,
//! never [`crate::os`].

pub mod channel;
pub mod tls;
