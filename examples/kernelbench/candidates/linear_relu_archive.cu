// Honest linear + ReLU in the AI CUDA Engineer archive's format: forward(x, weight, bias) =
// relu(x weight^T + bias), the order in which the bridge passes an nn.Linear's tensors (the
// forward's inputs, then the Model's parameters in named_parameters() order: fc.weight, fc.bias).
//
// A tiled SGEMM with the bias and ReLU fused into its epilogue, fp32 on CUDA cores: 128 x 128
// output tiles per block of 256 threads, 8 x 8 sums per thread, k in stages of 8 through
// double-buffered shared memory, float4 loads and stores where the sizes allow.
//
// Expected verdict: ACCEPTED, fp32 class; slower than the eager baseline (cuBLAS), speedup < 1.
#include <torch/extension.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>

namespace {

constexpr int kBM = 128;  // rows of x (rows of y) per block
constexpr int kBN = 128;  // rows of W (columns of y) per block
constexpr int kBK = 8;    // k per shared-memory stage
constexpr int kThreads = 256;

// Four consecutive k of row r of a row-major [rows, K] matrix, zeros outside it.
__device__ __forceinline__ void load_row4(const float* __restrict__ p, int rows, int K, int r, int k, bool vec,
                                          float (&v)[4]) {
    if (vec && r < rows && k + 3 < K) {
        const float4 t = *reinterpret_cast<const float4*>(p + (int64_t)r * K + k);
        v[0] = t.x;
        v[1] = t.y;
        v[2] = t.z;
        v[3] = t.w;
    } else {
#pragma unroll
        for (int q = 0; q < 4; ++q) v[q] = (r < rows && k + q < K) ? p[(int64_t)r * K + k + q] : 0.0f;
    }
}

__device__ __forceinline__ float relu_f(float v) { return v < 0.0f ? 0.0f : v; }  // NaN stays NaN

// y = relu(x W^T + b): x [M, K], W [N, K], b [N], y [M, N], all row-major, fp32 throughout.
// Block (bx, by) computes y[128 by .. +128][128 bx .. +128]. Thread (ty, tx) = (tid / 16, tid % 16)
// holds rows {4ty .. 4ty+3, 64+4ty .. 64+4ty+3} x columns {4tx .. 4tx+3, 64+4tx .. 64+4tx+3}:
// 8 x 8 sums in registers. x and W are both k-contiguous, so both are loaded the same way (each
// thread a row's four consecutive k) and stored transposed (k-major) into shared memory, which is
// double-buffered: the next stage is read from global memory while this one is multiplied.
__global__ void __launch_bounds__(kThreads, 2)
linear_relu_kernel(const float* __restrict__ x, const float* __restrict__ w, const float* __restrict__ b,
                   float* __restrict__ y, int M, int N, int K, bool vec_k, bool vec_n) {
    __shared__ __align__(16) float Xs[2][kBK][kBM];  // Xs[s][k][m] = x[m0 + m][k0 + k]
    __shared__ __align__(16) float Ws[2][kBK][kBN];  // Ws[s][k][n] = W[n0 + n][k0 + k]
    const int m0 = blockIdx.y * kBM, n0 = blockIdx.x * kBN;
    const int tid = threadIdx.x, tx = tid & 15, ty = tid >> 4;
    const int l_row = tid >> 1, l_k = (tid & 1) * 4;  // 128 rows x 8 k, four k per thread
    float rx[4], rw[4];

    float acc[8][8];
#pragma unroll
    for (int i = 0; i < 8; ++i)
#pragma unroll
        for (int j = 0; j < 8; ++j) acc[i][j] = 0.0f;

    load_row4(x, M, K, m0 + l_row, l_k, vec_k, rx);
    load_row4(w, N, K, n0 + l_row, l_k, vec_k, rw);
#pragma unroll
    for (int q = 0; q < 4; ++q) {
        Xs[0][l_k + q][l_row] = rx[q];
        Ws[0][l_k + q][l_row] = rw[q];
    }
    __syncthreads();

    int buf = 0;
    for (int k0 = 0; k0 < K; k0 += kBK) {
        const bool more = k0 + kBK < K;
        if (more) {
            load_row4(x, M, K, m0 + l_row, k0 + kBK + l_k, vec_k, rx);
            load_row4(w, N, K, n0 + l_row, k0 + kBK + l_k, vec_k, rw);
        }
#pragma unroll
        for (int kk = 0; kk < kBK; ++kk) {
            const float4 a0 = *reinterpret_cast<const float4*>(&Xs[buf][kk][ty * 4]);
            const float4 a1 = *reinterpret_cast<const float4*>(&Xs[buf][kk][64 + ty * 4]);
            const float4 b0 = *reinterpret_cast<const float4*>(&Ws[buf][kk][tx * 4]);
            const float4 b1 = *reinterpret_cast<const float4*>(&Ws[buf][kk][64 + tx * 4]);
            const float av[8] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w};
            const float bv[8] = {b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w};
#pragma unroll
            for (int i = 0; i < 8; ++i)
#pragma unroll
                for (int j = 0; j < 8; ++j) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
        }
        if (more) {
            // The other buffer was last read in the previous stage, before its closing barrier.
#pragma unroll
            for (int q = 0; q < 4; ++q) {
                Xs[buf ^ 1][l_k + q][l_row] = rx[q];
                Ws[buf ^ 1][l_k + q][l_row] = rw[q];
            }
        }
        __syncthreads();
        buf ^= 1;
    }

    // Epilogue: + bias, relu, store (float4 when the row is 16-byte aligned and whole).
    float bias[8];
#pragma unroll
    for (int h = 0; h < 2; ++h)
#pragma unroll
        for (int q = 0; q < 4; ++q) {
            const int c = n0 + h * 64 + tx * 4 + q;
            bias[h * 4 + q] = c < N ? b[c] : 0.0f;
        }
#pragma unroll
    for (int i = 0; i < 8; ++i) {
        const int r = m0 + (i < 4 ? ty * 4 + i : 64 + ty * 4 + (i - 4));
        if (r >= M) continue;
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            const int c = n0 + h * 64 + tx * 4;
            float v[4];
#pragma unroll
            for (int q = 0; q < 4; ++q) v[q] = relu_f(acc[i][h * 4 + q] + bias[h * 4 + q]);
            float* dst = y + (int64_t)r * N + c;
            if (vec_n && c + 3 < N) {
                *reinterpret_cast<float4*>(dst) = make_float4(v[0], v[1], v[2], v[3]);
            } else {
#pragma unroll
                for (int q = 0; q < 4; ++q)
                    if (c + q < N) dst[q] = v[q];
            }
        }
    }
}

inline bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15) == 0; }

}  // namespace

torch::Tensor forward(torch::Tensor x, torch::Tensor weight, torch::Tensor bias) {
    TORCH_CHECK(x.is_cuda() && weight.is_cuda() && bias.is_cuda(), "x, weight and bias must be CUDA tensors");
    TORCH_CHECK(x.scalar_type() == at::kFloat && weight.scalar_type() == at::kFloat &&
                    bias.scalar_type() == at::kFloat,
                "x, weight and bias must be float32");
    TORCH_CHECK(x.device() == weight.device() && x.device() == bias.device(), "x, weight and bias must be on one device");
    TORCH_CHECK(weight.dim() == 2 && bias.dim() == 1 && bias.size(0) == weight.size(0),
                "weight must be [out_features, in_features] and bias [out_features]");
    TORCH_CHECK(x.dim() >= 1 && x.size(-1) == weight.size(1), "x's last dimension must be in_features");
    const int64_t N = weight.size(0), K = weight.size(1);
    TORCH_CHECK(K > 0, "in_features must be positive");
    auto x2 = x.reshape({-1, K}).contiguous();
    auto wc = weight.contiguous();
    auto bc = bias.contiguous();
    const int64_t M = x2.size(0);
    auto out_sizes = x.sizes().vec();
    out_sizes.back() = N;
    auto y = torch::empty({M, N}, x2.options());
    if (M > 0 && N > 0) {
        TORCH_CHECK(M <= 0x7fffffff && N <= 0x7fffffff && K <= 0x7fffffff, "sizes must fit in 32 bits");
        TORCH_CHECK((M + kBM - 1) / kBM <= 65535, "too many rows for the grid's y dimension");
        const float* xp = x2.data_ptr<float>();
        const float* wp = wc.data_ptr<float>();
        float* yp = y.data_ptr<float>();
        const bool vec_k = (K % 4) == 0 && aligned16(xp) && aligned16(wp);
        const bool vec_n = (N % 4) == 0 && aligned16(yp);
        const dim3 grid((unsigned)((N + kBN - 1) / kBN), (unsigned)((M + kBM - 1) / kBM));
        linear_relu_kernel<<<grid, kThreads, 0, at::cuda::getCurrentCUDAStream()>>>(
            xp, wp, bc.data_ptr<float>(), yp, (int)M, (int)N, (int)K, vec_k, vec_n);
        C10_CUDA_KERNEL_LAUNCH_CHECK();
    }
    return y.view(out_sizes);
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
    m.def("forward", &forward, "relu(x weight^T + bias)");
}
