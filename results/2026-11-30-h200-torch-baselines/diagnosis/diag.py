# Eager PyTorch's time for the library's multi-kernel baselines, outside sadoku: events around one
# call (warm caching allocator, L2 flushed, device idle before), and the profiler's kernels.
import statistics, torch, torch.nn.functional as F
from torch.profiler import profile, ProfilerActivity
dev = "cuda"
flush = torch.empty(512 << 20, dtype=torch.uint8, device=dev)
cases = {
  "relu": (lambda x: torch.relu(x), lambda: [torch.randn(8192, 8192, device=dev)]),
  "l2norm": (lambda x: x / torch.norm(x, p=2, dim=-1, keepdim=True), lambda: [torch.randn(8192, 8192, device=dev)]),
  "mse_loss": (lambda p, t: F.mse_loss(p, t), lambda: [torch.randn(1 << 26, device=dev), torch.randn(1 << 26, device=dev)]),
  "cross_entropy": (lambda x, t: F.cross_entropy(x, t), lambda: [torch.randn(4096, 32768, device=dev), torch.randint(0, 32768, (4096,), device=dev)]),
  "attention": (lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
                lambda: [torch.randn(8, 16, 1024, 64, device=dev, dtype=torch.bfloat16) for _ in range(3)]),
}
def once(f, a, empty=False):
    if empty: torch.cuda.empty_cache()
    flush.zero_(); torch.cuda.synchronize()
    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    with torch.no_grad():
        s.record(); r = f(*a); torch.cuda.synchronize(); e.record(); e.synchronize()
    return s.elapsed_time(e)
for name, (f, make) in cases.items():
    a = make()
    for _ in range(5): once(f, a)
    warm = statistics.median(once(f, a) for _ in range(30))
    cold = statistics.median(once(f, a, True) for _ in range(15))
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(3): once(f, a)
    evs = [e for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA]
    evs.sort(key=lambda e: e.time_range.start)
    # the last call's records: after the last flush kernel
    idx = max(i for i, e in enumerate(evs) if "fill" in e.name.lower() or "zero" in e.name.lower() or "memset" in e.name.lower())
    call = evs[idx + 1:]
    span = (call[-1].time_range.end - call[0].time_range.start) / 1e3 if call else 0
    busy = sum((e.time_range.end - e.time_range.start) for e in call) / 1e3
    print(f"{name:14} events warm {warm:.4f} ms, after empty_cache {cold:.4f} ms; profiler: {len(call)} records, span {span:.4f} ms, busy {busy:.4f} ms")
    for e in call: print(f"    {e.name[:90]:90} {(e.time_range.end - e.time_range.start)/1e3:.4f} ms at +{(e.time_range.start - call[0].time_range.start)/1e3:.4f}")
