//! The hotline itself, sans-IO: calls, the business calendar, register writes.

pub mod hours;
pub mod register;
