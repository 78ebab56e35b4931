//! Unit tests of the follower's rules: the real mainnet header as a checkpoint, a hand-built
//! 3-miner chain accepted block by block with its LIB, and the refusals.

use super::round;
use super::*;
use crate::pb::aedpos::{AElfConsensusHeaderInformation, MinerInRound};
use crate::pb::aelf_block::BlockHeaderExtraDataEntry;
use crate::pb::aelf_core::Hash as PbHash;
use crate::types::timestamp_from_millis;
use protobuf::{Message, MessageField};

const START: i64 = 1_000_000_000;
const I: i64 = 4000;

fn key(i: u32) -> Vec<u8> {
    development_key(i).pubkey().to_vec()
}

fn params() -> DevelopmentParams {
    DevelopmentParams {
        candidates: (1..=3).map(key).collect(),
        miners_per_term: 0,
        start_ms: START,
        mining_interval_ms: I,
        term_period_seconds: 604800,
    }
}

fn pb_hash(v: Vec<u8>) -> MessageField<PbHash> {
    let mut h = PbHash::new();
    h.value = v;
    MessageField::some(h)
}

fn in_value(miner: u32, round: i64) -> Vec<u8> {
    crate::types::sha256(format!("{miner}/{round}").as_bytes())
        .0
        .to_vec()
}

fn header(
    signer: &[u8],
    sender: &[u8],
    height: i64,
    info: AElfConsensusHeaderInformation,
) -> BlockHeader {
    let mut info = info;
    info.sender_pubkey = sender.to_vec();
    let mut h = BlockHeader::new();
    h.height = height;
    h.signer_pubkey = signer.to_vec();
    let mut e = BlockHeaderExtraDataEntry::new();
    e.key = CONSENSUS_KEY.into();
    e.value = info.write_to_bytes().unwrap();
    h.extra_data.push(e);
    h
}

/// The stripped UPDATE_VALUE round miner `m` writes at `time`.
fn update_value(
    s: &ConsensusState,
    m: u32,
    height: i64,
    time: i64,
) -> AElfConsensusHeaderInformation {
    let cur = &s.inner.cur;
    let mut r = Round::new();
    r.round_number = cur.round_number;
    r.round_id_for_validation = round::round_id(cur);
    let me = hex::encode(key(m));
    for e in &cur.real_time_miners_information {
        let mut v = MinerInRound::new();
        v.pubkey = e.key.clone();
        v.order = e.value.order;
        v.supposed_order_of_next_round = e.value.supposed_order_of_next_round;
        v.final_order_of_next_round = e.value.final_order_of_next_round;
        if e.key == me {
            v.out_value = pb_hash(hash_of_hash(&in_value(m, cur.round_number)));
            v.signature = pb_hash(vec![7; 32]);
            if cur.round_number > 1 {
                v.previous_in_value = pb_hash(in_value(m, cur.round_number - 1));
            }
            v.supposed_order_of_next_round = e.value.order;
            v.final_order_of_next_round = e.value.order;
            v.actual_mining_times.push(timestamp_from_millis(time));
            v.implied_irreversible_block_height = height;
            v.produced_blocks = 1;
        }
        round::push_miner(&mut r, e.key.clone(), v);
    }
    let mut info = AElfConsensusHeaderInformation::new();
    info.round = MessageField::some(r);
    info.behaviour = AElfConsensusBehaviour::UPDATE_VALUE.into();
    info
}

fn tiny(s: &ConsensusState, m: u32, times: &[i64]) -> AElfConsensusHeaderInformation {
    let mut info = update_value(s, m, 0, 0);
    let r = info.round.mut_or_insert_default();
    let me = hex::encode(key(m));
    for e in &mut r.real_time_miners_information {
        let v = e.value.mut_or_insert_default();
        *v = MinerInRound::new();
        if e.key == me {
            v.pubkey = me.clone();
            v.actual_mining_times = times.iter().map(|t| timestamp_from_millis(*t)).collect();
        }
    }
    info.behaviour = AElfConsensusBehaviour::TINY_BLOCK.into();
    info
}

/// A full next round of `miners` anchored at `time`: E_k = time + k·I.
fn new_round(
    s: &ConsensusState,
    miners: &[u32],
    time: i64,
    number: i64,
    term: i64,
    behaviour: AElfConsensusBehaviour,
) -> AElfConsensusHeaderInformation {
    let mut r = Round::new();
    r.round_number = number;
    r.term_number = term;
    r.confirmed_irreversible_block_height = s.irreversible_height();
    for (k, m) in miners.iter().enumerate() {
        let mut v = MinerInRound::new();
        v.pubkey = hex::encode(key(*m));
        v.order = k as i32 + 1;
        v.is_extra_block_producer = k == 0;
        v.expected_mining_time =
            MessageField::some(timestamp_from_millis(time + (k as i64 + 1) * I));
        round::push_miner(&mut r, v.pubkey.clone(), v);
    }
    let mut info = AElfConsensusHeaderInformation::new();
    info.round = MessageField::some(r);
    info.behaviour = behaviour.into();
    info
}

fn next_round(s: &ConsensusState, time: i64) -> AElfConsensusHeaderInformation {
    new_round(
        s,
        &[1, 2, 3],
        time,
        s.round_number() + 1,
        s.term_number(),
        AElfConsensusBehaviour::NEXT_ROUND,
    )
}

fn apply(
    s: &ConsensusState,
    m: u32,
    height: i64,
    info: AElfConsensusHeaderInformation,
) -> Result<ConsensusState, ConsensusError> {
    apply_header(s, &header(&key(m), &key(m), height, info))
}

fn expected(s: &ConsensusState, m: u32) -> i64 {
    crate::types::timestamp_millis(
        &round::miner(&s.inner.cur, &hex::encode(key(m)))
            .unwrap()
            .expected_mining_time,
    )
}

/// Rounds 1 and 2 (heights 2..=8) and round 3's NEXT_ROUND (height 9, by miner 3); returns the
/// states after each block, index = height.
fn three_rounds() -> Vec<ConsensusState> {
    let mut states = vec![ConsensusState::development(&params()).unwrap(); 2];
    let mut h = 2;
    for _round in 0..2 {
        for m in 1..=3 {
            let s = states.last().unwrap().clone();
            let t = expected(&s, m);
            states.push(apply(&s, m, h, update_value(&s, m, h, t)).unwrap());
            h += 1;
        }
        let s = states.last().unwrap().clone();
        let t = expected(&s, 3) + I;
        let by = if s.round_number() == 1 { 1 } else { 3 };
        states.push(apply(&s, by, h, next_round(&s, t)).unwrap());
        h += 1;
    }
    states
}

#[test]
fn a_three_miner_chain_is_accepted_and_its_lib_follows_the_two_thirds_rule() {
    let states = three_rounds();
    // Round 1 (heights 2–4) has no previous round: no LIB.
    for s in &states[..=8] {
        if s.round_number() < 2 {
            assert_eq!(s.irreversible_height(), 0);
        }
    }
    // Round 2: heights 6, 7 report with 1 and 2 producers (< C(3) = 3); height 8 completes it:
    // the implied heights of round 1 are 2, 3, 4 → hs[(3 − 1) / 3] = 2.
    assert_eq!(states[6].irreversible_height(), 0);
    assert_eq!(states[7].irreversible_height(), 0);
    assert_eq!(states[8].irreversible_height(), 2);
    assert_eq!(states[9].round_number(), 3);
    // Round 3: implied heights 6, 7, 8 → 6 once all three reported (best − 8 would be 4).
    let mut s = states[9].clone();
    for (i, m) in (1..=3).enumerate() {
        let h = 10 + i as i64;
        let t = expected(&s, m);
        s = apply(&s, m, h, update_value(&s, m, h, t)).unwrap();
        let want = if m == 3 { 6 } else { 2 };
        assert_eq!(s.irreversible_height(), want, "at height {h}");
    }
}

#[test]
fn refusals() {
    let states = three_rounds();
    let s = &states[9]; // round 3 in force, miner 1's slot next
    let t1 = expected(s, 1);
    // A non-miner signer.
    assert!(matches!(
        apply(s, 4, 10, update_value(s, 1, 10, t1)),
        Err(ConsensusError::NotAMiner(_))
    ));
    // Unparseable data, missing data, sender ≠ signer.
    let mut bad = header(&key(1), &key(1), 10, update_value(s, 1, 10, t1));
    bad.extra_data[0].value = vec![0xff, 0xff, 0xff];
    assert!(matches!(
        apply_header(s, &bad),
        Err(ConsensusError::Unparseable(_))
    ));
    bad.extra_data.clear();
    assert_eq!(apply_header(s, &bad), Err(ConsensusError::Missing));
    let other = header(&key(1), &key(2), 10, update_value(s, 1, 10, t1));
    assert_eq!(
        apply_header(s, &other),
        Err(ConsensusError::SenderNotSigner)
    );
    // A wrong round_id_for_validation.
    let mut wrong = update_value(s, 1, 10, t1);
    wrong.round.mut_or_insert_default().round_id_for_validation += 1;
    assert!(matches!(
        apply(s, 1, 10, wrong),
        Err(ConsensusError::WrongRound(_))
    ));
    // Miner 2 producing in miner 1's slot.
    assert!(matches!(
        apply(s, 2, 10, update_value(s, 2, 10, t1)),
        Err(ConsensusError::TimeSlot(_))
    ));
    // The right block passes.
    assert!(apply(s, 1, 10, update_value(s, 1, 10, t1)).is_ok());
    // NEXT_ROUND with a wrong number; NEXT_TERM from a non-miner.
    let t = expected(s, 3) + I;
    let skip = new_round(
        s,
        &[1, 2, 3],
        t,
        s.round_number() + 2,
        1,
        AElfConsensusBehaviour::NEXT_ROUND,
    );
    assert!(matches!(
        apply(s, 1, 10, skip),
        Err(ConsensusError::WrongRound(_))
    ));
    let term = new_round(
        s,
        &[1, 2, 4],
        t,
        s.round_number() + 1,
        2,
        AElfConsensusBehaviour::NEXT_TERM,
    );
    assert!(matches!(
        apply(s, 4, 10, term.clone()),
        Err(ConsensusError::NotAMiner(_))
    ));
    assert!(apply(s, 1, 10, term).is_ok());
}

#[test]
fn more_than_m_plus_one_continuous_blocks_are_refused() {
    let states = three_rounds();
    let mut s = states[9].clone();
    let t1 = expected(&s, 1);
    s = apply(&s, 1, 10, update_value(&s, 1, 10, t1)).unwrap();
    let mut times = vec![t1];
    for j in 1..=8 {
        times.push(t1 + j * 400);
        s = apply(&s, 1, 10 + j, tiny(&s, 1, &times)).unwrap_or_else(|e| panic!("tiny {j}: {e}"));
    }
    times.push(t1 + 9 * 400);
    assert_eq!(
        apply(&s, 1, 19, tiny(&s, 1, &times)),
        Err(ConsensusError::TooManyContinuousBlocks)
    );
}

#[test]
fn a_term_change_installs_the_new_miner_list() {
    let states = three_rounds();
    let s = &states[9];
    let t = expected(s, 3) + I;
    let term = new_round(
        s,
        &[2, 3, 4],
        t,
        s.round_number() + 1,
        2,
        AElfConsensusBehaviour::NEXT_TERM,
    );
    let after = apply(s, 1, 10, term).unwrap();
    assert_eq!(after.term_number(), 2);
    let want: Vec<String> = [2, 3, 4].iter().map(|m| hex::encode(key(*m))).collect();
    assert_eq!(after.miners(), want);
    // The new miner produces in its slot; the old miner 1 is no longer one.
    let t4 = expected(&after, 4);
    assert!(apply(&after, 4, 11, update_value(&after, 4, 11, t4)).is_ok());
    assert!(matches!(
        apply(&after, 1, 11, update_value(&after, 4, 11, t4)),
        Err(ConsensusError::NotAMiner(_))
    ));
}

#[test]
fn the_state_encodes_round_trip_and_garbage_is_an_error() {
    for s in three_rounds() {
        let bytes = s.encode();
        assert_eq!(ConsensusState::decode(&bytes).unwrap(), s);
        for cut in 0..bytes.len() {
            assert!(ConsensusState::decode(&bytes[..cut]).is_err());
        }
    }
    assert!(ConsensusState::decode(&[1, 0xff, 0xff, 0xff, 0xff]).is_err());
}

#[test]
fn the_mainnet_header_is_a_checkpoint_of_19_miners() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/testdata/aelf-real/block_aelf_mainnet_136240697.json"
    );
    let text = std::fs::read_to_string(path).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let header = crate::inspect::dto::header_from_json(&json["block_dto"]["Header"]).unwrap();
    let s = ConsensusState::from_checkpoint(&header).unwrap();
    assert_eq!(s.miners().len(), 19);
    assert_eq!(s.round_number(), 1834151);
    assert_eq!(s.irreversible_height(), 0);
    // The learning phase: the same header applied again is accepted by its signer (a tiny
    // block of the same round), refused when signed by someone else.
    assert!(apply_header(&s, &header).is_ok());
    let mut forged = header.clone();
    forged.signer_pubkey = key(1);
    assert_eq!(
        apply_header(&s, &forged),
        Err(ConsensusError::SenderNotSigner)
    );
}

/// Drives `next_production` for miners 1..=3 from `now`, one attempt every `step` ms, and
/// applies what they write; returns the heights and states.
fn produce_chain(
    p: &DevelopmentParams,
    until_height: i64,
    now: i64,
    step: i64,
) -> Vec<ConsensusState> {
    let mut s = ConsensusState::development(p).unwrap();
    let mut states = vec![s.clone(), s.clone()];
    let mut height = 1;
    let mut t = now;
    while height < until_height {
        for m in 1..=3 {
            if let Some(prod) = next_production(p, &s, height, &key(m), t) {
                let info =
                    AElfConsensusHeaderInformation::parse_from_bytes(&prod.consensus).unwrap();
                s = apply_header(&s, &header(&key(m), &key(m), height + 1, info))
                    .unwrap_or_else(|e| panic!("height {}: {e}", height + 1));
                height += 1;
                states.push(s.clone());
                break;
            }
        }
        t += step;
    }
    states
}

#[test]
fn the_development_producer_writes_a_chain_the_rules_accept_and_its_lib_advances() {
    // Start long after genesis: the first block terminates round 1 late (no empty rounds).
    let states = produce_chain(&params(), 80, START + 1_000 * I, I / 8);
    assert!(
        states[2].round_number() == 2,
        "caught up in one round change"
    );
    let last = states.last().unwrap();
    assert!(last.round_number() > 3);
    // Height 2 ends round 1; each 8-block slot opens with an UPDATE_VALUE: round 2 at 3, 11,
    // 19 (NEXT_ROUND at 27), round 3 at 28, 36, 44, round 4 at 53, 61, 69. At 44 all three
    // have reported twice: LIB = min(3, 11, 19) = 3; at 69: min(28, 36, 44) = 28 (best − 8
    // would be 72).
    assert_eq!(states[43].irreversible_height(), 0);
    assert_eq!(states[44].irreversible_height(), 3);
    assert_eq!(states[68].irreversible_height(), 3);
    assert_eq!(states[69].irreversible_height(), 28);
    assert_eq!(last.irreversible_height(), 28);
    let mut prev = 0;
    for s in &states {
        assert!(s.irreversible_height() >= prev);
        prev = s.irreversible_height();
    }
}

#[test]
fn when_the_term_period_has_elapsed_the_producer_changes_term_and_the_miner_list_rotates() {
    let mut p = params();
    p.miners_per_term = 2;
    p.term_period_seconds = 1;
    let states = produce_chain(&p, 60, START + 1_000 * I, I / 8);
    let terms: Vec<i64> = states.iter().map(|s| s.term_number()).collect();
    let changed = states
        .iter()
        .find(|s| s.term_number() == 2)
        .expect("term 2 was reached");
    let mut want = changed.miners();
    want.sort();
    let mut listed = term_miners(&p, 2);
    listed.sort();
    assert_eq!(want, listed);
    assert!(
        states.last().unwrap().term_number() >= 3,
        "terms: {terms:?}"
    );
    assert_eq!(
        term_miners(&p, 2),
        vec![hex::encode(key(2)), hex::encode(key(3))]
    );
    assert!(terms.windows(2).all(|w| w[1] == w[0] || w[1] == w[0] + 1));
}
