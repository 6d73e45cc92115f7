use anyhow::Result;
use serde::Serialize;

/// One pretty-printed JSON document on stdout.
pub fn print<T: Serialize>(value: &T) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}
