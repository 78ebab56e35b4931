//! The operator HTTP API from the outside, through the library's own client
//! ([`aelf_net::api::client::ApiClient`]): any method and status, and the JSON.

use aelf_net::api::client::ApiClient;
use serde_json::Value;
use std::net::SocketAddr;

/// One request: (status, body). A node that cannot be reached fails the test.
pub fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    http_with(addr, method, path, body, &[])
}

/// [`http`] with extra header lines.
pub fn http_with(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &str,
    headers: &[(&str, &str)],
) -> (u16, String) {
    let answer = ApiClient::to(addr)
        .request_with(method, path, Some(body), headers)
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    (answer.status, answer.body)
}

/// Parses a JSON body (panics with the body when it is not JSON).
pub fn parse(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}
