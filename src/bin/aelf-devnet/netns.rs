//! The network namespaces of a `--netns` devnet (root only): one per node, joined to the host
//! by a veth pair, with random packet loss (an nftables rule) and a `tbf` rate cap when asked;
//! and their removal.
//!
//! Owns the `ip`, `nft` and `tc` commands. It must not choose names or addresses (`layout`
//! does) nor start nodes.

use std::process::Command;

/// One node's namespace: its name, the veth pair's host and namespace ends, and the /24 the
/// pair is on (`10.x.i`: host `.1`, node `.2`).
#[derive(Debug, Clone)]
pub struct Namespace {
    pub name: String,
    pub host: String,
    pub inner: String,
    pub prefix: String,
}

/// Runs a command that sets up or tears down the network; its error output on failure.
fn run(program: &str, args: &[&str]) -> Result<(), String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`{program} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The nftables table, in each node's namespace, that drops packets at random.
const LOSS_TABLE: &str = "aelfnet_loss";

/// Creates the namespaces and veth links of `plan`, with `tbf` caps and random packet loss
/// when asked.
pub fn make_netns(plan: &[Namespace], rate_kbit: u64, loss_percent: f64) -> Result<(), String> {
    for Namespace {
        name: ns,
        host,
        inner,
        prefix,
    } in plan
    {
        run("ip", &["netns", "add", ns])?;
        run(
            "ip",
            &["link", "add", host, "type", "veth", "peer", "name", inner],
        )?;
        run("ip", &["link", "set", inner, "netns", ns])?;
        run(
            "ip",
            &["addr", "add", &format!("{prefix}.1/24"), "dev", host],
        )?;
        run("ip", &["link", "set", host, "up"])?;
        // `program args…` run inside the namespace.
        let in_ns = |program: &str, args: &[&str]| {
            let mut all = vec!["netns", "exec", ns.as_str(), program];
            all.extend_from_slice(args);
            run("ip", &all)
        };
        in_ns(
            "ip",
            &["addr", "add", &format!("{prefix}.2/24"), "dev", inner],
        )?;
        in_ns("ip", &["link", "set", inner, "up"])?;
        in_ns("ip", &["link", "set", "lo", "up"])?;
        if loss_percent > 0.0 {
            // Dropped on the way in, so the sender learns of it only as TCP does: no ACK. A
            // relayed link crosses one node's input per direction, so each direction of every
            // link loses `loss_percent` of its data packets.
            let per_10k = ((loss_percent * 100.0).round() as u32)
                .min(10_000)
                .to_string();
            in_ns("nft", &["add", "table", "inet", LOSS_TABLE])?;
            in_ns(
                "nft",
                &[
                    "add",
                    "chain",
                    "inet",
                    LOSS_TABLE,
                    "in",
                    "{ type filter hook input priority 0 ; policy accept ; }",
                ],
            )?;
            in_ns(
                "nft",
                &[
                    "add", "rule", "inet", LOSS_TABLE, "in", "numgen", "random", "mod", "10000",
                    "lt", &per_10k, "drop",
                ],
            )?;
        }
        if rate_kbit > 0 {
            let rate = format!("{rate_kbit}kbit");
            run(
                "tc",
                &[
                    "qdisc", "add", "dev", host, "root", "tbf", "rate", &rate, "burst", "32kbit",
                    "latency", "400ms",
                ],
            )?;
        }
    }
    Ok(())
}

pub fn remove_netns(names: impl Iterator<Item = String>) {
    for ns in names {
        // Deleting the namespace deletes its veth end, and with it the host end.
        if let Err(e) = run("ip", &["netns", "del", &ns]) {
            eprintln!("aelf-devnet: {e}");
        }
    }
}
