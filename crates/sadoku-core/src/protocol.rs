//! Candidates run in worker processes; this is the protocol between the judge and a worker.
//!
//! The judge (parent) holds the fp64 truth and the baseline on its own device; a worker holds one
//! candidate and its own CUDA context, and runs only what the candidate asks for: the worker
//! refuses library work, so the expected answer never exists in the candidate's process. Outputs
//! travel back over the pipe and are compared in the parent.
//!
//! Frames: a little-endian u32 length and a JSON header, then a little-endian u64 length and raw
//! payload bytes (uploads and downloads). A reader thread turns the worker's stream into frames,
//! so that every call can wait with a deadline: a worker that does not answer in time is killed.

use std::io::{self, Read, Write};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::compile::{CompileError, CompileRequest, CompiledModule};
use crate::device::{Buffer, Device, DeviceError, DeviceInfo, ModuleHandle, Sample, SharedHandle, TimedRun, Work};

/// Largest JSON header accepted: a header is a request, never data.
const MAX_HEADER: u32 = 64 << 20;

#[derive(Debug, Serialize, Deserialize)]
pub enum Request {
    Info,
    Compile(CompileRequest),
    Alloc(usize),
    Free(Buffer),
    /// Payload: the bytes.
    Upload(Buffer),
    Download(Buffer),
    Fill(Buffer, u32),
    Load(CompiledModule),
    Run(Vec<Work>),
    /// The worker's own bookkeeping before a timed run (a Python worker's allocator poisoning,
    /// tracer reset, L2 flush and opening marker), outside the judge's clock. A native worker has
    /// none and answers at once.
    Prepare(TimedRun),
    Time(TimedRun),
    /// What a Python worker does after a timed call's reply (its trace, its checks), asked for
    /// once the judge has compared the output (see [`Sample::pending`]).
    Collect,
    /// Map an allocation of the judge's.
    Import(SharedHandle),
}

#[derive(Debug, Serialize, Deserialize)]
pub enum Response {
    Info(DeviceInfo),
    Compiled(Result<CompiledModule, CompileError>),
    Buffer(Result<Buffer, DeviceError>),
    /// Payload: the bytes of a download.
    Done(Result<(), DeviceError>),
    Module(Result<ModuleHandle, DeviceError>),
    Sample(Result<Sample, DeviceError>),
}

pub fn write_frame<T: Serialize>(w: &mut dyn Write, header: &T, payload: &[u8]) -> io::Result<()> {
    let json = serde_json::to_vec(header).map_err(io::Error::other)?;
    w.write_all(&(json.len() as u32).to_le_bytes())?;
    w.write_all(&json)?;
    w.write_all(&(payload.len() as u64).to_le_bytes())?;
    w.write_all(payload)?;
    w.flush()
}

/// One frame, or `None` at a clean end of stream.
pub fn read_frame(r: &mut dyn Read) -> io::Result<Option<(Vec<u8>, Vec<u8>)>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len) {
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        other => other?,
    }
    let n = u32::from_le_bytes(len);
    if n > MAX_HEADER {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("frame header of {n} bytes")));
    }
    let mut header = vec![0u8; n as usize];
    r.read_exact(&mut header)?;
    let mut len = [0u8; 8];
    r.read_exact(&mut len)?;
    let mut payload = vec![0u8; u64::from_le_bytes(len) as usize];
    r.read_exact(&mut payload)?;
    Ok(Some((header, payload)))
}

fn refuse_library(work: &[Work]) -> Result<(), DeviceError> {
    if work.iter().any(|w| matches!(w, Work::Library(_))) {
        return Err(DeviceError::Environment(
            "a candidate worker runs candidate kernels only, never library work".into(),
        ));
    }
    Ok(())
}

/// The worker's side: answer requests with `device` until the judge hangs up.
pub fn serve(device: &mut dyn Device, r: &mut dyn Read, w: &mut dyn Write) -> io::Result<()> {
    while let Some((header, payload)) = read_frame(r)? {
        let request: Request = serde_json::from_slice(&header).map_err(io::Error::other)?;
        let mut data = Vec::new();
        let response = match request {
            Request::Info => Response::Info(device.info().clone()),
            Request::Compile(req) => Response::Compiled(device.compile(&req)),
            Request::Alloc(bytes) => Response::Buffer(device.alloc(bytes)),
            Request::Free(b) => {
                device.free(b);
                Response::Done(Ok(()))
            }
            Request::Upload(b) => Response::Done(device.upload(b, &payload)),
            Request::Download(b) => {
                data = vec![0u8; b.bytes];
                Response::Done(device.download(b, &mut data))
            }
            Request::Fill(b, word) => Response::Done(device.fill_u32(b, word)),
            Request::Load(m) => Response::Module(device.load(&m)),
            Request::Run(work) => Response::Done(refuse_library(&work).and_then(|()| device.run(&work))),
            Request::Prepare(run) => Response::Done(refuse_library(&run.work)),
            Request::Time(run) => Response::Sample(refuse_library(&run.work).and_then(|()| device.time(&run))),
            Request::Collect => Response::Sample(device.collect().and_then(|s| {
                s.ok_or_else(|| DeviceError::Environment("no timed launch waits to be collected".into()))
            })),
            Request::Import(shared) => Response::Buffer(device.import(&shared)),
        };
        write_frame(w, &response, &data)?;
    }
    Ok(())
}

/// The process behind a remote device, as the judge controls it.
pub trait Worker: Send {
    /// Kill it now (a hung kernel, a missed deadline).
    fn kill(&mut self);
    /// How it ended, once it has: e.g. "killed by signal 6 (SIGABRT)".
    fn status(&mut self) -> String;
    /// The end of what it wrote to stderr, for the evidence.
    fn stderr_tail(&mut self) -> String;
    /// Stop it, and everything it started, until [`Worker::resume`] (SIGSTOP to its process
    /// group): a candidate's process runs only while the judge waits on it. No-op by default.
    fn suspend(&mut self) {}
    /// Let it run again (SIGCONT to its process group). No-op by default.
    fn resume(&mut self) {}
    /// Hold every thread of it (and of what it started) on `cpus`, or let it run where it could
    /// before (`None`). No-op by default.
    fn pin(&mut self, _cpus: Option<&[usize]>) {}
}

/// Why an untrusted worker's own report of a failure is the candidate's (see
/// [`RemoteDevice::mark_untrusted`]).
pub const REPORTED: &str = "the candidate's worker reported a failure";

/// How long the judge waits for a worker.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timeouts {
    pub compile: Duration,
    /// For one run or timed sample of the candidate's launches.
    pub launch: Duration,
    /// For anything else: allocations and copies.
    pub other: Duration,
    /// For the whole review of one candidate.
    pub candidate: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            compile: Duration::from_secs(60),
            launch: Duration::from_secs(10),
            other: Duration::from_secs(60),
            candidate: Duration::from_secs(600),
        }
    }
}

type Frame = io::Result<Option<(Vec<u8>, Vec<u8>)>>;

/// A device in a worker process: the judge's view of it.
pub struct RemoteDevice {
    info: DeviceInfo,
    writer: Box<dyn Write + Send>,
    frames: Receiver<Frame>,
    worker: Box<dyn Worker>,
    timeouts: Timeouts,
    deadline: Instant,
    /// Set once the worker is gone; every later call answers with it.
    dead: Option<DeviceError>,
    /// The judge's clock of a timed call whose worker answered before its trace and checks:
    /// [`Device::collect`] asks for them.
    pending: Option<f64>,
    /// The judge's module cache: the worker has none (it may neither read nor write one), so the
    /// judge looks a module up before asking the worker to compile, and keeps what it compiled.
    modules: Option<crate::compile::ModuleCache>,
    /// A candidate's worker (native or Python): whatever it reports is the accused's testimony,
    /// never the environment's (see [`RemoteDevice::mark_untrusted`]).
    untrusted: bool,
    /// Suspended between requests (an untrusted worker, once connected).
    stopped: bool,
}

impl RemoteDevice {
    /// Talk to a worker over `reader`/`writer` and ask what device it has.
    pub fn connect(
        mut reader: Box<dyn Read + Send>,
        writer: Box<dyn Write + Send>,
        worker: Box<dyn Worker>,
        timeouts: Timeouts,
    ) -> Result<RemoteDevice, DeviceError> {
        let (tx, frames) = channel();
        std::thread::spawn(move || {
            loop {
                let frame = read_frame(&mut reader);
                let end = !matches!(frame, Ok(Some(_)));
                if tx.send(frame).is_err() || end {
                    break;
                }
            }
        });
        let placeholder = DeviceInfo::default();
        let mut device = RemoteDevice {
            info: placeholder,
            writer,
            frames,
            worker,
            timeouts,
            deadline: Instant::now() + timeouts.candidate,
            dead: None,
            pending: None,
            modules: None,
            untrusted: false,
            stopped: false,
        };
        match device.call(&Request::Info, &[], timeouts.other, "starting the worker")? {
            (Response::Info(info), _) => device.info = info,
            (other, _) => return Err(DeviceError::Environment(format!("worker answered {other:?} to Info"))),
        }
        Ok(device)
    }

    /// This worker serves a candidate (its process runs the candidate's code, or its kernels): any
    /// failure it reports, of whatever type, is the candidate's, with its words as the evidence
    /// ([`REPORTED`]); only what the judge observes itself (a worker that will not start, a pipe
    /// that breaks, a deadline) keeps its own meaning. A candidate can thus never stop the review
    /// by claiming to be the environment. Its process is also stopped between requests (SIGSTOP
    /// to its group, SIGCONT before the next): nothing of the candidate's (threads, timers, signal
    /// handlers, finalisers) runs while the judge compares its output or times the baseline.
    pub fn mark_untrusted(&mut self) {
        self.untrusted = true;
        self.suspend();
    }

    /// Whether this is a candidate's worker.
    pub fn is_untrusted(&self) -> bool {
        self.untrusted
    }

    fn suspend(&mut self) {
        if self.untrusted && !self.stopped && self.dead.is_none() {
            self.worker.suspend();
            self.stopped = true;
        }
    }

    fn resume(&mut self) {
        if self.stopped {
            self.worker.resume();
            self.stopped = false;
        }
    }

    /// A failure the worker reported for `what`: an untrusted worker's is the candidate's.
    fn reported(&self, what: &str, e: DeviceError) -> DeviceError {
        if !self.untrusted || e.is_candidates_fault() {
            return e;
        }
        DeviceError::Refused { kernel: "the worker".into(), reason: REPORTED.into(), evidence: format!("{what}: {e}") }
    }

    /// An answer of the wrong kind to `what`.
    fn unexpected(&self, what: &str, answer: &Response) -> DeviceError {
        self.reported(what, DeviceError::Environment(format!("worker answered {answer:?} to {what}")))
    }

    /// Keep the modules this worker compiles in the judge's `cache`, and serve them from it.
    pub fn cache_modules(&mut self, cache: crate::compile::ModuleCache) {
        self.modules = Some(cache);
    }

    /// One round trip, within `timeout` and the candidate's deadline.
    fn call(
        &mut self,
        request: &Request,
        payload: &[u8],
        timeout: Duration,
        what: &str,
    ) -> Result<(Response, Vec<u8>), DeviceError> {
        if let Some(e) = &self.dead {
            return Err(e.clone());
        }
        let now = Instant::now();
        let (wait, overall) = match self.deadline.checked_duration_since(now) {
            Some(left) if left < timeout => (left, true),
            Some(_) => (timeout, false),
            None => (Duration::ZERO, true),
        };
        self.resume();
        if write_frame(&mut self.writer, request, payload).is_err() {
            return Err(self.died());
        }
        let received = self.frames.recv_timeout(wait);
        if matches!(received, Ok(Ok(Some(_)))) {
            // From its reply until the judge's next request, the candidate's process is stopped.
            self.suspend();
        }
        match received {
            Ok(Ok(Some((header, data)))) => serde_json::from_slice(&header).map(|r| (r, data)).map_err(|e| {
                self.reported(what, DeviceError::Environment(format!("unreadable answer from the worker: {e}")))
            }),
            Ok(Ok(None) | Err(_)) | Err(RecvTimeoutError::Disconnected) => Err(self.died()),
            Err(RecvTimeoutError::Timeout) => {
                self.worker.kill();
                let (what, seconds) = if overall {
                    ("the review of this candidate".to_string(), self.timeouts.candidate.as_secs_f64())
                } else {
                    (what.to_string(), timeout.as_secs_f64())
                };
                let e = DeviceError::Timeout { what, seconds };
                self.dead = Some(e.clone());
                Err(e)
            }
        }
    }

    /// [`RemoteDevice::call`], and the judge's clock from sending the request to holding the
    /// reply, ms.
    fn timed_call(&mut self, request: &Request, timeout: Duration, what: &str) -> Result<(Response, f64), DeviceError> {
        // Resumed before the clock starts: waking a stopped process is not the candidate's time.
        self.resume();
        let started = Instant::now();
        let (answer, _) = self.call(request, &[], timeout, what)?;
        Ok((answer, started.elapsed().as_secs_f64() * 1e3))
    }

    /// Hang up and wait for the worker to exit by itself (a sanitizer writes its summary then);
    /// returns how it ended.
    pub fn close(mut self) -> String {
        // A stopped worker runs again, to read the end of its input and exit.
        self.resume();
        // Dropping our end of its input pipe ends the worker's request loop.
        self.writer = Box::new(io::sink());
        let status = self.worker.status();
        self.dead = Some(DeviceError::WorkerDied { status: status.clone(), stderr: String::new() });
        status
    }

    fn died(&mut self) -> DeviceError {
        let e = DeviceError::WorkerDied { status: self.worker.status(), stderr: self.worker.stderr_tail() };
        self.dead = Some(e.clone());
        e
    }

    fn expect_done(
        &mut self,
        request: Request,
        payload: &[u8],
        timeout: Duration,
        what: &str,
    ) -> Result<Vec<u8>, DeviceError> {
        match self.call(&request, payload, timeout, what)? {
            (Response::Done(r), data) => r.map(|()| data).map_err(|e| self.reported(what, e)),
            (other, _) => Err(self.unexpected(what, &other)),
        }
    }
}

impl Drop for RemoteDevice {
    fn drop(&mut self) {
        if self.dead.is_none() {
            // SIGKILL ends a stopped process too; SIGCONT first all the same, so that nothing of
            // the group is left stopped if a kill misses a member.
            self.resume();
            self.worker.kill();
        }
    }
}

impl Device for RemoteDevice {
    fn info(&self) -> &DeviceInfo {
        &self.info
    }

    /// The review's deadline (`Timeouts::candidate`) runs from here, not from when the worker
    /// started: a worker started ahead of its review waits for it, and the process of a problem's
    /// Model serves review after review.
    fn start_review(&mut self) {
        self.deadline = Instant::now() + self.timeouts.candidate;
    }

    fn pin(&mut self, cpus: Option<&[usize]>) {
        if self.dead.is_none() {
            self.worker.pin(cpus);
        }
    }

    fn compile(&mut self, request: &CompileRequest) -> Result<CompiledModule, CompileError> {
        if let Some(m) = self.modules.as_ref().and_then(|c| c.get(request)) {
            return Ok(m);
        }
        let timeout = self.timeouts.compile;
        match self.call(&Request::Compile(request.clone()), &[], timeout, "compilation") {
            // An untrusted worker that says its compiler is unavailable speaks for itself only.
            Ok((Response::Compiled(Err(CompileError::Unavailable(m))), _)) if self.untrusted => {
                Err(CompileError::Rejected { log: format!("{REPORTED}: compilation: {m}") })
            }
            Ok((Response::Compiled(r), _)) => {
                if let (Ok(m), Some(c)) = (&r, &self.modules) {
                    c.put(request, m);
                }
                r
            }
            Ok((other, _)) if self.untrusted => {
                Err(CompileError::Rejected { log: self.unexpected("Compile", &other).to_string() })
            }
            Ok((other, _)) => Err(CompileError::Unavailable(format!("worker answered {other:?} to Compile"))),
            // A compiler that hangs or crashes on the candidate's source: the candidate's doing.
            Err(e) if e.is_candidates_fault() => Err(CompileError::Rejected { log: e.to_string() }),
            Err(e) => Err(CompileError::Unavailable(e.to_string())),
        }
    }

    fn alloc(&mut self, bytes: usize) -> Result<Buffer, DeviceError> {
        match self.call(&Request::Alloc(bytes), &[], self.timeouts.other, "an allocation")? {
            (Response::Buffer(r), _) => r.map_err(|e| self.reported("an allocation", e)),
            (other, _) => Err(self.unexpected("Alloc", &other)),
        }
    }

    /// A worker exports nothing ([`RemoteDevice::export`]): its memory is plain memory.
    fn alloc_shared(&mut self, bytes: usize) -> Result<Buffer, DeviceError> {
        self.alloc(bytes)
    }

    fn free(&mut self, buffer: Buffer) {
        if self.dead.is_none() {
            let _ = self.expect_done(Request::Free(buffer), &[], self.timeouts.other, "a free");
        }
    }

    fn upload(&mut self, buffer: Buffer, data: &[u8]) -> Result<(), DeviceError> {
        self.expect_done(Request::Upload(buffer), data, self.timeouts.other, "a copy to the GPU").map(drop)
    }

    fn download(&mut self, buffer: Buffer, out: &mut [u8]) -> Result<(), DeviceError> {
        let data = self.expect_done(Request::Download(buffer), &[], self.timeouts.other, "a copy from the GPU")?;
        let n = out.len().min(data.len());
        out[..n].copy_from_slice(&data[..n]);
        Ok(())
    }

    fn fill_u32(&mut self, buffer: Buffer, word: u32) -> Result<(), DeviceError> {
        self.expect_done(Request::Fill(buffer, word), &[], self.timeouts.other, "a fill").map(drop)
    }

    fn load(&mut self, module: &CompiledModule) -> Result<ModuleHandle, DeviceError> {
        match self.call(&Request::Load(module.clone()), &[], self.timeouts.other, "loading the module")? {
            (Response::Module(r), _) => r.map_err(|e| self.reported("loading the module", e)),
            (other, _) => Err(self.unexpected("Load", &other)),
        }
    }

    fn run(&mut self, work: &[Work]) -> Result<(), DeviceError> {
        let timeout = self.timeouts.launch * work.len().max(1) as u32;
        self.expect_done(Request::Run(work.to_vec()), &[], timeout, "a launch").map(drop)
    }

    /// A worker's own buffers never leave it: only the judge exports.
    fn export(&mut self, _buffer: Buffer) -> Result<SharedHandle, DeviceError> {
        Err(DeviceError::Environment("a candidate's worker exports nothing".into()))
    }

    fn import(&mut self, shared: &SharedHandle) -> Result<Buffer, DeviceError> {
        match self.call(&Request::Import(shared.clone()), &[], self.timeouts.other, "mapping a buffer")? {
            (Response::Buffer(r), _) => r,
            (other, _) => Err(DeviceError::Environment(format!("worker answered {other:?} to Import"))),
        }
    }

    /// The worker's sample, with the judge's own clock around the request (`judge_ms`): what a
    /// worker says about its time is its testimony; the round trip is the judge's measurement.
    /// The worker's bookkeeping first (`Prepare`, off the clock), then the timed call alone on the
    /// judge's clock: from sending `Time` to holding the reply, with the output in the judge's
    /// buffer. A worker that answers `pending` (a Python one) gives its trace and checks to
    /// [`Device::collect`], after the judge has compared the output with the worker stopped.
    fn time(&mut self, run: &TimedRun) -> Result<Sample, DeviceError> {
        let timeout = self.timeouts.launch * run.work.len().max(1) as u32;
        self.pending = None;
        match self.call(&Request::Prepare(run.clone()), &[], timeout, "preparing a timed launch")? {
            (Response::Done(Ok(())), _) => {}
            (Response::Done(Err(e)), _) => return Err(self.reported("preparing a timed launch", e)),
            (other, _) => return Err(self.unexpected("Prepare", &other)),
        }
        let (answer, judge_ms) = self.timed_call(&Request::Time(run.clone()), timeout, "a timed launch")?;
        match answer {
            Response::Sample(Ok(sample)) => {
                if sample.pending {
                    self.pending = Some(judge_ms);
                }
                Ok(Sample { judge_ms: Some(judge_ms), ..sample })
            }
            Response::Sample(Err(e)) => Err(self.reported("a timed launch", e)),
            other => Err(self.unexpected("Time", &other)),
        }
    }

    fn collect(&mut self) -> Result<Option<Sample>, DeviceError> {
        let Some(judge_ms) = self.pending.take() else { return Ok(None) };
        let timeout = self.timeouts.launch;
        match self.call(&Request::Collect, &[], timeout, "collecting a timed launch")? {
            (Response::Sample(Ok(sample)), _) => {
                Ok(Some(Sample { judge_ms: Some(judge_ms), pending: false, ..sample }))
            }
            (Response::Sample(Err(e)), _) => Err(self.reported("collecting a timed launch", e)),
            (other, _) => Err(self.unexpected("Collect", &other)),
        }
    }
}
