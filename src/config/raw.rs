//! The config file as serde reads it: every section and key optional, unknown ones rejected.
//!
//! Owns the TOML shape (section and key names, TOML types). It must not apply defaults or
//! check values beyond their TOML type: that is [`super::validate`]'s, so every semantic error
//! is produced in one place with one shape.

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use std::fmt;
use std::marker::PhantomData;
use std::path::PathBuf;

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawConfig {
    pub node: RawNode,
    pub network: RawNetwork,
    pub reputation: RawReputation,
    pub sync: RawSync,
    pub chain: RawChain,
    pub producer: RawProducer,
    pub api: RawApi,
    pub threads: RawThreads,
    pub log: RawLog,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawNode {
    pub chain_id: Option<RawChainId>,
    pub data_dir: Option<PathBuf>,
    pub node_version: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawNetwork {
    pub listen_address: Option<String>,
    pub listening_port: Option<Int<u16>>,
    pub boot_nodes: Option<Vec<String>>,
    pub max_peers: Option<Int<u32>>,
    pub max_peers_per_ip_address: Option<Int<u32>>,
    pub max_inbound_peers: Option<Int<u32>>,
    pub max_outbound_peers: Option<Int<u32>>,
    pub max_message_size: Option<Int<usize>>,
    pub peer_dial_timeout_ms: Option<Int<u64>>,
    pub peer_reconnection_period_ms: Option<Int<u64>>,
    pub maximum_reconnection_time_ms: Option<Int<u64>>,
    pub compress_blocks_on_request: Option<bool>,
    pub enable_peer_discovery: Option<bool>,
    pub peer_discovery_max_nodes_to_keep: Option<Int<u32>>,
    pub initial_sync_offset: Option<Int<u64>>,
    pub peer_invalid_transaction_timeout_ms: Option<Int<u64>>,
    pub peer_invalid_transaction_limit: Option<Int<u32>>,
    pub support_stream_min_version: Option<String>,
    pub authorized_peers: Option<super::AuthorizedPeers>,
    pub authorized_keys: Option<Vec<String>>,
    pub block_queue_capacity: Option<Int<usize>>,
    pub transaction_queue_capacity: Option<Int<usize>>,
    pub announcement_queue_capacity: Option<Int<usize>>,
    pub stalled_send_timeout_ms: Option<Int<u64>>,
    pub transaction_pool_capacity: Option<Int<usize>>,
    pub persistent_peers: Option<Vec<String>>,
    pub persistent_peer_max_backoff_ms: Option<Int<u64>>,
    pub peer_discovery_period_ms: Option<Int<u64>>,
    pub peer_discovery_max_nodes_per_subnet: Option<Int<u32>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawReputation {
    pub ban_duration_ms: Option<Int<u64>>,
    pub half_life_ms: Option<Int<u64>>,
    pub disconnect_threshold: Option<Int<i64>>,
    pub ban_threshold: Option<Int<i64>>,
    pub invalid_transaction_penalty: Option<Int<u32>>,
    pub bad_signature_penalty: Option<Int<u32>>,
    pub malformed_message_penalty: Option<Int<u32>>,
    pub inconsistent_blocks_penalty: Option<Int<u32>>,
    pub request_timeout_penalty: Option<Int<u32>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawSync {
    pub max_block_download_count: Option<Int<usize>>,
    pub max_batch_request_block_count: Option<Int<usize>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawChain {
    pub genesis_time: Option<Int<i64>>,
    pub irreversible_depth: Option<Int<u64>>,
    pub flush_interval_ms: Option<Int<u64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawProducer {
    pub enabled: Option<bool>,
    pub interval_ms: Option<Int<u64>>,
    pub transactions_per_block: Option<Int<u32>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawApi {
    pub listen: Option<String>,
    pub basic_auth_user: Option<String>,
    pub basic_auth_password: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawThreads {
    pub grpc_completion_queues: Option<Int<usize>>,
    pub handshake_workers: Option<Int<usize>>,
    pub block_servers: Option<Int<usize>>,
    pub scheduler_workers: Option<Int<usize>>,
    pub api_workers: Option<Int<usize>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawLog {
    pub level: Option<String>,
    pub file: Option<PathBuf>,
}

/// A TOML integer for a field of type `T`, kept as read (`i64`) so that validation checks its
/// range and names it ("must be in 1..=65535, got 70000"). A value of the wrong TOML type is
/// reported as serde reports it for `T` ("invalid type: string \"x\", expected u32").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Int<T> {
    pub value: i64,
    ty: PhantomData<T>,
}

impl<T> Int<T> {
    pub fn new(value: i64) -> Int<T> {
        Int {
            value,
            ty: PhantomData,
        }
    }
}

/// The Rust name of an integer type, for "expected u32" messages.
pub(super) trait IntName {
    const NAME: &'static str;
}

macro_rules! int_name {
    ($($t:ty),*) => { $(impl IntName for $t { const NAME: &'static str = stringify!($t); })* };
}
int_name!(u16, u32, u64, i64, usize);

impl<'de, T: IntName> Deserialize<'de> for Int<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IntVisitor<T>(PhantomData<T>);

        impl<T: IntName> Visitor<'_> for IntVisitor<T> {
            type Value = Int<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(T::NAME)
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Int<T>, E> {
                Ok(Int::new(v))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Int<T>, E> {
                // TOML integers are i64; saturating keeps "out of range" for anything larger.
                Ok(Int::new(i64::try_from(v).unwrap_or(i64::MAX)))
            }
        }

        deserializer.deserialize_any(IntVisitor(PhantomData))
    }
}

/// `[node] chain_id`: a chain name (`"AELF"`) or the integer id (`9992731`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum RawChainId {
    Name(String),
    Id(i64),
}

impl<'de> Deserialize<'de> for RawChainId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ChainIdVisitor;

        impl Visitor<'_> for ChainIdVisitor {
            type Value = RawChainId;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a chain name such as \"AELF\" or a non-negative integer chain id")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawChainId, E> {
                Ok(RawChainId::Name(v.to_owned()))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawChainId, E> {
                Ok(RawChainId::Id(v))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawChainId, E> {
                // Saturate: anything above i64::MAX is out of range for a chain id anyway.
                Ok(RawChainId::Id(i64::try_from(v).unwrap_or(i64::MAX)))
            }
        }

        deserializer.deserialize_any(ChainIdVisitor)
    }
}
