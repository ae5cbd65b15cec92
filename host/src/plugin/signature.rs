//! Minisign signatures, in the format of the `minisign` tool that authors
//! and reviewers already have: public keys, secret keys and `.minisig`
//! files, checking a signature against the signed bytes and making one.
//!
//! Format only. Which keys are trusted and whether a signature is required
//! is decided in [`super::trust`].

use std::fmt;
use std::io::Cursor;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail, ensure};
use minisign::{PublicKey, SecretKey, SecretKeyBox, SignatureBox};

/// The file name suffix of a signature: `ARCHIVE.minisig` signs `ARCHIVE`.
pub const SUFFIX: &str = ".minisig";

/// Where the signature of `file` is: `FILE.minisig` beside it.
pub fn path_for(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(SUFFIX);
    PathBuf::from(name)
}

/// Largest signature file read (a minisign signature is ~300 bytes; the
/// trusted comment is the only part of variable length).
pub const MAX_SIGNATURE_BYTES: usize = 8 << 10;

/// A minisign key id: eight bytes chosen when the key pair is generated,
/// carried in every signature so the verifier knows which key to use.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId([u8; 8]);

impl KeyId {
    fn from_slice(bytes: &[u8]) -> Result<KeyId> {
        let id: [u8; 8] = bytes
            .try_into()
            .map_err(|_| anyhow!("a minisign key id has 8 bytes, not {}", bytes.len()))?;
        Ok(KeyId(id))
    }
}

/// Shown as `minisign` shows it: 16 upper-case hex digits.
impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // minisign prints `%PRIX64`: upper-case hex without leading zeros.
        write!(f, "{:X}", u64::from_le_bytes(self.0))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A public key that verifies signatures.
#[derive(Clone)]
pub struct VerifyingKey {
    key: PublicKey,
    id: KeyId,
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifyingKey({})", self.id)
    }
}

impl VerifyingKey {
    /// Parses a public key: the contents of a `minisign.pub` file (an
    /// `untrusted comment:` line, then the key) or the key line alone, as
    /// `minisign -P` takes it.
    pub fn parse(text: &str) -> Result<VerifyingKey> {
        let line = text
            .lines()
            .map(str::trim)
            .rfind(|l| !l.is_empty() && !l.starts_with("untrusted comment:"))
            .context("no key in it (expected the base64 line of a minisign public key)")?;
        let key = PublicKey::from_base64(line).map_err(|e| {
            anyhow!("not a minisign public key ({e}); it is the second line of the .pub file `minisign -G` writes")
        })?;
        let id = KeyId::from_slice(key.keynum())?;
        Ok(VerifyingKey { key, id })
    }

    /// The key's id.
    pub fn id(&self) -> KeyId {
        self.id
    }

    /// The key line, as in a `.pub` file.
    pub fn to_base64(&self) -> String {
        self.key.to_base64()
    }
}

/// A parsed `.minisig` file.
#[derive(Clone)]
pub struct Signature {
    sig: SignatureBox,
    key_id: KeyId,
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature(key {})", self.key_id)
    }
}

impl Signature {
    /// Parses the text of a `.minisig` file.
    pub fn parse(text: &[u8]) -> Result<Signature> {
        ensure!(
            text.len() <= MAX_SIGNATURE_BYTES,
            "a minisign signature is a few hundred bytes, this is {}",
            text.len()
        );
        let text = std::str::from_utf8(text).context("a minisign signature is text")?;
        let sig = SignatureBox::from_string(text)
            .map_err(|e| anyhow!("not a minisign signature: {e}"))?;
        let key_id = KeyId::from_slice(sig.keynum())?;
        Ok(Signature { sig, key_id })
    }

    /// The id of the key that made it.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The trusted comment (signed together with the data), such as
    /// `timestamp:1700000000\tfile:sysinfo-1.0.0.tar.gz\thashed`.
    pub fn trusted_comment(&self) -> String {
        self.sig.trusted_comment().unwrap_or_default()
    }

    /// The `file:` the trusted comment names, as `minisign -S` and
    /// `plugin sign` write it. A hint only: it is signed, but read before
    /// the signature is known to be good.
    pub fn named_file(&self) -> Option<String> {
        self.trusted_comment()
            .split('\t')
            .find_map(|part| part.strip_prefix("file:"))
            .map(str::to_string)
    }

    /// Checks the signature of `data` with `key`: the signature of the data
    /// and that of the trusted comment. Errors say what does not match.
    pub fn verify(&self, key: &VerifyingKey, data: &[u8]) -> Result<()> {
        ensure!(
            self.key_id == key.id,
            "made with key {}, not with key {}",
            self.key_id,
            key.id
        );
        // Legacy (not prehashed) signatures are accepted: the data is in
        // memory anyway, and the key is the same Ed25519 key.
        minisign::verify(&key.key, &self.sig, Cursor::new(data), true, false, true)
            .map_err(|e| anyhow!("{e}"))
    }
}

/// A secret key, read from a `minisign -G` secret key file.
pub struct SigningKey {
    key: SecretKey,
    id: KeyId,
}

impl SigningKey {
    /// Reads a secret key file's text. An encrypted key (the default of
    /// `minisign -G`) needs its password; without one, and on a terminal,
    /// the password is asked for there.
    pub fn parse(text: &str, password: Option<String>) -> Result<SigningKey> {
        ensure!(
            text.lines().count() >= 2,
            "not a minisign secret key (expected an `untrusted comment:` line and the key)"
        );
        ensure!(
            !text
                .lines()
                .next()
                .unwrap_or_default()
                .contains("public key"),
            "this is a public key: --key takes the secret key (`minisign -G` writes it to ~/.minisign/minisign.key unless told otherwise)"
        );
        let boxed = || SecretKeyBox::from_string(text).map_err(|e| anyhow!("{e}"));
        let key = match boxed()?.into_unencrypted_secret_key() {
            Ok(key) => key,
            Err(e) if e.to_string().contains("encrypted") => {
                if password.is_none() && !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                    bail!(
                        "the secret key is encrypted: give its password with --password-file (or run on a terminal to type it)"
                    );
                }
                boxed()?
                    .into_secret_key(password)
                    .map_err(|e| anyhow!("decrypting the secret key: {e}"))?
            }
            Err(e) if e.to_string().contains("Corrupted key") => unchecked_secret_key(text)
                .with_context(|| format!("not a minisign secret key: {e}"))?,
            Err(e) => bail!("not a minisign secret key: {e}"),
        };
        let id = KeyId::from_slice(key.keynum())?;
        Ok(SigningKey { key, id })
    }

    /// The key's id.
    pub fn id(&self) -> KeyId {
        self.id
    }

    /// Signs `data` as `minisign -S` does (prehashed), with the trusted
    /// comment `timestamp:T\tfile:NAME\thashed`; returns the `.minisig`
    /// text.
    pub fn sign(&self, data: &[u8], file_name: &str, timestamp: u64) -> Result<String> {
        let trusted = format!("timestamp:{timestamp}\tfile:{file_name}\thashed");
        let untrusted = format!("signature from wasm_exporter secret key {}", self.id);
        // Checked with the key's own public half, so a damaged secret key
        // cannot produce a signature that does not verify.
        let public = PublicKey::from_secret_key(&self.key).map_err(|e| anyhow!("{e}"))?;
        let sig = minisign::sign(
            Some(&public),
            &self.key,
            Cursor::new(data),
            Some(&trusted),
            Some(&untrusted),
        )
        .map_err(|e| anyhow!("signing: {e}"))?;
        Ok(sig.into_string())
    }
}

/// An unencrypted secret key whose checksum is all zeros, as Debian's
/// minisign 0.11 writes them (`minisign -G -W`), which the `minisign` crate
/// takes for corrupted. The key is checked when it signs instead.
fn unchecked_secret_key(text: &str) -> Result<SecretKey> {
    use base64::Engine as _;
    let line = text.lines().nth(1).context("no key line")?.trim();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(line)
        .context("the key line is not base64")?;
    // sig_alg 2, kdf_alg 2, chk_alg 2, salt 32, opslimit 8, memlimit 8,
    // keynum 8, secret key 64, checksum 32.
    ensure!(
        bytes.len() == 158,
        "the key has {} bytes, not 158",
        bytes.len()
    );
    ensure!(
        bytes[2..4] == [0, 0] && bytes[126..].iter().all(|b| *b == 0),
        "its checksum does not match"
    );
    SecretKey::from_bytes(&bytes).map_err(|e| anyhow!("{e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use minisign::KeyPair;

    fn pair() -> (SigningKey, VerifyingKey) {
        let KeyPair { pk, sk } = KeyPair::generate_unencrypted_keypair().unwrap();
        let sk_text = sk.to_box(None).unwrap().into_string();
        let pk_text = pk.to_box().unwrap().into_string();
        (
            SigningKey::parse(&sk_text, None).unwrap(),
            VerifyingKey::parse(&pk_text).unwrap(),
        )
    }

    #[test]
    fn signs_and_verifies_and_names_what_does_not_match() {
        let (sk, pk) = pair();
        assert_eq!(sk.id(), pk.id());
        let text = sk.sign(b"archive bytes", "a.tar.gz", 1).unwrap();
        let sig = Signature::parse(text.as_bytes()).unwrap();
        assert_eq!(sig.key_id(), pk.id());
        assert_eq!(sig.named_file().as_deref(), Some("a.tar.gz"));
        sig.verify(&pk, b"archive bytes").unwrap();
        let e = sig.verify(&pk, b"archive bytez").unwrap_err().to_string();
        assert!(e.contains("Signature verification failed"), "{e}");
        let (_, other) = pair();
        let e = sig
            .verify(&other, b"archive bytes")
            .unwrap_err()
            .to_string();
        assert!(e.contains(&format!("made with key {}", pk.id())), "{e}");
        // The key line alone parses too, to the same key.
        assert_eq!(VerifyingKey::parse(&pk.to_base64()).unwrap().id(), pk.id());
    }

    #[test]
    fn rejects_what_is_not_a_key_or_a_signature() {
        assert!(VerifyingKey::parse("").is_err());
        assert!(VerifyingKey::parse("untrusted comment: x\nnot base64!").is_err());
        assert!(Signature::parse(b"hello\nworld\n").is_err());
        assert!(Signature::parse(&vec![b'a'; MAX_SIGNATURE_BYTES + 1]).is_err());
        assert!(SigningKey::parse("one line", None).is_err());
    }

    #[test]
    fn key_ids_print_as_minisign_prints_them() {
        let id = KeyId([0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08]);
        assert_eq!(id.to_string(), "807060504030201");
        let id = KeyId([0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x00]);
        assert_eq!(id.to_string(), "7060504030201");
    }
}
