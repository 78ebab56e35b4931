//! The semantic pass: applies defaults to what the file left out and checks every value,
//! turning the raw serde structs into [`Config`].
//!
//! Owns the value rules (ranges, chain ids, versions, endpoints, keys). It must not read files
//! or know the file name: errors carry the key and the reason, and [`super::Config`] adds the
//! file.

use super::raw::{
    Int, RawApi, RawChain, RawChainId, RawConfig, RawLog, RawNetwork, RawNode, RawProducer,
    RawReputation, RawSync, RawThreads,
};
use super::{
    ApiConfig, AuthorizedPeers, ChainConfig, Config, LogConfig, NetworkConfig, NodeConfig,
    ProducerConfig, ReputationConfig, SyncConfig, ThreadsConfig, MAX_FLUSH_INTERVAL_MS,
    MAX_GRPC_COMPLETION_QUEUES, MAX_HANDSHAKE_WORKERS, MAX_MAX_BLOCK_DOWNLOAD_COUNT,
    MAX_MAX_MESSAGE_SIZE, MAX_PENALTY, MAX_QUEUE_CAPACITY, MAX_SEND_BLOCK_COUNT_LIMIT,
    MAX_TRANSACTIONS_PER_BLOCK, MAX_TRANSACTION_POOL_CAPACITY, MIN_MAX_MESSAGE_SIZE,
    MIN_PRODUCER_INTERVAL_MS,
};
use crate::crypto::{pubkey_from_hex, PUBKEY_LEN};
use crate::network::endpoint::Endpoint;
use crate::types::{chain_id_from_name, NodeVersion};
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

/// A value that breaks a rule: the dotted key and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Invalid {
    pub key: String,
    pub reason: String,
}

type Checked<T> = Result<T, Invalid>;

fn invalid(key: impl Into<String>, reason: impl Into<String>) -> Invalid {
    Invalid {
        key: key.into(),
        reason: reason.into(),
    }
}

/// The bounds of the unsigned TOML integers (TOML integers are `i64`, so `u64` ends there).
const U16: (i64, i64) = (0, u16::MAX as i64);
const U32: (i64, i64) = (0, u32::MAX as i64);
const U64: (i64, i64) = (0, i64::MAX);

/// Checks a raw integer against `lo..=hi` and converts it to the field's type; a missing one is
/// `default`. The reason names the range (`hi == i64::MAX` means no upper bound).
fn int<T: TryFrom<i64>>(
    key: &str,
    raw: Option<Int<T>>,
    default: T,
    (lo, hi): (i64, i64),
) -> Checked<T> {
    let Some(raw) = raw else {
        return Ok(default);
    };
    let value = raw.value;
    let out_of_range = || {
        let reason = if hi == i64::MAX {
            format!("must be at least {lo}, got {value}")
        } else {
            format!("must be in {lo}..={hi}, got {value}")
        };
        invalid(key, reason)
    };
    if !(lo..=hi).contains(&value) {
        return Err(out_of_range());
    }
    T::try_from(value).map_err(|_| out_of_range())
}

/// Builds the validated config; what `raw` leaves out is [`Config::default`]'s.
pub(super) fn validate(raw: RawConfig) -> Checked<Config> {
    let d = Config::default();
    Ok(Config {
        node: node(raw.node, d.node)?,
        network: network(raw.network, d.network)?,
        reputation: reputation(raw.reputation, d.reputation)?,
        sync: sync(raw.sync, d.sync)?,
        chain: chain(raw.chain, d.chain)?,
        producer: producer(raw.producer, d.producer)?,
        api: api(raw.api, d.api)?,
        threads: threads(raw.threads, d.threads)?,
        log: log(raw.log, d.log)?,
    })
}

fn node(raw: RawNode, d: NodeConfig) -> Checked<NodeConfig> {
    let chain_id = match raw.chain_id {
        None => d.chain_id,
        Some(id) => chain_id("node.chain_id", id)?,
    };
    let data_dir = match raw.data_dir {
        None => d.data_dir,
        Some(dir) if dir.as_os_str().is_empty() => {
            return Err(invalid("node.data_dir", "must not be empty"))
        }
        Some(dir) => dir,
    };
    let node_version = match raw.node_version {
        None => d.node_version,
        Some(v) => version("node.node_version", &v)?,
    };
    Ok(NodeConfig {
        chain_id,
        data_dir,
        node_version,
    })
}

/// A chain name ("AELF") or an integer id in `0..=i32::MAX`.
fn chain_id(key: &str, raw: RawChainId) -> Checked<i32> {
    match raw {
        RawChainId::Name(name) => {
            chain_id_from_name(&name).map_err(|e| invalid(key, e.to_string()))
        }
        RawChainId::Id(id) => i32::try_from(id).ok().filter(|id| *id >= 0).ok_or_else(|| {
            invalid(
                key,
                format!(
                    "must be a 4-character chain name or an integer in 0..={}, got {id}",
                    i32::MAX
                ),
            )
        }),
    }
}

fn version(key: &str, text: &str) -> Checked<NodeVersion> {
    NodeVersion::parse(text).map_err(|e| invalid(key, e.to_string()))
}

fn parsed<T: FromStr>(key: &str, text: &str, what: &str) -> Checked<T> {
    text.parse()
        .map_err(|_| invalid(key, format!("{text:?} is not {what}")))
}

fn network(raw: RawNetwork, d: NetworkConfig) -> Checked<NetworkConfig> {
    let listen_address: IpAddr = match raw.listen_address {
        None => d.listen_address,
        Some(a) => parsed(
            "network.listen_address",
            &a,
            "an IP address (e.g. \"0.0.0.0\" or \"::\")",
        )?,
    };
    let listening_port = int(
        "network.listening_port",
        raw.listening_port,
        d.listening_port,
        (1, U16.1),
    )?;
    let boot_nodes = endpoints("network.boot_nodes", raw.boot_nodes, d.boot_nodes)?;
    let persistent_peers = endpoints(
        "network.persistent_peers",
        raw.persistent_peers,
        d.persistent_peers,
    )?;
    let support_stream_min_version = match raw.support_stream_min_version {
        None => d.support_stream_min_version,
        Some(v) => version("network.support_stream_min_version", &v)?,
    };
    let authorized_peers = raw.authorized_peers.unwrap_or(d.authorized_peers);
    let authorized_keys = match raw.authorized_keys {
        None => d.authorized_keys,
        Some(keys) => keys
            .iter()
            .enumerate()
            .map(|(i, key)| authorized_key(&format!("network.authorized_keys[{i}]"), key))
            .collect::<Checked<Vec<_>>>()?,
    };
    if authorized_peers == AuthorizedPeers::Authorized && authorized_keys.is_empty() {
        return Err(invalid(
            "network.authorized_keys",
            "authorized_peers = \"authorized\" needs at least one key",
        ));
    }
    Ok(NetworkConfig {
        listen_address,
        listening_port,
        boot_nodes,
        max_peers: int("network.max_peers", raw.max_peers, d.max_peers, U32)?,
        max_peers_per_ip_address: int(
            "network.max_peers_per_ip_address",
            raw.max_peers_per_ip_address,
            d.max_peers_per_ip_address,
            U32,
        )?,
        max_inbound_peers: int(
            "network.max_inbound_peers",
            raw.max_inbound_peers,
            d.max_inbound_peers,
            U32,
        )?,
        max_outbound_peers: int(
            "network.max_outbound_peers",
            raw.max_outbound_peers,
            d.max_outbound_peers,
            U32,
        )?,
        max_message_size: int(
            "network.max_message_size",
            raw.max_message_size,
            d.max_message_size,
            (MIN_MAX_MESSAGE_SIZE as i64, MAX_MAX_MESSAGE_SIZE as i64),
        )?,
        peer_dial_timeout_ms: int(
            "network.peer_dial_timeout_ms",
            raw.peer_dial_timeout_ms,
            d.peer_dial_timeout_ms,
            (1, U64.1),
        )?,
        peer_reconnection_period_ms: int(
            "network.peer_reconnection_period_ms",
            raw.peer_reconnection_period_ms,
            d.peer_reconnection_period_ms,
            (1, U64.1),
        )?,
        maximum_reconnection_time_ms: int(
            "network.maximum_reconnection_time_ms",
            raw.maximum_reconnection_time_ms,
            d.maximum_reconnection_time_ms,
            U64,
        )?,
        compress_blocks_on_request: raw
            .compress_blocks_on_request
            .unwrap_or(d.compress_blocks_on_request),
        enable_peer_discovery: raw.enable_peer_discovery.unwrap_or(d.enable_peer_discovery),
        peer_discovery_max_nodes_to_keep: int(
            "network.peer_discovery_max_nodes_to_keep",
            raw.peer_discovery_max_nodes_to_keep,
            d.peer_discovery_max_nodes_to_keep,
            U32,
        )?,
        initial_sync_offset: int(
            "network.initial_sync_offset",
            raw.initial_sync_offset,
            d.initial_sync_offset,
            U64,
        )?,
        peer_invalid_transaction_timeout_ms: int(
            "network.peer_invalid_transaction_timeout_ms",
            raw.peer_invalid_transaction_timeout_ms,
            d.peer_invalid_transaction_timeout_ms,
            (1, U64.1),
        )?,
        peer_invalid_transaction_limit: int(
            "network.peer_invalid_transaction_limit",
            raw.peer_invalid_transaction_limit,
            d.peer_invalid_transaction_limit,
            U32,
        )?,
        support_stream_min_version,
        authorized_peers,
        authorized_keys,
        block_queue_capacity: int(
            "network.block_queue_capacity",
            raw.block_queue_capacity,
            d.block_queue_capacity,
            (1, MAX_QUEUE_CAPACITY as i64),
        )?,
        transaction_queue_capacity: int(
            "network.transaction_queue_capacity",
            raw.transaction_queue_capacity,
            d.transaction_queue_capacity,
            (1, MAX_QUEUE_CAPACITY as i64),
        )?,
        announcement_queue_capacity: int(
            "network.announcement_queue_capacity",
            raw.announcement_queue_capacity,
            d.announcement_queue_capacity,
            (1, MAX_QUEUE_CAPACITY as i64),
        )?,
        stalled_send_timeout_ms: int(
            "network.stalled_send_timeout_ms",
            raw.stalled_send_timeout_ms,
            d.stalled_send_timeout_ms,
            U64,
        )?,
        transaction_pool_capacity: int(
            "network.transaction_pool_capacity",
            raw.transaction_pool_capacity,
            d.transaction_pool_capacity,
            (1, MAX_TRANSACTION_POOL_CAPACITY as i64),
        )?,
        persistent_peers,
        persistent_peer_max_backoff_ms: int(
            "network.persistent_peer_max_backoff_ms",
            raw.persistent_peer_max_backoff_ms,
            d.persistent_peer_max_backoff_ms,
            (1, U64.1),
        )?,
        peer_discovery_period_ms: int(
            "network.peer_discovery_period_ms",
            raw.peer_discovery_period_ms,
            d.peer_discovery_period_ms,
            (1, U64.1),
        )?,
        peer_discovery_max_nodes_per_subnet: int(
            "network.peer_discovery_max_nodes_per_subnet",
            raw.peer_discovery_max_nodes_per_subnet,
            d.peer_discovery_max_nodes_per_subnet,
            U32,
        )?,
    })
}

/// A list of endpoints; the key of a bad one carries its index (`network.boot_nodes[1]`).
fn endpoints(
    key: &str,
    raw: Option<Vec<String>>,
    default: Vec<Endpoint>,
) -> Checked<Vec<Endpoint>> {
    match raw {
        None => Ok(default),
        Some(list) => list
            .iter()
            .enumerate()
            .map(|(i, text)| {
                Endpoint::parse(text).map_err(|e| invalid(format!("{key}[{i}]"), e.to_string()))
            })
            .collect(),
    }
}

fn reputation(raw: RawReputation, d: ReputationConfig) -> Checked<ReputationConfig> {
    let weight = |key: &str, raw: Option<Int<u32>>, default: u32| {
        int(key, raw, default, (0, i64::from(MAX_PENALTY)))
    };
    let disconnect_threshold = int(
        "reputation.disconnect_threshold",
        raw.disconnect_threshold,
        d.disconnect_threshold,
        (-i64::from(MAX_PENALTY), -1),
    )?;
    let ban_threshold = int(
        "reputation.ban_threshold",
        raw.ban_threshold,
        d.ban_threshold,
        (-i64::from(MAX_PENALTY), -1),
    )?;
    if ban_threshold > disconnect_threshold {
        return Err(invalid(
            "reputation.ban_threshold",
            format!(
                "must be at most disconnect_threshold ({disconnect_threshold}), got {ban_threshold}"
            ),
        ));
    }
    Ok(ReputationConfig {
        ban_duration_ms: int(
            "reputation.ban_duration_ms",
            raw.ban_duration_ms,
            d.ban_duration_ms,
            (1, U64.1),
        )?,
        half_life_ms: int(
            "reputation.half_life_ms",
            raw.half_life_ms,
            d.half_life_ms,
            (1, U64.1),
        )?,
        disconnect_threshold,
        ban_threshold,
        invalid_transaction_penalty: weight(
            "reputation.invalid_transaction_penalty",
            raw.invalid_transaction_penalty,
            d.invalid_transaction_penalty,
        )?,
        bad_signature_penalty: weight(
            "reputation.bad_signature_penalty",
            raw.bad_signature_penalty,
            d.bad_signature_penalty,
        )?,
        malformed_message_penalty: weight(
            "reputation.malformed_message_penalty",
            raw.malformed_message_penalty,
            d.malformed_message_penalty,
        )?,
        inconsistent_blocks_penalty: weight(
            "reputation.inconsistent_blocks_penalty",
            raw.inconsistent_blocks_penalty,
            d.inconsistent_blocks_penalty,
        )?,
        request_timeout_penalty: weight(
            "reputation.request_timeout_penalty",
            raw.request_timeout_penalty,
            d.request_timeout_penalty,
        )?,
    })
}

fn sync(raw: RawSync, d: SyncConfig) -> Checked<SyncConfig> {
    Ok(SyncConfig {
        max_block_download_count: int(
            "sync.max_block_download_count",
            raw.max_block_download_count,
            d.max_block_download_count,
            (1, MAX_MAX_BLOCK_DOWNLOAD_COUNT as i64),
        )?,
        max_batch_request_block_count: int(
            "sync.max_batch_request_block_count",
            raw.max_batch_request_block_count,
            d.max_batch_request_block_count,
            (1, i64::from(MAX_SEND_BLOCK_COUNT_LIMIT)),
        )?,
    })
}

/// 130 hex characters: an uncompressed (`04…`) secp256k1 public key on the curve.
fn authorized_key(key: &str, text: &str) -> Checked<[u8; PUBKEY_LEN]> {
    let expected = PUBKEY_LEN * 2;
    let len = text.chars().count();
    if len != expected {
        return Err(invalid(
            key,
            format!(
                "must be {expected} hex characters (an uncompressed secp256k1 public key), \
                 got {len}"
            ),
        ));
    }
    pubkey_from_hex(text).map_err(|_| {
        invalid(
            key,
            "is not an uncompressed secp256k1 public key (hex, starting with 04, on the curve)",
        )
    })
}

fn chain(raw: RawChain, d: ChainConfig) -> Checked<ChainConfig> {
    Ok(ChainConfig {
        genesis_time: int("chain.genesis_time", raw.genesis_time, d.genesis_time, U64)?,
        irreversible_depth: int(
            "chain.irreversible_depth",
            raw.irreversible_depth,
            d.irreversible_depth,
            (1, U64.1),
        )?,
        flush_interval_ms: int(
            "chain.flush_interval_ms",
            raw.flush_interval_ms,
            d.flush_interval_ms,
            (0, MAX_FLUSH_INTERVAL_MS as i64),
        )?,
    })
}

fn producer(raw: RawProducer, d: ProducerConfig) -> Checked<ProducerConfig> {
    Ok(ProducerConfig {
        enabled: raw.enabled.unwrap_or(d.enabled),
        interval_ms: int(
            "producer.interval_ms",
            raw.interval_ms,
            d.interval_ms,
            (MIN_PRODUCER_INTERVAL_MS as i64, U64.1),
        )?,
        transactions_per_block: int(
            "producer.transactions_per_block",
            raw.transactions_per_block,
            d.transactions_per_block,
            (0, i64::from(MAX_TRANSACTIONS_PER_BLOCK)),
        )?,
    })
}

fn api(raw: RawApi, d: ApiConfig) -> Checked<ApiConfig> {
    let listen: SocketAddr = match raw.listen {
        None => d.listen,
        Some(a) => parsed(
            "api.listen",
            &a,
            "a socket address (ip:port, e.g. \"127.0.0.1:8000\" or \"[::1]:8000\")",
        )?,
    };
    // Blank means unset, as the C# node treats whitespace-only credentials.
    let credential = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
    let basic_auth_user = credential(raw.basic_auth_user).or(d.basic_auth_user);
    if basic_auth_user.as_deref().is_some_and(|u| u.contains(':')) {
        return Err(invalid(
            "api.basic_auth_user",
            "must not contain ':' (HTTP Basic separates user and password with it)",
        ));
    }
    Ok(ApiConfig {
        listen,
        basic_auth_user,
        basic_auth_password: credential(raw.basic_auth_password).or(d.basic_auth_password),
    })
}

fn threads(raw: RawThreads, d: ThreadsConfig) -> Checked<ThreadsConfig> {
    Ok(ThreadsConfig {
        grpc_completion_queues: int(
            "threads.grpc_completion_queues",
            raw.grpc_completion_queues,
            d.grpc_completion_queues,
            (1, MAX_GRPC_COMPLETION_QUEUES as i64),
        )?,
        handshake_workers: int(
            "threads.handshake_workers",
            raw.handshake_workers,
            d.handshake_workers,
            (1, MAX_HANDSHAKE_WORKERS as i64),
        )?,
        block_servers: int(
            "threads.block_servers",
            raw.block_servers,
            d.block_servers,
            (1, MAX_HANDSHAKE_WORKERS as i64),
        )?,
        scheduler_workers: int(
            "threads.scheduler_workers",
            raw.scheduler_workers,
            d.scheduler_workers,
            (1, MAX_HANDSHAKE_WORKERS as i64),
        )?,
        api_workers: int(
            "threads.api_workers",
            raw.api_workers,
            d.api_workers,
            (1, MAX_HANDSHAKE_WORKERS as i64),
        )?,
    })
}

fn log(raw: RawLog, d: LogConfig) -> Checked<LogConfig> {
    let level = match raw.level {
        None => d.level,
        // `LevelFilter::from_str` takes exactly these six names, ignoring case.
        Some(l) => parsed(
            "log.level",
            &l,
            "a log level (off, error, warn, info, debug or trace)",
        )?,
    };
    let file = match raw.file {
        None => d.file,
        Some(f) if f.as_os_str().is_empty() => None,
        Some(f) => Some(f),
    };
    Ok(LogConfig { level, file })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    const KEY: &str = "04\
        79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798\
        483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8";

    fn err(raw: RawConfig) -> Invalid {
        validate(raw).expect_err("should be invalid")
    }

    #[test]
    fn nothing_given_is_the_default() {
        assert_eq!(validate(RawConfig::default()), Ok(Config::default()));
    }

    #[test]
    fn chain_id_as_name_or_integer() {
        let key = "node.chain_id";
        assert_eq!(
            chain_id(key, RawChainId::Name("AELF".into())),
            Ok(9_992_731)
        );
        assert_eq!(
            chain_id(key, RawChainId::Name("tDVV".into())),
            Ok(1_866_392)
        );
        assert_eq!(chain_id(key, RawChainId::Id(9_992_731)), Ok(9_992_731));
        assert_eq!(chain_id(key, RawChainId::Id(0)), Ok(0));
        assert_eq!(chain_id(key, RawChainId::Id(i32::MAX as i64)), Ok(i32::MAX));
        for bad in [
            RawChainId::Id(-1),
            RawChainId::Id(i32::MAX as i64 + 1),
            RawChainId::Id(i64::MIN),
            RawChainId::Name("AEL0".into()),
            RawChainId::Name(String::new()),
        ] {
            let e = chain_id(key, bad.clone()).expect_err("invalid");
            assert_eq!(e.key, key, "{bad:?}");
        }
    }

    #[test]
    fn ranges_name_the_key_and_the_bounds() {
        assert_eq!(
            int::<u16>("a.b", Some(Int::new(0)), 6800, (1, U16.1)),
            Err(invalid("a.b", "must be in 1..=65535, got 0"))
        );
        assert_eq!(
            int::<u16>("a.b", Some(Int::new(70_000)), 6800, (1, U16.1)),
            Err(invalid("a.b", "must be in 1..=65535, got 70000"))
        );
        assert_eq!(
            int::<u32>("a.b", Some(Int::new(-1)), 25, U32),
            Err(invalid("a.b", "must be in 0..=4294967295, got -1"))
        );
        assert_eq!(
            int::<u64>("a.b", Some(Int::new(99)), 4000, (100, U64.1)),
            Err(invalid("a.b", "must be at least 100, got 99"))
        );
        assert_eq!(int::<usize>("a.b", Some(Int::new(5)), 2, (1, 64)), Ok(5));
        assert_eq!(int::<usize>("a.b", None, 2, (1, 64)), Ok(2));
        assert_eq!(
            int::<u64>("a.b", Some(Int::new(i64::MAX)), 0, U64),
            Ok(i64::MAX as u64)
        );
    }

    #[test]
    fn each_rule_names_its_key() {
        let mut raw = RawConfig::default();
        raw.network.listening_port = Some(Int::new(0));
        assert_eq!(err(raw).key, "network.listening_port");

        let mut raw = RawConfig::default();
        raw.network.peer_dial_timeout_ms = Some(Int::new(0));
        assert_eq!(err(raw).key, "network.peer_dial_timeout_ms");

        let mut raw = RawConfig::default();
        raw.network.peer_reconnection_period_ms = Some(Int::new(0));
        assert_eq!(err(raw).key, "network.peer_reconnection_period_ms");

        let mut raw = RawConfig::default();
        raw.network.peer_invalid_transaction_timeout_ms = Some(Int::new(0));
        assert_eq!(err(raw).key, "network.peer_invalid_transaction_timeout_ms");

        let mut raw = RawConfig::default();
        raw.network.boot_nodes = Some(vec!["a:1".into(), "b:0".into()]);
        assert_eq!(err(raw).key, "network.boot_nodes[1]");

        let mut raw = RawConfig::default();
        raw.network.authorized_keys = Some(vec![KEY.into(), "04ab".into()]);
        assert_eq!(err(raw).key, "network.authorized_keys[1]");

        let mut raw = RawConfig::default();
        raw.chain.genesis_time = Some(Int::new(-1));
        assert_eq!(err(raw).key, "chain.genesis_time");

        let mut raw = RawConfig::default();
        raw.chain.irreversible_depth = Some(Int::new(0));
        assert_eq!(err(raw).key, "chain.irreversible_depth");

        let mut raw = RawConfig::default();
        raw.producer.interval_ms = Some(Int::new(99));
        assert_eq!(err(raw).key, "producer.interval_ms");

        let mut raw = RawConfig::default();
        raw.producer.transactions_per_block = Some(Int::new(10_001));
        assert_eq!(err(raw).key, "producer.transactions_per_block");

        let mut raw = RawConfig::default();
        raw.threads.grpc_completion_queues = Some(Int::new(65));
        assert_eq!(err(raw).key, "threads.grpc_completion_queues");

        let mut raw = RawConfig::default();
        raw.threads.grpc_completion_queues = Some(Int::new(0));
        assert_eq!(err(raw).key, "threads.grpc_completion_queues");

        let mut raw = RawConfig::default();
        raw.node.data_dir = Some(PathBuf::new());
        assert_eq!(err(raw).key, "node.data_dir");
    }

    #[test]
    fn reputation_thresholds_are_ordered_and_negative() {
        let mut raw = RawConfig::default();
        raw.reputation.ban_threshold = Some(Int::new(-500));
        let e = err(raw);
        assert_eq!(e.key, "reputation.ban_threshold");
        assert!(
            e.reason.contains("at most disconnect_threshold"),
            "{}",
            e.reason
        );
        let mut raw = RawConfig::default();
        raw.reputation.disconnect_threshold = Some(Int::new(0));
        assert_eq!(err(raw).key, "reputation.disconnect_threshold");
        let mut raw = RawConfig::default();
        raw.network.persistent_peers = Some(vec!["a:1".into(), "b:x".into()]);
        assert_eq!(err(raw).key, "network.persistent_peers[1]");
        let mut raw = RawConfig::default();
        raw.threads.scheduler_workers = Some(Int::new(0));
        assert_eq!(err(raw).key, "threads.scheduler_workers");
    }

    #[test]
    fn api_credentials_blank_is_unset_and_the_user_has_no_colon() {
        let mut raw = RawConfig::default();
        raw.api.basic_auth_user = Some("  ".into());
        raw.api.basic_auth_password = Some("pw".into());
        raw.threads.api_workers = Some(Int::new(3));
        let c = validate(raw).unwrap();
        assert_eq!(c.api.basic_auth_user, None);
        assert_eq!(c.api.basic_auth_password.as_deref(), Some("pw"));
        assert_eq!(c.threads.api_workers, 3);
        let mut raw = RawConfig::default();
        raw.api.basic_auth_user = Some("a:b".into());
        assert_eq!(err(raw).key, "api.basic_auth_user");
        let mut raw = RawConfig::default();
        raw.threads.api_workers = Some(Int::new(0));
        assert_eq!(err(raw).key, "threads.api_workers");
    }

    #[test]
    fn authorized_keys_are_checked() {
        let k = "network.authorized_keys[0]";
        assert!(authorized_key(k, KEY).is_ok());
        assert!(authorized_key(k, &KEY.to_uppercase()).is_ok());
        // Right length, wrong prefix (compressed marker) or not hex, or off the curve.
        let compressed_marker = format!("02{}", &KEY[2..]);
        let not_hex = format!("zz{}", &KEY[2..]);
        let off_curve = format!("{}00", &KEY[..128]);
        for bad in [compressed_marker, not_hex, off_curve] {
            let e = authorized_key(k, &bad).expect_err("invalid");
            assert!(e.reason.contains("secp256k1"), "{}", e.reason);
        }
        let e = authorized_key(k, "04abc").expect_err("short");
        assert!(e.reason.contains("130 hex characters"), "{}", e.reason);
        // Multi-byte characters count as characters and never panic.
        assert!(authorized_key(k, &"é".repeat(130)).is_err());
    }

    #[test]
    fn log_level_and_file() {
        for (text, level) in [
            ("off", log::LevelFilter::Off),
            ("ERROR", log::LevelFilter::Error),
            ("Warn", log::LevelFilter::Warn),
            ("debug", log::LevelFilter::Debug),
            ("trace", log::LevelFilter::Trace),
        ] {
            let raw = RawLog {
                level: Some(text.into()),
                file: Some(PathBuf::new()),
            };
            let got = log(raw, Config::default().log).expect(text);
            assert_eq!(got.level, level);
            assert_eq!(got.file, None);
        }
        let raw = RawLog {
            level: Some("verbose".into()),
            file: None,
        };
        assert_eq!(
            log(raw, Config::default().log).expect_err("bad level").key,
            "log.level"
        );
        let raw = RawLog {
            level: None,
            file: Some("node.log".into()),
        };
        let got = log(raw, Config::default().log).expect("file");
        assert_eq!(got.file, Some(PathBuf::from("node.log")));
    }
}
