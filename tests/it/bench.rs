//! The bench cannot rot: `aelf-netbench --smoke` runs every scenario at tiny sizes and each
//! reports a result line (figures are not judged here; they live in `docs/bench.md`). `wan`
//! starts a 3-node namespaced devnet where root may, and reports that it skipped elsewhere.

use std::process::Command;

#[test]
fn every_bench_scenario_runs_and_reports() {
    let dir = tempfile::tempdir().unwrap();
    let markdown = dir.path().join("bench.md");
    let out = Command::new(env!("CARGO_BIN_EXE_aelf-netbench"))
        .arg("--smoke")
        .arg("--markdown")
        .arg(&markdown)
        .output()
        .expect("run aelf-netbench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let results: Vec<serde_json::Value> = stdout
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    for scenario in [
        "fanout",
        "slow",
        "sync",
        "follow",
        "propagate",
        "peers",
        "serve",
        "wan",
    ] {
        let rows: Vec<&serde_json::Value> = results
            .iter()
            .filter(|r| r["scenario"] == scenario)
            .collect();
        assert!(!rows.is_empty(), "no {scenario} result in\n{stdout}");
        for row in rows {
            assert!(row["error"].is_null(), "{row}");
            let figures = row["figures"].as_object().expect("figures");
            assert!(
                figures
                    .values()
                    .all(|v| v.as_f64().is_some_and(f64::is_finite)),
                "{row}"
            );
        }
    }
    // The report links the figures, drawn as SVG beside it.
    let md = std::fs::read_to_string(&markdown).expect("the Markdown report");
    for file in ["propagation-cdf.svg", "sync-rate.svg"] {
        assert!(md.contains(&format!("(bench/{file})")), "{file} not linked");
        let svg = std::fs::read_to_string(dir.path().join("bench").join(file))
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(svg.starts_with("<svg") && svg.contains("</svg>"), "{file}");
        assert!(
            svg.contains("<polyline") || svg.contains("<rect"),
            "{file} draws nothing"
        );
    }
}
