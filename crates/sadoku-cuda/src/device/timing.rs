//! Timing: a timed sample (L2 flushed, bracketed by CUDA events and by the trace markers that
//! CUPTI's record is cut at, the SM clock read right after), the best-of-five event timing the
//! ceilings use, and the SM clock probe. What a sample claims rests on this order of work, so it
//! lives in one place.

use std::ffi::c_void;
use std::time::{Duration, Instant};

use cudarc::driver::{result, sys};
use sadoku_core::device::{DeviceError, Sample, TimedRun, Trace, Work};

use super::CudaDevice;
use super::errors::env;
use crate::trace;

/// How long the per-sample SM clock probe spins.
const SAMPLE_CLOCK_SPIN_NS: u64 = 20_000;

impl CudaDevice {
    /// Measure the SM clock now: clock64 cycles over globaltimer nanoseconds while spinning.
    pub fn measure_sm_clock(&mut self) -> Result<f64, DeviceError> {
        let out = self.alloc_plain(16)?;
        let result = (|| {
            let state = self.state()?;
            let f = state.helpers.functions["sadoku_sm_clock"];
            let mut ptr = self.ptr(out)?;
            let mut spin: u64 = Duration::from_millis(20).as_nanos() as u64;
            let mut params: Vec<*mut c_void> = vec![(&mut ptr as *mut u64).cast(), (&mut spin as *mut u64).cast()];
            // SAFETY: matches the helper's signature.
            unsafe { result::launch_kernel(f, (1, 1, 1), (32, 1, 1), 0, state.stream, &mut params) }
                .map_err(env("clock launch"))?;
            self.sync().map_err(env("clock kernel"))?;
            let mut words = [0u64; 2];
            // SAFETY: `ptr` holds 16 bytes.
            unsafe { result::memcpy_dtoh_sync(&mut words, ptr) }.map_err(env("reading the clock"))?;
            Ok(words[0] as f64 / words[1].max(1) as f64 * 1e3)
        })();
        self.free_buffer(out);
        let mhz = result?;
        self.info.sm_clock_mhz = Some(mhz);
        Ok(mhz)
    }

    /// Run `op` once to warm up, then five times between the device's events: the best time, ms.
    pub(super) fn best_ms(
        &self,
        what: &str,
        op: &dyn Fn(&Self) -> Result<(), DeviceError>,
    ) -> Result<f64, DeviceError> {
        let (stream, start, stop) = {
            let s = self.state()?;
            (s.stream, s.start, s.stop)
        };
        op(self)?;
        self.sync().map_err(env(what))?;
        let mut best = f64::INFINITY;
        for _ in 0..5 {
            // SAFETY: events and stream of the live state.
            unsafe { result::event::record(start, stream) }.map_err(env("event record"))?;
            op(self)?;
            // SAFETY: as above.
            unsafe {
                result::event::record(stop, stream).map_err(env("event record"))?;
                result::event::synchronize(stop).map_err(env(what))?;
                best = best.min(result::event::elapsed(start, stop).map_err(env("event elapsed"))? as f64);
            }
        }
        Ok(best)
    }

    /// [`sadoku_core::device::Device::time`].
    pub(super) fn time_sample(&mut self, run: &TimedRun) -> Result<Sample, DeviceError> {
        // Whatever the trace holds from before this sample is not part of it.
        let context = self.state()?.trace_context;
        let tracing = trace::status().and_then(|()| trace::begin(context));

        let state = self.state()?;
        let (stream, start, stop, scratch, trace_context) =
            (state.stream, state.start, state.stop, state.scratch.ptr, state.trace_context);
        // 1. Flush L2. SAFETY: handles of the live state; the flush buffer holds flush_words words.
        unsafe {
            // A persisting-L2 window would survive the flush.
            sys::cuCtxResetPersistingL2Cache().result().map_err(env("resetting persisting L2"))?;
            sys::cuMemsetD32Async(state.flush.ptr, 0, state.flush_words, stream).result().map_err(env("L2 flush"))?;
        }
        // 2. The marker that opens the trace window; then wait, so that the wall clock below
        // covers the timed work alone.
        self.launch_helper(trace::MARKER, 1, 1, &[])?;
        self.sync().map_err(env("preparing a timed run"))?;

        // 3. The timed work.
        let t0 = Instant::now();
        // SAFETY: handles of the live state.
        unsafe { result::event::record(start, stream) }.map_err(env("event record"))?;
        for w in &run.work {
            match w {
                Work::Launch(l) => self.enqueue_launch(l)?,
                Work::Library(op) => self.enqueue_library(op)?,
            }
        }
        // SAFETY: as above.
        unsafe { result::event::record(stop, stream) }.map_err(env("event record"))?;
        // SAFETY: as above.
        if let Err(e) = unsafe { result::event::synchronize(stop) } {
            let kernel =
                run.work.iter().find_map(|w| if let Work::Launch(l) = w { Some(l.kernel.clone()) } else { None });
            return Err(match kernel {
                Some(k) => self.fault(&format!("{k} (timed run)"), e),
                None => env("timed library work")(e),
            });
        }
        let wall_ms = t0.elapsed().as_secs_f64() * 1e3;
        // SAFETY: both events have completed.
        let ms = unsafe { result::event::elapsed(start, stop) }.map_err(env("event elapsed"))? as f64;

        // 4. The marker that closes the trace window.
        self.launch_helper(trace::MARKER, 1, 1, &[])?;

        // 5. The SM clock right after the sample.
        self.launch_helper("sadoku_sm_clock", 1, 32, &[scratch, SAMPLE_CLOCK_SPIN_NS])?;

        // 6. Wait, read the clock back, and collect the trace.
        self.sync().map_err(env("sadoku's clock helper after a timed run"))?;
        let mut words = [0u64; 2];
        // SAFETY: the stream is idle and the slots hold 16 bytes.
        unsafe { result::memcpy_dtoh_sync(&mut words, scratch) }.map_err(env("reading the SM clock back"))?;
        let sm_clock_mhz = (words[1] > 0).then(|| words[0] as f64 / words[1] as f64 * 1e3);
        let trace = match tracing {
            Ok(()) => trace::finish(trace_context),
            Err(why) => Trace::Unavailable { why },
        };
        Ok(Sample { ms, wall_ms, sm_clock_mhz, trace, judge_ms: None, pending: false })
    }
}
