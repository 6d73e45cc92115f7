"""sadoku's PyTorch bridge: KernelBench problems and candidates, and the checks only Python can make.

- :mod:`.kernelbench` loads problem files, describes them as JSON data, builds the reference,
  draws fresh inputs and computes the float64 truth;
- :mod:`.candidates` loads ``ModelNew`` files and AI CUDA Engineer archive kernels and binds them
  to the reference's parameters;
- :mod:`.checks` refuses lazy or aliased results, threads left running, patched timers, and counts
  output elements a kernel never wrote.

Importing the package takes :data:`.checks.AT_IMPORT`, the timer identities to compare against
after candidate code has run, so import it before loading any candidate.
"""

from .candidates import CandidateError, build_candidate, load_archive_kernel, load_modelnew, reference_state
from .checks import AT_IMPORT, OutputSpec, Refusal, ThreadWatch, TimerGuard
from .kernelbench import Problem, ProblemError, build_model, describe, fresh_inputs, load_problem, truth

__all__ = [
    "AT_IMPORT",
    "CandidateError",
    "OutputSpec",
    "Problem",
    "ProblemError",
    "Refusal",
    "ThreadWatch",
    "TimerGuard",
    "build_candidate",
    "build_model",
    "describe",
    "fresh_inputs",
    "load_archive_kernel",
    "load_modelnew",
    "load_problem",
    "reference_state",
    "truth",
]
