//! The attach itself, under the attach lock: a batch of checked blocks is admitted (known,
//! contents, time), decided (the fork choice, or the last staged block for a run that extends
//! the best chain), checked by the AEDPoS rules against its parent's consensus state, and
//! committed a run at a time (one store transaction, then the consensus states, the index and
//! the events); a follower's checkpoint is stored here too. It must not check blocks itself
//! (`validate` does, on the verify threads), nor be entered without the attach lock.

use super::{
    empty_after_creation, rebuild_index, EmbeddedChain, ALLOWED_FUTURE_BLOCK_MS, PRUNE_STEP,
};
use crate::chain::aedpos::{self, ConsensusState};
use crate::chain::index::{Decision, IndexEntry};
use crate::chain::store::BlockWrite;
use crate::chain::validate::{Placement, Verdict};
use crate::chain::{AttachOutcome, BatchOutcome, Chain, ChainError, ChainEvent, ChainTip};
use crate::pb::network_types::BlockWithTransactions;
use crate::types::timestamp_millis;
use log::{debug, info};

/// A block decided and checked under the attach lock, waiting for its batch's commit.
struct Staged {
    block: BlockWithTransactions,
    placement: Placement,
    decision: Decision,
    /// The consensus state after the block, and its encoding for the store.
    state: ConsensusState,
    encoded: Vec<u8>,
}

/// Whether a block can be staged after the staged ones without asking the index: nothing is
/// staged, or it builds on the last staged block, which extended the best chain (so, once
/// committed, it is the best tip and the new block simply extends it).
fn extends_staged(staged: &[Staged], placement: &Placement) -> bool {
    staged.last().is_none_or(|last| {
        last.placement.hash == placement.parent && last.decision.outcome == AttachOutcome::Extended
    })
}

impl EmbeddedChain {
    /// Stores a follower's first block: only the checkpoint itself is taken (anything else
    /// builds on a block we do not have); its consensus state is learned from its header.
    /// Called under the attach lock.
    fn attach_checkpoint(
        &self,
        root: ChainTip,
        block: &BlockWithTransactions,
        placement: &Placement,
    ) -> Result<AttachOutcome, ChainError> {
        if placement.hash != root.hash {
            return Err(ChainError::UnknownParent {
                block: placement.hash,
                parent: placement.parent,
            });
        }
        if placement.height != root.height {
            return Err(ChainError::WrongHeight {
                block: placement.hash,
                expected: root.height,
                got: placement.height,
            });
        }
        let header = block.header.as_ref().ok_or(ChainError::MissingHeader)?;
        let state =
            ConsensusState::from_checkpoint(header).map_err(|source| ChainError::Consensus {
                block: root.hash,
                source,
            })?;
        self.store.init(
            self.settings.chain_id,
            root.hash,
            block,
            root.height,
            &state.encode(),
        )?;
        let loaded = self
            .store
            .load(self.keep_below_lib)?
            .ok_or_else(empty_after_creation)?;
        let index = rebuild_index(loaded)?;
        self.states
            .write()
            .insert(root.hash, (root.height, state.clone()));
        *self.index.write() = index;
        info!(
            "checkpoint {} at height {} stored ({} miners in round {}): following from it",
            root.hash,
            root.height,
            state.miners().len(),
            state.round_number()
        );
        self.subscribers.send(&[ChainEvent::BlockAccepted {
            hash: root.hash,
            height: root.height,
        }]);
        Ok(AttachOutcome::Extended)
    }

    /// Attaches checked blocks in order under the attach lock, stopping at the first refused.
    /// Consecutive blocks that extend the best chain one after another are stored in one
    /// write transaction; anything else (a side branch, a reorganisation, the checkpoint)
    /// first commits what is staged, so the index decides it.
    pub(super) fn attach_verified(
        &self,
        blocks: Vec<(BlockWithTransactions, Verdict)>,
    ) -> BatchOutcome {
        let _attaching = self.attach.lock();
        let mut outcomes = Vec::with_capacity(blocks.len());
        let mut staged: Vec<Staged> = Vec::new();
        // The outcomes from this position on belong to the staged blocks (until committed).
        let mut staged_from = 0;
        let mut refused = None;
        for (block, verdict) in blocks {
            let placement = match self.admit(&block, verdict) {
                Ok(Some(placement)) => placement,
                Ok(None) => {
                    outcomes.push(AttachOutcome::AlreadyKnown);
                    continue;
                }
                Err(e) => {
                    refused = Some(e);
                    break;
                }
            };
            if staged.iter().any(|s| s.placement.hash == placement.hash) {
                outcomes.push(AttachOutcome::AlreadyKnown);
                continue;
            }
            if !extends_staged(&staged, &placement) {
                if let Err(e) = self.commit(&mut staged) {
                    outcomes.truncate(staged_from);
                    refused = Some(e);
                    break;
                }
            }
            if staged.is_empty() {
                staged_from = outcomes.len();
            }
            match self.stage(&mut staged, block, placement) {
                Ok(outcome) => outcomes.push(outcome),
                Err(e) => {
                    refused = Some(e);
                    break;
                }
            }
        }
        if let Err(e) = self.commit(&mut staged) {
            outcomes.truncate(staged_from);
            refused = Some(e);
        }
        BatchOutcome { outcomes, refused }
    }

    /// The checks a block passes before the attach decides anything: its stateless verdict
    /// (a block already stored is taken as known even when its copy here is broken) and its
    /// time. `None` when the block is already stored.
    fn admit(
        &self,
        block: &BlockWithTransactions,
        verdict: Verdict,
    ) -> Result<Option<Placement>, ChainError> {
        let placement = verdict.placement?;
        if self.has_block(&placement.hash) {
            return Ok(None);
        }
        verdict.contents?;
        let time_ms = block
            .header
            .as_ref()
            .map(|h| timestamp_millis(&h.time))
            .unwrap_or(0);
        let now_ms = self.clock.now_millis();
        if time_ms > now_ms.saturating_add(ALLOWED_FUTURE_BLOCK_MS) {
            return Err(ChainError::FutureBlock {
                block: placement.hash,
                ahead_ms: time_ms - now_ms,
            });
        }
        Ok(Some(placement))
    }

    /// Decides where a checked block goes and applies the AEDPoS rules to it, against the last
    /// staged block when it builds on it (see [`extends_staged`]) and against the index
    /// otherwise (then nothing is staged). Stages it for [`EmbeddedChain::commit`].
    fn stage(
        &self,
        staged: &mut Vec<Staged>,
        block: BlockWithTransactions,
        placement: Placement,
    ) -> Result<AttachOutcome, ChainError> {
        let header = block.header.as_ref().ok_or(ChainError::MissingHeader)?;
        let (mut decision, lib_now, parent_state) = match staged.last() {
            Some(last) => {
                let expected = last.placement.height.saturating_add(1);
                if placement.height != expected {
                    return Err(ChainError::WrongHeight {
                        block: placement.hash,
                        expected,
                        got: placement.height,
                    });
                }
                let decision = Decision {
                    outcome: AttachOutcome::Extended,
                    entry: IndexEntry {
                        height: placement.height,
                        parent: placement.parent,
                        seq: last.decision.entry.seq.saturating_add(1),
                    },
                    fork_height: last.placement.height,
                    newly_canonical: vec![ChainTip {
                        hash: placement.hash,
                        height: placement.height,
                    }],
                    new_lib_height: None,
                };
                let lib_now = staged
                    .iter()
                    .filter_map(|s| s.decision.new_lib_height)
                    .max()
                    .unwrap_or_else(|| self.index.read().lib().height);
                (decision, lib_now, last.state.clone())
            }
            None => {
                // (The read guard must be gone before the checkpoint's index write.)
                let awaiting = self.index.read().awaiting_root();
                if let Some(root) = awaiting {
                    return self.attach_checkpoint(root, &block, &placement);
                }
                let (decision, lib_now) = self.place(&placement)?;
                // The parent is at or above the LIB (the fork choice refused anything below),
                // so its consensus state is kept.
                let parent_state = self.consensus_state(&placement.parent).ok_or_else(|| {
                    ChainError::Corrupt(format!(
                        "no consensus state for block {} (parent of {})",
                        placement.parent, placement.hash
                    ))
                })?;
                (decision, lib_now, parent_state)
            }
        };
        let state = aedpos::apply_header(&parent_state, header).map_err(|source| {
            ChainError::Consensus {
                block: placement.hash,
                source,
            }
        })?;
        if decision.outcome == AttachOutcome::Extended {
            let confirmed = state.irreversible_height().min(placement.height);
            if confirmed > lib_now {
                decision.new_lib_height = Some(confirmed);
            }
        }
        let outcome = decision.outcome;
        staged.push(Staged {
            encoded: state.encode(),
            block,
            placement,
            decision,
            state,
        });
        Ok(outcome)
    }

    /// The fork choice for a block whose parent is in the index (or below its window: then
    /// the block forks at or below the LIB), with the LIB height it was made against.
    fn place(&self, placement: &Placement) -> Result<(Decision, i64), ChainError> {
        let index = self.index.read();
        match index.place(placement) {
            Ok(decision) => Ok((decision, index.lib().height)),
            Err(e @ ChainError::UnknownParent { .. }) => {
                // A parent below the index's window is at or below the LIB.
                if let Some(height) = self.store.height_of(&placement.parent)? {
                    return Err(ChainError::BelowIrreversible {
                        block: placement.hash,
                        fork_height: height,
                        lib_height: index.lib().height,
                    });
                }
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    /// Stores the staged blocks in one write transaction, then records them in memory (their
    /// consensus states, the index) and sends their events. Empties `staged` either way; on a
    /// store error nothing of it was stored.
    fn commit(&self, staged: &mut Vec<Staged>) -> Result<(), ChainError> {
        if staged.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(staged);
        let writes: Vec<BlockWrite<'_>> = batch
            .iter()
            .map(|s| BlockWrite {
                hash: s.placement.hash,
                block: &s.block,
                entry: s.decision.entry,
                consensus: &s.encoded,
                best: (s.decision.outcome == AttachOutcome::Extended).then_some(s.placement.hash),
                canonical: &s.decision.newly_canonical,
                lib_height: s.decision.new_lib_height,
            })
            .collect();
        self.store.write_blocks(&writes)?;
        drop(writes);
        let new_lib = batch.iter().filter_map(|s| s.decision.new_lib_height).max();
        let mut events = Vec::new();
        {
            let mut states = self.states.write();
            for s in &batch {
                states.insert(s.placement.hash, (s.placement.height, s.state.clone()));
            }
            if let Some(lib) = new_lib {
                states.retain(|_, (height, _)| *height >= lib);
            }
        }
        {
            let mut index = self.index.write();
            for s in &batch {
                index.apply(s.placement.hash, &s.decision);
                events.extend(s.decision.newly_canonical.iter().map(|t| {
                    ChainEvent::BlockAccepted {
                        hash: t.hash,
                        height: t.height,
                    }
                }));
                if s.decision.new_lib_height.is_some() {
                    let lib = index.lib();
                    events.push(ChainEvent::NewIrreversible {
                        hash: lib.hash,
                        height: lib.height,
                    });
                }
            }
            let floor = index.lib().height - self.keep_below_lib;
            if floor >= index.root_height() + PRUNE_STEP {
                index.prune_below(floor);
            }
        }
        for s in &batch {
            if s.decision.outcome == AttachOutcome::Extended && s.decision.newly_canonical.len() > 1
            {
                info!(
                    "best chain switched branch at height {}: new tip {} at height {}",
                    s.decision.fork_height, s.placement.hash, s.placement.height
                );
            }
            debug!(
                "attached block {} at height {}: {:?}",
                s.placement.hash, s.placement.height, s.decision.outcome
            );
        }
        self.subscribers.send(&events);
        Ok(())
    }
}
