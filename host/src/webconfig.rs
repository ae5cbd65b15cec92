//! The web configuration file (`--web.config.file`) in the format of the
//! Prometheus exporter-toolkit: TLS, client certificates, basic auth with
//! bcrypt hashes, and extra response headers.
//!
//! Keys the exporter cannot honour are refused with an error rather than
//! ignored: an operator who asks for a security setting must not get less
//! without being told.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::{Context, Result, anyhow, bail, ensure};
use base64::Engine as _;
use hyper::header::{HeaderName, HeaderValue};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use serde::Deserialize;
use sha2::{Digest, Sha256};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebConfig {
    #[serde(default)]
    tls_server_config: Option<RawTls>,
    #[serde(default)]
    http_server_config: Option<RawHttp>,
    #[serde(default)]
    basic_auth_users: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
    cert: Option<String>,
    key: Option<String>,
    client_auth_type: Option<String>,
    client_ca_file: Option<PathBuf>,
    client_ca: Option<String>,
    client_allowed_sans: Option<Vec<String>>,
    min_version: Option<String>,
    max_version: Option<String>,
    cipher_suites: Option<Vec<String>>,
    prefer_server_cipher_suites: Option<bool>,
    curve_preferences: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    http2: Option<bool>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

/// The effective web security settings.
pub struct WebSecurity {
    /// TLS settings, when TLS is on.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Whether HTTP/2 is offered.
    pub http2: bool,
    /// Headers added to every answer.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    users: BTreeMap<String, String>,
    /// Digests of credentials that passed bcrypt, so a scraper that sends
    /// the same password every 15 s does not pay a bcrypt each time.
    verified: Mutex<HashSet<[u8; 32]>>,
}

/// A bcrypt hash checked against when the user is unknown, so a wrong user
/// name takes as long to refuse as a wrong password.
const DUMMY_HASH: &str = "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi";

/// Headers the exporter-toolkit lets operators set.
const ALLOWED_HEADERS: [&str; 5] = [
    "Content-Security-Policy",
    "Strict-Transport-Security",
    "X-Content-Type-Options",
    "X-Frame-Options",
    "X-XSS-Protection",
];

impl WebSecurity {
    /// No TLS, no auth, no extra headers.
    pub fn open() -> Self {
        Self {
            tls: None,
            http2: true,
            headers: Vec::new(),
            users: BTreeMap::new(),
            verified: Mutex::default(),
        }
    }

    /// Reads the web config file; `None` means no file (no TLS, no auth).
    pub fn load(path: Option<&Path>) -> Result<Self> {
        let Some(path) = path else {
            return Ok(Self::open());
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading web config file {}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, base).with_context(|| format!("web config file {}", path.display()))
    }

    /// Parses web config text; `base` resolves relative file names.
    pub fn parse(text: &str, base: &Path) -> Result<Self> {
        let raw: RawWebConfig = if text.trim().is_empty() {
            RawWebConfig::default()
        } else {
            serde_yaml_ng::from_str(text)?
        };
        let http = raw.http_server_config.unwrap_or_default();
        let http2 = http.http2.unwrap_or(true);
        let headers = parse_headers(&http.headers).context("http_server_config.headers")?;
        let users = raw.basic_auth_users.unwrap_or_default();
        for (user, hash) in &users {
            ensure!(
                !user.contains(':'),
                "basic_auth_users: user name {user:?} contains ':'"
            );
            hash.parse::<bcrypt::HashParts>().map_err(|e| {
                anyhow!("basic_auth_users: the hash of {user:?} is not a bcrypt hash: {e}")
            })?;
        }
        let tls = match raw.tls_server_config {
            Some(tls) => Some(Arc::new(
                tls_config(tls, base, http2).context("tls_server_config")?,
            )),
            None => None,
        };
        Ok(Self {
            tls,
            http2,
            headers,
            users,
            verified: Mutex::default(),
        })
    }

    /// Whether requests must carry basic-auth credentials.
    pub fn auth_required(&self) -> bool {
        !self.users.is_empty()
    }

    /// Checks an `Authorization` header. Runs bcrypt, so call it off the
    /// async threads.
    pub fn authorized(&self, header: Option<&str>) -> bool {
        if self.users.is_empty() {
            return true;
        }
        let Some((user, password)) = header.and_then(decode_basic) else {
            return false;
        };
        let hash = self.users.get(&user);
        let digest: [u8; 32] = Sha256::new()
            .chain_update(user.as_bytes())
            .chain_update([0])
            .chain_update(password.as_bytes())
            .chain_update([0])
            .chain_update(hash.map_or("", String::as_str).as_bytes())
            .finalize()
            .into();
        if hash.is_some()
            && self
                .verified
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .contains(&digest)
        {
            return true;
        }
        let ok = bcrypt::verify(&password, hash.map_or(DUMMY_HASH, String::as_str))
            .unwrap_or(false)
            && hash.is_some();
        if ok {
            let mut cache = self.verified.lock().unwrap_or_else(PoisonError::into_inner);
            if cache.len() >= 1024 {
                cache.clear();
            }
            cache.insert(digest);
        }
        ok
    }
}

fn decode_basic(header: &str) -> Option<(String, String)> {
    let (scheme, encoded) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

fn parse_headers(headers: &BTreeMap<String, String>) -> Result<Vec<(HeaderName, HeaderValue)>> {
    let mut out = Vec::new();
    for (name, value) in headers {
        let Some(canonical) = ALLOWED_HEADERS
            .iter()
            .find(|h| h.eq_ignore_ascii_case(name))
        else {
            bail!(
                "header {name:?} cannot be configured (allowed: {})",
                ALLOWED_HEADERS.join(", ")
            );
        };
        match *canonical {
            "X-Content-Type-Options" => ensure!(
                value.eq_ignore_ascii_case("nosniff"),
                "X-Content-Type-Options must be \"nosniff\", not {value:?}"
            ),
            "X-Frame-Options" => ensure!(
                value.eq_ignore_ascii_case("deny") || value.eq_ignore_ascii_case("sameorigin"),
                "X-Frame-Options must be \"deny\" or \"sameorigin\", not {value:?}"
            ),
            _ => {}
        }
        out.push((
            HeaderName::from_bytes(canonical.as_bytes())?,
            HeaderValue::from_str(value).with_context(|| format!("value of header {name}"))?,
        ));
    }
    Ok(out)
}

fn tls_config(raw: RawTls, base: &Path, http2: bool) -> Result<rustls::ServerConfig> {
    if raw.client_allowed_sans.is_some() {
        bail!(
            "client_allowed_sans is not supported by this exporter; remove it or restrict clients with client_ca_file"
        );
    }
    let certs: Vec<CertificateDer<'static>> = match (&raw.cert_file, &raw.cert) {
        (Some(_), Some(_)) => bail!("set cert_file or cert, not both"),
        (Some(file), None) => {
            let path = base.join(file);
            CertificateDer::pem_file_iter(&path)
                .and_then(|it| it.collect::<Result<_, _>>())
                .map_err(|e| anyhow!("cert_file {}: {e}", path.display()))?
        }
        (None, Some(pem)) => CertificateDer::pem_slice_iter(pem.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|e| anyhow!("cert: {e}"))?,
        (None, None) => bail!("cert_file (or cert) is required for TLS"),
    };
    ensure!(
        !certs.is_empty(),
        "the certificate file holds no certificate"
    );
    let key: PrivateKeyDer<'static> = match (&raw.key_file, &raw.key) {
        (Some(_), Some(_)) => bail!("set key_file or key, not both"),
        (Some(file), None) => {
            let path = base.join(file);
            PrivateKeyDer::from_pem_file(&path)
                .map_err(|e| anyhow!("key_file {}: {e}", path.display()))?
        }
        (None, Some(pem)) => {
            PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|e| anyhow!("key: {e}"))?
        }
        (None, None) => bail!("key_file (or key) is required for TLS"),
    };

    let mut provider = rustls::crypto::ring::default_provider();
    if let Some(suites) = &raw.cipher_suites {
        provider.cipher_suites = cipher_suites(suites)?;
    }
    if let Some(curves) = &raw.curve_preferences {
        provider.kx_groups = curves.iter().map(|c| curve(c)).collect::<Result<_>>()?;
    }
    let provider = Arc::new(provider);
    let versions = protocol_versions(raw.min_version.as_deref(), raw.max_version.as_deref())?;

    let verifier = client_verifier(&raw, base, &provider)?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions)
        .context("protocol versions")?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .context("certificate and key do not match or are unsupported")?;
    // Go's prefer_server_cipher_suites is ignored since Go 1.17 (the server
    // picks); rustls picks by the server's order when told to.
    config.ignore_client_order = raw.prefer_server_cipher_suites.unwrap_or(true);
    config.alpn_protocols = if http2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    Ok(config)
}

fn protocol_versions(
    min: Option<&str>,
    max: Option<&str>,
) -> Result<Vec<&'static rustls::SupportedProtocolVersion>> {
    let rank = |v: &str| -> Result<u8> {
        match v {
            "TLS12" => Ok(2),
            "TLS13" => Ok(3),
            "TLS10" | "TLS11" => bail!(
                "{v} is not supported: only TLS12 and TLS13 are (TLS 1.0 and 1.1 are obsolete)"
            ),
            other => bail!("unknown TLS version {other:?} (use TLS12 or TLS13)"),
        }
    };
    let lo = min
        .map(rank)
        .transpose()
        .context("min_version")?
        .unwrap_or(2);
    let hi = max
        .map(rank)
        .transpose()
        .context("max_version")?
        .unwrap_or(3);
    ensure!(lo <= hi, "min_version is above max_version");
    let mut versions = Vec::new();
    if lo <= 2 && hi >= 2 {
        versions.push(&rustls::version::TLS12);
    }
    if hi >= 3 {
        versions.push(&rustls::version::TLS13);
    }
    Ok(versions)
}

fn cipher_suites(names: &[String]) -> Result<Vec<rustls::SupportedCipherSuite>> {
    use rustls::crypto::ring::cipher_suite as cs;
    // TLS 1.3 suites are not configurable (as in Go); the list orders the
    // TLS 1.2 ones.
    let mut suites = vec![
        cs::TLS13_AES_128_GCM_SHA256,
        cs::TLS13_AES_256_GCM_SHA384,
        cs::TLS13_CHACHA20_POLY1305_SHA256,
    ];
    for name in names {
        suites.push(match name.as_str() {
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256" => cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384" => cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305"
            | "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256" => {
                cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
            }
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" => cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384" => cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305"
            | "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256" => {
                cs::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
            }
            other => bail!(
                "cipher_suites: {other:?} is not supported (supported: the ECDHE AES-GCM and CHACHA20-POLY1305 suites)"
            ),
        });
    }
    Ok(suites)
}

fn curve(name: &str) -> Result<&'static dyn rustls::crypto::SupportedKxGroup> {
    use rustls::crypto::ring::kx_group;
    Ok(match name {
        "X25519" => kx_group::X25519,
        "CurveP256" => kx_group::SECP256R1,
        "CurveP384" => kx_group::SECP384R1,
        other => {
            bail!("curve_preferences: {other:?} is not supported (X25519, CurveP256, CurveP384)")
        }
    })
}

fn client_verifier(
    raw: &RawTls,
    base: &Path,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn ClientCertVerifier>> {
    let kind = raw.client_auth_type.as_deref().unwrap_or("NoClientCert");
    let roots = || -> Result<Arc<RootCertStore>> {
        let certs: Vec<CertificateDer<'static>> = match (&raw.client_ca_file, &raw.client_ca) {
            (Some(file), _) => {
                let path = base.join(file);
                CertificateDer::pem_file_iter(&path)
                    .and_then(|it| it.collect::<Result<_, _>>())
                    .map_err(|e| anyhow!("client_ca_file {}: {e}", path.display()))?
            }
            (None, Some(pem)) => CertificateDer::pem_slice_iter(pem.as_bytes())
                .collect::<Result<_, _>>()
                .map_err(|e| anyhow!("client_ca: {e}"))?,
            (None, None) => bail!("client_auth_type {kind} needs client_ca_file"),
        };
        let mut store = RootCertStore::empty();
        for c in certs {
            store.add(c).context("client CA certificate")?;
        }
        Ok(Arc::new(store))
    };
    let verified = |optional: bool| -> Result<Arc<dyn ClientCertVerifier>> {
        let mut b = WebPkiClientVerifier::builder_with_provider(roots()?, provider.clone());
        if optional {
            b = b.allow_unauthenticated();
        }
        b.build()
            .map_err(|e| anyhow!("client certificate verifier: {e}"))
    };
    match kind {
        "NoClientCert" => {
            if raw.client_ca_file.is_some() || raw.client_ca.is_some() {
                bail!(
                    "client_ca_file is set but client_auth_type is NoClientCert; set client_auth_type (e.g. RequireAndVerifyClientCert)"
                );
            }
            Ok(WebPkiClientVerifier::no_client_auth())
        }
        "RequireAndVerifyClientCert" => verified(false),
        "VerifyClientCertIfGiven" => verified(true),
        "RequestClientCert" | "RequireAnyClientCert" => Ok(Arc::new(UnverifiedClientCert {
            mandatory: kind == "RequireAnyClientCert",
            algorithms: provider.signature_verification_algorithms,
        })),
        other => bail!(
            "unknown client_auth_type {other:?} (NoClientCert, RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert)"
        ),
    }
}

/// Go's `RequestClientCert` and `RequireAnyClientCert`: a client certificate
/// is asked for (and for the latter required) but its chain is not checked;
/// the handshake signature still proves the client holds its key.
#[derive(Debug)]
struct UnverifiedClientCert {
    mandatory: bool,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for UnverifiedClientCert {
    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        match WebSecurity::parse(text, Path::new("/")) {
            Ok(_) => panic!("web config should be refused:\n{text}"),
            Err(e) => format!("{e:#}"),
        }
    }

    #[test]
    fn basic_auth_checks_bcrypt_and_caches() {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let web = WebSecurity::parse(
            &format!("basic_auth_users:\n  alice: '{hash}'\n"),
            Path::new("/"),
        )
        .unwrap();
        let header = |u: &str, p: &str| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
            )
        };
        assert!(web.auth_required());
        assert!(web.authorized(Some(&header("alice", "s3cret"))));
        assert!(web.authorized(Some(&header("alice", "s3cret"))), "cached");
        assert!(!web.authorized(Some(&header("alice", "wrong"))));
        assert!(!web.authorized(Some(&header("bob", "s3cret"))));
        assert!(!web.authorized(Some("Bearer x")));
        assert!(!web.authorized(None));
        assert!(
            WebSecurity::parse("", Path::new("/"))
                .unwrap()
                .authorized(None)
        );
    }

    #[test]
    fn refuses_what_it_cannot_honour() {
        assert!(err("tls_server_config: {}\n").contains("cert_file"));
        assert!(
            err("tls_server_config: {cert_file: /nonexistent.pem, key_file: /k}\n")
                .contains("/nonexistent.pem")
        );
        assert!(err("basic_auth_users: {alice: plain}\n").contains("not a bcrypt hash"));
        assert!(
            err("http_server_config: {headers: {Server: x}}\n").contains("cannot be configured")
        );
        assert!(err("http_server_config: {headers: {X-Frame-Options: allow}}\n").contains("deny"));
        assert!(err("tls_srver_config: {}\n").contains("unknown field"));
        let e = protocol_versions(Some("TLS10"), None).unwrap_err();
        assert!(format!("{e:#}").contains("not supported"), "{e:#}");
        assert!(cipher_suites(&["TLS_RSA_WITH_AES_128_CBC_SHA".into()]).is_err());
        assert!(curve("CurveP521").is_err());
    }
}
