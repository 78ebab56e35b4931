//! The aelf web API's JSON back into protobuf messages: the inverse of the C# `BlockProfile` and
//! `TransactionProfile` mappings (and of `crate::api::dto`), rule by rule.
//!
//! * hashes are hex (an empty text is an absent field), addresses Base58Check, other bytes base64;
//! * `ChainId` is the base58 chain name;
//! * `Time` is .NET's UTC `DateTime` text: nanos = 7 fraction digits × 100;
//! * `Bloom` shows an empty bloom as 256 zero bytes: such a value is no bloom in the header;
//! * `Extra` is `MapField.ToString()` (`{ "key": "base64", … }`): entries are kept in its order,
//!   and an empty value stays empty (written as its key alone);
//! * `SignerPubkey` is hex; the header's signature and version are not shown (version 0 is
//!   never written, so the hash does not need it).

use super::InspectError;
use crate::pb::aelf_block::{BlockHeader, BlockHeaderExtraDataEntry};
use crate::pb::aelf_core::{Address as PbAddress, Hash as PbHash, Transaction};
use crate::types::{chain_id_from_name, parse_iso8601, Address};
use base64::Engine;
use protobuf::well_known_types::timestamp::Timestamp;
use protobuf::MessageField;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::Value;
use std::fmt;

/// Length of the zero bloom the web API shows for a header without one.
pub const EMPTY_BLOOM_LEN: usize = 256;

fn bad(field: &str, reason: impl Into<String>) -> InspectError {
    InspectError::Field {
        field: field.to_owned(),
        reason: reason.into(),
    }
}

/// The field of `obj` named `name`; missing and null are errors.
pub(super) fn field<'a>(
    obj: &'a Value,
    prefix: &str,
    name: &str,
) -> Result<&'a Value, InspectError> {
    match obj.get(name) {
        Some(Value::Null) | None => Err(bad(&format!("{prefix}{name}"), "missing")),
        Some(v) => Ok(v),
    }
}

pub(super) fn string<'a>(
    obj: &'a Value,
    prefix: &str,
    name: &str,
) -> Result<&'a str, InspectError> {
    field(obj, prefix, name)?
        .as_str()
        .ok_or_else(|| bad(&format!("{prefix}{name}"), "not a string"))
}

/// An integer given as a JSON number or a decimal string.
pub(super) fn integer(obj: &Value, prefix: &str, name: &str) -> Result<i64, InspectError> {
    let v = field(obj, prefix, name)?;
    v.as_i64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        .ok_or_else(|| bad(&format!("{prefix}{name}"), "not an integer"))
}

fn hash_field(obj: &Value, prefix: &str, name: &str) -> Result<MessageField<PbHash>, InspectError> {
    let text = string(obj, prefix, name)?;
    if text.is_empty() {
        return Ok(MessageField::none());
    }
    let value =
        hex::decode(text).map_err(|e| bad(&format!("{prefix}{name}"), format!("not hex: {e}")))?;
    Ok(MessageField::some(PbHash {
        value,
        ..Default::default()
    }))
}

fn base64_field(obj: &Value, prefix: &str, name: &str) -> Result<Vec<u8>, InspectError> {
    let text = string(obj, prefix, name)?;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| bad(&format!("{prefix}{name}"), format!("not base64: {e}")))
}

fn address_field(
    obj: &Value,
    prefix: &str,
    name: &str,
) -> Result<MessageField<PbAddress>, InspectError> {
    let text = string(obj, prefix, name)?;
    let address = Address::from_base58(text).ok_or_else(|| {
        bad(
            &format!("{prefix}{name}"),
            "not a Base58Check address of 32 bytes",
        )
    })?;
    Ok(MessageField::some(address.to_proto()))
}

/// The `BlockHeader` a `BlockDto.Header` shows (no signature: the DTO does not carry it).
pub(crate) fn header_from_json(h: &Value) -> Result<BlockHeader, InspectError> {
    const P: &str = "Header.";
    let chain = string(h, P, "ChainId")?;
    let chain_id = chain_id_from_name(chain).map_err(|e| bad("Header.ChainId", e.to_string()))?;
    let time_text = string(h, P, "Time")?;
    let (seconds, nanos) = parse_iso8601(time_text).ok_or_else(|| {
        bad(
            "Header.Time",
            format!("{time_text:?} is not an ISO 8601 UTC time"),
        )
    })?;
    let mut bloom = base64_field(h, P, "Bloom")?;
    if bloom.len() == EMPTY_BLOOM_LEN && bloom.iter().all(|b| *b == 0) {
        bloom.clear();
    }
    let signer = string(h, P, "SignerPubkey")?;
    let signer_pubkey =
        hex::decode(signer).map_err(|e| bad("Header.SignerPubkey", format!("not hex: {e}")))?;
    Ok(BlockHeader {
        version: 0,
        chain_id,
        previous_block_hash: hash_field(h, P, "PreviousBlockHash")?,
        merkle_tree_root_of_transactions: hash_field(h, P, "MerkleTreeRootOfTransactions")?,
        merkle_tree_root_of_world_state: hash_field(h, P, "MerkleTreeRootOfWorldState")?,
        bloom,
        height: integer(h, P, "Height")?,
        extra_data: extra_from_text(string(h, P, "Extra")?)?,
        time: MessageField::some(Timestamp {
            seconds,
            nanos,
            ..Default::default()
        }),
        merkle_tree_root_of_transaction_status: hash_field(
            h,
            P,
            "MerkleTreeRootOfTransactionState",
        )?,
        signer_pubkey,
        ..Default::default()
    })
}

/// `MapField<string, ByteString>.ToString()` back into entries, in the order it lists them.
pub fn extra_from_text(text: &str) -> Result<Vec<BlockHeaderExtraDataEntry>, InspectError> {
    let pairs: OrderedPairs = serde_json::from_str(text)
        .map_err(|e| bad("Header.Extra", format!("not a JSON object of strings: {e}")))?;
    pairs
        .0
        .into_iter()
        .map(|(key, value)| {
            let value = base64::engine::general_purpose::STANDARD
                .decode(&value)
                .map_err(|e| {
                    bad(
                        "Header.Extra",
                        format!("value of {key:?} is not base64: {e}"),
                    )
                })?;
            Ok(BlockHeaderExtraDataEntry {
                key,
                value,
                ..Default::default()
            })
        })
        .collect()
}

/// A JSON object of strings with its keys in text order (serde_json's map would sort them).
struct OrderedPairs(Vec<(String, String)>);

impl<'de> serde::Deserialize<'de> for OrderedPairs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct PairsVisitor;
        impl<'de> Visitor<'de> for PairsVisitor {
            type Value = OrderedPairs;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of strings")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OrderedPairs, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, String>()? {
                    out.push((k, v));
                }
                Ok(OrderedPairs(out))
            }
        }
        d.deserialize_map(PairsVisitor)
    }
}

/// How the DTO shows `Params`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamsText {
    /// base64 of the encoded params (the C# node found no descriptor, or aelf-net's API).
    Encoded(Vec<u8>),
    /// JSON of the decoded message (the C# node decoded it with the contract's descriptor):
    /// the encoding is lost without that descriptor.
    Decoded(String),
}

/// A `TransactionDto`'s transaction; `params` replaces what `Params` shows when given.
pub(super) fn transaction_from_json(
    t: &Value,
    prefix: &str,
    params: Option<&[u8]>,
) -> Result<(Transaction, ParamsText), InspectError> {
    let params_text = string(t, prefix, "Params")?;
    let trimmed = params_text.trim_start();
    let shown = if trimmed.starts_with(['{', '[', '"']) {
        ParamsText::Decoded(params_text.to_owned())
    } else {
        match base64::engine::general_purpose::STANDARD.decode(params_text) {
            Ok(bytes) => ParamsText::Encoded(bytes),
            Err(_) => ParamsText::Decoded(params_text.to_owned()),
        }
    };
    let encoded = match (params, &shown) {
        (Some(p), _) => p.to_vec(),
        (None, ParamsText::Encoded(b)) => b.clone(),
        (None, ParamsText::Decoded(_)) => Vec::new(),
    };
    let tx = Transaction {
        from: address_field(t, prefix, "From")?,
        to: address_field(t, prefix, "To")?,
        ref_block_number: integer(t, prefix, "RefBlockNumber")?,
        ref_block_prefix: base64_field(t, prefix, "RefBlockPrefix")?,
        method_name: string(t, prefix, "MethodName")?.to_owned(),
        params: encoded,
        signature: base64_field(t, prefix, "Signature")?,
        ..Default::default()
    };
    Ok((tx, shown))
}
