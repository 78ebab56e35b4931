//! The operator surface against running `aelf-netd` processes: the aelf web-API contract (spec
//! 11.20: Basic auth, peers in and out, removal, networkInfo; plus bans, blocks and branches),
//! a transaction sent to A's API reaching B's pool, a client following its transaction (sent
//! again, pending, included in a produced block, batches, the genesis contract address), `/metrics` as Prometheus text whose
//! counters move with traffic, `aelf-netctl` in text and `--json`, and the systemd unit.

use crate::support::daemon::{write_config_with, Node};
use crate::support::free_port;
use crate::support::http::{http, http_with, parse};
use crate::support::wait::wait_until;
use aelf_net::api::{basic_header, NEED_BASIC_AUTH};
use aelf_net::chain::{synthetic_transactions, ChainTip};
use aelf_net::crypto::NodeKey;
use aelf_net::types::Hash;
use protobuf::Message;
use serde_json::Value;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Output};

const USER: &str = "op";
const PASSWORD: &str = "s3cret";
const NETCTL: &str = env!("CARGO_BIN_EXE_aelf-netctl");

/// `[api]` with credentials; reconnection slow enough that only the test reconnects peers.
fn node_config(dir: &Path, port: u16, boot: Option<u16>, auth: bool) -> std::path::PathBuf {
    let boot = boot.map_or(String::new(), |p| {
        format!("boot_nodes = [\"127.0.0.1:{p}\"]\n")
    });
    let api = if auth {
        format!("[api]\nlisten = \"127.0.0.1:0\"\nbasic_auth_user = \"{USER}\"\nbasic_auth_password = \"{PASSWORD}\"\n")
    } else {
        String::new()
    };
    write_config_with(
        dir,
        port,
        &format!("{boot}peer_reconnection_period_ms = 600000"),
        &api,
    )
}

fn get(api: SocketAddr, path: &str) -> Value {
    let (status, body) = http(api, "GET", path, "");
    assert_eq!(status, 200, "GET {path}: {body}");
    parse(&body)
}

fn peers(api: SocketAddr) -> Vec<Value> {
    get(api, "/api/net/peers").as_array().cloned().unwrap()
}

/// An authorized write: (status, JSON body).
fn write(api: SocketAddr, method: &str, path: &str, body: &str) -> (u16, Value) {
    let auth = basic_header(USER, PASSWORD);
    let (status, text) = http_with(api, method, path, body, &[("Authorization", &auth)]);
    (status, parse(&text))
}

/// Prometheus text → sample (name with labels) → value. Fails on any line that is neither a
/// comment nor `name{labels} value`.
fn samples(text: &str) -> HashMap<String, f64> {
    let mut out = HashMap::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(comment) = line.strip_prefix('#') {
            let words: Vec<&str> = comment.split_whitespace().collect();
            assert!(
                matches!(words.first(), Some(&"HELP") | Some(&"TYPE")),
                "bad comment: {line}"
            );
            continue;
        }
        let (name, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("bad sample: {line}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value: {line}"));
        let bare = name.split('{').next().unwrap();
        assert!(
            !bare.is_empty()
                && bare
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad metric name: {line}"
        );
        assert!(
            !name.contains('{') || name.ends_with('}'),
            "bad labels: {line}"
        );
        out.insert(name.to_owned(), value);
    }
    out
}

fn metrics(api: SocketAddr) -> HashMap<String, f64> {
    let (status, text) = http(api, "GET", "/metrics", "");
    assert_eq!(status, 200, "{text}");
    samples(&text)
}

fn sample(m: &HashMap<String, f64>, name: &str) -> f64 {
    m.get(name).copied().unwrap_or(0.0)
}

fn netctl(args: &[&str]) -> Output {
    Command::new(NETCTL)
        .args(args)
        .output()
        .expect("run aelf-netctl")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn operator_api_metrics_and_netctl_against_two_running_nodes() {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (port_a, port_b) = (free_port(), free_port());
    let a = Node::start(node_config(dir_a.path(), port_a, None, true));
    let b = Node::start(node_config(dir_b.path(), port_b, Some(port_a), false));
    wait_until("A and B see each other", || {
        peers(a.api).len() == 1 && peers(b.api).len() == 1
    });

    // 11.20 / 146: the PeerDto on each side.
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let (pa, pb) = (peers(a.api).remove(0), peers(b.api).remove(0));
    assert_eq!(pa["IpAddress"], format!("127.0.0.1:{port_b}"));
    assert_eq!(pb["IpAddress"], format!("127.0.0.1:{port_a}"));
    assert_eq!(
        (pa["Inbound"].as_bool(), pb["Inbound"].as_bool()),
        (Some(true), Some(false))
    );
    for p in [&pa, &pb] {
        assert_eq!(p["ProtocolVersion"], 1);
        let t = p["ConnectionTime"].as_i64().unwrap();
        assert!(
            (now_s - 600..=now_s + 1).contains(&t),
            "ConnectionTime {t} is Unix seconds"
        );
        assert_eq!(p["RequestMetrics"], serde_json::json!([]));
        assert_eq!(p["NodeVersion"], "1.9.0.0");
        assert_eq!(p["Mode"], "stream");
        assert!(p["ConnectionStatus"]
            .as_str()
            .is_some_and(|s| !s.is_empty()));
        assert_eq!(p["Pubkey"].as_str().unwrap().len(), 130);
    }
    assert!(get(a.api, "/api/net/peers?withMetrics=true")[0]["RequestMetrics"].is_array());
    // 148.
    let info = get(a.api, "/api/net/networkInfo");
    assert_eq!(
        (
            info["ProtocolVersion"].as_i64(),
            info["Connections"].as_i64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(info["Version"], "1.9.0.0");

    // Chain routes.
    let status = get(a.api, "/api/blockChain/chainStatus");
    let best = status["BestChainHash"].as_str().unwrap().to_owned();
    assert_eq!(status["Branches"][&best], status["BestChainHeight"]);
    assert_eq!(
        get(a.api, "/api/blockChain/blockHeight"),
        status["BestChainHeight"]
    );
    let genesis = get(
        a.api,
        "/api/blockChain/blockByHeight?blockHeight=1&includeTransactions=true",
    );
    assert_eq!(genesis["BlockHash"], status["GenesisBlockHash"]);
    assert_eq!(genesis["Header"]["ChainId"], "AELF");
    let by_hash = get(
        a.api,
        &format!(
            "/api/blockChain/block?blockHash={}",
            genesis["BlockHash"].as_str().unwrap()
        ),
    );
    assert_eq!(by_hash["Header"]["Height"], 1);

    // Bad input gets aelf's error body with a 4xx from the daemon too.
    let bad_input = [
        (
            "POST",
            "/api/blockChain/sendTransaction",
            r#"{"RawTransaction":"zz"}"#,
            403,
        ),
        (
            "POST",
            "/api/blockChain/sendTransaction",
            r#"{"RawTransaction":"0a"}"#,
            403,
        ),
        ("POST", "/api/blockChain/sendTransaction", "{", 400),
        (
            "GET",
            "/api/blockChain/blockByHeight?blockHeight=999999",
            "",
            403,
        ),
        ("GET", "/api/blockChain/block?blockHash=xyz", "", 403),
        ("PUT", "/api/net/peers", "", 405),
    ];
    for (method, path, body, expected) in bad_input {
        let (code, text) = http(a.api, method, path, body);
        assert_eq!(code, expected, "{method} {path}: {text}");
        assert!(parse(&text)["Error"]["Message"].is_string(), "{text}");
    }

    // A transaction sent to A's API reaches B's pool, and the counters show it.
    let before_a = metrics(a.api);
    let before_b = metrics(b.api);
    let tip = ChainTip {
        hash: Hash::from_hex(&best).unwrap(),
        height: status["BestChainHeight"].as_i64().unwrap(),
    };
    let tx = synthetic_transactions(&NodeKey::generate(), &tip, 1, 1).remove(0);
    let raw = hex::encode(tx.write_to_bytes().unwrap());
    let (code, body) = http(
        a.api,
        "POST",
        "/api/blockChain/sendTransaction",
        &format!(r#"{{"RawTransaction":"{raw}"}}"#),
    );
    assert_eq!(code, 200, "{body}");
    wait_until("the transaction in B's pool", || {
        get(b.api, "/api/blockChain/transactionPoolStatus")["Queued"].as_i64() == Some(1)
    });
    let sent = "aelf_net_messages_sent_total{kind=\"transaction\"}";
    let received = "aelf_net_messages_received_total{kind=\"transaction\"}";
    // A's sender counts a send once the transport took it, which in stream mode is after B's
    // reply: poll rather than assume it already moved.
    wait_until("A's sent counter moves", || {
        sample(&metrics(a.api), sent) >= sample(&before_a, sent) + 1.0
    });
    wait_until("B's received counter moves", || {
        sample(&metrics(b.api), received) >= sample(&before_b, received) + 1.0
    });
    let after_a = metrics(a.api);
    let after_b = metrics(b.api);
    assert!(sample(&after_a, "aelf_net_sent_bytes_total{kind=\"transaction\"}") > 0.0);
    assert_eq!(
        sample(
            &after_a,
            "aelf_net_peers{direction=\"inbound\",mode=\"stream\"}"
        ),
        1.0
    );
    assert_eq!(
        sample(
            &after_b,
            "aelf_net_peers{direction=\"outbound\",mode=\"stream\"}"
        ),
        1.0
    );
    assert!(
        sample(
            &after_a,
            "aelf_net_handshakes_total{direction=\"inbound\",result=\"HANDSHAKE_OK\"}"
        ) >= 1.0
    );
    assert!(
        sample(
            &after_b,
            "aelf_net_handshakes_total{direction=\"outbound\",result=\"HANDSHAKE_OK\"}"
        ) >= 1.0
    );
    assert_eq!(sample(&after_b, "aelf_net_transaction_pool_size"), 1.0);
    assert!(sample(&after_a, "process_threads") >= 4.0);
    assert!(sample(&after_a, "process_resident_memory_bytes") > 1e6);
    assert!(
        after_a
            .keys()
            .all(|k| !k.contains(&pa["Pubkey"].as_str().unwrap()[..20])),
        "no per-peer labels"
    );

    // 144/145: auth on the writes.
    let (code, body) = http(
        a.api,
        "POST",
        "/api/net/peer",
        r#"{"Address":"127.0.0.1:1"}"#,
    );
    assert_eq!(code, 401, "{body}");
    let wrong = basic_header(USER, "wrong");
    assert_eq!(
        http_with(
            a.api,
            "DELETE",
            &format!("/api/net/peer?address=127.0.0.1:{port_b}"),
            "",
            &[("Authorization", &wrong)]
        )
        .0,
        401
    );
    let (code, body) = http_with(
        b.api,
        "DELETE",
        "/api/net/peer?address=127.0.0.1:3000",
        "",
        &[("Authorization", &basic_header(USER, PASSWORD))],
    );
    assert_eq!(
        (code, parse(&body)["Error"]["Message"].as_str()),
        (401, Some(NEED_BASIC_AUTH)),
        "B has no credentials"
    );
    assert_eq!(peers(a.api).len(), 1, "refused writes changed nothing");
    let unreachable = free_port();
    assert_eq!(
        write(
            a.api,
            "POST",
            "/api/net/peer",
            &format!(r#"{{"Address":"127.0.0.1:{unreachable}"}}"#)
        ),
        (200, Value::Bool(false))
    );

    // 147: removing B bans its host until unbanned.
    assert_eq!(
        write(
            a.api,
            "DELETE",
            &format!("/api/net/peer?address=127.0.0.1:{port_b}"),
            ""
        ),
        (200, Value::Bool(true))
    );
    wait_until("A without peers", || peers(a.api).is_empty());
    let bans = get(a.api, "/api/net/bans");
    assert_eq!(bans[0]["Host"], "127.0.0.1");
    assert_eq!(bans[0]["Reason"], "removed by an operator");
    assert_eq!(
        write(a.api, "DELETE", "/api/net/peer?address=127.0.0.1:3000", ""),
        (200, Value::Bool(false))
    );

    // aelf-netctl against A: its address from --api, credentials from A's config file.
    let api_url = format!("http://{}", a.api);
    let config_a = dir_a.path().join("aelf-netd.toml");
    let ctl = |args: &[&str]| {
        let mut all = vec![
            "--api",
            api_url.as_str(),
            "--config",
            config_a.to_str().unwrap(),
        ];
        all.extend_from_slice(args);
        netctl(&all)
    };
    // Succeeds; its stdout.
    let ok = |args: &[&str]| {
        let out = ctl(args);
        assert!(
            out.status.success(),
            "{args:?}: {}{}",
            stdout(&out),
            stderr(&out)
        );
        stdout(&out)
    };
    let text = ok(&["bans"]);
    assert!(
        text.contains("HOST") && text.contains("removed by an operator"),
        "{text}"
    );
    let out = ctl(&["--user", USER, "--password", "wrong", "unban", "127.0.0.1"]);
    assert_eq!(out.status.code(), Some(1));
    let complaint = stderr(&out);
    assert!(
        complaint.contains("authentication failed: Invalid Username or Password"),
        "{complaint}"
    );
    assert_eq!(ok(&["unban", "127.0.0.1"]).trim(), "unbanned 127.0.0.1");
    ok(&["add-peer", &format!("127.0.0.1:{port_b}")]);
    assert_eq!(peers(a.api).len(), 1);
    let text = ok(&["status"]);
    assert!(
        text.contains("chain:           AELF") && text.contains("connections:     1"),
        "{text}"
    );
    let text = ok(&["peers"]);
    assert!(
        text.contains(&format!("127.0.0.1:{port_b}")) && text.contains("1 peer(s)"),
        "{text}"
    );
    let listed: Value =
        serde_json::from_str(&ok(&["--json", "peers"])).expect("--json prints JSON");
    assert_eq!(listed[0]["IpAddress"], format!("127.0.0.1:{port_b}"));
    let genesis_hash = status["GenesisBlockHash"].as_str().unwrap();
    let text = ok(&["block", "1"]);
    assert!(
        text.contains(&format!("hash:         {genesis_hash}")),
        "{text}"
    );
    let block: Value = serde_json::from_str(&ok(&["--json", "block", genesis_hash])).unwrap();
    assert_eq!(block["Header"]["Height"], 1);
    let tx2 = synthetic_transactions(&NodeKey::generate(), &tip, 1, 2).remove(0);
    let text = ok(&["send-tx", &hex::encode(tx2.write_to_bytes().unwrap())]);
    assert!(text.starts_with("transaction id: "), "{text}");

    // An operator ban through the CLI disconnects B, and is listed with its reason.
    let args = [
        "--json",
        "ban",
        "127.0.0.1",
        "--duration",
        "10m",
        "--reason",
        "maintenance",
    ];
    let banned: Value = serde_json::from_str(&ok(&args)).unwrap();
    assert_eq!(banned["Disconnected"], 1);
    wait_until("B banned away", || peers(a.api).is_empty());
    assert_eq!(get(a.api, "/api/net/bans")[0]["Reason"], "maintenance");
    assert!(sample(&metrics(a.api), "aelf_net_bans_total") >= 2.0);
    assert_eq!(
        write(a.api, "DELETE", "/api/net/bans?host=127.0.0.1", ""),
        (200, Value::Bool(true))
    );

    a.stop();
    b.stop();
}

/// What an aelf client does with its transaction, against two running nodes: A produces
/// nothing (what it is sent stays pending), P produces a block every 100 ms and is told its
/// genesis contract address (issue 16, items 6, 7, 9, 10).
#[test]
fn a_client_follows_its_transaction_on_running_nodes() {
    let (dir_a, dir_p) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Node::start(node_config(dir_a.path(), free_port(), None, false));
    let zero = NodeKey::generate().address().to_base58();
    let p = Node::start(write_config_with(
        dir_p.path(),
        free_port(),
        "",
        &format!(
            "[chain]\nmining_interval_ms = 800\ngenesis_contract_address = \"{zero}\"\n\n\
             [producer]\nenabled = true\n"
        ),
    ));
    let send = |node: &Node, tx: &aelf_net::pb::aelf_core::Transaction| {
        node.send_transaction(&hex::encode(tx.write_to_bytes().unwrap()))
    };
    let result = |node: &Node, id: &str| {
        get(
            node.api,
            &format!("/api/blockChain/transactionResult?transactionId={id}"),
        )
    };
    let tip_of = |node: &Node| {
        let status = get(node.api, "/api/blockChain/chainStatus");
        ChainTip {
            hash: Hash::from_hex(status["BestChainHash"].as_str().unwrap()).unwrap(),
            height: status["BestChainHeight"].as_i64().unwrap(),
        }
    };

    // 10: the genesis contract address where configured, null where not.
    assert_eq!(
        get(p.api, "/api/blockChain/chainStatus")["GenesisContractAddress"],
        zero.as_str()
    );
    assert_eq!(
        get(a.api, "/api/blockChain/chainStatus")["GenesisContractAddress"],
        Value::Null
    );

    // 6: a block without its transaction ids has an empty list, not null.
    let genesis = get(a.api, "/api/blockChain/blockByHeight?blockHeight=1");
    assert_eq!(genesis["Body"]["Transactions"], serde_json::json!([]));
    let by_hash = get(
        a.api,
        &format!(
            "/api/blockChain/block?blockHash={}&includeTransactions=false",
            genesis["BlockHash"].as_str().unwrap()
        ),
    );
    assert_eq!(by_hash["Body"]["Transactions"], serde_json::json!([]));

    // 7: sent again (a client retrying after a timeout), the same id, not an error.
    let key = NodeKey::generate();
    let tx = synthetic_transactions(&key, &tip_of(&a), 1, 1).remove(0);
    let (code, body) = send(&a, &tx);
    assert_eq!(code, 200, "{body}");
    let id = parse(&body)["TransactionId"].as_str().unwrap().to_owned();
    let (code, again) = send(&a, &tx);
    assert_eq!((code, parse(&again)), (200, parse(&body)), "{again}");
    assert_eq!(
        get(a.api, "/api/blockChain/transactionPoolStatus")["Queued"],
        1,
        "once in the pool"
    );

    // 9: pending in A's pool (A produces nothing), unknown elsewhere.
    let pending = result(&a, &id);
    assert_eq!(pending["TransactionId"], id.as_str());
    assert_eq!(pending["Status"], "PENDING");
    assert_eq!(result(&a, &"ab".repeat(32))["Status"], "NOTEXISTED");

    // 8: a bad signature gets the C# code 20013 with a 403.
    let mut forged = synthetic_transactions(&key, &tip_of(&a), 1, 2).remove(0);
    forged.signature = NodeKey::generate()
        .sign(&aelf_net::types::transaction_id(&forged).unwrap())
        .to_vec();
    let (code, text) = send(&a, &forged);
    assert_eq!(code, 403, "{text}");
    assert_eq!(parse(&text)["Error"]["Code"], "20013");

    // 9, the batch: ids in order; a batch with one badly signed transaction sends none.
    let two = synthetic_transactions(&key, &tip_of(&a), 2, 3);
    let hex_of =
        |t: &aelf_net::pb::aelf_core::Transaction| hex::encode(t.write_to_bytes().unwrap());
    let (code, text) = http(
        a.api,
        "POST",
        "/api/blockChain/sendTransactions",
        &format!(
            r#"{{"RawTransactions":"{},{}"}}"#,
            hex_of(&two[0]),
            hex_of(&forged)
        ),
    );
    assert_eq!(
        (code, parse(&text)["Error"]["Code"].clone()),
        (403, Value::from("20013")),
        "{text}"
    );
    assert_eq!(
        get(a.api, "/api/blockChain/transactionPoolStatus")["Queued"],
        1
    );
    let (code, text) = http(
        a.api,
        "POST",
        "/api/blockChain/sendTransactions",
        &format!(
            r#"{{"RawTransactions":"{},{}"}}"#,
            hex_of(&two[0]),
            hex_of(&two[1])
        ),
    );
    assert_eq!(code, 200, "{text}");
    let ids: Vec<String> = serde_json::from_str(&text).unwrap();
    let expected: Vec<String> = two
        .iter()
        .map(|t| aelf_net::types::transaction_id(t).unwrap().to_hex())
        .collect();
    assert_eq!(ids, expected);
    assert_eq!(
        get(a.api, "/api/blockChain/transactionPoolStatus")["Queued"],
        3
    );

    // 9: at P, the client's polling loop ends: PENDING, then INCLUDED with the block that
    // holds it, never MINED (P did not execute it).
    let tx = synthetic_transactions(&key, &tip_of(&p), 1, 5).remove(0);
    let (code, body) = send(&p, &tx);
    assert_eq!(code, 200, "{body}");
    let id = parse(&body)["TransactionId"].as_str().unwrap().to_owned();
    let mut last = Value::Null;
    wait_until("P includes the transaction", || {
        last = result(&p, &id);
        last["Status"] == "INCLUDED"
    });
    let height = last["BlockNumber"].as_i64().unwrap();
    let block = get(
        p.api,
        &format!("/api/blockChain/blockByHeight?blockHeight={height}&includeTransactions=true"),
    );
    assert_eq!(last["BlockHash"], block["BlockHash"]);
    assert!(block["Body"]["Transactions"]
        .as_array()
        .unwrap()
        .contains(&Value::from(id.as_str())));
    assert_eq!(last["Transaction"]["MethodName"], tx.method_name.as_str());
    assert!(last["Error"].as_str().unwrap().contains("does not execute"));
    let in_block = get(
        p.api,
        &format!(
            "/api/blockChain/transactionResults?blockHash={}&offset=0&limit=100",
            block["BlockHash"].as_str().unwrap()
        ),
    );
    let in_block = in_block.as_array().unwrap();
    assert_eq!(
        in_block.len() as i64,
        block["Body"]["TransactionsCount"].as_i64().unwrap()
    );
    assert!(in_block
        .iter()
        .any(|r| r["TransactionId"] == id.as_str() && r["Status"] == "INCLUDED"));
    // Sent again after its inclusion: still its id (the pool remembers it), not an error.
    let (code, again) = send(&p, &tx);
    assert_eq!(
        (code, parse(&again)["TransactionId"].clone()),
        (200, Value::from(id.as_str()))
    );
    a.stop();
    p.stop();
}

#[test]
fn netctl_says_clearly_when_the_node_is_not_running() {
    let closed = free_port();
    let out = netctl(&["--api", &format!("http://127.0.0.1:{closed}"), "status"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("cannot reach the node API at http://127.0.0.1:"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("is aelf-netd running?"));
    let out = netctl(&["ban", "10.0.0.1", "--duration", "soon"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("\"soon\" is not a duration"),
        "{}",
        stderr(&out)
    );
    assert_eq!(netctl(&["no-such-command"]).status.code(), Some(2));
}

/// The unit `make install` writes (same substitutions), checked by `systemd-analyze verify`
/// where systemd's tools are installed; without them only the substitutions and the hardening
/// keys are checked.
#[test]
fn the_service_unit_is_hardened_and_verifies() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let template = std::fs::read_to_string(root.join("conf/aelf-netd.service")).unwrap();
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_aelf-netd")).parent().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let unit = template
        .replace("@BINDIR@", bin_dir.to_str().unwrap())
        .replace("@SYSCONFDIR@", dir.path().to_str().unwrap())
        .replace("@STATEDIR@", dir.path().to_str().unwrap())
        .replace("@USER@", "root");
    for placeholder in ["@BINDIR@", "@SYSCONFDIR@", "@STATEDIR@", "@USER@"] {
        assert!(!unit.contains(placeholder), "{placeholder} left:\n{unit}");
    }
    for key in [
        "ExecReload=/bin/kill -HUP $MAINPID",
        "Restart=on-failure",
        "NoNewPrivileges=true",
        "ProtectSystem=strict",
        "ProtectHome=true",
        "PrivateTmp=true",
        "PrivateDevices=true",
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
        "CapabilityBoundingSet=",
    ] {
        assert!(unit.lines().any(|l| l.trim() == key), "{key} missing");
    }
    std::fs::copy(
        root.join("conf/aelf-netd.toml"),
        dir.path().join("aelf-netd.toml"),
    )
    .unwrap();
    let path = dir.path().join("aelf-netd.service");
    std::fs::write(&path, unit).unwrap();
    let Ok(out) = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
    else {
        eprintln!("systemd-analyze is not installed: unit checked by content only");
        return;
    };
    assert!(
        out.status.success(),
        "systemd-analyze verify: {}{}",
        stdout(&out),
        stderr(&out)
    );
    let complaints = stderr(&out);
    assert!(
        !complaints.contains("aelf-netd.service:"),
        "systemd-analyze complains about the unit: {complaints}"
    );
}

/// `make install` into a DESTDIR (debug binaries, so no release build): binaries, the unit with
/// every placeholder filled, a config readable by owner and group only and kept on a second
/// install; `make uninstall` keeps the config.
#[test]
fn make_install_and_uninstall_into_a_destdir() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_aelf-netd")).parent().unwrap();
    let dest = tempfile::tempdir().unwrap();
    let make = |target: &str| {
        let out = Command::new("make")
            .current_dir(root)
            .args(["-s", "-o", "release", target])
            .arg(format!("DESTDIR={}", dest.path().display()))
            .arg(format!("BUILD_DIR={}", bin_dir.display()))
            .output()
            .expect("run make");
        assert!(
            out.status.success(),
            "make {target}: {}{}",
            stdout(&out),
            stderr(&out)
        );
        stdout(&out)
    };
    make("install");
    let at = |p: &str| dest.path().join(p.trim_start_matches('/'));
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &str| std::fs::metadata(at(p)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode("/usr/local/bin/aelf-netd"), 0o755);
    assert_eq!(mode("/usr/local/bin/aelf-netctl"), 0o755);
    assert_eq!(mode("/etc/aelf-net/aelf-netd.toml"), 0o640);
    let unit = std::fs::read_to_string(at("/etc/systemd/system/aelf-netd.service")).unwrap();
    assert!(unit.contains("ExecStart=/usr/local/bin/aelf-netd --config /etc/aelf-net/aelf-netd.toml --data-dir /var/lib/aelf-net"));
    assert!(unit.contains("User=aelf-net") && unit.contains("ReadWritePaths=/var/lib/aelf-net"));

    std::fs::write(
        at("/etc/aelf-net/aelf-netd.toml"),
        "# edited by the operator\n",
    )
    .unwrap();
    assert!(make("install").contains("keeping existing"));
    let kept = std::fs::read_to_string(at("/etc/aelf-net/aelf-netd.toml")).unwrap();
    assert_eq!(kept, "# edited by the operator\n");

    make("uninstall");
    assert!(!at("/usr/local/bin/aelf-netd").exists());
    assert!(!at("/etc/systemd/system/aelf-netd.service").exists());
    assert!(at("/etc/aelf-net/aelf-netd.toml").exists());
}
