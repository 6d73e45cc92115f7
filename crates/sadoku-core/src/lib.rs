//! sadoku-core: everything that decides a verdict, with no GPU in sight.
//!
//! The pipeline, one module per stage:
//! [`candidate`] → [`compile`] → [`verify`] → [`time`] → [`verdict`] → [`report`],
//! driven by [`review`]. What sadoku guarantees is the list of files in [`checks`].
//! The GPU sits behind [`device::Device`]; [`device::sim`] simulates one for tests.
//!
//! The modules form layers, each using only those below it (`tests/layering.rs` fails on any
//! `crate::` path that closes a cycle between top-level modules), bottom to top:
//! - [`vocab`] (dtypes, sizes, expressions, distributions, tolerance classes), [`seeds`],
//!   [`stats`], [`cache`];
//! - [`spec`] (the launch-spec language), [`compile`], [`generate`], then [`device`] and
//!   [`protocol`] (the judge–worker protocol and the judge's end of it, `RemoteDevice`);
//! - [`problem`], then [`candidate`] and [`checks`], then [`verdict`] and [`events`];
//! - [`model`], then [`judge`];
//! - [`verify`] and [`time`], then [`report`] and [`review`].

pub mod cache;
pub mod candidate;
pub mod checks;
pub mod compile;
pub mod device;
pub mod events;
pub mod generate;
pub mod judge;
pub mod model;
pub mod problem;
pub mod protocol;
pub mod report;
pub mod review;
pub mod seeds;
pub mod spec;
pub mod stats;
pub mod time;
pub mod verdict;
pub mod verify;
pub mod vocab;
