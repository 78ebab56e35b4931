//! `Scheduler`: the `scheduler` thread that owns the node's periodic work (spec 8): expiry of
//! unconfirmed peers and of bans, reconnection of lost peers, health checks, discovery, the
//! clock check, and the judging of reported offences (penalties and reputation).
//!
//! The thread itself never waits on the network. Everything that may block — dials, pings,
//! health checks, a discovery round, disconnecting a peer — runs on the `scheduler-<i>`
//! workers, at most one job per peer, endpoint or kind at a time, each bounded by its own
//! deadline. So a dead peer delays nothing but its own job. Decisions read the time from the
//! [`Clock`], and [`Jobs::tick`] does one round at a given time, so tests drive the jobs by
//! hand with a manual clock and run the work inline.
//!
//! Owns the periods and the "what is due" decisions. It must not touch the transport: it
//! reaches it only through [`PeerConnector`] and the [`Peer`] trait.

use crate::network::connector::PeerConnector;
use crate::network::discovery::Discovery;
use crate::network::endpoint::Endpoint;
use crate::network::peer::{short_key, Peer};
use crate::network::penalty::{Penalties, PenaltyReport, PenaltySettings, Verdict};
use crate::network::reconnection::RetryOutcome;
use crate::network::service::NetworkService;
use crate::thread::{StoppableThread, Work, WorkerPool};
use crate::types::{Clock, UnixMillis};
use crossbeam_channel::{select, tick, Receiver};
use log::{debug, info, warn};
use parking_lot::Mutex;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How often the thread looks for due work.
pub const SCHEDULER_TICK: Duration = Duration::from_millis(500);
/// Our clock may differ from the median of our peers' by this much before we warn
/// (C# `NetworkConstants.DefaultNtpDriftThreshold`).
pub const CLOCK_DRIFT_THRESHOLD_MS: i64 = 1_000;
/// Jobs waiting for a scheduler worker at most (more wait for the next tick).
pub const SCHEDULER_QUEUE: usize = 256;

/// The periods and rules of the jobs (from the config).
#[derive(Debug, Clone)]
pub struct SchedulerSettings {
    /// `peer_reconnection_period_ms`: health checks run this often (as in the C# node).
    pub health_check_period_ms: i64,
    /// `peer_discovery_period_ms`.
    pub discovery_period_ms: i64,
    /// `enable_peer_discovery`.
    pub discovery_enabled: bool,
    /// `stalled_send_timeout_ms`: a peer whose send has waited this long is dropped; 0 never.
    pub stalled_send_timeout_ms: u64,
    pub penalties: PenaltySettings,
}

/// What the jobs work on.
pub struct SchedulerParts {
    pub network: Arc<NetworkService>,
    pub connector: Arc<dyn PeerConnector>,
    pub discovery: Arc<Discovery>,
    pub clock: Arc<dyn Clock>,
}

/// Runs blocking work somewhere: the worker threads in a node, inline in tests.
pub trait Executor: Send {
    /// `false` when the work could not be queued (it is dropped; the job is retried later).
    fn execute(&self, work: Work) -> bool;
    /// Waits for the work already queued to end.
    fn shutdown(self: Box<Self>) {}
}

impl Executor for WorkerPool {
    fn execute(&self, work: Work) -> bool {
        self.try_execute(work)
    }

    fn shutdown(self: Box<Self>) {
        self.stop();
    }
}

/// Keys of the jobs running; a job is not started twice.
#[derive(Default)]
struct InFlight(Mutex<HashSet<String>>);

/// Removes its key when the job ends (or was never queued).
struct InFlightGuard {
    set: Arc<InFlight>,
    key: String,
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.set.0.lock().remove(&self.key);
    }
}

fn start(set: &Arc<InFlight>, key: String) -> Option<InFlightGuard> {
    set.0.lock().insert(key.clone()).then(|| InFlightGuard {
        set: set.clone(),
        key,
    })
}

/// The clock check's view: the median offset of the peers' clocks from ours, when it is
/// beyond the threshold and most peers agree on the direction.
pub fn clock_disagreement(offsets_ms: &[i64], threshold_ms: i64) -> Option<i64> {
    if offsets_ms.is_empty() {
        return None;
    }
    let mut sorted = offsets_ms.to_vec();
    sorted.sort_unstable();
    let median = sorted[sorted.len() / 2];
    let agreeing = sorted
        .iter()
        .filter(|o| o.abs() > threshold_ms && o.signum() == median.signum())
        .count();
    (median.abs() > threshold_ms && agreeing * 2 > sorted.len()).then_some(median)
}

/// A peer's clock minus ours, estimated from its handshake: its stamp against the moment we
/// made the peer (the transit time, a few ms, counts against it).
pub fn clock_offset_ms(peer: &dyn Peer) -> i64 {
    let stamped_ms = (peer.last_received_handshake_time() / 1_000_000) as i64;
    stamped_ms.saturating_sub(peer.connection_time())
}

/// The jobs and their state (see the module documentation).
pub struct Jobs {
    parts: Arc<SchedulerParts>,
    settings: SchedulerSettings,
    executor: Box<dyn Executor>,
    penalties: Penalties,
    in_flight: Arc<InFlight>,
    next_health_check: UnixMillis,
    next_discovery: UnixMillis,
    /// The disagreement last warned about (so it is logged once, not every period).
    clock_warned: Option<i64>,
    /// Whether "no peers: retrying the boot nodes" was logged for the current lonely spell.
    alone_logged: bool,
    /// A node is "alone" only from one period after start (the start-up dials come first).
    alone_check_from: UnixMillis,
    /// Set on shutdown: queued jobs that have not started are skipped.
    stopping: Arc<AtomicBool>,
}

impl Jobs {
    /// Jobs whose first health check and discovery round come one period after `now`.
    pub fn new(
        parts: SchedulerParts,
        settings: SchedulerSettings,
        executor: Box<dyn Executor>,
        now: UnixMillis,
    ) -> Jobs {
        let period = settings.health_check_period_ms;
        Jobs {
            next_health_check: now.saturating_add(period),
            next_discovery: now.saturating_add(settings.discovery_period_ms),
            penalties: Penalties::new(settings.penalties.clone()),
            parts: Arc::new(parts),
            settings,
            executor,
            in_flight: Arc::new(InFlight::default()),
            clock_warned: None,
            alone_logged: false,
            alone_check_from: now.saturating_add(period),
            stopping: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The score the reputation rule gives `pubkey_hex` now.
    pub fn score(&self, pubkey_hex: &str, now: UnixMillis) -> i64 {
        self.penalties.score(pubkey_hex, now)
    }

    /// Runs `work` on the executor unless a job with `key` is still running.
    fn spawn(&self, key: String, work: impl FnOnce() + Send + 'static) -> bool {
        let Some(guard) = start(&self.in_flight, key) else {
            return false;
        };
        let stopping = self.stopping.clone();
        self.executor.execute(Box::new(move || {
            let _guard = guard;
            if !stopping.load(Ordering::SeqCst) {
                work();
            }
        }))
    }

    /// One round of everything due at `now`.
    pub fn tick(&mut self, now: UnixMillis) {
        self.expire(now);
        self.retry_boot_nodes_when_alone(now);
        self.reconnect(now);
        self.drop_stalled_peers();
        if now >= self.next_health_check {
            self.next_health_check = now.saturating_add(self.settings.health_check_period_ms);
            self.check_health();
            self.check_clock();
        }
        if self.settings.discovery_enabled && now >= self.next_discovery {
            self.next_discovery = now.saturating_add(self.settings.discovery_period_ms);
            self.discover();
        }
    }

    /// Unconfirmed peers past their timeout leave; ended bans are lifted (logged once each).
    fn expire(&self, now: UnixMillis) {
        let parts = self.parts.clone();
        self.spawn("purge".into(), move || {
            parts.connector.purge_unconfirmed();
        });
        for ban in self.parts.network.pool().blacklist().purge_expired(now) {
            info!("ban of host {} lifted (it was: {})", ban.host, ban.reason);
        }
    }

    /// A node without any peer retries its boot nodes (forever, capped backoff) instead of
    /// waiting alone.
    fn retry_boot_nodes_when_alone(&mut self, now: UnixMillis) {
        let network = &self.parts.network;
        if !network.pool().is_empty() {
            self.alone_logged = false;
            return;
        }
        if now < self.alone_check_from {
            return;
        }
        let mut scheduled = 0;
        for boot in network.boot_nodes() {
            if network.reconnections().schedule_now(boot, now) {
                scheduled += 1;
            }
        }
        if scheduled > 0 && !self.alone_logged {
            self.alone_logged = true;
            info!("no peers: retrying {scheduled} boot node(s) until one answers");
        }
    }

    /// Dials every reconnection that is due (C# `PeerReconnectionWorker`).
    fn reconnect(&self, now: UnixMillis) {
        let network = &self.parts.network;
        for entry in network.reconnections().ready(Some(now.saturating_add(1))) {
            let endpoint = entry.endpoint.clone();
            if network.pool().find_by_endpoint(&endpoint).is_some() {
                network.reconnections().cancel(&endpoint);
                debug!("{endpoint} is connected again: reconnection cancelled");
                continue;
            }
            let parts = self.parts.clone();
            let key = format!("dial {endpoint}");
            self.spawn(key, move || {
                reconnect_once(&parts, &endpoint, entry.retry_count)
            });
        }
    }

    /// Drops every peer with a send waiting longer than the stalled-send timeout: it stopped
    /// reading that stream. The sender threads cannot tell, as they are the ones waiting.
    fn drop_stalled_peers(&self) {
        let timeout = self.settings.stalled_send_timeout_ms;
        if timeout == 0 {
            return;
        }
        for peer in self.parts.network.pool().peers(false) {
            let Some((queue, waited_ms)) = peer.queue_stats().longest_stall() else {
                continue;
            };
            if waited_ms < timeout {
                continue;
            }
            let network = self.parts.network.clone();
            let key = format!("stalled {}", peer.pubkey_hex());
            self.spawn(key, move || network.drop_stalled(&peer, queue, waited_ms));
        }
    }

    /// CheckHealth every confirmed peer (spec 8.1), one job per peer.
    fn check_health(&self) {
        let pool = self.parts.network.pool();
        for peer in pool.peers(true).into_iter().filter(|p| p.is_connected()) {
            let network = self.parts.network.clone();
            let key = format!("health {}", peer.pubkey_hex());
            self.spawn(key, move || {
                if let Err(e) = peer.check_health() {
                    network.health_check_failed(&peer, &e);
                }
            });
        }
    }

    /// Warns (once per change) when our clock disagrees with most peers' by more than
    /// [`CLOCK_DRIFT_THRESHOLD_MS`].
    fn check_clock(&mut self) {
        let offsets: Vec<i64> = self
            .parts
            .network
            .pool()
            .peers(false)
            .iter()
            .map(|p| clock_offset_ms(p.as_ref()))
            .collect();
        match clock_disagreement(&offsets, CLOCK_DRIFT_THRESHOLD_MS) {
            Some(median) if self.clock_warned.is_none() => {
                warn!(
                    "our clock differs from most peers' by about {median} ms (median of {}); \
                     handshakes fail beyond 1500 ms: check the system time",
                    offsets.len()
                );
                self.clock_warned = Some(median);
            }
            None if self.clock_warned.is_some() => {
                info!("our clock agrees with our peers' again");
                self.clock_warned = None;
            }
            _ => {}
        }
    }

    /// One discovery round on a worker (spec 8.3).
    fn discover(&self) {
        let parts = self.parts.clone();
        self.spawn("discovery".into(), move || {
            let report = parts
                .discovery
                .run_round(&parts.network, parts.connector.as_ref());
            let level = if report.is_eventful() {
                log::Level::Info
            } else {
                log::Level::Debug
            };
            log::log!(
                level,
                "discovery: asked {} peer(s), got {} node(s), kept {} new, {} unreachable, \
                 {} discarded; dialed {} ({} connected); table {} node(s){}",
                report.asked,
                report.nodes_received,
                report.added,
                report.unreachable,
                report.discarded,
                report.dialed,
                report.connected,
                report.table_size,
                match &report.refreshed {
                    Some((endpoint, true)) => format!("; {endpoint} still answers"),
                    Some((endpoint, false)) => format!("; {endpoint} removed (no answer)"),
                    None => String::new(),
                }
            );
        });
    }

    /// Judges one offence and carries out the verdict (the disconnects on a worker).
    pub fn judge(&mut self, report: PenaltyReport, now: UnixMillis) {
        let network = &self.parts.network;
        let Some(peer) = network.pool().get(&report.pubkey_hex) else {
            debug!(
                "{} by {}, no longer a peer: {}",
                report.offence.name(),
                short_key(&report.pubkey_hex),
                report.detail
            );
            return;
        };
        let host = peer.endpoint().host.clone();
        let verdict = self
            .penalties
            .judge(&report.pubkey_hex, &host, report.offence, now);
        if verdict == Verdict::Keep {
            return;
        }
        let network = network.clone();
        let key = format!("penalty {}", report.pubkey_hex);
        let work = move || {
            network.enforce(&report.pubkey_hex, &host, &verdict);
        };
        if !self.spawn(key, work) {
            debug!(
                "penalty of {} already being carried out",
                short_key(peer.pubkey_hex())
            );
        }
    }
}

/// One reconnection attempt on `endpoint` (on a worker).
fn reconnect_once(parts: &SchedulerParts, endpoint: &Endpoint, retries: u32) {
    let network = &parts.network;
    info!("reconnecting to {endpoint} (attempt {})", retries + 1);
    let dialed = parts.connector.dial(endpoint);
    crate::metrics::metrics().reconnection_attempt(matches!(dialed, Ok(true)));
    let failure = match dialed {
        Ok(true) => {
            network.reconnections().cancel(endpoint);
            info!("reconnected to {endpoint}");
            return;
        }
        Ok(false) if network.pool().find_by_endpoint(endpoint).is_some() => {
            network.reconnections().cancel(endpoint);
            return;
        }
        Ok(false) => "not dialed (refused by the pool rules)".to_owned(),
        Err(e) => e.to_string(),
    };
    match network
        .reconnections()
        .attempt_failed(endpoint, parts.clock.now_millis())
    {
        RetryOutcome::Retry {
            next_attempt,
            retry_count,
        } => info!(
            "reconnection to {endpoint} failed ({failure}); retry {} in {} s",
            retry_count + 1,
            (next_attempt - parts.clock.now_millis()).max(0) / 1000
        ),
        RetryOutcome::GaveUp => warn!(
            "reconnection to {endpoint} failed ({failure}); giving up after the maximum \
             reconnection time"
        ),
        RetryOutcome::NotPending => {}
    }
}

/// The running `scheduler` thread and its workers.
pub struct Scheduler {
    thread: StoppableThread,
}

impl Scheduler {
    /// Starts the thread with `workers` (at least 1) `scheduler-<i>` workers. Offence reports
    /// from `penalties` are judged as they arrive.
    pub fn start(
        parts: SchedulerParts,
        settings: SchedulerSettings,
        workers: usize,
        penalties: Receiver<PenaltyReport>,
    ) -> std::io::Result<Scheduler> {
        let pool = WorkerPool::start("scheduler", workers, SCHEDULER_QUEUE)?;
        let clock = parts.clock.clone();
        let now = clock.now_millis();
        let thread = StoppableThread::spawn("scheduler", move |stop| {
            let mut jobs = Jobs::new(parts, settings, Box::new(pool), now);
            let ticker = tick(SCHEDULER_TICK);
            let mut penalties = penalties;
            loop {
                select! {
                    recv(stop) -> _ => break,
                    recv(ticker) -> _ => jobs.tick(clock.now_millis()),
                    recv(penalties) -> report => match report {
                        Ok(report) => jobs.judge(report, clock.now_millis()),
                        Err(_) => {
                            // Every reporter is gone (the network is stopping): keep the
                            // periodic jobs until told to stop.
                            penalties = crossbeam_channel::never();
                        }
                    },
                }
            }
            jobs.stop_workers();
            Ok(())
        })?;
        Ok(Scheduler { thread })
    }

    /// Stops the thread, then its workers after their current jobs.
    pub fn stop(self) {
        self.thread.stop();
    }
}

impl Jobs {
    /// Skips the queued jobs and waits for the running ones (each bounded by its deadline).
    fn stop_workers(self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.executor.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::connector::DialError;
    use crate::network::node_table::NodeTable;
    use crate::network::peer_pool::{PeerPool, PoolLimits};
    use crate::network::penalty::{Offence, OffenceWeights};
    use crate::network::test_support::{network_service_with, NOW, PERIOD_MS};
    use crate::testing::FakePeer;
    use crate::types::{Hash, ManualClock};
    use std::sync::atomic::AtomicUsize;

    /// The stalled-send timeout of the fixture.
    const STALL_MS: u64 = 5_000;

    /// Runs work at once on the calling thread.
    struct Inline;

    impl Executor for Inline {
        fn execute(&self, work: Work) -> bool {
            work();
            true
        }
    }

    /// Dials succeed for the ports that answer and put a fake peer in the pool.
    struct Connector {
        pool: Arc<PeerPool>,
        answering: Mutex<HashSet<u16>>,
        dials: Mutex<Vec<u16>>,
        purges: AtomicUsize,
    }

    impl PeerConnector for Connector {
        fn dial(&self, endpoint: &Endpoint) -> Result<bool, DialError> {
            self.dials.lock().push(endpoint.port);
            if !self.answering.lock().contains(&endpoint.port) {
                return Err(DialError("connection refused".into()));
            }
            let peer = stub(&format!("k{}", endpoint.port), endpoint.clone(), false);
            Ok(self.pool.try_add(Arc::new(peer), NOW).is_ok())
        }
        fn is_reachable(&self, endpoint: &Endpoint) -> bool {
            self.answering.lock().contains(&endpoint.port)
        }
        fn purge_unconfirmed(&self) -> usize {
            self.purges.fetch_add(1, Ordering::SeqCst);
            0
        }
    }

    fn ep(port: u16) -> Endpoint {
        Endpoint {
            host: "10.0.0.1".into(),
            port,
        }
    }

    fn stub(key: &str, endpoint: Endpoint, unhealthy: bool) -> FakePeer {
        let peer = FakePeer::named(key, endpoint, false).connected_at(NOW);
        if unhealthy {
            peer.unhealthy()
        } else {
            peer
        }
    }

    fn penalties() -> PenaltySettings {
        PenaltySettings {
            invalid_transaction_limit: 50,
            invalid_transaction_window_ms: 10_000,
            ban_duration_ms: 300_000,
            half_life_ms: 60_000,
            disconnect_threshold: -1_000,
            ban_threshold: -2_000,
            weights: OffenceWeights {
                invalid_transaction: 10,
                bad_signature: 500,
                malformed_message: 200,
                inconsistent_blocks: 1_000,
                request_timeout: 50,
            },
        }
    }

    struct Fixture {
        jobs: Jobs,
        network: Arc<NetworkService>,
        connector: Arc<Connector>,
        _dir: tempfile::TempDir,
    }

    fn fixture(boot: Vec<Endpoint>, persistent: Vec<Endpoint>) -> Fixture {
        let clock = ManualClock::new(NOW);
        let (network, dir) =
            network_service_with(PoolLimits::unlimited(), boot, persistent, clock.clone());
        let connector = Arc::new(Connector {
            pool: network.pool().clone(),
            answering: Mutex::new(HashSet::new()),
            dials: Mutex::new(Vec::new()),
            purges: AtomicUsize::new(0),
        });
        let jobs = Jobs::new(
            SchedulerParts {
                network: network.clone(),
                connector: connector.clone(),
                discovery: Arc::new(Discovery::new(Arc::new(NodeTable::new(10)), "ee".into())),
                clock: Arc::new(clock),
            },
            SchedulerSettings {
                health_check_period_ms: PERIOD_MS,
                discovery_period_ms: PERIOD_MS,
                discovery_enabled: false,
                stalled_send_timeout_ms: STALL_MS,
                penalties: penalties(),
            },
            Box::new(Inline),
            NOW,
        );
        Fixture {
            jobs,
            network,
            connector,
            _dir: dir,
        }
    }

    /// Scenario 136 (our split): every tick expires unconfirmed peers through the connector.
    #[test]
    fn every_tick_purges_unconfirmed_peers() {
        let mut f = fixture(vec![], vec![]);
        f.jobs.tick(NOW);
        f.jobs.tick(NOW + 1);
        assert_eq!(f.connector.purges.load(Ordering::SeqCst), 2);
    }

    /// Scenarios 137 and 138: a due entry already in the pool, or whose dial succeeds, is
    /// removed; entries not yet due are left alone.
    #[test]
    fn due_entries_are_dialed_and_removed_on_success() {
        let mut f = fixture(vec![], vec![]);
        let book = f.network.reconnections().clone();
        f.network
            .pool()
            .try_add(Arc::new(stub("k1", ep(1), false)), NOW)
            .unwrap();
        book.schedule(&ep(1), "k1", NOW);
        book.schedule(&ep(2), "k2", NOW);
        book.schedule(&ep(3), "k3", NOW + 10);
        f.connector.answering.lock().insert(2);
        f.jobs.tick(NOW + PERIOD_MS);
        assert!(!book.is_pending(&ep(1)), "already connected");
        assert!(!book.is_pending(&ep(2)), "reconnected");
        assert!(book.is_pending(&ep(3)), "not due yet");
        assert_eq!(*f.connector.dials.lock(), vec![2]);
        assert!(f.network.pool().find_by_endpoint(&ep(2)).is_some());
    }

    /// Scenarios 139 and 140: a failed dial doubles the wait; past the maximum time the entry
    /// is given up.
    #[test]
    fn failed_dials_back_off_and_are_given_up() {
        let mut f = fixture(vec![], vec![]);
        let book = f.network.reconnections().clone();
        book.schedule(&ep(5), "k5", NOW);
        let now = NOW + PERIOD_MS;
        f.jobs.tick(now);
        let entry = book.get(&ep(5)).unwrap();
        assert_eq!(entry.retry_count, 1);
        assert_eq!(
            entry.next_attempt,
            NOW + 2 * PERIOD_MS,
            "clock still at NOW"
        );
        // Due again only two periods later.
        f.jobs.tick(now + PERIOD_MS / 2);
        assert_eq!(f.connector.dials.lock().len(), 1);
        let mut now = now;
        while book.is_pending(&ep(5)) {
            now += 3_600_000;
            f.jobs.tick(now);
            assert!(now < NOW + 3 * 86_400_000, "never given up");
        }
        assert!(f.connector.dials.lock().len() > 5);
    }

    #[test]
    fn a_node_without_peers_retries_its_boot_nodes() {
        let mut f = fixture(vec![ep(7)], vec![]);
        f.jobs.tick(NOW);
        assert!(
            f.connector.dials.lock().is_empty(),
            "start-up dials come first"
        );
        f.jobs.tick(NOW + PERIOD_MS);
        assert_eq!(*f.connector.dials.lock(), vec![7], "dialed at once");
        let entry = f.network.reconnections().get(&ep(7)).unwrap();
        assert!(entry.forever);
        f.connector.answering.lock().insert(7);
        f.jobs.tick(entry.next_attempt);
        assert!(f.network.pool().find_by_endpoint(&ep(7)).is_some());
        assert!(!f.network.reconnections().is_pending(&ep(7)));
    }

    /// Spec 8.1: a peer failing its health check is dropped and, being outbound, scheduled.
    #[test]
    fn unhealthy_peers_are_dropped_and_scheduled() {
        let mut f = fixture(vec![], vec![]);
        let pool = f.network.pool();
        pool.try_add(Arc::new(stub("sick", ep(8), true)), NOW)
            .unwrap();
        pool.try_add(Arc::new(stub("fine", ep(9), false)), NOW)
            .unwrap();
        f.jobs.tick(NOW + 1);
        assert!(
            pool.get("sick").is_some(),
            "first health check one period after start"
        );
        f.jobs.tick(NOW + PERIOD_MS);
        assert!(pool.get("sick").is_none());
        assert!(pool.get("fine").is_some());
        assert!(f.network.reconnections().is_pending(&ep(8)));
    }

    /// A peer whose send has waited past `stalled_send_timeout_ms` (it stopped reading one
    /// stream while still answering health checks) is dropped at the next tick and, being
    /// outbound, scheduled; a shorter wait keeps it.
    #[test]
    fn peers_that_stopped_reading_a_stream_are_dropped() {
        let mut f = fixture(vec![], vec![]);
        let pool = f.network.pool();
        let stuck = stub("stuck", ep(11), false).stalled(STALL_MS);
        let slow = stub("slow", ep(12), false).stalled(STALL_MS - 1);
        pool.try_add(Arc::new(stuck), NOW).unwrap();
        pool.try_add(Arc::new(slow), NOW).unwrap();
        f.jobs.tick(NOW + 1);
        assert!(pool.get("stuck").is_none());
        assert!(pool.get("slow").is_some());
        assert!(f.network.reconnections().is_pending(&ep(11)));
    }

    fn report(key: &str, offence: Offence) -> PenaltyReport {
        PenaltyReport {
            pubkey_hex: key.into(),
            offence,
            detail: "test".into(),
        }
    }

    /// Scenario 128 end to end: the 51st distinct invalid transaction from a host bans it; its
    /// peer is dropped and not scheduled; the ban is lifted when it ends.
    #[test]
    fn an_invalid_transaction_burst_bans_the_host() {
        let mut f = fixture(vec![], vec![]);
        let pool = f.network.pool().clone();
        pool.try_add(Arc::new(stub("bad", ep(10), false)), NOW)
            .unwrap();
        pool.try_add(
            Arc::new(stub(
                "other",
                Endpoint {
                    host: "10.0.0.2".into(),
                    port: 1,
                },
                false,
            )),
            NOW,
        )
        .unwrap();
        for i in 0..50u8 {
            let id = Hash::from_slice(&[i; 32]).unwrap();
            f.jobs
                .judge(report("bad", Offence::InvalidTransaction(id)), NOW);
        }
        assert!(pool.get("bad").is_some(), "50 are within the limit");
        let id = Hash::from_slice(&[99; 32]).unwrap();
        f.jobs
            .judge(report("bad", Offence::InvalidTransaction(id)), NOW);
        assert!(pool.get("bad").is_none());
        assert!(pool.get("other").is_some());
        assert!(pool.blacklist().is_listed("10.0.0.1", NOW + 300_000));
        assert!(!f.network.reconnections().is_pending(&ep(10)));
        let bans = pool.blacklist().bans(NOW);
        assert!(
            bans[0].reason.contains("invalid transactions"),
            "{:?}",
            bans
        );
        assert_eq!(bans.len(), 1);
        assert_eq!(bans[0].host, "10.0.0.1");
        f.jobs.tick(NOW + 300_001);
        assert!(pool.blacklist().bans(NOW + 300_001).is_empty());
        assert_eq!(pool.blacklist().len(), 0, "lifted by the tick");
    }

    #[test]
    fn reputation_disconnects_then_bans() {
        let mut f = fixture(vec![], vec![]);
        let pool = f.network.pool().clone();
        pool.try_add(Arc::new(stub("noisy", ep(11), false)), NOW)
            .unwrap();
        for _ in 0..4 {
            f.jobs
                .judge(report("noisy", Offence::MalformedMessage), NOW);
        }
        assert_eq!(f.jobs.score("noisy", NOW), -800);
        assert!(pool.get("noisy").is_some());
        f.jobs
            .judge(report("noisy", Offence::MalformedMessage), NOW);
        assert!(pool.get("noisy").is_none(), "dropped at -1000");
        assert!(
            !pool.blacklist().is_listed("10.0.0.1", NOW),
            "not banned yet"
        );
        // Offences of a peer that is gone are not judged.
        f.jobs
            .judge(report("noisy", Offence::MalformedMessage), NOW);
        assert_eq!(f.jobs.score("noisy", NOW), -1_000);
    }

    #[test]
    fn clock_disagreement_needs_a_majority_beyond_the_threshold() {
        assert_eq!(clock_disagreement(&[], 1_000), None);
        assert_eq!(clock_disagreement(&[0, 10, -20], 1_000), None);
        assert_eq!(clock_disagreement(&[1_500, 2_000, 0], 1_000), Some(1_500));
        assert_eq!(
            clock_disagreement(&[-3_000, -2_000, -1_500, 0], 1_000),
            Some(-1_500)
        );
        assert_eq!(
            clock_disagreement(&[5_000, 0, 0], 1_000),
            None,
            "one odd peer"
        );
    }
}
