//! End-to-end tests: the real `wasm_exporter` binary, real wasm guests
//! (built by `cargo xtask guests`), a real HTTP client.

mod collectors;
mod config_errors;
mod languages;
mod load;
mod plugins;
mod prometheus;
mod registry;
mod reload;
mod sandbox;
mod slice;
mod supply;
mod support;
mod web;
