//! The one place threads are started: every thread gets a name, and its owner keeps the handle.
//! [`WorkerPool`] is the named worker threads on one bounded queue that the server and the
//! scheduler run their blocking work on.

use crossbeam_channel::{bounded, Receiver, Sender};
use std::io;
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

/// A unit of work for a [`WorkerPool`].
pub type Work = Box<dyn FnOnce() + Send>;

/// `count` threads named `<name>-<i>` taking work from one bounded queue.
pub struct WorkerPool {
    queue: Option<Sender<Work>>,
    threads: Vec<JoinHandle<()>>,
}

impl WorkerPool {
    /// Starts `count` (at least 1) threads on a queue of `capacity` (at least 1) jobs.
    pub fn start(name: &str, count: usize, capacity: usize) -> io::Result<WorkerPool> {
        let (tx, rx) = bounded::<Work>(capacity.max(1));
        let threads = (0..count.max(1))
            .map(|i| {
                let rx = rx.clone();
                spawn(&format!("{name}-{i}"), move || {
                    while let Ok(work) = rx.recv() {
                        work();
                    }
                    Ok(())
                })
            })
            .collect::<io::Result<Vec<_>>>()?;
        Ok(WorkerPool {
            queue: Some(tx),
            threads,
        })
    }

    /// The queue, for callers that submit from elsewhere (`None` once stopped).
    pub fn sender(&self) -> Option<Sender<Work>> {
        self.queue.clone()
    }

    /// Queues `work`; `false` when the queue is full or the pool stopped.
    pub fn try_execute(&self, work: Work) -> bool {
        self.queue
            .as_ref()
            .is_some_and(|queue| queue.try_send(work).is_ok())
    }

    /// Stops taking work and joins the threads after the queued work is done.
    pub fn stop(mut self) {
        self.queue.take();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
