//! The real device behind `sadoku-core`'s narrow interface: NVRTC ([`nvrtc`]), CUDA libraries found
//! at run time ([`libs`]) and a CUDA GPU ([`device`]).
//!
//! cudarc loads libcuda, libnvrtc and libcublas when first used and panics when one is missing,
//! so every entry point here probes first and turns absence into an error that says what to do.

pub mod device;
pub mod libs;
pub mod nvrtc;

pub use device::{CudaDevice, Role, device_count};
pub use libs::{CudaRoot, LibraryError};
pub use nvrtc::Nvrtc;
