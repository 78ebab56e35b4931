//! A small blocking client for a node's operator API, used by the tools that talk to a node
//! (`aelf-netctl`, `aelf-devnet`, `aelf-netbench`) and the tests: GET, POST and DELETE with JSON
//! bodies, optional HTTP Basic credentials, timeouts, and errors that say what went wrong.
//!
//! Owns the client side of the API only: building requests, reading answers, turning non-2xx
//! answers into [`ClientError`]s (with the API's `Error.Message`). It must not know the routes
//! (callers give paths) nor the server (see the parent module), and it speaks plain HTTP to the
//! local API only (no TLS, no async runtime).
//!
//! ```no_run
//! use aelf_net::api::client::ApiClient;
//! use std::time::Duration;
//!
//! let api = ApiClient::new("http://127.0.0.1:8000")
//!     .with_timeout(Duration::from_secs(10))
//!     .with_basic_auth("op", "secret");
//! let status = api.get("/api/blockChain/chainStatus")?;
//! println!("height {}", status["BestChainHeight"]);
//! let added = api.post("/api/net/peer", &serde_json::json!({ "Address": "10.0.0.7:6800" }))?;
//! // Any method, any answer: status and body, a 4xx included.
//! let answer = api.request("PUT", "/api/net/peers", None)?;
//! assert_eq!(answer.status, 405);
//! # Ok::<(), aelf_net::api::client::ClientError>(())
//! ```

use super::auth::basic_header;
use serde_json::Value;
use std::net::SocketAddr;
use std::time::Duration;
use thiserror::Error;

/// How long one request may take in all when the caller sets no timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a request to the API failed.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ClientError {
    /// No answer: connection refused, timed out, a bad URL or method.
    #[error("cannot reach the node API at {base}: {reason}")]
    Unreachable { base: String, reason: String },
    /// An answer came but its body could not be read.
    #[error("unreadable answer from {url}: {reason}")]
    Unreadable { url: String, reason: String },
    /// 401: no, or wrong, credentials for a write route.
    #[error("authentication failed: {message}")]
    Unauthorized { message: String },
    /// Any other answer outside 2xx, with the API's error message and the whole body.
    #[error("the node refused ({status}): {message}")]
    Refused {
        status: u16,
        message: String,
        body: Value,
    },
}

/// One answer, whatever its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

impl Answer {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as JSON; a body that is not JSON becomes a JSON string.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| Value::String(self.body.clone()))
    }

    /// The JSON of a 2xx, else the error the answer stands for.
    pub fn into_json(self) -> Result<Value, ClientError> {
        let value = self.json();
        if self.is_success() {
            return Ok(value);
        }
        let message = value["Error"]["Message"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| value.to_string());
        Err(match self.status {
            401 => ClientError::Unauthorized { message },
            status => ClientError::Refused {
                status,
                message,
                body: value,
            },
        })
    }
}

/// A node's API as one tool reaches it: base URL, credentials, timeouts. Cheap to clone;
/// connections are kept alive between requests.
#[derive(Debug, Clone)]
pub struct ApiClient {
    base: String,
    authorization: Option<String>,
    timeout: Duration,
    connect_timeout: Option<Duration>,
    agent: ureq::Agent,
}

impl ApiClient {
    /// The API at `base` (`http://host:port`, a trailing `/` ignored), no credentials, a
    /// [`DEFAULT_TIMEOUT`] per request.
    pub fn new(base: &str) -> ApiClient {
        ApiClient {
            base: base.trim_end_matches('/').to_owned(),
            authorization: None,
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: None,
            agent: agent(DEFAULT_TIMEOUT, None),
        }
    }

    /// The API listening on `addr` (`[api] listen`).
    pub fn to(addr: SocketAddr) -> ApiClient {
        ApiClient::new(&format!("http://{addr}"))
    }

    /// Each request, connecting included, takes at most `timeout`.
    pub fn with_timeout(mut self, timeout: Duration) -> ApiClient {
        self.timeout = timeout;
        self.agent = agent(self.timeout, self.connect_timeout);
        self
    }

    /// Connecting takes at most `timeout` (within the request's).
    pub fn with_connect_timeout(mut self, timeout: Duration) -> ApiClient {
        self.connect_timeout = Some(timeout);
        self.agent = agent(self.timeout, self.connect_timeout);
        self
    }

    /// Sends HTTP Basic credentials with every request (the write routes need them; reads
    /// ignore them).
    pub fn with_basic_auth(mut self, user: &str, password: &str) -> ApiClient {
        self.authorization = Some(basic_header(user, password));
        self
    }

    /// The base URL, without a trailing `/`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// GET `path` (with its query): the JSON of a 2xx.
    pub fn get(&self, path: &str) -> Result<Value, ClientError> {
        self.request("GET", path, None)?.into_json()
    }

    /// POST `body` as JSON to `path`: the JSON of a 2xx.
    pub fn post(&self, path: &str, body: &Value) -> Result<Value, ClientError> {
        self.request("POST", path, Some(&body.to_string()))?
            .into_json()
    }

    /// DELETE `path` (with its query): the JSON of a 2xx.
    pub fn delete(&self, path: &str) -> Result<Value, ClientError> {
        self.request("DELETE", path, None)?.into_json()
    }

    /// Any method, with an optional body (sent as `application/json`, whatever the method):
    /// the answer whatever its status. Only a failure to get an answer is an error.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> Result<Answer, ClientError> {
        self.request_with(method, path, body, &[])
    }

    /// [`request`](Self::request) with extra header lines; an `Authorization` among them
    /// replaces the client's credentials for this request.
    pub fn request_with(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Result<Answer, ClientError> {
        let url = format!("{}{path}", self.base);
        let unreachable = |reason: String| ClientError::Unreachable {
            base: self.base.clone(),
            reason,
        };
        let method = ureq::http::Method::from_bytes(method.as_bytes())
            .map_err(|e| unreachable(format!("{method:?}: {e}")))?;
        let mut request = ureq::http::Request::builder().method(method).uri(&url);
        let own_authorization = headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("Authorization"));
        if let (Some(auth), false) = (&self.authorization, own_authorization) {
            request = request.header("Authorization", auth);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = match body {
            // ureq sends the body of a request built this way whatever the method.
            Some(body) => request
                .header("Content-Type", "application/json")
                .body(body)
                .map_err(|e| unreachable(e.to_string()))
                .and_then(|r| self.agent.run(r).map_err(|e| unreachable(e.to_string()))),
            None => request
                .body(())
                .map_err(|e| unreachable(e.to_string()))
                .and_then(|r| self.agent.run(r).map_err(|e| unreachable(e.to_string()))),
        };
        let mut response = response?;
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .read_to_string()
            .map_err(|e| ClientError::Unreadable {
                url,
                reason: e.to_string(),
            })?;
        Ok(Answer { status, body })
    }
}

/// An agent that hands every status back (the client decides what an error is).
fn agent(timeout: Duration, connect_timeout: Option<Duration>) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .timeout_connect(connect_timeout)
        .build()
        .into()
}

#[cfg(test)]
mod tests {
    use super::{Answer, ApiClient, ClientError};
    use serde_json::json;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::{SocketAddr, TcpListener};
    use std::thread::JoinHandle;
    use std::time::Duration;

    /// A one-request server: answers `status` with `body` and hands back the request it read
    /// (request line, headers, body).
    fn serve_once(status: &str, body: &'static str) -> (SocketAddr, JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let status = status.to_owned();
        let server = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = String::new();
            let mut length = 0;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if let Some((name, value)) = line.split_once(':') {
                    if name.eq_ignore_ascii_case("content-length") {
                        length = value.trim().parse().unwrap();
                    }
                }
                head.push_str(&line);
                if line == "\r\n" {
                    break;
                }
            }
            let mut sent = vec![0; length];
            reader.read_exact(&mut sent).unwrap();
            let mut stream = stream;
            write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .unwrap();
            head + &String::from_utf8(sent).unwrap()
        });
        (addr, server)
    }

    #[test]
    fn a_2xx_answers_its_json_and_credentials_go_with_every_request() {
        let (addr, server) = serve_once("200 OK", r#"{"BestChainHeight":7}"#);
        let api = ApiClient::to(addr).with_basic_auth("op", "secret");
        assert_eq!(
            api.get("/api/blockChain/chainStatus").unwrap()["BestChainHeight"],
            7
        );
        let request = server.join().unwrap();
        assert!(
            request.starts_with("GET /api/blockChain/chainStatus HTTP/1.1\r\n"),
            "{request}"
        );
        let auth = format!("authorization: {}\r\n", super::basic_header("op", "secret"));
        assert!(
            request
                .to_ascii_lowercase()
                .contains(&auth.to_ascii_lowercase()),
            "{request}"
        );
    }

    #[test]
    fn a_post_sends_json_and_a_body_that_is_not_json_comes_back_as_a_string() {
        let (addr, server) = serve_once("200 OK", "plain");
        let api = ApiClient::new(&format!("http://{addr}/"));
        let answer = api.post("/api/net/peer", &json!({ "Address": "10.0.0.7:6800" }));
        assert_eq!(answer, Ok(json!("plain")));
        let request = server.join().unwrap();
        assert!(
            request.starts_with("POST /api/net/peer HTTP/1.1\r\n"),
            "{request}"
        );
        assert!(
            request
                .to_ascii_lowercase()
                .contains("content-type: application/json\r\n"),
            "{request}"
        );
        assert!(
            request.ends_with(r#"{"Address":"10.0.0.7:6800"}"#),
            "{request}"
        );
    }

    #[test]
    fn any_method_gets_status_and_body_even_with_a_body_and_a_4xx() {
        let error = r#"{"Error":{"Code":"20012","Message":"bad parameters"}}"#;
        let (addr, server) = serve_once("400 Bad Request", error);
        let answer = ApiClient::to(addr)
            .with_basic_auth("op", "secret")
            .request_with(
                "DELETE",
                "/api/net/bans?host=",
                Some("{}"),
                &[("Authorization", "Basic wrong")],
            )
            .unwrap();
        assert_eq!(
            answer,
            Answer {
                status: 400,
                body: error.into()
            }
        );
        let request = server.join().unwrap();
        assert!(
            request.starts_with("DELETE /api/net/bans?host= HTTP/1.1\r\n"),
            "{request}"
        );
        assert!(request.contains("Basic wrong\r\n"), "{request}");
        assert!(
            !request.contains(&super::basic_header("op", "secret")),
            "{request}"
        );
        assert!(request.ends_with("\r\n\r\n{}"), "{request}");
        assert_eq!(
            answer.into_json(),
            Err(ClientError::Refused {
                status: 400,
                message: "bad parameters".into(),
                body: serde_json::from_str(error).unwrap()
            })
        );
    }

    #[test]
    fn a_401_is_an_authentication_failure_with_the_apis_message() {
        let (addr, server) = serve_once("401 Unauthorized", r#"{"Error":{"Message":"nope"}}"#);
        assert_eq!(
            ApiClient::to(addr).delete("/api/net/peer?address=1.2.3.4:5"),
            Err(ClientError::Unauthorized {
                message: "nope".into()
            })
        );
        server.join().unwrap();
    }

    #[test]
    fn no_server_is_unreachable_and_says_where() {
        let port = crate::ports::free_port().unwrap();
        let api = ApiClient::new(&format!("http://127.0.0.1:{port}"))
            .with_connect_timeout(Duration::from_secs(2));
        match api.get("/api/net/peers") {
            Err(ClientError::Unreachable { base, .. }) => {
                assert_eq!(base, format!("http://127.0.0.1:{port}"))
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            api.request("NOT A METHOD", "/", None),
            Err(ClientError::Unreachable { .. })
        ));
    }

    #[test]
    fn against_the_real_server_every_answer_comes_back_a_refused_body_included() {
        use crate::api::{ApiServer, BasicAuth, MAX_BODY_BYTES};
        let server = ApiServer::start(
            "127.0.0.1:0".parse().unwrap(),
            std::sync::Arc::new(crate::fuzzing::RefusingBackend),
            1,
            BasicAuth::new(Some("op".into()), Some("pw".into())),
        )
        .unwrap();
        let api = ApiClient::to(server.local_addr());
        assert_eq!(
            api.get("/api/blockChain/chainStatus").unwrap()["BestChainHeight"],
            2
        );
        assert_eq!(
            api.request("PUT", "/api/net/peers", None).unwrap().status,
            405
        );
        assert!(matches!(
            api.post("/api/net/peer", &json!({ "Address": "10.0.0.7:6800" })),
            Err(ClientError::Unauthorized { .. })
        ));
        let authorized = api.clone().with_basic_auth("op", "pw");
        assert_eq!(
            authorized.post("/api/net/peer", &json!({ "Address": "10.0.0.7:6800" })),
            Ok(json!(false))
        );
        let huge = format!(r#"{{"RawTransaction":"{}"}}"#, "00".repeat(MAX_BODY_BYTES));
        let answer = api
            .request("POST", "/api/blockChain/sendTransaction", Some(&huge))
            .unwrap();
        assert_eq!(answer.status, 413, "{}", answer.body);
        assert!(
            answer.json()["Error"]["Message"].is_string(),
            "{}",
            answer.body
        );
        assert_eq!(
            api.request("GET", "/api/nothing", None).unwrap().status,
            404
        );
        server.stop();
    }
}
