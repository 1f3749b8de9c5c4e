//! The house plan, checked: `src/`'s folders are layers (src/lib.rs), and a
//! layer may use the layers below it, never one above. This reads every
//! `src/**/*.rs` (unit-test modules and comments aside), maps each
//! `crate::…` path (`use` lines, grouped imports, paths written inline) and
//! each `super::` that leaves its folder to the folder it names, and fails
//! on an upward import — which also rules out a cycle between folders —
//! and on a cycle between the files of one folder.
//!
//! A new folder must be given its place in [`LAYERS`]; a new import that
//! goes up fails here with the file, the line and both layers.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The folders of `src/`, lowest layer first. `testkit` (keys, genesis and
/// chains for tests and demos) sits on the store; `sim` runs the peer as
/// the runtime does, so it sits above it; tools and the command line last.
const LAYERS: &[&str] = &[
    "chain", "ledger", "store", "testkit", "wire", "peer", "runtime", "sim", "tools", "cli",
];

/// One `crate::` use of another module: where it is, and what it names.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Edge {
    file: String,
    line: usize,
    /// The module path of the file using (e.g. `["peer", "core"]`).
    from: Vec<String>,
    /// The path used, from the crate root (e.g. `["runtime", "led", "Leds"]`).
    to: Vec<String>,
}

/// `src/peer/core.rs` → `["peer", "core"]`; `src/ledger/mod.rs` → `["ledger"]`.
fn module_path(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().expect("a file name");
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" && stem != "main" {
        parts.push(stem.to_string());
    }
    parts
}

/// The code of a file without its comments and its unit-test module (the
/// `#[cfg(test)]` module at the end of a file may use anything below it,
/// testkit included).
fn code_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        if t.starts_with("#[cfg(test)]") {
            break;
        }
        if t.starts_with("//") {
            continue;
        }
        // A trailing comment goes too (a `//` inside a string is rare in
        // paths and would only hide, never invent, an import).
        let code = match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        };
        out.push((i + 1, code.to_string()));
    }
    out
}

fn ident_at(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The paths a `{…}` group names, each as segments (nested groups expand).
fn group_paths(body: &str) -> Vec<Vec<String>> {
    let mut items = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in body.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                items.push(&body[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&body[start..]);
    let mut out = Vec::new();
    for item in items {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        match item.find('{') {
            Some(open) => {
                let prefix: Vec<String> = item[..open]
                    .split("::")
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect();
                let close = item.rfind('}').unwrap_or(item.len());
                for rest in group_paths(&item[open + 1..close]) {
                    out.push(prefix.iter().cloned().chain(rest).collect());
                }
            }
            None => out.push(
                item.split("::")
                    .map(|s| ident_at(s.trim()).to_string())
                    .filter(|s| !s.is_empty())
                    .collect(),
            ),
        }
    }
    out
}

/// Every `crate::…` and `super::…` path in a file, resolved from the root.
fn edges(file: &str, module: &[String], text: &str) -> Vec<Edge> {
    let lines = code_lines(text);
    // Groups can span lines: work on the joined code, remembering where
    // each line starts.
    let mut joined = String::new();
    let mut starts = Vec::new();
    for (n, l) in &lines {
        starts.push((joined.len(), *n));
        joined.push_str(l);
        joined.push('\n');
    }
    let line_of = |at: usize| {
        let i = starts.partition_point(|(s, _)| *s <= at);
        starts[i.saturating_sub(1)].1
    };
    let mut out = Vec::new();
    for root in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(off) = joined[from..].find(root) {
            let at = from + off;
            from = at + root.len();
            let before = joined[..at].chars().next_back();
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$') {
                continue;
            }
            let mut base: Vec<String> = if root == "crate::" {
                Vec::new()
            } else {
                // `super` from `peer/core.rs` (module `peer::core`) is
                // `peer`; from `peer/mod.rs` (module `peer`), the root.
                let mut m = module.to_vec();
                m.pop();
                m
            };
            let mut rest = &joined[from..];
            // `super::super::…`
            while root == "super::" && rest.starts_with("super::") {
                base.pop();
                rest = &rest["super::".len()..];
            }
            let paths = if let Some(body) = rest.strip_prefix('{') {
                let mut depth = 1;
                let mut end = 0;
                for (i, c) in body.char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                end = i;
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                group_paths(&body[..end])
            } else {
                let mut segs = Vec::new();
                let mut r = rest;
                loop {
                    let id = ident_at(r);
                    if id.is_empty() {
                        break;
                    }
                    segs.push(id.to_string());
                    match r[id.len()..].strip_prefix("::") {
                        Some(next) => r = next,
                        None => break,
                    }
                }
                vec![segs]
            };
            for p in paths {
                let to: Vec<String> = base.iter().cloned().chain(p).collect();
                if to.is_empty() || to[0] == "self" {
                    continue;
                }
                out.push(Edge {
                    file: file.to_string(),
                    line: line_of(at),
                    from: module.to_vec(),
                    to,
                });
            }
        }
    }
    out
}

fn layer(folder: &str) -> Option<usize> {
    LAYERS.iter().position(|l| *l == folder)
}

/// Upward imports: a folder using one above it in [`LAYERS`].
fn upward(edges: &[Edge]) -> Vec<String> {
    let mut out = Vec::new();
    for e in edges {
        let (Some(from), Some(to)) = (e.from.first(), e.to.first()) else {
            continue; // lib.rs and main.rs sit above everything
        };
        let (Some(lf), Some(lt)) = (layer(from), layer(to)) else {
            continue; // macros and items of the root (lib.rs)
        };
        if lt > lf {
            out.push(format!(
                "{}:{}: `{from}` (layer {lf}) uses `crate::{}` (`{to}`, layer {lt}, above it)",
                e.file,
                e.line,
                e.to.join("::")
            ));
        }
    }
    out
}

/// Cycles between the files of one folder: module A uses module B and B
/// uses A (a module's own children aside: a parent declares them).
fn cycles(edges: &[Edge], modules: &BTreeSet<Vec<String>>) -> Vec<String> {
    // The module an edge lands in: the longest known module prefix of it.
    let target = |to: &[String]| {
        (1..=to.len())
            .rev()
            .map(|n| to[..n].to_vec())
            .find(|m| modules.contains(m))
    };
    let mut graph: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for e in edges {
        let Some(t) = target(&e.to) else { continue };
        let (from, to) = (&e.from, &t);
        if from == to || from.first() != to.first() || to.is_empty() {
            continue;
        }
        // A parent using its child, or a child using its parent's items.
        if to.starts_with(from) || from.starts_with(to) {
            continue;
        }
        graph.entry(from.clone()).or_default().insert(to.clone());
    }
    let mut out = BTreeSet::new();
    for (a, uses) in &graph {
        for b in uses {
            if graph.get(b).is_some_and(|u| u.contains(a)) {
                let (x, y) = if a < b { (a, b) } else { (b, a) };
                out.insert(format!(
                    "`{}` and `{}` use each other",
                    x.join("::"),
                    y.join("::")
                ));
            }
        }
    }
    out.into_iter().collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The crate's edges and modules, read from `src/`.
fn read_src() -> (Vec<Edge>, BTreeSet<Vec<String>>) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut all = Vec::new();
    let mut modules = BTreeSet::new();
    for f in &files {
        let rel = f.strip_prefix(&src).expect("under src");
        let module = module_path(rel);
        let text = std::fs::read_to_string(f).expect("readable source");
        let shown = format!("src/{}", rel.display());
        all.extend(edges(&shown, &module, &text));
        modules.insert(module);
    }
    (all, modules)
}

#[test]
fn every_folder_of_src_has_a_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let p = entry.unwrap().path();
        let name = p.file_stem().unwrap().to_string_lossy().into_owned();
        if name == "lib" || name == "main" {
            continue;
        }
        if layer(&name).is_none() {
            missing.push(name);
        }
    }
    assert!(
        missing.is_empty(),
        "src/ has folders with no place in tests/architecture.rs's LAYERS \
         (and src/lib.rs's map): {missing:?}"
    );
}

#[test]
fn no_layer_uses_one_above_it_and_no_folder_has_a_cycle() {
    let (edges, modules) = read_src();
    assert!(
        edges.len() > 300,
        "only {} crate paths found in src/: the reader is broken",
        edges.len()
    );
    let mut problems = upward(&edges);
    problems.extend(cycles(&edges, &modules));
    assert!(
        problems.is_empty(),
        "the layers of src/lib.rs are broken:\n  {}",
        problems.join("\n  ")
    );
}

/// The check can fail: an upward import, a grouped one, a `super::` out of
/// the folder, and a cycle are each found in made-up sources.
#[test]
fn the_check_finds_what_it_must() {
    let m = |s: &str| s.split("::").map(String::from).collect::<Vec<_>>();
    let up = edges(
        "src/chain/tx.rs",
        &m("chain::tx"),
        "use crate::chain::codec;\n// use crate::cli::x;\nuse crate::{ledger::state::{self, X}, runtime::os};\nfn f() { crate::peer::core::Core::new(); }\n#[cfg(test)]\nmod tests { use crate::cli::y; }\n",
    );
    let found = upward(&up);
    assert_eq!(found.len(), 4, "{found:#?}");
    assert!(found[0].contains("src/chain/tx.rs:3") && found[0].contains("crate::ledger::state"));
    assert!(found.iter().any(|f| f.contains("crate::runtime::os")));
    assert!(found
        .iter()
        .any(|f| f.contains("src/chain/tx.rs:4") && f.contains("crate::peer::core::Core::new")));
    assert!(
        !found.iter().any(|f| f.contains("cli")),
        "comments and unit tests are not imports"
    );
    // `super` from a file in a folder stays in it; from a folder's mod.rs
    // it leaves it.
    let sup = edges("src/peer/mod.rs", &m("peer"), "use super::runtime::led;\n");
    assert_eq!(upward(&sup).len(), 1);
    let sup = edges("src/peer/core.rs", &m("peer::core"), "use super::policy;\n");
    assert_eq!(sup[0].to, m("peer::policy"));
    assert!(upward(&sup).is_empty());
    // A cycle between two files of one folder.
    let mut both = edges(
        "src/chain/a.rs",
        &m("chain::a"),
        "use crate::chain::b::B;\n",
    );
    both.extend(edges(
        "src/chain/b.rs",
        &m("chain::b"),
        "use super::a::A;\n",
    ));
    let mods: BTreeSet<_> = [m("chain"), m("chain::a"), m("chain::b")].into();
    assert_eq!(
        cycles(&both, &mods),
        ["`chain::a` and `chain::b` use each other"]
    );
}
