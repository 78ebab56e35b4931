#![no_main]
//! The operator API on arbitrary requests (`aelf_net::fuzzing::api`).

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| aelf_net::fuzzing::api(data));
