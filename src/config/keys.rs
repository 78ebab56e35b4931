//! The table of every section and key of `conf/aelf-netd.toml`: one row per key with its type,
//! default, rule and doc. Adding, renaming or changing a key is a change to one row here (and
//! to the shipped file, which a test keeps in step).
//!
//! Owns the keys: their names (hence the dotted names in errors), types, defaults (the C#
//! node's `NetworkOptions` and `NetworkConstants` where there is an equivalent, else the
//! constant of the component that applies the value), the rule each value follows and the
//! rules between keys of one section. It must not define how a rule checks a value (that is
//! [`super::validate`]'s) nor what the table generates (that is [`super::table`]'s).
//!
//! A row is `name: Type = default, Rule;` (see [`super::table`]); a row without a rule takes
//! its type's own (`Plain`: integers in their type's range, addresses, versions, …).

use super::table::config_table;
use super::validate::{invalid, AtLeast, ChainId, Checked, InRange};
use super::{AuthorizedPeers, ChainModeName, MAX_PENALTY, MAX_QUEUE_CAPACITY, MAX_THREADS};
use crate::crypto::PUBKEY_LEN;
use crate::grpc::channel::DEFAULT_MAX_MESSAGE_LENGTH;
use crate::network::blacklist::DEFAULT_PEER_REMOVAL_SECONDS;
use crate::network::broadcast::{
    DEFAULT_ANNOUNCEMENT_QUEUE_CAPACITY, DEFAULT_BLOCK_QUEUE_CAPACITY,
    DEFAULT_TRANSACTION_QUEUE_CAPACITY,
};
use crate::network::endpoint::{Endpoint, DEFAULT_PEER_PORT};
use crate::network::peer_pool::{
    DEFAULT_MAX_INBOUND_PEERS, DEFAULT_MAX_OUTBOUND_PEERS, DEFAULT_MAX_PEERS,
    DEFAULT_MAX_PEERS_PER_IP_ADDRESS,
};
use crate::network::service::MAX_SEND_BLOCK_COUNT_LIMIT;
use crate::network::sync_state::INITIAL_SYNC_OFFSET;
use crate::os::tx_pool::DEFAULT_TX_POOL_CAPACITY;
use crate::types::{Address, Hash, NodeVersion};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;

/// A penalty weight: `0..=MAX_PENALTY`.
type Penalty = InRange<0, { MAX_PENALTY as i64 }>;
/// A score threshold: `-MAX_PENALTY..=-1`.
type Threshold = InRange<{ -(MAX_PENALTY as i64) }, -1>;
/// A per-peer send queue: `1..=MAX_QUEUE_CAPACITY`.
type QueueCapacity = InRange<1, { MAX_QUEUE_CAPACITY as i64 }>;
/// A thread count: `1..=MAX_THREADS`.
type Threads = InRange<1, { MAX_THREADS as i64 }>;

config_table! {
    /// `[node]`: which chain, where the node keeps its state, what version it announces.
    [node] NodeConfig, RawNode {
        /// A 4-character base58 chain name or the integer chain id; default "AELF"
        /// (C# `ChainOptions.ChainId`).
        chain_id: i32 = 9_992_731, ChainId;
        /// Directory of the node key and the chain store; must not be empty.
        data_dir: PathBuf = PathBuf::from("data");
        /// The version this node announces in handshakes (C# node 1.9 line: stream capable).
        node_version: NodeVersion = version("1.9.0.0");
    }

    /// `[network]`: the peer-to-peer layer (C# `NetworkOptions`).
    [network] NetworkConfig, RawNetwork, check = authorized_keys_given {
        /// Default: all IPv4 interfaces.
        listen_address: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        /// C# `NetworkOptions.ListeningPort` (`NetworkConstants.DefaultPeerPort`).
        listening_port: u16 = DEFAULT_PEER_PORT, InRange<1, { u16::MAX as i64 }>;
        /// Peers dialed at start-up.
        boot_nodes: Vec<Endpoint> = Vec::new();
        /// 0 = no limit (C# `NetworkOptions.MaxPeers`).
        max_peers: u32 = DEFAULT_MAX_PEERS;
        /// 0 = no limit (C# `NetworkOptions.MaxPeersPerIpAddress`).
        max_peers_per_ip_address: u32 = DEFAULT_MAX_PEERS_PER_IP_ADDRESS;
        /// Within `max_peers`; 0 = no separate limit.
        max_inbound_peers: u32 = DEFAULT_MAX_INBOUND_PEERS;
        /// Within `max_peers`; 0 = no separate limit.
        max_outbound_peers: u32 = DEFAULT_MAX_OUTBOUND_PEERS;
        /// Both directions, at least 1 MiB (a full block must fit), at most what gRPC takes
        /// (an `int` in C-core).
        max_message_size: usize = DEFAULT_MAX_MESSAGE_LENGTH,
            InRange<{ 1 << 20 }, { i32::MAX as i64 }>;
        /// C# `NetworkConstants.DefaultPeerDialTimeout`.
        peer_dial_timeout_ms: u64 = 3_000, AtLeast<1>;
        /// C# `NetworkConstants.DefaultPeerReconnectionPeriod`.
        peer_reconnection_period_ms: u64 = 60_000, AtLeast<1>;
        /// One day; 0 = never give up (C# `NetworkConstants.DefaultMaximumReconnectionTime`).
        maximum_reconnection_time_ms: u64 = 86_400_000;
        /// Peers kept connected: retried forever (ours, as CometBFT's `persistent_peers`).
        persistent_peers: Vec<Endpoint> = Vec::new();
        /// A persistent peer is retried at least every ten minutes (ours; CometBFT's
        /// `persistent_peers_max_dial_period` plays this part).
        persistent_peer_max_backoff_ms: u64 = 600_000, AtLeast<1>;
        /// C# `NetworkConstants.DefaultCompressBlocks`.
        compress_blocks_on_request: bool = true;
        /// Tell every peer goodbye when the node stops. Off, as the C# node (which stops
        /// without one): a C# peer that hears a goodbye forgets us and never dials again.
        goodbye_on_shutdown: bool = false;
        /// C# `NetworkOptions.EnablePeerDiscovery`.
        enable_peer_discovery: bool = true;
        /// C# `NetworkConstants.DefaultDiscoveryMaxNodesToKeep`.
        peer_discovery_max_nodes_to_keep: u32 = 512;
        /// C# `NetworkConstants.DefaultDiscoveryPeriod`.
        peer_discovery_period_ms: u64 = 60_000, AtLeast<1>;
        /// Known nodes from one public IPv4 /24 (IPv6 /64); 0 = no limit (ours).
        peer_discovery_max_nodes_per_subnet: u32 = 16;
        /// C# `NetworkConstants.DefaultInitialSyncOffset`.
        initial_sync_offset: u64 = INITIAL_SYNC_OFFSET as u64;
        /// C# `NetworkConstants.DefaultPeerInvalidTransactionTimeout`.
        peer_invalid_transaction_timeout_ms: u64 = 10_000, AtLeast<1>;
        /// C# `NetworkConstants.DefaultPeerInvalidTransactionLimit`.
        peer_invalid_transaction_limit: u32 = 50;
        /// C# `KernelConstants.SupportStreamMinVersion`.
        support_stream_min_version: NodeVersion = version("1.4.0.0");
        /// C# `NetworkOptions.AuthorizedPeers = AuthorizedPeers.Any`.
        authorized_peers: AuthorizedPeers = AuthorizedPeers::Any;
        /// Uncompressed secp256k1 public keys; at least one when `authorized_peers` is
        /// `Authorized`.
        authorized_keys: Vec<[u8; PUBKEY_LEN]> = Vec::new();
        /// C# `NetworkConstants.DefaultMaxBufferedBlockCount`.
        block_queue_capacity: usize = DEFAULT_BLOCK_QUEUE_CAPACITY, QueueCapacity;
        /// C# `NetworkConstants.DefaultMaxBufferedTransactionCount`.
        transaction_queue_capacity: usize = DEFAULT_TRANSACTION_QUEUE_CAPACITY, QueueCapacity;
        /// C# `NetworkConstants.DefaultMaxBufferedAnnouncementCount`.
        announcement_queue_capacity: usize = DEFAULT_ANNOUNCEMENT_QUEUE_CAPACITY, QueueCapacity;
        /// A send to a peer that has waited this long for the peer to take it drops the peer;
        /// 0: never (ours; the C# node keeps such a peer, its queue full).
        stalled_send_timeout_ms: u64 = 60_000;
        /// Pending transactions the node keeps.
        transaction_pool_capacity: usize = DEFAULT_TX_POOL_CAPACITY, InRange<1, 1_000_000>;
    }

    /// `[reputation]`: penalties of misbehaving peers (ours, after reth and Substrate).
    [reputation] ReputationConfig, RawReputation, check = thresholds_ordered {
        /// Five minutes (C# `NetworkConstants.DefaultPeerRemovalSeconds`).
        ban_duration_ms: u64 = DEFAULT_PEER_REMOVAL_SECONDS as u64 * 1_000, AtLeast<1>;
        /// Of a penalty.
        half_life_ms: u64 = 60_000, AtLeast<1>;
        /// At or below this score the peer is disconnected.
        disconnect_threshold: i64 = -1_000, Threshold;
        /// At or below this score (at most `disconnect_threshold`) the host is banned.
        ban_threshold: i64 = -2_000, Threshold;
        /// The C# limit (more than 50 within 10 s bans the host) decides bursts; a steady
        /// trickle of one every 5 s settles near -180.
        invalid_transaction_penalty: u32 = 10, Penalty;
        /// A bad signature on a block.
        bad_signature_penalty: u32 = 500, Penalty;
        /// A malformed message.
        malformed_message_penalty: u32 = 200, Penalty;
        /// Serving inconsistent blocks (the host is banned anyway, as in C#).
        inconsistent_blocks_penalty: u32 = 1_000, Penalty;
        /// One timeout every 10 s settles near -460, well above the disconnect threshold.
        request_timeout_penalty: u32 = 50, Penalty;
    }

    /// `[sync]`: how missing blocks are downloaded.
    [sync] SyncConfig, RawSync {
        /// C# `BlockSyncConstants.DefaultMaxBlockDownloadCount`.
        max_block_download_count: usize = 50, InRange<1, 10_000>;
        /// C# `BlockSyncConstants.DefaultMaxBatchRequestBlockCount`; at most what a node
        /// answers.
        max_batch_request_block_count: usize = 10,
            InRange<1, { MAX_SEND_BLOCK_COUNT_LIMIT as i64 }>;
    }

    /// `[chain]`: the embedded chain's fixed parameters.
    [chain] ChainConfig, RawChain, check = chain_keys_agree {
        /// `development` (our own chain and genesis) or `follow` (a real aelf chain from a
        /// trusted checkpoint).
        mode: ChainModeName = ChainModeName::Development;
        /// Follow mode: the height of the trusted checkpoint block.
        checkpoint_height: i64 = 0, AtLeast<0>;
        /// Follow mode: the hash of the trusted checkpoint block (64 hex characters).
        checkpoint_hash: Option<Hash> = None;
        /// Follow mode: the chain's genesis hash, shown by the API; unset shows zero.
        genesis_hash: Option<Hash> = None;
        /// Development mode: Unix seconds; default 2026-01-01T00:00:00Z.
        genesis_time: i64 = 1_767_225_600, AtLeast<0>;
        /// Development chain: its AEDPoS miners are the development keys 1..=miners (public
        /// keys derived from a published seed: development chains only).
        miners: u32 = 1, InRange<1, 64>;
        /// Development chain: one miner's time slot (C# `MiningInterval`).
        mining_interval_ms: u64 = 4_000, InRange<100, 60_000>;
        /// Development chain: miners per term, each term's list rotating through the miners;
        /// 0 = every miner in every term.
        miners_per_term: u32 = 0, InRange<0, 64>;
        /// Development chain: a term's length (C# `PeriodSeconds`, a week on mainnet).
        term_period_seconds: u64 = 604_800, InRange<1, 31_536_000>;
        /// The chain store is made durable by the `chain-flush` thread once per this many
        /// milliseconds instead of by each attach (a crash loses at most that much; peers serve
        /// it again). Measured
        /// by `aelf-netbench --only sync`: storing is about five times faster than with a
        /// durable commit per block.
        flush_interval_ms: u64 = 100, InRange<0, 10_000>;
        /// Base58 address of the chain's genesis (zero) contract, shown as the API's
        /// `GenesisContractAddress` (aelf-command finds system contracts through it). The C#
        /// node computes it by running the chain; a network node cannot, so it is given here.
        genesis_contract_address: Option<String> = None;
    }

    /// `[producer]`: the development block producer.
    [producer] ProducerConfig, RawProducer {
        /// Off by default.
        enabled: bool = false;
        /// The development miner (1..=`[chain] miners`) this node is: with the producer on,
        /// its node key is that miner's development key (in aelf the miner key is the node
        /// key), and it mines in that miner's slots.
        miner: u32 = 1, InRange<1, 64>;
        /// Generated transactions per block.
        transactions_per_block: u32 = 0, InRange<0, 10_000>;
    }

    /// `[api]`: the local control API.
    [api] ApiConfig, RawApi, check = basic_auth_user_has_no_colon {
        /// Loopback only by default.
        listen: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8000));
        /// HTTP Basic credentials of the write routes (C# `BasicAuth:UserName/Password`); with
        /// either unset (blank in the file) every write route answers 401.
        basic_auth_user: Option<String> = None;
        /// See `basic_auth_user`.
        basic_auth_password: Option<String> = None;
    }

    /// `[threads]`: thread counts.
    [threads] ThreadsConfig, RawThreads {
        /// gRPC completion-queue threads.
        grpc_completion_queues: usize = 2, Threads;
        /// Inbound handshakes (dial-back) and other server work that may block.
        handshake_workers: usize = 2, Threads;
        /// Threads that read blocks to answer block requests.
        block_servers: usize = 2, Threads;
        /// Threads that check the blocks of a downloaded batch (signatures, transaction roots)
        /// side by side before they are attached.
        block_verifiers: usize = 2, Threads;
        /// Threads that serve the block requests (REQUEST_BLOCK, REQUEST_BLOCKS) of stream-mode
        /// peers, so they never hold up a peer's other requests.
        stream_servers: usize = 2, Threads;
        /// The scheduler's dials, pings, health checks and discovery rounds.
        scheduler_workers: usize = 4, Threads;
        /// The operator API (a peer added through it is dialed on the worker, so two keep the
        /// API answering meanwhile).
        api_workers: usize = 2, Threads;
    }

    /// `[log]`: level and destination.
    [log] LogConfig, RawLog {
        /// Applied live on SIGHUP.
        level: log::LevelFilter = log::LevelFilter::Info;
        /// Appended to; `None` (blank in the file) is stderr.
        file: Option<PathBuf> = None;
    }
}

/// A default version; the defaults are tested to parse.
fn version(text: &str) -> NodeVersion {
    NodeVersion::parse(text).expect("default versions are valid")
}

/// `authorized_peers = "authorized"` needs a key to authorize.
fn authorized_keys_given(n: &NetworkConfig) -> Checked<()> {
    if n.authorized_peers == AuthorizedPeers::Authorized && n.authorized_keys.is_empty() {
        return Err(invalid(
            key::network::authorized_keys,
            "authorized_peers = \"authorized\" needs at least one key",
        ));
    }
    Ok(())
}

/// A host is banned no sooner than its peer is disconnected.
fn thresholds_ordered(r: &ReputationConfig) -> Checked<()> {
    if r.ban_threshold > r.disconnect_threshold {
        return Err(invalid(
            key::reputation::ban_threshold,
            format!(
                "must be at most disconnect_threshold ({}), got {}",
                r.disconnect_threshold, r.ban_threshold
            ),
        ));
    }
    Ok(())
}

/// HTTP Basic separates user and password with ':'.
/// The genesis contract address parses; follow mode names its checkpoint.
fn chain_keys_agree(c: &ChainConfig) -> Checked<()> {
    if c.mode == ChainModeName::Follow {
        if c.checkpoint_hash.is_none() {
            return Err(invalid(
                key::chain::checkpoint_hash,
                "must be given in follow mode (the trusted block to start from)",
            ));
        }
        if c.checkpoint_height < 1 {
            return Err(invalid(
                key::chain::checkpoint_height,
                "must be at least 1 in follow mode (the trusted block's height)",
            ));
        }
    }
    match c.genesis_contract_address.as_deref() {
        Some(text) if Address::from_base58(text).is_none() => Err(invalid(
            key::chain::genesis_contract_address,
            "must be a base58 aelf address (as the C# node's chainStatus shows it)",
        )),
        _ => Ok(()),
    }
}

fn basic_auth_user_has_no_colon(a: &ApiConfig) -> Checked<()> {
    if a.basic_auth_user
        .as_deref()
        .is_some_and(|u| u.contains(':'))
    {
        return Err(invalid(
            key::api::basic_auth_user,
            "must not contain ':' (HTTP Basic separates user and password with it)",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::raw::Int;
    use super::*;
    use crate::crypto::NodeKey;
    use crate::types::chain_id_from_name;

    const KEY: &str = "04\
        79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798\
        483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8";

    fn err(raw: RawConfig) -> String {
        raw.validate().expect_err("should be invalid").key
    }

    #[test]
    fn nothing_given_is_the_default() {
        assert_eq!(RawConfig::default().validate(), Ok(Config::default()));
    }

    #[test]
    fn defaults_are_consistent() {
        let d = Config::default();
        assert_eq!(chain_id_from_name("AELF"), Ok(d.node.chain_id));
        assert_eq!(d.network.listening_port, 6800);
        assert_eq!(d.network.max_message_size, 104_857_600);
        assert_eq!(d.network.initial_sync_offset, 512);
        assert_eq!(d.reputation.ban_duration_ms, 300_000);
        assert_eq!(d.api.listen.to_string(), "127.0.0.1:8000");
        assert_eq!(d.network.listen_address.to_string(), "0.0.0.0");
        assert_eq!(d.node.node_version.to_string(), "1.9.0.0");
        assert!(d
            .node
            .node_version
            .at_least(&d.network.support_stream_min_version));
        // Every default passes its own key's rules.
        assert_eq!(authorized_keys_given(&d.network), Ok(()));
        assert_eq!(thresholds_ordered(&d.reputation), Ok(()));
    }

    #[test]
    fn every_key_has_a_dotted_name_once() {
        assert_eq!(Config::KEYS.len(), 70);
        let mut seen = std::collections::HashSet::new();
        for key in Config::KEYS {
            assert!(seen.insert(key), "{key} twice");
            let (section, name) = key.split_once('.').expect("section.key");
            assert!(!section.is_empty() && !name.is_empty() && !name.contains('.'));
        }
        assert_eq!(key::network::max_peers, "network.max_peers");
        assert_eq!(Config::KEYS[0], "node.chain_id");
    }

    /// `config` written as a file, section by section, from its `toml_values`.
    fn written(config: &Config) -> String {
        let mut text = String::new();
        let mut section = "";
        for (key, value) in config.toml_values() {
            let (s, name) = key.split_once('.').expect("section.key");
            if s != section {
                text.push_str(&format!("[{s}]\n"));
                section = s;
            }
            text.push_str(&format!("{name} = {value}\n"));
        }
        text
    }

    #[test]
    fn every_default_written_back_reads_as_the_default() {
        let text = written(&Config::default());
        let raw: RawConfig = toml::from_str(&text).expect(&text);
        assert_eq!(raw.validate(), Ok(Config::default()), "{text}");
        // And a config that differs from the default in keys of every kind of value.
        let mut c = Config::default();
        c.node.chain_id = i32::MAX;
        c.network.boot_nodes = vec![Endpoint::parse("[::1]:7").unwrap()];
        c.network.authorized_peers = AuthorizedPeers::Authorized;
        c.network.authorized_keys = vec![crate::crypto::pubkey_from_hex(KEY).unwrap()];
        c.reputation.ban_threshold = -1_000_000;
        c.api.basic_auth_user = Some("u".into());
        c.log.file = Some("node.log".into());
        c.log.level = log::LevelFilter::Trace;
        let text = written(&c);
        let raw: RawConfig = toml::from_str(&text).expect(&text);
        assert_eq!(raw.validate(), Ok(c), "{text}");
    }

    #[test]
    fn each_rule_names_its_key() {
        let mut raw = RawConfig::default();
        raw.network.listening_port = Some(Int::new(0));
        assert_eq!(err(raw), "network.listening_port");

        let mut raw = RawConfig::default();
        raw.network.peer_dial_timeout_ms = Some(Int::new(0));
        assert_eq!(err(raw), "network.peer_dial_timeout_ms");

        let mut raw = RawConfig::default();
        raw.network.peer_reconnection_period_ms = Some(Int::new(0));
        assert_eq!(err(raw), "network.peer_reconnection_period_ms");

        let mut raw = RawConfig::default();
        raw.network.peer_invalid_transaction_timeout_ms = Some(Int::new(0));
        assert_eq!(err(raw), "network.peer_invalid_transaction_timeout_ms");

        let mut raw = RawConfig::default();
        raw.network.boot_nodes = Some(vec!["a:1".into(), "b:0".into()]);
        assert_eq!(err(raw), "network.boot_nodes[1]");

        let mut raw = RawConfig::default();
        raw.network.persistent_peers = Some(vec!["a:1".into(), "b:x".into()]);
        assert_eq!(err(raw), "network.persistent_peers[1]");

        let mut raw = RawConfig::default();
        raw.network.authorized_keys = Some(vec![KEY.into(), "04ab".into()]);
        assert_eq!(err(raw), "network.authorized_keys[1]");

        let mut raw = RawConfig::default();
        raw.chain.genesis_time = Some(Int::new(-1));
        assert_eq!(err(raw), "chain.genesis_time");

        let mut raw = RawConfig::default();
        raw.chain.miners = Some(Int::new(0));
        assert_eq!(err(raw), "chain.miners");

        let mut raw = RawConfig::default();
        raw.chain.mining_interval_ms = Some(Int::new(99));
        assert_eq!(err(raw), "chain.mining_interval_ms");

        let mut raw = RawConfig::default();
        raw.producer.transactions_per_block = Some(Int::new(10_001));
        assert_eq!(err(raw), "producer.transactions_per_block");

        let mut raw = RawConfig::default();
        raw.threads.grpc_completion_queues = Some(Int::new(65));
        assert_eq!(err(raw), "threads.grpc_completion_queues");

        let mut raw = RawConfig::default();
        raw.threads.scheduler_workers = Some(Int::new(0));
        assert_eq!(err(raw), "threads.scheduler_workers");

        let mut raw = RawConfig::default();
        raw.node.data_dir = Some(PathBuf::new());
        assert_eq!(err(raw), "node.data_dir");
    }

    #[test]
    fn reputation_thresholds_are_ordered_and_negative() {
        let mut raw = RawConfig::default();
        raw.reputation.ban_threshold = Some(Int::new(-500));
        let e = raw.validate().expect_err("invalid");
        assert_eq!(e.key, "reputation.ban_threshold");
        assert_eq!(
            e.reason,
            "must be at most disconnect_threshold (-1000), got -500"
        );
        let mut raw = RawConfig::default();
        raw.reputation.disconnect_threshold = Some(Int::new(0));
        assert_eq!(err(raw), "reputation.disconnect_threshold");
    }

    #[test]
    fn api_credentials_blank_is_unset_and_the_user_has_no_colon() {
        let mut raw = RawConfig::default();
        raw.api.basic_auth_user = Some("  ".into());
        raw.api.basic_auth_password = Some("pw".into());
        raw.threads.api_workers = Some(Int::new(3));
        let c = raw.validate().unwrap();
        assert_eq!(c.api.basic_auth_user, None);
        assert_eq!(c.api.basic_auth_password.as_deref(), Some("pw"));
        assert_eq!(c.threads.api_workers, 3);
        let mut raw = RawConfig::default();
        raw.api.basic_auth_user = Some("a:b".into());
        assert_eq!(err(raw), "api.basic_auth_user");
        let mut raw = RawConfig::default();
        raw.threads.api_workers = Some(Int::new(0));
        assert_eq!(err(raw), "threads.api_workers");
    }

    #[test]
    fn genesis_contract_address_is_unset_or_a_base58_address() {
        assert_eq!(
            RawConfig::default()
                .validate()
                .unwrap()
                .chain
                .genesis_contract_address,
            None
        );
        let address = NodeKey::generate().address().to_base58();
        let mut raw = RawConfig::default();
        raw.chain.genesis_contract_address = Some(address.clone());
        assert_eq!(
            raw.validate().unwrap().chain.genesis_contract_address,
            Some(address.clone())
        );
        for bad in ["not-base58", &address[1..]] {
            let mut raw = RawConfig::default();
            raw.chain.genesis_contract_address = Some(bad.into());
            assert_eq!(err(raw), "chain.genesis_contract_address", "{bad}");
        }
    }

    #[test]
    fn log_file_blank_is_stderr() {
        let mut raw = RawConfig::default();
        raw.log.file = Some(PathBuf::new());
        assert_eq!(raw.validate().unwrap().log.file, None);
        let mut raw = RawConfig::default();
        raw.log.file = Some("node.log".into());
        assert_eq!(
            raw.validate().unwrap().log.file,
            Some(PathBuf::from("node.log"))
        );
    }
}
