//! Subcommands other than the servers.

pub mod admin;
pub mod config;
pub mod hpki;
