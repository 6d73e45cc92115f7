//! sadoku-core: everything that decides a verdict, with no GPU in sight.
//!
//! The pipeline, one module per stage:
//! [`candidate`] → [`compile`] → [`verify`] → [`time`] → [`verdict`] → [`report`],
//! driven by [`review`]. What sadoku guarantees is the list of files in [`checks`].
//! The GPU sits behind [`device::Device`]; [`device::sim`] simulates one for tests.

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
pub mod report;
pub mod review;
pub mod seeds;
pub mod stats;
pub mod time;
pub mod verdict;
pub mod verify;
pub mod worker;
