#![no_main]
//! Endpoint parsing and printing (`aelf_net::fuzzing::endpoint`).

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| aelf_net::fuzzing::endpoint(data));
