extern "C" __global__ void k(const float* A, const float* B, float* C, int N) {}
