//! The printed invoice as a PDF: Ecuador's RIDE (Representación Impresa
//! del Documento Electrónico) of a factura or nota de crédito, and Spain's
//! factura with its VeriFactu QR code.
//!
//! The input, [`Printable`], is neutral: labels and values already
//! formatted by the country's code, so this file knows nothing of taxes
//! and both countries share one layout. A4 portrait:
//! - a header of two columns: on the left the issuer (and the QR code with
//!   its legend above it), on the right a box with the tax id, the title,
//!   the number, label/value pairs and the barcode with its text under it;
//! - the buyer's label/value pairs, two to a line when they fit;
//! - the detail table, whose rows wrap inside their columns and continue
//!   on further pages, each with a short running header (title, number,
//!   issuer) and the table's column titles again;
//! - side by side, the sections (additional information, payments) and
//!   the totals, the last total in bold;
//! - on every page the footer lines and the page number (`1/2`).
//!
//! Fonts are the standard Helvetica and Helvetica-Bold with WinAnsiEncoding,
//! not embedded, so the module carries no font file; see `pdf/text.rs` for
//! the encoding and `pdf/metrics.rs` for the widths. Rendering is pure (the
//! same input gives the same bytes, no dates, no host calls), so it is
//! tested natively.

mod code128;
mod metrics;
mod text;

use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

use text::{Face, encode, width, wrap};

/// How the lines of a column line up in their cells.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Align {
    #[default]
    Left,
    Center,
    /// For amounts, so their decimals line up.
    Right,
}

/// A column of a table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Column {
    /// Heading, printed in bold (wrapped if the column is narrow).
    pub title: String,
    /// Relative width: the columns share the table's width in proportion
    /// (a zero, negative or non-finite weight counts as 1).
    pub width: f32,
    pub align: Align,
}

/// A QR code to print, already encoded (the tax code owns the content and
/// its error correction level).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QrImage {
    /// Modules per side, without quiet zone.
    pub width: usize,
    /// `width * width` modules, row-major from the top-left, `true` = dark.
    /// A matrix of another length is not drawn (the caption still is).
    pub dark: Vec<bool>,
    /// Lines printed centred above the code, e.g. VeriFactu's "QR
    /// tributario:" legend or "VERI*FACTU".
    pub caption: Vec<String>,
}

/// A Code 128 barcode with its caption and human-readable text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Barcode {
    /// Printed in bold above the bars, e.g. "CLAVE DE ACCESO".
    pub label: String,
    /// What the bars encode, printed under them as well. Digits are packed
    /// two to a symbol (code set C); other printable ASCII uses set B.
    /// Other text gets no bars, only the text.
    pub text: String,
}

/// A small table under the detail, left of the totals: "Información
/// adicional" (no column titles, label and value) or "Formas de pago".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Section {
    /// Printed in bold across the whole section, shaded.
    pub title: String,
    /// Column titles are printed only if one is not empty.
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<String>>,
}

/// Everything printed on the invoice, already formatted (amounts, dates,
/// numbers): see the module's documentation for where each part goes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Printable {
    /// "FACTURA", "NOTA DE CRÉDITO", "FACTURA SIMPLIFICADA".
    pub title: String,
    /// As printed, e.g. "No. 001-001-000000123" or "Nº A-2025-0001".
    pub number: String,
    /// The issuer's tax id as (label, value), at the top of the box in bold:
    /// ("R.U.C.", "1790011223001"). `None` to print it among `issuer_lines`.
    pub tax_id: Option<(String, String)>,
    /// The first line (razón social, name) in large bold, the others
    /// (nombre comercial, addresses, "OBLIGADO A LLEVAR CONTABILIDAD: SI")
    /// normal; each wraps.
    pub issuer_lines: Vec<String>,
    /// Label/value pairs in the box under the title and number: a pair
    /// shares a line ("AMBIENTE: PRUEBAS") when it fits, else the value goes
    /// under its label ("NÚMERO DE AUTORIZACIÓN" and its 49 digits). Labels
    /// go without the colon: it is added when the value follows on the line.
    pub header_box: Vec<(String, String)>,
    /// At the bottom of the box: the RIDE's clave de acceso.
    pub barcode: Option<Barcode>,
    /// Under the issuer, about 35 mm wide (the 30 to 40 mm VeriFactu asks)
    /// with a blank quiet zone of 4 modules around it.
    pub qr: Option<QrImage>,
    /// The buyer's label/value pairs, in a box across the page.
    pub buyer: Vec<(String, String)>,
    /// The detail table's columns and rows (a row with fewer cells leaves
    /// the last columns empty; extra cells are ignored).
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<String>>,
    /// Left of the totals, one under the other.
    pub sections: Vec<Section>,
    /// (label, amount) lines, amounts right-aligned, the last one (the
    /// total to pay) in bold.
    pub totals: Vec<(String, String)>,
    /// Small print at the bottom of every page (e.g. "Documento generado
    /// por …"); each string wraps.
    pub footer: Vec<String>,
}

/// A4 portrait, in points.
const PAGE_W: f32 = 595.28;
const PAGE_H: f32 = 841.89;
/// About 10.6 mm: wider than a printer's unprintable border.
const MARGIN: f32 = 30.0;
const CONTENT_W: f32 = PAGE_W - 2.0 * MARGIN;
/// Between the header's columns, and between the sections and the totals.
const GUTTER: f32 = 10.0;
/// Vertical space between blocks.
const GAP: f32 = 7.0;
/// Inside boxes and table cells.
const BOX_PAD: f32 = 5.0;
const CELL_PAD: f32 = 2.5;
/// Line height, and where the baseline falls below a line's top, as
/// fractions of the font size (Helvetica's descender is 0.207).
const LEADING: f32 = 1.2;
const BASELINE: f32 = 0.9;
/// Font sizes: most text, the tables, the footer.
const BODY: f32 = 8.0;
const TABLE: f32 = 7.5;
const SMALL: f32 = 6.5;
/// The totals' share of the width.
const TOTALS_W: f32 = 0.38 * CONTENT_W;
/// 1 mm in points.
const MM: f32 = 72.0 / 25.4;
/// The QR code's side, quiet zone excluded.
const QR_SIDE: f32 = 35.0 * MM;
/// Code 128: bar height, the largest module width (0.3 mm; narrower when
/// the box is), and the quiet zone on each side (10 modules, ISO/IEC 15417).
const BAR_H: f32 = 11.0 * MM;
const BAR_MODULE_MAX: f32 = 0.3 * MM;
const BAR_QUIET: usize = 10;
/// The continuation pages' header: one line, a rule and some space.
const RUNNING_H: f32 = 9.0 * LEADING + 8.0;

/// Something to draw. In a [`Stack`] `y` is relative to the stack's top
/// (so negative); on a page it is PDF's (from the bottom).
#[derive(Debug, Clone)]
enum Op {
    /// A line of WinAnsi text, `y` its baseline.
    Text { x: f32, y: f32, face: Face, size: f32, gray: f32, bytes: Vec<u8> },
    /// A filled rectangle (bars, QR modules, shading, rules), `y` its bottom.
    Fill { x: f32, y: f32, w: f32, h: f32, gray: f32 },
    /// A rectangle's outline, `y` its bottom.
    Frame { x: f32, y: f32, w: f32, h: f32 },
}

impl Op {
    fn shifted(mut self, dy: f32) -> Op {
        match &mut self {
            Op::Text { y, .. } | Op::Fill { y, .. } | Op::Frame { y, .. } => *y += dy,
        }
        self
    }
}

/// x of a line of `line_w` points aligned in `w` points from `x`.
fn aligned(x: f32, w: f32, line_w: f32, align: Align) -> f32 {
    match align {
        Align::Left => x,
        Align::Center => x + (w - line_w) / 2.0,
        Align::Right => x + w - line_w,
    }
}

/// A column of content laid out top-down before its height is known: the
/// header's two columns and the buyer's cells are measured this way, then
/// placed.
struct Stack {
    x: f32,
    w: f32,
    /// The cursor, below the top (so ≤ 0).
    y: f32,
    ops: Vec<Op>,
}

impl Stack {
    fn new(x: f32, w: f32) -> Self {
        Self { x, w, y: 0.0, ops: Vec::new() }
    }

    fn height(&self) -> f32 {
        -self.y
    }

    fn gap(&mut self, h: f32) {
        self.y -= h;
    }

    fn line(&mut self, bytes: Vec<u8>, face: Face, size: f32, align: Align) {
        let x = aligned(self.x, self.w, width(&bytes, face, size), align);
        self.ops.push(Op::Text { x, y: self.y - BASELINE * size, face, size, gray: 0.0, bytes });
        self.y -= LEADING * size;
    }

    fn text(&mut self, text: &str, face: Face, size: f32, align: Align) {
        for line in wrap(text, face, size, self.w) {
            self.line(line, face, size, align);
        }
    }

    /// "LABEL: value" on one line when it fits, else the label and the
    /// value wrapped under it.
    fn pair(&mut self, label: &str, value: &str, size: f32) {
        let value = value.trim();
        if value.is_empty() {
            self.text(label, Face::Bold, size, Align::Left);
        } else if let Some((head, head_w)) = self.one_line(label, value, size) {
            let (x, y) = (self.x + head_w, self.y - BASELINE * size);
            self.ops.push(Op::Text { x, y, face: Face::Regular, size, gray: 0.0, bytes: encode(value) });
            self.line(head, Face::Bold, size, Align::Left);
        } else {
            self.text(label, Face::Bold, size, Align::Left);
            self.text(value, Face::Regular, size, Align::Left);
        }
    }

    /// When a pair fits on one line: its bold "LABEL:" and where the value
    /// starts.
    fn one_line(&self, label: &str, value: &str, size: f32) -> Option<(Vec<u8>, f32)> {
        let head = encode(&format!("{}:", label.trim()));
        let head_w = width(&head, Face::Bold, size) + width(b" ", Face::Regular, size);
        let body = encode(value.trim());
        let fits = !body.contains(&b'\n') && head_w + width(&body, Face::Regular, size) <= self.w;
        fits.then_some((head, head_w))
    }

    fn barcode(&mut self, barcode: &Barcode) {
        if !barcode.label.trim().is_empty() {
            self.text(&barcode.label, Face::Bold, BODY, Align::Left);
        }
        if let Some(modules) = code128::modules(barcode.text.trim()) {
            self.gap(2.0);
            let count = modules.len() + 2 * BAR_QUIET;
            let module = (self.w / count as f32).min(BAR_MODULE_MAX);
            let left = self.x + (self.w - module * count as f32) / 2.0 + BAR_QUIET as f32 * module;
            for (start, run) in runs(&modules) {
                self.ops.push(Op::Fill {
                    x: left + start as f32 * module,
                    y: self.y - BAR_H,
                    w: run as f32 * module,
                    h: BAR_H,
                    gray: 0.0,
                });
            }
            self.gap(BAR_H + 2.0);
        }
        self.text(&barcode.text, Face::Regular, BODY, Align::Center);
    }

    fn qr(&mut self, qr: &QrImage) {
        for line in &qr.caption {
            self.text(line, Face::Bold, BODY, Align::Center);
        }
        let n = qr.width;
        if n == 0 || n.checked_mul(n) != Some(qr.dark.len()) {
            return;
        }
        let module = QR_SIDE / n as f32;
        self.gap(4.0 * module);
        let left = self.x + (self.w - QR_SIDE) / 2.0;
        for (row, modules) in qr.dark.chunks(n).enumerate() {
            for (start, run) in runs(modules) {
                self.ops.push(Op::Fill {
                    x: left + start as f32 * module,
                    y: self.y - (row + 1) as f32 * module,
                    w: run as f32 * module,
                    h: module,
                    gray: 0.0,
                });
            }
        }
        self.gap(QR_SIDE + 4.0 * module);
    }
}

/// The runs of `true` in `modules` as (start, length): one rectangle per
/// bar rather than per module, so no hairline seams inside a bar.
fn runs(modules: &[bool]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, dark) in modules.iter().chain(std::iter::once(&false)).enumerate() {
        match (start, *dark) {
            (None, true) => start = Some(i),
            (Some(s), false) => {
                out.push((s, i - s));
                start = None;
            }
            _ => {}
        }
    }
    out
}

/// A table row, its cells already wrapped into lines.
struct Row {
    cells: Vec<Vec<Vec<u8>>>,
    face: Face,
    shaded: bool,
    /// One cell across all the columns (a section's title).
    span: bool,
}

impl Row {
    fn lines(&self) -> usize {
        self.cells.iter().map(Vec::len).max().unwrap_or(0).max(1)
    }
}

/// A table ready to draw: its heads (title, column titles) are repeated
/// on every page the body continues on.
struct Grid {
    x: f32,
    widths: Vec<f32>,
    aligns: Vec<Align>,
    size: f32,
    heads: Vec<Row>,
    body: Vec<Row>,
}

impl Grid {
    /// `columns` sharing `total` points from `x`.
    fn new(x: f32, total: f32, columns: &[Column], size: f32) -> Self {
        let weights: Vec<f32> =
            columns.iter().map(|c| if c.width.is_finite() && c.width > 0.0 { c.width } else { 1.0 }).collect();
        let sum: f32 = weights.iter().sum();
        let widths = weights.iter().map(|w| total * w / sum).collect();
        let aligns = columns.iter().map(|c| c.align).collect();
        let mut grid = Self { x, widths, aligns, size, heads: Vec::new(), body: Vec::new() };
        if columns.iter().any(|c| !c.title.trim().is_empty()) {
            let titles: Vec<String> = columns.iter().map(|c| c.title.clone()).collect();
            let row = grid.row(&titles, Face::Bold, true);
            grid.heads.push(row);
        }
        grid
    }

    fn total_width(&self) -> f32 {
        self.widths.iter().sum()
    }

    fn row(&self, cells: &[String], face: Face, shaded: bool) -> Row {
        let cells = self
            .widths
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let text = cells.get(i).map_or("", String::as_str);
                wrap(text, face, self.size, w - 2.0 * CELL_PAD)
            })
            .collect();
        Row { cells, face, shaded, span: false }
    }

    fn title(&mut self, title: &str) {
        let lines = wrap(title, Face::Bold, self.size, self.total_width() - 2.0 * CELL_PAD);
        self.heads.insert(0, Row { cells: vec![lines], face: Face::Bold, shaded: true, span: true });
    }

    fn leading(&self) -> f32 {
        LEADING * self.size
    }

    fn row_height(&self, lines: usize) -> f32 {
        lines as f32 * self.leading() + 2.0 * CELL_PAD
    }

    fn heads_height(&self) -> f32 {
        self.heads.iter().map(|r| self.row_height(r.lines())).sum()
    }

    fn height(&self) -> f32 {
        self.heads_height() + self.body.iter().map(|r| self.row_height(r.lines())).sum::<f32>()
    }
}

/// The pages being laid out, and the cursor on the last one.
struct Doc<'a> {
    p: &'a Printable,
    pages: Vec<Vec<Op>>,
    /// The cursor, in PDF coordinates on the last page.
    y: f32,
    /// Where the last page's body starts (under its running header).
    top: f32,
    /// The lowest the body may reach (above the footer).
    bottom: f32,
    footer: Vec<Vec<u8>>,
}

impl<'a> Doc<'a> {
    fn new(p: &'a Printable) -> Self {
        let footer: Vec<Vec<u8>> = p.footer.iter().flat_map(|f| wrap(f, Face::Regular, SMALL, CONTENT_W)).collect();
        let footer_h = footer.len() as f32 * LEADING * SMALL;
        let bottom = MARGIN + footer_h + if footer.is_empty() { 0.0 } else { GAP };
        let top = PAGE_H - MARGIN;
        Self { p, pages: vec![Vec::new()], y: top, top, bottom, footer }
    }

    fn push(&mut self, op: Op) {
        if let Some(page) = self.pages.last_mut() {
            page.push(op);
        }
    }

    /// A stack's ops with its top at the cursor.
    fn place(&mut self, ops: Vec<Op>) {
        let dy = self.y;
        for op in ops {
            self.push(op.shifted(dy));
        }
    }

    fn room(&self) -> f32 {
        self.y - self.bottom
    }

    /// The room on a continuation page, under its running header.
    fn fresh_room(&self) -> f32 {
        PAGE_H - MARGIN - RUNNING_H - self.bottom
    }

    fn at_top(&self) -> bool {
        self.y >= self.top - 0.01
    }

    /// A continuation page: title and number on the left, the issuer on
    /// the right (when both fit), a rule under them.
    fn new_page(&mut self) {
        self.pages.push(Vec::new());
        let size = 9.0;
        let baseline = PAGE_H - MARGIN - BASELINE * size;
        let left = encode(&format!("{} {}", self.p.title.trim(), self.p.number.trim()));
        let left_w = width(&left, Face::Bold, size);
        let right = encode(self.p.issuer_lines.first().map_or("", |s| s.trim()));
        let right_w = width(&right, Face::Regular, BODY);
        self.push(Op::Text { x: MARGIN, y: baseline, face: Face::Bold, size, gray: 0.0, bytes: left });
        if left_w + GUTTER + right_w <= CONTENT_W {
            let x = PAGE_W - MARGIN - right_w;
            self.push(Op::Text { x, y: baseline, face: Face::Regular, size: BODY, gray: 0.0, bytes: right });
        }
        let rule = PAGE_H - MARGIN - LEADING * size - 3.0;
        self.push(Op::Fill { x: MARGIN, y: rule, w: CONTENT_W, h: 0.6, gray: 0.0 });
        self.top = PAGE_H - MARGIN - RUNNING_H;
        self.y = self.top;
    }

    /// Lines of `grid`'s text that fit in a row on this page.
    fn lines_fitting(&self, grid: &Grid) -> usize {
        let room = self.room() - 2.0 * CELL_PAD;
        if room <= 0.0 { 0 } else { (room / grid.leading()).floor() as usize }
    }

    /// Lines `from..to` of `row` at the cursor.
    fn draw_row(&mut self, grid: &Grid, row: &Row, from: usize, to: usize) {
        let h = grid.row_height(to - from);
        let top = self.y;
        let total = grid.total_width();
        let cells: Vec<(f32, f32, Align)> = if row.span {
            vec![(grid.x, total, Align::Left)]
        } else {
            let mut x = grid.x;
            grid.widths
                .iter()
                .zip(&grid.aligns)
                .map(|(w, a)| {
                    let cell = (x, *w, *a);
                    x += w;
                    cell
                })
                .collect()
        };
        for ((x, w, align), lines) in cells.into_iter().zip(&row.cells) {
            if row.shaded {
                self.push(Op::Fill { x, y: top - h, w, h, gray: 0.9 });
            }
            self.push(Op::Frame { x, y: top - h, w, h });
            for (i, line) in lines.iter().enumerate().take(to).skip(from) {
                let size = grid.size;
                let line_w = width(line, row.face, size);
                let x = aligned(x + CELL_PAD, w - 2.0 * CELL_PAD, line_w, align);
                let y = top - CELL_PAD - (i - from) as f32 * grid.leading() - BASELINE * size;
                self.push(Op::Text { x, y, face: row.face, size, gray: 0.0, bytes: line.clone() });
            }
        }
        self.y -= h;
    }

    fn draw_heads(&mut self, grid: &Grid) {
        for row in &grid.heads {
            self.draw_row(grid, row, 0, row.lines());
        }
    }

    /// Draws `grid` from the cursor on, breaking pages between rows, and
    /// inside a row only when it would not fit on a page of its own.
    fn draw_grid(&mut self, grid: &Grid) {
        let first = grid.body.first().map_or(0.0, |_| grid.row_height(1));
        if self.room() < grid.heads_height() + first && !self.at_top() {
            self.new_page();
        }
        // On a page of its own a row is split rather than moved on.
        let mut fresh = self.at_top();
        self.draw_heads(grid);
        for row in &grid.body {
            let n = row.lines();
            let mut from = 0;
            loop {
                let fit = self.lines_fitting(grid);
                if n - from <= fit {
                    self.draw_row(grid, row, from, n);
                    break;
                }
                let on_fresh = ((self.fresh_room() - grid.heads_height() - 2.0 * CELL_PAD) / grid.leading()).floor();
                if fit > 0 && (fresh || (n - from) as f32 > on_fresh) {
                    // Too tall for any page: fill this one and go on.
                    self.draw_row(grid, row, from, from + fit);
                    from += fit;
                } else if fit == 0 && fresh {
                    // Not even a line fits under the heads: overflow by
                    // one line rather than loop.
                    self.draw_row(grid, row, from, from + 1);
                    from += 1;
                }
                if from >= n {
                    break;
                }
                self.new_page();
                self.draw_heads(grid);
                fresh = true;
            }
            fresh = false;
        }
    }

    /// The PDF: two standard fonts, one content stream per page with the
    /// footer and the page number added now that the count is known.
    fn finish(self) -> Vec<u8> {
        let total = self.pages.len();
        let mut pdf = Pdf::new();
        let catalog = Ref::new(1);
        let tree = Ref::new(2);
        let info = Ref::new(3);
        let fonts = [(Face::Regular, Ref::new(4)), (Face::Bold, Ref::new(5))];
        let ids: Vec<(Ref, Ref)> = (0..total)
            .map(|i| {
                let n = i32::try_from(6 + 2 * i).unwrap_or(i32::MAX);
                (Ref::new(n), Ref::new(n.saturating_add(1)))
            })
            .collect();
        pdf.catalog(catalog).pages(tree);
        pdf.pages(tree).kids(ids.iter().map(|(page, _)| *page)).count(i32::try_from(total).unwrap_or(i32::MAX));
        let title = format!("{} {}", self.p.title.trim(), self.p.number.trim());
        pdf.document_info(info).title(TextStr(title.trim())).producer(TextStr("Plaza einvoicing"));
        for (face, id) in fonts {
            pdf.type1_font(id)
                .base_font(Name(face.base_font()))
                .encoding_predefined(Name(b"WinAnsiEncoding"))
                .first_char(0x20)
                .last_char(0xFF)
                .widths(face.widths().iter().map(|w| f32::from(*w)));
        }
        for (i, (ops, (page_id, content_id))) in self.pages.into_iter().zip(&ids).enumerate() {
            let mut page = pdf.page(*page_id);
            page.media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H)).parent(tree).contents(*content_id);
            let mut resources = page.resources();
            let mut font_dict = resources.fonts();
            for (face, id) in fonts {
                font_dict.pair(Name(face.resource()), id);
            }
            font_dict.finish();
            resources.finish();
            page.finish();

            let mut content = Content::new();
            content.set_line_width(0.5);
            for op in ops.iter().chain(&footer_ops(&self.footer, i + 1, total)) {
                match op {
                    Op::Text { x, y, face, size, gray, bytes } => {
                        content.set_fill_gray(*gray);
                        content.begin_text();
                        content.set_font(Name(face.resource()), *size);
                        content.next_line(*x, *y);
                        content.show(Str(bytes));
                        content.end_text();
                    }
                    Op::Fill { x, y, w, h, gray } => {
                        content.set_fill_gray(*gray).rect(*x, *y, *w, *h).fill_nonzero();
                    }
                    Op::Frame { x, y, w, h } => {
                        content.rect(*x, *y, *w, *h).stroke();
                    }
                }
            }
            let raw = content.finish();
            let compressed = miniz_oxide::deflate::compress_to_vec_zlib(&raw, 6);
            pdf.stream(*content_id, &compressed).filter(Filter::FlateDecode);
        }
        pdf.finish()
    }
}

/// The footer lines above the bottom margin and "n/total" at the right,
/// under them.
fn footer_ops(footer: &[Vec<u8>], n: usize, total: usize) -> Vec<Op> {
    let leading = LEADING * SMALL;
    let mut ops = Vec::with_capacity(footer.len() + 1);
    let top = MARGIN + footer.len() as f32 * leading;
    for (i, line) in footer.iter().enumerate() {
        let y = top - i as f32 * leading - BASELINE * SMALL;
        ops.push(Op::Text { x: MARGIN, y, face: Face::Regular, size: SMALL, gray: 0.3, bytes: line.clone() });
    }
    let number = encode(&format!("{n}/{total}"));
    let x = PAGE_W - MARGIN - width(&number, Face::Regular, BODY);
    ops.push(Op::Text { x, y: MARGIN - 14.0, face: Face::Regular, size: BODY, gray: 0.0, bytes: number });
    ops
}

/// The header of the first page: the issuer's box on the left (the QR
/// code under it), the title's box on the right, the two boxes of the
/// same height.
fn header(p: &Printable) -> (Vec<Op>, f32) {
    let col_w = (CONTENT_W - GUTTER) / 2.0;
    let right_x = MARGIN + col_w + GUTTER;

    let mut issuer = Stack::new(MARGIN + BOX_PAD, col_w - 2.0 * BOX_PAD);
    issuer.gap(BOX_PAD);
    for (i, line) in p.issuer_lines.iter().enumerate() {
        if i == 0 {
            issuer.text(line, Face::Bold, 11.0, Align::Left);
            issuer.gap(3.0);
        } else {
            issuer.text(line, Face::Regular, BODY, Align::Left);
        }
    }
    issuer.gap(BOX_PAD);
    let issuer_h = issuer.height();

    let mut qr = Stack::new(MARGIN, col_w);
    if let Some(q) = &p.qr {
        qr.gap(GAP);
        qr.qr(q);
    }

    let mut right = Stack::new(right_x + BOX_PAD, col_w - 2.0 * BOX_PAD);
    right.gap(BOX_PAD);
    if let Some((label, value)) = &p.tax_id {
        right.text(&format!("{}: {}", label.trim(), value.trim()), Face::Bold, 10.0, Align::Left);
        right.gap(3.0);
    }
    right.text(&p.title, Face::Bold, 14.0, Align::Left);
    right.text(&p.number, Face::Bold, 10.0, Align::Left);
    right.gap(3.0);
    for (label, value) in &p.header_box {
        right.pair(label, value, BODY);
    }
    if let Some(b) = &p.barcode {
        right.gap(3.0);
        right.barcode(b);
    }
    right.gap(BOX_PAD);

    // The two boxes end level; a QR code hangs under the issuer's box, so
    // the right box does not grow down beside it.
    let boxes = issuer_h.max(right.height());
    let height = boxes + qr.height();
    let mut ops = issuer.ops;
    ops.push(Op::Frame { x: MARGIN, y: -boxes, w: col_w, h: boxes });
    ops.extend(qr.ops.into_iter().map(|op| op.shifted(-boxes)));
    ops.extend(right.ops);
    ops.push(Op::Frame { x: right_x, y: -boxes, w: col_w, h: boxes });
    (ops, height)
}

/// The buyer's box: pairs two to a line when both fit in half the width,
/// else one to a line.
fn buyer(p: &Printable) -> (Vec<Op>, f32) {
    let inner = CONTENT_W - 2.0 * BOX_PAD;
    let half = (inner - GUTTER) / 2.0;
    let mut ops = Vec::new();
    let mut y = -BOX_PAD;
    let mut i = 0;
    while i < p.buyer.len() {
        let (label, value) = &p.buyer[i];
        let probe = Stack::new(0.0, half);
        let pair = p
            .buyer
            .get(i + 1)
            .filter(|(l, v)| probe.one_line(label, value, BODY).is_some() && probe.one_line(l, v, BODY).is_some());
        let mut cells = vec![(MARGIN + BOX_PAD, if pair.is_some() { half } else { inner }, label, value)];
        if let Some((l, v)) = pair {
            cells.push((MARGIN + BOX_PAD + half + GUTTER, half, l, v));
        }
        let mut h: f32 = 0.0;
        for (x, w, label, value) in cells {
            let mut cell = Stack::new(x, w);
            cell.pair(label, value, BODY);
            h = h.max(cell.height());
            ops.extend(cell.ops.into_iter().map(|op| op.shifted(y)));
        }
        y -= h + 1.0;
        i += if pair.is_some() { 2 } else { 1 };
    }
    let height = -y + BOX_PAD - 1.0;
    ops.push(Op::Frame { x: MARGIN, y: -height, w: CONTENT_W, h: height });
    (ops, height)
}

/// The sections and the totals: side by side when they fit on this page
/// or a new one, one after the other otherwise.
fn closing(doc: &mut Doc<'_>, p: &Printable) {
    let left_w = if p.totals.is_empty() { CONTENT_W } else { CONTENT_W - TOTALS_W - GUTTER };
    let sections: Vec<Grid> = p
        .sections
        .iter()
        .map(|s| {
            let columns = if s.columns.is_empty() { vec![Column::default()] } else { s.columns.clone() };
            let mut grid = Grid::new(MARGIN, left_w, &columns, TABLE);
            if !s.title.trim().is_empty() {
                grid.title(&s.title);
            }
            grid.body = s.rows.iter().map(|r| grid.row(r, Face::Regular, false)).collect();
            grid
        })
        .collect();
    let totals = (!p.totals.is_empty()).then(|| {
        let columns = [
            Column { title: String::new(), width: 0.62, align: Align::Left },
            Column { title: String::new(), width: 0.38, align: Align::Right },
        ];
        let mut grid = Grid::new(PAGE_W - MARGIN - TOTALS_W, TOTALS_W, &columns, BODY);
        let last = p.totals.len() - 1;
        grid.body = p
            .totals
            .iter()
            .enumerate()
            .map(|(i, (label, amount))| {
                let face = if i == last { Face::Bold } else { Face::Regular };
                grid.row(&[label.clone(), amount.clone()], face, i == last)
            })
            .collect();
        grid
    });
    let sections_h = sections.iter().map(Grid::height).sum::<f32>() + GAP * sections.len().saturating_sub(1) as f32;
    let totals_h = totals.as_ref().map_or(0.0, Grid::height);
    let need = sections_h.max(totals_h);
    if need == 0.0 {
        return;
    }
    // A little slack so that rounding never breaks a page mid-column.
    if need + 1.0 > doc.room() && need + 1.0 <= doc.fresh_room() {
        doc.new_page();
    }
    let side_by_side = need + 1.0 <= doc.room();
    let start = doc.y;
    if let Some(t) = &totals {
        doc.draw_grid(t);
        doc.y -= GAP;
    }
    let after_totals = doc.y;
    if side_by_side {
        doc.y = start;
    }
    for s in &sections {
        doc.draw_grid(s);
        doc.y -= GAP;
    }
    if side_by_side {
        doc.y = doc.y.min(after_totals);
    }
}

/// The invoice as a PDF (A4, as many pages as the detail needs).
pub fn render(p: &Printable) -> Vec<u8> {
    let mut doc = Doc::new(p);

    let (ops, h) = header(p);
    doc.place(ops);
    doc.y -= h + GAP;

    if !p.buyer.is_empty() {
        let (ops, h) = buyer(p);
        if h > doc.room() {
            doc.new_page();
        }
        doc.place(ops);
        doc.y -= h + GAP;
    }

    if !p.columns.is_empty() {
        let mut grid = Grid::new(MARGIN, CONTENT_W, &p.columns, TABLE);
        grid.body = p.rows.iter().map(|r| grid.row(r, Face::Regular, false)).collect();
        doc.draw_grid(&grid);
        doc.y -= GAP;
    }

    closing(&mut doc, p);
    doc.finish()
}

#[cfg(test)]
mod tests;
