//! Templates: a subject, a text part and an HTML part in Jinja syntax
//! (minijinja), rendered with the caller's data. The HTML part escapes every
//! value (a `<script>` in a name arrives as text); the subject and the text
//! part do not (they are not HTML). A variable the data lacks is an error,
//! not an empty string, and each rendering has a bounded budget (fuel), so a
//! template cannot loop for ever.

use minijinja::{AutoEscape, Environment, ErrorKind, UndefinedBehavior};
use serde::Serialize;

/// Instructions one rendering of all three parts may run.
const FUEL: u64 = 200_000;
/// Longest rendered part, in bytes.
const MAX_RENDERED: usize = 512 * 1024;

/// A template's three sources.
#[derive(Debug, Clone, Default)]
pub struct Sources<'a> {
    pub subject: &'a str,
    pub text: Option<&'a str>,
    pub html: Option<&'a str>,
}

/// The rendered message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Rendered {
    pub subject: String,
    pub text: Option<String>,
    pub html: Option<String>,
}

/// Why a template could not be saved or rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    /// `subject`, `text` or `html`.
    pub part: &'static str,
    /// A variable the data lacks, when that is the cause.
    pub missing: bool,
    pub detail: String,
}

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.part, self.detail)
    }
}

/// The environment: strict about undefined values, HTML-escaping the
/// `html` part only, with a fuel budget.
fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|name| if name == "html" { AutoEscape::Html } else { AutoEscape::None });
    env.set_fuel(Some(FUEL));
    env
}

fn failed(part: &'static str, e: &minijinja::Error) -> TemplateError {
    let missing = e.kind() == ErrorKind::UndefinedError;
    let mut detail = e.to_string();
    if let Some(line) = e.line() {
        detail = format!("{detail} (line {line})");
    }
    TemplateError { part, missing, detail }
}

/// Checks that each part parses: what saving a template asks.
pub fn check(sources: &Sources<'_>) -> Result<(), TemplateError> {
    let mut env = environment();
    for (part, source) in parts(sources) {
        env.add_template_owned(part, source.to_owned()).map_err(|e| failed(part, &e))?;
    }
    Ok(())
}

fn parts<'a>(sources: &Sources<'a>) -> Vec<(&'static str, &'a str)> {
    let mut parts = vec![("subject", sources.subject)];
    parts.extend(sources.text.map(|t| ("text", t)));
    parts.extend(sources.html.map(|h| ("html", h)));
    parts
}

/// Renders the three parts with `data` (a JSON object).
pub fn render(sources: &Sources<'_>, data: &serde_json::Value) -> Result<Rendered, TemplateError> {
    let env = environment();
    let data = minijinja::Value::from(minijinja::value::Serde(data));
    let render = |part: &'static str, source: &str| -> Result<String, TemplateError> {
        let out = env.render_named_str(part, source, data.clone()).map_err(|e| failed(part, &e))?;
        if out.len() > MAX_RENDERED {
            return Err(TemplateError {
                part,
                missing: false,
                detail: format!("the rendered {part} is over {MAX_RENDERED} bytes"),
            });
        }
        Ok(out)
    };
    let subject = render("subject", sources.subject)?;
    // A subject is one line: a value with a line break cannot add headers.
    let subject = subject.split(['\r', '\n']).map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ");
    Ok(Rendered {
        subject,
        text: sources.text.map(|t| render("text", t)).transpose()?,
        html: sources.html.map(|h| render("html", h)).transpose()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn welcome() -> Sources<'static> {
        Sources {
            subject: "Welcome, {{ name }}",
            text: Some("Hello {{ name }}, your code is {{ code }}."),
            html: Some("<p>Hello <b>{{ name }}</b>, your code is {{ code }}.</p>"),
        }
    }

    #[test]
    fn html_is_escaped_in_the_html_part_only() {
        let r = render(&welcome(), &json!({ "name": "<script>alert(1)</script>", "code": 7 })).unwrap();
        assert_eq!(
            r.html.as_deref(),
            Some("<p>Hello <b>&lt;script&gt;alert(1)&lt;&#x2f;script&gt;</b>, your code is 7.</p>")
        );
        assert_eq!(r.text.as_deref(), Some("Hello <script>alert(1)</script>, your code is 7."));
        assert_eq!(r.subject, "Welcome, <script>alert(1)</script>");
    }

    #[test]
    fn a_missing_variable_is_an_error_naming_the_part() {
        let e = render(&welcome(), &json!({ "name": "Ana" })).unwrap_err();
        assert!(e.missing, "{e}");
        assert_eq!(e.part, "text");
    }

    #[test]
    fn a_template_that_does_not_parse_is_refused_when_saved() {
        let bad = Sources { subject: "Hi {{ name", text: None, html: None };
        let e = check(&bad).unwrap_err();
        assert_eq!(e.part, "subject");
        assert!(!e.missing);
        assert!(check(&welcome()).is_ok());
    }

    #[test]
    fn a_line_break_in_data_cannot_add_a_header() {
        let r = render(&welcome(), &json!({ "name": "Ana\r\nBcc: x@evil.test", "code": 1 })).unwrap();
        assert_eq!(r.subject, "Welcome, Ana Bcc: x@evil.test");
    }

    #[test]
    fn an_endless_template_runs_out_of_fuel() {
        let heavy = Sources {
            subject: "{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}",
            text: None,
            html: None,
        };
        assert!(render(&heavy, &json!({})).is_err());
    }
}
