//! Subcommands other than the servers.

pub mod accounts;
pub mod admin;
pub mod clients;
pub mod config;
pub mod credits;
pub mod documents;
pub mod hpki;
pub mod import;
pub mod staff;
pub mod trust;
