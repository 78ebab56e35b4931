//! Endpoint parsing: never a panic; what parses prints back to text that parses to itself.
#![no_main]

use aelf_net::network::endpoint::Endpoint;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(endpoint) = Endpoint::parse(text) {
        assert!(!endpoint.host.is_empty());
        assert!(endpoint.port > 0);
        let again = Endpoint::parse(&endpoint.to_string()).expect("printed endpoints parse");
        assert_eq!(again, endpoint);
    }
});
