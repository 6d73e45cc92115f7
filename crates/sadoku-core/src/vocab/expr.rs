//! Integer expressions for launch specs: grid/block sizes, shared-memory bytes,
//! scratch sizes and integer kernel arguments, e.g. `cdiv(N, 16)` or `N * N * 4`.
//!
//! Specs are hand-written and evaluated for many problem sizes, so the parser
//! never panics, reports byte columns, and evaluation uses checked arithmetic:
//! a silently wrapped grid size would launch the wrong kernel configuration.

use std::fmt;
use std::str::FromStr;

/// Deepest bracket/unary/call nesting accepted; bounds parser recursion so
/// hostile input cannot overflow the stack.
const MAX_NESTING: usize = 64;
/// Tallest tree accepted; bounds recursion in `eval`, `Display` and `Drop`
/// for long operator chains such as `1 + 1 + ... + 1`.
const MAX_HEIGHT: usize = 256;

/// A launch-spec quantity kept symbolic so one spec serves every problem size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expr {
    node: Node,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    Num(i64),
    Sym(String),
    Neg(Box<Node>),
    Bin(Op, Box<Node>, Box<Node>),
    Call(Func, Vec<Node>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Func {
    Cdiv,
    Min,
    Max,
}

/// Why an expression could not be parsed or evaluated; every variant names
/// the offending text so a spec author can find the mistake.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExprError {
    /// The text is not an expression; `column` is a byte offset into `text`.
    #[error("in `{text}`: {message} at column {column}")]
    Syntax { text: String, column: usize, message: String },
    /// Callers know which symbols exist and can add them to the message.
    #[error("unknown symbol `{name}`")]
    UnknownSymbol { name: String },
    /// `text` is the dividing sub-expression, not the whole expression.
    #[error("division by zero in `{text}`")]
    DivisionByZero { text: String },
    /// `text` is the sub-expression whose result does not fit in an `i64`.
    #[error("integer overflow in `{text}`")]
    Overflow { text: String },
    /// A function was applied outside the range where it is meaningful.
    #[error("in `{text}`: {message}")]
    Domain { text: String, message: String },
}

impl Expr {
    /// Parse once when the spec is loaded so mistakes surface before any launch.
    pub fn parse(text: &str) -> Result<Expr, ExprError> {
        let mut parser = Parser { text, pos: 0, tok: Tok::End, at: 0, nest: 0 };
        parser.bump()?;
        let (node, _) = parser.binary(1)?;
        if parser.tok != Tok::End {
            return Err(parser.error(parser.at, format!("unexpected {}", parser.found())));
        }
        Ok(Expr { node })
    }

    /// Evaluate with checked i64 arithmetic; `lookup` resolves symbols.
    /// Checked, because a wrapped size would silently launch the wrong grid.
    pub fn eval(&self, lookup: &dyn Fn(&str) -> Option<i64>) -> Result<i64, ExprError> {
        eval(&self.node, lookup)
    }

    /// Every symbol the expression mentions, deduplicated, in first-appearance order.
    /// Lets callers reject specs that mention undefined sizes before evaluating.
    #[must_use]
    pub fn symbols(&self) -> Vec<String> {
        fn walk(node: &Node, out: &mut Vec<String>) {
            match node {
                Node::Num(_) => {}
                Node::Sym(name) => {
                    if !out.contains(name) {
                        out.push(name.clone());
                    }
                }
                Node::Neg(e) => walk(e, out),
                Node::Bin(_, l, r) => {
                    walk(l, out);
                    walk(r, out);
                }
                Node::Call(_, args) => args.iter().for_each(|a| walk(a, out)),
            }
        }
        let mut out = Vec::new();
        walk(&self.node, &mut out);
        out
    }

    /// Specs may give a plain TOML integer; this avoids a round trip through text.
    #[must_use]
    pub fn constant(value: i64) -> Expr {
        Expr { node: Node::Num(value) }
    }
}

/// Canonical, re-parseable form, so specs can be echoed back in reports and
/// error messages exactly as they will be evaluated.
impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.node.fmt(f)
    }
}

/// Lets spec loaders use `str::parse` and generic `FromStr` plumbing.
impl FromStr for Expr {
    type Err = ExprError;

    fn from_str(text: &str) -> Result<Expr, ExprError> {
        Expr::parse(text)
    }
}

impl Op {
    fn from_char(c: char) -> Option<Op> {
        Some(match c {
            '+' => Op::Add,
            '-' => Op::Sub,
            '*' => Op::Mul,
            '/' => Op::Div,
            '%' => Op::Rem,
            _ => return None,
        })
    }

    fn symbol(self) -> char {
        match self {
            Op::Add => '+',
            Op::Sub => '-',
            Op::Mul => '*',
            Op::Div => '/',
            Op::Rem => '%',
        }
    }

    fn prec(self) -> u8 {
        match self {
            Op::Add | Op::Sub => 1,
            Op::Mul | Op::Div | Op::Rem => 2,
        }
    }
}

impl Func {
    fn from_name(name: &str) -> Option<Func> {
        Some(match name {
            "cdiv" => Func::Cdiv,
            "min" => Func::Min,
            "max" => Func::Max,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Func::Cdiv => "cdiv",
            Func::Min => "min",
            Func::Max => "max",
        }
    }
}

impl Node {
    /// Binding strength when printed; atoms (including `-x`) bind tightest.
    fn prec(&self) -> u8 {
        match self {
            Node::Bin(op, ..) => op.prec(),
            _ => 3,
        }
    }
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn operand(f: &mut fmt::Formatter<'_>, node: &Node, paren: bool) -> fmt::Result {
            if paren { write!(f, "({node})") } else { write!(f, "{node}") }
        }
        match self {
            Node::Num(n) => write!(f, "{n}"),
            Node::Sym(name) => f.write_str(name),
            // `-5` parses as a literal, so a negated literal needs brackets to
            // stay a `Neg` node when re-parsed.
            Node::Neg(e) => {
                f.write_str("-")?;
                operand(f, e, matches!(**e, Node::Num(_) | Node::Bin(..)))
            }
            Node::Bin(op, l, r) => {
                operand(f, l, l.prec() < op.prec())?;
                write!(f, " {} ", op.symbol())?;
                operand(f, r, r.prec() <= op.prec())
            }
            Node::Call(func, args) => {
                write!(f, "{}(", func.name())?;
                for (i, arg) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{arg}")?;
                }
                f.write_str(")")
            }
        }
    }
}

fn eval(node: &Node, lookup: &dyn Fn(&str) -> Option<i64>) -> Result<i64, ExprError> {
    let overflow = || ExprError::Overflow { text: node.to_string() };
    let domain = |message: String| ExprError::Domain { text: node.to_string(), message };
    match node {
        Node::Num(n) => Ok(*n),
        Node::Sym(name) => lookup(name).ok_or_else(|| ExprError::UnknownSymbol { name: name.clone() }),
        Node::Neg(e) => eval(e, lookup)?.checked_neg().ok_or_else(overflow),
        Node::Bin(op, l, r) => {
            let (a, b) = (eval(l, lookup)?, eval(r, lookup)?);
            if b == 0 && matches!(op, Op::Div | Op::Rem) {
                return Err(ExprError::DivisionByZero { text: node.to_string() });
            }
            match op {
                Op::Add => a.checked_add(b),
                Op::Sub => a.checked_sub(b),
                Op::Mul => a.checked_mul(b),
                Op::Div => a.checked_div(b),
                // Only `i64::MIN % -1` wraps, and its true value 0 fits.
                Op::Rem => Some(a.wrapping_rem(b)),
            }
            .ok_or_else(overflow)
        }
        Node::Call(func, args) => {
            let vals = args.iter().map(|a| eval(a, lookup)).collect::<Result<Vec<_>, _>>()?;
            match func {
                Func::Min => vals.iter().copied().min(),
                Func::Max => vals.iter().copied().max(),
                Func::Cdiv => {
                    let [a, b] = vals[..] else {
                        return Err(domain("cdiv takes exactly 2 arguments".into()));
                    };
                    if a < 0 {
                        return Err(domain(format!("cdiv numerator must be non-negative, got {a}")));
                    }
                    if b <= 0 {
                        return Err(domain(format!("cdiv divisor must be positive, got {b}")));
                    }
                    // Equals (a + b - 1) / b without the intermediate overflow.
                    Some(a / b + i64::from(a % b != 0))
                }
            }
            .ok_or_else(|| domain(format!("{} needs at least 1 argument", func.name())))
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok<'a> {
    /// Unsigned magnitude; the sign is applied by the parser so that
    /// `-9223372036854775808` is accepted.
    Int(u64),
    Ident(&'a str),
    Punct(char),
    End,
}

/// A parsed node together with its tree height.
type Parsed = Result<(Node, usize), ExprError>;

/// Recursive-descent parser that lexes on demand, so the leftmost error wins.
struct Parser<'a> {
    text: &'a str,
    /// Byte offset just past the current token.
    pos: usize,
    tok: Tok<'a>,
    /// Byte offset of the current token.
    at: usize,
    nest: usize,
}

impl Parser<'_> {
    fn error(&self, column: usize, message: impl Into<String>) -> ExprError {
        ExprError::Syntax { text: self.text.to_string(), column, message: message.into() }
    }

    fn found(&self) -> String {
        match self.tok {
            Tok::End => "end of input".into(),
            _ => format!("`{}`", &self.text[self.at..self.pos]),
        }
    }

    fn bump(&mut self) -> Result<(), ExprError> {
        let rest = self.text[self.pos..].trim_start();
        self.at = self.text.len() - rest.len();
        let Some(c) = rest.chars().next() else {
            self.tok = Tok::End;
            self.pos = self.at;
            return Ok(());
        };
        let word = &rest[..rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len())];
        let (tok, len) = if c.is_ascii_digit() {
            (Tok::Int(self.literal(word)?), word.len())
        } else if c.is_ascii_alphabetic() || c == '_' {
            (Tok::Ident(word), word.len())
        } else if "+-*/%(),".contains(c) {
            (Tok::Punct(c), 1)
        } else {
            return Err(self.error(self.at, format!("unexpected character {c:?}")));
        };
        self.tok = tok;
        self.pos = self.at + len;
        Ok(())
    }

    fn literal(&self, word: &str) -> Result<u64, ExprError> {
        let mut value = 0u64;
        for c in word.chars().filter(|&c| c != '_') {
            let digit =
                c.to_digit(10).ok_or_else(|| self.error(self.at, format!("invalid integer literal `{word}`")))?;
            value = value
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(digit)))
                .ok_or_else(|| self.error(self.at, "integer literal out of range"))?;
        }
        Ok(value)
    }

    fn expect(&mut self, c: char, message: &str) -> Result<(), ExprError> {
        if self.tok != Tok::Punct(c) {
            return Err(self.error(self.at, format!("{message}, found {}", self.found())));
        }
        self.bump()
    }

    /// Runs `f` one nesting level deeper, refusing to go past `MAX_NESTING`;
    /// `column` is where the level was opened.
    fn nested(&mut self, column: usize, f: fn(&mut Self) -> Parsed) -> Parsed {
        if self.nest >= MAX_NESTING {
            return Err(self.error(column, format!("nested more than {MAX_NESTING} levels deep")));
        }
        self.nest += 1;
        let result = f(self);
        self.nest -= 1;
        result
    }

    fn node(&self, column: usize, node: Node, height: usize) -> Parsed {
        if height > MAX_HEIGHT {
            return Err(self.error(column, format!("expression deeper than {MAX_HEIGHT} levels")));
        }
        Ok((node, height))
    }

    /// Left-associative binary operators of precedence `prec` and tighter.
    fn binary(&mut self, prec: u8) -> Parsed {
        let operand = |p: &mut Self| if prec == 1 { p.binary(2) } else { p.unary() };
        let (mut lhs, mut height) = operand(self)?;
        while let Some(op) = match self.tok {
            Tok::Punct(c) => Op::from_char(c).filter(|op| op.prec() == prec),
            _ => None,
        } {
            let column = self.at;
            self.bump()?;
            let (rhs, rh) = operand(self)?;
            (lhs, height) = self.node(column, Node::Bin(op, Box::new(lhs), Box::new(rhs)), height.max(rh) + 1)?;
        }
        Ok((lhs, height))
    }

    fn unary(&mut self) -> Parsed {
        let column = self.at;
        match self.tok {
            Tok::Punct('-') => {
                self.bump()?;
                if let Tok::Int(magnitude) = self.tok {
                    let value = i64::try_from(-i128::from(magnitude))
                        .map_err(|_| self.error(self.at, "integer literal out of range"))?;
                    self.bump()?;
                    return Ok((Node::Num(value), 1));
                }
                let (e, h) = self.nested(column, Self::unary)?;
                self.node(column, Node::Neg(Box::new(e)), h + 1)
            }
            Tok::Punct('(') => {
                self.bump()?;
                let inner = self.nested(column, |p| p.binary(1))?;
                self.expect(')', "expected `)`")?;
                Ok(inner)
            }
            Tok::Int(magnitude) => {
                let value = i64::try_from(magnitude).map_err(|_| self.error(column, "integer literal out of range"))?;
                self.bump()?;
                Ok((Node::Num(value), 1))
            }
            Tok::Ident(name) => {
                self.bump()?;
                match (Func::from_name(name), self.tok == Tok::Punct('(')) {
                    (Some(func), true) => self.call(column, func),
                    (None, true) => Err(self.error(column, format!("unknown function `{name}`"))),
                    (Some(_), false) => Err(self.error(self.at, format!("expected `(` after `{name}`"))),
                    (None, false) => Ok((Node::Sym(name.to_string()), 1)),
                }
            }
            _ => Err(self.error(column, "expected an expression")),
        }
    }

    /// Parses `(args)` after a function name that starts at `column`.
    fn call(&mut self, column: usize, func: Func) -> Parsed {
        self.bump()?;
        let (mut args, mut height) = (Vec::new(), 0);
        if self.tok != Tok::Punct(')') {
            loop {
                let (arg, h) = self.nested(column, |p| p.binary(1))?;
                args.push(arg);
                height = height.max(h);
                if self.tok != Tok::Punct(',') {
                    break;
                }
                self.bump()?;
            }
        }
        self.expect(')', "expected `,` or `)`")?;
        let arity_ok = match func {
            Func::Cdiv => args.len() == 2,
            Func::Min | Func::Max => !args.is_empty(),
        };
        if !arity_ok {
            let wanted = if func == Func::Cdiv { "exactly 2 arguments" } else { "at least 1 argument" };
            let message = format!("`{}` takes {wanted}, got {}", func.name(), args.len());
            return Err(self.error(column, message));
        }
        self.node(column, Node::Call(func, args), height + 1)
    }
}

#[cfg(test)]
mod tests {
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
}
