/* sadoku
problem = "gelu_bf16"

# Wrong: the whole formula in bf16 arithmetic (native bf16 multiplies and adds, tanh rounded to
# bf16), every intermediate rounded to 8 bits. For x < 0, 1 + tanh(z) cancels: tanh's rounding
# near -1 (up to 2^-9) and the error of z carried through it leave y off by up to ~2^-10·|x|
# while |y| ≪ |x|: at x = -2 ~2e-3 against a bound of ~4e-4 ((2^-7 + 34u)·(|y| + 2^-8·|x|)).
# About one element in ten of a randn draw is over it: "wrong answer". (Its normwise error, ~2.5e-3,
# is bf16-class: only the elementwise bound sees it.)
[[launch]]
kernel = "gelu_bf16_math"
grid = ["cdiv(B * D, 256)", 1, 1]
block = [256, 1, 1]
args = ["x", "y", "B * D"]
*/
#include <cuda_bf16.h>

extern "C" __global__ void gelu_bf16_math(const __nv_bfloat16* __restrict__ x, __nv_bfloat16* __restrict__ y, long long n) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    const __nv_bfloat16 k = __float2bfloat16_rn(0.7978845608028654f);
    const __nv_bfloat16 c = __float2bfloat16_rn(0.044715f);
    const __nv_bfloat16 half = __float2bfloat16_rn(0.5f);
    const __nv_bfloat16 one = __float2bfloat16_rn(1.0f);
    __nv_bfloat16 v = x[i];
    __nv_bfloat16 v3 = __hmul(__hmul(v, v), v);
    __nv_bfloat16 z = __hmul(k, __hadd(v, __hmul(c, v3)));
    __nv_bfloat16 t = __float2bfloat16_rn(tanhf(__bfloat162float(z)));
    y[i] = __hmul(__hmul(half, v), __hadd(one, t));
}
