//! `hotline`: the SIP back-end of a utility's call-centre line.
//!
//! Layers, from the top down (`ARCHITECTURE.md` draws them; `tests/layers.rs` holds them):
//! - [`server`]: the line and its HTTP side started together;
//! - [`web`]: the QA console and API; [`archive`]: recordings checked against the register;
//! - [`runtime`]: the only tokio code (sockets, timers, disk, database tasks);
//! - [`switchboard`]: the hotline's call logic, sans-IO (events and time in, actions out);
//! - [`config`]: typed configuration with file/key/reason errors;
//! - [`sdp`], [`sip`], [`media`], [`calendar`]: protocol cores, sans-IO;
//! - [`store`]: the call register (sqlx), on the model only;
//! - [`model`]: plain data every layer shares.

pub mod archive;
pub mod calendar;
pub mod config;
pub mod media;
pub mod model;
pub mod runtime;
pub mod sdp;
pub mod server;
pub mod sip;
pub mod store;
pub mod switchboard;
pub mod web;
