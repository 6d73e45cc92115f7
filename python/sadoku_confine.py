"""A Python worker's confinement, applied by the worker to itself.

`confine_from` applies what `sadoku pyworker` wrote down (rlimits, dropping root, Landlock, and
a first seccomp filter that still lets the worker start processes inside its own process group:
loading a candidate may build a torch extension, which runs nvcc and a C++ compiler). Once the
candidate is loaded, the bridge calls `install` with the worker's strict filters
(`seccomp.bpf`: no fork and no exec), on every thread. Filters stack: nothing the first one
refuses is allowed again.
"""

import ctypes
import json
import os
import platform
import resource
import signal
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
    libc = _libc()
    # A process without CAP_SYS_ADMIN may install a filter only with no_new_privs set (Landlock
    # sets it too, but Landlock may be missing).
    if libc.prctl(38, 1, 0, 0, 0):  # PR_SET_NO_NEW_PRIVS
        raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS failed")
    result = libc.syscall(
        ctypes.c_long(number),
        ctypes.c_long(_SECCOMP_SET_MODE_FILTER),
        ctypes.c_long(_SECCOMP_FILTER_FLAG_TSYNC),
        ctypes.byref(fprog),
    )
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"seccomp filter not installed ({result}): {os.strerror(err)}")


# --- the whole confinement, applied by the worker to itself --------------------------------------
#
# `sadoku pyworker` writes what the worker may do to `confine.json` (SADOKU_CONFINE) and becomes
# the interpreter; the bridge imports PyTorch, lets it make its CUDA context (the CUDA driver does
# not initialise inside the confinement), then calls `confine_from` before any candidate code
# runs. What engaged is returned in the judge's words ("Landlock ABI 7, seccomp, rlimits, uid
# 65534"); with "require", anything less ends the process.

_SYS_LANDLOCK = {"x86_64": (444, 445, 446), "aarch64": (444, 445, 446)}
# Rights that apply to a file (not a directory): execute, write, read, truncate, ioctl on devices.
_FILE_ACCESS = 1 | 2 | 4 | (1 << 14) | (1 << 15)
# Rights each Landlock ABI knows: 13 rights in ABI 1, refer in 2, truncate in 3, ioctl_dev in 5.
_ABI_ACCESS = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 4: (1 << 15) - 1}


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64)]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _libc():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc


def _landlock(handled: int, rules: list) -> str:
    numbers = _SYS_LANDLOCK.get(platform.machine())
    if numbers is None:
        raise OSError(f"no Landlock system call numbers for {platform.machine()}")
    create, add, restrict = numbers
    libc = _libc()
    abi = libc.syscall(ctypes.c_long(create), None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    if abi <= 0:
        raise OSError("Landlock is not offered by this kernel")
    handled &= _ABI_ACCESS.get(abi, -1) if abi < 5 else handled
    attr = _RulesetAttr(handled)
    fd = libc.syscall(
        ctypes.c_long(create), ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr)), ctypes.c_uint32(0)
    )
    if fd < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset failed")
    try:
        for path, access in rules:
            try:
                parent = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                allowed = access & handled
                if not os.path.isdir(path):
                    allowed &= _FILE_ACCESS
                rule = _PathBeneath(allowed, parent)
                if libc.syscall(
                    ctypes.c_long(add), ctypes.c_int(fd), ctypes.c_int(1), ctypes.byref(rule), ctypes.c_uint32(0)
                ):
                    raise OSError(ctypes.get_errno(), f"landlock_add_rule for {path} failed")
            finally:
                os.close(parent)
        if libc.prctl(38, 1, 0, 0, 0):  # PR_SET_NO_NEW_PRIVS
            raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS failed")
        if libc.syscall(ctypes.c_long(restrict), ctypes.c_int(fd), ctypes.c_uint32(0)):
            raise OSError(ctypes.get_errno(), "landlock_restrict_self failed")
    finally:
        os.close(fd)
    return f"Landlock ABI {abi}"


def _drop_root(uid: int, judge: int) -> str:
    if os.geteuid() != 0:
        return f"uid {os.geteuid()}"
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    # A change of credentials clears the parent-death signal: set it again.
    _libc().prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    if os.getppid() != judge:
        os._exit(1)
    try:
        os.setuid(0)
    except PermissionError:
        return f"uid {uid}"
    raise OSError("root could be regained after dropping it")


def _vm_size() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise OSError("no VmSize in /proc/self/status")


def _rlimits(limits: dict, device_bytes: int) -> None:
    # Address space: what the process maps now (its CUDA context among it), room for every device
    # allocation (each maps as much host address space as it holds), and `host_bytes` more.
    address_space = _vm_size() + device_bytes + limits.get("host_bytes", 16 << 30)
    for what, value in [
        (resource.RLIMIT_AS, address_space),
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_FSIZE, limits["file_bytes"]),
        (resource.RLIMIT_CPU, limits["cpu_s"]),
        (resource.RLIMIT_NPROC, limits["tasks"]),
    ]:
        resource.setrlimit(what, (value, value))


def confine_from(path: str, device_bytes: int = 0) -> str:
    """Apply the confinement `sadoku pyworker` wrote to `path`; return what engaged.
    `device_bytes`: the GPU's memory, which device allocations map into the address space."""
    with open(path) as f:
        plan = json.load(f)
    parts = ("Landlock", "seccomp", "rlimits")
    engaged: dict[str, str] = {}
    off: list[str] = []

    def step(part: str, apply) -> None:
        try:
            engaged[part] = apply() or part
        except Exception as exc:  # said in the description, refused under "require"
            off.append(f"no {part}: {exc}")

    step("rlimits", lambda: _rlimits(plan["rlimits"], device_bytes))
    user = None
    if plan.get("drop_to") is not None:
        try:
            user = _drop_root(plan["drop_to"], plan["judge"])
        except Exception as exc:
            off.append(f"root not dropped: {exc}")
    else:
        off.append("root not dropped: left out")
    for part, key, apply in [
        ("Landlock", "landlock", lambda: _landlock(plan["landlock"]["handled"], plan["landlock"]["rules"])),
        ("seccomp", "seccomp", lambda: install(plan["seccomp"])),
    ]:
        if plan.get(key) is not None:
            step(part, apply)
        else:
            off.append(f"no {part}: left out")
    text = ", ".join([engaged[p] for p in parts if p in engaged] + [user or f"uid {os.geteuid()}"])
    complete = all(p in engaged for p in parts)
    if off:
        text += f" ({'; '.join(off)})"
    if not complete:
        if plan.get("require"):
            raise SystemExit(f"sadoku: error: --sandbox require: the sandbox could not engage: {text}")
        text = "partial: " + text
    os.environ["SADOKU_SANDBOX"] = text
    with open(os.path.join(os.path.dirname(path), "sandbox.txt"), "w") as f:
        f.write(text)
    return text
