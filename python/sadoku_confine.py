"""The Python worker's second seccomp step.

`sadoku pyworker` starts the interpreter confined, but still able to start processes: loading a
candidate may build a torch extension, which runs nvcc and a C++ compiler. Once the candidate is
loaded, the bridge calls `install` with the filter the judge wrote to the worker's temporary
directory (`seccomp.bpf`: a native worker's filter, no fork and no exec), on every thread.
Filters stack: nothing the first one refuses is allowed again.
"""

import ctypes
import os
import platform

_SYS_SECCOMP = {"x86_64": 317, "aarch64": 277}
_SECCOMP_SET_MODE_FILTER = 1
_SECCOMP_FILTER_FLAG_TSYNC = 1


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install(path: str) -> None:
    """Install the BPF program in `path` (8-byte `struct sock_filter`s) on every thread."""
    with open(path, "rb") as f:
        program = f.read()
    if not program or len(program) % 8:
        raise ValueError(f"{path} is not a seccomp program")
    number = _SYS_SECCOMP.get(platform.machine())
    if number is None:
        raise OSError(f"no seccomp system call number for {platform.machine()}")
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    result = libc.syscall(
        ctypes.c_long(number),
        ctypes.c_long(_SECCOMP_SET_MODE_FILTER),
        ctypes.c_long(_SECCOMP_FILTER_FLAG_TSYNC),
        ctypes.byref(fprog),
    )
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"seccomp filter not installed ({result}): {os.strerror(err)}")
