"""An archive kernel's ``forward`` bound to the problem: its parameters read from the source and the
built extension's docstring, each given what the problem file gives (forward arguments, the
Model's tensors, constructor arguments and settings), or refused by name. On the CPU: the kernels
here are Python functions that carry a pybind11-style docstring and a C++ source beside them."""

from __future__ import annotations

import textwrap
import unittest
from typing import Any

import torch
from sadoku_bridge import archive
from sadoku_bridge import candidates as cand
from sadoku_bridge import kernelbench as kb
from torch import nn

from .support import candidate_path, problem_path


def kernel(function: Any, doc: str | None) -> Any:
    function.__doc__ = doc
    return function


def write_problem(tmp: str, name: str, body: str) -> kb.Problem:
    from pathlib import Path

    path = Path(tmp) / f"{name}.py"
    path.write_text("import torch\nimport torch.nn as nn\n" + textwrap.dedent(body), encoding="utf-8")
    return kb.load_problem(path)


POOL = """
    class Model(nn.Module):
        def __init__(self, kernel_size: int, stride: int = None, padding: int = 0):
            super().__init__()
            self.pool = nn.MaxPool2d(kernel_size=kernel_size, stride=stride, padding=padding)

        def forward(self, x):
            return self.pool(x)

    def get_inputs():
        return [torch.randn(2, 3, 12, 12)]

    def get_init_inputs():
        return [3, 2, 1]
"""

CONV = """
    class Model(nn.Module):
        def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, groups=1, bias=False):
            super().__init__()
            self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding,
                                  groups=groups, bias=bias)

        def forward(self, x):
            return self.conv(x)

    def get_inputs():
        return [torch.randn(2, 4, 10, 10)]

    def get_init_inputs():
        return [4, 6, 3, (2, 2), 1]
"""


class CppSignature(unittest.TestCase):
    def test_the_function_forward_names_with_its_types_and_defaults(self) -> None:
        source = """
            // forward(x, dim): a call `sum_rows(x, d)` in a comment is not a definition
            torch::Tensor sum_rows(const torch::Tensor& input, int64_t dim, double eps = 1e-5);
            static int helper(int a) { return a; }
            torch::Tensor sum_rows(const torch::Tensor& input, int64_t dim, double eps) {
                auto y = input.sum(dim, true);
                return y;
            }
            torch::Tensor twice(torch::Tensor input) { return sum_rows(input, 1, 0.0); }
            PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
                m.def("forward", &sum_rows, "sum (CUDA, see http://example.org)");
            }
        """
        params = archive.cpp_signature(source)
        assert params is not None
        self.assertEqual([p.name for p in params], ["input", "dim", "eps"])
        self.assertEqual([p.kind for p in params], ["tensor", "int", "float"])

    def test_kinds_of_what_archive_kernels_take(self) -> None:
        source = """
            at::Tensor forward(
                torch::Tensor x,
                c10::optional<torch::Tensor> bias,
                std::vector<int64_t> kernel,
                bool training,
                float momentum,
                at::Scalar alpha,
                const std::string& mode,
                torch::Tensor /* unnamed */) { return x; }
            PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) { m.def("forward", forward); }
        """
        params = archive.cpp_signature(source)
        assert params is not None
        self.assertEqual(
            [(p.name, p.kind) for p in params],
            [
                ("x", "tensor"),
                ("bias", "optional tensor"),
                ("kernel", "ints"),
                ("training", "bool"),
                ("momentum", "float"),
                ("alpha", "number"),
                ("mode", "str"),
                ("", "tensor"),
            ],
        )

    def test_a_lambda(self) -> None:
        source = (
            'PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) { m.def("forward", [](torch::Tensor a, int k) { return a; }); }'
        )
        params = archive.cpp_signature(source)
        assert params is not None
        self.assertEqual([(p.name, p.kind) for p in params], [("a", "tensor"), ("k", "int")])

    def test_unreadable_is_none_not_a_guess(self) -> None:
        overloads = """
            torch::Tensor f(torch::Tensor a) { return a; }
            torch::Tensor f(torch::Tensor a, int k) { return a; }
            PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) { m.def("forward", &f); }
        """
        self.assertIsNone(archive.cpp_signature(overloads))
        self.assertIsNone(archive.cpp_signature('PYBIND11_MODULE(T, m) { m.def("forward", &elsewhere); }'))
        self.assertIsNone(archive.cpp_signature("torch::Tensor forward(torch::Tensor x) { return x; }"))


class PybindSignature(unittest.TestCase):
    def test_types_from_the_docstring(self) -> None:
        f = kernel(
            lambda *a: None,
            "forward(arg0: torch.Tensor, arg1: Optional[torch.Tensor], arg2: int, arg3: float, arg4: bool, "
            "arg5: list[int]) -> torch.Tensor\n\nconv (CUDA)\n",
        )
        params = archive.pybind_signature(f)
        assert params is not None
        self.assertEqual(
            [(p.name, p.kind) for p in params],
            [("", "tensor"), ("", "optional tensor"), ("", "int"), ("", "float"), ("", "bool"), ("", "ints")],
        )

    def test_py_arg_names_and_defaults_win_over_the_source(self) -> None:
        f = kernel(lambda *a: None, "forward(x: torch.Tensor, dim: int = 1) -> torch.Tensor\n")
        source = (
            'torch::Tensor g(torch::Tensor a, int d) { return a; }\nPYBIND11_MODULE(T, m) { m.def("forward", &g); }'
        )
        params = archive.signature(f, source)
        assert params is not None
        self.assertEqual([(p.name, p.default) for p in params], [("x", None), ("dim", "1")])

    def test_the_source_names_what_pybind_numbers(self) -> None:
        f = kernel(lambda *a: None, "forward(arg0: torch.Tensor, arg1: int) -> torch.Tensor\n")
        source = (
            'torch::Tensor g(torch::Tensor a, int64_t d) { return a; }\nPYBIND11_MODULE(T, m) { m.def("forward", &g); }'
        )
        params = archive.signature(f, source)
        assert params is not None
        self.assertEqual([(p.name, p.kind) for p in params], [("a", "tensor"), ("d", "int")])

    def test_a_source_that_disagrees_on_the_count_is_not_used(self) -> None:
        f = kernel(lambda *a: None, "forward(arg0: torch.Tensor, arg1: int) -> torch.Tensor\n")
        source = 'torch::Tensor g(torch::Tensor a) { return a; }\nPYBIND11_MODULE(T, m) { m.def("forward", &g); }'
        params = archive.signature(f, source)
        assert params is not None
        self.assertEqual([(p.name, p.kind) for p in params], [("", "tensor"), ("", "int")])

    def test_overloaded_or_plain_functions_have_none(self) -> None:
        self.assertIsNone(archive.pybind_signature(kernel(lambda *a: None, None)))
        overloaded = (
            "forward(*args, **kwargs)\nOverloaded function.\n\n1. forward(arg0: torch.Tensor) -> torch.Tensor\n"
        )
        self.assertIsNone(archive.pybind_signature(kernel(lambda *a: None, overloaded)))


def exported(definition: str, function: str) -> str:
    """A source that defines ``definition`` and exports ``function`` as ``forward``."""
    return definition + f'\nPYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {{ m.def("forward", &{function}); }}\n'


def bind(problem: kb.Problem, forward: Any, source: str | None, init: list[Any], seed: int = 3) -> Any:
    kernel_ = cand.ArchiveKernel(forward, source)
    return cand.build_candidate("archive", kernel_, problem, init, seed, None)


class Binding(unittest.TestCase):
    def test_a_reduction_gets_its_dim_from_the_constructor(self) -> None:
        problem = kb.load_problem(problem_path("sum_dim"))
        seen: list[Any] = []

        def forward(x: torch.Tensor, dim: int) -> torch.Tensor:
            seen.append(dim)
            return x.sum(dim, keepdim=True)

        source = exported("torch::Tensor reduce(torch::Tensor input, int64_t d) { return input; }", "reduce")
        bound = bind(problem, kernel(forward, "forward(arg0: torch.Tensor, arg1: int) -> torch.Tensor\n"), source, [1])
        x = torch.randn(4, 5, 6)
        torch.testing.assert_close(bound(x), kb.build_model(problem, [1], 0)(x))
        self.assertEqual(seen, [1])
        # `d` is no name the problem has: the one constructor argument left, in order, said so.
        self.assertIn("constructor's `dim` = 1 (in order)", archive.describe(bound.slots))

    def test_pooling_settings_by_name_and_a_tuple_of_equal_numbers_as_a_number(self) -> None:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            problem = write_problem(tmp, "pool", POOL)
            calls: list[tuple[Any, ...]] = []

            def forward(x, kernel_size, stride, padding, dilation):
                calls.append((kernel_size, stride, padding, dilation))
                return nn.functional.max_pool2d(x, kernel_size, stride, padding, dilation)

            source = (
                "torch::Tensor pool(torch::Tensor input, int kernel_size, int stride, int padding, int dilation)"
                ' { return input; }\nPYBIND11_MODULE(T, m) { m.def("forward", &pool); }'
            )
            doc = "forward(arg0: torch.Tensor, arg1: int, arg2: int, arg3: int, arg4: int) -> torch.Tensor\n"
            bound = bind(problem, kernel(forward, doc), source, [3, 2, 1])
            x = torch.randn(2, 3, 12, 12)
            torch.testing.assert_close(bound(x), kb.build_model(problem, [3, 2, 1], 0)(x))
            # dilation: no constructor argument; the layer's attribute (1).
            self.assertEqual(calls, [(3, 2, 1, 1)])
            self.assertIn("`pool.dilation` = 1", archive.describe(bound.slots))

    def test_a_convolution_without_bias_gets_none_and_its_stride_as_the_file_gives_it(self) -> None:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            problem = write_problem(tmp, "conv", CONV)
            init = problem.get_init_inputs()
            got: dict[str, Any] = {}

            def forward(x, weight, bias, stride, padding, groups):
                got.update(bias=bias, stride=stride, padding=padding, groups=groups)
                return nn.functional.conv2d(x, weight, bias, 2, padding, 1, groups)

            doc = (
                "forward(arg0: torch.Tensor, arg1: torch.Tensor, arg2: Optional[torch.Tensor], arg3: int, "
                "arg4: int, arg5: int) -> torch.Tensor\n"
            )
            source = exported(
                "torch::Tensor conv(torch::Tensor x, torch::Tensor weight, c10::optional<torch::Tensor> bias,"
                " int stride, int padding, int groups) { return x; }",
                "conv",
            )
            bound = bind(problem, kernel(forward, doc), source, init)
            x = torch.randn(2, 4, 10, 10)
            torch.testing.assert_close(bound(x), kb.build_model(problem, init, 3)(x))
            self.assertEqual(got, {"bias": None, "stride": 2, "padding": 1, "groups": 1})
            text = archive.describe(bound.slots)
            self.assertIn("constructor's `stride` = 2 ((2, 2) as 2)", text)
            self.assertIn("weight (tensor) <- Model's `conv.weight` (by name)", text)

    def test_a_batch_norm_gets_its_buffers_training_momentum_and_eps(self) -> None:
        problem = kb.load_problem(problem_path("conv2d_bn"))
        init = [3, 8, 3]
        args: list[Any] = []

        def forward(x, conv_weight, conv_bias, bn_weight, bn_bias, running_mean, running_var, training, momentum, eps):
            args.extend([training, momentum, eps])
            y = nn.functional.conv2d(x, conv_weight, conv_bias, padding=1)
            y = nn.functional.batch_norm(
                y, running_mean.clone(), running_var.clone(), bn_weight, bn_bias, training, momentum, eps
            )
            return torch.relu(y)

        names = "x conv_weight conv_bias bn_weight bn_bias running_mean running_var training momentum eps".split()
        kinds = ["torch.Tensor"] * 7 + ["bool", "float", "float"]
        doc = "forward(" + ", ".join(f"{n}: {k}" for n, k in zip(names, kinds)) + ") -> torch.Tensor\n"
        bound = bind(problem, kernel(forward, doc), None, init)
        x = torch.rand(4, 3, 20, 24)
        torch.testing.assert_close(bound(x), kb.build_model(problem, init, 3)(x))
        self.assertEqual(args, [True, 0.1, 1e-5])
        self.assertNotIn("bn.num_batches_tracked", [s.key for s in bound.slots], "integer buffers are not judged")

    def test_the_judges_tensors_replace_the_models_at_each_launch(self) -> None:
        problem = kb.load_problem(problem_path("conv2d_bn"))
        seen: list[torch.Tensor] = []

        def forward(x, weight, *rest):
            seen.append(weight)
            return x

        doc = "forward(x: torch.Tensor, conv_weight: torch.Tensor) -> torch.Tensor\n"
        bound = bind(problem, kernel(forward, doc), None, [3, 8, 3])
        fresh = {name: torch.zeros_like(t) for name, t in zip(bound.names, bound.tensors)}
        bound.with_state(fresh)(torch.rand(1))
        self.assertIs(seen[0], fresh["conv.weight"])

    def test_a_parameter_nothing_names_is_refused_with_what_the_problem_has(self) -> None:
        problem = kb.load_problem(problem_path("sum_dim"))
        doc = "forward(x: torch.Tensor, dim: int, scale: float) -> torch.Tensor\n"
        with self.assertRaises(cand.CallError) as caught:
            bind(problem, kernel(lambda *a: a[0], doc), None, [1])
        message = str(caught.exception)
        self.assertIn("`scale` (float)", message)
        self.assertIn("constructor arguments dim=1", message)

    def test_a_setting_of_the_wrong_type_is_not_passed(self) -> None:
        problem = kb.load_problem(problem_path("sum_dim"))
        doc = "forward(x: torch.Tensor, dim: str) -> torch.Tensor\n"
        with self.assertRaisesRegex(cand.CallError, "`dim` \\(str\\)"):
            bind(problem, kernel(lambda *a: a[0], doc), None, [1])

    def test_fewer_parameters_than_forward_arguments(self) -> None:
        problem = kb.load_problem(problem_path("trimm"))
        with self.assertRaisesRegex(cand.CallError, "takes 1 argument"):
            bind(problem, kernel(lambda *a: a[0], "forward(A: torch.Tensor) -> torch.Tensor\n"), None, [])

    def test_a_default_fills_what_no_name_finds(self) -> None:
        problem = kb.load_problem(problem_path("sum_dim"))
        doc = "forward(x: torch.Tensor, dim: int, unroll: int = 4) -> torch.Tensor\n"
        bound = bind(problem, kernel(lambda x, d, u: x.sum(d, keepdim=True), doc), None, [1])
        self.assertEqual([s.key for s in bound.slots[1:]], [1, 4])

    def test_without_a_readable_signature_the_archive_order(self) -> None:
        problem = kb.load_problem(problem_path("sum_dim"))
        bound = bind(problem, kernel(lambda *a: a[0], None), None, [1])
        self.assertIsNone(bound.slots)


NORM = """
    class Model(nn.Module):
        def __init__(self, num_features: int):
            super().__init__()
            self.inorm = nn.InstanceNorm2d(num_features=num_features{affine})
{more}
        def forward(self, x):
            return self.inorm(x)

    def get_inputs():
        return [torch.randn(2, 6, 5, 7)]

    def get_init_inputs():
        return [6]
"""


class TheIdentityOfANormWithoutAffineParameters(unittest.TestCase):
    """An instance norm built without affine parameters (``nn.InstanceNorm2d``'s default) and a
    kernel that takes ``weight`` and ``bias`` all the same, as the archive's instance-norm kernels
    do: they are the layer's identity, ones and zeros, made once on the inputs' device. Only where
    the Model has exactly one normalisation layer and it has no affine parameters."""

    DOC = "forward(arg0: torch.Tensor, arg1: torch.Tensor, arg2: torch.Tensor, arg3: float) -> torch.Tensor\n"
    SOURCE = (
        "torch::Tensor forward(torch::Tensor x, torch::Tensor weight, torch::Tensor bias, double eps) { return x; }"
    )

    def forward(self, seen: list[Any]) -> Any:
        def forward(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, eps: float) -> torch.Tensor:
            seen.append((weight, bias))
            return nn.functional.instance_norm(x, weight=weight, bias=bias, eps=eps)

        return kernel(forward, self.DOC)

    def test_weight_and_bias_are_ones_and_zeros_and_made_once(self) -> None:
        import tempfile

        seen: list[Any] = []
        with tempfile.TemporaryDirectory() as tmp:
            problem = write_problem(tmp, "inorm", NORM.format(affine="", more=""))
            bound = bind(problem, self.forward(seen), exported(self.SOURCE, "forward"), [6])
            x = torch.randn(2, 6, 5, 7)
            torch.testing.assert_close(bound(x), kb.build_model(problem, [6], 3)(x))
            bound.with_state({})(x)
        (w, b), (w2, b2) = seen
        self.assertTrue(torch.equal(w, torch.ones(6)) and torch.equal(b, torch.zeros(6)))
        self.assertIs(w2, w, "made once, kept for later calls")
        text = archive.describe(bound.slots)
        self.assertIn("weight (tensor) <- ones [6] (`inorm` has no affine parameters: the identity)", text)
        self.assertIn("bias (tensor) <- zeros [6]", text)
        self.assertIn("eps (float) <- `inorm.eps` = 1e-05", text)

    def test_a_layer_with_affine_parameters_gives_its_own(self) -> None:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            problem = write_problem(tmp, "inorm", NORM.format(affine=", affine=True", more=""))
            bound = bind(problem, self.forward([]), exported(self.SOURCE, "forward"), [6])
        self.assertIn("weight (tensor) <- Model's `inorm.weight` (by name)", archive.describe(bound.slots))

    def test_two_normalisation_layers_leave_it_a_guess_and_it_is_refused(self) -> None:
        import tempfile

        more = "            self.other = nn.InstanceNorm2d(num_features)\n"
        with tempfile.TemporaryDirectory() as tmp:
            problem = write_problem(tmp, "inorm", NORM.format(affine="", more=more))
            with self.assertRaises(cand.CallError) as caught:
                bind(problem, self.forward([]), exported(self.SOURCE, "forward"), [6])
        self.assertIn("`weight` matches none of the Model's parameters and buffers", str(caught.exception))

    def test_a_batch_norm_without_affine_parameters_never_gives_its_statistics_for_a_weight(self) -> None:
        import tempfile

        body = NORM.replace(
            "nn.InstanceNorm2d(num_features=num_features{affine})", "nn.BatchNorm2d(num_features, affine=False)"
        )
        with tempfile.TemporaryDirectory() as tmp:
            problem = write_problem(tmp, "bnorm", body.format(more=""))
            doc = (
                "forward(arg0: torch.Tensor, arg1: torch.Tensor, arg2: torch.Tensor, arg3: torch.Tensor, "
                "arg4: torch.Tensor, arg5: bool, arg6: float, arg7: float) -> torch.Tensor\n"
            )
            source = exported(
                "torch::Tensor forward(torch::Tensor x, torch::Tensor weight, torch::Tensor bias, torch::Tensor "
                "running_mean, torch::Tensor running_var, bool training, double momentum, double eps) { return x; }",
                "forward",
            )

            def forward(x, weight, bias, mean, var, training, momentum, eps):  # type: ignore[no-untyped-def]
                return nn.functional.batch_norm(x, mean, var, weight, bias, training, momentum, eps)

            bound = bind(problem, kernel(forward, doc), source, [6])
            x = torch.randn(2, 6, 5, 7)
            torch.testing.assert_close(bound(x), kb.build_model(problem, [6], 3)(x))
        how = [s.how for s in bound.slots]
        self.assertEqual(
            how[1:5],
            [
                "ones [6] (`inorm` has no affine parameters: the identity)",
                "zeros [6] (`inorm` has no affine parameters: the identity)",
                "Model's `inorm.running_mean` (by name)",
                "Model's `inorm.running_var` (by name)",
            ],
        )


class WhatArchiveKernelsTake(unittest.TestCase):
    """Forms the archive's kernels take their settings in, each with a problem of the project's own."""

    def test_a_literal_of_the_models_forward(self) -> None:
        import tempfile

        body = """
            import torch.nn.functional as F
            class Model(nn.Module):
                def forward(self, x):
                    return F.hardtanh(x, min_val=-2.0, max_val=0.5)
            def get_inputs():
                return [torch.randn(8, 8)]
            def get_init_inputs():
                return []
        """
        with tempfile.TemporaryDirectory() as tmp:
            problem = write_problem(tmp, "clamp", body)
            doc = "forward(arg0: torch.Tensor, arg1: float, arg2: float) -> torch.Tensor\n"
            source = exported(
                "torch::Tensor clamp(torch::Tensor x, float min_val, float max_val) { return x; }", "clamp"
            )
            bound = bind(problem, kernel(lambda x, lo, hi: x.clamp(lo, hi), doc), source, [])
            x = torch.randn(8, 8) * 3
            torch.testing.assert_close(bound(x), kb.build_model(problem, [], 0)(x))
            self.assertEqual([s.key for s in bound.slots[1:]], [-2.0, 0.5])
            self.assertIn("Model.forward's literal `min_val=`", archive.describe(bound.slots))

    def test_abbreviated_names_an_object_for_the_bias_and_a_tuple_of_two(self) -> None:
        import tempfile

        body = """
            class Model(nn.Module):
                def __init__(self, channels, padding_h=1, padding_w=2, dilation=(1, 1)):
                    super().__init__()
                    self.conv = nn.Conv2d(channels, channels, 3, padding=(padding_h, padding_w),
                                          dilation=dilation, groups=channels, bias=False)
                def forward(self, x):
                    return self.conv(x)
            def get_inputs():
                return [torch.randn(2, 4, 9, 9)]
            def get_init_inputs():
                return [4, 1, 2, (1, 1)]
        """
        with tempfile.TemporaryDirectory() as tmp:
            problem = write_problem(tmp, "dw", body)
            init = problem.get_init_inputs()
            seen: dict[str, Any] = {}

            def forward(x, weight, bias_obj, pad_h, pad_w, dilation):
                seen.update(bias=bias_obj, pad=(pad_h, pad_w), dilation=dilation)
                return nn.functional.conv2d(x, weight, bias_obj, 1, (pad_h, pad_w), dilation, groups=x.shape[1])

            source = exported(
                "torch::Tensor dw(torch::Tensor x, torch::Tensor weight, py::object bias_obj, int pad_h, int pad_w,"
                " std::tuple<int, int> dilation) { return x; }",
                "dw",
            )
            doc = (
                "forward(arg0: torch.Tensor, arg1: torch.Tensor, arg2: object, arg3: int, arg4: int, "
                "arg5: tuple[int, int]) -> torch.Tensor\n"
            )
            bound = bind(problem, kernel(forward, doc), source, init)
            x = torch.randn(2, 4, 9, 9)
            torch.testing.assert_close(bound(x), kb.build_model(problem, init, 3)(x))
            self.assertEqual(seen, {"bias": None, "pad": (1, 2), "dilation": (1, 1)})

    def test_an_object_for_the_bias_of_a_layer_built_without_one_is_none_not_the_constructors_flag(self) -> None:
        import tempfile

        # The constructor's `bias` is a flag; the layer's `bias` is the tensor the functional form
        # takes, None when the flag is off. An object parameter `bias_obj` is the layer's.
        body = """
            class Model(nn.Module):
                def __init__(self, channels, out_channels, kernel_size, stride=1, bias=False):
                    super().__init__()
                    self.conv1d = nn.Conv1d(channels, out_channels, kernel_size, stride=stride, bias=bias)
                def forward(self, x):
                    return self.conv1d(x)
            def get_inputs():
                return [torch.randn(2, 3, 16)]
            def get_init_inputs():
                return [3, 5, 3]
        """
        source = exported(
            "torch::Tensor c(torch::Tensor x, torch::Tensor weight, py::object bias_obj, int64_t stride) { return x; }",
            "c",
        )
        doc = "forward(arg0: torch.Tensor, arg1: torch.Tensor, arg2: object, arg3: int) -> torch.Tensor\n"

        def forward(x, weight, bias_obj, stride):
            if not (bias_obj is None or isinstance(bias_obj, torch.Tensor)):
                raise TypeError(f"Unable to cast {type(bias_obj)} to at::Tensor")
            return nn.functional.conv1d(x, weight, bias_obj, stride)

        with tempfile.TemporaryDirectory() as tmp:
            problem = write_problem(tmp, "conv1d", body)
            x = torch.randn(2, 3, 16)
            for init, how in (
                ([3, 5, 3], "None (the Model's `conv1d.bias` is None)"),
                ([3, 5, 3, 1, True], "Model's `conv1d.bias` (by name)"),
            ):
                with self.subTest(init=init):
                    bound = bind(problem, kernel(forward, doc), source, init)
                    torch.testing.assert_close(bound(x), kb.build_model(problem, init, 3)(x))
                    self.assertEqual(bound.slots[2].how, how)
                    self.assertEqual(bound.slots[3].how, "constructor's `stride` = 1")


class TheExamplesBindAsTheySay(unittest.TestCase):
    """The example archive kernels (examples/kernelbench/candidates/*_archive.cu), their sources
    read as the worker reads them, with the docstring pybind11 writes for each export: the bound
    call, run as Python, gives the Model's answer on smaller inputs."""

    def check(self, stem: str, doc: str, python_forward: Any, x: torch.Tensor, expected_how: list[str]) -> None:
        problem = kb.load_problem(problem_path(stem))
        source = candidate_path(f"{stem}_archive.cu").read_text(encoding="utf-8")
        init = problem.get_init_inputs()
        bound = bind(problem, kernel(python_forward, doc), source, init)
        torch.testing.assert_close(bound(x), kb.build_model(problem, init, 3)(x))
        self.assertEqual([s.how for s in bound.slots], expected_how)

    def test_max_pool(self) -> None:
        doc = "forward(arg0: torch.Tensor, arg1: int, arg2: int, arg3: int, arg4: int) -> torch.Tensor\n\nmax_pool2d\n"
        self.check(
            "max_pool",
            doc,
            lambda x, k, s, p, d: nn.functional.max_pool2d(x, k, s, p, d),
            torch.randn(2, 3, 17, 16),
            [
                "forward argument `x`",
                "constructor's `kernel_size` = 3",
                "constructor's `stride` = 2",
                "constructor's `padding` = 1",
                "`pool.dilation` = 1",
            ],
        )

    def test_sum_dim(self) -> None:
        doc = "forward(arg0: torch.Tensor, arg1: int) -> torch.Tensor\n\ntorch.sum(x, dim, keepdim=True)\n"
        self.check(
            "sum_dim",
            doc,
            lambda x, dim: x.sum(dim, keepdim=True),
            torch.randn(2, 9, 4),
            ["forward argument `x`", "constructor's `dim` = 1"],
        )

    def test_leaky_relu(self) -> None:
        doc = "forward(x: torch.Tensor, negative_slope: float) -> torch.Tensor\n\nleaky_relu(x, negative_slope)\n"
        problem_slope = kb.load_problem(problem_path("leaky_relu")).get_init_inputs()[0]
        self.check(
            "leaky_relu",
            doc,
            lambda x, slope: nn.functional.leaky_relu(x, slope),
            torch.randn(4, 8),
            ["forward argument `x`", f"constructor's `negative_slope` = {problem_slope!r}"],
        )

    def test_linear_relu(self) -> None:
        doc = "forward(arg0: torch.Tensor, arg1: torch.Tensor, arg2: torch.Tensor) -> torch.Tensor\n\nrelu\n"
        problem = kb.load_problem(problem_path("linear_relu"))
        features = problem.get_init_inputs()[0]
        self.check(
            "linear_relu",
            doc,
            lambda x, w, b: torch.relu(x @ w.T + b),
            torch.randn(3, features),
            ["forward argument `x`", "Model's `fc.weight` (by name)", "Model's `fc.bias` (by name)"],
        )

    def test_batch_norm(self) -> None:
        """The kernel's arithmetic as Python (per-channel sums in float64, the running statistics
        updated in place with the unbiased variance): the Model's output, and the running
        statistics the Model's own forward leaves."""

        def forward(x, w, b, mean, var, training, momentum, eps):  # type: ignore[no-untyped-def]
            self.assertTrue(training)
            n = x.numel() // x.shape[1]
            xd = x.double().transpose(0, 1).reshape(x.shape[1], -1)
            m = xd.sum(1) / n
            v = (xd.square().sum(1) / n - m.square()).clamp(min=0)
            mean.copy_(((1 - momentum) * mean.double() + momentum * m).float())
            var.copy_(((1 - momentum) * var.double() + momentum * v * n / (n - 1)).float())
            shape = (1, -1, 1, 1)
            invstd = (1 / (v + eps).sqrt()).float()
            return (x - m.float().view(shape)) * invstd.view(shape) * w.view(shape) + b.view(shape)

        doc = (
            "forward(arg0: torch.Tensor, arg1: torch.Tensor, arg2: torch.Tensor, arg3: torch.Tensor, "
            "arg4: torch.Tensor, arg5: bool, arg6: float, arg7: float) -> torch.Tensor\n\nbatch_norm\n"
        )
        problem = kb.load_problem(problem_path("batch_norm"))
        source = candidate_path("batch_norm_archive.cu").read_text(encoding="utf-8")
        init = problem.get_init_inputs()
        model = kb.build_model(problem, init, 3)
        bound = bind(problem, kernel(forward, doc), source, init)
        x = torch.randn(3, init[0], 4, 4) * 2 + 0.5
        got = bound(x)
        torch.testing.assert_close(got, model(x))
        state = dict(zip(bound.names, bound.tensors))
        for name in ("bn.running_mean", "bn.running_var"):
            torch.testing.assert_close(state[name], dict(model.named_buffers())[name], msg=name)
        self.assertEqual(
            [s.how for s in bound.slots],
            [
                "forward argument `x`",
                "Model's `bn.weight` (by name)",
                "Model's `bn.bias` (by name)",
                "Model's `bn.running_mean` (by name)",
                "Model's `bn.running_var` (by name)",
                "Model's `training` = True",
                "`bn.momentum` = 0.1",
                "`bn.eps` = 1e-05",
            ],
        )


class TheModelsStateInTheWorker(unittest.TestCase):
    """A training-mode BatchNorm updates its running statistics in its own forward, and an archive
    kernel that takes them as arguments does the same, in place. In the worker (on the CPU, the
    kernel a Python function as the built extension's ``forward``), a buffer the description marked
    ``updated`` reaches the kernel as a copy made for the call: the judge's buffer keeps what the
    judge drew, and the judge's check that inputs are unchanged passes. Any other tensor is the
    judge's own: a kernel that writes into a weight changes the judge's buffer, and that check
    fails it."""

    N, C, H, W = 4, 8, 20, 24

    def call_once(self, forward: Any) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], torch.Tensor]:
        """The kernel called once on the judge's buffers: what the judge drew, what its buffers
        hold after the call, and the output."""
        from unittest import mock

        from sadoku_bridge import worker

        from .support import cpu_worker, launch, load, upload

        problem = kb.load_problem(problem_path("conv2d_bn"))
        init = problem.get_init_inputs()
        model = kb.build_model(problem, init, 3)
        shapes = {"x": [self.N, 3, self.H, self.W]}
        shapes.update((n, list(t.shape)) for n, t in model.named_parameters())
        shapes.update((n, list(t.shape)) for n, t in model.named_buffers() if t.is_floating_point())
        args = [{"name": "x", "dtype": "f32", "shape": shapes["x"], "role": "input", "index": 0}]
        for name in list(shapes)[1:]:
            arg = {"name": name, "dtype": "f32", "shape": shapes[name], "role": "parameter"}
            if name.startswith("bn.running_"):
                arg["updated"] = True
            args.append(arg)
        args.append({"name": "out0", "dtype": "f32", "shape": [self.N, self.C, self.H, self.W], "role": "output"})
        spec = {"kind": "archive", "problem": str(problem_path("conv2d_bn")), "init_inputs": init, "seed": 3}
        spec["args"] = args
        names = "x conv_weight conv_bias bn_weight bn_bias running_mean running_var training momentum eps".split()
        kinds = ["torch.Tensor"] * 7 + ["bool", "float", "float"]
        forward.__doc__ = "forward(" + ", ".join(f"{n}: {k}" for n, k in zip(names, kinds)) + ") -> torch.Tensor\n"
        w = cpu_worker()
        built = cand.ArchiveKernel(forward)
        with mock.patch.object(worker.candidates, "load_archive_kernel", return_value=built):
            module = load(w, "bn.cu", "// a kernel built elsewhere\n", spec)
        drawn = {n: torch.rand(shapes[n]) + 0.5 for n in shapes}
        buffers = {n: upload(w, t) for n, t in drawn.items()}
        out = w.alloc(self.N * self.C * self.H * self.W * 4)
        w.run([launch(module, [{"Buffer": buffers[n]} for n in shapes] + [{"Buffer": out}])], timed=False)
        held = {
            n: torch.frombuffer(bytearray(w.download(b)), dtype=torch.float32).reshape(shapes[n])
            for n, b in buffers.items()
        }
        got = torch.frombuffer(bytearray(w.download(out)), dtype=torch.float32).reshape(self.N, self.C, self.H, self.W)
        # The Model's own answer on what the judge drew.
        for n, t in model.named_parameters():
            t.data.copy_(drawn[n])
        for n, t in model.named_buffers():
            if t.is_floating_point():
                t.copy_(drawn[n])
        with torch.no_grad():
            torch.testing.assert_close(got, model(drawn["x"]))
        return drawn, held, got

    @staticmethod
    def batch_norm(x, cw, cb, bw, bb, mean, var, training, momentum, eps):  # type: ignore[no-untyped-def]
        y = nn.functional.conv2d(x, cw, cb, padding=1)
        # As the archive's kernels do: the running statistics updated in place.
        return torch.relu(nn.functional.batch_norm(y, mean, var, bw, bb, training, momentum, eps))

    def test_a_kernel_that_updates_the_running_statistics_updates_its_own_copy(self) -> None:
        def forward(*args: Any) -> torch.Tensor:
            before = [t.clone() for t in args[5:7]]
            out = self.batch_norm(*args)
            self.assertFalse(any(torch.equal(a, b) for a, b in zip(before, args[5:7])), "the kernel updates them")
            return out

        drawn, held, _ = self.call_once(forward)
        for name in drawn:
            torch.testing.assert_close(held[name], drawn[name], rtol=0, atol=0, msg=f"{name} is as the judge drew it")

    def test_a_kernel_that_writes_into_a_weight_changes_the_judges_buffer(self) -> None:
        def forward(*args: Any) -> torch.Tensor:
            out = self.batch_norm(*args)
            args[3].zero_()
            return out

        drawn, held, _ = self.call_once(forward)
        self.assertTrue(bool((held["bn.weight"] == 0).all()), "the judge sees its bn.weight changed")
        self.assertFalse(torch.equal(held["bn.weight"], drawn["bn.weight"]))
        torch.testing.assert_close(held["bn.running_mean"], drawn["bn.running_mean"], rtol=0, atol=0)


class Portable(unittest.TestCase):
    def test_round_trip_keeps_tuples_dtypes_and_infinities(self) -> None:
        import json

        values = [3, 0.5, True, None, "mean", [1, 2], (3, 5), torch.float16, float("inf"), ((1, 2), [3])]
        back = [kb.from_portable(json.loads(json.dumps(kb.portable(v)))) for v in values]
        self.assertEqual(back, values)
        self.assertIsInstance(back[6], tuple)

    def test_an_object_is_refused(self) -> None:
        with self.assertRaisesRegex(kb.ProblemError, "is a Linear"):
            kb.portable(nn.Linear(2, 2), "get_init_inputs()[0]")


if __name__ == "__main__":
    unittest.main()
