//! Registry credentials from a file in the format of Docker's
//! `config.json` (what `docker login`, `podman login --authfile` and most
//! CI systems write): `{"auths": {"HOST[:PORT]": {"auth": base64("user:password")}}}`,
//! or `username` and `password` in the entry.
//!
//! Credential helpers (`credsStore`, `credHelpers`) are programs this
//! exporter does not run; a registry that only has one is an error rather
//! than an anonymous pull.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use serde::Deserialize;

/// Largest credentials file read.
const MAX_FILE_BYTES: u64 = 1 << 20;

/// How to authenticate to one registry.
#[derive(Clone, PartialEq, Eq)]
pub enum Login {
    /// No credentials: an anonymous pull.
    Anonymous,
    /// HTTP basic authentication (also used to obtain a bearer token when
    /// the registry asks for one).
    Basic {
        /// User name.
        username: String,
        /// Password or access token.
        password: String,
    },
}

impl fmt::Debug for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Login::Anonymous => f.write_str("Anonymous"),
            Login::Basic { username, .. } => write!(f, "Basic({username}, ***)"),
        }
    }
}

#[derive(Deserialize)]
struct File {
    #[serde(default)]
    auths: BTreeMap<String, Entry>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: BTreeMap<String, String>,
}

#[derive(Deserialize, Default)]
struct Entry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
}

/// The logins of a credentials file, by registry (`HOST[:PORT]`).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    logins: BTreeMap<String, Login>,
    /// Registries whose credentials are kept by a helper program.
    helpers: BTreeMap<String, String>,
    /// The helper for every registry not listed, if any.
    default_helper: Option<String>,
    source: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("registries", &self.logins.keys().collect::<Vec<_>>())
            .field("source", &self.source)
            .finish()
    }
}

impl Credentials {
    /// Reads a credentials file.
    pub fn load(path: &Path) -> Result<Credentials> {
        let meta = std::fs::metadata(path)
            .with_context(|| format!("registry credentials file {}", path.display()))?;
        anyhow::ensure!(
            meta.len() <= MAX_FILE_BYTES,
            "registry credentials file {} is larger than {MAX_FILE_BYTES} bytes",
            path.display()
        );
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading registry credentials file {}", path.display()))?;
        Self::parse(&text, &path.display().to_string())
            .with_context(|| format!("registry credentials file {}", path.display()))
    }

    /// Parses the text of a credentials file; `source` names it in messages.
    pub fn parse(text: &str, source: &str) -> Result<Credentials> {
        let file: File = serde_json::from_str(text).context(
            "not a Docker config.json (expected {\"auths\": {\"HOST\": {\"auth\": ...}}})",
        )?;
        let mut logins = BTreeMap::new();
        for (key, entry) in file.auths {
            let host = registry_host(&key);
            let login = if let Some(auth) = entry.auth.filter(|a| !a.is_empty()) {
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(auth.trim())
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .with_context(|| {
                        format!("auths.{key:?}.auth is not base64 of USER:PASSWORD")
                    })?;
                let Some((username, password)) = decoded.split_once(':') else {
                    bail!("auths.{key:?}.auth is not base64 of USER:PASSWORD (no ':')");
                };
                Login::Basic {
                    username: username.to_string(),
                    password: password.to_string(),
                }
            } else if let (Some(username), Some(password)) = (entry.username, entry.password) {
                Login::Basic { username, password }
            } else if entry.identitytoken.is_some() {
                bail!(
                    "auths.{key:?} has only an identity token (an OAuth refresh token), which is not supported: give a user and password or an access token"
                );
            } else {
                // An empty entry: `docker login` writes these when a
                // credential helper keeps the secret.
                continue;
            };
            logins.insert(host, login);
        }
        Ok(Credentials {
            logins,
            helpers: file
                .cred_helpers
                .into_iter()
                .map(|(k, v)| (registry_host(&k), v))
                .collect(),
            default_helper: file.creds_store.filter(|s| !s.is_empty()),
            source: source.to_string(),
        })
    }

    /// The login for `registry` (`HOST[:PORT]`): the file's entry for it,
    /// anonymous when it has none, an error when a helper program keeps it.
    pub fn login(&self, registry: &str) -> Result<Login> {
        if let Some(login) = self.logins.get(registry) {
            return Ok(login.clone());
        }
        if let Some(helper) = self.helpers.get(registry).or(self.default_helper.as_ref()) {
            bail!(
                "the credentials of {registry} in {} are kept by the credential helper docker-credential-{helper}, which wasm_exporter does not run: put them under auths.\"{registry}\".auth",
                self.source
            );
        }
        Ok(Login::Anonymous)
    }
}

/// `https://host:5000/v1/` → `host:5000`: Docker's keys may carry a scheme
/// and a path.
fn registry_host(key: &str) -> String {
    let rest = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    rest.split('/').next().unwrap_or(rest).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_docker_config_entries() {
        let auth = base64::engine::general_purpose::STANDARD.encode("alice:s3cret:with:colons");
        let c = Credentials::parse(
            &format!(
                r#"{{"auths": {{"127.0.0.1:5000": {{"auth": "{auth}"}},
                    "https://registry.example/v1/": {{"username": "bob", "password": "pw"}},
                    "helped.example": {{}}}},
                   "credHelpers": {{"helped.example": "pass"}}}}"#
            ),
            "config.json",
        )
        .unwrap();
        assert_eq!(
            c.login("127.0.0.1:5000").unwrap(),
            Login::Basic {
                username: "alice".into(),
                password: "s3cret:with:colons".into()
            }
        );
        assert_eq!(
            c.login("registry.example").unwrap(),
            Login::Basic {
                username: "bob".into(),
                password: "pw".into()
            }
        );
        assert_eq!(c.login("other:1").unwrap(), Login::Anonymous);
        let e = c.login("helped.example").unwrap_err().to_string();
        assert!(e.contains("docker-credential-pass"), "{e}");
        assert!(!format!("{c:?}").contains("s3cret"));
    }

    #[test]
    fn refuses_what_it_cannot_use() {
        for (text, expected) in [
            ("{", "not a Docker config.json"),
            (r#"{"auths": {"h": {"auth": "!!"}}}"#, "not base64"),
            (r#"{"auths": {"h": {"auth": "bm9jb2xvbg=="}}}"#, "no ':'"),
            (
                r#"{"auths": {"h": {"identitytoken": "t"}}}"#,
                "identity token",
            ),
        ] {
            let e = format!("{:#}", Credentials::parse(text, "f").unwrap_err());
            assert!(e.contains(expected), "{text}: {e}");
        }
        let c = Credentials::parse(r#"{"credsStore": "desktop"}"#, "f").unwrap();
        assert!(c.login("any:1").is_err());
    }
}
