//! The node config, `conf/aelf-netd.toml`: its validated types, documented defaults, loading and
//! the errors that name the file, the key and the reason.
//!
//! Owns the file format and the defaults (equal to the C# node's `NetworkOptions` and
//! `NetworkConstants` where there is an equivalent). It must not act on a config: starting,
//! reloading and logging belong to [`crate::node`] and [`crate::daemon`].
//!
//! Every section and key is optional and takes its default; unknown sections and keys are
//! errors. Loading is two passes: serde reads the TOML shape (type errors carry the exact
//! dotted path via `serde_path_to_error`), then `validate` checks the values and builds
//! [`Config`], producing errors of the same shape.

mod raw;
mod validate;

use crate::chain::{ChainSettings, StoreOptions};
use crate::network::endpoint::Endpoint;
use crate::types::NodeVersion;
use serde::Deserialize;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use thiserror::Error;

// ---- [node] ----

/// The chain name the default chain id stands for (the aelf main chain).
pub const DEFAULT_CHAIN_NAME: &str = "AELF";
/// `chain_id_from_name("AELF")`: the default `[node] chain_id`.
pub const DEFAULT_CHAIN_ID: i32 = 9_992_731;
/// Default `[node] data_dir`, relative to the working directory.
pub const DEFAULT_DATA_DIR: &str = "data";
/// The version this node announces in handshakes (C# node 1.9 line: stream capable).
pub const DEFAULT_NODE_VERSION: &str = "1.9.0.0";

// ---- [network] (C# NetworkOptions / NetworkConstants) ----

/// Default `listen_address`: all IPv4 interfaces.
pub const DEFAULT_LISTEN_ADDRESS: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
/// Default `listening_port` (C# `NetworkConstants.DefaultPeerPort`).
pub const DEFAULT_LISTENING_PORT: u16 = crate::network::endpoint::DEFAULT_PEER_PORT;
// The pool limits' defaults (25 in total, 1 per IP, 17 inbound, 8 outbound) live beside the
// pool that applies them.
pub use crate::network::peer_pool::{
    DEFAULT_MAX_INBOUND_PEERS, DEFAULT_MAX_OUTBOUND_PEERS, DEFAULT_MAX_PEERS,
    DEFAULT_MAX_PEERS_PER_IP_ADDRESS,
};
/// Default `max_message_size`: 100 MiB, both directions (C# `GrpcConstants.DefaultMaxSendMessageLength`
/// and `DefaultMaxReceiveMessageLength`).
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 104_857_600;
/// Smallest `max_message_size`: a full block must fit.
pub const MIN_MAX_MESSAGE_SIZE: usize = 1 << 20;
/// Largest `max_message_size` gRPC accepts (an `int` in C-core).
pub const MAX_MAX_MESSAGE_SIZE: usize = i32::MAX as usize;
/// Default `peer_dial_timeout_ms` (C# `NetworkConstants.DefaultPeerDialTimeout`).
pub const DEFAULT_PEER_DIAL_TIMEOUT_MS: u64 = 3_000;
/// Default `peer_reconnection_period_ms` (C# `NetworkConstants.DefaultPeerReconnectionPeriod`).
pub const DEFAULT_PEER_RECONNECTION_PERIOD_MS: u64 = 60_000;
/// Default `maximum_reconnection_time_ms`, one day; 0 = never give up
/// (C# `NetworkConstants.DefaultMaximumReconnectionTime`).
pub const DEFAULT_MAXIMUM_RECONNECTION_TIME_MS: u64 = 86_400_000;
/// Default `compress_blocks_on_request` (C# `NetworkConstants.DefaultCompressBlocks`).
pub const DEFAULT_COMPRESS_BLOCKS_ON_REQUEST: bool = true;
/// Default `enable_peer_discovery` (C# `NetworkOptions.EnablePeerDiscovery`).
pub const DEFAULT_ENABLE_PEER_DISCOVERY: bool = true;
/// Default `peer_discovery_max_nodes_to_keep`
/// (C# `NetworkConstants.DefaultDiscoveryMaxNodesToKeep`).
pub const DEFAULT_PEER_DISCOVERY_MAX_NODES_TO_KEEP: u32 = 512;
/// Default `initial_sync_offset` (C# `NetworkConstants.DefaultInitialSyncOffset`).
pub const DEFAULT_INITIAL_SYNC_OFFSET: u64 = 512;
/// Default `peer_invalid_transaction_timeout_ms`
/// (C# `NetworkConstants.DefaultPeerInvalidTransactionTimeout`).
pub const DEFAULT_PEER_INVALID_TRANSACTION_TIMEOUT_MS: u64 = 10_000;
/// Default `peer_invalid_transaction_limit`
/// (C# `NetworkConstants.DefaultPeerInvalidTransactionLimit`).
pub const DEFAULT_PEER_INVALID_TRANSACTION_LIMIT: u32 = 50;
/// Default `persistent_peer_max_backoff_ms`: a persistent peer is retried at least every ten
/// minutes (ours; CometBFT's `persistent_peers_max_dial_period` plays this part).
pub const DEFAULT_PERSISTENT_PEER_MAX_BACKOFF_MS: u64 = 600_000;
/// Default `stalled_send_timeout_ms`: a send to a peer that has waited this long for the peer
/// to take it drops the peer (ours; the C# node keeps such a peer, its queue full).
pub const DEFAULT_STALLED_SEND_TIMEOUT_MS: u64 = 60_000;
/// Default `peer_discovery_period_ms` (C# `NetworkConstants.DefaultDiscoveryPeriod`).
pub const DEFAULT_PEER_DISCOVERY_PERIOD_MS: u64 = 60_000;
/// Default `peer_discovery_max_nodes_per_subnet` (ours).
pub const DEFAULT_PEER_DISCOVERY_MAX_NODES_PER_SUBNET: u32 = 16;
/// Default `support_stream_min_version` (C# `KernelConstants.SupportStreamMinVersion`).
pub const DEFAULT_SUPPORT_STREAM_MIN_VERSION: &str = "1.4.0.0";
/// Default `authorized_peers` (C# `NetworkOptions.AuthorizedPeers = AuthorizedPeers.Any`).
pub const DEFAULT_AUTHORIZED_PEERS: AuthorizedPeers = AuthorizedPeers::Any;

// ---- [reputation] ----

/// Default `ban_duration_ms`: five minutes (C# `NetworkConstants.DefaultPeerRemovalSeconds`).
pub const DEFAULT_BAN_DURATION_MS: u64 = 300_000;
/// Default `half_life_ms` of a penalty.
pub const DEFAULT_REPUTATION_HALF_LIFE_MS: u64 = 60_000;
/// Default `disconnect_threshold`.
pub const DEFAULT_DISCONNECT_THRESHOLD: i64 = -1_000;
/// Default `ban_threshold`.
pub const DEFAULT_BAN_THRESHOLD: i64 = -2_000;
/// Default penalty of an invalid transaction: the C# limit (more than 50 within 10 s bans the
/// host) decides bursts; a steady trickle of one every 5 s settles near -180.
pub const DEFAULT_INVALID_TRANSACTION_PENALTY: u32 = 10;
/// Default penalty of a bad signature on a block.
pub const DEFAULT_BAD_SIGNATURE_PENALTY: u32 = 500;
/// Default penalty of a malformed message.
pub const DEFAULT_MALFORMED_MESSAGE_PENALTY: u32 = 200;
/// Default penalty of serving inconsistent blocks (the host is banned anyway, as in C#).
pub const DEFAULT_INCONSISTENT_BLOCKS_PENALTY: u32 = 1_000;
/// Default penalty of a request timeout: one every 10 s settles near -460, well above the
/// disconnect threshold.
pub const DEFAULT_REQUEST_TIMEOUT_PENALTY: u32 = 50;
/// Largest penalty weight and lowest threshold.
pub const MAX_PENALTY: u32 = 1_000_000;

// ---- [chain] ----

/// Default `genesis_time`: 2026-01-01T00:00:00Z, in unix seconds.
pub const DEFAULT_GENESIS_TIME: i64 = 1_767_225_600;
/// Default `irreversible_depth`: blocks below the best chain tip that are final.
pub const DEFAULT_IRREVERSIBLE_DEPTH: u64 = 8;

// ---- [producer] ----

/// Default `enabled`: the development block producer is off.
pub const DEFAULT_PRODUCER_ENABLED: bool = false;
/// Default `interval_ms` between produced blocks (the C# node's 4-second mining interval).
pub const DEFAULT_PRODUCER_INTERVAL_MS: u64 = 4_000;
/// Default `transactions_per_block`.
pub const DEFAULT_TRANSACTIONS_PER_BLOCK: u32 = 0;

/// Default `[chain] flush_interval_ms`: the chain store waits for the disk at most once per
/// 100 ms instead of once per block (a crash loses at most that much; peers serve it again).
/// Measured by `aelf-netbench --only sync`: storing is about five times faster than with a
/// durable commit per block.
pub const DEFAULT_FLUSH_INTERVAL_MS: u64 = 100;
/// Largest `[chain] flush_interval_ms`.
pub const MAX_FLUSH_INTERVAL_MS: u64 = 10_000;

// ---- [api], [threads], [log] ----

/// Default `[api] listen`: the local control API, loopback only.
pub const DEFAULT_API_LISTEN: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8000));
/// Default `[threads] grpc_completion_queues`.
pub const DEFAULT_GRPC_COMPLETION_QUEUES: usize = 2;
/// Default `transaction_pool_capacity`: pending transactions the node keeps.
pub const DEFAULT_TRANSACTION_POOL_CAPACITY: usize = crate::os::tx_pool::DEFAULT_TX_POOL_CAPACITY;
/// Largest per-peer send queue of any kind.
pub const MAX_QUEUE_CAPACITY: usize = 100_000;
/// Largest `transaction_pool_capacity`.
pub const MAX_TRANSACTION_POOL_CAPACITY: usize = 1_000_000;
/// Default `[sync] max_block_download_count` (C# `BlockSyncConstants.DefaultMaxBlockDownloadCount`).
pub const DEFAULT_MAX_BLOCK_DOWNLOAD_COUNT: usize = 50;
/// Largest `[sync] max_block_download_count`.
pub const MAX_MAX_BLOCK_DOWNLOAD_COUNT: usize = 10_000;
/// Default `[sync] max_batch_request_block_count`
/// (C# `BlockSyncConstants.DefaultMaxBatchRequestBlockCount`).
pub const DEFAULT_MAX_BATCH_REQUEST_BLOCK_COUNT: usize = 10;
/// Default `[threads] block_servers`: threads that read blocks to answer block requests.
pub const DEFAULT_BLOCK_SERVERS: usize = 2;
pub use crate::network::broadcast::{
    DEFAULT_ANNOUNCEMENT_QUEUE_CAPACITY, DEFAULT_BLOCK_QUEUE_CAPACITY,
    DEFAULT_TRANSACTION_QUEUE_CAPACITY,
};
pub use crate::network::service::MAX_SEND_BLOCK_COUNT_LIMIT;

/// Default `[threads] scheduler_workers`: threads that run the scheduler's dials, pings,
/// health checks and discovery rounds.
pub const DEFAULT_SCHEDULER_WORKERS: usize = 4;
/// Default `[threads] api_workers`: threads that serve the operator API (a peer added through
/// it is dialed on the worker, so two keep the API answering meanwhile).
pub const DEFAULT_API_WORKERS: usize = 2;
/// Default `[threads] handshake_workers`: threads that run inbound handshakes (dial-back) and
/// other server work that may block.
pub const DEFAULT_HANDSHAKE_WORKERS: usize = 2;
/// Largest `[threads] handshake_workers`.
pub const MAX_HANDSHAKE_WORKERS: usize = 64;
/// Default `[log] level`.
pub const DEFAULT_LOG_LEVEL: log::LevelFilter = log::LevelFilter::Info;

// ---- Limits checked by validation ----

/// Smallest `[producer] interval_ms`.
pub const MIN_PRODUCER_INTERVAL_MS: u64 = 100;
/// Largest `[producer] transactions_per_block`.
pub const MAX_TRANSACTIONS_PER_BLOCK: u32 = 10_000;
/// Largest `[threads] grpc_completion_queues`.
pub const MAX_GRPC_COMPLETION_QUEUES: usize = 64;

/// A loaded, validated config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub node: NodeConfig,
    pub network: NetworkConfig,
    pub reputation: ReputationConfig,
    pub sync: SyncConfig,
    pub chain: ChainConfig,
    pub producer: ProducerConfig,
    pub api: ApiConfig,
    pub threads: ThreadsConfig,
    pub log: LogConfig,
}

/// `[node]`: which chain, where the node keeps its state, what version it announces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeConfig {
    pub chain_id: i32,
    pub data_dir: PathBuf,
    pub node_version: NodeVersion,
}

/// `[network]`: the peer-to-peer layer (C# `NetworkOptions`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkConfig {
    pub listen_address: IpAddr,
    pub listening_port: u16,
    pub boot_nodes: Vec<Endpoint>,
    pub max_peers: u32,
    pub max_peers_per_ip_address: u32,
    pub max_inbound_peers: u32,
    pub max_outbound_peers: u32,
    pub max_message_size: usize,
    pub peer_dial_timeout_ms: u64,
    pub peer_reconnection_period_ms: u64,
    pub maximum_reconnection_time_ms: u64,
    pub compress_blocks_on_request: bool,
    pub enable_peer_discovery: bool,
    pub peer_discovery_max_nodes_to_keep: u32,
    pub initial_sync_offset: u64,
    pub peer_invalid_transaction_timeout_ms: u64,
    pub peer_invalid_transaction_limit: u32,
    pub support_stream_min_version: NodeVersion,
    pub authorized_peers: AuthorizedPeers,
    pub authorized_keys: Vec<[u8; 65]>,
    pub block_queue_capacity: usize,
    pub transaction_queue_capacity: usize,
    pub announcement_queue_capacity: usize,
    /// 0: never.
    pub stalled_send_timeout_ms: u64,
    pub transaction_pool_capacity: usize,
    pub persistent_peers: Vec<Endpoint>,
    pub persistent_peer_max_backoff_ms: u64,
    pub peer_discovery_period_ms: u64,
    pub peer_discovery_max_nodes_per_subnet: u32,
}

/// `[reputation]`: penalties of misbehaving peers (ours, after reth and Substrate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReputationConfig {
    pub ban_duration_ms: u64,
    pub half_life_ms: u64,
    pub disconnect_threshold: i64,
    pub ban_threshold: i64,
    pub invalid_transaction_penalty: u32,
    pub bad_signature_penalty: u32,
    pub malformed_message_penalty: u32,
    pub inconsistent_blocks_penalty: u32,
    pub request_timeout_penalty: u32,
}

/// `[sync]`: how missing blocks are downloaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncConfig {
    pub max_block_download_count: usize,
    pub max_batch_request_block_count: usize,
}

/// Who may connect (C# `AuthorizedPeers`); TOML values `"any"` and `"authorized"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthorizedPeers {
    /// Any node may connect.
    Any,
    /// Only nodes whose key is in `authorized_keys`.
    Authorized,
}

/// `[chain]`: the embedded chain's fixed parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainConfig {
    pub genesis_time: i64,
    pub irreversible_depth: u64,
    /// See [`DEFAULT_FLUSH_INTERVAL_MS`].
    pub flush_interval_ms: u64,
}

/// `[producer]`: the development block producer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerConfig {
    pub enabled: bool,
    pub interval_ms: u64,
    pub transactions_per_block: u32,
}

/// `[api]`: the local control API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiConfig {
    pub listen: SocketAddr,
    /// HTTP Basic credentials of the write routes (C# `BasicAuth:UserName/Password`); with
    /// either unset every write route answers 401.
    pub basic_auth_user: Option<String>,
    pub basic_auth_password: Option<String>,
}

/// `[threads]`: thread counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadsConfig {
    pub grpc_completion_queues: usize,
    pub handshake_workers: usize,
    pub block_servers: usize,
    pub scheduler_workers: usize,
    pub api_workers: usize,
}

/// `[log]`: level and destination (`file = None` is stderr).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    pub level: log::LevelFilter,
    pub file: Option<PathBuf>,
}

/// Why a config file does not load. Each message starts with the file; `Invalid` then names
/// the dotted key (`network.boot_nodes[1]`) and the reason.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("{}: cannot read: {source}", file.display())]
    Read { file: PathBuf, source: io::Error },
    #[error("{}: {reason}", file.display())]
    Syntax { file: PathBuf, reason: String },
    #[error("{}: {key}: {reason}", file.display())]
    Invalid {
        file: PathBuf,
        key: String,
        reason: String,
    },
}

impl ConfigError {
    /// The file the error is about.
    pub fn file(&self) -> &Path {
        match self {
            ConfigError::Read { file, .. }
            | ConfigError::Syntax { file, .. }
            | ConfigError::Invalid { file, .. } => file,
        }
    }

    /// The dotted key of an `Invalid` error.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Invalid { key, .. } => Some(key),
            _ => None,
        }
    }
}

/// Parses one of the version constants above; they are tested to be valid.
fn default_version(text: &str) -> NodeVersion {
    NodeVersion::parse(text).expect("default version constants are valid")
}

impl Default for Config {
    fn default() -> Config {
        Config {
            node: NodeConfig {
                chain_id: DEFAULT_CHAIN_ID,
                data_dir: PathBuf::from(DEFAULT_DATA_DIR),
                node_version: default_version(DEFAULT_NODE_VERSION),
            },
            network: NetworkConfig {
                listen_address: DEFAULT_LISTEN_ADDRESS,
                listening_port: DEFAULT_LISTENING_PORT,
                boot_nodes: Vec::new(),
                max_peers: DEFAULT_MAX_PEERS,
                max_peers_per_ip_address: DEFAULT_MAX_PEERS_PER_IP_ADDRESS,
                max_inbound_peers: DEFAULT_MAX_INBOUND_PEERS,
                max_outbound_peers: DEFAULT_MAX_OUTBOUND_PEERS,
                max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
                peer_dial_timeout_ms: DEFAULT_PEER_DIAL_TIMEOUT_MS,
                peer_reconnection_period_ms: DEFAULT_PEER_RECONNECTION_PERIOD_MS,
                maximum_reconnection_time_ms: DEFAULT_MAXIMUM_RECONNECTION_TIME_MS,
                compress_blocks_on_request: DEFAULT_COMPRESS_BLOCKS_ON_REQUEST,
                enable_peer_discovery: DEFAULT_ENABLE_PEER_DISCOVERY,
                peer_discovery_max_nodes_to_keep: DEFAULT_PEER_DISCOVERY_MAX_NODES_TO_KEEP,
                initial_sync_offset: DEFAULT_INITIAL_SYNC_OFFSET,
                peer_invalid_transaction_timeout_ms: DEFAULT_PEER_INVALID_TRANSACTION_TIMEOUT_MS,
                peer_invalid_transaction_limit: DEFAULT_PEER_INVALID_TRANSACTION_LIMIT,
                support_stream_min_version: default_version(DEFAULT_SUPPORT_STREAM_MIN_VERSION),
                authorized_peers: DEFAULT_AUTHORIZED_PEERS,
                authorized_keys: Vec::new(),
                block_queue_capacity: DEFAULT_BLOCK_QUEUE_CAPACITY,
                transaction_queue_capacity: DEFAULT_TRANSACTION_QUEUE_CAPACITY,
                announcement_queue_capacity: DEFAULT_ANNOUNCEMENT_QUEUE_CAPACITY,
                stalled_send_timeout_ms: DEFAULT_STALLED_SEND_TIMEOUT_MS,
                transaction_pool_capacity: DEFAULT_TRANSACTION_POOL_CAPACITY,
                persistent_peers: Vec::new(),
                persistent_peer_max_backoff_ms: DEFAULT_PERSISTENT_PEER_MAX_BACKOFF_MS,
                peer_discovery_period_ms: DEFAULT_PEER_DISCOVERY_PERIOD_MS,
                peer_discovery_max_nodes_per_subnet: DEFAULT_PEER_DISCOVERY_MAX_NODES_PER_SUBNET,
            },
            reputation: ReputationConfig {
                ban_duration_ms: DEFAULT_BAN_DURATION_MS,
                half_life_ms: DEFAULT_REPUTATION_HALF_LIFE_MS,
                disconnect_threshold: DEFAULT_DISCONNECT_THRESHOLD,
                ban_threshold: DEFAULT_BAN_THRESHOLD,
                invalid_transaction_penalty: DEFAULT_INVALID_TRANSACTION_PENALTY,
                bad_signature_penalty: DEFAULT_BAD_SIGNATURE_PENALTY,
                malformed_message_penalty: DEFAULT_MALFORMED_MESSAGE_PENALTY,
                inconsistent_blocks_penalty: DEFAULT_INCONSISTENT_BLOCKS_PENALTY,
                request_timeout_penalty: DEFAULT_REQUEST_TIMEOUT_PENALTY,
            },
            sync: SyncConfig {
                max_block_download_count: DEFAULT_MAX_BLOCK_DOWNLOAD_COUNT,
                max_batch_request_block_count: DEFAULT_MAX_BATCH_REQUEST_BLOCK_COUNT,
            },
            chain: ChainConfig {
                genesis_time: DEFAULT_GENESIS_TIME,
                irreversible_depth: DEFAULT_IRREVERSIBLE_DEPTH,
                flush_interval_ms: DEFAULT_FLUSH_INTERVAL_MS,
            },
            producer: ProducerConfig {
                enabled: DEFAULT_PRODUCER_ENABLED,
                interval_ms: DEFAULT_PRODUCER_INTERVAL_MS,
                transactions_per_block: DEFAULT_TRANSACTIONS_PER_BLOCK,
            },
            api: ApiConfig {
                listen: DEFAULT_API_LISTEN,
                basic_auth_user: None,
                basic_auth_password: None,
            },
            threads: ThreadsConfig {
                grpc_completion_queues: DEFAULT_GRPC_COMPLETION_QUEUES,
                handshake_workers: DEFAULT_HANDSHAKE_WORKERS,
                block_servers: DEFAULT_BLOCK_SERVERS,
                scheduler_workers: DEFAULT_SCHEDULER_WORKERS,
                api_workers: DEFAULT_API_WORKERS,
            },
            log: LogConfig {
                level: DEFAULT_LOG_LEVEL,
                file: None,
            },
        }
    }
}

impl Config {
    /// The chain this config describes: id, genesis time, irreversible depth.
    pub fn chain_settings(&self) -> ChainSettings {
        ChainSettings {
            chain_id: self.node.chain_id,
            genesis_time: self.chain.genesis_time,
            irreversible_depth: i64::try_from(self.chain.irreversible_depth).unwrap_or(i64::MAX),
        }
    }

    /// How the chain store writes (`[chain] flush_interval_ms`).
    pub fn store_options(&self) -> StoreOptions {
        StoreOptions {
            flush_interval: std::time::Duration::from_millis(self.chain.flush_interval_ms),
        }
    }

    /// Reads, parses and validates the file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            file: path.to_owned(),
            source,
        })?;
        Config::from_toml_str(&text, path)
    }

    /// Parses and validates TOML text; `origin` is only used to name the file in errors.
    pub fn from_toml_str(text: &str, origin: &Path) -> Result<Config, ConfigError> {
        let deserializer = toml::Deserializer::parse(text).map_err(|e| ConfigError::Syntax {
            file: origin.to_owned(),
            reason: syntax_reason(text, &e),
        })?;
        let raw: raw::RawConfig = serde_path_to_error::deserialize(deserializer).map_err(|e| {
            let key = e.path().to_string();
            ConfigError::Invalid {
                file: origin.to_owned(),
                // The path of a root-level error is "."; name the document instead.
                key: if key == "." {
                    "(top level)".into()
                } else {
                    key
                },
                reason: e.inner().message().to_owned(),
            }
        })?;
        validate::validate(raw).map_err(|e| ConfigError::Invalid {
            file: origin.to_owned(),
            key: e.key,
            reason: e.reason,
        })
    }
}

/// A one-line syntax error: `line L, column C: message`.
fn syntax_reason(text: &str, error: &toml::de::Error) -> String {
    let lines: Vec<&str> = error
        .message()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let message = lines.join("; ");
    match error.span() {
        Some(span) => {
            let (line, column) = line_column(text, span.start);
            format!("TOML syntax error at line {line}, column {column}: {message}")
        }
        None => format!("TOML syntax error: {message}"),
    }
}

/// 1-based line and column (in characters) of a byte offset, clamped to the text.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::chain_id_from_name;

    #[test]
    fn default_constants_are_consistent() {
        assert_eq!(chain_id_from_name(DEFAULT_CHAIN_NAME), Ok(DEFAULT_CHAIN_ID));
        assert!(NodeVersion::parse(DEFAULT_NODE_VERSION).is_ok());
        assert!(NodeVersion::parse(DEFAULT_SUPPORT_STREAM_MIN_VERSION).is_ok());
        let d = Config::default();
        assert_eq!(d.network.listening_port, 6800);
        assert_eq!(d.api.listen.to_string(), "127.0.0.1:8000");
        assert_eq!(d.network.listen_address.to_string(), "0.0.0.0");
        assert_eq!(d.node.node_version.to_string(), "1.9.0.0");
        assert!(d
            .node
            .node_version
            .at_least(&d.network.support_stream_min_version));
    }

    #[test]
    fn line_column_counts_lines_and_characters() {
        let text = "a = 1\nbé = x\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 6), (2, 1));
        assert_eq!(line_column(text, 10), (2, 4));
        // Inside a multi-byte character, or past the end: clamped, never a panic.
        assert_eq!(line_column(text, 8), (2, 2));
        assert_eq!(line_column(text, 999), (3, 1));
    }

    #[test]
    fn syntax_errors_are_one_line_with_a_position() {
        let e =
            Config::from_toml_str("[network]\nmax_peers = = 3\n", Path::new("f.toml")).unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, ConfigError::Syntax { .. }), "{msg}");
        assert!(
            msg.starts_with("f.toml: TOML syntax error at line 2"),
            "{msg}"
        );
        assert!(!msg.contains('\n'), "{msg}");
    }

    #[test]
    fn duplicate_keys_are_syntax_errors() {
        let e = Config::from_toml_str(
            "[log]\nlevel = \"info\"\nlevel = \"warn\"\n",
            Path::new("f"),
        )
        .unwrap_err();
        assert!(matches!(e, ConfigError::Syntax { .. }), "{e}");
    }

    #[test]
    fn type_errors_name_the_exact_key() {
        let e = Config::from_toml_str("[network]\nmax_peers = \"x\"\n", Path::new("conf/a.toml"))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "conf/a.toml: network.max_peers: invalid type: string \"x\", expected u32"
        );
        assert_eq!(e.key(), Some("network.max_peers"));
        assert_eq!(e.file(), Path::new("conf/a.toml"));
    }
}
