//! The follower's rules: a header's consensus data checked against its parent's state (the
//! C# pre-execution checks, `ValidateBeforeExecution`), then applied to give the block's state,
//! with the last irreversible block rule. Pure; never stricter than the C# node.

use super::round::{self, consent, interval_ms, mined, miner, miner_mut};
use super::{ConsensusError, ConsensusState, StateInner, CONSENSUS_KEY};
use crate::pb::aedpos::{AElfConsensusBehaviour, AElfConsensusHeaderInformation, Round};
use crate::pb::aelf_block::BlockHeader;
use crate::types::timestamp_millis;
use protobuf::Message;

/// Blocks per time slot when the LIB keeps up (C# `MaximumTinyBlocksCount`).
pub const MAX_BLOCKS: i64 = 8;

/// Decodes a consensus value; an error for bytes that are not an
/// `AElfConsensusHeaderInformation` or that carry no round.
pub fn decode_consensus(bytes: &[u8]) -> Result<AElfConsensusHeaderInformation, ConsensusError> {
    if bytes.is_empty() {
        return Err(ConsensusError::Missing);
    }
    let info = AElfConsensusHeaderInformation::parse_from_bytes(bytes).map_err(|e| {
        ConsensusError::Unparseable(format!("not an AElfConsensusHeaderInformation: {e}"))
    })?;
    if info.round.is_none() {
        return Err(ConsensusError::Unparseable("no round".into()));
    }
    Ok(info)
}

/// The header's consensus data, its sender checked to be the signer (C# `AEDPoSExtraDataExtractor`).
pub fn header_consensus(
    header: &BlockHeader,
) -> Result<AElfConsensusHeaderInformation, ConsensusError> {
    let entry = header
        .extra_data
        .iter()
        .find(|e| e.key == CONSENSUS_KEY)
        .ok_or(ConsensusError::Missing)?;
    let info = decode_consensus(&entry.value)?;
    if info.sender_pubkey != header.signer_pubkey {
        return Err(ConsensusError::SenderNotSigner);
    }
    Ok(info)
}

/// SHA-256 of the encoded `Hash{value}` (C# `HashHelper.ComputeFrom(Hash)`).
pub fn hash_of_hash(value: &[u8]) -> Vec<u8> {
    let mut h = crate::pb::aelf_core::Hash::new();
    h.value = value.to_vec();
    crate::types::sha256(&h.write_to_bytes().unwrap_or_default())
        .0
        .to_vec()
}

/// Checks `header` (its hash and signature already verified by the chain) against the state
/// after its parent; returns the state after it.
pub fn apply_header(
    parent: &ConsensusState,
    header: &BlockHeader,
) -> Result<ConsensusState, ConsensusError> {
    let info = header_consensus(header)?;
    let hdr = info.round.get_or_default();
    let signer = hex::encode(&header.signer_pubkey);
    let behaviour = info
        .behaviour
        .enum_value()
        .map_err(ConsensusError::Behaviour)?;
    let p = &*parent.inner;
    let mut next: StateInner = p.clone();

    // (b) the base round, patched with the header for UPDATE_VALUE/TINY_BLOCK.
    let mut base = p.cur.clone();
    match behaviour {
        AElfConsensusBehaviour::UPDATE_VALUE => recover_from_update_value(&mut base, hdr, &signer),
        AElfConsensusBehaviour::TINY_BLOCK => recover_from_tiny_block(&mut base, hdr, &signer),
        AElfConsensusBehaviour::NEXT_ROUND | AElfConsensusBehaviour::NEXT_TERM => {}
        AElfConsensusBehaviour::NOTHING => {
            return Err(ConsensusError::Behaviour(
                AElfConsensusBehaviour::NOTHING as i32,
            ))
        }
    }

    // (a) a single miner's early blocks are accepted without checks.
    let single_miner_start = header.height < 24 && p.cur.real_time_miners_information.len() == 1;
    if !single_miner_start {
        check(p, &base, hdr, &signer, behaviour)?;
    }

    // Apply (§2.1).
    match behaviour {
        AElfConsensusBehaviour::UPDATE_VALUE => {
            next.cur = base;
            irreversible_rule(&mut next);
        }
        AElfConsensusBehaviour::TINY_BLOCK => next.cur = base,
        AElfConsensusBehaviour::NEXT_ROUND | AElfConsensusBehaviour::NEXT_TERM => {
            if let Some(prev) = &p.prev {
                next.mined_before_prev = mined(prev);
            } else {
                next.mined_before_prev.clear();
            }
            next.prev = Some(p.cur.clone());
            next.cur = hdr.clone();
            next.cur_full = round::is_full(hdr);
            if behaviour == AElfConsensusBehaviour::NEXT_TERM || next.term_number == 0 {
                next.term_number = hdr.term_number;
            }
            // Bootstrap: the carried LIB until the rule gives one; only grows.
            if !p.lib_computed && hdr.confirmed_irreversible_block_height > next.irreversible_height
            {
                next.irreversible_height = hdr.confirmed_irreversible_block_height;
                next.irreversible_round = hdr.confirmed_irreversible_block_round_number;
            } else if p.lib_computed
                && hdr.confirmed_irreversible_block_height != p.irreversible_height
            {
                log::debug!(
                    "round {} carries irreversible height {}, computed {}",
                    hdr.round_number,
                    hdr.confirmed_irreversible_block_height,
                    p.irreversible_height
                );
            }
        }
        AElfConsensusBehaviour::NOTHING => {}
    }

    // The continuous-blocks counter.
    let m = max_blocks(&next);
    if next.counter_pubkey == signer {
        next.counter_count -= 1;
    } else {
        next.counter_pubkey = signer;
        next.counter_count = m - 1;
        next.counter_known = true;
    }
    Ok(ConsensusState::from_inner(next))
}

/// §3 5(c)–(h) on the parent's state and the patched base round.
fn check(
    p: &StateInner,
    base: &Round,
    hdr: &Round,
    signer: &str,
    behaviour: AElfConsensusBehaviour,
) -> Result<(), ConsensusError> {
    // (c) mining permission.
    if miner(&p.cur, signer).is_none() {
        return Err(ConsensusError::NotAMiner(signer.into()));
    }
    // (d) time slot.
    if round::round_id(hdr) != round::round_id(&p.cur) {
        if !round::check_round_time_slots(hdr) {
            return Err(ConsensusError::WrongRound(format!(
                "round id {} is not the current round's {} and the header's time slots are invalid",
                round::round_id(hdr),
                round::round_id(&p.cur)
            )));
        }
    } else if p.cur_full && !first_round_of_term(p) {
        check_time_slot(base, signer)?;
    }
    // (e) continuous blocks.
    if p.counter_known
        && hdr.round_number > 2
        && p.cur.real_time_miners_information.len() > 1
        && p.counter_pubkey == signer
        && p.counter_count < 0
    {
        return Err(ConsensusError::TooManyContinuousBlocks);
    }
    match behaviour {
        AElfConsensusBehaviour::UPDATE_VALUE => check_update_value(p, hdr, signer)?,
        AElfConsensusBehaviour::NEXT_ROUND => check_next_round(p, hdr)?,
        AElfConsensusBehaviour::NEXT_TERM => {
            check_next_round(p, hdr)?;
            if p.term_number != 0 && hdr.term_number != p.term_number + 1 {
                return Err(ConsensusError::WrongRound(format!(
                    "term {} after term {}",
                    hdr.term_number, p.term_number
                )));
            }
        }
        _ => {}
    }
    Ok(())
}

fn first_round_of_term(p: &StateInner) -> bool {
    p.cur.round_number == 1
        || match &p.prev {
            Some(prev) => prev.term_number != p.cur.term_number,
            None => true,
        }
}

/// L = the signer's latest actual time: E ≤ L < E + I, or L < E and L < S.
fn check_time_slot(base: &Round, signer: &str) -> Result<(), ConsensusError> {
    let Some(m) = miner(base, signer) else {
        return Ok(());
    };
    let Some(latest) = m.actual_mining_times.iter().map(timestamp_millis).max() else {
        return Ok(());
    };
    let expected = timestamp_millis(&m.expected_mining_time);
    let start = round::start_ms(base).unwrap_or(expected);
    let ok = if latest < expected {
        latest < start
    } else {
        latest < expected + interval_ms(base)
    };
    if ok {
        Ok(())
    } else {
        Err(ConsensusError::TimeSlot(format!(
            "latest actual time {latest} ms, slot starts {expected} ms"
        )))
    }
}

fn check_update_value(p: &StateInner, hdr: &Round, signer: &str) -> Result<(), ConsensusError> {
    let Some(m) = miner(hdr, signer) else {
        return Err(ConsensusError::UpdateValue(
            "no entry for the signer".into(),
        ));
    };
    let empty = |h: &protobuf::MessageField<crate::pb::aelf_core::Hash>| {
        h.as_ref().is_none_or(|h| h.value.is_empty())
    };
    if empty(&m.out_value) || empty(&m.signature) {
        return Err(ConsensusError::UpdateValue(
            "out_value or signature missing".into(),
        ));
    }
    let Some(prev) = &p.prev else {
        return Ok(());
    };
    let Some(before) = miner(prev, signer) else {
        return Ok(());
    };
    let Some(piv) = m.previous_in_value.as_ref() else {
        return Ok(());
    };
    if piv.value.is_empty() || piv.value.iter().all(|b| *b == 0) {
        return Ok(());
    }
    let previous_out = before
        .out_value
        .as_ref()
        .map(|h| h.value.clone())
        .unwrap_or_default();
    if hash_of_hash(&piv.value) != previous_out {
        return Err(ConsensusError::UpdateValue(
            "previous_in_value does not hash to the previous out_value".into(),
        ));
    }
    Ok(())
}

fn check_next_round(p: &StateInner, hdr: &Round) -> Result<(), ConsensusError> {
    if hdr.round_number != p.cur.round_number + 1 {
        return Err(ConsensusError::WrongRound(format!(
            "round {} after round {}",
            hdr.round_number, p.cur.round_number
        )));
    }
    let entries = || {
        hdr.real_time_miners_information
            .iter()
            .map(|e| e.value.get_or_default())
    };
    if entries().any(|m| m.in_value.is_some()) {
        return Err(ConsensusError::WrongRound(
            "a new round carries an in_value".into(),
        ));
    }
    let ordered = entries()
        .filter(|m| m.final_order_of_next_round > 0)
        .count();
    let with_out = entries().filter(|m| m.out_value.is_some()).count();
    if ordered != with_out {
        return Err(ConsensusError::WrongRound(format!(
            "{ordered} next-round orders for {with_out} out values"
        )));
    }
    Ok(())
}

/// C# `RecoverFromUpdateValue`.
fn recover_from_update_value(base: &mut Round, hdr: &Round, signer: &str) {
    let Some(h) = miner(hdr, signer).cloned() else {
        return;
    };
    if let Some(m) = miner_mut(base, signer) {
        m.out_value = h.out_value.clone();
        m.signature = h.signature.clone();
        if h.previous_in_value
            .as_ref()
            .is_some_and(|v| v.value.iter().any(|b| *b != 0))
        {
            m.previous_in_value = h.previous_in_value.clone();
        }
        m.produced_blocks = h.produced_blocks;
        m.produced_tiny_blocks = h.produced_tiny_blocks;
        m.implied_irreversible_block_height = h.implied_irreversible_block_height;
        m.supposed_order_of_next_round = h.supposed_order_of_next_round;
        m.final_order_of_next_round = h.final_order_of_next_round;
        m.actual_mining_times = h.actual_mining_times.clone();
    }
    for e in &hdr.real_time_miners_information {
        let v = e.value.get_or_default();
        if let Some(m) = miner_mut(base, &e.key) {
            m.supposed_order_of_next_round = v.supposed_order_of_next_round;
            m.final_order_of_next_round = v.final_order_of_next_round;
            if v.previous_in_value.is_some() {
                m.previous_in_value = v.previous_in_value.clone();
            }
        }
    }
}

/// C# `RecoverFromTinyBlock`.
fn recover_from_tiny_block(base: &mut Round, hdr: &Round, signer: &str) {
    let Some(h) = miner(hdr, signer) else {
        return;
    };
    let times = h.actual_mining_times.clone();
    if let Some(m) = miner_mut(base, signer) {
        m.actual_mining_times = times;
        m.produced_blocks += 1;
        m.produced_tiny_blocks += 1;
    }
}

/// §2.5: the 2/3 + 1 rule over the previous round's implied heights; only grows.
fn irreversible_rule(s: &mut StateInner) {
    let Some(prev) = &s.prev else {
        return;
    };
    let producers = mined(&s.cur);
    let mut hs: Vec<i64> = prev
        .real_time_miners_information
        .iter()
        .filter(|e| producers.contains(&e.key))
        .map(|e| e.value.get_or_default().implied_irreversible_block_height)
        .filter(|h| *h > 0)
        .collect();
    hs.sort_unstable();
    if hs.is_empty() || hs.len() < consent(s.cur.real_time_miners_information.len()) {
        return;
    }
    let lib = hs[(hs.len() - 1) / 3];
    s.lib_computed = true;
    if lib > s.irreversible_height {
        s.irreversible_height = lib;
        s.irreversible_round = s.cur.round_number - 1;
        s.cur.confirmed_irreversible_block_height = lib;
        s.cur.confirmed_irreversible_block_round_number = s.cur.round_number - 1;
    }
}

/// C# `GetMaximumBlocksCount` on the state after a block.
pub(super) fn max_blocks(s: &StateInner) -> i64 {
    let r = s.cur.round_number;
    let rl = s.irreversible_round;
    if rl == 0 {
        return MAX_BLOCKS;
    }
    if rl + 2 < r && r < rl + 8 {
        let n = s.cur.real_time_miners_information.len().max(1) as i64;
        let last = s.prev.as_ref().map(mined).unwrap_or_default();
        let both = last
            .iter()
            .filter(|k| s.mined_before_prev.contains(k))
            .count() as i64;
        let factor = MAX_BLOCKS - (r - rl);
        return MAX_BLOCKS.min((both * factor + n - 1) / n);
    }
    if r >= rl + 8 {
        return 1;
    }
    MAX_BLOCKS
}
