//! The `/api/blockChain/*` routes: chain status, blocks, sending transactions and following
//! them, the pool's status — each checking its own input and answering aelf's shapes and codes.
//!
//! Owns those handlers and their limits; the routing table, the reply helpers and the
//! parameter parsing are [`super`]'s. It reaches the node only through [`ApiBackend`].

use super::*;
use crate::api::{TxRefusal, TxStatus};

/// Most results `transactionResults` gives at once (C#: `limit` must be 1..=100).
const MAX_RESULTS_LIMIT: i64 = 100;
/// `transactionResults` without `limit` (the C# default).
const DEFAULT_RESULTS_LIMIT: i64 = 10;

pub(super) fn chain_status(backend: &dyn ApiBackend, _: &Call) -> Reply {
    ok(&ChainStatusDto::from(backend.chain_status()))
}

pub(super) fn block_height(backend: &dyn ApiBackend, _: &Call) -> Reply {
    ok(&backend.chain_status().best_chain_height)
}

fn block_reply(
    found: Result<Option<crate::pb::network_types::BlockWithTransactions>, String>,
    include_transactions: bool,
) -> Reply {
    match found {
        Ok(Some(block)) => match BlockDto::new(&block, include_transactions) {
            Ok(dto) => ok(&dto),
            Err(e) => error(500, "StoreError", &format!("stored block unreadable: {e}")),
        },
        Ok(None) => not_found(),
        Err(e) => error(500, "StoreError", &e),
    }
}

pub(super) fn block_by_hash(backend: &dyn ApiBackend, call: &Call) -> Reply {
    let include = match flag(call, "includeTransactions") {
        Ok(include) => include,
        Err(reply) => return reply,
    };
    let text = param(call, "blockHash").unwrap_or_default();
    let Ok(hash) = Hash::from_hex(text.trim()) else {
        return refused(codes::INVALID_BLOCK_HASH, "Invalid block hash format");
    };
    block_reply(backend.block_by_hash(&hash), include)
}

pub(super) fn block_by_height(backend: &dyn ApiBackend, call: &Call) -> Reply {
    let include = match flag(call, "includeTransactions") {
        Ok(include) => include,
        Err(reply) => return reply,
    };
    let text = param(call, "blockHeight").unwrap_or_default();
    let Ok(height) = text.trim().parse::<i64>() else {
        return invalid_input(&format!("blockHeight must be an integer, got {text:?}"));
    };
    // Height 0 is "not found" in C#; heights start at 1.
    if height < 1 {
        return not_found();
    }
    block_reply(backend.block_by_height(height), include)
}

/// The hex of one transaction, decoded (C# answers 20008 for what is not hex, or is empty).
fn transaction_bytes(hex_text: &str) -> Result<Vec<u8>, Reply> {
    match hex::decode(hex_text.trim()) {
        Ok(bytes) if !bytes.is_empty() => Ok(bytes),
        _ => Err(refused(
            codes::INVALID_TRANSACTION,
            &format!(
                "{:?} is not the hex of a transaction",
                abbreviated(hex_text)
            ),
        )),
    }
}

/// At most the first 32 characters of `text`, for error messages.
fn abbreviated(text: &str) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(32).collect();
    if chars.next().is_some() {
        format!("{head}…")
    } else {
        head
    }
}

/// Sends decoded transactions: their ids, or the refusal with the C# node's code.
fn send(backend: &dyn ApiBackend, raws: &[Vec<u8>]) -> Result<Vec<String>, Reply> {
    match backend.send_transactions(raws) {
        Ok(ids) => Ok(ids.iter().map(Hash::to_hex).collect()),
        Err(TxRefusal::Invalid(reason)) => Err(refused(codes::INVALID_TRANSACTION, &reason)),
        Err(TxRefusal::BadSignature(reason)) => Err(refused(codes::INVALID_SIGNATURE, &reason)),
        Err(TxRefusal::Busy(reason)) => Err(error(503, codes::INVALID_TRANSACTION, &reason)),
    }
}

pub(super) fn send_transaction(backend: &dyn ApiBackend, call: &Call) -> Reply {
    let raw = match body_object(call).and_then(|m| string_property(&m, "RawTransaction")) {
        Ok(raw) => raw,
        Err(reply) => return reply,
    };
    let bytes = match transaction_bytes(&raw) {
        Ok(bytes) => bytes,
        Err(reply) => return reply,
    };
    match send(backend, &[bytes]) {
        Ok(mut ids) if ids.len() == 1 => ok(&SendTransactionOutput {
            transaction_id: ids.remove(0),
        }),
        Ok(ids) => error(
            500,
            "BackendError",
            &format!("one transaction sent, {} ids back", ids.len()),
        ),
        Err(reply) => reply,
    }
}

/// C# `SendTransactionsAsync`: the comma-separated hex of several transactions, all or none
/// (none is sent when one does not decode or is badly signed); the ids in order.
pub(super) fn send_transactions(backend: &dyn ApiBackend, call: &Call) -> Reply {
    let raw = match body_object(call).and_then(|m| string_property(&m, "RawTransactions")) {
        Ok(raw) => raw,
        Err(reply) => return reply,
    };
    let mut raws = Vec::new();
    for (i, text) in raw.split(',').enumerate() {
        match transaction_bytes(text) {
            Ok(bytes) => raws.push(bytes),
            Err(_) => {
                return refused(
                    codes::INVALID_TRANSACTION,
                    &format!(
                        "transaction {i} ({:?}) is not the hex of a transaction; none was sent",
                        abbreviated(text)
                    ),
                )
            }
        }
    }
    match send(backend, &raws) {
        Ok(ids) => ok(&ids),
        Err(reply) => reply,
    }
}

/// An optional integer query parameter; one that is not an integer does not bind (400).
fn integer(call: &Call, name: &str, default: i64) -> Result<i64, Reply> {
    match param(call, name) {
        None => Ok(default),
        Some(v) if v.trim().is_empty() => Ok(default),
        Some(v) => v
            .trim()
            .parse::<i64>()
            .map_err(|_| invalid_input(&format!("{name} must be an integer, got {v:?}"))),
    }
}

/// C# `GetTransactionResultAsync`, with what a node that executes nothing knows.
pub(super) fn transaction_result(backend: &dyn ApiBackend, call: &Call) -> Reply {
    let text = param(call, "transactionId").unwrap_or_default();
    let Ok(id) = Hash::from_hex(text.trim()) else {
        return refused(
            codes::INVALID_TRANSACTION_ID,
            &format!(
                "Invalid Transaction id format: {:?} is not 64 hex characters",
                abbreviated(&text)
            ),
        );
    };
    match backend.transaction_status(&id) {
        Ok(status) => ok(&TransactionResultDto::new(&id, &status)),
        Err(e) => error(500, "StoreError", &e),
    }
}

/// C# `GetTransactionResultsAsync`: the results of a stored block's transactions, `offset`
/// and `limit` (1..=100) choosing a slice of them.
pub(super) fn transaction_results(backend: &dyn ApiBackend, call: &Call) -> Reply {
    let (offset, limit) = match (
        integer(call, "offset", 0),
        integer(call, "limit", DEFAULT_RESULTS_LIMIT),
    ) {
        (Ok(offset), Ok(limit)) => (offset, limit),
        (Err(reply), _) | (_, Err(reply)) => return reply,
    };
    if offset < 0 {
        return refused(
            codes::INVALID_OFFSET,
            &format!("Offset must greater than or equal to 0, got {offset}"),
        );
    }
    if !(1..=MAX_RESULTS_LIMIT).contains(&limit) {
        return refused(
            codes::INVALID_LIMIT,
            &format!("Limit must between 0 and 100 (1 to 100), got {limit}"),
        );
    }
    let text = param(call, "blockHash").unwrap_or_default();
    let Ok(hash) = Hash::from_hex(text.trim()) else {
        return refused(codes::INVALID_BLOCK_HASH, "Invalid block hash format");
    };
    let block = match backend.block_by_hash(&hash) {
        Ok(Some(block)) => block,
        Ok(None) => return not_found(),
        Err(e) => return error(500, "StoreError", &e),
    };
    let height = block.header.get_or_default().height;
    let results: Result<Vec<TransactionResultDto>, String> = block
        .transactions
        .iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(usize::try_from(limit).unwrap_or(0))
        .map(|tx| {
            let id = crate::types::transaction_id(tx).map_err(|e| e.to_string())?;
            let status = TxStatus::Included {
                block_hash: hash,
                block_height: height,
                transaction: tx.clone(),
            };
            Ok(TransactionResultDto::new(&id, &status))
        })
        .collect();
    match results {
        Ok(results) => ok(&results),
        Err(e) => error(500, "StoreError", &format!("stored block unreadable: {e}")),
    }
}

pub(super) fn pool_status(backend: &dyn ApiBackend, _: &Call) -> Reply {
    let n = backend.transaction_pool_size();
    ok(&TransactionPoolStatus {
        queued: n,
        validated: n,
    })
}
