"""Problem files: loading, description, fresh inputs, the float64 truth."""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import math
import sys
import tempfile
import textwrap
import unittest
from pathlib import Path

import torch
from sadoku_bridge import kernelbench as kb

from .support import INVALID, problem_path

describe = importlib.import_module("sadoku_bridge.describe")  # the package's `describe` is a function


class LoadProblemTest(unittest.TestCase):
    def test_loads_a_problem(self) -> None:
        problem = kb.load_problem(problem_path("trimm"))
        self.assertEqual(problem.name, "trimm")
        self.assertEqual(problem.constants, {"N": 256})
        self.assertTrue(issubclass(problem.Model, torch.nn.Module))
        self.assertEqual(problem.get_init_inputs(), [])

    def test_each_load_is_a_fresh_module_outside_sys_modules(self) -> None:
        first = kb.load_problem(problem_path("leaky_relu"))
        second = kb.load_problem(problem_path("leaky_relu"))
        self.assertIsNot(first.module, second.module)
        self.assertIsNot(first.Model, second.Model)
        self.assertNotIn(first.module.__name__, sys.modules)
        self.assertNotIn(second.module.__name__, sys.modules)

    def assert_refused(self, path: Path, *fragments: str) -> None:
        with self.assertRaises(kb.ProblemError) as caught:
            kb.load_problem(path)
        message = str(caught.exception)
        self.assertNotIn("\n", message)
        for fragment in fragments:
            self.assertIn(fragment, message)

    def test_missing_file(self) -> None:
        self.assert_refused(INVALID / "absent.py", "absent.py", "no such file")

    def test_syntax_error(self) -> None:
        self.assert_refused(INVALID / "broken_syntax.py", "broken_syntax.py:6", "syntax error")

    def test_missing_get_inputs(self) -> None:
        self.assert_refused(INVALID / "no_get_inputs.py", "get_inputs")

    def test_model_that_is_no_module(self) -> None:
        self.assert_refused(INVALID / "no_model.py", "class Model(nn.Module)")

    def test_error_at_import_names_the_line(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "raises.py"
            path.write_text("import torch\n\nx = 1 / 0\n", encoding="utf-8")
            self.assert_refused(path, "raises.py:3", "ZeroDivisionError")


class DescribeTest(unittest.TestCase):
    def test_trimm(self) -> None:
        description = kb.describe(kb.load_problem(problem_path("trimm")), seed=7)
        json.dumps(description)
        self.assertEqual([i["name"] for i in description["inputs"]], ["A", "B"])
        for entry in description["inputs"]:
            self.assertEqual(entry["dtype"], "f32")
            self.assertEqual(entry["shape"], [256, 256])
            self.assertEqual(entry["structure"], "lower")
            self.assertEqual(entry["distribution"], {"kind": "uniform", "lo": 0, "hi": 1})
        self.assertEqual(description["outputs"], [{"name": "out0", "dtype": "f32", "shape": [256, 256]}])
        self.assertEqual(description["parameters"], [])
        self.assertEqual(description["constants"], {"N": 256})

    def test_layer_parameters_and_buffers(self) -> None:
        description = kb.describe(kb.load_problem(problem_path("conv2d_bn")), seed=1)
        json.dumps(description)
        self.assertEqual(description["init_inputs"], [3, 8, 3])
        bare = lambda entries: [{k: v for k, v in e.items() if k != "init"} for e in entries]  # noqa: E731
        # The range of each initial value, from which the judge draws fresh ones; taken before
        # the forward, which updates BatchNorm's running statistics in training mode.
        self.assertEqual(description["parameters"][2]["init"], {"min": 1.0, "max": 1.0})
        self.assertEqual(description["buffers"][1]["init"], {"min": 1.0, "max": 1.0})
        self.assertNotIn("init", description["buffers"][2], "an integer buffer has no range")
        self.assertEqual(
            bare(description["parameters"]),
            [
                {"name": "conv.weight", "dtype": "f32", "shape": [8, 3, 3, 3]},
                {"name": "conv.bias", "dtype": "f32", "shape": [8]},
                {"name": "bn.weight", "dtype": "f32", "shape": [8]},
                {"name": "bn.bias", "dtype": "f32", "shape": [8]},
            ],
        )
        self.assertEqual(
            bare(description["buffers"]),
            [
                {"name": "bn.running_mean", "dtype": "f32", "shape": [8], "updated": True},
                {"name": "bn.running_var", "dtype": "f32", "shape": [8], "updated": True},
                {"name": "bn.num_batches_tracked", "dtype": "i64", "shape": [], "updated": True},
            ],
            "the forward updates BatchNorm's running statistics in training mode: the Model's state",
        )
        self.assertEqual(description["outputs"][0]["shape"], [4, 8, 20, 24])

    def test_buffers_the_forward_leaves_alone_are_not_its_state(self) -> None:
        body = """
            import torch
            import torch.nn as nn

            class Model(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.register_buffer("scale", torch.full((8,), 2.0))
                    self.register_buffer("steps", torch.zeros(()))
                    self.register_buffer("last", torch.zeros(8))
                    self.bn = nn.BatchNorm1d(8).eval()

                def forward(self, x):
                    self.steps += 1
                    self.last = x.mean(0)
                    return self.bn(x) * self.scale

            def get_inputs():
                return [torch.randn(4, 8)]

            def get_init_inputs():
                return []
        """
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "state.py"
            path.write_text(textwrap.dedent(body))
            description = kb.describe(kb.load_problem(path), seed=1)
        updated = {b["name"]: b.get("updated", False) for b in description["buffers"]}
        self.assertEqual(
            updated,
            {
                "scale": False,
                "steps": True,
                "last": True,
                "bn.running_mean": False,
                "bn.running_var": False,
                "bn.num_batches_tracked": False,
            },
            "changed in place or replaced: state; read only (an eval-mode BatchNorm's statistics): not",
        )

    def test_linear_outputs_and_empirical_distribution(self) -> None:
        description = kb.describe(kb.load_problem(problem_path("linear")), seed=3)
        weight = dict(description["parameters"][0])
        init = weight.pop("init")
        self.assertEqual(weight, {"name": "fc.weight", "dtype": "f32", "shape": [120, 200]})
        # nn.Linear's initialisation: uniform within 1/sqrt(in_features).
        self.assertTrue(-(200**-0.5) <= init["min"] < init["max"] <= 200**-0.5, init)
        self.assertEqual(description["outputs"], [{"name": "out0", "dtype": "f32", "shape": [32, 120]}])
        dist = description["inputs"][0]["distribution"]
        self.assertEqual(dist["kind"], "empirical")
        self.assertAlmostEqual(dist["mean"], 3.0, delta=0.1)
        self.assertAlmostEqual(dist["std"], 2.0, delta=0.1)

    def test_normal_inputs_and_scalars(self) -> None:
        description = kb.describe(kb.load_problem(problem_path("sum_dim")), seed=3)
        self.assertEqual(description["inputs"][0]["distribution"], {"kind": "normal", "mean": 0, "std": 1})
        self.assertEqual(description["outputs"][0]["shape"], [8, 1, 48])
        threshold = kb.describe(kb.load_problem(problem_path("threshold")), seed=3)
        self.assertEqual([i["name"] for i in threshold["inputs"]], ["x"])
        self.assertEqual(threshold["scalars"], [{"name": "level", "index": 1, "value": 1.0}])

    def test_original_dtypes_are_reported(self) -> None:
        source = (
            "import torch\nimport torch.nn as nn\n"
            "class Model(nn.Module):\n"
            "    def forward(self, x, idx):\n"
            "        return x.half() * 2, idx.argmax()\n"
            "def get_inputs():\n"
            "    return [torch.rand(4, 5, dtype=torch.bfloat16), torch.randint(3, 9, (50,), dtype=torch.int32)]\n"
            "def get_init_inputs():\n"
            "    return []\n"
        )
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "mixed.py"
            path.write_text(source, encoding="utf-8")
            description = kb.describe(kb.load_problem(path), seed=0)
        self.assertEqual([i["dtype"] for i in description["inputs"]], ["bf16", "i32"])
        self.assertEqual(description["inputs"][1]["distribution"]["kind"], "int")
        self.assertGreaterEqual(description["inputs"][1]["distribution"]["lo"], 3)
        self.assertLessEqual(description["inputs"][1]["distribution"]["hi"], 9)
        self.assertEqual([o["dtype"] for o in description["outputs"]], ["f16", "i64"])
        self.assertEqual(description["outputs"][1]["shape"], [])

    def test_names_fall_back_without_a_readable_signature(self) -> None:
        class Varargs(torch.nn.Module):
            def forward(self, *xs):
                return xs[0]

        self.assertEqual(kb.forward_input_names(Varargs, 2), ["x0", "x1"])


class DescribeOnALentDeviceTest(unittest.TestCase):
    """``python -m sadoku_bridge.describe --lease``: the protocol with the judge, and the CPU as
    the fallback whatever fails on the lent device (CUDA itself is exercised on a GPU only)."""

    def run_describe(self, path: Path, answer: str) -> tuple[list[str], str, int]:
        import subprocess

        ran = subprocess.run(
            [sys.executable, "-s", "-m", "sadoku_bridge.describe", str(path), "--seed", "3", "--lease"],
            input=answer + "\n",
            capture_output=True,
            text=True,
            cwd=Path(kb.__file__).resolve().parent.parent,
            timeout=120,
        )
        return ran.stdout.splitlines(), ran.stderr, ran.returncode

    def assert_protocol(self, lines: list[str]) -> dict:
        self.assertEqual(lines[:2], [describe.ASK, describe.DONE], "asked first, done before the description")
        self.assertEqual(len(lines), 3, lines)
        return json.loads(lines[2])

    def test_told_cpu_it_describes_on_the_cpu(self) -> None:
        lines, stderr, code = self.run_describe(problem_path("trimm"), "cpu")
        self.assertEqual(code, 0, stderr)
        own = kb.describe(kb.load_problem(problem_path("trimm")), seed=3)
        lent = self.assert_protocol(lines)
        self.assertEqual(lent["described_on"], "cpu")
        self.assertEqual(lent["inputs"], own["inputs"])
        self.assertNotIn("described on the CPU", stderr, "nothing failed: nothing to say")

    def test_a_lent_device_describes_as_the_cpu_would(self) -> None:
        # The CPU lent as if it were a GPU: the lent path end to end, the file's prints kept off
        # the protocol.
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "noisy.py"
            path.write_text(problem_path("conv2d_bn").read_text() + '\nprint(\'{"not": "a description"}\')\n')
            lines, stderr, code = self.run_describe(path, "cpu 1.0")
            self.assertEqual(code, 0, stderr)
            self.assertIn('{"not": "a description"}', stderr)
            lent = self.assert_protocol(lines)
            with contextlib.redirect_stdout(io.StringIO()):
                own = kb.describe(kb.load_problem(path), seed=3)
            for key in ("inputs", "scalars", "init_inputs", "outputs"):
                self.assertEqual(lent[key], own[key], key)
            self.assertEqual(lent["parameters"], own["parameters"])

    def test_a_description_that_fails_on_the_lent_device_is_made_on_the_cpu_and_says_why(self) -> None:
        # Nothing is read back from the meta device: the description fails there, as one with
        # too little GPU memory or an operation with no CUDA kernel would.
        lines, stderr, code = self.run_describe(problem_path("trimm"), "meta 0.4")
        self.assertEqual(code, 0, stderr)
        lent = self.assert_protocol(lines)
        self.assertEqual(lent["described_on"], "cpu")
        self.assertEqual(lent["inputs"][0]["structure"], "lower")
        self.assertIn("trimm.py: described on the CPU: on meta it raised", stderr)

    def test_a_file_that_is_no_problem_still_gives_the_device_back(self) -> None:
        lines, stderr, code = self.run_describe(INVALID / "no_get_inputs.py", "cpu 1.0")
        self.assertEqual(code, 1)
        self.assertIn("get_inputs", stderr)
        self.assertEqual(lines, [describe.ASK, describe.DONE])


class DistributionTest(unittest.TestCase):
    def setUp(self) -> None:
        torch.manual_seed(0)

    def test_kinds(self) -> None:
        self.assertEqual(kb.infer_distribution(torch.rand(1000)), {"kind": "uniform", "lo": 0, "hi": 1})
        self.assertEqual(kb.infer_distribution(torch.randn(1000)), {"kind": "normal", "mean": 0, "std": 1})
        self.assertEqual(kb.infer_distribution(torch.randint(2, 7, (1000,))), {"kind": "int", "lo": 2, "hi": 7})
        self.assertEqual(kb.infer_distribution(torch.rand(100) > 0.5), {"kind": "int", "lo": 0, "hi": 2})
        empirical = kb.infer_distribution(torch.randn(1000) * 0.1 + 5)
        self.assertEqual(empirical["kind"], "empirical")
        self.assertAlmostEqual(empirical["mean"], 5.0, delta=0.05)

    def test_too_few_samples_are_not_called_normal(self) -> None:
        self.assertEqual(kb.infer_distribution(torch.tensor([-0.5, 0.5, 1.0]))["kind"], "empirical")

    def test_structures(self) -> None:
        m = torch.randn(3, 6, 6)
        self.assertEqual(kb.detect_structure(m.tril()), "lower")
        self.assertEqual(kb.detect_structure(m.triu()), "upper")
        self.assertEqual(kb.detect_structure(m + m.mT), "symmetric")
        self.assertEqual(kb.detect_structure(torch.diag(torch.arange(1.0, 5.0))), "diagonal")
        self.assertEqual(kb.detect_structure(m), "dense")
        broken = m.tril()
        broken[2, 0, 5] = 1.0
        self.assertEqual(kb.detect_structure(broken), "dense")

    def test_a_structure_given_to_any_draw_is_detected_in_it(self) -> None:
        m = torch.randn(3, 7, 7)
        for structure in ("lower", "upper", "symmetric", "diagonal", "dense"):
            x = kb.with_structure(m, structure)
            self.assertEqual(kb.detect_structure(x), structure)
            self.assertEqual(x.shape, m.shape)
        # The lower triangle is the draw's own; a symmetric draw mirrors it bit for bit.
        sym = kb.with_structure(m, "symmetric")
        self.assertTrue(torch.equal(sym.tril(), m.tril()) and torch.equal(sym, sym.mT))

    def test_large_matrices_keep_their_structure_and_a_dense_corner_decides_at_once(self) -> None:
        n = kb.STRUCTURE_BLOCK + 40
        m = torch.randn(2, n, n)
        for structure, x in (("lower", m.tril()), ("upper", m.triu()), ("symmetric", m + m.mT)):
            self.assertEqual(kb.detect_structure(x), structure)
        # Structured in its corner, not beyond it: the whole matrix is looked at.
        beyond = m.tril()
        beyond[0, 0, n - 1] = 1.0
        self.assertEqual(kb.detect_structure(beyond), "dense")
        # A dense corner: dense, however structured the rest (no full scan needed).
        self.assertTrue(kb._surely_dense(m[0, :8, :8]))
        self.assertFalse(kb._surely_dense(m[0, :8, :8].tril()))
        self.assertFalse(kb._surely_dense((m + m.mT)[0, :8, :8]))
        self.assertEqual(kb.detect_structure(torch.randn(4, n)), "dense")

    def test_triangular_normal_is_normal(self) -> None:
        m = torch.randn(64, 64).tril()
        self.assertEqual(kb.infer_distribution(m, "lower"), {"kind": "normal", "mean": 0, "std": 1})


class FreshInputsTest(unittest.TestCase):
    def test_shapes_dtypes_structure_and_scalars(self) -> None:
        description = kb.describe(kb.load_problem(problem_path("trimm")), seed=0)
        A, B = kb.fresh_inputs(description, seed=5)
        for x in (A, B):
            self.assertEqual(x.shape, (256, 256))
            self.assertEqual(x.dtype, torch.float32)
            self.assertTrue(torch.equal(x, x.tril()))
            self.assertGreaterEqual(float(x.min()), 0.0)
            self.assertLess(float(x.max()), 1.0)
        self.assertFalse(torch.equal(A, B))
        x, level = kb.fresh_inputs(kb.describe(kb.load_problem(problem_path("threshold")), seed=0), seed=5)
        self.assertEqual(level, 1.0)
        self.assertEqual(x.shape, (64, 1000))

    def test_same_seed_same_inputs(self) -> None:
        description = kb.describe(kb.load_problem(problem_path("sum_dim")), seed=0)
        (first,) = kb.fresh_inputs(description, seed=11)
        (again,) = kb.fresh_inputs(description, seed=11)
        (other,) = kb.fresh_inputs(description, seed=12)
        self.assertTrue(torch.equal(first, again))
        self.assertFalse(torch.equal(first, other))

    def test_zero_mean(self) -> None:
        description = kb.describe(kb.load_problem(problem_path("trimm")), seed=0)
        A, _ = kb.fresh_inputs(description, seed=5, zero_mean=True)
        free = A[torch.ones(256, 256, dtype=torch.bool).tril()]
        self.assertTrue(torch.equal(A, A.tril()))
        self.assertLess(float(free.min()), 0.0)
        self.assertAlmostEqual(float(free.mean()), 0.0, delta=0.05)
        self.assertAlmostEqual(float(free.std()), 1.0, delta=0.05)

    def test_integers_keep_their_range_under_zero_mean(self) -> None:
        description = {
            "inputs": [
                {
                    "name": "idx",
                    "index": 0,
                    "dtype": "i64",
                    "shape": [1000],
                    "distribution": {"kind": "int", "lo": 3, "hi": 6},
                },
                {
                    "name": "mask",
                    "index": 2,
                    "dtype": "bool",
                    "shape": [10],
                    "distribution": {"kind": "int", "lo": 0, "hi": 2},
                },
                {
                    "name": "w",
                    "index": 3,
                    "dtype": "bf16",
                    "shape": [5000],
                    "distribution": {"kind": "empirical", "min": 2.0, "max": 4.0, "mean": 3.0, "std": 0.5},
                },
            ],
            "scalars": [{"name": "eps", "index": 1, "value": 1e-5}],
        }
        idx, eps, mask, w = kb.fresh_inputs(description, seed=1, zero_mean=True)
        self.assertEqual((int(idx.min()), int(idx.max())), (3, 5))
        self.assertEqual(eps, 1e-5)
        self.assertEqual(mask.dtype, torch.bool)
        self.assertEqual(w.dtype, torch.bfloat16)
        self.assertLess(float(w.min()), 0.0)
        idx, eps, mask, w = kb.fresh_inputs(description, seed=1)
        self.assertGreaterEqual(float(w.min()), 2.0)
        self.assertLessEqual(float(w.max()), 4.0)


class TruthTest(unittest.TestCase):
    def test_elementwise(self) -> None:
        problem = kb.load_problem(problem_path("leaky_relu"))
        model = kb.build_model(problem, [0.05], seed=0)
        x = torch.randn(16, 4096)
        (out,) = kb.truth(model, [x])
        self.assertEqual(out.dtype, torch.float64)
        for value, got in zip(x.flatten()[:200].tolist(), out.flatten()[:200].tolist()):
            self.assertEqual(got, value if value >= 0 else 0.05 * value)

    def test_reduction(self) -> None:
        problem = kb.load_problem(problem_path("sum_dim"))
        model = kb.build_model(problem, [1], seed=0)
        x = torch.randn(8, 300, 48)
        (out,) = kb.truth(model, [x])
        self.assertEqual(out.shape, (8, 1, 48))
        for b, c in [(0, 0), (3, 17), (7, 47)]:
            expected = math.fsum(x[b, :, c].double().tolist())
            self.assertAlmostEqual(float(out[b, 0, c]), expected, delta=1e-12)

    def test_linear_in_float64(self) -> None:
        problem = kb.load_problem(problem_path("linear"))
        model = kb.build_model(problem, [200, 120], seed=4)
        x = torch.randn(32, 200) * 2 + 3
        (out,) = kb.truth(model, [x])
        W, b = model.fc.weight.detach().double(), model.fc.bias.detach().double()
        for i, j in [(0, 0), (5, 77), (31, 119)]:
            expected = math.fsum(float(x[i, k]) * float(W[j, k]) for k in range(200)) + float(b[j])
            self.assertAlmostEqual(float(out[i, j]), expected, delta=1e-10)
        self.assertEqual(model.fc.weight.dtype, torch.float32, "truth() must not touch the model")

    def test_tuple_outputs(self) -> None:
        class Pair(torch.nn.Module):
            def forward(self, x):
                return x * 2, x.sum()

        outs = kb.truth(Pair(), [torch.ones(3)])
        self.assertEqual([o.dtype for o in outs], [torch.float64, torch.float64])
        self.assertEqual(float(outs[1]), 3.0)

    def test_tensors_kept_as_plain_attributes_are_cast_with_the_model(self) -> None:
        # An initial hidden state kept as a plain attribute (not a buffer): the float64 truth must
        # not mix it, still float32, with its float64 inputs.
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "rnn.py"
            path.write_text(
                "import torch\nfrom torch import nn\n\n"
                "class Model(nn.Module):\n"
                "    def __init__(self):\n"
                "        super().__init__()\n"
                "        self.rnn = nn.GRU(4, 3, batch_first=True)\n"
                "        self.h0 = torch.randn(1, 2, 3)\n"
                "        self.steps = torch.arange(3)\n\n"
                "    def forward(self, x):\n"
                "        return self.rnn(x, self.h0.to(x.device))[0]\n\n"
                "def get_inputs():\n    return [torch.randn(2, 5, 4)]\n\n"
                "def get_init_inputs():\n    return []\n"
            )
            problem = kb.load_problem(path)
            model = kb.build_model(problem, [], seed=1, dtype=torch.float64)
            self.assertEqual((model.h0.dtype, model.steps.dtype), (torch.float64, torch.int64))
            x = torch.randn(2, 5, 4)
            (out,) = kb.truth(kb.build_model(problem, [], seed=1), [x])
            self.assertEqual(out.dtype, torch.float64)
            torch.testing.assert_close(out, model(x.double()))

    def test_what_a_forward_makes_without_a_dtype_is_float64_in_the_truth(self) -> None:
        # An accumulator made in forward with torch's default dtype: in float32 it would round
        # every partial sum of the float64 truth to float32 (1e-8 off here), silently.
        class Accumulate(torch.nn.Module):
            def forward(self, x):
                total = torch.zeros(x.shape[0], device=x.device)
                for column in x.unbind(1):
                    total += column
                return total

        x = torch.full((4, 30), 1.0 / 3.0) + torch.arange(30) * 1e-3
        (out,) = kb.truth(Accumulate(), [x])
        self.assertEqual(out.dtype, torch.float64)
        for row in range(4):
            self.assertAlmostEqual(float(out[row]), math.fsum(x[row].double().tolist()), delta=1e-13)
        self.assertEqual(torch.get_default_dtype(), torch.float32, "the default dtype is restored")
        (wrong,) = [Accumulate()(x.double())]
        self.assertGreater(abs(float(wrong[0]) - math.fsum(x[0].double().tolist())), 1e-9, "the float32 accumulator")

    def test_build_model_is_seeded_and_cast(self) -> None:
        problem = kb.load_problem(problem_path("conv2d_bn"))
        a = kb.build_model(problem, [3, 8, 3], seed=9)
        b = kb.build_model(problem, [3, 8, 3], seed=9, dtype=torch.float16)
        self.assertEqual(b.conv.weight.dtype, torch.float16)
        self.assertEqual(b.bn.num_batches_tracked.dtype, torch.int64)
        self.assertTrue(torch.equal(a.conv.weight.half(), b.conv.weight))


class RepeatDifferenceTest(unittest.TestCase):
    def test_the_same_outputs_and_sums_in_another_order_agree(self) -> None:
        x = torch.randn(1000, 64)
        self.assertIsNone(kb.repeat_difference([x, torch.arange(5)], [x.clone(), torch.arange(5)]))
        # A sum in another order: about 1e-7 apart in float32.
        self.assertIsNone(kb.repeat_difference([x], [x * (1 + 1e-7)]))
        # The same non-finite places (an overflowing Model's, every call alike).
        y = x.clone()
        y[3, 4], y[7, 1] = float("nan"), float("inf")
        self.assertIsNone(kb.repeat_difference([y], [y.clone()]))
        self.assertIsNone(kb.repeat_difference([torch.zeros(8)], [torch.zeros(8)]))

    def test_random_draws_and_other_outputs_differ(self) -> None:
        x = torch.rand(16, 4096)
        dropout = torch.nn.Dropout(0.2)
        said = kb.repeat_difference([dropout(x)], [dropout(x)])
        self.assertIsNotNone(said)
        self.assertIn("out0 differs by", said)
        self.assertIn("differs in 1 of 5", kb.repeat_difference([torch.arange(5)], [torch.tensor([0, 1, 2, 3, 5])]))
        y = x.clone()
        y[0, 0] = float("nan")
        self.assertIn("non-finite", kb.repeat_difference([x], [y]))
        self.assertIn("2 outputs, then 1", kb.repeat_difference([x, x], [x]))
        self.assertIn("then torch.float32 [16, 2048]", kb.repeat_difference([x], [x[:, :2048]]))
        self.assertIn("normwise", kb.repeat_difference([torch.zeros(4)], [torch.ones(4)]))


if __name__ == "__main__":
    unittest.main()
