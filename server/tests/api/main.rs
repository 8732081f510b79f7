//! Integration tests: the real server on a free port, a fresh database per test, driven over HTTP.
//! Every storage-touching test runs on SQLite and on PostgreSQL (see `both!`).

#[macro_use]
mod helpers;

mod accounts_flow;
mod admin;
mod bad_input;
mod caching;
mod catalog;
mod cli;
mod crash;
mod custom;
mod encryption;
mod events;
mod fleet;
mod hardening;
mod lambda;
mod matrix;
mod mfa;
mod oidc;
mod orders;
mod pages;
mod recommend;
mod privacy;
mod roles;
mod sessions;
mod snapshot;
mod throttling;
