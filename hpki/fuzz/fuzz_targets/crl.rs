//! CRL parsing never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(crl) = hpki::Crl::parse(data) {
        let _ = crl.lookup(data);
    }
});
