//! The embedded chain: the network layer's view of the blockchain, and the development block
//! producer.
//!
//! Owns the block store (`<data_dir>/chain.redb`), block validation on attach (the stateless
//! checks and the AEDPoS rules), fork choice, the last irreversible block (LIB, from the
//! consensus), a follower's checkpoint, chain events, and the `producer` thread. Memory is
//! bounded: the index holds the blocks above the LIB and a window below it, the store the
//! rest. The network layer sees only the narrow [`Chain`] trait.
//!
//! It must not touch the network, parse configuration (the node maps the config into
//! [`ChainSettings`]) or read the system clock directly (time enters through
//! [`crate::types::Clock`]). Blocks may come from hostile peers: nothing here panics on their
//! content.
//!
//! # Files
//!
//! * `api` — the [`Chain`] trait and its value types.
//! * `error` — [`ChainError`], the one error type of this layer.
//! * `genesis` — [`ChainSettings`] (with [`ChainMode`]: development or follow) and the
//!   deterministic [`genesis_block`].
//! * `validate` — the stateless checks of a block (header, chain id, hash, roots, signature).
//! * `index` — the in-memory index (from its root up) and fork choice.
//! * `store` — the redb layout.
//! * `events` — bounded subscriber queues.
//! * `embedded` — [`EmbeddedChain`], gluing the above together.
//! * `aedpos` — the AEDPoS rules from headers (applied to every attached block; the LIB comes
//!   from them) and what a development miner writes.
//! * `producer` — [`BlockProducer`] (an AEDPoS development miner), the block builders
//!   [`build_block`], [`build_block_on`], [`build_signed_block`], and [`synthetic_transactions`].

pub mod aedpos;
mod api;
mod embedded;
mod error;
mod events;
mod genesis;
mod index;
mod producer;
mod store;
mod validate;

pub use api::{AttachOutcome, BatchOutcome, Chain, ChainEvent, ChainTip};
pub use embedded::{ChainOptions, EmbeddedChain, ALLOWED_FUTURE_BLOCK_MS, CHAIN_FILE};
pub use error::ChainError;
pub use genesis::{genesis_block, ChainMode, ChainSettings, DevelopmentConsensus, GENESIS_HEIGHT};
pub use producer::{
    build_block, build_block_on, build_next, build_signed_block, synthetic_transactions,
    BlockProducer, NoPendingTransactions, PendingTransactions, ProducerSettings,
    MAX_PENDING_PER_BLOCK, SYNTHETIC_METHOD, SYNTHETIC_SINK_SEED,
};
