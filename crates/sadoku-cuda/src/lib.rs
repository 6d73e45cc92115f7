//! The real device behind `sadoku-core`'s narrow interface: NVRTC ([`nvrtc`]), CUDA libraries found
//! at run time ([`libs`]), a CUDA GPU ([`device`]) and CUPTI's record of the kernels it ran
//! ([`trace`]).
//!
//! cudarc loads libcuda, libnvrtc and libcublas when first used and panics when one is missing,
//! so every entry point here probes first and turns absence into an error that says what to do.

pub mod device;
pub mod dnn;
pub mod libs;
pub mod nvrtc;
pub mod trace;

pub use device::{CudaDevice, Role, device_count};
pub use libs::{CudaRoot, LibraryError};
pub use nvrtc::Nvrtc;
