//! Every key the portal writes to the key-value store, one function per kind (the idp has its
//! own in `idp::kv_keys`; a shared Redis gets a prefix per deployment, `redis_prefix`).

/// A portal session, by its id.
pub fn session(sid: &str) -> String {
    format!("psession:{sid}")
}

/// The state of a CSV import job (kept a day), by the job id.
pub fn import_job(id: &str) -> String {
    format!("import-job:{id}")
}

/// A rate-limit window of `bucket` for `subject` (a hash, never the address itself).
pub fn rate_limit(bucket: &str, subject: &str) -> String {
    format!("prate:{bucket}:{subject}")
}

/// The challenge of an in-person check (kept 5 minutes, taken once), by the nonce's hash.
pub fn check_nonce(nonce_hash: &str) -> String {
    format!("check-nonce:{nonce_hash}")
}
