//! Text from outside (webhook labels, operator reasons, source errors, step output) on
//! its way to a terminal: [`escape_control`] writes every control character as a visible
//! escape, so a value can neither forge a second line nor send a terminal sequence (clear
//! the screen, retitle the window, hide what follows). Printable text, backslashes
//! included, is left as it is, so ordinary values read unchanged.

use std::borrow::Cow;

/// Whether `c` must not reach a terminal raw: C0 and C1 controls (newline and escape
/// among them), DEL, the Unicode line and paragraph separators, and the bidirectional
/// overrides and isolates that reorder what a reader sees.
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `s` with each unsafe character (see [`is_unsafe`]) written as Rust writes it in a
/// string literal: `\n`, `\r`, `\t`, else `\u{1b}`. Borrowed when nothing needs escaping.
pub fn escape_control(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        push_escaped(&mut out, c);
    }
    Cow::Owned(out)
}

/// Appends `c` to `out`, escaped when it is unsafe.
pub fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if is_unsafe(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        c => out.push(c),
    }
}

#[cfg(test)]
mod tests {
    use super::escape_control;
    use std::borrow::Cow;

    #[test]
    fn control_characters_become_visible_escapes() {
        assert!(matches!(escape_control("us-east-1"), Cow::Borrowed(_)));
        assert_eq!(escape_control("a b\\c \"q\" é"), "a b\\c \"q\" é");
        assert_eq!(escape_control("\u{1b}[2J"), "\\u{1b}[2J");
        assert_eq!(escape_control("x\nFORGED line"), "x\\nFORGED line");
        assert_eq!(
            escape_control("a\r\tb\u{7}\u{7f}\u{9b}"),
            "a\\r\\tb\\u{7}\\u{7f}\\u{9b}"
        );
        assert_eq!(
            escape_control("ab\u{202e}cd\u{2028}"),
            "ab\\u{202e}cd\\u{2028}"
        );
        let out = escape_control("\u{1b}]0;title\u{7}\n\u{1b}[31m");
        assert!(!out.chars().any(char::is_control), "{out}");
    }
}
