use super::*;
use proptest::prelude::*;

fn vars(name: &str) -> Option<i64> {
    match name {
        "N" => Some(100),
        "M" => Some(7),
        _ => None,
    }
}

fn ev(text: &str) -> Result<i64, ExprError> {
    Expr::parse(text)?.eval(&vars)
}

fn with_n(text: &str, n: i64) -> Result<i64, ExprError> {
    Expr::parse(text).unwrap().eval(&|s| (s == "N").then_some(n))
}

fn err(text: &str) -> String {
    match ev(text) {
        Ok(v) => panic!("`{text}` evaluated to {v}"),
        Err(e) => e.to_string(),
    }
}

fn canon(text: &str) -> String {
    Expr::parse(text).unwrap().to_string()
}

fn syntax(text: &str) -> (usize, String) {
    match Expr::parse(text) {
        Err(ExprError::Syntax { text: t, column, message }) => {
            assert_eq!(t, text);
            (column, message)
        }
        other => panic!("`{text}` gave {other:?}"),
    }
}

#[test]
fn literals() {
    assert_eq!(ev("42"), Ok(42));
    assert_eq!(ev("1_000_000"), Ok(1_000_000));
    assert_eq!(ev("0"), Ok(0));
    assert_eq!(ev("9223372036854775807"), Ok(i64::MAX));
    assert_eq!(ev("-9223372036854775808"), Ok(i64::MIN));
    assert_eq!(ev("- 5"), Ok(-5));
    assert_eq!(syntax("9223372036854775808"), (0, "integer literal out of range".into()));
    assert_eq!(syntax("1 + -9223372036854775809"), (5, "integer literal out of range".into()));
    assert_eq!(syntax("N + 99999999999999999999999"), (4, "integer literal out of range".into()));
    assert_eq!(syntax("16N"), (0, "invalid integer literal `16N`".into()));
    assert_eq!(syntax("0x10"), (0, "invalid integer literal `0x10`".into()));
}

#[test]
fn operators() {
    assert_eq!(ev("2 + 3"), Ok(5));
    assert_eq!(ev("2 - 3"), Ok(-1));
    assert_eq!(ev("6 * 7"), Ok(42));
    assert_eq!(ev("7 / 2"), Ok(3));
    assert_eq!(ev("-7 / 2"), Ok(-3));
    assert_eq!(ev("7 / -2"), Ok(-3));
    assert_eq!(ev("7 % 3"), Ok(1));
    assert_eq!(ev("-7 % 3"), Ok(-1));
    assert_eq!(ev("7 % -3"), Ok(1));
    assert_eq!(ev("-N"), Ok(-100));
    assert_eq!(ev("--N"), Ok(100));
    assert_eq!(ev("-(N - 1)"), Ok(-99));
    assert_eq!(ev("N"), Ok(100));
    assert_eq!(ev("_x1"), Err(ExprError::UnknownSymbol { name: "_x1".into() }));
}

#[test]
fn functions() {
    assert_eq!(with_n("cdiv(N, 16)", 33), Ok(3));
    assert_eq!(with_n("cdiv(N, 16)", 32), Ok(2));
    assert_eq!(with_n("cdiv(N, 16)", 0), Ok(0));
    assert_eq!(with_n("cdiv(N, 1)", 5), Ok(5));
    assert_eq!(with_n("cdiv(N, 2)", i64::MAX), Ok(i64::MAX / 2 + 1));
    assert_eq!(with_n("cdiv(N, N)", i64::MAX), Ok(1));
    assert_eq!(ev("min(3, 1, 2)"), Ok(1));
    assert_eq!(ev("max(3, 1, 2)"), Ok(3));
    assert_eq!(ev("min(N)"), Ok(100));
    assert_eq!(ev("max(-N, M)"), Ok(7));
    assert_eq!(with_n("max(cdiv(N,128),1)", 0), Ok(1));
    assert_eq!(with_n("max(cdiv(N,128),1)", 1000), Ok(8));
    assert_eq!(ev(" \t cdiv ( N ,\n16 ) "), Ok(7));
}

#[test]
fn precedence_and_associativity() {
    assert_eq!(ev("2 + 3 * 4"), Ok(14));
    assert_eq!(ev("(2 + 3) * 4"), Ok(20));
    assert_eq!(ev("10 - 4 - 3"), Ok(3));
    assert_eq!(ev("100 / 10 / 5"), Ok(2));
    assert_eq!(ev("2 * 3 % 4"), Ok(2));
    assert_eq!(ev("7 % 4 * 2"), Ok(6));
    assert_eq!(ev("-2 * 3"), Ok(-6));
    assert_eq!(ev("-(2 + 3) * 4"), Ok(-20));
    assert_eq!(ev("2 * -3 - -4"), Ok(-2));
    assert_eq!(ev("-3 + N % 7"), Ok(-1));
    assert_eq!(with_n("(N + 31) / 32", 33), Ok(2));
    assert_eq!(with_n("N*N*4", 8), Ok(256));
    assert_eq!(with_n("min(1024, N) + 1", 5000), Ok(1025));
    let tree = |t: &str| Expr::parse(t).unwrap();
    assert_eq!(tree("a - b - c"), tree("(a - b) - c"));
    assert_ne!(tree("a - b - c"), tree("a - (b - c)"));
    assert_eq!(tree("a + b * c"), tree("a + (b * c)"));
    assert_eq!(tree("a / b % c"), tree("(a / b) % c"));
}

#[test]
fn display_is_canonical() {
    assert_eq!(canon("N*N*4"), "N * N * 4");
    assert_eq!(canon("(N+31)/32"), "(N + 31) / 32");
    assert_eq!(canon("((N*M))"), "N * M");
    assert_eq!(canon("N-(M-1)"), "N - (M - 1)");
    assert_eq!(canon("(N-M)-1"), "N - M - 1");
    assert_eq!(canon("N/(M*2)"), "N / (M * 2)");
    assert_eq!(canon("max(cdiv(N,128),1)"), "max(cdiv(N, 128), 1)");
    assert_eq!(canon("-(N+1)"), "-(N + 1)");
    assert_eq!(canon("-(5)"), "-(5)");
    assert_eq!(canon("-(-5)"), "-(-5)");
    assert_eq!(canon("- 5"), "-5");
    assert_eq!(canon("N - -5"), "N - -5");
    assert_eq!(canon("--N"), "--N");
    assert_eq!(Expr::constant(-5).to_string(), "-5");
    for value in [0, 7, -5, i64::MAX, i64::MIN] {
        let e = Expr::constant(value);
        assert_eq!(Expr::parse(&e.to_string()), Ok(e.clone()));
        assert_eq!(e.eval(&|_| None), Ok(value));
    }
    assert_eq!("cdiv(N, 16)".parse::<Expr>(), Expr::parse("cdiv(N,16)"));
}

#[test]
fn symbols_in_first_appearance_order() {
    let e = Expr::parse("N * M + max(N, K, cdiv(M, L)) - K").unwrap();
    assert_eq!(e.symbols(), ["N", "M", "K", "L"]);
    assert!(Expr::constant(3).symbols().is_empty());
}

#[test]
fn syntax_errors() {
    let msg = |t: &str| Expr::parse(t).unwrap_err().to_string();
    assert_eq!(msg("cdiv(N,)"), "in `cdiv(N,)`: expected an expression at column 7");
    assert_eq!(msg(""), "in ``: expected an expression at column 0");
    assert_eq!(msg("   "), "in `   `: expected an expression at column 3");
    assert_eq!(syntax("N +"), (3, "expected an expression".into()));
    assert_eq!(syntax("N * * 2"), (4, "expected an expression".into()));
    assert_eq!(syntax("(N + 1"), (6, "expected `)`, found end of input".into()));
    assert_eq!(syntax("N)"), (1, "unexpected `)`".into()));
    assert_eq!(syntax("N M"), (2, "unexpected `M`".into()));
    assert_eq!(syntax("2 1_000"), (2, "unexpected `1_000`".into()));
    assert_eq!(syntax("cdiv(N 2)"), (7, "expected `,` or `)`, found `2`".into()));
    assert_eq!(syntax("foo(1)"), (0, "unknown function `foo`".into()));
    assert_eq!(syntax("1 + cdiv(1)"), (4, "`cdiv` takes exactly 2 arguments, got 1".into()));
    assert_eq!(syntax("cdiv(1, 2, 3)"), (0, "`cdiv` takes exactly 2 arguments, got 3".into()));
    assert_eq!(syntax("min()"), (0, "`min` takes at least 1 argument, got 0".into()));
    assert_eq!(syntax("max(1,)"), (6, "expected an expression".into()));
    assert_eq!(syntax("min + 1"), (4, "expected `(` after `min`".into()));
    assert_eq!(syntax("N $ 2"), (2, "unexpected character '$'".into()));
    // Columns are byte offsets on char boundaries, even after non-ASCII text.
    assert_eq!(syntax("é + N"), (0, "unexpected character 'é'".into()));
    assert_eq!(syntax("N\u{a0}+ é"), (5, "unexpected character 'é'".into()));
    assert_eq!(syntax("2 ∗ 3"), (2, "unexpected character '∗'".into()));
}

#[test]
fn nesting_limits() {
    let parens = |n: usize| format!("{}N{}", "(".repeat(n), ")".repeat(n));
    assert_eq!(Expr::parse(&parens(MAX_NESTING)).unwrap().to_string(), "N");
    let (column, message) = syntax(&parens(MAX_NESTING + 1));
    assert_eq!((column, message.as_str()), (MAX_NESTING, "nested more than 64 levels deep"));
    assert!(Expr::parse(&parens(100_000)).is_err());
    assert_eq!(with_n(&format!("{}N", "-".repeat(MAX_NESTING)), 3), Ok(3));
    assert!(Expr::parse(&format!("{}N", "-".repeat(MAX_NESTING + 1))).is_err());
    assert!(Expr::parse(&format!("{}N", "-".repeat(100_000))).is_err());
    assert!(Expr::parse(&format!("{}1)", "min(".repeat(100_000))).is_err());
    let chain = |n: usize| vec!["1"; n].join(" + ");
    assert_eq!(ev(&chain(MAX_HEIGHT)), Ok(MAX_HEIGHT as i64));
    let (_, message) = syntax(&chain(MAX_HEIGHT + 1));
    assert_eq!(message, "expression deeper than 256 levels");
    assert!(Expr::parse(&chain(100_000)).is_err());
}

#[test]
fn eval_errors() {
    assert_eq!(err("N + M + K"), "unknown symbol `K`");
    assert_eq!(ev("K"), Err(ExprError::UnknownSymbol { name: "K".into() }));
    assert_eq!(err("1 + N / (N - N)"), "division by zero in `N / (N - N)`");
    assert_eq!(ev("N % 0"), Err(ExprError::DivisionByZero { text: "N % 0".into() }));
    let overflow = |t: &str| Err(ExprError::Overflow { text: t.into() });
    assert_eq!(with_n("N * N", 1 << 32), overflow("N * N"));
    assert_eq!(with_n("1 + (N + 1)", i64::MAX), overflow("N + 1"));
    assert_eq!(with_n("N - 1", i64::MIN), overflow("N - 1"));
    assert_eq!(with_n("-N", i64::MIN), overflow("-N"));
    assert_eq!(with_n("N / -1", i64::MIN), overflow("N / -1"));
    assert_eq!(ev("-9223372036854775808 / -1"), overflow("-9223372036854775808 / -1"));
    assert_eq!(
        err("N * N * N * N * N * N * N * N * N * N"),
        "integer overflow in `N * N * N * N * N * N * N * N * N * N`"
    );
    assert_eq!(with_n("N % -1", i64::MIN), Ok(0));
    assert_eq!(
        with_n("cdiv(N, 4)", -3),
        Err(ExprError::Domain {
            text: "cdiv(N, 4)".into(),
            message: "cdiv numerator must be non-negative, got -3".into(),
        })
    );
    assert_eq!(err("cdiv(N, 0)"), "in `cdiv(N, 0)`: cdiv divisor must be positive, got 0");
    assert_eq!(err("cdiv(N, -M)"), "in `cdiv(N, -M)`: cdiv divisor must be positive, got -7");
}

fn sym() -> impl Strategy<Value = Node> {
    prop::sample::select(vec!["N", "M", "K", "n_2"]).prop_map(|s| Node::Sym(s.into()))
}

/// Arbitrary well-formed trees; shallow enough to stay inside the limits.
fn tree(leaf: BoxedStrategy<Node>) -> impl Strategy<Value = Node> {
    leaf.prop_recursive(6, 48, 4, |inner| {
        let bin = prop::sample::select(vec![Op::Add, Op::Sub, Op::Mul, Op::Div, Op::Rem]);
        let minmax = prop::sample::select(vec![Func::Min, Func::Max]);
        prop_oneof![
            inner.clone().prop_map(|e| Node::Neg(Box::new(e))),
            (bin, inner.clone(), inner.clone()).prop_map(|(op, l, r)| Node::Bin(op, Box::new(l), Box::new(r))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Node::Call(Func::Cdiv, vec![a, b])),
            (minmax, prop::collection::vec(inner, 1..4)).prop_map(|(f, args)| Node::Call(f, args)),
        ]
    })
}

fn any_tree() -> impl Strategy<Value = Node> {
    tree(prop_oneof![any::<i64>().prop_map(Node::Num), sym()].boxed())
}

fn small_tree() -> impl Strategy<Value = Node> {
    tree(prop_oneof![(-20i64..20).prop_map(Node::Num), sym()].boxed())
}

/// Symbol values: `K` stays unknown to exercise `UnknownSymbol`.
fn env(n: i64, m: i64) -> impl Fn(&str) -> Option<i64> {
    move |s| match s {
        "N" => Some(n),
        "M" => Some(m),
        "n_2" => Some(2),
        _ => None,
    }
}

/// Straightforward i128 evaluation; `None` for anything undefined or not
/// representable in i64.
fn reference(node: &Node, vars: &dyn Fn(&str) -> Option<i64>) -> Option<i128> {
    let v = match node {
        Node::Num(n) => i128::from(*n),
        Node::Sym(s) => i128::from(vars(s)?),
        Node::Neg(e) => -reference(e, vars)?,
        Node::Bin(op, l, r) => {
            let (a, b) = (reference(l, vars)?, reference(r, vars)?);
            match op {
                Op::Add => a + b,
                Op::Sub => a - b,
                Op::Mul => a * b,
                Op::Div => a.checked_div(b)?,
                Op::Rem => a.checked_rem(b)?,
            }
        }
        Node::Call(f, args) => {
            let vals: Vec<i128> = args.iter().map(|a| reference(a, vars)).collect::<Option<_>>()?;
            match f {
                Func::Min => *vals.iter().min()?,
                Func::Max => *vals.iter().max()?,
                Func::Cdiv if vals[0] >= 0 && vals[1] > 0 => (vals[0] + vals[1] - 1) / vals[1],
                Func::Cdiv => return None,
            }
        }
    };
    i64::try_from(v).ok().map(i128::from)
}

fn alphabet_string() -> impl Strategy<Value = String> {
    let atoms = vec![
        "0",
        "1",
        "7",
        "16",
        "1_0",
        "9223372036854775808",
        "N",
        "M",
        "+",
        "-",
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
        "cdiv(",
        "min(",
        "max(",
        "é",
    ];
    prop::collection::vec(prop::sample::select(atoms), 0..40).prop_map(|v| v.concat())
}

fn check_parse(text: &str, n: i64, m: i64) -> Result<(), TestCaseError> {
    match Expr::parse(text) {
        Ok(e) => {
            let _ = e.eval(&env(n, m));
            let _ = e.symbols();
            prop_assert_eq!(Expr::parse(&e.to_string()), Ok(e));
        }
        Err(ExprError::Syntax { text: t, column, message }) => {
            prop_assert_eq!(t.as_str(), text);
            prop_assert!(column <= text.len() && text.is_char_boundary(column));
            prop_assert!(!message.is_empty());
        }
        Err(other) => prop_assert!(false, "parse returned non-syntax error {other:?}"),
    }
    Ok(())
}

proptest! {
    #[test]
    fn parse_never_panics_on_any_string(text in any::<String>(), n in any::<i64>(), m in any::<i64>()) {
        check_parse(&text, n, m)?;
    }

    #[test]
    fn parse_never_panics_on_expression_alphabet(
        text in alphabet_string(), n in any::<i64>(), m in any::<i64>(), depth in 0usize..80,
    ) {
        check_parse(&text, n, m)?;
        check_parse(&format!("{}{text}{}", "(".repeat(depth), ")".repeat(depth)), n, m)?;
    }

    #[test]
    fn eval_never_panics(node in any_tree(), n in any::<i64>(), m in any::<i64>()) {
        let e = Expr { node };
        let _ = e.eval(&env(n, m));
        let _ = e.eval(&|_| None);
    }

    #[test]
    fn display_round_trips(node in any_tree()) {
        let e = Expr { node };
        prop_assert_eq!(Expr::parse(&e.to_string()), Ok(e.clone()));
        prop_assert_eq!(e.to_string().parse::<Expr>()?.to_string(), e.to_string());
    }

    #[test]
    fn eval_matches_i128_reference(node in small_tree(), n in -50i64..50, m in -50i64..50) {
        let vars = env(n, m);
        let expected = reference(&node, &vars);
        prop_assert_eq!(Expr { node }.eval(&vars).ok().map(i128::from), expected);
    }

    #[test]
    fn eval_matches_i128_reference_on_extreme_values(node in any_tree(), n in any::<i64>(), m in any::<i64>()) {
        let vars = env(n, m);
        let expected = reference(&node, &vars);
        prop_assert_eq!(Expr { node }.eval(&vars).ok().map(i128::from), expected);
    }
}
