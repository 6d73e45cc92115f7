//! Sharing buffers with a candidate's worker process through legacy CUDA IPC: shareable
//! allocations of whole 2 MiB blocks, their export as `CUipcMemHandle`s, and their import on the
//! other side. Kept apart because this is where the judge's memory could leak to a candidate: the
//! checks here are what keep a worker from mapping anything but the buffers it was given.

use std::ffi::c_char;

use cudarc::driver::{DriverError, sys};
use sadoku_core::device::{Buffer, DeviceError, SHARE_BLOCK, SharedHandle};

use super::CudaDevice;
use super::errors::{code, message};
use super::memory::{Allocation, malloc};

/// A CUDA IPC call failed: say so, and why sadoku needs it.
fn ipc(what: &str) -> impl Fn(DriverError) -> DeviceError + '_ {
    move |e| {
        DeviceError::Environment(format!(
            "CUDA IPC: {what} failed: {}: {}; sadoku shares inputs and outputs with its worker process through CUDA IPC",
            code(&e),
            message(&e)
        ))
    }
}

/// Whether the driver can say which allocation `ptr` lies in, and that allocation's base and size.
fn address_range(ptr: sys::CUdeviceptr) -> (bool, sys::CUdeviceptr, usize) {
    let (mut base, mut size): (sys::CUdeviceptr, usize) = (0, 0);
    // SAFETY: plain out-parameters; the driver checks `ptr`.
    let range = unsafe { sys::cuMemGetAddressRange_v2(&mut base, &mut size, ptr) }.result();
    (range.is_ok(), base, size)
}

impl CudaDevice {
    /// Whole 2 MiB blocks ([`SHARE_BLOCK`]) of legacy-IPC memory, base on a block boundary.
    ///
    /// Why not VMM (`cuMemCreate`/`cuMemMap`, exported exactly at the granularity): its handles are
    /// file descriptors that would have to cross into each worker's sandbox over a socket, and
    /// the Python workers open `CUipcMemHandle`s; legacy IPC keeps the one handle format every
    /// worker already opens. Legacy IPC maps the 2 MiB block(s) behind an allocation, so an
    /// allocation that is itself whole, aligned blocks maps nothing but itself. `cuMemAlloc` of
    /// a multiple of 2 MiB returns a block-aligned base on every driver seen; this checks it
    /// (and that the allocation spans exactly those blocks) and refuses to go on otherwise,
    /// rather than hand out a block a neighbour shares. The blocks are zeroed: the driver
    /// recycles freed memory with its contents, which could be an earlier truth of the judge's.
    pub(super) fn alloc_blocks(&mut self, bytes: usize) -> Result<Buffer, DeviceError> {
        self.state()?;
        let whole = bytes.max(1).next_multiple_of(SHARE_BLOCK);
        let ptr = malloc(whole)?;
        // Not shareable until checked; dropped (freed, never used) if the checks fail.
        let mut a = Allocation { ptr, bytes, imported: false, shareable: false };
        let (range_ok, base, size) = address_range(ptr);
        let whole_blocks = ptr % SHARE_BLOCK as u64 == 0 && range_ok && base == ptr && size == whole;
        // SAFETY: `ptr` holds `whole` bytes; the null stream orders it before any later work.
        let zeroed = whole_blocks
            && unsafe { sys::cuMemsetD8_v2(ptr, 0, whole) }.result().is_ok()
            // SAFETY: plain synchronisation of the current context: cleared before anyone maps it.
            && unsafe { sys::cuCtxSynchronize() }.result().is_ok();
        if !zeroed {
            drop(a);
            return Err(DeviceError::Environment(format!(
                "the CUDA driver placed a shareable allocation of {whole} bytes at {ptr:#x} (allocation {base:#x}, \
                 {size} bytes), not on whole 2 MiB blocks of its own, or could not clear it: sadoku cannot share \
                 buffers with a worker without sharing the judge's memory; use another driver or --sandbox off"
            )));
        }
        a.shareable = true;
        Ok(self.register(a))
    }

    pub(super) fn export_ipc(&mut self, buffer: Buffer) -> Result<SharedHandle, DeviceError> {
        let a = self.allocation(buffer)?;
        if !a.shareable {
            return Err(DeviceError::NotShareable(buffer.id));
        }
        let mut handle = sys::CUipcMemHandle { reserved: [0; 64] };
        // SAFETY: `a.ptr` is the base of a live allocation of this context; plain out-parameter.
        unsafe { sys::cuIpcGetMemHandle(&mut handle, a.ptr) }.result().map_err(ipc("cuIpcGetMemHandle"))?;
        Ok(SharedHandle { handle: handle.reserved.iter().map(|&c| c as u8).collect(), bytes: a.bytes })
    }

    pub(super) fn import_ipc(&mut self, shared: &SharedHandle) -> Result<Buffer, DeviceError> {
        self.state()?;
        let mut handle = sys::CUipcMemHandle { reserved: [0; 64] };
        if shared.handle.len() != handle.reserved.len() {
            return Err(DeviceError::Environment(format!(
                "CUDA IPC: a memory handle is {} bytes, not {}; sadoku shares inputs and outputs with its worker \
                 process through CUDA IPC",
                shared.handle.len(),
                handle.reserved.len()
            )));
        }
        for (r, &b) in handle.reserved.iter_mut().zip(&shared.handle) {
            *r = b as c_char;
        }
        let mut ptr: sys::CUdeviceptr = 0;
        let flags = sys::CUipcMem_flags::CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS as u32;
        // SAFETY: plain out-parameter; the driver checks the handle.
        unsafe { sys::cuIpcOpenMemHandle_v2(&mut ptr, handle, flags) }.result().map_err(ipc("cuIpcOpenMemHandle"))?;
        let a = Allocation { ptr, bytes: shared.bytes, imported: true, shareable: false };
        // The mapping covers the whole exported allocation; one smaller than it claims is refused.
        let (range_ok, base, size) = address_range(ptr);
        if range_ok && (base != ptr || size < shared.bytes) {
            // Dropped: unmapped once, never used.
            drop(a);
            return Err(DeviceError::Environment(format!(
                "CUDA IPC: an imported allocation maps {size} bytes, not the {} its handle claims",
                shared.bytes
            )));
        }
        Ok(self.register(a))
    }
}
