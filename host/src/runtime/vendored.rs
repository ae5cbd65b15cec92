//! Checks that the wasmtime and Cranelift crates vendored in `vendor/` (see its README)
//! are the ones built. A wasmtime upgrade that leaves a vendored crate at
//! the old version makes cargo build the crates.io release instead, with
//! only a warning, and what the change bought would quietly go away: memory
//! when compiling interpreter plugins, or the freshness and speed of a
//! reused pool slot.

/// The `[[package]]` entry of `name` in the workspace's lock file.
fn locked(lock: &str, name: &str) -> String {
    let header = format!("name = \"{name}\"\n");
    let entries: Vec<&str> = lock
        .split("[[package]]")
        .filter(|entry| entry.trim_start().starts_with(&header))
        .collect();
    assert_eq!(entries.len(), 1, "one locked {name}: {entries:?}");
    entries[0].to_string()
}

/// The `version = ` line of a lock-file entry.
fn version(entry: &str) -> Option<String> {
    entry
        .lines()
        .find(|line| line.starts_with("version = "))
        .map(str::to_string)
}

const LOCK: &str = include_str!("../../../Cargo.lock");

/// `name` is built from `vendor/`, at the version of `release`, a crate
/// released together with it and built from the registry (for wasmtime's
/// crates, wasmtime-environ; for Cranelift's, cranelift-frontend).
fn assert_vendored(name: &str, release: &str) {
    let entry = locked(LOCK, name);
    assert!(
        !entry.contains("source ="),
        "{name} comes from a registry, not vendor/: {entry}"
    );
    assert_eq!(version(&entry), version(&locked(LOCK, release)));
}

#[test]
fn vendored_cranelift_glue_is_built() {
    assert_vendored("wasmtime-internal-cranelift", "wasmtime-environ");
    let compiler = include_str!("../../../vendor/wasmtime-internal-cranelift/src/compiler.rs");
    assert!(
        compiler.contains("if keep_context {"),
        "the vendored compiler.rs lacks the change in vendor/wasmtime-internal-cranelift.patch"
    );
}

#[test]
fn vendored_cranelift_codegen_is_built() {
    assert_vendored("cranelift-codegen", "cranelift-frontend");
    let buffer = include_str!("../../../vendor/cranelift-codegen/src/machinst/buffer.rs");
    assert!(
        buffer.contains("pub(crate) data: Vec<u8>,"),
        "the vendored buffer.rs lacks the change in vendor/cranelift-codegen.patch"
    );
}

#[test]
fn vendored_wasmtime_is_built() {
    assert_vendored("wasmtime", "wasmtime-environ");
    let pagemap = include_str!("../../../vendor/wasmtime/src/runtime/vm/sys/unix/pagemap.rs");
    let instantiate = include_str!("../../../vendor/wasmtime/src/runtime/instantiate.rs");
    for (file, text, change) in [
        (
            "pagemap.rs",
            pagemap,
            "category_anyof_mask(Categories::PRESENT | Categories::SWAPPED)",
        ),
        ("pagemap.rs", pagemap, "start = walk_end.cast_mut();"),
        (
            "instantiate.rs",
            instantiate,
            "funcref_locs: OnceLock<Box<[[FunctionLoc; 2]]>>",
        ),
    ] {
        assert!(
            text.contains(change),
            "the vendored {file} lacks the change in vendor/wasmtime.patch ({change})"
        );
    }
}
