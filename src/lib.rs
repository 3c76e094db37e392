//! `hotline`: the SIP back-end of a utility's call-centre line.
//!
//! Layers, from the wire inwards:
//! - [`runtime`]: the only tokio code (sockets, timers, disk, database tasks);
//! - [`switchboard`]: the hotline's call logic, sans-IO (events and time in, actions out);
//! - [`sip`], [`sdp`], [`media`]: protocol cores, sans-IO;
//! - [`store`]: the call register (sqlx);
//! - [`config`]: typed configuration with file/key/reason errors.

pub mod calendar;
pub mod config;
pub mod media;
pub mod model;
pub mod recordings;
pub mod runtime;
pub mod sdp;
pub mod server;
pub mod sip;
pub mod store;
pub mod switchboard;
pub mod web;
