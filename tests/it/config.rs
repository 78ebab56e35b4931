//! `conf/aelf-netd.toml` and `Config`: the shipped file kept in step with the table of keys
//! (every key, its default, nothing else), defaults, both chain id forms, and an error naming
//! the file, the key and the reason for every way a file can be wrong. The key lists come from
//! `Config::KEYS` and `Config::toml_values`, never typed here.

use aelf_net::config::{AuthorizedPeers, Config, ConfigError};
use aelf_net::network::endpoint::Endpoint;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

const FILE: &str = "conf/test-node.toml";

/// An uncompressed secp256k1 key (the generator point).
const KEY: &str = "04\
    79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798\
    483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8";

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::from_toml_str(text, Path::new(FILE))
}

/// Asserts `text` fails with an `Invalid` error on `key` whose message names the file and the
/// key, and whose reason contains `reason_part`.
#[track_caller]
fn assert_invalid(text: &str, key: &str, reason_part: &str) {
    let err = match parse(text) {
        Ok(c) => panic!("{text:?} parsed: {c:?}"),
        Err(e) => e,
    };
    let msg = err.to_string();
    match &err {
        ConfigError::Invalid {
            file,
            key: k,
            reason,
        } => {
            assert_eq!(file, Path::new(FILE), "{msg}");
            assert_eq!(k, key, "{msg}");
            assert!(reason.contains(reason_part), "{msg}");
        }
        other => panic!("{text:?}: expected Invalid, got {other:?}"),
    }
    assert!(
        msg.starts_with(&format!("{FILE}: {key}: ")),
        "message does not name file and key: {msg}"
    );
}

#[test]
fn an_empty_file_is_the_default() {
    assert_eq!(parse("").unwrap(), Config::default());
    assert_eq!(parse("# only a comment\n").unwrap(), Config::default());
    assert_eq!(
        parse("[node]\n[network]\n[chain]\n[producer]\n[api]\n[threads]\n[log]\n").unwrap(),
        Config::default()
    );
}

#[test]
fn the_shipped_file_is_the_default() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("conf/aelf-netd.toml");
    assert_eq!(Config::load(&path).unwrap(), Config::default());
}

#[test]
fn every_key_is_named_in_its_errors() {
    // A value of the wrong TOML type for every key of the table: the error names that key.
    for key in Config::KEYS {
        let (section, name) = key.split_once('.').unwrap();
        let text = format!("[{section}]\n{name} = {{ wrong = 1 }}\n");
        let err = parse(&text).expect_err(&text);
        assert_eq!(err.key(), Some(*key), "{err}");
        assert!(
            err.to_string().starts_with(&format!("{FILE}: {key}: ")),
            "{err}"
        );
    }
}

fn shipped_file() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("conf/aelf-netd.toml");
    std::fs::read_to_string(path).unwrap()
}

/// Where `text` (written as `conf/aelf-netd.toml` is: every key set, uncommented, in its
/// section) and the table of keys disagree: a key of the table the file lacks, a key the table
/// does not know, or a value other than the key's default as the table writes it.
fn drift_from_defaults(text: &str) -> Vec<String> {
    let file: toml::Table = toml::from_str(text).expect("the file is TOML");
    let mut in_file = BTreeMap::new();
    let mut problems = Vec::new();
    for (section, value) in &file {
        match value {
            toml::Value::Table(keys) => {
                for (key, value) in keys {
                    in_file.insert(format!("{section}.{key}"), value.clone());
                }
            }
            other => problems.push(format!("{section} = {other} is not a section")),
        }
    }
    for (key, default) in Config::default().toml_values() {
        match in_file.remove(key) {
            None => problems.push(format!("{key} is missing (default {default})")),
            Some(value) if value != default => {
                problems.push(format!("{key} = {value}, but the default is {default}"))
            }
            Some(_) => {}
        }
    }
    for key in in_file.keys() {
        problems.push(format!("{key} is not a key of the config"));
    }
    problems
}

#[test]
fn the_shipped_file_sets_every_key_to_its_default_and_no_other_key() {
    let problems = drift_from_defaults(&shipped_file());
    assert!(
        problems.is_empty(),
        "conf/aelf-netd.toml and the defaults disagree:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_drift_check_sees_a_missing_an_unknown_and_a_changed_key() {
    let text = shipped_file();
    let without = text.replace("\nmax_inbound_peers = 17\n", "\n");
    assert_eq!(
        drift_from_defaults(&without),
        ["network.max_inbound_peers is missing (default 17)"]
    );
    let commented = text.replace("\nhandshake_workers = 2\n", "\n# handshake_workers = 2\n");
    assert_eq!(
        drift_from_defaults(&commented),
        ["threads.handshake_workers is missing (default 2)"]
    );
    let unknown = text.replace("[sync]\n", "[sync]\nmax_blocks = 3\n");
    assert_eq!(
        drift_from_defaults(&unknown),
        ["sync.max_blocks is not a key of the config"]
    );
    let changed = text.replace("\nlevel = \"info\"\n", "\nlevel = \"warn\"\n");
    assert_eq!(
        drift_from_defaults(&changed),
        ["log.level = \"warn\", but the default is \"info\""]
    );
}

#[test]
fn the_shipped_file_documents_every_key() {
    // Each key's line has a comment line right above it, inside the key's section.
    let text = shipped_file();
    let lines: Vec<&str> = text.lines().collect();
    let mut section = "";
    let mut documented = HashSet::new();
    for (at, line) in lines.iter().enumerate() {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name;
        } else if let Some((key, _)) = line.split_once(" = ") {
            if at > 0 && lines[at - 1].starts_with('#') {
                documented.insert(format!("{section}.{key}"));
            }
        }
    }
    for key in Config::KEYS {
        assert!(
            documented.contains(*key),
            "conf/aelf-netd.toml: {key} has no comment right above it"
        );
    }
}

#[test]
fn defaults_are_the_c_sharp_nodes() {
    let d = Config::default();
    assert_eq!(d.node.chain_id, 9_992_731);
    assert_eq!(d.node.data_dir, PathBuf::from("data"));
    assert_eq!(d.node.node_version.to_string(), "1.9.0.0");
    let n = &d.network;
    assert_eq!(n.listen_address.to_string(), "0.0.0.0");
    assert_eq!(n.listening_port, 6800);
    assert!(n.boot_nodes.is_empty());
    assert_eq!((n.max_peers, n.max_peers_per_ip_address), (25, 1));
    assert_eq!(n.peer_dial_timeout_ms, 3000);
    assert_eq!(n.peer_reconnection_period_ms, 60_000);
    assert_eq!(n.maximum_reconnection_time_ms, 86_400_000);
    assert!(n.compress_blocks_on_request && n.enable_peer_discovery);
    assert_eq!(n.peer_discovery_max_nodes_to_keep, 512);
    assert_eq!(n.initial_sync_offset, 512);
    assert_eq!(n.peer_invalid_transaction_timeout_ms, 10_000);
    assert_eq!(n.peer_invalid_transaction_limit, 50);
    assert_eq!(n.support_stream_min_version.to_string(), "1.4.0.0");
    assert_eq!(n.authorized_peers, AuthorizedPeers::Any);
    assert!(n.authorized_keys.is_empty());
    assert_eq!(d.chain.genesis_time, 1_767_225_600);
    assert_eq!(d.chain.miners, 1);
    assert_eq!(d.chain.mining_interval_ms, 4000);
    assert_eq!(d.chain.miners_per_term, 0);
    assert_eq!(d.chain.term_period_seconds, 604_800);
    assert!(!d.producer.enabled);
    assert_eq!(d.producer.miner, 1);
    assert_eq!(d.producer.transactions_per_block, 0);
    assert_eq!(d.api.listen.to_string(), "127.0.0.1:8000");
    assert_eq!(d.threads.grpc_completion_queues, 2);
    assert_eq!(d.threads.block_servers, 2);
    assert_eq!(
        (
            n.block_queue_capacity,
            n.transaction_queue_capacity,
            n.announcement_queue_capacity
        ),
        (50, 100, 200)
    );
    assert_eq!(n.transaction_pool_capacity, 5_120);
    assert_eq!(d.sync.max_block_download_count, 50);
    assert_eq!(d.sync.max_batch_request_block_count, 10);
    assert_eq!(d.log.level, log::LevelFilter::Info);
    assert_eq!(d.log.file, None);
}

#[test]
fn chain_id_as_a_name_or_an_integer() {
    assert_eq!(
        parse("[node]\nchain_id = \"AELF\"").unwrap().node.chain_id,
        9_992_731
    );
    assert_eq!(
        parse("[node]\nchain_id = \"tDVV\"").unwrap().node.chain_id,
        1_866_392
    );
    assert_eq!(
        parse("[node]\nchain_id = 9992731").unwrap().node.chain_id,
        9_992_731
    );
    assert_eq!(parse("[node]\nchain_id = 0").unwrap().node.chain_id, 0);
    assert_invalid("[node]\nchain_id = -1", "node.chain_id", "0..=2147483647");
    assert_invalid(
        "[node]\nchain_id = 2147483648",
        "node.chain_id",
        "got 2147483648",
    );
    assert_invalid("[node]\nchain_id = true", "node.chain_id", "chain name");
}

#[test]
fn values_given_replace_the_defaults() {
    let c = parse(&format!(
        r#"
        [node]
        data_dir = "/var/lib/aelf-net"
        node_version = "1.4.0.0"
        [network]
        listen_address = "::"
        listening_port = 7001
        boot_nodes = ["node1", "10.0.0.2:6801", "[::1]:6802", "::1"]
        max_peers = 0
        authorized_peers = "authorized"
        authorized_keys = ["{KEY}"]
        [chain]
        miners = 3
        mining_interval_ms = 800
        [producer]
        enabled = true
        miner = 3
        transactions_per_block = 10000
        [api]
        listen = "[::1]:9000"
        [threads]
        grpc_completion_queues = 64
        [log]
        level = "DEBUG"
        file = "/var/log/aelf-netd.log"
        "#
    ))
    .unwrap();
    assert_eq!(c.node.data_dir, PathBuf::from("/var/lib/aelf-net"));
    assert_eq!(c.node.node_version.to_string(), "1.4.0.0");
    assert_eq!(c.network.listen_address.to_string(), "::");
    assert_eq!(c.network.listening_port, 7001);
    let boot: Vec<String> = c
        .network
        .boot_nodes
        .iter()
        .map(Endpoint::to_string)
        .collect();
    assert_eq!(
        boot,
        ["node1:6800", "10.0.0.2:6801", "[::1]:6802", "[::1]:6800"]
    );
    assert_eq!(c.network.max_peers, 0);
    assert_eq!(c.network.authorized_peers, AuthorizedPeers::Authorized);
    assert_eq!(c.network.authorized_keys.len(), 1);
    assert_eq!(c.network.authorized_keys[0][0], 0x04);
    assert!(c.producer.enabled);
    assert_eq!(c.producer.miner, 3);
    assert_eq!(
        c.producer_key().map(|k| k.pubkey_hex()),
        Some(aelf_net::chain::aedpos::development_key(3).pubkey_hex())
    );
    assert_eq!(c.chain_settings().consensus.miners, 3);
    assert_eq!(c.chain_settings().consensus.mining_interval_ms, 800);
    assert_eq!(c.api.listen.to_string(), "[::1]:9000");
    assert_eq!(c.threads.grpc_completion_queues, 64);
    assert_eq!(c.log.level, log::LevelFilter::Debug);
    assert_eq!(c.log.file, Some(PathBuf::from("/var/log/aelf-netd.log")));
    // Untouched keys keep their defaults.
    assert_eq!(c.network.max_peers_per_ip_address, 1);
    let d = Config::default().chain;
    assert_eq!(
        (
            c.chain.mode,
            c.chain.genesis_time,
            c.chain.flush_interval_ms
        ),
        (d.mode, d.genesis_time, d.flush_interval_ms)
    );
}

#[test]
fn follow_mode_names_its_checkpoint() {
    let hash = "ab".repeat(32);
    let c = parse(&format!(
        "[node]\nchain_id = \"tDVV\"\n[chain]\nmode = \"follow\"\ncheckpoint_height = 1234\n\
         checkpoint_hash = \"{hash}\"\ngenesis_hash = \"{}\"\n",
        "cd".repeat(32)
    ))
    .unwrap();
    match c.chain_settings().mode {
        aelf_net::chain::ChainMode::Follow {
            checkpoint,
            genesis_hash,
        } => {
            assert_eq!(checkpoint.height, 1234);
            assert_eq!(checkpoint.hash.to_hex(), hash);
            assert_eq!(genesis_hash.to_hex(), "cd".repeat(32));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn unknown_keys_and_sections_are_named() {
    assert_invalid(
        "[network]\nmax_peer = 3",
        "network.max_peer",
        "unknown field `max_peer`",
    );
    assert_invalid(
        "[node]\nchainid = \"AELF\"",
        "node.chainid",
        "unknown field",
    );
    assert_invalid(
        "[log]\nlevel = \"info\"\ncolour = true",
        "log.colour",
        "unknown field",
    );
    assert_invalid(
        "[netwrok]\nmax_peers = 3",
        "netwrok",
        "unknown field `netwrok`",
    );
    assert_invalid("top_level = 1", "top_level", "unknown field");
}

#[test]
fn wrong_types_are_named() {
    assert_invalid(
        "[network]\nmax_peers = \"x\"",
        "network.max_peers",
        "invalid type: string \"x\", expected u32",
    );
    let msg = parse("[network]\nmax_peers = \"x\"")
        .unwrap_err()
        .to_string();
    assert_eq!(
        msg,
        "conf/test-node.toml: network.max_peers: invalid type: string \"x\", expected u32"
    );
    assert_invalid(
        "[producer]\nenabled = \"yes\"",
        "producer.enabled",
        "expected a boolean",
    );
    assert_invalid(
        "[network]\nboot_nodes = \"a:1\"",
        "network.boot_nodes",
        "invalid type",
    );
    assert_invalid(
        "[network]\nboot_nodes = [\"a\", 2]",
        "network.boot_nodes[1]",
        "invalid type",
    );
    assert_invalid(
        "[network]\nmax_peers = 1.5",
        "network.max_peers",
        "expected u32",
    );
    assert_invalid(
        "[network]\nlistening_port = \"6800\"",
        "network.listening_port",
        "expected u16",
    );
    assert_invalid("network = 3", "network", "invalid type");
    assert_invalid(
        "[network]\nauthorized_peers = \"some\"",
        "network.authorized_peers",
        "`any`",
    );
}

#[test]
fn out_of_range_numbers_name_the_key_and_the_range() {
    for (text, key, range) in [
        (
            "[network]\nblock_queue_capacity = 0",
            "network.block_queue_capacity",
            "1..=100000, got 0",
        ),
        (
            "[network]\ntransaction_pool_capacity = 1000001",
            "network.transaction_pool_capacity",
            "1..=1000000",
        ),
        (
            "[sync]\nmax_batch_request_block_count = 51",
            "sync.max_batch_request_block_count",
            "1..=50, got 51",
        ),
        (
            "[sync]\nmax_block_download_count = 0",
            "sync.max_block_download_count",
            "1..=10000",
        ),
        (
            "[threads]\nblock_servers = 65",
            "threads.block_servers",
            "1..=64",
        ),
        (
            "[network]\nlistening_port = 0",
            "network.listening_port",
            "1..=65535, got 0",
        ),
        (
            "[network]\nlistening_port = 70000",
            "network.listening_port",
            "1..=65535, got 70000",
        ),
        (
            "[network]\nmax_peers = -1",
            "network.max_peers",
            "0..=4294967295, got -1",
        ),
        (
            "[network]\nmax_peers_per_ip_address = 4294967296",
            "network.max_peers_per_ip_address",
            "0..=4294967295",
        ),
        (
            "[network]\ninitial_sync_offset = -1",
            "network.initial_sync_offset",
            "at least 0, got -1",
        ),
        (
            "[network]\npeer_dial_timeout_ms = 0",
            "network.peer_dial_timeout_ms",
            "at least 1",
        ),
        (
            "[network]\npeer_reconnection_period_ms = 0",
            "network.peer_reconnection_period_ms",
            "at least 1",
        ),
        (
            "[network]\npeer_invalid_transaction_timeout_ms = 0",
            "network.peer_invalid_transaction_timeout_ms",
            "at least 1",
        ),
        (
            "[chain]\ngenesis_time = -1",
            "chain.genesis_time",
            "at least 0",
        ),
        (
            "[chain]\nmode = \"follow\"\ncheckpoint_height = 5",
            "chain.checkpoint_hash",
            "must be given in follow mode",
        ),
        (
            "[chain]\nmode = \"follow\"\ncheckpoint_hash = \"00\"",
            "chain.checkpoint_hash",
            "64 hex characters",
        ),
        (
            "[chain]\nmode = \"follow\"\n\
             checkpoint_hash = \"abababababababababababababababababababababababababababababababab\"",
            "chain.checkpoint_height",
            "at least 1 in follow mode",
        ),
        (
            "[chain]\nminers = 0",
            "chain.miners",
            "1..=64",
        ),
        (
            "[chain]\nmining_interval_ms = 99",
            "chain.mining_interval_ms",
            "100..=60000",
        ),
        (
            "[producer]\nminer = 0",
            "producer.miner",
            "1..=64",
        ),
        (
            "[producer]\ntransactions_per_block = 10001",
            "producer.transactions_per_block",
            "0..=10000",
        ),
        (
            "[threads]\ngrpc_completion_queues = 0",
            "threads.grpc_completion_queues",
            "1..=64",
        ),
        (
            "[threads]\ngrpc_completion_queues = 65",
            "threads.grpc_completion_queues",
            "1..=64",
        ),
    ] {
        assert_invalid(text, key, range);
    }
    // The zero that means "unlimited" / "never give up" is allowed.
    let c = parse(
        "[network]\nmax_peers = 0\nmax_peers_per_ip_address = 0\nmaximum_reconnection_time_ms = 0",
    )
    .unwrap();
    assert_eq!(c.network.maximum_reconnection_time_ms, 0);
}

#[test]
fn bad_values_are_named() {
    assert_invalid("[node]\nchain_id = \"AEL0\"", "node.chain_id", "AEL0");
    assert_invalid("[node]\nchain_id = \"AELFX\"", "node.chain_id", "4 base58");
    assert_invalid(
        "[node]\nnode_version = \"1\"",
        "node.node_version",
        "major.minor",
    );
    assert_invalid(
        "[node]\ndata_dir = \"\"",
        "node.data_dir",
        "must not be empty",
    );
    assert_invalid(
        "[network]\nsupport_stream_min_version = \"x.y\"",
        "network.support_stream_min_version",
        "x.y",
    );
    assert_invalid(
        "[network]\nboot_nodes = [\"ok:1\", \"bad:0\"]",
        "network.boot_nodes[1]",
        "1..=65535",
    );
    assert_invalid(
        "[network]\nboot_nodes = [\"\"]",
        "network.boot_nodes[0]",
        "empty",
    );
    assert_invalid(
        &format!("[network]\nauthorized_keys = [\"{KEY}\", \"04abcd\"]"),
        "network.authorized_keys[1]",
        "130 hex characters",
    );
    assert_invalid(
        &format!("[network]\nauthorized_keys = [\"02{}\"]", &KEY[2..]),
        "network.authorized_keys[0]",
        "secp256k1",
    );
    assert_invalid("[log]\nlevel = \"verbose\"", "log.level", "verbose");
    assert_invalid(
        "[network]\nlisten_address = \"0.0.0\"",
        "network.listen_address",
        "IP address",
    );
    assert_invalid(
        "[network]\nlisten_address = \"localhost\"",
        "network.listen_address",
        "IP",
    );
    assert_invalid(
        "[api]\nlisten = \"127.0.0.1\"",
        "api.listen",
        "socket address",
    );
    assert_invalid(
        "[network]\nauthorized_peers = \"authorized\"",
        "network.authorized_keys",
        "authorized_peers = \"authorized\" needs at least one key",
    );
}

#[test]
fn syntax_errors_name_the_file() {
    let err = parse("[network\nmax_peers = 3").unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, ConfigError::Syntax { .. }), "{msg}");
    assert!(
        msg.starts_with(&format!("{FILE}: TOML syntax error at line 1")),
        "{msg}"
    );
}

#[test]
fn load_reads_the_file_and_names_it_in_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.toml");
    let err = Config::load(&missing).unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }), "{err}");
    assert_eq!(err.file(), missing.as_path());
    assert!(
        err.to_string().starts_with(&missing.display().to_string()),
        "{err}"
    );

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[network]\nmax_peers = \"many\"\n").unwrap();
    let err = Config::load(&bad).unwrap_err();
    assert_eq!(err.file(), bad.as_path());
    assert_eq!(err.key(), Some("network.max_peers"));
    assert!(
        err.to_string().contains("bad.toml: network.max_peers: "),
        "{err}"
    );

    let good = dir.path().join("good.toml");
    std::fs::write(&good, "[network]\nmax_peers = 7\n").unwrap();
    assert_eq!(Config::load(&good).unwrap().network.max_peers, 7);
}
