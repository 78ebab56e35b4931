//! The daemon's control loop: signals become [`Control`] messages, and the main thread serves
//! them until it is told to stop.
//!
//! SIGINT and SIGTERM stop the node gracefully (a second one while stopping exits at once);
//! SIGHUP re-reads the config and applies what can change live. Owns the `signals` thread; it
//! must not touch node internals beyond [`Node::reload`] and [`Node::shutdown`].

use crate::config::{Config, ConfigError};
use crate::node::Node;
use crossbeam_channel::{bounded, Receiver, Sender};
use log::{error, info, warn};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::{Handle, Signals};
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Exit status when a second stop signal arrives before the graceful stop finished.
pub const EXIT_FORCED: i32 = 130;
/// Control messages queued at most (signals are rare; a full queue drops repeats).
const CONTROL_QUEUE: usize = 16;

/// What the main thread is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Stop gracefully (SIGINT, SIGTERM).
    Shutdown,
    /// Re-read the config (SIGHUP).
    Reload,
}

/// The `signals` thread; [`SignalThread::stop`] closes the signal iterator and joins it.
pub struct SignalThread {
    handle: Handle,
    thread: JoinHandle<()>,
}

impl SignalThread {
    /// Installs the handlers and starts the thread that turns signals into [`Control`]s.
    pub fn start() -> io::Result<(SignalThread, Receiver<Control>)> {
        let (tx, rx) = bounded(CONTROL_QUEUE);
        let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP])?;
        let handle = signals.handle();
        let stopping = Arc::new(AtomicBool::new(false));
        let thread = crate::thread::spawn("signals", move || {
            for signal in signals.forever() {
                forward(signal, &tx, &stopping);
            }
            Ok(())
        })?;
        Ok((SignalThread { handle, thread }, rx))
    }

    pub fn stop(self) {
        self.handle.close();
        if self.thread.join().is_err() {
            error!("signals thread panicked");
        }
    }
}

fn forward(signal: i32, tx: &Sender<Control>, stopping: &AtomicBool) {
    let control = if signal == SIGHUP {
        Control::Reload
    } else {
        if stopping.swap(true, Ordering::SeqCst) {
            warn!("second stop signal: exiting without waiting for the graceful stop");
            std::process::exit(EXIT_FORCED);
        }
        Control::Shutdown
    };
    info!("signal {signal} received: {control:?}");
    let _ = tx.try_send(control);
}

/// Serves control messages until a shutdown is asked for (or every sender is gone), then stops
/// the node in order. `reload_config` re-reads the config the node was started with.
pub fn serve(
    mut node: Node,
    control: &Receiver<Control>,
    reload_config: impl Fn() -> Result<Config, ConfigError>,
) {
    while let Ok(message) = control.recv() {
        match message {
            Control::Shutdown => break,
            Control::Reload => match reload_config() {
                Ok(config) => node.reload(config),
                Err(e) => error!("reload failed, keeping the running config: {e}"),
            },
        }
    }
    info!("stopping");
    node.shutdown();
}
