//! The PDFs: a document (a draft's preview, or the final one at
//! numbering) and an expediente's cover (carátula).
//!
//! Layout is deliberately plain: A4, one column, the bundled DejaVu Sans
//! (so accents and `ñ` render everywhere), embedded as a subset with a
//! ToUnicode map (so `pdftotext` and screen readers get the text back).
//! Rendering is pure: the same input gives the same bytes, and no host is
//! called here, so it is unit-tested natively.

use std::collections::BTreeMap;

use pdf_writer::types::{
    AnnotationFlags, AnnotationType, CidFontType, FieldType, FontFlags, SigFlags, SystemInfo, UnicodeCmap,
};
use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};
use pulldown_cmark::{Event, Parser, Tag, TagEnd};
use ttf_parser::{Face, GlyphId};

use crate::common::Tenant;
use crate::documents::Document;
use crate::expedientes::Expediente;
use crate::org::DocType;

/// DejaVu Sans (Bitstream Vera derived, free license: `fonts/LICENSE-DejaVu`).
static FONT: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");

const PAGE_W: f32 = 595.0;
const PAGE_H: f32 = 842.0;
const MARGIN: f32 = 56.0;
const FOOTER: f32 = 40.0;

/// What makes a document's PDF final.
pub struct Final<'a> {
    pub number: Option<&'a str>,
    pub signed_at: &'a str,
    /// SHA-256 (hex) of the document's content (see `logic::content_digest`).
    pub content_sha256: &'a str,
    /// Who signs the PDF itself (PAdES), with why.
    pub seal: Seal<'a>,
}

/// The PDF signature's description: who, why, where.
pub struct Seal<'a> {
    pub signer: &'a str,
    pub reason: &'a str,
    pub location: &'a str,
}

/// Hex digits reserved for the CMS signature in `/Contents` (8 KiB of DER:
/// a P-256 or RSA-4096 signature with its certificate fits several times).
const SIGNATURE_HEX: usize = 16_384;

/// A PDF whose signature is still to be made: the bytes with the
/// placeholders filled but `/Contents`, and the SHA-256 input ranges.
pub struct Unsigned {
    bytes: Vec<u8>,
    /// Where `<` of `/Contents <…>` is.
    contents: usize,
}

impl Unsigned {
    /// The two signed ranges: everything but the `/Contents` hex string.
    pub fn signed_ranges(&self) -> (&[u8], &[u8]) {
        let end = self.contents + SIGNATURE_HEX + 2;
        (&self.bytes[..self.contents], &self.bytes[end..])
    }

    /// Puts the detached CMS signature (DER) in `/Contents`; `None` when it
    /// does not fit the space reserved.
    pub fn seal(mut self, cms: &[u8]) -> Option<Vec<u8>> {
        if cms.len() * 2 > SIGNATURE_HEX {
            return None;
        }
        const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
        for (i, b) in cms.iter().enumerate() {
            self.bytes[self.contents + 1 + 2 * i] = DIGITS[usize::from(b >> 4)];
            self.bytes[self.contents + 2 + 2 * i] = DIGITS[usize::from(b & 0x0f)];
        }
        Some(self.bytes)
    }
}

/// `[0000000000 0000000000 0000000000 0000000000]`: a `/ByteRange` of fixed
/// width, filled in once the file's length is known.
struct ByteRangePlaceholder;

impl pdf_writer::Primitive for ByteRangePlaceholder {
    fn write(self, buf: &mut pdf_writer::Buf) {
        buf.extend(b"[0000000000 0000000000 0000000000 0000000000]".iter());
    }
}

/// `<00…00>`: room for the signature's hex.
struct ContentsPlaceholder;

impl pdf_writer::Primitive for ContentsPlaceholder {
    fn write(self, buf: &mut pdf_writer::Buf) {
        buf.extend(std::iter::once(b'<'));
        buf.extend(std::iter::repeat_n(b'0', SIGNATURE_HEX));
        buf.extend(std::iter::once(b'>'));
    }
}

/// `D:YYYYMMDDHHmmSS+00'00'` from an RFC 3339 UTC timestamp.
fn pdf_date(rfc3339: &str) -> String {
    let digits: String = rfc3339.chars().filter(char::is_ascii_digit).take(14).collect();
    format!("D:{digits}+00'00'")
}

/// A document to render.
pub struct DocumentPage<'a> {
    pub tenant: &'a Tenant,
    pub doc_type: &'a DocType,
    pub doc: &'a Document,
    /// `None` renders a preview marked as a draft.
    pub final_: Option<Final<'a>>,
}

/// One line of text on a page.
struct Line {
    text: String,
    x: f32,
    y: f32,
    size: f32,
    gray: f32,
}

/// A filled rectangle (rules, QR modules).
struct Block {
    x: f32,
    y: f32,
    w: f32,
    h: f32,
    gray: f32,
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

    /// A paragraph wrapped to the measure, `indent` points in.
    fn paragraph(&mut self, text: &str, size: f32, indent: f32, gray: f32) {
        let measure = PAGE_W - 2.0 * MARGIN - indent;
        let leading = size * 1.35;
        for raw in text.split('\n') {
            let mut line = String::new();
            for word in raw.split_whitespace() {
                let candidate = if line.is_empty() { word.to_owned() } else { format!("{line} {word}") };
                if self.width(&candidate, size) <= measure || line.is_empty() {
                    line = candidate;
                } else {
                    self.emit(std::mem::take(&mut line), size, indent, gray, leading);
                    line = word.to_owned();
                }
            }
            self.emit(line, size, indent, gray, leading);
        }
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
        self.page().blocks.push(Block { x: MARGIN, y, w: PAGE_W - 2.0 * MARGIN, h: 0.6, gray: 0.4 });
        self.y -= 4.0;
    }

    /// A QR code of `data`, `side` points wide, at the left margin.
    fn qr(&mut self, data: &str, side: f32) {
        let Ok(code) = qrcode::QrCode::new(data.as_bytes()) else { return };
        let n = code.width();
        let colors = code.to_colors();
        self.need(side + 6.0);
        self.y -= side + 6.0;
        let module = side / n as f32;
        let (x0, y0) = (MARGIN, self.y);
        let page = self.page();
        for (i, color) in colors.iter().enumerate() {
            if *color == qrcode::Color::Dark {
                let (row, col) = (i / n, i % n);
                page.blocks.push(Block {
                    x: x0 + col as f32 * module,
                    y: y0 + (n - 1 - row) as f32 * module,
                    w: module,
                    h: module,
                    gray: 0.0,
                });
            }
        }
    }
}

/// Markdown to paragraphs: headings larger, list items with a bullet,
/// everything else as text (no raw HTML: it is shown as written).
fn markdown(layout: &mut Layout<'_>, body: &str) {
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

/// Date and time of an RFC 3339 UTC timestamp, as printed.
fn when(rfc3339: &str) -> String {
    rfc3339.replacen('T', " ", 1).trim_end_matches('Z').to_owned() + " UTC"
}

/// A preview of a document, marked as a draft.
pub fn preview(page: &DocumentPage<'_>) -> Vec<u8> {
    render(page).bytes
}

/// The final PDF of a document (number, signers with their times, the
/// verification URL and its QR code) with an invisible signature field
/// whose signature is still to be made: see [`Unsigned::seal`].
pub fn final_document(page: &DocumentPage<'_>) -> Option<Unsigned> {
    let rendered = render(page);
    rendered.contents.map(|contents| Unsigned { bytes: rendered.bytes, contents })
}

struct Rendered {
    bytes: Vec<u8>,
    contents: Option<usize>,
}

fn render(page: &DocumentPage<'_>) -> Rendered {
    let Ok(face) = Face::parse(FONT, 0) else { return Rendered { bytes: Vec::new(), contents: None } };
    let mut l = Layout::new(face);
    let doc = page.doc;
    l.paragraph(&page.tenant.municipality, 10.0, 0.0, 0.35);
    l.paragraph(&page.doc_type.name.to_uppercase(), 16.0, 0.0, 0.0);
    match &page.final_ {
        Some(f) => {
            let number = f.number.unwrap_or("(tipo sin numeración)");
            l.paragraph(&format!("Número: {number}"), 12.0, 0.0, 0.0);
            l.paragraph(&format!("Fecha: {}", when(f.signed_at)), 10.0, 0.0, 0.2);
        }
        None => {
            l.paragraph("BORRADOR — sin número, sin valor legal", 12.0, 0.0, 0.45);
            l.paragraph(&format!("Estado: {}", doc.state), 10.0, 0.0, 0.45);
        }
    }
    l.paragraph(&format!("Sector: {}", doc.sector_code), 10.0, 0.0, 0.2);
    if !doc.reference.is_empty() {
        l.paragraph(&format!("Referencia: {}", doc.reference), 10.0, 0.0, 0.2);
    }
    l.rule();
    l.paragraph(&doc.subject, 13.0, 0.0, 0.0);
    l.gap(6.0);
    markdown(&mut l, &doc.body_markdown);
    if let Some(fields) = doc.fields.as_object()
        && !fields.is_empty()
    {
        l.gap(4.0);
        for f in &page.doc_type.template {
            if let Some(value) = fields.get(&f.name) {
                let shown = value.as_str().map_or_else(|| value.to_string(), str::to_owned);
                l.paragraph(&format!("{}: {shown}", f.label), 10.5, 0.0, 0.0);
            }
        }
    }
    l.gap(10.0);
    l.rule();
    l.paragraph(if page.final_.is_some() { "Firmas" } else { "Firmantes" }, 12.0, 0.0, 0.0);
    for s in &doc.signers {
        let status = match &s.signed_at {
            Some(at) => format!("firmado el {}", when(at)),
            None => "pendiente".into(),
        };
        let numbers = if s.numbers { " (numera)" } else { "" };
        l.paragraph(
            &format!("{}. {} — {}, {}{numbers}: {status}", s.step, s.full_name, s.position, s.sector_code),
            10.0,
            8.0,
            0.0,
        );
    }
    if let Some(f) = &page.final_
        && let Some(number) = f.number
    {
        l.gap(10.0);
        l.rule();
        let url = format!("{}/{number}", page.tenant.verify_base_url);
        l.paragraph(&format!("Verificación: {url}"), 8.5, 0.0, 0.2);
        l.paragraph(&format!("Huella SHA-256 del contenido: {}", f.content_sha256), 8.5, 0.0, 0.2);
        l.paragraph(
            "La huella SHA-256 de este archivo PDF se publica en esa dirección; una copia alterada no coincide.",
            8.5,
            0.0,
            0.2,
        );
        l.qr(&url, 72.0);
    }
    let title = match &page.final_ {
        Some(Final { number: Some(n), .. }) => (*n).to_owned(),
        _ => format!("{} (borrador)", doc.subject),
    };
    let seal = page.final_.as_ref().map(|f| (&f.seal, f.signed_at));
    finish(l, &title, seal)
}

/// The cover (carátula) of an expediente.
pub fn cover(tenant: &Tenant, exp: &Expediente) -> Vec<u8> {
    let Ok(face) = Face::parse(FONT, 0) else { return Vec::new() };
    let mut l = Layout::new(face);
    l.paragraph(&tenant.municipality, 10.0, 0.0, 0.35);
    l.paragraph("CARÁTULA DE EXPEDIENTE", 16.0, 0.0, 0.0);
    l.paragraph(&exp.number, 14.0, 0.0, 0.0);
    l.rule();
    let initiator = match exp.initiator_id.as_deref() {
        Some(id) => format!("{} ({id})", exp.initiator_name),
        None => exp.initiator_name.clone(),
    };
    let kind = if exp.initiator_kind == "citizen" { "Ciudadano" } else { "Repartición" };
    for (label, value) in [
        ("Carátula", exp.subject.as_str()),
        ("Trámite", exp.procedure_type.as_str()),
        ("Iniciador", &format!("{kind}: {initiator}")),
        ("Sector de inicio", exp.created_sector.as_str()),
        ("Fecha de caratulación", &when(&exp.created_at)),
    ] {
        l.paragraph(&format!("{label}: {value}"), 11.5, 0.0, 0.0);
        l.gap(3.0);
    }
    finish(l, &exp.number, None).bytes
}

/// Writes the laid-out pages with the font subset they use; with a seal,
/// also an invisible signature field on the first page and its signature
/// dictionary, written last so its placeholders are found from the end.
fn finish(layout: Layout<'_>, title: &str, seal: Option<(&Seal<'_>, &str)>) -> Rendered {
    let draft = seal.is_none();
    let Layout { face, mut pages, .. } = layout;
    let total = pages.len();
    // Page numbers (and the draft mark) are known only now.
    for (i, p) in pages.iter_mut().enumerate() {
        let label = format!("Página {} de {total}", i + 1);
        p.lines.push(Line { text: label, x: MARGIN, y: MARGIN - 10.0, size: 8.0, gray: 0.4 });
        if draft {
            p.lines.push(Line {
                text: "BORRADOR".into(),
                x: PAGE_W - MARGIN - 60.0,
                y: MARGIN - 10.0,
                size: 8.0,
                gray: 0.4,
            });
        }
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
    let field = alloc();
    let signature = alloc();
    let page_ids: Vec<(Ref, Ref)> = (0..total).map(|_| (alloc(), alloc())).collect();
    let font_name = Name(b"AAAAAA+DejaVuSans");

    let mut cat = pdf.catalog(catalog);
    cat.pages(tree);
    if seal.is_some() {
        cat.form().fields([field]).sig_flags(SigFlags::SIGNATURES_EXIST | SigFlags::APPEND_ONLY);
    }
    cat.finish();
    pdf.pages(tree).kids(page_ids.iter().map(|(p, _)| *p)).count(i32::try_from(total).unwrap_or(i32::MAX));
    pdf.document_info(info).title(TextStr(title)).producer(TextStr("Plaza gdi"));

    for (i, (page_id, content_id)) in page_ids.iter().enumerate() {
        let mut page = pdf.page(*page_id);
        page.media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H)).parent(tree).contents(*content_id);
        page.resources().fonts().pair(Name(b"F1"), type0);
        if i == 0 && seal.is_some() {
            page.annotations([field]);
        }
        page.finish();
        let mut content = Content::new();
        for b in &pages[i].blocks {
            content.set_fill_gray(b.gray).rect(b.x, b.y, b.w, b.h).fill_nonzero();
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
    let Some((seal, signed_at)) = seal else {
        return Rendered { bytes: pdf.finish(), contents: None };
    };
    let first_page = page_ids.first().map_or(tree, |(p, _)| *p);
    let mut widget = pdf.form_field(field);
    widget.field_type(FieldType::Signature).partial_name(TextStr("Firma")).pair(Name(b"V"), signature);
    let mut annotation = widget.into_annotation();
    annotation.subtype(AnnotationType::Widget).rect(Rect::new(0.0, 0.0, 0.0, 0.0)).page(first_page);
    annotation.flags(AnnotationFlags::PRINT | AnnotationFlags::LOCKED);
    annotation.finish();
    let mut sig = pdf.indirect(signature).dict();
    sig.pair(Name(b"Type"), Name(b"Sig"))
        .pair(Name(b"Filter"), Name(b"Adobe.PPKLite"))
        .pair(Name(b"SubFilter"), Name(b"ETSI.CAdES.detached"))
        .pair(Name(b"Name"), TextStr(seal.signer))
        .pair(Name(b"Reason"), TextStr(seal.reason))
        .pair(Name(b"Location"), TextStr(seal.location))
        .pair(Name(b"M"), Str(pdf_date(signed_at).as_bytes()))
        .pair(Name(b"ByteRange"), ByteRangePlaceholder)
        .pair(Name(b"Contents"), ContentsPlaceholder);
    sig.finish();
    let mut bytes = pdf.finish();
    let Some(contents) = rfind(&bytes, b"/Contents <").map(|at| at + b"/Contents ".len()) else {
        return Rendered { bytes, contents: None };
    };
    let Some(range) = rfind(&bytes, b"/ByteRange [").map(|at| at + b"/ByteRange ".len()) else {
        return Rendered { bytes, contents: None };
    };
    let after = contents + SIGNATURE_HEX + 2;
    let filled = format!("[{:010} {:010} {:010} {:010}]", 0, contents, after, bytes.len() - after);
    bytes[range..range + filled.len()].copy_from_slice(filled.as_bytes());
    Rendered { bytes, contents: Some(contents) }
}

fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_breaks_into_lines_and_pages() {
        let Ok(face) = Face::parse(FONT, 0) else { panic!("the bundled font parses") };
        let mut l = Layout::new(face);
        let text = "palabra ".repeat(3000);
        l.paragraph(&text, 11.0, 0.0, 0.0);
        assert!(l.pages.len() > 1, "3000 words need more than a page");
        for page in &l.pages {
            for line in &page.lines {
                assert!(l.width(&line.text, line.size) <= PAGE_W - 2.0 * MARGIN + 0.01);
                assert!(line.y >= MARGIN + FOOTER - 0.01);
            }
        }
    }

    #[test]
    fn a_sealed_pdf_signs_everything_but_its_signature() {
        let Ok(face) = Face::parse(FONT, 0) else { panic!("the bundled font parses") };
        let mut l = Layout::new(face);
        l.paragraph("Decreto", 12.0, 0.0, 0.0);
        let seal = Seal { signer: "María Ibáñez", reason: "Numeración", location: "San Martín" };
        let rendered = finish(l, "DECRE-2026-00000001-MUNI-INTEN", Some((&seal, "2026-03-01T12:00:00Z")));
        let unsigned = Unsigned { contents: rendered.contents.unwrap_or_default(), bytes: rendered.bytes };
        let (head, tail) = unsigned.signed_ranges();
        assert!(head.ends_with(b"/Contents "), "the first range stops before `<`");
        let total = unsigned.bytes.len();
        let text = String::from_utf8_lossy(&unsigned.bytes).into_owned();
        let expected = format!(
            "/ByteRange [0000000000 {:010} {:010} {:010}]",
            head.len(),
            head.len() + SIGNATURE_HEX + 2,
            tail.len()
        );
        assert!(text.contains(&expected), "{expected}");
        assert_eq!(head.len() + SIGNATURE_HEX + 2 + tail.len(), total);
        assert!(text.contains("/SubFilter /ETSI.CAdES.detached"));
        let sealed = unsigned.seal(&[0xAB, 0x01]).unwrap_or_default();
        assert!(String::from_utf8_lossy(&sealed).contains("/Contents <AB0100"));
        let too_big = Unsigned { contents: 0, bytes: vec![0; 10] }.seal(&vec![0; SIGNATURE_HEX]);
        assert!(too_big.is_none());
        assert_eq!(pdf_date("2026-03-01T12:00:00Z"), "D:20260301120000+00'00'");
    }

    #[test]
    fn accents_have_glyphs_in_the_bundled_font() {
        let Ok(face) = Face::parse(FONT, 0) else { panic!("the bundled font parses") };
        for c in "áéíóúñÑüÁÉÍÓÚ¿¡º—•".chars() {
            assert!(face.glyph_index(c).is_some(), "{c} has a glyph");
        }
    }
}
