//! YAML mappings edited by key path (`["failover", "policy", "quorum"]`) and merged key
//! by key: how a drill layers its defaults, the team's config and the scenario's own.

use serde_yaml_ng::{Mapping, Value};

/// Mappings merge key by key; anything else (sequences included) is replaced.
pub(super) fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Mapping(b), Value::Mapping(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

pub(super) fn get<'a>(m: &'a Mapping, path: &[&str]) -> Option<&'a Value> {
    let (last, parents) = path.split_last()?;
    let mut cur = m;
    for p in parents {
        cur = cur.get(*p)?.as_mapping()?;
    }
    cur.get(*last)
}

pub(super) fn get_mut<'a>(m: &'a mut Mapping, path: &[&str]) -> Option<&'a mut Value> {
    let (last, parents) = path.split_last()?;
    let mut cur = m;
    for p in parents {
        cur = cur.get_mut(*p)?.as_mapping_mut()?;
    }
    cur.get_mut(*last)
}

pub(super) fn set(m: &mut Mapping, path: &[&str], v: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = m;
    for p in parents {
        let entry = cur
            .entry((*p).into())
            .or_insert_with(|| Value::Mapping(Mapping::new()));
        if !entry.is_mapping() {
            *entry = Value::Mapping(Mapping::new());
        }
        let Some(next) = entry.as_mapping_mut() else {
            return;
        };
        cur = next;
    }
    cur.insert((*last).into(), v);
}
