//! Checks that the wasmtime and Cranelift crates vendored in `vendor/`
//! (see its README) are the ones built. A wasmtime upgrade that leaves a
//! vendored crate at the old version makes cargo build the crates.io
//! release instead, with only a warning, and what the change bought would
//! quietly go away: memory when compiling interpreter plugins, or the
//! freshness and speed of a reused pool slot.

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

/// The vendored `file` (a path in `vendor/`) holds `change`, a line of the
/// patch beside its crate.
fn assert_changed(file: &str, text: &str, change: &str) {
    assert!(
        text.contains(change),
        "vendor/{file} lacks the change in its crate's .patch: {change}"
    );
}

#[test]
fn vendored_cranelift_glue_is_built() {
    assert_vendored("wasmtime-internal-cranelift", "wasmtime-environ");
    assert_changed(
        "wasmtime-internal-cranelift/src/compiler.rs",
        include_str!("../../../vendor/wasmtime-internal-cranelift/src/compiler.rs"),
        "if keep_context {",
    );
}

#[test]
fn vendored_cranelift_codegen_is_built() {
    assert_vendored("cranelift-codegen", "cranelift-frontend");
    assert_changed(
        "cranelift-codegen/src/machinst/buffer.rs",
        include_str!("../../../vendor/cranelift-codegen/src/machinst/buffer.rs"),
        "pub(crate) data: Vec<u8>,",
    );
}

#[test]
fn vendored_wasmtime_is_built() {
    assert_vendored("wasmtime", "wasmtime-environ");
    let pagemap = include_str!("../../../vendor/wasmtime/src/runtime/vm/sys/unix/pagemap.rs");
    let instantiate = include_str!("../../../vendor/wasmtime/src/runtime/instantiate.rs");
    let code_builder = include_str!("../../../vendor/wasmtime/src/compile/code_builder.rs");
    for (file, text, change) in [
        (
            "wasmtime/src/runtime/vm/sys/unix/pagemap.rs",
            pagemap,
            "category_anyof_mask(Categories::PRESENT | Categories::SWAPPED)",
        ),
        (
            "wasmtime/src/runtime/vm/sys/unix/pagemap.rs",
            pagemap,
            "start = walk_end.cast_mut();",
        ),
        (
            "wasmtime/src/runtime/instantiate.rs",
            instantiate,
            "funcref_locs: OnceLock<Box<[[FunctionLoc; 2]]>>",
        ),
        (
            "wasmtime/src/compile/code_builder.rs",
            code_builder,
            "pub fn compile_component_serialized_to(",
        ),
    ] {
        assert_changed(file, text, change);
    }
}
