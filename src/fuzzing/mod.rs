//! The fuzz targets' bodies, shared by the cargo-fuzz binaries and the replay test, and their
//! seed inputs.
//!
//! # Owns
//!
//! * One `pub fn <target>(data: &[u8])` per cargo-fuzz target, listed in [`TARGETS`]. The
//!   binaries in `fuzz/fuzz_targets/` only hand libFuzzer's input to these functions, and
//!   `tests/it/fuzz_replay.rs` runs the very same functions over every saved crash input
//!   (`fuzz/regressions/<target>/`) and over a short deterministic mutation run, so a finding
//!   stays a test after the fuzzer is gone.
//! * [`seeds`]: the seed inputs the fuzzer and the mutation run start from, made of real encoded
//!   messages (`examples/fuzz_seeds.rs` writes them to `fuzz/corpus/`).
//!
//! # Must not
//!
//! The node never calls into this module: it exists for `fuzz/`, the seed example and the
//! tests. Its `assert!`s and `expect`s are the properties a fuzzer checks, so a panic here is a
//! finding in the code under test, never a way to handle input; the code under test itself
//! must not panic on any input. A target must not open sockets, sleep, write files other than
//! its own scratch directory, or keep state from one input to the next (the handshake target's
//! validator, built once, holds no per-input state), so that every input replays alone.

mod seeds;

pub use seeds::{seeds, Seed};

use crate::api::{answer, ApiBackend, BasicAuth, ChainStatus, PeerSummary, TxRefusal, TxStatus};
use crate::chain::{Chain, EmbeddedChain};
use crate::config::Config;
use crate::crypto::NodeKey;
use crate::grpc::stream::dispatch::unauthenticated_reply;
use crate::grpc::stream::link::route;
use crate::grpc::stream::{needs_auth, request_latency_ms, type_name};
use crate::network::blacklist::Ban;
use crate::network::endpoint::Endpoint;
use crate::network::handshake::{Authorization, HandshakeProvider};
use crate::network::node_table::NodeRecord;
use crate::network::reconnection::ReconnectingPeer;
use crate::pb::aelf_core::Transaction;
use crate::pb::network_types::{
    BlockAnnouncement, BlockList, BlockReply, BlockRequest, BlockWithTransactions, BlocksRequest,
    ConfirmHandshakeRequest, DisconnectReason, Handshake, HandshakeReply, HandshakeRequest,
    LibAnnouncement, NodeList, NodesRequest,
};
use crate::pb::peer_service::{
    HealthCheckRequest, MessageType, PingRequest, StreamMessage, VoidReply,
};
use crate::types::{Hash, SystemClock};
use protobuf::Message;
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// A fuzz target's body: runs one input, panics on a finding.
pub type FuzzTarget = fn(&[u8]);

/// Every fuzz target by its cargo-fuzz name (the file name in `fuzz/fuzz_targets/` and the
/// folder name under `fuzz/corpus/` and `fuzz/regressions/`), with its body.
pub const TARGETS: [(&str, FuzzTarget); 6] = [
    ("decode", decode),
    ("handshake", handshake),
    ("stream_dispatch", stream_dispatch),
    ("endpoint", endpoint),
    ("config", config),
    ("api", api),
];

/// Decodes `bytes` as `M`; when that succeeds, the message must encode and the encoding must
/// decode to an equal message.
fn decoded_message_round_trips<M: Message + PartialEq>(bytes: &[u8]) {
    if let Ok(message) = M::parse_from_bytes(bytes) {
        let encoded = message
            .write_to_bytes()
            .expect("a message that decoded encodes again");
        let decoded_again = M::parse_from_bytes(&encoded).expect("its encoding decodes");
        assert!(
            decoded_again == message,
            "a decoded message changed over an encode/decode round trip"
        );
    }
}

/// Drives the protobuf decoders of every message the node reads off the network. The first
/// byte picks the message type (modulo 17), the rest is decoded as that type. Checks that
/// decoding never panics and that whatever decodes survives an encode/decode round trip
/// unchanged.
pub fn decode(data: &[u8]) {
    let Some((&kind, bytes)) = data.split_first() else {
        return;
    };
    match kind % 17 {
        0 => decoded_message_round_trips::<HandshakeRequest>(bytes),
        1 => decoded_message_round_trips::<HandshakeReply>(bytes),
        2 => decoded_message_round_trips::<BlockWithTransactions>(bytes),
        3 => decoded_message_round_trips::<Transaction>(bytes),
        4 => decoded_message_round_trips::<BlockAnnouncement>(bytes),
        5 => decoded_message_round_trips::<LibAnnouncement>(bytes),
        6 => decoded_message_round_trips::<BlocksRequest>(bytes),
        7 => decoded_message_round_trips::<BlockList>(bytes),
        8 => decoded_message_round_trips::<BlockRequest>(bytes),
        9 => decoded_message_round_trips::<BlockReply>(bytes),
        10 => decoded_message_round_trips::<NodesRequest>(bytes),
        11 => decoded_message_round_trips::<NodeList>(bytes),
        12 => decoded_message_round_trips::<DisconnectReason>(bytes),
        13 => decoded_message_round_trips::<ConfirmHandshakeRequest>(bytes),
        14 => decoded_message_round_trips::<StreamMessage>(bytes),
        15 => decoded_message_round_trips::<PingRequest>(bytes),
        _ => {
            decoded_message_round_trips::<HealthCheckRequest>(bytes);
            decoded_message_round_trips::<VoidReply>(bytes);
        }
    }
}

/// The handshake validator the handshake target uses for every input: a fresh node key and an
/// embedded chain with only the default genesis block, built on first use.
fn handshake_validator() -> &'static HandshakeProvider {
    static VALIDATOR: OnceLock<HandshakeProvider> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let scratch =
            std::env::temp_dir().join(format!("aelf-net-fuzz-handshake-{}", std::process::id()));
        let chain = EmbeddedChain::open(&scratch, Config::default().chain_settings())
            .expect("the handshake target's scratch chain opens");
        // Validation only reads the chain, through the store file it holds open, so the
        // directory's name can go now and nothing is left behind when the process ends.
        let _ = std::fs::remove_dir_all(&scratch);
        HandshakeProvider::new(
            NodeKey::generate(),
            Arc::new(chain) as Arc<dyn Chain>,
            6800,
            "1.9.0.0".into(),
            Arc::new(SystemClock),
            Authorization::Any,
        )
    })
}

/// Drives handshake validation: `data` is decoded as a `Handshake` (inputs that do not decode
/// are skipped) and validated against a node on the default genesis. Checks that validation
/// never panics and that a rejection can be described and mapped to a handshake error code
/// (or to a malformed call) without panicking.
pub fn handshake(data: &[u8]) {
    let Ok(handshake) = Handshake::parse_from_bytes(data) else {
        return;
    };
    if let Err(rejection) = handshake_validator().validate(&handshake) {
        let _ = rejection.to_string();
        let _ = rejection.handshake_error();
    }
}

/// Drives the stream-message dispatcher's pure parts: `data` is decoded as a `StreamMessage`
/// (inputs that do not decode are skipped), then classified for authentication, named, its
/// request id read for latency, answered as if unauthenticated, its payload decoded as the type
/// the message claims, and finally routed (replies to the request registry, requests to a
/// bounded inbox). Checks that none of these panic on any message.
pub fn stream_dispatch(data: &[u8]) {
    let Ok(message) = StreamMessage::parse_from_bytes(data) else {
        return;
    };
    let _ = needs_auth(&message);
    let _ = type_name(&message);
    let _ = request_latency_ms(&message.request_id);
    let _ = unauthenticated_reply(&message);
    let payload = message.message.as_slice();
    match message.message_type.enum_value() {
        Ok(MessageType::REQUEST_BLOCK) => drop(BlockRequest::parse_from_bytes(payload)),
        Ok(MessageType::REQUEST_BLOCKS) => drop(BlocksRequest::parse_from_bytes(payload)),
        Ok(MessageType::BLOCK_BROADCAST) => drop(BlockWithTransactions::parse_from_bytes(payload)),
        Ok(MessageType::TRANSACTION_BROADCAST) => drop(Transaction::parse_from_bytes(payload)),
        Ok(MessageType::ANNOUNCEMENT_BROADCAST) => {
            drop(BlockAnnouncement::parse_from_bytes(payload))
        }
        Ok(MessageType::LIB_ANNOUNCEMENT_BROADCAST) => {
            drop(LibAnnouncement::parse_from_bytes(payload))
        }
        Ok(MessageType::GET_NODES) => drop(NodesRequest::parse_from_bytes(payload)),
        Ok(MessageType::DISCONNECT) => drop(DisconnectReason::parse_from_bytes(payload)),
        _ => {}
    }
    let (inbox, routed_requests) = crossbeam_channel::bounded(4);
    route("fuzz", message, &inbox);
    while routed_requests.try_recv().is_ok() {}
}

/// Drives endpoint parsing (`host:port`, `[v6]:port`, bare hosts) on `data` as UTF-8 text
/// (other inputs are skipped). Checks that parsing never panics and that an endpoint that
/// parses has a host and a non-zero port and prints to text that parses back to itself.
pub fn endpoint(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(endpoint) = Endpoint::parse(text) {
        assert!(
            !endpoint.host.is_empty(),
            "{text:?} parsed to an empty host"
        );
        assert!(endpoint.port > 0, "{text:?} parsed to port 0");
        let printed = endpoint.to_string();
        let reparsed = Endpoint::parse(&printed).expect("a printed endpoint parses");
        assert_eq!(reparsed, endpoint, "{text:?} printed as {printed:?}");
    }
}

/// Drives config loading (TOML parsing and validation) on `data` as UTF-8 text (other inputs
/// are skipped). Checks that loading never panics and that every error names the file it came
/// from.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = Config::from_toml_str(text, Path::new("fuzz.toml")) {
        assert!(e.to_string().contains("fuzz.toml"), "{e}");
    }
}

/// A node behind the operator API that has a chain status and refuses every write: no blocks,
/// peers, bans or nodes; transactions and peer changes are refused. The API client's tests
/// talk to it too.
pub(crate) struct RefusingBackend;

impl ApiBackend for RefusingBackend {
    fn chain_status(&self) -> ChainStatus {
        ChainStatus {
            chain_id: "AELF".into(),
            genesis_block_hash: Hash([1; 32]),
            best_chain_hash: Hash([2; 32]),
            best_chain_height: 2,
            last_irreversible_block_hash: Hash([1; 32]),
            last_irreversible_block_height: 1,
            branches: vec![(Hash([2; 32]), 2)],
            genesis_contract_address: None,
        }
    }
    fn block_by_hash(&self, _: &Hash) -> Result<Option<BlockWithTransactions>, String> {
        Ok(None)
    }
    fn block_by_height(&self, _: i64) -> Result<Option<BlockWithTransactions>, String> {
        Ok(None)
    }
    fn send_transactions(&self, _: &[Vec<u8>]) -> Result<Vec<Hash>, TxRefusal> {
        Err(TxRefusal::Invalid("refused".into()))
    }
    fn transaction_status(&self, _: &Hash) -> Result<TxStatus, String> {
        Ok(TxStatus::Unknown)
    }
    fn transaction_pool_size(&self) -> usize {
        0
    }
    fn peers(&self) -> Vec<PeerSummary> {
        Vec::new()
    }
    fn versions(&self) -> (String, i32) {
        ("1.9.0.0".into(), 1)
    }
    fn add_peer(&self, _: &Endpoint) -> bool {
        false
    }
    fn remove_peer(&self, _: &Endpoint) -> bool {
        false
    }
    fn bans(&self) -> Vec<Ban> {
        Vec::new()
    }
    fn ban(&self, _: &str, _: Option<i64>, _: &str) -> (i64, usize) {
        (0, 0)
    }
    fn unban(&self, _: &str) -> bool {
        false
    }
    fn nodes(&self) -> Vec<NodeRecord> {
        Vec::new()
    }
    fn reconnections(&self) -> Vec<ReconnectingPeer> {
        Vec::new()
    }
    fn metrics(&self) -> String {
        String::new()
    }
}

/// The HTTP methods the api target picks from with its first byte.
const API_METHODS: [&str; 6] = ["GET", "POST", "DELETE", "PUT", "PATCH", "OPTIONS"];

/// Drives the operator API's request handling against a backend that refuses writes, with
/// credentials `op:pw` configured. `data` is a method byte (modulo the six methods) followed by
/// the URL, the `Authorization` header and the body, separated by NUL bytes (non-UTF-8 text is
/// read lossily). Checks that answering never panics, never answers 5xx, and that every error
/// reply has aelf's JSON `Error` shape.
pub fn api(data: &[u8]) {
    let Some((&method_byte, rest)) = data.split_first() else {
        return;
    };
    let mut parts = rest.splitn(3, |b| *b == 0);
    let url = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let authorization = parts
        .next()
        .map(|a| String::from_utf8_lossy(a).into_owned());
    let body = parts.next().unwrap_or_default();
    let credentials = BasicAuth::new(Some("op".into()), Some("pw".into()));
    let method = API_METHODS[usize::from(method_byte) % API_METHODS.len()];
    let reply = answer(
        &RefusingBackend,
        &credentials,
        method,
        &url,
        authorization.as_deref(),
        body,
    );
    assert!(reply.status < 500, "{method} {url}: {}", reply.body);
    if reply.status >= 400 {
        assert!(reply.body.contains("\"Error\""), "{}", reply.body);
    }
}
