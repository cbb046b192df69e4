//! Benchmark and fuzzing support, NOT API (`bench` feature only): what
//! `bench/rust-host` times and what the fuzz targets (`fuzz/`) drive,
//! gathered from each stage's own support module.

pub use crate::envelopes::bench_support::*;
pub use crate::live::bench_support::*;
pub use crate::pipeline::bench_support::*;
