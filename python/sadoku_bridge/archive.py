"""How an archive kernel's ``forward`` is called: its parameters, and what the problem file gives each.

An archive kernel takes the problem's *functional* signature: the forward's arguments, then the
Model's weights and the operator's settings (``dim``, ``kernel_size``, ``stride``, ``eps``,
``training`` ...), which a KernelBench ``Model`` keeps as constructor arguments or as attributes
of itself and its layers. The kernel's parameters are read from the built extension (pybind11
writes ``forward(arg0: torch.Tensor, arg1: int) -> torch.Tensor`` as its docstring: how many,
of which type) and from the source (their C++ names, which pybind11 drops unless ``py::arg``
names them). Each is then bound, in this order of rules:

1. the first parameters take the forward's arguments, as ``get_inputs()`` gives them;
2. a tensor takes the Model's parameter or buffer of its name (``weight`` is ``conv.weight`` when
   only one layer has a weight; ``conv_weight`` is ``conv.weight``), else the next one in
   ``named_parameters()`` then ``named_buffers()`` order; an optional tensor or an object that
   names a slot the Model's layer keeps empty is ``None`` (``bias_obj`` of a convolution built
   with ``bias=False``: the layer's ``bias``, not the constructor's ``bias=False``), and an
   optional tensor with none left is ``None``; a ``weight`` (``gamma``) or ``bias``
   (``beta``) that no tensor of the Model's has by name, where the Model's one normalisation
   layer has no affine parameters (``nn.InstanceNorm2d``'s default ``affine=False``), is that
   layer's identity: ones or zeros of its feature shape, the values with which the functional
   form (``F.instance_norm(x, weight, bias)``) computes what the layer computes without them;
3. a setting takes, by its name, the constructor argument (``get_init_inputs()`` bound to
   ``Model.__init__``, defaults included), else the Model's attribute, else the attribute of its
   layers when they all agree (``bn.eps``, ``pool.stride``), else a literal keyword argument of
   the Model's ``forward`` (``F.hardtanh(x, min_val=-1.0)``); a tuple of equal numbers passed to
   a number is that number (``conv.stride == (2, 2)`` for ``int stride``);
4. a setting no name finds takes its C++ or pybind11 default; a ``py::object`` (a tensor or
   None, by the kernel's choice) that none finds is None;
5. the settings still unbound take the constructor's unused arguments in order, when there are
   exactly as many of them.

Names are compared without case, without a suffix that says how a value is passed (``bias_obj``
is ``bias``), and with a few abbreviations spelt out (``pad_h`` is ``padding_h``, see
:data:`ALIASES`).

Anything else is refused with the parameter's name and what the Model has: a kernel is never
called with a guess. The binding is printed in the candidate's load log.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

#: Parameter kinds: what a value must be to be passed. An object (``py::object``) takes anything:
#: a tensor by its name (``bias_obj`` is ``bias``), None for a slot of that name the Model keeps
#: empty, a setting by its name, else None.
TENSOR, OPTIONAL_TENSOR, OBJECT = "tensor", "optional tensor", "object"
SETTINGS = ("int", "float", "bool", "number", "ints", "floats", "str", "other")


class BindingError(Exception):
    """A parameter of the kernel's ``forward`` that nothing the problem gives can fill."""


@dataclass(frozen=True)
class Parameter:
    """One parameter of an archive kernel's ``forward``."""

    name: str
    kind: str
    #: Its default as the source or pybind11 writes it (``1e-5``, ``true``, ``None``), or None.
    default: str | None = None

    @property
    def is_tensor(self) -> bool:
        return self.kind in (TENSOR, OPTIONAL_TENSOR)


@dataclass(frozen=True)
class Slot:
    """Where one argument comes from: ``input`` (a forward argument, by index), ``state`` (a
    Model parameter or buffer, by name), ``identity`` (``(fill, shape)``: a tensor of that value,
    see :func:`identity_affine`), or ``value`` (a setting or ``None``)."""

    parameter: Parameter
    source: str
    key: Any
    how: str


# --- reading the signature ------------------------------------------------------------------

_TOKENS = re.compile(r'"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'|//[^\n]*|/\*.*?\*/', re.S)


def _without_comments(source: str) -> str:
    return _TOKENS.sub(lambda m: m.group(0) if m.group(0)[0] in "\"'" else " ", source)


def _balanced(text: str, start: int) -> int | None:
    """The index just past the bracket that closes the one at ``text[start]``."""
    pairs = {"(": ")", "[": "]", "{": "}", "<": ">"}
    stack = []
    i = start
    while i < len(text):
        c = text[i]
        if c in "([{":
            stack.append(pairs[c])
        elif c in ")]}":
            if not stack or stack.pop() != c:
                return None
            if not stack:
                return i + 1
        i += 1
    return None


def _split_top(text: str, sep: str = ",") -> list[str]:
    """``text`` split at ``sep`` outside brackets and template arguments."""
    parts, depth, angle, current = [], 0, 0, []
    for c in text:
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == "<":
            angle += 1
        elif c == ">" and angle:
            angle -= 1
        if c == sep and depth == 0 and angle == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(c)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def cpp_kind(type_text: str) -> str:
    """A C++ parameter type as a kind (``torch::Tensor``: tensor, ``int64_t``: int ...)."""
    t = " ".join(type_text.replace("&", " ").replace("const", " ").split())
    if re.search(r"\b(py|pybind11)::(object|handle)\b", t):
        return OBJECT
    if "Tensor" in t and ("vector" in t or "TensorList" in t):
        return "other"
    if "Tensor" in t:
        return OPTIONAL_TENSOR if "optional" in t else TENSOR
    if "vector" in t or "ArrayRef" in t or "IntList" in t or "tuple" in t or "array<" in t:
        return "floats" if ("float" in t or "double" in t) else "ints"
    if "optional" in t:
        return "other"
    if "bool" in t:
        return "bool"
    if "float" in t or "double" in t:
        return "float"
    if "Scalar" in t:
        return "number"
    if "string" in t or "char*" in t.replace(" ", ""):
        return "str"
    if re.search(r"\b(int|long|short|unsigned|size_t|u?int(8|16|32|64)_t|ssize_t)\b", t):
        return "int"
    return "other"


def _cpp_parameters(text: str) -> list[Parameter] | None:
    parameters = []
    for part in _split_top(text):
        if part == "void":
            continue
        default = None
        pieces = _split_top(part, "=")
        if len(pieces) == 2:
            part, default = pieces
        elif len(pieces) != 1:
            return None
        match = re.search(r"([A-Za-z_]\w*)\s*(\[\s*\])?$", part)
        words = part.split()
        # `torch::Tensor x`: type then name; `torch::Tensor` alone: an unnamed parameter.
        if match and len(words) > 1 and not part.rstrip().endswith(">"):
            name, type_text = match.group(1), part[: match.start()]
        else:
            name, type_text = "", part
        parameters.append(Parameter(name, cpp_kind(type_text), default.strip() if default else None))
    return parameters


def cpp_signature(source: str) -> list[Parameter] | None:
    """The parameters of the function the source exports as ``forward`` (``m.def("forward",
    &f, ...)`` or a lambda), from its definition in the source; None when that cannot be read
    (a macro, overloads with different parameters, a function from elsewhere)."""
    text = _without_comments(source)
    bound = re.search(r'\.\s*def\s*\(\s*"forward"\s*,\s*', text)
    if bound is None:
        return None
    rest = text[bound.end() :]
    if rest.startswith("["):
        close = _balanced(rest, 0)
        if close is None:
            return None
        after = rest[close:].lstrip()
        if not after.startswith("("):
            return None
        end = _balanced(after, 0)
        return None if end is None else _cpp_parameters(after[1 : end - 1])
    named = re.match(r"&?\s*\(?\s*([A-Za-z_][\w:]*)", rest)
    if named is None:
        return None
    function = named.group(1).split("::")[-1]
    found: list[list[Parameter]] = []
    definitions: list[list[Parameter]] = []
    for m in re.finditer(rf"(?<![\w&.>:]){re.escape(function)}\s*\(", text):
        before = text[: m.start()].rstrip()
        # A call (`return f(`, `= f(`, `, f(`) is not a declaration: a type comes before it.
        if not before or not re.search(r"[\w>&*:]$", before) or re.search(r"\breturn$", before):
            continue
        open_at = m.end() - 1
        close = _balanced(text, open_at)
        if close is None:
            continue
        after = text[close:].lstrip()
        after = re.sub(r"^(const|noexcept|override)\b\s*", "", after)
        if not after or after[0] not in "{;":
            continue
        parameters = _cpp_parameters(text[open_at + 1 : close - 1])
        if parameters is None:
            continue
        (definitions if after[0] == "{" else found).append(parameters)
    candidates = definitions or found
    if not candidates or any(len(p) != len(candidates[0]) for p in candidates):
        return None
    return candidates[-1]


_PYBIND_KINDS = {
    "torch.Tensor": TENSOR,
    "at::Tensor": TENSOR,
    "int": "int",
    "float": "float",
    "bool": "bool",
    "str": "str",
    "list[int]": "ints",
    "List[int]": "ints",
    "list[float]": "floats",
    "List[float]": "floats",
    "typing.SupportsInt": "int",
    "typing.SupportsFloat": "float",
    "object": OBJECT,
}


def pybind_kind(type_text: str) -> str:
    t = type_text.strip()
    optional = re.fullmatch(r"(?:typing\.)?Optional\[(.+)\]", t) or re.fullmatch(r"(.+?)\s*\|\s*None", t)
    if optional:
        inner = pybind_kind(optional.group(1))
        return OPTIONAL_TENSOR if inner == TENSOR else "other"
    if "Tensor" in t and t not in _PYBIND_KINDS:
        return "other"
    return _PYBIND_KINDS.get(t, "number" if "Number" in t or "Scalar" in t else "other")


def pybind_signature(function: Callable[..., Any]) -> list[Parameter] | None:
    """The parameters pybind11 wrote in the built ``forward``'s docstring, or None (no docstring
    of that form, or an overloaded function)."""
    doc = getattr(function, "__doc__", None) or ""
    first = doc.strip().splitlines()[0] if doc.strip() else ""
    match = re.match(r"^\w+\((.*)\)\s*->", first)
    if match is None or "Overloaded function" in doc:
        return None
    parameters = []
    for i, part in enumerate(_split_top(match.group(1))):
        pieces = _split_top(part, "=")
        default = pieces[1] if len(pieces) == 2 else None
        name, _, type_text = pieces[0].partition(":")
        if not type_text:
            return None
        name = name.strip()
        parameters.append(Parameter("" if name == f"arg{i}" else name, pybind_kind(type_text), default))
    return parameters


def signature(function: Callable[..., Any], source: str | None) -> list[Parameter] | None:
    """The kernel's parameters: how many and of which kind as the built extension says (else the
    source), named as ``py::arg`` names them, else as the source does."""
    built = pybind_signature(function)
    written = cpp_signature(source) if source is not None else None
    if built is None:
        return written
    if written is None or len(written) != len(built):
        return built
    return [
        Parameter(b.name or w.name, b.kind if b.kind != "other" else w.kind, b.default or w.default)
        for b, w in zip(built, written)
    ]


# --- binding ----------------------------------------------------------------------------------


#: Abbreviations in kernels' parameter names, by word (`pad_h` is `padding_h`).
ALIASES = {"pad": "padding", "dil": "dilation", "ksize": "kernel_size"}
#: Suffixes that say how a value is passed, not what it is (`bias_obj` is `bias`).
PASSING = ("_obj", "_opt", "_optional", "_tensor", "_ptr")


def _norm(name: str) -> str:
    return name.strip("_").lower()


def _wanted(name: str) -> str:
    """A kernel parameter's name as the problem would spell it."""
    n = _norm(name)
    for suffix in PASSING:
        if n.endswith(suffix) and len(n) > len(suffix):
            n = n[: -len(suffix)]
            break
    return "_".join(ALIASES.get(word, word) for word in n.split("_"))


def forward_literals(model_class: type[nn.Module]) -> dict[str, Any]:
    """Keyword arguments the Model's ``forward`` passes as literals (``F.hardtanh(x, min_val=-1.0,
    max_val=1.0)``), by keyword; a keyword given two different values is left out."""
    import ast
    import textwrap

    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(model_class.forward)))
    except (OSError, TypeError, SyntaxError):
        return {}
    found: dict[str, Any] = {}
    clashing: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.keyword) or node.arg is None:
            continue
        try:
            value = ast.literal_eval(node.value)
        except ValueError:
            continue
        if not _scalar(value):
            continue
        if node.arg in found and found[node.arg] != value:
            clashing.add(node.arg)
        found[node.arg] = value
    return {k: v for k, v in found.items() if k not in clashing}


def _scalar(value: Any) -> bool:
    if isinstance(value, (tuple, list)):
        return all(_scalar(v) for v in value)
    return value is None or isinstance(value, (bool, int, float, str, torch.dtype))


def _settings(module: nn.Module) -> dict[str, Any]:
    return {k: v for k, v in vars(module).items() if not k.startswith("_") and _scalar(v)}


def _fit(value: Any, kind: str) -> tuple[bool, Any, str]:
    """Whether ``value`` can be passed as ``kind``, the value to pass, and how it was changed."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind in ("int", "float", "number", "bool") and isinstance(value, (tuple, list)):
        if value and all(v == value[0] for v in value) and _fit(value[0], kind)[0]:
            return True, value[0], f" ({tuple(value)} as {value[0]!r})"
        return False, value, ""
    if kind == "int":
        return isinstance(value, int), value, ""
    if kind in ("float", "number"):
        return number or isinstance(value, bool), value, ""
    if kind == "bool":
        return isinstance(value, bool), value, ""
    if kind in ("ints", "floats"):
        return isinstance(value, (tuple, list, int)), value, ""
    if kind == "str":
        return isinstance(value, str), value, ""
    return True, value, ""


_LITERALS = {"true": True, "false": False, "True": True, "False": False, "None": None, "nullptr": None}


def _default(text: str) -> tuple[bool, Any]:
    t = text.strip()
    if t in _LITERALS:
        return True, _LITERALS[t]
    if re.fullmatch(r"(c10|std|at|torch)::nullopt|\{\s*\}", t):
        return True, None
    number = re.fullmatch(r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)[fFlLuU]*", t)
    if number:
        n = number.group(1)
        return True, float(n) if any(c in n for c in ".eE") else int(n)
    return False, None


def constructor_arguments(model_class: type[nn.Module], init_inputs: Sequence[Any]) -> dict[str, Any]:
    """``get_init_inputs()`` by the names ``Model.__init__`` gives them, with its defaults."""
    try:
        bound = inspect.signature(model_class.__init__).bind(None, *init_inputs)
    except (TypeError, ValueError):
        return {}
    bound.apply_defaults()
    arguments = dict(list(bound.arguments.items())[1:])
    return {k: v for k, v in arguments.items() if _scalar(v)}


#: Normalisation layers whose affine parameters, when the layer is built without them, are the
#: identity (weight one, bias zero) in the functional form.
NORMS: tuple[type[nn.Module], ...] = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)
IDENTITY = {"weight": 1.0, "gamma": 1.0, "bias": 0.0, "beta": 0.0}


def identity_affine(model: nn.Module) -> tuple[str, tuple[int, ...]] | None:
    """The Model's one normalisation layer, when it has no affine parameters: its name and the
    shape its weight and bias would have (``num_features``, ``num_channels`` or
    ``normalized_shape``). None when the Model has no such layer, or more than one normalisation
    layer (which one a ``weight`` would belong to is then a guess)."""
    norms = [(n, m) for n, m in model.named_modules() if isinstance(m, NORMS)]
    if len(norms) != 1:
        return None
    name, layer = norms[0]
    if getattr(layer, "weight", None) is not None or getattr(layer, "bias", None) is not None:
        return None
    if isinstance(layer, nn.GroupNorm):
        shape: tuple[int, ...] = (layer.num_channels,)
    elif isinstance(layer, nn.LayerNorm):
        shape = tuple(layer.normalized_shape)
    else:
        shape = (int(layer.num_features),)
    return name, shape


def empty_slots(model: nn.Module) -> list[str]:
    """The Model's registered parameters and buffers that hold None (a layer built without its
    bias), by the names ``named_parameters()`` would give them."""
    return [
        f"{prefix}.{k}" if prefix else k
        for prefix, module in model.named_modules()
        for k, v in [*module._parameters.items(), *module._buffers.items()]
        if v is None
    ]


def _by_name(names: Sequence[str], wanted: str) -> list[str]:
    """``names`` that are ``wanted``: by the whole dotted name, else by its last part."""
    named = [s for s in names if _norm(s.replace(".", "_")) == wanted]
    return named or [s for s in names if _norm(s.rsplit(".", 1)[-1]) == wanted]


def plan(
    parameters: Sequence[Parameter],
    inputs: Sequence[str],
    state: Sequence[str],
    model: nn.Module,
    init_inputs: Sequence[Any],
) -> list[Slot]:
    """Bind each of ``parameters`` (see the module's rules); ``inputs`` names the forward's
    arguments, ``state`` the Model's parameters then buffers (``named_parameters()`` names)."""
    if len(parameters) < len(inputs):
        shown = ", ".join(p.name or p.kind for p in parameters)
        raise BindingError(
            f"forward({shown}) takes {len(parameters)} argument(s); the problem's forward gives {len(inputs)}"
        )
    slots: list[Slot | None] = [None] * len(parameters)
    for i, name in enumerate(inputs):
        slots[i] = Slot(parameters[i], "input", i, f"forward argument `{name}`")

    # Tensors: by name first, then the rest in order (an optional one gets None when the tensors
    # left are no more than the plain tensor parameters after it need).
    unused = list(state)
    empty = empty_slots(model)
    affine = identity_affine(model)
    for i, p in enumerate(parameters):
        wanted = _wanted(p.name)
        if slots[i] is not None or not (p.is_tensor or p.kind == OBJECT) or not wanted:
            continue
        named = _by_name(unused, wanted)
        if len(named) == 1:
            unused.remove(named[0])
            slots[i] = Slot(p, "state", named[0], f"Model's `{named[0]}` (by name)")
        elif not named and p.kind != TENSOR:
            # A slot the Model's layer keeps empty (`nn.Conv1d(..., bias=False)` registers `bias`
            # as None): the functional form passes None, never a setting of the same name.
            none = _by_name(empty, wanted)
            if len(none) == 1:
                slots[i] = Slot(p, "value", None, f"None (the Model's `{none[0]}` is None)")
    for i, p in enumerate(parameters):
        if slots[i] is not None or not p.is_tensor:
            continue
        fill = IDENTITY.get(_wanted(p.name))
        if affine is not None and fill is not None:
            layer, shape = affine
            slots[i] = Slot(
                p,
                "identity",
                (fill, shape),
                f"{'ones' if fill else 'zeros'} {list(shape)} (`{layer}` has no affine parameters: the identity)",
            )
            continue
        needed = sum(1 for j in range(i + 1, len(parameters)) if slots[j] is None and parameters[j].kind == TENSOR)
        if p.kind == OPTIONAL_TENSOR and len(unused) <= needed:
            slots[i] = Slot(p, "value", None, "None (no tensor of the Model's is left for it)")
            continue
        if not unused:
            raise BindingError(
                f"forward's tensor parameter `{p.name or f'#{i}'}` matches none of the Model's parameters and "
                f"buffers ({', '.join(state) or 'none'}): all are taken"
            )
        chosen = unused.pop(0)
        slots[i] = Slot(p, "state", chosen, f"Model's `{chosen}` (in order)")

    # Settings: constructor argument, Model attribute, agreeing layer attribute; default; order.
    constructor = constructor_arguments(type(model), init_inputs)
    own = _settings(model)
    layers: dict[str, list[tuple[str, Any]]] = {}
    for module_name, module in model.named_modules():
        if module_name:
            for k, v in _settings(module).items():
                layers.setdefault(_norm(k), []).append((f"{module_name}.{k}", v))
    used_constructor: set[str] = set()
    literals = forward_literals(type(model))
    for i, p in enumerate(parameters):
        if slots[i] is not None:
            continue
        wanted = _wanted(p.name)
        found: list[tuple[Any, str, str | None]] = []
        if wanted:
            found += [(v, f"constructor's `{k}`", k) for k, v in constructor.items() if _norm(k) == wanted]
            found += [(v, f"Model's `{k}`", None) for k, v in own.items() if _norm(k) == wanted]
            agreeing = layers.get(wanted, [])
            if agreeing and all(v == agreeing[0][1] for _, v in agreeing):
                found.append((agreeing[0][1], f"`{agreeing[0][0]}`", None))
            found += [(v, f"Model.forward's literal `{k}=`", None) for k, v in literals.items() if _norm(k) == wanted]
        for value, where, key in found:
            ok, passed, change = _fit(value, p.kind)
            if ok:
                slots[i] = Slot(p, "value", passed, f"{where} = {passed!r}{change}")
                if key is not None:
                    used_constructor.add(key)
                break
    for i, p in enumerate(parameters):
        if slots[i] is None and p.kind == OBJECT:
            slots[i] = Slot(p, "value", None, "None (nothing of the problem's has its name)")
    for i, p in enumerate(parameters):
        if slots[i] is None and p.default is not None:
            ok, value = _default(p.default)
            if ok:
                slots[i] = Slot(p, "value", value, f"its default = {value!r}")
    left = [i for i, s in enumerate(slots) if s is None]
    spare = [(k, v) for k, v in constructor.items() if k not in used_constructor]
    if left and len(left) == len(spare):
        for i, (k, v) in zip(left, spare):
            ok, passed, change = _fit(v, parameters[i].kind)
            if ok:
                slots[i] = Slot(parameters[i], "value", passed, f"constructor's `{k}` = {passed!r}{change} (in order)")
    missing = [(i, parameters[i]) for i, s in enumerate(slots) if s is None]
    if missing:
        i, p = missing[0]
        has = ", ".join(f"{k}={v!r}" for k, v in constructor.items()) or "none"
        attrs = ", ".join(sorted({*own, *(n for entries in layers.values() for n, _ in entries)})) or "none"
        raise BindingError(
            f"forward's parameter `{p.name or f'#{i}'}` ({p.kind}) is none of what the problem gives: "
            f"constructor arguments {has}; Model attributes {attrs}"
        )
    return [s for s in slots if s is not None]


def arguments(
    slots: Sequence[Slot],
    inputs: Sequence[Any],
    state: Mapping[str, torch.Tensor],
    made: dict[Any, torch.Tensor] | None = None,
) -> list[Any]:
    """The call's arguments under ``slots``. An ``identity`` tensor is made on the device and in
    the floating-point dtype of the first tensor input, once: ``made`` keeps it for later calls,
    so that no call makes it on the clock but the first (a warm-up)."""
    out = []
    made = {} if made is None else made
    for s in slots:
        if s.source == "input":
            out.append(inputs[s.key])
        elif s.source == "state":
            out.append(state[s.key])
        elif s.source == "identity":
            like = next((x for x in inputs if isinstance(x, torch.Tensor) and x.is_floating_point()), None)
            device = like.device if like is not None else torch.device("cpu")
            dtype = like.dtype if like is not None else torch.float32
            fill, shape = s.key
            key = (fill, shape, device, dtype)
            if key not in made:
                made[key] = torch.full(shape, fill, device=device, dtype=dtype)
            # The kept one, with no copy on the clock: a kernel that writes into it changes only
            # what it is itself given next, and its answers are judged at every call.
            out.append(made[key])
        else:
            out.append(s.key)
    return out


def describe(slots: Sequence[Slot]) -> str:
    """The binding, one parameter a line, for the load log."""
    lines = ["archive forward bound as:"]
    for i, s in enumerate(slots):
        lines.append(f"  {s.parameter.name or f'#{i}'} ({s.parameter.kind}) <- {s.how}")
    return "\n".join(lines)
