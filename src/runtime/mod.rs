//! (to be written)

pub mod register_writer;
