//! Arguments must match the kernel's parameters before anything is launched: passing a 4-byte
//! integer where the kernel reads an 8-byte pointer is undefined behaviour, not a verdict.

use crate::compile::{CompiledModule, Entry};
use crate::spec::{ArgSpec, LaunchSpec};

/// How one argument is passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    Pointer,
    I32,
    I64,
}

/// Match a launch's `args` to its kernel's PTX signature; the error says what differs.
pub fn check(launch: &LaunchSpec, module: &CompiledModule) -> Result<Vec<ParamKind>, String> {
    let entry = module.entry(&launch.kernel).ok_or_else(|| missing(&launch.kernel, &module.entries))?;
    let sizes: Vec<String> = entry.params.iter().map(|p| p.bytes.to_string()).collect();
    let names: Vec<String> = launch.args.iter().map(arg_text).collect();
    if entry.params.len() != launch.args.len() {
        return Err(format!(
            "kernel `{}` takes {} parameters ({} bytes) but args lists {} ({})",
            launch.kernel,
            entry.params.len(),
            if sizes.is_empty() { "no".into() } else { sizes.join(", ") },
            launch.args.len(),
            if names.is_empty() { "none".into() } else { names.join(", ") },
        ));
    }
    entry
        .params
        .iter()
        .zip(&launch.args)
        .enumerate()
        .map(|(i, (p, a))| {
            let kind = match (a, p.bytes, p.is_float()) {
                (ArgSpec::Buffer(_), 8, false) => Some(ParamKind::Pointer),
                (ArgSpec::Int(_), 4, false) => Some(ParamKind::I32),
                (ArgSpec::Int(_), 8, false) => Some(ParamKind::I64),
                _ => None,
            };
            kind.ok_or_else(|| {
                let given = match a {
                    ArgSpec::Buffer(n) => format!("`{n}`, a buffer (an 8-byte pointer)"),
                    ArgSpec::Int(e) => format!("`{e}`, an integer"),
                };
                format!(
                    "parameter {} of kernel `{}` is a {}-byte .{} but args gives {given}",
                    i + 1,
                    launch.kernel,
                    p.bytes,
                    p.ty
                )
            })
        })
        .collect()
}

fn arg_text(a: &ArgSpec) -> String {
    match a {
        ArgSpec::Buffer(n) => n.clone(),
        ArgSpec::Int(e) => e.to_string(),
    }
}

fn missing(kernel: &str, entries: &[Entry]) -> String {
    let defined: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    format!(
        "kernel `{kernel}` not found in the compiled module (it defines: {}); declare it `extern \"C\" __global__`",
        if defined.is_empty() { "no kernels".into() } else { defined.join(", ") }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::candidate::{Expr, KeyLines};
    use crate::compile::Param;

    fn module(params: &[(&str, usize)]) -> CompiledModule {
        CompiledModule {
            arch: "sm_90".into(),
            image: vec![],
            ptx: String::new(),
            log: String::new(),
            entries: vec![Entry {
                name: "k".into(),
                params: params.iter().map(|&(ty, bytes)| Param { ty: ty.into(), bytes }).collect(),
            }],
            cache_hit: false,
            compile_ms: 0.0,
        }
    }

    fn launch(kernel: &str, args: Vec<ArgSpec>) -> LaunchSpec {
        let one = || Expr::constant(1);
        LaunchSpec {
            kernel: kernel.into(),
            grid: [one(), one(), one()],
            block: [one(), one(), one()],
            shared_mem: Expr::constant(0),
            args,
            line: 2,
            key_lines: KeyLines { grid: 3, block: 4, shared_mem: 2 },
        }
    }

    fn buf(n: &str) -> ArgSpec {
        ArgSpec::Buffer(n.into())
    }

    fn int(n: &str) -> ArgSpec {
        ArgSpec::Int(Expr::parse(n).unwrap())
    }

    #[test]
    fn matching_signature_gives_kinds() {
        let m = module(&[("u64", 8), ("u64", 8), ("u64", 8), ("u32", 4)]);
        let kinds = check(&launch("k", vec![buf("A"), buf("B"), buf("C"), int("N")]), &m).unwrap();
        assert_eq!(kinds, vec![ParamKind::Pointer, ParamKind::Pointer, ParamKind::Pointer, ParamKind::I32]);
        let m = module(&[("s64", 8)]);
        assert_eq!(check(&launch("k", vec![int("N*N")]), &m).unwrap(), vec![ParamKind::I64]);
    }

    #[test]
    fn refuses_a_count_mismatch_naming_both() {
        let m = module(&[("u64", 8), ("u64", 8), ("u64", 8), ("u32", 4)]);
        let e = check(&launch("k", vec![buf("A"), buf("B"), buf("C")]), &m).unwrap_err();
        assert_eq!(e, "kernel `k` takes 4 parameters (8, 8, 8, 4 bytes) but args lists 3 (A, B, C)");
    }

    #[test]
    fn refuses_a_size_or_type_mismatch() {
        let m = module(&[("u32", 4)]);
        let e = check(&launch("k", vec![buf("A")]), &m).unwrap_err();
        assert!(e.contains("parameter 1 of kernel `k` is a 4-byte .u32 but args gives `A`, a buffer"), "{e}");
        let m = module(&[("f32", 4)]);
        let e = check(&launch("k", vec![int("N")]), &m).unwrap_err();
        assert!(e.contains("is a 4-byte .f32 but args gives `N`, an integer"), "{e}");
    }

    #[test]
    fn refuses_a_missing_kernel_listing_what_exists() {
        let m = module(&[]);
        let e = check(&launch("trimm", vec![]), &m).unwrap_err();
        assert!(e.contains("kernel `trimm` not found in the compiled module (it defines: k)"), "{e}");
    }
}
