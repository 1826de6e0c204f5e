//! Integration tests of the `hpki` crate, one module per feature.

mod mutation;
mod real_certs;
mod support;
mod testpki;
mod token;
mod webeid;
