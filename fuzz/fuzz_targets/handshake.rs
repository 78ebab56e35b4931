#![no_main]
//! Handshake validation on arbitrary handshakes (`aelf_net::fuzzing::handshake`).

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| aelf_net::fuzzing::handshake(data));
