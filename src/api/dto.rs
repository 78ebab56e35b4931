//! The JSON shapes of the operator API, with aelf's UpperCamelCase names (C# `PeerDto`,
//! `BlockDto`, `ChainStatusDto`, …), and the conversions from our types into them.
//!
//! Owns field names and value formats (hex, base58 names, Unix seconds, ISO 8601 times). It
//! must not decide anything: routes pick what to show.

use super::{ChainStatus, PeerSummary, TxStatus};
use crate::network::blacklist::Ban;
use crate::network::node_table::NodeRecord;
use crate::network::reconnection::ReconnectingPeer;
use crate::network::request_metrics::RequestMetric;
use crate::pb::aelf_block::{Block, BlockBody, BlockHeaderExtraDataEntry};
use crate::pb::aelf_core::Transaction;
use crate::pb::network_types::BlockWithTransactions;
use crate::types::{
    block_hash, canonical_extra_data, chain_id_to_name, iso8601, transaction_ids, Address, Hash,
};
use base64::Engine;
use protobuf::Message;
use serde::Serialize;
use std::collections::BTreeMap;

/// C# `ChainStatusDto`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ChainStatusDto {
    chain_id: String,
    /// Open branches: tip hash → height.
    branches: BTreeMap<String, i64>,
    /// Blocks whose parent is unknown: always empty, this node never stores such a block.
    not_linked_blocks: BTreeMap<String, String>,
    longest_chain_height: i64,
    longest_chain_hash: String,
    genesis_block_hash: String,
    /// Null unless configured (`[chain] genesis_contract_address`), as the C# node shows it
    /// while it does not know it.
    genesis_contract_address: Option<String>,
    last_irreversible_block_hash: String,
    last_irreversible_block_height: i64,
    best_chain_hash: String,
    best_chain_height: i64,
}

impl From<ChainStatus> for ChainStatusDto {
    /// The longest chain is the best chain: the fork choice takes the highest block.
    fn from(s: ChainStatus) -> ChainStatusDto {
        ChainStatusDto {
            chain_id: s.chain_id,
            branches: s
                .branches
                .iter()
                .map(|(hash, height)| (hash.to_hex(), *height))
                .collect(),
            not_linked_blocks: BTreeMap::new(),
            longest_chain_height: s.best_chain_height,
            longest_chain_hash: s.best_chain_hash.to_hex(),
            genesis_block_hash: s.genesis_block_hash.to_hex(),
            genesis_contract_address: s.genesis_contract_address,
            last_irreversible_block_hash: s.last_irreversible_block_hash.to_hex(),
            last_irreversible_block_height: s.last_irreversible_block_height,
            best_chain_hash: s.best_chain_hash.to_hex(),
            best_chain_height: s.best_chain_height,
        }
    }
}

/// C# `BlockDto`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct BlockDto {
    block_hash: String,
    header: BlockHeaderDto,
    body: BlockBodyDto,
    /// Encoded size of the `aelf.Block` (header and transaction ids), as C# computes it.
    block_size: usize,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct BlockHeaderDto {
    previous_block_hash: String,
    merkle_tree_root_of_transactions: String,
    merkle_tree_root_of_world_state: String,
    merkle_tree_root_of_transaction_state: String,
    extra: String,
    height: i64,
    time: String,
    chain_id: String,
    bloom: String,
    signer_pubkey: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct BlockBodyDto {
    transactions_count: usize,
    /// Transaction ids (hex) when asked for, else empty (C# maps its null list to `[]`).
    transactions: Vec<String>,
}

/// Bloom of a block without one, as C# shows it: 256 zero bytes.
const EMPTY_BLOOM_LEN: usize = 256;

impl BlockDto {
    /// Fails only for a stored block whose header or transactions no longer encode.
    pub(super) fn new(
        block: &BlockWithTransactions,
        include_transactions: bool,
    ) -> Result<BlockDto, String> {
        let header = block.header.get_or_default();
        let hash = block_hash(header).map_err(|e| e.to_string())?;
        let ids = transaction_ids(&block.transactions).map_err(|e| e.to_string())?;
        let aelf_block = Block {
            header: block.header.clone(),
            body: Some(BlockBody {
                transaction_ids: ids.iter().map(Hash::to_proto).collect(),
                ..BlockBody::default()
            })
            .into(),
            ..Block::default()
        };
        let hex_of = |h: &protobuf::MessageField<crate::pb::aelf_core::Hash>| {
            h.as_ref()
                .map(|h| hex::encode(&h.value))
                .unwrap_or_default()
        };
        let bloom = if header.bloom.is_empty() {
            vec![0; EMPTY_BLOOM_LEN]
        } else {
            header.bloom.clone()
        };
        let time = header.time.as_ref();
        Ok(BlockDto {
            block_hash: hash.to_hex(),
            header: BlockHeaderDto {
                previous_block_hash: hex_of(&header.previous_block_hash),
                merkle_tree_root_of_transactions: hex_of(&header.merkle_tree_root_of_transactions),
                merkle_tree_root_of_world_state: hex_of(&header.merkle_tree_root_of_world_state),
                merkle_tree_root_of_transaction_state: hex_of(
                    &header.merkle_tree_root_of_transaction_status,
                ),
                extra: extra_data_text(&header.extra_data),
                height: header.height,
                time: iso8601(time.map_or(0, |t| t.seconds), time.map_or(0, |t| t.nanos)),
                chain_id: chain_id_to_name(header.chain_id).unwrap_or_default(),
                bloom: base64::engine::general_purpose::STANDARD.encode(bloom),
                signer_pubkey: hex::encode(&header.signer_pubkey),
            },
            body: BlockBodyDto {
                transactions_count: ids.len(),
                transactions: if include_transactions {
                    ids.iter().map(Hash::to_hex).collect()
                } else {
                    Vec::new()
                },
            },
            block_size: aelf_block.compute_size() as usize,
        })
    }
}

/// C# `MapField<string, ByteString>.ToString()`: `{ "key": "base64", … }`, `{ }` when empty,
/// over the entries as the map holds them ([`canonical_extra_data`]).
pub(super) fn extra_data_text(entries: &[BlockHeaderExtraDataEntry]) -> String {
    let map = canonical_extra_data(entries);
    if map.is_empty() {
        return "{ }".into();
    }
    let fields: Vec<String> = map
        .iter()
        .map(|e| {
            let key = serde_json::to_string(&e.key).unwrap_or_default();
            let value = base64::engine::general_purpose::STANDARD.encode(&e.value);
            format!("{key}: \"{value}\"")
        })
        .collect();
    format!("{{ {} }}", fields.join(", "))
}

/// C# `PeerDto`, plus what this node knows beyond it.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct PeerDto {
    ip_address: String,
    protocol_version: i32,
    /// Unix seconds.
    connection_time: i64,
    connection_status: String,
    inbound: bool,
    buffered_transactions_count: usize,
    buffered_blocks_count: usize,
    buffered_announcements_count: usize,
    request_metrics: Vec<RequestMetricDto>,
    node_version: String,
    // Beyond the C# node.
    pubkey: String,
    /// "legacy" or "stream".
    mode: &'static str,
    /// "Syncing" until the peer's first announcement at or above our initial sync target,
    /// then "Finished".
    sync_state: &'static str,
    last_known_lib_height: i64,
    current_block_height: i64,
    dropped_transactions_count: u64,
    dropped_blocks_count: u64,
    dropped_announcements_count: u64,
}

/// C# `RequestMetric`; `RequestTime` is a protobuf Timestamp as System.Text.Json writes it.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct RequestMetricDto {
    round_trip_time: i64,
    method_name: &'static str,
    info: String,
    request_time: TimestampDto,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct TimestampDto {
    seconds: i64,
    nanos: i32,
}

impl PeerDto {
    /// `with_metrics` false gives an empty metrics list, as the C# node shows it.
    pub(super) fn new(p: PeerSummary, with_metrics: bool) -> PeerDto {
        let metric = |m: RequestMetric| RequestMetricDto {
            round_trip_time: m.round_trip_ms,
            method_name: m.method,
            info: m.info,
            request_time: TimestampDto {
                seconds: m.request_time.div_euclid(1000),
                nanos: (m.request_time.rem_euclid(1000) * 1_000_000) as i32,
            },
        };
        PeerDto {
            ip_address: p.endpoint,
            protocol_version: p.protocol_version,
            connection_time: p.connection_time_ms.div_euclid(1000),
            connection_status: p.connection_status.into(),
            inbound: p.inbound,
            buffered_transactions_count: p.queues.transactions.buffered,
            buffered_blocks_count: p.queues.blocks.buffered,
            buffered_announcements_count: p.queues.announcements.buffered,
            request_metrics: if with_metrics {
                p.request_metrics.into_iter().map(metric).collect()
            } else {
                Vec::new()
            },
            node_version: p.node_version,
            pubkey: p.pubkey,
            mode: p.mode,
            sync_state: if p.sync_finished {
                "Finished"
            } else {
                "Syncing"
            },
            last_known_lib_height: p.lib_height,
            current_block_height: p.best_height,
            dropped_transactions_count: p.queues.transactions.dropped,
            dropped_blocks_count: p.queues.blocks.dropped,
            dropped_announcements_count: p.queues.announcements.dropped,
        }
    }
}

/// C# `GetNetworkInfoOutput`, plus our software's own name and version.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct NetworkInfoDto {
    pub version: String,
    pub protocol_version: i32,
    pub connections: usize,
    pub software: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct BanDto {
    host: String,
    reason: String,
    /// Unix milliseconds.
    expiry_time_ms: i64,
}

impl From<Ban> for BanDto {
    fn from(b: Ban) -> BanDto {
        BanDto {
            host: b.host,
            reason: b.reason,
            expiry_time_ms: b.expiry,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct NodeDto {
    endpoint: String,
    pubkey: String,
}

impl From<NodeRecord> for NodeDto {
    fn from(n: NodeRecord) -> NodeDto {
        NodeDto {
            endpoint: n.endpoint.to_string(),
            pubkey: hex::encode(n.pubkey),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ReconnectionDto {
    endpoint: String,
    pubkey: String,
    retry_count: u32,
    next_attempt_time_ms: i64,
    disconnection_time_ms: i64,
    /// Retried forever (persistent peers; boot nodes of a node without peers).
    forever: bool,
}

impl From<ReconnectingPeer> for ReconnectionDto {
    fn from(r: ReconnectingPeer) -> ReconnectionDto {
        ReconnectionDto {
            endpoint: r.endpoint.to_string(),
            pubkey: r.pubkey_hex,
            retry_count: r.retry_count,
            next_attempt_time_ms: r.next_attempt,
            disconnection_time_ms: r.disconnection_time,
            forever: r.forever,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct SendTransactionOutput {
    pub transaction_id: String,
}

/// C# `TransactionDto`: addresses in base58, bytes in base64. `Params` stays base64: the C#
/// node decodes it with the contract's descriptor, which a network node does not have.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct TransactionDto {
    from: String,
    to: String,
    ref_block_number: i64,
    ref_block_prefix: String,
    method_name: String,
    params: String,
    signature: String,
}

impl From<&Transaction> for TransactionDto {
    fn from(tx: &Transaction) -> TransactionDto {
        let base64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        let address = |a: &protobuf::MessageField<crate::pb::aelf_core::Address>| {
            a.as_ref()
                .and_then(|a| <[u8; 32]>::try_from(a.value.as_slice()).ok())
                .map(|bytes| Address(bytes).to_base58())
                .unwrap_or_default()
        };
        TransactionDto {
            from: address(&tx.from),
            to: address(&tx.to),
            ref_block_number: tx.ref_block_number,
            ref_block_prefix: base64(&tx.ref_block_prefix),
            method_name: tx.method_name.clone(),
            params: base64(&tx.params),
            signature: base64(&tx.signature),
        }
    }
}

/// C# `TransactionResultDto`, with what a node that executes nothing can honestly say:
/// `PENDING` (in our pool), `NOTEXISTED` (not found), or `INCLUDED` (beyond the C# statuses:
/// in a block we hold, outcome unknown), never `MINED` or `FAILED`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct TransactionResultDto {
    transaction_id: String,
    status: &'static str,
    /// Set only by the C# node's `transactionResultWithBVP` route.
    #[serde(rename = "StatusWithBVP")]
    status_with_bvp: Option<String>,
    /// C# `LogEventDto[]`: `[]` where the C# node shows it so (pending, not existed), null
    /// when unknown (included, not executed); never filled, this node runs no contract.
    logs: Option<Vec<serde_json::Value>>,
    bloom: Option<String>,
    block_number: i64,
    block_hash: Option<String>,
    transaction: Option<TransactionDto>,
    return_value: Option<String>,
    error: Option<String>,
    transaction_size: usize,
}

/// Status text of a transaction this node holds in a block but did not execute.
const INCLUDED: &str = "INCLUDED";

impl TransactionResultDto {
    pub(super) fn new(id: &Hash, status: &TxStatus) -> TransactionResultDto {
        let mut dto = TransactionResultDto {
            transaction_id: id.to_hex(),
            status: "NOTEXISTED",
            status_with_bvp: None,
            logs: Some(Vec::new()),
            bloom: None,
            block_number: 0,
            block_hash: None,
            transaction: None,
            return_value: Some(String::new()),
            error: None,
            transaction_size: 0,
        };
        match status {
            TxStatus::Unknown => {}
            TxStatus::Pending => {
                dto.status = "PENDING";
                // C#: an empty bloom is shown as 256 zero bytes once the status is not
                // NOTEXISTED.
                dto.bloom =
                    Some(base64::engine::general_purpose::STANDARD.encode([0; EMPTY_BLOOM_LEN]));
            }
            TxStatus::Included {
                block_hash,
                block_height,
                transaction,
            } => {
                dto.status = INCLUDED;
                dto.logs = None;
                dto.return_value = None;
                dto.block_number = *block_height;
                dto.block_hash = Some(block_hash.to_hex());
                dto.transaction_size = transaction.compute_size() as usize;
                dto.transaction = Some(TransactionDto::from(transaction));
                dto.error = Some(format!(
                    "included in block {} at height {block_height}; this node (aelf-net) does \
                     not execute transactions, so whether it succeeded (MINED) or failed \
                     (FAILED) is unknown here: ask an executing aelf node",
                    block_hash.to_hex()
                ));
            }
        }
        dto
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct TransactionPoolStatus {
    pub queued: usize,
    pub validated: usize,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct BanOutput {
    pub host: String,
    pub expiry_time_ms: i64,
    /// Peers on that host that were disconnected.
    pub disconnected: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_data_reads_like_the_csharp_map() {
        assert_eq!(extra_data_text(&[]), "{ }");
        let entry = |key: &str, value: &[u8]| BlockHeaderExtraDataEntry {
            key: key.into(),
            value: value.to_vec(),
            ..Default::default()
        };
        let entries = [
            entry("Consensus", b"\x01\x02"),
            entry("A", b"x"),
            entry("Consensus", b"\xff"),
        ];
        assert_eq!(
            extra_data_text(&entries),
            r#"{ "Consensus": "/w==", "A": "eA==" }"#
        );
    }
}
