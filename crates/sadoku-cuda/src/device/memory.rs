//! Device memory: the allocations behind buffer ids, the views into them, and copies to and
//! from the host.
//!
//! An [`Allocation`] owns its memory and frees (or unmaps) it when dropped; buffer ids are what
//! cross the `Device` trait, so a buffer lives until `free` drops its allocation, or the device
//! goes. Shareable allocations and imported ones are made in [`super::ipc`].

use cudarc::driver::{result, sys};
use sadoku_core::device::{Buffer, DeviceError};

use super::CudaDevice;
use super::errors::{code, env, message};

/// One allocation a buffer id names (or one of the device's own); dropping it frees or unmaps it.
#[derive(Debug)]
pub(super) struct Allocation {
    pub(super) ptr: sys::CUdeviceptr,
    /// Its size as asked for (what a view must stay inside, and what an export says).
    pub(super) bytes: usize,
    /// Mapped from another process's export: unmapped with cuIpcCloseMemHandle, never freed here.
    pub(super) imported: bool,
    /// Made by `alloc_shared`: whole 2 MiB blocks of its own, the only kind `export` hands out.
    pub(super) shareable: bool,
}

impl Allocation {
    /// `bytes` of the device's own (not a buffer's), in the current context.
    pub(super) fn new(bytes: usize, what: &str) -> Result<Allocation, DeviceError> {
        // SAFETY: plain allocation in the current context.
        let ptr = unsafe { result::malloc_sync(bytes) }.map_err(env(what))?;
        Ok(Allocation { ptr, bytes, imported: false, shareable: false })
    }
}

impl Drop for Allocation {
    /// Free or unmap it.
    fn drop(&mut self) {
        // SAFETY: an Allocation is made only around memory just allocated (or mapped) in the
        // current context, and owns it: it is released once, when its buffer is freed or its
        // device goes (before the context is released), and nothing uses it after. A faulted
        // device's state is forgotten, never dropped.
        unsafe {
            if self.imported {
                let _ = sys::cuIpcCloseMemHandle(self.ptr);
            } else {
                let _ = result::free_sync(self.ptr);
            }
        }
    }
}

/// `size` bytes for a buffer, in the current context.
pub(super) fn malloc(size: usize) -> Result<sys::CUdeviceptr, DeviceError> {
    // SAFETY: plain allocation in the current context.
    unsafe { result::malloc_sync(size) }.map_err(|e| {
        DeviceError::Environment(format!("allocating {} MiB on the GPU: {}: {}", size >> 20, code(&e), message(&e)))
    })
}

impl CudaDevice {
    /// Give an allocation a new buffer id. The state is live: the caller just made the allocation in it.
    pub(super) fn register(&mut self, a: Allocation) -> Buffer {
        let id = self.next_id;
        self.next_id += 1;
        let bytes = a.bytes;
        if let Some(state) = self.state.as_mut() {
            state.buffers.insert(id, a);
        }
        Buffer { id, offset: 0, bytes }
    }

    /// The allocation a buffer (or a view of it) belongs to.
    pub(super) fn allocation(&self, b: Buffer) -> Result<&Allocation, DeviceError> {
        self.state()?.buffers.get(&b.id).ok_or_else(|| {
            DeviceError::Environment(format!("buffer {} is not allocated (lost in a context reset?)", b.id))
        })
    }

    /// The device address of a buffer, or of a view into one; the view must lie inside its allocation.
    pub(super) fn ptr(&self, b: Buffer) -> Result<sys::CUdeviceptr, DeviceError> {
        let a = self.allocation(b)?;
        if b.offset.checked_add(b.bytes).is_none_or(|end| end > a.bytes) {
            return Err(DeviceError::Environment(format!(
                "a view of buffer {} ({} bytes at offset {}) reaches outside its allocation of {} bytes",
                b.id, b.bytes, b.offset, a.bytes
            )));
        }
        Ok(a.ptr + b.offset as u64)
    }

    /// [`sadoku_core::device::Device::alloc`].
    pub(super) fn alloc_plain(&mut self, bytes: usize) -> Result<Buffer, DeviceError> {
        self.state()?;
        let ptr = malloc(bytes.max(1))?;
        Ok(self.register(Allocation { ptr, bytes, imported: false, shareable: false }))
    }

    /// [`sadoku_core::device::Device::free`]: dropping the allocation frees (or unmaps) it.
    pub(super) fn free_buffer(&mut self, buffer: Buffer) {
        drop(self.state.as_mut().and_then(|s| s.buffers.remove(&buffer.id)));
    }

    pub(super) fn upload_to(&mut self, buffer: Buffer, data: &[u8]) -> Result<(), DeviceError> {
        let ptr = self.ptr(buffer)?;
        if data.len() > buffer.bytes {
            return Err(DeviceError::Environment("upload larger than its buffer".into()));
        }
        // SAFETY: `ptr` holds at least `data.len()` bytes.
        unsafe { result::memcpy_htod_sync(ptr, data) }.map_err(env("copy to GPU"))
    }

    pub(super) fn download_from(&mut self, buffer: Buffer, out: &mut [u8]) -> Result<(), DeviceError> {
        let ptr = self.ptr(buffer)?;
        if out.len() > buffer.bytes {
            return Err(DeviceError::Environment("download larger than its buffer".into()));
        }
        // SAFETY: `ptr` holds at least `out.len()` bytes.
        unsafe { result::memcpy_dtoh_sync(out, ptr) }.map_err(env("copy from GPU"))
    }

    /// [`sadoku_core::device::Device::fill_u32`]: the fill, then wait for it.
    pub(super) fn fill_words(&mut self, buffer: Buffer, word: u32) -> Result<(), DeviceError> {
        self.enqueue_fill(buffer, word, "memset")?;
        self.sync().map_err(env("memset"))
    }

    /// Enqueue filling a buffer with the 32-bit word `word` on the device's stream.
    pub(super) fn enqueue_fill(&self, buffer: Buffer, word: u32, what: &str) -> Result<(), DeviceError> {
        let ptr = self.ptr(buffer)?;
        let stream = self.state()?.stream;
        // SAFETY: `ptr` holds buffer.bytes bytes.
        unsafe { sys::cuMemsetD32Async(ptr, word, buffer.bytes / 4, stream) }.result().map_err(env(what))
    }
}
