//! The in-memory block index and the fork choice.
//!
//! Owns, for every block from the root up (the root: genesis, a follower's checkpoint, or — once
//! the chain has grown — a block a bounded window below the LIB), its height, parent and
//! arrival sequence, the best chain as a height → hash list from the root, and the LIB height
//! (set by the caller from the consensus state; the index only keeps it from going backwards).
//! Blocks below the root live in the store only (`embedded` asks it); memory stays bounded by
//! the blocks above the LIB plus the window. Decides where a new block goes (best chain, side
//! branch, or refused) without changing anything ([`BlockIndex::place`]); the change is applied
//! only after the store has committed it ([`BlockIndex::apply`]). It must not read or write the
//! store, nor hold block bodies.

use super::validate::Placement;
use super::{AttachOutcome, ChainError, ChainTip};
use crate::types::Hash;
use std::collections::{HashMap, HashSet};

/// What the index remembers of a stored block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct IndexEntry {
    pub height: i64,
    pub parent: Hash,
    /// Arrival order (0 for genesis). Fork choice keeps the first-seen block on equal heights by
    /// never switching on a tie; the sequence records that order in the store (for diagnostics
    /// and any later tie rule) without deciding anything itself.
    pub seq: u64,
}

/// The decision for one new block, computed without changing the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Decision {
    /// [`AttachOutcome::Extended`] or [`AttachOutcome::SideBranch`].
    pub outcome: AttachOutcome,
    /// The new block's index entry.
    pub entry: IndexEntry,
    /// When extended: the height of the last block the old and new best chains share.
    pub fork_height: i64,
    /// When extended: the blocks that become canonical, in height order (the new block last).
    pub newly_canonical: Vec<ChainTip>,
    /// The new LIB height, when it advances (the caller fills it in from the consensus state).
    pub new_lib_height: Option<i64>,
}

/// Every stored block's place, and the best chain.
#[derive(Debug)]
pub(super) struct BlockIndex {
    entries: HashMap<Hash, IndexEntry>,
    /// `canonical[i]` is the best chain's block at height `root_height + i`.
    canonical: Vec<Hash>,
    /// The height of the first stored block (1 for genesis).
    root_height: i64,
    /// A follower's checkpoint while it is not stored yet: the index is empty and names it as
    /// its best block and LIB.
    awaiting: Option<Hash>,
    /// Blocks no stored block builds on (every branch's tip, the best one included), with
    /// their heights.
    tips: HashMap<Hash, i64>,
    lib_height: i64,
    next_seq: u64,
}

impl BlockIndex {
    /// Rebuilds the index from the stored entries at and above the root (the first block the
    /// index holds: genesis, a follower's checkpoint, or the best chain's block at the floor
    /// below the LIB), the best tip and the stored LIB height. Fails (as corrupt) when a block
    /// above the root has no parent or the best chain does not lead back to the root.
    pub fn rebuild(
        entries: HashMap<Hash, IndexEntry>,
        genesis: Hash,
        best: Hash,
        stored_lib_height: i64,
    ) -> Result<BlockIndex, ChainError> {
        let root_height = entries
            .get(&genesis)
            .ok_or_else(|| ChainError::Corrupt(format!("root block {genesis} is not stored")))?
            .height;
        for (hash, e) in &entries {
            if e.height > root_height && !entries.contains_key(&e.parent) {
                return Err(ChainError::Corrupt(format!(
                    "block {hash} at height {} has no stored parent {}",
                    e.height, e.parent
                )));
            }
        }
        let best_height = entries
            .get(&best)
            .ok_or_else(|| ChainError::Corrupt(format!("best block {best} is not stored")))?
            .height;
        // A best chain of height h holds h − root + 1 distinct blocks: a larger height is
        // corrupt (and must not size an allocation).
        let len = best_height
            .checked_sub(root_height)
            .and_then(|d| d.checked_add(1))
            .and_then(|n| usize::try_from(n).ok())
            .filter(|&len| len >= 1 && len <= entries.len())
            .ok_or_else(|| {
                ChainError::Corrupt(format!(
                    "best height {best_height} with {} stored blocks",
                    entries.len()
                ))
            })?;
        let mut canonical = vec![Hash::ZERO; len];
        let mut cur = best;
        for slot in canonical.iter_mut().rev() {
            *slot = cur;
            cur = entries.get(&cur).map(|e| e.parent).unwrap_or(Hash::ZERO);
        }
        if canonical.first() != Some(&genesis) {
            return Err(ChainError::Corrupt(format!(
                "best chain from {best} does not lead back to genesis {genesis}"
            )));
        }
        let next_seq = entries.values().map(|e| e.seq).max().unwrap_or(0) + 1;
        let parents: HashSet<Hash> = entries.values().map(|e| e.parent).collect();
        let tips = entries
            .iter()
            .filter(|(hash, _)| !parents.contains(*hash))
            .map(|(hash, e)| (*hash, e.height))
            .collect();
        let mut index = BlockIndex {
            entries,
            canonical,
            root_height,
            awaiting: None,
            tips,
            lib_height: root_height,
            next_seq,
        };
        index.lib_height = stored_lib_height.clamp(root_height, best_height);
        Ok(index)
    }

    /// An empty index waiting for its root block `root` (a follower's checkpoint).
    pub fn awaiting(root: ChainTip) -> BlockIndex {
        BlockIndex {
            entries: HashMap::new(),
            canonical: Vec::new(),
            root_height: root.height,
            awaiting: Some(root.hash),
            tips: HashMap::new(),
            lib_height: root.height,
            next_seq: 1,
        }
    }

    /// The root block the index waits for, when it holds nothing yet.
    pub fn awaiting_root(&self) -> Option<ChainTip> {
        self.awaiting.map(|hash| ChainTip {
            hash,
            height: self.root_height,
        })
    }

    pub fn contains(&self, hash: &Hash) -> bool {
        self.entries.contains_key(hash)
    }

    pub fn best(&self) -> ChainTip {
        if let Some(root) = self.awaiting_root() {
            return root;
        }
        let height = self.best_height();
        ChainTip {
            hash: self.canonical_at(height).unwrap_or(Hash::ZERO),
            height,
        }
    }

    pub fn lib(&self) -> ChainTip {
        if let Some(root) = self.awaiting_root() {
            return root;
        }
        ChainTip {
            hash: self.canonical_at(self.lib_height).unwrap_or(Hash::ZERO),
            height: self.lib_height,
        }
    }

    /// The best chain's block at `height`.
    pub fn canonical_at(&self, height: i64) -> Option<Hash> {
        let i = usize::try_from(height.checked_sub(self.root_height)?).ok()?;
        self.canonical.get(i).copied()
    }

    /// Up to `max` best-chain hashes after `hash`, when `hash` is on the best chain.
    pub fn canonical_after(&self, hash: &Hash, max: usize) -> Vec<Hash> {
        match self.entries.get(hash) {
            Some(e) if self.canonical_at(e.height) == Some(*hash) => {
                // `e.height − root + 1` is the index into `canonical` of the next block.
                let start = usize::try_from(e.height - self.root_height + 1).unwrap_or(usize::MAX);
                self.canonical
                    .iter()
                    .skip(start)
                    .take(max)
                    .copied()
                    .collect()
            }
            _ => Vec::new(),
        }
    }

    /// Where `block` goes, or why it cannot: its parent must be known, its height one above
    /// the parent's, and its branch must leave the best chain at or above the LIB. The highest
    /// block wins; on equal height the current best stays.
    pub fn place(&self, block: &Placement) -> Result<Decision, ChainError> {
        let parent = self
            .entries
            .get(&block.parent)
            .ok_or(ChainError::UnknownParent {
                block: block.hash,
                parent: block.parent,
            })?;
        let expected = parent.height.saturating_add(1);
        if block.height != expected {
            return Err(ChainError::WrongHeight {
                block: block.hash,
                expected,
                got: block.height,
            });
        }
        // Walk down the new block's branch to the best chain. Every stored side branch left the
        // best chain at or above the LIB of its time, so the walk is at most `best − LIB` steps.
        let mut branch = Vec::new();
        let (mut cur, mut cur_height) = (block.parent, parent.height);
        while self.canonical_at(cur_height) != Some(cur) {
            branch.push(ChainTip {
                hash: cur,
                height: cur_height,
            });
            // Below the root (at or below the LIB): a fork the LIB excludes.
            let Some(e) = self
                .entries
                .get(&cur)
                .filter(|_| cur_height > self.root_height)
            else {
                return Err(ChainError::BelowIrreversible {
                    block: block.hash,
                    fork_height: cur_height.saturating_sub(1),
                    lib_height: self.lib_height,
                });
            };
            cur = e.parent;
            cur_height = cur_height.saturating_sub(1);
        }
        if cur_height < self.lib_height {
            return Err(ChainError::BelowIrreversible {
                block: block.hash,
                fork_height: cur_height,
                lib_height: self.lib_height,
            });
        }
        let entry = IndexEntry {
            height: block.height,
            parent: block.parent,
            seq: self.next_seq,
        };
        if block.height <= self.best_height() {
            return Ok(Decision {
                outcome: AttachOutcome::SideBranch,
                entry,
                fork_height: cur_height,
                newly_canonical: Vec::new(),
                new_lib_height: None,
            });
        }
        branch.reverse();
        branch.push(ChainTip {
            hash: block.hash,
            height: block.height,
        });
        Ok(Decision {
            outcome: AttachOutcome::Extended,
            entry,
            fork_height: cur_height,
            newly_canonical: branch,
            new_lib_height: None,
        })
    }

    /// Records a decision from [`BlockIndex::place`] once the store holds it.
    pub fn apply(&mut self, hash: Hash, decision: &Decision) {
        self.entries.insert(hash, decision.entry);
        self.tips.remove(&decision.entry.parent);
        self.tips.insert(hash, decision.entry.height);
        self.next_seq = self.next_seq.max(decision.entry.seq.saturating_add(1));
        if decision.outcome == AttachOutcome::Extended {
            let keep = usize::try_from(decision.fork_height - self.root_height + 1).unwrap_or(0);
            self.canonical.truncate(keep);
            self.canonical
                .extend(decision.newly_canonical.iter().map(|t| t.hash));
        }
        if let Some(lib) = decision.new_lib_height {
            self.lib_height = self.lib_height.max(lib.min(self.best_height()));
        }
    }

    /// Forgets the blocks below `floor` (at most the LIB): the best chain's hashes and every
    /// entry and tip below it; the store keeps them.
    pub fn prune_below(&mut self, floor: i64) {
        if floor <= self.root_height || floor > self.lib_height || self.awaiting.is_some() {
            return;
        }
        let drop = usize::try_from(floor - self.root_height).unwrap_or(0);
        self.canonical.drain(..drop.min(self.canonical.len()));
        self.root_height = floor;
        self.entries.retain(|_, e| e.height >= floor);
        self.tips.retain(|_, h| *h >= floor);
    }

    /// The height of the first block held in memory.
    pub fn root_height(&self) -> i64 {
        self.root_height
    }

    /// How many blocks the index holds in memory.
    pub fn in_memory(&self) -> usize {
        self.entries.len()
    }

    /// The tips of the branches still open: above the LIB (a branch below it can never
    /// become best), plus the best tip itself; highest first (C# `Chain.Branches`).
    pub fn branches(&self) -> Vec<ChainTip> {
        let best = self.best();
        let mut tips: Vec<ChainTip> = self
            .tips
            .iter()
            .filter(|(hash, height)| **height > self.lib_height || **hash == best.hash)
            .map(|(hash, height)| ChainTip {
                hash: *hash,
                height: *height,
            })
            .collect();
        tips.sort_by(|a, b| b.height.cmp(&a.height).then(a.hash.0.cmp(&b.hash.0)));
        tips
    }

    fn best_height(&self) -> i64 {
        i64::try_from(self.canonical.len())
            .unwrap_or(i64::MAX)
            .saturating_add(self.root_height - 1)
    }

    /// Every indexed block at or above `height` (any branch), with its height.
    pub fn blocks_from(&self, height: i64) -> Vec<(Hash, i64)> {
        self.entries
            .iter()
            .filter(|(_, e)| e.height >= height)
            .map(|(hash, e)| (*hash, e.height))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::sha256;

    fn h(name: &str) -> Hash {
        sha256(name.as_bytes())
    }

    /// g ← a2 ← a3, LIB at a2.
    fn index() -> BlockIndex {
        let mut entries = HashMap::new();
        let e = |height, parent, seq| IndexEntry {
            height,
            parent,
            seq,
        };
        entries.insert(h("g"), e(1, Hash::ZERO, 0));
        entries.insert(h("a2"), e(2, h("g"), 1));
        entries.insert(h("a3"), e(3, h("a2"), 2));
        BlockIndex::rebuild(entries, h("g"), h("a3"), 2).unwrap()
    }

    fn placement(hash: &str, parent: &str, height: i64) -> Placement {
        Placement {
            hash: h(hash),
            parent: h(parent),
            height,
        }
    }

    #[test]
    fn rebuild_restores_the_best_chain_and_lib() {
        let i = index();
        assert_eq!(
            i.best(),
            ChainTip {
                hash: h("a3"),
                height: 3
            }
        );
        assert_eq!(
            i.lib(),
            ChainTip {
                hash: h("a2"),
                height: 2
            }
        );
        assert_eq!(i.canonical_after(&h("g"), 10), vec![h("a2"), h("a3")]);
        assert_eq!(i.canonical_after(&h("g"), 1), vec![h("a2")]);
        assert!(i.canonical_after(&h("zz"), 10).is_empty());
        assert_eq!(i.canonical_at(0), None);
        assert_eq!(i.canonical_at(i64::MIN), None);
        assert_eq!(i.next_seq, 3);
    }

    #[test]
    fn rebuild_rejects_orphans_and_broken_chains() {
        let mut entries = HashMap::new();
        entries.insert(
            h("g"),
            IndexEntry {
                height: 1,
                parent: Hash::ZERO,
                seq: 0,
            },
        );
        entries.insert(
            h("x"),
            IndexEntry {
                height: 3,
                parent: h("nope"),
                seq: 1,
            },
        );
        let err = BlockIndex::rebuild(entries.clone(), h("g"), h("g"), 1).unwrap_err();
        assert!(matches!(err, ChainError::Corrupt(_)));
        entries.remove(&h("x"));
        let err = BlockIndex::rebuild(entries, h("g"), h("missing"), 1).unwrap_err();
        assert!(matches!(err, ChainError::Corrupt(_)));
    }

    #[test]
    fn extension_side_branch_and_reorg() {
        let mut i = index();
        let d = i.place(&placement("b3", "a2", 3)).unwrap();
        assert_eq!(d.outcome, AttachOutcome::SideBranch);
        i.apply(h("b3"), &d);
        let tip = |name, height| ChainTip {
            hash: h(name),
            height,
        };
        // Two open branches of equal height (LIB 2): listed in hash order after height.
        let mut both = vec![tip("a3", 3), tip("b3", 3)];
        both.sort_by_key(|t| t.hash.0);
        assert_eq!(i.branches(), both);
        let mut d = i.place(&placement("b4", "b3", 4)).unwrap();
        assert_eq!(d.outcome, AttachOutcome::Extended);
        assert_eq!(d.fork_height, 2);
        let hashes: Vec<_> = d.newly_canonical.iter().map(|t| t.hash).collect();
        assert_eq!(hashes, vec![h("b3"), h("b4")]);
        assert_eq!(d.new_lib_height, None, "the consensus sets the LIB");
        d.new_lib_height = Some(3);
        i.apply(h("b4"), &d);
        assert_eq!(
            i.best(),
            ChainTip {
                hash: h("b4"),
                height: 4
            }
        );
        assert_eq!(i.canonical_at(3), Some(h("b3")));
        assert_eq!(
            i.lib(),
            ChainTip {
                hash: h("b3"),
                height: 3
            }
        );
        // a3's branch is now at the LIB height: closed, so only the best tip is listed.
        assert_eq!(i.branches(), vec![tip("b4", 4)]);
        // a3's branch now forks at 2, below the LIB at 3.
        assert!(matches!(
            i.place(&placement("a4", "a3", 4)),
            Err(ChainError::BelowIrreversible {
                fork_height: 2,
                lib_height: 3,
                ..
            })
        ));
    }

    #[test]
    fn parent_and_height_rules() {
        let i = index();
        assert!(matches!(
            i.place(&placement("x", "unknown", 2)),
            Err(ChainError::UnknownParent { .. })
        ));
        assert!(matches!(
            i.place(&placement("x", "a3", 5)),
            Err(ChainError::WrongHeight {
                expected: 4,
                got: 5,
                ..
            })
        ));
    }
}
