//! The one place threads are started: every thread gets a name, and its owner keeps the handle.

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
