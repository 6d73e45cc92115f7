//! Property tests for the candidate front-matter parser and validator: whatever text a user hands
//! `Candidate::from_source`, it never panics, and a rejection is one line that starts with the
//! origin and, when it names a line, names one inside the front matter. An accepted candidate
//! keeps its promise that every launch resolves, within launch limits, at every check size.
//!
//! Case counts are modest so the file runs in a few seconds in debug; set `PROPTEST_CASES` to
//! fuzz harder (every property then runs that many cases).

use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::test_runner::TestCaseError;
use sadoku_core::candidate::{ArgSpec, Candidate, Expr, ResolvedArg, SpecError};
use sadoku_core::problem::Registry;

/// The built-in library, parsed once for every case.
fn library() -> &'static Registry {
    static LIBRARY: std::sync::OnceLock<Registry> = std::sync::OnceLock::new();
    LIBRARY.get_or_init(Registry::library)
}

const OPENING: &str = "/* sadoku";
const KERNEL: &str = "extern \"C\" __global__ void k(const float* A, const float* B, float* C, int N) {}\n";

/// The example from the brief, with its `[[launch]]` on line 3.
const VALID: &str = "/* sadoku
problem = \"trimm\"
[[launch]]
kernel = \"k\"
grid   = [\"cdiv(N, 16)\", \"cdiv(N, 16)\", 1]
block  = [16, 16, 1]
args   = [\"A\", \"B\", \"C\", \"N\"]
*/
extern \"C\" __global__ void k(const float* A, const float* B, float* C, int N) {}
";

const MAX_GRID: [u32; 3] = [i32::MAX as u32, 65_535, 65_535];
const MAX_BLOCK: [u32; 3] = [1024, 1024, 64];

fn config(default_cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(default_cases);
    // No persistence: a failure prints its minimal input, and this test leaves no files behind.
    ProptestConfig {
        cases,
        max_global_rejects: cases.saturating_mul(4).max(1024),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------------------
// The properties every outcome must satisfy.
// ---------------------------------------------------------------------------------------------

/// 1-based line of byte offset `at`, counting `\n` as the parser does.
fn line_at(source: &str, at: usize) -> usize {
    1 + source.as_bytes()[..at].iter().filter(|&&b| b == b'\n').count()
}

/// Lines an error may name: a source of `k` newlines has `k + 1` (the last possibly empty).
fn line_count(source: &str) -> usize {
    line_at(source, source.len())
}

/// Where the front matter is, as the format defines it: after any BOMs and whitespace, the file
/// opens with `/* sadoku` and whitespace; it ends at the first `*/` (or the end of the file, when
/// it is never closed). Lines of the opening and of the end, both inclusive.
fn front_matter(source: &str) -> Option<(usize, usize)> {
    let body = source.trim_start_matches('\u{feff}').trim_start();
    let start = source.len() - body.len();
    let rest = body.strip_prefix(OPENING)?;
    if !rest.starts_with(char::is_whitespace) {
        return None;
    }
    let end = rest.find("*/").map_or(source.len(), |i| start + OPENING.len() + i);
    Some((line_at(source, start), line_at(source, end)))
}

fn check_err(origin: &str, source: &str, e: &SpecError) -> Result<(), TestCaseError> {
    let text = e.to_string();
    prop_assert_eq!(&e.origin, origin);
    prop_assert!(!e.message.trim().is_empty(), "empty message: {:?}", text);
    let prefix = match e.line {
        Some(l) => format!("{origin}:{l}: "),
        None => format!("{origin}: "),
    };
    prop_assert!(text.starts_with(&prefix), "{:?} does not start with {:?}", text, prefix);
    prop_assert!(!text.contains(['\n', '\r']), "multi-line error: {:?}", text);
    if let Some(l) = e.line {
        let lines = line_count(source);
        prop_assert!((1..=lines).contains(&l), "line {} outside 1..={}: {:?}", l, lines, text);
        if let Some((open, close)) = front_matter(source) {
            prop_assert!(
                (open..=close).contains(&l),
                "line {} outside the front matter (lines {}..={}): {:?}",
                l,
                open,
                close,
                text
            );
        }
    }
    Ok(())
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn check_ok(origin: &str, source: &str, c: &Candidate) -> Result<(), TestCaseError> {
    prop_assert_eq!(&c.origin, origin);
    prop_assert_eq!(&c.source, source);
    prop_assert!(c.sha256.len() == 64 && c.sha256.bytes().all(|b| b.is_ascii_hexdigit()));
    prop_assert_eq!(c.problem.name(), c.spec.problem.as_str());
    prop_assert!(!c.spec.launches.is_empty());
    let (open, close) = front_matter(source).expect("a candidate that loads has front matter");
    for o in &c.spec.options {
        prop_assert!(!(o == "-arch" || o.starts_with("-arch=") || o.starts_with("--gpu-architecture")), "{}", o);
    }
    for l in &c.spec.launches {
        prop_assert!(is_identifier(&l.kernel), "kernel {:?}", l.kernel);
        prop_assert!((open..=close).contains(&l.line), "launch line {} outside {}..={}", l.line, open, close);
    }
    for sizes in c.problem.check_sizes() {
        let resolved = c.spec.resolve(&sizes);
        prop_assert!(resolved.is_ok(), "validated spec fails at {}: {:?}", sizes, resolved);
        let resolved = resolved.unwrap();
        prop_assert_eq!(resolved.len(), c.spec.launches.len());
        for (r, l) in resolved.iter().zip(&c.spec.launches) {
            prop_assert_eq!(&r.kernel, &l.kernel);
            for axis in 0..3 {
                prop_assert!((1..=MAX_GRID[axis]).contains(&r.grid[axis]), "grid {:?}", r.grid);
                prop_assert!((1..=MAX_BLOCK[axis]).contains(&r.block[axis]), "block {:?}", r.block);
            }
            prop_assert!(r.block.iter().map(|&b| u64::from(b)).product::<u64>() <= 1024, "block {:?}", r.block);
            prop_assert_eq!(r.args.len(), l.args.len());
            for (ra, a) in r.args.iter().zip(&l.args) {
                match (ra, a) {
                    (ResolvedArg::Buffer(x), ArgSpec::Buffer(y)) => prop_assert_eq!(x, y),
                    (ResolvedArg::Int(_), ArgSpec::Int(_)) => {}
                    other => prop_assert!(false, "argument resolved to another kind: {:?}", other),
                }
            }
        }
        let scratch = c.spec.scratch_bytes(&sizes);
        prop_assert!(scratch.is_ok(), "scratch at {}: {:?}", sizes, scratch);
        prop_assert!(scratch.unwrap().iter().all(|(_, b)| *b <= 1 << 40));
    }
    Ok(())
}

/// Load `source`, check whichever outcome, and hand it back for further checks.
fn load(origin: &str, source: &str) -> Result<Result<Candidate, SpecError>, TestCaseError> {
    let result = Candidate::from_source(library(), origin, source.to_string());
    match &result {
        Ok(c) => check_ok(origin, source, c)?,
        Err(e) => check_err(origin, source, e)?,
    }
    Ok(result)
}

// ---------------------------------------------------------------------------------------------
// Generators.
// ---------------------------------------------------------------------------------------------

/// Launch expressions, mostly well-formed, biased toward limits, overflow and division by zero.
fn expr_text() -> BoxedStrategy<String> {
    let leaf = prop_oneof![
        6 => select(vec![
            "N", "N", "N", "M", "K", "_x", "0", "1", "2", "3", "7", "16", "17", "32", "64", "65", "256", "1024",
            "1025", "4096", "65535", "65536", "2147483647", "2147483648", "9223372036854775807",
            "9223372036854775808", "-1", "-9223372036854775808", "-9223372036854775809",
            "99999999999999999999999", "1_000", "0x10", "1e3", "16N", "N-N", "(N-N)", "N/(N-N)", "N % 0",
            "cdiv(N, 16)", "cdiv(N, 0)", "cdiv(-1, N)", "cdiv(N)", "min()", "max(N,)", "min(N, 1024)",
            "N * N", "N * N * N * N * N", "-N", "--N", "é", "N\u{a0}+ 1", "",
        ])
        .prop_map(String::from),
        1 => (-5000i64..5000).prop_map(|v| v.to_string()),
        1 => any::<i64>().prop_map(|v| v.to_string()),
    ];
    leaf.prop_recursive(4, 24, 3, |inner| {
        let space = select(vec!["", " ", "  ", "\t", "\n"]);
        prop_oneof![
            (inner.clone(), space.clone(), select(vec!["+", "-", "*", "/", "%", "$", ""]), space, inner.clone())
                .prop_map(|(a, s, op, t, b)| format!("{a}{s}{op}{t}{b}")),
            inner.clone().prop_map(|a| format!("({a})")),
            inner.clone().prop_map(|a| format!("-{a}")),
            (select(vec!["cdiv", "min", "max", "foo", "cdiv "]), prop::collection::vec(inner, 0..4))
                .prop_map(|(f, args)| format!("{f}({})", args.join(", "))),
        ]
    })
    .boxed()
}

/// Token soup from expression and TOML vocabulary, for text that is rarely well-formed.
fn soup(tokens: Vec<&'static str>, max: usize) -> impl Strategy<Value = String> {
    let token = prop_oneof![4 => select(tokens).prop_map(String::from), 1 => any::<char>().prop_map(String::from)];
    prop::collection::vec(token, 0..max).prop_map(|v| v.concat())
}

const EXPR_TOKENS: &[&str] = &[
    "N",
    "M",
    "0",
    "1",
    "16",
    "9223372036854775807",
    "-",
    "+",
    "*",
    "/",
    "%",
    "(",
    ")",
    ",",
    " ",
    "cdiv",
    "min",
    "max",
    "\n",
    "\t",
    "\r",
    "\0",
    "é",
    "$",
    "_",
    "\"",
    "\\",
    "'",
    "*/",
    "/*",
    "`",
];

const TOML_TOKENS: &[&str] = &[
    "\n",
    "\r\n",
    " ",
    "=",
    "\"",
    "'",
    "\"\"\"",
    "'''",
    "[",
    "]",
    "[[",
    "]]",
    "{",
    "}",
    ",",
    ".",
    "#",
    "\\",
    "\\n",
    "\\u0000",
    "problem",
    "trimm",
    "\"trimm\"",
    "launch",
    "[[launch]]",
    "kernel",
    "grid",
    "block",
    "args",
    "shared_mem",
    "options",
    "arch_specific",
    "scratch",
    "[scratch]",
    "true",
    "1",
    "-1",
    "1.5",
    "N",
    "\"N\"",
    "cdiv(N, 16)",
    "*/",
    "/*",
    "\u{feff}",
    "\0",
    "é",
    "\u{2028}",
    "9223372036854775808",
];

/// Text as a TOML basic string, escaped so it always parses.
fn basic_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A well-formed TOML value on one line: mostly quoted expressions, but every other type too.
fn toml_value() -> BoxedStrategy<String> {
    let scalar = prop_oneof![
        6 => expr_text().prop_map(|s| basic_string(&s)),
        1 => soup(EXPR_TOKENS.to_vec(), 8).prop_map(|s| basic_string(&s)),
        1 => expr_text()
            .prop_filter("literal strings hold no `'` or control characters", |s| {
                !s.contains('\'') && !s.chars().any(char::is_control)
            })
            .prop_map(|s| format!("'{s}'")),
        3 => prop_oneof![
            any::<i64>(),
            -3i64..70_000,
            select(vec![0i64, 1, 64, 65, 1024, 1025, 65_535, 65_536, i32::MAX as i64, 1 << 31, i64::MAX, i64::MIN]),
        ]
        .prop_map(|v| v.to_string()),
        1 => select(vec![
            "1.5", "-0.0", "1e3", "inf", "nan", "true", "false", "1979-05-27", "07:32:00", "1979-05-27T07:32:00Z",
            "0x10", "0o17", "0b11", "1_000", "+5", "{}", "{ a = 1 }", "{ x = \"N\" }", "\"\"\"N\"\"\"", "'''N'''",
            "\"trimm\"", "\"A\"", "\"N\"", "\"\"", "\"k\"", "\"-arch=sm_80\"", "\"a\\nb\"",
        ])
        .prop_map(String::from),
    ];
    let array =
        |inner: BoxedStrategy<String>| prop::collection::vec(inner, 0..5).prop_map(|v| format!("[{}]", v.join(", ")));
    let nested = prop_oneof![4 => scalar.clone(), 1 => array(scalar.clone().boxed())].boxed();
    prop_oneof![9 => scalar, 1 => array(nested)].boxed()
}

/// Front matter as fields of TOML text, rendered one key a line.
#[derive(Clone, Debug)]
struct Fields {
    problem: String,
    options: Option<String>,
    arch_specific: Option<String>,
    /// (key, value), both TOML text.
    scratch: Vec<(String, String)>,
    kernel: String,
    grid: Vec<String>,
    block: Vec<String>,
    shared_mem: Option<String>,
    args: Vec<String>,
}

/// Where one slot of `Fields` was rendered.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Key {
    Problem,
    Options,
    ArchSpecific,
    /// The scratch entry at this index.
    Scratch(usize),
    Kernel,
    Grid,
    Block,
    SharedMem,
    Args,
}

struct Rendered {
    source: String,
    /// Byte length of the front matter, through the `*/` line's newline.
    front_len: usize,
    /// 1-based line of each rendered key.
    lines: Vec<(Key, usize)>,
    launch_line: usize,
}

impl Rendered {
    fn line_of(&self, key: Key) -> usize {
        self.lines.iter().find(|(k, _)| *k == key).map(|(_, l)| *l).expect("rendered key")
    }
}

fn render(f: &Fields) -> Rendered {
    let mut out: Vec<String> = vec![OPENING.into()];
    let mut lines = Vec::new();
    let mut put = |out: &mut Vec<String>, key: Option<Key>, text: String| {
        out.push(text);
        if let Some(k) = key {
            lines.push((k, out.len()));
        }
    };
    put(&mut out, Some(Key::Problem), format!("problem = {}", f.problem));
    if let Some(o) = &f.options {
        put(&mut out, Some(Key::Options), format!("options = {o}"));
    }
    if let Some(a) = &f.arch_specific {
        put(&mut out, Some(Key::ArchSpecific), format!("arch_specific = {a}"));
    }
    if !f.scratch.is_empty() {
        put(&mut out, None, "[scratch]".into());
        for (i, (k, v)) in f.scratch.iter().enumerate() {
            put(&mut out, Some(Key::Scratch(i)), format!("{k} = {v}"));
        }
    }
    put(&mut out, None, "[[launch]]".into());
    let launch_line = out.len();
    put(&mut out, Some(Key::Kernel), format!("kernel = {}", f.kernel));
    put(&mut out, Some(Key::Grid), format!("grid   = [{}]", f.grid.join(", ")));
    put(&mut out, Some(Key::Block), format!("block  = [{}]", f.block.join(", ")));
    if let Some(s) = &f.shared_mem {
        put(&mut out, Some(Key::SharedMem), format!("shared_mem = {s}"));
    }
    put(&mut out, Some(Key::Args), format!("args   = [{}]", f.args.join(", ")));
    out.push("*/".into());
    let front = out.join("\n") + "\n";
    Rendered { front_len: front.len(), source: front + KERNEL, lines, launch_line }
}

fn texts(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Front matter that loads, in several shapes.
fn valid_fields() -> impl Strategy<Value = Fields> {
    let options = select(vec![None, Some("[]"), Some("[\"-lineinfo\", \"--use_fast_math\"]")]);
    let arch = select(vec![None, Some("true"), Some("false")]);
    let scratch =
        select(vec![vec![], vec![("tmp", "\"N * 4\"")], vec![("tmp", "1024"), ("\"partial\"", "\"cdiv(N, 16) * 4\"")]]);
    let kernel = select(vec!["\"k\"", "\"trimm_kernel\"", "'_k2'"]);
    let grid = select(vec![
        vec!["\"cdiv(N, 16)\"", "\"cdiv(N, 16)\"", "1"],
        vec!["\"cdiv(N * N, 256)\""],
        vec!["\"N\"", "1"],
        vec!["\"max(cdiv(N, 128), 1)\"", "\"N\"", "\"1\""],
    ]);
    let block = select(vec![vec!["16", "16", "1"], vec!["256"], vec!["\"min(N, 32)\"", "8"], vec!["32", "8", "4"]]);
    let shared_mem = select(vec![None, Some("0"), Some("\"16 * 16 * 4 * 2\""), Some("\"N % 7\""), Some("49152")]);
    let extra_args = select(vec![vec![], vec!["\"N * N\"", "7"], vec!["\" N \"", "\"-1\""]]);
    (options, arch, scratch, kernel, grid, block, shared_mem, extra_args, any::<bool>()).prop_map(
        |(options, arch, scratch, kernel, grid, block, shared_mem, extra_args, pass_scratch)| {
            let mut args = texts(&["\"A\"", "\"B\"", "\"C\"", "\"N\""]);
            args.extend(texts(&extra_args));
            if pass_scratch && !scratch.is_empty() {
                args.push("\"tmp\"".into());
            }
            Fields {
                problem: "\"trimm\"".into(),
                options: options.map(String::from),
                arch_specific: arch.map(String::from),
                scratch: scratch.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
                kernel: kernel.into(),
                grid: texts(&grid),
                block: texts(&block),
                shared_mem: shared_mem.map(String::from),
                args,
            }
        },
    )
}

/// Which value a mutation replaces.
#[derive(Clone, Debug)]
enum Slot {
    Problem,
    Options,
    ArchSpecific,
    ScratchKey(Index),
    ScratchValue(Index),
    Kernel,
    GridEntry(Index),
    Grid,
    BlockEntry(Index),
    Block,
    SharedMem,
    ArgEntry(Index),
    Args,
}

fn slot() -> impl Strategy<Value = Slot> {
    prop_oneof![
        1 => Just(Slot::Problem),
        1 => Just(Slot::Options),
        1 => Just(Slot::ArchSpecific),
        1 => any::<Index>().prop_map(Slot::ScratchKey),
        2 => any::<Index>().prop_map(Slot::ScratchValue),
        1 => Just(Slot::Kernel),
        4 => any::<Index>().prop_map(Slot::GridEntry),
        1 => Just(Slot::Grid),
        4 => any::<Index>().prop_map(Slot::BlockEntry),
        1 => Just(Slot::Block),
        3 => Just(Slot::SharedMem),
        3 => any::<Index>().prop_map(Slot::ArgEntry),
        1 => Just(Slot::Args),
    ]
}

/// Entry `i` of `v` (one past the end appends), replaced by `value`.
fn set_entry(v: &mut Vec<String>, i: &Index, value: String) {
    let at = i.index(v.len() + 1);
    if at == v.len() { v.push(value) } else { v[at] = value }
}

/// Replace one slot; returns the key whose line now holds `value`.
fn replace(f: &mut Fields, slot: &Slot, value: String) -> Key {
    match slot {
        Slot::Problem => {
            f.problem = value;
            Key::Problem
        }
        Slot::Options => {
            f.options = Some(value);
            Key::Options
        }
        Slot::ArchSpecific => {
            f.arch_specific = Some(value);
            Key::ArchSpecific
        }
        Slot::ScratchKey(i) => {
            let key = value_as_key(&value);
            let at = i.index(f.scratch.len() + 1);
            if at == f.scratch.len() {
                f.scratch.push((key, "8".into()));
            } else {
                f.scratch[at].0 = key;
            }
            Key::Scratch(at)
        }
        Slot::ScratchValue(i) => {
            let at = i.index(f.scratch.len() + 1);
            if at == f.scratch.len() {
                f.scratch.push(("fresh".into(), value));
            } else {
                f.scratch[at].1 = value;
            }
            Key::Scratch(at)
        }
        Slot::Kernel => {
            f.kernel = value;
            Key::Kernel
        }
        Slot::GridEntry(i) => {
            set_entry(&mut f.grid, i, value);
            Key::Grid
        }
        Slot::Grid => {
            f.grid = vec![value];
            Key::Grid
        }
        Slot::BlockEntry(i) => {
            set_entry(&mut f.block, i, value);
            Key::Block
        }
        Slot::Block => {
            f.block = vec![value];
            Key::Block
        }
        Slot::SharedMem => {
            f.shared_mem = Some(value);
            Key::SharedMem
        }
        Slot::ArgEntry(i) => {
            set_entry(&mut f.args, i, value);
            Key::Args
        }
        Slot::Args => {
            f.args = vec![value];
            Key::Args
        }
    }
}

/// A value used as a table key: strings become quoted keys, anything else a bare key if it is one.
fn value_as_key(value: &str) -> String {
    let quoted = value.len() >= 2 && value.starts_with('"') && value.ends_with('"');
    let bare = !value.is_empty() && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if quoted || bare { value.to_string() } else { basic_string(value) }
}

/// Raw edits of the front matter text.
#[derive(Clone, Debug)]
enum Edit {
    Insert(Index, String),
    Delete(Index, usize),
    DuplicateLine(Index),
    DropLine(Index),
    SwapLines(Index, Index),
}

fn edit() -> impl Strategy<Value = Edit> {
    let text = prop_oneof![
        3 => select(TOML_TOKENS.to_vec()).prop_map(String::from),
        1 => any::<char>().prop_map(String::from),
        1 => toml_value(),
    ];
    prop_oneof![
        4 => (any::<Index>(), text).prop_map(|(i, t)| Edit::Insert(i, t)),
        2 => (any::<Index>(), 1usize..8).prop_map(|(i, n)| Edit::Delete(i, n)),
        1 => any::<Index>().prop_map(Edit::DuplicateLine),
        1 => any::<Index>().prop_map(Edit::DropLine),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(i, j)| Edit::SwapLines(i, j)),
    ]
}

/// Apply `edit` to the first `front_len` bytes of `source` (the front matter), keeping the rest.
fn apply(source: &str, front_len: usize, edit: &Edit) -> (String, usize) {
    let (front, rest) = source.split_at(front_len);
    let mut chars: Vec<char> = front.chars().collect();
    let mut lines: Vec<String> = front.split_inclusive('\n').map(String::from).collect();
    let front = match edit {
        Edit::Insert(i, t) => {
            let at = i.index(chars.len() + 1);
            chars.splice(at..at, t.chars());
            chars.into_iter().collect()
        }
        Edit::Delete(i, n) => {
            let at = i.index(chars.len() + 1);
            chars.drain(at..(at + n).min(chars.len()));
            chars.into_iter().collect()
        }
        Edit::DuplicateLine(i) if !lines.is_empty() => {
            let at = i.index(lines.len());
            lines.insert(at, lines[at].clone());
            lines.concat()
        }
        Edit::DropLine(i) if !lines.is_empty() => {
            lines.remove(i.index(lines.len()));
            lines.concat()
        }
        Edit::SwapLines(i, j) if !lines.is_empty() => {
            let (a, b) = (i.index(lines.len()), j.index(lines.len()));
            lines.swap(a, b);
            lines.concat()
        }
        _ => front.to_string(),
    };
    (format!("{front}{rest}"), front.len())
}

fn origin() -> impl Strategy<Value = String> {
    prop_oneof![Just("dir/k.cu".to_string()), Just("seed:honest".to_string()), "[a-zA-Z0-9_./-]{0,12}"]
}

/// A source whose front matter, if any, opens at its first byte: leading BOM or blank lines
/// there would shift it.
fn opens_at_start(source: &str) -> bool {
    source.starts_with(OPENING)
}

/// Prepending `k` line breaks (and a BOM) to a file that opens with its front matter moves every
/// located error down by exactly `k` lines and changes nothing else.
fn check_shift(source: &str, prefix: &str) -> Result<(), TestCaseError> {
    if !opens_at_start(source) {
        return Ok(());
    }
    let k = prefix.matches('\n').count();
    let shifted = format!("{prefix}{source}");
    let (a, b) = (load("k.cu", source)?, load("k.cu", &shifted)?);
    match (a, b) {
        (Ok(a), Ok(b)) => {
            let la: Vec<usize> = a.spec.launches.iter().map(|l| l.line + k).collect();
            let lb: Vec<usize> = b.spec.launches.iter().map(|l| l.line).collect();
            prop_assert_eq!(la, lb);
            prop_assert_eq!(a.spec.problem_line.map(|l| l + k), b.spec.problem_line);
        }
        (Err(a), Err(b)) => {
            prop_assert_eq!(&a.message, &b.message);
            // Without front matter there is nothing to shift: the file's first line is at fault.
            let k = if front_matter(source).is_some() { k } else { 0 };
            prop_assert_eq!(a.line.map(|l| l + k), b.line, "{} vs {}", a, b);
        }
        (a, b) => prop_assert!(false, "prefix {:?} changed the outcome: {:?} vs {:?}", prefix, a.err(), b.err()),
    }
    Ok(())
}

/// A BOM and blank lines (of any line end) to put before the front matter.
fn line_prefix() -> impl Strategy<Value = String> {
    (any::<bool>(), prop::collection::vec(select(vec!["\n", "\r\n", " \n", "\t\n"]), 0..4))
        .prop_map(|(bom, v)| format!("{}{}", if bom { "\u{feff}" } else { "" }, v.concat()))
}

// ---------------------------------------------------------------------------------------------
// Properties.
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(512))]

    /// 1. Whole sources of arbitrary text, optionally behind an opening, BOMs, CRLF and blank lines.
    #[test]
    fn arbitrary_text_never_panics(
        origin in origin(),
        lead in select(vec!["", "\u{feff}", "\u{feff}\u{feff}\n", "\r\n\r\n", " \t\n", "\0"]),
        opening in select(vec!["", "/* sadoku", "/* sadoku\n", "/* sadoku\r\n", "/* sadoku ", "/* sadoku\t"]),
        body in prop_oneof![any::<String>(), soup(TOML_TOKENS.to_vec(), 40)],
        close in select(vec!["", "*/", "\n*/\n", "*/\r\n"]),
        tail in any::<String>(),
    ) {
        let source = format!("{lead}{opening}{body}{close}{tail}");
        let _ = load(&origin, &source)?;
    }

    /// 2a. One value of a valid front matter replaced by a well-formed TOML value: any error names
    /// the replaced line or the `[[launch]]` line (where the launch-wide checks point), or none.
    #[test]
    fn one_replaced_value(base in valid_fields(), slot in slot(), value in toml_value()) {
        let r = render(&base);
        prop_assert!(load("dir/k.cu", &r.source)?.is_ok(), "base does not load:\n{}", r.source);
        let mut f = base;
        let key = replace(&mut f, &slot, value);
        let r = render(&f);
        if let Err(e) = load("dir/k.cu", &r.source)? {
            let replaced = r.line_of(key);
            if let Some(l) = e.line {
                prop_assert!(
                    l == replaced || l == r.launch_line,
                    "{} names line {}, not the replaced line {} or [[launch]] line {}\n{}",
                    e, l, replaced, r.launch_line, r.source
                );
            }
        }
    }

    /// 2b. Expressions that do not parse are reported on their own line, and never load.
    #[test]
    fn unparsable_expression_names_its_line(
        base in valid_fields(),
        slot in prop_oneof![
            any::<Index>().prop_map(Slot::GridEntry),
            any::<Index>().prop_map(Slot::BlockEntry),
            Just(Slot::SharedMem),
            any::<Index>().prop_map(Slot::ArgEntry),
            any::<Index>().prop_map(Slot::ScratchValue),
        ],
        text in prop_oneof![
            expr_text(),
            soup(EXPR_TOKENS.to_vec(), 8),
            (expr_text(), select(vec!["{} +", "({}", "{})", "{} $", "{} N", "min({},)", "cdiv({})", "{}\n*"]))
                .prop_map(|(e, shape)| shape.replace("{}", &e)),
        ],
    ) {
        // An identifier (`cdiv`) names a buffer in `args`, and `*/` ends the front matter.
        prop_assume!(Expr::parse(&text).is_err() && !is_identifier(text.trim()) && !text.contains("*/"));
        let mut f = base;
        let key = replace(&mut f, &slot, basic_string(&text));
        let r = render(&f);
        let result = load("dir/k.cu", &r.source)?;
        prop_assert!(result.is_err(), "`{}` does not parse, yet the spec loads", text);
        let e = result.unwrap_err();
        prop_assert_eq!(e.line, Some(r.line_of(key)), "{}", e);
    }

    /// 2c. Several replacements and raw edits (insertions, deletions, duplicated, dropped and
    /// swapped lines) of the front matter: every outcome satisfies the properties.
    #[test]
    fn mutated_front_matter(
        origin in origin(),
        base in valid_fields(),
        replacements in prop::collection::vec((slot(), toml_value()), 0..3),
        edits in prop::collection::vec(edit(), 0..5),
    ) {
        let mut f = base;
        for (slot, value) in replacements {
            replace(&mut f, &slot, value);
        }
        let r = render(&f);
        let (mut source, mut front_len) = (r.source, r.front_len);
        for e in &edits {
            (source, front_len) = apply(&source, front_len, e);
        }
        let _ = load(&origin, &source)?;
    }

    /// 3. Blank lines and a BOM before the front matter shift every located error by exactly as many
    /// lines; CRLF line ends change neither outcome nor lines.
    #[test]
    fn lines_follow_the_front_matter(
        base in valid_fields(),
        replacements in prop::collection::vec((slot(), toml_value()), 0..2),
        edits in prop::collection::vec(edit(), 0..2),
        prefix in line_prefix(),
    ) {
        let mut f = base;
        for (slot, value) in replacements {
            replace(&mut f, &slot, value);
        }
        let r = render(&f);
        let (mut source, mut front_len) = (r.source, r.front_len);
        for e in &edits {
            (source, front_len) = apply(&source, front_len, e);
        }
        check_shift(&source, &prefix)?;
        if !source.contains('\r') {
            let crlf = source.replace('\n', "\r\n");
            let (a, b) = (load("k.cu", &source)?, load("k.cu", &crlf)?);
            match (a, b) {
                (Ok(_), Ok(_)) => {}
                (Err(a), Err(b)) => prop_assert_eq!(a.line, b.line, "{} vs {}", a, b),
                (a, b) => prop_assert!(false, "CRLF changed the outcome: {:?} vs {:?}", a.err(), b.err()),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 4. Deterministic cases for tricky inputs.
// ---------------------------------------------------------------------------------------------

fn ok(source: &str) -> Candidate {
    match load("k.cu", source) {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => panic!("expected to load, got {e}\n{source}"),
        Err(e) => panic!("{e}\n{source}"),
    }
}

fn err(source: &str) -> SpecError {
    match load("k.cu", source) {
        Ok(Err(e)) => e,
        Ok(Ok(c)) => panic!("expected an error, loaded {:?}\n{source}", c.spec),
        Err(e) => panic!("{e}\n{source}"),
    }
}

#[test]
fn the_valid_example_loads() {
    let c = ok(VALID);
    assert_eq!(c.spec.launches[0].line, 3);
    assert_eq!(c.spec.problem_line, Some(2));
}

#[test]
fn empty_and_blank_files_have_no_front_matter() {
    for source in ["", " ", "\n", "\r\n", "\t\n\n  ", "\u{feff}", "\u{feff}\n", "\0", "*/", "/*", "/* sadok"] {
        let e = err(source);
        assert_eq!(e.line, Some(1), "{source:?}: {e}");
        assert!(e.message.starts_with("no front matter"), "{source:?}: {e}");
    }
}

#[test]
fn opening_without_whitespace_after_it_is_no_front_matter() {
    for source in ["/* sadoku", "/* sadoku*/", "/* sadokuproblem = \"trimm\" */", "/* SADOKU\n*/", "/*sadoku\n*/"] {
        let e = err(source);
        assert!(e.message.starts_with("no front matter"), "{source:?}: {e}");
    }
}

#[test]
fn front_matter_after_code_is_no_front_matter() {
    let e = err(&format!("// header\n{VALID}"));
    assert_eq!(e.line, Some(1));
    assert!(e.message.starts_with("no front matter"), "{e}");
    // A BOM after whitespace is not a BOM but text.
    let e = err(&format!("\n\u{feff}{VALID}"));
    assert!(e.message.starts_with("no front matter"), "{e}");
}

#[test]
fn unclosed_front_matter_names_its_opening() {
    for (source, line) in [("/* sadoku\n", 1), ("/* sadoku ", 1), ("\n\n/* sadoku\nproblem = \"trimm\"\n", 3)] {
        let e = err(source);
        assert_eq!((e.line, e.message.as_str()), (Some(line), "front matter is never closed with `*/`"), "{source:?}");
    }
}

#[test]
fn empty_front_matter_is_a_located_toml_error() {
    for source in ["/* sadoku */", "/* sadoku\n*/", "/* sadoku\n*/\n", "/* sadoku\r\n*/\r\n", "/* sadoku\n\n\n*/"] {
        let e = err(source);
        assert!(e.message.contains("problem"), "{source:?}: {e}");
    }
}

/// TOML needs a line break between keys, so front matter on one line holds at most one.
#[test]
fn front_matter_on_one_line() {
    let e = err("/* sadoku problem = \"trimm\" */");
    assert_eq!(e.line, None, "{e}");
    assert!(e.message.starts_with("no [[launch]] table"), "{e}");
    let e = err("/* sadoku problem = \"trimm\" launch = [{kernel = \"k\", grid = [1], block = [1]}] */");
    assert_eq!(e.line, Some(1), "{e}");
    assert!(e.message.starts_with("front matter: "), "{e}");
    let e = err("\n/* sadoku problem = \"trimm\"*/");
    assert_eq!(e.line, None, "{e}");
    // No line break anywhere in the file: the missing launch is found before the unknown problem.
    let e = err("/* sadoku\tproblem = \"gemm\"*/ __global__ void k() {}");
    assert_eq!(e.line, None, "{e}");
    assert!(e.message.starts_with("no [[launch]] table"), "{e}");
}

#[test]
fn bom_crlf_and_blank_lines_before_the_front_matter() {
    let c = ok(&format!("\u{feff}\r\n\r\n{}", VALID.replace('\n', "\r\n")));
    assert_eq!(c.spec.launches[0].line, 5);
    let e = err(&format!("\u{feff}\n\n{}", VALID.replace("block  = [16, 16, 1]", "block  = [16, 16, 16]")));
    assert_eq!(e.line, Some(8), "the `block` key's line, two lines down: {e}");
}

/// The first `*/` closes the front matter, even inside a TOML string or comment: the error then
/// names the line where TOML stops making sense, inside the front matter.
#[test]
fn comment_end_inside_toml_closes_the_front_matter() {
    let e = err(&VALID.replace("kernel = \"k\"", "kernel = \"k*/\""));
    assert_eq!(e.line, Some(4), "{e}");
    assert!(e.message.starts_with("front matter: "), "{e}");
    let e = err(&VALID.replace("problem = \"trimm\"", "problem = \"trimm\" # ends here */"));
    assert!(e.message.contains("launch"), "{e}");
    assert!(e.line.is_none_or(|l| l <= 2), "{e}");
}

/// C comments do not nest: an inner `/*` is TOML, and not valid TOML.
#[test]
fn nested_comment_is_a_toml_error_on_its_line() {
    let e = err(&VALID.replace("[[launch]]\n", "/* inner */\n[[launch]]\n"));
    assert_eq!(e.line, Some(3), "{e}");
    assert!(e.message.starts_with("front matter: "), "{e}");
}

#[test]
fn nul_and_control_characters_in_the_front_matter() {
    let e = err(&VALID.replace("kernel = \"k\"", "kernel = \"k\0\""));
    assert_eq!(e.line, Some(4), "{e}");
    let e = err(&VALID.replace("[[launch]]", "[[launch]]\0"));
    assert_eq!(e.line, Some(3), "{e}");
    let e = err(&VALID.replace("[[launch]]\n", "[[launch]]\r"));
    assert!(e.line.is_some_and(|l| (3..=7).contains(&l)), "{e}");
}

#[test]
fn extreme_numbers_are_errors_not_panics() {
    for grid in [
        "[\"9223372036854775807 + 1\", 1, 1]",
        "[\"-9223372036854775808 / -1\", 1, 1]",
        "[\"N * N * N * N * N\", 1, 1]",
        "[\"N / (N - N)\", 1, 1]",
        "[\"N % (N - N)\", 1, 1]",
        "[\"cdiv(N, N - N)\", 1, 1]",
        "[\"cdiv(-N, 1)\", 1, 1]",
        "[9223372036854775807, 1, 1]",
        "[-9223372036854775808, 1, 1]",
        "[4294967297, 1, 1]",
        "[\"9223372036854775808\", 1, 1]",
        "[9223372036854775808, 1, 1]",
        "[1.0, 1, 1]",
        "[1, 1, 1, 1]",
        "[]",
    ] {
        let e = err(&VALID.replace("[\"cdiv(N, 16)\", \"cdiv(N, 16)\", 1]", grid));
        assert!(e.line == Some(3) || e.line == Some(5), "{grid}: {e}");
    }
    for shared in ["-1", "4294967296", "\"N * N * N\"", "\"0 - N\"", "true", "[1]"] {
        let e =
            err(&VALID.replace("block  = [16, 16, 1]\n", &format!("block  = [16, 16, 1]\nshared_mem = {shared}\n")));
        assert!(e.line == Some(3) || e.line == Some(7), "{shared}: {e}");
    }
}

#[test]
fn deeply_nested_expressions_are_errors_not_stack_overflows() {
    let deep = format!("{}N{}", "(".repeat(10_000), ")".repeat(10_000));
    let e = err(&VALID.replace("\"cdiv(N, 16)\", 1]", &format!("\"{deep}\", 1]")));
    assert_eq!(e.line, Some(5), "{e}");
    let long = vec!["N"; 5_000].join(" + ");
    let e = err(&VALID.replace("\"cdiv(N, 16)\", 1]", &format!("\"{long}\", 1]")));
    assert_eq!(e.line, Some(5), "{e}");
    // Deep TOML nesting, too.
    let e =
        err(&VALID.replace("block  = [16, 16, 1]", &format!("block  = {}1{}", "[".repeat(5_000), "]".repeat(5_000))));
    assert!(e.line.is_some_and(|l| (3..=6).contains(&l)), "{e}");
}

/// An expression may span lines in a multi-line string; it is reported at its key's line.
#[test]
fn multi_line_string_expression() {
    let c = ok(&VALID.replace("[\"cdiv(N, 16)\", \"cdiv(N, 16)\", 1]", "[\"\"\"cdiv(N,\n16)\"\"\", 1, 1]"));
    assert_eq!(c.spec.launches[0].line, 3);
}

// ---------------------------------------------------------------------------------------------
// Regressions: user text with line breaks quoted in an error (escaped as \n since).
// ---------------------------------------------------------------------------------------------

fn assert_one_line(source: &str) {
    let e = err(source);
    let text = e.to_string();
    assert!(!text.contains(['\n', '\r']), "multi-line error:\n{text}");
}

#[test]
fn bug_expression_error_quotes_line_break() {
    assert_one_line(&VALID.replace("\"C\", \"N\"]", "\"C\", \"N +\\n\"]"));
}

#[test]
fn bug_multi_line_string_expression_error() {
    assert_one_line(&VALID.replace("[\"cdiv(N, 16)\", \"cdiv(N, 16)\", 1]", "[\"\"\"cdiv(N,\n16\"\"\", 1, 1]"));
}

#[test]
fn bug_kernel_name_error_quotes_line_break() {
    assert_one_line(&VALID.replace("kernel = \"k\"", "kernel = \"k\\nx\""));
}

#[test]
fn bug_unknown_problem_quotes_line_break() {
    assert_one_line(&VALID.replace("problem = \"trimm\"", "problem = \"trimm\\r\\n\""));
}

#[test]
fn bug_scratch_name_error_quotes_line_break() {
    assert_one_line(&VALID.replace("[[launch]]", "[scratch]\n\"a\\nb\" = 1\n[[launch]]"));
}

#[test]
fn bug_arch_option_error_quotes_line_break() {
    assert_one_line(&VALID.replace("[[launch]]", "options = [\"-arch=sm_90\\n\"]\n[[launch]]"));
}

#[test]
fn bug_unknown_field_quotes_line_break() {
    assert_one_line(&VALID.replace("[[launch]]", "\"x\\ny\" = 1\n[[launch]]"));
}
