//! Test doubles shared by the unit tests in `src/` and the integration tests in `tests/it`.
//!
//! # Owns
//!
//! * [`FakePeer`]: a [`Peer`](crate::network::peer::Peer) held in memory, whose state a test
//!   sets by hand and which records what it is sent, so the pool, the network service, block
//!   sync, discovery and the scheduler can be driven without sockets.
//!
//! # Must not
//!
//! The node never calls into this module: it exists for the tests (it is public, but hidden
//! from the documentation, only because the integration tests are another crate). Nothing here
//! opens sockets, starts threads or sleeps.

mod fake_peer;

pub use fake_peer::{BlocksAnswer, FakePeer, NOW};
