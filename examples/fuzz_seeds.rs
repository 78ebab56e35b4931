//! Writes seed corpora for the fuzz targets in `fuzz/` from real encoded messages: what a
//! node actually sends (signed handshakes, blocks with transactions, stream messages of every
//! type), the shipped config, endpoints and API requests. `make fuzz` runs it first:
//!
//! ```sh
//! cargo run --example fuzz_seeds -- fuzz/corpus
//! ```

use aelf_net::chain::{
    build_block_on, genesis_block, synthetic_transactions, Chain, ChainTip, EmbeddedChain,
};
use aelf_net::config::Config;
use aelf_net::crypto::NodeKey;
use aelf_net::network::handshake::{Authorization, HandshakeProvider};
use aelf_net::pb::network_types::{
    BlockAnnouncement, BlockList, BlockReply, BlockRequest, BlocksRequest, DisconnectReason,
    HandshakeError, HandshakeReply, HandshakeRequest, LibAnnouncement, NodeInfo, NodeList,
    NodesRequest,
};
use aelf_net::pb::peer_service::{MessageType, StreamMessage, StreamType};
use aelf_net::types::{block_hash, SystemClock};
use protobuf::{Message, MessageField};
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn write(dir: &Path, target: &str, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let dir = dir.join(target);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join(name), bytes)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "fuzz/corpus".into()),
    );
    let scratch = std::env::temp_dir().join(format!("aelf-net-seeds-{}", std::process::id()));
    let c = Config::default();
    let settings = c.chain_settings();
    let chain = Arc::new(EmbeddedChain::open(&scratch, settings)?);
    let key = NodeKey::generate();
    let provider = HandshakeProvider::new(
        key.clone(),
        chain.clone() as Arc<dyn Chain>,
        6800,
        "1.9.0.0".into(),
        Arc::new(SystemClock),
        Authorization::Any,
    );

    let handshake = provider.build();
    let genesis = genesis_block(&settings);
    let tip = ChainTip {
        hash: block_hash(genesis.header.get_or_default())?,
        height: 1,
    };
    let txs = synthetic_transactions(&key, &tip, 3, 1);
    let block = build_block_on(
        &tip,
        settings.chain_id,
        &key,
        c.chain.genesis_time * 1000 + 4000,
        txs.clone(),
    )?;
    let hash = block_hash(block.header.get_or_default())?.to_proto();
    let announcement = BlockAnnouncement {
        block_hash: MessageField::some(hash.clone()),
        block_height: 2,
        ..Default::default()
    };
    let lib = LibAnnouncement {
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
    let nodes = NodeList {
        nodes: vec![NodeInfo {
            endpoint: "127.0.0.1:6800".into(),
            pubkey: key.pubkey().to_vec(),
            ..Default::default()
        }],
        ..Default::default()
    };

    // decode: a kind byte (see the target), then the message.
    let decoded: Vec<(u8, Vec<u8>)> = vec![
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
        (3, txs[0].write_to_bytes()?),
        (4, announcement.write_to_bytes()?),
        (5, lib.write_to_bytes()?),
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
        (11, nodes.write_to_bytes()?),
        (12, DisconnectReason::new().write_to_bytes()?),
    ];
    for (kind, bytes) in &decoded {
        let mut seed = vec![*kind];
        seed.extend_from_slice(bytes);
        write(&out, "decode", &format!("kind-{kind}"), &seed)?;
    }
    write(&out, "handshake", "signed", &handshake.write_to_bytes()?)?;

    let stream = |ty: MessageType, stream_type: StreamType, body: Vec<u8>| {
        let mut m = StreamMessage {
            stream_type: stream_type.into(),
            message_type: ty.into(),
            request_id: "1767225600000_0f8fad5b-d9cb-469f-a165-70867728950e".into(),
            message: body,
            ..Default::default()
        };
        m.meta.insert("public-key".into(), key.pubkey_hex());
        m.meta.insert("session-id".into(), "0a0b0c0d".into());
        m.write_to_bytes()
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
            txs[1].write_to_bytes()?,
        ),
        (
            MessageType::ANNOUNCEMENT_BROADCAST,
            StreamType::REQUEST,
            announcement.write_to_bytes()?,
        ),
        (
            MessageType::LIB_ANNOUNCEMENT_BROADCAST,
            StreamType::REQUEST,
            lib.write_to_bytes()?,
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
    for (i, (ty, st, body)) in streamed.into_iter().enumerate() {
        write(
            &out,
            "stream_dispatch",
            &format!("message-{i}"),
            &stream(ty, st, body)?,
        )?;
    }

    for (i, e) in [
        "127.0.0.1:6800",
        "[::1]:6801",
        "::1",
        "node.example:7000",
        "host",
    ]
    .iter()
    .enumerate()
    {
        write(&out, "endpoint", &format!("endpoint-{i}"), e.as_bytes())?;
    }
    let shipped = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("conf/aelf-netd.toml"))?;
    write(&out, "config", "shipped", &shipped)?;

    let api: [(u8, &str, &str, &str); 5] = [
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
    for (i, (method, url, auth, body)) in api.iter().enumerate() {
        let mut seed = vec![*method];
        seed.extend_from_slice(url.as_bytes());
        seed.push(0);
        seed.extend_from_slice(auth.as_bytes());
        seed.push(0);
        seed.extend_from_slice(body.as_bytes());
        write(&out, "api", &format!("request-{i}"), &seed)?;
    }
    drop(chain);
    let _ = std::fs::remove_dir_all(&scratch);
    println!("seeds written to {}", out.display());
    Ok(())
}
