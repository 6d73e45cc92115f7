"""How long one synchronised call takes on the host, eager leaky ReLU against the Triton example,
outside sadoku (no worker, no trace, no confinement): the host time a call spends beyond its
kernel, which the judge's clock sees and a kernel trace does not."""

import importlib.util
import sys
import time

import torch

spec = importlib.util.spec_from_file_location("c", sys.argv[1])
c = importlib.util.module_from_spec(spec)
spec.loader.exec_module(c)
x = torch.randn(8192, 8192, device="cuda")
triton_model = c.ModelNew(0.01)
calls = {"eager": lambda: torch.nn.functional.leaky_relu(x, 0.01), "triton": lambda: triton_model(x)}
for name, f in calls.items():
    for _ in range(20):
        f()
    torch.cuda.synchronize()
for name, f in calls.items():
    walls, gpu = [], []
    for _ in range(200):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        t = time.perf_counter_ns()
        s.record()
        f()
        e.record()
        torch.cuda.synchronize()
        walls.append((time.perf_counter_ns() - t) / 1e6)
        gpu.append(s.elapsed_time(e))
    walls.sort(), gpu.sort()
    print(f"{name:7} host wall per synchronised call: median {walls[100]:.4f} ms (q1 {walls[50]:.4f}, q3 {walls[150]:.4f}); "
          f"events around it {gpu[100]:.4f} ms")
