/* sadoku
problem = "causal_attention_bf16"

# Wrong (no causal mask): the honest kernel, except that every query attends to all S keys of
# its head, the future included (the mask forgotten, as in plain scaled-dot-product attention).
# Right only at S = 1; from S = 17 on, o_0 is an average over all S values instead of v_0 and the
# early rows are off by O(1) (~0.9 normwise on randn draws): "wrong answer".
[[launch]]
kernel = "attention_no_mask"
grid = ["cdiv(B * H * S, 4)", 1, 1]
block = [128, 1, 1]
args = ["Q", "K", "V", "O", "B * H * S", "S", "D"]
*/

#include <cuda_bf16.h>

#define WARPS 4
#define PER_LANE 4  // D <= 128 = 4·32

extern "C" __global__ void __launch_bounds__(WARPS * 32)
attention_no_mask(const __nv_bfloat16* __restrict__ Q, const __nv_bfloat16* __restrict__ K,
                      const __nv_bfloat16* __restrict__ V, __nv_bfloat16* __restrict__ O, int rows, int S, int D) {
    const int lane = threadIdx.x % 32;
    const long long row = (long long)blockIdx.x * WARPS + threadIdx.x / 32;  // ((b·H + h)·S + i)
    if (row >= rows) return;  // a whole warp: no block-wide barrier below
    const int i = (int)(row % S);
    const __nv_bfloat16* k = K + (row - i) * D;  // key j of this head at k + j·D
    const __nv_bfloat16* v = V + (row - i) * D;
    const float scale = rsqrtf((float)D);

    float q[PER_LANE], o[PER_LANE];
#pragma unroll
    for (int t = 0; t < PER_LANE; ++t) {
        const int d = lane + 32 * t;
        q[t] = d < D ? __bfloat162float(Q[row * D + d]) : 0.0f;
        o[t] = 0.0f;
    }
    float m = -__int_as_float(0x7f800000), l = 0.0f;  // m = -inf: the first key's alpha is 0
    for (int j = 0; j < S; ++j) {  // the cheat: keys past i too
        const __nv_bfloat16* kj = k + (size_t)j * D;
        const __nv_bfloat16* vj = v + (size_t)j * D;
        float s = 0.0f;
#pragma unroll
        for (int t = 0; t < PER_LANE; ++t) {
            const int d = lane + 32 * t;
            if (d < D) s = fmaf(q[t], __bfloat162float(kj[d]), s);
        }
#pragma unroll
        for (int w = 16; w > 0; w >>= 1) s += __shfl_xor_sync(0xffffffffu, s, w);
        s *= scale;
        const float m_new = fmaxf(m, s);
        const float alpha = expf(m - m_new), p = expf(s - m_new);
        l = fmaf(l, alpha, p);
#pragma unroll
        for (int t = 0; t < PER_LANE; ++t) {
            const int d = lane + 32 * t;
            if (d < D) o[t] = fmaf(o[t], alpha, p * __bfloat162float(vj[d]));
        }
        m = m_new;
    }
    const float inv = 1.0f / l;
#pragma unroll
    for (int t = 0; t < PER_LANE; ++t) {
        const int d = lane + 32 * t;
        if (d < D) O[row * D + d] = __float2bfloat16(o[t] * inv);
    }
}
