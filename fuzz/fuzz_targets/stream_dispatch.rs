#![no_main]
//! The stream dispatcher on arbitrary messages (`aelf_net::fuzzing::stream_dispatch`).

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| aelf_net::fuzzing::stream_dispatch(data));
