//! sadoku's CUPTI tracer (`sadoku_cuda::trace`) behind a C interface, for the Python workers.
//!
//! A Python candidate's call, and the eager baseline's, run in a Python process: CUPTI traces
//! only the process it is loaded in, so the worker loads this library (`ctypes`) and starts the
//! tracer before PyTorch creates its CUDA context. Then, around every timed call:
//!
//! 1. `sadoku_trace_begin()` once the device is idle: what came before is delivered and dropped;
//! 2. the worker's own device work, waited for: its L2 flush, then a 4-byte memset of a fresh
//!    value (the opening marker). The first work after `begin` waits for CUPTI to take up its
//!    buffers again, 0.2-0.5 ms on an H200, which must not fall inside the call (eager PyTorch's
//!    two-kernel l2norm spanned 0.62 ms for 0.30 ms of kernels);
//! 3. a 4-byte memset of another fresh value, waited for (its end is the call's start: the host
//!    time before the call's first device work counts from it), the call, a synchronisation of the
//!    whole device, the stop event; then the opening marker's memset again (the closing marker),
//!    waited for;
//! 4. `sadoku_trace_finish(marker, copy, start)`: every kernel, copy and memset between the markers, on any
//!    stream, and anything after them but the worker's own copy of the result into the judge's
//!    buffers (between two memsets of value `copy` on one stream; 0: none), as the JSON of
//!    `sadoku_core::device::Trace` (`Call`, or `Unavailable` with the reason); see
//!    `sadoku_cuda::trace::assemble_call`.
//!
//! Strings returned are the library's, freed with `sadoku_trace_free`. Nothing here panics across
//! the boundary: every failure is a string.

use std::ffi::{CStr, CString, c_char};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use sadoku_core::device::Trace;
use sadoku_cuda::trace;

fn owned(text: String) -> *mut c_char {
    // An interior NUL cannot occur in these messages; if it did, say so rather than fail.
    CString::new(text).unwrap_or_else(|_| c"(a message with a NUL byte)".to_owned()).into_raw()
}

fn guarded(f: impl FnOnce() -> Result<(), String> + std::panic::UnwindSafe) -> *mut c_char {
    match std::panic::catch_unwind(f) {
        Ok(Ok(())) => std::ptr::null_mut(),
        Ok(Err(why)) => owned(why),
        Err(_) => owned("sadoku's tracer panicked".into()),
    }
}

/// Start the process's tracer (kernels, copies, memsets). `cupti`: the path of the CUPTI library
/// already loaded into the process, or null to find one in the toolkit. Null when tracing, else
/// why not.
///
/// # Safety
/// `cupti` is null or a NUL-terminated path.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sadoku_trace_start(cupti: *const c_char) -> *mut c_char {
    let library = if cupti.is_null() {
        None
    } else {
        // SAFETY: the caller passes a NUL-terminated string.
        match unsafe { CStr::from_ptr(cupti) }.to_str() {
            Ok(p) => Some(p.to_string()),
            Err(_) => return owned("the CUPTI path is not UTF-8".into()),
        }
    };
    guarded(move || trace::init_for_calls(library.as_deref().map(Path::new)))
}

/// How many times [`sadoku_trace_begin`] ran (see [`sadoku_trace_resets`]).
static RESETS: AtomicU64 = AtomicU64::new(0);

/// Deliver and drop every record so far. Null on success, else why not.
#[unsafe(no_mangle)]
pub extern "C" fn sadoku_trace_begin() -> *mut c_char {
    RESETS.fetch_add(1, Ordering::SeqCst);
    guarded(|| trace::begin(None))
}

/// How many times the records were dropped, ever: the worker reads it after its own `begin` and
/// again after the call, so that a call that dropped its own records (calling `begin` itself, to
/// hide a kernel) is caught.
#[unsafe(no_mangle)]
pub extern "C" fn sadoku_trace_resets() -> u64 {
    RESETS.load(Ordering::SeqCst)
}

/// The JSON of the call's `Trace`, between the worker's two memsets of value `marker`, its copy
/// between two of value `copy` left out (0: no copy markers), its start at the worker's memset of
/// value `start` (0: none).
#[unsafe(no_mangle)]
pub extern "C" fn sadoku_trace_finish(marker: u32, copy: u32, start: u32) -> *mut c_char {
    let trace = std::panic::catch_unwind(|| trace::finish_call(marker, copy, start))
        .unwrap_or_else(|_| Trace::Unavailable { why: "sadoku's tracer panicked".into() });
    owned(serde_json::to_string(&trace).unwrap_or_else(|e| {
        format!(r#"{{"Unavailable":{{"why":"the trace could not be written: {}"}}}}"#, e.to_string().replace('"', "'"))
    }))
}

/// Free a string this library returned.
///
/// # Safety
/// `text` is null or a string from this library, freed once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sadoku_trace_free(text: *mut c_char) {
    if !text.is_null() {
        // SAFETY: made by CString::into_raw in this library.
        drop(unsafe { CString::from_raw(text) });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn take(p: *mut c_char) -> Option<String> {
        if p.is_null() {
            return None;
        }
        // SAFETY: a string from this library.
        let s = unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned();
        // SAFETY: as above, freed once.
        unsafe { sadoku_trace_free(p) };
        Some(s)
    }

    #[test]
    fn without_a_tracer_every_call_says_why_and_nothing_panics() {
        // No tracer was started in this process: begin says so, and a finish is an untraced
        // sample in the judge's own format.
        let before = sadoku_trace_resets();
        let why = take(sadoku_trace_begin()).expect("begin fails without a tracer");
        assert!(why.contains("never set up"), "{why}");
        assert_eq!(sadoku_trace_resets(), before + 1, "every begin is counted, even a failed one");
        let json = take(sadoku_trace_finish(1, 0, 0)).unwrap();
        let trace: Trace = serde_json::from_str(&json).unwrap();
        assert!(matches!(trace, Trace::Unavailable { why } if why.contains("never set up")), "{json}");

        // A CUPTI library that is not there (or no driver) is a reason, not a crash.
        let path = CString::new("/nonexistent/libcupti.so.13").unwrap();
        // SAFETY: a NUL-terminated path.
        let why = take(unsafe { sadoku_trace_start(path.as_ptr()) }).expect("no tracer without CUPTI");
        // Without a driver (CI) that is said first; with one, the missing file.
        assert!(
            why == "no NVIDIA driver (libcuda) to trace"
                || why.contains("cannot load CUPTI from /nonexistent/libcupti.so.13"),
            "{why}"
        );
        // The first answer stands.
        // SAFETY: null is allowed.
        assert_eq!(take(unsafe { sadoku_trace_start(std::ptr::null()) }), Some(why.clone()));
        assert_eq!(take(sadoku_trace_begin()), Some(why));
        // SAFETY: null is allowed.
        unsafe { sadoku_trace_free(std::ptr::null_mut()) };
    }
}
