//! What is hashed for transaction ids, block hashes and handshake hashes (spec 2.5).
//!
//! Every hash is SHA-256 of the protobuf encoding of the *parsed* message, re-encoded as the C#
//! node's Google.Protobuf writes it: known fields in number order, defaults omitted, then the
//! unknown fields (fields of a later aelf release) one field number at a time, numbers in the
//! order each first arrived, and within a number varints, fixed32s, fixed64s, length-delimited
//! values, each in arrival order; `extra_data` as the C# map holds it ([`canonical_extra_data`]).
//! Nested messages follow the same rule. rust-protobuf writes known fields that way, and the
//! unknown fields that way through [`crate::pb::unknown_order`], which `build.rs` wires into every
//! generated message; on its own it would write them in hash-map order.

use super::{merkle_root, sha256, Hash, TypesError};
use crate::pb::aelf_block::{BlockHeader, BlockHeaderExtraDataEntry};
use crate::pb::aelf_core::Transaction;
use crate::pb::network_types::{BlockWithTransactions, HandshakeData};
use protobuf::Message;

/// SHA-256 of the transaction encoded with `signature` left empty.
///
/// Like the C# node, refuses transactions without `from`/`to`, with a negative
/// `ref_block_number` or an empty `method_name`.
pub fn transaction_id(tx: &Transaction) -> Result<Hash, TypesError> {
    if tx.from.is_none() || tx.to.is_none() {
        return Err(TypesError::Transaction("from and to must be set"));
    }
    if tx.ref_block_number < 0 {
        return Err(TypesError::Transaction("ref_block_number is negative"));
    }
    if tx.method_name.is_empty() {
        return Err(TypesError::Transaction("method_name is empty"));
    }
    let unsigned = Transaction {
        signature: Vec::new(),
        ..tx.clone()
    };
    Ok(sha256(&encode(&unsigned)))
}

/// The ids of `txs`, in order (a block body).
pub fn transaction_ids(txs: &[Transaction]) -> Result<Vec<Hash>, TypesError> {
    txs.iter().map(transaction_id).collect()
}

/// SHA-256 of the header encoded with `signature` left empty (`signer_pubkey` and `extra_data`
/// included), with the C# node's preconditions.
pub fn block_hash(header: &BlockHeader) -> Result<Hash, TypesError> {
    if header.chain_id < 0 {
        return Err(TypesError::BlockHeader("chain_id is negative"));
    }
    if header.height < 1 {
        return Err(TypesError::BlockHeader("height is below 1"));
    }
    if header.height > 1 && header.signer_pubkey.is_empty() {
        return Err(TypesError::BlockHeader("signer_pubkey is empty"));
    }
    if header.previous_block_hash.is_none()
        || header.merkle_tree_root_of_transactions.is_none()
        || header.merkle_tree_root_of_world_state.is_none()
        || header.merkle_tree_root_of_transaction_status.is_none()
        || header.time.is_none()
    {
        return Err(TypesError::BlockHeader(
            "previous hash, merkle roots and time must be set",
        ));
    }
    let unsigned = BlockHeader {
        signature: Vec::new(),
        extra_data: canonical_extra_data(&header.extra_data),
        ..header.clone()
    };
    Ok(sha256(&encode(&unsigned)))
}

/// `extra_data` as the C# node holds it after parsing a `map<string, bytes>`: one entry per key,
/// at the position where the key first appeared, with the value of its last occurrence, and
/// without unknown fields inside entries (a map entry keeps only its key and value).
pub fn canonical_extra_data(
    entries: &[BlockHeaderExtraDataEntry],
) -> Vec<BlockHeaderExtraDataEntry> {
    let mut out: Vec<BlockHeaderExtraDataEntry> = Vec::with_capacity(entries.len());
    for entry in entries {
        let clean = BlockHeaderExtraDataEntry {
            key: entry.key.clone(),
            value: entry.value.clone(),
            ..Default::default()
        };
        match out.iter_mut().find(|e| e.key == entry.key) {
            Some(existing) => *existing = clean,
            None => out.push(clean),
        }
    }
    out
}

/// SHA-256 of the whole encoded `HandshakeData`: what a handshake signature signs.
pub fn handshake_hash(data: &HandshakeData) -> Hash {
    sha256(&encode(data))
}

fn encode<M: Message>(m: &M) -> Vec<u8> {
    // Writing a well-formed in-memory message into a Vec cannot fail; the only failure rust-protobuf
    // reports here is a message over 2 GiB, which the gRPC size cap makes impossible.
    m.write_to_bytes()
        .expect("encoding an in-memory message into a Vec cannot fail")
}

/// Derived views of a `BlockWithTransactions` (the network's block form).
pub trait BlockWithTransactionsExt {
    /// The block hash (the header's hash).
    fn block_hash(&self) -> Result<Hash, TypesError>;
    /// The merkle root of the carried transactions' ids, which the header must commit to.
    fn computed_transactions_root(&self) -> Result<Hash, TypesError>;
}

impl BlockWithTransactionsExt for BlockWithTransactions {
    fn block_hash(&self) -> Result<Hash, TypesError> {
        match self.header.as_ref() {
            Some(h) => block_hash(h),
            None => Err(TypesError::BlockHeader("header is missing")),
        }
    }

    fn computed_transactions_root(&self) -> Result<Hash, TypesError> {
        Ok(merkle_root(&transaction_ids(&self.transactions)?))
    }
}
