//! `aelf-netbench`: measures aelf-net against raw grpcio on the same machine in the same run
//! (`make bench`). Scenarios: fanout (ours vs raw), propagate, sync (legacy, stream, raw),
//! peers (RSS, threads, handshakes/s), slow peer, serve (health checks on a stream busy
//! with block requests) and wan (propagation over a namespaced devnet's delayed links, root
//! only). Each result is printed as a table row and
//! one JSON line; `--markdown FILE` writes the report `docs/bench.md` is made of.
//!
//! Sizes: `--smoke` (seconds: the test suite runs it so the bench cannot rot), the default
//! quick run (`make bench`, a few minutes), `--full` (the sizes the issue names).
//!
//! Files: `scenarios/` (one module per scenario, and what they share), `sink.rs` (the sink
//! servers both sides are measured against), `report.rs` (table rows, JSON lines, Markdown),
//! `figures.rs` (the SVG figures the Markdown links: `bench/` beside it).
//! This file owns the command line, the sizes and the child's side of the `sinks` process; it
//! must not measure anything itself.

mod figures;
mod report;
mod scenarios;
mod sink;

use clap::{Parser, Subcommand};
use report::Report;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "aelf-netbench",
    version,
    about = "aelf-net benchmarks against raw grpcio"
)]
struct Args {
    #[command(subcommand)]
    command: Option<Cmd>,
    /// Tiny sizes: checks every scenario runs and reports (seconds).
    #[arg(long, global = true)]
    smoke: bool,
    /// The full sizes (minutes).
    #[arg(long, global = true)]
    full: bool,
    /// Only these scenarios (comma-separated: fanout,propagate,sync,peers,slow,serve,wan;
    /// sync includes follow).
    #[arg(long, global = true, value_delimiter = ',')]
    only: Vec<String>,
    /// Also write the Markdown report here.
    #[arg(long, global = true)]
    markdown: Option<PathBuf>,
    /// The chain height of the sync and follow scenarios (instead of the size's), e.g. 200000
    /// for the follower's memory over a long chain.
    #[arg(long, global = true)]
    sync_height: Option<usize>,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Serve N sinks in this process for a parent bench (stdin/stdout line protocol).
    #[command(hide = true)]
    Sinks {
        #[arg(long)]
        count: usize,
        /// How many of them (the first ones) never read their streams.
        #[arg(long, default_value_t = 0)]
        stall: usize,
    },
}

/// Sizes of one run.
#[derive(Debug, Clone)]
pub struct Sizes {
    pub name: &'static str,
    /// fanout: transactions per run, and the peer counts.
    pub fanout_items: usize,
    /// fanout and slow peer: runs of each side, alternating; the median counts.
    pub repeats: usize,
    pub fanout_peers: Vec<usize>,
    /// propagate: node counts, transactions per block, blocks measured.
    pub propagate_nodes: Vec<usize>,
    pub propagate_block_txs: Vec<u32>,
    pub propagate_blocks: usize,
    /// sync: chain height.
    pub sync_height: usize,
    /// peers: idle peer counts.
    pub peer_counts: Vec<usize>,
    /// slow peer: transactions per run.
    pub slow_items: usize,
    /// serve: health checks measured on the busy stream.
    pub serve_checks: usize,
    /// wan: nodes of the namespaced devnet with delayed links (fewer than 2: not run).
    pub wan_nodes: usize,
}

impl Sizes {
    fn smoke() -> Sizes {
        Sizes {
            name: "smoke",
            fanout_items: 500,
            repeats: 1,
            fanout_peers: vec![2],
            propagate_nodes: vec![4],
            propagate_block_txs: vec![10],
            propagate_blocks: 2,
            sync_height: 60,
            peer_counts: vec![4],
            slow_items: 300,
            serve_checks: 10,
            wan_nodes: 3,
        }
    }

    fn quick() -> Sizes {
        Sizes {
            name: "quick",
            fanout_items: 50_000,
            repeats: 3,
            fanout_peers: vec![1, 8, 32],
            propagate_nodes: vec![8, 16],
            propagate_block_txs: vec![10, 1000],
            propagate_blocks: 10,
            sync_height: 5_000,
            peer_counts: vec![10, 100, 500],
            slow_items: 50_000,
            serve_checks: 500,
            wan_nodes: 8,
        }
    }

    fn full() -> Sizes {
        Sizes {
            name: "full",
            fanout_items: 100_000,
            repeats: 7,
            fanout_peers: vec![1, 8, 32],
            propagate_nodes: vec![8, 16, 32],
            propagate_block_txs: vec![10, 1000],
            propagate_blocks: 30,
            sync_height: 20_000,
            peer_counts: vec![10, 100, 500],
            slow_items: 100_000,
            serve_checks: 2_000,
            wan_nodes: 16,
        }
    }
}

/// The sink child process: prints `port <p>` per sink and `ready`, then answers `counts`
/// (`counts c1 c2 …`) and `reset` (`ok`) on stdin until it closes.
fn serve_sinks(count: usize, stall: usize) -> Result<(), String> {
    let env = std::sync::Arc::new(
        grpcio::EnvBuilder::new()
            .cq_count(2)
            .name_prefix("sink")
            .build(),
    );
    let dir = scenarios::Scratch::new("sinks")?;
    let chain = sink::genesis_chain(&dir.0)?;
    let sinks: Vec<sink::Sink> = (0..count)
        .map(|i| sink::Sink::start(&env, &chain, i < stall, None))
        .collect::<Result<_, _>>()?;
    let mut out = std::io::stdout().lock();
    for s in &sinks {
        writeln!(out, "port {}", s.port).map_err(|e| e.to_string())?;
    }
    writeln!(out, "ready").map_err(|e| e.to_string())?;
    out.flush().map_err(|e| e.to_string())?;
    for line in std::io::stdin().lock().lines() {
        let line = line.map_err(|e| e.to_string())?;
        match line.trim() {
            "counts" => {
                let counts: Vec<String> = sinks.iter().map(|s| s.received().to_string()).collect();
                writeln!(out, "counts {}", counts.join(" ")).map_err(|e| e.to_string())?;
            }
            "reset" => {
                for s in &sinks {
                    s.counters
                        .transactions
                        .store(0, std::sync::atomic::Ordering::Relaxed);
                    s.counters
                        .bytes
                        .store(0, std::sync::atomic::Ordering::Relaxed);
                }
                writeln!(out, "ok").map_err(|e| e.to_string())?;
            }
            other => writeln!(out, "error unknown command {other:?}").map_err(|e| e.to_string())?,
        }
        out.flush().map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(Cmd::Sinks { count, stall }) = args.command {
        return match serve_sinks(count, stall) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("aelf-netbench sinks: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let _ = aelf_net::logging::init(log::LevelFilter::Error, None);
    let mut sizes = if args.smoke {
        Sizes::smoke()
    } else if args.full {
        Sizes::full()
    } else {
        Sizes::quick()
    };
    if let Some(height) = args.sync_height {
        sizes.sync_height = height.max(20);
    }
    let wanted = |name: &str| args.only.is_empty() || args.only.iter().any(|o| o == name);
    let mut report = Report::new(sizes.name);
    let started = std::time::Instant::now();
    let mut failed = false;
    type Scenario = fn(&Sizes, &mut Report) -> Result<(), String>;
    let all: [(&str, Scenario); 7] = [
        ("fanout", scenarios::fanout::run),
        ("slow", scenarios::slow::run),
        ("sync", scenarios::sync::run),
        ("propagate", scenarios::propagate::run),
        ("peers", scenarios::peers::run),
        ("serve", scenarios::serve::run),
        ("wan", scenarios::wan::run),
    ];
    for (name, run) in all {
        if !wanted(name) {
            continue;
        }
        eprintln!("aelf-netbench: {name} ({})", sizes.name);
        if let Err(e) = run(&sizes, &mut report) {
            eprintln!("aelf-netbench: {name} failed: {e}");
            report.failure(name, &e);
            failed = true;
        }
    }
    report.finish(started.elapsed());
    if let Some(path) = &args.markdown {
        // The figures go to `bench/` beside the report (docs/bench/ for docs/bench.md).
        let folder = "bench";
        let dir = path
            .parent()
            .unwrap_or(std::path::Path::new("."))
            .join(folder);
        let drawn = match figures::write(&report, &dir) {
            Ok(drawn) => drawn,
            Err(e) => {
                eprintln!(
                    "aelf-netbench: cannot draw the figures in {}: {e}",
                    dir.display()
                );
                failed = true;
                Vec::new()
            }
        };
        if let Err(e) = std::fs::write(path, report.markdown(folder, &drawn)) {
            eprintln!("aelf-netbench: cannot write {}: {e}", path.display());
            failed = true;
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
