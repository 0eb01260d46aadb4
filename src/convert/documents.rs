//! The documents of the files given to `import`: every YAML document of every file,
//! where a document that is itself a list (the form the OpenSLO SDK and the `oslo` tool
//! read and write: one top-level list of objects) counts as one document per item.
//! Documents are numbered from 1 per file in reading order, so a problem can name
//! `file: document N`. A file whose YAML does not parse is one problem; the other files
//! are still read, so every problem of every file is reported at once.

use std::path::PathBuf;

use serde::Deserialize;
use serde_yaml_ng::Value;

use super::ConvertProblem;

/// One document: its file, its 1-based number in the file, its value.
pub type Document = (PathBuf, usize, Value);

/// Every non-empty document of every file, or every file's YAML problem.
pub fn documents(files: &[(PathBuf, String)]) -> Result<Vec<Document>, Vec<ConvertProblem>> {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for (file, text) in files {
        let mut n = 0;
        for de in serde_yaml_ng::Deserializer::from_str(text) {
            match Value::deserialize(de) {
                Ok(Value::Null) => {}
                Ok(Value::Sequence(items)) => {
                    for item in items {
                        n += 1;
                        if !item.is_null() {
                            out.push((file.clone(), n, item));
                        }
                    }
                }
                Ok(v) => {
                    n += 1;
                    out.push((file.clone(), n, v));
                }
                Err(e) => {
                    problems.push(ConvertProblem {
                        file: file.clone(),
                        message: format!("document {}: {e}", n + 1),
                    });
                    break;
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_level_lists_are_one_document_per_item() {
        let text = "- {kind: A}\n- {kind: B}\n---\nkind: C\n";
        let docs = documents(&[(PathBuf::from("f.yaml"), text.to_string())]).unwrap();
        let kinds: Vec<(usize, &str)> = docs
            .iter()
            .map(|(_, n, v)| (*n, v["kind"].as_str().unwrap()))
            .collect();
        assert_eq!(kinds, [(1, "A"), (2, "B"), (3, "C")]);
    }
}
