//! Reading an AEDPoS `Round` (the derived quantities of the C# `Round` type): miner keys,
//! expected times, the interval, the round start and the round id. Pure helpers; owns no state.

use crate::pb::aedpos::{MinerInRound, Round, RoundMinerEntry};
use crate::types::timestamp_millis;

/// The interval of a one-miner round (C# `MiningInterval` default).
pub const DEFAULT_INTERVAL_MS: i64 = 4000;

pub fn keys(round: &Round) -> Vec<String> {
    round
        .real_time_miners_information
        .iter()
        .map(|e| e.key.clone())
        .collect()
}

pub fn miner<'a>(round: &'a Round, key: &str) -> Option<&'a MinerInRound> {
    round
        .real_time_miners_information
        .iter()
        .find(|e| e.key == key)
        .map(|e| e.value.get_or_default())
}

pub fn miner_mut<'a>(round: &'a mut Round, key: &str) -> Option<&'a mut MinerInRound> {
    round
        .real_time_miners_information
        .iter_mut()
        .find(|e| e.key == key)
        .map(|e| e.value.mut_or_insert_default())
}

/// True when every miner has an expected mining time (a full round, from NEXT_ROUND/NEXT_TERM).
pub fn is_full(round: &Round) -> bool {
    !round.real_time_miners_information.is_empty()
        && round
            .real_time_miners_information
            .iter()
            .all(|e| e.value.get_or_default().expected_mining_time.is_some())
}

/// C# `RoundId`: the sum of the expected seconds when all are set, else `round_id_for_validation`.
pub fn round_id(round: &Round) -> i64 {
    if is_full(round) {
        round
            .real_time_miners_information
            .iter()
            .map(|e| e.value.get_or_default().expected_mining_time.seconds)
            .fold(0i64, i64::wrapping_add)
    } else {
        round.round_id_for_validation
    }
}

fn expected_of_order(round: &Round, order: i32) -> Option<i64> {
    round
        .real_time_miners_information
        .iter()
        .map(|e| e.value.get_or_default())
        .find(|m| m.order == order)
        .and_then(|m| m.expected_mining_time.as_ref().map(timestamp_millis))
}

/// I = |E(order 2) − E(order 1)|; 4000 ms for one miner.
pub fn interval_ms(round: &Round) -> i64 {
    match (expected_of_order(round, 1), expected_of_order(round, 2)) {
        (Some(a), Some(b)) => (b - a).abs(),
        _ => DEFAULT_INTERVAL_MS,
    }
}

/// S = E(order 1).
pub fn start_ms(round: &Round) -> Option<i64> {
    expected_of_order(round, 1)
}

/// C# `CheckRoundTimeSlots`: all expected times set, g = E₂−E₁ > 0 (for more than one
/// miner), each later gap within g of g.
pub fn check_round_time_slots(round: &Round) -> bool {
    if !is_full(round) {
        return false;
    }
    let mut times: Vec<(i32, i64)> = round
        .real_time_miners_information
        .iter()
        .map(|e| {
            let m = e.value.get_or_default();
            (m.order, timestamp_millis(&m.expected_mining_time))
        })
        .collect();
    times.sort();
    if times.len() == 1 {
        return true;
    }
    let g = times[1].1 - times[0].1;
    if g <= 0 {
        return false;
    }
    times
        .windows(2)
        .skip(1)
        .all(|w| ((w[1].1 - w[0].1) - g).abs() <= g)
}

/// Consent C(N) = ⌊2N/3⌋ + 1.
pub fn consent(n: usize) -> usize {
    n * 2 / 3 + 1
}

/// The keys of the miners that produced in `round` (supposed order of next round set).
pub fn mined(round: &Round) -> Vec<String> {
    round
        .real_time_miners_information
        .iter()
        .filter(|e| e.value.get_or_default().supposed_order_of_next_round != 0)
        .map(|e| e.key.clone())
        .collect()
}

/// Appends miner `key` with `value` to `round`.
pub fn push_miner(round: &mut Round, key: String, value: MinerInRound) {
    let mut e = RoundMinerEntry::new();
    e.key = key;
    e.value = protobuf::MessageField::some(value);
    round.real_time_miners_information.push(e);
}
