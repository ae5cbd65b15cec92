//! Start-up errors: each bad config exits non-zero with a message naming
//! the module and the cause.

use crate::support::{assert_start_refused, fixture, guest, q, run_to_exit};

/// Expects the exporter to refuse `config`, naming everything in
/// `expected`; the config's directory also holds files that are not
/// components of the world (text, a core module, an empty component).
fn assert_refused(config: &str, expected: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("not-wasm.wasm"), "this is text").unwrap();
    std::fs::write(
        dir.path().join("empty-component.wasm"),
        wat::parse_str("(component)").unwrap(),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("core-module.wasm"),
        wat::parse_str("(module)").unwrap(),
    )
    .unwrap();
    assert_start_refused(dir.path(), config, expected);
}

#[test]
fn bad_configs_are_refused_with_a_clear_reason() {
    let good = q(&guest("sysinfo"));
    assert_refused(
        &format!("modules:\n  - name: a\n    component: {good}\n    grantz: {{}}\n"),
        &["unknown field `grantz`"],
    );
    assert_refused(
        "modules:\n  - name: a\n    component: missing.wasm\n",
        &["module \\\"a\\\"", "missing.wasm", "No such file"],
    );
    assert_refused(
        &format!(
            "modules:\n  - name: a\n    component: {good}\n  - name: a\n    component: {good}\n"
        ),
        &["duplicate module name"],
    );
    assert_refused(
        "modules:\n  - name: text\n    component: not-wasm.wasm\n",
        &["module \\\"text\\\"", "compiling", "not-wasm.wasm"],
    );
    assert_refused(
        "modules:\n  - name: core\n    component: core-module.wasm\n",
        &["module \\\"core\\\"", "core-module.wasm"],
    );
    assert_refused(
        "modules:\n  - name: empty\n    component: empty-component.wasm\n",
        &[
            "module \\\"empty\\\"",
            "implements none of the worlds this exporter serves (wasm-exporter:scraper/scraper@0.1.0, wasm-exporter:scraper/scraper@0.2.0)",
        ],
    );
    assert_refused(
        &format!(
            "modules:\n  - name: a\n    component: {good}\n    grants:\n      dirs: [{{host: /does/not/exist, guest: /x}}]\n"
        ),
        &["module \\\"a\\\"", "/does/not/exist"],
    );
    assert_refused("modules: [", &["config file"]);
    let (code, stderr) = run_to_exit(&["--config.file=/nonexistent/config.yml"]);
    assert_ne!(code, 0);
    assert!(stderr.contains("/nonexistent/config.yml"), "{stderr}");
    let _ = fixture("proc");
}

#[test]
fn bad_flags_are_refused() {
    let (code, stderr) = run_to_exit(&["--web.telemetry-path=metrics"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("must start with '/'"), "{stderr}");
    let (code, stderr) = run_to_exit(&["--log.level=loud"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("loud"), "{stderr}");
}

#[test]
fn version_flag_prints_build_information() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wasm_exporter"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!(
            "wasm_exporter, version {}",
            env!("CARGO_PKG_VERSION")
        )),
        "{text}"
    );
    assert!(
        text.contains("revision:") && text.contains("rustc version:"),
        "{text}"
    );
}
