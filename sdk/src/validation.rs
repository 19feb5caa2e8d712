//! Validation problems: errors collected field by field and answered
//! together as one 422 whose `errors` list names each field, the shape
//! every module's clients read.

use serde_json::{Value, json};

use crate::Problem;

/// Validation errors collected field by field, answered together as one
/// 422 whose `errors` name each field.
#[derive(Debug, Default)]
pub struct Errors(Vec<(String, String)>);

impl Errors {
    pub fn add(&mut self, field: &str, detail: impl Into<String>) {
        self.0.push((field.to_owned(), detail.into()));
    }

    /// Adds the error unless `ok`.
    pub fn check(&mut self, ok: bool, field: &str, detail: impl FnOnce() -> String) {
        if !ok {
            self.add(field, detail());
        }
    }

    /// 422 with every error, or `Ok` when there is none.
    pub fn finish(self) -> Result<(), Problem> {
        if self.0.is_empty() {
            return Ok(());
        }
        let detail = self.0.iter().map(|(_, d)| d.as_str()).collect::<Vec<_>>().join("; ");
        let errors: Vec<Value> = self.0.iter().map(|(f, d)| json!({ "field": f, "detail": d })).collect();
        Err(Problem::unprocessable(detail).with("errors", errors))
    }
}

/// For update bodies: a present field (even `null`) is `Some`, an absent
/// one `None` (with `#[serde(default, deserialize_with = "present")]` on an
/// `Option<Option<T>>`), so `null` can clear a value.
pub fn present<'de, D: serde::Deserializer<'de>, T: serde::Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// A 422 about one field.
pub fn invalid(field: &str, detail: impl Into<String>) -> Problem {
    let mut errors = Errors::default();
    errors.add(field, detail);
    match errors.finish() {
        Err(problem) => problem,
        Ok(()) => Problem::unprocessable("invalid input"),
    }
}

/// A 409 about one field (a unique value already taken).
pub fn taken(field: &str, detail: impl Into<String>) -> Problem {
    let detail = detail.into();
    Problem::conflict(detail.clone()).with("field", field).with("errors", json!([{ "field": field, "detail": detail }]))
}

/// Trims `value` and checks it has `min..=max` characters.
pub fn text(errors: &mut Errors, field: &str, value: &str, min: usize, max: usize) -> String {
    let value = value.trim();
    let len = value.chars().count();
    errors.check((min..=max).contains(&len), field, || {
        if min > 0 && len == 0 {
            format!("`{field}` is required")
        } else {
            format!("`{field}` must be {min} to {max} characters, not {len}")
        }
    });
    value.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_their_fields() {
        let mut errors = Errors::default();
        let title = text(&mut errors, "title", "  ", 1, 10);
        assert_eq!(title, "");
        text(&mut errors, "name", "abcdefghijk", 1, 10);
        let problem = errors.finish().err();
        let fields = problem.as_ref().map(|p| p.extensions()["errors"].clone());
        assert_eq!(
            fields,
            Some(json!([
                { "field": "title", "detail": "`title` is required" },
                { "field": "name", "detail": "`name` must be 1 to 10 characters, not 11" },
            ]))
        );
        assert_eq!(taken("number", "taken").extensions()["field"], "number");
    }
}
