//! The server's layering (DESIGN §6), read from its source: which files import which, through
//! `crate::…` and `super::…` paths outside tests and comments. Two rules hold:
//! - no import circle spans more than two files, nor two files in different folders;
//! - imports go down the layers: routes and the CLI operations → API handlers → HTTP plumbing,
//!   auth, state and the webhook worker → engine and files → ledger → db → the base.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::as_conversions,
    clippy::indexing_slicing
)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each top-level module (a folder or a file of `src/`) and its layer, lowest first.
const LAYERS: &[(&str, u8)] = &[
    ("error", 0),
    ("config", 0),
    ("tenant", 0),
    ("telemetry", 0),
    ("crypto", 0),
    ("resolver", 0),
    ("clock", 0),
    ("registry", 0),
    ("db", 1),
    ("ledger", 2),
    ("engine", 3),
    ("files", 3),
    ("http", 4),
    ("auth", 4),
    ("state", 4),
    ("webhooks", 4),
    ("api", 5),
    ("oauth", 5),
    ("openapi", 5),
    ("routes", 6),
    ("app", 6),
    ("backup", 6),
    ("mover", 6),
    ("admin", 6),
    ("seed", 6),
    ("lib", 7),
];

type Graph = BTreeMap<String, BTreeSet<String>>;

fn source_files(dir: &Path, root: &Path, into: &mut BTreeMap<String, String>) {
    let entries = std::fs::read_dir(dir).expect("read src");
    for entry in entries.map(|e| e.expect("entry")) {
        let path = entry.path();
        if path.is_dir() {
            source_files(&path, root, into);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let relative = path.strip_prefix(root).expect("relative");
            let text = std::fs::read_to_string(&path).expect("read file");
            into.insert(relative.to_string_lossy().replace('\\', "/"), text);
        }
    }
}

/// The code of a file without its tests and comments.
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or("");
    text.lines()
        .map(|line| line.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The module path of a file: `engine/read.rs` is `engine::read`, `auth/mod.rs` is `auth`.
fn module_of(file: &str) -> Vec<String> {
    let mut parts: Vec<String> = file
        .trim_end_matches(".rs")
        .split('/')
        .map(str::to_string)
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

/// The file a module path lives in: the longest prefix that is a file.
fn file_of(path: &[String], files: &BTreeMap<String, String>) -> String {
    for n in (1..=path.len()).rev() {
        let prefix = path[..n].join("/");
        for candidate in [format!("{prefix}.rs"), format!("{prefix}/mod.rs")] {
            if files.contains_key(&candidate) {
                return candidate;
            }
        }
    }
    "lib.rs".to_string()
}

/// The paths one `crate::…` or `super::…` occurrence names, a `{…}` group expanded one level.
fn named_paths(code: &str, start: usize, module: &[String]) -> Vec<Vec<String>> {
    let rest = &code[start..];
    let (base, rest) = if let Some(rest) = rest.strip_prefix("crate") {
        (Vec::new(), rest)
    } else if let Some(rest) = rest.strip_prefix("super") {
        (module[..module.len().saturating_sub(1)].to_vec(), rest)
    } else {
        return Vec::new();
    };
    // `pub(crate)` names no module; `use super::*` is how an inline module (`mod tests`,
    // `mod sqlite`) takes its own file's items.
    if !rest.starts_with("::") || rest.starts_with("::*") {
        return Vec::new();
    }
    let mut path = base;
    let mut rest = rest;
    while let Some(after) = rest.strip_prefix("::") {
        if let Some(group) = after.strip_prefix('{') {
            let inner = group.split('}').next().unwrap_or("");
            return inner
                .split(',')
                .map(|item| {
                    let item = item.split(" as ").next().unwrap_or("").trim();
                    let mut full = path.clone();
                    full.extend(
                        item.split("::")
                            .filter(|s| !s.is_empty() && *s != "self" && *s != "{")
                            .map(str::to_string),
                    );
                    full
                })
                .collect();
        }
        let segment: String = after
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if segment.is_empty() {
            break;
        }
        rest = &after[segment.len()..];
        path.push(segment);
    }
    vec![path]
}

fn import_graph() -> (BTreeMap<String, String>, Graph) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = BTreeMap::new();
    source_files(&root, &root, &mut files);
    let mut graph = Graph::new();
    for (file, text) in &files {
        let code = code(text);
        let module = module_of(file);
        let mut targets = BTreeSet::new();
        for keyword in ["crate", "super"] {
            for (at, _) in code.match_indices(keyword) {
                let before = code[..at].chars().last();
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    continue;
                }
                for path in named_paths(&code, at, &module) {
                    let target = file_of(&path, &files);
                    if &target != file {
                        targets.insert(target);
                    }
                }
            }
        }
        graph.insert(file.clone(), targets);
    }
    (files, graph)
}

/// The strongly connected components of `graph` with more than one file (Tarjan).
fn circles(graph: &Graph) -> Vec<Vec<String>> {
    struct Walk<'g> {
        graph: &'g Graph,
        next: usize,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        found: Vec<Vec<String>>,
    }
    impl<'g> Walk<'g> {
        fn visit(&mut self, file: &'g str) {
            self.index.insert(file, self.next);
            self.low.insert(file, self.next);
            self.next += 1;
            self.stack.push(file);
            for target in self.graph.get(file).into_iter().flatten() {
                let target = target.as_str();
                if !self.index.contains_key(target) {
                    self.visit(target);
                    let low = self.low[file].min(self.low[target]);
                    self.low.insert(file, low);
                } else if self.stack.contains(&target) {
                    let low = self.low[file].min(self.index[target]);
                    self.low.insert(file, low);
                }
            }
            if self.low[file] == self.index[file] {
                let mut component = Vec::new();
                while let Some(member) = self.stack.pop() {
                    component.push(member.to_string());
                    if member == file {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.found.push(component);
                }
            }
        }
    }
    let mut walk = Walk {
        graph,
        next: 0,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    for file in graph.keys() {
        if !walk.index.contains_key(file.as_str()) {
            walk.visit(file);
        }
    }
    walk.found
}

fn folder(file: &str) -> &str {
    file.rsplit_once('/').map_or("", |(folder, _)| folder)
}

fn layer(file: &str) -> u8 {
    let top = file.split('/').next().unwrap_or("").trim_end_matches(".rs");
    LAYERS
        .iter()
        .find(|(name, _)| *name == top)
        .map(|(_, layer)| *layer)
        .unwrap_or_else(|| panic!("{file}: add its module to LAYERS"))
}

#[test]
fn no_import_circle_spans_more_than_two_files_of_one_folder() {
    let (_, graph) = import_graph();
    let wide: Vec<Vec<String>> = circles(&graph)
        .into_iter()
        .filter(|c| c.len() > 2 || folder(&c[0]) != folder(&c[1]))
        .collect();
    assert!(wide.is_empty(), "import circles: {wide:#?}");
}

#[test]
fn imports_go_down_the_layers() {
    let (_, graph) = import_graph();
    let upward: Vec<String> = graph
        .iter()
        .flat_map(|(file, targets)| {
            targets
                .iter()
                .filter(|target| layer(target) > layer(file))
                .map(move |target| format!("{file} → {target}"))
        })
        .collect();
    assert!(upward.is_empty(), "imports up the layers: {upward:#?}");
}

/// The reader sees what the rules see: a file that names a module of a higher layer is found.
#[test]
fn the_reader_finds_imports_in_groups_and_through_super() {
    let mut files = BTreeMap::new();
    for file in [
        "lib.rs",
        "db/mod.rs",
        "db/dialect.rs",
        "engine/mod.rs",
        "engine/read.rs",
    ] {
        files.insert(file.to_string(), String::new());
    }
    let source = "use crate::{db::dialect, engine};\nuse super::read::x;";
    let module = module_of("engine/write.rs");
    let mut found = BTreeSet::new();
    for keyword in ["crate", "super"] {
        for (at, _) in source.match_indices(keyword) {
            for path in named_paths(source, at, &module) {
                found.insert(file_of(&path, &files));
            }
        }
    }
    let expected: BTreeSet<String> = ["db/dialect.rs", "engine/mod.rs", "engine/read.rs"]
        .into_iter()
        .map(str::to_string)
        .collect();
    assert_eq!(found, expected);
    assert_eq!(
        code("let a = 1; // crate::api\n#[cfg(test)]\nuse crate::x;"),
        "let a = 1; "
    );
}
