"""`sadoku serve` as a child process: started on a free loopback port, stopped with its owner.

    from sadoku.server import LocalServer

    with LocalServer(args=["--jobs", "2"]) as server:     # the binary: $SADOKU_BIN, or PATH
        judge = server.client()                           # a sadoku.Client, with the server's token
        verdicts = judge.review_batch(candidates)

The server listens on 127.0.0.1 on a port the system picks and writes it to a port file, which is
how its owner finds it; it is given a random token (a file only the owner can read), so that no
other process of the machine can submit to it. Its output goes to a log file whose last lines
are in the error when it fails to start. On Linux the server is killed if its owner dies without
stopping it (a Ray actor killed with ``ray.kill``, say).
"""

from __future__ import annotations

import ctypes
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .client import Client
from .judge import JudgeError

# Options of the `sadoku` command itself, not of `serve`: they are written before the subcommand.
_GLOBAL_OPTIONS = ("--device", "--problems")


def find_binary(binary: str | os.PathLike[str] | None = None) -> str:
    """``binary``, else ``$SADOKU_BIN``, else `sadoku` on PATH."""
    found = binary or os.environ.get("SADOKU_BIN") or shutil.which("sadoku")
    if not found:
        raise JudgeError("no sadoku binary: pass binary=..., set SADOKU_BIN, or put `sadoku` on PATH")
    return os.fspath(found)


def command_line(binary: str, args: Sequence[str]) -> list[str]:
    """``binary`` then ``args`` around ``serve``: `sadoku`'s own options (``--device``,
    ``--problems``, with their values) before it, `serve`'s after it.
    """
    before: list[str] = []
    after: list[str] = []
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        if arg in _GLOBAL_OPTIONS and rest:
            before += [arg, rest.pop(0)]
        elif arg.startswith(tuple(o + "=" for o in _GLOBAL_OPTIONS)):
            before.append(arg)
        else:
            after.append(arg)
    return [binary, *before, "serve", *after]


def _parent_death_signal() -> Callable[[], None] | None:
    """On Linux, a function for the child to run before it executes: it asks the kernel for
    SIGKILL when its parent dies. The C function is looked up here, before the fork, so that the
    child only calls it.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1

    def arm() -> None:
        prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)

    return arm


def _port(text: str) -> int | None:
    """The port a port file names: its URL (``http://127.0.0.1:PORT``, as `sadoku serve` writes
    it), ``HOST:PORT``, a number, or JSON with ``port`` or ``addr``.
    """
    text = text.strip()
    if not text:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = text
    if isinstance(value, dict):
        value = value.get("port") or value.get("addr") or value.get("listen")
    if isinstance(value, int):
        return value
    value = str(value)
    try:
        if "://" in value:
            return urllib.parse.urlsplit(value).port
        return int(value.rsplit(":", 1)[-1].strip("[] \n"))
    except ValueError:
        return None


class LocalServer:
    """One `sadoku serve` child process on 127.0.0.1.

    ``args`` are `sadoku`'s and `serve`'s options (``--device`` and ``--problems`` go before the
    subcommand by themselves), e.g. ``["--jobs", "2", "--time-budget", "1"]``; ``gpus`` is
    ``--gpus`` (None: the server's default); ``state`` is the server's state directory (None: a
    temporary one, removed on :meth:`stop`; a server started again on the same directory
    answers what it judged and reviews what it had queued). ``env`` adds to the environment.
    ``startup_timeout`` bounds the wait for the port file (the self-test runs before it).
    """

    def __init__(
        self,
        binary: str | os.PathLike[str] | None = None,
        args: Sequence[str] = (),
        *,
        gpus: str | None = None,
        state: str | os.PathLike[str] | None = None,
        env: dict[str, str] | None = None,
        startup_timeout: float = 600.0,
    ) -> None:
        self.binary = find_binary(binary)
        self.args = list(args)
        self.gpus = gpus
        self.state = Path(state) if state is not None else None
        self.env = env
        self.startup_timeout = startup_timeout
        self.token = secrets.token_hex(32)
        self.port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._runtime: Path | None = None

    # -- its life --------------------------------------------------------------------------------

    def start(self) -> LocalServer:
        """Start it and wait until it listens; :class:`JudgeError` (with its log's last lines) if
        it exits first (a failed self-test exits with status 2) or takes longer than allowed.
        """
        if self._process is not None:
            raise RuntimeError("this server was started already")
        self._runtime = Path(tempfile.mkdtemp(prefix="sadoku-serve-"))
        state = self.state or self._runtime / "state"
        state.mkdir(parents=True, exist_ok=True)
        token_file = self._runtime / "token"
        token_file.touch(mode=0o600)
        token_file.write_text(self.token + "\n")
        port_file = self._runtime / "port"
        argv = command_line(self.binary, self.args)
        argv += ["--listen", "127.0.0.1:0", "--port-file", str(port_file), "--state", str(state)]
        argv += ["--token-file", str(token_file)]
        if self.gpus is not None:
            argv += ["--gpus", self.gpus]
        environment = {**os.environ, **(self.env or {})}
        environment.pop("SADOKU_TOKEN", None)
        with open(self.log, "wb") as log:
            try:
                self._process = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=environment,
                    preexec_fn=_parent_death_signal(),
                )
            except OSError as exc:
                self._cleanup()
                raise JudgeError(f"cannot run {self.binary}: {exc}") from exc
        deadline = time.monotonic() + self.startup_timeout
        while True:
            code = self._process.poll()
            if code is not None:
                tail = self.log_tail()
                self._process = None
                self._cleanup()
                raise JudgeError(f"sadoku serve exited with status {code} before it listened: {tail}")
            port = _port(port_file.read_text()) if port_file.exists() else None
            if port is not None:
                # Read again a moment later: a port file caught while it was written reads short.
                time.sleep(0.05)
                if _port(port_file.read_text()) == port:
                    self.port = port
                    return self
            if time.monotonic() > deadline:
                tail = self.log_tail()
                self.stop()
                raise JudgeError(f"sadoku serve did not listen within {self.startup_timeout:g} s: {tail}")
            time.sleep(0.05)

    def stop(self, grace: float = 10.0) -> None:
        """Stop it (SIGTERM, then SIGKILL after ``grace`` seconds) and remove its files (a state
        directory that was given is kept).
        """
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(grace)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._cleanup()

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __del__(self) -> None:
        if getattr(self, "_process", None) is not None:
            try:
                self.stop(grace=2.0)
            except Exception:  # at the interpreter's exit, what stop() needs may be gone
                pass

    # -- what it is ------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("the server is not started")
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def log(self) -> Path:
        """Where the server's output goes (removed on :meth:`stop`)."""
        if self._runtime is None:
            raise RuntimeError("the server is not started")
        return self._runtime / "serve.log"

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def client(self, timeout: float | None = None, **options: Any) -> Client:
        """A :class:`~sadoku.Client` of this server, with its token."""
        return Client(self.url, token=self.token, timeout=timeout, **options)

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log.read_text(errors="replace").strip()
        except (OSError, RuntimeError):
            return "(no log)"
        return " | ".join(text.splitlines()[-lines:]) or "(its log is empty)"

    def _cleanup(self) -> None:
        runtime, self._runtime = self._runtime, None
        if runtime is not None:
            shutil.rmtree(runtime, ignore_errors=True)
