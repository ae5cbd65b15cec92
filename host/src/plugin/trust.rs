//! Which plugin signatures the operator trusts: named public keys, and
//! whether a module's plugin must be signed by one of them.
//!
//! This is policy only; reading and checking minisign signatures is
//! [`super::signature`]'s. Every refusal names the reason and the key id.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail, ensure};
use serde::Deserialize;

use super::signature::{KeyId, Signature, VerifyingKey};

/// `signatures:` in the config file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SignaturesConfig {
    /// Refuse plugins without a good signature by a trusted key (a module's
    /// `require_signature` overrides this).
    pub required: bool,
    /// The keys whose signatures are trusted.
    pub trusted_keys: Vec<TrustedKeyConfig>,
}

/// One trusted key in the config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedKeyConfig {
    /// Who the key belongs to; shown on the landing page and in messages.
    pub name: String,
    /// The key line of a `minisign.pub` file (`RW...`).
    #[serde(default)]
    pub public_key: Option<String>,
    /// Or a `minisign.pub` file (relative to the config file).
    #[serde(default)]
    pub public_key_file: Option<PathBuf>,
}

/// A key the operator trusts, with the name they gave it.
#[derive(Debug, Clone)]
pub struct TrustedKey {
    /// The operator's name for the key.
    pub name: String,
    /// The key.
    pub key: VerifyingKey,
}

/// The trusted keys.
#[derive(Debug, Clone, Default)]
pub struct TrustedKeys {
    keys: Vec<TrustedKey>,
}

impl TrustedKeys {
    /// Reads the keys of a `signatures:` section; `base` resolves relative
    /// key files.
    pub fn from_config(config: &SignaturesConfig, base: &Path) -> Result<TrustedKeys> {
        let mut keys: Vec<TrustedKey> = Vec::with_capacity(config.trusted_keys.len());
        for (i, k) in config.trusted_keys.iter().enumerate() {
            let label = format!("signatures.trusted_keys[{i}] ({:?})", k.name);
            ensure!(!k.name.trim().is_empty(), "{label}: name must not be empty");
            let key = match (&k.public_key, &k.public_key_file) {
                (Some(text), None) => VerifyingKey::parse(text),
                (None, Some(file)) => {
                    let path = base.join(file);
                    std::fs::read_to_string(&path)
                        .with_context(|| format!("reading {}", path.display()))
                        .and_then(|text| {
                            VerifyingKey::parse(&text)
                                .with_context(|| format!("{}", path.display()))
                        })
                }
                (Some(_), Some(_)) => bail!("{label}: set public_key or public_key_file, not both"),
                (None, None) => bail!("{label}: set public_key or public_key_file"),
            }
            .with_context(|| label.clone())?;
            if let Some(other) = keys.iter().find(|o| o.key.id() == key.id()) {
                bail!(
                    "{label}: key {} is already trusted as {:?}",
                    key.id(),
                    other.name
                );
            }
            ensure!(
                !keys.iter().any(|o| o.name == k.name),
                "{label}: two trusted keys are named {:?}",
                k.name
            );
            keys.push(TrustedKey {
                name: k.name.clone(),
                key,
            });
        }
        Ok(TrustedKeys { keys })
    }

    /// Trusts the given keys under the given names.
    pub fn new(keys: Vec<TrustedKey>) -> TrustedKeys {
        TrustedKeys { keys }
    }

    /// The keys.
    pub fn keys(&self) -> &[TrustedKey] {
        &self.keys
    }

    /// Whether no key is trusted.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    fn find(&self, id: KeyId) -> Option<&TrustedKey> {
        self.keys.iter().find(|k| k.key.id() == id)
    }

    fn listing(&self) -> String {
        if self.keys.is_empty() {
            "no key is trusted: add it to signatures.trusted_keys".to_string()
        } else {
            let keys: Vec<String> = self
                .keys
                .iter()
                .map(|k| format!("{} ({})", k.name, k.key.id()))
                .collect();
            format!("trusted: {}", keys.join(", "))
        }
    }

    /// Decides whether `data`, the bytes of `what`, may be loaded, given its
    /// signature (the bytes of its `.minisig`, if there is one) and whether
    /// a signature is required.
    ///
    /// A signature that is there is always checked when its key is trusted,
    /// and a bad one always refuses, required or not: it means the bytes
    /// changed after signing. A signature by a key that is not trusted
    /// cannot be checked at all; it refuses only when signatures are
    /// required.
    pub fn judge(
        &self,
        required: bool,
        what: &str,
        data: &[u8],
        signature: Option<&[u8]>,
    ) -> Result<Provenance> {
        let Some(signature) = signature else {
            ensure!(
                !required,
                "{what} is not signed and a signature is required: sign it with `wasm_exporter plugin sign` or `minisign -S`, and put the .minisig beside it"
            );
            return Ok(Provenance::Unsigned);
        };
        let signature = Signature::parse(signature)
            .with_context(|| format!("the signature of {what} cannot be read"))?;
        let key_id = signature.key_id();
        let Some(trusted) = self.find(key_id) else {
            ensure!(
                !required,
                "{what} is signed with key {key_id}, which is not trusted ({}); refusing it because a signature by a trusted key is required",
                self.listing()
            );
            return Ok(Provenance::UnknownKey { key_id });
        };
        if let Err(e) = signature.verify(&trusted.key, data) {
            let hint = match signature.named_file() {
                Some(file) => format!(" (the signature says it was made for {file:?})"),
                None => String::new(),
            };
            bail!(
                "the signature by key {key_id} ({}) does not match {what}: it was changed after signing, or the signature is of another file{hint}: {e:#}",
                trusted.name
            );
        }
        Ok(Provenance::Signed {
            key_name: trusted.name.clone(),
            key_id,
            comment: signature.trusted_comment(),
        })
    }
}

/// What a module's plugin must satisfy: the trusted keys, and whether a
/// signature by one of them is required.
#[derive(Debug, Clone, Default)]
pub struct SignaturePolicy {
    /// Refuse a plugin without a good signature by a trusted key.
    pub required: bool,
    /// The keys trusted.
    pub keys: Arc<TrustedKeys>,
}

impl SignaturePolicy {
    /// [`TrustedKeys::judge`] under this policy.
    pub fn judge(&self, what: &str, data: &[u8], signature: Option<&[u8]>) -> Result<Provenance> {
        self.keys.judge(self.required, what, data, signature)
    }
}

/// Who vouches for a loaded plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Provenance {
    /// There is no signature.
    Unsigned,
    /// A good signature by a trusted key.
    Signed {
        /// The operator's name for the key.
        key_name: String,
        /// The key's id.
        key_id: KeyId,
        /// The signature's trusted comment.
        comment: String,
    },
    /// A signature by a key that is not trusted, so not checked.
    UnknownKey {
        /// The key's id.
        key_id: KeyId,
    },
}

impl fmt::Display for Provenance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Provenance::Unsigned => f.write_str("unsigned"),
            Provenance::Signed {
                key_name, key_id, ..
            } => write!(f, "signed by {key_name} (key {key_id})"),
            Provenance::UnknownKey { key_id } => write!(
                f,
                "signed by key {key_id}, which is not trusted: signature not checked"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::signature::SigningKey;
    use super::*;
    use minisign::KeyPair;

    fn pair() -> (SigningKey, VerifyingKey) {
        let KeyPair { pk, sk } = KeyPair::generate_unencrypted_keypair().unwrap();
        (
            SigningKey::parse(&sk.to_box(None).unwrap().into_string(), None).unwrap(),
            VerifyingKey::parse(&pk.to_box().unwrap().into_string()).unwrap(),
        )
    }

    #[test]
    fn judges_each_case_with_the_reason_and_the_key_id() {
        let (sk, pk) = pair();
        let (stranger, _) = pair();
        let keys = TrustedKeys::new(vec![TrustedKey {
            name: "release".into(),
            key: pk.clone(),
        }]);
        let data = b"the archive";
        let good = sk.sign(data, "p.tar.gz", 1).unwrap();
        let by_stranger = stranger.sign(data, "p.tar.gz", 1).unwrap();

        let p = keys
            .judge(true, "p.tar.gz", data, Some(good.as_bytes()))
            .unwrap();
        assert_eq!(
            p.to_string(),
            format!("signed by release (key {})", pk.id())
        );

        let e = format!(
            "{:#}",
            keys.judge(true, "p.tar.gz", data, None).unwrap_err()
        );
        assert!(e.contains("not signed and a signature is required"), "{e}");
        assert_eq!(
            keys.judge(false, "p.tar.gz", data, None).unwrap(),
            Provenance::Unsigned
        );

        let e = format!(
            "{:#}",
            keys.judge(true, "p.tar.gz", data, Some(by_stranger.as_bytes()))
                .unwrap_err()
        );
        assert!(
            e.contains(&format!(
                "signed with key {}, which is not trusted",
                stranger.id()
            )) && e.contains(&format!("release ({})", pk.id())),
            "{e}"
        );
        assert_eq!(
            keys.judge(false, "p.tar.gz", data, Some(by_stranger.as_bytes()))
                .unwrap(),
            Provenance::UnknownKey {
                key_id: stranger.id()
            }
        );

        // A bad signature by a trusted key refuses even when not required.
        for required in [true, false] {
            let e = format!(
                "{:#}",
                keys.judge(required, "p.tar.gz", b"changed", Some(good.as_bytes()))
                    .unwrap_err()
            );
            assert!(
                e.contains(&format!(
                    "signature by key {} (release) does not match",
                    pk.id()
                )) && e.contains("made for \"p.tar.gz\""),
                "{e}"
            );
        }
        let e = format!(
            "{:#}",
            keys.judge(false, "p.tar.gz", data, Some(b"garbage"))
                .unwrap_err()
        );
        assert!(e.contains("cannot be read"), "{e}");
    }

    #[test]
    fn config_refuses_unreadable_duplicate_and_ambiguous_keys() {
        let (_, pk) = pair();
        let entry = |name: &str, key: Option<String>, file: Option<&str>| TrustedKeyConfig {
            name: name.into(),
            public_key: key,
            public_key_file: file.map(PathBuf::from),
        };
        let base = Path::new("/");
        let cfg = |keys| SignaturesConfig {
            required: true,
            trusted_keys: keys,
        };
        let ok = TrustedKeys::from_config(&cfg(vec![entry("a", Some(pk.to_base64()), None)]), base)
            .unwrap();
        assert!(!ok.is_empty());
        for (keys, expected) in [
            (
                vec![
                    entry("a", Some(pk.to_base64()), None),
                    entry("b", Some(pk.to_base64()), None),
                ],
                "is already trusted as \"a\"",
            ),
            (vec![entry("a", None, None)], "set public_key or"),
            (
                vec![entry("a", Some(pk.to_base64()), Some("k.pub"))],
                "not both",
            ),
            (
                vec![entry("a", Some("RWQx".into()), None)],
                "not a minisign public key",
            ),
            (
                vec![entry("a", None, Some("/nonexistent.pub"))],
                "/nonexistent.pub",
            ),
        ] {
            let e = format!(
                "{:#}",
                TrustedKeys::from_config(&cfg(keys), base).unwrap_err()
            );
            assert!(
                e.contains(expected) && e.contains("signatures.trusted_keys["),
                "{e}"
            );
        }
    }
}
