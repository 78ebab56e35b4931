//! The fuzz targets (`aelf_net::fuzzing`) inside `make test`, without cargo-fuzz: every saved
//! input under `fuzz/regressions/<target>/` is replayed, and a short deterministic mutation run
//! over the seed inputs checks that no target panics on inputs near real messages.
//!
//! A crash found by `make fuzz` is copied to `fuzz/regressions/<target>/` by the Makefile, so it
//! fails here until it is fixed and guards the fix afterwards.
//!
//! The mutation schedule is fixed (xorshift64 from a constant seed). The seeds themselves are
//! the same on every run except the signed handshake's key, signature and timestamp, so a
//! failure prints the whole input in hex: saved under `fuzz/regressions/`, it replays exactly.

use aelf_net::fuzzing::{seeds, FuzzTarget, Seed, TARGETS};
use std::any::Any;
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Mutated inputs each target runs in the mutation test, spread over its seeds.
const MUTATED_INPUTS_PER_TARGET: usize = 3000;
/// Mutations never grow an input beyond this.
const MAX_INPUT_BYTES: usize = 64 * 1024;
/// The mutation run's fixed RNG seed; each target's generator is derived from it.
const MUTATION_RNG_SEED: u64 = 0x6165_6c66_2d6e_6574;

/// `fuzz/regressions/` in the source tree.
fn regressions_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions")
}

/// The text of a caught panic's payload.
fn panic_text(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "(a panic without a message)".to_owned()
    }
}

/// Runs one input through a target; the panic's message when it panics.
fn run_catching_panics(target: FuzzTarget, input: &[u8]) -> Result<(), String> {
    catch_unwind(AssertUnwindSafe(|| target(input))).map_err(|payload| panic_text(&*payload))
}

#[test]
fn every_saved_crash_input_is_replayed() {
    let root = regressions_dir();
    let target_names: Vec<&str> = TARGETS.iter().map(|(name, _)| *name).collect();
    // A folder that names no target would never be replayed: refuse it.
    if let Ok(entries) = std::fs::read_dir(&root) {
        for entry in entries {
            let path = entry.expect("a readable fuzz/regressions entry").path();
            if path.is_dir() {
                let name = path.file_name().unwrap_or_default().to_string_lossy();
                assert!(
                    target_names.contains(&name.as_ref()),
                    "{} names no fuzz target (targets: {target_names:?})",
                    path.display()
                );
            }
        }
    }

    let mut failures = Vec::new();
    let mut replayed = 0;
    for (name, target) in TARGETS {
        let dir = root.join(name);
        // No folder: no saved input for this target yet.
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries
            .map(|entry| entry.expect("a readable regression entry").path())
            .filter(|path| path.is_file())
            .filter(|path| {
                !path
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .starts_with('.')
            })
            .collect();
        files.sort();
        for file in files {
            let input = std::fs::read(&file)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
            replayed += 1;
            if let Err(message) = run_catching_panics(target, &input) {
                failures.push(format!("{}: {message}", file.display()));
            }
        }
    }
    println!("fuzz_replay: {replayed} saved inputs replayed");
    assert!(
        failures.is_empty(),
        "{} saved fuzz input(s) still panic:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// xorshift64: a small, fixed pseudo-random sequence (not for anything but test inputs).
struct XorShift64 {
    state: u64,
}

impl XorShift64 {
    fn new(seed: u64) -> XorShift64 {
        // Zero is xorshift's one fixed point.
        XorShift64 { state: seed.max(1) }
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.state = x;
        x
    }

    /// A number in `0..bound`; 0 when `bound` is 0.
    fn below(&mut self, bound: usize) -> usize {
        if bound == 0 {
            return 0;
        }
        (self.next_u64() % bound as u64) as usize
    }

    fn byte(&mut self) -> u8 {
        self.next_u64().to_le_bytes()[7]
    }
}

/// A range of `input` of 1 to 64 bytes (`input` must not be empty).
fn random_range(input: &[u8], rng: &mut XorShift64) -> std::ops::Range<usize> {
    let start = rng.below(input.len());
    let len = 1 + rng.below((input.len() - start).min(64));
    start..start + len
}

/// Applies one random mutation to `input`; `same_target_seeds` are splice partners.
fn mutate_once(input: &mut Vec<u8>, same_target_seeds: &[&[u8]], rng: &mut XorShift64) {
    const NOTABLE_BYTES: [u8; 3] = [0x00, 0xff, 0x80];
    // On an empty input only growing mutations make sense.
    let choice = if input.is_empty() {
        if rng.below(2) == 0 {
            3
        } else {
            7
        }
    } else {
        rng.below(8)
    };
    match choice {
        0 => {
            let at = rng.below(input.len());
            input[at] ^= 1 << rng.below(8);
        }
        1 => {
            let at = rng.below(input.len());
            input[at] = NOTABLE_BYTES[rng.below(NOTABLE_BYTES.len())];
        }
        2 => {
            let at = rng.below(input.len());
            input[at] = rng.byte();
        }
        3 => {
            let at = rng.below(input.len() + 1);
            let count = 1 + rng.below(16);
            let inserted: Vec<u8> = (0..count).map(|_| rng.byte()).collect();
            input.splice(at..at, inserted);
        }
        4 => {
            let range = random_range(input, rng);
            input.drain(range);
        }
        5 => {
            let range = random_range(input, rng);
            let copy = input[range].to_vec();
            let at = rng.below(input.len() + 1);
            input.splice(at..at, copy);
        }
        6 => {
            let keep = rng.below(input.len());
            input.truncate(keep);
        }
        _ => {
            // Splice: our head, another seed's tail.
            let other = same_target_seeds[rng.below(same_target_seeds.len())];
            let head = rng.below(input.len() + 1);
            let tail_from = rng.below(other.len() + 1);
            input.truncate(head);
            input.extend_from_slice(&other[tail_from..]);
        }
    }
    input.truncate(MAX_INPUT_BYTES);
}

/// One mutated variant of `seed`: one to four mutations stacked.
fn mutated(seed: &[u8], same_target_seeds: &[&[u8]], rng: &mut XorShift64) -> Vec<u8> {
    let mut input = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        mutate_once(&mut input, same_target_seeds, rng);
    }
    input
}

#[test]
fn a_deterministic_mutation_run_over_the_seeds_finds_nothing() {
    let all_seeds = seeds().expect("the fuzz seeds build");
    let mut seeds_by_target: BTreeMap<&str, Vec<&Seed>> = BTreeMap::new();
    for seed in &all_seeds {
        assert!(
            TARGETS.iter().any(|(name, _)| *name == seed.target),
            "seed {}/{} is for no fuzz target",
            seed.target,
            seed.name
        );
        seeds_by_target.entry(seed.target).or_default().push(seed);
    }

    for (index, (name, target)) in TARGETS.into_iter().enumerate() {
        let started = Instant::now();
        let target_seeds = seeds_by_target.get(name).map(Vec::as_slice).unwrap_or(&[]);
        assert!(
            !target_seeds.is_empty(),
            "no seed input for the {name} target"
        );
        let seed_bytes: Vec<&[u8]> = target_seeds.iter().map(|s| s.bytes.as_slice()).collect();

        for seed in target_seeds {
            if let Err(message) = run_catching_panics(target, &seed.bytes) {
                panic!(
                    "fuzz target {name} panics on its seed {}: {message}\ninput (hex): {}",
                    seed.name,
                    hex::encode(&seed.bytes)
                );
            }
        }

        // Each target's own generator: changing one target's run leaves the others' alone.
        let mut rng = XorShift64::new(
            MUTATION_RNG_SEED ^ (index as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15),
        );
        for variant in 0..MUTATED_INPUTS_PER_TARGET {
            let seed = target_seeds[variant % target_seeds.len()];
            let input = mutated(&seed.bytes, &seed_bytes, &mut rng);
            if let Err(message) = run_catching_panics(target, &input) {
                panic!(
                    "fuzz target {name} panics on mutated input {variant} of seed {}: \
                     {message}\ninput (hex): {}\n(save it as fuzz/regressions/{name}/<what-it-is> \
                     to keep it as a regression test)",
                    seed.name,
                    hex::encode(&input)
                );
            }
        }
        println!(
            "fuzz_replay: {name}: {} seeds, {MUTATED_INPUTS_PER_TARGET} mutated inputs in {:?}",
            target_seeds.len(),
            started.elapsed()
        );
    }
}
