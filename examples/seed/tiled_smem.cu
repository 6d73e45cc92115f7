/* sadoku
problem = "trimm"

# sadoku's own honest kernel: shared-memory tiles that skip the work the triangles make zero.
[[launch]]
kernel = "trimm_tiled"
grid   = ["cdiv(N, 64)", "cdiv(N, 64)", 1]
block  = [256, 1, 1]
args   = ["A", "B", "C", "N"]
*/

// C = tril(A·B) for lower-triangular A, B (row-major, N×N).
//
// Each block owns a 64×64 tile of C; each of its 256 threads a 4×4 register tile. Tiles wholly above
// the diagonal are zero and only written. For the rest, A[r][k] is zero for k > r and B[k][c] for
// k < c, so the k loop runs from the tile's first column to its last row only: about a sixth of a
// dense GEMM's work overall. 16-deep slabs of A (stored transposed) and B are staged in shared
// memory and read back as float4.

#define TILE 64
#define SLAB 16

extern "C" __global__ void __launch_bounds__(256)
trimm_tiled(const float* __restrict__ A, const float* __restrict__ B, float* __restrict__ C, int N) {
    const int row0 = blockIdx.y * TILE, col0 = blockIdx.x * TILE;
    const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;

    if (col0 > row0 + TILE - 1) {
        for (int i = threadIdx.x; i < TILE * TILE; i += blockDim.x) {
            const int r = row0 + i / TILE, c = col0 + i % TILE;
            if (r < N && c < N) C[(size_t)r * N + c] = 0.0f;
        }
        return;
    }

    __shared__ __align__(16) float As[SLAB][TILE + 4];  // As[k][r] = A[row0 + r][k0 + k]
    __shared__ __align__(16) float Bs[SLAB][TILE + 4];  // Bs[k][c] = B[k0 + k][col0 + c]
    float acc[4][4] = {};

    const int k_end = min(N, row0 + TILE);
    for (int k0 = col0; k0 < k_end; k0 += SLAB) {
        for (int i = threadIdx.x; i < TILE * SLAB; i += blockDim.x) {
            const int r = i / SLAB, k = i % SLAB;
            const int gr = row0 + r, gk = k0 + k;
            As[k][r] = (gr < N && gk < N) ? A[(size_t)gr * N + gk] : 0.0f;
        }
        for (int i = threadIdx.x; i < SLAB * TILE; i += blockDim.x) {
            const int k = i / TILE, c = i % TILE;
            const int gk = k0 + k, gc = col0 + c;
            Bs[k][c] = (gk < N && gc < N) ? B[(size_t)gk * N + gc] : 0.0f;
        }
        __syncthreads();
#pragma unroll
        for (int k = 0; k < SLAB; ++k) {
            const float4 a = *reinterpret_cast<const float4*>(&As[k][ty * 4]);
            const float4 b = *reinterpret_cast<const float4*>(&Bs[k][tx * 4]);
            const float av[4] = {a.x, a.y, a.z, a.w}, bv[4] = {b.x, b.y, b.z, b.w};
#pragma unroll
            for (int i = 0; i < 4; ++i)
#pragma unroll
                for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
        }
        __syncthreads();
    }

#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            const int r = row0 + ty * 4 + i, c = col0 + tx * 4 + j;
            if (r < N && c < N) C[(size_t)r * N + c] = c <= r ? acc[i][j] : 0.0f;
        }
}
