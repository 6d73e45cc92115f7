// Honest training-mode batch normalisation in the AI CUDA Engineer archive's format:
// forward(input, weight, bias, running_mean, running_var, training, momentum, eps), the
// functional signature of F.batch_norm. Like the Model's own BatchNorm2d, it updates
// running_mean and running_var in place with the batch's statistics (the variance unbiased, as
// PyTorch keeps it). The judge gives the kernel a copy of those two buffers for each call, as
// they are the Model's state, which its forward changes; the weight and bias stay the judge's
// own, which it checks unchanged.
//
// Three kernels, no atomics (the result is bitwise reproducible):
//   1. one block per (channel, sample): the plane's sum and sum of squares in double;
//   2. one thread per channel: the partial sums in a fixed order, the mean and 1/sqrt(var + eps),
//      and the running statistics updated;
//   3. one thread per 4 elements: y = (x - mean) * invstd * weight + bias.
//
// Expected verdict: ACCEPTED, fp32 class.
#include <torch/extension.h>
#include <c10/cuda/CUDAStream.h>
#include <c10/cuda/CUDAException.h>

namespace {

constexpr int kThreads = 256;

__global__ void plane_sums(const float* __restrict__ x, double* __restrict__ partial, int64_t channels,
                           int64_t plane) {
    const int64_t c = blockIdx.x, n = blockIdx.y;
    const float* in = x + (n * channels + c) * plane;
    double s = 0.0, q = 0.0;
    for (int64_t i = threadIdx.x; i < plane; i += blockDim.x) {
        const double v = in[i];
        s += v;
        q += v * v;
    }
    __shared__ double ss[kThreads], qq[kThreads];
    ss[threadIdx.x] = s;
    qq[threadIdx.x] = q;
    __syncthreads();
    for (int half = blockDim.x / 2; half > 0; half /= 2) {
        if (threadIdx.x < half) {
            ss[threadIdx.x] += ss[threadIdx.x + half];
            qq[threadIdx.x] += qq[threadIdx.x + half];
        }
        __syncthreads();
    }
    if (threadIdx.x == 0) {
        partial[2 * (c * gridDim.y + n)] = ss[0];
        partial[2 * (c * gridDim.y + n) + 1] = qq[0];
    }
}

__global__ void channel_statistics(const double* __restrict__ partial, float* __restrict__ mean_invstd,
                                   float* __restrict__ running_mean, float* __restrict__ running_var,
                                   int64_t channels, int64_t samples, int64_t per_channel, double momentum,
                                   double eps, bool training) {
    const int64_t c = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= channels) return;
    double mean, var;
    if (training) {
        double s = 0.0, q = 0.0;
        for (int64_t n = 0; n < samples; ++n) {
            s += partial[2 * (c * samples + n)];
            q += partial[2 * (c * samples + n) + 1];
        }
        mean = s / per_channel;
        var = fmax(q / per_channel - mean * mean, 0.0);
        if (running_mean != nullptr) {
            running_mean[c] = (float)((1.0 - momentum) * running_mean[c] + momentum * mean);
        }
        if (running_var != nullptr) {
            const double unbiased = per_channel > 1 ? var * per_channel / (per_channel - 1) : var;
            running_var[c] = (float)((1.0 - momentum) * running_var[c] + momentum * unbiased);
        }
    } else {
        mean = running_mean[c];
        var = running_var[c];
    }
    mean_invstd[2 * c] = (float)mean;
    mean_invstd[2 * c + 1] = (float)(1.0 / sqrt(var + eps));
}

__global__ void normalise(const float* __restrict__ x, const float* __restrict__ mean_invstd,
                          const float* __restrict__ weight, const float* __restrict__ bias, float* __restrict__ y,
                          int64_t total, int64_t channels, int64_t plane) {
    // plane is a multiple of 4 (checked by the host): four elements share a channel.
    const int64_t quads = total / 4;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < quads;
         i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t c = (i * 4 / plane) % channels;
        const float m = mean_invstd[2 * c], r = mean_invstd[2 * c + 1];
        const float g = weight != nullptr ? weight[c] : 1.0f, b = bias != nullptr ? bias[c] : 0.0f;
        const float4 v = reinterpret_cast<const float4*>(x)[i];
        float4 o;
        o.x = (v.x - m) * r * g + b;
        o.y = (v.y - m) * r * g + b;
        o.z = (v.z - m) * r * g + b;
        o.w = (v.w - m) * r * g + b;
        reinterpret_cast<float4*>(y)[i] = o;
    }
}

const float* optional_data(const torch::Tensor& t) { return t.defined() ? t.data_ptr<float>() : nullptr; }

}  // namespace

torch::Tensor forward(torch::Tensor input, torch::Tensor weight, torch::Tensor bias, torch::Tensor running_mean,
                      torch::Tensor running_var, bool training, double momentum, double eps) {
    TORCH_CHECK(input.is_cuda() && input.scalar_type() == at::kFloat, "input must be a float32 CUDA tensor");
    TORCH_CHECK(input.dim() == 4, "input must be [N, C, H, W]");
    TORCH_CHECK(training || (running_mean.defined() && running_var.defined()), "eval mode needs running statistics");
    auto x = input.contiguous();
    const int64_t N = x.size(0), C = x.size(1), plane = x.size(2) * x.size(3);
    TORCH_CHECK(plane % 4 == 0, "H * W must be a multiple of 4");
    for (const auto* t : {&weight, &bias, &running_mean, &running_var}) {
        TORCH_CHECK(!t->defined() || (t->is_cuda() && t->is_contiguous() && t->numel() == C &&
                                      t->scalar_type() == at::kFloat),
                    "per-channel tensors must be float32 CUDA tensors of C elements");
    }
    auto y = torch::empty_like(x);
    auto stream = c10::cuda::getCurrentCUDAStream();
    auto partial = torch::empty({C, N, 2}, x.options().dtype(at::kDouble));
    auto mean_invstd = torch::empty({C, 2}, x.options());
    if (training) {
        plane_sums<<<dim3((unsigned)C, (unsigned)N), kThreads, 0, stream>>>(x.data_ptr<float>(),
                                                                            partial.data_ptr<double>(), C, plane);
        C10_CUDA_KERNEL_LAUNCH_CHECK();
    }
    float* rm = running_mean.defined() ? running_mean.data_ptr<float>() : nullptr;
    float* rv = running_var.defined() ? running_var.data_ptr<float>() : nullptr;
    channel_statistics<<<(unsigned)((C + 127) / 128), 128, 0, stream>>>(
        partial.data_ptr<double>(), mean_invstd.data_ptr<float>(), rm, rv, C, N, N * plane, momentum, eps, training);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    const int64_t quads = x.numel() / 4;
    const int64_t blocks = std::min<int64_t>((quads + kThreads - 1) / kThreads, 132 * 16);
    normalise<<<(unsigned)blocks, kThreads, 0, stream>>>(x.data_ptr<float>(), mean_invstd.data_ptr<float>(),
                                                          optional_data(weight), optional_data(bias),
                                                          y.data_ptr<float>(), x.numel(), C, plane);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return y;
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
    m.def("forward", &forward, "batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps)");
}
