//! CUDA driver and cuBLAS failures as `DeviceError`s: the error's name and CUDA's own words, with
//! what sadoku was doing. Shared by every part of the device, so that all say it the same way.

use cudarc::cublas::result as cublas;
use cudarc::driver::DriverError;
use sadoku_core::device::DeviceError;

pub(super) fn code(e: &DriverError) -> String {
    e.error_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|_| format!("CUDA error {}", e.0 as i32))
}

pub(super) fn message(e: &DriverError) -> String {
    e.error_string().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}

pub(super) fn env(what: &str) -> impl Fn(DriverError) -> DeviceError + '_ {
    move |e| DeviceError::Environment(format!("{what}: {}: {}", code(&e), message(&e)))
}

pub(super) fn blas(what: &str) -> impl Fn(cublas::CublasError) -> DeviceError + '_ {
    move |e| DeviceError::Environment(format!("cuBLAS {what}: {e:?}"))
}
