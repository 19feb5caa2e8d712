//! Full-text search, the parts that do not touch the database: what a
//! query means (its words), how each database is asked, and how a
//! highlighted fragment becomes safe HTML.
//!
//! A query is its words: runs of letters and digits, lower-cased; every
//! word must occur (AND), in the title or the content, as a whole word
//! (no stemming, no prefixes). Punctuation and operators are not syntax:
//! `"budget" OR -draft` looks for the words `budget`, `or` and `draft`.
//! Both databases get the same words:
//!
//! - SQLite: an fts5 `MATCH` string of quoted words (`"budget" "2026"`),
//!   which fts5 reads as an AND of phrases and never as syntax;
//! - PostgreSQL: `plainto_tsquery('simple', 'budget 2026')`.
//!
//! The databases mark matches with two private-use characters the module
//! then turns into `<mark>`/`</mark>` while it escapes everything else
//! (see [`marked_html`]).

use std::fmt::Write as _;

/// Most words a query may have.
pub const MAX_WORDS: usize = 20;
/// Longest word kept, in characters.
pub const MAX_WORD_CHARS: usize = 100;

/// What the database puts before a match.
pub const START: char = '\u{E000}';
/// What the database puts after a match.
pub const END: char = '\u{E001}';

/// The words of a query: lower-case runs of letters and digits, in order,
/// without repeats. Empty when the query has none.
pub fn words(query: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for word in query.split(|c: char| !c.is_alphanumeric()) {
        if word.is_empty() {
            continue;
        }
        let word: String = word.chars().take(MAX_WORD_CHARS).flat_map(char::to_lowercase).collect();
        if !out.contains(&word) {
            out.push(word);
        }
    }
    out
}

/// The fts5 `MATCH` string for `words`: each one a quoted string, so that
/// no word is read as an operator (`AND`, `NEAR`) or a column filter.
pub fn fts5_match(words: &[String]) -> String {
    let mut out = String::new();
    for word in words {
        if !out.is_empty() {
            out.push(' ');
        }
        // Words hold only letters and digits; doubling quotes keeps even
        // other text a single string.
        let _ = write!(out, "\"{}\"", word.replace('"', "\"\""));
    }
    out
}

/// The text PostgreSQL's `plainto_tsquery` gets for `words`.
pub fn tsquery_text(words: &[String]) -> String {
    words.join(" ")
}

/// `ts_headline` options: matches between [`START`] and [`END`]; for a
/// title, the whole of it; for content, 15 to 35 words around the best
/// match (short words kept at its ends, like SQLite's `snippet`).
pub fn headline_options(whole: bool) -> String {
    if whole {
        format!("StartSel={START}, StopSel={END}, HighlightAll=true")
    } else {
        format!("StartSel={START}, StopSel={END}, MaxWords=35, MinWords=15, ShortWord=0")
    }
}

/// Text marked by the database as HTML: every character escaped, each
/// [`START`]…[`END`] pair turned into `<mark>`…`</mark>`. Stray or nested
/// markers (a document may itself contain those characters) are dropped,
/// and a mark left open is closed, so the result is always well-formed.
pub fn marked_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut open = false;
    for c in text.chars() {
        match c {
            START if !open => {
                out.push_str("<mark>");
                open = true;
            }
            END if open => {
                out.push_str("</mark>");
                open = false;
            }
            START | END => {}
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    if open {
        out.push_str("</mark>");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_is_its_words() {
        assert_eq!(words("  Budget 2026, budget!  "), ["budget", "2026"]);
        assert_eq!(words("\"budget\" OR -draft*"), ["budget", "or", "draft"]);
        assert_eq!(words("Resolución N°12"), ["resolución", "n", "12"]);
        assert!(words(" -- ** \"\" ").is_empty());
        assert_eq!(words(&"a".repeat(500))[0].chars().count(), MAX_WORD_CHARS);
    }

    #[test]
    fn fts5_gets_quoted_words_and_postgres_plain_text() {
        let w = words("budget AND NEAR(x) title:y");
        assert_eq!(fts5_match(&w), "\"budget\" \"and\" \"near\" \"x\" \"title\" \"y\"");
        assert_eq!(fts5_match(&["a\"b".to_owned()]), "\"a\"\"b\"");
        assert_eq!(tsquery_text(&w), "budget and near x title y");
    }

    #[test]
    fn highlights_are_escaped_html_with_marks() {
        let text = format!("a <b>&'\" {START}budget{END} x {START}2026{END}");
        assert_eq!(marked_html(&text), "a &lt;b&gt;&amp;&#39;&quot; <mark>budget</mark> x <mark>2026</mark>");
        // Markers the content itself held cannot unbalance the output.
        assert_eq!(marked_html(&format!("{END}x{START}{START}y")), "x<mark>y</mark>");
        assert_eq!(marked_html("<script>"), "&lt;script&gt;");
        assert!(headline_options(false).contains("ShortWord=0"));
        assert!(headline_options(true).contains("HighlightAll=true"));
    }
}
