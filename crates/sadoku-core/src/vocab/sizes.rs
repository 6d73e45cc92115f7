use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use super::Expr;

/// Values of a problem's size symbols, e.g. {N: 4096}.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize)]
pub struct Sizes(pub BTreeMap<String, i64>);

impl Sizes {
    pub fn new<'a>(pairs: impl IntoIterator<Item = (&'a str, i64)>) -> Sizes {
        Sizes(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }
    pub fn get(&self, symbol: &str) -> Option<i64> {
        self.0.get(symbol).copied()
    }
    /// The value of a symbol the problem itself declared; absent only through a programming error.
    pub fn of(&self, symbol: &str) -> usize {
        self.get(symbol).map_or(0, |v| v.max(0) as usize)
    }
    /// Evaluate an expression over these sizes.
    pub fn eval(&self, e: &Expr) -> Result<i64, String> {
        e.eval(&|s| self.get(s)).map_err(|err| err.to_string())
    }
}

impl fmt::Display for Sizes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|(k, v)| format!("{k} = {v}")).collect();
        f.write_str(&parts.join(", "))
    }
}
