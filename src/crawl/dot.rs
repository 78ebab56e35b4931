//! A crawl report as a Graphviz graph: one box per endpoint (coloured by how its probe ended,
//! labelled with its key, version and heights), one edge per pair of nodes where either
//! advertises the other. [`to_dot`] is pure text; [`render_svg`] hands it to Graphviz.

use super::{CrawlReport, NodeReport, Status};
use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

/// Fill colour of a node's box by status.
fn colour(status: Status) -> &'static str {
    match status {
        Status::Answered => "#c8e6c9",
        Status::Refused => "#ffe0b2",
        Status::Unreachable | Status::TlsFailure | Status::Failed => "#ffcdd2",
        Status::NotVisited => "#eeeeee",
    }
}

/// Escapes `text` for a double-quoted DOT string.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The lines of a node's label.
fn label(node: &NodeReport) -> String {
    let mut lines = vec![node.endpoint.clone()];
    if let Some(key) = &node.pubkey {
        lines.push(format!("{}…", key.get(..12).unwrap_or(key)));
    }
    match node.status {
        Status::Answered => {
            lines.push(format!(
                "{} {} {}",
                node.chain_id.as_deref().unwrap_or("?"),
                node.node_version.as_deref().unwrap_or("?"),
                node.mode.as_deref().unwrap_or("?")
            ));
            lines.push(format!(
                "height {} LIB {}",
                node.best_height.unwrap_or_default(),
                node.lib_height.unwrap_or_default()
            ));
        }
        status => {
            let reason = node.reason.as_deref().unwrap_or_default();
            let short: String = reason.chars().take(40).collect();
            lines.push(format!("{}: {short}", status.as_str()));
        }
    }
    lines.join("\n")
}

/// The report as an undirected DOT graph; nodes and edges in the order they were found, so the
/// same report always gives the same text.
pub fn to_dot(report: &CrawlReport) -> String {
    let position: HashMap<&str, usize> = report
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.endpoint.as_str(), i))
        .collect();
    let mut out = String::new();
    out.push_str("graph aelf {\n");
    out.push_str("  graph [rankdir=LR, overlap=false, splines=true, fontname=\"Helvetica\"];\n");
    out.push_str(
        "  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=10];\n",
    );
    for node in &report.nodes {
        let _ = writeln!(
            out,
            "  {} [label={}, fillcolor={}];",
            quoted(&node.endpoint),
            quoted(&label(node)),
            quoted(colour(node.status))
        );
    }
    let mut edges = BTreeSet::new();
    for (i, node) in report.nodes.iter().enumerate() {
        for neighbour in &node.neighbours {
            // Advertised endpoints that were not visited (max_nodes) are left out.
            if let Some(&j) = position.get(neighbour.endpoint.as_str()) {
                if i != j {
                    edges.insert((i.min(j), i.max(j)));
                }
            }
        }
    }
    for (a, b) in edges {
        let _ = writeln!(
            out,
            "  {} -- {};",
            quoted(&report.nodes[a].endpoint),
            quoted(&report.nodes[b].endpoint)
        );
    }
    out.push_str("}\n");
    out
}

/// Renders `dot` (DOT text) to an SVG file at `path` with Graphviz's `dot` program.
pub fn render_svg(dot: &str, path: &Path) -> Result<(), String> {
    let mut child = Command::new("dot")
        .arg("-Tsvg")
        .arg("-o")
        .arg(path)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            format!(
                "cannot run Graphviz's `dot` ({e}); install it (Debian: apt-get install graphviz)"
            )
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(dot.as_bytes())
            .map_err(|e| format!("cannot feed `dot`: {e}"))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("`dot` failed: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "`dot` could not render {}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crawl::Neighbour;

    fn node(endpoint: &str, status: Status, neighbours: &[&str]) -> NodeReport {
        let mut n = NodeReport::new(endpoint.into(), status);
        n.neighbours = neighbours
            .iter()
            .map(|e| Neighbour {
                endpoint: (*e).into(),
                pubkey: "04ab".into(),
            })
            .collect();
        n
    }

    #[test]
    fn edges_are_undirected_deduplicated_and_only_between_found_nodes() {
        let mut refused = node("10.0.0.3:6800", Status::Refused, &[]);
        refused.reason = Some("CONNECTION_REFUSED \"x\"".into());
        let report = CrawlReport {
            crawler_pubkey: "04".into(),
            nodes: vec![
                node(
                    "10.0.0.1:6800",
                    Status::Answered,
                    &["10.0.0.2:6800", "9.9.9.9:1"],
                ),
                node(
                    "10.0.0.2:6800",
                    Status::Answered,
                    &["10.0.0.1:6800", "10.0.0.3:6800"],
                ),
                refused,
            ],
            timed_out: false,
            truncated: false,
            elapsed_ms: 1,
        };
        let dot = to_dot(&report);
        assert_eq!(dot.matches(" -- ").count(), 2, "{dot}");
        assert!(
            dot.contains("\"10.0.0.1:6800\" -- \"10.0.0.2:6800\";"),
            "{dot}"
        );
        assert!(
            dot.contains("\"10.0.0.2:6800\" -- \"10.0.0.3:6800\";"),
            "{dot}"
        );
        assert!(!dot.contains("9.9.9.9"), "{dot}");
        assert!(
            dot.contains("refused: CONNECTION_REFUSED \\\"x\\\""),
            "{dot}"
        );
        assert!(dot.starts_with("graph aelf {") && dot.ends_with("}\n"));
    }
}
