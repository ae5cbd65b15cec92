//! Plugin packages: declarations enforced on every scrape, load-time
//! refusals naming the plugin and the cause, archives and digests, and the
//! `plugin check` / `plugin pack` commands.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{
    Exporter, assert_start_refused, exporter_cli, fixture, guest, plugin, proc_file_args,
    proc_files, q,
};

/// Stands for the file grants in a `plugin check` command line.
const GRANT: &str = "<grant>";

/// Writes a plugin around the adversary component into `parent/dir_name`.
/// `body` is the manifest from `parameters:` on (metrics, capabilities).
fn adversary_plugin(parent: &Path, dir_name: &str, name: &str, body: &str) -> PathBuf {
    let dir = parent.join(dir_name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(guest("adversary"), dir.join("adversary.wasm")).unwrap();
    std::fs::copy(plugin("sysinfo").join("logo.png"), dir.join("logo.png")).unwrap();
    std::fs::write(
        dir.join("README.md"),
        format!("# {name}\n\nA test plugin.\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join("plugin.yaml"),
        format!(
            "manifest_version: 1\nname: {name}\nversion: 0.1.0\ndescription: Test plugin {name}.\n\
             component: adversary.wasm\nworld: wasm-exporter:scraper/scraper@0.1.0\n{body}"
        ),
    )
    .unwrap();
    dir
}

/// The adversary's parameters, all optional strings.
const PARAMS: &str = "parameters:\n  - {name: mode, type: string, default: ok}\n  - {name: id, type: string, default: x}\n  - {name: name, type: string, default: adversary_emit}\n  - {name: value, type: float, default: 1}\n  - {name: path, type: string, default: /}\n  - {name: ms, type: int, default: 10}\n";

fn module(name: &str, plugin: &Path, params: &str) -> String {
    format!(
        "  - name: {name}\n    plugin: {}\n    params: {params}\n",
        q(plugin)
    )
}

#[test]
fn declared_metrics_are_enforced_on_every_scrape() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let honest = adversary_plugin(
        d,
        "honest",
        "honest",
        &format!("{PARAMS}metrics:\n  - {{name: honest_value, type: gauge, help: Fine.}}\n"),
    );
    let undeclared = adversary_plugin(
        d,
        "undeclared",
        "undeclared",
        &format!("{PARAMS}metrics:\n  - {{name: u_value, type: gauge, help: Declared.}}\n"),
    );
    let wrong_type = adversary_plugin(
        d,
        "wrong_type",
        "wrong-type",
        &format!("{PARAMS}metrics:\n  - {{name: wt_value, type: counter, help: A counter.}}\n"),
    );
    let extra_label = adversary_plugin(
        d,
        "extra_label",
        "extra-label",
        &format!("{PARAMS}metrics:\n  - {{name: adversary_ok, type: gauge, help: No labels.}}\n"),
    );
    let config = format!(
        "modules:\n{}{}{}{}",
        module(
            "honest",
            &honest,
            "{mode: emit, name: honest_value, value: 7}"
        ),
        module(
            "undeclared",
            &undeclared,
            "{mode: emit, name: u_other, value: 1}"
        ),
        module(
            "wrong_type",
            &wrong_type,
            "{mode: emit, name: wt_value, value: 1}"
        ),
        module("extra_label", &extra_label, "{mode: ok, id: x}"),
    );
    let exporter = Exporter::start(&config);
    for n in 1..=2 {
        let s = exporter.scrape();
        assert_eq!(s.value("honest_value"), Some(7.0));
        for m in ["undeclared", "wrong_type", "extra_label"] {
            assert_eq!(s.errors(m, "undeclared_metric"), n as f64, "{m}");
            assert_eq!(s.all_errors(m), n as f64, "{m}");
        }
        assert!(
            !s.has_family("u_other") && !s.has_family("wt_value") && !s.has_family("adversary_ok")
        );
    }
    let log = exporter.log().join("\n");
    for needle in [
        "plugin undeclared: emitted \\\"u_other\\\", which its manifest does not declare",
        "plugin wrong-type: emitted \\\"wt_value\\\" as a gauge, but its manifest declares a counter",
        "plugin extra-label: emitted \\\"adversary_ok\\\" with labels [\\\"id\\\"], but its manifest declares []",
    ] {
        assert!(log.contains(needle), "log lacks {needle}:\n{log}");
    }
}

/// Expects the exporter to refuse `config`, naming everything in `expected`.
fn assert_refused(config: &str, expected: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    assert_start_refused(dir.path(), config, expected);
}

#[test]
fn load_time_refusals_name_the_plugin_and_the_cause() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let typed = adversary_plugin(
        d,
        "typed",
        "typed",
        "parameters:\n  - {name: mode, type: string, required: true, description: what to do}\n  - {name: ms, type: int, default: 5}\nmetrics:\n  - {name: typed_value, type: gauge, help: x}\n",
    );
    assert_refused(
        &format!("modules:\n{}", module("t", &typed, "{ms: 1}")),
        &[
            "module \\\"t\\\"",
            "plugin typed",
            "missing required parameter \\\"mode\\\"",
        ],
    );
    assert_refused(
        &format!(
            "modules:\n{}",
            module("t", &typed, "{mode: ok, colour: red}")
        ),
        &["plugin typed", "unknown parameter \\\"colour\\\""],
    );
    assert_refused(
        &format!("modules:\n{}", module("t", &typed, "{mode: ok, ms: soon}")),
        &["plugin typed", "parameter \\\"ms\\\"", "not a valid int"],
    );

    // Capabilities: asked and not granted; granted and not asked.
    let reader = adversary_plugin(
        d,
        "reader",
        "reader",
        &format!(
            "{PARAMS}capabilities:\n  dirs: [{{guest: /data, description: the data to read}}]\n  env: [{{name: LANG, optional: true}}]\nmetrics:\n  - {{name: adversary_file_bytes, type: gauge, help: x, labels: [path, error]}}\n"
        ),
    );
    assert_refused(
        &format!("modules:\n{}", module("r", &reader, "{mode: read_file}")),
        &[
            "plugin reader needs read access to the directory /data (the data to read)",
            "does not grant",
        ],
    );
    assert_refused(
        &format!(
            "modules:\n{}    grants: {{dirs: [{{host: {p}, guest: /data}}, {{host: {p}, guest: /etc}}]}}\n",
            module("r", &reader, "{mode: read_file}"),
            p = q(&fixture("proc"))
        ),
        &[
            "grants the directory",
            "/etc",
            "plugin reader does not ask for it",
        ],
    );
    assert_refused(
        &format!(
            "modules:\n{}    grants: {{dirs: [{{host: {p}, guest: /data}}], env: [HOME]}}\n",
            module("r", &reader, "{mode: read_file}"),
            p = q(&fixture("proc"))
        ),
        &["environment variable HOME", "does not ask for it"],
    );

    // Digest mismatch.
    let tampered = adversary_plugin(
        d,
        "tampered",
        "tampered",
        &format!(
            "sha256: {}\n{PARAMS}metrics:\n  - {{name: tampered_x, type: gauge, help: x}}\n",
            "0".repeat(64)
        ),
    );
    assert_refused(
        &format!("modules:\n{}", module("t", &tampered, "{}")),
        &["SHA-256", "refusing to load"],
    );

    // Two different plugins declaring one metric name.
    let a = adversary_plugin(
        d,
        "a",
        "first",
        &format!("{PARAMS}metrics:\n  - {{name: shared_total, type: counter, help: x}}\n"),
    );
    let b = adversary_plugin(
        d,
        "b",
        "second",
        &format!("{PARAMS}metrics:\n  - {{name: shared_total, type: counter, help: x}}\n"),
    );
    assert_refused(
        &format!(
            "modules:\n{}{}",
            module("a", &a, "{}"),
            module("b", &b, "{}")
        ),
        &[
            "metric \\\"shared_total\\\" is declared by plugin second (module \\\"b\\\") and by plugin first (module \\\"a\\\")",
        ],
    );

    // A manifest claiming the exporter's own names; a broken manifest.
    let reserved = adversary_plugin(
        d,
        "reserved",
        "reserved",
        &format!("{PARAMS}metrics:\n  - {{name: wasm_exporter_up, type: gauge, help: x}}\n"),
    );
    assert_refused(
        &format!("modules:\n{}", module("r", &reserved, "{}")),
        &["plugin.yaml of", "reserved for the exporter's own metrics"],
    );
    let broken = adversary_plugin(d, "broken", "broken", "metrics: []\nextra: 1\n");
    assert_refused(
        &format!("modules:\n{}", module("b", &broken, "{}")),
        &["module \\\"b\\\"", "unknown field `extra`"],
    );
}

#[test]
fn optional_capabilities_may_be_left_out_and_the_same_plugin_can_run_twice() {
    let dir = tempfile::tempdir().unwrap();
    let reader = adversary_plugin(
        dir.path(),
        "reader",
        "reader",
        &format!(
            "{PARAMS}capabilities:\n  dirs: [{{guest: /data, optional: true}}]\nmetrics:\n  - {{name: adversary_file_bytes, type: gauge, help: x, labels: [path, error]}}\n"
        ),
    );
    let exporter = Exporter::start(&format!(
        "modules:\n{}{}    grants: {{dirs: [{{host: {}, guest: /data}}]}}\n",
        module(
            "without",
            &reader,
            "{mode: read_file, path: /data/meminfo-x}"
        ),
        module("with", &reader, "{mode: read_file, path: /data/meminfo}"),
        q(&fixture("proc"))
    ));
    exporter.wait_for_log(
        &[
            "module=without",
            "optional read access to the directory /data is not granted",
        ],
        std::time::Duration::from_secs(5),
    );
    let s = exporter.scrape();
    let meminfo = std::fs::metadata(fixture("proc/meminfo")).unwrap().len() as f64;
    assert_eq!(
        s.value("adversary_file_bytes{path=\"/data/meminfo\",error=\"\"}"),
        Some(meminfo)
    );
    assert!(
        s.samples
            .keys()
            .any(|k| k.starts_with("adversary_file_bytes{path=\"/data/meminfo-x\""))
    );
    assert_eq!(s.all_errors("without") + s.all_errors("with"), 0.0);
}

#[test]
fn check_and_pack_then_serve_the_archive() {
    let sysinfo = plugin("sysinfo");
    let grant = proc_file_args(&fixture("proc"), &["meminfo", "partitions"]);
    // The command line with the grants in place of GRANT.
    let cli = |args: &[&str]| {
        let args: Vec<&str> = args
            .iter()
            .flat_map(|a| match *a {
                GRANT => grant.iter().map(String::as_str).collect(),
                other => vec![other],
            })
            .collect();
        exporter_cli(&args)
    };
    let (code, out) = cli(&["plugin", "check", sysinfo.to_str().unwrap(), GRANT]);
    assert_eq!(code, 0, "{out}");
    for line in [
        "manifest: ok (2 declared metrics)",
        "component: compiles and implements wasm-exporter:scraper/scraper@0.1.0",
        "sys_mem_usage 25",
        "sys_disk_size{disk_name=\"sda\"} 500107862016",
        "every emitted family matches its declaration",
        "result: OK",
    ] {
        assert!(out.contains(line), "check output lacks {line:?}:\n{out}");
    }
    // Without the grant the check fails and says what to grant.
    let (code, out) = exporter_cli(&["plugin", "check", sysinfo.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("needs read access to the file /proc/meminfo")
            && out.contains("hint: grant files with --file PATH")
            && out.contains("result: FAILED"),
        "{out}"
    );

    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("sysinfo.tar.gz");
    let (code, out) = cli(&[
        "plugin",
        "pack",
        sysinfo.to_str().unwrap(),
        GRANT,
        "-o",
        archive.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("packed"), "{out}");
    let (code, out) = cli(&["plugin", "check", archive.to_str().unwrap(), GRANT]);
    assert_eq!(code, 0, "the archive checks too: {out}");
    let digest = out
        .split("sha256 ")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .unwrap()
        .to_string();
    assert_eq!(digest.len(), 64);

    // The archive serves like the directory.
    let exporter = Exporter::start(&format!(
        "modules:\n  - name: packed\n    plugin: {}\n    grants: {}\n",
        q(&archive),
        proc_files(&fixture("proc"), &["meminfo", "partitions"])
    ));
    let s = exporter.scrape();
    assert_eq!(s.value("sys_mem_usage"), Some(25.0));

    // A tampered component in an archive whose manifest has the digest.
    let tampered_dir = dir.path().join("tampered");
    std::fs::create_dir_all(&tampered_dir).unwrap();
    for f in ["logo.png", "README.md", "plugin.yaml"] {
        std::fs::copy(sysinfo.join(f), tampered_dir.join(f)).unwrap();
    }
    std::fs::copy(guest("adversary"), tampered_dir.join("sysinfo.wasm")).unwrap();
    let manifest = std::fs::read_to_string(sysinfo.join("plugin.yaml"))
        .unwrap()
        .replace(
            "component: sysinfo.wasm",
            &format!("component: sysinfo.wasm\nsha256: {digest}"),
        );
    std::fs::write(tampered_dir.join("plugin.yaml"), manifest).unwrap();
    let (code, out) = cli(&["plugin", "check", tampered_dir.to_str().unwrap(), GRANT]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("refusing to load a component that is not the one declared"),
        "{out}"
    );
}

#[test]
fn check_fails_readably_on_adversarial_guests() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let spinner = adversary_plugin(
        d,
        "spinner",
        "spinner",
        &format!(
            "{PARAMS}metrics:\n  - {{name: adversary_ok, type: gauge, help: x, labels: [id]}}\n"
        ),
    );
    let config = d.join("limits.yml");
    std::fs::write(&config, "defaults: {timeout: 300ms}\n").unwrap();
    let (code, out) = exporter_cli(&[
        "plugin",
        "check",
        spinner.to_str().unwrap(),
        "--param",
        "mode=busy",
        "--config.file",
        config.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("collect: FAILED") && out.contains("reason timeout") && out.contains("300ms"),
        "{out}"
    );

    let (code, out) = exporter_cli(&[
        "plugin",
        "check",
        spinner.to_str().unwrap(),
        "--param",
        "mode=emit",
        "--param",
        "name=sneaky",
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("mismatch (undeclared_metric)") && out.contains("\"sneaky\""),
        "{out}"
    );
    assert!(
        out.contains("sneaky 1"),
        "the exposition is printed for the reviewer: {out}"
    );

    let (code, out) = exporter_cli(&[
        "plugin",
        "check",
        spinner.to_str().unwrap(),
        "--param",
        "mode=error",
    ]);
    assert_eq!(code, 1);
    assert!(
        out.contains("reason guest_error") && out.contains("the backend said no"),
        "{out}"
    );

    let (code, out) = exporter_cli(&[
        "plugin",
        "check",
        spinner.to_str().unwrap(),
        "--param",
        "mood=ok",
    ]);
    assert_eq!(code, 1);
    assert!(out.contains("unknown parameter \"mood\""), "{out}");
}

/// `plugin new` → the scaffold's build.sh → `plugin check` → `plugin pack`,
/// as an author would, with the pinned toolchains of `cargo xtask` on PATH
/// (the scaffolds otherwise install the same versions themselves).
fn scaffold_builds_and_checks(lang: &str) {
    let dir = tempfile::tempdir().unwrap();
    let name = format!("hello-{lang}");
    let (code, out) = exporter_cli(&[
        "plugin",
        "new",
        &name,
        "--lang",
        lang,
        "--dir",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}");
    let plugin_dir = dir.path().join(&name);
    for f in [
        "plugin.yaml",
        "README.md",
        "logo.png",
        "build.sh",
        "wit/scraper.wit",
    ] {
        assert!(plugin_dir.join(f).exists(), "the scaffold lacks {f}");
    }
    let root = crate::support::root();
    let toolchains = root.join("target/toolchains");
    assert!(
        toolchains.join("bin").is_dir(),
        "install the toolchains with `cargo xtask toolchains` (or run `cargo xtask test`)"
    );
    let build = Command::new("bash")
        .arg(plugin_dir.join("build.sh"))
        .env(
            "PATH",
            format!(
                "{}:{}:{}",
                toolchains.join("bin").display(),
                toolchains.join("venv/bin").display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env(
            "WASI_WIT_DIR",
            toolchains.join("npm/node_modules/@bytecodealliance/jco/lib/wit/builtin/0.2.12"),
        )
        // The Rust guests' target directory: the standard library built for
        // wasm32-wasip1 there is reused rather than compiled again.
        .env("CARGO_TARGET_DIR", root.join("target/rust-guests"))
        .output()
        .unwrap();
    assert!(
        build.status.success(),
        "{lang} scaffold build failed:\n{}{}",
        String::from_utf8_lossy(&build.stdout),
        String::from_utf8_lossy(&build.stderr)
    );
    let metric = name.replace('-', "_");
    let (code, out) = exporter_cli(&["plugin", "check", plugin_dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("{metric}_info{{greeting=\"hello\"}} 1")),
        "{out}"
    );
    // Every language starts on the newest world, and its template's
    // `_info` family is an info family there.
    assert!(
        out.contains("implements wasm-exporter:scraper/scraper@0.2.0"),
        "{out}"
    );
    assert!(out.contains("result: OK"), "{out}");
    let (code, out) = exporter_cli(&[
        "plugin",
        "check",
        plugin_dir.to_str().unwrap(),
        "--param",
        "greeting=hi",
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("{metric}_info{{greeting=\"hi\"}} 1")),
        "{out}"
    );
    let archive = dir.path().join("out.tar.gz");
    let (code, out) = exporter_cli(&[
        "plugin",
        "pack",
        plugin_dir.to_str().unwrap(),
        "-o",
        archive.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(archive.exists());
}

#[test]
fn plugin_new_c_builds_checks_and_packs() {
    scaffold_builds_and_checks("c");
}

#[test]
fn plugin_new_python_builds_checks_and_packs() {
    scaffold_builds_and_checks("python");
}

#[test]
fn plugin_new_js_builds_checks_and_packs() {
    scaffold_builds_and_checks("js");
}

#[test]
fn plugin_new_rust_builds_checks_and_packs() {
    scaffold_builds_and_checks("rust");
}

#[test]
fn plugin_new_go_builds_checks_and_packs() {
    scaffold_builds_and_checks("go");
}

#[test]
fn plugin_new_refuses_bad_names_and_existing_directories() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let (code, out) = exporter_cli(&["plugin", "new", "Bad Name", "--lang", "c", "--dir", d]);
    assert_ne!(code, 0);
    assert!(out.contains("must start with a-z"), "{out}");
    let (code, _) = exporter_cli(&["plugin", "new", "twice", "--lang", "c", "--dir", d]);
    assert_eq!(code, 0);
    let (code, out) = exporter_cli(&["plugin", "new", "twice", "--lang", "python", "--dir", d]);
    assert_ne!(code, 0);
    assert!(out.contains("already exists"), "{out}");
}
