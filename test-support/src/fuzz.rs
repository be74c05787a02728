//! Hostile input for property tests: a valid document with bytes cut, doubled, swapped for
//! syntax characters or for extreme values — what a broken tool, a truncated upload or an
//! attacker sends. Every parser must answer such input with an error, never a panic.

use proptest::prelude::*;

/// One change to a text, at a fraction of its length.
#[derive(Debug, Clone)]
enum Edit {
    Delete { at: f64, len: usize },
    Insert { at: f64, text: String },
    Truncate { at: f64 },
    Duplicate { at: f64, len: usize },
}

/// What is inserted: syntax characters, numbers at the edges, odd unicode, long runs.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "{",
            "}",
            "[",
            "]",
            ":",
            ",",
            "\"",
            "'",
            "\n",
            "\t",
            "- ",
            "&a ",
            "*a",
            "!!binary ",
            "---\n",
            "#",
            "\\",
            "%",
            "=",
            "-1",
            "0",
            "1e308",
            "-9223372036854775809",
            "18446744073709551616",
            "NaN",
            "inf",
            "-inf",
            "1e999",
            "null",
            "true",
            "~",
            "1.5.5",
            "99999999999999999999s",
            "-5s",
            "0s",
            "ñ",
            "\u{202e}",
            "\u{0}",
            "💥",
            "\u{feff}",
        ])
        .prop_map(str::to_string),
        "[a-z0-9 .:-]{1,12}",
        any::<String>(),
        (1usize..2000).prop_map(|n| "x".repeat(n)),
    ]
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (0.0..1.0f64, 1usize..40).prop_map(|(at, len)| Edit::Delete { at, len }),
        (0.0..1.0f64, fragment()).prop_map(|(at, text)| Edit::Insert { at, text }),
        (0.0..1.0f64).prop_map(|at| Edit::Truncate { at }),
        (0.0..1.0f64, 1usize..200).prop_map(|(at, len)| Edit::Duplicate { at, len }),
    ]
}

/// The nearest char boundary at or before `at` (a fraction) of `text`.
fn boundary(text: &str, at: f64) -> usize {
    let mut i = ((text.len() as f64) * at) as usize;
    i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn apply(text: &mut String, edit: &Edit) {
    match edit {
        Edit::Delete { at, len } => {
            let from = boundary(text, *at);
            let to = boundary(
                text,
                ((from + len) as f64 / text.len().max(1) as f64).min(1.0),
            );
            if to > from {
                text.replace_range(from..to, "");
            }
        }
        Edit::Insert { at, text: fragment } => {
            let i = boundary(text, *at);
            text.insert_str(i, fragment);
        }
        Edit::Truncate { at } => {
            let i = boundary(text, *at);
            text.truncate(i);
        }
        Edit::Duplicate { at, len } => {
            let from = boundary(text, *at);
            let to = boundary(
                text,
                ((from + len) as f64 / text.len().max(1) as f64).min(1.0),
            );
            let copy = text[from..to].to_string();
            text.insert_str(to, &copy);
        }
    }
}

/// `base` with one to eight edits, or now and then any string at all.
pub fn mutations_of(base: &'static str) -> impl Strategy<Value = String> {
    prop_oneof![
        9 => prop::collection::vec(edit(), 1..8).prop_map(move |edits| {
            let mut text = base.to_string();
            for e in &edits {
                apply(&mut text, e);
            }
            text
        }),
        1 => any::<String>(),
    ]
}

/// How many cases each property runs: 256 in CI, more with `RATCHET_FUZZ_CASES`.
pub fn cases() -> u32 {
    std::env::var("RATCHET_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(256)
}
