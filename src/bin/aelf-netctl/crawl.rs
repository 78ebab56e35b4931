//! `aelf-netctl crawl`: its flags and its printing (a table, `--json`, `--dot`, `--svg`). The
//! crawling itself is the library's ([`aelf_net::crawl`]); this file must not talk to a node
//! any other way.

use super::{short, table, Failure};
use clap::Args;
use serde_json::json;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Args, Debug)]
pub struct CrawlArgs {
    /// Where to start: host:port of one or more nodes' peer service.
    #[arg(required = true)]
    seeds: Vec<String>,
    /// The chain the crawler claims: a name ("AELF", "tDVV") or the number.
    #[arg(long, default_value = "AELF")]
    chain_id: String,
    /// Address legacy-mode nodes dial back at (certificate fetch and Ping).
    #[arg(long, default_value = "0.0.0.0")]
    listen: std::net::IpAddr,
    /// Port they dial back at; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    listen_port: u16,
    /// Nodes probed at once.
    #[arg(long, default_value_t = aelf_net::crawl::DEFAULT_CONCURRENCY)]
    concurrency: usize,
    /// Seconds one node may take, from the certificate fetch to the goodbye.
    #[arg(long, default_value_t = 10)]
    node_timeout: u64,
    /// Seconds the whole crawl may take; nodes not reached by then are "not_visited".
    #[arg(long, default_value_t = 120)]
    crawl_timeout: u64,
    /// Most endpoints visited.
    #[arg(long, default_value_t = aelf_net::crawl::DEFAULT_MAX_NODES)]
    max_nodes: usize,
    /// Print the topology as Graphviz DOT instead of the table.
    #[arg(long)]
    dot: bool,
    /// Also render the topology to this SVG file (needs Graphviz's `dot`).
    #[arg(long)]
    svg: Option<PathBuf>,
}

/// `crawl`: runs the library's crawler and prints its report.
pub fn run_crawl(a: &CrawlArgs, json: bool) -> Result<(), Failure> {
    use aelf_net::crawl::{crawl, dot, CrawlOptions, Status};
    use aelf_net::network::endpoint::Endpoint;
    let seeds = a
        .seeds
        .iter()
        .map(|s| Endpoint::parse(s).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let chain_id = match a.chain_id.parse::<i32>() {
        Ok(id) => id,
        Err(_) => aelf_net::types::chain_id_from_name(&a.chain_id).map_err(|e| e.to_string())?,
    };
    let mut options = CrawlOptions::new(seeds, chain_id);
    options.listen_address = a.listen;
    options.listen_port = a.listen_port;
    options.concurrency = a.concurrency;
    options.node_timeout = Duration::from_secs(a.node_timeout.max(1));
    options.total_timeout = Duration::from_secs(a.crawl_timeout.max(1));
    options.max_nodes = a.max_nodes;
    let report = crawl(&options).map_err(|e| e.to_string())?;
    let graph = dot::to_dot(&report);
    if let Some(path) = &a.svg {
        dot::render_svg(&graph, path)?;
    }
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else if a.dot {
        print!("{graph}");
    } else {
        let rows: Vec<Vec<String>> = report
            .nodes
            .iter()
            .map(|n| {
                let or_dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
                let number = |v: Option<i64>| v.map_or("-".into(), |h| h.to_string());
                let neighbours: Vec<&str> =
                    n.neighbours.iter().map(|x| x.endpoint.as_str()).collect();
                vec![
                    n.endpoint.clone(),
                    n.status.as_str().into(),
                    short(&json!(n.pubkey)),
                    or_dash(&n.node_version),
                    or_dash(&n.mode),
                    or_dash(&n.chain_id),
                    number(n.best_height),
                    n.best_hash
                        .as_deref()
                        .map_or("-".into(), |h| format!("{}…", h.get(..12).unwrap_or(h))),
                    number(n.lib_height),
                    if neighbours.is_empty() {
                        "-".into()
                    } else {
                        neighbours.join(",")
                    },
                ]
            })
            .collect();
        table(
            &[
                "ENDPOINT",
                "STATUS",
                "PUBKEY",
                "VERSION",
                "MODE",
                "CHAIN",
                "HEIGHT",
                "HASH",
                "LIB",
                "NEIGHBOURS",
            ],
            &rows,
        );
        for n in &report.nodes {
            if let Some(reason) = n.reason.as_ref().or(n.neighbours_error.as_ref()) {
                println!("{}: {reason}", n.endpoint);
            }
        }
        println!(
            "{} node(s): {} answered, {} refused, {} unreachable, {} failed, {} not visited; {} ms{}",
            report.nodes.len(),
            report.count(Status::Answered),
            report.count(Status::Refused),
            report.count(Status::Unreachable),
            report.count(Status::TlsFailure) + report.count(Status::Failed),
            report.count(Status::NotVisited),
            report.elapsed_ms,
            if report.truncated {
                " (stopped at --max-nodes)"
            } else {
                ""
            }
        );
    }
    if report.count(Status::Answered) == 0 {
        return Err("no node answered".into());
    }
    Ok(())
}
