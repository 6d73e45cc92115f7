//! CUPTI activity tracing: which kernels ran during a timed sample, with what launch
//! configuration, on which stream and when, as the GPU itself reports them.
//!
//! One tracer per process (CUPTI allows one subscriber): set up before the CUDA context exists,
//! it records every kernel of the process (`CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL`, which does not
//! serialise kernels) into buffers that CUPTI hands back on a flush. A timed sample discards what
//! came before it ([`begin`]), then flushes and reads what it saw ([`finish`]).
//!
//! A Python worker's process has a tracer too (through the `sadoku-trace` library, see
//! [`init_for_calls`]): it also records copies and memsets, and a timed call's trace is every
//! record between two marker memsets the worker issues around it ([`finish_call`]).
//!
//! Tracing is best effort: no CUPTI, another CUPTI client (ncu, compute-sanitizer, nsys) or
//! `SADOKU_NO_CUPTI` only make it unavailable, with the reason; nothing here panics or stops a
//! review.

use std::alloc::{Layout, alloc, dealloc};
use std::ffi::{CStr, c_char, c_void};
use std::path::Path;
use std::ptr::addr_of;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use cudarc::cupti::sys;
use cudarc::driver::sys::CUcontext;
use sadoku_core::device::{KernelRecord, Trace};

/// CUPTI's own samples use 8 MiB buffers, 8-byte aligned.
const BUFFER_BYTES: usize = 8 << 20;
const BUFFER_ALIGN: usize = 8;
/// More kernel records than this between two samples are dropped (and the sample untraced).
const MAX_RECORDS: usize = 1 << 20;

/// The marker kernel launched just before the start event and just after the stop event.
pub const MARKER: &str = "sadoku_mark";
/// sadoku's own kernels around the timed work; never reported. `sadoku_tril_f32` is not among
/// them: it is part of the baseline's work.
pub const TIMING_HELPERS: [&str; 13] = [
    "sadoku_read_peak",
    "sadoku_abs_f32",
    "sadoku_mark",
    "sadoku_hash",
    "sadoku_pattern",
    "sadoku_generate",
    "sadoku_upcast",
    "sadoku_compare",
    "sadoku_compare_finish",
    "sadoku_diff",
    "sadoku_diff_finish",
    "sadoku_sm_clock",
    "sadoku_fma_peak",
];

/// One record as CUPTI delivered it: the judge's [`KernelRecord`] (a kernel, copy or memset), and
/// what only the tracer needs to sort records out.
#[derive(Debug, Clone, PartialEq)]
pub struct RawKernel {
    pub record: KernelRecord,
    /// The CUDA context that ran it: a native worker's trace keeps its own context's records.
    pub context: u32,
    /// A memset's 32-bit value and its bytes (the Python worker's markers are 4-byte memsets of a
    /// value of its own).
    pub memset: Option<(u32, u64)>,
}

impl std::ops::Deref for RawKernel {
    type Target = KernelRecord;
    fn deref(&self) -> &KernelRecord {
        &self.record
    }
}

impl RawKernel {
    /// As the judge sees it.
    fn record(&self) -> KernelRecord {
        self.record.clone()
    }

    /// A copy or memset: no launch configuration.
    fn transfer(name: String, (start_ns, end_ns): (u64, u64), stream: u32, context: u32) -> RawKernel {
        RawKernel {
            record: KernelRecord {
                name,
                grid: [0; 3],
                block: [0; 3],
                registers: 0,
                shared_bytes: 0,
                start_ns,
                end_ns,
                stream,
            },
            context,
            memset: None,
        }
    }
}

static TRACER: OnceLock<Result<(), String>> = OnceLock::new();
static RECORDS: Mutex<Vec<RawKernel>> = Mutex::new(Vec::new());
/// Records lost since the last [`begin`]: over [`MAX_RECORDS`], or no buffer to put them in.
static DROPPED: AtomicU64 = AtomicU64::new(0);

fn records() -> MutexGuard<'static, Vec<RawKernel>> {
    RECORDS.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Set up the process's tracer, once; later calls return the first outcome. Call it before the
/// CUDA context is created.
pub fn init() -> Result<(), String> {
    init_with(None, false)
}

/// The tracer of a Python worker's process, once: kernels, copies and memsets. `library` is the
/// CUPTI library PyTorch already loaded into the process, if it did: it is used rather than a
/// second copy from the toolkit. Call it before the CUDA context is created.
pub fn init_for_calls(library: Option<&Path>) -> Result<(), String> {
    init_with(library, true)
}

fn init_with(library: Option<&Path>, copies: bool) -> Result<(), String> {
    TRACER
        .get_or_init(|| {
            if std::env::var_os("SADOKU_NO_CUPTI").is_some_and(|v| !v.is_empty() && v != "0") {
                return Err("disabled by SADOKU_NO_CUPTI".into());
            }
            // CUPTI without a driver crashes as it loads (seen with CUDA 13.0's): no driver, no
            // tracer.
            crate::libs::driver().map_err(|_| "no NVIDIA driver (libcuda) to trace".to_string())?;
            let api = match library {
                Some(path) => Api::open(path)?,
                None => {
                    crate::libs::cupti()?;
                    // SAFETY: the probe found the library, so culib() does not panic.
                    Api::from(unsafe { cudarc::cupti::sys::culib() })?
                }
            };
            let _ = API.set(api);
            // A panic must never end a review over an optional feature.
            std::panic::catch_unwind(|| start(copies)).unwrap_or_else(|_| Err("CUPTI setup panicked".into()))
        })
        .clone()
}

/// The CUPTI entry points the tracer calls, from one library: cudarc's (found as sadoku finds
/// CUDA's libraries) in sadoku's workers, or, in a Python worker, the very file PyTorch already
/// loaded (a second copy beside it would compete for the driver's callbacks). Results are read as
/// plain numbers (`CUptiResult` values), never as Rust enums.
struct Api {
    subscribe: unsafe extern "C" fn(*mut sys::CUpti_SubscriberHandle, sys::CUpti_CallbackFunc, *mut c_void) -> u32,
    register:
        unsafe extern "C" fn(sys::CUpti_BuffersCallbackRequestFunc, sys::CUpti_BuffersCallbackCompleteFunc) -> u32,
    enable: unsafe extern "C" fn(u32) -> u32,
    flush_all: unsafe extern "C" fn(u32) -> u32,
    next_record: unsafe extern "C" fn(*mut u8, usize, *mut *mut sys::CUpti_Activity) -> u32,
    result_string: unsafe extern "C" fn(u32, *mut *const c_char) -> u32,
    context_id: unsafe extern "C" fn(CUcontext, *mut u32) -> u32,
}

static API: OnceLock<Api> = OnceLock::new();

fn api() -> Result<&'static Api, String> {
    API.get().ok_or_else(|| "the CUPTI tracer was never set up".to_string())
}

impl Api {
    fn open(path: &Path) -> Result<Api, String> {
        // SAFETY: loading CUPTI runs only its initialisers; the library stays loaded for good.
        let lib = unsafe { libloading::Library::new(path) }
            .map_err(|e| format!("cannot load CUPTI from {}: {e}", path.display()))?;
        Api::from(Box::leak(Box::new(lib)))
    }

    fn from(lib: &'static libloading::Library) -> Result<Api, String> {
        fn get<T: Copy>(lib: &'static libloading::Library, name: &str) -> Result<T, String> {
            // SAFETY: each symbol is read with the signature CUPTI's header gives it; the library
            // is never unloaded.
            unsafe { lib.get::<T>(name.as_bytes()) }
                .map(|s| *s)
                .map_err(|_| format!("the CUPTI library found lacks `{name}` (too old?)"))
        }
        Ok(Api {
            subscribe: get(lib, "cuptiSubscribe")?,
            register: get(lib, "cuptiActivityRegisterCallbacks")?,
            enable: get(lib, "cuptiActivityEnable")?,
            flush_all: get(lib, "cuptiActivityFlushAll")?,
            next_record: get(lib, "cuptiActivityGetNextRecord")?,
            result_string: get(lib, "cuptiGetResultString")?,
            context_id: get(lib, "cuptiGetContextId")?,
        })
    }
}

const SUCCESS: u32 = sys::CUptiResult::CUPTI_SUCCESS as u32;

/// `Ok` on CUPTI_SUCCESS, else "`what` failed: CUPTI's words".
fn checked(api: &Api, code: u32, what: &str) -> Result<(), String> {
    if code == SUCCESS { Ok(()) } else { Err(format!("{what} failed: {}", text(api, code))) }
}

/// Whether this process traces, and if not, why.
pub fn status() -> Result<(), String> {
    TRACER.get().cloned().unwrap_or_else(|| Err("the CUPTI tracer was never set up".into()))
}

/// Subscribe and enable kernel records, and with `copies` copy and memset records too.
fn start(copies: bool) -> Result<(), String> {
    let api = api()?;
    // SAFETY: plain CUPTI calls with valid out-parameters; the callbacks match CUPTI's signatures.
    unsafe {
        let mut subscriber: sys::CUpti_SubscriberHandle = std::ptr::null_mut();
        let code = (api.subscribe)(&mut subscriber, None, std::ptr::null_mut());
        if code == sys::CUptiResult::CUPTI_ERROR_MULTIPLE_SUBSCRIBERS_NOT_SUPPORTED as u32 {
            return Err(format!(
                "another CUPTI client (a profiler or sanitizer such as ncu, nsys or compute-sanitizer) is attached: {}",
                text(api, code)
            ));
        }
        checked(api, code, "cuptiSubscribe")?;
        let code = (api.register)(Some(buffer_requested), Some(buffer_completed));
        checked(api, code, "cuptiActivityRegisterCallbacks")?;
        let code = (api.enable)(sys::CUpti_ActivityKind::CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL as u32);
        checked(api, code, "enabling CUPTI kernel activity")?;
        if copies {
            for (kind, what) in [
                (sys::CUpti_ActivityKind::CUPTI_ACTIVITY_KIND_MEMCPY, "enabling CUPTI copy activity"),
                (sys::CUpti_ActivityKind::CUPTI_ACTIVITY_KIND_MEMSET, "enabling CUPTI memset activity"),
            ] {
                checked(api, (api.enable)(kind as u32), what)?;
            }
        }
    }
    Ok(())
}

/// A copy's direction, as CUPTI's `CUpti_ActivityMemcpyKind` numbers it.
fn copy_kind(kind: u8) -> &'static str {
    match kind {
        1 => "HtoD",
        2 => "DtoH",
        3 => "HtoA",
        4 => "AtoH",
        5 => "AtoA",
        6 => "AtoD",
        7 => "DtoA",
        8 => "DtoD",
        9 => "HtoH",
        10 => "PtoP",
        _ => "unknown",
    }
}

/// "CUPTI_ERROR_…: message", never panicking.
fn text(api: &Api, code: u32) -> String {
    let mut s: *const c_char = std::ptr::null();
    // SAFETY: out-parameter; CUPTI returns a static string (or an error for an unknown code).
    let described = unsafe { (api.result_string)(code, &mut s) } == SUCCESS;
    if !described || s.is_null() {
        return format!("CUPTI error {code}");
    }
    // SAFETY: a NUL-terminated static string from CUPTI.
    unsafe { CStr::from_ptr(s) }.to_string_lossy().into_owned()
}

fn layout() -> Layout {
    Layout::from_size_align(BUFFER_BYTES, BUFFER_ALIGN).expect("a valid layout")
}

unsafe extern "C" fn buffer_requested(buffer: *mut *mut u8, size: *mut usize, max_records: *mut usize) {
    // SAFETY: CUPTI passes valid out-pointers; the buffer is freed in `buffer_completed`.
    unsafe {
        let p = alloc(layout());
        *buffer = p;
        // A null buffer of size 0 makes CUPTI drop the records it cannot store.
        *size = if p.is_null() { 0 } else { BUFFER_BYTES };
        *max_records = 0;
    }
}

unsafe extern "C" fn buffer_completed(_ctx: CUcontext, _stream: u32, buffer: *mut u8, _size: usize, valid: usize) {
    if buffer.is_null() {
        return;
    }
    // A panic must not cross into C.
    // SAFETY: CUPTI hands back a buffer from `buffer_requested` with `valid` bytes of records.
    let read = std::panic::catch_unwind(|| unsafe { read_buffer(buffer, valid) });
    if read.is_err() {
        DROPPED.fetch_add(1, Ordering::Relaxed);
    }
    // SAFETY: allocated in `buffer_requested` with the same layout, freed once.
    unsafe { dealloc(buffer, layout()) };
}

/// Walk one completed buffer and keep its kernel records.
///
/// # Safety
/// `buffer` holds `valid` bytes of CUPTI activity records.
unsafe fn read_buffer(buffer: *mut u8, valid: usize) {
    let mut found = Vec::new();
    let mut record: *mut sys::CUpti_Activity = std::ptr::null_mut();
    // SAFETY: CUPTI walks its own buffer; each record starts with its 32-bit kind. Kernel records
    // are read as CUpti_ActivityKernel10, the version CUDA 13.0's CUPTI writes; later versions
    // (Kernel11) only append fields, and every field read here lies in the prefix shared with
    // Kernel9 as well. Fields are read one by one (never an enum-typed field, whose value might be
    // unknown to these bindings).
    let Ok(api) = api() else { return };
    unsafe {
        while (api.next_record)(buffer, valid, &mut record) == SUCCESS {
            let kind = (record as *const u32).read_unaligned();
            // Copies and memsets (a Python worker's tracer only): Memcpy6 and Memset4 share the
            // prefix read here (bytes, start, end, contextId, streamId) with their earlier versions.
            if kind == sys::CUpti_ActivityKind::CUPTI_ACTIVITY_KIND_MEMCPY as u32 {
                let m = record as *const sys::CUpti_ActivityMemcpy6;
                let what = copy_kind(addr_of!((*m).copyKind).read_unaligned());
                let bytes = addr_of!((*m).bytes).read_unaligned();
                found.push(RawKernel::transfer(
                    format!("[memcpy {what}, {bytes} B]"),
                    (addr_of!((*m).start).read_unaligned(), addr_of!((*m).end).read_unaligned()),
                    addr_of!((*m).streamId).read_unaligned(),
                    addr_of!((*m).contextId).read_unaligned(),
                ));
                continue;
            }
            if kind == sys::CUpti_ActivityKind::CUPTI_ACTIVITY_KIND_MEMSET as u32 {
                let m = record as *const sys::CUpti_ActivityMemset4;
                let bytes = addr_of!((*m).bytes).read_unaligned();
                let mut memset = RawKernel::transfer(
                    format!("[memset, {bytes} B]"),
                    (addr_of!((*m).start).read_unaligned(), addr_of!((*m).end).read_unaligned()),
                    addr_of!((*m).streamId).read_unaligned(),
                    addr_of!((*m).contextId).read_unaligned(),
                );
                memset.memset = Some((addr_of!((*m).value).read_unaligned(), bytes));
                found.push(memset);
                continue;
            }
            if kind != sys::CUpti_ActivityKind::CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL as u32 {
                continue;
            }
            let k = record as *const sys::CUpti_ActivityKernel10;
            let name = addr_of!((*k).name).read_unaligned();
            let dim = |v: i32| v.max(0) as u32;
            let shared = addr_of!((*k).staticSharedMemory).read_unaligned().max(0) as u32
                + addr_of!((*k).dynamicSharedMemory).read_unaligned().max(0) as u32;
            found.push(RawKernel {
                record: KernelRecord {
                    name: if name.is_null() {
                        String::new()
                    } else {
                        CStr::from_ptr(name).to_string_lossy().into_owned()
                    },
                    grid: [
                        dim(addr_of!((*k).gridX).read_unaligned()),
                        dim(addr_of!((*k).gridY).read_unaligned()),
                        dim(addr_of!((*k).gridZ).read_unaligned()),
                    ],
                    block: [
                        dim(addr_of!((*k).blockX).read_unaligned()),
                        dim(addr_of!((*k).blockY).read_unaligned()),
                        dim(addr_of!((*k).blockZ).read_unaligned()),
                    ],
                    registers: addr_of!((*k).registersPerThread).read_unaligned() as u32,
                    shared_bytes: shared,
                    start_ns: addr_of!((*k).start).read_unaligned(),
                    end_ns: addr_of!((*k).end).read_unaligned(),
                    stream: addr_of!((*k).streamId).read_unaligned(),
                },
                context: addr_of!((*k).contextId).read_unaligned(),
                memset: None,
            });
        }
    }
    let mut all = records();
    let room = MAX_RECORDS.saturating_sub(all.len());
    if found.len() > room {
        DROPPED.fetch_add((found.len() - room) as u64, Ordering::Relaxed);
        found.truncate(room);
    }
    all.extend(found);
}

fn flush() -> Result<(), String> {
    let api = api()?;
    // SAFETY: a plain CUPTI call; completed buffers come back through `buffer_completed` before
    // it returns.
    let code = unsafe { (api.flush_all)(sys::CUpti_ActivityFlag::CUPTI_ACTIVITY_FLAG_FLUSH_FORCED as u32) };
    checked(api, code, "cuptiActivityFlushAll")
}

/// CUPTI's id for a context (what its records carry as `contextId`).
///
/// # Safety
/// `ctx` is a live CUDA context.
pub unsafe fn context_id(ctx: CUcontext) -> Option<u32> {
    status().ok()?;
    let api = api().ok()?;
    let mut id = 0u32;
    // SAFETY: `ctx` is a live context; plain out-parameter.
    let r = unsafe { (api.context_id)(ctx, &mut id) } == SUCCESS;
    r.then_some(id)
}

/// Start of a sample: deliver and discard every record so far of the context with CUPTI id
/// `context` (all when unknown). Records of other contexts stay: in a judge with several lanes,
/// another GPU's sample may be under way. Call with the device idle.
pub fn begin(context: Option<u32>) -> Result<(), String> {
    status()?;
    flush()?;
    match context {
        Some(c) => records().retain(|r| r.context != c),
        None => records().clear(),
    }
    DROPPED.store(0, Ordering::Relaxed);
    Ok(())
}

/// End of a sample, after its final synchronize: what the tracer saw since [`begin`], from the
/// context with CUPTI id `context` (all contexts when unknown).
pub fn finish(context: Option<u32>) -> Trace {
    collected(|records, dropped| assemble(records, context, dropped))
}

/// End of a Python call's sample, after the worker's closing marker completed: every record since
/// [`begin`] (all contexts: the process has one), the call's window read from the two marker
/// memsets of value `marker`, its start from the memset of value `start` (see [`assemble_call`]).
pub fn finish_call(marker: u32, copy: u32, start: u32) -> Trace {
    collected(|records, dropped| assemble_call(records, marker, copy, start, dropped))
}

/// Flush and `assemble` what was collected. Kernel timestamps reach CUPTI asynchronously: if a
/// flush right after the synchronize comes back without a trace (no markers yet, or incomplete
/// records), wait a little and flush again.
fn collected(assemble: impl Fn(&[RawKernel], u64) -> Trace) -> Trace {
    let mut trace = Trace::Unavailable { why: String::new() };
    for attempt in 0..4 {
        if attempt > 0 {
            std::thread::sleep(Duration::from_millis(1 << attempt));
        }
        if let Err(why) = status().and_then(|()| flush()) {
            return Trace::Unavailable { why };
        }
        let dropped = DROPPED.load(Ordering::Relaxed);
        trace = assemble(&records(), dropped);
        if !matches!(trace, Trace::Unavailable { .. }) || dropped > 0 {
            break;
        }
    }
    trace
}

/// A 4-byte memset of the worker's marker value.
fn is_marker(r: &RawKernel, marker: u32) -> bool {
    r.memset == Some((marker, 4))
}

/// A Python call's trace from the records collected since [`begin`]. The worker issues a 4-byte
/// memset of a value of its own (`marker`, fresh for each call) and waits for it, once before the
/// call and once after the call's stop event completed: the window runs from the end of the first
/// such memset to the start of the last, on the device's own clock (as the native path's marker
/// kernels; CUPTI's host clock strayed from the records by 36 µs on an H200). What ended before
/// the opening marker ended is the worker's own work before the call (its L2 flush) and is left
/// out, and so are the two markers; everything else is kept, and whether it lies inside the window
/// is the judge's check (`checks::trace`). A call that issues a memset of the same value itself
/// moves neither marker (the first and last are the worker's), and its own is timed like its other
/// work.
///
/// `copy` (not 0): the value of two more memsets the worker issues, after the window, around its
/// own copy of the result into the judge's buffers. What ran between them on their stream is that
/// copy (a strided result is copied by a kernel of PyTorch's), the worker's work and no call's: it
/// is left out with them. Work on any other stream, or on theirs outside them, stays for the
/// judge's check.
///
/// `start` (not 0): the value of a memset the worker issues and waits for just before it calls:
/// the end of the first such memset inside the window is the call's start (`started_ns`), and the
/// memset is left out with the markers. The call cannot issue one before it (the worker's comes
/// first); one it issues itself later is its own work, timed like the rest.
pub fn assemble_call(records: &[RawKernel], marker: u32, copy: u32, start: u32, dropped: u64) -> Trace {
    let unavailable = |why: String| Trace::Unavailable { why };
    if dropped > 0 {
        return unavailable(format!("CUPTI lost {dropped} record(s) of this call"));
    }
    if let Some(r) = records.iter().find(|r| r.start_ns == 0 || r.end_ns < r.start_ns) {
        return unavailable(format!("CUPTI delivered an incomplete record of `{}`", r.name));
    }
    let mut markers: Vec<(usize, &RawKernel)> =
        records.iter().enumerate().filter(|(_, r)| is_marker(r, marker)).collect();
    markers.sort_by_key(|(_, r)| (r.start_ns, r.end_ns));
    let (Some(&(first, open)), Some(&(last, close))) = (markers.first(), markers.last()) else {
        return unavailable("the trace lacks the call's marker memsets (CUPTI delivered 0 of 2)".into());
    };
    if first == last {
        return unavailable("the trace lacks one of the call's marker memsets (CUPTI delivered 1 of 2)".into());
    }
    if open.end_ns > close.start_ns {
        return unavailable(format!("the call's marker memsets overlap ({} to {} ns)", open.end_ns, close.start_ns));
    }
    // The worker issues its copy markers after the window closed, when the call has returned and
    // its work is done: a memset of that value within the call (whose process could learn it) is
    // the call's own work and delimits nothing.
    let mut copies: Vec<&RawKernel> =
        records.iter().filter(|r| copy != 0 && is_marker(r, copy) && r.start_ns >= close.end_ns).collect();
    copies.sort_by_key(|r| (r.start_ns, r.end_ns));
    let span = match copies[..] {
        [from, .., to] => Some((from, to)),
        _ => None,
    };
    let copying = |r: &RawKernel| {
        span.is_some_and(|(from, to)| {
            std::ptr::eq(r, from)
                || std::ptr::eq(r, to)
                || (r.stream == from.stream && r.start_ns >= from.end_ns && r.end_ns <= to.start_ns)
        })
    };
    let begun = records
        .iter()
        .enumerate()
        .filter(|(_, r)| start != 0 && start != marker && is_marker(r, start))
        .filter(|(_, r)| r.start_ns >= open.end_ns && r.end_ns <= close.start_ns)
        .min_by_key(|(_, r)| (r.start_ns, r.end_ns));
    let mut kernels: Vec<KernelRecord> = records
        .iter()
        .enumerate()
        .filter(|&(i, r)| i != first && i != last && r.end_ns > open.end_ns && !copying(r))
        .filter(|&(i, _)| begun.is_none_or(|(b, _)| b != i))
        .map(|(_, r)| r.record())
        .collect();
    kernels.sort_by_key(|k| (k.start_ns, k.end_ns));
    Trace::Call { window_ns: (open.end_ns, close.start_ns), kernels, started_ns: begun.map(|(_, r)| r.end_ns) }
}

/// The sample's trace from the records collected since [`begin`]: the window between the last two
/// markers, and every kernel but sadoku's timing helpers.
pub fn assemble(records: &[RawKernel], context: Option<u32>, dropped: u64) -> Trace {
    let unavailable = |why: String| Trace::Unavailable { why };
    if dropped > 0 {
        return unavailable(format!("CUPTI lost {dropped} kernel record(s) of this sample"));
    }
    let ours: Vec<&RawKernel> = records.iter().filter(|r| context.is_none_or(|c| r.context == c)).collect();
    let mut markers: Vec<&RawKernel> = ours.iter().copied().filter(|r| r.name == MARKER).collect();
    markers.sort_by_key(|r| r.start_ns);
    let [.., before, after] = markers[..] else {
        return unavailable(format!(
            "the trace lacks this sample's marker kernels (CUPTI delivered {} of 2)",
            markers.len()
        ));
    };
    if before.end_ns == 0 || after.start_ns == 0 || before.end_ns > after.start_ns {
        return unavailable(format!(
            "CUPTI delivered incomplete marker records (window {} to {} ns)",
            before.end_ns, after.start_ns
        ));
    }
    let mut kernels: Vec<KernelRecord> =
        ours.iter().filter(|r| !TIMING_HELPERS.contains(&r.name.as_str())).map(|r| r.record()).collect();
    if let Some(k) = kernels.iter().find(|k| k.start_ns == 0 || k.end_ns < k.start_ns) {
        return unavailable(format!("CUPTI delivered an incomplete record of `{}`", k.name));
    }
    kernels.sort_by_key(|k| (k.start_ns, k.end_ns));
    Trace::Traced { stream: before.stream, window_ns: (before.end_ns, after.start_ns), kernels }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(name: &str, start: u64, end: u64, stream: u32, context: u32) -> RawKernel {
        RawKernel {
            record: KernelRecord {
                name: name.into(),
                grid: [4, 2, 1],
                block: [256, 1, 1],
                registers: 32,
                shared_bytes: 1024,
                start_ns: start,
                end_ns: end,
                stream,
            },
            context,
            memset: None,
        }
    }

    fn mark(start: u64, end: u64, value: u32) -> RawKernel {
        let mut m = RawKernel::transfer("[memset, 4 B]".into(), (start, end), 7, 1);
        m.memset = Some((value, 4));
        m
    }

    #[test]
    fn the_window_lies_between_the_last_two_markers_and_helpers_are_left_out() {
        let records = vec![
            rec("sadoku_pattern", 10, 20, 7, 1),
            rec("sadoku_mark", 100, 110, 7, 1),
            rec("candidate", 200, 300, 7, 1),
            rec("sadoku_tril_f32", 310, 320, 7, 1),
            rec("side", 250, 400, 9, 1),
            rec("sadoku_mark", 500, 505, 7, 1),
            rec("sadoku_hash", 600, 700, 7, 1),
            rec("sadoku_sm_clock", 700, 800, 7, 1),
            rec("elsewhere", 200, 300, 7, 2),
        ];
        let Trace::Traced { stream, window_ns, kernels } = assemble(&records, Some(1), 0) else { panic!() };
        assert_eq!(stream, 7);
        assert_eq!(window_ns, (110, 500));
        let names: Vec<&str> = kernels.iter().map(|k| k.name.as_str()).collect();
        assert_eq!(names, ["candidate", "side", "sadoku_tril_f32"]);
        assert_eq!(kernels[1].stream, 9);
        assert_eq!((kernels[0].grid, kernels[0].block, kernels[0].shared_bytes), ([4, 2, 1], [256, 1, 1], 1024));
        // Without a context id every context counts.
        let Trace::Traced { kernels, .. } = assemble(&records, None, 0) else { panic!() };
        assert_eq!(kernels.len(), 4);
    }

    #[test]
    fn missing_markers_lost_records_and_incomplete_records_make_no_trace() {
        let one = vec![rec("sadoku_mark", 100, 110, 7, 1), rec("k", 200, 300, 7, 1)];
        assert!(matches!(assemble(&one, Some(1), 0), Trace::Unavailable { why } if why.contains("1 of 2")));
        let both = vec![rec("sadoku_mark", 100, 110, 7, 1), rec("sadoku_mark", 400, 410, 7, 1)];
        assert!(matches!(assemble(&both, Some(1), 0), Trace::Traced { .. }));
        assert!(matches!(assemble(&both, Some(1), 3), Trace::Unavailable { why } if why.contains("lost 3")));
        let mut torn = both.clone();
        torn.push(rec("k", 0, 0, 7, 1));
        assert!(matches!(assemble(&torn, Some(1), 0), Trace::Unavailable { why } if why.contains("incomplete")));
    }

    #[test]
    fn a_calls_trace_is_every_record_of_every_stream_in_order_between_the_markers() {
        let records = vec![
            rec("own_kernel", 300, 400, 9, 1),
            mark(450, 460, 0xABCD),
            rec("[memcpy HtoD, 64 B]", 100, 150, 7, 1),
            mark(40, 50, 0xABCD),
            rec("[memset, 4096 B]", 200, 250, 7, 1),
        ];
        let Trace::Call { window_ns, kernels, .. } = assemble_call(&records, 0xABCD, 0, 0, 0) else { panic!() };
        assert_eq!(window_ns, (50, 450), "from the opening marker's end to the closing one's start");
        let names: Vec<&str> = kernels.iter().map(|k| k.name.as_str()).collect();
        assert_eq!(names, ["[memcpy HtoD, 64 B]", "[memset, 4096 B]", "own_kernel"]);
        assert_eq!(kernels[2].stream, 9);
        let Trace::Call { kernels, .. } = assemble_call(&[mark(40, 50, 1), mark(450, 460, 1)], 1, 0, 0, 0) else {
            panic!()
        };
        assert!(kernels.is_empty());
    }

    #[test]
    fn what_ended_before_the_call_is_left_out_and_the_rest_is_for_the_judge() {
        let records = vec![
            rec("[memset, 125829120 B]", 5, 30, 7, 1), // the worker's L2 flush
            mark(35, 50, 9),
            rec("straddles", 45, 60, 7, 1),
            mark(450, 460, 9),
            rec("late", 600, 700, 8, 1),
        ];
        let Trace::Call { window_ns, kernels, .. } = assemble_call(&records, 9, 0, 0, 0) else { panic!() };
        assert_eq!(window_ns, (50, 450));
        let names: Vec<&str> = kernels.iter().map(|k| k.name.as_str()).collect();
        assert_eq!(names, ["straddles", "late"]);
    }

    #[test]
    fn the_workers_copy_of_the_result_between_its_copy_markers_is_left_out_and_nothing_else_is() {
        let records = vec![
            mark(40, 50, 9),
            rec("call", 60, 400, 7, 1),
            mark(450, 460, 9),
            mark(470, 480, 5),
            // The worker's copy of a strided result: a kernel of PyTorch's, on the markers' stream.
            rec("direct_copy_kernel", 490, 590, 7, 1),
            mark(600, 610, 5),
            // During the copy on another stream, and after it on the same one: not the copy.
            rec("beside", 500, 520, 8, 1),
            rec("after", 620, 700, 7, 1),
        ];
        let names = |copy: u32| -> Vec<String> {
            let Trace::Call { kernels, .. } = assemble_call(&records, 9, copy, 0, 0) else { panic!() };
            kernels.into_iter().map(|k| k.name).collect()
        };
        assert_eq!(names(5), ["call", "beside", "after"]);
        // Without the copy's value every record stays (and the judge finds the copy late).
        assert_eq!(names(0), ["call", "[memset, 4 B]", "direct_copy_kernel", "beside", "[memset, 4 B]", "after"]);
        // One copy marker delimits nothing.
        let one: Vec<RawKernel> = records.iter().filter(|r| r.start_ns != 600).cloned().collect();
        let Trace::Call { kernels, .. } = assemble_call(&one, 9, 5, 0, 0) else { panic!() };
        assert!(kernels.iter().any(|k| k.name == "direct_copy_kernel"));
        // A call that learnt the copy's value and issues it inside its window, before work of
        // its own on the same stream: that work, and its memset, stay in the trace.
        let mut forged = records.clone();
        forged.push(mark(100, 110, 5));
        forged.push(rec("hidden", 120, 390, 7, 1));
        let Trace::Call { kernels, .. } = assemble_call(&forged, 9, 5, 0, 0) else { panic!() };
        let names: Vec<&str> = kernels.iter().map(|k| k.name.as_str()).collect();
        assert_eq!(names, ["call", "[memset, 4 B]", "hidden", "beside", "after"]);
    }

    #[test]
    fn a_calls_start_is_the_workers_first_start_memset_inside_the_window() {
        // The worker's start memset just before the call; the call's own kernel after its
        // dispatch; then a memset of the same value the call issues itself, which is its work.
        let records =
            vec![mark(40, 50, 3), mark(60, 62, 8), rec("k", 100, 200, 7, 1), mark(210, 212, 8), mark(450, 460, 3)];
        let Trace::Call { kernels, started_ns, .. } = assemble_call(&records, 3, 0, 8, 0) else { panic!() };
        assert_eq!(started_ns, Some(62), "its end: the worker waited for it");
        let names: Vec<&str> = kernels.iter().map(|k| k.name.as_str()).collect();
        assert_eq!(names, ["k", "[memset, 4 B]"], "the worker's start is left out, the call's own is not");
        // No start value, or none in the trace: no start; the call is timed from its first record.
        let Trace::Call { started_ns, kernels, .. } = assemble_call(&records, 3, 0, 0, 0) else { panic!() };
        assert_eq!((started_ns, kernels.len()), (None, 3));
        let Trace::Call { started_ns, .. } = assemble_call(&records, 3, 0, 9, 0) else { panic!() };
        assert_eq!(started_ns, None);
        // One before the window opened is no start of this call's.
        let early = vec![mark(10, 12, 8), mark(40, 50, 3), rec("k", 100, 200, 7, 1), mark(450, 460, 3)];
        let Trace::Call { started_ns, .. } = assemble_call(&early, 3, 0, 8, 0) else { panic!() };
        assert_eq!(started_ns, None);
    }

    #[test]
    fn a_call_that_issues_the_marker_itself_moves_neither_end_of_the_window() {
        // The call learnt the value and issues it in the middle: timed like its other work.
        let records = vec![mark(40, 50, 3), rec("k", 100, 200, 7, 1), mark(210, 220, 3), mark(450, 460, 3)];
        let Trace::Call { window_ns, kernels, .. } = assemble_call(&records, 3, 0, 0, 0) else { panic!() };
        assert_eq!(window_ns, (50, 450));
        assert_eq!(kernels.len(), 2);
        // Another value, or another size, is no marker.
        let mut other = mark(40, 50, 4);
        other.memset = Some((4, 8));
        let records = vec![mark(40, 50, 4), other, rec("k", 100, 200, 7, 1), mark(450, 460, 5)];
        assert!(matches!(assemble_call(&records, 4, 0, 0, 0), Trace::Unavailable { why } if why.contains("1 of 2")));
    }

    #[test]
    fn a_call_with_lost_or_torn_records_or_no_markers_is_untraced() {
        let ok = vec![mark(40, 50, 1), rec("k", 100, 200, 7, 1), mark(450, 460, 1)];
        assert!(matches!(assemble_call(&ok, 1, 0, 0, 2), Trace::Unavailable { why } if why.contains("lost 2")));
        assert!(matches!(assemble_call(&ok, 2, 0, 0, 0), Trace::Unavailable { why } if why.contains("0 of 2")));
        assert!(matches!(assemble_call(&ok[..2], 1, 0, 0, 0), Trace::Unavailable { why } if why.contains("1 of 2")));
        let overlapping = vec![mark(40, 500, 1), mark(450, 460, 1)];
        assert!(
            matches!(assemble_call(&overlapping, 1, 0, 0, 0), Trace::Unavailable { why } if why.contains("overlap"))
        );
        let torn = vec![mark(40, 50, 1), rec("k", 100, 0, 7, 1), mark(450, 460, 1)];
        assert!(matches!(assemble_call(&torn, 1, 0, 0, 0), Trace::Unavailable { why } if why.contains("incomplete")));
        assert_eq!(copy_kind(8), "DtoD");
        assert_eq!(copy_kind(42), "unknown");
    }
}
