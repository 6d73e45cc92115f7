//! The core's vocabulary: the words every layer above speaks and that depend on nothing else in
//! the crate. Element types and their bits ([`Dtype`], [`element`]), a problem's size symbols and
//! their values ([`Sizes`]), the integer expressions of problem files and launch specs ([`Expr`]),
//! how an input is drawn ([`Distribution`]) and structured ([`Structure`]), and the precision an
//! output is judged in ([`ToleranceClass`]). Nothing here may `use crate::` outside `vocab` (the
//! layering test, `tests/layering.rs`, holds the whole crate to its layers).

pub mod distribution;
pub mod dtype;
pub mod element;
pub mod expr;
pub mod sizes;
pub mod structure;
pub mod tolerance;

pub use distribution::Distribution;
pub use dtype::Dtype;
pub use expr::{Expr, ExprError};
pub use sizes::Sizes;
pub use structure::Structure;
pub use tolerance::ToleranceClass;
