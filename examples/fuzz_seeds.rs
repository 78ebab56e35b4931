//! Writes the fuzz targets' seed corpora (`aelf_net::fuzzing::seeds`: real encoded messages,
//! the shipped config, endpoints and API requests) to `<dir>/<target>/<name>`, by default
//! `fuzz/corpus`. `make fuzz` runs it first:
//!
//! ```sh
//! cargo run --example fuzz_seeds -- fuzz/corpus
//! ```

use aelf_net::fuzzing::seeds;
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let corpus_dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "fuzz/corpus".into()),
    );
    for seed in seeds()? {
        let target_dir = corpus_dir.join(seed.target);
        std::fs::create_dir_all(&target_dir)?;
        std::fs::write(target_dir.join(&seed.name), &seed.bytes)?;
    }
    println!("seeds written to {}", corpus_dir.display());
    Ok(())
}
