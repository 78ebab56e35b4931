//! The operator API on arbitrary requests (method, URL, Authorization, body), against a
//! backend that refuses writes: never a panic, never a 5xx, always the JSON error shape.
#![no_main]

use aelf_net::api::{answer, ApiBackend, BasicAuth, ChainStatus, PeerSummary};
use aelf_net::network::blacklist::Ban;
use aelf_net::network::endpoint::Endpoint;
use aelf_net::network::node_table::NodeRecord;
use aelf_net::network::reconnection::ReconnectingPeer;
use aelf_net::pb::network_types::BlockWithTransactions;
use aelf_net::types::Hash;
use libfuzzer_sys::fuzz_target;

struct Backend;

impl ApiBackend for Backend {
    fn chain_status(&self) -> ChainStatus {
        ChainStatus {
            chain_id: "AELF".into(),
            genesis_block_hash: Hash([1; 32]),
            best_chain_hash: Hash([2; 32]),
            best_chain_height: 2,
            last_irreversible_block_hash: Hash([1; 32]),
            last_irreversible_block_height: 1,
            branches: vec![(Hash([2; 32]), 2)],
        }
    }
    fn block_by_hash(&self, _: &Hash) -> Result<Option<BlockWithTransactions>, String> {
        Ok(None)
    }
    fn block_by_height(&self, _: i64) -> Result<Option<BlockWithTransactions>, String> {
        Ok(None)
    }
    fn send_transaction(&self, _: &[u8]) -> Result<Hash, String> {
        Err("refused".into())
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

const METHODS: [&str; 6] = ["GET", "POST", "DELETE", "PUT", "PATCH", "OPTIONS"];

fuzz_target!(|data: &[u8]| {
    // method byte, then URL, Authorization and body separated by NUL bytes.
    let Some((&m, rest)) = data.split_first() else {
        return;
    };
    let mut parts = rest.splitn(3, |b| *b == 0);
    let url = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let authorization = parts
        .next()
        .map(|a| String::from_utf8_lossy(a).into_owned());
    let body = parts.next().unwrap_or_default();
    let auth = BasicAuth::new(Some("op".into()), Some("pw".into()));
    let method = METHODS[m as usize % METHODS.len()];
    let reply = answer(
        &Backend,
        &auth,
        method,
        &url,
        authorization.as_deref(),
        body,
    );
    assert!(reply.status < 500, "{method} {url}: {}", reply.body);
    if reply.status >= 400 {
        assert!(reply.body.contains("\"Error\""), "{}", reply.body);
    }
});
