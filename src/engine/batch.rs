//! PURE: which queries fetch a set of SLI templates, and how each answer splits back.
//!
//! Templates of the same *shape* (Sloth's `sum(rate(metric{...}[w]))`, the same metric,
//! function and matchers, differing only in the values of `label="v"` matchers) share one
//! query per region source: the labels whose values differ become a regex union and join
//! the region label in the `sum by`, so every series of the answer belongs to exactly the
//! members whose values it carries. Summing a member's series gives what its own query
//! would (the same sum of the same rates). Any other shape is a batch of one: its own
//! query. A batch is bounded (members, and the bytes of its regex unions), so a set of
//! ten thousand SLOs becomes tens of queries, none of them unbounded.

use std::collections::BTreeMap;

use crate::promql::{batch_query, batch_shape, SliTemplate};

/// Most members in one batched query (each adds at most one series per region).
pub const MAX_MEMBERS: usize = 250;
/// Most bytes of regex unions in one batched query.
pub const MAX_REGEX_BYTES: usize = 16 * 1024;

/// Which of an SLO's queries a member is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Side {
    Error,
    Total,
    Ratio,
}

/// One template's place in batching: its shape key and `label="v"` values, when it has
/// the batchable shape.
#[derive(Debug, Clone)]
pub struct Batchable {
    key: String,
    values: BTreeMap<String, String>,
}

impl Batchable {
    pub fn of(t: &SliTemplate, region_label: &str) -> Option<Batchable> {
        batch_shape(t.source(), region_label).map(|(key, values)| Batchable { key, values })
    }
}

/// A template to fetch: the SLO query index, the side, the template and its shape.
pub struct Item<'a> {
    pub query: usize,
    pub side: Side,
    pub template: &'a SliTemplate,
    pub shape: Option<&'a Batchable>,
}

/// One query and the members it serves.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    /// The query, with the window placeholder.
    pub template: String,
    /// Labels (besides the region label) whose values pick a member's series.
    pub split: Vec<String>,
    /// (SLO query index, side, the split labels' values of its series).
    pub members: Vec<(usize, Side, Vec<String>)>,
}

impl Planned {
    /// The members a series of the answer belongs to (by its split labels' values; a
    /// missing label reads as the empty string, as Prometheus matches it).
    pub fn members_of<'a>(
        &'a self,
        labels: &'a BTreeMap<String, String>,
    ) -> impl Iterator<Item = (usize, Side)> + 'a {
        let key: Vec<&str> = self
            .split
            .iter()
            .map(|l| labels.get(l).map_or("", String::as_str))
            .collect();
        self.members
            .iter()
            .filter(move |(_, _, v)| v.iter().map(String::as_str).eq(key.iter().copied()))
            .map(|(q, side, _)| (*q, *side))
    }
}

/// The queries that fetch `items`, batched by shape and bounded.
pub fn plan(items: &[Item<'_>], region_label: &str) -> Vec<Planned> {
    let mut out = Vec::new();
    let mut groups: BTreeMap<&str, Vec<&Item<'_>>> = BTreeMap::new();
    for it in items {
        match it.shape {
            Some(b) => groups.entry(b.key.as_str()).or_default().push(it),
            None => out.push(single(it)),
        }
    }
    for members in groups.into_values() {
        for chunk in chunks(&members) {
            out.push(batched(&chunk, region_label));
        }
    }
    out
}

fn single(it: &Item<'_>) -> Planned {
    Planned {
        template: it.template.as_template().to_string(),
        split: Vec::new(),
        members: vec![(it.query, it.side, Vec::new())],
    }
}

/// Splits a shape's members into batches within [`MAX_MEMBERS`] and [`MAX_REGEX_BYTES`].
fn chunks<'a, 'b>(members: &[&'b Item<'a>]) -> Vec<Vec<&'b Item<'a>>> {
    let mut out: Vec<Vec<&Item<'_>>> = Vec::new();
    let mut cur: Vec<&Item<'_>> = Vec::new();
    let mut bytes = 0;
    for m in members {
        let cost: usize = m
            .shape
            .map_or(0, |b| b.values.values().map(|v| v.len() + 1).sum());
        if !cur.is_empty() && (cur.len() >= MAX_MEMBERS || bytes + cost > MAX_REGEX_BYTES) {
            out.push(std::mem::take(&mut cur));
            bytes = 0;
        }
        bytes += cost;
        cur.push(m);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn batched(members: &[&Item<'_>], region_label: &str) -> Planned {
    if members.len() == 1 {
        return single(members[0]);
    }
    let values = |m: &Item<'_>| m.shape.map(|b| b.values.clone()).unwrap_or_default();
    let first = values(members[0]);
    // Labels whose values differ between members pick each member's series.
    let split: Vec<String> = first
        .keys()
        .filter(|l| members.iter().any(|m| values(m).get(*l) != first.get(*l)))
        .cloned()
        .collect();
    if split.is_empty() {
        // The same query more than once (two SLOs over one selector): ask once.
        return Planned {
            template: members[0].template.as_template().to_string(),
            split,
            members: members
                .iter()
                .map(|m| (m.query, m.side, Vec::new()))
                .collect(),
        };
    }
    let mut unions: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for l in &split {
        let mut vs: Vec<String> = members
            .iter()
            .filter_map(|m| values(m).get(l).cloned())
            .collect();
        vs.sort();
        vs.dedup();
        unions.insert(l.clone(), vs);
    }
    match batch_query(members[0].template.source(), region_label, &unions) {
        Ok(template) => Planned {
            template,
            members: members
                .iter()
                .map(|m| {
                    let v = values(m);
                    (
                        m.query,
                        m.side,
                        split
                            .iter()
                            .map(|l| v.get(l).cloned().unwrap_or_default())
                            .collect(),
                    )
                })
                .collect(),
            split,
        },
        // Unreachable for parsed templates; asking one by one is always correct.
        Err(_) => Planned {
            template: members[0].template.as_template().to_string(),
            split: Vec::new(),
            members: vec![(members[0].query, members[0].side, Vec::new())],
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promql::regionalize;

    fn t(q: &str) -> SliTemplate {
        regionalize(q, "region").unwrap()
    }

    #[test]
    fn same_shapes_share_one_query_and_split_back() {
        let ts: Vec<SliTemplate> = ["a", "b", "c\"x"]
            .iter()
            .map(|j| {
                t(&format!(
                    "sum(rate(http_requests_total{{job=\"{}\",code=~\"5..\"}}[{{{{.window}}}}]))",
                    j.replace('"', "\\\"")
                ))
            })
            .collect();
        let other = t("sum(rate(x_total[{{.window}}])) / sum(rate(y_total[{{.window}}]))");
        let shapes: Vec<Option<Batchable>> =
            ts.iter().map(|x| Batchable::of(x, "region")).collect();
        assert!(shapes.iter().all(Option::is_some));
        assert!(Batchable::of(&other, "region").is_none());
        let mut items: Vec<Item> = ts
            .iter()
            .zip(&shapes)
            .enumerate()
            .map(|(i, (tpl, s))| Item {
                query: i,
                side: Side::Error,
                template: tpl,
                shape: s.as_ref(),
            })
            .collect();
        items.push(Item {
            query: 9,
            side: Side::Ratio,
            template: &other,
            shape: None,
        });
        let plans = plan(&items, "region");
        assert_eq!(plans.len(), 2, "{plans:#?}");
        let batch = plans.iter().find(|p| p.members.len() == 3).unwrap();
        assert_eq!(batch.split, vec!["job".to_string()]);
        assert!(
            batch.template.contains("sum by (region, job)"),
            "{}",
            batch.template
        );
        assert!(
            batch.template.contains("code=~\"5..\""),
            "{}",
            batch.template
        );
        let labels = BTreeMap::from([
            ("region".to_string(), "r".to_string()),
            ("job".to_string(), "c\"x".to_string()),
        ]);
        assert_eq!(
            batch.members_of(&labels).collect::<Vec<_>>(),
            vec![(2, Side::Error)]
        );
        let promql = batch.template.replace("{{.window}}", "5m");
        assert!(promql_parser::parser::parse(&promql).is_ok(), "{promql}");
    }

    #[test]
    fn batches_are_bounded() {
        let ts: Vec<SliTemplate> = (0..(MAX_MEMBERS * 2 + 3))
            .map(|j| {
                t(&format!(
                    "sum(rate(m_total{{job=\"j{j}\"}}[{{{{.window}}}}]))"
                ))
            })
            .collect();
        let shapes: Vec<Option<Batchable>> =
            ts.iter().map(|x| Batchable::of(x, "region")).collect();
        let items: Vec<Item> = ts
            .iter()
            .zip(&shapes)
            .enumerate()
            .map(|(i, (tpl, s))| Item {
                query: i,
                side: Side::Total,
                template: tpl,
                shape: s.as_ref(),
            })
            .collect();
        let plans = plan(&items, "region");
        assert_eq!(plans.len(), 3);
        assert!(plans.iter().all(|p| p.members.len() <= MAX_MEMBERS));
    }
}
