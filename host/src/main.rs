//! The `wasm_exporter` binary.

use std::process::ExitCode;

use clap::Parser;
use wasm_exporter::check::{self, CheckOptions};
use wasm_exporter::cli::{Cli, Command, ConfigCommand};

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = wasm_exporter::logging::init(cli.log_level, cli.log_format) {
        eprintln!("wasm_exporter: {e:#}");
        return ExitCode::FAILURE;
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
