//! The blog's pure logic: slugs, Markdown, excerpts, search text, tags,
//! publication times, FAQ JSON-LD, RSS and sitemap XML, image sniffing and
//! input validation. Nothing here calls the host, so it is unit-tested
//! natively (`cargo test -p blog --target x86_64-unknown-linux-gnu`).

use std::borrow::Cow;
use std::collections::HashSet;
use std::io;

use plaza_sdk::Problem;
use pulldown_cmark::{Event, Options, Parser, TagEnd};
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event as XmlEvent};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::format_description::BorrowedFormatItem;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

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
    parse_date_time(text).map(OffsetDateTime::unix_timestamp)
}

/// An RFC 3339 date-time as `time` reads it, with what this module has
/// always accepted around it: surrounding whitespace is ignored, the date
/// and time are separated by `T`, `t` or a space (`time` takes any
/// character there), and a leap second (`:60`) stands for the second before
/// it at any time of day (`time` takes it only at 23:59:60 UTC on the last
/// day of a month, the only place one can fall).
fn parse_date_time(text: &str) -> Option<OffsetDateTime> {
    let text = text.trim();
    if !matches!(text.as_bytes().get(10), Some(b'T' | b't' | b' ')) {
        return None;
    }
    let text: Cow<'_, str> = match (text.get(..17), text.get(17..19), text.get(19..)) {
        (Some(head), Some("60"), Some(tail)) => format!("{head}59{tail}").into(),
        _ => text.into(),
    };
    OffsetDateTime::parse(&text, &Rfc3339).ok()
}

/// RFC 822 dates as RSS writes them, in GMT.
const RFC822: &[BorrowedFormatItem<'_>] =
    format_description!("[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT");

/// An RFC 3339 UTC time as RSS wants it (RFC 822): `Sat, 01 Mar 2025 12:00:00 GMT`.
pub fn rfc822(rfc3339_text: &str) -> Option<String> {
    parse_date_time(rfc3339_text)?.checked_to_offset(UtcOffset::UTC)?.format(RFC822).ok()
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

/// Text escaped for XML content and attributes by quick-xml (`&`, `<`,
/// `>`, `"`, `'`, and `\r` as `&#13;` so that it survives line-end
/// normalisation). Characters XML 1.0 cannot carry (most control
/// characters) are dropped first: quick-xml writes whatever it is given.
pub fn xml_escape(text: &str) -> String {
    quick_xml::escape::escape(text.chars().filter(|&c| is_xml_char(c)).collect::<String>()).into_owned()
}

/// Whether XML 1.0 can carry `c`: not a control character other than tab,
/// line feed and carriage return, nor U+FFFE or U+FFFF.
fn is_xml_char(c: char) -> bool {
    !matches!(c, '\u{0}'..='\u{8}' | '\u{B}' | '\u{C}' | '\u{E}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}')
}

/// `text` as the content of an element.
fn xml_text(text: &str) -> BytesText<'static> {
    BytesText::from_escaped(xml_escape(text))
}

/// The declaration every document starts with.
fn xml_declaration() -> BytesDecl<'static> {
    BytesDecl::new("1.0", Some("UTF-8"), None)
}

/// A line break between elements, where the writer puts none itself.
fn xml_line_break() -> XmlEvent<'static> {
    XmlEvent::Text(BytesText::from_escaped("\n"))
}

/// A document written by `write` into memory, ending with a line break.
fn xml_document(mut writer: Writer<Vec<u8>>, write: impl FnOnce(&mut Writer<Vec<u8>>) -> io::Result<()>) -> String {
    // Writing to a `Vec` cannot fail, and quick-xml writes out the UTF-8 it
    // is given: neither fallback is ever taken.
    match write(&mut writer).and_then(|()| writer.write_event(xml_line_break())) {
        Ok(()) => String::from_utf8(writer.into_inner()).unwrap_or_default(),
        Err(_) => String::new(),
    }
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

/// The feed's own title and description, from the tenant's settings.
#[derive(Debug, Default, Clone, Copy)]
pub struct Channel<'a> {
    pub title: Option<&'a str>,
    pub description: Option<&'a str>,
}

/// An RSS 2.0 document of `items` (newest first).
pub fn rss(tenant: &str, channel: &Channel<'_>, items: &[FeedItem]) -> String {
    let base = base_path(tenant);
    // Indented by nothing: every element on a line of its own, text
    // elements on one line, as feeds have always been written.
    xml_document(Writer::new_with_indent(Vec::new(), b' ', 0), |w| {
        w.write_event(XmlEvent::Decl(xml_declaration()))?;
        w.create_element("rss").with_attribute(("version", "2.0")).write_inner_content(|w| {
            w.create_element("channel").write_inner_content(|w| {
                let title = channel.title.map_or_else(|| format!("Blog of {tenant}"), str::to_owned);
                w.create_element("title").write_text_content(xml_text(&title))?;
                w.create_element("link").write_text_content(xml_text(&format!("{base}/posts")))?;
                let description =
                    channel.description.map_or_else(|| format!("The latest posts of {tenant}"), str::to_owned);
                w.create_element("description").write_text_content(xml_text(&description))?;
                if let Some(date) = items.first().and_then(|i| i.published_at.as_deref()).and_then(rfc822) {
                    w.create_element("lastBuildDate").write_text_content(xml_text(&date))?;
                }
                for item in items {
                    w.create_element("item").write_inner_content(|w| {
                        w.create_element("title").write_text_content(xml_text(&item.title))?;
                        w.create_element("link")
                            .write_text_content(xml_text(&format!("{base}/posts/{}", item.slug)))?;
                        w.create_element("guid")
                            .with_attribute(("isPermaLink", "false"))
                            .write_text_content(xml_text(&format!("{tenant}-blog-post-{}", item.id)))?;
                        if let Some(date) = item.published_at.as_deref().and_then(rfc822) {
                            w.create_element("pubDate").write_text_content(xml_text(&date))?;
                        }
                        w.create_element("description").write_text_content(xml_text(&item.excerpt))?;
                        for tag in &item.tags {
                            w.create_element("category").write_text_content(xml_text(tag))?;
                        }
                        Ok(())
                    })?;
                }
                Ok(())
            })?;
            Ok(())
        })?;
        Ok(())
    })
}

/// A sitemap of published posts (`(slug, last modified)`) and tag pages.
pub fn sitemap(tenant: &str, posts: &[(String, String)], tags: &[String]) -> String {
    let base = base_path(tenant);
    // Not indented: one `<url>` a line, its children on that line.
    xml_document(Writer::new(Vec::new()), |w| {
        w.write_event(XmlEvent::Decl(xml_declaration()))?;
        w.write_event(xml_line_break())?;
        w.create_element("urlset")
            .with_attribute(("xmlns", "http://www.sitemaps.org/schemas/sitemap/0.9"))
            .write_inner_content(|w| {
                w.write_event(xml_line_break())?;
                for (slug, modified) in posts {
                    w.create_element("url").write_inner_content(|w| {
                        w.create_element("loc").write_text_content(xml_text(&format!("{base}/posts/{slug}")))?;
                        w.create_element("lastmod").write_text_content(xml_text(modified))?;
                        Ok(())
                    })?;
                    w.write_event(xml_line_break())?;
                }
                for tag in tags {
                    w.create_element("url").write_inner_content(|w| {
                        w.create_element("loc").write_text_content(xml_text(&format!("{base}/tags/{tag}")))?;
                        Ok(())
                    })?;
                    w.write_event(xml_line_break())?;
                }
                Ok(())
            })?;
        Ok(())
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn the_feed_takes_its_title_and_description_from_the_settings() {
        let channel = Channel { title: Some("Noticias & avisos"), description: Some("De la Municipalidad") };
        let feed = rss("acme", &channel, &[]);
        assert!(feed.contains("<title>Noticias &amp; avisos</title>"), "{feed}");
        assert!(feed.contains("<description>De la Municipalidad</description>"), "{feed}");
    }

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
        assert_eq!(search_terms("w1 w2 w3 w4 w5 w6 w7 w8 w9 w10 w11").unwrap_err().status(), 422);
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
        let feed = rss("acme", &Channel::default(), &[item]);
        assert!(feed.contains("<title>Fish &amp; &lt;Chips&gt;</title>"), "{feed}");
        assert!(feed.contains("<link>/t/acme/blog/posts/fish-chips</link>"));
        assert!(feed.contains("<pubDate>Sat, 01 Mar 2025 12:00:00 GMT</pubDate>"));
        let map = sitemap("acme", &[("fish-chips".into(), "2025-03-01T12:00:00Z".into())], &["food".into()]);
        assert!(map.contains("<loc>/t/acme/blog/tags/food</loc>"));
    }

    #[test]
    fn titles_with_markup_characters_are_escaped() {
        let item = FeedItem {
            id: 7,
            title: "Tom & \"Jerry\" <3".into(),
            slug: "tom-jerry-3".into(),
            excerpt: String::new(),
            published_at: None,
            tags: Vec::new(),
        };
        let feed = rss("acme", &Channel::default(), &[item]);
        assert!(feed.contains("<title>Tom &amp; &quot;Jerry&quot; &lt;3</title>"), "{feed}");
        assert!(!feed.contains("Tom & "), "{feed}");
    }

    #[test]
    fn feed_and_sitemap_are_written_line_by_line() {
        let items = [
            FeedItem {
                id: 2,
                title: "Second".into(),
                slug: "second".into(),
                excerpt: "It's <new>".into(),
                published_at: Some("2025-03-02T08:30:00+01:00".into()),
                tags: vec!["food".into(), "web-dev".into()],
            },
            FeedItem {
                id: 1,
                title: "First".into(),
                slug: "first".into(),
                excerpt: String::new(),
                published_at: None,
                tags: Vec::new(),
            },
        ];
        assert_eq!(
            rss("acme", &Channel::default(), &items),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\">\n<channel>\n\
             <title>Blog of acme</title>\n<link>/t/acme/blog/posts</link>\n\
             <description>The latest posts of acme</description>\n\
             <lastBuildDate>Sun, 02 Mar 2025 07:30:00 GMT</lastBuildDate>\n\
             <item>\n<title>Second</title>\n<link>/t/acme/blog/posts/second</link>\n\
             <guid isPermaLink=\"false\">acme-blog-post-2</guid>\n\
             <pubDate>Sun, 02 Mar 2025 07:30:00 GMT</pubDate>\n\
             <description>It&apos;s &lt;new&gt;</description>\n\
             <category>food</category>\n<category>web-dev</category>\n</item>\n\
             <item>\n<title>First</title>\n<link>/t/acme/blog/posts/first</link>\n\
             <guid isPermaLink=\"false\">acme-blog-post-1</guid>\n<description></description>\n</item>\n\
             </channel>\n</rss>\n"
        );
        assert_eq!(
            rss("acme", &Channel::default(), &[]),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\">\n<channel>\n\
             <title>Blog of acme</title>\n<link>/t/acme/blog/posts</link>\n\
             <description>The latest posts of acme</description>\n</channel>\n</rss>\n"
        );
        let map = sitemap(
            "acme",
            &[("first".into(), "2025-03-01T12:00:00Z".into()), ("a&b".into(), "2025-03-02T00:00:00Z".into())],
            &["food".into()],
        );
        assert_eq!(
            map,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n\
             <url><loc>/t/acme/blog/posts/first</loc><lastmod>2025-03-01T12:00:00Z</lastmod></url>\n\
             <url><loc>/t/acme/blog/posts/a&amp;b</loc><lastmod>2025-03-02T00:00:00Z</lastmod></url>\n\
             <url><loc>/t/acme/blog/tags/food</loc></url>\n</urlset>\n"
        );
        assert_eq!(
            sitemap("acme", &[], &[]),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n</urlset>\n"
        );
    }

    #[test]
    fn rfc3339_edge_cases_keep_their_meaning() {
        // Separators: `T`, `t` or a space; nothing else.
        assert_eq!(parse_rfc3339("2000-01-01t00:00:00z"), Some(946_684_800));
        assert_eq!(parse_rfc3339(" 2000-01-01 00:00:00Z\n"), Some(946_684_800));
        assert_eq!(parse_rfc3339("2000-01-01X00:00:00Z"), None);
        assert_eq!(parse_rfc3339("2000-01-01é00:00:00Z"), None);
        // A leap second counts as the second before it, at any time of day.
        assert_eq!(parse_rfc3339("1998-12-31T23:59:60Z"), Some(915_148_799));
        assert_eq!(parse_rfc3339("2000-01-01T12:00:60.9Z"), Some(946_728_059));
        assert_eq!(parse_rfc3339("2000-01-01T12:00:61Z"), None);
        // Fractions of any length are dropped, also before 1970.
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59.999999999999Z"), Some(-1));
        assert_eq!(parse_rfc3339("2000-01-01T00:00:00.Z"), None);
        // Offsets up to 23:59 either way; none is not UTC.
        assert_eq!(parse_rfc3339("2000-01-01T00:00:00+23:59"), Some(946_684_800 - 86_340));
        assert_eq!(parse_rfc3339("2000-01-01T00:00:00-00:00"), Some(946_684_800));
        for bad in [
            "2000-01-01T00:00:00+24:00",
            "2000-01-01T00:00:00+01:60",
            "2000-01-01T00:00:00+0100",
            "2000-01-01T00:00:00+01",
            "2000-01-01T00:00:00ZZ",
            "2000-01-01T24:00:00Z",
            "2000-01-01T00:60:00Z",
            "2000-00-01T00:00:00Z",
            "1900-02-29T00:00:00Z",
            "+2000-01-01T00:00:00Z",
            "20000-01-01T00:00:00Z",
            "2000-1-01T00:00:00Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
        assert_eq!(parse_rfc3339("0000-01-01T00:00:00Z"), Some(-62_167_219_200));
        assert_eq!(parse_rfc3339("9999-12-31T23:59:59Z"), Some(253_402_300_799));
        assert_eq!(rfc822("2024-02-29T23:59:59-00:01").as_deref(), Some("Fri, 01 Mar 2024 00:00:59 GMT"));
        assert_eq!(rfc822("2024-02-30T00:00:00Z"), None);
    }
}
