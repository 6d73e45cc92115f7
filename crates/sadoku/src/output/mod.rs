//! Exporters: the same report as a table for people or JSON for programs.

pub mod export;
pub mod html;
pub mod json;
mod plots;
pub mod table;
