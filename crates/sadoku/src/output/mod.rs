//! Exporters: the same report as a table for people or JSON for programs.

pub mod export;
pub mod json;
pub mod table;
