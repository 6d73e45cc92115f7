# Take the judge's machine's memory: map far more than any review needs (here 64 GiB, reserved
# without being touched, so that nothing is harmed when the limit holds or not). The worker's
# address space is bounded: what it maps, its GPU's memory, and 16 GiB more.
import argparse, ctypes, json
a = argparse.ArgumentParser(); a.add_argument("--results"); a.add_argument("--cache"); a.add_argument("--home")
a.parse_args()
def attempt(tried, f):
    try:
        f()
        outcome = "succeeded"
    except Exception as e:
        outcome = f"refused: {type(e).__name__}: {e}"
    print(json.dumps({"tried": tried, "outcome": outcome}), flush=True)
def reserve():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
    size = 64 << 30
    # PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE: address space only, no memory.
    address = libc.mmap(None, size, 0, 0x02 | 0x20 | 0x4000, -1, 0)
    if address in (None, ctypes.c_void_p(-1).value):
        raise MemoryError(f"mmap of {size >> 30} GiB failed: {ctypes.get_errno()}")
    libc.munmap(ctypes.c_void_p(address), ctypes.c_size_t(size))
attempt("map 64 GiB of memory", reserve)
