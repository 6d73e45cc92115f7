//! The arena: a size's buffers as the candidate sees them, each inside an allocation with guard
//! zones, shared with the worker (mapped or copied), and the candidate's launches bound to them.

use super::{Devices, Prepared, Sharing, Stop, reject};
use crate::candidate::{Candidate, ResolvedArg, ResolvedLaunch};
use crate::checks::guards::{CANARY, GUARD_BYTES, Side};
use crate::checks::signature::ParamKind;
use crate::device::{Buffer, DeviceError, KernelArg, Launch, LibraryOp, Work};
use crate::problem::{BufferSpec, Role, Sizes};
use crate::verdict::Rejection;

/// A buffer as the candidate sees it, inside an allocation with a guard zone on each side. The
/// judge owns the allocation; the worker maps it or holds a copy.
pub(crate) struct Guarded {
    pub name: String,
    /// The whole allocation on the judge's device, guards included.
    pub whole: Buffer,
    /// What the kernel is given, on the judge's device.
    pub view: Buffer,
    /// The whole allocation as the worker sees it.
    pub remote: Buffer,
}

impl Guarded {
    pub(super) fn guard(&self) -> usize {
        self.view.offset - self.whole.offset
    }

    /// The kernel's view, on the worker's side.
    pub fn remote_view(&self) -> Buffer {
        self.remote.view(self.guard(), self.view.bytes)
    }

    pub(super) fn zones(&self) -> [(Side, Buffer); 2] {
        let g = self.guard();
        [(Side::Before, self.whole.view(0, g)), (Side::After, self.whole.view(g + self.view.bytes, g))]
    }
}

/// Allocate a guarded buffer on the judge and hand it to the worker: whole 2 MiB blocks of its
/// own ([`Device::alloc_shared`]), so that the worker's mapping reaches nothing of the judge's.
pub(super) fn share(devices: &mut Devices, name: &str, bytes: usize, guard: usize) -> Result<Guarded, DeviceError> {
    // Never a zero-byte view: its pointer would alias the guard.
    let bytes = bytes.max(4).next_multiple_of(4);
    let whole = devices.reference.alloc_shared(bytes + 2 * guard)?;
    let give = |devices: &mut Devices| -> Result<Buffer, DeviceError> {
        if guard > 0 {
            devices.reference.run(&[Work::Library(LibraryOp::Fill { buffer: whole, word: CANARY })])?;
        }
        if devices.sharing == Sharing::Mapped {
            let mapped = devices.reference.export(whole).and_then(|h| devices.candidate.import(&h));
            match mapped {
                Ok(remote) => return Ok(remote),
                // The worker is gone or hung: that is the candidate's doing, not a sharing problem.
                // Judge-only memory asked to leave is a bug to report, never a reason to copy.
                Err(e) if e.is_candidates_fault() || matches!(e, DeviceError::NotShareable(_)) => return Err(e),
                Err(e) => {
                    devices.sharing = Sharing::Copied(format!("the worker could not map the judge's buffers: {e}"))
                }
            }
        }
        devices.candidate.alloc(whole.bytes)
    };
    match give(devices) {
        Ok(remote) => Ok(Guarded { name: name.to_string(), whole, view: whole.view(guard, bytes), remote }),
        Err(e) => {
            devices.reference.free(whole);
            Err(e)
        }
    }
}

/// Device buffers for one size, shared with the worker, and the candidate's launches bound to
/// them.
pub(crate) struct Arena {
    pub sizes: Sizes,
    pub buffers: Vec<(BufferSpec, Guarded)>,
    pub scratch: Vec<Guarded>,
    /// The candidate's launches, addressing the worker's side of the buffers.
    pub work: Vec<Work>,
}

impl Arena {
    pub fn new(
        devices: &mut Devices,
        candidate: &Candidate,
        prepared: &Prepared,
        sizes: &Sizes,
        guards: bool,
    ) -> Result<Arena, Stop> {
        let launches = candidate
            .spec
            .resolve(sizes)
            .map_err(|(_, message)| reject(Rejection::LaunchConfig { sizes: sizes.clone(), message }))?;
        let scratch_sizes = candidate
            .spec
            .scratch_bytes(sizes)
            .map_err(|message| reject(Rejection::LaunchConfig { sizes: sizes.clone(), message }))?;
        let mut arena = Arena { sizes: sizes.clone(), buffers: Vec::new(), scratch: Vec::new(), work: Vec::new() };
        let guard = if guards { GUARD_BYTES } else { 0 };
        let result = arena.allocate(devices, candidate, &scratch_sizes, guard).and_then(|()| {
            let named: Vec<(String, Buffer)> = arena.all().map(|g| (g.name.clone(), g.remote_view())).collect();
            bind_launches(launches, prepared, &named, sizes)
        });
        match result {
            Ok(work) => {
                arena.work = work;
                Ok(arena)
            }
            Err(stop) => {
                arena.release(devices);
                Err(stop)
            }
        }
    }

    pub(super) fn allocate(
        &mut self,
        devices: &mut Devices,
        candidate: &Candidate,
        scratch: &[(String, usize)],
        guard: usize,
    ) -> Result<(), Stop> {
        for spec in candidate.problem.buffers(&self.sizes) {
            let g = share(devices, spec.name, spec.bytes(), guard)?;
            self.buffers.push((spec, g));
        }
        for (name, bytes) in scratch {
            // A scratch buffer the device cannot hold is the candidate's demand, not a fault of ours.
            let g = share(devices, name, *bytes, guard).map_err(|e| {
                if e.is_candidates_fault() {
                    return Stop::Env(e);
                }
                reject(Rejection::LaunchConfig {
                    sizes: self.sizes.clone(),
                    message: format!("scratch buffer `{name}` of {bytes} bytes cannot be allocated: {e}"),
                })
            })?;
            self.scratch.push(g);
        }
        Ok(())
    }

    pub fn all(&self) -> impl Iterator<Item = &Guarded> {
        self.buffers.iter().map(|(_, g)| g).chain(&self.scratch)
    }

    pub fn of_role(&self, role: Role) -> impl Iterator<Item = (&BufferSpec, &Guarded)> {
        self.buffers.iter().filter(move |(s, _)| s.role == role).map(|(s, g)| (s, g))
    }

    /// The judge's views of the inputs (for the baseline and the truth).
    pub fn inputs(&self) -> Vec<Buffer> {
        // The shape's elements only: a 16-bit input's view is padded to a whole word.
        self.of_role(Role::Input).map(|(spec, g)| g.view.view(0, spec.bytes().min(g.view.bytes))).collect()
    }

    pub fn release(self, devices: &mut Devices) {
        for g in self.all() {
            devices.candidate.free(g.remote);
            devices.reference.free(g.whole);
        }
    }

    /// Copied sharing: the judge's contents to the worker before a launch.
    pub(super) fn push(&self, devices: &mut Devices) -> Result<(), DeviceError> {
        for g in self.all() {
            let mut bytes = vec![0u8; g.whole.bytes];
            devices.reference.download(g.whole, &mut bytes)?;
            devices.candidate.upload(g.remote, &bytes)?;
        }
        Ok(())
    }

    /// Copied sharing: the worker's contents back to the judge after a launch.
    pub(super) fn pull(&self, devices: &mut Devices) -> Result<(), DeviceError> {
        for g in self.all() {
            let mut bytes = vec![0u8; g.whole.bytes];
            devices.candidate.download(g.remote, &mut bytes)?;
            devices.reference.upload(g.whole, &bytes)?;
        }
        Ok(())
    }
}

/// The launches with their arguments turned into device pointers and integers of the right width.
pub(super) fn bind_launches(
    launches: Vec<ResolvedLaunch>,
    prepared: &Prepared,
    named: &[(String, Buffer)],
    sizes: &Sizes,
) -> Result<Vec<Work>, Stop> {
    let mut work = Vec::new();
    for (launch, kinds) in launches.into_iter().zip(&prepared.kinds) {
        let mut args = Vec::with_capacity(kinds.len());
        for (arg, kind) in launch.args.iter().zip(kinds) {
            args.push(match (arg, kind) {
                (ResolvedArg::Buffer(name), _) => {
                    KernelArg::Buffer(
                        named.iter().find(|(n, _)| n == name).map(|(_, b)| *b).ok_or_else(|| {
                            reject(Rejection::Signature { message: format!("unknown buffer `{name}`") })
                        })?,
                    )
                }
                (ResolvedArg::Int(v), ParamKind::I32) => KernelArg::I32(i32::try_from(*v).map_err(|_| {
                    reject(Rejection::LaunchConfig {
                        sizes: sizes.clone(),
                        message: format!("argument value {v} does not fit the kernel's 32-bit parameter"),
                    })
                })?),
                (ResolvedArg::Int(v), _) => KernelArg::I64(*v),
            });
        }
        work.push(Work::Launch(Launch {
            module: prepared.module,
            kernel: launch.kernel,
            grid: launch.grid,
            block: launch.block,
            shared_mem: launch.shared_mem,
            args,
        }));
    }
    Ok(work)
}
