//! The plugin supply chain: minisign signatures checked at load (made by
//! `plugin sign` and by Debian's `minisign`), plugins pushed to and pulled
//! from Debian's `docker-registry` by digest, served offline from the
//! cache; and every bad input refused with a clear error, nothing
//! half-installed in the cache.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::registry::{
    FakeRegistry, Registry, Reply, digest, docker_config, minisign, minisign_encrypted_keypair,
    minisign_keypair,
};
use crate::support::{
    Exporter, Pki, assert_start_refused, assert_start_refused_with, exporter_cli, fixture, plugin,
    proc_file_args, proc_files, q, request,
};

/// The files of the fixture /proc a plugin (sysinfo, netdev) reads.
fn proc_files_of(plugin_name: &str) -> &'static [&'static str] {
    match plugin_name {
        "sysinfo" => &["meminfo", "partitions"],
        "netdev" => &["net/dev"],
        other => panic!("no grants known for {other}"),
    }
}

/// `plugin check` (or `pack`) of `path` with the grants of `plugin_name`.
fn check(path: &Path, plugin_name: &str, extra: &[&str]) -> (i32, String) {
    let grants = proc_file_args(&fixture("proc"), proc_files_of(plugin_name));
    let mut args = vec!["plugin", "check", path.to_str().unwrap()];
    args.extend(grants.iter().map(String::as_str));
    args.extend_from_slice(extra);
    exporter_cli(&args)
}

/// `plugin push ARCHIVE TARGET` with `flags`.
fn push(archive: &Path, target: &str, flags: &[&str]) -> (i32, String) {
    let mut args = vec!["plugin", "push", archive.to_str().unwrap(), target];
    args.extend_from_slice(flags);
    exporter_cli(&args)
}

/// The digest-pinned reference `plugin push` prints for the config.
fn pinned_of(push_output: &str) -> String {
    push_output
        .lines()
        .find_map(|l| l.strip_prefix("in the config: plugin: "))
        .unwrap_or_else(|| panic!("no pinned reference in:\n{push_output}"))
        .to_string()
}

/// Packs a plugin into `dir/name` with `plugin pack`.
fn pack(dir: &Path, plugin_name: &str, name: &str) -> PathBuf {
    let out = dir.join(name);
    let grants = proc_file_args(&fixture("proc"), proc_files_of(plugin_name));
    let plugin_dir = plugin(plugin_name);
    let mut args = vec!["plugin", "pack", plugin_dir.to_str().unwrap()];
    args.extend(grants.iter().map(String::as_str));
    args.extend(["-o", out.to_str().unwrap()]);
    let (code, text) = exporter_cli(&args);
    assert_eq!(code, 0, "{text}");
    out
}

fn sign(archive: &Path, key: &Path) -> String {
    let (code, out) = exporter_cli(&[
        "plugin",
        "sign",
        archive.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}");
    out
}

fn sig_of(archive: &Path) -> PathBuf {
    PathBuf::from(format!("{}.minisig", archive.display()))
}

/// `signatures:` trusting `public` as "release".
fn trusting(public: &Path, required: bool) -> String {
    format!(
        "signatures:\n  required: {required}\n  trusted_keys:\n    - {{name: release, public_key_file: {}}}\n",
        q(public)
    )
}

/// A module of the plugin `plugin_name` (sysinfo, netdev) from `plugin` (a
/// path or an oci:// reference), granted the fixture /proc files it reads.
fn module_of(plugin_name: &str, name: &str, plugin: &str, extra: &str) -> String {
    format!(
        "  - name: {name}\n    plugin: {plugin:?}\n    grants: {}\n{extra}",
        proc_files(&fixture("proc"), proc_files_of(plugin_name))
    )
}

/// A sysinfo module.
fn proc_module(name: &str, plugin: &str, extra: &str) -> String {
    module_of("sysinfo", name, plugin, extra)
}

#[test]
fn plugin_sign_and_minisign_interoperate_and_signed_plugins_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (public, secret, id) = minisign_keypair(d, "release");
    let ours = pack(d, "sysinfo", "ours.tar.gz");
    let theirs = pack(d, "netdev", "theirs.tar.gz");

    // `plugin sign` writes a signature that minisign verifies.
    let out = sign(&ours, &secret);
    assert!(out.contains(&format!("with key {id}")), "{out}");
    let (ok, out) = minisign(&[
        "-V",
        "-p",
        public.to_str().unwrap(),
        "-m",
        ours.to_str().unwrap(),
    ]);
    assert!(ok, "minisign -V refused our signature: {out}");
    assert!(out.contains("file:ours.tar.gz"), "{out}");

    // So does a signature made with an encrypted key, minisign's default.
    let (enc_public, enc_secret) = minisign_encrypted_keypair(d, "encrypted", "correct horse");
    let password = d.join("password");
    std::fs::write(&password, "correct horse\n").unwrap();
    let copy = d.join("copy.tar.gz");
    std::fs::copy(&ours, &copy).unwrap();
    let (code, out) = exporter_cli(&[
        "plugin",
        "sign",
        copy.to_str().unwrap(),
        "--key",
        enc_secret.to_str().unwrap(),
        "--password-file",
        password.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}");
    let (ok, out) = minisign(&[
        "-V",
        "-p",
        enc_public.to_str().unwrap(),
        "-m",
        copy.to_str().unwrap(),
    ]);
    assert!(ok, "{out}");
    let (code, out) = exporter_cli(&[
        "plugin",
        "sign",
        copy.to_str().unwrap(),
        "--key",
        enc_secret.to_str().unwrap(),
    ]);
    assert_ne!(code, 0);
    assert!(
        out.contains("the secret key is encrypted: give its password with --password-file"),
        "{out}"
    );

    // A signature made by minisign is accepted.
    let (ok, out) = minisign(&[
        "-S",
        "-s",
        secret.to_str().unwrap(),
        "-m",
        theirs.to_str().unwrap(),
    ]);
    assert!(ok, "{out}");
    let config = format!(
        "{}modules:\n{}{}",
        trusting(&public, true),
        proc_module("ours", ours.to_str().unwrap(), ""),
        module_of("netdev", "theirs", theirs.to_str().unwrap(), ""),
    );
    let exporter = Exporter::start(&config);
    let s = exporter.scrape();
    assert_eq!(s.value("sys_mem_usage"), Some(25.0));
    assert!(s.has_family("netdev_receive_bytes_total"));
    assert_eq!(s.all_errors("ours") + s.all_errors("theirs"), 0.0);
    let page = exporter.get("/").body;
    assert_eq!(
        page.matches(&format!("signed by release (key {id})"))
            .count(),
        2,
        "{page}"
    );

    // `plugin check` reports the signature, with and without the key.
    let (code, out) = check(
        &theirs,
        "netdev",
        &["--trusted-key", public.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!(
            "signature: ok, signed by {} (key {id})",
            public.display()
        )) && out.contains("trusted comment: timestamp:")
            && out.contains("result: OK"),
        "{out}"
    );
    let (code, out) = check(&ours, "sysinfo", &[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!(
            "signature: signed by key {id}, which is not trusted: signature not checked (no key is trusted here"
        )),
        "{out}"
    );
    let (code, out) = check(&plugin("sysinfo"), "sysinfo", &[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("signature: none (a directory is not signed"),
        "{out}"
    );
}

#[test]
fn bad_signatures_refuse_the_module_naming_the_reason_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (public, secret, id) = minisign_keypair(d, "release");
    let (_, stranger_secret, stranger_id) = minisign_keypair(d, "stranger");
    let good = pack(d, "sysinfo", "good.tar.gz");
    sign(&good, &secret);

    let copy = |name: &str| {
        let path = d.join(name);
        std::fs::copy(&good, &path).unwrap();
        path
    };
    let unsigned = copy("unsigned.tar.gz");
    let wrong_key = copy("wrong-key.tar.gz");
    sign(&wrong_key, &stranger_secret);
    // Signed, then changed: bytes appended after the gzip stream still
    // load, so only the signature notices.
    let tampered = copy("tampered.tar.gz");
    sign(&tampered, &secret);
    let mut bytes = std::fs::read(&tampered).unwrap();
    bytes.extend_from_slice(b"\0\0\0\0appended");
    std::fs::write(&tampered, bytes).unwrap();
    // The signature of another file.
    let netdev = pack(d, "netdev", "netdev.tar.gz");
    sign(&netdev, &secret);
    let other_file = copy("other-file.tar.gz");
    std::fs::copy(sig_of(&netdev), sig_of(&other_file)).unwrap();
    let netdev_unsigned = d.join("netdev-unsigned.tar.gz");
    std::fs::copy(&netdev, &netdev_unsigned).unwrap();
    let garbage = copy("garbage.tar.gz");
    std::fs::write(sig_of(&garbage), "untrusted comment: x\nnot a signature\n").unwrap();

    let refused = |config: &str, expected: &[&str]| {
        let run = tempfile::tempdir().unwrap();
        assert_start_refused(run.path(), config, expected);
    };
    let required = |archive: &Path| {
        format!(
            "{}modules:\n{}",
            trusting(&public, true),
            proc_module("m", archive.to_str().unwrap(), "")
        )
    };
    refused(
        &required(&unsigned),
        &[
            "module \\\"m\\\"",
            "is not signed and a signature is required",
        ],
    );
    refused(
        &required(&wrong_key),
        &[
            "module \\\"m\\\"",
            &format!(
                "signed with key {stranger_id}, which is not trusted (trusted: release ({id}))"
            ),
        ],
    );
    let mismatch = format!("the signature by key {id} (release) does not match");
    refused(
        &required(&tampered),
        &["module \\\"m\\\"", &mismatch, "changed after signing"],
    );
    refused(
        &required(&other_file),
        &[&mismatch, "made for \\\"netdev.tar.gz\\\""],
    );
    refused(
        &required(&garbage),
        &["the signature of plugin archive", "cannot be read"],
    );
    // A bad signature refuses even where none is required.
    refused(
        &format!(
            "{}modules:\n{}",
            trusting(&public, false),
            proc_module("m", tampered.to_str().unwrap(), "")
        ),
        &[&mismatch],
    );
    refused(
        &required(&plugin("sysinfo")),
        &["is a plugin directory, which cannot be signed"],
    );
    refused(
        &format!(
            "{}modules:\n  - name: bare\n    component: {}\n",
            trusting(&public, true),
            q(&crate::support::guest("ok"))
        ),
        &["module \\\"bare\\\"", "bare `component:` carries none"],
    );
    refused(
        &format!(
            "modules:\n{}",
            proc_module(
                "m",
                unsigned.to_str().unwrap(),
                "    require_signature: true\n"
            )
        ),
        &["module \\\"m\\\"", "is not signed"],
    );
    refused(
        "signatures: {required: true, trusted_key: []}\nmodules: []\n",
        &["unknown field `trusted_key`"],
    );
    refused(
        "signatures:\n  trusted_keys: [{name: x, public_key: RWQnotakey}]\nmodules: []\n",
        &[
            "signatures.trusted_keys[0] (\\\"x\\\")",
            "not a minisign public key",
        ],
    );

    // Per module, a signature can be waived where it is required globally.
    let exporter = Exporter::start_with_args(
        &format!(
            "{}modules:\n{}{}",
            trusting(&public, true),
            module_of(
                "netdev",
                "waived",
                netdev_unsigned.to_str().unwrap(),
                "    require_signature: false\n"
            ),
            proc_module("signed", good.to_str().unwrap(), ""),
        ),
        &["--web.enable-lifecycle"],
    );
    let s = exporter.scrape();
    assert_eq!(s.all_errors("waived") + s.all_errors("signed"), 0.0);
    let page = exporter.get("/").body;
    assert!(page.contains("unsigned") && page.contains(&format!("signed by release (key {id})")));

    // On reload too: a signature swapped for the stranger's refuses the
    // reload, and the running set keeps serving.
    std::fs::copy(sig_of(&wrong_key), sig_of(&good)).unwrap();
    let answer = request("POST", &format!("http://{}/-/reload", exporter.addr), &[]);
    assert_eq!(answer.status, 500, "{}", answer.body);
    assert!(
        answer.body.contains("module \"signed\"")
            && answer.body.contains(&format!(
                "signed with key {stranger_id}, which is not trusted"
            )),
        "{}",
        answer.body
    );
    assert_eq!(exporter.scrape().value("sys_mem_usage"), Some(25.0));
}

/// The entries of a cache's pulled plugins (anything there, temporary
/// directories included).
fn cached(cache: &Path) -> Vec<String> {
    match std::fs::read_dir(cache.join("plugins")) {
        Ok(entries) => entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

#[test]
fn plugins_pushed_to_a_registry_are_pulled_by_digest_and_served_offline_from_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (public, secret, id) = minisign_keypair(d, "release");
    let archive = pack(d, "sysinfo", "sysinfo.tar.gz");
    let (ok, out) = minisign(&[
        "-S",
        "-s",
        secret.to_str().unwrap(),
        "-m",
        archive.to_str().unwrap(),
    ]);
    assert!(ok, "{out}");
    let mut registry = Registry::start(None, None);
    let target = registry.reference("plugins/sysinfo");

    // Push: the tag defaults to the plugin's version; the signature goes along.
    let (code, out) = push(&archive, &target, &["--registry.plain-http"]);
    assert_eq!(code, 0, "{out}\n{}", registry.log());
    assert!(out.contains(&format!("to {target}:1.0.0")), "{out}");
    assert!(
        out.contains(&format!("signature: key {id}, attached as tag sha256-")),
        "{out}"
    );
    let pinned = pinned_of(&out);
    let manifest_digest = pinned.split('@').nth(1).unwrap().to_string();

    // The artifact is laid out as the wasm OCI artifact guide says.
    let manifest = request(
        "GET",
        &format!(
            "http://{}/v2/plugins/sysinfo/manifests/{manifest_digest}",
            registry.addr
        ),
        &[("Accept", "application/vnd.oci.image.manifest.v1+json")],
    );
    assert_eq!(manifest.status, 200);
    assert_eq!(digest(&manifest.bytes), manifest_digest);
    let m: serde_json::Value = serde_json::from_slice(&manifest.bytes).unwrap();
    assert_eq!(
        m["config"]["mediaType"],
        "application/vnd.wasm.config.v0+json"
    );
    let types: Vec<&str> = m["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["mediaType"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "application/wasm",
            "application/vnd.wasm-exporter.plugin.manifest.v1+yaml",
            "application/vnd.wasm-exporter.plugin.logo.v1+png",
            "application/vnd.wasm-exporter.plugin.readme.v1+markdown",
            "application/vnd.wasm-exporter.plugin.archive.v1.tar+gzip",
        ]
    );
    let component = std::fs::read(plugin("sysinfo").join("sysinfo.wasm")).unwrap();
    assert_eq!(m["layers"][0]["digest"], digest(&component));
    let config = request(
        "GET",
        &format!(
            "http://{}/v2/plugins/sysinfo/blobs/{}",
            registry.addr,
            m["config"]["digest"].as_str().unwrap()
        ),
        &[],
    );
    let c: serde_json::Value = serde_json::from_slice(&config.bytes).unwrap();
    assert_eq!(c["architecture"], "wasm");
    assert_eq!(c["os"], "wasip2");
    assert_eq!(
        c["component"]["target"],
        "wasm-exporter:scraper/scraper@0.1.0"
    );
    assert!(
        c["component"]["exports"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e == "collect"),
        "{c}"
    );
    assert_eq!(c["layerDigests"].as_array().unwrap().len(), 5);

    // Pull by tag: the same archive and signature, which minisign verifies.
    let pulled = d.join("pulled.tar.gz");
    let (code, out) = exporter_cli(&[
        "plugin",
        "pull",
        &format!("{target}:1.0.0"),
        "-o",
        pulled.to_str().unwrap(),
        "--registry.plain-http",
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("from {pinned}")), "{out}");
    assert_eq!(
        std::fs::read(&pulled).unwrap(),
        std::fs::read(&archive).unwrap()
    );
    let (ok, out) = minisign(&[
        "-V",
        "-p",
        public.to_str().unwrap(),
        "-m",
        pulled.to_str().unwrap(),
    ]);
    assert!(ok, "{out}");

    // The exporter pulls it by digest into the cache and serves it.
    let cache = d.join("cache");
    let cache_flag = format!("--cache.dir={}", cache.display());
    let config = format!(
        "{}registry: {{plain_http: [{:?}]}}\nmodules:\n{}",
        trusting(&public, true),
        registry.addr,
        proc_module("pulled", &pinned, "")
    );
    {
        let exporter = Exporter::start_with_args(&config, &[&cache_flag]);
        assert_eq!(exporter.scrape().value("sys_mem_usage"), Some(25.0));
        exporter.wait_for_log(&["pulled", &pinned], std::time::Duration::from_secs(5));
        let page = exporter.get("/").body;
        assert!(
            page.contains(&format!("signed by release (key {id})"))
                && page.contains(&format!("pulled from <code>{pinned}</code>")),
            "{page}"
        );
    }
    assert_eq!(cached(&cache), [manifest_digest.replace(':', "-")]);

    // `wasm_exporter compile` (a build step) pulls into the same cache
    // directory as the exporter, beside the compiled components.
    let built = d.join("built");
    let config_path = d.join("pulled.yml");
    std::fs::write(&config_path, &config).unwrap();
    let (code, out) = exporter_cli(&[
        "compile",
        &format!("--config.file={}", config_path.display()),
        &format!("--cache.dir={}", built.display()),
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("pulled: compiled in"), "{out}");
    assert_eq!(cached(&built), [manifest_digest.replace(':', "-")]);
    let compiled: Vec<_> = std::fs::read_dir(built.join("compiled"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        compiled.len() == 1 && compiled[0].ends_with(".cwasm"),
        "{compiled:?}"
    );

    // Offline: the registry is gone, a restart is served from the cache.
    registry.stop();
    {
        // What `compile` filled is enough: nothing pulled, nothing compiled.
        let exporter =
            Exporter::start_with_args(&config, &[&format!("--cache.dir={}", built.display())]);
        assert_eq!(exporter.scrape().value("sys_mem_usage"), Some(25.0));
        exporter.wait_for_log(
            &["compiled=Cached", "loaded", "plugin.tar.gz"],
            std::time::Duration::from_secs(5),
        );
        assert!(
            !exporter.log().iter().any(|l| l.contains("msg=pulled")),
            "{:?}",
            exporter.log()
        );
    }
    let exporter = Exporter::start_with_args(&config, &[&cache_flag]);
    assert_eq!(exporter.scrape().value("sys_mem_usage"), Some(25.0));
    assert!(
        !exporter.log().iter().any(|l| l.contains("msg=pulled")),
        "served from the cache without pulling: {:?}",
        exporter.log()
    );
    // The compile cache beside it did not sweep the pulled plugin away.
    assert_eq!(cached(&cache), [manifest_digest.replace(':', "-")]);
    drop(exporter);

    // A damaged copy is noticed, removed and pulled again (which fails
    // here, offline, saying so).
    let entry = cache
        .join("plugins")
        .join(manifest_digest.replace(':', "-"))
        .join("plugin.tar.gz");
    let mut bytes = std::fs::read(&entry).unwrap();
    bytes.push(0);
    std::fs::write(&entry, bytes).unwrap();
    let run = tempfile::tempdir().unwrap();
    assert_start_refused_with(
        run.path(),
        &config,
        &[&cache_flag],
        &[
            "is damaged",
            "pulling it again",
            "module \\\"pulled\\\"",
            "Connection refused",
        ],
    );
    assert!(cached(&cache).is_empty(), "{:?}", cached(&cache));

    // Without --cache.dir an OCI plugin is refused, naming the flag; a tag
    // instead of a digest is refused too.
    assert_start_refused(
        run.path(),
        &config,
        &["module \\\"pulled\\\"", "--cache.dir, which is not set"],
    );
    assert_start_refused(
        run.path(),
        &format!(
            "modules:\n{}",
            proc_module("tagged", &format!("{target}:1.0.0"), "")
        ),
        &["must be pinned by digest"],
    );
}

#[test]
fn registries_with_htpasswd_auth_and_with_tls() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let archive = pack(d, "sysinfo", "sysinfo.tar.gz");

    // htpasswd: refused without credentials, pushed and pulled with them.
    let registry = Registry::start(Some(("alice", "s3cret")), None);
    let auth_file = registry.auth_file.clone().unwrap();
    let target = registry.reference("team/sysinfo:v1");
    let (code, out) = push(&archive, &target, &["--registry.plain-http"]);
    assert_ne!(code, 0, "{out}");
    assert!(
        out.contains("401") && out.contains("registry.auth_file"),
        "{out}"
    );
    let wrong = d.join("wrong.json");
    std::fs::write(&wrong, docker_config(&registry.addr, "alice", "guess")).unwrap();
    let (code, out) = push(
        &archive,
        &target,
        &[
            "--registry.plain-http",
            "--registry.auth-file",
            wrong.to_str().unwrap(),
        ],
    );
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("401"), "{out}");
    let (code, out) = push(
        &archive,
        &target,
        &[
            "--registry.plain-http",
            "--registry.auth-file",
            auth_file.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("signature: none"), "{out}");
    let pinned = pinned_of(&out);
    let cache = d.join("cache");
    let cache_flag = format!("--cache.dir={}", cache.display());
    let module = proc_module("authed", &pinned, "");
    let run = tempfile::tempdir().unwrap();
    assert_start_refused_with(
        run.path(),
        &format!(
            "registry: {{plain_http: [{:?}]}}\nmodules:\n{module}",
            registry.addr
        ),
        &[&cache_flag],
        &[
            "module \\\"authed\\\"",
            "Not authorized",
            "registry.auth_file",
        ],
    );
    assert!(cached(&cache).is_empty());
    let exporter = Exporter::start_with_args(
        &format!(
            "registry: {{plain_http: [{:?}], auth_file: {}}}\nmodules:\n{module}",
            registry.addr,
            q(&auth_file)
        ),
        &[&cache_flag],
    );
    assert_eq!(exporter.scrape().value("sys_mem_usage"), Some(25.0));
    assert!(exporter.get("/").body.contains("unsigned"));
    drop(exporter);

    // TLS: trusted through registry.ca_file; refused without it.
    let pki = Pki::new();
    let registry = Registry::start(None, Some(&pki));
    let target = registry.reference("sysinfo");
    let (code, out) = push(&archive, &target, &[]);
    assert_ne!(code, 0, "{out}");
    assert!(out.to_lowercase().contains("certificate"), "{out}");
    let (code, out) = push(
        &archive,
        &target,
        &["--registry.ca-file", pki.path("ca.pem").to_str().unwrap()],
    );
    assert_eq!(code, 0, "{out}");
    let pinned = pinned_of(&out);
    let module = proc_module("tls", &pinned, "");
    let tls_cache = d.join("tls-cache");
    let tls_flag = format!("--cache.dir={}", tls_cache.display());
    assert_start_refused_with(
        run.path(),
        &format!("modules:\n{module}"),
        &[&tls_flag],
        &["module \\\"tls\\\"", "certificate"],
    );
    assert!(cached(&tls_cache).is_empty(), "{:?}", cached(&tls_cache));
    let exporter = Exporter::start_with_args(
        &format!(
            "registry: {{ca_file: {}}}\nmodules:\n{module}",
            q(&pki.path("ca.pem"))
        ),
        &[&tls_flag],
    );
    assert_eq!(exporter.scrape().value("sys_mem_usage"), Some(25.0));
}

/// A plugin artifact as `plugin push` lays it out, for the fake registry:
/// the manifest and the blobs by digest.
struct Artifact {
    manifest: Vec<u8>,
    blobs: HashMap<String, Vec<u8>>,
}

impl Artifact {
    fn new(archive: &[u8], component: &[u8], manifest_type: &str, config_type: &str) -> Artifact {
        let config = b"{\"architecture\":\"wasm\",\"os\":\"wasip2\"}".to_vec();
        let layer = |mt: &str, data: &[u8]| serde_json::json!({"mediaType": mt, "digest": digest(data), "size": data.len()});
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": manifest_type,
            "config": layer(config_type, &config),
            "layers": [
                layer("application/wasm", component),
                layer("application/vnd.wasm-exporter.plugin.archive.v1.tar+gzip", archive),
            ],
        }))
        .unwrap();
        let blobs = [config, component.to_vec(), archive.to_vec()]
            .into_iter()
            .map(|b| (digest(&b), b))
            .collect();
        Artifact { manifest, blobs }
    }

    fn digest(&self) -> String {
        digest(&self.manifest)
    }

    /// The fake registry's table for this artifact in repository `p`,
    /// with a signature manifest when `signature` is given.
    fn routes(&self, signature: Option<&[u8]>) -> HashMap<String, Reply> {
        let mut routes: HashMap<String, Reply> = self
            .blobs
            .iter()
            .map(|(d, b)| {
                (
                    format!("/v2/p/blobs/{d}"),
                    Reply::ok("application/octet-stream", b),
                )
            })
            .collect();
        routes.insert(
            format!("/v2/p/manifests/{}", self.digest()),
            Reply::ok("application/vnd.oci.image.manifest.v1+json", &self.manifest),
        );
        if let Some(sig) = signature {
            let empty = b"{}";
            let sig_manifest = serde_json::to_vec(&serde_json::json!({
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": digest(empty), "size": 2},
                "layers": [{"mediaType": "application/vnd.wasm-exporter.plugin.signature.v1+minisign", "digest": digest(sig), "size": sig.len()}],
                "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": self.digest(), "size": self.manifest.len()},
            }))
            .unwrap();
            routes.insert(
                format!("/v2/p/manifests/{}.sig", self.digest().replace(':', "-")),
                Reply::ok("application/vnd.oci.image.manifest.v1+json", &sig_manifest),
            );
            routes.insert(
                format!("/v2/p/blobs/{}", digest(sig)),
                Reply::ok("application/octet-stream", sig),
            );
            routes.insert(
                format!("/v2/p/blobs/{}", digest(empty)),
                Reply::ok("application/octet-stream", empty),
            );
        }
        routes
    }
}

/// A broken registry: what it does, its table, the digest pinned, and
/// what the refusal must say.
type Case = (&'static str, HashMap<String, Reply>, String, Vec<String>);

#[test]
fn broken_registries_are_refused_and_nothing_is_half_installed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (public, secret, id) = minisign_keypair(d, "release");
    let archive_path = pack(d, "sysinfo", "sysinfo.tar.gz");
    sign(&archive_path, &secret);
    let archive = std::fs::read(&archive_path).unwrap();
    let signature = std::fs::read(sig_of(&archive_path)).unwrap();
    let component = std::fs::read(plugin("sysinfo").join("sysinfo.wasm")).unwrap();
    let oci = "application/vnd.oci.image.manifest.v1+json";
    let wasm = "application/vnd.wasm.config.v0+json";
    let good = Artifact::new(&archive, &component, oci, wasm);

    let mut cases: Vec<Case> = Vec::new();

    let mut routes = good.routes(Some(&signature));
    routes.insert(
        format!("/v2/p/manifests/{}", good.digest()),
        Reply {
            status: 500,
            content_type: "text/plain".into(),
            body: b"internal failure".to_vec(),
            cut_at: None,
        },
    );
    cases.push((
        "answers 500",
        routes,
        good.digest(),
        vec![
            "code: 500".into(),
            "internal failure".into(),
            "the registry failed".into(),
        ],
    ));

    let mut routes = good.routes(Some(&signature));
    routes.insert(
        format!("/v2/p/blobs/{}", digest(&archive)),
        Reply {
            cut_at: Some(archive.len() / 2),
            ..Reply::ok("application/octet-stream", &archive)
        },
    );
    cases.push((
        "cuts the blob short",
        routes,
        good.digest(),
        vec![format!("fetching the archive layer {}", digest(&archive))],
    ));

    let docker = Artifact::new(
        &archive,
        &component,
        "application/vnd.docker.distribution.manifest.v2+json",
        wasm,
    );
    let mut routes = docker.routes(Some(&signature));
    routes.insert(
        format!("/v2/p/manifests/{}", docker.digest()),
        Reply::ok(
            "application/vnd.docker.distribution.manifest.v2+json",
            &docker.manifest,
        ),
    );
    cases.push((
        "sends a manifest of another media type",
        routes,
        docker.digest(),
        vec!["application/vnd.docker.distribution.manifest.v2+json".into()],
    ));

    let image = Artifact::new(
        &archive,
        &component,
        oci,
        "application/vnd.oci.image.config.v1+json",
    );
    cases.push((
        "sends a container image",
        image.routes(Some(&signature)),
        image.digest(),
        vec!["not a wasm artifact".into()],
    ));

    // Another manifest under the pinned digest.
    let mut routes = good.routes(Some(&signature));
    let pinned = digest(b"what the operator pinned");
    routes.insert(
        format!("/v2/p/manifests/{pinned}"),
        Reply::ok(oci, &good.manifest),
    );
    cases.push((
        "sends another manifest",
        routes,
        pinned,
        vec!["digest".into(), "mismatch".into()],
    ));

    // A component layer that is not the archive's component.
    let odd = Artifact::new(&archive, b"\0asm another component", oci, wasm);
    cases.push((
        "has parts that disagree",
        odd.routes(Some(&signature)),
        odd.digest(),
        vec!["parts disagree".into()],
    ));

    cases.push((
        "has no signature",
        good.routes(None),
        good.digest(),
        vec!["is not signed and a signature is required".into()],
    ));

    let mut routes = good.routes(Some(&signature));
    routes.insert(
        format!("/v2/p/manifests/{}.sig", good.digest().replace(':', "-")),
        Reply {
            status: 503,
            content_type: "text/plain".into(),
            body: b"busy".to_vec(),
            cut_at: None,
        },
    );
    cases.push((
        "fails on the signature",
        routes,
        good.digest(),
        vec!["fetching the signature tag".into(), "code: 503".into()],
    ));

    let (_, stranger_secret, stranger_id) = minisign_keypair(d, "stranger");
    let other = d.join("other.tar.gz");
    std::fs::copy(&archive_path, &other).unwrap();
    sign(&other, &stranger_secret);
    cases.push((
        "has a signature by another key",
        good.routes(Some(&std::fs::read(sig_of(&other)).unwrap())),
        good.digest(),
        vec![format!(
            "signed with key {stranger_id}, which is not trusted (trusted: release ({id}))"
        )],
    ));

    for (what, routes, pinned, expected) in cases {
        let fake = FakeRegistry::start(routes);
        let cache = d.join(format!("cache-{}", what.replace(' ', "-")));
        let config = format!(
            "{}registry: {{plain_http: [{:?}]}}\nmodules:\n{}",
            trusting(&public, true),
            fake.addr,
            proc_module("m", &fake.reference("p", &pinned), "")
        );
        let run = tempfile::tempdir().unwrap();
        let path = run.path().join("config.yml");
        std::fs::write(&path, &config).unwrap();
        let (code, err) = crate::support::run_to_exit(&[
            "--web.listen-address=127.0.0.1:0",
            &format!("--config.file={}", path.display()),
            &format!("--cache.dir={}", cache.display()),
        ]);
        assert_ne!(code, 0, "a registry that {what} must be refused");
        assert!(err.contains("module \\\"m\\\""), "{what}: {err}");
        for e in &expected {
            assert!(
                err.contains(e.as_str()),
                "{what}: the error should say {e:?}:\n{err}"
            );
        }
        assert!(
            cached(&cache).is_empty(),
            "{what}: the cache holds {:?}",
            cached(&cache)
        );
    }

    // The well-behaved fake serves, and installs exactly one entry; pulled
    // while no signature is attached nor required, the entry is unsigned.
    let config = |fake: &FakeRegistry, required: bool| {
        format!(
            "{}registry: {{plain_http: [{:?}]}}\nmodules:\n{}",
            trusting(&public, required),
            fake.addr,
            proc_module("m", &fake.reference("p", &good.digest()), "")
        )
    };
    let cache = d.join("cache-served");
    let cache_flag = format!("--cache.dir={}", cache.display());
    let fake = FakeRegistry::start(good.routes(None));
    let exporter = Exporter::start_with_args(&config(&fake, false), &[&cache_flag]);
    assert_eq!(exporter.scrape().value("sys_mem_usage"), Some(25.0));
    assert!(exporter.get("/").body.contains("unsigned"));
    assert_eq!(cached(&cache), [good.digest().replace(':', "-")]);
    drop(exporter);
    drop(fake);

    // Signed later: with signatures now required, the cached copy's
    // signature is fetched from the registry and kept beside it.
    let fake = FakeRegistry::start(good.routes(Some(&signature)));
    let exporter = Exporter::start_with_args(&config(&fake, true), &[&cache_flag]);
    assert_eq!(exporter.scrape().value("sys_mem_usage"), Some(25.0));
    assert!(
        exporter
            .get("/")
            .body
            .contains(&format!("signed by release (key {id})"))
    );
    let entry = cache.join("plugins").join(good.digest().replace(':', "-"));
    assert_eq!(
        std::fs::read(entry.join("plugin.tar.gz.minisig")).unwrap(),
        signature
    );
}
