//! A CUDA GPU behind `sadoku_core::device::Device`, on the driver API.
//!
//! One stream, explicit allocations, cuBLAS for references and baselines, and a small helper
//! module (tril, SM clock, the input generator, poison patterns, content hashes, the comparators,
//! trace markers, an FMA peak kernel). Allocations are shared with a candidate's worker process
//! through CUDA IPC ([`Device::export`], [`Device::import`]). Timed samples are traced with CUPTI
//! when it is available ([`crate::trace`]). After a kernel fault the CUDA context is unusable
//! ("sticky" errors), so the device refuses further work with `DeviceError::ContextLost`.

use std::collections::HashMap;
use std::ffi::{CString, c_char, c_void};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use cudarc::cublas::{result as cublas, sys as cublas_sys};
use cudarc::driver::{DriverError, result, sys};
use sadoku_core::compile::{CompileError, CompileRequest, CompiledModule, Compiler};
use sadoku_core::device::{
    Buffer, Ceilings, Comparison, Device, DeviceError, DeviceInfo, Difference, KernelArg, Launch, LibraryOp,
    ModuleHandle, PoisonWords, Precision, SHARE_BLOCK, Sample, SharedHandle, TimedRun, Trace, Work,
};
use sadoku_core::problem::{Distribution, Dtype};
use serde::{Deserialize, Serialize};

use crate::nvrtc::Nvrtc;
use crate::{libs, trace};

/// Shared memory a block gets without opting in.
const DEFAULT_SHARED_LIMIT: u32 = 48 << 10;

const HELPERS: &str = r#"
extern "C" __global__ void sadoku_tril_f32(float* c, long long n) {
    // Out of place in torch, in place here: every element read and written, as torch's tril does.
    for (long long i = blockIdx.y; i < n; i += gridDim.y)
        for (long long j = blockIdx.x * (long long)blockDim.x + threadIdx.x; j < n; j += (long long)gridDim.x * blockDim.x) {
            float v = c[i * n + j];
            c[i * n + j] = j <= i ? v : 0.0f;
        }
}

extern "C" __global__ void sadoku_sm_clock(unsigned long long* out, unsigned long long spin_ns) {
    unsigned long long t0, t1;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t0));
    long long c0 = clock64();
    do { asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t1)); } while (t1 - t0 < spin_ns);
    long long c1 = clock64();
    if (threadIdx.x == 0) { out[0] = (unsigned long long)(c1 - c0); out[1] = t1 - t0; }
}

// SplitMix64's finaliser, bit for bit sadoku_core::device::mix64.
__device__ __forceinline__ unsigned long long sadoku_mix64(unsigned long long z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// Element types, as sadoku-cuda numbers them: 0 f32, 1 f16, 2 bf16, 3 i32, 4 i64, 5 f64.
#define SADOKU_F32 0
#define SADOKU_F16 1
#define SADOKU_BF16 2
#define SADOKU_I32 3
#define SADOKU_I64 4
#define SADOKU_F64 5
#define SADOKU_WIDE(t) ((t) == SADOKU_I64 || (t) == SADOKU_F64)

// Element i of a buffer of type t, as bits.
__device__ __forceinline__ unsigned long long sadoku_load(const void* p, long long i, int t) {
    if (t == SADOKU_F16 || t == SADOKU_BF16) return ((const unsigned short*)p)[i];
    if (SADOKU_WIDE(t)) return ((const unsigned long long*)p)[i];
    return ((const unsigned*)p)[i];
}

__device__ __forceinline__ void sadoku_store(void* p, long long i, int t, unsigned long long bits) {
    if (t == SADOKU_F16 || t == SADOKU_BF16) ((unsigned short*)p)[i] = (unsigned short)bits;
    else if (SADOKU_WIDE(t)) ((unsigned long long*)p)[i] = bits;
    else ((unsigned*)p)[i] = (unsigned)bits;
}

// sadoku_core::device::element::value: exact for every type (i64 rounded to nearest above 2^53).
__device__ __forceinline__ double sadoku_value(unsigned long long b, int t) {
    if (t == SADOKU_F32) return (double)__uint_as_float((unsigned)b);
    if (t == SADOKU_F16) {
        float f;
        const unsigned short h = (unsigned short)b;
        asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
        return (double)f;
    }
    if (t == SADOKU_BF16) return (double)__uint_as_float((unsigned)b << 16);
    if (t == SADOKU_I32) return (double)(int)(unsigned)b;
    if (t == SADOKU_F64) return __longlong_as_double((long long)b);
    return (double)(long long)b;
}

__device__ __forceinline__ bool sadoku_finite_t(unsigned long long b, int t) {
    if (t == SADOKU_F32) return (b & 0x7F800000ull) != 0x7F800000ull;
    if (t == SADOKU_F16) return (b & 0x7C00ull) != 0x7C00ull;
    if (t == SADOKU_BF16) return (b & 0x7F80ull) != 0x7F80ull;
    if (t == SADOKU_F64) return (b & 0x7FF0000000000000ull) != 0x7FF0000000000000ull;
    return true;
}

__device__ __forceinline__ bool sadoku_nan_t(unsigned long long b, int t) {
    if (t == SADOKU_F32) return (b & 0x7FFFFFFFull) > 0x7F800000ull;
    if (t == SADOKU_F16) return (b & 0x7FFFull) > 0x7C00ull;
    if (t == SADOKU_BF16) return (b & 0x7FFFull) > 0x7F80ull;
    if (t == SADOKU_F64) return (b & 0x7FFFFFFFFFFFFFFFull) > 0x7FF0000000000000ull;
    return false;
}

// sadoku_core::device::element::underflow: half the smallest fp16 subnormal for f16, the smallest
// normal number for f32, bf16 and f64, else 0.
__device__ __forceinline__ double sadoku_underflow(int t) {
    if (t == SADOKU_F16) return 2.9802322387695312e-08;  // 2^-25
    if (t == SADOKU_F32 || t == SADOKU_BF16) return 1.1754943508222875e-38;  // 2^-126
    if (t == SADOKU_F64) return 2.2250738585072014e-308;  // 2^-1022
    return 0.0;
}

// sadoku_core::device::element::abs.
__device__ __forceinline__ unsigned long long sadoku_abs_t(unsigned long long b, int t) {
    if (t == SADOKU_F32) return b & 0x7FFFFFFFull;
    if (t == SADOKU_F16 || t == SADOKU_BF16) return b & 0x7FFFull;
    if (t == SADOKU_F64) return b & 0x7FFFFFFFFFFFFFFFull;
    if (t == SADOKU_I32) { const int v = (int)(unsigned)b; return (unsigned)(v < 0 ? 0u - (unsigned)v : (unsigned)v); }
    const long long v = (long long)b;
    return v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
}

// sadoku_core::device::element::from_f32 for the floating-point types (to nearest, ties to even).
__device__ __forceinline__ unsigned long long sadoku_from_f32(float v, int t) {
    if (t == SADOKU_F16) { unsigned short h; asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(v)); return h; }
    if (t == SADOKU_BF16) { unsigned short h; asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(h) : "f"(v)); return h; }
    return __float_as_uint(v);
}

// sadoku_core::device::repeat_word: an element of a buffer filled with the 32-bit word w.
__device__ __forceinline__ unsigned long long sadoku_repeat_word(unsigned long long w, int t) {
    if (t == SADOKU_F16 || t == SADOKU_BF16) return w & 0xFFFFull;
    if (SADOKU_WIDE(t)) return (w << 32) | (w & 0xFFFFFFFFull);
    return w & 0xFFFFFFFFull;
}

// sadoku_core::device::pattern_element: never NaN or infinite for floating-point types (an
// all-ones exponent has its lowest bit flipped).
__device__ __forceinline__ unsigned long long sadoku_pattern_element(unsigned long long seed, unsigned long long i, int t) {
    const unsigned long long m = sadoku_mix64(seed ^ (i * 0x9E3779B97F4A7C15ull));
    unsigned long long bits, exponent;
    if (t == SADOKU_F32) { bits = m >> 32; exponent = 0x7F800000ull; }
    else if (t == SADOKU_I32) { bits = m >> 32; exponent = 0; }
    else if (t == SADOKU_F16) { bits = m >> 48; exponent = 0x7C00ull; }
    else if (t == SADOKU_BF16) { bits = m >> 48; exponent = 0x7F80ull; }
    else if (t == SADOKU_F64) { bits = m; exponent = 0x7FF0000000000000ull; }
    else { bits = m; exponent = 0; }
    return exponent != 0 && (bits & exponent) == exponent ? bits ^ (exponent & (0ull - exponent)) : bits;
}

// p[i] = pattern_element(seed, i, t).
extern "C" __global__ void sadoku_pattern(void* p, long long n, unsigned long long seed, int t) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        sadoku_store(p, i, t, sadoku_pattern_element(seed, (unsigned long long)i, t));
}

// Philox4x32-10, bit for bit sadoku_core::generate::philox4x32_10.
__device__ __forceinline__ uint4 sadoku_philox(uint4 c, unsigned k0, unsigned k1) {
#pragma unroll
    for (int round = 0; round < 10; ++round) {
        const unsigned hi0 = __umulhi(0xD2511F53u, c.x), lo0 = 0xD2511F53u * c.x;
        const unsigned hi1 = __umulhi(0xCD9E8D57u, c.z), lo1 = 0xCD9E8D57u * c.z;
        c = make_uint4(hi1 ^ c.y ^ k0, lo1, hi0 ^ c.w ^ k1, lo0);
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    return c;
}

// Exact 2^e for -1074 <= e <= 1023, by its bits: sadoku_core::generate::pow2.
__device__ __forceinline__ double sadoku_pow2(long long e) {
    return e >= -1022 ? __longlong_as_double((e + 1023) << 52) : __longlong_as_double(1ll << (e + 1074));
}

// p[i] = sadoku_core::generate::element(draw, i), line for line. dist: 0 randn(a, b), 1
// uniform(a, b), 2 int(lo, hi) plus a (ties(k): lo 0, hi k, a its offset), 3 sorted(a, b) along
// rows of cols, 4 zero_rows: a row whose hash is below lo is zero, the others randn(a, b), 5
// ±m·2^e with e in [lo, hi] (exp2 and subnormal); t the element type. Every floating-point
// operation is spelled with its rounding so that nothing is contracted into an FMA the host does
// not do; log and cos are CUDA's (within 1 ulp of the host's).
extern "C" __global__ void sadoku_generate(void* p, long long n, unsigned long long seed, int dist, double a, double b,
                                           float scale, long long cols, int lower, int t, long long lo, long long hi) {
    const unsigned k0 = (unsigned)seed, k1 = (unsigned)(seed >> 32);
    const unsigned long long row_length = cols > 0 ? (unsigned long long)cols : 1ull;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        if (lower && cols > 0 && i % cols > i / cols) {
            sadoku_store(p, i, t, 0ull);
            continue;
        }
        const unsigned long long u = (unsigned long long)i;
        if (dist == 4) {
            // zero_rows: the row's own hash, on counter (row, 1): sadoku_core::generate::zero_row.
            const unsigned long long row = u / row_length;
            const uint4 h = sadoku_philox(make_uint4((unsigned)row, (unsigned)(row >> 32), 1u, 0u), k0, k1);
            if ((unsigned long long)h.x < (unsigned long long)lo) {
                sadoku_store(p, i, t, 0ull);
                continue;
            }
        }
        const uint4 r = sadoku_philox(make_uint4((unsigned)u, (unsigned)(u >> 32), 0u, 0u), k0, k1);
        double v;
        if (dist == 2) {
            // int(lo, hi): 64 random bits modulo the range.
            const unsigned long long range = (unsigned long long)hi - (unsigned long long)lo;
            const long long k = (long long)((unsigned long long)lo + ((((unsigned long long)r.x << 32) | r.y) % range));
            if (t == SADOKU_I32 || t == SADOKU_I64) {
                sadoku_store(p, i, t, t == SADOKU_I32 ? (unsigned long long)(unsigned)(int)k : (unsigned long long)k);
                continue;
            }
            v = __dadd_rn((double)k, a);
        } else if (dist == 0 || dist == 4) {
            // randn(a = mean, b = std). Box-Muller in fp64: u1 in (0, 1], u2 in [0, 1), 53 random
            // bits each (exact conversions).
            const double two_53 = 1.0 / 9007199254740992.0;
            const double u1 = __dmul_rn((double)(((((unsigned long long)r.x << 32) | r.y) >> 11) + 1ull), two_53);
            const double u2 = __dmul_rn((double)((((unsigned long long)r.z << 32) | r.w) >> 11), two_53);
            const double z = __dmul_rn(__dsqrt_rn(__dmul_rn(-2.0, log(u1))), cos(__dmul_rn(6.283185307179586, u2)));
            v = __dadd_rn(__dmul_rn(z, b), a);
        } else if (dist == 3) {
            // sorted(a, b): a + (b - a)·(c + u)/n for column c of a row of n.
            const double u01 = __dmul_rn((double)(r.x >> 8), 1.0 / 16777216.0);
            const double f = __ddiv_rn(__dadd_rn((double)(u % row_length), u01), (double)row_length);
            v = __dadd_rn(a, __dmul_rn(__dadd_rn(b, -a), f));
        } else if (dist == 5) {
            // ±(1 + u)·2^e, e = lo + r.y mod (hi - lo + 1), the sign r.x's top bit.
            const long long e = lo + (long long)((unsigned long long)r.y % (unsigned long long)(hi - lo + 1));
            const double m = __dmul_rn(__dadd_rn(1.0, __dmul_rn((double)(r.z >> 8), 1.0 / 16777216.0)), sadoku_pow2(e));
            v = (r.x >> 31) ? -m : m;
        } else {
            // uniform(a = lo, b = hi) from 24 random bits: exactly representable, in [0, 1).
            const double u01 = __dmul_rn((double)(r.x >> 8), 1.0 / 16777216.0);
            v = __dadd_rn(a, __dmul_rn(__dadd_rn(b, -a), u01));
        }
        const double scaled = __dmul_rn(v, (double)scale);
        sadoku_store(p, i, t, t == SADOKU_F64 ? (unsigned long long)__double_as_longlong(scaled)
                                              : sadoku_from_f32(__double2float_rn(scaled), t));
    }
}

// dst[i] = |src[i]|, elements of type t.
extern "C" __global__ void sadoku_abs(const void* src, void* dst, long long n, int t) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        sadoku_store(dst, i, t, sadoku_abs_t(sadoku_load(src, i, t), t));
}

// dst[i] = src[i] (or |src[i]|) widened from type t to fp64.
extern "C" __global__ void sadoku_upcast(const void* src, double* dst, long long n, int abs, int t) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        const unsigned long long b = sadoku_load(src, i, t);
        dst[i] = sadoku_value(abs ? sadoku_abs_t(b, t) : b, t);
    }
}

// The comparators: a fixed grid of blocks writes one partial summary each (8 words), then one
// block folds the partials in a fixed order. Every reduction is a fixed tree, so a given n on a
// given GPU always adds in the same order: the results are deterministic.
#define SADOKU_THREADS 256
#define SADOKU_NONE 0xFFFFFFFFFFFFFFFFull

__device__ __forceinline__ double sadoku_inf() { return __longlong_as_double(0x7FF0000000000000ll); }

// sadoku_core::device::compare::Comparison, less what the finishing block reads by index.
struct SadokuCmp {
    double err2, ref2, scale2, worst;
    unsigned long long over, nonfinite, unwritten, first_unwritten, worst_index;
};

__device__ __forceinline__ SadokuCmp sadoku_cmp_empty() {
    SadokuCmp c;
    c.err2 = 0.0; c.ref2 = 0.0; c.scale2 = 0.0; c.worst = -1.0;
    c.over = 0; c.nonfinite = 0; c.unwritten = 0; c.first_unwritten = SADOKU_NONE; c.worst_index = SADOKU_NONE;
    return c;
}

// Fold b into a: sums, counts, the first index, and the largest ratio with the lowest index among ties.
__device__ __forceinline__ void sadoku_cmp_merge(SadokuCmp& a, const SadokuCmp& b) {
    a.err2 = __dadd_rn(a.err2, b.err2);
    a.ref2 = __dadd_rn(a.ref2, b.ref2);
    a.scale2 = __dadd_rn(a.scale2, b.scale2);
    a.over += b.over;
    a.nonfinite += b.nonfinite;
    a.unwritten += b.unwritten;
    a.first_unwritten = min(a.first_unwritten, b.first_unwritten);
    if (b.worst > a.worst || (b.worst == a.worst && b.worst_index < a.worst_index)) {
        a.worst = b.worst;
        a.worst_index = b.worst_index;
    }
}

// Tree reduction over a block of SADOKU_THREADS threads; every thread gets the block's summary.
__device__ SadokuCmp sadoku_cmp_block(SadokuCmp c) {
    __shared__ SadokuCmp s[SADOKU_THREADS];
    s[threadIdx.x] = c;
    __syncthreads();
    for (unsigned k = SADOKU_THREADS / 2; k > 0; k >>= 1) {
        if (threadIdx.x < k) sadoku_cmp_merge(s[threadIdx.x], s[threadIdx.x + k]);
        __syncthreads();
    }
    return s[0];
}

// sadoku_core::device::compare::compare_host over this block's share of the elements (grid-stride,
// each thread in increasing index order); the block's summary goes to part[9 * blockIdx.x ..].
// poison_kind: 0 the buffer was filled with the 32-bit word `poison`, 1 element i held
// pattern_element(poison, i, ty). Elements of type ty.
extern "C" __global__ void __launch_bounds__(SADOKU_THREADS) sadoku_compare(
    const void* got, const double* values, const double* scale, long long n, double factor, int poison_kind,
    unsigned long long poison, unsigned long long* part, int ty) {
    SadokuCmp c = sadoku_cmp_empty();
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        const unsigned long long bits = sadoku_load(got, i, ty);
        const double t = values[i];
        double ratio;
        if (sadoku_finite_t(bits, ty)) {
            // compare::ratio, one rounding per operation as on the host.
            const double e = __dadd_rn(sadoku_value(bits, ty), -t);
            const double err = fabs(e);
            const double bound = __dadd_rn(__dmul_rn(factor, scale[i]), sadoku_underflow(ty));
            ratio = err == 0.0 ? 0.0 : bound == 0.0 ? sadoku_inf() : __ddiv_rn(err, bound);
            c.err2 = __dadd_rn(c.err2, __dmul_rn(e, e));
        } else {
            ratio = sadoku_inf();
            c.nonfinite += 1;
        }
        const unsigned long long word = poison_kind == 0 ? sadoku_repeat_word(poison, ty)
                                                         : sadoku_pattern_element(poison, (unsigned long long)i, ty);
        if (bits == word && ratio > 1.0) {
            c.unwritten += 1;
            if (c.first_unwritten == SADOKU_NONE) c.first_unwritten = (unsigned long long)i;
        }
        c.ref2 = __dadd_rn(c.ref2, __dmul_rn(t, t));
        if (isfinite(scale[i])) c.scale2 = __dadd_rn(c.scale2, __dmul_rn(scale[i], scale[i]));
        if (ratio > 1.0) c.over += 1;
        if (ratio > c.worst) {
            c.worst = ratio;
            c.worst_index = (unsigned long long)i;
        }
    }
    c = sadoku_cmp_block(c);
    if (threadIdx.x == 0) {
        unsigned long long* w = part + 9 * (unsigned long long)blockIdx.x;
        w[0] = (unsigned long long)__double_as_longlong(c.err2);
        w[1] = (unsigned long long)__double_as_longlong(c.ref2);
        w[8] = (unsigned long long)__double_as_longlong(c.scale2);
        w[2] = c.over;
        w[3] = c.nonfinite;
        w[4] = c.unwritten;
        w[5] = c.first_unwritten;
        w[6] = (unsigned long long)__double_as_longlong(c.worst);
        w[7] = c.worst_index;
    }
}

// One block: folds sadoku_compare's `blocks` partials in a fixed order and writes the 16 words of
// Comparison::to_words to out.
extern "C" __global__ void __launch_bounds__(SADOKU_THREADS) sadoku_compare_finish(
    const void* got, const double* values, long long n, const unsigned long long* part, int blocks,
    unsigned long long* out, int ty) {
    SadokuCmp c = sadoku_cmp_empty();
    for (int b = threadIdx.x; b < blocks; b += blockDim.x) {
        const unsigned long long* w = part + 9 * (unsigned long long)b;
        SadokuCmp p;
        p.err2 = __longlong_as_double((long long)w[0]);
        p.ref2 = __longlong_as_double((long long)w[1]);
        p.scale2 = __longlong_as_double((long long)w[8]);
        p.over = w[2];
        p.nonfinite = w[3];
        p.unwritten = w[4];
        p.first_unwritten = w[5];
        p.worst = __longlong_as_double((long long)w[6]);
        p.worst_index = w[7];
        sadoku_cmp_merge(c, p);
    }
    c = sadoku_cmp_block(c);
    if (threadIdx.x == 0) {
        const bool any = c.worst_index != SADOKU_NONE;
        out[0] = (unsigned long long)__double_as_longlong(c.err2);
        out[1] = (unsigned long long)__double_as_longlong(c.ref2);
        out[2] = c.over;
        out[3] = c.nonfinite;
        out[4] = c.unwritten;
        out[5] = c.first_unwritten;
        out[6] = (unsigned long long)__double_as_longlong(c.worst);
        out[7] = c.worst_index;
        out[8] = any ? sadoku_load(got, (long long)c.worst_index, ty) : 0ull;
        out[9] = any ? (unsigned long long)__double_as_longlong(values[c.worst_index]) : 0ull;
        out[10] = (unsigned long long)n;
        out[11] = (unsigned long long)__double_as_longlong(c.scale2);
        for (int k = 12; k < 16; ++k) out[k] = 0ull;
    }
}

// sadoku_core::device::compare::Difference, less what the finishing block reads by index.
struct SadokuDiff {
    unsigned long long differ, moved, first;
};

__device__ __forceinline__ void sadoku_diff_merge(SadokuDiff& a, const SadokuDiff& b) {
    a.differ += b.differ;
    a.moved += b.moved;
    a.first = min(a.first, b.first);
}

__device__ SadokuDiff sadoku_diff_block(SadokuDiff d) {
    __shared__ SadokuDiff s[SADOKU_THREADS];
    s[threadIdx.x] = d;
    __syncthreads();
    for (unsigned k = SADOKU_THREADS / 2; k > 0; k >>= 1) {
        if (threadIdx.x < k) sadoku_diff_merge(s[threadIdx.x], s[threadIdx.x + k]);
        __syncthreads();
    }
    return s[0];
}

// sadoku_core::device::compare::diff_host over this block's share; the summary goes to part[8 * blockIdx.x ..].
extern "C" __global__ void __launch_bounds__(SADOKU_THREADS) sadoku_diff(
    const void* first, const void* second, const double* scale, long long n, double factor,
    unsigned long long* part, int ty) {
    SadokuDiff d;
    d.differ = 0; d.moved = 0; d.first = SADOKU_NONE;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        const unsigned long long a = sadoku_load(first, i, ty), b = sadoku_load(second, i, ty);
        if (a == b) continue;
        d.differ += 1;
        const bool both_nan = sadoku_nan_t(a, ty) && sadoku_nan_t(b, ty);
        const double gap = fabs(__dadd_rn(sadoku_value(a, ty), -sadoku_value(b, ty)));
        const bool within = gap <= __dadd_rn(__dmul_rn(factor, scale[i]), 2.0 * sadoku_underflow(ty));
        if (!both_nan && !within) {
            d.moved += 1;
            if (d.first == SADOKU_NONE) d.first = (unsigned long long)i;
        }
    }
    d = sadoku_diff_block(d);
    if (threadIdx.x == 0) {
        unsigned long long* w = part + 8 * (unsigned long long)blockIdx.x;
        w[0] = d.differ;
        w[1] = d.moved;
        w[2] = d.first;
    }
}

// One block: folds sadoku_diff's partials and writes the 8 words of Difference::to_words to out.
extern "C" __global__ void __launch_bounds__(SADOKU_THREADS) sadoku_diff_finish(
    const void* first, const void* second, const unsigned long long* part, int blocks,
    unsigned long long* out, int ty) {
    SadokuDiff d;
    d.differ = 0; d.moved = 0; d.first = SADOKU_NONE;
    for (int b = threadIdx.x; b < blocks; b += blockDim.x) {
        SadokuDiff p;
        p.differ = part[8 * (unsigned long long)b];
        p.moved = part[8 * (unsigned long long)b + 1];
        p.first = part[8 * (unsigned long long)b + 2];
        sadoku_diff_merge(d, p);
    }
    d = sadoku_diff_block(d);
    if (threadIdx.x == 0) {
        const bool any = d.first != SADOKU_NONE;
        out[0] = d.differ;
        out[1] = d.moved;
        out[2] = d.first;
        out[3] = any ? sadoku_load(first, (long long)d.first, ty) : 0ull;
        out[4] = any ? sadoku_load(second, (long long)d.first, ty) : 0ull;
        for (int k = 5; k < 8; ++k) out[k] = 0ull;
    }
}

// *out += sum over i of hash_term(key, i, p[i]) (mod 2^64): content_hash when *out starts at 0.
// Bit for bit: -0.0 and +0.0 hash differently (an input whose zero turned negative has changed).
// Launched with a multiple of 32 threads per block.
extern "C" __global__ void sadoku_hash(const unsigned* p, long long n, unsigned long long key, unsigned long long* out) {
    __shared__ unsigned long long warps[32];
    unsigned long long s = 0;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
    {
        s += sadoku_mix64(key ^ sadoku_mix64((unsigned long long)i ^ ((unsigned long long)p[i] << 32)));
    }
    for (int o = 16; o > 0; o >>= 1) s += __shfl_down_sync(0xffffffffu, s, o);
    const unsigned lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) warps[warp] = s;
    __syncthreads();
    if (warp == 0) {
        s = lane < (blockDim.x + 31) / 32 ? warps[lane] : 0ull;
        for (int o = 16; o > 0; o >>= 1) s += __shfl_down_sync(0xffffffffu, s, o);
        if (lane == 0) atomicAdd(out, s);
    }
}

// DRAM read bandwidth: every 16-byte word of `p` read once (4 independent loads in flight per
// thread); the sum is written only when it is NaN, which the ceiling's fill never is.
extern "C" __global__ void __launch_bounds__(512) sadoku_read_peak(const float4* __restrict__ p, long long n, float* out) {
    float s = 0.0f;
    const long long stride = (long long)gridDim.x * blockDim.x;
    long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    for (; i + 3 * stride < n; i += 4 * stride) {
        const float4 a = __ldcs(p + i), b = __ldcs(p + i + stride), c = __ldcs(p + i + 2 * stride), d = __ldcs(p + i + 3 * stride);
        s += (a.x + b.y) + (c.z + d.w);
    }
    for (; i < n; i += stride) s += __ldcs(p + i).x;
    if (s != s) out[threadIdx.x] = s;
}

// Brackets the timed work in the activity trace.
extern "C" __global__ void sadoku_mark() {}

// fp32 FMA throughput: 8 independent chains per thread, `iters` × 8 FMAs each. The sum is
// written only when it is negative (never, but the compiler cannot know), so nothing is
// optimised away and nothing is stored.
extern "C" __global__ void __launch_bounds__(256, 8) sadoku_fma_peak(float* out, int iters) {
    const float x = (float)threadIdx.x * 1e-6f;
    float a0 = x, a1 = x + 0.1f, a2 = x + 0.2f, a3 = x + 0.3f, a4 = x + 0.4f, a5 = x + 0.5f, a6 = x + 0.6f,
          a7 = x + 0.7f;
    const float m = 0.999999f, c = 1e-6f;
#pragma unroll 16
    for (int i = 0; i < iters; ++i) {
        a0 = fmaf(a0, m, c); a1 = fmaf(a1, m, c); a2 = fmaf(a2, m, c); a3 = fmaf(a3, m, c);
        a4 = fmaf(a4, m, c); a5 = fmaf(a5, m, c); a6 = fmaf(a6, m, c); a7 = fmaf(a7, m, c);
    }
    const float s = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7));
    if (s < 0.0f) out[blockIdx.x * blockDim.x + threadIdx.x] = s;
}
"#;

/// cublasGemmEx's storage and compute types: fp32 with TF32 tensor cores, or bf16 / fp16
/// operands and result with fp32 accumulation (what torch.matmul does for them).
fn ex_types(precision: Precision) -> (cublas_sys::cudaDataType, cublas_sys::cublasComputeType_t) {
    use cublas_sys::cublasComputeType_t::{CUBLAS_COMPUTE_32F, CUBLAS_COMPUTE_32F_FAST_TF32};
    use cublas_sys::cudaDataType::{CUDA_R_16BF, CUDA_R_16F, CUDA_R_32F};
    match precision {
        Precision::Bf16 => (CUDA_R_16BF, CUBLAS_COMPUTE_32F),
        Precision::F16 => (CUDA_R_16F, CUBLAS_COMPUTE_32F),
        _ => (CUDA_R_32F, CUBLAS_COMPUTE_32F_FAST_TF32),
    }
}

/// The helpers' number for an element type (`SADOKU_F32` ...).
fn type_code(dtype: Dtype) -> Result<u64, DeviceError> {
    match dtype {
        Dtype::F32 => Ok(0),
        Dtype::F16 => Ok(1),
        Dtype::Bf16 => Ok(2),
        Dtype::I32 => Ok(3),
        Dtype::I64 => Ok(4),
        Dtype::F64 => Ok(5),
        other => Err(DeviceError::Environment(format!("sadoku's helpers do not handle {other} elements"))),
    }
}

/// FMAs per thread per iteration of `sadoku_fma_peak`.
const FMA_CHAINS: u64 = 8;
/// `sadoku_fma_peak`'s shape: blocks per SM (× SMs) of this many threads, and iterations (~10 ms on
/// an H200).
const FMA_BLOCKS_PER_SM: u32 = 8;
const FMA_THREADS: u32 = 256;
const FMA_ITERS: i32 = 1 << 17;
/// Version of the ceilings cache: 2 adds the DRAM read sweep to the copy.
const CEILINGS_VERSION: u32 = 2;
/// The GEMMs behind the tensor-core ceilings: m = n = k.
const CEILING_GEMM: usize = 8192;
/// The copy behind the DRAM ceiling.
const CEILING_COPY_BYTES: usize = 1 << 30;
/// Threads per block of the element-wise helpers (a multiple of 32: sadoku_hash reduces warps; and
/// exactly SADOKU_THREADS of the helper source: the comparators reduce over blocks of that size).
const HELPER_THREADS: u32 = 256;
/// Blocks per SM, at most, of an element-wise helper (see [`CudaDevice::spread`]).
const HELPER_BLOCKS_PER_SM: u32 = 16;
/// u64 words of one block's partial summary in the comparators' first pass.
const PARTIAL_WORDS: usize = 9;
/// How long the per-sample SM clock probe spins.
const SAMPLE_CLOCK_SPIN_NS: u64 = 20_000;

fn code(e: &DriverError) -> String {
    e.error_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|_| format!("CUDA error {}", e.0 as i32))
}

fn message(e: &DriverError) -> String {
    e.error_string().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}

fn env(what: &str) -> impl Fn(DriverError) -> DeviceError + '_ {
    move |e| DeviceError::Environment(format!("{what}: {}: {}", code(&e), message(&e)))
}

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

fn blas(what: &str) -> impl Fn(cublas::CublasError) -> DeviceError + '_ {
    move |e| DeviceError::Environment(format!("cuBLAS {what}: {e:?}"))
}

struct Loaded {
    module: sys::CUmodule,
    functions: HashMap<String, sys::CUfunction>,
}

/// One allocation a buffer id names.
#[derive(Debug, Clone, Copy)]
struct Allocation {
    ptr: sys::CUdeviceptr,
    /// Its size as asked for (what a view must stay inside, and what an export says).
    bytes: usize,
    /// Mapped from another process's export: unmapped with cuIpcCloseMemHandle, never freed here.
    imported: bool,
    /// Made by `alloc_shared`: whole 2 MiB blocks of its own, the only kind `export` hands out.
    shareable: bool,
}

impl Allocation {
    /// Free or unmap it.
    ///
    /// # Safety
    /// The allocation belongs to the current context and is released once; nothing still uses it.
    unsafe fn release(&self) {
        // SAFETY: as the caller promises.
        unsafe {
            if self.imported {
                let _ = sys::cuIpcCloseMemHandle(self.ptr);
            } else {
                let _ = result::free_sync(self.ptr);
            }
        }
    }
}

/// Everything that lives in the CUDA context, rebuilt after a reset.
struct State {
    stream: sys::CUstream,
    /// Only on a reference device: a candidate's process never loads cuBLAS.
    cublas: Option<cublas_sys::cublasHandle_t>,
    start: sys::CUevent,
    stop: sys::CUevent,
    flush: sys::CUdeviceptr,
    flush_words: usize,
    helpers: Loaded,
    buffers: HashMap<u64, Allocation>,
    modules: HashMap<u64, Loaded>,
    /// The per-sample SM clock probe's two words.
    scratch: sys::CUdeviceptr,
    /// The comparators' per-block partial summaries: [`PARTIAL_WORDS`] u64 words for each of the
    /// most blocks [`CudaDevice::spread`] gives. One set serves every comparison: they run in
    /// stream order.
    partials: sys::CUdeviceptr,
    /// CUPTI's id of this context, to pick its records from the process's trace.
    trace_context: Option<u32>,
    /// cuDNN on this stream, made on a judge's first cuDNN baseline.
    dnn: std::cell::RefCell<Option<crate::dnn::Dnn>>,
}

/// What a device is for: the judge's reference work, or one candidate's launches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// fp64 truth and baselines: cuBLAS and sadoku's helpers.
    Reference,
    /// A candidate's kernels only; library work is refused.
    Candidate,
}

pub struct CudaDevice {
    dev: sys::CUdevice,
    role: Role,
    nvrtc: Nvrtc,
    info: DeviceInfo,
    helper_image: CompiledModule,
    state: Option<State>,
    /// Why `state` is gone, once it is.
    lost: String,
    next_id: u64,
    /// Measured (or read from the cache file) once per device.
    ceilings: Option<Ceilings>,
    /// Where measured ceilings are kept, one file per GPU (none: always measure).
    ceilings_dir: Option<PathBuf>,
}

/// The ceilings cache file: the figures, and what they are valid for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct CeilingsFile {
    /// What was measured: files of another version are measured again.
    #[serde(default)]
    version: u32,
    device: String,
    driver: Option<String>,
    cuda_driver: String,
    ceilings: Ceilings,
}

/// How many CUDA GPUs this process can see.
pub fn device_count() -> Result<usize, DeviceError> {
    libs::driver().map_err(|e| DeviceError::Environment(e.to_string()))?;
    result::init()
        .map_err(|e| DeviceError::Environment(format!("no usable CUDA GPU: cuInit failed with {}", code(&e))))?;
    Ok(result::device::get_count().map_err(env("cuDeviceGetCount"))? as usize)
}

impl CudaDevice {
    /// Open GPU `ordinal`, with NVRTC to build sadoku's helper kernels.
    pub fn open(ordinal: usize, nvrtc: Nvrtc, role: Role) -> Result<CudaDevice, DeviceError> {
        let lib = |e: libs::LibraryError| DeviceError::Environment(e.to_string());
        libs::driver().map_err(lib)?;
        if role == Role::Reference {
            libs::cublas().map_err(lib)?;
        }
        result::init().map_err(|e| {
            DeviceError::Environment(format!("no usable CUDA GPU: cuInit failed with {}: {}", code(&e), message(&e)))
        })?;
        let count = result::device::get_count().map_err(env("cuDeviceGetCount"))? as usize;
        if ordinal >= count {
            return Err(DeviceError::Environment(format!(
                "GPU {ordinal} does not exist: this machine has {count} CUDA device(s)"
            )));
        }
        let dev = result::device::get(ordinal as i32).map_err(env("cuDeviceGet"))?;
        let attr = |a: sys::CUdevice_attribute| -> Result<i32, DeviceError> {
            // SAFETY: `dev` came from cuDeviceGet.
            unsafe { result::device::get_attribute(dev, a) }.map_err(env("cuDeviceGetAttribute"))
        };
        use sys::CUdevice_attribute::*;
        let cc = (
            attr(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)? as u32,
            attr(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR)? as u32,
        );
        let mut driver_version = 0;
        // SAFETY: plain out-parameter.
        unsafe { sys::cuDriverGetVersion(&mut driver_version) }.result().map_err(env("cuDriverGetVersion"))?;
        let info = DeviceInfo {
            name: result::device::get_name(dev).map_err(env("cuDeviceGetName"))?,
            ordinal,
            compute_capability: cc,
            multiprocessors: attr(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)? as u32,
            l2_bytes: attr(CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE)? as usize,
            // SAFETY: as above.
            memory_bytes: unsafe { result::device::total_mem(dev) }.map_err(env("cuDeviceTotalMem"))?,
            max_shared_per_block_optin: attr(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN)? as usize,
            driver: kernel_driver_version(),
            cuda_driver: format!("{}.{}", driver_version / 1000, driver_version % 1000 / 10),
            nvrtc: Some(nvrtc.version()),
            cublas: None,
            cudnn: None,
            torch: None,
            sandbox: None,
            sm_clock_mhz: None,
            ceilings: None,
        };
        let helper_image = nvrtc
            .compile(&CompileRequest {
                name: "sadoku_helpers.cu".into(),
                source: HELPERS.into(),
                arch: info.arch(),
                options: vec![],
            })
            .map_err(|e| DeviceError::Environment(format!("building sadoku's helper kernels: {e}")))?;
        // Before the context exists, so that CUPTI sees all of it; failure only means no traces.
        let _ = trace::init();
        let mut device = CudaDevice {
            dev,
            role,
            nvrtc,
            info,
            helper_image,
            state: None,
            lost: String::new(),
            next_id: 1,
            ceilings: None,
            ceilings_dir: crate::nvrtc::cache_root().map(|d| d.join("ceilings")),
        };
        device.state = Some(device.create_state()?);
        if let Some(handle) = device.state()?.cublas {
            let mut version = 0;
            // SAFETY: the handle was just created.
            unsafe { cublas_sys::cublasGetVersion_v2(handle, &mut version) }.result().map_err(blas("version"))?;
            device.info.cublas = Some(format!("{}.{}.{}", version / 10000, version % 10000 / 100, version % 100));
            device.info.cudnn = Some(match libs::cudnn() {
                Ok(()) => crate::dnn::version(),
                Err(why) => format!("not found: no cuDNN baselines ({why})"),
            });
        }
        Ok(device)
    }

    fn create_state(&self) -> Result<State, DeviceError> {
        // SAFETY: `dev` came from cuDeviceGet; every handle below is owned by the new State.
        unsafe {
            let ctx = result::primary_ctx::retain(self.dev).map_err(env("cuDevicePrimaryCtxRetain"))?;
            result::ctx::set_current(ctx).map_err(env("cuCtxSetCurrent"))?;
            let stream =
                result::stream::create(result::stream::StreamKind::NonBlocking).map_err(env("cuStreamCreate"))?;
            let handle = match self.role {
                Role::Candidate => None,
                Role::Reference => {
                    let handle = cublas::create_handle().map_err(blas("create"))?;
                    cublas::set_stream(handle, stream as _).map_err(blas("set stream"))?;
                    // Plain fp32: no TF32 tensor cores unless a baseline asks for them.
                    cublas_sys::cublasSetMathMode(handle, cublas_sys::cublasMath_t::CUBLAS_DEFAULT_MATH)
                        .result()
                        .map_err(blas("set math mode"))?;
                    Some(handle)
                }
            };
            let event = || result::event::create(sys::CUevent_flags::CU_EVENT_DEFAULT).map_err(env("cuEventCreate"));
            let (start, stop) = (event()?, event()?);
            // Twice L2, so that a flush evicts everything whatever the replacement policy.
            let flush_words = (2 * self.info.l2_bytes).max(1 << 20) / 4;
            let flush = result::malloc_sync(flush_words * 4).map_err(env("allocating the L2 flush buffer"))?;
            let helpers = load(&self.helper_image).map_err(env("loading sadoku's helper kernels"))?;
            let scratch = result::malloc_sync(16).map_err(env("allocating the SM clock probe's result slots"))?;
            let partials = result::malloc_sync(self.max_spread() as usize * PARTIAL_WORDS * 8)
                .map_err(env("allocating the comparators' partial results"))?;
            Ok(State {
                stream,
                cublas: handle,
                start,
                stop,
                flush,
                flush_words,
                helpers,
                buffers: HashMap::new(),
                modules: HashMap::new(),
                scratch,
                partials,
                trace_context: trace::context_id(ctx),
                dnn: std::cell::RefCell::new(None),
            })
        }
    }

    fn state(&self) -> Result<&State, DeviceError> {
        self.state.as_ref().ok_or_else(|| DeviceError::ContextLost(self.lost.clone()))
    }

    /// Give an allocation a new buffer id. The state is live: the caller just made the allocation in it.
    fn register(&mut self, a: Allocation) -> Buffer {
        let id = self.next_id;
        self.next_id += 1;
        if let Some(state) = self.state.as_mut() {
            state.buffers.insert(id, a);
        }
        Buffer { id, offset: 0, bytes: a.bytes }
    }

    /// The allocation a buffer (or a view of it) belongs to.
    fn allocation(&self, b: Buffer) -> Result<Allocation, DeviceError> {
        self.state()?.buffers.get(&b.id).copied().ok_or_else(|| {
            DeviceError::Environment(format!("buffer {} is not allocated (lost in a context reset?)", b.id))
        })
    }

    /// The device address of a buffer, or of a view into one; the view must lie inside its allocation.
    fn ptr(&self, b: Buffer) -> Result<sys::CUdeviceptr, DeviceError> {
        let a = self.allocation(b)?;
        if b.offset.checked_add(b.bytes).is_none_or(|end| end > a.bytes) {
            return Err(DeviceError::Environment(format!(
                "a view of buffer {} ({} bytes at offset {}) reaches outside its allocation of {} bytes",
                b.id, b.bytes, b.offset, a.bytes
            )));
        }
        Ok(a.ptr + b.offset as u64)
    }

    fn sync(&self) -> Result<(), DriverError> {
        // SAFETY: the stream belongs to the live state.
        unsafe { result::stream::synchronize(self.state.as_ref().map_or(std::ptr::null_mut(), |s| s.stream)) }
    }

    fn enqueue_launch(&self, l: &Launch) -> Result<(), DeviceError> {
        let state = self.state()?;
        let refused =
            |code: String, message: String| DeviceError::LaunchRefused { kernel: l.kernel.clone(), code, message };
        let f = *state
            .modules
            .get(&l.module.0)
            .and_then(|m| m.functions.get(&l.kernel))
            .ok_or_else(|| refused("CUDA_ERROR_NOT_FOUND".into(), "no such kernel in the loaded module".into()))?;
        if l.shared_mem > DEFAULT_SHARED_LIMIT {
            let limit = self.info.max_shared_per_block_optin;
            // SAFETY: `f` is a live function of a loaded module.
            unsafe {
                result::function::set_function_attribute(
                    f,
                    sys::CUfunction_attribute::CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                    l.shared_mem as i32,
                )
            }
            .map_err(|e| {
                refused(
                    code(&e),
                    format!("{} bytes of dynamic shared memory; this GPU allows {limit} per block", l.shared_mem),
                )
            })?;
        }
        let mut values: Vec<u64> = Vec::with_capacity(l.args.len());
        for a in &l.args {
            values.push(match a {
                KernelArg::Buffer(b) => self.ptr(*b)?,
                KernelArg::I32(v) => *v as u32 as u64,
                KernelArg::I64(v) => *v as u64,
            });
        }
        // Each parameter points at its own 8-byte slot; a 4-byte parameter reads the low half
        // (little-endian), which holds the i32.
        let mut params: Vec<*mut c_void> = values.iter_mut().map(|v| (v as *mut u64).cast()).collect();
        let grid = (l.grid[0], l.grid[1], l.grid[2]);
        let block = (l.block[0], l.block[1], l.block[2]);
        // SAFETY: `params` matches the kernel's signature (checked against its PTX beforehand),
        // buffers are live allocations of this context.
        unsafe { result::launch_kernel(f, grid, block, l.shared_mem, state.stream, &mut params) }
            .map_err(|e| refused(code(&e), message(&e)))
    }

    /// Enqueue one piece of library work on the device's stream. A candidate's device refuses all
    /// of it: fresh inputs, poison, truth and comparisons are the judge's alone.
    fn enqueue_library(&self, op: &LibraryOp) -> Result<(), DeviceError> {
        let state = self.state()?;
        let refused =
            || DeviceError::Environment("a candidate device runs candidate kernels only, never library work".into());
        if self.role == Role::Candidate {
            return Err(refused());
        }
        let stream = state.stream;
        match *op {
            LibraryOp::Gemm { precision, m, n, k, a, b, c, transpose_a, batch } => {
                let handle = state.cublas.ok_or_else(refused)?;
                let (a, b, c) = (self.ptr(a)?, self.ptr(b)?, self.ptr(c)?);
                let (m, n, k) = (m as i32, n as i32, k as i32);
                let nn = cublas_sys::cublasOperation_t::CUBLAS_OP_N;
                // Row-major C = op(A)·B is column-major Cᵀ = Bᵀ·op(A)ᵀ: swap the operands. A
                // row-major A[m×k] is column-major Aᵀ (leading dimension k); a row-major A[k×m] to
                // be transposed is column-major Aᵀ[m×k] read transposed (leading dimension m).
                let (op_a, lda) = if transpose_a { (cublas_sys::cublasOperation_t::CUBLAS_OP_T, m) } else { (nn, k) };
                if batch > 1 {
                    // One strided batched call, as torch.bmm makes: products one after another.
                    let (sa, sb, sc) = (m as i64 * k as i64, k as i64 * n as i64, m as i64 * n as i64);
                    let count = batch as i32;
                    let (one, zero) = (1.0f32, 0.0f32);
                    // SAFETY: each view holds `batch` matrices of its operand's size (checked by ptr()).
                    return unsafe {
                        match precision {
                            Precision::F64 => cublas::dgemm_strided_batched(
                                handle,
                                nn,
                                op_a,
                                n,
                                m,
                                k,
                                &1.0,
                                b as *const f64,
                                n,
                                sb,
                                a as *const f64,
                                lda,
                                sa,
                                &0.0,
                                c as *mut f64,
                                n,
                                sc,
                                count,
                            ),
                            Precision::F32 => cublas::sgemm_strided_batched(
                                handle,
                                nn,
                                op_a,
                                n,
                                m,
                                k,
                                &1.0,
                                b as *const f32,
                                n,
                                sb,
                                a as *const f32,
                                lda,
                                sa,
                                &0.0,
                                c as *mut f32,
                                n,
                                sc,
                                count,
                            ),
                            Precision::Tf32 | Precision::Bf16 | Precision::F16 => {
                                let (ty, compute) = ex_types(precision);
                                cublas::gemm_strided_batched_ex(
                                    handle,
                                    nn,
                                    op_a,
                                    n,
                                    m,
                                    k,
                                    (&one as *const f32).cast(),
                                    b as *const c_void,
                                    ty,
                                    n,
                                    sb,
                                    a as *const c_void,
                                    ty,
                                    lda,
                                    sa,
                                    (&zero as *const f32).cast(),
                                    c as *mut c_void,
                                    ty,
                                    n,
                                    sc,
                                    count,
                                    compute,
                                    cublas_sys::cublasGemmAlgo_t::CUBLAS_GEMM_DFALT,
                                )
                            }
                        }
                    }
                    .map_err(blas("strided batched GEMM"));
                }
                // SAFETY: pointers are live allocations sized by the problem for m, n, k.
                unsafe {
                    match precision {
                        Precision::F64 => cublas::dgemm(
                            handle,
                            nn,
                            op_a,
                            n,
                            m,
                            k,
                            &1.0,
                            b as *const f64,
                            n,
                            a as *const f64,
                            lda,
                            &0.0,
                            c as *mut f64,
                            n,
                        ),
                        Precision::F32 => cublas::sgemm(
                            handle,
                            nn,
                            op_a,
                            n,
                            m,
                            k,
                            &1.0,
                            b as *const f32,
                            n,
                            a as *const f32,
                            lda,
                            &0.0,
                            c as *mut f32,
                            n,
                        ),
                        Precision::Tf32 | Precision::Bf16 | Precision::F16 => {
                            let (one, zero) = (1.0f32, 0.0f32);
                            let (ty, compute) = ex_types(precision);
                            cublas_sys::cublasGemmEx(
                                handle,
                                nn,
                                op_a,
                                n,
                                m,
                                k,
                                (&one as *const f32).cast(),
                                b as *const c_void,
                                ty,
                                n,
                                a as *const c_void,
                                ty,
                                lda,
                                (&zero as *const f32).cast(),
                                c as *mut c_void,
                                ty,
                                n,
                                compute,
                                cublas_sys::cublasGemmAlgo_t::CUBLAS_GEMM_DFALT,
                            )
                            .result()
                        }
                    }
                }
                .map_err(blas("GEMM"))
            }
            LibraryOp::Conv2d { precision, x, w, y, shape } => {
                let (x, w, y) = (self.ptr(x)?, self.ptr(w)?, self.ptr(y)?);
                self.with_dnn(|d| d.conv2d(precision, shape, x, w, y))
            }
            LibraryOp::Pool2d { x, y, shape, max } => {
                let (x, y) = (self.ptr(x)?, self.ptr(y)?);
                self.with_dnn(|d| d.pool2d(shape, max, x, y))
            }
            LibraryOp::Softmax { x, y, rows, cols, log } => {
                let (x, y) = (self.ptr(x)?, self.ptr(y)?);
                self.with_dnn(|d| d.softmax(rows, cols, log, x, y))
            }
            LibraryOp::TrilF32 { c, n } => {
                let f = state.helpers.functions["sadoku_tril_f32"];
                let mut ptr = self.ptr(c)?;
                let mut n64 = n as i64;
                let mut params: Vec<*mut c_void> = vec![(&mut ptr as *mut u64).cast(), (&mut n64 as *mut i64).cast()];
                let grid = ((n as u32).div_ceil(256).clamp(1, 64), (n as u32).clamp(1, 65_535), 1);
                // SAFETY: matches the helper's signature (float*, long long).
                unsafe { result::launch_kernel(f, grid, (256, 1, 1), 0, state.stream, &mut params) }
                    .map_err(env("tril launch"))
            }
            LibraryOp::Generate { buffer, draw } => {
                let size = draw.dtype.bytes();
                let ptr = self.aligned_ptr(buffer, size as u64, "generating an input")?;
                use sadoku_core::generate::{exp2_range, ties_offset, zero_row_threshold};
                let (dist, a, b, lo, hi) = match draw.distribution {
                    Distribution::Randn { mean, std } => (0u64, mean, std, 0, 1),
                    Distribution::Uniform { lo, hi } => (1, lo, hi, 0, 1),
                    Distribution::Int { lo, hi } => (2, 0.0, 0.0, lo, hi),
                    Distribution::Ties { k } => (2, ties_offset(k), 0.0, 0, k),
                    Distribution::Sorted { lo, hi } => (3, lo, hi, 0, 1),
                    Distribution::ZeroRows { p } => (4, 0.0, 1.0, zero_row_threshold(p) as i64, 1),
                    Distribution::Exp2 { .. } | Distribution::Subnormal => {
                        let (lo, hi) = exp2_range(&draw);
                        (5, 0.0, 0.0, lo, hi)
                    }
                };
                let n = (buffer.bytes / size) as u64;
                if n == 0 {
                    return Ok(());
                }
                let args = [
                    ptr,
                    n,
                    draw.seed,
                    dist,
                    a.to_bits(),
                    b.to_bits(),
                    draw.scale.to_bits() as u64,
                    draw.cols,
                    draw.lower as u64,
                    type_code(draw.dtype)?,
                    lo as u64,
                    hi as u64,
                ];
                self.launch_helper("sadoku_generate", self.spread(n), HELPER_THREADS, &args)
            }
            LibraryOp::Abs { src, dst, dtype } => {
                let size = dtype.bytes() as u64;
                let from = self.aligned_ptr(src, size, "taking absolute values")?;
                let to = self.aligned_ptr(dst, size, "taking absolute values")?;
                let n = src.bytes as u64 / size;
                self.holds(dst, n, size, "taking absolute values: the destination")?;
                if n == 0 {
                    return Ok(());
                }
                let args = [from, to, n, type_code(dtype)?];
                self.launch_helper("sadoku_abs", self.spread(n), HELPER_THREADS, &args)
            }
            LibraryOp::Upcast { src, dst, abs, dtype } => {
                let size = dtype.bytes() as u64;
                let from = self.aligned_ptr(src, size, "widening to fp64")?;
                let to = self.aligned_ptr(dst, 8, "widening to fp64")?;
                let n = src.bytes as u64 / size;
                self.holds(dst, n, 8, "widening to fp64: the fp64 destination")?;
                if n == 0 {
                    return Ok(());
                }
                let args = [from, to, n, abs as u64, type_code(dtype)?];
                self.launch_helper("sadoku_upcast", self.spread(n), HELPER_THREADS, &args)
            }
            LibraryOp::Fill { buffer, word } => {
                let ptr = self.aligned_ptr(buffer, 4, "filling a buffer")?;
                if buffer.bytes < 4 {
                    return Ok(());
                }
                // SAFETY: `ptr` holds buffer.bytes bytes.
                unsafe { sys::cuMemsetD32Async(ptr, word, buffer.bytes / 4, stream) }
                    .result()
                    .map_err(env("filling a buffer (memset)"))
            }
            LibraryOp::Pattern { buffer, seed, dtype } => {
                let size = dtype.bytes() as u64;
                let ptr = self.aligned_ptr(buffer, size, "filling a buffer with a pattern")?;
                let n = buffer.bytes as u64 / size;
                if n == 0 {
                    return Ok(());
                }
                let args = [ptr, n, seed, type_code(dtype)?];
                self.launch_helper("sadoku_pattern", self.spread(n), HELPER_THREADS, &args)
            }
            LibraryOp::Copy { src, dst } => {
                let (from, to) = (self.ptr(src)?, self.ptr(dst)?);
                let bytes = src.bytes.min(dst.bytes);
                if bytes == 0 {
                    return Ok(());
                }
                // SAFETY: both hold at least `bytes` bytes.
                unsafe { sys::cuMemcpyDtoDAsync_v2(to, from, bytes, stream) }.result().map_err(env("device copy"))
            }
            LibraryOp::Hash { buffer, key, out } => {
                let ptr = self.aligned_ptr(buffer, 4, "hashing a buffer")?;
                let slot = self.aligned_ptr(out, 8, "hashing a buffer: the result")?;
                self.holds(out, 1, 8, "hashing a buffer: the result")?;
                // SAFETY: `slot` holds a u64.
                unsafe { sys::cuMemsetD8Async(slot, 0, 8, stream) }.result().map_err(env("clearing a hash slot"))?;
                let n = (buffer.bytes / 4) as u64;
                if n == 0 {
                    return Ok(());
                }
                self.launch_helper("sadoku_hash", self.spread(n), HELPER_THREADS, &[ptr, n, key, slot])
            }
            LibraryOp::Compare { got, values, scale, factor, poison, out, dtype } => {
                let what = "comparing an output with the truth";
                let size = dtype.bytes() as u64;
                let n = got.bytes as u64 / size;
                let got = self.aligned_ptr(got, size, what)?;
                let ty = type_code(dtype)?;
                let (values_ptr, scale_ptr) = (self.aligned_ptr(values, 8, what)?, self.aligned_ptr(scale, 8, what)?);
                let out_ptr = self.aligned_ptr(out, 8, what)?;
                self.holds(values, n, 8, "comparing an output with the truth: the values")?;
                self.holds(scale, n, 8, "comparing an output with the truth: the scales")?;
                self.holds(out, Comparison::WORDS as u64, 8, "comparing an output with the truth: the result")?;
                let (kind, word) = match poison {
                    PoisonWords::Word(w) => (0u64, w as u64),
                    PoisonWords::Pattern(seed) => (1, seed),
                };
                let blocks = self.spread(n);
                let partials = state.partials;
                let args = [got, values_ptr, scale_ptr, n, factor.to_bits(), kind, word, partials, ty];
                self.launch_helper("sadoku_compare", blocks, HELPER_THREADS, &args)?;
                let args = [got, values_ptr, n, partials, blocks as u64, out_ptr, ty];
                self.launch_helper("sadoku_compare_finish", 1, HELPER_THREADS, &args)
            }
            LibraryOp::Diff { first, second, scale, factor, out, dtype } => {
                let what = "comparing two outputs";
                let size = dtype.bytes() as u64;
                let n = first.bytes as u64 / size;
                let ty = type_code(dtype)?;
                let (a, b) = (self.aligned_ptr(first, size, what)?, self.aligned_ptr(second, size, what)?);
                let (scale_ptr, out_ptr) = (self.aligned_ptr(scale, 8, what)?, self.aligned_ptr(out, 8, what)?);
                self.holds(second, n, size, "comparing two outputs: the second")?;
                self.holds(scale, n, 8, "comparing two outputs: the scales")?;
                self.holds(out, Difference::WORDS as u64, 8, "comparing two outputs: the result")?;
                let blocks = self.spread(n);
                let partials = state.partials;
                self.launch_helper(
                    "sadoku_diff",
                    blocks,
                    HELPER_THREADS,
                    &[a, b, scale_ptr, n, factor.to_bits(), partials, ty],
                )?;
                let args = [a, b, partials, blocks as u64, out_ptr, ty];
                self.launch_helper("sadoku_diff_finish", 1, HELPER_THREADS, &args)
            }
        }
    }

    /// Measure the SM clock now: clock64 cycles over globaltimer nanoseconds while spinning.
    pub fn measure_sm_clock(&mut self) -> Result<f64, DeviceError> {
        let out = self.alloc(16)?;
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
        self.free(out);
        let mhz = result?;
        self.info.sm_clock_mhz = Some(mhz);
        Ok(mhz)
    }

    /// Say how this device's process is confined (a worker's sandbox), in its [`DeviceInfo`].
    pub fn set_sandbox(&mut self, description: String) {
        self.info.sandbox = Some(description);
    }

    /// This device's compiler's module cache (a judge's), to keep what its workers compile.
    pub fn module_cache(&self) -> Option<sadoku_core::compile::ModuleCache> {
        self.nvrtc.module_cache().cloned()
    }

    /// Where [`Device::ceilings`] keeps its measurements (default: `ceilings` under
    /// [`crate::nvrtc::cache_root`]); `None` measures every time.
    pub fn set_ceilings_cache_dir(&mut self, dir: Option<PathBuf>) {
        self.ceilings_dir = dir;
    }

    /// Launch one of sadoku's helper kernels on the device's stream. Each argument is one 8-byte
    /// slot; 4-byte parameters (int, float) read its low half.
    /// Run `f` with this device's cuDNN handle, made on first use.
    fn with_dnn(&self, f: impl FnOnce(&mut crate::dnn::Dnn) -> Result<(), DeviceError>) -> Result<(), DeviceError> {
        let state = self.state()?;
        libs::cudnn().map_err(DeviceError::Environment)?;
        let mut dnn = state.dnn.borrow_mut();
        if dnn.is_none() {
            *dnn = Some(crate::dnn::Dnn::new(state.stream)?);
        }
        f(dnn.as_mut().expect("made above"))
    }

    fn launch_helper(&self, name: &str, grid: u32, block: u32, args: &[u64]) -> Result<(), DeviceError> {
        let state = self.state()?;
        let f = *state.helpers.functions.get(name).ok_or_else(|| {
            DeviceError::Environment(format!("sadoku's helper kernel `{name}` is missing from its module"))
        })?;
        let mut values = args.to_vec();
        let mut params: Vec<*mut c_void> = values.iter_mut().map(|v| (v as *mut u64).cast()).collect();
        // SAFETY: every helper's parameters are 8-byte slots or 4-byte values in the low half of
        // one, as built by the callers below; pointers are live allocations of this context.
        unsafe { result::launch_kernel(f, (grid, 1, 1), (block, 1, 1), 0, state.stream, &mut params) }.map_err(|e| {
            DeviceError::Environment(format!(
                "sadoku's helper kernel `{name}` failed to launch: {}: {}",
                code(&e),
                message(&e)
            ))
        })
    }

    /// The most blocks an element-wise helper is launched with: enough to fill the GPU.
    fn max_spread(&self) -> u32 {
        self.info.multiprocessors.max(1) * HELPER_BLOCKS_PER_SM
    }

    /// Blocks for an element-wise helper over `n` elements: enough to fill the GPU, no more. A
    /// function of `n` (and the GPU) alone, so that the comparators always reduce in one order.
    fn spread(&self, n: u64) -> u32 {
        n.div_ceil(HELPER_THREADS as u64).clamp(1, self.max_spread() as u64) as u32
    }

    /// A buffer's address, for a helper that reads or writes it as elements of `align` bytes.
    fn aligned_ptr(&self, b: Buffer, align: u64, what: &str) -> Result<sys::CUdeviceptr, DeviceError> {
        let ptr = self.ptr(b)?;
        if ptr % align != 0 {
            return Err(DeviceError::Environment(format!(
                "{what}: buffer {} at offset {} is not aligned to {align} bytes",
                b.id, b.offset
            )));
        }
        Ok(ptr)
    }

    /// Check that a buffer holds `n` elements of `size` bytes.
    fn holds(&self, b: Buffer, n: u64, size: u64, what: &str) -> Result<(), DeviceError> {
        if (b.bytes as u64) < n * size {
            return Err(DeviceError::Environment(format!(
                "{what}: buffer {} holds {} bytes, not the {n} elements of {size} bytes needed",
                b.id, b.bytes
            )));
        }
        Ok(())
    }

    /// Run `op` once to warm up, then five times between the device's events: the best time, ms.
    fn best_ms(&self, what: &str, op: &dyn Fn(&Self) -> Result<(), DeviceError>) -> Result<f64, DeviceError> {
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

    /// C = A·B, all n×n, through cublasGemmEx: `ab` is A's and B's element type, C is fp32.
    fn square_gemm_ex(
        &self,
        n: usize,
        ab: cublas_sys::cudaDataType,
        compute: cublas_sys::cublasComputeType_t,
        bufs: [Buffer; 3],
    ) -> Result<(), DeviceError> {
        let handle = self.state()?.cublas.ok_or_else(|| {
            DeviceError::Environment("a candidate device runs candidate kernels only, never library work".into())
        })?;
        let (a, b, c) = (self.ptr(bufs[0])?, self.ptr(bufs[1])?, self.ptr(bufs[2])?);
        let (one, zero) = (1.0f32, 0.0f32);
        let n = n as i32;
        let nn = cublas_sys::cublasOperation_t::CUBLAS_OP_N;
        // SAFETY: each buffer holds n×n elements of its type.
        unsafe {
            cublas_sys::cublasGemmEx(
                handle,
                nn,
                nn,
                n,
                n,
                n,
                (&one as *const f32).cast(),
                a as *const c_void,
                ab,
                n,
                b as *const c_void,
                ab,
                n,
                (&zero as *const f32).cast(),
                c as *mut c_void,
                cublas_sys::cudaDataType::CUDA_R_32F,
                n,
                compute,
                cublas_sys::cublasGemmAlgo_t::CUBLAS_GEMM_DFALT,
            )
            .result()
        }
        .map_err(blas("GemmEx (ceilings)"))
    }

    /// Measure the card's peak rates (see [`Ceilings`]); every temporary allocation is freed.
    fn measure_ceilings(&mut self) -> Result<Ceilings, DeviceError> {
        let mut temps = Vec::new();
        let measured = self.measure_ceilings_in(&mut temps);
        for b in temps {
            self.free(b);
        }
        measured
    }

    fn measure_ceilings_in(&mut self, temps: &mut Vec<Buffer>) -> Result<Ceilings, DeviceError> {
        let alloc = |d: &mut Self, temps: &mut Vec<Buffer>, bytes: usize| -> Result<Buffer, DeviceError> {
            let b = d.alloc(bytes)?;
            temps.push(b);
            Ok(b)
        };
        let fill = |d: &Self, b: Buffer, word: u32| -> Result<(), DeviceError> {
            let stream = d.state()?.stream;
            // SAFETY: `b` holds b.bytes bytes.
            unsafe { sys::cuMemsetD32Async(d.ptr(b)?, word, b.bytes / 4, stream) }.result().map_err(env("memset"))
        };

        // fp32 FMA on CUDA cores.
        let blocks = self.info.multiprocessors.max(1) * FMA_BLOCKS_PER_SM;
        let out = alloc(self, temps, blocks as usize * FMA_THREADS as usize * 4)?;
        let out_ptr = self.ptr(out)?;
        let ms = self.best_ms("the FMA peak kernel", &|d| {
            d.launch_helper("sadoku_fma_peak", blocks, FMA_THREADS, &[out_ptr, FMA_ITERS as u32 as u64])
        })?;
        let flops = 2.0 * (FMA_CHAINS * FMA_ITERS as u64 * blocks as u64 * FMA_THREADS as u64) as f64;
        let fp32_tflops = flops / (ms * 1e-3) / 1e12;

        // Tensor-core GEMMs, m = n = k. A and B hold small finite numbers in either type
        // (0x3C00 is 2⁻⁷ as a bf16; 0x3C003C00 about 0.0078 as an fp32).
        let n = CEILING_GEMM;
        let (a, b, c) =
            (alloc(self, temps, n * n * 4)?, alloc(self, temps, n * n * 4)?, alloc(self, temps, n * n * 4)?);
        for x in [a, b, c] {
            fill(self, x, 0x3C00_3C00)?;
        }
        let gemm_flops = 2.0 * (n as f64).powi(3);
        use cublas_sys::{cublasComputeType_t as Compute, cudaDataType as Type};
        let ms = self.best_ms("the TF32 GEMM", &|d| {
            d.square_gemm_ex(n, Type::CUDA_R_32F, Compute::CUBLAS_COMPUTE_32F_FAST_TF32, [a, b, c])
        })?;
        let tf32_tflops = gemm_flops / (ms * 1e-3) / 1e12;
        let ms = self.best_ms("the BF16 GEMM", &|d| {
            d.square_gemm_ex(n, Type::CUDA_R_16BF, Compute::CUBLAS_COMPUTE_32F, [a, b, c])
        })?;
        let bf16_tflops = gemm_flops / (ms * 1e-3) / 1e12;
        for x in temps.drain(..) {
            self.free(x);
        }

        // DRAM: a device-to-device copy reads and writes every byte.
        let bytes = CEILING_COPY_BYTES;
        let (src, dst) = (alloc(self, temps, bytes)?, alloc(self, temps, bytes)?);
        fill(self, src, 0x3C00_3C00)?;
        let (from, to) = (self.ptr(src)?, self.ptr(dst)?);
        let ms = self.best_ms("the DRAM copy", &|d| {
            let stream = d.state()?.stream;
            // SAFETY: both buffers hold `bytes` bytes.
            unsafe { sys::cuMemcpyDtoDAsync_v2(to, from, bytes, stream) }.result().map_err(env("device copy"))
        })?;
        let copy_gbs = 2.0 * bytes as f64 / (ms * 1e-3) / 1e9;
        // And a read-only sweep: a kernel that only reads (a reduction) can stream faster than a
        // copy, whose writes share the bus. The ceiling is the faster of the two.
        let src_ptr = from;
        let words = (bytes / 16) as u64;
        let blocks = self.info.multiprocessors.max(1) * 8;
        let ms = self.best_ms("the DRAM read sweep", &|d| {
            d.launch_helper("sadoku_read_peak", blocks, 512, &[src_ptr, words, to])
        })?;
        let read_gbs = bytes as f64 / (ms * 1e-3) / 1e9;
        Ok(Ceilings { fp32_tflops, tf32_tflops, bf16_tflops, dram_gbs: copy_gbs.max(read_gbs) })
    }

    /// The GPU's UUID as nvidia-smi shows it ("GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx").
    fn uuid(&self) -> Option<String> {
        let mut uuid = sys::CUuuid_st { bytes: [0; 16] };
        // SAFETY: `dev` came from cuDeviceGet; plain out-parameter.
        unsafe { sys::cuDeviceGetUuid_v2(&mut uuid, self.dev) }.result().ok()?;
        let hex: String = uuid.bytes.iter().map(|&b| format!("{:02x}", b as u8)).collect();
        Some(format!("GPU-{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..]))
    }

    /// The cache file for this GPU's ceilings, when there is a cache directory and a UUID.
    /// The sealed store of measured ceilings and this GPU's entry in it.
    fn ceilings_store(&self) -> Option<(sadoku_core::cache::Sealed, String)> {
        let dir = self.ceilings_dir.as_ref()?;
        let name = format!("{}.json", self.uuid()?);
        match sadoku_core::cache::Sealed::open(dir) {
            Ok(store) => Some((store, name)),
            Err(why) => {
                eprintln!("sadoku: note: measured ceilings are not cached: {why}");
                None
            }
        }
    }

    /// Cached ceilings, if a judge measured them on this GPU model under this driver and the
    /// entry's seal holds (a doctored ceiling would let impossible speeds pass).
    fn read_ceilings(&self, store: &sadoku_core::cache::Sealed, name: &str) -> Option<Ceilings> {
        let bytes = match store.get(name) {
            sadoku_core::cache::Lookup::Hit(bytes) => bytes,
            sadoku_core::cache::Lookup::Miss => return None,
            sadoku_core::cache::Lookup::Broken(why) => {
                eprintln!("sadoku: warning: cached ceilings were ignored and will be measured again: {why}");
                return None;
            }
        };
        let file: CeilingsFile = serde_json::from_slice(&bytes).ok()?;
        let c = file.ceilings;
        let plausible =
            [c.fp32_tflops, c.tf32_tflops, c.bf16_tflops, c.dram_gbs].iter().all(|x| x.is_finite() && *x > 0.0);
        (file.version == CEILINGS_VERSION
            && file.device == self.info.name
            && file.driver == self.info.driver
            && file.cuda_driver == self.info.cuda_driver
            && plausible)
            .then_some(c)
    }

    /// Best effort: a cache that cannot be written only costs a measurement next time.
    fn write_ceilings(&self, store: &sadoku_core::cache::Sealed, name: &str, ceilings: Ceilings) {
        let file = CeilingsFile {
            version: CEILINGS_VERSION,
            device: self.info.name.clone(),
            driver: self.info.driver.clone(),
            cuda_driver: self.info.cuda_driver.clone(),
            ceilings,
        };
        if let Ok(text) = serde_json::to_string_pretty(&file) {
            store.put(name, (text + "\n").as_bytes());
        }
    }

    /// A kernel fault is sticky: CUDA documents that the context, and in practice the process,
    /// cannot run anything again (seen here: even cuDevicePrimaryCtxRetain after a reset returns
    /// the fault). The device refuses all further work, saying why.
    fn fault(&mut self, kernel: &str, e: DriverError) -> DeviceError {
        let err = DeviceError::KernelFault { kernel: kernel.to_string(), code: code(&e), message: message(&e) };
        // The dead context's handles cannot be released; they go with the process.
        std::mem::forget(self.state.take());
        self.lost = format!("`{kernel}` faulted with {}; a CUDA process cannot run GPU work after that", code(&e));
        err
    }
}

fn load(image: &CompiledModule) -> Result<Loaded, DriverError> {
    // SAFETY: the image is a cubin produced by NVRTC for this device's architecture.
    let module = unsafe { result::module::load_data(image.image.as_ptr().cast()) }?;
    let mut functions = HashMap::new();
    for e in &image.entries {
        let name = CString::new(e.name.as_str()).expect("PTX entry names have no NUL");
        // SAFETY: `module` was just loaded.
        functions.insert(e.name.clone(), unsafe { result::module::get_function(module, name) }?);
    }
    Ok(Loaded { module, functions })
}

/// "580.159.04" from the kernel module's banner ("NVRM version: NVIDIA UNIX Open Kernel Module for
/// x86_64  580.159.04  Release Build ..."), when the OS says.
fn kernel_driver_version() -> Option<String> {
    let text = std::fs::read_to_string("/proc/driver/nvidia/version").ok()?;
    parse_driver_banner(text.lines().next()?)
}

fn parse_driver_banner(line: &str) -> Option<String> {
    line.split_whitespace()
        .find(|w| w.contains('.') && w.split('.').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())))
        .map(str::to_string)
}

impl Device for CudaDevice {
    fn info(&self) -> &DeviceInfo {
        &self.info
    }

    fn compile(&mut self, request: &CompileRequest) -> Result<CompiledModule, CompileError> {
        self.nvrtc.compile(request)
    }

    fn alloc(&mut self, bytes: usize) -> Result<Buffer, DeviceError> {
        self.state()?;
        // SAFETY: plain allocation in the current context.
        let ptr = unsafe { result::malloc_sync(bytes.max(1)) }.map_err(|e| {
            DeviceError::Environment(format!(
                "allocating {} MiB on the GPU: {}: {}",
                bytes >> 20,
                code(&e),
                message(&e)
            ))
        })?;
        Ok(self.register(Allocation { ptr, bytes, imported: false, shareable: false }))
    }

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
    fn alloc_shared(&mut self, bytes: usize) -> Result<Buffer, DeviceError> {
        self.state()?;
        let whole = bytes.max(1).next_multiple_of(SHARE_BLOCK);
        // SAFETY: plain allocation in the current context.
        let ptr = unsafe { result::malloc_sync(whole) }.map_err(|e| {
            DeviceError::Environment(format!(
                "allocating {} MiB on the GPU: {}: {}",
                whole >> 20,
                code(&e),
                message(&e)
            ))
        })?;
        let (mut base, mut size): (sys::CUdeviceptr, usize) = (0, 0);
        // SAFETY: `ptr` was just allocated; plain out-parameters.
        let range = unsafe { sys::cuMemGetAddressRange_v2(&mut base, &mut size, ptr) }.result();
        let whole_blocks = ptr % SHARE_BLOCK as u64 == 0 && range.is_ok() && base == ptr && size == whole;
        // SAFETY: `ptr` holds `whole` bytes; the null stream orders it before any later work.
        let zeroed = whole_blocks
            && unsafe { sys::cuMemsetD8_v2(ptr, 0, whole) }.result().is_ok()
            // SAFETY: plain synchronisation of the current context: cleared before anyone maps it.
            && unsafe { sys::cuCtxSynchronize() }.result().is_ok();
        if !zeroed {
            // SAFETY: allocated above, freed once, never used.
            unsafe { Allocation { ptr, bytes, imported: false, shareable: false }.release() };
            return Err(DeviceError::Environment(format!(
                "the CUDA driver placed a shareable allocation of {whole} bytes at {ptr:#x} (allocation {base:#x}, \
                 {size} bytes), not on whole 2 MiB blocks of its own, or could not clear it: sadoku cannot share \
                 buffers with a worker without sharing the judge's memory; use another driver or --sandbox off"
            )));
        }
        Ok(self.register(Allocation { ptr, bytes, imported: false, shareable: true }))
    }

    fn free(&mut self, buffer: Buffer) {
        if let Some(a) = self.state.as_mut().and_then(|s| s.buffers.remove(&buffer.id)) {
            // SAFETY: the allocation was made (or mapped) in this context and is released once.
            unsafe { a.release() };
        }
    }

    fn upload(&mut self, buffer: Buffer, data: &[u8]) -> Result<(), DeviceError> {
        let ptr = self.ptr(buffer)?;
        if data.len() > buffer.bytes {
            return Err(DeviceError::Environment("upload larger than its buffer".into()));
        }
        // SAFETY: `ptr` holds at least `data.len()` bytes.
        unsafe { result::memcpy_htod_sync(ptr, data) }.map_err(env("copy to GPU"))
    }

    fn download(&mut self, buffer: Buffer, out: &mut [u8]) -> Result<(), DeviceError> {
        let ptr = self.ptr(buffer)?;
        if out.len() > buffer.bytes {
            return Err(DeviceError::Environment("download larger than its buffer".into()));
        }
        // SAFETY: `ptr` holds at least `out.len()` bytes.
        unsafe { result::memcpy_dtoh_sync(out, ptr) }.map_err(env("copy from GPU"))
    }

    fn fill_u32(&mut self, buffer: Buffer, word: u32) -> Result<(), DeviceError> {
        let ptr = self.ptr(buffer)?;
        let stream = self.state()?.stream;
        // SAFETY: `ptr` holds buffer.bytes bytes.
        unsafe { sys::cuMemsetD32Async(ptr, word, buffer.bytes / 4, stream) }.result().map_err(env("memset"))?;
        self.sync().map_err(env("memset"))
    }

    fn load(&mut self, module: &CompiledModule) -> Result<ModuleHandle, DeviceError> {
        self.state()?;
        let loaded = load(module).map_err(|e| DeviceError::ModuleLoad { code: code(&e), message: message(&e) })?;
        let id = self.next_id;
        self.next_id += 1;
        self.state.as_mut().ok_or_else(|| DeviceError::ContextLost(self.lost.clone()))?.modules.insert(id, loaded);
        Ok(ModuleHandle(id))
    }

    fn unload(&mut self, module: ModuleHandle) {
        if let Some(loaded) = self.state.as_mut().and_then(|s| s.modules.remove(&module.0)) {
            // SAFETY: the module was loaded by this device and is unloaded once; no work of it is
            // queued (the judge unloads a reference kernel after its last synchronised run).
            let _ = unsafe { result::module::unload(loaded.module) };
        }
    }

    fn run(&mut self, work: &[Work]) -> Result<(), DeviceError> {
        for w in work {
            match w {
                Work::Launch(l) => {
                    self.enqueue_launch(l)?;
                    // Wait for each candidate launch, so that a fault names the launch that caused it.
                    if let Err(e) = self.sync() {
                        return Err(self.fault(&l.kernel, e));
                    }
                }
                Work::Library(op) => self.enqueue_library(op)?,
            }
        }
        self.sync().map_err(env("library work"))
    }

    fn time(&mut self, run: &TimedRun) -> Result<Sample, DeviceError> {
        // Whatever the trace holds from before this sample is not part of it.
        let context = self.state()?.trace_context;
        let tracing = trace::status().and_then(|()| trace::begin(context));

        let state = self.state()?;
        let (stream, start, stop, scratch, trace_context) =
            (state.stream, state.start, state.stop, state.scratch, state.trace_context);
        // 1. Flush L2. SAFETY: handles of the live state; the flush buffer holds flush_words words.
        unsafe {
            // A persisting-L2 window would survive the flush.
            sys::cuCtxResetPersistingL2Cache().result().map_err(env("resetting persisting L2"))?;
            sys::cuMemsetD32Async(state.flush, 0, state.flush_words, stream).result().map_err(env("L2 flush"))?;
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

    fn export(&mut self, buffer: Buffer) -> Result<SharedHandle, DeviceError> {
        let a = self.allocation(buffer)?;
        if !a.shareable {
            return Err(DeviceError::NotShareable(buffer.id));
        }
        let mut handle = sys::CUipcMemHandle { reserved: [0; 64] };
        // SAFETY: `a.ptr` is the base of a live allocation of this context; plain out-parameter.
        unsafe { sys::cuIpcGetMemHandle(&mut handle, a.ptr) }.result().map_err(ipc("cuIpcGetMemHandle"))?;
        Ok(SharedHandle { handle: handle.reserved.iter().map(|&c| c as u8).collect(), bytes: a.bytes })
    }

    fn import(&mut self, shared: &SharedHandle) -> Result<Buffer, DeviceError> {
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
        let (mut base, mut size): (sys::CUdeviceptr, usize) = (0, 0);
        // SAFETY: `ptr` was just mapped; plain out-parameters.
        let range = unsafe { sys::cuMemGetAddressRange_v2(&mut base, &mut size, ptr) }.result();
        if range.is_ok() && (base != ptr || size < shared.bytes) {
            // SAFETY: mapped above, unmapped once, never used.
            unsafe { a.release() };
            return Err(DeviceError::Environment(format!(
                "CUDA IPC: an imported allocation maps {size} bytes, not the {} its handle claims",
                shared.bytes
            )));
        }
        Ok(self.register(a))
    }

    fn unavailable(&mut self, work: &[Work]) -> Option<String> {
        let cudnn = work.iter().any(|w| {
            matches!(w, Work::Library(LibraryOp::Conv2d { .. } | LibraryOp::Pool2d { .. } | LibraryOp::Softmax { .. }))
        });
        if cudnn { libs::cudnn().err() } else { None }
    }

    fn ceilings(&mut self) -> Result<Option<Ceilings>, DeviceError> {
        if self.role == Role::Candidate {
            return Ok(None);
        }
        if let Some(c) = self.ceilings {
            return Ok(Some(c));
        }
        self.state()?;
        let store = self.ceilings_store();
        let c = match store.as_ref().and_then(|(s, name)| self.read_ceilings(s, name)) {
            Some(c) => c,
            None => {
                let c = self.measure_ceilings()?;
                if let Some((s, name)) = &store {
                    self.write_ceilings(s, name, c);
                }
                c
            }
        };
        self.ceilings = Some(c);
        Ok(Some(c))
    }
}

impl Drop for CudaDevice {
    fn drop(&mut self) {
        if let Some(state) = self.state.take() {
            let _ = self.sync();
            // cuDNN's handle and plans first, while the context lives.
            drop(state.dnn.into_inner());
            // SAFETY: handles of the live state, each destroyed once; the context is released last.
            unsafe {
                for a in state.buffers.values() {
                    a.release();
                }
                for b in [state.flush, state.scratch, state.partials] {
                    let _ = result::free_sync(b);
                }
                for m in state.modules.values().chain([&state.helpers]) {
                    let _ = result::module::unload(m.module);
                }
                if let Some(handle) = state.cublas {
                    let _ = cublas::destroy_handle(handle);
                }
                let _ = result::event::destroy(state.start);
                let _ = result::event::destroy(state.stop);
                let _ = result::stream::destroy(state.stream);
                let _ = result::primary_ctx::release(self.dev);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_the_driver_version_from_either_banner() {
        let open = "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.159.04  Release Build  (dvs-builder@U22)  Thu";
        let closed = "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue Mar  5 22:23:56 UTC 2024";
        assert_eq!(super::parse_driver_banner(open).as_deref(), Some("580.159.04"));
        assert_eq!(super::parse_driver_banner(closed).as_deref(), Some("550.54.15"));
        assert_eq!(super::parse_driver_banner("garbage"), None);
    }

    /// The helper kernels (the generator among them) compile with NVRTC, where it can be loaded:
    /// no GPU is needed to find a mistake in their source.
    #[test]
    fn the_helpers_compile_with_nvrtc() {
        use sadoku_core::compile::{CompileRequest, Compiler};
        let Ok(nvrtc) = crate::nvrtc::Nvrtc::new(None) else { return };
        let request = CompileRequest {
            name: "sadoku_helpers.cu".into(),
            source: super::HELPERS.into(),
            arch: "sm_90".into(),
            options: vec![],
        };
        nvrtc.compile(&request).unwrap_or_else(|e| panic!("{e}"));
    }
}
