//! aelf's domain rules shared by every layer: hashes, addresses, chain ids, merkle roots, the
//! hashing of transactions, blocks and handshakes, .NET version strings and the clock.
//!
//! Owns pure functions and small value types only. It must not touch the network, the disk or
//! the system clock directly (time enters through [`Clock`]).

mod address;
mod chain_id;
mod clock;
mod error;
mod hash;
mod hashing;
mod merkle;
mod version;

pub use address::Address;
pub use chain_id::{chain_id_from_name, chain_id_to_name};
pub use clock::{
    iso8601, parse_iso8601, timestamp_from_millis, timestamp_millis, timestamp_nanos, Clock,
    ManualClock, SystemClock, UnixMillis,
};
pub use error::TypesError;
pub use hash::{sha256, Hash};
pub use hashing::{
    block_hash, canonical_extra_data, handshake_hash, transaction_id, transaction_ids,
    BlockWithTransactionsExt,
};
pub use merkle::merkle_root;
pub use version::NodeVersion;
