//! HTTP Basic authentication of the API's write routes, with the C# node's answers: when the
//! operator set no credentials every write is refused with "User name and password for basic
//! auth should be set"; otherwise a missing, unreadable or wrong `Authorization` header is
//! refused.
//!
//! Owns the credential check only. It must not know routes: the router asks.

use base64::Engine;

/// The C# node's reason when no credentials are configured (`Error.NeedBasicAuth`).
pub const NEED_BASIC_AUTH: &str = "User name and password for basic auth should be set";

/// The configured credentials (`[api] basic_auth_user/basic_auth_password`).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct BasicAuth {
    user: Option<String>,
    password: Option<String>,
}

impl std::fmt::Debug for BasicAuth {
    /// Never prints the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BasicAuth")
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish()
    }
}

impl BasicAuth {
    /// Blank values count as unset.
    pub fn new(user: Option<String>, password: Option<String>) -> BasicAuth {
        let set = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
        BasicAuth {
            user: set(user),
            password: set(password),
        }
    }

    /// Checks an `Authorization` header value; `Err` is the reason for the 401.
    pub fn check(&self, header: Option<&str>) -> Result<(), &'static str> {
        let (Some(user), Some(password)) = (&self.user, &self.password) else {
            return Err(NEED_BASIC_AUTH);
        };
        let header = header.ok_or("Missing Authorization Header")?;
        let (scheme, encoded) = header
            .trim()
            .split_once(' ')
            .ok_or("Invalid Authorization Header")?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err("Invalid Authorization Header");
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or("Invalid Authorization Header")?;
        let (given_user, given_password) = decoded
            .split_once(':')
            .ok_or("Invalid Authorization Header")?;
        // Both compared in full, so the time taken does not say which one was wrong.
        let user_ok = same(given_user, user);
        let password_ok = same(given_password, password);
        if user_ok & password_ok {
            Ok(())
        } else {
            Err("Invalid Username or Password")
        }
    }
}

/// Equality whose time depends only on the lengths, not on where the texts differ.
fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let diff = a
        .iter()
        .zip(b)
        .fold(u8::from(a.len() != b.len()), |acc, (x, y)| acc | (x ^ y));
    diff == 0
}

/// The `Authorization` value for `user:password` (for clients: aelf-netctl and tests).
pub fn basic_header(user: &str, password: &str) -> String {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {token}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_credentials_refuse_everything_with_the_csharp_reason() {
        let none = BasicAuth::new(None, Some("pw".into()));
        assert_eq!(
            none.check(Some(&basic_header("", "pw"))),
            Err(NEED_BASIC_AUTH)
        );
        let blank = BasicAuth::new(Some(" ".into()), Some(" ".into()));
        assert_eq!(
            blank.check(Some(&basic_header(" ", " "))),
            Err(NEED_BASIC_AUTH)
        );
    }

    #[test]
    fn only_the_right_pair_passes() {
        let auth = BasicAuth::new(Some("op".into()), Some("s3:cret".into()));
        assert_eq!(auth.check(Some(&basic_header("op", "s3:cret"))), Ok(()));
        assert_eq!(auth.check(Some("basic b3A6czM6Y3JldA==")), Ok(()));
        for bad in [
            basic_header("op", "wrong"),
            basic_header("OP", "s3:cret"),
            basic_header("op", "s3:cret "),
        ] {
            assert_eq!(auth.check(Some(&bad)), Err("Invalid Username or Password"));
        }
        assert_eq!(auth.check(None), Err("Missing Authorization Header"));
        for garbage in ["Basic", "Bearer abc", "Basic !!!", "Basic b3A="] {
            assert_eq!(
                auth.check(Some(garbage)),
                Err("Invalid Authorization Header"),
                "{garbage}"
            );
        }
        assert!(!format!("{auth:?}").contains("s3:cret"));
    }
}
