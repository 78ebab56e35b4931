//! The one place threads are started: every thread gets a name, and its owner keeps the handle.
//! [`WorkerPool`] is the named worker threads on one bounded queue that the server, the stream
//! peers and the scheduler run their blocking work on (bulk work on lowered-priority threads,
//! [`WorkerPool::start_niced`]); a [`WorkerHandle`] submits to one without keeping it alive.

use crossbeam_channel::{bounded, Receiver, Sender};
use std::io;
use std::sync::{Arc, Weak};
use std::thread::{Builder, JoinHandle};

/// Spawns a named thread. The caller stores the handle and joins it on shutdown; a failure of
/// the closure is logged with the thread's name.
pub fn spawn<F>(name: &str, f: F) -> io::Result<JoinHandle<()>>
where
    F: FnOnce() -> Result<(), String> + Send + 'static,
{
    let owned = name.to_owned();
    Builder::new().name(owned.clone()).spawn(move || {
        if let Err(e) = f() {
            log::error!("thread {owned} failed: {e}");
        }
    })
}

/// A named thread that runs until it is told to stop: its closure gets a receiver that
/// disconnects on [`StoppableThread::stop`] (select on it). Dropping it stops it too.
pub struct StoppableThread {
    name: String,
    stop: Option<Sender<()>>,
    handle: Option<JoinHandle<()>>,
}

impl StoppableThread {
    pub fn spawn<F>(name: &str, f: F) -> io::Result<StoppableThread>
    where
        F: FnOnce(Receiver<()>) -> Result<(), String> + Send + 'static,
    {
        let (stop, stopped) = bounded::<()>(0);
        let handle = spawn(name, move || f(stopped))?;
        Ok(StoppableThread {
            name: name.to_owned(),
            stop: Some(stop),
            handle: Some(handle),
        })
    }

    /// Tells the thread to stop and waits for it.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        // Dropping the sender disconnects the stop channel, which wakes the thread's select.
        drop(self.stop.take());
        if let Some(handle) = self.handle.take() {
            if handle.join().is_err() {
                log::error!("thread {} panicked", self.name);
            }
        }
    }
}

impl Drop for StoppableThread {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Lowers the calling thread's CPU priority by `niceness` (its own nice value on Linux, where
/// each thread has one; a no-op elsewhere). Lowering needs no privilege.
pub fn lower_current_priority(niceness: i32) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: plain system calls on the calling thread's id; no memory is shared.
        let tid = unsafe { libc::gettid() };
        let result = unsafe {
            *libc::__errno_location() = 0;
            let current = libc::getpriority(libc::PRIO_PROCESS, tid as libc::id_t);
            libc::setpriority(
                libc::PRIO_PROCESS,
                tid as libc::id_t,
                current.saturating_add(niceness).min(19),
            )
        };
        if result != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = niceness;
    Ok(())
}

/// A unit of work for a [`WorkerPool`].
pub type Work = Box<dyn FnOnce() + Send>;

/// `count` threads named `<name>-<i>` taking work from one bounded queue.
pub struct WorkerPool {
    queue: Option<Arc<Sender<Work>>>,
    /// Dropped by [`WorkerPool::stop`]: the threads finish what is queued and end, even while
    /// a [`WorkerPool::sender`] clone is still alive somewhere (a gRPC handler the C-core has
    /// not released yet, say), which would otherwise keep them waiting for the queue to close.
    stop: Option<Sender<()>>,
    threads: Vec<JoinHandle<()>>,
}

/// Submits work to a [`WorkerPool`] without owning it: once the pool stops, every submission
/// is refused (a [`WorkerPool::sender`] clone, by contrast, keeps the queue open and the
/// pool's `stop` waiting). For owners whose lifetime the pool's owner does not control.
#[derive(Clone, Default)]
pub struct WorkerHandle {
    queue: Weak<Sender<Work>>,
}

impl WorkerHandle {
    /// Queues `work`; `false` when the queue is full or the pool stopped (or there is none).
    pub fn try_execute(&self, work: Work) -> bool {
        self.queue
            .upgrade()
            .is_some_and(|queue| queue.try_send(work).is_ok())
    }
}

impl WorkerPool {
    /// Starts `count` (at least 1) threads on a queue of `capacity` (at least 1) jobs.
    pub fn start(name: &str, count: usize, capacity: usize) -> io::Result<WorkerPool> {
        WorkerPool::start_niced(name, count, capacity, 0)
    }

    /// [`WorkerPool::start`] for bulk work that must leave the CPU to the threads answering
    /// peers (completion queues, inbox threads) when the cores are busy: each thread lowers
    /// its own priority by `niceness` first (see [`lower_current_priority`]).
    pub fn start_niced(
        name: &str,
        count: usize,
        capacity: usize,
        niceness: i32,
    ) -> io::Result<WorkerPool> {
        let (tx, rx) = bounded::<Work>(capacity.max(1));
        let (stop, stopped) = bounded::<()>(0);
        let threads = (0..count.max(1))
            .map(|i| {
                let (rx, stopped) = (rx.clone(), stopped.clone());
                let thread_name = format!("{name}-{i}");
                spawn(&thread_name.clone(), move || {
                    if niceness > 0 {
                        if let Err(e) = lower_current_priority(niceness) {
                            log::debug!("{thread_name} keeps its priority: {e}");
                        }
                    }
                    loop {
                        crossbeam_channel::select! {
                            recv(rx) -> work => match work {
                                Ok(work) => work(),
                                Err(_) => return Ok(()),
                            },
                            recv(stopped) -> _ => {
                                // Stopping: what is already queued still runs.
                                while let Ok(work) = rx.try_recv() {
                                    work();
                                }
                                return Ok(());
                            }
                        }
                    }
                })
            })
            .collect::<io::Result<Vec<_>>>()?;
        Ok(WorkerPool {
            queue: Some(Arc::new(tx)),
            stop: Some(stop),
            threads,
        })
    }

    /// The queue, for callers that submit from elsewhere (`None` once stopped). Every clone
    /// must be dropped before [`WorkerPool::stop`] can end.
    pub fn sender(&self) -> Option<Sender<Work>> {
        self.queue.as_deref().cloned()
    }

    /// A handle that submits to the pool but does not keep it running.
    pub fn handle(&self) -> WorkerHandle {
        WorkerHandle {
            queue: self.queue.as_ref().map(Arc::downgrade).unwrap_or_default(),
        }
    }

    /// Queues `work`; `false` when the queue is full or the pool stopped.
    pub fn try_execute(&self, work: Work) -> bool {
        self.queue
            .as_ref()
            .is_some_and(|queue| queue.try_send(work).is_ok())
    }

    /// Stops taking work and joins the threads after the queued work is done, whoever still
    /// holds a sender clone.
    pub fn stop(mut self) {
        self.queue.take();
        drop(self.stop.take());
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_handle_submits_while_the_pool_runs_and_does_not_keep_it_running() {
        let pool = WorkerPool::start("handle-test", 1, 4).unwrap();
        let handle = pool.handle();
        let (tx, rx) = bounded::<u32>(1);
        assert!(handle.try_execute(Box::new(move || {
            let _ = tx.send(7);
        })));
        assert_eq!(rx.recv_timeout(Duration::from_secs(30)), Ok(7));
        // `stop` returns although the handle lives on; the handle refuses from then on.
        pool.stop();
        assert!(!handle.try_execute(Box::new(|| {})));
        assert!(!WorkerHandle::default().try_execute(Box::new(|| {})));
    }

    #[test]
    fn stop_ends_the_threads_while_a_sender_clone_lives_and_runs_what_was_queued() {
        let pool = WorkerPool::start("stop-test", 1, 4).unwrap();
        let kept = pool.sender().unwrap();
        let (tx, rx) = bounded::<u32>(4);
        for i in 0..3 {
            let tx = tx.clone();
            kept.send(Box::new(move || {
                let _ = tx.send(i);
            }))
            .unwrap();
        }
        // Without its own stop signal the pool would wait for `kept` to be dropped.
        pool.stop();
        let ran: Vec<u32> = rx.try_iter().collect();
        assert_eq!(ran, vec![0, 1, 2]);
        drop(kept);
    }

    /// The calling thread's nice value (0 where threads have none).
    fn own_nice() -> i32 {
        #[cfg(target_os = "linux")]
        // SAFETY: reads the calling thread's own nice value.
        return unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) };
        #[cfg(not(target_os = "linux"))]
        0
    }

    #[test]
    fn a_niced_pool_runs_its_work_on_lowered_threads() {
        let pool = WorkerPool::start_niced("niced-test", 1, 1, 5).unwrap();
        let (tx, rx) = bounded::<i32>(1);
        assert!(pool.try_execute(Box::new(move || {
            let _ = tx.send(own_nice());
        })));
        let theirs = rx.recv_timeout(Duration::from_secs(30)).unwrap();
        if cfg!(target_os = "linux") {
            assert_eq!(theirs, (own_nice() + 5).min(19));
        }
        pool.stop();
    }

    #[test]
    fn a_handle_refuses_work_when_the_queue_is_full() {
        let pool = WorkerPool::start("handle-full", 1, 1).unwrap();
        let handle = pool.handle();
        let (gate_tx, gate) = bounded::<()>(0);
        let (started_tx, started) = bounded::<()>(1);
        // The worker holds the first job until the gate opens; the second fills the queue.
        assert!(handle.try_execute(Box::new(move || {
            let _ = started_tx.send(());
            let _ = gate.recv();
        })));
        started.recv_timeout(Duration::from_secs(30)).unwrap();
        assert!(handle.try_execute(Box::new(|| {})));
        assert!(!handle.try_execute(Box::new(|| {})));
        drop(gate_tx);
        pool.stop();
    }
}
