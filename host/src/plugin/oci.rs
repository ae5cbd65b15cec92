//! Plugins as OCI artifacts in a registry, through the `oci-client` crate.
//!
//! Layout of a pushed plugin (an OCI image manifest, after the CNCF wasm
//! OCI artifact guide, so `wkg`-style tools find the component):
//! - config `application/vnd.wasm.config.v0+json`: architecture `wasm`,
//!   os `wasip2`, the layer digests and the component's imports, exports
//!   and world;
//! - layers, in order: the component (`application/wasm`), `plugin.yaml`,
//!   `logo.png` and `README.md` with media types of ours, and the plugin
//!   archive itself ([`ARCHIVE_MEDIA_TYPE`]), byte for byte as it was
//!   packed and signed. The exporter pulls only the archive: a signature
//!   covers the archive's exact bytes, and a `.tar.gz` cannot be rebuilt
//!   byte for byte from its files by every tool and version. The other
//!   layers are for other tools and for people browsing the registry; the
//!   component layer is checked to be the archive's component.
//!
//! The signature (the archive's `.minisig`) is attached as a separate
//! manifest tagged `sha256-<manifest hex>.sig` with the plugin manifest as
//! its OCI 1.1 `subject`. A tag rather than only a referrer, because
//! Debian's registry (distribution 2.8) has no referrers API, and the
//! referrers tag schema would need a read-modify-write of one shared index;
//! the `subject` lets registries that have the API list it as a referrer
//! too. A signature can so be attached, or replaced, after the plugin was
//! pushed, without changing the digest operators pin.
//!
//! Everything pulled is bounded in size and checked against its digest.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail, ensure};
use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::manifest::{OciDescriptor, OciImageManifest};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use serde::{Deserialize, Serialize};

use super::Files;
use super::credentials::{Credentials, Login};
use super::signature::MAX_SIGNATURE_BYTES;
use crate::digest::sha256_hex;

/// The OCI image manifest media type.
pub const OCI_MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// The config media type of a wasm artifact (CNCF wasm OCI artifact guide).
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.wasm.config.v0+json";
/// The component layer (CNCF wasm OCI artifact guide).
pub const COMPONENT_MEDIA_TYPE: &str = "application/wasm";
/// The plugin archive, as packed (and signed).
pub const ARCHIVE_MEDIA_TYPE: &str = "application/vnd.wasm-exporter.plugin.archive.v1.tar+gzip";
/// `plugin.yaml`.
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.wasm-exporter.plugin.manifest.v1+yaml";
/// `logo.png`.
pub const LOGO_MEDIA_TYPE: &str = "application/vnd.wasm-exporter.plugin.logo.v1+png";
/// `README.md`.
pub const README_MEDIA_TYPE: &str = "application/vnd.wasm-exporter.plugin.readme.v1+markdown";
/// A minisign signature of the archive: the layer and the artifact type of
/// the signature manifest.
pub const SIGNATURE_MEDIA_TYPE: &str = "application/vnd.wasm-exporter.plugin.signature.v1+minisign";
/// The OCI empty descriptor's media type (config of the signature manifest).
const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
/// Title annotation of a layer (its file name).
const TITLE: &str = "org.opencontainers.image.title";

/// Largest archive pulled (the component's limit, and room for the rest).
pub const MAX_ARCHIVE_BYTES: u64 = (256 + 16) << 20;

/// `created` of every pushed config: the artifact's digest then depends
/// only on the archive, so anyone can check which archive a digest is.
const CREATED: &str = "1970-01-01T00:00:00Z";

/// `oci://HOST[:PORT]/REPO[:TAG][@sha256:HEX]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OciReference {
    /// `HOST[:PORT]`.
    pub registry: String,
    /// The repository path.
    pub repository: String,
    /// The tag, if any.
    pub tag: Option<String>,
    /// `sha256:HEX`, if pinned.
    pub digest: Option<String>,
}

impl OciReference {
    /// The scheme that marks an OCI reference in the config and on the
    /// command line.
    pub const SCHEME: &'static str = "oci://";

    /// Parses `oci://HOST[:PORT]/REPO[:TAG][@sha256:HEX]`. The registry is
    /// always explicit (no Docker Hub default).
    pub fn parse(s: &str) -> Result<OciReference> {
        let usage = "expected oci://HOST[:PORT]/REPOSITORY[:TAG][@sha256:DIGEST]";
        let rest = s
            .strip_prefix(Self::SCHEME)
            .with_context(|| format!("{s:?}: {usage}"))?;
        let (registry, path) = rest
            .split_once('/')
            .with_context(|| format!("{s:?} has no repository: {usage}"))?;
        ensure!(
            !registry.is_empty()
                && registry
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c)),
            "{s:?}: {registry:?} is not a registry HOST[:PORT]"
        );
        let (name, digest) = match path.split_once('@') {
            Some((name, digest)) => {
                let hex = digest
                    .strip_prefix("sha256:")
                    .with_context(|| format!("{s:?}: the digest must be sha256:<64 hex digits>"))?;
                ensure!(
                    hex.len() == 64 && hex.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')),
                    "{s:?}: the digest must be sha256:<64 lower-case hex digits>"
                );
                (name, Some(digest.to_string()))
            }
            None => (path, None),
        };
        let (repository, tag) = match name.rsplit_once(':') {
            Some((repo, tag)) if !tag.contains('/') => (repo, Some(tag.to_string())),
            _ => (name, None),
        };
        ensure!(
            !repository.is_empty()
                && repository.split('/').all(|part| {
                    !part.is_empty()
                        && part.chars().all(|c| {
                            c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c)
                        })
                        && part.starts_with(|c: char| c.is_ascii_alphanumeric())
                        && part.ends_with(|c: char| c.is_ascii_alphanumeric())
                }),
            "{s:?}: repository {repository:?} must be lower-case letters, digits and '.', '_', '-' in '/'-separated parts"
        );
        if let Some(tag) = &tag {
            ensure!(
                (1..=128).contains(&tag.len())
                    && tag.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
                    && tag
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)),
                "{s:?}: tag {tag:?} must be letters, digits, '.', '_' and '-' (at most 128)"
            );
        }
        Ok(OciReference {
            registry: registry.to_string(),
            repository: repository.to_string(),
            tag,
            digest,
        })
    }

    /// The same repository, pinned to `digest`, without a tag.
    pub fn at_digest(&self, digest: &str) -> OciReference {
        OciReference {
            tag: None,
            digest: Some(digest.to_string()),
            ..self.clone()
        }
    }

    /// The same repository with another tag.
    fn at_tag(&self, tag: &str) -> OciReference {
        OciReference {
            tag: Some(tag.to_string()),
            digest: None,
            ..self.clone()
        }
    }

    fn client_reference(&self) -> Reference {
        match (&self.digest, &self.tag) {
            (Some(d), _) => {
                Reference::with_digest(self.registry.clone(), self.repository.clone(), d.clone())
            }
            (None, Some(t)) => {
                Reference::with_tag(self.registry.clone(), self.repository.clone(), t.clone())
            }
            (None, None) => Reference::with_tag(
                self.registry.clone(),
                self.repository.clone(),
                "latest".into(),
            ),
        }
    }
}

impl std::fmt::Display for OciReference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "oci://{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// `registry:` in the config file: how registries are reached.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegistryConfig {
    /// Credentials, in Docker's `config.json` format.
    pub auth_file: Option<PathBuf>,
    /// PEM certificates of CAs trusted for HTTPS registries, besides the
    /// system's.
    pub ca_file: Option<PathBuf>,
    /// Registries (`HOST:PORT`) reached over plain HTTP.
    pub plain_http: Vec<String>,
}

/// How registries are reached, with the files read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Registry {
    credentials: Credentials,
    ca_pem: Option<Vec<u8>>,
    plain_http: Vec<String>,
}

impl Registry {
    /// Reads the credentials and CA files of a `registry:` section;
    /// `base` resolves relative paths.
    pub fn from_config(config: &RegistryConfig, base: &Path) -> Result<Registry> {
        Self::new(
            config.auth_file.as_ref().map(|f| base.join(f)).as_deref(),
            config.ca_file.as_ref().map(|f| base.join(f)).as_deref(),
            config.plain_http.clone(),
        )
    }

    /// Reads `auth_file` and `ca_file`, when given.
    pub fn new(
        auth_file: Option<&Path>,
        ca_file: Option<&Path>,
        plain_http: Vec<String>,
    ) -> Result<Registry> {
        let credentials = match auth_file {
            Some(path) => Credentials::load(path)?,
            None => Credentials::default(),
        };
        let ca_pem = match ca_file {
            Some(path) => {
                let pem = std::fs::read(path)
                    .with_context(|| format!("reading registry CA file {}", path.display()))?;
                use rustls_pki_types::pem::PemObject as _;
                let certs = rustls_pki_types::CertificateDer::pem_slice_iter(&pem)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| anyhow!("{e:?}"))
                    .with_context(|| format!("registry CA file {}", path.display()))?;
                ensure!(
                    !certs.is_empty(),
                    "registry CA file {} holds no PEM certificate",
                    path.display()
                );
                Some(pem)
            }
            None => None,
        };
        for host in &plain_http {
            ensure!(
                !host.is_empty() && !host.contains('/'),
                "registry.plain_http: {host:?} is not a HOST:PORT"
            );
        }
        Ok(Registry {
            credentials,
            ca_pem,
            plain_http,
        })
    }

    /// A client for these settings.
    pub fn connect(&self) -> Result<Session> {
        // reqwest is built without a TLS backend of its own; it uses the
        // process default, ring, as the exporter's own TLS does. Installing
        // it again fails harmlessly.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let config = ClientConfig {
            protocol: ClientProtocol::HttpsExcept(self.plain_http.clone()),
            extra_root_certificates: self
                .ca_pem
                .iter()
                .map(|pem| Certificate {
                    encoding: CertificateEncoding::Pem,
                    data: pem.clone(),
                })
                .collect(),
            // A plugin index is never involved: refuse one rather than
            // pick a platform.
            platform_resolver: None,
            connect_timeout: Some(Duration::from_secs(10)),
            read_timeout: Some(Duration::from_secs(60)),
            user_agent: concat!("wasm_exporter/", env!("CARGO_PKG_VERSION")),
            ..Default::default()
        };
        let client =
            Client::try_from(config).map_err(|e| anyhow!("setting up the registry client: {e}"))?;
        Ok(Session {
            client,
            credentials: self.credentials.clone(),
        })
    }
}

/// What pushing made.
#[derive(Debug, Clone)]
pub struct Pushed {
    /// The pushed plugin, pinned by its manifest digest.
    pub reference: OciReference,
    /// The tag of the attached signature, when one was pushed.
    pub signature_tag: Option<String>,
}

/// A plugin pulled from a registry, checked against its digests.
#[derive(Debug, Clone)]
pub struct Pulled {
    /// The manifest as sent (its SHA-256 is the digest).
    pub manifest: Vec<u8>,
    /// `sha256:HEX` of the manifest.
    pub digest: String,
    /// What the manifest says.
    pub layout: Layout,
    /// The plugin archive.
    pub archive: Vec<u8>,
    /// The attached signature, if any.
    pub signature: Option<Vec<u8>>,
}

/// The parts of a plugin manifest the exporter uses.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The archive layer.
    pub archive: OciDescriptor,
    /// The component layer.
    pub component: OciDescriptor,
}

impl Layout {
    /// Checks that `manifest` is a wasm_exporter plugin: an OCI image
    /// manifest with the wasm config, one component layer and one archive
    /// layer of bounded size.
    pub fn parse(manifest: &[u8]) -> Result<Layout> {
        let value: serde_json::Value =
            serde_json::from_slice(manifest).context("the manifest is not JSON")?;
        let media_type = value.get("mediaType").and_then(|v| v.as_str());
        ensure!(
            media_type == Some(OCI_MANIFEST_MEDIA_TYPE),
            "the manifest is {}, not an OCI image manifest ({OCI_MANIFEST_MEDIA_TYPE}): not a plugin pushed by `wasm_exporter plugin push`",
            media_type.map_or("without a mediaType".to_string(), |m| format!(
                "of type {m}"
            ))
        );
        let manifest: OciImageManifest =
            serde_json::from_value(value).context("the manifest is not an OCI image manifest")?;
        ensure!(
            manifest.schema_version == 2,
            "the manifest has schemaVersion {}, not 2",
            manifest.schema_version
        );
        ensure!(
            manifest.config.media_type == CONFIG_MEDIA_TYPE,
            "the manifest's config is of type {}, not {CONFIG_MEDIA_TYPE}: not a wasm artifact",
            manifest.config.media_type
        );
        let one = |media_type: &str| -> Result<OciDescriptor> {
            let found: Vec<&OciDescriptor> = manifest
                .layers
                .iter()
                .filter(|l| l.media_type == media_type)
                .collect();
            match found.as_slice() {
                [one] => {
                    check_digest_syntax(&one.digest)?;
                    Ok((*one).clone())
                }
                [] => bail!(
                    "the manifest has no layer of type {media_type}: not a plugin pushed by `wasm_exporter plugin push`"
                ),
                _ => bail!(
                    "the manifest has {} layers of type {media_type}",
                    found.len()
                ),
            }
        };
        let archive = one(ARCHIVE_MEDIA_TYPE)?;
        let component = one(COMPONENT_MEDIA_TYPE)?;
        ensure!(
            (0..=MAX_ARCHIVE_BYTES as i64).contains(&archive.size),
            "the archive layer is {} bytes, more than the {MAX_ARCHIVE_BYTES} allowed",
            archive.size
        );
        Ok(Layout { archive, component })
    }
}

fn check_digest_syntax(digest: &str) -> Result<()> {
    let hex = digest
        .strip_prefix("sha256:")
        .with_context(|| format!("layer digest {digest:?} is not sha256:<hex>"))?;
    ensure!(
        hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()),
        "layer digest {digest:?} is not sha256:<64 hex digits>"
    );
    Ok(())
}

/// `sha256:HEX` of `data`.
pub fn digest_of(data: &[u8]) -> String {
    format!("sha256:{}", sha256_hex(data))
}

/// The tag a plugin's signature is attached under.
pub fn signature_tag(digest: &str) -> String {
    format!("{}.sig", digest.replace(':', "-"))
}

/// A registry client with its credentials.
pub struct Session {
    client: Client,
    credentials: Credentials,
}

impl Session {
    async fn login(&self, reference: &OciReference) -> Result<RegistryAuth> {
        let auth = match self.credentials.login(&reference.registry)? {
            Login::Anonymous => RegistryAuth::Anonymous,
            Login::Basic { username, password } => RegistryAuth::Basic(username, password),
        };
        self.client
            .store_auth_if_needed(&reference.registry, &auth)
            .await;
        Ok(auth)
    }

    /// Pushes a plugin archive (already checked to load) as `target`, with
    /// its signature attached when given. Returns the pinned reference.
    pub(crate) async fn push(
        &self,
        target: &OciReference,
        archive: &[u8],
        archive_name: &str,
        files: &Files,
        component_name: &str,
        signature: Option<&[u8]>,
    ) -> Result<Pushed> {
        ensure!(
            target.digest.is_none(),
            "push to a tag ({target} names a digest, which the registry computes)"
        );
        self.login(target).await?;
        let reference = target.client_reference();
        let component = files
            .component
            .as_deref()
            .context("the archive has no component")?;
        let mut layers: Vec<(&str, &[u8], String)> = vec![
            (COMPONENT_MEDIA_TYPE, component, component_name.to_string()),
            (
                MANIFEST_MEDIA_TYPE,
                files.manifest.as_bytes(),
                super::MANIFEST_FILE.to_string(),
            ),
        ];
        if let Some(logo) = &files.logo {
            layers.push((LOGO_MEDIA_TYPE, logo, super::LOGO_FILE.to_string()));
        }
        if let Some(readme) = &files.readme {
            layers.push((
                README_MEDIA_TYPE,
                readme.as_bytes(),
                super::README_FILE.to_string(),
            ));
        }
        layers.push((ARCHIVE_MEDIA_TYPE, archive, archive_name.to_string()));

        let descriptors: Vec<OciDescriptor> = layers
            .iter()
            .map(|(media_type, data, title)| descriptor(media_type, data, Some(title)))
            .collect();
        let manifest_yaml = super::Manifest::parse(&files.manifest)?;
        let config = serde_json::to_vec(&WasmConfig {
            created: CREATED,
            author: (!manifest_yaml.authors.is_empty()).then(|| manifest_yaml.authors.join(", ")),
            architecture: "wasm",
            os: "wasip2",
            layer_digests: descriptors.iter().map(|d| d.digest.clone()).collect(),
            component: component_info(component, &manifest_yaml.world)?,
        })?;
        for (media_type, data, _) in &layers {
            self.push_blob(&reference, data)
                .await
                .with_context(|| format!("uploading the {media_type} layer to {target}"))?;
        }
        self.push_blob(&reference, &config)
            .await
            .with_context(|| format!("uploading the config to {target}"))?;
        let annotations = [
            ("org.opencontainers.image.title", manifest_yaml.name.clone()),
            (
                "org.opencontainers.image.version",
                manifest_yaml.version.clone(),
            ),
            (
                "org.opencontainers.image.description",
                manifest_yaml.description.clone(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let manifest = OciImageManifest {
            schema_version: 2,
            media_type: Some(OCI_MANIFEST_MEDIA_TYPE.to_string()),
            config: descriptor(CONFIG_MEDIA_TYPE, &config, None),
            layers: descriptors,
            annotations: Some(annotations),
            ..Default::default()
        };
        let manifest_bytes = serde_json::to_vec(&manifest)?;
        let digest = digest_of(&manifest_bytes);
        self.push_manifest(&reference, &manifest_bytes)
            .await
            .with_context(|| format!("uploading the manifest to {target}"))?;

        let signature_tag = match signature {
            Some(sig) => {
                let tag = signature_tag(&digest);
                let sig_reference = target.at_tag(&tag);
                self.push_signature(&sig_reference, sig, archive_name, &digest, &manifest_bytes)
                    .await
                    .with_context(|| format!("attaching the signature as {sig_reference}"))?;
                Some(tag)
            }
            None => None,
        };
        Ok(Pushed {
            reference: target.at_digest(&digest),
            signature_tag,
        })
    }

    async fn push_signature(
        &self,
        target: &OciReference,
        signature: &[u8],
        archive_name: &str,
        subject_digest: &str,
        subject: &[u8],
    ) -> Result<()> {
        let reference = target.client_reference();
        let empty = b"{}";
        self.push_blob(&reference, signature).await?;
        self.push_blob(&reference, empty).await?;
        let manifest = OciImageManifest {
            schema_version: 2,
            media_type: Some(OCI_MANIFEST_MEDIA_TYPE.to_string()),
            artifact_type: Some(SIGNATURE_MEDIA_TYPE.to_string()),
            config: descriptor(EMPTY_MEDIA_TYPE, empty, None),
            layers: vec![descriptor(
                SIGNATURE_MEDIA_TYPE,
                signature,
                Some(&format!("{archive_name}{}", super::signature::SUFFIX)),
            )],
            subject: Some(OciDescriptor {
                media_type: OCI_MANIFEST_MEDIA_TYPE.to_string(),
                digest: subject_digest.to_string(),
                size: subject.len() as i64,
                ..Default::default()
            }),
            ..Default::default()
        };
        self.push_manifest(&reference, &serde_json::to_vec(&manifest)?)
            .await
    }

    async fn push_blob(&self, reference: &Reference, data: &[u8]) -> Result<()> {
        let digest = digest_of(data);
        if self
            .client
            .blob_exists(reference, &digest)
            .await
            .map_err(explain)?
        {
            return Ok(());
        }
        self.client
            .push_blob(reference, data.to_vec(), &digest)
            .await
            .map_err(explain)?;
        Ok(())
    }

    async fn push_manifest(&self, reference: &Reference, bytes: &[u8]) -> Result<()> {
        self.client
            .push_manifest_raw(
                reference,
                bytes.to_vec(),
                hyper::http::HeaderValue::from_static(OCI_MANIFEST_MEDIA_TYPE),
            )
            .await
            .map_err(explain)?;
        Ok(())
    }

    /// Pulls the plugin `source` names (by digest or tag): its manifest,
    /// checked against the pinned digest and the plugin layout, the archive,
    /// checked against its layer digest, and the attached signature.
    pub async fn pull(&self, source: &OciReference) -> Result<Pulled> {
        let auth = self.login(source).await?;
        let (manifest, sent_digest) = self
            .client
            .pull_manifest_raw(
                &source.client_reference(),
                &auth,
                &[OCI_MANIFEST_MEDIA_TYPE],
            )
            .await
            .map_err(explain)
            .context("fetching the manifest")?;
        let manifest = manifest.to_vec();
        let digest = digest_of(&manifest);
        if let Some(pinned) = &source.digest {
            ensure!(
                &digest == pinned,
                "digest mismatch: the registry sent a manifest whose digest is {digest}, not the pinned {pinned}"
            );
        }
        ensure!(
            digest == sent_digest,
            "digest mismatch: the registry says the manifest is {sent_digest}, but it is {digest}"
        );
        let layout = Layout::parse(&manifest)?;
        let pinned = source.at_digest(&digest);
        let archive = self
            .pull_blob(&pinned, &layout.archive)
            .await
            .with_context(|| format!("fetching the archive layer {}", layout.archive.digest))?;
        let signature = self
            .pull_signature(&pinned)
            .await
            .with_context(|| format!("fetching the signature tag {}", signature_tag(&digest)))?;
        Ok(Pulled {
            manifest,
            digest,
            layout,
            archive,
            signature,
        })
    }

    /// The signature attached to the plugin `pinned` (by digest), or `None`
    /// when the registry has none (a 404; any other failure is an error,
    /// never taken for "unsigned").
    pub async fn pull_signature(&self, pinned: &OciReference) -> Result<Option<Vec<u8>>> {
        let digest = pinned
            .digest
            .as_deref()
            .context("a signature is looked up by the plugin's digest")?;
        let auth = self.login(pinned).await?;
        let tag = pinned.at_tag(&signature_tag(digest));
        let manifest = match self
            .client
            .pull_manifest_raw(&tag.client_reference(), &auth, &[OCI_MANIFEST_MEDIA_TYPE])
            .await
        {
            Ok((bytes, _)) => bytes,
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => return Err(explain(e)),
        };
        let manifest: OciImageManifest = serde_json::from_slice(&manifest)
            .context("the signature manifest is not an OCI image manifest")?;
        let subject = manifest.subject.as_ref().map(|s| s.digest.as_str());
        ensure!(
            subject == Some(digest),
            "the signature manifest under {tag} is for {}, not for {digest}",
            subject.unwrap_or("no subject")
        );
        let layer = match manifest.layers.as_slice() {
            [layer] if layer.media_type == SIGNATURE_MEDIA_TYPE => layer.clone(),
            _ => bail!(
                "the signature manifest under {tag} does not hold one {SIGNATURE_MEDIA_TYPE} layer"
            ),
        };
        check_digest_syntax(&layer.digest)?;
        ensure!(
            (0..=MAX_SIGNATURE_BYTES as i64).contains(&layer.size),
            "the signature layer is {} bytes, more than the {MAX_SIGNATURE_BYTES} allowed",
            layer.size
        );
        Ok(Some(self.pull_blob(pinned, &layer).await?))
    }

    /// A blob of at most its declared size, checked against its digest (by
    /// `oci-client`).
    async fn pull_blob(&self, pinned: &OciReference, layer: &OciDescriptor) -> Result<Vec<u8>> {
        let max = usize::try_from(layer.size).unwrap_or(0);
        let mut out = Bounded {
            data: Vec::with_capacity(max.min(16 << 20)),
            max,
        };
        self.client
            .pull_blob(&pinned.client_reference(), layer, &mut out)
            .await
            .map_err(explain)?;
        ensure!(
            out.data.len() == max,
            "the registry sent {} bytes of a {max}-byte blob",
            out.data.len()
        );
        Ok(out.data)
    }
}

/// A sink that refuses to hold more than `max` bytes, so a registry cannot
/// make the exporter allocate more than the manifest announced.
struct Bounded {
    data: Vec<u8>,
    max: usize,
}

impl tokio::io::AsyncWrite for Bounded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if self.data.len() + buf.len() > self.max {
            return Poll::Ready(Err(std::io::Error::other(format!(
                "the registry sent more than the {} bytes the manifest announced",
                self.max
            ))));
        }
        self.data.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

fn is_not_found(e: &OciDistributionError) -> bool {
    match e {
        OciDistributionError::RegistryError { envelope, .. } => envelope.errors.iter().any(|e| {
            matches!(
                e.code,
                OciErrorCode::ManifestUnknown | OciErrorCode::NotFound
            )
        }),
        OciDistributionError::ServerError { code, .. } => *code == 404,
        OciDistributionError::ImageManifestNotFoundError(_) => true,
        _ => false,
    }
}

/// An `oci-client` error, with its causes and a hint where one helps.
fn explain(e: OciDistributionError) -> anyhow::Error {
    let unauthorized = match &e {
        OciDistributionError::UnauthorizedError { .. } => true,
        OciDistributionError::RequestError(e) => e.status().is_some_and(|s| s.as_u16() == 401),
        _ => false,
    };
    let hint = match &e {
        _ if unauthorized => {
            " (the registry wants credentials, or refused those given: registry.auth_file in the config, --registry.auth-file on the command line)"
        }
        OciDistributionError::ServerError { code, .. } if *code >= 500 => {
            " (the registry failed; try again later)"
        }
        _ => "",
    };
    let mut message = match &e {
        OciDistributionError::DigestError(_) => format!("digest mismatch: {e}"),
        _ => e.to_string(),
    };
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    anyhow!("{message}{hint}")
}

fn descriptor(media_type: &str, data: &[u8], title: Option<&str>) -> OciDescriptor {
    OciDescriptor {
        media_type: media_type.to_string(),
        digest: digest_of(data),
        size: data.len() as i64,
        annotations: title.map(|t| [(TITLE.to_string(), t.to_string())].into_iter().collect()),
        ..Default::default()
    }
}

/// The config of a wasm artifact, after the CNCF guide.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WasmConfig<'a> {
    created: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    author: Option<String>,
    architecture: &'a str,
    os: &'a str,
    layer_digests: Vec<String>,
    component: ComponentInfo,
}

#[derive(Serialize)]
struct ComponentInfo {
    exports: Vec<String>,
    imports: Vec<String>,
    target: String,
}

/// The names a component imports and exports at its top level.
fn component_info(component: &[u8], world: &str) -> Result<ComponentInfo> {
    use wasmparser::{Encoding, Parser, Payload};
    let mut info = ComponentInfo {
        exports: Vec::new(),
        imports: Vec::new(),
        target: world.to_string(),
    };
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(component) {
        match payload.context("reading the component")? {
            Payload::Version { encoding, .. } => {
                ensure!(
                    depth > 0 || encoding == Encoding::Component,
                    "the plugin's .wasm is a core module, not a component"
                );
                depth += 1;
            }
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentImportSection(reader) if depth == 1 => {
                for import in reader {
                    info.imports.push(import?.name.name.to_string());
                }
            }
            Payload::ComponentExportSection(reader) if depth == 1 => {
                for export in reader {
                    info.exports.push(export?.name.name.to_string());
                }
            }
            _ => {}
        }
    }
    Ok(info)
}

/// Runs `future` on a runtime of its own, on a thread of its own, so that
/// it can be called from anywhere: start-up and reload run in blocking
/// threads, the `plugin` commands inside the main runtime.
pub fn block_on<T: Send>(future: impl Future<Output = Result<T>> + Send) -> Result<T> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .context("starting the registry client")?
                    .block_on(future)
            })
            .join()
            .map_err(|_| anyhow!("the registry client panicked"))?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse_and_print() {
        let d = format!("sha256:{}", "ab".repeat(32));
        let r = OciReference::parse(&format!("oci://127.0.0.1:5000/plugins/sysinfo@{d}")).unwrap();
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert_eq!(r.repository, "plugins/sysinfo");
        assert_eq!(r.tag, None);
        assert_eq!(r.digest.as_deref(), Some(d.as_str()));
        assert_eq!(
            r.to_string(),
            format!("oci://127.0.0.1:5000/plugins/sysinfo@{d}")
        );
        let r = OciReference::parse("oci://registry.example/a/b:1.0.0").unwrap();
        assert_eq!(r.tag.as_deref(), Some("1.0.0"));
        assert_eq!(
            r.at_digest(&d).to_string(),
            format!("oci://registry.example/a/b@{d}")
        );
        for (bad, expected) in [
            ("127.0.0.1:5000/a", "expected oci://"),
            ("oci://host", "has no repository"),
            ("oci://host/Upper", "must be lower-case"),
            ("oci://host/a@sha256:00", "64 lower-case hex"),
            ("oci://host/a@md5:00", "sha256:"),
            ("oci://host/a:b@c", "sha256:"),
            ("oci://host/a:-x", "tag"),
            ("oci:///a", "not a registry"),
        ] {
            let e = OciReference::parse(bad).unwrap_err().to_string();
            assert!(e.contains(expected), "{bad}: {e}");
        }
    }

    #[test]
    fn layout_refuses_what_is_not_a_plugin() {
        let layer = |mt: &str, size: i64| {
            format!(
                r#"{{"mediaType":"{mt}","digest":"sha256:{}","size":{size}}}"#,
                "a".repeat(64)
            )
        };
        let manifest = |mt: &str, config: &str, layers: &[String]| {
            format!(
                r#"{{"schemaVersion":2,"mediaType":"{mt}","config":{},"layers":[{}]}}"#,
                layer(config, 2),
                layers.join(",")
            )
        };
        let good = [
            layer(COMPONENT_MEDIA_TYPE, 10),
            layer(ARCHIVE_MEDIA_TYPE, 10),
        ];
        Layout::parse(manifest(OCI_MANIFEST_MEDIA_TYPE, CONFIG_MEDIA_TYPE, &good).as_bytes())
            .unwrap();
        for (text, expected) in [
            (
                manifest(
                    "application/vnd.docker.distribution.manifest.v2+json",
                    CONFIG_MEDIA_TYPE,
                    &good,
                ),
                "of type application/vnd.docker.distribution.manifest.v2+json",
            ),
            (
                manifest(
                    OCI_MANIFEST_MEDIA_TYPE,
                    "application/vnd.oci.image.config.v1+json",
                    &good,
                ),
                "not a wasm artifact",
            ),
            (
                manifest(OCI_MANIFEST_MEDIA_TYPE, CONFIG_MEDIA_TYPE, &good[..1]),
                "no layer of type application/vnd.wasm-exporter.plugin.archive",
            ),
            (
                manifest(
                    OCI_MANIFEST_MEDIA_TYPE,
                    CONFIG_MEDIA_TYPE,
                    &[
                        layer(COMPONENT_MEDIA_TYPE, 1),
                        layer(ARCHIVE_MEDIA_TYPE, MAX_ARCHIVE_BYTES as i64 + 1),
                    ],
                ),
                "more than the",
            ),
            (r#"{"mediaType": 1}"#.to_string(), "without a mediaType"),
            ("[".to_string(), "not JSON"),
        ] {
            let e = format!("{:#}", Layout::parse(text.as_bytes()).unwrap_err());
            assert!(e.contains(expected), "{text}: {e}");
        }
    }
}
