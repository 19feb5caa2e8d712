//! Exports of a document: Markdown with a small front matter, and a plain
//! PDF (A4, one column, the bundled DejaVu Sans embedded as a subset with a
//! ToUnicode map, so `pdftotext` and screen readers get the text back).
//! The PDF is written the way the `gdi` module writes its own, with
//! typst's `pdf-writer`. Both are pure: the same input gives the same bytes.

use std::collections::BTreeMap;

use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, UnicodeCmap};
use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};
use pulldown_cmark::{Event, Parser, Tag, TagEnd};
use ttf_parser::{Face, GlyphId};

/// DejaVu Sans (Bitstream Vera derived, free license: `fonts/LICENSE-DejaVu`).
static FONT: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");

const PAGE_W: f32 = 595.0;
const PAGE_H: f32 = 842.0;
const MARGIN: f32 = 56.0;
const FOOTER: f32 = 40.0;

/// What an export shows of a document.
pub struct Exported<'a> {
    pub title: &'a str,
    pub doc_type: &'a str,
    pub folder: Option<&'a str>,
    pub updated_at: &'a str,
    pub content: &'a str,
}

/// The document as Markdown, with a YAML front matter (`title`, `type`,
/// `folder`, `updated_at`). Strings are written as JSON strings, which are
/// valid YAML double-quoted scalars, so no title can break out of them.
pub fn markdown(doc: &Exported<'_>) -> String {
    let quoted = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned());
    let folder = doc.folder.map_or_else(|| "null".to_owned(), quoted);
    let mut out = format!(
        "---\ntitle: {}\ntype: {}\nfolder: {folder}\nupdated_at: {}\n---\n\n",
        quoted(doc.title),
        quoted(doc.doc_type),
        quoted(doc.updated_at)
    );
    out.push_str(doc.content);
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// A file name for a download: the title's letters and digits joined by
/// `-`, lower-cased, at most 60 characters; `document-{id}` when none.
pub fn file_stem(title: &str, id: i64) -> String {
    let mut stem = String::new();
    for word in title.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()) {
        if stem.len() + word.len() + 1 > 60 {
            break;
        }
        if !stem.is_empty() {
            stem.push('-');
        }
        stem.push_str(&word.to_ascii_lowercase());
    }
    if stem.is_empty() { format!("document-{id}") } else { stem }
}

/// One line of text on a page.
struct Line {
    text: String,
    x: f32,
    y: f32,
    size: f32,
    gray: f32,
}

/// A filled rectangle (rules).
struct Block {
    x: f32,
    y: f32,
    w: f32,
    h: f32,
}

#[derive(Default)]
struct PageContent {
    lines: Vec<Line>,
    blocks: Vec<Block>,
}

/// Lays text out top to bottom, breaking lines at the measure and pages at
/// the bottom margin.
struct Layout<'f> {
    face: Face<'f>,
    pages: Vec<PageContent>,
    y: f32,
}

impl<'f> Layout<'f> {
    fn new(face: Face<'f>) -> Self {
        Self { face, pages: vec![PageContent::default()], y: PAGE_H - MARGIN }
    }

    fn page(&mut self) -> &mut PageContent {
        if self.pages.is_empty() {
            self.pages.push(PageContent::default());
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    fn width(&self, text: &str, size: f32) -> f32 {
        let units = f32::from(self.face.units_per_em());
        text.chars()
            .map(|c| {
                let gid = self.face.glyph_index(c).unwrap_or(GlyphId(0));
                f32::from(self.face.glyph_hor_advance(gid).unwrap_or(0))
            })
            .sum::<f32>()
            * size
            / units
    }

    fn need(&mut self, height: f32) {
        if self.y - height < MARGIN + FOOTER {
            self.pages.push(PageContent::default());
            self.y = PAGE_H - MARGIN;
        }
    }

    /// A paragraph wrapped to the measure, `indent` points in. A word wider
    /// than the measure is cut into pieces that fit.
    fn paragraph(&mut self, text: &str, size: f32, indent: f32, gray: f32) {
        let measure = PAGE_W - 2.0 * MARGIN - indent;
        let leading = size * 1.35;
        for raw in text.split('\n') {
            let mut line = String::new();
            for word in raw.split_whitespace() {
                for piece in self.pieces(word, size, measure) {
                    let candidate = if line.is_empty() { piece.clone() } else { format!("{line} {piece}") };
                    if self.width(&candidate, size) <= measure || line.is_empty() {
                        line = candidate;
                    } else {
                        self.emit(std::mem::take(&mut line), size, indent, gray, leading);
                        line = piece;
                    }
                }
            }
            self.emit(line, size, indent, gray, leading);
        }
    }

    /// `word` cut into pieces no wider than `measure`.
    fn pieces(&self, word: &str, size: f32, measure: f32) -> Vec<String> {
        if self.width(word, size) <= measure {
            return vec![word.to_owned()];
        }
        let mut pieces = Vec::new();
        let mut piece = String::new();
        for c in word.chars() {
            piece.push(c);
            if self.width(&piece, size) > measure && piece.chars().count() > 1 {
                piece.pop();
                pieces.push(std::mem::take(&mut piece));
                piece.push(c);
            }
        }
        if !piece.is_empty() {
            pieces.push(piece);
        }
        pieces
    }

    fn emit(&mut self, text: String, size: f32, indent: f32, gray: f32, leading: f32) {
        self.need(leading);
        self.y -= leading;
        let y = self.y;
        self.page().lines.push(Line { text, x: MARGIN + indent, y, size, gray });
    }

    fn gap(&mut self, points: f32) {
        self.y -= points;
    }

    fn rule(&mut self) {
        self.need(8.0);
        self.y -= 6.0;
        let y = self.y;
        self.page().blocks.push(Block { x: MARGIN, y, w: PAGE_W - 2.0 * MARGIN, h: 0.6 });
        self.y -= 4.0;
    }
}

/// Markdown to paragraphs: headings larger, list items with a bullet, code
/// and everything else as text (raw HTML is shown as written).
fn lay_out_markdown(layout: &mut Layout<'_>, body: &str) {
    let mut text = String::new();
    let mut size = 11.0;
    let mut indent = 0.0;
    let mut prefix = String::new();
    for event in Parser::new(body) {
        match event {
            Event::Start(Tag::Heading { level, .. }) => {
                size = match level as u8 {
                    1 => 15.0,
                    2 => 13.5,
                    _ => 12.0,
                };
            }
            Event::Start(Tag::Item) => {
                prefix = "•  ".into();
                indent = 14.0;
            }
            Event::Text(t) | Event::Code(t) | Event::Html(t) | Event::InlineHtml(t) => text.push_str(&t),
            Event::SoftBreak => text.push(' '),
            Event::HardBreak => text.push('\n'),
            Event::End(TagEnd::Heading(_) | TagEnd::Paragraph | TagEnd::Item | TagEnd::CodeBlock) => {
                if !text.trim().is_empty() {
                    let content = format!("{prefix}{}", text.trim());
                    layout.paragraph(&content, size, indent, 0.0);
                    layout.gap(if indent > 0.0 { 1.0 } else { 5.0 });
                }
                text.clear();
                prefix.clear();
                size = 11.0;
                if matches!(event, Event::End(TagEnd::Item)) {
                    indent = 0.0;
                }
            }
            _ => {}
        }
    }
    if !text.trim().is_empty() {
        layout.paragraph(text.trim(), size, indent, 0.0);
    }
}

/// The document as a PDF: title, a line of metadata, a rule, the content.
pub fn pdf(doc: &Exported<'_>) -> Vec<u8> {
    let Ok(face) = Face::parse(FONT, 0) else { return Vec::new() };
    let mut l = Layout::new(face);
    l.paragraph(doc.title, 18.0, 0.0, 0.0);
    l.gap(2.0);
    let mut meta = format!("Type: {}", doc.doc_type);
    if let Some(folder) = doc.folder {
        meta.push_str(&format!(" · Folder: {folder}"));
    }
    meta.push_str(&format!(" · Updated: {}", doc.updated_at.replacen('T', " ", 1).trim_end_matches('Z')));
    l.paragraph(&meta, 9.5, 0.0, 0.35);
    l.rule();
    l.gap(4.0);
    lay_out_markdown(&mut l, doc.content);
    finish(l, doc.title)
}

/// Writes the laid-out pages with the font subset they use.
fn finish(layout: Layout<'_>, title: &str) -> Vec<u8> {
    let Layout { face, mut pages, .. } = layout;
    let total = pages.len();
    for (i, p) in pages.iter_mut().enumerate() {
        let label = format!("{} / {total}", i + 1);
        p.lines.push(Line { text: label, x: MARGIN, y: MARGIN - 10.0, size: 8.0, gray: 0.4 });
    }
    // Glyphs used, remapped to the subset's ids (0 stays .notdef).
    let mut remapper = subsetter::GlyphRemapper::new();
    let mut to_unicode: BTreeMap<u16, char> = BTreeMap::new();
    let mut advances: BTreeMap<u16, f32> = BTreeMap::new();
    let units = f32::from(face.units_per_em());
    let mut encode = |text: &str| -> Vec<u8> {
        let mut out = Vec::with_capacity(text.len() * 2);
        for c in text.chars() {
            let old = face.glyph_index(c).unwrap_or(GlyphId(0));
            let new = remapper.remap(old.0);
            to_unicode.entry(new).or_insert(c);
            advances.entry(new).or_insert_with(|| f32::from(face.glyph_hor_advance(old).unwrap_or(0)) * 1000.0 / units);
            out.extend_from_slice(&new.to_be_bytes());
        }
        out
    };
    let encoded: Vec<Vec<Vec<u8>>> = pages.iter().map(|p| p.lines.iter().map(|l| encode(&l.text)).collect()).collect();
    let subset = subsetter::subset(FONT, 0, &remapper).unwrap_or_default();

    let mut pdf = Pdf::new();
    let mut next = 1;
    let mut alloc = || {
        let r = Ref::new(next);
        next += 1;
        r
    };
    let catalog = alloc();
    let tree = alloc();
    let info = alloc();
    let type0 = alloc();
    let cid = alloc();
    let descriptor = alloc();
    let font_file = alloc();
    let cmap_id = alloc();
    let page_ids: Vec<(Ref, Ref)> = (0..total).map(|_| (alloc(), alloc())).collect();
    let font_name = Name(b"AAAAAA+DejaVuSans");

    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids(page_ids.iter().map(|(p, _)| *p)).count(i32::try_from(total).unwrap_or(i32::MAX));
    pdf.document_info(info).title(TextStr(title)).producer(TextStr("Plaza documents"));

    for (i, (page_id, content_id)) in page_ids.iter().enumerate() {
        let mut page = pdf.page(*page_id);
        page.media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H)).parent(tree).contents(*content_id);
        page.resources().fonts().pair(Name(b"F1"), type0);
        page.finish();
        let mut content = Content::new();
        for b in &pages[i].blocks {
            content.set_fill_gray(0.4).rect(b.x, b.y, b.w, b.h).fill_nonzero();
        }
        for (line, bytes) in pages[i].lines.iter().zip(&encoded[i]) {
            content.begin_text();
            content.set_fill_gray(line.gray);
            content.set_font(Name(b"F1"), line.size);
            content.next_line(line.x, line.y);
            content.show(Str(bytes));
            content.end_text();
        }
        let raw = content.finish();
        let compressed = miniz_oxide::deflate::compress_to_vec_zlib(&raw, 6);
        pdf.stream(*content_id, &compressed).filter(Filter::FlateDecode);
    }

    pdf.type0_font(type0)
        .base_font(font_name)
        .encoding_predefined(Name(b"Identity-H"))
        .descendant_font(cid)
        .to_unicode(cmap_id);
    let mut cid_font = pdf.cid_font(cid);
    cid_font.subtype(CidFontType::Type2).base_font(font_name);
    cid_font.system_info(SystemInfo { registry: Str(b"Adobe"), ordering: Str(b"Identity"), supplement: 0 });
    cid_font.font_descriptor(descriptor).default_width(0.0).cid_to_gid_map_predefined(Name(b"Identity"));
    let widths: Vec<f32> = (0..remapper.num_gids()).map(|g| advances.get(&g).copied().unwrap_or(0.0)).collect();
    cid_font.widths().consecutive(0, widths);
    cid_font.finish();
    let scale = |v: i16| f32::from(v) * 1000.0 / units;
    let bbox = face.global_bounding_box();
    pdf.font_descriptor(descriptor)
        .name(font_name)
        .flags(FontFlags::NON_SYMBOLIC)
        .bbox(Rect::new(scale(bbox.x_min), scale(bbox.y_min), scale(bbox.x_max), scale(bbox.y_max)))
        .italic_angle(0.0)
        .ascent(scale(face.ascender()))
        .descent(scale(face.descender()))
        .cap_height(scale(face.capital_height().unwrap_or(face.ascender())))
        .stem_v(80.0)
        .font_file2(font_file);
    let compressed_font = miniz_oxide::deflate::compress_to_vec_zlib(&subset, 6);
    pdf.stream(font_file, &compressed_font).filter(Filter::FlateDecode);
    let mut cmap =
        UnicodeCmap::new(Name(b"Custom"), SystemInfo { registry: Str(b"Adobe"), ordering: Str(b"UCS"), supplement: 0 });
    for (gid, c) in &to_unicode {
        cmap.pair(*gid, *c);
    }
    pdf.cmap(cmap_id, &cmap.finish());
    pdf.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc<'a>(title: &'a str, content: &'a str) -> Exported<'a> {
        Exported { title, doc_type: "policy", folder: Some("HR"), updated_at: "2026-03-01T12:00:00Z", content }
    }

    #[test]
    fn markdown_has_a_front_matter_that_cannot_be_broken_out_of() {
        let md = markdown(&doc("Leave: \"policy\"\n---\ninjected: true", "# Leave\n\nTen days."));
        assert!(md.starts_with("---\ntitle: \"Leave: \\\"policy\\\"\\n---\\ninjected: true\"\ntype: \"policy\"\n"));
        assert!(md.contains("folder: \"HR\"\nupdated_at: \"2026-03-01T12:00:00Z\"\n---\n\n# Leave\n\nTen days.\n"));
        assert_eq!(md.matches("\n---\n").count(), 1, "one closing fence: {md}");
        let none = markdown(&Exported { folder: None, ..doc("T", "x") });
        assert!(none.contains("folder: null\n"));
    }

    #[test]
    fn file_stems_are_safe() {
        assert_eq!(file_stem("Leave policy 2026!", 7), "leave-policy-2026");
        assert_eq!(file_stem("../../etc/passwd", 7), "etc-passwd");
        assert_eq!(file_stem("Ñandú", 7), "and");
        assert_eq!(file_stem("—", 7), "document-7");
        assert!(file_stem(&"word ".repeat(50), 1).len() <= 60);
    }

    #[test]
    fn a_pdf_is_written_with_every_line_inside_the_page() {
        let content = format!("# Heading\n\nA paragraph.\n\n- one\n- two\n\n{}", "palabra ".repeat(3000));
        let bytes = pdf(&doc("Política de licencias", &content));
        assert!(bytes.starts_with(b"%PDF-"), "a PDF");
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("/FontFile2") && text.contains("/ToUnicode"));
        assert!(text.matches("/Type /Page\n").count() > 1 || text.matches("/Type /Page").count() > 2, "several pages");
        let Ok(face) = Face::parse(FONT, 0) else { panic!("the bundled font parses") };
        let mut l = Layout::new(face);
        l.paragraph(&"x".repeat(5000), 11.0, 0.0, 0.0);
        for page in &l.pages {
            for line in &page.lines {
                assert!(l.width(&line.text, line.size) <= PAGE_W - 2.0 * MARGIN + 0.01, "a long word is cut");
                assert!(line.y >= MARGIN + FOOTER - 0.01);
            }
        }
    }
}
