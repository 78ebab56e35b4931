//! Seed inputs for the fuzz targets, made of what a node really sends and reads: signed
//! handshakes, a block with transactions, stream messages of every type, the shipped config,
//! endpoints and operator API requests, each in the input layout of its target.
//!
//! `examples/fuzz_seeds.rs` writes them to `fuzz/corpus/<target>/<name>` for `make fuzz`, and the
//! replay test mutates them in memory. Building them opens a scratch chain in the system temp
//! directory, removed before [`seeds`] returns; nothing else is written.

use crate::chain::{
    build_signed_block, genesis_block, synthetic_transactions, Chain, ChainTip, EmbeddedChain,
};
use crate::config::Config;
use crate::crypto::NodeKey;
use crate::network::handshake::{Authorization, HandshakeProvider};
use crate::pb::network_types::{
    BlockAnnouncement, BlockList, BlockReply, BlockRequest, BlocksRequest, DisconnectReason,
    HandshakeError, HandshakeReply, HandshakeRequest, LibAnnouncement, NodeInfo, NodeList,
    NodesRequest,
};
use crate::pb::peer_service::{MessageType, StreamMessage, StreamType};
use crate::types::{block_hash, SystemClock};
use protobuf::{Message, MessageField};
use std::error::Error;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The shipped node config, the config target's seed.
const SHIPPED_CONFIG: &[u8] =
    include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/conf/aelf-netd.toml"));

/// A request id in the node's own format (milliseconds, then a GUID).
const SEED_REQUEST_ID: &str = "1767225600000_0f8fad5b-d9cb-469f-a165-70867728950e";

/// One seed input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seed {
    /// The fuzz target it is an input for (a name in [`super::TARGETS`]).
    pub target: &'static str,
    /// Its file name in the target's corpus folder, unique within the target.
    pub name: String,
    /// The input itself.
    pub bytes: Vec<u8>,
}

impl Seed {
    fn new(target: &'static str, name: impl Into<String>, bytes: Vec<u8>) -> Seed {
        Seed {
            target,
            name: name.into(),
            bytes,
        }
    }
}

/// Every seed input of every fuzz target, in a fixed order (the handshake signatures and keys
/// are fresh on each call). Opens a scratch chain under the system temp directory for the
/// handshake and removes it before returning.
pub fn seeds() -> Result<Vec<Seed>, Box<dyn Error>> {
    static SCRATCH_COUNTER: AtomicU64 = AtomicU64::new(0);
    let scratch = std::env::temp_dir().join(format!(
        "aelf-net-seeds-{}-{}",
        std::process::id(),
        SCRATCH_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let built = seeds_with_chain_in(&scratch);
    // Everything holding the chain was dropped with `seeds_with_chain_in`'s frame.
    let _ = std::fs::remove_dir_all(&scratch);
    built
}

/// [`seeds`], with the scratch chain kept in `scratch`.
fn seeds_with_chain_in(scratch: &Path) -> Result<Vec<Seed>, Box<dyn Error>> {
    let config = Config::default();
    let settings = config.chain_settings();
    let chain = Arc::new(EmbeddedChain::open(scratch, settings)?);
    let key = NodeKey::generate();
    let provider = HandshakeProvider::new(
        key.clone(),
        chain as Arc<dyn Chain>,
        6800,
        "1.9.0.0".into(),
        Arc::new(SystemClock),
        Authorization::Any,
    );
    let handshake = provider.build();
    drop(provider);

    let genesis = genesis_block(&settings);
    let tip = ChainTip {
        hash: block_hash(genesis.header.get_or_default())?,
        height: 1,
    };
    let transactions = synthetic_transactions(&key, &tip, 3, 1);
    let block = build_signed_block(
        &tip,
        settings.chain_id,
        &key,
        &crate::chain::aedpos::Production {
            consensus: Vec::new(),
            time_ms: config.chain.genesis_time * 1000 + 4000,
        },
        transactions.clone(),
    )?;
    let hash = block_hash(block.header.get_or_default())?.to_proto();
    let announcement = BlockAnnouncement {
        block_hash: MessageField::some(hash.clone()),
        block_height: 2,
        ..Default::default()
    };
    let lib_announcement = LibAnnouncement {
        lib_hash: MessageField::some(hash.clone()),
        lib_height: 1,
        ..Default::default()
    };
    let blocks_request = BlocksRequest {
        previous_block_hash: MessageField::some(tip.hash.to_proto()),
        count: 10,
        ..Default::default()
    };
    let block_request = BlockRequest {
        hash: MessageField::some(hash),
        ..Default::default()
    };
    let node_list = NodeList {
        nodes: vec![NodeInfo {
            endpoint: "127.0.0.1:6800".into(),
            pubkey: key.pubkey().to_vec(),
            ..Default::default()
        }],
        ..Default::default()
    };

    let mut seeds = Vec::new();

    // decode: the kind byte the target switches on, then the message.
    let decode_inputs: [(u8, Vec<u8>); 13] = [
        (
            0,
            HandshakeRequest {
                handshake: MessageField::some(handshake.clone()),
                ..Default::default()
            }
            .write_to_bytes()?,
        ),
        (
            1,
            HandshakeReply {
                handshake: MessageField::some(handshake.clone()),
                error: HandshakeError::HANDSHAKE_OK.into(),
                ..Default::default()
            }
            .write_to_bytes()?,
        ),
        (2, block.write_to_bytes()?),
        (3, transactions[0].write_to_bytes()?),
        (4, announcement.write_to_bytes()?),
        (5, lib_announcement.write_to_bytes()?),
        (6, blocks_request.write_to_bytes()?),
        (
            7,
            BlockList {
                blocks: vec![block.clone()],
                ..Default::default()
            }
            .write_to_bytes()?,
        ),
        (8, block_request.write_to_bytes()?),
        (
            9,
            BlockReply {
                block: MessageField::some(block.clone()),
                ..Default::default()
            }
            .write_to_bytes()?,
        ),
        (
            10,
            NodesRequest {
                max_count: 10,
                ..Default::default()
            }
            .write_to_bytes()?,
        ),
        (11, node_list.write_to_bytes()?),
        (12, DisconnectReason::new().write_to_bytes()?),
    ];
    for (kind, message) in decode_inputs {
        let mut input = vec![kind];
        input.extend_from_slice(&message);
        seeds.push(Seed::new("decode", format!("kind-{kind}"), input));
    }

    seeds.push(Seed::new(
        "handshake",
        "signed",
        handshake.write_to_bytes()?,
    ));

    // stream_dispatch: a stream message of each type, as our node sends it.
    let stream_message = |message_type: MessageType, stream_type: StreamType, body: Vec<u8>| {
        let mut message = StreamMessage {
            stream_type: stream_type.into(),
            message_type: message_type.into(),
            request_id: SEED_REQUEST_ID.into(),
            message: body,
            ..Default::default()
        };
        message.meta.insert("public-key".into(), key.pubkey_hex());
        message.meta.insert("session-id".into(), "0a0b0c0d".into());
        message.write_to_bytes()
    };
    let streamed = [
        (
            MessageType::HAND_SHAKE,
            StreamType::REQUEST,
            handshake.write_to_bytes()?,
        ),
        (MessageType::PING, StreamType::REQUEST, Vec::new()),
        (MessageType::HEALTH_CHECK, StreamType::REQUEST, Vec::new()),
        (
            MessageType::REQUEST_BLOCK,
            StreamType::REQUEST,
            block_request.write_to_bytes()?,
        ),
        (
            MessageType::REQUEST_BLOCKS,
            StreamType::REQUEST,
            blocks_request.write_to_bytes()?,
        ),
        (
            MessageType::BLOCK_BROADCAST,
            StreamType::REQUEST,
            block.write_to_bytes()?,
        ),
        (
            MessageType::TRANSACTION_BROADCAST,
            StreamType::REQUEST,
            transactions[1].write_to_bytes()?,
        ),
        (
            MessageType::ANNOUNCEMENT_BROADCAST,
            StreamType::REQUEST,
            announcement.write_to_bytes()?,
        ),
        (
            MessageType::LIB_ANNOUNCEMENT_BROADCAST,
            StreamType::REQUEST,
            lib_announcement.write_to_bytes()?,
        ),
        (
            MessageType::GET_NODES,
            StreamType::REQUEST,
            NodesRequest::new().write_to_bytes()?,
        ),
        (
            MessageType::DISCONNECT,
            StreamType::REQUEST,
            DisconnectReason::new().write_to_bytes()?,
        ),
        (
            MessageType::REQUEST_BLOCKS,
            StreamType::REPLY,
            BlockList::new().write_to_bytes()?,
        ),
    ];
    for (i, (message_type, stream_type, body)) in streamed.into_iter().enumerate() {
        seeds.push(Seed::new(
            "stream_dispatch",
            format!("message-{i}"),
            stream_message(message_type, stream_type, body)?,
        ));
    }

    let endpoints = [
        "127.0.0.1:6800",
        "[::1]:6801",
        "::1",
        "node.example:7000",
        "host",
    ];
    for (i, text) in endpoints.into_iter().enumerate() {
        seeds.push(Seed::new(
            "endpoint",
            format!("endpoint-{i}"),
            text.as_bytes().to_vec(),
        ));
    }

    seeds.push(Seed::new("config", "shipped", SHIPPED_CONFIG.to_vec()));

    // api: the method byte (0 GET, 1 POST, 2 DELETE), then URL, Authorization and body
    // separated by NUL bytes; `b3A6cHc=` is `op:pw`, the target's credentials.
    let requests: [(u8, &str, &str, &str); 5] = [
        (0, "/api/blockChain/chainStatus", "", ""),
        (0, "/api/net/peers?withMetrics=true", "", ""),
        (
            1,
            "/api/net/peer",
            "Basic b3A6cHc=",
            r#"{"Address":"127.0.0.1:6800"}"#,
        ),
        (2, "/api/net/bans?host=10.0.0.1", "Basic b3A6cHc=", ""),
        (
            1,
            "/api/blockChain/sendTransaction",
            "",
            r#"{"RawTransaction":"0a0b"}"#,
        ),
    ];
    for (i, (method, url, authorization, body)) in requests.into_iter().enumerate() {
        let mut input = vec![method];
        input.extend_from_slice(url.as_bytes());
        input.push(0);
        input.extend_from_slice(authorization.as_bytes());
        input.push(0);
        input.extend_from_slice(body.as_bytes());
        seeds.push(Seed::new("api", format!("request-{i}"), input));
    }

    Ok(seeds)
}
