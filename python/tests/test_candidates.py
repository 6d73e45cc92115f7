"""Candidate formats: ModelNew files, archive kernels, and copying the reference's weights."""

from __future__ import annotations

import tempfile
import unittest
from pathlib import Path

import torch
from sadoku_bridge import candidates as cand
from sadoku_bridge import kernelbench as kb
from torch import nn

from .support import CUDA, candidate_path, problem_path, requires_cuda

HONEST = {
    "leaky_relu": "leaky_relu_honest.py",
    "threshold": "threshold_honest.py",
    "sum_dim": "sum_dim_honest.py",
    "linear": "linear_honest.py",
    "conv2d_bn": "conv2d_bn_honest.py",
    "trimm": "trimm_honest.py",
}


def setup(problem_name: str, candidate_file: str, seed: int = 0):
    """The problem, its description and reference, and the candidate built against it."""
    problem = kb.load_problem(problem_path(problem_name))
    description = kb.describe(problem, seed)
    init_inputs = problem.get_init_inputs()
    reference = kb.build_model(problem, init_inputs, seed)
    loaded = cand.load_modelnew(candidate_path(candidate_file))
    candidate = cand.build_candidate("modelnew", loaded, problem, init_inputs, seed, cand.reference_state(reference))
    return problem, description, reference, candidate


def max_error(candidate, reference, inputs) -> float:
    (expected,) = kb.truth(reference, inputs)
    with torch.no_grad():
        got = candidate(*inputs)
    return float((got.double() - expected).abs().max())


class HonestCandidatesTest(unittest.TestCase):
    def test_each_honest_candidate_matches_the_truth_on_both_distributions(self) -> None:
        for problem_name, candidate_file in HONEST.items():
            with self.subTest(problem=problem_name):
                _, description, reference, candidate = setup(problem_name, candidate_file)
                for zero_mean in (False, True):
                    inputs = kb.fresh_inputs(description, seed=21, zero_mean=zero_mean)
                    self.assertLess(max_error(candidate, reference, inputs), 1e-3)


class CheatsExposedByFreshInputsTest(unittest.TestCase):
    def test_zeros_pass_the_files_distribution_but_not_zero_mean(self) -> None:
        _, description, reference, zeros = setup("threshold", "threshold_zeros.py")
        own = kb.fresh_inputs(description, seed=3)
        self.assertEqual(max_error(zeros, reference, own), 0.0)
        centred = kb.fresh_inputs(description, seed=3, zero_mean=True)
        self.assertGreater(max_error(zeros, reference, centred), 1.0)

    def test_cache_keyed_on_the_address_replays_a_stale_answer(self) -> None:
        _, description, reference, cache = setup("leaky_relu", "leaky_relu_cache.py")
        (x,) = kb.fresh_inputs(description, seed=1, zero_mean=True)
        self.assertLess(max_error(cache, reference, [x]), 1e-6)
        x.copy_(kb.fresh_inputs(description, seed=2, zero_mean=True)[0])
        self.assertGreater(max_error(cache, reference, [x]), 1.0)


class LoadModelNewTest(unittest.TestCase):
    def test_gpu_exploit_loads_without_building(self) -> None:
        loaded = cand.load_modelnew(candidate_path("trimm_one_row_modelnew.py"))
        self.assertTrue(issubclass(loaded.ModelNew, nn.Module))
        self.assertEqual(loaded.module._extension.cache_info().currsize, 0)

    def test_file_without_modelnew(self) -> None:
        with self.assertRaisesRegex(cand.CandidateError, r"class ModelNew"):
            cand.load_modelnew(problem_path("trimm"))

    def test_missing_file(self) -> None:
        with self.assertRaisesRegex(cand.CandidateError, "no such file"):
            cand.load_modelnew(candidate_path("absent.py"))


class CopyStateTest(unittest.TestCase):
    def test_by_name_whatever_the_candidate_drew(self) -> None:
        problem = kb.load_problem(problem_path("conv2d_bn"))
        reference = kb.build_model(problem, [3, 8, 3], seed=5)
        loaded = cand.load_modelnew(candidate_path("conv2d_bn_honest.py"))
        torch.manual_seed(6)
        unaligned = loaded.ModelNew(3, 8, 3)
        self.assertFalse(torch.equal(unaligned.conv.weight, reference.conv.weight))
        self.assertEqual(cand.copy_reference_state(unaligned, cand.reference_state(reference)), "by name")
        self.assertTrue(torch.equal(unaligned.conv.weight, reference.conv.weight))
        self.assertTrue(torch.equal(unaligned.bn.running_var, reference.bn.running_var))

    def test_by_order_when_names_differ(self) -> None:
        problem = kb.load_problem(problem_path("linear"))
        reference = kb.build_model(problem, [200, 120], seed=5)
        candidate = cand.build_candidate(
            "modelnew",
            cand.load_modelnew(candidate_path("linear_honest.py")),
            problem,
            [200, 120],
            5,
            cand.reference_state(reference),
        )
        self.assertTrue(torch.equal(candidate.weight, reference.fc.weight))
        self.assertTrue(torch.equal(candidate.bias, reference.fc.bias))

    def test_mismatch_lists_both_sides(self) -> None:
        class Transposed(nn.Module):
            def __init__(self, in_features: int, out_features: int):
                super().__init__()
                self.weight = nn.Parameter(torch.zeros(in_features, out_features))
                self.bias = nn.Parameter(torch.zeros(out_features))

        problem = kb.load_problem(problem_path("linear"))
        reference = kb.build_model(problem, [200, 120], seed=5)
        loaded = cand.ModelNewFile(Path("transposed.py"), None, Transposed)  # type: ignore[arg-type]
        with self.assertRaises(cand.CandidateError) as caught:
            cand.build_candidate("modelnew", loaded, problem, [200, 120], 5, cand.reference_state(reference))
        self.assertIn("fc.weight [120, 200], fc.bias [120]", caught.exception.evidence)
        self.assertIn("weight [200, 120], bias [120]", caught.exception.evidence)

    def test_state_defaults_to_a_reference_built_with_the_seed(self) -> None:
        problem = kb.load_problem(problem_path("linear"))
        reference = kb.build_model(problem, [200, 120], seed=8)
        candidate = cand.build_candidate(
            "modelnew", cand.load_modelnew(candidate_path("linear_honest.py")), problem, [200, 120], 8, None
        )
        self.assertTrue(torch.equal(candidate.weight, reference.fc.weight))


class ArchiveTest(unittest.TestCase):
    def test_name_follows_the_source_hash(self) -> None:
        source = candidate_path("trimm_archive_honest.cu").read_text(encoding="utf-8")
        name = cand.archive_extension_name(source)
        self.assertRegex(name, r"^sadoku_archive_[0-9a-f]{16}$")
        self.assertEqual(name, cand.archive_extension_name(source))
        self.assertNotEqual(name, cand.archive_extension_name(source + "\n"))

    def test_source_must_export_forward(self) -> None:
        cand.check_archive_source("ok.cu", candidate_path("trimm_archive_one_row.cu").read_text(encoding="utf-8"))
        with self.assertRaisesRegex(cand.CandidateError, "PYBIND11_MODULE"):
            cand.check_archive_source("k.cu", "__global__ void k() {}")
        with self.assertRaisesRegex(cand.CandidateError, '"forward"'):
            cand.check_archive_source("k.cu", 'PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) { m.def("run", &run); }')

    def test_load_refuses_before_building(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            with self.assertRaisesRegex(cand.CandidateError, "no such file"):
                cand.load_archive_kernel(candidate_path("absent.cu"), tmp)
            bad = Path(tmp) / "bad.cu"
            bad.write_text("__global__ void k() {}\n", encoding="utf-8")
            with self.assertRaisesRegex(cand.CandidateError, "PYBIND11_MODULE"):
                cand.load_archive_kernel(bad, tmp)
            if not CUDA:
                with self.assertRaisesRegex(cand.CandidateError, "CUDA GPU"):
                    cand.load_archive_kernel(candidate_path("trimm_archive_honest.cu"), tmp)
                self.assertEqual(list(Path(tmp).iterdir()), [bad])

    def test_forward_gets_inputs_then_parameters_then_buffers(self) -> None:
        problem = kb.load_problem(problem_path("conv2d_bn"))
        reference = kb.build_model(problem, [3, 8, 3], seed=2)
        seen = []

        def forward(*args):
            seen.extend(args)
            return args[0]

        bound = cand.build_candidate("archive", forward, problem, [3, 8, 3], 2, cand.reference_state(reference))
        x = torch.rand(4, 3, 20, 24)
        bound(x)
        self.assertEqual(
            bound.names,
            (
                "conv.weight",
                "conv.bias",
                "bn.weight",
                "bn.bias",
                "bn.running_mean",
                "bn.running_var",
                "bn.num_batches_tracked",
            ),
        )
        self.assertIs(seen[0], x)
        self.assertTrue(torch.equal(seen[1], reference.conv.weight))
        self.assertNotEqual(seen[1].data_ptr(), reference.conv.weight.data_ptr(), "the kernel gets copies")
        self.assertTrue(torch.equal(seen[7], reference.bn.num_batches_tracked))

    def test_unknown_kind(self) -> None:
        problem = kb.load_problem(problem_path("trimm"))
        with self.assertRaisesRegex(ValueError, "unknown candidate kind"):
            cand.build_candidate("triton", None, problem, [], 0, {})  # type: ignore[arg-type]

    @requires_cuda
    def test_honest_archive_kernel_on_the_gpu(self) -> None:
        problem = kb.load_problem(problem_path("trimm"))
        description = kb.describe(problem, 0)
        reference = kb.build_model(problem, [], 0, device="cuda")
        with tempfile.TemporaryDirectory() as tmp:
            forward = cand.load_archive_kernel(candidate_path("trimm_archive_honest.cu"), tmp)
            bound = cand.build_candidate("archive", forward, problem, [], 0, cand.reference_state(reference))
            for zero_mean in (False, True):
                inputs = kb.fresh_inputs(description, seed=4, zero_mean=zero_mean, device="cuda")
                self.assertLess(max_error(bound, reference, inputs), 1e-3)


if __name__ == "__main__":
    unittest.main()
