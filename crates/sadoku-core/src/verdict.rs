//! Stage 5: the verdict, and the evidence behind every rejection.

use serde::Serialize;

use crate::checks::accuracy::PrecisionClass;
use crate::checks::ceiling::CeilingUse;
use crate::checks::determinism::Nondeterministic;
use crate::checks::guards::OutOfBounds;
use crate::checks::inputs_unchanged::InputsModified;
use crate::checks::sanitizer::SanitizerReport;
use crate::checks::trace::HiddenWork;
use crate::checks::unwritten::Unwritten;
use crate::problem::Sizes;

/// Where in the verification a finding was made.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct At {
    #[serde(default)]
    pub sizes: Sizes,
    /// e.g. "trial 1 (randn inputs, NaN poison)".
    #[serde(default)]
    pub trial: String,
    /// For a finding in a timed launch: which one (1-based, in launch order).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(default)]
    pub timed_launch: Option<usize>,
}

impl At {
    pub fn new(sizes: &Sizes, trial: impl Into<String>) -> At {
        At { sizes: sizes.clone(), trial: trial.into(), timed_launch: None }
    }
}

impl std::fmt::Display for At {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}, {}", self.sizes, self.trial)
    }
}

/// Serialized flat into a candidate's report, beside its `reason` and `evidence` text; each
/// variant's structured evidence goes under `details`.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(tag = "check", rename_all = "snake_case")]
pub enum Rejection {
    /// The file is not a valid candidate (front matter, UTF-8, names, expressions).
    Spec { line: Option<usize>, message: String },
    /// NVRTC refused the source; its log, verbatim.
    Compile { log: String },
    /// The candidate built, but the call that makes it callable or its first call raised (a
    /// Python candidate: constructor, arguments, warm-up); the exception and the load's log.
    CallFailed { message: String, log: String },
    /// A kernel is missing or its parameters do not match `args`.
    Signature { message: String },
    /// A launch configuration that no GPU can run at some size.
    LaunchConfig { sizes: Sizes, message: String },
    /// The driver refused to load the module.
    ModuleLoad { message: String },
    /// The driver refused a launch (too many resources, shared memory over the limit, ...).
    LaunchRefused { at: At, message: String },
    /// A kernel faulted while running (illegal or misaligned address, trap, ...). The first
    /// records called it `launch`.
    #[serde(alias = "launch")]
    KernelFault { at: At, message: String },
    /// A launch (or the compiler) did not finish in time; the worker was killed.
    Timeout { at: At, message: String },
    /// The worker process running the candidate died.
    WorkerDied { at: At, message: String },
    /// A launch wrote outside its buffers, into a guard zone.
    OutOfBounds {
        at: At,
        #[serde(rename = "details")]
        evidence: OutOfBounds,
    },
    Unwritten {
        at: At,
        #[serde(rename = "details")]
        evidence: Unwritten,
    },
    InputsModified {
        at: At,
        #[serde(rename = "details")]
        evidence: InputsModified,
    },
    Inaccurate {
        at: At,
        class: PrecisionClass,
        #[serde(rename = "details")]
        evidence: String,
    },
    /// compute-sanitizer found errors the answer check did not show.
    Sanitizer { findings: Vec<SanitizerReport> },
    Nondeterministic {
        at: At,
        #[serde(rename = "details")]
        evidence: Nondeterministic,
    },
    /// The activity trace saw device work the timing events would not: another stream, outside
    /// the window, kernels nobody launched.
    HiddenWork {
        at: At,
        #[serde(rename = "details")]
        evidence: HiddenWork,
    },
    /// A Python worker's check refused what the call did (see `DeviceError::Refused`).
    Refused {
        at: At,
        /// Written beside the candidate's own `reason`, which wins when read back: a record's
        /// refusal reads back without its own.
        #[serde(default)]
        reason: String,
        #[serde(rename = "details")]
        evidence: String,
    },
    /// Faster than the card can compute or move data.
    Impossible {
        sizes: Sizes,
        #[serde(rename = "details")]
        evidence: CeilingUse,
    },
}

impl Rejection {
    /// A few words for a table cell.
    pub fn reason(&self) -> &'static str {
        match self {
            Rejection::Spec { .. } => "invalid candidate file",
            Rejection::Compile { .. } => "does not compile",
            Rejection::CallFailed { .. } => "call failed",
            Rejection::Signature { .. } => "arguments do not match the kernel",
            Rejection::LaunchConfig { .. } => "invalid launch configuration",
            Rejection::ModuleLoad { .. } => "module does not load",
            Rejection::LaunchRefused { .. } => "launch refused",
            Rejection::KernelFault { .. } => "kernel fault",
            Rejection::Timeout { .. } => "timed out",
            Rejection::WorkerDied { .. } => "worker died",
            Rejection::OutOfBounds { .. } => "out-of-bounds write",
            Rejection::Unwritten { .. } => "output not written",
            Rejection::InputsModified { .. } => "inputs modified",
            Rejection::Inaccurate { .. } => "wrong answer",
            Rejection::Nondeterministic { .. } => "nondeterministic",
            Rejection::Sanitizer { .. } => "sanitizer findings",
            Rejection::HiddenWork { .. } => "hidden device work",
            Rejection::Impossible { .. } => "physically impossible",
            Rejection::Refused { reason, .. } => match reason.as_str() {
                "output not written" => "output not written",
                "threads left running after the call" => "threads left running",
                "the timer was tampered with" => "timer tampered with",
                "the result aliases an input" => "returned an input",
                "the result is not a plain tensor" => "not a plain tensor",
                "the result is not a materialised tensor" => "not a materialised tensor",
                "wrong number of outputs" | "the result has the wrong shape or dtype" => "wrong result form",
                "the result is on the wrong device" => "result on the wrong device",
                _ => "call refused",
            },
        }
    }

    /// The evidence, one line (a compile log may span several).
    pub fn evidence(&self) -> String {
        match self {
            Rejection::Spec { line, message } => match line {
                Some(l) => format!("line {l}: {message}"),
                None => message.clone(),
            },
            Rejection::Compile { log } => log.trim_end().to_string(),
            Rejection::CallFailed { message, .. } => message.clone(),
            Rejection::Signature { message } | Rejection::ModuleLoad { message } => message.clone(),
            Rejection::LaunchConfig { sizes, message } => format!("{message} (at {sizes})"),
            Rejection::LaunchRefused { at, message }
            | Rejection::KernelFault { at, message }
            | Rejection::Timeout { at, message }
            | Rejection::WorkerDied { at, message } => format!("{message} (at {at})"),
            Rejection::OutOfBounds { at, evidence } => format!("{evidence} (at {at})"),
            Rejection::Unwritten { at, evidence } => format!("{evidence} (at {at})"),
            Rejection::InputsModified { at, evidence } => format!("{evidence} (at {at})"),
            Rejection::Inaccurate { at, evidence, .. } => format!("{evidence} (at {at})"),
            Rejection::Nondeterministic { at, evidence } => format!("{evidence} (at {at})"),
            Rejection::HiddenWork { at, evidence } => format!("{evidence} (at {at})"),
            Rejection::Impossible { sizes, evidence } => format!("{evidence} (at {sizes}, fastest timed launch)"),
            Rejection::Refused { at, reason, evidence } => format!("{reason}: {evidence} (at {at})"),
            Rejection::Sanitizer { findings } => {
                findings.iter().filter(|f| f.errors > 0).map(|f| f.to_string()).collect::<Vec<_>>().join("; ")
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(tag = "verdict", rename_all = "UPPERCASE")]
pub enum Verdict {
    Accepted { class: PrecisionClass },
    Rejected(Rejection),
}

impl Verdict {
    pub fn is_accepted(&self) -> bool {
        matches!(self, Verdict::Accepted { .. })
    }
}
