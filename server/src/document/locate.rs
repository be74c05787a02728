//! Turning a path found after parsing (`tests[0].database.settings.work_mem`) back into a
//! line and column: the document is read once more into its bare shape, every key and
//! item with its position.

use std::collections::HashMap;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use super::{DocumentErrors, yaml_options};

impl DocumentErrors {
    /// Fill in line and column from the text the specification was parsed from, for
    /// errors found after parsing (which know only their path), then order the errors by
    /// position (those without one last). A path that stops short of the document (a
    /// missing key) points at its deepest existing ancestor.
    #[must_use]
    pub fn locate(mut self, text: &str) -> Self {
        // JSON is YAML too, so one locator serves both formats.
        let Some(root) = LocNode::parse(text) else {
            return self;
        };
        for e in &mut self.0 {
            if e.line.is_none()
                && let Some((line, column)) = root.find(&e.path)
            {
                e.line = Some(line);
                e.column = Some(column);
            }
        }
        self.0
            .sort_by_key(|e| (e.line.unwrap_or(usize::MAX), e.column.unwrap_or(usize::MAX)));
        self
    }
}

/// The shape of a document with the position of every key and item, to turn a path
/// found after parsing back into a line and column.
#[derive(Debug)]
enum LocNode {
    /// Entries by key (a key that appears twice keeps its first position).
    Map(HashMap<String, ((usize, usize), LocNode)>),
    Seq(Vec<((usize, usize), LocNode)>),
    Scalar,
}

fn position(l: &serde_saphyr::Location) -> (usize, usize) {
    (
        usize::try_from(l.line()).unwrap_or(0),
        usize::try_from(l.column()).unwrap_or(0),
    )
}

impl LocNode {
    fn parse(text: &str) -> Option<LocNode> {
        serde_saphyr::from_str_with_options::<LocNode>(text, yaml_options()).ok()
    }

    /// The position of the deepest node along `path` that exists. Keys may contain dots,
    /// so the longest prefix of the path that is a key of the map wins; each step looks up
    /// at most one key per `.` or `[` left in the path (linear in the path's length).
    fn find(&self, path: &str) -> Option<(usize, usize)> {
        let mut node = self;
        let mut rest = path;
        let mut found = None;
        while !rest.is_empty() {
            let next = match node {
                LocNode::Map(entries) => {
                    let rest_key = rest.strip_prefix('.').unwrap_or(rest);
                    let ends = rest_key
                        .char_indices()
                        .filter(|(_, c)| matches!(c, '.' | '['))
                        .map(|(i, _)| i)
                        .chain([rest_key.len()]);
                    let ends: Vec<usize> = ends.collect();
                    ends.into_iter().rev().find_map(|end| {
                        let key = &rest_key[..end];
                        entries
                            .get(key)
                            .map(|(pos, child)| (&rest_key[end..], *pos, child))
                    })
                }
                LocNode::Seq(items) => rest.strip_prefix('[').and_then(|r| {
                    let (digits, after) = r.split_once(']')?;
                    let i: usize = digits.parse().ok()?;
                    let (pos, child) = items.get(i)?;
                    Some((after, *pos, child))
                }),
                LocNode::Scalar => None,
            };
            let Some((after, pos, child)) = next else {
                break;
            };
            found = Some(pos).filter(|(line, _)| *line > 0);
            node = child;
            rest = after;
        }
        found
    }
}

impl<'de> Deserialize<'de> for LocNode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(LocVisitor)
    }
}

/// Any scalar as a map key, as text (YAML keys may be numbers or booleans).
struct KeyText(String);

impl<'de> Deserialize<'de> for KeyText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = KeyText;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a scalar key")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<KeyText, E> {
                Ok(KeyText(v.to_owned()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<KeyText, E> {
                Ok(KeyText(String::new()))
            }
        }
        deserializer.deserialize_any(KeyVisitor)
    }
}

struct LocVisitor;

impl<'de> Visitor<'de> for LocVisitor {
    type Value = LocNode;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML node")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<LocNode, A::Error> {
        let mut entries = HashMap::new();
        while let Some(key) = map.next_key::<serde_saphyr::Spanned<KeyText>>()? {
            let value: LocNode = map.next_value()?;
            entries
                .entry(key.value.0)
                .or_insert((position(&key.referenced), value));
        }
        Ok(LocNode::Map(entries))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<LocNode, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<serde_saphyr::Spanned<LocNode>>()? {
            items.push((position(&item.referenced), item.value));
        }
        Ok(LocNode::Seq(items))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<LocNode, E> {
        Ok(LocNode::Scalar)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<LocNode, E> {
        Ok(LocNode::Scalar)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<LocNode, E> {
        Ok(LocNode::Scalar)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<LocNode, E> {
        Ok(LocNode::Scalar)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<LocNode, E> {
        Ok(LocNode::Scalar)
    }
    fn visit_unit<E: de::Error>(self) -> Result<LocNode, E> {
        Ok(LocNode::Scalar)
    }
    fn visit_none<E: de::Error>(self) -> Result<LocNode, E> {
        Ok(LocNode::Scalar)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locator_matches_keys_with_dots_and_stops_at_the_deepest_known_node() {
        let root =
            LocNode::parse("a:\n  b.c:\n    - x\n    - y: 1\n  b: 2\nm: {k.l.m: [0]}\n").unwrap();
        assert_eq!(root.find("a.b.c[1]"), Some((4, 7)));
        assert_eq!(root.find("a.b.c[1].y"), Some((4, 7)));
        assert_eq!(root.find("a.b.c[1].z.w"), Some((4, 7)));
        assert_eq!(root.find("a.b"), Some((5, 3)));
        assert_eq!(root.find("a.b.c[9]"), Some((2, 3)));
        assert_eq!(root.find("m.k.l.m[0]"), Some((6, 13)));
        assert_eq!(root.find("zzz"), None);
        assert_eq!(root.find(""), None);
        assert!(LocNode::parse("a: [").is_none());
    }
}
