//! The lock between tests that install the host system-wide and tests that need it absent.
//!
//! While tests/deb.rs has the Debian package installed, `/etc/chromium/native-messaging-hosts/`
//! holds a manifest that every Chromium on the machine sees (a `--user-data-dir` does not hide
//! it), and nextest runs the tests of different binaries in parallel processes. So the deb test
//! holds this lock exclusively from before `dpkg -i` until the package is purged, and each
//! browser test (tests/browser/) holds it shared while its Chromium runs.

use std::fs::File;

/// The lock file, the same for every test binary.
pub const PATH: &str = "/tmp/shikaku-bridge-system-host.lock";

/// Blocks until the lock is held (`exclusive`: by this process alone, else shared with
/// others); it is released when the returned file is dropped.
pub fn hold(exclusive: bool) -> File {
    // Created by whoever comes first; a file of another user is opened read-only, which is
    // enough for flock(2).
    let file = File::options()
        .create(true)
        .append(true)
        .open(PATH)
        .or_else(|_| File::open(PATH))
        .unwrap_or_else(|e| panic!("cannot open the lock file {PATH}: {e}"));
    let locked = if exclusive { file.lock() } else { file.lock_shared() };
    locked.unwrap_or_else(|e| panic!("cannot lock {PATH}: {e}"));
    file
}
