//! `aelf-netctl inspect`: what aelf computes for a block or a transaction handed in by an
//! operator, as protobuf hex or as the JSON the aelf web API returns (`getBlockByHeight`'s
//! `BlockDto`, a `TransactionDto`, a `TransactionResultDto`): block hash and size, transaction
//! ids, signer and address, signature and merkle checks, and the decoded AEDPoS consensus data.
//!
//! Owns the inverse of the web API's rendering ([`dto`]), the decoding of protobuf input
//! (`bytes`), the consensus decoding ([`consensus`]) and the reports built from them; hashes and signatures come from [`crate::types`] and [`crate::crypto`]. Pure
//! functions over the given text: it must not touch the network, the disk or a node.

mod bytes;
pub mod consensus;
pub mod dto;
mod text;

pub use bytes::inspect_bytes;

use crate::crypto::{recover_pubkey, verify};
use crate::pb::aelf_block::{Block, BlockBody, BlockHeader};
use crate::pb::aelf_core::Transaction;
use crate::pb::network_types::BlockWithTransactions;
use crate::types::{
    block_hash, chain_id_to_name, iso8601, merkle_root, transaction_id, Address, Hash,
};
use consensus::{consensus_of_header, ConsensusReport};
use dto::ParamsText;
use protobuf::Message;
use serde::Serialize;
use serde_json::Value;
use thiserror::Error;

/// Why an input cannot be inspected at all (a partial result is a report with its reasons).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum InspectError {
    #[error("empty input")]
    Empty,
    #[error("input is neither JSON nor hex: {0}")]
    NotHexOrJson(String),
    #[error("{0}")]
    Shape(String),
    #[error("{field}: {reason}")]
    Field { field: String, reason: String },
    #[error("does not decode as {kind}: {reason}")]
    Decode { kind: &'static str, reason: String },
}

/// What the input is; `Auto` guesses from its form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InputKind {
    #[default]
    Auto,
    /// Hex of an `aelf.Block` (header and transaction ids).
    Block,
    /// Hex of a `BlockWithTransactions` (the peer-to-peer form).
    BlockWithTransactions,
    /// Hex of an `aelf.BlockHeader`.
    Header,
    /// Hex of an `aelf.Transaction`.
    Transaction,
}

/// Options of an inspection.
#[derive(Debug, Clone, Default)]
pub struct InspectOptions {
    pub kind: InputKind,
    /// The encoded `Params` of a transaction whose DTO shows them decoded (JSON).
    pub params: Option<Vec<u8>>,
}

/// A value computed here next to the one the input reports, if any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Checked<T> {
    pub computed: T,
    pub reported: Option<T>,
    /// `None` when nothing was reported.
    pub matches: Option<bool>,
}

impl<T: PartialEq + Clone> Checked<T> {
    fn new(computed: T, reported: Option<T>) -> Checked<T> {
        let matches = reported.as_ref().map(|r| *r == computed);
        Checked {
            computed,
            reported,
            matches,
        }
    }
}

/// The outcome of a check that may be impossible on this input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", content = "detail", rename_all = "snake_case")]
pub enum Verdict {
    Ok,
    Failed(String),
    NotChecked(String),
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Report {
    Block(Box<BlockReport>),
    Transaction(Box<TransactionReport>),
}

#[derive(Debug, Clone, Serialize)]
pub struct BlockReport {
    /// "protobuf" or "web API JSON".
    pub source: String,
    pub block_hash: Checked<String>,
    /// Encoded size of the `aelf.Block`; from JSON, with a 65-byte signature assumed.
    pub block_size: Option<Checked<usize>>,
    pub height: i64,
    pub chain_id: i32,
    pub chain_name: Option<String>,
    pub time: String,
    pub previous_block_hash: String,
    pub signer_pubkey: String,
    pub signer_address: Option<String>,
    pub signature: Verdict,
    /// `None`: no bloom (the web API shows 256 zero bytes).
    pub bloom_len: Option<usize>,
    /// `extra_data` keys in order, with the length of each value.
    pub extra_data: Vec<(String, usize)>,
    pub transactions_count: Option<usize>,
    pub transaction_ids: Vec<String>,
    pub merkle_root_of_transactions: Verdict,
    pub consensus: Option<ConsensusReport>,
    pub consensus_error: Option<String>,
    /// The encoded header (without signature when it came as JSON), hex.
    pub header_hex: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct TransactionReport {
    pub source: String,
    /// `None` when it cannot be computed (see `notes`).
    pub transaction_id: Option<Checked<String>>,
    pub reported_transaction_id: Option<String>,
    pub transaction_size: Option<Checked<usize>>,
    pub from: String,
    pub to: String,
    pub method_name: String,
    pub ref_block_number: i64,
    /// Hex.
    pub ref_block_prefix: String,
    pub params_len: Option<usize>,
    /// Hex of the key the signature recovers (over the computed id, else the reported one).
    pub signer_pubkey: Option<String>,
    pub signer_address: Option<String>,
    /// The recovered key's address is `from`.
    pub signature: Verdict,
    pub status: Option<String>,
    pub block_number: Option<i64>,
    pub block_hash: Option<String>,
    pub notes: Vec<String>,
    /// The encoded transaction, hex, when complete.
    pub transaction_hex: Option<String>,
}

/// Inspects `input` (hex or JSON, surrounding white space ignored).
pub fn inspect(input: &str, options: &InspectOptions) -> Result<Report, InspectError> {
    let input = input.trim();
    if input.is_empty() {
        return Err(InspectError::Empty);
    }
    if input.starts_with('{') {
        let json: Value = serde_json::from_str(input)
            .map_err(|e| InspectError::Shape(format!("not valid JSON: {e}")))?;
        return inspect_json(&json, options);
    }
    let hex_text = input.strip_prefix("0x").unwrap_or(input);
    let bytes = hex::decode(hex_text).map_err(|e| InspectError::NotHexOrJson(e.to_string()))?;
    inspect_bytes(&bytes, options)
}

/// Inspects a web API JSON value: a `BlockDto`, a `TransactionResultDto` or a `TransactionDto`.
pub fn inspect_json(json: &Value, options: &InspectOptions) -> Result<Report, InspectError> {
    if json.get("Header").is_some() {
        block_from_json(json).map(|r| Report::Block(Box::new(r)))
    } else if json.get("Transaction").is_some() || json.get("TransactionId").is_some() {
        tx_result_from_json(json, options).map(|r| Report::Transaction(Box::new(r)))
    } else if json.get("MethodName").is_some() {
        let (tx, shown) = dto::transaction_from_json(json, "", options.params.as_deref())?;
        Ok(Report::Transaction(Box::new(transaction_report(
            "web API JSON (TransactionDto)",
            &tx,
            Some(shown),
            None,
            None,
            options.params.is_some(),
        ))))
    } else {
        Err(InspectError::Shape(
            "JSON is not a BlockDto (Header), TransactionResultDto (TransactionId, Transaction) \
             or TransactionDto (MethodName)"
                .into(),
        ))
    }
}

/// Size of the `aelf.Block` with this header and these transaction ids.
fn aelf_block_size(header: &BlockHeader, ids: &[Hash]) -> usize {
    Block {
        header: Some(header.clone()).into(),
        body: Some(BlockBody {
            transaction_ids: ids.iter().map(Hash::to_proto).collect(),
            ..Default::default()
        })
        .into(),
        ..Default::default()
    }
    .compute_size() as usize
}

fn block_from_json(json: &Value) -> Result<BlockReport, InspectError> {
    let header_json = dto::field(json, "", "Header")?;
    let header = dto::header_from_json(header_json)?;
    let reported_hash = match json.get("BlockHash") {
        Some(Value::String(s)) => Some(s.to_lowercase()),
        _ => None,
    };
    let body = json.get("Body");
    let count = body
        .and_then(|b| b.get("TransactionsCount"))
        .and_then(Value::as_u64)
        .map(|n| n as usize);
    let listed: Vec<Hash> = body
        .and_then(|b| b.get("Transactions"))
        .and_then(Value::as_array)
        .map(|ids| {
            ids.iter()
                .enumerate()
                .map(|(i, id)| {
                    id.as_str()
                        .and_then(|s| Hash::from_hex(s).ok())
                        .ok_or_else(|| InspectError::Field {
                            field: format!("Body.Transactions[{i}]"),
                            reason: "not a 32-byte hex hash".into(),
                        })
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?
        .unwrap_or_default();
    // The DTO lists the ids only when asked (includeTransactions); the count is always there.
    let ids: Option<Vec<Hash>> = match count {
        Some(n) if n == listed.len() => Some(listed.clone()),
        _ if listed.is_empty() => None,
        _ => Some(listed.clone()),
    };
    let block_size = count.or(ids.as_ref().map(Vec::len)).map(|n| {
        let placeholder_ids = ids.clone().unwrap_or_else(|| vec![Hash::ZERO; n]);
        let signed = BlockHeader {
            signature: vec![0; crate::crypto::SIGNATURE_LEN],
            ..header.clone()
        };
        let reported = json
            .get("BlockSize")
            .and_then(Value::as_u64)
            .map(|n| n as usize);
        Checked::new(aelf_block_size(&signed, &placeholder_ids), reported)
    });
    let mut report = block_report(
        "web API JSON (BlockDto)",
        &header,
        reported_hash,
        block_size,
        ids.as_deref(),
        count,
    )?;
    report.signature =
        Verdict::NotChecked("the web API's BlockDto does not show the header's signature".into());
    Ok(report)
}

fn block_report(
    source: &str,
    header: &BlockHeader,
    reported_hash: Option<String>,
    block_size: Option<Checked<usize>>,
    ids: Option<&[Hash]>,
    count: Option<usize>,
) -> Result<BlockReport, InspectError> {
    let hash = block_hash(header).map_err(|e| InspectError::Shape(e.to_string()))?;
    let signature = if header.height <= 1 {
        Verdict::NotChecked("the genesis block is not signed".into())
    } else {
        match verify(&hash, &header.signature, &header.signer_pubkey) {
            Ok(()) => Verdict::Ok,
            Err(e) => Verdict::Failed(e.to_string()),
        }
    };
    let claimed_root = header
        .merkle_tree_root_of_transactions
        .as_ref()
        .map(|h| hex::encode(&h.value))
        .unwrap_or_default();
    let merkle = match ids {
        Some(ids) => {
            let computed = merkle_root(ids).to_hex();
            if computed == claimed_root {
                Verdict::Ok
            } else {
                Verdict::Failed(format!(
                    "header has {claimed_root}, the ids give {computed}"
                ))
            }
        }
        None => Verdict::NotChecked("no transaction ids in the input".into()),
    };
    let (consensus, consensus_error) = match consensus_of_header(header) {
        Ok(c) => (c, None),
        Err(e) => (None, Some(e)),
    };
    let time = header.time.as_ref();
    let signer_address = (header.signer_pubkey.len() == crate::crypto::PUBKEY_LEN)
        .then(|| Address::from_pubkey(&header.signer_pubkey).to_base58());
    Ok(BlockReport {
        source: source.to_owned(),
        block_hash: Checked::new(hash.to_hex(), reported_hash),
        block_size,
        height: header.height,
        chain_id: header.chain_id,
        chain_name: chain_id_to_name(header.chain_id),
        time: iso8601(time.map_or(0, |t| t.seconds), time.map_or(0, |t| t.nanos)),
        previous_block_hash: header
            .previous_block_hash
            .as_ref()
            .map(|h| hex::encode(&h.value))
            .unwrap_or_default(),
        signer_pubkey: hex::encode(&header.signer_pubkey),
        signer_address,
        signature,
        bloom_len: (!header.bloom.is_empty()).then_some(header.bloom.len()),
        extra_data: header
            .extra_data
            .iter()
            .map(|e| (e.key.clone(), e.value.len()))
            .collect(),
        transactions_count: count.or(ids.map(<[Hash]>::len)),
        transaction_ids: ids.unwrap_or_default().iter().map(Hash::to_hex).collect(),
        merkle_root_of_transactions: merkle,
        consensus,
        consensus_error,
        header_hex: hex::encode(header.write_to_bytes().unwrap_or_default()),
    })
}

fn tx_result_from_json(
    json: &Value,
    options: &InspectOptions,
) -> Result<TransactionReport, InspectError> {
    let reported_id = match json.get("TransactionId") {
        Some(Value::String(s)) => Some(s.to_lowercase()),
        _ => None,
    };
    let tx_json = dto::field(json, "", "Transaction")?;
    let (tx, shown) =
        dto::transaction_from_json(tx_json, "Transaction.", options.params.as_deref())?;
    let mut report = transaction_report(
        "web API JSON (TransactionResultDto)",
        &tx,
        Some(shown),
        reported_id,
        json.get("TransactionSize")
            .and_then(Value::as_u64)
            .map(|n| n as usize),
        options.params.is_some(),
    );
    report.status = json
        .get("Status")
        .and_then(Value::as_str)
        .map(str::to_owned);
    report.block_number = json.get("BlockNumber").and_then(Value::as_i64);
    report.block_hash = json
        .get("BlockHash")
        .and_then(Value::as_str)
        .map(str::to_owned);
    Ok(report)
}

fn transaction_report(
    source: &str,
    tx: &Transaction,
    shown: Option<ParamsText>,
    reported_id: Option<String>,
    reported_size: Option<usize>,
    params_given: bool,
) -> TransactionReport {
    let mut notes = Vec::new();
    let params_known = params_given || !matches!(shown, Some(ParamsText::Decoded(_)));
    if !params_known {
        notes.push(
            "Params are shown decoded (JSON of the contract's input type): their encoding is \
             needed for the id and size; give it with --params (hex or base64)"
                .to_owned(),
        );
    }
    let computed_id = if params_known {
        match transaction_id(tx) {
            Ok(id) => Some(id),
            Err(e) => {
                notes.push(e.to_string());
                None
            }
        }
    } else {
        None
    };
    let address = |a: &protobuf::MessageField<crate::pb::aelf_core::Address>| {
        a.as_ref()
            .and_then(|a| <[u8; 32]>::try_from(a.value.as_slice()).ok())
            .map(|b| Address(b).to_base58())
            .unwrap_or_default()
    };
    let from = address(&tx.from);
    // The digest the signature is checked over: ours, else the one the chain reported.
    let digest = computed_id.or_else(|| {
        let id = reported_id
            .as_deref()
            .and_then(|s| Hash::from_hex(s).ok())?;
        notes.push("the signature is checked over the reported transaction id".to_owned());
        Some(id)
    });
    let (signer_pubkey, signer_address, signature) = match digest {
        None => (
            None,
            None,
            Verdict::NotChecked("no transaction id to check the signature over".into()),
        ),
        Some(d) => match recover_pubkey(&d, &tx.signature) {
            Ok(key) => {
                let addr = Address::from_pubkey(&key).to_base58();
                let verdict = if addr == from {
                    Verdict::Ok
                } else {
                    Verdict::Failed(format!("the signature recovers {addr}, not From {from}"))
                };
                (Some(hex::encode(key)), Some(addr), verdict)
            }
            Err(e) => (None, None, Verdict::Failed(e.to_string())),
        },
    };
    let size = params_known.then(|| Checked::new(tx.compute_size() as usize, reported_size));
    TransactionReport {
        source: source.to_owned(),
        transaction_id: computed_id.map(|id| Checked::new(id.to_hex(), reported_id.clone())),
        reported_transaction_id: reported_id,
        transaction_size: size,
        from,
        to: address(&tx.to),
        method_name: tx.method_name.clone(),
        ref_block_number: tx.ref_block_number,
        ref_block_prefix: hex::encode(&tx.ref_block_prefix),
        params_len: params_known.then_some(tx.params.len()),
        signer_pubkey,
        signer_address,
        signature,
        status: None,
        block_number: None,
        block_hash: None,
        notes,
        transaction_hex: params_known.then(|| hex::encode(tx.write_to_bytes().unwrap_or_default())),
    }
}
