//! AK/SK credentials. The secret parts never reach `Debug`, `Display`, logs or
//! errors: only the access key (an identifier, not a secret) is ever printed.

use std::fmt;

/// Environment variable holding the access key, as the official SDKs read it.
pub const ENV_ACCESS_KEY: &str = "HUAWEICLOUD_SDK_AK";
/// Environment variable holding the secret key.
pub const ENV_SECRET_KEY: &str = "HUAWEICLOUD_SDK_SK";
/// Environment variable holding an optional security token (temporary credentials).
pub const ENV_SECURITY_TOKEN: &str = "HUAWEICLOUD_SDK_SECURITY_TOKEN";

/// A permanent or temporary AK/SK pair. Temporary credentials carry a security
/// token, which is sent (and signed) as `X-Security-Token`.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    access_key: String,
    secret_key: String,
    security_token: Option<String>,
}

impl Credentials {
    /// Permanent credentials.
    pub fn new(access_key: impl Into<String>, secret_key: impl Into<String>) -> Self {
        Self {
            access_key: access_key.into(),
            secret_key: secret_key.into(),
            security_token: None,
        }
    }

    /// Adds the security token of temporary credentials; an empty token is none.
    pub fn with_security_token(mut self, token: Option<String>) -> Self {
        self.security_token = token.filter(|t| !t.is_empty());
        self
    }

    /// Reads `HUAWEICLOUD_SDK_AK`, `HUAWEICLOUD_SDK_SK` and the optional
    /// `HUAWEICLOUD_SDK_SECURITY_TOKEN` through `lookup` (normally `std::env::var`).
    /// The error names the first missing variable.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, MissingVariable> {
        let get = |name: &'static str| {
            lookup(name)
                .filter(|v| !v.is_empty())
                .ok_or(MissingVariable(name))
        };
        Ok(Self::new(get(ENV_ACCESS_KEY)?, get(ENV_SECRET_KEY)?)
            .with_security_token(lookup(ENV_SECURITY_TOKEN)))
    }

    /// The access key (an identifier; safe to log).
    pub fn access_key(&self) -> &str {
        &self.access_key
    }

    /// The secret key bytes, for the signer only.
    pub(crate) fn secret_key(&self) -> &[u8] {
        self.secret_key.as_bytes()
    }

    /// The security token of temporary credentials.
    pub(crate) fn security_token(&self) -> Option<&str> {
        self.security_token.as_deref()
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key", &self.access_key)
            .field("secret_key", &"<redacted>")
            .field(
                "security_token",
                &self.security_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl fmt::Display for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "access key {} (secret redacted)", self.access_key)
    }
}

/// A required credential environment variable is unset or empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("environment variable {0} is not set")]
pub struct MissingVariable(pub &'static str);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_secret_key_or_token() {
        let creds = Credentials::new("AKVISIBLE", "sk-very-secret")
            .with_security_token(Some("tok-very-secret".into()));
        for text in [
            format!("{creds:?}"),
            format!("{creds:#?}"),
            creds.to_string(),
        ] {
            assert!(text.contains("AKVISIBLE"), "{text}");
            assert!(!text.contains("very-secret"), "{text}");
        }
    }

    #[test]
    fn environment_lookup_names_the_missing_variable() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            Credentials::from_lookup(env(&[(ENV_ACCESS_KEY, "ak")])),
            Err(MissingVariable(ENV_SECRET_KEY))
        );
        let creds = Credentials::from_lookup(env(&[
            (ENV_ACCESS_KEY, "ak"),
            (ENV_SECRET_KEY, "sk"),
            (ENV_SECURITY_TOKEN, ""),
        ]))
        .unwrap();
        assert_eq!(creds.security_token(), None);
    }
}
