//! The relays of a `--netns` devnet: a TCP relay per boot link that delays every chunk by a
//! fixed latency each way (packet loss is the namespaces' nftables rule, below TCP), and the
//! hidden `relay` command, the process `start --netns` spawns to run them from
//! `<dir>/relays.txt`. A link can be cut: its open connections are shut down and new ones
//! closed at once, until it is restored; the process follows the cut file `partition` writes.
//!
//! Owns the relayed connections. It must not create namespaces or start nodes, nor write the
//! cut file (`partition` and `heal` do).

use crate::partition::read_cut;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::fs;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Chunks in flight per direction at most (the relay's window).
const IN_FLIGHT: usize = 1024;

pub struct Link {
    pub listen: SocketAddr,
    pub target: SocketAddr,
    pub latency: Duration,
    /// The node numbers at the two ends: the dialer and the node dialed.
    pub ends: (u16, u16),
}

/// Whether a link is cut, and its open connections (both sockets of each), so that
/// cutting can shut them down.
#[derive(Default)]
pub struct LinkState {
    cut: AtomicBool,
    open: Mutex<HashMap<u64, [TcpStream; 2]>>,
    next_id: AtomicU64,
}

impl LinkState {
    /// Cuts (shutting every open connection down) or restores the link.
    pub fn set_cut(&self, cut: bool) {
        if self.cut.swap(cut, Ordering::SeqCst) == cut || !cut {
            return;
        }
        for (_, pair) in self.open.lock().drain() {
            for stream in pair {
                let _ = stream.shutdown(Shutdown::Both);
            }
        }
    }

    fn is_cut(&self) -> bool {
        self.cut.load(Ordering::SeqCst)
    }
}

/// Serves one link forever (a thread per accepted connection and direction).
pub fn serve(link: Link, state: Arc<LinkState>) -> std::io::Result<()> {
    let listener = TcpListener::bind(link.listen)?;
    for inbound in listener.incoming().flatten() {
        if state.is_cut() {
            let _ = inbound.shutdown(Shutdown::Both);
            continue;
        }
        let Some(outbound) = connect_with_retries(link.target) else {
            continue;
        };
        let _ = inbound.set_nodelay(true);
        let _ = outbound.set_nodelay(true);
        let id = state.next_id.fetch_add(1, Ordering::SeqCst);
        {
            let mut open = state.open.lock();
            // Checked under the lock `set_cut` drains: a cut cannot slip in between.
            if state.is_cut() {
                continue;
            }
            open.insert(id, [inbound.try_clone()?, outbound.try_clone()?]);
        }
        let latency = link.latency;
        let mut pumps = Vec::new();
        for (from, to) in [
            (inbound.try_clone()?, outbound.try_clone()?),
            (outbound, inbound),
        ] {
            pumps.push(std::thread::spawn(move || pump(from, to, latency)));
        }
        let state = state.clone();
        std::thread::spawn(move || {
            for pump in pumps {
                let _ = pump.join();
            }
            state.open.lock().remove(&id);
        });
    }
    Ok(())
}

/// The target may still be starting: a few tries over two seconds.
fn connect_with_retries(target: SocketAddr) -> Option<TcpStream> {
    for _ in 0..20 {
        if let Ok(stream) = TcpStream::connect(target) {
            return Some(stream);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

/// Reads chunks from `from` and writes each to `to` once its time has come.
fn pump(mut from: TcpStream, mut to: TcpStream, latency: Duration) {
    let (tx, rx) = crossbeam_channel::bounded::<(Instant, Vec<u8>)>(IN_FLIGHT);
    let writer = std::thread::spawn(move || {
        let mut last = Instant::now();
        for (due, chunk) in rx {
            // In order: a delayed chunk holds back those after it, as TCP does.
            let due = due.max(last);
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
            last = due;
            if to.write_all(&chunk).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let due = Instant::now() + latency;
                if tx.send((due, buf[..n].to_vec())).is_err() {
                    break;
                }
            }
        }
    }
    drop(tx);
    let _ = writer.join();
}

/// Relay links, one per line: `listen target latency_ms dialer target_node`.
pub const RELAYS_FILE: &str = "relays.txt";
/// First port of the relays' listeners on the host side.
pub const RELAY_BASE_PORT: u16 = 20000;

/// How often the relay process looks at the cut file.
const CUT_POLL: Duration = Duration::from_millis(100);

/// The `relay` command: runs the links of `<dir>/relays.txt` and follows the cut file, until
/// killed.
pub fn run(dir: &Path) -> Result<(), String> {
    let text = fs::read_to_string(dir.join(RELAYS_FILE)).map_err(|e| e.to_string())?;
    let mut links = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let w: Vec<&str> = line.split_whitespace().collect();
        let [listen, target, latency, dialer, dialed] = w.as_slice() else {
            return Err(format!("bad relay line {line:?}"));
        };
        let node = |w: &str| {
            w.parse()
                .map_err(|_| format!("bad node number in {line:?}"))
        };
        let link = Link {
            listen: listen
                .parse()
                .map_err(|_| format!("bad address in {line:?}"))?,
            target: target
                .parse()
                .map_err(|_| format!("bad address in {line:?}"))?,
            latency: Duration::from_millis(
                latency
                    .parse()
                    .map_err(|_| format!("bad latency in {line:?}"))?,
            ),
            ends: (node(dialer)?, node(dialed)?),
        };
        eprintln!(
            "relay {} -> {} (node {} to {}, {:?})",
            link.listen, link.target, link.ends.0, link.ends.1, link.latency
        );
        links.push(link);
    }
    let mut states = Vec::new();
    for link in links {
        let state = Arc::new(LinkState::default());
        states.push((link.ends, state.clone()));
        std::thread::spawn(move || {
            if let Err(e) = serve(link, state) {
                eprintln!("relay stopped: {e}");
            }
        });
    }
    // A link is cut while exactly one of its ends is on the cut side.
    let mut last = Vec::new();
    loop {
        let side = read_cut(dir);
        if side != last {
            eprintln!("cut side now {side:?}");
            for ((a, b), state) in &states {
                state.set_cut(side.contains(a) != side.contains(b));
            }
            last = side;
        }
        std::thread::sleep(CUT_POLL);
    }
}
