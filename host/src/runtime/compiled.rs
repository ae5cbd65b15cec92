//! Compiled components on disk (`--cache.dir`): compiled once, ahead of
//! time by `wasm_exporter compile` or at the first start, then mapped from
//! the file on every start.
//!
//! Two things make interpreter guests (Python, JavaScript: 15-20 MB
//! components embedding CPython or SpiderMonkey) cheap this way:
//! - **compiling happens in a child process**, one component at a time: the
//!   hundreds of MiB Cranelift takes for one of them are the child's and go
//!   away with it, never the serving process's (fewer of them since
//!   wasmtime's Cranelift glue is built from `vendor/`, which drops a
//!   compiler context after a very large function instead of keeping its
//!   memory to the end: 557-573 → 443-448 MB for a Python plugin; and
//!   since Cranelift's code generator is too, which keeps each finished
//!   function without 4 KB of unused inline room until the link: 389-399
//!   MB; since the child splits libpython's enormous relocation function
//!   first (`split.rs`), writes the compiled component to its file as it is
//!   emitted and trims freed memory as it goes: 274-275 MiB);
//! - **the machine code is mapped from the file** (`Component::deserialize_file`),
//!   not copied onto the heap: its pages are shared, clean and evictable page
//!   cache, and only the pages a guest runs are ever read in.
//!
//! Files are named by the component's SHA-256 and the engine's
//! compatibility hash (wasmtime version, compiler settings, CPU features),
//! written to a temporary name and renamed, so a reader never sees half a
//! file. wasmtime checks each file again when it loads it; one that does not
//! fit (another exporter version, another CPU) is compiled anew.
//!
//! They live in `--cache.dir`'s `compiled/` ([`crate::cachedir`]), which
//! holds native code the exporter runs: it must belong to the exporter's
//! user and be writable by nobody else, or it is refused.

use std::hash::{Hash, Hasher};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use wasmtime::Engine;
use wasmtime::component::Component;

use super::{EngineSettings, engine_config};
use crate::cachedir;
use crate::spec::ComponentBytes;

/// The hidden command that compiles one component in a child process.
pub const CHILD_COMMAND: &str = "__compile-component";

/// Largest component a child reads from its stdin.
const MAX_COMPONENT_BYTES: u64 = 256 << 20;

/// The compiled-component directory of one engine.
pub struct CompiledDir {
    dir: PathBuf,
    /// The engine's compatibility hash, in every file name.
    compat: String,
}

/// Where a component came from: compiled now, or found compiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Compiled now, in a child process, and kept.
    Compiled,
    /// Found in the directory.
    Cached,
}

impl CompiledDir {
    /// Opens (creating it if needed) the compiled components' subdirectory
    /// of the cache directory `root` for `engine`, refusing a directory
    /// that someone else could write native code into.
    pub fn open(root: &Path, engine: &Engine) -> Result<CompiledDir> {
        let dir = cachedir::subdir(root, cachedir::COMPILED)?;
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Ok(CompiledDir {
            dir,
            compat: format!("{:016x}", hasher.finish()),
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Whether the component whose SHA-256 is `digest` is in the directory.
    pub fn has(&self, digest: &str) -> bool {
        self.file(digest).exists()
    }

    /// Compiles `component` into the directory by a child process, letting
    /// go of its bytes once the child has them.
    pub fn compile(&self, settings: &EngineSettings, component: ComponentBytes) -> Result<()> {
        let file = self.file(component.sha256());
        compile_in_child(settings, component, &file)
    }

    /// The file of the component whose SHA-256 is `digest`.
    fn file(&self, digest: &str) -> PathBuf {
        self.dir.join(format!("{digest}-{}.cwasm", self.compat))
    }

    /// The component `bytes` (whose SHA-256 is `digest`), compiled: mapped
    /// from the directory if it is there, otherwise compiled by a child
    /// process into the directory first.
    pub fn component(
        &self,
        engine: &Engine,
        settings: &EngineSettings,
        bytes: &[u8],
        digest: &str,
    ) -> Result<(Component, Origin)> {
        let file = self.file(digest);
        if file.exists() {
            match load(engine, &file) {
                Ok(component) => return Ok((component, Origin::Cached)),
                Err(e) => {
                    tracing::warn!(
                        file = %file.display(),
                        "a compiled component in the cache cannot be used, compiling it again: {e:#}"
                    );
                    let _ = std::fs::remove_file(&file);
                }
            }
        }
        compile_in_child(settings, bytes, &file)?;
        Ok((load(engine, &file)?, Origin::Compiled))
    }
}

/// Maps a compiled component from `file`.
fn load(engine: &Engine, file: &Path) -> Result<Component> {
    // SAFETY: the file was written by this exporter (by a child running the
    // same binary) into a directory only its user can write, and wasmtime
    // checks that it was compiled by this version with these settings
    // before it runs any of it.
    unsafe { Component::deserialize_file(engine, file) }
        .map_err(anyhow::Error::from)
        .with_context(|| format!("loading the compiled component {}", file.display()))
}

/// Runs this binary's [`CHILD_COMMAND`] to compile `bytes` into `file`.
/// `bytes` is dropped as soon as the child has read it: a compile takes
/// seconds, and the component's bytes need not stay with the exporter.
fn compile_in_child(settings: &EngineSettings, bytes: impl AsRef<[u8]>, file: &Path) -> Result<()> {
    let exe = std::env::current_exe().context("locating the exporter's own binary")?;
    let partial = file.with_extension(format!("partial.{}", std::process::id()));
    let start = Instant::now();
    let mut child = Command::new(&exe)
        .arg(CHILD_COMMAND)
        .arg(serde_json::to_string(settings)?)
        .arg(&partial)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {} to compile a component", exe.display()))?;
    let written = child
        .stdin
        .take()
        .context("the compiler's stdin")?
        .write_all(bytes.as_ref());
    drop(bytes);
    let out = child
        .wait_with_output()
        .context("waiting for the component compiler")?;
    if !out.status.success() || written.is_err() {
        let _ = std::fs::remove_file(&partial);
        bail!(
            "compiling failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    std::fs::rename(&partial, file)
        .with_context(|| format!("storing the compiled component as {}", file.display()))?;
    let said = String::from_utf8_lossy(&out.stderr);
    if !said.trim().is_empty() {
        tracing::warn!(file = %file.display(), "the component compiler said: {}", said.trim());
    }
    tracing::debug!(
        file = %file.display(),
        seconds = start.elapsed().as_secs_f64(),
        "compiled a component"
    );
    Ok(())
}

/// The child's side of [`CHILD_COMMAND`]: reads a component on stdin and
/// writes it, compiled for an engine with `settings` (JSON), to `out`.
pub fn run_child(settings: &str, out: &Path) -> Result<()> {
    let settings: EngineSettings = serde_json::from_str(settings).context("the engine settings")?;
    let mut bytes = Vec::new();
    std::io::stdin()
        .take(MAX_COMPONENT_BYTES + 1)
        .read_to_end(&mut bytes)
        .context("reading the component")?;
    ensure!(
        bytes.len() as u64 <= MAX_COMPONENT_BYTES,
        "the component is larger than {MAX_COMPONENT_BYTES} bytes"
    );
    // Memory the compile frees goes back to the kernel as it goes, rather
    // than staying in the allocator's arenas until the child exits.
    crate::malloc::trim_every(TRIM_PERIOD);
    // The original bytes go once split: they would be held to the end of
    // the compile. The child has no log; its stderr is the exporter's.
    let bytes = super::split::split_to_compile(&bytes, |e| eprintln!("{e:#}")).unwrap_or(bytes);
    let engine = Engine::new(&engine_config(&settings)?)
        .map_err(anyhow::Error::from)
        .context("creating the wasm engine")?;
    let file = std::fs::File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let writer = std::io::BufWriter::with_capacity(WRITE_PIECE, Pieces(file));
    wasmtime::CodeBuilder::new(&engine)
        .wasm_binary(&bytes, None)
        .and_then(|code| code.compile_component_serialized_to(Box::new(writer)))
        .map_err(anyhow::Error::from)
        .with_context(|| format!("compiling the component into {}", out.display()))
}

/// How often the compiling child returns freed memory to the kernel: its
/// peak RSS for a Python plugin, 314-318 MiB without, 290-291 with (at 4-8 %
/// more compile time); every 200 ms took only 3 MiB off.
const TRIM_PERIOD: Duration = Duration::from_millis(50);

/// Bytes per `write` of a compiled component: the kernel's fault-around
/// window (64 KiB).
const WRITE_PIECE: usize = 64 << 10;

/// A file written at most [`WRITE_PIECE`] bytes per `write`.
///
/// Why not in larger writes: the page cache keeps a file in folios as large
/// as the writes that filled it (up to 2 MiB on ext4 with Linux 6.x), and a
/// fault on a mapped file maps the whole folio. The exporter maps these
/// files and runs a small part of them, so one big write made each page of
/// code it ran bring up to 2 MiB into its RSS: ten JavaScript plugins
/// measured 487 MiB written at once, 188 MiB written in 64 KiB pieces
/// (4 KiB pieces: 185 MiB).
struct Pieces(std::fs::File);

impl Write for Pieces {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(&buf[..buf.len().min(WRITE_PIECE)])
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_add_up_to_the_whole_file() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        for len in [0, 1, WRITE_PIECE - 1, WRITE_PIECE, 3 * WRITE_PIECE + 17] {
            let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let path = dir.path().join(format!("{len}.cwasm"));
            let file = std::fs::File::create(&path).expect("created");
            let mut writer = std::io::BufWriter::with_capacity(WRITE_PIECE, Pieces(file));
            // Small writes and one larger than a piece, as the object
            // writer does.
            let (head, rest) = data.split_at(len.min(5));
            writer.write_all(head).expect("written");
            writer.write_all(rest).expect("written");
            writer.flush().expect("flushed");
            assert_eq!(
                std::fs::read(&path).expect("read back"),
                data,
                "{len} bytes"
            );
        }
    }
}
