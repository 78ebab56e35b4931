//! The operator HTTP API over a real socket with a fake backend: every route, its JSON shape
//! (aelf's UpperCamelCase names), HTTP Basic auth on the write routes, the transaction routes
//! a client follows its transaction with (send one or a batch, its result, a block's results),
//! and the errors with the C# node's codes and statuses (bad JSON, bad hex, bad signature, bad
//! address, bad parameters, wrong method, unknown path, a body over the limit) — none of which
//! reaches the backend or stops the server.

use crate::support::http::{http, http_with, parse};
use aelf_net::api::{
    basic_header, ApiBackend, ApiServer, BasicAuth, ChainStatus, PeerSummary, TxRefusal, TxStatus,
    MAX_BODY_BYTES, NEED_BASIC_AUTH,
};
use aelf_net::chain::{genesis_block, synthetic_transactions, ChainSettings, ChainTip};
use aelf_net::crypto::NodeKey;
use aelf_net::network::blacklist::Ban;
use aelf_net::network::broadcast::QueueStats;
use aelf_net::network::endpoint::Endpoint;
use aelf_net::network::node_table::NodeRecord;
use aelf_net::network::reconnection::ReconnectingPeer;
use aelf_net::network::request_metrics::RequestMetric;
use aelf_net::pb::network_types::BlockWithTransactions;
use aelf_net::types::{block_hash, transaction_id, Address, Hash};
use parking_lot::Mutex;
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::Arc;

/// What the fake backend was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Did {
    Send(Vec<u8>),
    Add(String),
    Remove(String),
    Ban(String, Option<i64>, String),
    Unban(String),
}

struct Fake {
    did: Mutex<Vec<Did>>,
    blocks: Vec<BlockWithTransactions>,
}

impl Fake {
    fn new() -> Arc<Fake> {
        let key = NodeKey::generate();
        let settings = ChainSettings::development(9_992_731, 1_600_000_000);
        let genesis = genesis_block(&settings);
        let tip = ChainTip {
            hash: block_hash(genesis.header.get_or_default()).unwrap(),
            height: 1,
        };
        let txs = synthetic_transactions(&key, &tip, 2, 1);
        let second = crate::support::chain::unchecked_block(
            &tip,
            settings.chain_id,
            &key,
            1_600_000_004_250,
            txs,
        );
        Arc::new(Fake {
            did: Mutex::new(Vec::new()),
            blocks: vec![genesis, second],
        })
    }

    fn did(&self) -> Vec<Did> {
        self.did.lock().clone()
    }
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
            branches: vec![(Hash([2; 32]), 42), (Hash([5; 32]), 40)],
            genesis_contract_address: None,
        }
    }

    fn block_by_hash(&self, hash: &Hash) -> Result<Option<BlockWithTransactions>, String> {
        Ok(self
            .blocks
            .iter()
            .find(|b| block_hash(b.header.get_or_default()).ok() == Some(*hash))
            .cloned())
    }

    fn block_by_height(&self, height: i64) -> Result<Option<BlockWithTransactions>, String> {
        Ok(self
            .blocks
            .iter()
            .find(|b| b.header.height == height)
            .cloned())
    }

    /// `dead` has a bad signature, `0bad` does not decode, `f111` finds the pool full; any
    /// other is taken with id `07…07`. All or none, as the node does.
    fn send_transactions(&self, raws: &[Vec<u8>]) -> Result<Vec<Hash>, TxRefusal> {
        for raw in raws {
            match raw.as_slice() {
                [0xde, 0xad] => return Err(TxRefusal::BadSignature("not signed by From".into())),
                [0x0b, 0xad] => return Err(TxRefusal::Invalid("not an aelf.Transaction".into())),
                [0xf1, 0x11] => return Err(TxRefusal::Busy("the pool is full".into())),
                _ => {}
            }
        }
        let mut did = self.did.lock();
        did.extend(raws.iter().map(|raw| Did::Send(raw.clone())));
        Ok(raws.iter().map(|_| Hash([7; 32])).collect())
    }

    /// `07…07` is pending, the transactions of the second block are included in it.
    fn transaction_status(&self, id: &Hash) -> Result<TxStatus, String> {
        if *id == Hash([7; 32]) {
            return Ok(TxStatus::Pending);
        }
        let block = &self.blocks[1];
        for tx in &block.transactions {
            if transaction_id(tx).ok().as_ref() == Some(id) {
                return Ok(TxStatus::Included {
                    block_hash: block_hash(block.header.get_or_default()).unwrap(),
                    block_height: block.header.height,
                    transaction: tx.clone(),
                });
            }
        }
        Ok(TxStatus::Unknown)
    }

    fn transaction_pool_size(&self) -> usize {
        self.did
            .lock()
            .iter()
            .filter(|d| matches!(d, Did::Send(_)))
            .count()
    }

    fn peers(&self) -> Vec<PeerSummary> {
        let mut queues = QueueStats::default();
        queues.transactions.buffered = 3;
        queues.blocks.dropped = 2;
        let peer = |endpoint: &str, inbound: bool| PeerSummary {
            endpoint: endpoint.into(),
            pubkey: "04".repeat(65),
            protocol_version: 1,
            node_version: "1.4.0.0".into(),
            connection_time_ms: 1_700_000_000_999,
            connection_status: "Ready",
            inbound,
            mode: "stream",
            queues,
            request_metrics: vec![RequestMetric {
                method: "GetBlocks",
                info: "Get blocks for { first: \"ab\", count: 5 }".into(),
                round_trip_ms: 12,
                request_time: 1_700_000_001_250,
            }],
            best_height: 50,
            lib_height: 40,
            sync_finished: true,
        };
        vec![peer("10.0.0.1:6800", true), peer("10.0.0.2:6801", false)]
    }

    fn versions(&self) -> (String, i32) {
        ("1.4.0.0".into(), 1)
    }

    fn add_peer(&self, endpoint: &Endpoint) -> bool {
        self.did.lock().push(Did::Add(endpoint.to_string()));
        endpoint.port != 1
    }

    fn remove_peer(&self, endpoint: &Endpoint) -> bool {
        self.did.lock().push(Did::Remove(endpoint.to_string()));
        endpoint.host == "10.0.0.1"
    }

    fn bans(&self) -> Vec<Ban> {
        vec![Ban {
            host: "10.0.0.9".into(),
            expiry: 1_800_000_300_000,
            reason: "served inconsistent blocks".into(),
        }]
    }

    fn ban(&self, host: &str, duration_ms: Option<i64>, reason: &str) -> (i64, usize) {
        self.did
            .lock()
            .push(Did::Ban(host.into(), duration_ms, reason.into()));
        (1_800_000_000_000 + duration_ms.unwrap_or(300_000), 1)
    }

    fn unban(&self, host: &str) -> bool {
        self.did.lock().push(Did::Unban(host.into()));
        host == "10.0.0.9"
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

    fn metrics(&self) -> String {
        "# TYPE aelf_net_fake counter\naelf_net_fake 1\n".into()
    }
}

const USER: &str = "operator";
const PASSWORD: &str = "pa:ss word";

fn start(fake: &Arc<Fake>, auth: BasicAuth) -> (ApiServer, SocketAddr) {
    let api = ApiServer::start("127.0.0.1:0".parse().unwrap(), fake.clone(), 2, auth).unwrap();
    let addr = api.local_addr();
    (api, addr)
}

fn credentials() -> BasicAuth {
    BasicAuth::new(Some(USER.into()), Some(PASSWORD.into()))
}

fn get(addr: SocketAddr, path: &str) -> Value {
    let (status, body) = http(addr, "GET", path, "");
    assert_eq!(status, 200, "{path}: {body}");
    parse(&body)
}

#[test]
fn every_read_route_answers_in_the_aelf_shape() {
    let fake = Fake::new();
    let (api, addr) = start(&fake, BasicAuth::default());

    let v = get(addr, "/api/blockChain/chainStatus");
    assert_eq!(v["ChainId"], "AELF");
    assert_eq!(v["BestChainHeight"], 42);
    assert_eq!(v["BestChainHash"], "02".repeat(32));
    assert_eq!(v["LongestChainHeight"], 42);
    assert_eq!(v["LongestChainHash"], "02".repeat(32));
    assert_eq!(v["LastIrreversibleBlockHeight"], 34);
    assert_eq!(v["LastIrreversibleBlockHash"], "03".repeat(32));
    assert_eq!(v["GenesisBlockHash"], "01".repeat(32));
    assert_eq!(v["Branches"]["02".repeat(32)], 42);
    assert_eq!(v["Branches"]["05".repeat(32)], 40);
    assert_eq!(v["NotLinkedBlocks"], serde_json::json!({}));
    assert_eq!(
        v["GenesisContractAddress"],
        Value::Null,
        "present, null while the node is not told it (as the C# node before it knows it)"
    );
    assert_eq!(get(addr, "/api/blockChain/blockHeight"), 42);

    // Paths and parameter names match in any case, as ASP.NET routes them.
    let block = get(
        addr,
        "/API/BLOCKCHAIN/blockByHeight?BlockHeight=2&includeTransactions=TRUE",
    );
    let hash = block["BlockHash"].as_str().unwrap().to_owned();
    assert_eq!(hash.len(), 64);
    let header = &block["Header"];
    assert_eq!(header["Height"], 2);
    assert_eq!(header["ChainId"], "AELF");
    assert_eq!(header["Time"], "2020-09-13T12:26:44.25Z");
    assert_eq!(header["Extra"], "{ }");
    assert_eq!(header["SignerPubkey"].as_str().unwrap().len(), 130);
    assert_eq!(
        header["Bloom"].as_str().unwrap().len(),
        344,
        "256 zero bytes in base64"
    );
    assert_eq!(header["PreviousBlockHash"].as_str().unwrap().len(), 64);
    for field in [
        "MerkleTreeRootOfTransactions",
        "MerkleTreeRootOfWorldState",
        "MerkleTreeRootOfTransactionState",
    ] {
        assert_eq!(header[field].as_str().unwrap().len(), 64, "{field}");
    }
    assert_eq!(block["Body"]["TransactionsCount"], 2);
    assert_eq!(block["Body"]["Transactions"].as_array().unwrap().len(), 2);
    assert!(block["BlockSize"].as_u64().unwrap() > 100);
    let by_hash = get(addr, &format!("/api/blockChain/block?blockHash={hash}"));
    assert_eq!(by_hash["BlockHash"], hash.as_str());
    assert_eq!(by_hash["Body"]["TransactionsCount"], 2);
    assert_eq!(
        by_hash["Body"]["Transactions"],
        serde_json::json!([]),
        "ids only when asked; an empty list otherwise, as the C# node answers (issue 16.6)"
    );
    let by_height = get(addr, "/api/blockChain/blockByHeight?blockHeight=2");
    assert_eq!(by_height["Body"]["Transactions"], serde_json::json!([]));
    assert_eq!(by_height["Body"]["TransactionsCount"], 2);

    let peers = get(addr, "/api/net/peers");
    let peers = peers.as_array().unwrap();
    assert_eq!(peers.len(), 2);
    let p = &peers[0];
    assert_eq!(p["IpAddress"], "10.0.0.1:6800");
    assert_eq!(p["ProtocolVersion"], 1);
    assert_eq!(p["ConnectionTime"], 1_700_000_000i64, "Unix seconds");
    assert_eq!(p["ConnectionStatus"], "Ready");
    assert_eq!(
        (p["Inbound"].as_bool(), peers[1]["Inbound"].as_bool()),
        (Some(true), Some(false))
    );
    assert_eq!(p["BufferedTransactionsCount"], 3);
    assert_eq!(p["BufferedBlocksCount"], 0);
    assert_eq!(p["BufferedAnnouncementsCount"], 0);
    assert_eq!(
        p["RequestMetrics"],
        serde_json::json!([]),
        "empty without withMetrics"
    );
    assert_eq!(p["NodeVersion"], "1.4.0.0");
    assert_eq!(p["Pubkey"], "04".repeat(65));
    assert_eq!(p["SyncState"], "Finished");
    assert_eq!(p["LastKnownLibHeight"], 40);
    assert_eq!(p["CurrentBlockHeight"], 50);
    assert_eq!(p["DroppedBlocksCount"], 2);
    let with = get(addr, "/api/net/peers?withMetrics=true");
    let metric = &with[0]["RequestMetrics"][0];
    assert_eq!(metric["MethodName"], "GetBlocks");
    assert_eq!(metric["RoundTripTime"], 12);
    assert_eq!(metric["RequestTime"]["Seconds"], 1_700_000_001i64);
    assert_eq!(metric["RequestTime"]["Nanos"], 250_000_000);
    assert!(metric["Info"]
        .as_str()
        .unwrap()
        .starts_with("Get blocks for"));

    let info = get(addr, "/api/net/networkInfo");
    assert_eq!(info["Version"], "1.4.0.0");
    assert_eq!(info["ProtocolVersion"], 1);
    assert_eq!(info["Connections"], 2);

    let v = get(addr, "/api/blockChain/transactionPoolStatus");
    assert_eq!(
        (v["Queued"].as_u64(), v["Validated"].as_u64()),
        (Some(0), Some(0))
    );
    let v = get(addr, "/api/net/bans");
    assert_eq!(v[0]["Host"], "10.0.0.9");
    assert_eq!(v[0]["Reason"], "served inconsistent blocks");
    assert_eq!(v[0]["ExpiryTimeMs"], 1_800_000_300_000i64);
    let v = get(addr, "/api/net/nodes");
    assert_eq!(v[0]["Endpoint"], "10.0.0.5:6800");
    assert_eq!(v[0]["Pubkey"], "04".repeat(65));
    let v = get(addr, "/api/net/reconnections");
    assert_eq!(v[0]["Endpoint"], "10.0.0.6:6801");
    assert_eq!(
        (v[0]["RetryCount"].as_u64(), v[0]["Forever"].as_bool()),
        (Some(1), Some(false))
    );
    assert_eq!(v[0]["NextAttemptTimeMs"], 1_800_000_120_000i64);

    let (status, body) = http(addr, "GET", "/metrics", "");
    assert_eq!(
        (status, body.as_str()),
        (200, "# TYPE aelf_net_fake counter\naelf_net_fake 1\n")
    );
    assert!(fake.did().is_empty(), "reads do nothing");
    api.stop();
}

#[test]
fn send_transaction_takes_hex_and_answers_the_id() {
    let fake = Fake::new();
    let (api, addr) = start(&fake, BasicAuth::default());
    let (status, body) = http(
        addr,
        "POST",
        "/api/blockChain/sendTransaction",
        r#"{"RawTransaction":"0a0b"}"#,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(parse(&body)["TransactionId"], "07".repeat(32));
    assert_eq!(fake.did(), vec![Did::Send(vec![0x0a, 0x0b])]);
    api.stop();
}

#[test]
fn send_transactions_takes_a_comma_separated_batch_and_answers_the_ids() {
    let fake = Fake::new();
    let (api, addr) = start(&fake, BasicAuth::default());
    let (status, body) = http(
        addr,
        "POST",
        "/api/blockChain/sendTransactions",
        r#"{"rawTransactions":"0a0b, 0c0d"}"#,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        parse(&body),
        serde_json::json!(["07".repeat(32), "07".repeat(32)]),
        "an array of ids, in order (C# string[])"
    );
    assert_eq!(
        fake.did(),
        vec![Did::Send(vec![0x0a, 0x0b]), Did::Send(vec![0x0c, 0x0d])]
    );
    api.stop();
}

#[test]
fn transaction_results_say_only_what_a_network_node_knows() {
    let fake = Fake::new();
    let (api, addr) = start(&fake, BasicAuth::default());
    let result = |id: &str| {
        get(
            addr,
            &format!("/api/blockChain/transactionResult?transactionId={id}"),
        )
    };

    // In the pool: PENDING, as the C# node says for a queued transaction.
    let pending = result(&"07".repeat(32));
    assert_eq!(pending["TransactionId"], "07".repeat(32));
    assert_eq!(pending["Status"], "PENDING");
    assert_eq!(pending["BlockNumber"], 0);
    assert_eq!(pending["BlockHash"], Value::Null);
    assert_eq!(pending["Logs"], serde_json::json!([]));
    assert_eq!(pending["Bloom"].as_str().unwrap().len(), 344);
    assert_eq!(pending["Error"], Value::Null);
    assert!(pending.as_object().unwrap().contains_key("StatusWithBVP"));

    // Unknown: NOTEXISTED (C#'s enum name upper-cased, no underscore), bloom null.
    let unknown = result(&"0e".repeat(32));
    assert_eq!(unknown["Status"], "NOTEXISTED");
    assert_eq!(unknown["Bloom"], Value::Null);
    assert_eq!(unknown["Transaction"], Value::Null);
    assert_eq!(unknown["TransactionSize"], 0);

    // In a block we hold: INCLUDED with the block, never MINED (a network node does not know
    // whether the execution succeeded), and the Error says why.
    let block = &fake.blocks[1];
    let block_hex = block_hash(block.header.get_or_default()).unwrap().to_hex();
    let tx = &block.transactions[1];
    let id = transaction_id(tx).unwrap().to_hex();
    let included = result(&id);
    assert_eq!(included["TransactionId"], id.as_str());
    assert_eq!(included["Status"], "INCLUDED");
    assert_eq!(included["BlockNumber"], 2);
    assert_eq!(included["BlockHash"], block_hex.as_str());
    assert_eq!(included["Logs"], Value::Null, "unknown, not empty");
    assert_eq!(included["ReturnValue"], Value::Null);
    let error = included["Error"].as_str().unwrap();
    assert!(
        error.contains("does not execute") && error.contains(&block_hex),
        "{error}"
    );
    let t = &included["Transaction"];
    assert_eq!(t["MethodName"], tx.method_name.as_str());
    assert_eq!(t["RefBlockNumber"], tx.ref_block_number);
    let from = <[u8; 32]>::try_from(tx.from.value.as_slice()).unwrap();
    assert_eq!(t["From"], Address(from).to_base58().as_str(), "base58");
    assert_eq!(
        t["Signature"].as_str().unwrap().len(),
        88,
        "65 bytes in base64"
    );
    assert_eq!(
        included["TransactionSize"].as_u64(),
        Some(protobuf::Message::compute_size(tx))
    );

    // A block's results: a slice chosen by offset and limit (default 0 and 10).
    let list = |query: &str| {
        get(
            addr,
            &format!("/api/blockChain/transactionResults?blockHash={block_hex}{query}"),
        )
        .as_array()
        .cloned()
        .unwrap()
    };
    let all = list("");
    assert_eq!(all.len(), 2);
    assert!(all
        .iter()
        .all(|r| r["Status"] == "INCLUDED" && r["BlockNumber"] == 2));
    assert_eq!(all[1]["TransactionId"], id.as_str());
    let second = list("&offset=1&limit=15");
    assert_eq!(second.len(), 1);
    assert_eq!(second[0]["TransactionId"], id.as_str());
    assert!(
        list("&offset=2&limit=100").is_empty(),
        "past the end: empty"
    );
    assert!(fake.did().is_empty(), "reads do nothing");
    api.stop();
}

#[test]
fn write_routes_need_the_configured_basic_credentials() {
    let writes: [(&str, &str, &str); 4] = [
        ("POST", "/api/net/peer", r#"{"Address":"10.0.0.3:6800"}"#),
        ("DELETE", "/api/net/peer?address=10.0.0.1:6800", ""),
        ("POST", "/api/net/bans", r#"{"Host":"10.0.0.4"}"#),
        ("DELETE", "/api/net/bans?host=10.0.0.9", ""),
    ];
    let right = basic_header(USER, PASSWORD);

    // No credentials configured: every write is refused with the C# reason, whatever is sent.
    let fake = Fake::new();
    let (api, addr) = start(&fake, BasicAuth::default());
    for (method, path, body) in writes {
        let (status, text) = http_with(addr, method, path, body, &[("Authorization", &right)]);
        assert_eq!(status, 401, "{method} {path}");
        assert_eq!(parse(&text)["Error"]["Message"], NEED_BASIC_AUTH);
    }
    assert!(fake.did().is_empty());
    api.stop();

    let fake = Fake::new();
    let (api, addr) = start(&fake, credentials());
    let wrong = basic_header(USER, "nope");
    for (method, path, body) in writes {
        assert_eq!(
            http(addr, method, path, body).0,
            401,
            "{method} {path} without auth"
        );
        let (status, text) = http_with(addr, method, path, body, &[("Authorization", &wrong)]);
        assert_eq!(status, 401, "{method} {path} with a wrong password");
        assert_eq!(
            parse(&text)["Error"]["Message"],
            "Invalid Username or Password"
        );
    }
    assert!(fake.did().is_empty(), "nothing refused reached the node");

    let auth = [("Authorization", right.as_str())];
    let answer = |method, path, body| {
        let (status, text) = http_with(addr, method, path, body, &auth);
        assert_eq!(status, 200, "{method} {path}: {text}");
        parse(&text)
    };
    // The C# test sends `address` in lower case: bound case-insensitively.
    assert_eq!(
        answer("POST", "/api/net/peer", r#"{"address":"10.0.0.3:6800"}"#),
        true
    );
    assert_eq!(
        answer("POST", "/api/net/peer", r#"{"Address":"10.0.0.3:1"}"#),
        false
    );
    assert_eq!(
        answer("DELETE", "/api/net/peer?address=10.0.0.1%3A6800", ""),
        true
    );
    assert_eq!(
        answer("DELETE", "/api/net/peer?address=127.0.0.1:3000", ""),
        false
    );
    let ban = answer(
        "POST",
        "/api/net/bans",
        r#"{"Host":"::ffff:10.0.0.4","DurationMs":60000,"Reason":"spam"}"#,
    );
    assert_eq!(ban["Host"], "::ffff:10.0.0.4");
    assert_eq!(ban["ExpiryTimeMs"], 1_800_000_060_000i64);
    assert_eq!(ban["Disconnected"], 1);
    answer("POST", "/api/net/bans", r#"{"host":"[::1]"}"#);
    assert_eq!(answer("DELETE", "/api/net/bans?host=10.0.0.9", ""), true);
    assert_eq!(answer("DELETE", "/api/net/bans?host=10.0.0.8", ""), false);
    assert_eq!(
        fake.did(),
        vec![
            Did::Add("10.0.0.3:6800".into()),
            Did::Add("10.0.0.3:1".into()),
            Did::Remove("10.0.0.1:6800".into()),
            Did::Remove("127.0.0.1:3000".into()),
            Did::Ban("::ffff:10.0.0.4".into(), Some(60_000), "spam".into()),
            Did::Ban("::1".into(), None, "banned by an operator".into()),
            Did::Unban("10.0.0.9".into()),
            Did::Unban("10.0.0.8".into()),
        ]
    );
    api.stop();
}

#[test]
fn errors_are_clear_and_lose_nothing() {
    let fake = Fake::new();
    let (api, addr) = start(&fake, credentials());
    let right = basic_header(USER, PASSWORD);
    let auth = [("Authorization", right.as_str())];
    let error_of = |method: &str, path: &str, body: &str| {
        let (status, text) = http_with(addr, method, path, body, &auth);
        let v = parse(&text);
        let code = v["Error"]["Code"]
            .as_str()
            .unwrap_or_else(|| panic!("{method} {path} {body}: {text}"))
            .to_owned();
        assert!(
            v["Error"]["Message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{text}"
        );
        (status, code)
    };
    let send = "/api/blockChain/sendTransaction";
    let batch = "/api/blockChain/sendTransactions";
    let missing_block = "ab".repeat(32);
    let results = |query: &str| format!("/api/blockChain/transactionResults?{query}");
    // Issue 16.8: what the C# node refuses with one of its codes (a UserFriendlyException) is
    // 403 with that code; what does not bind (not JSON, not an integer) is 400.
    let bad: &[(&str, &str, &str, u16, &str)] = &[
        ("POST", send, "not json", 400, "20012"),
        ("POST", send, "[1,2]", 400, "20012"),
        ("POST", send, r#"{"Raw":"0a"}"#, 400, "20012"),
        ("POST", send, r#"{"RawTransaction":5}"#, 400, "20012"),
        ("POST", send, r#"{"RawTransaction":"xyz"}"#, 403, "20008"),
        ("POST", send, r#"{"RawTransaction":"0bad"}"#, 403, "20008"),
        ("POST", send, r#"{"RawTransaction":"dead"}"#, 403, "20013"),
        ("POST", send, r#"{"RawTransaction":"f111"}"#, 503, "20008"),
        (
            "POST",
            batch,
            r#"{"RawTransactions":"0a0b,xyz"}"#,
            403,
            "20008",
        ),
        (
            "POST",
            batch,
            r#"{"RawTransactions":"0a0b,,0a0c"}"#,
            403,
            "20008",
        ),
        (
            "POST",
            batch,
            r#"{"RawTransactions":"0a0b,dead"}"#,
            403,
            "20013",
        ),
        ("POST", batch, r#"{"RawTransaction":"0a0b"}"#, 400, "20012"),
        (
            "GET",
            "/api/blockChain/transactionResult?transactionId=FakeTransactionId",
            "",
            403,
            "20004",
        ),
        ("GET", "/api/blockChain/transactionResult", "", 403, "20004"),
        ("GET", &results("blockHash=00&offset=-3"), "", 403, "20006"),
        ("GET", &results("blockHash=00&limit=0"), "", 403, "20007"),
        ("GET", &results("blockHash=00&limit=-5"), "", 403, "20007"),
        ("GET", &results("blockHash=00&limit=120"), "", 403, "20007"),
        ("GET", &results("blockHash=00&limit=ten"), "", 400, "20012"),
        ("GET", &results("blockHash=00"), "", 403, "20003"),
        (
            "GET",
            &results(&format!("blockHash={missing_block}")),
            "",
            403,
            "20001",
        ),
        (
            "GET",
            "/api/blockChain/block?blockHash=zz",
            "",
            403,
            "20003",
        ),
        ("GET", "/api/blockChain/block", "", 403, "20003"),
        (
            "GET",
            &format!("/api/blockChain/block?blockHash={missing_block}"),
            "",
            403,
            "20001",
        ),
        (
            "GET",
            "/api/blockChain/blockByHeight?blockHeight=abc",
            "",
            400,
            "20012",
        ),
        (
            "GET",
            "/api/blockChain/blockByHeight?blockHeight=0",
            "",
            403,
            "20001",
        ),
        (
            "GET",
            "/api/blockChain/blockByHeight?blockHeight=99",
            "",
            403,
            "20001",
        ),
        (
            "GET",
            "/api/blockChain/blockByHeight?blockHeight=1&includeTransactions=maybe",
            "",
            400,
            "20012",
        ),
        ("GET", "/api/net/peers?withMetrics=2", "", 400, "20012"),
        (
            "POST",
            "/api/net/peer",
            r#"{"Address":"no port"}"#,
            400,
            "20002",
        ),
        (
            "POST",
            "/api/net/peer",
            r#"{"Address":"10.0.0.1:99999"}"#,
            400,
            "20002",
        ),
        ("POST", "/api/net/peer", "{}", 400, "20012"),
        ("DELETE", "/api/net/peer", "", 400, "20012"),
        (
            "DELETE",
            "/api/net/peer?address=10.0.0.1%3A0",
            "",
            400,
            "20002",
        ),
        (
            "POST",
            "/api/net/bans",
            r#"{"Host":"example.org"}"#,
            400,
            "20002",
        ),
        (
            "POST",
            "/api/net/bans",
            r#"{"Host":"10.0.0.1","DurationMs":-5}"#,
            400,
            "20012",
        ),
        (
            "POST",
            "/api/net/bans",
            r#"{"Host":"10.0.0.1","DurationMs":"1h"}"#,
            400,
            "20012",
        ),
        (
            "POST",
            "/api/net/bans",
            &format!(r#"{{"Host":"10.0.0.1","Reason":"{}"}}"#, "x".repeat(201)),
            400,
            "20012",
        ),
        ("DELETE", "/api/net/bans?host=", "", 400, "20002"),
        (
            "GET",
            "/api/blockChain/sendTransaction",
            "",
            405,
            "MethodNotAllowed",
        ),
        ("PUT", "/api/net/bans", "", 405, "MethodNotAllowed"),
        ("GET", "/api/nothing", "", 404, "NotFound"),
    ];
    for (method, path, body, status, code) in bad {
        assert_eq!(
            error_of(method, path, body),
            (*status, code.to_string()),
            "{method} {path} {body}"
        );
    }
    let huge = format!(r#"{{"RawTransaction":"{}"}}"#, "00".repeat(MAX_BODY_BYTES));
    assert_eq!(http(addr, "POST", send, &huge).0, 413);
    // Still serving afterwards, and nothing reached the node.
    assert_eq!(http(addr, "GET", "/api/blockChain/chainStatus", "").0, 200);
    assert!(fake.did().is_empty(), "{:?}", fake.did());
    api.stop();
}
