//! Nothing the candidate's side holds is evidence (issue 21, class 10): the truth comes from the
//! judge's own copy of the inputs, never from the buffers the candidate maps, so a candidate that
//! changes an input during its call gets a truth of the inputs the judge drew, whether or not it
//! puts the input back before the judge hashes it.

mod common;

use std::sync::Mutex;

use common::*;
use sadoku_core::compile::{CompileError, CompileRequest, CompiledModule};
use sadoku_core::device::sim::SimDevice;
use sadoku_core::device::{
    Buffer, Device, DeviceError, DeviceExt, DeviceInfo, LibraryOp, ModuleHandle, Sample, SharedHandle, TimedRun, Work,
};
use sadoku_core::verdict::{Rejection, Verdict};

/// The original contents of input A, kept by the kernel that changed it, for the "timer" that
/// puts it back after the call.
static STASH: Mutex<Option<Vec<f32>>> = Mutex::new(None);

/// A kernel that doubles its input A during the call and computes C = tril(2A·B) from it: right
/// for the changed input, wrong for the one the judge drew.
fn changing_device() -> SimDevice {
    let mut dev = device();
    register_raw(&mut dev, "changes_input", |call| {
        let (a, b, n) = inputs(call)?;
        *STASH.lock().unwrap() = Some(a.clone());
        let doubled: Vec<f32> = a.iter().map(|x| 2.0 * x).collect();
        call.write(0, &doubled)?;
        call.write(2, &trimm_fp32(&doubled, &b, n))
    });
    dev
}

/// The judge's device, with the worst timing of a candidate's timer: the judge's checks run with
/// the changed input still in place for the truth and the comparison, and the input is put back
/// just before the judge hashes it.
struct LateRestore(SimDevice);

impl Device for LateRestore {
    fn info(&self) -> &DeviceInfo {
        self.0.info()
    }
    fn compile(&mut self, request: &CompileRequest) -> Result<CompiledModule, CompileError> {
        self.0.compile(request)
    }
    fn alloc(&mut self, bytes: usize) -> Result<Buffer, DeviceError> {
        self.0.alloc(bytes)
    }
    fn free(&mut self, buffer: Buffer) {
        self.0.free(buffer)
    }
    fn upload(&mut self, buffer: Buffer, data: &[u8]) -> Result<(), DeviceError> {
        self.0.upload(buffer, data)
    }
    fn download(&mut self, buffer: Buffer, out: &mut [u8]) -> Result<(), DeviceError> {
        self.0.download(buffer, out)
    }
    fn fill_u32(&mut self, buffer: Buffer, word: u32) -> Result<(), DeviceError> {
        self.0.fill_u32(buffer, word)
    }
    fn load(&mut self, module: &CompiledModule) -> Result<ModuleHandle, DeviceError> {
        self.0.load(module)
    }
    fn unload(&mut self, module: ModuleHandle) {
        self.0.unload(module)
    }
    fn run(&mut self, work: &[Work]) -> Result<(), DeviceError> {
        let comparing = work.iter().any(|w| matches!(w, Work::Library(LibraryOp::Compare { .. })));
        let stash = if comparing { STASH.lock().unwrap().take() } else { None };
        let Some(original) = stash else { return self.0.run(work) };
        let (hashes, rest): (Vec<Work>, Vec<Work>) =
            work.iter().cloned().partition(|w| matches!(w, Work::Library(LibraryOp::Hash { .. })));
        self.0.run(&rest)?;
        // The first hash after a launch is input A's.
        if let Some(Work::Library(LibraryOp::Hash { buffer, .. })) = hashes.first() {
            self.0.upload_f32(buffer.view(0, original.len() * 4), &original)?;
        }
        self.0.run(&hashes)
    }
    fn time(&mut self, run: &TimedRun) -> Result<Sample, DeviceError> {
        self.0.time(run)
    }
    fn export(&mut self, buffer: Buffer) -> Result<SharedHandle, DeviceError> {
        self.0.export(buffer)
    }
    fn import(&mut self, shared: &SharedHandle) -> Result<Buffer, DeviceError> {
        self.0.import(shared)
    }
}

/// Both tests use the one stash: never at once.
static SERIAL: Mutex<()> = Mutex::new(());

#[test]
fn an_input_changed_during_the_call_and_put_back_later_gets_the_truth_of_the_judges_draw() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut dev = changing_device();
    let mut reference = LateRestore(SimDevice::new());
    let report = sadoku_core::review::review_candidate(
        &mut sadoku_core::judge::Devices::new(&mut dev, &mut reference),
        &candidate("changes_input"),
        &sadoku_core::seeds::Seeds { master: 5 },
        &options(),
        &sadoku_core::events::Silent,
    )
    .expect("not an environment failure");
    // The input hashes agree (it was put back), but the truth is of the inputs the judge drew.
    let Verdict::Rejected(Rejection::Inaccurate { .. }) = &report.verdict else { panic!("{:?}", report.verdict) };
    assert_eq!(reference.0.live_buffers(), 0);
}

#[test]
fn an_input_changed_during_the_call_is_still_caught_and_the_truth_never_reads_shared_memory() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut dev = changing_device();
    let mut reference = SimDevice::new();
    let report = review_on(&mut dev, &mut reference, &candidate("changes_input"), 5, &options());
    STASH.lock().unwrap().take();
    let Verdict::Rejected(Rejection::InputsModified { .. }) = &report.verdict else { panic!("{:?}", report.verdict) };
    // Every buffer the truth was computed from (the GEMM reference widens its operands first) is
    // judge-only: never exported to the worker.
    let exported: std::collections::HashSet<u64> = reference.exports.iter().map(|b| b.id).collect();
    let mut read = 0;
    for op in &reference.library_log {
        if let LibraryOp::Upcast { src, .. } = op {
            assert!(!exported.contains(&src.id), "the truth read a buffer the candidate maps");
            read += 1;
        }
        if let LibraryOp::Generate { buffer, .. } = op {
            assert!(!exported.contains(&buffer.id), "the judge drew into a buffer the candidate maps");
        }
    }
    assert!(read > 0);
    // And an honest candidate is untouched by the change.
    let report = review(&mut device(), &candidate("honest"), 5);
    assert!(report.verdict.is_accepted(), "{:?}", report.verdict);
}
