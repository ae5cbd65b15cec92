//! End-to-end tests: the real `wasm_exporter` binary, real wasm guests
//! (built by `cargo xtask guests`), a real HTTP client.

mod ahead;
mod browser;
mod check;
mod collectors;
mod config_errors;
mod egress;
mod files;
mod freshness;
mod frontdoor;
mod generated;
mod hungfs;
mod languages;
mod libraries;
mod load;
mod mixin;
mod model;
mod pages;
mod plugins;
mod prometheus;
mod properties;
mod registry;
mod reload;
mod sandbox;
mod services;
mod slice;
mod supply;
mod support;
mod textfile;
mod web;
