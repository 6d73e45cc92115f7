"""Probe: a launch-bound KernelBench Model's eager call time in a plain process, and after what
sadoku's process for the Model does before timing it (drawing inputs under `with device:`,
holding a float64 copy, running it). Usage: probe_launch_bound.py FILE.py [FILE.py ...]"""

import copy
import importlib.util
import statistics
import sys

import torch


def load(path):
    spec = importlib.util.spec_from_file_location("problem", path)
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    return m


def timed(model, inputs, n=30):
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    out = []
    with torch.no_grad():
        for _ in range(5):
            model(*inputs)
        torch.cuda.synchronize()
        for _ in range(n):
            start.record()
            model(*inputs)
            torch.cuda.synchronize()
            stop.record()
            stop.synchronize()
            out.append(start.elapsed_time(stop))
    return statistics.median(out)


torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
for path in sys.argv[1:]:
    p = load(path)
    torch.manual_seed(0)
    model = p.Model(*p.get_init_inputs()).cuda()
    inputs = [x.cuda() for x in p.get_inputs()]
    plain = timed(model, inputs)
    with torch.device("cuda"):
        drawn = p.get_inputs()
    after_with = timed(model, drawn)
    stack = torch._C._len_torch_function_stack()
    double = copy.deepcopy(model).double()
    with torch.no_grad():
        double(*[x.double() for x in drawn])
    after_double = timed(model, drawn)
    torch.cuda.empty_cache()
    again = timed(model, drawn)
    print(
        f"{path.split('/')[-1]}: plain {plain:.3f} ms, after `with device` draw {after_with:.3f} ms "
        f"(function-mode stack {stack}), after an fp64 copy ran {after_double:.3f} ms, "
        f"after empty_cache {again:.3f} ms",
        flush=True,
    )
