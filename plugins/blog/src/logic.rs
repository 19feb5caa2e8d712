//! The blog's pure logic: slugs, Markdown, excerpts, search text, tags,
//! publication times, FAQ JSON-LD, RSS and sitemap XML, image sniffing and
//! input validation. Nothing here calls the host, so it is unit-tested
//! natively (`cargo test -p blog --target x86_64-unknown-linux-gnu`).

use std::collections::HashSet;

use plaza_sdk::Problem;
use pulldown_cmark::{Event, Options, Parser, TagEnd};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Longest slug, in bytes (slugs are ASCII).
pub const SLUG_MAX: usize = 120;
/// Title length, in characters.
pub const TITLE_MAX: usize = 200;
/// Longest meta description, in characters.
pub const META_DESCRIPTION_MAX: usize = 300;
/// Longest given excerpt, in characters.
pub const EXCERPT_MAX: usize = 500;
/// Length of a derived excerpt, in characters (before the ellipsis).
pub const DERIVED_EXCERPT_LEN: usize = 200;
/// Longest Markdown content, in characters.
pub const CONTENT_MAX: usize = 200_000;
/// At most this many tags per post.
pub const TAGS_MAX: usize = 20;
/// Longest tag, in bytes (tags are ASCII once normalised).
pub const TAG_MAX: usize = 50;
/// At most this many FAQ entries per post.
pub const FAQ_MAX: usize = 50;
/// Longest FAQ question and answer, in characters.
pub const FAQ_QUESTION_MAX: usize = 500;
pub const FAQ_ANSWER_MAX: usize = 5_000;
/// Cover images: at most 5 MB.
pub const COVER_MAX_BYTES: usize = 5 * 1024 * 1024;
/// Page sizes.
pub const PER_PAGE_DEFAULT: u32 = 20;
pub const PER_PAGE_MAX: u32 = 100;
/// Search: at most this many characters and words.
pub const QUERY_MAX: usize = 200;
pub const QUERY_WORDS_MAX: usize = 10;

// ----- validation errors -----

/// One invalid field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub detail: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self { field: field.into(), detail: detail.into() }
    }
}

/// The 422 problem for invalid fields: the detail names each field, and
/// `errors` lists them as `[{field, detail}]`.
pub fn invalid(errors: &[FieldError]) -> Problem {
    let detail = errors.iter().map(|e| format!("{}: {}", e.field, e.detail)).collect::<Vec<_>>().join("; ");
    Problem::unprocessable(detail).with("errors", json!(errors))
}

/// `Err(invalid(..))` when there are errors.
pub fn check(errors: &[FieldError]) -> Result<(), Problem> {
    if errors.is_empty() { Ok(()) } else { Err(invalid(errors)) }
}

/// A 422 for one field.
pub fn invalid_field(field: &str, detail: impl Into<String>) -> Problem {
    invalid(&[FieldError::new(field, detail)])
}

// ----- status -----

/// Where a post is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Visible to editors and admins only.
    Draft,
    /// Public.
    Published,
    /// Becomes public at `published_at` (the `publish-scheduled` job publishes it).
    Scheduled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::Published => "published",
            Status::Scheduled => "scheduled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "draft" => Some(Status::Draft),
            "published" => Some(Status::Published),
            "scheduled" => Some(Status::Scheduled),
            _ => None,
        }
    }
}

/// Where a post goes: a status and its publication time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publication {
    pub status: Status,
    /// RFC 3339 UTC; `None` for drafts.
    pub published_at: Option<String>,
}

/// The status and publication time a post gets from what a request asked
/// (`status`, `published_at`), given what it has (`current`, `None` for a
/// new post) and the time `now` (Unix seconds):
///
/// - `draft`: no publication time (asking for one is invalid);
/// - `scheduled`: `published_at` given (or kept from a scheduled post), in the future;
/// - `published`: `published_at` given and not in the future, or kept from
///   a published post, or now.
pub fn plan_publication(
    current: Option<&Publication>,
    status: Option<Status>,
    published_at: Option<&str>,
    now: i64,
) -> Result<Publication, FieldError> {
    let target = status.or(current.map(|c| c.status)).unwrap_or(Status::Draft);
    let requested = match published_at {
        Some(text) => Some(parse_rfc3339(text).ok_or_else(|| {
            FieldError::new("published_at", "must be an RFC 3339 date-time, e.g. 2025-03-01T12:00:00Z")
        })?),
        None => None,
    };
    let kept = |s: Status| current.filter(|c| c.status == s).and_then(|c| c.published_at.clone());
    match target {
        Status::Draft => match requested {
            Some(_) => {
                Err(FieldError::new("published_at", "only a published or scheduled post has a publication time"))
            }
            None => Ok(Publication { status: Status::Draft, published_at: None }),
        },
        Status::Scheduled => {
            let at = match requested {
                Some(at) => at,
                None => match kept(Status::Scheduled).as_deref().and_then(parse_rfc3339) {
                    Some(at) => at,
                    None => return Err(FieldError::new("published_at", "is required to schedule a post")),
                },
            };
            if at <= now {
                return Err(FieldError::new("published_at", "must be in the future to schedule a post"));
            }
            Ok(Publication { status: Status::Scheduled, published_at: Some(rfc3339(at)) })
        }
        Status::Published => {
            let at = match requested {
                Some(at) if at > now => {
                    return Err(FieldError::new(
                        "published_at",
                        "is in the future: schedule the post (status `scheduled`) instead",
                    ));
                }
                Some(at) => rfc3339(at),
                None => kept(Status::Published).unwrap_or_else(|| rfc3339(now)),
            };
            Ok(Publication { status: Status::Published, published_at: Some(at) })
        }
    }
}

// ----- time -----

/// `secs` since the Unix epoch as RFC 3339 UTC (`2025-03-01T12:00:00Z`).
pub fn rfc3339(secs: i64) -> String {
    plaza_sdk::time::rfc3339(secs)
}

/// Seconds since the Unix epoch of an RFC 3339 date-time
/// (`2025-03-01T12:00:00Z`, `…T12:00:00.5+02:00`); fractions are dropped.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let b = text.trim().as_bytes();
    if b.len() < 20 {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = b.get(range)?;
        if part.iter().all(u8::is_ascii_digit) { std::str::from_utf8(part).ok()?.parse().ok() } else { None }
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut rest = &b[19..];
    if let Some(frac) = rest.strip_prefix(b".") {
        let digits = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        rest = &frac[digits..];
    }
    let offset = match rest {
        b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let digits = [*h1, *h2, *m1, *m2];
            if !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            let d = |i: usize| i64::from(digits[i] - b'0');
            let (h, m) = (d(0) * 10 + d(1), d(2) * 10 + d(3));
            if h > 23 || m > 59 {
                return None;
            }
            let minutes = h * 60 + m;
            if *sign == b'+' { minutes } else { -minutes }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    Some(days * 86_400 + hour * 3600 + minute * 60 + second.min(59) - offset * 60)
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// An RFC 3339 UTC time as RSS wants it (RFC 822): `Sat, 01 Mar 2025 12:00:00 GMT`.
pub fn rfc822(rfc3339_text: &str) -> Option<String> {
    let secs = parse_rfc3339(rfc3339_text)?;
    let normal = rfc3339(secs); // YYYY-MM-DDTHH:MM:SSZ
    let days = secs.div_euclid(86_400);
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let weekday = WEEKDAYS[usize::try_from(days.rem_euclid(7)).ok()?];
    let month: usize = normal.get(5..7)?.parse().ok()?;
    let month = MONTHS.get(month.checked_sub(1)?)?;
    Some(format!("{weekday}, {} {month} {} {} GMT", normal.get(8..10)?, normal.get(0..4)?, normal.get(11..19)?))
}

// ----- slugs, tags and search text -----

/// ASCII lower-case words of `text` (accents and other scripts folded by
/// deunicode), each a run of `a-z0-9`.
fn folded_words(text: &str) -> impl Iterator<Item = String> {
    deunicode::deunicode(text)
        .to_ascii_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect::<Vec<_>>()
        .into_iter()
}

/// `text` as a slug: folded words joined by `-`, at most `max` bytes
/// (cut at a word boundary where possible); may be empty.
pub fn slugify(text: &str, max: usize) -> String {
    truncate_slug(&folded_words(text).collect::<Vec<_>>().join("-"), max)
}

/// A slug cut to at most `max` bytes, without a trailing `-`.
fn truncate_slug(slug: &str, max: usize) -> String {
    if slug.len() <= max {
        return slug.to_owned();
    }
    let cut = &slug[..max]; // ASCII
    let cut = match cut.rfind('-') {
        // Prefer a word boundary unless it throws most of the slug away.
        Some(i) if i >= max / 2 => &cut[..i],
        _ => cut,
    };
    cut.trim_end_matches('-').to_owned()
}

/// The slug made from a title: `Año Nuevo: ¡Ñandú!` → `ano-nuevo-nandu`
/// (`post` when the title has no letter or digit).
pub fn slug_from_title(title: &str) -> String {
    let slug = slugify(title, SLUG_MAX);
    if slug.is_empty() { "post".to_owned() } else { slug }
}

/// Whether `slug` is a valid explicit slug: `[a-z0-9]+(-[a-z0-9]+)*`, at
/// most [`SLUG_MAX`] bytes.
pub fn is_valid_slug(slug: &str) -> bool {
    !slug.is_empty()
        && slug.len() <= SLUG_MAX
        && slug.split('-').all(|w| !w.is_empty() && w.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()))
}

/// `base`, or the first of `base-2`, `base-3`, … that is not `taken`
/// (each at most [`SLUG_MAX`] bytes).
pub fn unique_slug(base: &str, taken: &HashSet<String>) -> String {
    if !taken.contains(base) {
        return base.to_owned();
    }
    let mut n: u64 = 2;
    loop {
        let suffix = format!("-{n}");
        let candidate = format!("{}{suffix}", truncate_slug(base, SLUG_MAX - suffix.len()));
        if !taken.contains(&candidate) {
            return candidate;
        }
        n += 1;
    }
}

/// The prefix every candidate of [`unique_slug`] starts with (for a `LIKE`
/// query of the slugs that could clash).
pub fn slug_family_prefix(base: &str) -> String {
    truncate_slug(base, SLUG_MAX - 12)
}

/// A tag as stored: folded, lower case, words joined by `-` (`Rust Lang` →
/// `rust-lang`, `Café` → `cafe`); `None` when nothing is left or it is too long.
pub fn normalize_tag(tag: &str) -> Option<String> {
    let tag = folded_words(tag).collect::<Vec<_>>().join("-");
    (!tag.is_empty() && tag.len() <= TAG_MAX).then_some(tag)
}

/// The tags of a request, normalised and deduplicated (in order), or the
/// errors naming `tags`.
pub fn normalize_tags(tags: &[String]) -> Result<Vec<String>, FieldError> {
    let mut out: Vec<String> = Vec::new();
    for (i, raw) in tags.iter().enumerate() {
        let Some(tag) = normalize_tag(raw) else {
            return Err(FieldError::new(
                format!("tags[{i}]"),
                format!("a tag has 1 to {TAG_MAX} letters, digits or dashes once normalised"),
            ));
        };
        if !out.contains(&tag) {
            out.push(tag);
        }
    }
    if out.len() > TAGS_MAX {
        return Err(FieldError::new("tags", format!("at most {TAGS_MAX} tags")));
    }
    Ok(out)
}

/// Text as full-text search compares it: folded words separated by single
/// spaces, with a space at both ends (`" ano nuevo "`).
pub fn search_text(parts: &[&str]) -> String {
    let words: Vec<String> = parts.iter().flat_map(|p| folded_words(p)).collect();
    format!(" {} ", words.join(" "))
}

/// The words of a search query, folded like [`search_text`], deduplicated:
/// every one must appear in a matching post. Invalid names `q`.
pub fn search_terms(q: &str) -> Result<Vec<String>, Problem> {
    if q.chars().count() > QUERY_MAX {
        return Err(invalid_field("q", format!("at most {QUERY_MAX} characters")));
    }
    let mut terms: Vec<String> = Vec::new();
    for word in folded_words(q) {
        if !terms.contains(&word) {
            terms.push(word);
        }
    }
    if terms.len() > QUERY_WORDS_MAX {
        return Err(invalid_field("q", format!("at most {QUERY_WORDS_MAX} words")));
    }
    Ok(terms)
}

// ----- Markdown -----

fn markdown_options() -> Options {
    Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH
}

/// Markdown rendered to HTML and sanitised: no scripts, event handlers,
/// `javascript:` URLs or other active content survive.
pub fn render_markdown(markdown: &str) -> String {
    let mut html = String::with_capacity(markdown.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, Parser::new_ext(markdown, markdown_options()));
    ammonia::clean(&html)
}

/// The plain text of Markdown: its words, without markup or raw HTML,
/// whitespace collapsed to single spaces.
pub fn plain_text(markdown: &str) -> String {
    let mut text = String::with_capacity(markdown.len());
    for event in Parser::new_ext(markdown, markdown_options()) {
        match event {
            Event::Text(t) | Event::Code(t) => text.push_str(&t),
            Event::SoftBreak | Event::HardBreak | Event::Rule => text.push(' '),
            Event::End(
                TagEnd::Paragraph
                | TagEnd::Heading(_)
                | TagEnd::Item
                | TagEnd::CodeBlock
                | TagEnd::BlockQuote(_)
                | TagEnd::TableCell,
            ) => text.push(' '),
            _ => {}
        }
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The first ~[`DERIVED_EXCERPT_LEN`] characters of `text`, cut at a word
/// boundary, with `…` when cut.
pub fn derive_excerpt(text: &str) -> String {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.chars().count() <= DERIVED_EXCERPT_LEN {
        return text;
    }
    let cut: String = text.chars().take(DERIVED_EXCERPT_LEN).collect();
    let cut = match cut.rfind(' ') {
        Some(i) if i >= cut.len() / 2 => &cut[..i],
        _ => cut.as_str(),
    };
    format!("{}…", cut.trim_end_matches(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | ':' | '.')))
}

// ----- FAQ and JSON-LD -----

/// One question of a post's FAQ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FaqItem {
    /// The question, 1 to 500 characters.
    pub question: String,
    /// Its answer (plain text), 1 to 5000 characters.
    pub answer: String,
}

/// A post's FAQ trimmed and checked (errors name `faq[i].question` / `.answer`).
pub fn clean_faq(faq: &[FaqItem], errors: &mut Vec<FieldError>) -> Vec<FaqItem> {
    if faq.len() > FAQ_MAX {
        errors.push(FieldError::new("faq", format!("at most {FAQ_MAX} questions")));
    }
    let mut out = Vec::with_capacity(faq.len());
    for (i, item) in faq.iter().enumerate() {
        let question = item.question.trim();
        let answer = item.answer.trim();
        for (name, value, max) in [("question", question, FAQ_QUESTION_MAX), ("answer", answer, FAQ_ANSWER_MAX)] {
            let len = value.chars().count();
            if len == 0 {
                errors.push(FieldError::new(format!("faq[{i}].{name}"), "must not be empty"));
            } else if len > max {
                errors.push(FieldError::new(format!("faq[{i}].{name}"), format!("at most {max} characters")));
            }
        }
        out.push(FaqItem { question: question.to_owned(), answer: answer.to_owned() });
    }
    out
}

/// A schema.org `FAQPage`, as JSON-LD.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct FaqPage {
    /// Always `https://schema.org`.
    #[serde(rename = "@context")]
    pub context: String,
    /// Always `FAQPage`.
    #[serde(rename = "@type")]
    pub kind: String,
    /// The questions.
    #[serde(rename = "mainEntity")]
    pub main_entity: Vec<FaqQuestion>,
}

/// A schema.org `Question` with its accepted answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct FaqQuestion {
    /// Always `Question`.
    #[serde(rename = "@type")]
    pub kind: String,
    /// The question.
    pub name: String,
    /// The answer.
    #[serde(rename = "acceptedAnswer")]
    pub accepted_answer: FaqAnswer,
}

/// A schema.org `Answer`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct FaqAnswer {
    /// Always `Answer`.
    #[serde(rename = "@type")]
    pub kind: String,
    /// The answer's text.
    pub text: String,
}

/// The FAQ as a `FAQPage`; `None` without questions.
pub fn faq_json_ld(faq: &[FaqItem]) -> Option<FaqPage> {
    (!faq.is_empty()).then(|| FaqPage {
        context: "https://schema.org".into(),
        kind: "FAQPage".into(),
        main_entity: faq
            .iter()
            .map(|item| FaqQuestion {
                kind: "Question".into(),
                name: item.question.clone(),
                accepted_answer: FaqAnswer { kind: "Answer".into(), text: item.answer.clone() },
            })
            .collect(),
    })
}

// ----- text fields -----

/// A required single-line text field trimmed and checked: 1 to `max`
/// characters, no control characters.
pub fn required_text(field: &str, value: &str, max: usize, errors: &mut Vec<FieldError>) -> String {
    let value = value.trim();
    let len = value.chars().count();
    if len == 0 {
        errors.push(FieldError::new(field, "must not be empty"));
    } else if len > max {
        errors.push(FieldError::new(field, format!("at most {max} characters")));
    } else if value.chars().any(char::is_control) {
        errors.push(FieldError::new(field, "must not contain control characters"));
    }
    value.to_owned()
}

/// An optional text field trimmed and checked: at most `max` characters;
/// empty means none.
pub fn optional_text(field: &str, value: &str, max: usize, errors: &mut Vec<FieldError>) -> Option<String> {
    let value = value.trim();
    if value.chars().count() > max {
        errors.push(FieldError::new(field, format!("at most {max} characters")));
    } else if value.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        errors.push(FieldError::new(field, "must not contain control characters"));
    }
    (!value.is_empty()).then(|| value.to_owned())
}

/// Markdown content checked: at most [`CONTENT_MAX`] characters.
pub fn check_content(markdown: &str, errors: &mut Vec<FieldError>) {
    if markdown.chars().count() > CONTENT_MAX {
        errors.push(FieldError::new("content_markdown", format!("at most {CONTENT_MAX} characters")));
    }
}

/// An explicit slug checked (422 naming `slug` when invalid).
pub fn check_slug(slug: &str, errors: &mut Vec<FieldError>) {
    if !is_valid_slug(slug) {
        errors.push(FieldError::new(
            "slug",
            format!(
                "must be lower-case letters and digits in words joined by single dashes, at most {SLUG_MAX} characters"
            ),
        ));
    }
}

// ----- query parameters -----

/// `page` (1-based, default 1) and `per_page` (1 to 100, default 20).
pub fn parse_paging(page: Option<&str>, per_page: Option<&str>) -> Result<(u32, u32), Problem> {
    let mut errors = Vec::new();
    let page = match page.map(str::trim) {
        None | Some("") => 1,
        Some(text) => match text.parse::<u32>() {
            Ok(n) if (1..=1_000_000).contains(&n) => n,
            _ => {
                errors.push(FieldError::new("page", "must be a whole number from 1"));
                1
            }
        },
    };
    let per_page = match per_page.map(str::trim) {
        None | Some("") => PER_PAGE_DEFAULT,
        Some(text) => match text.parse::<u32>() {
            Ok(n) if (1..=PER_PAGE_MAX).contains(&n) => n,
            _ => {
                errors.push(FieldError::new("per_page", format!("must be a whole number from 1 to {PER_PAGE_MAX}")));
                PER_PAGE_DEFAULT
            }
        },
    };
    check(&errors)?;
    Ok((page, per_page))
}

// ----- covers -----

/// Content types a cover may have.
pub const COVER_TYPES: [&str; 4] = ["image/png", "image/jpeg", "image/webp", "image/gif"];

/// The media type of a `content-type` header, lower case, without parameters.
pub fn media_type(content_type: &str) -> String {
    content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase()
}

/// Whether `data` starts like an image of `media_type`.
pub fn looks_like(media_type: &str, data: &[u8]) -> bool {
    match media_type {
        "image/png" => data.starts_with(b"\x89PNG\r\n\x1a\n"),
        "image/jpeg" => data.starts_with(&[0xFF, 0xD8, 0xFF]),
        "image/gif" => data.starts_with(b"GIF87a") || data.starts_with(b"GIF89a"),
        "image/webp" => data.len() >= 12 && data.starts_with(b"RIFF") && &data[8..12] == b"WEBP",
        _ => false,
    }
}

// ----- XML: RSS and sitemap -----

/// Text escaped for XML content and attributes; characters XML 1.0 cannot
/// carry (most control characters) are dropped.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// One item of the RSS feed.
#[derive(Debug, Clone)]
pub struct FeedItem {
    pub id: i64,
    pub title: String,
    pub slug: String,
    pub excerpt: String,
    pub published_at: Option<String>,
    pub tags: Vec<String>,
}

/// The blog's base path: `/t/{tenant}/blog`.
pub fn base_path(tenant: &str) -> String {
    format!("/t/{tenant}/blog")
}

/// An RSS 2.0 document of `items` (newest first).
pub fn rss(tenant: &str, items: &[FeedItem]) -> String {
    let base = base_path(tenant);
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\">\n<channel>\n");
    xml.push_str(&format!("<title>{}</title>\n", xml_escape(&format!("Blog of {tenant}"))));
    xml.push_str(&format!("<link>{}</link>\n", xml_escape(&format!("{base}/posts"))));
    xml.push_str(&format!("<description>{}</description>\n", xml_escape(&format!("The latest posts of {tenant}"))));
    if let Some(date) = items.first().and_then(|i| i.published_at.as_deref()).and_then(rfc822) {
        xml.push_str(&format!("<lastBuildDate>{date}</lastBuildDate>\n"));
    }
    for item in items {
        let link = format!("{base}/posts/{}", item.slug);
        xml.push_str("<item>\n");
        xml.push_str(&format!("<title>{}</title>\n", xml_escape(&item.title)));
        xml.push_str(&format!("<link>{}</link>\n", xml_escape(&link)));
        xml.push_str(&format!(
            "<guid isPermaLink=\"false\">{}</guid>\n",
            xml_escape(&format!("{tenant}-blog-post-{}", item.id))
        ));
        if let Some(date) = item.published_at.as_deref().and_then(rfc822) {
            xml.push_str(&format!("<pubDate>{date}</pubDate>\n"));
        }
        xml.push_str(&format!("<description>{}</description>\n", xml_escape(&item.excerpt)));
        for tag in &item.tags {
            xml.push_str(&format!("<category>{}</category>\n", xml_escape(tag)));
        }
        xml.push_str("</item>\n");
    }
    xml.push_str("</channel>\n</rss>\n");
    xml
}

/// A sitemap of published posts (`(slug, last modified)`) and tag pages.
pub fn sitemap(tenant: &str, posts: &[(String, String)], tags: &[String]) -> String {
    let base = base_path(tenant);
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
    );
    for (slug, modified) in posts {
        xml.push_str(&format!(
            "<url><loc>{}</loc><lastmod>{}</lastmod></url>\n",
            xml_escape(&format!("{base}/posts/{slug}")),
            xml_escape(modified)
        ));
    }
    for tag in tags {
        xml.push_str(&format!("<url><loc>{}</loc></url>\n", xml_escape(&format!("{base}/tags/{tag}"))));
    }
    xml.push_str("</urlset>\n");
    xml
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn slugs_fold_accents_and_punctuation() {
        assert_eq!(slug_from_title("Año Nuevo: ¡Ñandú!"), "ano-nuevo-nandu");
        assert_eq!(slug_from_title("  Hello,   World -- 2025 "), "hello-world-2025");
        assert_eq!(slug_from_title("!!!"), "post");
        let long = "word ".repeat(60);
        let slug = slug_from_title(&long);
        assert!(slug.len() <= SLUG_MAX && !slug.ends_with('-') && is_valid_slug(&slug), "{slug}");
    }

    #[test]
    fn explicit_slugs_are_checked() {
        for ok in ["a", "hello-world", "2025-plans", "x1-y2"] {
            assert!(is_valid_slug(ok), "{ok}");
        }
        for bad in ["", "-a", "a-", "a--b", "Hello", "año", "a_b", "a b", &"a".repeat(121)] {
            assert!(!is_valid_slug(bad), "{bad}");
        }
    }

    #[test]
    fn clashing_slugs_get_a_number() {
        let taken: HashSet<String> = ["hello", "hello-2"].iter().map(|s| (*s).to_owned()).collect();
        assert_eq!(unique_slug("hello", &taken), "hello-3");
        assert_eq!(unique_slug("other", &taken), "other");
        let long = "a".repeat(SLUG_MAX);
        let taken: HashSet<String> = [long.clone()].into_iter().collect();
        let next = unique_slug(&long, &taken);
        assert_eq!(next.len(), SLUG_MAX);
        assert!(next.ends_with("-2") && next.starts_with(&slug_family_prefix(&long)));
    }

    #[test]
    fn tags_are_normalised() {
        assert_eq!(
            normalize_tags(&["Rust".into(), " rust ".into(), "Café Crème".into()]).unwrap(),
            vec!["rust", "cafe-creme"]
        );
        assert_eq!(normalize_tags(&["ok".into(), "!!".into()]).unwrap_err().field, "tags[1]");
        let many: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
        assert_eq!(normalize_tags(&many).unwrap_err().field, "tags");
    }

    #[test]
    fn search_text_and_terms_fold_the_same_way() {
        let text = search_text(&["Año Nuevo", "El ñandú corre."]);
        assert_eq!(text, " ano nuevo el nandu corre ");
        assert_eq!(search_terms("ÑANDÚ  año ñandú").unwrap(), vec!["nandu", "ano"]);
        assert!(search_terms(&"a ".repeat(150)).is_err());
        assert_eq!(search_terms(&"w1 w2 w3 w4 w5 w6 w7 w8 w9 w10 w11".to_owned()).unwrap_err().status(), 422);
    }

    #[test]
    fn markdown_is_rendered_and_sanitised() {
        let html = render_markdown(
            "**bold** and [x](javascript:alert(1))\n\n<script>alert(1)</script>\n\n<img src=x onerror=alert(2)>",
        );
        assert!(html.contains("<strong>bold</strong>"), "{html}");
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("alert(1)"), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
        assert!(!html.contains("onerror"), "{html}");
        assert!(render_markdown("| a |\n|---|\n| b |").contains("<table>"));
    }

    #[test]
    fn plain_text_and_excerpts() {
        assert_eq!(
            plain_text("# Title\n\nSome *emphasis*\nand `code`.\n\n- one\n- two"),
            "Title Some emphasis and code. one two"
        );
        assert_eq!(plain_text("<script>alert(1)</script>\n\nText"), "Text");
        let long = "word ".repeat(100);
        let excerpt = derive_excerpt(&long);
        assert!(excerpt.ends_with('…') && excerpt.chars().count() <= DERIVED_EXCERPT_LEN + 1, "{excerpt}");
        assert_eq!(derive_excerpt("short text"), "short text");
    }

    #[test]
    fn faq_becomes_a_faq_page() {
        let mut errors = Vec::new();
        let faq = clean_faq(&[FaqItem { question: " Why? ".into(), answer: "Because.".into() }], &mut errors);
        assert!(errors.is_empty());
        let ld = serde_json::to_value(faq_json_ld(&faq)).unwrap();
        assert_eq!(
            ld,
            json!({
                "@context": "https://schema.org",
                "@type": "FAQPage",
                "mainEntity": [{"@type": "Question", "name": "Why?", "acceptedAnswer": {"@type": "Answer", "text": "Because."}}]
            })
        );
        assert_eq!(faq_json_ld(&[]), None);
        clean_faq(&[FaqItem { question: "Q".into(), answer: " ".into() }], &mut errors);
        assert_eq!(errors[0].field, "faq[0].answer");
    }

    #[test]
    fn rfc3339_parses_and_formats() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2000-02-29T00:00:00Z"), Some(951_782_400));
        assert_eq!(parse_rfc3339("2000-02-29T02:00:00.123+02:00"), Some(951_782_400));
        assert_eq!(parse_rfc3339("1999-12-31T19:00:00-05:00"), Some(946_684_800));
        for bad in ["", "2000-02-30T00:00:00Z", "2000-01-01", "2000-01-01T00:00:00", "2000-01-01T25:00:00Z", "x"] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
        assert_eq!(rfc822("2025-03-01T12:00:00Z").as_deref(), Some("Sat, 01 Mar 2025 12:00:00 GMT"));
        assert_eq!(rfc822("1970-01-01T00:00:00Z").as_deref(), Some("Thu, 01 Jan 1970 00:00:00 GMT"));
    }

    #[test]
    fn publication_rules() {
        let now = 1_000_000;
        let at = |s: i64| rfc3339(s);
        let draft = plan_publication(None, None, None, now).unwrap();
        assert_eq!(draft, Publication { status: Status::Draft, published_at: None });
        let published = plan_publication(None, Some(Status::Published), None, now).unwrap();
        assert_eq!(published.published_at, Some(at(now)));
        // Kept when it stays published; a past time may be given.
        assert_eq!(plan_publication(Some(&published), None, None, now + 50).unwrap(), published);
        let backdated = plan_publication(None, Some(Status::Published), Some(&at(now - 10)), now).unwrap();
        assert_eq!(backdated.published_at, Some(at(now - 10)));
        let future = plan_publication(None, Some(Status::Published), Some(&at(now + 10)), now).unwrap_err();
        assert_eq!(future.field, "published_at");
        // Scheduled needs a future time.
        assert!(plan_publication(None, Some(Status::Scheduled), None, now).is_err());
        assert!(plan_publication(None, Some(Status::Scheduled), Some(&at(now)), now).is_err());
        let scheduled = plan_publication(None, Some(Status::Scheduled), Some(&at(now + 60)), now).unwrap();
        assert_eq!(scheduled.status, Status::Scheduled);
        assert_eq!(plan_publication(Some(&scheduled), None, None, now).unwrap(), scheduled);
        // Drafts have no time.
        assert!(plan_publication(Some(&draft), None, Some(&at(now)), now).is_err());
        assert_eq!(plan_publication(Some(&scheduled), Some(Status::Draft), None, now).unwrap(), draft);
        assert!(plan_publication(None, Some(Status::Published), Some("soon"), now).is_err());
    }

    #[test]
    fn paging_is_checked() {
        assert_eq!(parse_paging(None, None).unwrap(), (1, 20));
        assert_eq!(parse_paging(Some("3"), Some("100")).unwrap(), (3, 100));
        for (page, per_page) in [(Some("0"), None), (Some("x"), None), (None, Some("101")), (None, Some("0"))] {
            assert_eq!(parse_paging(page, per_page).unwrap_err().status(), 422);
        }
    }

    #[test]
    fn images_are_sniffed() {
        assert!(looks_like("image/png", b"\x89PNG\r\n\x1a\nrest"));
        assert!(looks_like("image/gif", b"GIF89a..."));
        assert!(looks_like("image/webp", b"RIFF\0\0\0\0WEBPVP8 "));
        assert!(looks_like("image/jpeg", &[0xFF, 0xD8, 0xFF, 0xE0]));
        assert!(!looks_like("image/png", b"<svg>"));
        assert_eq!(media_type("Image/PNG; charset=binary"), "image/png");
    }

    #[test]
    fn xml_is_escaped_and_well_formed() {
        assert_eq!(xml_escape("a & <b> \"c\" 'd'\u{1}"), "a &amp; &lt;b&gt; &quot;c&quot; &apos;d&apos;");
        let item = FeedItem {
            id: 1,
            title: "Fish & <Chips>".into(),
            slug: "fish-chips".into(),
            excerpt: "Tasty".into(),
            published_at: Some("2025-03-01T12:00:00Z".into()),
            tags: vec!["food".into()],
        };
        let feed = rss("acme", &[item]);
        assert!(feed.contains("<title>Fish &amp; &lt;Chips&gt;</title>"), "{feed}");
        assert!(feed.contains("<link>/t/acme/blog/posts/fish-chips</link>"));
        assert!(feed.contains("<pubDate>Sat, 01 Mar 2025 12:00:00 GMT</pubDate>"));
        let map = sitemap("acme", &[("fish-chips".into(), "2025-03-01T12:00:00Z".into())], &["food".into()]);
        assert!(map.contains("<loc>/t/acme/blog/tags/food</loc>"));
    }
}
