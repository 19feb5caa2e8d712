//! The rules of GDI that need no host: states and their transitions,
//! numbers, the tenant's year, codes, template fields and search text.
//! Everything here is unit-tested natively.

use std::fmt;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Longest subject, reference or name.
pub const TEXT_MAX: usize = 500;
/// Longest document body (markdown).
pub const BODY_MAX: usize = 200_000;
/// Most signers one document may name.
pub const SIGNERS_MAX: usize = 20;
/// Largest attachment.
pub const ATTACHMENT_MAX: usize = 10 * 1024 * 1024;

/// Where a document is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DocState {
    /// Being written; editable by its sector's writers.
    Draft,
    /// Submitted: waiting for the signer of `current_step`.
    AwaitingSignatures,
    /// Every signer signed; immutable.
    Signed,
    /// A signer returned it with a reason; editable again, like a draft.
    Rejected,
    /// Withdrawn before it was signed; kept, immutable.
    Cancelled,
}

impl DocState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::AwaitingSignatures => "awaiting_signatures",
            Self::Signed => "signed",
            Self::Rejected => "rejected",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Draft, Self::AwaitingSignatures, Self::Signed, Self::Rejected, Self::Cancelled]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

impl fmt::Display for DocState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What is asked of a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocAction {
    Edit,
    Submit,
    Sign,
    Reject,
    Cancel,
}

/// The state `action` leads to from `state`, or `None` when the lifecycle
/// does not allow it (the handler answers 409 naming the state). Signing
/// leads to `signed` only at the last step; the caller decides that.
pub fn doc_transition(state: DocState, action: DocAction) -> Option<DocState> {
    use DocAction as A;
    use DocState as S;
    match (state, action) {
        (S::Draft | S::Rejected, A::Edit) => Some(S::Draft),
        (S::Draft | S::Rejected, A::Submit) => Some(S::AwaitingSignatures),
        (S::AwaitingSignatures, A::Sign) => Some(S::AwaitingSignatures),
        (S::AwaitingSignatures, A::Reject) => Some(S::Rejected),
        (S::Draft | S::Rejected | S::AwaitingSignatures, A::Cancel) => Some(S::Cancelled),
        _ => None,
    }
}

/// Where an expediente is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExpState {
    /// Created; nothing linked or moved yet.
    Open,
    /// Documents linked or moved at least once.
    InProgress,
    /// Closed: read-only.
    Archived,
}

impl ExpState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::InProgress => "in_progress",
            Self::Archived => "archived",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Open, Self::InProgress, Self::Archived].into_iter().find(|s| s.as_str() == text)
    }
}

impl fmt::Display for ExpState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The two yearly sequences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sequence {
    /// Shared by every numbered document type of the tenant.
    Document,
    Expediente,
}

impl Sequence {
    pub fn key(self) -> &'static str {
        match self {
            Self::Document => "document",
            Self::Expediente => "expediente",
        }
    }
}

/// `TYPE-YYYY-NNNNNNNN-ECO-DEPT`, e.g. `DECRE-2026-00000123-MUNI-INTEN`
/// (expedientes use the type `EX`).
pub fn format_number(type_code: &str, year: i32, seq: i64, eco: &str, dept: &str) -> String {
    format!("{type_code}-{year:04}-{seq:08}-{eco}-{dept}")
}

/// The calendar year of `unix_secs` in `timezone` (IANA name): numbering
/// restarts on 1 January there, not in UTC.
pub fn year_in(unix_secs: i64, timezone: &str) -> Result<i32, String> {
    let tz = TimeZone::get(timezone).map_err(|_| format!("unknown time zone `{timezone}`"))?;
    let at = Timestamp::from_second(unix_secs).map_err(|e| e.to_string())?;
    Ok(i32::from(at.to_zoned(tz).year()))
}

/// Whether `timezone` names a zone the module knows.
pub fn known_timezone(timezone: &str) -> bool {
    TimeZone::get(timezone).is_ok()
}

/// Sector, type and ECO codes: 2 to 12 upper-case ASCII letters or digits,
/// starting with a letter (they become parts of numbers).
pub fn valid_code(code: &str) -> bool {
    (2..=12).contains(&code.len())
        && code.starts_with(|c: char| c.is_ascii_uppercase())
        && code.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// Accents folded, lower case, words separated by single spaces.
pub fn search_text(parts: &[&str]) -> String {
    let folded = deunicode::deunicode(&parts.join(" ")).to_lowercase();
    let words: Vec<&str> = folded.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()).collect();
    words.join(" ")
}

/// The words of a search query, folded the same way.
pub fn search_words(query: &str) -> Vec<String> {
    search_text(&[query]).split(' ').filter(|w| !w.is_empty()).map(str::to_owned).take(8).collect()
}

/// One field of a document type's template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TemplateField {
    /// Key in the document's `fields` (lower-case letters, digits, `_`).
    pub name: String,
    /// What the form and the PDF call it.
    pub label: String,
    #[serde(default)]
    pub required: bool,
    /// JSON Schema of the value. Checked on write: `type` (string, integer,
    /// number, boolean), `enum`, `minLength`/`maxLength`,
    /// `minimum`/`maximum`, `format: date` (YYYY-MM-DD).
    #[serde(default = "any_schema")]
    #[schemars(with = "Value")]
    pub schema: Value,
}

fn any_schema() -> Value {
    Value::Object(Map::new())
}

/// Checks a template's field list; the error names the field.
pub fn check_template(fields: &[TemplateField]) -> Result<(), String> {
    if fields.len() > 50 {
        return Err("a template has at most 50 fields".into());
    }
    let mut seen = std::collections::BTreeSet::new();
    for f in fields {
        let ok_name = !f.name.is_empty()
            && f.name.len() <= 40
            && f.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !ok_name {
            return Err(format!("field name `{}`: use 1 to 40 lower-case letters, digits or `_`", f.name));
        }
        if !seen.insert(f.name.as_str()) {
            return Err(format!("field `{}` appears twice", f.name));
        }
        if f.label.trim().is_empty() || f.label.len() > 200 {
            return Err(format!("field `{}`: label must have 1 to 200 characters", f.name));
        }
        if !f.schema.is_object() {
            return Err(format!("field `{}`: schema must be a JSON object", f.name));
        }
        if let Some(t) = f.schema.get("type")
            && !matches!(t.as_str(), Some("string" | "integer" | "number" | "boolean"))
        {
            return Err(format!("field `{}`: type must be string, integer, number or boolean", f.name));
        }
    }
    Ok(())
}

/// The JSON Schema of a whole `fields` object, for clients' forms.
pub fn template_schema(fields: &[TemplateField]) -> Value {
    let properties: Map<String, Value> = fields
        .iter()
        .map(|f| {
            let mut schema = f.schema.clone();
            if let Some(obj) = schema.as_object_mut() {
                obj.entry("title").or_insert_with(|| Value::String(f.label.clone()));
            }
            (f.name.clone(), schema)
        })
        .collect();
    let required: Vec<Value> = fields.iter().filter(|f| f.required).map(|f| Value::String(f.name.clone())).collect();
    serde_json::json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

/// Checks a document's `fields` against its type's template; each error
/// names the field and the rule.
pub fn check_fields(template: &[TemplateField], fields: &Map<String, Value>) -> Vec<(String, String)> {
    let mut errors = Vec::new();
    for key in fields.keys() {
        if !template.iter().any(|f| &f.name == key) {
            errors.push((format!("fields.{key}"), "is not a field of this document type".to_owned()));
        }
    }
    for f in template {
        let pointer = format!("fields.{}", f.name);
        match fields.get(&f.name) {
            None | Some(Value::Null) => {
                if f.required {
                    errors.push((pointer, "is required".into()));
                }
            }
            Some(value) => {
                if let Err(rule) = check_value(&f.schema, value) {
                    errors.push((pointer, rule));
                }
            }
        }
    }
    errors
}

fn check_value(schema: &Value, value: &Value) -> Result<(), String> {
    if let Some(t) = schema.get("type").and_then(Value::as_str) {
        let fits = match t {
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            _ => true,
        };
        if !fits {
            return Err(format!("must be of type {t}"));
        }
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array)
        && !options.contains(value)
    {
        return Err(format!("must be one of {}", Value::Array(options.clone())));
    }
    if let Some(s) = value.as_str() {
        let chars = s.chars().count() as u64;
        if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
            && chars < min
        {
            return Err(format!("must have at least {min} characters"));
        }
        if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
            && chars > max
        {
            return Err(format!("must have at most {max} characters"));
        }
        if schema.get("format").and_then(Value::as_str) == Some("date") && s.parse::<jiff::civil::Date>().is_err() {
            return Err("must be a date (YYYY-MM-DD)".into());
        }
    }
    if let Some(n) = value.as_f64() {
        if let Some(min) = schema.get("minimum").and_then(Value::as_f64)
            && n < min
        {
            return Err(format!("must be at least {min}"));
        }
        if let Some(max) = schema.get("maximum").and_then(Value::as_f64)
            && n > max
        {
            return Err(format!("must be at most {max}"));
        }
    }
    Ok(())
}

/// The canonical bytes of a document's content (type, number, reference,
/// subject, body, fields), whose SHA-256 the final PDF prints: anyone with
/// the content can recompute it.
pub fn content_canonical(
    type_code: &str,
    number: Option<&str>,
    reference: &str,
    subject: &str,
    body: &str,
    fields: &str,
) -> Vec<u8> {
    serde_json::json!(["plaza-gdi-content-v1", type_code, number, reference, subject, body, fields])
        .to_string()
        .into_bytes()
}

/// What a signer's act covers: the document's content, its signer list and
/// the previous act's signature, so that the acts form a chain (changing
/// any earlier act, or the content, breaks every later one).
pub struct SigningInput<'a> {
    pub document_id: i64,
    pub type_code: &'a str,
    pub reference: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
    pub fields: &'a str,
    pub step: i64,
    pub signer: &'a str,
    pub signed_at: &'a str,
    pub previous_signature: &'a str,
    /// The number, at the numbering signature.
    pub number: Option<&'a str>,
    /// The final PDF's SHA-256 (hex), at the numbering signature.
    pub pdf_sha256: Option<&'a str>,
}

impl SigningInput<'_> {
    /// The canonical bytes hashed for the act (JSON with fixed key order).
    pub fn canonical(&self) -> Vec<u8> {
        let value = serde_json::json!([
            "plaza-gdi-act-v1",
            self.document_id,
            self.type_code,
            self.reference,
            self.subject,
            self.body,
            self.fields,
            self.step,
            self.signer,
            self.signed_at,
            self.previous_signature,
            self.number,
            self.pdf_sha256,
        ]);
        value.to_string().into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lifecycle_allows_only_its_transitions() {
        use DocAction as A;
        use DocState as S;
        assert_eq!(doc_transition(S::Draft, A::Submit), Some(S::AwaitingSignatures));
        assert_eq!(doc_transition(S::Rejected, A::Edit), Some(S::Draft));
        assert_eq!(doc_transition(S::AwaitingSignatures, A::Reject), Some(S::Rejected));
        for action in [A::Edit, A::Submit, A::Sign, A::Reject, A::Cancel] {
            assert_eq!(doc_transition(S::Signed, action), None, "signed is immutable: {action:?}");
            assert_eq!(doc_transition(S::Cancelled, action), None, "cancelled is final: {action:?}");
        }
        assert_eq!(doc_transition(S::Draft, A::Sign), None);
        assert_eq!(doc_transition(S::AwaitingSignatures, A::Edit), None);
        assert_eq!(doc_transition(S::AwaitingSignatures, A::Submit), None);
    }

    #[test]
    fn numbers_have_the_gde_shape() {
        assert_eq!(format_number("DECRE", 2026, 123, "MUNI", "INTEN"), "DECRE-2026-00000123-MUNI-INTEN");
        assert_eq!(format_number("EX", 2027, 1, "MUNI", "HAC"), "EX-2027-00000001-MUNI-HAC");
    }

    #[test]
    fn the_year_turns_in_the_tenants_time_zone() {
        // 2027-01-01T02:00:00Z is still 2026 in Buenos Aires (UTC-3).
        let t = 1_798_768_800;
        assert_eq!(year_in(t, "UTC"), Ok(2027));
        assert_eq!(year_in(t, "America/Argentina/Buenos_Aires"), Ok(2026));
        assert_eq!(year_in(t + 3600, "America/Argentina/Buenos_Aires"), Ok(2027));
        assert!(year_in(t, "Mars/Olympus").is_err());
    }

    #[test]
    fn codes_are_short_upper_case_words() {
        assert!(valid_code("INTEN"));
        assert!(valid_code("SEC2"));
        assert!(!valid_code("inten"));
        assert!(!valid_code("2SEC"));
        assert!(!valid_code("A"));
        assert!(!valid_code("A-B"));
    }

    #[test]
    fn search_folds_accents_and_case() {
        assert_eq!(search_text(&["Resolución  Nº 5", "PAÑALES"]), "resolucion no 5 panales");
        assert_eq!(search_words("  Año-Fiscal "), vec!["ano", "fiscal"]);
    }

    #[test]
    fn fields_are_checked_against_the_template() {
        let template: Vec<TemplateField> = serde_json::from_value(json!([
            { "name": "monto", "label": "Monto", "required": true, "schema": { "type": "number", "minimum": 0 } },
            { "name": "fecha", "label": "Fecha", "schema": { "type": "string", "format": "date" } },
            { "name": "tipo", "label": "Tipo", "schema": { "enum": ["a", "b"] } }
        ]))
        .unwrap_or_default();
        assert_eq!(template.len(), 3);
        assert!(check_template(&template).is_ok());
        let ok = json!({ "monto": 10.5, "fecha": "2026-02-28", "tipo": "a" });
        assert!(check_fields(&template, ok.as_object().unwrap_or(&Map::new())).is_empty());
        let bad = json!({ "monto": -1, "fecha": "2026-02-30", "tipo": "c", "otro": 1 });
        let errors = check_fields(&template, bad.as_object().unwrap_or(&Map::new()));
        let named: Vec<&str> = errors.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(named, ["fields.otro", "fields.monto", "fields.fecha", "fields.tipo"]);
        let missing = check_fields(&template, &Map::new());
        assert_eq!(missing, vec![("fields.monto".to_owned(), "is required".to_owned())]);
    }

    #[test]
    fn templates_refuse_bad_field_names_and_types() {
        let field =
            |name: &str, schema: Value| TemplateField { name: name.into(), label: "L".into(), required: false, schema };
        assert!(check_template(&[field("Bad Name", json!({}))]).is_err());
        assert!(check_template(&[field("a", json!({})), field("a", json!({}))]).is_err());
        assert!(check_template(&[field("a", json!({ "type": "object" }))]).is_err());
        let schema = template_schema(&[field("a", json!({ "type": "string" }))]);
        assert_eq!(schema["properties"]["a"]["title"], "L");
    }

    #[test]
    fn an_act_covers_the_previous_signature() {
        let input = |previous: &'static str| SigningInput {
            document_id: 1,
            type_code: "NOTA",
            reference: "r",
            subject: "s",
            body: "b",
            fields: "{}",
            step: 2,
            signer: "u",
            signed_at: "2026-01-01T00:00:00Z",
            previous_signature: previous,
            number: None,
            pdf_sha256: None,
        };
        assert_ne!(input("aa").canonical(), input("ab").canonical());
    }
}
