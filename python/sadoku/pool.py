"""Ray: one `sadoku serve` per GPU of a cluster, and a pool that spreads batches over them.

    import ray
    from sadoku.pool import JudgePool

    ray.init()                                         # or the trainer's own cluster
    pool = JudgePool(actors=8, args=["--jobs", "2"])   # one actor (and server) per GPU
    verdicts = pool.review_batch(candidates)           # in order, as Judge.review_batch

Each actor (:class:`JudgeServer`, as a Ray actor with ``num_gpus`` GPUs) starts its own `sadoku
serve` on the GPUs Ray gave it, on a loopback port with a token of its own, and reviews what the
pool sends it through a :class:`~sadoku.Client`. The pool cuts a batch into chunks and keeps at
most ``in_flight`` candidates on each actor at once (back-pressure: a slow server is not handed
more than it can queue). A chunk whose actor dies (``ray.exceptions.RayActorError``), or whose
server becomes unreachable or stops its lanes, is sent again to another actor or to a new one
started in the dead one's place, at most ``retries`` times.

Ray is imported only when a pool or an actor is made: ``import sadoku`` never needs it. Every node
needs the `sadoku` binary (``binary``, ``$SADOKU_BIN`` or PATH) and this package importable by
Ray's workers (installed, or through the job's ``runtime_env``).
"""

from __future__ import annotations

import asyncio
import os
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .client import ServerUnavailable, encode, expected_problem
from .judge import Candidate, JudgeError
from .server import LocalServer
from .verdict import Verdict


def _actor_gpus() -> str | None:
    """The ordinals (as the server sees them) of the GPUs Ray gave this actor, for ``--gpus``;
    None for an actor without GPUs (the server's default, as on the simulated device).
    """
    import ray

    ids = [str(i) for i in ray.get_gpu_ids()]
    if not ids:
        return None
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        # The process sees only these devices, numbered from 0 in this order (Ray narrows it to
        # the actor's own; where it names them otherwise, by UUID say, they are the first ones).
        order = [d.strip() for d in visible.split(",")]
        ids = [str(order.index(i)) for i in ids] if all(i in order for i in ids) else list(map(str, range(len(ids))))
    return ",".join(ids)


class JudgeServer:
    """The pool's Ray actor: one `sadoku serve` on the actor's GPUs, stopped with the actor.

    ``ray.remote(JudgeServer)`` (or :func:`actor_class`) makes it an actor; its arguments are
    :class:`~sadoku.server.LocalServer`'s, and ``timeout`` is the :class:`~sadoku.Client`'s.
    """

    def __init__(
        self,
        binary: str | None = None,
        args: Sequence[str] = (),
        state: str | None = None,
        env: dict[str, str] | None = None,
        startup_timeout: float = 600.0,
        timeout: float | None = None,
    ) -> None:
        self.server = LocalServer(
            binary, args, gpus=_actor_gpus(), state=state, env=env, startup_timeout=startup_timeout
        ).start()
        self.client = self.server.client(timeout=timeout)

    def ready(self) -> dict[str, Any]:
        """The server's ``/healthz``: the pool waits for every actor's before it reviews."""
        return self.client.health()

    def review_encoded(self, entries: list[dict[str, Any]], problems: list[str | None]) -> list[Verdict]:
        return self.client.review_encoded(entries, problems)

    def problems_listed(self) -> list[dict[str, Any]]:
        return self.client.problems_listed()

    def server_pid(self) -> int | None:
        """The server process's id (on the actor's node)."""
        return self.server.pid

    def shutdown(self) -> None:
        self.server.stop()


def actor_class() -> Any:
    """:class:`JudgeServer` as a Ray actor class (``.options(num_gpus=...).remote(...)``)."""
    import ray

    return ray.remote(JudgeServer)


@dataclass
class _Slot:
    """One place of the pool: its actor now, and how many of the pool's chunks it holds."""

    index: int
    actor: Any
    generation: int = 0
    busy: int = 0


class JudgePool:
    """``actors`` Ray actors, each with its own `sadoku serve`, reviewing batches in order.

    ``num_gpus`` per actor (0 on a cluster without GPUs, with ``args=["--device", "sim", ...]``
    for tests); ``actors`` defaults to the cluster's GPUs over ``num_gpus``. ``args`` are the
    servers' options (see :class:`~sadoku.server.LocalServer`), ``binary`` the `sadoku` on the
    nodes. A batch goes in chunks of ``chunk`` candidates, at most ``in_flight`` candidates on an
    actor at once; a chunk whose actor died is sent again, at most ``retries`` times. ``state``
    is a directory (on each node) under which actor ``i``'s server keeps ``actor-i``: a server
    restarted there answers what it judged without judging it again. ``actor_options`` go to
    Ray's ``.options()`` (``runtime_env``, ``scheduling_strategy``, ...).

    The pool starts its actors and waits until their servers listen (a server that does not
    start raises :class:`~sadoku.JudgeError` at once). :meth:`shutdown` (or ``with``) stops them.
    """

    def __init__(
        self,
        actors: int | None = None,
        *,
        binary: str | None = None,
        args: Sequence[str] = (),
        num_gpus: float = 1,
        num_cpus: float | None = None,
        chunk: int = 4,
        in_flight: int = 16,
        retries: int = 2,
        state: str | os.PathLike[str] | None = None,
        env: dict[str, str] | None = None,
        startup_timeout: float = 600.0,
        timeout: float | None = None,
        actor_options: dict[str, Any] | None = None,
    ) -> None:
        import ray

        if actors is None:
            if num_gpus <= 0:
                raise ValueError("an actor without GPUs: say how many actors, JudgePool(actors=N, num_gpus=0)")
            actors = int(ray.cluster_resources().get("GPU", 0) // num_gpus)
            if actors < 1:
                raise JudgeError(f"the Ray cluster has no GPUs for an actor of {num_gpus}: pass num_gpus=0 or actors=N")
        if actors < 1 or chunk < 1 or in_flight < 1 or retries < 0:
            raise ValueError("actors, chunk and in_flight must be at least 1, retries at least 0")
        self.chunk = min(chunk, in_flight)
        #: Chunks an actor holds at once: its share of the back-pressure.
        self.per_actor = max(1, in_flight // self.chunk)
        self.retries = retries
        #: Actors started in place of dead ones, since the pool started.
        self.restarts = 0
        self._arguments = {
            "binary": binary,
            "args": list(args),
            "env": env,
            "startup_timeout": startup_timeout,
            "timeout": timeout,
        }
        self._state = os.fspath(state) if state is not None else None
        options: dict[str, Any] = {"num_gpus": num_gpus, "max_concurrency": self.per_actor, "max_restarts": 0}
        if num_cpus is not None:
            options["num_cpus"] = num_cpus
        self._options = {**options, **(actor_options or {})}
        self._slots = [_Slot(i, self._new_actor(i)) for i in range(actors)]
        #: Chunks a failed batch left on their actors, with the actor's slot and generation.
        self._stray: dict[Any, tuple[_Slot, int]] = {}
        waiting = [slot.actor.ready.remote() for slot in self._slots]
        # Beyond the servers' own bound: the time for Ray to place the actors and start workers.
        ready, late = ray.wait(waiting, num_returns=len(waiting), timeout=startup_timeout + 120)
        try:
            ray.get(ready)
        except Exception as exc:
            self.shutdown()
            raise JudgeError(f"a sadoku server of the pool did not start: {_why(exc)}") from exc
        if late:
            self.shutdown()
            raise JudgeError(
                f"{len(late)} of the pool's {actors} actors did not start within {startup_timeout + 120:g} s: "
                f"has the Ray cluster room for them (num_gpus={num_gpus}, num_cpus={num_cpus} each)?"
            )

    # -- Judge's interface -----------------------------------------------------------------------

    def review(self, source: str, problem: str | None = None, **kwargs: Any) -> Verdict:
        return self.review_batch([Candidate(source, problem, **kwargs)])[0]

    async def areview(self, source: str, problem: str | None = None, **kwargs: Any) -> Verdict:
        return (await self.areview_batch([Candidate(source, problem, **kwargs)]))[0]

    async def areview_batch(self, candidates: Sequence[Candidate]) -> list[Verdict]:
        return await asyncio.to_thread(self.review_batch, candidates)

    def review_batch(self, candidates: Sequence[Candidate]) -> list[Verdict]:
        """Verdicts in the candidates' order, the batch spread over the actors in chunks."""
        if not self._slots:
            raise JudgeError("this pool was shut down: make another")
        entries = [encode(c) for c in candidates]
        problems = [expected_problem(c) for c in candidates]
        chunks = [(s, min(s + self.chunk, len(entries))) for s in range(0, len(entries), self.chunk)]
        results: list[list[Verdict] | None] = [None] * len(chunks)
        pending = deque(range(len(chunks)))
        running: dict[Any, tuple[_Slot, int, int]] = {}
        try:
            self._run(entries, problems, chunks, results, pending, running)
        finally:
            # Chunks still out when a failure ended the batch: their actors hold them until they end.
            self._stray.update((ref, (slot, generation)) for ref, (slot, generation, _k) in running.items())
        return [v for chunk in results for v in chunk or []]

    def _run(
        self,
        entries: list[dict[str, Any]],
        problems: list[str | None],
        chunks: list[tuple[int, int]],
        results: list[list[Verdict] | None],
        pending: deque[int],
        running: dict[Any, tuple[_Slot, int, int]],
    ) -> None:
        """Send the pending chunks, at most ``per_actor`` on an actor, until every one came back."""
        import ray

        failures = [0] * len(chunks)
        #: The slot a chunk last failed on, so that its retry goes elsewhere when it can.
        failed_on: dict[int, int] = {}
        while pending or running:
            while pending:
                slot = self._free_slot(failed_on.get(pending[0]))
                if slot is None:
                    break
                k = pending.popleft()
                start, end = chunks[k]
                ref = slot.actor.review_encoded.remote(entries[start:end], problems[start:end])
                running[ref] = (slot, slot.generation, k)
                slot.busy += 1
            done, _ = ray.wait([*running, *self._stray], num_returns=1)
            for ref in done:
                if ref in self._stray:
                    self._release(*self._stray.pop(ref))
                    continue
                slot, generation, k = running.pop(ref)
                self._release(slot, generation)
                try:
                    results[k] = ray.get(ref)
                except Exception as exc:
                    if not _actor_failed(exc):
                        cause = getattr(exc, "cause", None)
                        if isinstance(cause, JudgeError):
                            raise cause from None
                        raise
                    failures[k] += 1
                    if failures[k] > self.retries:
                        start, end = chunks[k]
                        raise JudgeError(
                            f"candidates {start} to {end - 1} were sent to {failures[k]} actors and each failed; "
                            f"the last: {_why(exc)}"
                        ) from exc
                    self._replace(slot, generation)
                    failed_on[k] = slot.index
                    pending.appendleft(k)

    def problems_listed(self) -> list[dict[str, Any]]:
        """The servers' problems (every server has the same), as `sadoku problems --json` lists them."""
        import ray

        last: Exception | None = None
        for _ in range(self.retries + 1):
            for slot in list(self._slots):
                generation = slot.generation
                try:
                    return ray.get(slot.actor.problems_listed.remote())
                except Exception as exc:
                    if not _actor_failed(exc):
                        raise
                    last = exc
                    self._replace(slot, generation)
        raise JudgeError(f"no actor of the pool answered: {_why(last) if last else 'the pool is shut down'}")

    # -- the actors ------------------------------------------------------------------------------

    @property
    def holding(self) -> int:
        """The chunks the actors hold for the pool now: a batch's, and those a failed batch left
        running (each counts against its actor's ``in_flight`` until it ends).
        """
        import ray

        if self._stray:
            done, _ = ray.wait(list(self._stray), num_returns=len(self._stray), timeout=0)
            for ref in done:
                self._release(*self._stray.pop(ref))
        return sum(slot.busy for slot in self._slots)

    @property
    def actors(self) -> list[Any]:
        """The actors' handles now (one replaced after it died is the new one)."""
        return [slot.actor for slot in self._slots]

    def shutdown(self) -> None:
        """Stop every server and actor."""
        import ray

        slots, self._slots = self._slots, []
        self._stray = {}
        stopping = []
        for slot in slots:
            try:
                stopping.append(slot.actor.shutdown.remote())
            except Exception:  # an actor already gone
                pass
        if stopping:
            ray.wait(stopping, num_returns=len(stopping), timeout=30)
        for slot in slots:
            try:
                ray.kill(slot.actor)
            except Exception:
                pass

    def __enter__(self) -> JudgePool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    def _new_actor(self, index: int) -> Any:
        state = None if self._state is None else os.path.join(self._state, f"actor-{index}")
        return actor_class().options(**self._options).remote(state=state, **self._arguments)

    def _free_slot(self, avoid: int | None) -> _Slot | None:
        """The least busy slot with room for a chunk, other than ``avoid`` if another has room."""
        free = [s for s in self._slots if s.busy < self.per_actor]
        if not free:
            return None
        preferred = [s for s in free if s.index != avoid] or free
        return min(preferred, key=lambda s: s.busy)

    def _release(self, slot: _Slot, generation: int) -> None:
        """A chunk of ``slot``'s actor of ``generation`` ended: room for another, if it is still that actor."""
        if slot.generation == generation:
            slot.busy -= 1

    def _replace(self, slot: _Slot, generation: int) -> None:
        """A new actor in the place of the one of ``generation``, unless it was replaced already."""
        import ray

        if slot.generation != generation:
            return
        try:
            ray.kill(slot.actor)
        except Exception:
            pass
        slot.actor = self._new_actor(slot.index)
        slot.generation += 1
        slot.busy = 0
        self.restarts += 1


def _actor_failed(exc: BaseException) -> bool:
    """Whether a failure is the actor's or its server's (worth another actor), not the request's."""
    from ray.exceptions import RayActorError

    return isinstance(exc, RayActorError) or isinstance(getattr(exc, "cause", None), ServerUnavailable)


def _why(exc: BaseException) -> str:
    """A failure in one line: the original error when Ray wrapped one (a traceback's last
    JudgeError's message, where it holds one).
    """
    cause = getattr(exc, "cause", None)
    text = str(cause if cause is not None else exc)
    marker = text.rfind("JudgeError: ")
    if marker >= 0:
        text = text[marker + len("JudgeError: ") :]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " ".join(lines[-3:])[-800:] if lines else type(exc).__name__
