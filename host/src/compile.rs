//! `wasm_exporter compile`: fills `--cache.dir` with every module of a
//! config, compiled, so that the hosts that run the exporter never compile
//! (a build step, e.g. in the Dockerfile). Each plugin package is checked
//! as at start-up (signature, manifest, digest; grants are not: the build
//! machine need not have the granted paths), an `oci://` plugin pulled into
//! the cache directory as the exporter would, and each component compiled
//! by a child process, one at a time.

use std::path::Path;
use std::time::Instant;

use anyhow::Result;

use crate::config::Config;
use crate::reload::engine_settings;
use crate::runtime::{Compiled, GuestRuntime};
use crate::spec;

/// Compiles every module of `config_file` into `cache_dir`, printing one
/// line per module; `Ok(false)` if any failed (the line says why).
pub fn run(config_file: &Path, cache_dir: &Path) -> Result<bool> {
    let config = Config::load(config_file)?;
    let runtime = GuestRuntime::new(&engine_settings(&config, Some(cache_dir.to_path_buf())))?;
    let mut ok = true;
    for module in &config.modules {
        let start = Instant::now();
        let outcome = spec::component(module, Some(cache_dir))
            .and_then(|source| runtime.compile(&source.component));
        let seconds = start.elapsed().as_secs_f64();
        match outcome {
            Ok((_, Compiled::Cached | Compiled::Loaded)) => {
                println!("{}: already compiled", module.name)
            }
            Ok(_) => println!("{}: compiled in {seconds:.1} s", module.name),
            Err(e) => {
                println!("{}: FAILED: {e:#}", module.name);
                ok = false;
            }
        }
    }
    println!(
        "{} modules, compiled components in {}",
        config.modules.len(),
        std::path::absolute(cache_dir)
            .unwrap_or_else(|_| cache_dir.to_path_buf())
            .display()
    );
    Ok(ok)
}
