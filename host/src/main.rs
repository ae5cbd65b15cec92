//! The `wasm_exporter` binary.

use std::process::ExitCode;

use clap::Parser;
use wasm_exporter::check::{self, CheckOptions};
use wasm_exporter::cli::{Cli, Command, ConfigCommand};

fn main() -> ExitCode {
    wasm_exporter::malloc::tune();
    let cli = Cli::parse();
    // A child compiling one component for the exporter: no runtime, no
    // log set-up, errors on stderr for the parent to report.
    if let Some(Command::CompileComponent { settings, out }) = &cli.command {
        return match wasm_exporter::runtime::compiled::run_child(settings, out) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{e:#}");
                ExitCode::FAILURE
            }
        };
    }
    if let Err(e) = wasm_exporter::logging::init(cli.log_level, cli.log_format) {
        eprintln!("wasm_exporter: {e:#}");
        return ExitCode::FAILURE;
    }
    // Before anything opens descriptors (the async runtime does).
    match wasm_exporter::fdlimit::raise() {
        Ok(l) => tracing::info!(
            before = l.before,
            soft = l.soft,
            hard = l.hard,
            "file descriptor limit"
        ),
        Err(e) => tracing::warn!("cannot raise the file descriptor limit: {e}"),
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = match cli.command {
        Some(Command::Plugin(command)) => {
            runtime.block_on(wasm_exporter::plugin::commands::run(command))
        }
        Some(Command::Config(ConfigCommand::Check {
            file,
            web_config_file,
            cache_dir,
        })) => Ok(check::run(&CheckOptions {
            config_file: file,
            web_config_file,
            cache_dir,
        })),
        Some(Command::Compile {
            config_file,
            cache_dir,
        }) => wasm_exporter::compile::run(&config_file, &cache_dir),
        Some(Command::CompileComponent { .. }) => Ok(false),
        None => runtime.block_on(wasm_exporter::run(cli)).map(|()| true),
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}
