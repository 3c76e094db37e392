//! The layers of the crate, checked from the source: every `crate::…` path in `src/` (and
//! every `hotline::…` path in `src/main.rs`) must point down the stack drawn in
//! `ARCHITECTURE.md`, never up or sideways. A new edge against the layers fails here with
//! the file and the line that makes it.
//!
//! ```text
//! main
//! server              the line and its HTTP side put together
//! web, archive        QA console and API; the recordings archive checked against the register
//! runtime             the only tokio code
//! switchboard         the hotline's call logic, sans-IO
//! config              typed configuration
//! sdp                 offer/answer (uses media's codecs)
//! sip, media, calendar, store
//! model               plain data, depends on nothing
//! ```
//! `store` is low on purpose: it persists `model` values and depends on nothing else.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Each top-level module and its height; a module may use only lower ones.
const LAYERS: &[(&str, u8)] = &[
    ("model", 0),
    ("sip", 1),
    ("media", 1),
    ("calendar", 1),
    ("store", 1),
    ("sdp", 2),
    ("config", 3),
    ("switchboard", 4),
    ("runtime", 5),
    ("web", 6),
    ("archive", 6),
    ("server", 7),
    ("main", 8),
];

fn height(module: &str) -> Option<u8> {
    LAYERS.iter().find(|(m, _)| *m == module).map(|(_, h)| *h)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src is readable") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file of `src/` belongs to (`src/sip/dialog.rs` → `sip`).
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).expect("under src");
    let first = rel.components().next().expect("non-empty path");
    let name = first.as_os_str().to_string_lossy();
    name.trim_end_matches(".rs").to_string()
}

/// The modules named by `prefix::<module>` in a line of code (comments left out).
fn targets<'a>(line: &'a str, prefix: &str) -> Vec<&'a str> {
    let code = line.split("//").next().unwrap_or("");
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find(prefix) {
        let after = &rest[at + prefix.len()..];
        let end = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        // `crate::{a, b}` is not used in this crate; a bare `crate::x` names module x.
        if end > 0 {
            found.push(&after[..end]);
        }
        rest = &after[end..];
    }
    found
}

#[test]
fn every_module_uses_only_the_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut against = Vec::new();
    let mut edges: BTreeMap<(String, String), usize> = BTreeMap::new();
    for file in &files {
        let from = module_of(&src, file);
        if from == "lib" {
            continue;
        }
        let Some(from_height) = height(&from) else {
            against.push(format!(
                "{}: module `{from}` has no layer (add it to LAYERS and ARCHITECTURE.md)",
                file.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(file).expect("source is UTF-8");
        let prefix = if from == "main" {
            "hotline::"
        } else {
            "crate::"
        };
        for (n, line) in text.lines().enumerate() {
            for to in targets(line, prefix) {
                if to == from {
                    continue;
                }
                *edges.entry((from.clone(), to.to_string())).or_default() += 1;
                match height(to) {
                    Some(h) if h < from_height => {}
                    Some(_) => against.push(format!(
                        "{}:{}: `{from}` uses `{to}`, which is not below it: {}",
                        file.display(),
                        n + 1,
                        line.trim()
                    )),
                    None => against.push(format!(
                        "{}:{}: `{to}` is not a module with a layer",
                        file.display(),
                        n + 1
                    )),
                }
            }
        }
    }
    assert!(
        against.is_empty(),
        "edges against the layers:\n{}",
        against.join("\n")
    );
    // The store keeps to the model: it must never learn about calls in progress.
    let store_uses: Vec<&String> = edges
        .keys()
        .filter(|(from, _)| from == "store")
        .map(|(_, to)| to)
        .collect();
    assert_eq!(store_uses, ["model"], "the store depends on the model only");
}

#[test]
fn the_layer_check_sees_an_upward_edge() {
    // The checker itself must be able to fail: a line like this in `sip` is refused.
    let line = "use crate::switchboard::Switchboard; // a comment naming crate::web";
    assert_eq!(targets(line, "crate::"), ["switchboard"]);
    assert!(height("switchboard") > height("sip"));
}
