//! Every crate's modules form layers: no top-level module of a `src/` reaches, through `crate::` paths,
//! a module that reaches back to it. The test reads the source text (no compiler involved): for
//! each top-level module (`src/x.rs` or `src/x/`), every `crate::a` and `crate::{a, b, ..}` path
//! outside comments names an edge to module `a`. Unit tests are left out (a `#[cfg(test)]` module
//! written inline, and files named `tests.rs`): a test may use a higher layer to build its inputs
//! without the code it tests depending on that layer. A cycle fails the test, naming the modules
//! and the files whose paths close it.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The text with comments (line and block, doc comments included) and string literals blanked,
/// so that a path named in prose or in a message is not an edge.
fn code_only(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if b[i] == b'"' {
            // A plain string literal (raw strings with `"` inside are not used near `crate::`).
            out.push_str("\"\"");
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
        } else if b[i] == b'\'' && b.get(i + 2) == Some(&b'\'') {
            // A char literal such as '{' would upset the brace count below.
            out.push_str("' '");
            i += 3;
        } else if b[i] == b'\'' && b.get(i + 1) == Some(&b'\\') {
            out.push_str("' '");
            i += 2;
            while i < b.len() && b[i] != b'\'' {
                i += 1;
            }
            i += 1;
        } else {
            out.push(b[i] as char);
            i += 1;
        }
    }
    out
}

/// The code with inline `#[cfg(test)] mod name { .. }` blocks removed.
fn without_test_modules(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let after = &rest[at + "#[cfg(test)]".len()..];
        let trimmed = after.trim_start();
        let is_inline_mod = (trimmed.starts_with("mod ") || trimmed.starts_with("pub mod "))
            && trimmed.find('{').is_some_and(|brace| trimmed.find(';').is_none_or(|semi| brace < semi));
        if !is_inline_mod {
            rest = after;
            continue;
        }
        let start = after.len() - trimmed.len() + trimmed.find('{').unwrap();
        let mut depth = 0usize;
        let mut end = after.len();
        for (k, c) in after[start..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = start + k + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// The top-level modules named by `crate::` paths in the code.
fn targets(code: &str) -> BTreeSet<String> {
    let ident = |s: &str| -> String { s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect() };
    let mut found = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        // `$crate::` in a macro and `sadoku_core::crate` can't occur; a preceding identifier
        // character means some other path (e.g. `my_crate::`).
        if code[..at].chars().next_back().is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        let rest = code[at + "crate::".len()..].trim_start();
        if let Some(group) = rest.strip_prefix('{') {
            // `crate::{a::X, b}`: the first identifier of each top-level item of the group.
            let mut depth = 0usize;
            let mut item_start = true;
            for (k, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if item_start && (c.is_alphanumeric() || c == '_') => {
                        found.insert(ident(&group[k..]));
                        item_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            let name = ident(rest);
            if !name.is_empty() {
                found.insert(name);
            }
        }
    }
    found
}

/// The strongly connected components of more than one module (Tarjan's algorithm), and modules
/// that name themselves through `crate::` are not cycles (a module may use its own paths).
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'g> {
        graph: &'g BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'g>(s: &mut State<'g>, v: &'g str) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.graph.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.graph.contains_key(w) {
                continue;
            }
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if s.on_stack.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            loop {
                let w = s.stack.pop().unwrap();
                s.on_stack.remove(w);
                component.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.out.push(component);
            }
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.out
}

/// The cycles among `src`'s top-level modules, each with the files that close it; empty if none.
fn cycles_in(src: &Path) -> String {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    // module -> module it names -> files naming it
    let mut edges: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for file in &files {
        let rel = file.strip_prefix(src).unwrap();
        let top = rel.components().next().unwrap().as_os_str().to_string_lossy().trim_end_matches(".rs").to_string();
        if top == "lib" || top == "main" || rel.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let code = without_test_modules(&code_only(&fs::read_to_string(file).unwrap()));
        let named = edges.entry(top.clone()).or_default();
        for target in targets(&code) {
            if target != top {
                named.entry(target).or_default().insert(rel.display().to_string());
            }
        }
    }
    let graph: BTreeMap<String, BTreeSet<String>> =
        edges.iter().map(|(m, to)| (m.clone(), to.keys().cloned().collect())).collect();
    let found = cycles(&graph);
    if std::env::var_os("SADOKU_PRINT_LAYERS").is_some() {
        for (m, to) in &edges {
            eprintln!("{m} -> {}", to.keys().cloned().collect::<Vec<_>>().join(", "));
        }
    }
    let mut report = String::new();
    for component in &found {
        report.push_str(&format!("cycle among {}:\n", component.join(", ")));
        for m in component {
            for (to, files) in &edges[m] {
                if component.contains(to) {
                    let files: Vec<&str> = files.iter().map(String::as_str).collect();
                    report.push_str(&format!("  {m} -> {to}  ({})\n", files.join(", ")));
                }
            }
        }
    }
    report
}

/// Every crate of the workspace, this one first: its top-level modules import no cycle.
#[test]
fn no_import_cycles_between_top_level_modules() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut report = String::new();
    for name in ["sadoku-core", "sadoku", "sadoku-cuda"] {
        let found = cycles_in(&crates.join(name).join("src"));
        if !found.is_empty() {
            report.push_str(&format!("{name}:\n{found}"));
        }
    }
    assert!(report.is_empty(), "top-level modules import each other:\n{report}");
}

#[test]
fn the_cycle_finder_finds_cycles() {
    let graph: BTreeMap<String, BTreeSet<String>> =
        [("a", vec!["b"]), ("b", vec!["c"]), ("c", vec!["a", "d"]), ("d", vec![]), ("e", vec!["d"])]
            .into_iter()
            .map(|(m, to)| (m.to_string(), to.into_iter().map(str::to_string).collect()))
            .collect();
    assert_eq!(cycles(&graph), vec![vec!["a".to_string(), "b".to_string(), "c".to_string()]]);
    let code = code_only(
        "use crate::{a::X, b::{Y, Z}};\n// crate::ignored\nfn f() { crate::c::g(\"crate::no\"); }\n\
         #[cfg(test)]\nmod tests { use crate::t; }\n",
    );
    let code = without_test_modules(&code);
    assert_eq!(targets(&code), ["a", "b", "c"].into_iter().map(str::to_string).collect());
}
