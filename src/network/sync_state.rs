//! `SyncState`: whether this node has finished its initial sync (C# `SyncStateService`,
//! `NodeSyncStateProvider`; spec 8.6). Until it has, it serves no blocks and broadcasts no
//! blocks or announcements (transactions still go out).
//!
//! Owns the target rule: when the network is initialized, the ready peers whose LIB is at
//! least our LIB + `offset` are candidates; if they are at least ceil(2/3) of the ready peers,
//! the lowest candidate LIB is the target, otherwise (or with none) the sync is finished. While
//! syncing, an accepted block at or above the target recomputes the same way. It must not read
//! the chain or the pool: callers pass heights in.

use crossbeam_channel::{bounded, Receiver, Sender};
use parking_lot::Mutex;

/// Blocks above our LIB a peer's LIB must be to make us sync (C#
/// `NetworkConstants.DefaultInitialSyncOffset`).
pub const INITIAL_SYNC_OFFSET: i64 = 512;

/// Where the initial sync stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncStatus {
    /// The network has not been initialized yet (C# target 0).
    UnInitialized,
    /// Catching up to `target` (a peer LIB height).
    Syncing { target: i64 },
    /// Done (C# target −1).
    Finished,
}

struct State {
    status: SyncStatus,
    /// Dropped when Finished is reached, which disconnects every signal receiver.
    waiters: Option<Sender<()>>,
    signal: Receiver<()>,
}

/// See the module documentation.
pub struct SyncState {
    offset: i64,
    state: Mutex<State>,
}

impl SyncState {
    /// Uninitialized, syncing to peers at least `offset` blocks ahead.
    pub fn new(offset: i64) -> SyncState {
        let (waiters, signal) = bounded(0);
        SyncState {
            offset,
            state: Mutex::new(State {
                status: SyncStatus::UnInitialized,
                waiters: Some(waiters),
                signal,
            }),
        }
    }

    /// Already finished (a single node, tests).
    pub fn finished() -> SyncState {
        let state = SyncState::new(INITIAL_SYNC_OFFSET);
        state.set(&mut state.state.lock(), SyncStatus::Finished);
        state
    }

    pub fn status(&self) -> SyncStatus {
        self.state.lock().status
    }

    pub fn is_finished(&self) -> bool {
        self.status() == SyncStatus::Finished
    }

    fn set(&self, state: &mut State, status: SyncStatus) {
        state.status = status;
        if status == SyncStatus::Finished {
            state.waiters.take();
        }
    }

    /// The target rule (see the module documentation).
    fn target(&self, local_lib_height: i64, peer_libs: &[i64]) -> SyncStatus {
        let min_target = local_lib_height.saturating_add(self.offset);
        let mut candidates: Vec<i64> = peer_libs
            .iter()
            .copied()
            .filter(|lib| *lib >= min_target)
            .collect();
        candidates.sort_unstable();
        let Some(&lowest) = candidates.first() else {
            return SyncStatus::Finished;
        };
        // ceil(2/3 × peers) without floating point.
        let needed = (2 * peer_libs.len()).div_ceil(3);
        if candidates.len() >= needed {
            SyncStatus::Syncing { target: lowest }
        } else {
            SyncStatus::Finished
        }
    }

    /// The network is initialized: computes the first target. Only from UnInitialized;
    /// otherwise the status is returned unchanged. `peer_libs` are the ready peers' LIB heights.
    pub fn start(&self, local_lib_height: i64, peer_libs: &[i64]) -> SyncStatus {
        let mut state = self.state.lock();
        if state.status == SyncStatus::UnInitialized {
            let next = self.target(local_lib_height, peer_libs);
            self.set(&mut state, next);
        }
        state.status
    }

    /// A block was accepted and the best chain is at `best_height`: while syncing and at or
    /// above the target, the target is recomputed. Otherwise nothing changes.
    pub fn on_block_accepted(
        &self,
        best_height: i64,
        local_lib_height: i64,
        peer_libs: &[i64],
    ) -> SyncStatus {
        let mut state = self.state.lock();
        if let SyncStatus::Syncing { target } = state.status {
            if best_height >= target {
                let next = self.target(local_lib_height, peer_libs);
                self.set(&mut state, next);
            }
        }
        state.status
    }

    /// A receiver that disconnects when the sync is finished (at once if it already is).
    pub fn finished_signal(&self) -> Receiver<()> {
        self.state.lock().signal.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossbeam_channel::TryRecvError;

    #[test]
    fn no_candidate_finishes() {
        let s = SyncState::new(INITIAL_SYNC_OFFSET);
        assert_eq!(s.start(0, &[]), SyncStatus::Finished);
        let s = SyncState::new(INITIAL_SYNC_OFFSET);
        assert_eq!(s.start(10, &[100, 521]), SyncStatus::Finished);
    }

    #[test]
    fn one_high_peer_of_one_is_a_target() {
        let s = SyncState::new(INITIAL_SYNC_OFFSET);
        assert_eq!(s.start(0, &[600]), SyncStatus::Syncing { target: 600 });
        assert!(!s.is_finished());
    }

    #[test]
    fn two_thirds_of_the_peers_must_be_high_and_the_lowest_wins() {
        // 3 peers: 2 needed.
        let s = SyncState::new(INITIAL_SYNC_OFFSET);
        assert_eq!(
            s.start(0, &[700, 600, 10]),
            SyncStatus::Syncing { target: 600 }
        );
        // 4 peers: 3 needed, only 2 high.
        let s = SyncState::new(INITIAL_SYNC_OFFSET);
        assert_eq!(s.start(0, &[700, 600, 10, 20]), SyncStatus::Finished);
        // 2 peers: both needed.
        let s = SyncState::new(INITIAL_SYNC_OFFSET);
        assert_eq!(s.start(0, &[700, 10]), SyncStatus::Finished);
    }

    #[test]
    fn start_runs_once() {
        let s = SyncState::new(INITIAL_SYNC_OFFSET);
        assert_eq!(s.start(0, &[]), SyncStatus::Finished);
        assert_eq!(s.start(0, &[1000]), SyncStatus::Finished);
    }

    #[test]
    fn reaching_the_target_recomputes() {
        let s = SyncState::new(INITIAL_SYNC_OFFSET);
        s.start(0, &[600]);
        // Below the target: unchanged.
        assert_eq!(
            s.on_block_accepted(599, 591, &[1200]),
            SyncStatus::Syncing { target: 600 }
        );
        // At the target, a peer still far ahead: a new target.
        assert_eq!(
            s.on_block_accepted(600, 592, &[1200]),
            SyncStatus::Syncing { target: 1200 }
        );
        // At the new target with nobody far ahead: finished.
        assert_eq!(
            s.on_block_accepted(1200, 1192, &[1210]),
            SyncStatus::Finished
        );
        assert_eq!(s.on_block_accepted(5000, 10, &[9000]), SyncStatus::Finished);
    }

    #[test]
    fn the_signal_disconnects_when_finished() {
        let s = SyncState::new(INITIAL_SYNC_OFFSET);
        let signal = s.finished_signal();
        assert_eq!(signal.try_recv(), Err(TryRecvError::Empty));
        s.start(0, &[]);
        assert_eq!(signal.try_recv(), Err(TryRecvError::Disconnected));
        let late = s.finished_signal();
        assert_eq!(late.try_recv(), Err(TryRecvError::Disconnected));
        assert!(SyncState::finished().is_finished());
    }
}
