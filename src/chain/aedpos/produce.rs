//! The development producer's consensus data: what a miner of a development chain writes
//! (UPDATE_VALUE at its slot, TINY_BLOCKs spaced I/8 apart up to the max-blocks count,
//! NEXT_ROUND by the extra block producer or late by any miner, NEXT_TERM when the term
//! period has elapsed). Pure; reads no clock (the caller passes `now_ms`).

use super::round::{self, consent, miner};
use super::rules::{hash_of_hash, max_blocks};
use super::{ConsensusState, DevelopmentParams, Production};
use crate::pb::aedpos::{
    AElfConsensusBehaviour, AElfConsensusHeaderInformation, MinerInRound, Round,
};
use crate::pb::aelf_core::Hash as PbHash;
use crate::types::{timestamp_from_millis, timestamp_millis};
use protobuf::{Message, MessageField};

/// The in_value of `pubkey` in round `round`. Deterministic per miner and round; NOTE: derived
/// from the public key, so not secret (a development chain needs no unpredictability).
pub fn in_value(pubkey: &str, round: i64) -> Vec<u8> {
    crate::types::sha256(format!("aelf-net in_value {pubkey} {round}").as_bytes())
        .0
        .to_vec()
}

fn hash(v: Vec<u8>) -> MessageField<PbHash> {
    let mut h = PbHash::new();
    h.value = v;
    MessageField::some(h)
}

fn info(sender: &[u8], round: Round, b: AElfConsensusBehaviour) -> Vec<u8> {
    let mut i = AElfConsensusHeaderInformation::new();
    i.sender_pubkey = sender.to_vec();
    i.round = MessageField::some(round);
    i.behaviour = b.into();
    i.write_to_bytes().unwrap_or_default()
}

/// The term-t miner list: `miners_per_term` candidates from (t − 1) mod len.
pub fn term_miners(params: &DevelopmentParams, term: i64) -> Vec<String> {
    let n = params.candidates.len();
    if n == 0 {
        return Vec::new();
    }
    let per = if params.miners_per_term == 0 {
        n
    } else {
        params.miners_per_term.min(n)
    };
    let first = ((term - 1).max(0) as usize) % n;
    (0..per)
        .map(|i| hex::encode(&params.candidates[(first + i) % n]))
        .collect()
}

/// The slot length a development miner works with: the round's (C# `GetMiningInterval`),
/// except in a one-miner round, whose slots do not show it (C# then takes 4000 ms): there the
/// configured interval. A follower checks a one-miner round's slots against 4000 ms, which
/// the shorter configured slots always pass.
fn slot_ms(params: &DevelopmentParams, cur: &Round) -> i64 {
    if cur.real_time_miners_information.len() > 1 {
        round::interval_ms(cur)
    } else {
        params.mining_interval_ms.max(1)
    }
}

/// The time the miner `me` may terminate the round (extra block producer: S + N·I; others
/// later, one slot apart by order, as C# does when the extra producer is missing).
fn termination_time(cur: &Round, me: &MinerInRound, i: i64) -> i64 {
    let n = cur.real_time_miners_information.len() as i64;
    let s = round::start_ms(cur).unwrap_or(0);
    if me.is_extra_block_producer {
        s + n * i
    } else {
        s + (n + 1) * i + i64::from(me.order) * i
    }
}

/// C# `NeedToChangeTerm`: ≥ C(N) miners' latest actual time lies past the current term. The
/// C# node numbers periods from the chain's start and changes term until the term number
/// catches up with them; a development chain started long after its genesis time would then
/// change term every round. Here a term ends once per period boundary (counted from the first
/// round's start): when ≥ C(N) miners mined after a boundary that passed in the current round,
/// or at the end of the round after one that passed in the previous round.
fn need_to_change_term(params: &DevelopmentParams, s: &ConsensusState) -> bool {
    let cur = &s.inner.cur;
    let n = cur.real_time_miners_information.len();
    if cur.round_number == 1 || n <= 1 || params.term_period_seconds <= 0 {
        return false;
    }
    let period = params.term_period_seconds.saturating_mul(1000);
    let period_of = |t: i64| (t - params.start_ms).div_euclid(period);
    let round_start = round::start_ms(cur).unwrap_or(params.start_ms);
    let past = cur
        .real_time_miners_information
        .iter()
        .filter_map(|e| {
            e.value
                .actual_mining_times
                .iter()
                .map(timestamp_millis)
                .max()
        })
        .filter(|t| period_of(*t) > period_of(round_start))
        .count();
    // A boundary that passed during the previous round without enough miners after it (and
    // without a term change when this round began).
    let passed_before = s.inner.prev.as_ref().is_some_and(|prev| {
        prev.term_number == cur.term_number
            && round::start_ms(prev).is_some_and(|p| period_of(round_start) > period_of(p))
    });
    past >= consent(n) || passed_before
}

fn new_round(keys: &[String], number: i64, term: i64, time: i64, interval: i64) -> Round {
    let mut r = Round::new();
    r.round_number = number;
    r.term_number = term;
    let n = keys.len();
    for (k, key) in keys.iter().enumerate() {
        let mut v = MinerInRound::new();
        v.pubkey = key.clone();
        v.order = k as i32 + 1;
        // The last of the round terminates it (never first of the next: no long runs).
        v.is_extra_block_producer = k + 1 == n;
        v.expected_mining_time =
            MessageField::some(timestamp_from_millis(time + (k as i64 + 1) * interval));
        round::push_miner(&mut r, key.clone(), v);
    }
    r
}

/// What the miner `pubkey` writes if it may produce the block at `parent_height + 1` on top of
/// `parent` at `now_ms`; `None` when it is not its turn.
pub fn next_production(
    params: &DevelopmentParams,
    parent: &ConsensusState,
    parent_height: i64,
    pubkey: &[u8],
    now_ms: i64,
) -> Option<Production> {
    let s = &*parent.inner;
    let cur = &s.cur;
    let me_key = hex::encode(pubkey);
    let me = miner(cur, &me_key)?;
    if !s.cur_full {
        return None;
    }
    let i = slot_ms(params, cur);
    let e = timestamp_millis(&me.expected_mining_time);
    let times = me.actual_mining_times.len() as i64;
    let last = me.actual_mining_times.iter().map(timestamp_millis).max();
    if now_ms >= termination_time(cur, me, i) {
        let (keys, term, b) = if need_to_change_term(params, parent) {
            let t = s.term_number + 1;
            (term_miners(params, t), t, AElfConsensusBehaviour::NEXT_TERM)
        } else {
            (
                round::keys(cur),
                s.term_number,
                AElfConsensusBehaviour::NEXT_ROUND,
            )
        };
        let mut keys = keys;
        // As C# `BreakContinuousMining`: the terminating miner does not open the next round
        // (its blocks would run on past the continuous-blocks limit).
        if keys.len() > 1 && keys[0] == me_key {
            keys.swap(0, 1);
        }
        let mut r = new_round(&keys, cur.round_number + 1, term, now_ms, i);
        r.confirmed_irreversible_block_height = s.irreversible_height;
        r.confirmed_irreversible_block_round_number = s.irreversible_round;
        r.extra_block_producer_of_previous_round = me_key;
        r.is_miner_list_just_changed = b == AElfConsensusBehaviour::NEXT_TERM;
        return Some(Production {
            consensus: info(pubkey, r, b),
            time_ms: now_ms,
        });
    }
    if now_ms < e || now_ms >= e + i {
        return None;
    }
    let m = max_blocks(s);
    if times >= m || last.is_some_and(|l| now_ms < l + i / 8) {
        return None;
    }
    let mut r = Round::new();
    r.round_number = cur.round_number;
    r.round_id_for_validation = round::round_id(cur);
    let update = times == 0 || me.out_value.is_none();
    for entry in &cur.real_time_miners_information {
        let v = entry.value.get_or_default();
        let mut w = MinerInRound::new();
        if entry.key == me_key {
            w = v.clone();
            w.expected_mining_time = MessageField::none();
            w.actual_mining_times.push(timestamp_from_millis(now_ms));
            w.produced_blocks += 1;
            w.produced_tiny_blocks += 1;
            if update {
                let in_v = in_value(&me_key, cur.round_number);
                w.out_value = hash(hash_of_hash(&in_v));
                w.signature = hash(crate::types::sha256(&in_v).0.to_vec());
                let produced_before = s
                    .prev
                    .as_ref()
                    .and_then(|p| miner(p, &me_key))
                    .is_some_and(|p| p.out_value.is_some());
                if produced_before {
                    w.previous_in_value = hash(in_value(&me_key, cur.round_number - 1));
                }
                w.supposed_order_of_next_round = v.order;
                w.final_order_of_next_round = v.order;
                w.implied_irreversible_block_height = parent_height + 1;
            }
        } else if update {
            w.pubkey = entry.key.clone();
            w.order = v.order;
            w.is_extra_block_producer = v.is_extra_block_producer;
            w.supposed_order_of_next_round = v.supposed_order_of_next_round;
            w.final_order_of_next_round = v.final_order_of_next_round;
            w.previous_in_value = v.previous_in_value.clone();
        }
        round::push_miner(&mut r, entry.key.clone(), w);
    }
    let b = if update {
        AElfConsensusBehaviour::UPDATE_VALUE
    } else {
        AElfConsensusBehaviour::TINY_BLOCK
    };
    Some(Production {
        consensus: info(pubkey, r, b),
        time_ms: now_ms,
    })
}

/// The first block the miner `pubkey` may produce on `parent` at or after `not_before_ms`:
/// tries that time, its slot's start, the next tiny-block spacing and its round-termination
/// time, in order. `None` when it is no miner of the round in force.
pub fn earliest_production(
    params: &DevelopmentParams,
    parent: &ConsensusState,
    parent_height: i64,
    pubkey: &[u8],
    not_before_ms: i64,
) -> Option<Production> {
    let cur = &parent.inner.cur;
    let me = miner(cur, &hex::encode(pubkey))?;
    let i = slot_ms(params, cur);
    let mut candidates = vec![
        not_before_ms,
        timestamp_millis(&me.expected_mining_time),
        termination_time(cur, me, i),
    ];
    if let Some(last) = me.actual_mining_times.iter().map(timestamp_millis).max() {
        candidates.push(last.saturating_add(i / 8));
    }
    candidates.retain(|t| *t >= not_before_ms);
    candidates.sort_unstable();
    candidates
        .into_iter()
        .find_map(|t| next_production(params, parent, parent_height, pubkey, t))
}
