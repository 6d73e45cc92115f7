"""The HTTP client, against a real `sadoku serve` on the simulated device (docs/SERVE.md)."""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import importlib.util
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request
from email.message import Message
from pathlib import Path
from typing import Any
from unittest import mock

from sadoku import Candidate, Client, JudgeError, ServerUnavailable, Stage, Verdict, reward
from sadoku.adapters import openenv, trl, verl
from sadoku.client import encode
from sadoku.server import LocalServer, command_line

from .support import REPO, SimServer, example, sadoku_binary, sim_problems, sim_server_args

HONEST = "honest/tiled_dynamic_smem.cu"
ZEROES = "adversarial/zeroes_inputs.cu"


def fenced(source: str) -> str:
    return f"Here is a faster kernel.\n\n```cuda\n{source}```\n\nIt tiles the product in shared memory."


def post(server: LocalServer, path: str, body: Any, token: str | None = None) -> tuple[int, Message, Any]:
    """A raw request: the status, the headers (their names in any case) and the JSON answer."""
    request = urllib.request.Request(
        server.url + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token or server.token}"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, response.headers, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.headers, json.loads(exc.read() or b"null")


def process_runs(pid: int) -> bool:
    """Whether a process runs (a zombie, dead but not yet reaped, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def closed_port() -> int:
    """A loopback port nothing listens on (the system's pick, closed again)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served(unittest.TestCase):
    """One server for the class (starting one takes a moment); each test uses its own sources
    where a verdict's novelty matters.
    """

    server: LocalServer

    @classmethod
    def setUpClass(cls) -> None:
        served = SimServer()
        cls.server = served.__enter__()
        cls.addClassCleanup(served.__exit__, None, None, None)

    def client(self, **options: Any) -> Client:
        return self.server.client(timeout=300, **options)

    # -- verdicts --------------------------------------------------------------------------------

    def test_a_streamed_batch_gets_each_verdict_in_order(self) -> None:
        verdicts = self.client().review_batch(
            [
                Candidate(example(HONEST), "trimm_sim"),
                Candidate(example(ZEROES), "trimm_sim"),
                Candidate("not a kernel", "trimm_sim"),
                # An honest kernel whose front matter names another problem than the one asked.
                Candidate(example(HONEST, problem="trimm_sim_other"), "trimm_sim"),
            ]
        )
        honest, zeroes, garbage, other = verdicts
        self.assertIs(honest.stage, Stage.ACCEPTED, honest)
        self.assertEqual(honest.problem, "trimm_sim")
        self.assertGreater(honest.speedup, 0)
        self.assertGreater(reward(honest), 0.3)
        self.assertIs(zeroes.stage, Stage.REJECTED, zeroes)
        self.assertEqual(zeroes.reason, "inputs modified")
        self.assertIn("input A modified", zeroes.evidence)
        self.assertIs(garbage.stage, Stage.INVALID, garbage)
        self.assertIs(other.stage, Stage.INVALID, other)
        self.assertEqual(reward(other), 0.0)
        # The server judged it INVALID itself: its record says so without the client's check.
        self.assertIs(Verdict.from_record(other.record).stage, Stage.INVALID, other.record)

    def test_the_same_candidate_is_the_same_review(self) -> None:
        client = self.client()
        # A source no other test sends, so that its first submission is new.
        source = example(HONEST) + "\n// idempotency\n"
        first = post(self.server, "/v1/reviews", {"candidates": [{"source": source, "problem": "trimm_sim"}]})
        self.assertEqual(first[0], 202, first)
        (entry,) = first[2]["reviews"]
        self.assertRegex(entry["id"], "^[0-9a-f]{64}$")
        self.assertFalse(entry["deduplicated"], entry)
        again = post(self.server, "/v1/reviews", {"candidates": [{"source": source, "problem": "trimm_sim"}]})
        self.assertEqual(again[2]["reviews"][0]["id"], entry["id"])
        self.assertTrue(again[2]["reviews"][0]["deduplicated"], again)
        self.assertEqual(client.submit([Candidate(source, "trimm_sim")]), [entry["id"]])

        review = client.status(entry["id"], wait=120)
        self.assertEqual((review.id, review.state), (entry["id"], "done"))
        self.assertIs(review.verdict("trimm_sim").stage, Stage.ACCEPTED)
        # Reviewing it again answers the same verdict, not a second review.
        (streamed,) = client.review_batch([Candidate(source, "trimm_sim")])
        self.assertEqual(streamed.record, review.record)
        self.assertIn("sadoku_deduplicated_total", client.metrics())

        report = client.report(entry["id"])
        self.assertEqual([c["verdict"] for c in report["candidates"]], ["ACCEPTED"])
        self.assertIn("<html", client.report(entry["id"], format="html").lower())
        with self.assertRaises(JudgeError) as caught:
            client.status("0" * 64)
        self.assertIn("404", str(caught.exception))

    def test_a_client_without_the_token_is_refused(self) -> None:
        for token in (None, "not-the-token"):
            with self.assertRaises(JudgeError) as caught:
                Client(self.server.url, token=token).review(example(HONEST), "trimm_sim")
            self.assertIn("401", str(caught.exception))
            self.assertIn("token", str(caught.exception))
        # /healthz needs none.
        health = Client(self.server.url).health()
        self.assertEqual(health["status"], "ok", health)
        self.assertFalse(health["selftest"]["ran"], health)

    def test_a_kernelbench_candidate_is_judged_against_the_file_it_sent(self) -> None:
        problem = REPO / "python/tests/problems/leaky_relu.py"
        honest = (REPO / "python/tests/candidates/leaky_relu_honest.py").read_text()
        aliasing = (REPO / "python/tests/candidates/leaky_relu_returns_input.py").read_text()
        batch = [Candidate(source, kernelbench=problem, kind="python") for source in (honest, aliasing)]
        verdicts = self.client().review_batch(batch)
        if not os.environ.get("SADOKU_TORCH_PATH"):
            # A server that cannot describe the file (no PyTorch) gives no verdict, never INVALID:
            # the environment failed, not the candidate.
            for verdict in verdicts:
                self.assertEqual(verdict.stage, Stage.NOT_REVIEWED, verdict)
                self.assertIn("cannot describe KernelBench files", verdict.evidence or "", verdict)
            return
        self.assertEqual(verdicts[0].stage, Stage.ACCEPTED, verdicts[0])
        self.assertEqual(verdicts[0].problem, "leaky_relu", verdicts[0])
        self.assertEqual(verdicts[1].stage, Stage.REJECTED, verdicts[1])
        self.assertIn("aliases an input", verdicts[1].evidence or "", verdicts[1])

    def test_the_problems_are_the_servers(self) -> None:
        names = {p["name"] for p in self.client().problems_listed()}
        self.assertLessEqual({"trimm_sim", "trimm_sim_other"}, names)

    def test_the_async_form_leaves_the_event_loop_free(self) -> None:
        async def both() -> tuple[list[Verdict], int]:
            ticks = 0
            review = asyncio.ensure_future(
                self.client().areview_batch(
                    [Candidate(example(HONEST) + "\n// async\n", "trimm_sim"), Candidate(example(ZEROES), "trimm_sim")]
                )
            )
            while not review.done():
                ticks += 1
                await asyncio.sleep(0.01)
            return await review, ticks

        (honest, zeroes), ticks = asyncio.run(both())
        self.assertIs(honest.stage, Stage.ACCEPTED, honest)
        self.assertEqual(zeroes.reason, "inputs modified")
        # The loop ran meanwhile: a review takes a timed phase of 0.5 s, the loop ticks every 10 ms.
        self.assertGreater(ticks, 10)
        one = asyncio.run(self.client().areview(example(ZEROES), "trimm_sim"))
        self.assertIs(one.stage, Stage.REJECTED)

    # -- the adapters, through the server --------------------------------------------------------

    def test_verl_scores_through_the_server(self) -> None:
        client = self.client()
        scores = verl.compute_score_batch(
            ["sadoku", "sadoku"], [fenced(example(HONEST)), fenced(example(ZEROES))], ["trimm_sim"] * 2, judge=client
        )
        self.assertGreater(scores[0]["score"], 0.3)
        self.assertEqual(scores[0]["verdict"], "accepted")
        self.assertEqual((scores[1]["score"], scores[1]["reason"]), (0.1, "inputs modified"))

    def test_trl_scores_through_the_server(self) -> None:
        reward_fn = trl.SadokuReward(self.client())
        chats = [[{"role": "assistant", "content": fenced(example(HONEST))}], fenced("garbage")]
        scores = reward_fn(["prompt"] * 2, chats, problem=["trimm_sim", "trimm_sim"])
        self.assertGreater(scores[0], 0.3)
        self.assertEqual(scores[1], 0.0)

    def test_the_environment_works_over_http(self) -> None:
        env = openenv.KernelEnvironment(self.client())
        first = env.reset("trimm_sim")
        self.assertIn("summary", first.task)
        self.assertFalse(first.done)
        done = env.step(openenv.KernelAction(fenced(example(ZEROES))))
        self.assertTrue(done.done)
        self.assertEqual((done.reward, done.reason), (0.1, "inputs modified"))
        env.reset("trimm_sim_other")
        wrong = env.step(openenv.KernelAction(fenced(example(HONEST))))
        self.assertEqual((wrong.verdict, wrong.reward), ("invalid", 0.0))
        with self.assertRaises(ValueError):
            env.reset("no_such_problem")
        self.assertEqual(env.state.step_count, 1)

    def test_the_adapters_find_the_server_in_the_environment(self) -> None:
        with mock.patch.dict(os.environ, {"SADOKU_URL": self.server.url, "SADOKU_TOKEN": self.server.token}):
            one = verl.compute_score("sadoku", fenced(example(HONEST)), "trimm_sim")
            self.assertIsInstance(verl._default_judge(), Client)
            scores = trl.SadokuReward()(["p"], [fenced(example(ZEROES))], problem=["trimm_sim"])
            env = openenv.KernelEnvironment()
            self.assertIsInstance(env.judge, Client)
            self.assertEqual(env.judge.url, self.server.url)
        self.assertEqual(one["verdict"], "accepted", one)
        self.assertEqual(scores, [0.1])
        with mock.patch.dict(os.environ, {"SADOKU_URL": self.server.url, "SADOKU_TOKEN": "wrong"}):
            with self.assertRaises(JudgeError):
                verl.compute_score("sadoku", fenced(example(HONEST)), "trimm_sim")

    # -- the worked example ----------------------------------------------------------------------

    def test_the_replay_loop_drives_a_server(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            for name in (HONEST, ZEROES):
                (Path(tmp) / Path(name).name).write_text(example(name))
            with mock.patch.dict(os.environ, {"SADOKU_TOKEN": self.server.token}):
                code, text = run_replay([tmp, "--problem", "trimm_sim", "--batch", "1", "--url", self.server.url])
        self.assertEqual(code, 0, text)
        self.assertIn("inputs modified", text)
        self.assertIn("step   2  best", text)


class StartedByItself(unittest.TestCase):
    def test_the_replay_loop_starts_its_own_server(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            (root / "candidates").mkdir()
            for name in (HONEST, ZEROES):
                (root / "candidates" / Path(name).name).write_text(example(name))
            args = [str(root / "candidates"), "--problem", "trimm_sim", "--batch", "2", "--serve"]
            args += ["--sadoku", sadoku_binary(), "--device", "sim", "--time-budget", "0.5"]
            args += ["--problems", str(sim_problems(root))]
            with mock.patch.dict(os.environ, {"SADOKU_CACHE_DIR": str(root / "cache")}):
                code, text = run_replay(args)
        self.assertEqual(code, 0, text)
        self.assertIn("tiled_dynamic_smem.cu", text)
        self.assertIn("step   1  best", text)

    def test_a_server_that_cannot_start_says_why(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            server = LocalServer(sadoku_binary(), sim_server_args(Path(tmp)) + ["--no-such-option"])
            with self.assertRaises(JudgeError) as caught:
                server.start()
        self.assertIn("exited with status 2 before it listened", str(caught.exception))
        self.assertIn("--no-such-option", str(caught.exception))

    def test_a_server_dies_with_its_owner(self) -> None:
        # The owner is killed outright: nothing of it runs to stop the server.
        owner_code = (
            "import sys, time\n"
            "from sadoku.server import LocalServer\n"
            "server = LocalServer(sys.argv[1], sys.argv[2:], env={'SADOKU_CACHE_DIR': sys.argv[3]}).start()\n"
            "print(server.pid, flush=True)\n"
            "time.sleep(600)\n"
        )
        with tempfile.TemporaryDirectory() as tmp:
            args = [sadoku_binary(), *sim_server_args(sim_problems(Path(tmp)))]
            owner = subprocess.Popen(
                [sys.executable, "-c", owner_code, *args],
                stdout=subprocess.PIPE,
                # Its files stay behind (it cannot remove them): in the test's directory.
                env={**os.environ, "PYTHONPATH": str(REPO / "python"), "TMPDIR": tmp},
            )
            try:
                pid = int(owner.stdout.readline())
                self.assertTrue(process_runs(pid))
            finally:
                owner.kill()
                owner.wait()
                owner.stdout.close()
            deadline = time.monotonic() + 30
            while process_runs(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertFalse(process_runs(pid), f"the server (pid {pid}) outlived its owner")

    def test_a_full_queue_is_refused_whole(self) -> None:
        with SimServer("--queue", "1") as server:
            two = [
                {"source": example(HONEST), "problem": "trimm_sim"},
                {"source": example(ZEROES), "problem": "trimm_sim"},
            ]
            code, headers, answer = post(server, "/v1/reviews", {"candidates": two})
            self.assertEqual(code, 429, answer)
            self.assertGreaterEqual(float(headers["Retry-After"]), 0, headers)
            self.assertIn("error", answer)
            # No retry here: the server's Retry-After may be long (Fake below checks the retries).
            with self.assertRaises(JudgeError) as caught:
                server.client(busy_retries=0).review_batch(
                    [Candidate(example(HONEST), "trimm_sim"), Candidate(example(ZEROES), "trimm_sim")]
                )
            self.assertIn("still full after 0 retries (429", str(caught.exception))
            self.assertEqual(server.client().health()["queue"]["waiting"], 0)


class ClientAlone(unittest.TestCase):
    """What the client does by itself: encoding, the command line, refusals and retries."""

    def test_a_refused_connection_is_a_clear_error(self) -> None:
        with self.assertRaises(ServerUnavailable) as caught:
            Client(f"127.0.0.1:{closed_port()}").review("x", "trimm_sim")
        self.assertIn("cannot reach sadoku serve at http://127.0.0.1:", str(caught.exception))
        self.assertIn("connection refused", str(caught.exception))

    def test_a_kernelbench_candidate_sends_its_files_name_and_text(self) -> None:
        problem = REPO / "examples/kernelbench/problems/leaky_relu.py"
        source = (REPO / "examples/kernelbench/candidates/leaky_relu_modelnew.py").read_text()
        entry = encode(Candidate(source, kernelbench=problem, kind="python"))
        self.assertEqual(entry["kernelbench"], {"file": "leaky_relu.py", "source": problem.read_text()})
        self.assertEqual((entry["source"], entry["kind"]), (source, "python"))
        self.assertNotIn("problem", entry)
        with self.assertRaises(JudgeError):
            encode(Candidate(source, kernelbench=REPO / "no/such/problem.py", kind="python"))
        with self.assertRaises(ValueError):
            encode(Candidate(source, "trimm", kind="python"))

    def test_the_servers_options_go_around_serve(self) -> None:
        argv = command_line("sadoku", ["--jobs", "2", "--device", "sim", "--problems=/p", "--time-budget", "1"])
        self.assertEqual(
            argv, ["sadoku", "--device", "sim", "--problems=/p", "serve", "--jobs", "2", "--time-budget", "1"]
        )

    def test_a_busy_server_is_asked_again_after_its_retry_after(self) -> None:
        with Fake([429, 429, 200]) as fake:
            started = time.monotonic()
            verdict = Client(fake.url, token="t").review(example(ZEROES), "trimm_sim")
            waited = time.monotonic() - started
        self.assertEqual(len(fake.seen), 3)
        self.assertGreaterEqual(waited, 2 * Fake.RETRY_AFTER)
        self.assertEqual(verdict.reason, "inputs modified")
        self.assertEqual(fake.seen[0], ("/v1/reviews?stream=true", "Bearer t"))
        with Fake([429, 429, 200]) as fake, self.assertRaises(JudgeError) as caught:
            Client(fake.url, busy_retries=1).review(example(ZEROES), "trimm_sim")
        self.assertEqual(len(fake.seen), 2)
        self.assertIn("still full after 1 retries (429: the queue is full)", str(caught.exception))

    def test_a_stopped_server_is_unavailable(self) -> None:
        with Fake([503]) as fake, self.assertRaises(ServerUnavailable) as caught:
            Client(fake.url).review(example(ZEROES), "trimm_sim")
        self.assertIn("stopped reviewing (503: the lanes stopped)", str(caught.exception))
        # Its health is an answer, not an error.
        with Fake([503]) as fake:
            self.assertEqual(Client(fake.url).health()["status"], "stopped")


class Fake:
    """A loopback HTTP server that answers with the statuses given, one per request: a POST
    (``/v1/reviews?stream=true``) with 429 and 503 as refusals and 200 as one streamed REJECTED
    verdict, a GET (``/healthz``) with its status.
    """

    RETRY_AFTER = 0.3

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = list(statuses)
        self.seen: list[tuple[str, str | None]] = []

    def __enter__(self) -> Fake:
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                fake.seen.append((self.path, self.headers.get("Authorization")))
                status = fake.statuses.pop(0)
                if status == 200:
                    record = {"name": "c", "problem": "trimm_sim", "verdict": "REJECTED", "reason": "inputs modified"}
                    body = json.dumps({"index": 0, "id": "0" * 64, "state": "done", "record": record}) + "\n"
                    content_type = "application/x-ndjson"
                else:
                    why = "the queue is full" if status == 429 else "the lanes stopped"
                    body, content_type = json.dumps({"error": why}), "application/json"
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                if status == 429:
                    self.send_header("Retry-After", str(Fake.RETRY_AFTER))
                self.end_headers()
                self.wfile.write(body.encode())

            def do_GET(self) -> None:
                status = fake.statuses.pop(0)
                body = json.dumps({"status": "ok" if status == 200 else "stopped"}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def run_replay(argv: list[str]) -> tuple[int, str]:
    """examples/rl/replay.py's main, and what it printed."""
    spec = importlib.util.spec_from_file_location("replay", REPO / "examples/rl/replay.py")
    replay = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(replay)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = replay.main(argv)
    return code, printed.getvalue()


if __name__ == "__main__":
    unittest.main()
