//! The web console: static pages served by the same binary (to be written).
