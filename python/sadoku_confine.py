"""The Python worker's second seccomp step.

`sadoku pyworker` starts the interpreter confined, but still able to start processes: loading a
candidate may build a torch extension, which runs nvcc and a C++ compiler. Once the candidate is
loaded, the bridge calls `install` with the filter the judge wrote to the worker's temporary
directory (`seccomp.bpf`: a native worker's filters, no fork and no exec), on every thread.
Filters stack: nothing the first one refuses is allowed again.
"""

import ctypes
import os
import platform
import struct

_SYS_SECCOMP = {"x86_64": 317, "aarch64": 277}
_SECCOMP_SET_MODE_FILTER = 1
_SECCOMP_FILTER_FLAG_TSYNC = 1


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install(path: str) -> None:
    """Install the BPF programs in `path`, in order, on every thread. Each program is its
    instruction count (little-endian u32) and then its 8-byte `struct sock_filter`s."""
    with open(path, "rb") as f:
        data = f.read()
    at = 0
    while at < len(data):
        if at + 4 > len(data):
            raise ValueError(f"{path} is not a list of seccomp programs")
        (count,) = struct.unpack_from("<I", data, at)
        program = data[at + 4 : at + 4 + 8 * count]
        if count == 0 or len(program) != 8 * count:
            raise ValueError(f"{path} is not a list of seccomp programs")
        _install_one(program)
        at += 4 + 8 * count


def _install_one(program: bytes) -> None:
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
