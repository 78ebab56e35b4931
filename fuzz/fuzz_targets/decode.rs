#![no_main]
//! Decoding of every network message, with round trips (`aelf_net::fuzzing::decode`).

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| aelf_net::fuzzing::decode(data));
