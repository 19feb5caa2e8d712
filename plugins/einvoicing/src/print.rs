//! What is printed on each country's PDF: the RIDE of an SRI comprobante
//! and the Spanish invoice with its VeriFactu QR, as a [`pdf::Printable`].

use crate::invoice::Invoice;
use crate::pdf::{Align, Barcode, Column, Printable, QrImage, Section};
use crate::settings::{Ecuador, Spain};

fn columns() -> Vec<Column> {
    let col = |title: &str, width: f32, align: Align| Column { title: title.to_owned(), width, align };
    vec![
        col("Código", 1.2, Align::Left),
        col("Cantidad", 1.0, Align::Right),
        col("Descripción", 3.6, Align::Left),
        col("Precio unitario", 1.3, Align::Right),
        col("Descuento", 1.1, Align::Right),
        col("Precio total", 1.2, Align::Right),
    ]
}

fn rows(invoice: &Invoice) -> Vec<Vec<String>> {
    invoice
        .lines
        .iter()
        .map(|l| {
            vec![
                l.code.clone(),
                l.quantity.clone(),
                l.description.clone(),
                l.unit_price.clone(),
                l.discount.clone(),
                l.net.clone(),
            ]
        })
        .collect()
}

/// `2026-12-07` → `07/12/2026`.
pub fn dmy(date: &str, sep: char) -> String {
    let mut parts = date.splitn(3, '-');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(y), Some(m), Some(d)) => format!("{d}{sep}{m}{sep}{y}"),
        _ => date.to_owned(),
    }
}

fn payment_name(method: &str) -> &'static str {
    match method {
        "cash" => "01 - SIN UTILIZACIÓN DEL SISTEMA FINANCIERO",
        "card" => "19 - TARJETA DE CRÉDITO",
        _ => "20 - OTROS CON UTILIZACIÓN DEL SISTEMA FINANCIERO",
    }
}

/// What a RIDE shows beyond the invoice.
pub struct Ride<'a> {
    pub title: &'a str,
    pub ec: &'a Ecuador,
    pub invoice: &'a Invoice,
    pub access_key: &'a str,
    pub authorization_number: &'a str,
    pub authorized_at: &'a str,
    /// The invoice a nota de crédito modifies (number, date) and why.
    pub modifies: Option<(&'a str, &'a str, &'a str)>,
}

/// The RIDE (ficha técnica, "Representación impresa"): issuer, the box with
/// number, authorization and the clave as a Code 128 barcode, the buyer,
/// the detail, additional information, payments and totals per rate.
pub fn ride(r: &Ride<'_>) -> Printable {
    let ec = r.ec;
    let inv = r.invoice;
    let mut issuer_lines = vec![ec.razon_social.clone()];
    issuer_lines.extend(ec.nombre_comercial.clone());
    issuer_lines.push(format!("Dirección matriz: {}", ec.dir_matriz));
    if let Some(d) = &ec.dir_establecimiento {
        issuer_lines.push(format!("Dirección sucursal: {d}"));
    }
    if let Some(c) = &ec.contribuyente_especial {
        issuer_lines.push(format!("Contribuyente especial Nro.: {c}"));
    }
    issuer_lines
        .push(format!("OBLIGADO A LLEVAR CONTABILIDAD: {}", if ec.obligado_contabilidad { "SI" } else { "NO" }));
    let mut buyer = vec![
        ("Razón social / Nombres y apellidos".to_owned(), inv.customer.name.clone()),
        ("Identificación".to_owned(), inv.customer.tax_id.clone()),
        ("Fecha de emisión".to_owned(), dmy(&inv.issue_date, '/')),
    ];
    if let Some(a) = &inv.customer.address {
        buyer.push(("Dirección".to_owned(), a.clone()));
    }
    if let Some((number, date, reason)) = r.modifies {
        buyer.push(("Comprobante que se modifica".to_owned(), format!("FACTURA {number}")));
        buyer.push(("Fecha emisión (comprobante a modificar)".to_owned(), dmy(date, '/')));
        buyer.push(("Razón de modificación".to_owned(), reason.to_owned()));
    }
    let mut totals = Vec::new();
    for t in &inv.taxes {
        totals.push((format!("SUBTOTAL {}%", t.percent), t.base.clone()));
    }
    totals.push(("SUBTOTAL SIN IMPUESTOS".to_owned(), inv.base.clone()));
    totals.push(("TOTAL DESCUENTO".to_owned(), inv.discount.clone()));
    for t in inv.taxes.iter().filter(|t| t.percent != "0") {
        totals.push((format!("IVA {}%", t.percent), t.tax.clone()));
    }
    totals.push(("VALOR TOTAL".to_owned(), inv.total.clone()));
    let mut additional: Vec<Vec<String>> = Vec::new();
    if let Some(email) = &inv.customer.email {
        additional.push(vec!["Email".to_owned(), email.clone()]);
    }
    if !inv.notes.trim().is_empty() {
        additional.push(vec!["Observaciones".to_owned(), inv.notes.trim().to_owned()]);
    }
    let mut sections = Vec::new();
    if !additional.is_empty() {
        sections.push(Section {
            title: "Información adicional".to_owned(),
            columns: vec![Column { width: 1.0, ..Column::default() }, Column { width: 2.0, ..Column::default() }],
            rows: additional,
        });
    }
    if !inv.payments.is_empty() {
        sections.push(Section {
            title: "Formas de pago".to_owned(),
            columns: vec![
                Column { title: "Forma de pago".to_owned(), width: 2.5, align: Align::Left },
                Column { title: "Valor".to_owned(), width: 1.0, align: Align::Right },
            ],
            rows: inv.payments.iter().map(|p| vec![payment_name(&p.method).to_owned(), p.amount.clone()]).collect(),
        });
    }
    Printable {
        title: r.title.to_owned(),
        number: format!("No. {}", inv.number),
        tax_id: Some(("R.U.C.".to_owned(), ec.ruc.clone())),
        issuer_lines,
        header_box: vec![
            ("NÚMERO DE AUTORIZACIÓN".to_owned(), r.authorization_number.to_owned()),
            ("FECHA Y HORA DE AUTORIZACIÓN".to_owned(), r.authorized_at.to_owned()),
            ("AMBIENTE".to_owned(), (if ec.ambiente == 2 { "PRODUCCIÓN" } else { "PRUEBAS" }).to_owned()),
            ("EMISIÓN".to_owned(), "NORMAL".to_owned()),
        ],
        barcode: Some(Barcode { label: "CLAVE DE ACCESO".to_owned(), text: r.access_key.to_owned() }),
        qr: None,
        buyer,
        columns: columns(),
        rows: rows(inv),
        sections,
        totals,
        footer: vec!["Representación impresa de un comprobante electrónico autorizado por el SRI.".to_owned()],
    }
}

/// A Spanish invoice (`simplified`: a factura simplificada, F2) with its
/// VeriFactu QR and legend (Orden HAC/1177/2024, art. 20-21).
pub fn spanish(
    es: &Spain,
    invoice: &Invoice,
    simplified: bool,
    qr: Option<(usize, Vec<bool>)>,
    huella: &str,
) -> Printable {
    let mut totals = Vec::new();
    for t in &invoice.taxes {
        totals.push((format!("Base imponible {} %", t.percent), t.base.clone()));
        totals.push((format!("IVA {} %", t.percent), t.tax.clone()));
    }
    totals.push(("TOTAL (EUR)".to_owned(), invoice.total.clone()));
    let mut columns = columns();
    for (c, title) in columns.iter_mut().zip(["Código", "Cantidad", "Descripción", "Precio", "Descuento", "Importe"])
    {
        title.clone_into(&mut c.title);
    }
    Printable {
        title: (if simplified { "FACTURA SIMPLIFICADA" } else { "FACTURA" }).to_owned(),
        number: format!("Nº {}", invoice.number),
        tax_id: Some(("NIF".to_owned(), es.nif.clone())),
        issuer_lines: vec![es.name.clone()],
        header_box: vec![("Fecha de expedición".to_owned(), dmy(&invoice.issue_date, '-'))],
        barcode: None,
        qr: qr.map(|(width, dark)| QrImage {
            width,
            dark,
            caption: vec!["QR tributario:".to_owned(), "VERI*FACTU".to_owned()],
        }),
        buyer: vec![
            ("Cliente".to_owned(), invoice.customer.name.clone()),
            ("NIF".to_owned(), invoice.customer.tax_id.clone()),
        ],
        columns,
        rows: rows(invoice),
        sections: Vec::new(),
        totals,
        footer: vec![
            "Factura verificable en la sede electrónica de la AEAT.".to_owned(),
            format!("Huella del registro: {huella}"),
        ],
    }
}
