//! The fuzz targets' inputs replayed without the fuzzer: every file in
//! `fuzz/regressions/<target>/` (inputs that once crashed a target, kept after the fix) and
//! `fuzz/seeds/<target>/` goes through the very function the target calls
//! (`fuzz/harness.rs`), so `cargo test` guards the fixes and the seeds stay meaningful.
//! `scripts/fuzz.sh` runs the fuzzer itself.

#[allow(dead_code)]
#[path = "../fuzz/harness.rs"]
mod harness;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

/// Replays the target's files; fails naming every input that panicked.
fn replay(target: &str, run: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut inputs = Vec::new();
    for dir in ["seeds", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("a readable directory entry").path();
            if path.is_file() {
                inputs.push(path);
            }
        }
    }
    assert!(!inputs.is_empty(), "no seeds for {target}");
    inputs.sort();
    let failed: Vec<String> = inputs
        .iter()
        .filter(|path| {
            let data = std::fs::read(path).expect("a readable input");
            catch_unwind(AssertUnwindSafe(|| run(&data))).is_err()
        })
        .map(|path| path.display().to_string())
        .collect();
    assert!(failed.is_empty(), "{target} panics on {failed:#?}");
}

#[test]
fn sip_datagram() {
    replay("sip_datagram", harness::sip_datagram);
}

#[test]
fn sip_stream() {
    replay("sip_stream", harness::sip_stream);
}

#[test]
fn switchboard() {
    replay("switchboard", harness::switchboard);
}

#[test]
fn sdp() {
    replay("sdp", harness::sdp);
}

#[test]
fn rtp() {
    replay("rtp", harness::rtp);
}

#[test]
fn digest() {
    replay("digest", harness::digest);
}

#[test]
fn wav() {
    replay("wav", harness::wav);
}

#[test]
fn config() {
    replay("config", harness::config);
}
