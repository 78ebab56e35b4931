//! Decoding the AEDPoS consensus data of a header (`extra_data["Consensus"]`): the raw
//! `AEDPoS.AElfConsensusHeaderInformation`, no wrapper.

use crate::pb::aedpos::{AElfConsensusBehaviour, AElfConsensusHeaderInformation};
use crate::pb::aelf_block::BlockHeader;
use crate::types::{canonical_extra_data, iso8601, Address};
use serde::Serialize;

pub use crate::chain::aedpos::CONSENSUS_KEY;

/// What a header's consensus data says.
#[derive(Debug, Clone, Serialize)]
pub struct ConsensusReport {
    /// `UPDATE_VALUE`, `NEXT_ROUND`, `NEXT_TERM`, `NOTHING`, `TINY_BLOCK`.
    pub behaviour: String,
    /// Hex of `sender_pubkey`.
    pub sender_pubkey: String,
    /// The C# node rejects a block whose sender is not its signer.
    pub sender_is_signer: bool,
    pub round_number: i64,
    /// 0 in UPDATE_VALUE and TINY_BLOCK headers (stripped rounds).
    pub term_number: i64,
    pub round_id_for_validation: i64,
    pub blockchain_age: i64,
    pub extra_block_producer_of_previous_round: String,
    pub is_miner_list_just_changed: bool,
    /// Carried by NEXT_ROUND/NEXT_TERM headers only (0 in the others).
    pub confirmed_irreversible_block_height: i64,
    pub confirmed_irreversible_block_round_number: i64,
    /// The signer's `implied_irreversible_block_height` (UPDATE_VALUE, TINY_BLOCK), if present.
    pub signer_implied_irreversible_block_height: Option<i64>,
    /// The irreversible height this header states and how: see [`irreversible_note`].
    pub irreversible_note: String,
    /// The miners in the order the header lists them.
    pub miners: Vec<MinerReport>,
    /// Encoded size of the consensus value.
    pub size: usize,
}

/// One miner of the round.
#[derive(Debug, Clone, Serialize)]
pub struct MinerReport {
    /// The map key: the miner's hex public key (the identity; `pubkey` inside may be empty).
    pub pubkey: String,
    pub address: Option<String>,
    pub order: i32,
    pub is_extra_block_producer: bool,
    /// ISO 8601, when the header has it (NEXT_ROUND, NEXT_TERM).
    pub expected_mining_time: Option<String>,
    pub actual_mining_times: Vec<String>,
    pub produced_blocks: i64,
    pub produced_tiny_blocks: i64,
    pub missed_time_slots: i64,
    pub implied_irreversible_block_height: i64,
    pub out_value: Option<String>,
    pub previous_in_value: Option<String>,
    pub supposed_order_of_next_round: i32,
    pub final_order_of_next_round: i32,
}

/// Decodes a consensus value (the chain's decoding); an error for bytes that are not an
/// `AElfConsensusHeaderInformation` or that carry no round.
pub fn decode_consensus(bytes: &[u8]) -> Result<AElfConsensusHeaderInformation, String> {
    crate::chain::aedpos::decode_consensus(bytes).map_err(|e| match e {
        crate::chain::aedpos::ConsensusError::Missing => "the consensus value is empty".into(),
        e => e.to_string(),
    })
}

/// The consensus report of a header: `Ok(None)` when it has no `Consensus` entry (height 1).
pub fn consensus_of_header(header: &BlockHeader) -> Result<Option<ConsensusReport>, String> {
    let entries = canonical_extra_data(&header.extra_data);
    let Some(entry) = entries.iter().find(|e| e.key == CONSENSUS_KEY) else {
        return Ok(None);
    };
    let info = decode_consensus(&entry.value)?;
    Ok(Some(report(
        &info,
        &header.signer_pubkey,
        entry.value.len(),
    )))
}

fn report(info: &AElfConsensusHeaderInformation, signer: &[u8], size: usize) -> ConsensusReport {
    let round = info.round.get_or_default();
    let behaviour = match info.behaviour.enum_value() {
        Ok(b) => format!("{b:?}"),
        Err(n) => format!("unknown ({n})"),
    };
    let hash_hex = |h: &protobuf::MessageField<crate::pb::aelf_core::Hash>| {
        h.as_ref().map(|h| hex::encode(&h.value))
    };
    let miners: Vec<MinerReport> = round
        .real_time_miners_information
        .iter()
        .map(|entry| {
            let m = entry.value.get_or_default();
            MinerReport {
                pubkey: entry.key.clone(),
                address: hex::decode(&entry.key)
                    .ok()
                    .map(|k| Address::from_pubkey(&k).to_base58()),
                order: m.order,
                is_extra_block_producer: m.is_extra_block_producer,
                expected_mining_time: m
                    .expected_mining_time
                    .as_ref()
                    .map(|t| iso8601(t.seconds, t.nanos)),
                actual_mining_times: m
                    .actual_mining_times
                    .iter()
                    .map(|t| iso8601(t.seconds, t.nanos))
                    .collect(),
                produced_blocks: m.produced_blocks,
                produced_tiny_blocks: m.produced_tiny_blocks,
                missed_time_slots: m.missed_time_slots,
                implied_irreversible_block_height: m.implied_irreversible_block_height,
                out_value: hash_hex(&m.out_value),
                previous_in_value: hash_hex(&m.previous_in_value),
                supposed_order_of_next_round: m.supposed_order_of_next_round,
                final_order_of_next_round: m.final_order_of_next_round,
            }
        })
        .collect();
    let sender = hex::encode(&info.sender_pubkey);
    let signer_implied = miners
        .iter()
        .find(|m| m.pubkey == sender)
        .map(|m| m.implied_irreversible_block_height)
        .filter(|h| *h > 0);
    let full_round = matches!(
        info.behaviour.enum_value(),
        Ok(AElfConsensusBehaviour::NEXT_ROUND | AElfConsensusBehaviour::NEXT_TERM)
    );
    ConsensusReport {
        behaviour,
        sender_is_signer: !signer.is_empty() && info.sender_pubkey == signer,
        sender_pubkey: sender,
        round_number: round.round_number,
        term_number: round.term_number,
        round_id_for_validation: round.round_id_for_validation,
        blockchain_age: round.blockchain_age,
        extra_block_producer_of_previous_round: round
            .extra_block_producer_of_previous_round
            .clone(),
        is_miner_list_just_changed: round.is_miner_list_just_changed,
        confirmed_irreversible_block_height: round.confirmed_irreversible_block_height,
        confirmed_irreversible_block_round_number: round.confirmed_irreversible_block_round_number,
        signer_implied_irreversible_block_height: signer_implied,
        irreversible_note: irreversible_note(
            full_round,
            round.confirmed_irreversible_block_height,
            signer_implied,
        ),
        miners,
        size,
    }
}

/// How to read the irreversible height of a header (aedpos-follow.md §2.5): NEXT_ROUND and
/// NEXT_TERM headers carry the confirmed LIB of their parent; UPDATE_VALUE and TINY_BLOCK
/// headers carry none (the LIB is computed over two rounds of headers), only the signer's
/// implied height.
fn irreversible_note(full_round: bool, confirmed: i64, implied: Option<i64>) -> String {
    match (full_round, implied) {
        (true, _) => format!(
            "confirmed irreversible height {confirmed}, as carried by this round-changing header \
             (the parent's, not validated by C#)"
        ),
        (false, Some(h)) => format!(
            "not carried by this header (only NEXT_ROUND/NEXT_TERM carry it); the signer implies \
             height {h} irreversible, which counts toward the LIB once 2/3+1 miners agree"
        ),
        (false, None) => {
            "not carried by this header (only NEXT_ROUND/NEXT_TERM carry it)".to_owned()
        }
    }
}
