//! The WASI a guest is linked against: wasmtime-wasi's implementations,
//! except where the host enforces a policy of its own, which has its own
//! file here.
//!
//! - [`filesystem`]: `wasi:filesystem/types` and `preopens`, with the
//!   module's file grants checked on every open.
//! - [`sockets`]: `wasi:sockets` (TCP, name lookup, UDP), with the
//!   module's tcp grants checked on every lookup and connection.
//! - [`http`]: `wasi:http/outgoing-handler` (wasmtime-wasi-http), with the
//!   module's http grants checked on every request, which the host sends.
//! - [`egress`]: the network state of one call that both share (caps,
//!   resolved addresses, refusals).
//! - everything else (clocks, random, stdio, environment, streams and
//!   polling) is wasmtime-wasi's.
//!
//! Every module is linked against the same interfaces, network included:
//! one linker serves all modules, and interpreters import the socket
//! interfaces (ComponentizeJS's `fetch`, `wasi:http`) whether they use them
//! or not. A module granted no network gets interfaces that refuse
//! everything, each refusal counted like any other.

pub mod beneath;
pub mod egress;
pub mod filesystem;
pub mod http;
pub mod sockets;

use anyhow::{Context, Result};
use wasmtime::component::{HasData, Linker, ResourceTable};
use wasmtime_wasi::cli::WasiCli;
use wasmtime_wasi::clocks::WasiClocks;
use wasmtime_wasi::p2::bindings::{cli, clocks, filesystem as fs, random, sockets as net};
use wasmtime_wasi::random::WasiRandom;
use wasmtime_wasi::sockets::WasiSockets;

use super::sandbox::GuestState;
use filesystem::GuardedFilesystem;
use sockets::GuardedSockets;
use wasmtime_wasi_http::WasiHttp;
use wasmtime_wasi_http::p2::bindings as http_bindings;

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

    // Creating sockets, lookups and connections go through the guard; the
    // network resource and UDP sockets (which are never created) are
    // wasmtime-wasi's.
    net::tcp_create_socket::add_to_linker::<GuestState, GuardedSockets>(
        l,
        GuestState::guarded_sockets,
    )?;
    net::tcp::add_to_linker::<GuestState, GuardedSockets>(l, GuestState::guarded_sockets)?;
    net::ip_name_lookup::add_to_linker::<GuestState, GuardedSockets>(
        l,
        GuestState::guarded_sockets,
    )?;
    net::udp_create_socket::add_to_linker::<GuestState, GuardedSockets>(
        l,
        GuestState::guarded_sockets,
    )?;
    net::instance_network::add_to_linker::<GuestState, WasiSockets>(l, GuestState::sockets)?;
    net::network::add_to_linker::<GuestState, WasiSockets>(
        l,
        &Default::default(),
        GuestState::sockets,
    )?;
    net::udp::add_to_linker::<GuestState, WasiSockets>(l, GuestState::sockets)?;

    // wasi:http: requests are checked and sent by the call's hooks.
    let options = http_bindings::LinkOptions::default();
    http_bindings::http::outgoing_handler::add_to_linker::<GuestState, WasiHttp>(
        l,
        GuestState::http,
    )?;
    http_bindings::http::types::add_to_linker::<GuestState, WasiHttp>(
        l,
        &options.into(),
        GuestState::http,
    )?;
    Ok(())
}
