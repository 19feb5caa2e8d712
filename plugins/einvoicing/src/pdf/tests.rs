//! The PDFs read back with poppler (`pdftotext`, `pdfinfo`), as a person's
//! viewer would; and, where `zbarimg` happens to be installed, the barcode
//! and the QR code scanned from a rendering of the page.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::*;

const CLAVE: &str = "2110201104179001122300110010010000001231234567811";

fn strings(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(l, v)| ((*l).to_owned(), (*v).to_owned())).collect()
}

fn column(title: &str, width: f32, align: Align) -> Column {
    Column { title: title.to_owned(), width, align }
}

/// A RIDE of a nota de crédito with `rows` detail lines.
fn ride(rows: usize) -> Printable {
    Printable {
        title: "NOTA DE CRÉDITO".into(),
        number: "No. 001-001-000000123".into(),
        tax_id: Some(("R.U.C.".into(), "1790011223001".into())),
        issuer_lines: vec![
            "COMERCIAL ANDINA MUÑOZ & ASOCIADOS S.A.".into(),
            "Nombre comercial: Andina Ferretería".into(),
            "Dirección Matriz: Av. Amazonas N34-451 y Av. Atahualpa, Quito".into(),
            "Dirección Establecimiento: Av. 6 de Diciembre y Orellana, Quito".into(),
            "OBLIGADO A LLEVAR CONTABILIDAD: SI".into(),
        ],
        header_box: strings(&[
            ("NÚMERO DE AUTORIZACIÓN", CLAVE),
            ("FECHA Y HORA DE AUTORIZACIÓN", "21/10/2011 12:00:00"),
            ("AMBIENTE", "PRUEBAS"),
            ("EMISIÓN", "NORMAL"),
        ]),
        barcode: Some(Barcode { label: "CLAVE DE ACCESO".into(), text: CLAVE.into() }),
        qr: None,
        buyer: strings(&[
            ("Razón Social / Nombres y Apellidos", "José Ñúñez Peña"),
            ("Identificación", "1712345678"),
            ("Fecha Emisión", "21/10/2011"),
            ("Comprobante que se modifica", "FACTURA 001-001-000000045"),
            ("Dirección", "Calle Los Álamos 123 y Av. República, sector La Carolina, Quito, Pichincha, Ecuador"),
        ]),
        columns: vec![
            column("Cod. Principal", 1.2, Align::Left),
            column("Cant.", 0.8, Align::Right),
            column("Descripción", 4.0, Align::Left),
            column("Precio Unitario", 1.1, Align::Right),
            column("Descuento", 1.0, Align::Right),
            column("Precio Total", 1.1, Align::Right),
        ],
        rows: (1..=rows)
            .map(|i| {
                let description = if i == 7 {
                    "Suscripción de mantenimiento preventivo del sistema de facturación electrónica, \
                     Año 2025, incluye soporte técnico en sitio y actualizaciones de versión"
                        .to_owned()
                } else {
                    format!("Artículo de ferretería número {i}")
                };
                vec![format!("A{i:04}"), "1.00".into(), description, "1.00".into(), "0.00".into(), "1.00".into()]
            })
            .collect(),
        sections: vec![
            Section {
                title: "Información Adicional".into(),
                columns: vec![column("", 1.0, Align::Left), column("", 2.0, Align::Left)],
                rows: vec![
                    vec!["Email".into(), "jose.nunez@example.com".into()],
                    vec!["Equivalente".into(), "53,70 €".into()],
                ],
            },
            Section {
                title: "Formas de pago".into(),
                columns: vec![column("Forma de pago", 3.0, Align::Left), column("Valor", 1.0, Align::Right)],
                rows: vec![vec!["01 - SIN UTILIZACIÓN DEL SISTEMA FINANCIERO".into(), "69.00".into()]],
            },
        ],
        totals: strings(&[
            ("SUBTOTAL 15%", "60.00"),
            ("SUBTOTAL 0%", "0.00"),
            ("SUBTOTAL SIN IMPUESTOS", "60.00"),
            ("DESCUENTO", "0.00"),
            ("IVA 15%", "9.00"),
            ("VALOR TOTAL", "69.00"),
        ]),
        footer: vec!["Documento sin validez tributaria mientras no sea autorizado por el SRI.".into()],
    }
}

/// Where a test's files go: its own folder under the system's temp dir.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("einvoicing-pdf-{}-{name}", std::process::id()));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        panic!("cannot create {}: {e}", dir.display());
    }
    dir
}

/// Runs a poppler tool, failing the test with how to get it when it is
/// missing.
fn poppler(tool: &str, args: &[&str]) -> String {
    match Command::new(tool).args(args).output() {
        Ok(out) => {
            assert!(out.status.success(), "{tool} {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8_lossy(&out.stdout).into_owned()
        }
        Err(e) => panic!(
            "`{tool}` could not be run ({e}): these tests read the PDFs back with poppler's tools; \
             install them (Debian: apt-get install poppler-utils)"
        ),
    }
}

fn write(dir: &Path, pdf: &[u8]) -> String {
    let path = dir.join("invoice.pdf");
    if let Err(e) = std::fs::write(&path, pdf) {
        panic!("cannot write {}: {e}", path.display());
    }
    path.to_string_lossy().into_owned()
}

fn pages(path: &str) -> usize {
    let info = poppler("pdfinfo", &[path]);
    info.lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no page count in pdfinfo's output:\n{info}"))
}

/// The symbols `zbarimg` reads on the first page rendered at 300 dpi, or
/// `None` when zbarimg is not installed (it is optional).
fn scan(dir: &Path, path: &str) -> Option<String> {
    if Command::new("zbarimg").arg("--version").output().is_err() {
        eprintln!("zbarimg is not installed: the barcode and the QR code are not scanned");
        return None;
    }
    let png = dir.join("page");
    let png = png.to_string_lossy();
    poppler("pdftoppm", &["-r", "300", "-f", "1", "-l", "1", "-png", "-singlefile", path, &png]);
    let out = Command::new("zbarimg").args(["--quiet", &format!("{png}.png")]).output().ok()?;
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn a_ride_of_two_pages_reads_back() {
    let pdf = render(&ride(60));
    let dir = scratch("ride");
    let path = write(&dir, &pdf);
    assert_eq!(pages(&path), 2, "60 detail lines take two pages");
    let text = poppler("pdftotext", &["-enc", "UTF-8", &path, "-"]);
    for expected in [
        "NOTA DE CRÉDITO",
        "No. 001-001-000000123",
        "R.U.C.: 1790011223001",
        "COMERCIAL ANDINA MUÑOZ & ASOCIADOS S.A.",
        "NÚMERO DE AUTORIZACIÓN",
        "AMBIENTE:",
        "PRUEBAS",
        "CLAVE DE ACCESO",
        CLAVE,
        "José Ñúñez Peña",
        "Año 2025",
        "53,70 €",
        "Artículo de ferretería número 60",
        "SUBTOTAL 15%",
        "IVA 15%",
        "VALOR TOTAL",
        "69.00",
        "Formas de pago",
        "1/2",
        "2/2",
        "Documento sin validez tributaria",
    ] {
        assert!(text.contains(expected), "{expected:?} is not in the text:\n{text}");
    }
    // The running header of page 2 repeats the title and the number, and
    // the table's column titles are printed again.
    let second = text.split('\u{c}').nth(1).unwrap_or_default();
    assert!(second.contains("NOTA DE CRÉDITO No. 001-001-000000123"), "{second}");
    assert!(second.contains("Descripción"), "{second}");
    if let Some(symbols) = scan(&dir, &path) {
        assert!(symbols.contains(&format!("CODE-128:{CLAVE}")), "zbarimg read: {symbols}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_spanish_invoice_with_its_verifactu_qr_reads_back() {
    let url = "https://prewww2.aeat.es/wlpl/TIKE-CONT/ValidarQR?nif=89890001K&numserie=12345678%26G33&fecha=01-01-2024&importe=241.4";
    let Ok(code) = qrcode::QrCode::with_error_correction_level(url.as_bytes(), qrcode::EcLevel::M) else {
        panic!("the URL fits a QR code")
    };
    let p = Printable {
        title: "FACTURA".into(),
        number: "Nº 12345678&G33".into(),
        issuer_lines: vec!["Ferretería Ibáñez, S.L.".into(), "NIF 89890001K".into(), "C/ Mayor 1, 28013 Madrid".into()],
        header_box: strings(&[("Fecha de expedición", "01-01-2024")]),
        qr: Some(QrImage {
            width: code.width(),
            dark: code.to_colors().into_iter().map(|c| c == qrcode::Color::Dark).collect(),
            caption: vec!["QR tributario:".into(), "VERI*FACTU".into()],
        }),
        buyer: strings(&[("Cliente", "Núñez Distribuciones, S.A."), ("NIF", "B12345678")]),
        columns: vec![
            column("Concepto", 4.0, Align::Left),
            column("Cantidad", 1.0, Align::Right),
            column("Precio", 1.0, Align::Right),
            column("Importe", 1.0, Align::Right),
        ],
        rows: vec![vec!["Tornillería, caja de 100 unidades".into(), "2".into(), "99,75 €".into(), "199,50 €".into()]],
        totals: strings(&[("Base imponible 21%", "199,50 €"), ("Cuota IVA 21%", "41,90 €"), ("Total", "241,40 €")]),
        footer: vec!["Factura verificable en la sede electrónica de la AEAT".into()],
        ..Printable::default()
    };
    let pdf = render(&p);
    let dir = scratch("es");
    let path = write(&dir, &pdf);
    assert_eq!(pages(&path), 1);
    let text = poppler("pdftotext", &["-enc", "UTF-8", &path, "-"]);
    for expected in [
        "FACTURA",
        "Nº 12345678&G33",
        "Ferretería Ibáñez, S.L.",
        "VERI*FACTU",
        "Factura verificable en la sede electrónica de la AEAT",
        "199,50 €",
        "241,40 €",
        "1/1",
    ] {
        assert!(text.contains(expected), "{expected:?} is not in the text:\n{text}");
    }
    if let Some(symbols) = scan(&dir, &path) {
        assert!(symbols.contains(&format!("QR-Code:{url}")), "zbarimg read: {symbols}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn amounts_are_right_aligned_and_descriptions_wrap_in_their_column() {
    let p = ride(1);
    let mut doc = Doc::new(&p);
    let mut grid = Grid::new(MARGIN, CONTENT_W, &p.columns, TABLE);
    let long = "palabra ".repeat(40);
    grid.body = vec![grid.row(&["A1".into(), "12.50".into(), long, "3.00".into()], Face::Regular, false)];
    let description_w = grid.widths[2];
    doc.draw_grid(&grid);
    let right_edge = MARGIN + grid.widths[..2].iter().sum::<f32>() - CELL_PAD;
    let mut description_lines = 0;
    for op in doc.pages.iter().flatten() {
        if let Op::Text { x, bytes, face: Face::Regular, size, .. } = op {
            let w = width(bytes, Face::Regular, *size);
            if bytes == b"12.50" {
                assert!((x + w - right_edge).abs() < 0.01, "the amount ends at its cell's right padding");
            }
            if bytes.starts_with(b"palabra") {
                description_lines += 1;
                assert!(w <= description_w - 2.0 * CELL_PAD + 0.01);
            }
        }
    }
    assert!(description_lines > 1, "the description wraps");
}

#[test]
fn a_row_taller_than_a_page_is_split_and_the_layout_ends() {
    let mut p = ride(3);
    p.rows[1][2] = "una descripción muy larga ".repeat(2500);
    let pdf = render(&p);
    let dir = scratch("tall");
    let path = write(&dir, &pdf);
    assert!(pages(&path) > 2, "the long row continues over several pages");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn degenerate_input_still_makes_a_pdf() {
    let empty = render(&Printable::default());
    assert!(empty.starts_with(b"%PDF-"));
    let p = Printable {
        title: "FACTURA".into(),
        // A matrix of the wrong size, a barcode with text Code 128 sets B
        // and C cannot carry, a zero-width column, rows longer than the
        // columns, an empty section: nothing panics.
        qr: Some(QrImage { width: 21, dark: vec![true; 20], caption: vec!["VERI*FACTU".into()] }),
        barcode: Some(Barcode { label: "CLAVE".into(), text: "número".into() }),
        columns: vec![column("A", 0.0, Align::Center), column("B", f32::NAN, Align::Right)],
        rows: vec![vec!["1".into(), "2".into(), "3".into()], vec![]],
        sections: vec![Section::default()],
        totals: strings(&[("TOTAL", "1.00")]),
        ..Printable::default()
    };
    let pdf = render(&p);
    let dir = scratch("degenerate");
    let path = write(&dir, &pdf);
    assert_eq!(pages(&path), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn rendering_is_deterministic() {
    assert_eq!(render(&ride(30)), render(&ride(30)));
}

#[test]
fn runs_of_dark_modules() {
    assert_eq!(runs(&[true, true, false, true, false, false, true]), vec![(0, 2), (3, 1), (6, 1)]);
    assert!(runs(&[false, false]).is_empty());
}
