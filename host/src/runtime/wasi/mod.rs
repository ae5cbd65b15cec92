//! The WASI a guest is linked against: wasmtime-wasi's implementations,
//! except where the host enforces a policy of its own, which has its own
//! file here.
//!
//! - [`filesystem`]: `wasi:filesystem/types` and `preopens`, with the
//!   module's file grants checked on every open.
//! - everything else (clocks, random, stdio, environment, streams and
//!   polling, sockets) is wasmtime-wasi's; the sandbox builder
//!   (`runtime::sandbox`) denies sockets and name lookup outright.

pub mod beneath;
pub mod filesystem;

use anyhow::{Context, Result};
use wasmtime::component::{HasData, Linker, ResourceTable};
use wasmtime_wasi::cli::WasiCli;
use wasmtime_wasi::clocks::WasiClocks;
use wasmtime_wasi::p2::bindings::{cli, clocks, filesystem as fs, random, sockets};
use wasmtime_wasi::random::WasiRandom;
use wasmtime_wasi::sockets::WasiSockets;

use super::sandbox::GuestState;
use filesystem::GuardedFilesystem;

/// `wasi:io`'s host data: the resource table alone.
struct Io;

impl HasData for Io {
    type Data<'a> = &'a mut ResourceTable;
}

/// Adds every WASI 0.2 interface a guest may import to `linker`.
pub fn link(linker: &mut Linker<GuestState>) -> Result<()> {
    link_all(linker)
        .map_err(anyhow::Error::from)
        .context("linking WASI 0.2")
}

fn link_all(l: &mut Linker<GuestState>) -> wasmtime::Result<()> {
    use wasmtime_wasi_io::bindings::wasi::io;
    io::error::add_to_linker::<GuestState, Io>(l, GuestState::table)?;
    io::poll::add_to_linker::<GuestState, Io>(l, GuestState::table)?;
    io::streams::add_to_linker::<GuestState, Io>(l, GuestState::table)?;

    clocks::wall_clock::add_to_linker::<GuestState, WasiClocks>(l, GuestState::clocks)?;
    clocks::monotonic_clock::add_to_linker::<GuestState, WasiClocks>(l, GuestState::clocks)?;
    random::random::add_to_linker::<GuestState, WasiRandom>(l, GuestState::random)?;
    random::insecure::add_to_linker::<GuestState, WasiRandom>(l, GuestState::random)?;
    random::insecure_seed::add_to_linker::<GuestState, WasiRandom>(l, GuestState::random)?;

    cli::exit::add_to_linker::<GuestState, WasiCli>(l, GuestState::cli)?;
    cli::environment::add_to_linker::<GuestState, WasiCli>(l, GuestState::cli)?;
    cli::stdin::add_to_linker::<GuestState, WasiCli>(l, GuestState::cli)?;
    cli::stdout::add_to_linker::<GuestState, WasiCli>(l, GuestState::cli)?;
    cli::stderr::add_to_linker::<GuestState, WasiCli>(l, GuestState::cli)?;
    cli::terminal_input::add_to_linker::<GuestState, WasiCli>(l, GuestState::cli)?;
    cli::terminal_output::add_to_linker::<GuestState, WasiCli>(l, GuestState::cli)?;
    cli::terminal_stdin::add_to_linker::<GuestState, WasiCli>(l, GuestState::cli)?;
    cli::terminal_stdout::add_to_linker::<GuestState, WasiCli>(l, GuestState::cli)?;
    cli::terminal_stderr::add_to_linker::<GuestState, WasiCli>(l, GuestState::cli)?;

    fs::preopens::add_to_linker::<GuestState, GuardedFilesystem>(l, GuestState::files)?;
    fs::types::add_to_linker::<GuestState, GuardedFilesystem>(l, GuestState::files)?;

    // Interpreters import the socket interfaces whether or not they use
    // them; they are linked, and the sandbox refuses every use.
    sockets::tcp_create_socket::add_to_linker::<GuestState, WasiSockets>(l, GuestState::sockets)?;
    sockets::instance_network::add_to_linker::<GuestState, WasiSockets>(l, GuestState::sockets)?;
    sockets::network::add_to_linker::<GuestState, WasiSockets>(
        l,
        &Default::default(),
        GuestState::sockets,
    )?;
    sockets::ip_name_lookup::add_to_linker::<GuestState, WasiSockets>(l, GuestState::sockets)?;
    sockets::tcp::add_to_linker::<GuestState, WasiSockets>(l, GuestState::sockets)?;
    sockets::udp::add_to_linker::<GuestState, WasiSockets>(l, GuestState::sockets)?;
    sockets::udp_create_socket::add_to_linker::<GuestState, WasiSockets>(l, GuestState::sockets)?;
    Ok(())
}
