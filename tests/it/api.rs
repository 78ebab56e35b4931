//! The operator HTTP API over a real socket with a fake backend: every route (chain, pool,
//! bans, node table, reconnections), its JSON shape,
//! and the errors (bad JSON, bad hex, refused transaction, wrong method, unknown path, a body
//! over the limit).

use aelf_net::api::{ApiBackend, ApiServer, ChainStatus, MAX_BODY_BYTES};
use aelf_net::network::blacklist::Ban;
use aelf_net::network::endpoint::Endpoint;
use aelf_net::network::node_table::NodeRecord;
use aelf_net::network::reconnection::ReconnectingPeer;
use aelf_net::types::Hash;
use parking_lot::Mutex;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

/// One HTTP/1.1 request on a fresh connection: (status, body).
pub(crate) fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect to the API");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    // A server that refuses a large body may answer and close before it is all written.
    let _ = write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut bytes = Vec::new();
    let _ = stream.read_to_end(&mut bytes);
    let response = String::from_utf8_lossy(&bytes);
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

struct Fake {
    received: Mutex<Vec<Vec<u8>>>,
}

impl ApiBackend for Fake {
    fn chain_status(&self) -> ChainStatus {
        ChainStatus {
            chain_id: "AELF".into(),
            genesis_block_hash: Hash([1; 32]),
            best_chain_hash: Hash([2; 32]),
            best_chain_height: 42,
            last_irreversible_block_hash: Hash([3; 32]),
            last_irreversible_block_height: 34,
        }
    }

    fn send_transaction(&self, raw: &[u8]) -> Result<Hash, String> {
        if raw == [0xde, 0xad] {
            return Err("bad signature".into());
        }
        self.received.lock().push(raw.to_vec());
        Ok(Hash([7; 32]))
    }

    fn transaction_pool_size(&self) -> usize {
        self.received.lock().len()
    }

    fn bans(&self) -> Vec<Ban> {
        vec![Ban {
            host: "10.0.0.9".into(),
            expiry: 1_800_000_300_000,
            reason: "served inconsistent blocks".into(),
        }]
    }

    fn nodes(&self) -> Vec<NodeRecord> {
        vec![NodeRecord {
            endpoint: Endpoint::parse("10.0.0.5:6800").unwrap(),
            pubkey: vec![4; 65],
        }]
    }

    fn reconnections(&self) -> Vec<ReconnectingPeer> {
        vec![ReconnectingPeer {
            endpoint: Endpoint::parse("10.0.0.6:6801").unwrap(),
            pubkey_hex: "04ab".into(),
            next_attempt: 1_800_000_120_000,
            retry_count: 1,
            disconnection_time: 1_800_000_000_000,
            forever: false,
        }]
    }
}

#[test]
fn every_route_answers_in_the_aelf_shape() {
    let fake = Arc::new(Fake {
        received: Mutex::new(Vec::new()),
    });
    let api = ApiServer::start("127.0.0.1:0".parse().unwrap(), fake.clone(), 2).unwrap();
    let addr = api.local_addr();

    let (status, body) = http(addr, "GET", "/api/blockChain/chainStatus", "");
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["ChainId"], "AELF");
    assert_eq!(v["BestChainHeight"], 42);
    assert_eq!(v["BestChainHash"], "02".repeat(32));
    assert_eq!(v["LongestChainHeight"], 42);
    assert_eq!(v["LastIrreversibleBlockHeight"], 34);
    assert_eq!(v["GenesisBlockHash"], "01".repeat(32));

    let (status, body) = http(
        addr,
        "POST",
        "/api/blockChain/sendTransaction",
        r#"{"RawTransaction":"0a0b"}"#,
    );
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["TransactionId"], "07".repeat(32));
    assert_eq!(*fake.received.lock(), vec![vec![0x0a, 0x0b]]);

    let (status, body) = http(addr, "GET", "/api/blockChain/transactionPoolStatus", "");
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (v["Queued"].as_u64(), v["Validated"].as_u64()),
        (Some(1), Some(1))
    );

    let (status, body) = http(addr, "GET", "/api/net/bans", "");
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v[0]["Host"], "10.0.0.9");
    assert_eq!(v[0]["Reason"], "served inconsistent blocks");
    assert_eq!(v[0]["ExpiryTimeMs"], 1_800_000_300_000i64);
    let (status, body) = http(addr, "GET", "/api/net/nodes", "");
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v[0]["Endpoint"], "10.0.0.5:6800");
    assert_eq!(v[0]["Pubkey"], "04".repeat(65));
    let (status, body) = http(addr, "GET", "/api/net/reconnections", "");
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v[0]["Endpoint"], "10.0.0.6:6801");
    assert_eq!(
        (v[0]["RetryCount"].as_u64(), v[0]["Forever"].as_bool()),
        (Some(1), Some(false))
    );
    assert_eq!(v[0]["NextAttemptTimeMs"], 1_800_000_120_000i64);
    assert_eq!(http(addr, "POST", "/api/net/bans", "{}").0, 405);
    api.stop();
}

#[test]
fn errors_are_clear_and_lose_nothing() {
    let fake = Arc::new(Fake {
        received: Mutex::new(Vec::new()),
    });
    let api = ApiServer::start("127.0.0.1:0".parse().unwrap(), fake.clone(), 1).unwrap();
    let addr = api.local_addr();
    let send = |body: &str| http(addr, "POST", "/api/blockChain/sendTransaction", body);

    let (status, body) = send("not json");
    assert_eq!(status, 400);
    assert!(body.contains("\"Error\""), "{body}");
    assert_eq!(send(r#"{"RawTransaction":"xyz"}"#).0, 400);
    let (status, body) = send(r#"{"RawTransaction":"dead"}"#);
    assert_eq!(status, 403);
    assert!(body.contains("bad signature"), "{body}");
    assert_eq!(
        http(addr, "GET", "/api/blockChain/sendTransaction", "").0,
        405
    );
    assert_eq!(http(addr, "GET", "/api/nothing", "").0, 404);
    let huge = format!(r#"{{"RawTransaction":"{}"}}"#, "00".repeat(MAX_BODY_BYTES));
    assert_eq!(send(&huge).0, 413);
    // Still serving afterwards.
    assert_eq!(http(addr, "GET", "/api/blockChain/chainStatus", "").0, 200);
    assert!(fake.received.lock().is_empty());
    api.stop();
}
