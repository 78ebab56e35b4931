//! Layer 3, OS-level work (aelf.OS): handlers for chain and network events and the scheduler
//! thread (health checks, reconnection, discovery).
//!
//! * `events` — the `os-events` thread: network and chain events to actions (spec 9).
//! * `block_sync` — the `block-sync` thread: fetching and downloading missing blocks (spec 6.4).
//! * `scheduler` — the `scheduler` thread: health checks, reconnection, discovery, penalties
//!   and the clock check (spec 8).
//! * `tx_pool` — the bounded pool of pending transactions, fed by peers and the local API.
//! * `tx_rules` — the C# pool's checks that need no contract state, and their limits.
//! * `announcement_cache` — which peers announced which blocks, so sync asks one that has it.
//!
//! It talks to the lower layers only through their public types and traits, never to the
//! transport ([`crate::grpc`]).

pub mod announcement_cache;
pub mod block_sync;
pub mod events;
pub mod scheduler;
pub mod tx_pool;
pub mod tx_rules;
