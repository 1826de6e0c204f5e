//! Certificate and hcRole parsing never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(cert) = hpki::HpkiCertificate::parse(data) {
        let _ = cert.is_self_issued();
    }
    let _ = hpki::parse_bundle(data);
    let _ = hpki::hcrole::roles_from_subject_directory_attributes(data);
});
