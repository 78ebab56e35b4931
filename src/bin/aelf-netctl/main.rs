//! `aelf-netctl`: the operator's command-line tool. Node commands talk to a running node's
//! HTTP API (`[api] listen`); `keygen` and `pubkey` work on key files; `crawl` walks a network
//! through the peer service (the crawler is `aelf_net::crawl`; this file only prints it);
//! `inspect` reads a block or transaction offline (`aelf_net::inspect`; this file only reads the
//! input and prints the report).
//!
//! Human-readable output by default, `--json` for scripts (the API's JSON, unchanged). Exit
//! status 0 on success, 1 when the node refuses or cannot be reached, 2 on a usage error.

mod crawl;

use aelf_net::api::client::{ApiClient, ClientError};
use aelf_net::config::Config;
use aelf_net::crypto::{load_key_file, write_new_key_file, NodeKey};
use aelf_net::inspect::{inspect, InputKind, InspectOptions};
use aelf_net::types::iso8601;
use base64::Engine as _;
use clap::{Parser, Subcommand};
use crawl::{run_crawl, CrawlArgs};
use serde_json::{json, Value};
use std::io::Read as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(name = "aelf-netctl", version, about = "aelf-net operator tool")]
struct Args {
    /// Base URL of the node's API. Default: from --config, else http://127.0.0.1:8000.
    #[arg(long, global = true, env = "AELF_NETCTL_API")]
    api: Option<String>,
    /// Node config file to take the API address and credentials from.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Basic-auth user for write commands (default: the config's `api.basic_auth_user`).
    #[arg(long, global = true, env = "AELF_NETCTL_USER")]
    user: Option<String>,
    /// Basic-auth password for write commands (default: the config's).
    #[arg(
        long,
        global = true,
        env = "AELF_NETCTL_PASSWORD",
        hide_env_values = true
    )]
    password: Option<String>,
    /// Print the API's JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// Seconds to wait for the node (adding a peer waits for its dial).
    #[arg(long, global = true, default_value_t = 30)]
    timeout: u64,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Chain and network summary.
    Status,
    /// Connected peers.
    Peers {
        /// Include each peer's recent request round trips.
        #[arg(long)]
        metrics: bool,
    },
    /// Dial a peer (and lift a ban on its host).
    AddPeer {
        /// host:port
        address: String,
    },
    /// Disconnect a peer and ban its host until unbanned.
    RemovePeer {
        /// host:port
        address: String,
    },
    /// Ban a host and disconnect its peers.
    Ban {
        /// IP address.
        host: String,
        /// How long: milliseconds, or a number with s, m, h or d. Default: the node's
        /// `[reputation] ban_duration_ms`.
        #[arg(long)]
        duration: Option<String>,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Lift a ban.
    Unban { host: String },
    /// Banned hosts.
    Bans,
    /// Send a transaction (hex of the encoded aelf.Transaction) into the pool.
    SendTx { raw_transaction: String },
    /// A block by height or hash.
    Block {
        /// Height (a number) or hash (64 hex digits).
        block: String,
        /// List the transaction ids.
        #[arg(long)]
        transactions: bool,
    },
    /// Generate a node key. With --out, write it as a key file (mode 0600, never overwriting);
    /// without, print the private key.
    Keygen {
        /// Key file to create, e.g. data/node.key.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Print the public key (the node's network identity) and address of a key file.
    Pubkey {
        /// Key file to read.
        #[arg(long, default_value = "data/node.key")]
        key_file: PathBuf,
    },
    /// Walk an aelf network from seed endpoints as a short-lived peer with a throw-away key:
    /// every node's key, version, chain, best and LIB heights, and neighbours. Nodes older
    /// than 1.4.0.0 dial the crawler back (legacy handshakes): --listen must be reachable
    /// from those.
    Crawl(CrawlArgs),
    /// Read a block or transaction and print what aelf computes: hash or id, size, signer and
    /// address, signature and merkle checks, the decoded consensus data. Offline: no node needed.
    Inspect {
        /// Protobuf hex, or the aelf web API's JSON (a block, transaction or transaction result);
        /// a file name, or `-` for stdin.
        input: String,
        /// What protobuf hex holds: auto, block, block-with-transactions, header, transaction.
        #[arg(long = "type", default_value = "auto")]
        kind: String,
        /// The encoded Params (hex or base64) of a transaction whose JSON shows them decoded.
        #[arg(long)]
        params: Option<String>,
    },
}

/// Why a command failed; printed as `aelf-netctl: <reason>`.
type Failure = String;

/// The node's API as this tool reaches it.
struct Api(ApiClient);

impl Api {
    fn from_args(args: &Args) -> Result<Api, Failure> {
        let config = match &args.config {
            Some(path) => Some(Config::load(path).map_err(|e| e.to_string())?),
            None => None,
        };
        let base = match (&args.api, &config) {
            (Some(api), _) => api.trim_end_matches('/').to_owned(),
            (None, Some(c)) => format!("http://{}", c.api.listen),
            (None, None) => "http://127.0.0.1:8000".to_owned(),
        };
        let from_config = |pick: fn(&Config) -> Option<String>| config.as_ref().and_then(pick);
        let user = args
            .user
            .clone()
            .or_else(|| from_config(|c| c.api.basic_auth_user.clone()));
        let password = args
            .password
            .clone()
            .or_else(|| from_config(|c| c.api.basic_auth_password.clone()));
        let client = ApiClient::new(&base).with_timeout(Duration::from_secs(args.timeout.max(1)));
        Ok(Api(match (&user, &password) {
            (Some(u), Some(p)) => client.with_basic_auth(u, p),
            _ => client,
        }))
    }

    /// One call; the JSON answer of a 2xx, else the API's error message.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, Failure> {
        let answer = match method {
            "GET" => self.0.get(path),
            "DELETE" => self.0.delete(path),
            _ => self.0.post(path, &body.unwrap_or(Value::Null)),
        };
        answer.map_err(|e| match e {
            ClientError::Unreachable { base, reason } => format!(
                "cannot reach the node API at {base} (is aelf-netd running? see --api): {reason}"
            ),
            ClientError::Unauthorized { message } => format!(
                "authentication failed: {message} (give --user and --password, or --config with the node's file)"
            ),
            other => other.to_string(),
        })
    }
}

/// `300000`, `90s`, `30m`, `12h`, `7d` → milliseconds.
fn duration_ms(text: &str) -> Result<i64, Failure> {
    let text = text.trim();
    let (number, unit_ms) = match text.char_indices().last() {
        Some((i, 's')) => (&text[..i], 1_000),
        Some((i, 'm')) => (&text[..i], 60_000),
        Some((i, 'h')) => (&text[..i], 3_600_000),
        Some((i, 'd')) => (&text[..i], 86_400_000),
        _ => (text, 1),
    };
    number
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .and_then(|n| n.checked_mul(unit_ms))
        .ok_or_else(|| format!("{text:?} is not a duration (e.g. 300000, 90s, 30m, 12h, 7d)"))
}

/// Unix ms as an ISO 8601 UTC time.
fn when(ms: i64) -> String {
    iso8601(ms.div_euclid(1000), 0)
}

/// Prints rows under a header, columns padded to their widest cell.
fn table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(header.iter().map(|h| h.to_string()).collect());
    for row in rows {
        line(row.clone());
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

fn short(pubkey: &Value) -> String {
    let key = text(pubkey);
    if key.len() > 16 {
        format!("{}…", &key[..16])
    } else {
        key
    }
}

/// Runs a node command; prints its result.
fn run(args: &Args) -> Result<(), Failure> {
    let api = Api::from_args(args)?;
    let print_json =
        |v: &Value| println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
    match &args.command {
        Command::Status => {
            let chain = api.call("GET", "/api/blockChain/chainStatus", None)?;
            let net = api.call("GET", "/api/net/networkInfo", None)?;
            if args.json {
                print_json(&json!({ "ChainStatus": chain, "NetworkInfo": net }));
            } else {
                println!("chain:           {}", text(&chain["ChainId"]));
                println!(
                    "best chain:      {} {}",
                    text(&chain["BestChainHeight"]),
                    text(&chain["BestChainHash"])
                );
                println!(
                    "irreversible:    {} {}",
                    text(&chain["LastIrreversibleBlockHeight"]),
                    text(&chain["LastIrreversibleBlockHash"])
                );
                println!("genesis:         {}", text(&chain["GenesisBlockHash"]));
                println!(
                    "branches:        {}",
                    chain["Branches"].as_object().map_or(0, |b| b.len())
                );
                println!("node version:    {}", text(&net["Version"]));
                println!("protocol:        {}", text(&net["ProtocolVersion"]));
                println!("connections:     {}", text(&net["Connections"]));
            }
        }
        Command::Peers { metrics } => {
            let path = format!("/api/net/peers?withMetrics={metrics}");
            let peers = api.call("GET", &path, None)?;
            if args.json {
                print_json(&peers);
                return Ok(());
            }
            let list = peers.as_array().cloned().unwrap_or_default();
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|p| {
                    vec![
                        text(&p["IpAddress"]),
                        if p["Inbound"] == Value::Bool(true) {
                            "in"
                        } else {
                            "out"
                        }
                        .into(),
                        text(&p["Mode"]),
                        text(&p["ConnectionStatus"]),
                        text(&p["NodeVersion"]),
                        text(&p["CurrentBlockHeight"]),
                        text(&p["LastKnownLibHeight"]),
                        format!(
                            "{}/{}/{}",
                            text(&p["BufferedBlocksCount"]),
                            text(&p["BufferedTransactionsCount"]),
                            text(&p["BufferedAnnouncementsCount"])
                        ),
                        short(&p["Pubkey"]),
                    ]
                })
                .collect();
            table(
                &[
                    "ADDRESS",
                    "DIR",
                    "MODE",
                    "STATUS",
                    "VERSION",
                    "HEIGHT",
                    "LIB",
                    "QUEUED B/T/A",
                    "PUBKEY",
                ],
                &rows,
            );
            if *metrics {
                for p in &list {
                    for m in p["RequestMetrics"].as_array().into_iter().flatten() {
                        println!(
                            "{}  {} {} ms  {}",
                            text(&p["IpAddress"]),
                            text(&m["MethodName"]),
                            text(&m["RoundTripTime"]),
                            text(&m["Info"])
                        );
                    }
                }
            }
            println!("{} peer(s)", list.len());
        }
        Command::AddPeer { address } => {
            let added = api.call("POST", "/api/net/peer", Some(json!({ "Address": address })))?;
            if args.json {
                print_json(&added);
            } else if added == Value::Bool(true) {
                println!("connected to {address}");
            } else {
                return Err(format!(
                    "{address} did not join (unreachable, refused, or already connected)"
                ));
            }
        }
        Command::RemovePeer { address } => {
            let path = format!("/api/net/peer?address={}", encode(address));
            let removed = api.call("DELETE", &path, None)?;
            if args.json {
                print_json(&removed);
            } else if removed == Value::Bool(true) {
                println!("removed {address}; its host stays banned until `aelf-netctl unban`");
            } else {
                println!("no peer at {address} (any pending reconnection was cancelled)");
            }
        }
        Command::Ban {
            host,
            duration,
            reason,
        } => {
            let mut body = json!({ "Host": host });
            if let Some(d) = duration {
                body["DurationMs"] = json!(duration_ms(d)?);
            }
            if let Some(r) = reason {
                body["Reason"] = json!(r);
            }
            let out = api.call("POST", "/api/net/bans", Some(body))?;
            if args.json {
                print_json(&out);
            } else {
                println!(
                    "banned {} until {}; {} peer(s) disconnected",
                    text(&out["Host"]),
                    out["ExpiryTimeMs"].as_i64().map_or("-".into(), when),
                    text(&out["Disconnected"])
                );
            }
        }
        Command::Unban { host } => {
            let path = format!("/api/net/bans?host={}", encode(host));
            let lifted = api.call("DELETE", &path, None)?;
            if args.json {
                print_json(&lifted);
            } else if lifted == Value::Bool(true) {
                println!("unbanned {host}");
            } else {
                println!("{host} was not banned");
            }
        }
        Command::Bans => {
            let bans = api.call("GET", "/api/net/bans", None)?;
            if args.json {
                print_json(&bans);
                return Ok(());
            }
            let rows: Vec<Vec<String>> = bans
                .as_array()
                .into_iter()
                .flatten()
                .map(|b| {
                    vec![
                        text(&b["Host"]),
                        b["ExpiryTimeMs"].as_i64().map_or("-".into(), when),
                        text(&b["Reason"]),
                    ]
                })
                .collect();
            table(&["HOST", "UNTIL", "REASON"], &rows);
        }
        Command::SendTx { raw_transaction } => {
            let out = api.call(
                "POST",
                "/api/blockChain/sendTransaction",
                Some(json!({ "RawTransaction": raw_transaction })),
            )?;
            if args.json {
                print_json(&out);
            } else {
                println!("transaction id: {}", text(&out["TransactionId"]));
            }
        }
        Command::Block {
            block,
            transactions,
        } => {
            let path = if block.trim().chars().all(|c| c.is_ascii_digit()) {
                format!(
                    "/api/blockChain/blockByHeight?blockHeight={}&includeTransactions={transactions}",
                    block.trim()
                )
            } else {
                format!(
                    "/api/blockChain/block?blockHash={}&includeTransactions={transactions}",
                    encode(block.trim())
                )
            };
            let b = api.call("GET", &path, None)?;
            if args.json {
                print_json(&b);
                return Ok(());
            }
            let h = &b["Header"];
            println!("hash:         {}", text(&b["BlockHash"]));
            println!("height:       {}", text(&h["Height"]));
            println!("previous:     {}", text(&h["PreviousBlockHash"]));
            println!("time:         {}", text(&h["Time"]));
            println!("chain:        {}", text(&h["ChainId"]));
            println!("signer:       {}", text(&h["SignerPubkey"]));
            println!("size:         {} bytes", text(&b["BlockSize"]));
            println!("transactions: {}", text(&b["Body"]["TransactionsCount"]));
            for id in b["Body"]["Transactions"].as_array().into_iter().flatten() {
                println!("  {}", text(id));
            }
        }
        Command::Keygen { .. }
        | Command::Pubkey { .. }
        | Command::Crawl(_)
        | Command::Inspect { .. } => {
            unreachable!("handled in main")
        }
    }
    Ok(())
}

/// Percent-encodes a query value.
fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// `inspect`: the input from the argument, a file or stdin; the report as text or JSON.
fn run_inspect(input: &str, kind: &str, params: Option<&str>, json: bool) -> Result<(), Failure> {
    let kind = match kind {
        "auto" => InputKind::Auto,
        "block" => InputKind::Block,
        "block-with-transactions" => InputKind::BlockWithTransactions,
        "header" => InputKind::Header,
        "transaction" => InputKind::Transaction,
        other => {
            return Err(format!(
                "--type {other:?}: expected auto, block, block-with-transactions, header or \
                 transaction"
            ))
        }
    };
    let params = params
        .map(|p| {
            hex::decode(p.trim())
                .or_else(|_| base64::engine::general_purpose::STANDARD.decode(p.trim()))
                .map_err(|_| format!("--params {p:?} is neither hex nor base64"))
        })
        .transpose()?;
    let text = if input == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("reading stdin: {e}"))?;
        text
    } else if std::path::Path::new(input).is_file() {
        std::fs::read_to_string(input).map_err(|e| format!("reading {input}: {e}"))?
    } else {
        input.to_owned()
    };
    let report = inspect(&text, &InspectOptions { kind, params }).map_err(|e| e.to_string())?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?
        );
    } else {
        print!("{report}");
    }
    Ok(())
}

fn print_identity(key: &NodeKey) {
    println!("pubkey: {}", key.pubkey_hex());
    println!("address: {}", key.address());
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = match &args.command {
        Command::Keygen { out: Some(path) } => write_new_key_file(path)
            .map(|key| {
                println!("key file: {}", path.display());
                print_identity(&key);
            })
            .map_err(|e| e.to_string()),
        Command::Keygen { out: None } => {
            let key = NodeKey::generate();
            println!("private key: {}", key.secret_hex());
            print_identity(&key);
            Ok(())
        }
        Command::Pubkey { key_file } => load_key_file(key_file)
            .map(|key| print_identity(&key))
            .map_err(|e| e.to_string()),
        Command::Crawl(crawl) => run_crawl(crawl, args.json),
        Command::Inspect {
            input,
            kind,
            params,
        } => run_inspect(input, kind, params.as_deref(), args.json),
        _ => run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("aelf-netctl: {e}");
            ExitCode::FAILURE
        }
    }
}
