//! Integration tests of the storage crate, on real SQLite and (when configured) real
//! PostgreSQL and Redis.

mod db;
mod kv;
mod migrations;
