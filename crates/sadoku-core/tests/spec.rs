//! Candidate front matter mistakes surface when the file is loaded, before any GPU work, as one
//! line naming the file, the line and the problem. Launch expressions are evaluated at every
//! size the problem verifies (N = 4096, 1, 17, 1000, 4095 for trimm), so a configuration no
//! GPU can run is a spec error, not a verdict.

use sadoku_core::candidate::{ArgSpec, Candidate, SpecError};
use sadoku_core::problem::Registry;

const KERNEL: &str = "extern \"C\" __global__ void honest(const float* A, const float* B, float* C, int N) {}\n";

/// A file whose line 1 opens the front matter, `toml` from line 2 on.
fn file(toml: &str) -> String {
    format!("/* sadoku\n{toml}*/\n{KERNEL}")
}

/// Front matter with one launch (its `[[launch]]` on line 3) built from these entries.
fn launch(grid: &str, block: &str, args: &str) -> String {
    file(&format!(
        "problem = \"trimm\"\n[[launch]]\nkernel = \"honest\"\ngrid   = {grid}\nblock  = {block}\nargs   = {args}\n"
    ))
}

const GRID: &str = r#"["cdiv(N, 16)", "cdiv(N, 16)", 1]"#;
const BLOCK: &str = "[16, 16, 1]";
const ARGS: &str = r#"["A", "B", "C", "N"]"#;

fn load_err(source: String) -> SpecError {
    match Candidate::from_source(&Registry::library(), "dir/k.cu", source) {
        Ok(c) => panic!("expected a spec error, loaded {:?}", c.spec),
        Err(e) => e,
    }
}

/// The error's one-line display, which names file and line.
fn err_text(source: String) -> String {
    let e = load_err(source);
    let text = e.to_string();
    assert!(!text.contains('\n'), "one line: {text}");
    text
}

#[test]
fn a_valid_spec_loads() {
    let c = Candidate::from_source(&Registry::library(), "dir/k.cu", launch(GRID, BLOCK, ARGS)).unwrap();
    assert_eq!(c.name(), "k.cu");
    assert_eq!(c.problem.name(), "trimm");
    assert_eq!(c.spec.launches.len(), 1);
    let l = &c.spec.launches[0];
    assert_eq!((l.kernel.as_str(), l.line), ("honest", 3));
    assert!(
        matches!(&l.args[..3], [ArgSpec::Buffer(a), ArgSpec::Buffer(b), ArgSpec::Buffer(c)] if a == "A" && b == "B" && c == "C")
    );
    assert!(matches!(l.args[3], ArgSpec::Int(_)), "N, a size symbol, is passed as an integer");
    assert_eq!(c.sha256.len(), 64);
}

#[test]
fn grid_of_zero_blocks() {
    assert_eq!(
        err_text(launch(r#"["N - N", 1, 1]"#, BLOCK, ARGS)),
        "dir/k.cu:5: at N = 4096: launch 1 (`honest`): grid.x = `N - N` = 0, outside 1..=2147483647"
    );
}

/// Every check size is evaluated, not only the timed one: `N - 1` is fine at 4096, zero at 1.
#[test]
fn grid_of_zero_blocks_at_a_small_check_size() {
    assert_eq!(
        err_text(launch(r#"[1, "N - 1", 1]"#, BLOCK, ARGS)),
        "dir/k.cu:5: at N = 1: launch 1 (`honest`): grid.y = `N - 1` = 0, outside 1..=65535"
    );
}

#[test]
fn block_of_2048_threads() {
    assert_eq!(
        err_text(launch(GRID, "[64, 32, 1]", ARGS)),
        "dir/k.cu:6: at N = 4096: launch 1 (`honest`): block has 2048 threads; at most 1024"
    );
    assert_eq!(
        err_text(launch(GRID, "[2048, 1, 1]", ARGS)),
        "dir/k.cu:6: at N = 4096: launch 1 (`honest`): block.x = `2048` = 2048, outside 1..=1024"
    );
}

#[test]
fn division_by_zero() {
    assert_eq!(
        err_text(launch(r#"["N / (N - N)", 1, 1]"#, BLOCK, ARGS)),
        "dir/k.cu:5: at N = 4096: launch 1 (`honest`): division by zero in `N / (N - N)`"
    );
}

#[test]
fn unknown_problem() {
    let src = file("problem = \"gemm\"\n[[launch]]\nkernel = \"honest\"\ngrid = [1]\nblock = [1]\nargs = []\n");
    let e = load_err(src);
    assert_eq!(e.line, Some(2));
    assert!(e.to_string().starts_with("dir/k.cu:2: unknown problem `gemm` ("), "{e}");
    assert!(e.to_string().contains("`sadoku problems` lists all"), "{e}");
}

#[test]
fn unknown_argument_name() {
    assert_eq!(
        err_text(launch(GRID, BLOCK, r#"["A", "B", "D", "N"]"#)),
        "dir/k.cu:3: launch 1 (`honest`): unknown argument `D` (buffers: A, B, C; sizes: N)"
    );
}

#[test]
fn unknown_symbol() {
    assert_eq!(
        err_text(launch(r#"["cdiv(M, 16)", 1, 1]"#, BLOCK, ARGS)),
        "dir/k.cu:3: launch 1 (`honest`): unknown symbol `M` in `cdiv(M, 16)` (sizes of `trimm`: N)"
    );
}

/// The line is the failing launch's own, not the first launch's.
#[test]
fn error_in_a_second_launch_points_at_it() {
    let src = file(
        "problem = \"trimm\"\n\
         [[launch]]\nkernel = \"honest\"\ngrid = [1]\nblock = [1]\nargs = [\"A\", \"B\", \"C\", \"N\"]\n\
         [[launch]]\nkernel = \"honest\"\ngrid = [\"K\"]\nblock = [1]\nargs = [\"A\", \"B\", \"C\", \"N\"]\n",
    );
    assert_eq!(err_text(src), "dir/k.cu:8: launch 2 (`honest`): unknown symbol `K` in `K` (sizes of `trimm`: N)");
}

#[test]
fn missing_front_matter() {
    let e = load_err(format!("// a plain comment first\n{KERNEL}"));
    assert_eq!(e.line, Some(1));
    assert!(
        e.to_string().starts_with("dir/k.cu:1: no front matter: the file must open with a `/* sadoku ... */`"),
        "{e}"
    );
    // A block comment that is not sadoku's is no front matter either.
    let e = load_err(format!("/* sadokuproblem = \"trimm\" */\n{KERNEL}"));
    assert!(e.to_string().starts_with("dir/k.cu:1: no front matter"), "{e}");
}

#[test]
fn unclosed_front_matter_points_at_its_opening() {
    let src = format!("\n\n/* sadoku\nproblem = \"trimm\"\n{KERNEL}");
    assert_eq!(err_text(src), "dir/k.cu:3: front matter is never closed with `*/`");
}

#[test]
fn malformed_toml_points_at_the_bad_line() {
    // Missing comma on line 5.
    let e = load_err(launch("[1, 1 1]", BLOCK, ARGS));
    assert_eq!(e.line, Some(5), "{e}");
    assert!(e.to_string().starts_with("dir/k.cu:5: front matter: "), "{e}");
    // Unterminated string on line 4, after two blank lines before the front matter.
    let src = format!("\n\n{}", file("problem = \"trimm\"\n[[launch]]\nkernel = \"honest\n"));
    let e = load_err(src);
    assert_eq!(e.line, Some(6), "{e}");
    assert!(e.to_string().starts_with("dir/k.cu:6: front matter: "), "{e}");
    // An unknown key on line 8.
    let src = file(&format!(
        "problem = \"trimm\"\n[[launch]]\nkernel = \"honest\"\ngrid   = {GRID}\nblock  = {BLOCK}\nargs   = {ARGS}\nbogus = 3\n"
    ));
    assert_eq!(
        err_text(src),
        "dir/k.cu:8: front matter: unknown field `bogus`, expected one of `kernel`, `grid`, `block`, `shared_mem`, `args`"
    );
    // An expression that does not parse, on line 7.
    assert_eq!(
        err_text(launch(GRID, BLOCK, r#"["A", "B", "C", "N +"]"#)),
        "dir/k.cu:7: in `N +`: expected an expression at column 3"
    );
}

fn with_options(options: &str) -> String {
    file(&format!(
        "problem = \"trimm\"\noptions = {options}\n[[launch]]\nkernel = \"honest\"\ngrid = {GRID}\nblock = {BLOCK}\nargs = {ARGS}\n"
    ))
}

#[test]
fn arch_option_is_refused() {
    let e = load_err(with_options(r#"["-lineinfo", "-arch=sm_80"]"#));
    let text = e.to_string();
    assert!(text.starts_with("dir/k.cu"), "{text}");
    assert!(
        text.contains("option `-arch=sm_80` not allowed: sadoku compiles for the device's own architecture"),
        "{text}"
    );
    let e = load_err(with_options(r#"["--gpu-architecture=compute_90"]"#));
    assert!(e.to_string().contains("option `--gpu-architecture=compute_90` not allowed"), "{e}");
    // Harmless options load.
    assert!(
        Candidate::from_source(&Registry::library(), "k.cu", with_options(r#"["-lineinfo", "--use_fast_math"]"#))
            .is_ok()
    );
}

#[test]
fn arch_option_error_names_its_line() {
    let e = load_err(with_options(r#"["-arch=sm_80"]"#));
    assert_eq!(e.line, Some(3), "{e}");
    assert!(e.to_string().starts_with("dir/k.cu:3: option `-arch=sm_80` not allowed"), "{e}");
}

#[test]
fn option_merely_containing_arch_is_allowed() {
    let loaded = Candidate::from_source(&Registry::library(), "k.cu", with_options(r#"["-Dhierarchical=1"]"#));
    assert!(loaded.is_ok(), "{}", loaded.unwrap_err());
}

#[test]
fn loading_a_missing_file_names_it() {
    let path = std::env::temp_dir().join("sadoku-core-tests-no-such-candidate.cu");
    let e = Candidate::load(&mut Registry::library(), &path).unwrap_err();
    assert_eq!(e.to_string(), format!("{}: no such file", path.display()));
}

#[test]
fn kernel_names_of_sadokus_helpers_are_reserved() {
    let source = file(&format!(
        "problem = \"trimm\"\n[[launch]]\nkernel = \"sadoku_mark\"\ngrid   = {GRID}\nblock  = {BLOCK}\nargs   = {ARGS}\n"
    ));
    assert_eq!(
        err_text(source),
        "dir/k.cu:3: launch 1: kernel names starting with `sadoku_` are reserved for sadoku's helpers"
    );
}
