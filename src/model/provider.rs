//! The provider link's state as `/readyz`, `/metrics` and the live board show it: the
//! registration (registered / failing, since when, the last error) and the OPTIONS
//! keepalive's last result. Plain values, built by the runtime from the sans-IO machines.

use serde::Serialize;

/// The registration and keepalive at one instant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProviderState {
    /// The registrar's URI as configured.
    pub registrar: String,
    /// `registering`, `registered`, `failing`, `unregistering`, `unregistered`.
    pub state: String,
    /// RFC 3339 UTC: when `state` was entered.
    pub since: String,
    /// Why the last attempt failed (kept after a later success).
    pub last_error: Option<String>,
    /// Failed attempts in a row.
    pub failures: u32,
    /// Seconds the registrar granted last.
    pub expires: Option<u32>,
    /// The last OPTIONS keepalive, if one has ended.
    pub options: Option<ProviderPing>,
}

impl ProviderState {
    /// Whether the registrar holds our binding.
    pub fn is_registered(&self) -> bool {
        self.state == "registered"
    }
}

/// The last OPTIONS keepalive's outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProviderPing {
    /// `ok` (a final answer came) or `timeout`.
    pub result: String,
    /// The answer's status code, when one came.
    pub status: Option<u16>,
    /// Round-trip time in seconds, when an answer came.
    pub rtt_seconds: Option<f64>,
    /// RFC 3339 UTC: when it ended.
    pub at: String,
}
