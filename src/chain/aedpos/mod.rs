//! AEDPoS from block headers: the consensus rules every attached block passes and what a
//! development miner writes. `EmbeddedChain::attach_block` applies [`apply_header`] to each
//! block against its parent's state and takes the LIB from [`ConsensusState::irreversible_height`];
//! the producer writes [`next_production`]'s data.
//!
//! Owns the consensus state a block leaves behind ([`ConsensusState`]: the round in force, the
//! previous round, the term, the continuous-blocks counter and the confirmed irreversible
//! height), the checks of a header against its parent's state ([`apply_header`], in
//! `rules.rs`), the last irreversible block rule, the state's storage encoding (`state.rs`) and
//! what the development producer writes ([`next_production`]).
//! Pure: it must not read the store, the clock or the network; the chain hands it headers and
//! keeps one state per block.
//!
//! Learning phase after a checkpoint ([`ConsensusState::from_checkpoint`]): from an
//! UPDATE_VALUE/TINY_BLOCK header only the miner keys, the round number and the round id are
//! known, so until the first NEXT_ROUND/NEXT_TERM arrives the time-slot window is not checked
//! (a wrong `round_id_for_validation` is still refused), the continuous-blocks counter is not
//! checked until a second signer has produced, a NEXT_TERM's term + 1 is not checked while the
//! term is unknown, and `previous_in_value` is not checked until a previous round was seen. The
//! irreversible height is the one NEXT_ROUND/NEXT_TERM headers carry until the 2/3 + 1 rule
//! over a whole previous round of reports yields one; from then on it is only computed.
//!

mod produce;
mod round;
mod rules;
mod state;

pub use produce::{earliest_production, in_value, next_production, term_miners};
pub use rules::{apply_header, decode_consensus, hash_of_hash, header_consensus};

use crate::pb::aedpos::{AElfConsensusBehaviour, Round};
use crate::pb::aelf_block::BlockHeader;
use std::sync::Arc;
use thiserror::Error;

/// The `extra_data` key of the consensus data.
pub const CONSENSUS_KEY: &str = "Consensus";

/// Why a header's consensus data was refused.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ConsensusError {
    #[error("the header has no consensus data")]
    Missing,
    #[error("the consensus data does not parse: {0}")]
    Unparseable(String),
    #[error("the consensus state is corrupt: {0}")]
    CorruptState(String),
    #[error("the consensus sender is not the block's signer")]
    SenderNotSigner,
    #[error("unsupported consensus behaviour {0}")]
    Behaviour(i32),
    #[error("the signer {0} is not a miner of the round")]
    NotAMiner(String),
    #[error("the header's round does not match the round in force: {0}")]
    WrongRound(String),
    #[error("the block is outside the signer's time slot: {0}")]
    TimeSlot(String),
    #[error("the signer produced too many continuous blocks")]
    TooManyContinuousBlocks,
    #[error("the update value is invalid: {0}")]
    UpdateValue(String),
}

/// The consensus state after one block. Cheap to clone.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsensusState {
    inner: Arc<StateInner>,
}

#[derive(Debug, Clone, PartialEq, Default)]
struct StateInner {
    /// The round in force (full when `cur_full`, else the stripped round of a checkpoint,
    /// patched by the headers since).
    cur: Round,
    cur_full: bool,
    /// The previous round as it ended; `None` while unknown.
    prev: Option<Round>,
    /// The miners that produced in the round before `prev` (for the max-blocks rule).
    mined_before_prev: Vec<String>,
    /// 0 while unknown.
    term_number: i64,
    irreversible_height: i64,
    irreversible_round: i64,
    /// True once the 2/3 + 1 rule gave the irreversible height (header-carried values are
    /// then no longer adopted).
    lib_computed: bool,
    /// `LatestPubkeyToTinyBlocksCount`: the last signer and its remaining count.
    counter_pubkey: String,
    counter_count: i64,
    /// False after a checkpoint until another signer resets the counter.
    counter_known: bool,
}

/// What a producer writes into its block.
#[derive(Debug, Clone, PartialEq)]
pub struct Production {
    /// The value of `extra_data["Consensus"]`.
    pub consensus: Vec<u8>,
    /// The block's time (Unix milliseconds).
    pub time_ms: i64,
}

/// The fixed parameters of a development chain's consensus (from `[chain]`). Every node of
/// the chain must agree on them: they decide the first round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevelopmentParams {
    /// The candidates' 65-byte public keys, in order.
    pub candidates: Vec<Vec<u8>>,
    /// Miners per term (0 = every candidate); term t's list starts at candidate (t − 1) mod len.
    pub miners_per_term: usize,
    /// The first round's first slot (Unix milliseconds; the genesis time).
    pub start_ms: i64,
    /// The time slot length I.
    pub mining_interval_ms: i64,
    /// A term lasts this long (C# `PeriodSeconds`, 604800 on mainnet).
    pub term_period_seconds: i64,
}

/// The deterministic key of development miner `i` (1-based). Public knowledge: for
/// development chains only.
pub fn development_key(i: u32) -> crate::crypto::NodeKey {
    let seed = crate::types::sha256(format!("aelf-net development miner {i}").as_bytes());
    crate::crypto::NodeKey::from_bytes(seed.0).unwrap_or_else(crate::crypto::NodeKey::generate)
}

impl ConsensusState {
    fn from_inner(inner: StateInner) -> ConsensusState {
        ConsensusState {
            inner: Arc::new(inner),
        }
    }

    /// The state before block 2 of a development chain: round 1 of term 1 (orders by
    /// candidate order, E_k = start + (k − 1)·I, order 1 the extra block producer).
    pub fn development(params: &DevelopmentParams) -> Result<ConsensusState, ConsensusError> {
        if params.candidates.is_empty() || params.mining_interval_ms <= 0 {
            return Err(ConsensusError::CorruptState(
                "a development chain needs candidates and a positive interval".into(),
            ));
        }
        let mut cur = Round::new();
        cur.round_number = 1;
        cur.term_number = 1;
        for (k, key) in params.candidates.iter().enumerate() {
            let mut m = crate::pb::aedpos::MinerInRound::new();
            m.order = k as i32 + 1;
            m.is_extra_block_producer = k == 0;
            m.pubkey = hex::encode(key);
            m.expected_mining_time =
                protobuf::MessageField::some(crate::types::timestamp_from_millis(
                    params.start_ms + (k as i64) * params.mining_interval_ms,
                ));
            round::push_miner(&mut cur, m.pubkey.clone(), m);
        }
        Ok(ConsensusState::from_inner(StateInner {
            cur,
            cur_full: true,
            term_number: 1,
            counter_known: true,
            ..Default::default()
        }))
    }

    /// What a follower knows after a trusted checkpoint block, from its header alone (see the
    /// module doc for what the learning phase does not check).
    pub fn from_checkpoint(header: &BlockHeader) -> Result<ConsensusState, ConsensusError> {
        let info = rules::header_consensus(header)?;
        let round = info.round.get_or_default().clone();
        let behaviour = info.behaviour.value();
        let full = behaviour == AElfConsensusBehaviour::NEXT_ROUND as i32
            || behaviour == AElfConsensusBehaviour::NEXT_TERM as i32;
        let cur_full = full && round::is_full(&round);
        Ok(ConsensusState::from_inner(StateInner {
            term_number: if full { round.term_number } else { 0 },
            irreversible_height: round.confirmed_irreversible_block_height.max(0),
            irreversible_round: round.confirmed_irreversible_block_round_number.max(0),
            cur: round,
            cur_full,
            counter_pubkey: hex::encode(&header.signer_pubkey),
            counter_known: false,
            ..Default::default()
        }))
    }

    /// The confirmed irreversible height after this block; 0 while none is known.
    pub fn irreversible_height(&self) -> i64 {
        self.inner.irreversible_height
    }

    pub fn round_number(&self) -> i64 {
        self.inner.cur.round_number
    }

    pub fn term_number(&self) -> i64 {
        self.inner.term_number
    }

    /// The miners of the round in force, hex public keys.
    pub fn miners(&self) -> Vec<String> {
        round::keys(&self.inner.cur)
    }
}

#[cfg(test)]
mod tests;
