#![no_main]
//! Config parsing and validation on arbitrary text (`aelf_net::fuzzing::config`).

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| aelf_net::fuzzing::config(data));
