//! Sloth compatibility helpers: the forms real Sloth spec files use that the rest of
//! sloguard does not read directly. Multi-document YAML streams are split into
//! documents (keeping line numbers), `{{ .window }}` is normalised to `{{.window}}`, a
//! trailing `or on() vector(0)` of an error query is dropped, and ignored (unknown) keys
//! reported by `serde_ignored` are turned into a readable path and, when found, a line.

use std::sync::OnceLock;

use regex::Regex;

/// One document of a YAML stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// 1-based index among the file's non-empty documents.
    pub index: usize,
    /// Lines of the file before this document's text (add to a document line number).
    pub line_offset: usize,
    /// The document's text; its first line is the file's line `line_offset + 1`.
    pub text: String,
}

fn is_marker(line: &str) -> bool {
    line.strip_prefix("---")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '\r', '\n']))
}

fn is_blank(text: &str) -> bool {
    text.lines().all(|l| {
        let t = l.trim();
        t.is_empty() || t.starts_with('#') || t.starts_with('%')
    })
}

/// Splits a YAML stream at `---` document markers (column 0). Documents with nothing but
/// blank lines, comments and directives are skipped. A marker line is kept as blanks, so
/// line and column numbers inside a document match the file.
pub fn split_documents(text: &str) -> Vec<Document> {
    let mut docs = Vec::new();
    let mut current = String::new();
    let mut start = 0usize;
    let mut push = |current: &mut String, start: usize| {
        if !is_blank(current) {
            docs.push(Document {
                index: docs.len() + 1,
                line_offset: start,
                text: std::mem::take(current),
            });
        } else {
            current.clear();
        }
    };
    for (i, line) in text.split_inclusive('\n').enumerate() {
        if is_marker(line) {
            push(&mut current, start);
            start = i;
            current.push_str("   ");
            current.push_str(&line[3..]);
        } else {
            current.push_str(line);
        }
    }
    push(&mut current, start);
    docs
}

fn window_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    // A constant pattern: compiling it cannot fail.
    RE.get_or_init(|| Regex::new(r"\{\{[ \t]*\.window[ \t]*\}\}").expect("constant regex"))
}

fn or_vector0_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(?i)\s+or\s*on\s*\(\s*\)\s*vector\s*\(\s*0(\.0*)?\s*\)\s*$")
            .expect("constant regex")
    })
}

/// Sloth accepts `{{ .window }}` with spaces inside the braces; the rest of sloguard
/// expects `{{.window}}`.
pub fn normalise_window(query: &str) -> String {
    window_re().replace_all(query, "{{.window}}").into_owned()
}

/// Drops a trailing `or on() vector(0)` (any case, optional spaces) from an error query.
///
/// Sloth users add it so a service without any error series yet reads 0 errors instead of
/// no data. sloguard already does that itself: every generated ratio is
/// `(errors or (0 * total)) / total`, per region, so the clause is redundant — and kept,
/// it would be refused, because `vector(0)` has no region label and cannot be pinned.
pub fn strip_or_vector0(query: &str) -> String {
    match or_vector0_re().find(query) {
        Some(m) => query[..m.start()].to_string(),
        None => query.to_string(),
    }
}

fn crd_key_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"(?m)^([ \t]*(?:-[ \t]+)*)(errorQuery|totalQuery|errorRatioQuery|pageAlert|ticketAlert|sloPlugins|overwriteDefaults)([ \t]*):",
        )
        .expect("constant regex")
    })
}

/// The top-level `apiVersion:` of a document (quotes and a trailing comment removed).
pub fn api_version(text: &str) -> Option<String> {
    let line = text.lines().find(|l| l.starts_with("apiVersion:"))?;
    let v = line["apiVersion:".len()..].split(" #").next()?.trim();
    Some(v.trim_matches(['"', '\'']).to_string())
}

/// Whether a document is a Kubernetes object (`apiVersion:` at the top level).
pub fn is_kubernetes_object(text: &str) -> bool {
    text.lines().any(|l| l.starts_with("apiVersion:"))
}

fn snake_case(key: &str) -> String {
    let mut out = String::new();
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Renames the camelCase keys of Sloth's Kubernetes form (`errorQuery`, `totalQuery`,
/// `errorRatioQuery`, `pageAlert`, `ticketAlert`, `sloPlugins`, `overwriteDefaults`) to the snake_case of `prometheus/v1`,
/// in block-style YAML, keeping every line where it was.
pub fn crd_keys_to_snake_case(text: &str) -> String {
    crd_key_re()
        .replace_all(text, |c: &regex::Captures<'_>| {
            format!("{}{}{}:", &c[1], snake_case(&c[2]), &c[3])
        })
        .into_owned()
}

/// One step of the path of an ignored key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// The steps of a `serde_ignored` path, root first.
pub fn segments(path: &serde_ignored::Path<'_>) -> Vec<Seg> {
    let mut out = Vec::new();
    let mut p = path;
    loop {
        match p {
            serde_ignored::Path::Root => break,
            serde_ignored::Path::Seq { parent, index } => {
                out.push(Seg::Index(*index));
                p = parent;
            }
            serde_ignored::Path::Map { parent, key } => {
                out.push(Seg::Key(key.clone()));
                p = parent;
            }
            serde_ignored::Path::Some { parent }
            | serde_ignored::Path::NewtypeStruct { parent }
            | serde_ignored::Path::NewtypeVariant { parent } => p = parent,
        }
    }
    out.reverse();
    out
}

/// Sloth's built-in SLO plugins whose effect sloguard gives by default: they load with
/// no effect. (Sloth's metadata, SLI and alert rules; its validation; the no-op.)
pub const BUILTIN_SLO_PLUGINS: &[&str] = &[
    "sloth.dev/core/metadata_rules/v1",
    "sloth.dev/core/sli_rules/v1",
    "sloth.dev/core/alert_rules/v1",
    "sloth.dev/core/validate/v1",
    "sloth.dev/core/debug/noop/v1",
];

/// The problems of an SLO plugin chain at `field` (`slo_plugins`, `plugins`): one per
/// plugin id sloguard cannot honour.
pub fn plugin_problems(field: &str, chain: &[super::raw::RawPluginRef]) -> Vec<String> {
    chain
        .iter()
        .enumerate()
        .filter(|(_, p)| !BUILTIN_SLO_PLUGINS.contains(&p.id.as_str()))
        .map(|(i, p)| {
            format!(
                "{field}.chain[{i}].id: SLO plugin {:?} is not supported (sloguard runs no plugin code; only Sloth's built-in {} load, with no effect)",
                p.id,
                BUILTIN_SLO_PLUGINS.join(", ")
            )
        })
        .collect()
}

/// The problem of an SLI plugin (`sli.plugin`): its id and the form to write instead.
pub fn sli_plugin_problem(plugin: &serde_yaml_ng::Value) -> String {
    let id = plugin
        .get("id")
        .and_then(|v| v.as_str())
        .map(|s| format!("{s:?}"))
        .unwrap_or_else(|| "(without id)".to_string());
    format!(
        "sli.plugin: SLI plugin {id} is not supported (sloguard runs no plugin code); write the SLI as queries instead: `sli: events: {{error_query: <failed events over [{{{{.window}}}}]>, total_query: <all events over [{{{{.window}}}}]>}}` (or `sli: raw: {{error_ratio_query: ...}}`)"
    )
}

/// `slos[0].alerting.pageAlert`.
pub fn display(segs: &[Seg]) -> String {
    let mut s = String::new();
    for seg in segs {
        match seg {
            Seg::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Seg::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

/// Indentation of a line's content after any `- ` sequence markers, and that content.
fn content(line: &str) -> (usize, &str) {
    let mut indent = line.len() - line.trim_start().len();
    let mut rest = line.trim_start();
    while let Some(r) = rest.strip_prefix("- ") {
        let t = r.trim_start();
        indent += rest.len() - t.len();
        rest = t;
    }
    (indent, rest.trim_end())
}

fn is_key_line(rest: &str, key: &str) -> bool {
    [
        format!("{key}:"),
        format!("\"{key}\":"),
        format!("'{key}':"),
    ]
    .iter()
    .any(|k| rest.starts_with(k.as_str()))
}

fn is_skippable(line: &str) -> bool {
    let t = line.trim();
    t.is_empty() || t.starts_with('#')
}

/// The 1-based line of the key at `segs` in block-style YAML, when it can be found.
pub fn locate(text: &str, segs: &[Seg]) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let mut from = 0usize;
    let mut parent: isize = -1;
    let mut found_line = None;
    let mut after_index = false;
    for seg in segs {
        match seg {
            Seg::Key(k) => {
                let mut found = None;
                for (i, line) in lines.iter().enumerate().skip(from) {
                    if is_skippable(line) {
                        continue;
                    }
                    let (indent, rest) = content(line);
                    let lead = (line.len() - line.trim_start().len()) as isize;
                    if lead <= parent && !(after_index && i == from) {
                        return None;
                    }
                    if indent as isize > parent && is_key_line(rest, k) {
                        found = Some((i, indent));
                        break;
                    }
                }
                let (i, indent) = found?;
                from = i + 1;
                parent = indent as isize;
                found_line = Some(i + 1);
                after_index = false;
            }
            Seg::Index(n) => {
                let mut dash: Option<usize> = None;
                let mut count = 0usize;
                let mut found = None;
                for (i, line) in lines.iter().enumerate().skip(from) {
                    if is_skippable(line) {
                        continue;
                    }
                    let lead = line.len() - line.trim_start().len();
                    if lead as isize <= parent && !line.trim_start().starts_with("- ") {
                        return None;
                    }
                    if !line.trim_start().starts_with("- ") {
                        continue;
                    }
                    let d = *dash.get_or_insert(lead);
                    if lead != d {
                        continue;
                    }
                    if count == *n {
                        found = Some((i, lead));
                        break;
                    }
                    count += 1;
                }
                let (i, lead) = found?;
                // The item's first key is on the dash line: search from it.
                from = i;
                parent = lead as isize;
                found_line = Some(i + 1);
                after_index = true;
            }
        }
    }
    found_line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_documents_keeping_lines() {
        let docs = split_documents("# c\n---\na: 1\n---   # two\nb: 2\n---\n\n");
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].index, 1);
        assert_eq!(docs[0].line_offset, 1);
        assert_eq!(docs[0].text, "   \na: 1\n");
        assert_eq!(docs[1].line_offset, 3);
        assert!(docs[1].text.starts_with("      # two\nb: 2"));
        assert_eq!(split_documents("a: 1\n").len(), 1);
        assert_eq!(split_documents("a: '---'\n----: x\n").len(), 1);
    }

    #[test]
    fn window_and_vector0() {
        assert_eq!(
            normalise_window("rate(x[{{ .window }}]) + rate(y[{{.window  }}])"),
            "rate(x[{{.window}}]) + rate(y[{{.window}}])"
        );
        assert_eq!(
            strip_or_vector0("sum(rate(x[{{.window}}])) OR on() vector(0)"),
            "sum(rate(x[{{.window}}]))"
        );
        assert_eq!(
            strip_or_vector0("sum(rate(x[{{.window}}]))\n  or on ( ) vector( 0 )\n"),
            "sum(rate(x[{{.window}}]))"
        );
        assert_eq!(strip_or_vector0("a or vector(0)"), "a or vector(0)");
        assert_eq!(
            strip_or_vector0("a or on() vector(1)"),
            "a or on() vector(1)"
        );
    }

    #[test]
    fn crd_keys() {
        let t = "spec:\n  slos:\n    - sli:\n        events: {errorQuery: x}\n        raw:\n          errorRatioQuery: y\n      alerting:\n        pageAlert:\n          disable: true\n";
        assert!(!is_kubernetes_object(t));
        assert!(is_kubernetes_object("apiVersion: x\nspec: {}\n"));
        assert_eq!(
            api_version("kind: SLO\napiVersion: \"openslo/v1alpha\" # c\n").as_deref(),
            Some("openslo/v1alpha")
        );
        assert_eq!(api_version("version: x\n  apiVersion: y\n"), None);
        let s = crd_keys_to_snake_case(t);
        assert!(s.contains("          error_ratio_query: y\n"), "{s}");
        assert!(s.contains("        page_alert:\n"), "{s}");
        assert_eq!(s.lines().count(), t.lines().count());
        assert_eq!(
            crd_keys_to_snake_case("- errorQuery: a\n- - totalQuery : b"),
            "- error_query: a\n- - total_query : b"
        );
    }

    #[test]
    fn locates_nested_keys() {
        let text = "version: x\nslos:\n  - name: a\n    sli: {}\n  - name: b\n    alerting:\n      name: N\n      pageAlert: {}\n";
        let segs = [
            Seg::Key("slos".into()),
            Seg::Index(1),
            Seg::Key("alerting".into()),
            Seg::Key("pageAlert".into()),
        ];
        assert_eq!(locate(text, &segs), Some(8));
        assert_eq!(display(&segs), "slos[1].alerting.pageAlert");
        let name = [
            Seg::Key("slos".into()),
            Seg::Index(0),
            Seg::Key("name".into()),
        ];
        assert_eq!(locate(text, &name), Some(3));
        assert_eq!(locate(text, &[Seg::Key("nope".into())]), None);
    }
}
