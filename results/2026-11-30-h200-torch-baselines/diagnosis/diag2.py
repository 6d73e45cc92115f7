# Why eager PyTorch's multi-kernel calls leave the device idle in sadoku's Model process.
import os, statistics, sys, time
sys.path.insert(0, "python")
from sadoku_bridge import tracing
import torch, torch.nn.functional as F
tracer = tracing.Tracer.start(True) if os.environ.get("SADOKU_TRACE_LIB") else tracing.Tracer(why="off")
dev = "cuda"
flush = torch.empty(512 << 20, dtype=torch.uint8, device=dev)
cases = {
  "l2norm": (lambda x: x / torch.norm(x, p=2, dim=-1, keepdim=True), lambda d: [torch.randn(8192, 8192, device=dev, dtype=d)]),
  "mse_loss": (lambda p, t: F.mse_loss(p, t), lambda d: [torch.randn(1 << 26, device=dev, dtype=d), torch.randn(1 << 26, device=dev, dtype=d)]),
}
def once(f, a, out):
    flush.zero_(); torch.cuda.synchronize()
    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    if tracer.active:
        tracer.begin(); opened = tracer.now()
    with torch.no_grad():
        s.record(); r = f(*a); torch.cuda.synchronize(); e.record(); e.synchronize()
    span = busy = float("nan")
    if tracer.active:
        t = tracer.finish(opened, tracer.now())
        ks = sorted(t["Call"]["kernels"], key=lambda k: k["start_ns"]) if "Call" in t else []
        if ks:
            span = (max(k["end_ns"] for k in ks) - ks[0]["start_ns"]) / 1e6
            busy = sum(k["end_ns"] - k["start_ns"] for k in ks) / 1e6
    out.copy_(r.reshape(out.shape)); torch.cuda.synchronize()
    return s.elapsed_time(e), span, busy
print("tracer:", "active" if tracer.active else tracer.why)
for name, (f, make) in cases.items():
    a = make(torch.float32); a64 = [x.double() for x in a]
    out = torch.empty_like(f(*a)); out64 = torch.empty_like(f(*a64))
    for mode in ("warm", "truth between"):
        rows = []
        for i in range(25):
            if mode == "truth between":
                with torch.no_grad(): out64.copy_(f(*[x.double() for x in a])); torch.cuda.synchronize()
            rows.append(once(f, a, out))
        rows = rows[3:]
        med = [statistics.median(r[j] for r in rows) for j in range(3)]
        st = torch.cuda.memory_stats()
        print(f"{name:9} {mode:14} events {med[0]:.4f} ms, span {med[1]:.4f}, busy {med[2]:.4f}; segments allocated so far {st.get('num_device_alloc', '?')}, retries {st.get('num_alloc_retries')}")
    # host time between ops: wall for the dispatch alone
    torch.cuda.synchronize(); t0 = time.perf_counter()
    with torch.no_grad():
        for _ in range(20): f(*a)
    t1 = time.perf_counter(); torch.cuda.synchronize(); t2 = time.perf_counter()
    print(f"{name:9} dispatch {1e3*(t1-t0)/20:.4f} ms per call (queue), {1e3*(t2-t0)/20:.4f} with the device")
