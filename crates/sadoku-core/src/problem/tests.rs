//! The format and its lint: the library's problems load, and each kind of mistake is one line
//! naming the file and line.

use super::registry::LIBRARY;
use super::*;
use crate::device::Precision;

/// A library problem by name (the library parsed afresh: a test shares no registry).
fn find(name: &str) -> Option<std::sync::Arc<Problem>> {
    Registry::library().find(name).cloned()
}

/// Every library problem.
fn all() -> Vec<std::sync::Arc<Problem>> {
    Registry::library().all().to_vec()
}

const GOOD: &str = r#"
name = "axpy"
summary = "y = 2·x + z"
family = "elementwise"

[sizes]
symbols = ["N"]
constraints = ["N >= 1"]
timed = [{ N = 1048576 }]
check = [{ N = 1 }, { N = 1000 }]
small = { N = 17 }

[[tensor]]
name = "x"
role = "input"
dtype = "f32"
shape = ["N"]
distributions = ["randn(0, 2)", "uniform(-1, 1)"]

[[tensor]]
name = "z"
role = "input"
dtype = "f32"
shape = ["N"]

[[tensor]]
name = "y"
role = "output"
dtype = "f32"
shape = ["N"]

[reference]
kernel = "reference.cu"
terms = 2
scale = "abs"

[floors]
flops = "2 * N"
bytes = "12 * N"
"#;

const REFERENCE: &str = r#"/* sadoku
problem = "axpy"
[[launch]]
kernel = "axpy_fp64"
grid = ["cdiv(N, 256)", 1, 1]
block = [256, 1, 1]
args = ["x", "z", "y", "N"]
*/
extern "C" __global__ void axpy_fp64(const float* x, const float* z, double* y, long long n) {}
"#;

fn parse(text: &str) -> Result<Problem, ProblemError> {
    format::parse("p/problem.toml", text, &|f| {
        if f == "reference.cu" { Ok(REFERENCE.into()) } else { Err("no such file".into()) }
    })
}

fn error(text: &str) -> String {
    parse(text).expect_err("the lint refuses it").to_string()
}

#[test]
fn a_good_problem_parses_with_everything_it_declares() {
    let p = parse(GOOD).unwrap();
    assert_eq!(p.name(), "axpy");
    assert_eq!(p.size_symbols(), &["N"]);
    assert_eq!(p.check_sizes(), vec![Sizes::new([("N", 1048576)]), Sizes::new([("N", 1)]), Sizes::new([("N", 1000)])]);
    let b = p.buffers(&Sizes::new([("N", 10)]));
    assert_eq!(
        b.iter().map(|b| (b.name, b.role, b.elements())).collect::<Vec<_>>(),
        vec![("x", Role::Input, 10), ("z", Role::Input, 10), ("y", Role::Output, 10)]
    );
    assert_eq!(
        p.input_distributions(0, &Sizes::new([("N", 10)])),
        vec![Distribution::Randn { mean: 0.0, std: 2.0 }, Distribution::STANDARD_NORMAL]
    );
    assert_eq!(
        p.input_distributions(1, &Sizes::new([("N", 10)])),
        vec![Distribution::Uniform { lo: -1.0, hi: 1.0 }, Distribution::UNIT_UNIFORM]
    );
    assert_eq!(p.min_flops(&Sizes::new([("N", 10)])), 20.0);
    assert_eq!(p.terms(&Sizes::new([("N", 10)])), 2);
    assert!(!p.has_baseline());
    assert!(matches!(&p.reference, ReferenceSpec::Kernel(k) if k.launches.len() == 1));
    assert!(p.reference_host(&Sizes::new([("N", 1)]), &[vec![1.0], vec![1.0]]).is_none());
}

#[test]
fn the_library_has_trimm_as_data() {
    let t = find("trimm").expect("trimm ships in the library");
    assert_eq!(t.timed_sizes(), Sizes::new([("N", 4096)]));
    assert_eq!(t.check_sizes().iter().map(|s| s.of("N")).collect::<Vec<_>>(), vec![4096, 1, 17, 1000, 4095]);
    // The write-up's figure: 22.9 GFLOP at N = 4096, and brute force at small N.
    assert!((t.min_flops(&t.timed_sizes()) / 1e9 - 22.92).abs() < 0.01);
    for n in [1usize, 2, 3, 17] {
        let mut flops = 0usize;
        for i in 0..n {
            for j in 0..=i {
                flops += 2 * (i - j + 1);
            }
        }
        assert_eq!(t.min_flops(&Sizes::new([("N", n as i64)])), flops as f64);
    }
    assert!(
        t.buffers(&t.timed_sizes()).iter().filter(|b| b.role == Role::Input).all(|b| b.structure == Structure::Lower)
    );
    assert_eq!(t.baseline_name(Precision::F32), "cuBLAS SGEMM (TF32 off) + tril, as torch.matmul(a, b).tril()");
    // The host's independent truth is the exact product of the triangles.
    let a = vec![1.0, 0.0, 0.0, 2.0, -3.0, 0.0, 4.0, 5.0, 6.0];
    let b = vec![-1.0, 0.0, 0.0, 0.5, 2.0, 0.0, 1.0, 1.0, 1.0];
    let r = &t.reference_host(&Sizes::new([("N", 3)]), &[a, b]).unwrap()[0];
    assert_eq!(r.values, vec![-1.0, 0.0, 0.0, -3.5, -6.0, 0.0, 4.5, 16.0, 6.0]);
    assert_eq!(r.scale, vec![1.0, 0.0, 0.0, 3.5, 6.0, 0.0, 12.5, 16.0, 6.0]);
}

#[test]
fn every_library_problem_is_valid() {
    // A broken library entry is skipped with a message at run time: here it fails the build.
    for dir in LIBRARY.dirs() {
        let toml = dir.get_file(dir.path().join("problem.toml")).expect("every library directory has a problem.toml");
        let read = |f: &str| {
            dir.get_file(dir.path().join(f))
                .and_then(|x| x.contents_utf8())
                .map(str::to_string)
                .ok_or("missing".to_string())
        };
        let p = format::parse(&dir.path().display().to_string(), toml.contents_utf8().unwrap(), &read);
        assert!(p.is_ok(), "{}", p.unwrap_err());
    }
}

#[test]
fn mistakes_are_one_line_naming_the_file_and_line() {
    let cases: [(&str, &str, &str); 17] = [
        ("role = \"output\"", "role = \"output\"\ntolerance = \"bf17\"", "tolerance `bf17` unknown"),
        (
            "name = \"z\"\nrole = \"input\"",
            "name = \"z\"\nrole = \"input\"\ntolerance = \"bf16\"",
            "tensor `z`: inputs are drawn, never judged: no tolerance",
        ),
        (
            "name = \"z\"\nrole = \"input\"\ndtype = \"f32\"",
            "name = \"z\"\nrole = \"input\"\ndtype = \"i64\"",
            "tensor `z`: an integer input needs its distribution, e.g. int(0, C)",
        ),
        (
            "name = \"x\"\nrole = \"input\"\ndtype = \"f32\"",
            "name = \"x\"\nrole = \"input\"\ndtype = \"i32\"",
            "tensor `x`: distribution `randn(0, 2)` for an integer tensor: use int(lo, hi)",
        ),
        (
            "\"randn(0, 2)\", \"uniform(-1, 1)\"",
            "\"int(0, N - 1)\"",
            "at N = 1: tensor `x`: distribution `int(0, N - 1)` is empty at N = 1 (int(0, 0))",
        ),
        ("\"randn(0, 2)\", \"uniform(-1, 1)\"", "\"int(0, M)\"", "distribution bound: unknown size symbol `M`"),
        (
            "role = \"output\"\ndtype = \"f32\"",
            "role = \"output\"\ndtype = \"i64\"\ntolerance = \"fp32\"",
            "tolerance `fp32` for an integer output: integers are exact",
        ),
        (
            "shape = [\"N\"]\ndistributions = [\"randn(0, 2)\", \"uniform(-1, 1)\"]",
            "shape = [\"M\"]\ndistributions = [\"randn(0, 2)\", \"uniform(-1, 1)\"]",
            "p/problem.toml:13: tensor `x` shape: unknown size symbol `M`",
        ),
        (
            "check = [{ N = 1 }, { N = 1000 }]",
            "check = [{ N = 0 }, { N = 1000 }]",
            "p/problem.toml:10: check case N = 0: constraint `N >= 1` does not hold",
        ),
        (
            "bytes = \"12 * N\"",
            "bytes = \"13 * N\"",
            "the bytes floor (13631488) exceeds what the tensors hold (12582912)",
        ),
        (
            "role = \"output\"\ndtype = \"f32\"",
            "role = \"output\"\ndtype = \"bool\"",
            "tensor `y`: bool outputs are not judged yet (outputs: f32, f16, bf16, f64, i32 and i64",
        ),
        (
            "name = \"z\"\nrole = \"input\"\ndtype = \"f32\"",
            "name = \"z\"\nrole = \"input\"\ndtype = \"f33\"",
            "dtype `f33` unknown",
        ),
        ("\"randn(0, 2)\"", "\"randn(0, -2)\"", "distribution `randn(0, -2)`: std must be positive"),
        ("kernel = \"reference.cu\"", "kernel = \"missing.cu\"", "reference kernel `missing.cu`: no such file"),
        ("small = { N = 17 }", "small = { M = 17 }", "small case {M = 17}: no value for size `N`"),
        ("role = \"output\"", "role = \"result\"", "role `result`: expected `input` or `output`"),
        (
            "constraints = [\"N >= 1\"]",
            "constraints = [\"N\"]",
            "p/problem.toml:8: constraint `N`: expected a comparison",
        ),
    ];
    for (from, to, want) in cases {
        assert!(GOOD.contains(from), "{from}");
        let e = error(&GOOD.replacen(from, to, 1));
        assert!(e.contains(want), "{from} → {to}: got `{e}`, want `{want}`");
        assert!(!e.contains('\n'), "{e}");
    }
}

/// A matrix problem for structures and masks: A [B, M, N] (its structure the test's), a bool mask
/// m [N] drawn from `mask`, y [B, M]; the check cases `cases`; then each (from, to) of `edits`.
fn matrix_problem(structure: &str, cases: &str, mask: &str, edits: &[(&str, &str)]) -> Result<Problem, ProblemError> {
    let mut text = format!(
        r#"
name = "mat"
summary = "y = A·m"
family = "gemm"

[sizes]
symbols = ["B", "M", "N"]
constraints = ["N >= 1"]
timed = [{{ B = 2, M = 64, N = 64 }}]
check = [{cases}]
small = {{ B = 3, M = 5, N = 5 }}

[[tensor]]
name = "A"
role = "input"
dtype = "f32"
shape = ["B", "M", "N"]
{structure}

[[tensor]]
name = "m"
role = "input"
dtype = "bool"
shape = ["N"]
distributions = [{mask}]

[[tensor]]
name = "y"
role = "output"
dtype = "f32"
shape = ["B", "M"]

[reference]
kernel = "reference.cu"
terms = "N"

[floors]
flops = "2 * B * M * N"
bytes = "4 * B * M"
"#
    );
    for (from, to) in edits {
        assert!(text.contains(from), "{from}");
        text = text.replacen(from, to, 1);
    }
    let reference = r#"/* sadoku
problem = "mat"
[[launch]]
kernel = "mat_fp64"
grid = ["B", 1, 1]
block = [256, 1, 1]
args = ["A", "m", "y", "B", "M", "N"]
*/
extern "C" __global__ void mat_fp64(const float* a, const unsigned char* m, double* y, long long b, long long r, long long n) {}
"#;
    format::parse("p/problem.toml", &text, &|_| Ok(reference.into()))
}

#[test]
fn structures_and_masks_parse_and_what_cannot_have_them_is_refused() {
    let square = "{ B = 1, M = 1, N = 1 }, { B = 4, M = 17, N = 17 }";
    let oblong = "{ B = 1, M = 1, N = 1 }, { B = 4, M = 17, N = 30 }";
    let mask = "\"int(0, 2)\"";
    for (text, structure, cases) in [
        ("", Structure::Dense, oblong),
        ("structure = \"dense\"", Structure::Dense, oblong),
        ("structure = \"lower\"", Structure::Lower, oblong),
        ("structure = \"upper\"", Structure::Upper, oblong),
        ("structure = \"symmetric\"", Structure::Symmetric, square),
    ] {
        let p = matrix_problem(text, cases, mask, &[]).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(p.tensors[0].structure, structure, "{text}");
        let n = if structure == Structure::Symmetric { 17 } else { 30 };
        let at = Sizes::new([("B", 4), ("M", 17), ("N", n)]);
        let a = &p.buffers(&at)[0];
        assert_eq!((a.structure, a.rows(), a.cols()), (structure, 17, n as usize), "{text}");
        // The mask is a one-byte input drawn 0 or 1, in every trial and stress profile.
        let m = &p.buffers(&at)[1];
        assert_eq!((m.dtype, m.bytes(), m.structure), (Dtype::Bool, n as usize, Structure::Dense));
        assert_eq!(p.input_distributions(0, &at)[1], Distribution::Int { lo: 0, hi: 2 });
        assert_eq!(p.input_distributions(1, &at)[1], Distribution::Int { lo: 0, hi: 2 });
        assert_eq!(p.stress_distributions(0, &at)[1], Distribution::Int { lo: 0, hi: 2 });
    }
    // A symmetric matrix is square at every case: the lint evaluates the shape at each one, and
    // a user's size (or one drawn at run time) is held to it too.
    let e = matrix_problem("structure = \"symmetric\"", oblong, mask, &[]).unwrap_err().to_string();
    assert!(e.contains("tensor `A` at B = 4, M = 17, N = 30") && e.contains("square") && e.contains("17 × 30"), "{e}");
    let p = matrix_problem("structure = \"symmetric\"", square, mask, &[]).unwrap();
    let e = p.validate_sizes(&Sizes::new([("B", 1), ("M", 3), ("N", 4)])).unwrap_err();
    assert!(e.contains("square"), "{e}");
    assert!(p.validate_sizes(&Sizes::new([("B", 1), ("M", 4), ("N", 4)])).is_ok());
    // What cannot have a structure, or this one: each a line naming the tensor.
    // (what the tensor declares, the problem's other lines, its sizes, what the refusal says)
    type Refused<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)], &'a str);
    let refused: [Refused; 5] = [
        ("structure = \"diagonal\"", mask, &[], "tensor `A`: structure `diagonal`: expected `lower`, `upper` or"),
        (
            "",
            mask,
            &[("shape = [\"N\"]", "shape = [\"N\"]\nstructure = \"upper\"")],
            "tensor `m`: structure `upper` is for matrices: the tensor needs at least two dimensions",
        ),
        (
            "structure = \"lower\"",
            mask,
            &[(
                "dtype = \"f32\"\nshape = [\"B\", \"M\", \"N\"]",
                "dtype = \"i32\"\nshape = [\"B\", \"M\", \"N\"]\ndistributions = [\"int(0, 9)\"]",
            )],
            "tensor `A`: structure `lower` is for floating-point input matrices",
        ),
        (
            "",
            mask,
            &[("shape = [\"B\", \"M\"]", "shape = [\"B\", \"M\"]\nstructure = \"symmetric\"")],
            "tensor `y`: structure `symmetric` is for floating-point input matrices",
        ),
        (
            "",
            mask,
            &[("role = \"output\"\ndtype = \"f32\"", "role = \"output\"\ndtype = \"u8\"")],
            "tensor `y`: u8 outputs are not judged yet",
        ),
    ];
    for (structure, mask, edits, want) in refused {
        let e = matrix_problem(structure, square, mask, edits).unwrap_err().to_string();
        assert!(e.contains(want) && !e.contains('\n'), "{structure} {mask} {edits:?}: {e}");
    }
    // A mask's values are 0 and 1: a wider range is refused, where it is fixed and where a size
    // makes it so; a real-valued draw is refused as for any integer tensor.
    let e = matrix_problem("", square, "\"int(0, 3)\"", &[]).unwrap_err().to_string();
    assert!(e.contains("tensor `m`") && e.contains("bool tensor: its values are in [0, 2)"), "{e}");
    let e = matrix_problem("", square, "\"int(0, B)\"", &[]).unwrap_err().to_string();
    assert!(e.contains("at B = 4") && e.contains("int(0, 4)") && e.contains("[0, 2)"), "{e}");
    let e = matrix_problem("", square, "\"randn\"", &[]).unwrap_err().to_string();
    assert!(e.contains("for an integer tensor: use int(lo, hi)"), "{e}");
    // A u8 input holds [0, 256).
    let u8 = [("dtype = \"bool\"", "dtype = \"u8\"")];
    assert!(matrix_problem("", square, "\"int(0, 256)\"", &u8).is_ok());
    let e = matrix_problem("", square, "\"int(-1, 5)\"", &u8).unwrap_err().to_string();
    assert!(e.contains("u8 tensor: its values are in [0, 256)"), "{e}");
}

/// Every judged dtype in one problem: sizes in bytes, integer draws with size bounds, and each
/// output's tolerance class (declared, its dtype's, or the review's).
#[test]
fn dtypes_distributions_and_tolerances_parse() {
    let text = GOOD
        .replacen("dtype = \"f32\"", "dtype = \"bf16\"", 1)
        .replacen(
            "name = \"z\"\nrole = \"input\"\ndtype = \"f32\"\nshape = [\"N\"]",
            "name = \"z\"\nrole = \"input\"\ndtype = \"i64\"\nshape = [\"N\"]\ndistributions = [\"int(0, N)\", \"int(-3, max(N, 5))\"]",
            1,
        )
        .replacen("role = \"output\"\ndtype = \"f32\"", "role = \"output\"\ndtype = \"bf16\"", 1)
        .replace(
            "[reference]",
            "[[tensor]]\nname = \"idx\"\nrole = \"output\"\ndtype = \"i32\"\nshape = [\"N\"]\n\n[[tensor]]\nname = \"w\"\nrole = \"output\"\ndtype = \"f32\"\nshape = [1]\ntolerance = \"fp16\"\n\n[reference]",
        )
        .replace("bytes = \"12 * N\"", "bytes = \"14 * N\"");
    let reference = REFERENCE.replace("\"y\", \"N\"", "\"y\", \"idx\", \"w\", \"N\"");
    let p = format::parse("p/problem.toml", &text, &|_| Ok(reference.clone())).unwrap();
    let at = Sizes::new([("N", 10)]);
    let b = p.buffers(&at);
    assert_eq!(
        b.iter().map(|b| (b.name, b.dtype, b.bytes())).collect::<Vec<_>>(),
        vec![
            ("x", Dtype::Bf16, 20),
            ("z", Dtype::I64, 80),
            ("y", Dtype::Bf16, 20),
            ("idx", Dtype::I32, 40),
            ("w", Dtype::F32, 4)
        ]
    );
    assert_eq!(p.input_distributions(0, &at)[1], Distribution::Int { lo: 0, hi: 10 });
    assert_eq!(p.input_distributions(1, &at)[1], Distribution::Int { lo: -3, hi: 10 });
    assert_eq!(p.input_distributions(1, &Sizes::new([("N", 1)]))[1], Distribution::Int { lo: -3, hi: 5 });
    use crate::checks::accuracy::ToleranceClass as T;
    assert_eq!(p.output_tolerances(T::Fp32), vec![T::Bf16, T::Exact, T::Fp16]);
    // A review for TF32 loosens a float class only where TF32 is looser; exact stays.
    assert_eq!(p.output_tolerances(T::Tf32), vec![T::Bf16, T::Exact, T::Tf32]);
    // A user's size with an empty integer range is refused like any bad size.
    let e = p.validate_sizes(&Sizes::new([("N", 0)])).unwrap_err();
    assert!(e.contains("N >= 1"), "{e}");
}

#[test]
fn a_reference_kernel_must_name_known_buffers() {
    let text = GOOD.replace("kernel = \"reference.cu\"", "kernel = \"bad.cu\"");
    let e = format::parse("p/problem.toml", &text, &|_| Ok(REFERENCE.replace("\"x\", \"z\"", "\"x\", \"w\"")))
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown argument `w`"), "{e}");
}

#[test]
fn a_gemm_whose_operands_do_not_fit_is_refused() {
    let t = include_str!("../../../../problems/trimm/problem.toml");
    let e = format::parse("trimm", &t.replacen("k = \"N\"", "k = \"N + 1\"", 1), &|_| Err("none".into())).unwrap_err();
    assert!(e.to_string().contains("reference gemm: `A` holds 16777216 elements, the product needs 16781312"), "{e}");
}

#[test]
fn distributions_parse_and_print() {
    assert_eq!(Distribution::parse("randn").unwrap(), Distribution::STANDARD_NORMAL);
    assert_eq!(Distribution::parse(" uniform(-1, 3) ").unwrap(), Distribution::Uniform { lo: -1.0, hi: 3.0 });
    assert_eq!(Distribution::parse("randn(1.5, 0.25)").unwrap().to_string(), "randn(1.5, 0.25)");
    assert_eq!(Distribution::UNIT_UNIFORM.to_string(), "rand");
    for bad in ["normal(0, 1)", "uniform(1, 1)", "randn(0)", "randn(nan, 1)", "uniform(0, 1"] {
        assert!(Distribution::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn stress_profiles_parse_and_print() {
    let cases = [
        ("ties(4)", Distribution::Ties { k: 4 }),
        ("sorted(1, -1)", Distribution::Sorted { lo: 1.0, hi: -1.0 }),
        ("zero_rows(0.25)", Distribution::ZeroRows { p: 0.25 }),
        ("exp2(-40, 40)", Distribution::Exp2 { lo: -40, hi: 40 }),
        ("subnormal", Distribution::Subnormal),
    ];
    for (text, d) in cases {
        assert_eq!(Distribution::parse(text).unwrap(), d);
        assert_eq!(d.to_string(), text);
        assert!(d.is_stress_shape());
    }
    for bad in ["ties(1)", "ties(2.5)", "sorted(1, 1)", "zero_rows(0)", "zero_rows(2)", "exp2(3, 2)", "exp2(0, 2000)"] {
        assert!(Distribution::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn stress_is_declared_per_input_or_comes_from_the_family() {
    // Declared: z's own list, and x (whose first distribution was chosen) keeps its own.
    let declared = GOOD.replacen(
        "shape = [\"N\"]\n\n[[tensor]]\nname = \"y\"",
        "shape = [\"N\"]\nstress = [\"ties(8)\", \"sorted(0, 1)\"]\n\n[[tensor]]\nname = \"y\"",
        1,
    );
    let p = parse(&declared).unwrap();
    let n = Sizes::new([("N", 1000)]);
    assert_eq!(p.stress_profiles(), 2);
    assert_eq!(
        p.stress_distributions(0, &n),
        [Distribution::Randn { mean: 0.0, std: 2.0 }, Distribution::Ties { k: 8 }]
    );
    assert_eq!(p.stress_distributions(3, &n)[1], Distribution::Sorted { lo: 0.0, hi: 1.0 });
    // Undeclared: the family's (elementwise: huge and subnormal magnitudes) for z, drawn by default.
    let p = parse(GOOD).unwrap();
    assert_eq!(p.stress_profiles(), 2);
    assert_eq!(p.stress_distributions(1, &n)[1], Distribution::Subnormal);
    assert_eq!(p.stress_distributions(0, &n)[0], Distribution::Randn { mean: 0.0, std: 2.0 });
    let softmax = parse(&GOOD.replacen("\"elementwise\"", "\"softmax\"", 1)).unwrap();
    assert_eq!(softmax.stress_distributions(0, &n)[1], Distribution::Randn { mean: 100.0, std: 2.0 });
    // Linted like a distribution.
    let with = |stress: &str| {
        GOOD.replacen(
            "shape = [\"N\"]\n\n[[tensor]]\nname = \"y\"",
            &format!("shape = [\"N\"]\nstress = [{stress}]\n\n[[tensor]]\nname = \"y\""),
            1,
        )
    };
    assert!(error(&with("\"ties(0)\"")).contains("stress `ties(0)`"), "{}", error(&with("\"ties(0)\"")));
    assert!(error(&with("\"int(0, N - 1)\"")).contains("is empty at N = 1"), "{}", error(&with("\"int(0, N - 1)\"")));
    let f16 = with("\"exp2(0, 20)\"").replacen(
        "dtype = \"f32\"\nshape = [\"N\"]\nstress",
        "dtype = \"f16\"\nshape = [\"N\"]\nstress",
        1,
    );
    assert!(error(&f16).contains("overflows f16"), "{}", error(&f16));
    let int = with("\"ties(4)\"").replacen(
        "dtype = \"f32\"\nshape = [\"N\"]\nstress",
        "dtype = \"i32\"\nshape = [\"N\"]\ndistributions = [\"int(0, 9)\"]\nstress",
        1,
    );
    assert!(error(&int).contains("for an integer tensor: use int(lo, hi)"), "{}", error(&int));
    let output =
        GOOD.replacen("shape = [\"N\"]\n\n[reference]", "shape = [\"N\"]\nstress = [\"ties(4)\"]\n\n[reference]", 1);
    assert!(error(&output).contains("no stress"), "{}", error(&output));
}

#[test]
fn every_library_problem_has_stress_profiles_that_fit_its_inputs() {
    for p in Registry::library().all().iter().filter(|p| p.origin.starts_with("library")) {
        assert!(p.stress_profiles() >= 1, "{} has no stress profile", p.name);
        for sizes in p.check_sizes() {
            for k in 0..p.stress_profiles() {
                let d = p.stress_distributions(k, &sizes);
                let inputs = p.tensors.iter().filter(|t| t.role == Role::Input);
                for (t, d) in inputs.zip(d) {
                    assert_eq!(d.unfit_for(t.dtype), None, "{} {}", p.name, t.name);
                }
            }
        }
    }
    // The families' own choices where a library problem relies on them.
    let x = |name: &str| find(name).unwrap().tensors[0].stress.clone();
    assert_eq!(x("log_softmax")[0].to_string(), "randn(100, 2)");
    assert_eq!(x("l2norm").iter().map(|d| d.to_string()).collect::<Vec<_>>(), ["ties(4)"], "no zero rows without eps");
    assert!(x("layernorm").iter().any(|d| d.to_string() == "zero_rows(0.25)"));
}

#[test]
fn a_cudnn_baseline_must_fit_its_tensors() {
    let t = include_str!("../../../../problems/conv2d_3x3/problem.toml");
    let read = |f: &str| -> Result<String, String> {
        if f == "reference.cu" {
            Ok(include_str!("../../../../problems/conv2d_3x3/reference.cu").into())
        } else {
            Err("none".into())
        }
    };
    let p = format::parse("conv", t, &read).unwrap();
    assert!(p.baseline_name(Precision::F32).starts_with("cuDNN convolution forward (fp32, FMA math: TF32 off)"));
    assert!(p.baseline_name(Precision::Tf32).starts_with("cuDNN convolution forward (TF32 tensor-op math)"));
    let e = format::parse("conv", &t.replacen("r = 3, s = 3", "r = 5, s = 5", 1), &read).unwrap_err().to_string();
    assert!(e.contains("baseline: `wt` holds") && e.contains("the library call reads or writes"), "{e}");
    let e = format::parse("conv", &t.replacen("cudnn.conv2d", "cudnn.conv3d", 1), &read).unwrap_err().to_string();
    assert!(e.contains("baseline `cudnn.conv3d`: expected"), "{e}");
    let e = format::parse("conv", &t.replacen("filter = \"wt\"", "filter = \"w\"", 1), &read).unwrap_err().to_string();
    assert!(e.contains("baseline cudnn.conv2d: no tensor `w`"), "{e}");
}

#[test]
fn a_torch_baseline_is_an_expression_run_in_python_and_nothing_else() {
    let with = |baseline: &str| format!("{GOOD}\n[[baseline]]\n{baseline}\n");
    let p = parse(&with("builtin = \"torch\"\nexpression = \"2 * x + z\"")).unwrap();
    assert_eq!(p.torch_baseline(), Some("2 * x + z"));
    assert!(p.has_baseline() && p.baseline_in_python() && p.torch().is_none());
    assert_eq!(p.baseline_name(Precision::F32), "eager PyTorch: 2 * x + z");
    assert_eq!(p.baseline_name(Precision::Tf32), "eager PyTorch: 2 * x + z (TF32 on)");
    // Not library work on the judge's device: the Model's process runs it.
    let sizes = p.timed_sizes();
    assert!(p.baseline(&sizes, &[], &[], Precision::F32).is_empty());
    // Its worker option names the inputs, then the outputs, and the sizes.
    let option = torch::expression_option(&p, &sizes, "2 * x + z", false);
    let spec: serde_json::Value = serde_json::from_str(option.strip_prefix(torch::OPTION).unwrap()).unwrap();
    assert_eq!(spec["kind"], "expression");
    assert_eq!(spec["sizes"]["N"], 1048576);
    let args: Vec<(&str, &str)> = spec["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["name"].as_str().unwrap(), a["role"].as_str().unwrap()))
        .collect();
    assert_eq!(args, [("x", "input"), ("z", "input"), ("y", "output")]);

    let e = error(&with("builtin = \"torch\""));
    assert!(e.contains("baseline torch needs its `expression`"), "{e}");
    let e = error(&with("builtin = \"torch\"\nexpression = \"  \""));
    assert!(e.contains("needs its `expression`"), "{e}");
    let e = error(&with("builtin = \"torch\"\nexpression = \"x\"\nlike = \"torch.add\""));
    assert!(e.contains("takes no `like`"), "{e}");
    let e = error(&with("builtin = \"cudnn.softmax\"\nexpression = \"x\""));
    assert!(
        e.contains("give one of gemm, conv2d, pool2d, softmax, expression")
            || e.contains("needs its [baseline.softmax]"),
        "{e}"
    );
    let e = error(&with(
        "builtin = \"torch\"\nexpression = \"x\"\n[baseline.softmax]\ninput = \"x\"\noutput = \"y\"\nrows = 1\ncols = \"N\"",
    ));
    assert!(e.contains("a baseline is one library call"), "{e}");
}

#[test]
fn the_library_problems_without_a_library_call_have_a_torch_baseline() {
    for p in all() {
        if p.torch().is_some() {
            continue;
        }
        assert!(p.has_baseline(), "{} has no baseline", p.name);
    }
    // Each expression runs on the CPU in `crates/sadoku/tests/bridge.rs`, and against the truth
    // on a GPU in every review.
    assert_eq!(find("layernorm").unwrap().torch_baseline(), Some("F.layer_norm(x, (D,), weight, bias, 1e-5)"));
    assert!(find("softmax").unwrap().torch_baseline().is_none(), "cuDNN's softmax stays");
}
