//! Records build information (git revision, date, compiler) for
//! `--version` and `wasm_exporter_build_info`.

use std::process::Command;

fn output(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!text.is_empty()).then_some(text)
}

fn main() {
    let revision = output("git", &["rev-parse", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let branch =
        output("git", &["rev-parse", "--abbrev-ref", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let date = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|epoch| {
            output(
                "date",
                &["-u", "-d", &format!("@{epoch}"), "+%Y%m%d-%H:%M:%S"],
            )
        })
        .or_else(|| output("date", &["-u", "+%Y%m%d-%H:%M:%S"]))
        .unwrap_or_else(|| "unknown".into());
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let rustc_version = output(&rustc, &["--version"]).unwrap_or_else(|| "unknown".into());
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".into());
    println!("cargo:rustc-env=WASM_EXPORTER_REVISION={revision}");
    println!("cargo:rustc-env=WASM_EXPORTER_BRANCH={branch}");
    println!("cargo:rustc-env=WASM_EXPORTER_BUILD_DATE={date}");
    println!("cargo:rustc-env=WASM_EXPORTER_RUSTC_VERSION={rustc_version}");
    println!("cargo:rustc-env=WASM_EXPORTER_TARGET={target}");
    println!("cargo:rerun-if-changed=../.git/HEAD");
    println!("cargo:rerun-if-changed=../.git/refs");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    println!("cargo:rerun-if-changed=../wit");
}
