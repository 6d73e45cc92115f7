"""A client of `sadoku serve`: the judge as a long-lived service, over HTTP (docs/SERVE.md).

    from sadoku import Client

    judge = Client("http://127.0.0.1:8421", token="...")   # or Client.from_environment()
    verdict = judge.review(source, problem="trimm")

A :class:`Client` has :class:`~sadoku.Judge`'s interface (``review``, ``review_batch``, their
async forms, ``problems_listed``), so the adapters take either; ``submit``, ``status``,
``report`` and ``health`` reach the rest of the API. The server decides everything that decides a
verdict (its options, its seed, its problems); a client only sends candidates. Standard library
only.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .judge import Candidate, Judge, JudgeError, Reviewer
from .verdict import Verdict

#: A request holds at most this many candidates (docs/SERVE.md); a larger batch goes in parts.
MAX_CANDIDATES = 1024
#: A request holds at most this many bytes; parts are cut with room to spare for the envelope.
MAX_BYTES = 16 * 1024 * 1024
_PART_BYTES = MAX_BYTES - 64 * 1024


class ServerUnavailable(JudgeError):
    """The server, not the request, failed: it cannot be reached, it did not answer in time, its
    lanes stopped (503), or it went away in the middle of an answer. Another server may do.
    """


def encode(candidate: Candidate) -> dict[str, Any]:
    """A candidate as ``POST /v1/reviews`` takes it.

    A KernelBench file is read here and sent by name and text: the server never opens a path a
    client names.
    """
    suffix = candidate.suffix()
    entry: dict[str, Any] = {"source": candidate.source, "kind": candidate.kind}
    if candidate.kernelbench is None:
        if suffix != ".cu":
            raise ValueError("a native candidate is CUDA: a Python candidate needs its KernelBench file")
        if candidate.problem is not None:
            entry["problem"] = candidate.problem
        return entry
    path = Path(candidate.kernelbench)
    try:
        text = path.read_text()
    except OSError as exc:
        raise JudgeError(f"{path}: cannot read this KernelBench problem file ({exc.strerror})") from exc
    entry["kernelbench"] = {"file": path.name, "source": text}
    return entry


def expected_problem(candidate: Candidate) -> str | None:
    """The problem a native candidate's verdict must be for (None for a KernelBench candidate)."""
    return candidate.problem if candidate.kernelbench is None else None


@dataclass(frozen=True)
class Review:
    """One review as ``GET /v1/reviews/{id}`` answers: ``queued``, ``done`` or ``not_reviewed``."""

    id: str
    state: str
    #: The verdict's record (as in `sadoku review --json`'s ``candidates``) once ``done``.
    record: dict[str, Any] | None = field(default=None, repr=False)
    #: Why the environment could not review it, when ``not_reviewed``.
    error: str | None = None

    @property
    def done(self) -> bool:
        """True once the review ended, with a verdict or without one."""
        return self.state != "queued"

    def verdict(self, problem: str | None = None) -> Verdict | None:
        """The verdict (None while queued); ``problem`` as in :meth:`Verdict.from_record`."""
        if self.state == "done" and self.record is not None:
            return Verdict.from_record(self.record, problem)
        if self.state == "not_reviewed":
            return Verdict.not_reviewed(self.id, self.error or "the server gave no reason")
        return None


class Client:
    """`sadoku serve` at ``url``, with :class:`~sadoku.Judge`'s interface.

    ``token`` is the server's (sent as ``Authorization: Bearer``); ``timeout`` bounds each wait
    for the server, seconds (None: as long as the reviews take; a streamed batch's verdicts may
    be minutes apart on a busy server). A submission refused because the server's queue is full
    (429) is sent again after the server's ``Retry-After``, at most ``busy_retries`` times.
    Connections go straight to the server, whatever the environment's proxy settings.
    """

    def __init__(
        self,
        url: str,
        token: str | None = None,
        timeout: float | None = None,
        *,
        busy_retries: int = 8,
        max_candidates: int = MAX_CANDIDATES,
    ) -> None:
        if "://" not in url:
            url = "http://" + url
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"{url!r} is not the http:// address of a sadoku server")
        if busy_retries < 0 or not 1 <= max_candidates <= MAX_CANDIDATES:
            raise ValueError(f"busy_retries >= 0 and 1 <= max_candidates <= {MAX_CANDIDATES}")
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.busy_retries = busy_retries
        self.max_candidates = max_candidates
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    @classmethod
    def from_environment(cls, **options: Any) -> Client:
        """The server ``$SADOKU_URL`` names, with the token ``$SADOKU_TOKEN`` (if set)."""
        url = os.environ.get("SADOKU_URL")
        if not url:
            raise JudgeError(
                "SADOKU_URL is not set: set it to where `sadoku serve` listens, e.g. http://127.0.0.1:8421"
            )
        return cls(url, token=os.environ.get("SADOKU_TOKEN") or None, **options)

    def __repr__(self) -> str:
        return f"Client({self.url!r})"

    # -- Judge's interface -----------------------------------------------------------------------

    def review(self, source: str, problem: str | None = None, **kwargs: Any) -> Verdict:
        """The verdict on one candidate (see :class:`~sadoku.Candidate` for the keyword arguments)."""
        return self.review_batch([Candidate(source, problem, **kwargs)])[0]

    async def areview(self, source: str, problem: str | None = None, **kwargs: Any) -> Verdict:
        return (await self.areview_batch([Candidate(source, problem, **kwargs)]))[0]

    def review_batch(self, candidates: Sequence[Candidate]) -> list[Verdict]:
        """Verdicts in the candidates' order, each streamed back as its review ends."""
        return self.review_encoded([encode(c) for c in candidates], [expected_problem(c) for c in candidates])

    async def areview_batch(self, candidates: Sequence[Candidate]) -> list[Verdict]:
        """:meth:`review_batch` on a thread of its own: the event loop goes on meanwhile."""
        return await asyncio.to_thread(self.review_batch, candidates)

    def problems_listed(self) -> list[dict[str, Any]]:
        """The server's problems, as `sadoku problems --json` lists them."""
        listed = self._json("GET", "/v1/problems")
        if isinstance(listed, dict) and isinstance(listed.get("problems"), list):
            listed = listed["problems"]
        if not isinstance(listed, list):
            raise JudgeError(f"sadoku serve at {self.url}: /v1/problems answered no list of problems")
        return listed

    # -- the rest of the API ---------------------------------------------------------------------

    def review_encoded(self, entries: Sequence[dict[str, Any]], problems: Sequence[str | None]) -> list[Verdict]:
        """Verdicts on candidates already :func:`encode`-d, each for its entry of ``problems``
        (as :func:`expected_problem` gives it), in order. A batch larger than a request may hold
        is sent in parts, one after the other.
        """
        if len(entries) != len(problems):
            raise ValueError("one expected problem (or None) per entry")
        verdicts: list[Verdict] = []
        for start, end in self._parts(entries):
            verdicts += self._stream(entries[start:end], problems[start:end])
        return verdicts

    def submit(self, candidates: Sequence[Candidate]) -> list[str]:
        """Queue candidates without waiting for their verdicts: their review ids, in order.

        The same candidate submitted again has the same id and is not reviewed again.
        """
        entries = [encode(c) for c in candidates]
        ids: list[str] = []
        for start, end in self._parts(entries):
            answer = self._json("POST", "/v1/reviews", {"candidates": entries[start:end]})
            reviews = sorted(answer.get("reviews", []), key=lambda r: r.get("index", 0))
            if len(reviews) != end - start:
                raise JudgeError(f"sadoku serve at {self.url} took {end - start} candidates but named {len(reviews)}")
            ids += [str(r["id"]) for r in reviews]
        return ids

    def status(self, review_id: str, wait: float | None = None) -> Review:
        """A review's state; with ``wait`` (seconds, at most 600), once it ended or that time passed."""
        path = f"/v1/reviews/{urllib.parse.quote(review_id, safe='')}"
        timeout = self.timeout
        if wait is not None:
            path += f"?wait={wait:g}"
            timeout = None if timeout is None else timeout + wait
        answer = self._json("GET", path, timeout=timeout)
        return Review(
            id=str(answer.get("id", review_id)),
            state=str(answer.get("state")),
            record=answer.get("record"),
            error=answer.get("error"),
        )

    def report(self, review_id: str, format: str = "json") -> Any:
        """A review as a report: `sadoku review --json`'s document (``json``), or the HTML page
        `sadoku report` draws (``html``, as text).
        """
        if format not in ("json", "html"):
            raise ValueError(f"format is 'json' or 'html', not {format!r}")
        path = f"/v1/reviews/{urllib.parse.quote(review_id, safe='')}/report?format={format}"
        if format == "json":
            return self._json("GET", path)
        with self._open("GET", path, accept="text/html") as response:
            return self._read(response).decode(errors="replace")

    def health(self) -> dict[str, Any]:
        """``/healthz``: ``status`` (``ok``, or ``stopped`` once the lanes stopped), the GPUs,
        the queue and the self-test. Needs no token.
        """
        with self._open("GET", "/healthz", auth=False, allow=(503,)) as response:
            return self._decode(self._read(response), "/healthz")

    def metrics(self) -> str:
        """``/metrics``, Prometheus's text format. Needs no token."""
        with self._open("GET", "/metrics", auth=False, accept="text/plain") as response:
            return self._read(response).decode(errors="replace")

    # -- how -------------------------------------------------------------------------------------

    def _parts(self, entries: Sequence[dict[str, Any]]) -> list[tuple[int, int]]:
        """Index ranges of the entries, each within a request's limits (a single entry larger
        than them is sent alone, for the server to refuse).
        """
        parts, start, size = [], 0, 0
        for i, entry in enumerate(entries):
            n = len(json.dumps(entry).encode()) + 2
            if i > start and (i - start >= self.max_candidates or size + n > _PART_BYTES):
                parts.append((start, i))
                start, size = i, 0
            size += n
        if start < len(entries):
            parts.append((start, len(entries)))
        return parts

    def _stream(self, entries: Sequence[dict[str, Any]], problems: Sequence[str | None]) -> list[Verdict]:
        found: dict[int, Verdict] = {}
        with self._open("POST", "/v1/reviews?stream=true", {"candidates": list(entries)}) as response:
            try:
                for raw in response:
                    if not raw.strip():
                        continue
                    line = self._decode(raw, "a streamed verdict")
                    i = line.get("index")
                    if not isinstance(i, int) or not 0 <= i < len(entries):
                        raise JudgeError(f"sadoku serve at {self.url} streamed a line for no candidate: {raw[:200]!r}")
                    found[i] = _verdict(line, problems[i])
            except (http.client.HTTPException, OSError) as exc:
                raise ServerUnavailable(
                    f"sadoku serve at {self.url} broke off after {len(found)} of {len(entries)} verdicts ({exc!r}): "
                    "submit the batch again (what it judged is answered at once)"
                ) from exc
        return [
            found.get(i) or Verdict.not_reviewed(f"candidate {i}", "the server's stream ended without its verdict")
            for i in range(len(entries))
        ]

    def _json(self, method: str, path: str, body: Any = None, *, timeout: float | None = None) -> Any:
        with self._open(method, path, body, timeout=timeout) as response:
            return self._decode(self._read(response), path)

    def _read(self, response: Any) -> bytes:
        try:
            return response.read()
        except (http.client.HTTPException, OSError) as exc:
            raise ServerUnavailable(f"sadoku serve at {self.url} broke off its answer ({exc!r}): try again") from exc

    def _decode(self, raw: bytes, what: str) -> Any:
        try:
            return json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise JudgeError(f"sadoku serve at {self.url} answered {what} with no JSON: {raw[:200]!r}") from exc

    def _open(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        auth: bool = True,
        accept: str = "application/json",
        allow: tuple[int, ...] = (),
        timeout: float | None = None,
    ) -> Any:
        """The server's response (a file-like object to close), after 429's retries; any other
        refusal raises :class:`JudgeError` (:class:`ServerUnavailable` where another server may do).
        """
        data = None if body is None else json.dumps(body).encode()
        headers = {"Accept": accept, "User-Agent": "sadoku-python-client"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        if auth and self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        wait = self.timeout if timeout is None else timeout
        for attempt in range(self.busy_retries + 1):
            request = urllib.request.Request(self.url + path, data=data, headers=headers, method=method)
            try:
                return self._opener.open(request, timeout=wait)
            except urllib.error.HTTPError as exc:
                if exc.code in allow:
                    return exc
                if exc.code == 429 and attempt < self.busy_retries:
                    delay = _retry_after(exc.headers.get("Retry-After"))
                    exc.close()
                    time.sleep(delay)
                    continue
                raise self._refusal(exc, method, path, attempt) from None
            except urllib.error.URLError as exc:
                raise self._unreachable(exc.reason) from exc
            except (http.client.HTTPException, OSError) as exc:
                raise self._unreachable(exc) from exc
        raise AssertionError("the loop returns or raises")

    def _refusal(self, exc: urllib.error.HTTPError, method: str, path: str, retries: int) -> JudgeError:
        try:
            said = json.loads(exc.read()).get("error")
        except (ValueError, AttributeError, OSError, http.client.HTTPException):
            said = None
        finally:
            exc.close()
        said = said or exc.reason or "no reason given"
        where = f"sadoku serve at {self.url}"
        if exc.code == 401:
            return JudgeError(
                f"{where} refused the token (401: {said}): pass the server's token, Client(url, token=...) "
                "or $SADOKU_TOKEN"
            )
        if exc.code == 429:
            return JudgeError(
                f"{where} is still full after {retries} retries (429: {said}): submit fewer candidates at once, "
                "later, or start the server with a larger --queue"
            )
        if exc.code == 503:
            return ServerUnavailable(
                f"{where} stopped reviewing (503: {said}): its /healthz and log say why, restart it"
            )
        if exc.code == 413:
            return JudgeError(f"{where} refused a request too large (413: {said}): send fewer or smaller candidates")
        if exc.code == 404:
            return JudgeError(f"{where} has no {path.split('?')[0]} (404: {said})")
        if exc.code == 409:
            return JudgeError(f"{where}: not done yet (409: {said}): wait for it with status(id, wait=...)")
        return JudgeError(f"{where} refused {method} {path.split('?')[0]} ({exc.code}: {said})")

    def _unreachable(self, reason: object) -> ServerUnavailable:
        if isinstance(reason, TimeoutError):
            return ServerUnavailable(
                f"sadoku serve at {self.url} did not answer within {self.timeout} s: it may be overloaded; "
                "raise Client(timeout=...) or check its /healthz"
            )
        if isinstance(reason, ConnectionRefusedError):
            why = "connection refused"
        else:
            why = str(getattr(reason, "strerror", None) or reason)
        return ServerUnavailable(
            f"cannot reach sadoku serve at {self.url} ({why}): start it (`sadoku serve --listen HOST:PORT`) "
            "or point the client (SADOKU_URL) at where it listens"
        )


def _verdict(line: dict[str, Any], problem: str | None) -> Verdict:
    """A streamed line's verdict: the record when ``done``, else not reviewed."""
    state = line.get("state")
    if state == "done" and isinstance(line.get("record"), dict):
        return Verdict.from_record(line["record"], problem)
    name = str(line.get("id", f"candidate {line.get('index')}"))
    if state == "not_reviewed":
        return Verdict.not_reviewed(name, str(line.get("error") or "the server gave no reason"), line)
    return Verdict.not_reviewed(name, f"the server streamed a line in state {state!r}", line)


def _retry_after(value: str | None) -> float:
    """``Retry-After``'s seconds (the server sends a number); a second when absent or unreadable."""
    try:
        return min(max(float(value or "1"), 0.0), 3600.0)
    except ValueError:
        return 1.0


def judge_from_environment(**options: Any) -> Reviewer:
    """The judge the environment names: a :class:`Client` of ``$SADOKU_URL`` (with the token
    ``$SADOKU_TOKEN``) when it is set, else a local :class:`~sadoku.Judge` made with ``options``.
    """
    if os.environ.get("SADOKU_URL"):
        return Client.from_environment()
    return Judge(**options)
