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
mod tests;
