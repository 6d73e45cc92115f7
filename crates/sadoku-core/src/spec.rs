//! The TOML front matter of a candidate (also a problem's reference kernel's), parsed: the launch-spec
//! language candidates and problems share. It is checked against its problem in
//! [`crate::candidate`], which knows problems; this module knows only sizes and expressions.

use std::collections::BTreeMap;
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use crate::vocab::{Expr, Sizes};

/// An error with the 1-based line of the candidate file it concerns, when known.
pub(crate) type Located = (Option<usize>, String);

const OPENING: &str = "/* sadoku";

/// Launch limits every NVIDIA GPU shares; finer ones (resources, shared memory) are the driver's.
const MAX_GRID: [i64; 3] = [(1 << 31) - 1, 65_535, 65_535];
const MAX_BLOCK: [i64; 3] = [1024, 1024, 64];
const MAX_THREADS_PER_BLOCK: i64 = 1024;

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub problem: String,
    pub problem_line: Option<usize>,
    /// Extra NVRTC options (never the architecture: sadoku targets the device itself).
    pub options: Vec<String>,
    /// Compile for the architecture-specific target (sm_90a), needed for wgmma and setmaxnreg.
    pub arch_specific: bool,
    /// Named scratch buffers and their sizes in bytes, in file order.
    pub scratch: Vec<(String, Expr)>,
    pub launches: Vec<LaunchSpec>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LaunchSpec {
    pub kernel: String,
    pub grid: [Expr; 3],
    pub block: [Expr; 3],
    /// Dynamic shared memory in bytes.
    pub shared_mem: Expr,
    pub args: Vec<ArgSpec>,
    /// Line of the `[[launch]]` table.
    pub line: usize,
    /// Lines of its `grid`, `block` and `shared_mem` keys (the table's line when absent), so that an
    /// error in one points at it.
    pub key_lines: KeyLines,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyLines {
    pub grid: usize,
    pub block: usize,
    pub shared_mem: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ArgSpec {
    /// A problem buffer or a scratch buffer, passed as a device pointer.
    Buffer(String),
    /// An integer computed from the size symbols.
    Int(Expr),
}

/// One launch with every expression evaluated at a given size.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedLaunch {
    pub kernel: String,
    pub grid: [u32; 3],
    pub block: [u32; 3],
    pub shared_mem: u32,
    pub args: Vec<ResolvedArg>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ResolvedArg {
    Buffer(String),
    Int(i64),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    problem: Spanned<String>,
    #[serde(default)]
    options: Vec<Spanned<String>>,
    #[serde(default)]
    arch_specific: bool,
    #[serde(default)]
    scratch: BTreeMap<String, Spanned<RawExpr>>,
    #[serde(default)]
    launch: Vec<Spanned<RawLaunch>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLaunch {
    kernel: String,
    grid: Spanned<Vec<RawExpr>>,
    block: Spanned<Vec<RawExpr>>,
    #[serde(default)]
    shared_mem: Option<Spanned<RawExpr>>,
    #[serde(default)]
    args: Vec<Spanned<RawExpr>>,
}

#[derive(Deserialize, Clone)]
#[serde(untagged)]
enum RawExpr {
    Int(i64),
    Text(String),
}

/// Maps byte offsets in the TOML text to lines of the file.
struct Lines<'a> {
    toml: &'a str,
    first_line: usize,
}

impl Lines<'_> {
    fn of(&self, span: Range<usize>) -> usize {
        let end = span.start.min(self.toml.len());
        self.first_line + self.toml.as_bytes()[..end].iter().filter(|&&b| b == b'\n').count()
    }
}

impl Spec {
    pub fn parse(source: &str) -> Result<Spec, Located> {
        let body = source.trim_start_matches('\u{feff}');
        let lead = body.len() - body.trim_start().len();
        let body = &body[lead..];
        let opening_line = 1 + source[..source.len() - body.len()].matches('\n').count();
        let missing = || {
            (
                Some(1),
                "no front matter: the file must open with a `/* sadoku ... */` comment holding TOML (see docs/USAGE.md)"
                    .to_string(),
            )
        };
        let rest = body.strip_prefix(OPENING).ok_or_else(missing)?;
        if !rest.starts_with(char::is_whitespace) {
            return Err(missing());
        }
        let end = rest.find("*/").ok_or((Some(opening_line), "front matter is never closed with `*/`".to_string()))?;
        let toml_text = &rest[..end];
        let lines = Lines { toml: toml_text, first_line: opening_line };
        let raw: RawSpec = toml::from_str(toml_text).map_err(|e| {
            let line = e.span().map(|s| lines.of(s));
            (line, format!("front matter: {}", e.message().trim_end()))
        })?;
        Spec::from_raw(raw, &lines)
    }

    fn from_raw(raw: RawSpec, lines: &Lines) -> Result<Spec, Located> {
        let problem_line = Some(lines.of(raw.problem.span()));
        for opt in &raw.options {
            let o = opt.get_ref().as_str();
            if o == "-arch" || o.starts_with("-arch=") || o.starts_with("--gpu-architecture") {
                return Err((
                    Some(lines.of(opt.span())),
                    format!(
                        "option `{o}` not allowed: sadoku compiles for the device's own architecture (use `arch_specific = true` for sm_90a)"
                    ),
                ));
            }
            if o.starts_with("--sadoku") {
                return Err((
                    Some(lines.of(opt.span())),
                    format!("option `{o}` not allowed: sadoku's own options are not a candidate's"),
                ));
            }
        }
        let mut scratch = Vec::new();
        for (name, value) in raw.scratch {
            let line = lines.of(value.span());
            if !is_identifier(&name) {
                return Err((Some(line), format!("scratch buffer name `{name}` is not an identifier")));
            }
            scratch.push((name, expr(value.into_inner(), line)?));
        }
        if raw.launch.is_empty() {
            return Err((None, "no [[launch]] table: say which kernel to run, with its grid, block and args".into()));
        }
        let mut launches = Vec::new();
        for (i, launch) in raw.launch.into_iter().enumerate() {
            let line = lines.of(launch.span());
            let l = launch.into_inner();
            if !is_identifier(&l.kernel) {
                return Err((Some(line), format!("launch {}: kernel name `{}` is not an identifier", i + 1, l.kernel)));
            }
            // sadoku's own helper kernels are left out of the activity trace: a candidate's may not
            // hide among them.
            if l.kernel.starts_with("sadoku_") {
                return Err((
                    Some(line),
                    format!("launch {}: kernel names starting with `sadoku_` are reserved for sadoku's helpers", i + 1),
                ));
            }
            let dims = |what: &str, v: Spanned<Vec<RawExpr>>| -> Result<[Expr; 3], Located> {
                let line = lines.of(v.span());
                let v = v.into_inner();
                if v.is_empty() || v.len() > 3 {
                    return Err((
                        Some(line),
                        format!("launch {}: `{what}` needs 1 to 3 entries, got {}", i + 1, v.len()),
                    ));
                }
                let mut out = [Expr::constant(1), Expr::constant(1), Expr::constant(1)];
                for (slot, e) in out.iter_mut().zip(v) {
                    *slot = expr(e, line)?;
                }
                Ok(out)
            };
            let key_lines = KeyLines {
                grid: lines.of(l.grid.span()),
                block: lines.of(l.block.span()),
                shared_mem: l.shared_mem.as_ref().map_or(line, |s| lines.of(s.span())),
            };
            let grid = dims("grid", l.grid)?;
            let block = dims("block", l.block)?;
            let shared_mem = match l.shared_mem {
                Some(s) => expr(s.into_inner(), key_lines.shared_mem)?,
                None => Expr::constant(0),
            };
            let mut args = Vec::new();
            for a in l.args {
                let line = lines.of(a.span());
                args.push(match a.into_inner() {
                    RawExpr::Text(t) if is_identifier(t.trim()) => ArgSpec::Buffer(t.trim().to_string()),
                    other => ArgSpec::Int(expr(other, line)?),
                });
            }
            launches.push(LaunchSpec { kernel: l.kernel, grid, block, shared_mem, args, line, key_lines });
        }
        Ok(Spec {
            problem: raw.problem.into_inner(),
            problem_line,
            options: raw.options.into_iter().map(Spanned::into_inner).collect(),
            arch_specific: raw.arch_specific,
            scratch,
            launches,
        })
    }

    /// A spec of launches alone (a problem's reference kernel).
    pub fn of_launches(launches: Vec<LaunchSpec>) -> Spec {
        Spec {
            problem: String::new(),
            problem_line: None,
            options: Vec::new(),
            arch_specific: false,
            scratch: Vec::new(),
            launches,
        }
    }

    /// Every launch with its expressions evaluated at `sizes`, within the limits any GPU has.
    pub fn resolve(&self, sizes: &Sizes) -> Result<Vec<ResolvedLaunch>, Located> {
        self.launches
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let at_line =
                    |line: usize| move |m: String| (Some(line), format!("launch {} (`{}`): {m}", i + 1, l.kernel));
                let at = at_line(l.line);
                let dims = |what: &str, e: &[Expr; 3], max: [i64; 3], line: usize| -> Result<[u32; 3], Located> {
                    let at = at_line(line);
                    let mut out = [0u32; 3];
                    for (axis, ((slot, e), max)) in out.iter_mut().zip(e).zip(max).enumerate() {
                        let v = eval(e, sizes).map_err(at)?;
                        if !(1..=max).contains(&v) {
                            let xyz = ["x", "y", "z"][axis];
                            return Err(at(format!("{what}.{xyz} = `{e}` = {v}, outside 1..={max}")));
                        }
                        *slot = v as u32;
                    }
                    Ok(out)
                };
                let grid = dims("grid", &l.grid, MAX_GRID, l.key_lines.grid)?;
                let block = dims("block", &l.block, MAX_BLOCK, l.key_lines.block)?;
                let threads: i64 = block.iter().map(|&b| b as i64).product();
                if threads > MAX_THREADS_PER_BLOCK {
                    let msg = format!("block has {threads} threads; at most {MAX_THREADS_PER_BLOCK}");
                    return Err(at_line(l.key_lines.block)(msg));
                }
                let at_shared = at_line(l.key_lines.shared_mem);
                let shared = eval(&l.shared_mem, sizes).map_err(at_shared)?;
                if !(0..=u32::MAX as i64).contains(&shared) {
                    return Err(at_shared(format!("shared_mem = `{}` = {shared} bytes is out of range", l.shared_mem)));
                }
                let args = l
                    .args
                    .iter()
                    .map(|a| match a {
                        ArgSpec::Buffer(name) => Ok(ResolvedArg::Buffer(name.clone())),
                        ArgSpec::Int(e) => eval(e, sizes).map(ResolvedArg::Int).map_err(at),
                    })
                    .collect::<Result<_, _>>()?;
                Ok(ResolvedLaunch { kernel: l.kernel.clone(), grid, block, shared_mem: shared as u32, args })
            })
            .collect()
    }

    /// Scratch buffer sizes in bytes at `sizes`.
    pub fn scratch_bytes(&self, sizes: &Sizes) -> Result<Vec<(String, usize)>, String> {
        self.scratch.iter().map(|(name, e)| eval(e, sizes).map(|b| (name.clone(), b.max(0) as usize))).collect()
    }
}

pub(crate) fn launch_exprs(l: &LaunchSpec) -> impl Iterator<Item = &Expr> {
    l.grid.iter().chain(&l.block).chain(std::iter::once(&l.shared_mem)).chain(l.args.iter().filter_map(|a| match a {
        ArgSpec::Int(e) => Some(e),
        ArgSpec::Buffer(_) => None,
    }))
}

pub(crate) fn eval(e: &Expr, sizes: &Sizes) -> Result<i64, String> {
    e.eval(&|s| sizes.get(s)).map_err(|err| err.to_string())
}

fn expr(raw: RawExpr, line: usize) -> Result<Expr, Located> {
    match raw {
        RawExpr::Int(v) => Ok(Expr::constant(v)),
        RawExpr::Text(t) => Expr::parse(&t).map_err(|e| (Some(line), e.to_string())),
    }
}

pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
