# Which of the tracer's steps leaves the device idle inside eager PyTorch's calls.
import os, statistics, sys
sys.path.insert(0, "python")
from sadoku_bridge import tracing
import torch, torch.nn.functional as F
tracer = tracing.Tracer.start(True)
print("tracer:", "active" if tracer.active else tracer.why)
dev = "cuda"
flush = torch.empty(512 << 20, dtype=torch.uint8, device=dev)
tiny = torch.empty(1, device=dev)
cases = {
  "l2norm": (lambda x: x / torch.norm(x, p=2, dim=-1, keepdim=True), lambda: [torch.randn(8192, 8192, device=dev)]),
  "mse_loss": (lambda p, t: F.mse_loss(p, t), lambda: [torch.randn(1 << 26, device=dev), torch.randn(1 << 26, device=dev)]),
  "relu": (lambda x: torch.relu(x), lambda: [torch.randn(8192, 8192, device=dev)]),
}
def once(f, a, variant):
    flush.zero_(); torch.cuda.synchronize()
    if variant in ("begin", "begin+warm"):
        tracer.begin()
    if variant in ("begin+warm", "warm only"):
        tiny.zero_(); torch.cuda.synchronize()
    opened = tracer.now()
    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    with torch.no_grad():
        s.record(); r = f(*a); torch.cuda.synchronize(); e.record(); e.synchronize()
    t = tracer.finish(opened, tracer.now())
    ks = sorted([k for k in t["Call"]["kernels"] if k["start_ns"] >= opened], key=lambda k: k["start_ns"]) if "Call" in t else []
    span = (max(k["end_ns"] for k in ks) - ks[0]["start_ns"]) / 1e6 if ks else float("nan")
    busy = sum(k["end_ns"] - k["start_ns"] for k in ks) / 1e6 if ks else float("nan")
    return s.elapsed_time(e), span, busy, len(ks)
for name, (f, make) in cases.items():
    a = make()
    for variant in ("begin", "no begin", "begin+warm", "warm only", "begin"):
        rows = [once(f, a, variant) for _ in range(20)][3:]
        med = [statistics.median(r[j] for r in rows) for j in range(4)]
        print(f"{name:9} {variant:11} events {med[0]:.4f} ms, span {med[1]:.4f}, busy {med[2]:.4f}, records {med[3]:.0f}")
