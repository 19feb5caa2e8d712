//! VeriFactu's *huella*: the SHA-256 that chains every registro de
//! facturación to the one generated before it (RD 1007/2023, Orden
//! HAC/1177/2024 art. 13).
//!
//! Per the AEAT's "Detalle de las especificaciones técnicas para generación
//! de la huella o hash de los registros de facturación" (v0.1.2, 27/08/2024):
//! a fixed list of fields, in a fixed order, written `name=value` and joined
//! with `&` (no `&` at the end, no URL encoding), each value trimmed of
//! leading and trailing spaces; an absent value still writes `name=`. The
//! UTF-8 bytes of that string go through SHA-256 and the digest is written
//! as 64 upper-case hexadecimal characters.
//!
//! The hash is over the *text* of each field, not its meaning: `123.1` and
//! `123.10` hash differently. So the strings given here must be exactly the
//! ones written into the XML record (see `es::xml`), never re-formatted in
//! between.

use std::fmt::Write;

use sha2::{Digest, Sha256};

/// The fields of a registro de alta that enter its huella.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Alta<'a> {
    /// IDFactura/IDEmisorFactura: the issuer's NIF.
    pub id_emisor_factura: &'a str,
    /// IDFactura/NumSerieFactura: series and number.
    pub num_serie_factura: &'a str,
    /// IDFactura/FechaExpedicionFactura, `dd-mm-yyyy`.
    pub fecha_expedicion_factura: &'a str,
    /// TipoFactura: `F1`, `F2`, ...
    pub tipo_factura: &'a str,
    /// CuotaTotal, as written in the XML.
    pub cuota_total: &'a str,
    /// ImporteTotal, as written in the XML.
    pub importe_total: &'a str,
    /// Encadenamiento/RegistroAnterior/Huella: the previous record's huella
    /// (alta or anulación), or empty for the first record of the chain.
    pub huella_anterior: &'a str,
    /// FechaHoraHusoGenRegistro, e.g. `2024-01-01T19:20:30+01:00`.
    pub fecha_hora_huso_gen_registro: &'a str,
}

/// The fields of a registro de anulación that enter its huella.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Anulacion<'a> {
    /// IDFactura/IDEmisorFacturaAnulada.
    pub id_emisor_factura_anulada: &'a str,
    /// IDFactura/NumSerieFacturaAnulada.
    pub num_serie_factura_anulada: &'a str,
    /// IDFactura/FechaExpedicionFacturaAnulada, `dd-mm-yyyy`.
    pub fecha_expedicion_factura_anulada: &'a str,
    /// Encadenamiento/RegistroAnterior/Huella, or empty for the first record.
    pub huella_anterior: &'a str,
    /// FechaHoraHusoGenRegistro.
    pub fecha_hora_huso_gen_registro: &'a str,
}

/// The text whose SHA-256 is a registro de alta's huella (specification
/// §3 a): worth storing or logging beside the huella, since it is what an
/// auditor recomputes.
pub fn chain_input_alta(alta: &Alta<'_>) -> String {
    join(&[
        ("IDEmisorFactura", alta.id_emisor_factura),
        ("NumSerieFactura", alta.num_serie_factura),
        ("FechaExpedicionFactura", alta.fecha_expedicion_factura),
        ("TipoFactura", alta.tipo_factura),
        ("CuotaTotal", alta.cuota_total),
        ("ImporteTotal", alta.importe_total),
        ("Huella", alta.huella_anterior),
        ("FechaHoraHusoGenRegistro", alta.fecha_hora_huso_gen_registro),
    ])
}

/// The text whose SHA-256 is a registro de anulación's huella
/// (specification §3 b). The previous record's huella is named plain
/// `Huella` here too, while the invoice's fields carry the `Anulada` suffix.
pub fn chain_input_anulacion(anulacion: &Anulacion<'_>) -> String {
    join(&[
        ("IDEmisorFacturaAnulada", anulacion.id_emisor_factura_anulada),
        ("NumSerieFacturaAnulada", anulacion.num_serie_factura_anulada),
        ("FechaExpedicionFacturaAnulada", anulacion.fecha_expedicion_factura_anulada),
        ("Huella", anulacion.huella_anterior),
        ("FechaHoraHusoGenRegistro", anulacion.fecha_hora_huso_gen_registro),
    ])
}

/// A registro de alta's huella: 64 upper-case hexadecimal characters.
pub fn huella_alta(alta: &Alta<'_>) -> String {
    sha256_upper_hex(&chain_input_alta(alta))
}

/// A registro de anulación's huella: 64 upper-case hexadecimal characters.
pub fn huella_anulacion(anulacion: &Anulacion<'_>) -> String {
    sha256_upper_hex(&chain_input_anulacion(anulacion))
}

/// `name=value` pairs joined with `&`, each value trimmed.
fn join(fields: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (name, value)) in fields.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(name);
        out.push('=');
        out.push_str(trim(value));
    }
    out
}

/// Removes leading and trailing spaces as the specification's reference
/// code does: it is Java and calls `String.trim()`, which strips every
/// character up to U+0020 (space and the control characters) and nothing
/// else. Rust's `str::trim` would also strip Unicode spaces such as U+00A0,
/// and the AEAT, recomputing the hash, would then disagree with us.
fn trim(value: &str) -> &str {
    value.trim_matches(|c: char| c <= ' ')
}

fn sha256_upper_hex(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    let mut hex = String::with_capacity(64);
    for byte in digest {
        // Writing to a String cannot fail.
        let _ = write!(hex, "{byte:02X}");
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;

    // The three worked examples of the AEAT's "Detalle de las especificaciones
    // técnicas para generación de la huella o hash de los registros de
    // facturación", versión 0.1.2 (27/08/2024), §6 "Ejemplos": 6.1 first
    // registro de alta, 6.2 a second alta chained to it, 6.3 a registro de
    // anulación chained to that. Input strings and hashes as printed there.

    const FIRST: Alta<'static> = Alta {
        id_emisor_factura: "89890001K",
        num_serie_factura: "12345678/G33",
        fecha_expedicion_factura: "01-01-2024",
        tipo_factura: "F1",
        cuota_total: "12.35",
        importe_total: "123.45",
        huella_anterior: "",
        fecha_hora_huso_gen_registro: "2024-01-01T19:20:30+01:00",
    };
    const FIRST_HUELLA: &str = "3C464DAF61ACB827C65FDA19F352A4E3BDC2C640E9E9FC4CC058073F38F12F60";

    const SECOND: Alta<'static> = Alta {
        id_emisor_factura: "89890001K",
        num_serie_factura: "12345679/G34",
        fecha_expedicion_factura: "01-01-2024",
        tipo_factura: "F1",
        cuota_total: "12.35",
        importe_total: "123.45",
        huella_anterior: FIRST_HUELLA,
        fecha_hora_huso_gen_registro: "2024-01-01T19:20:35+01:00",
    };
    const SECOND_HUELLA: &str = "F7B94CFD8924EDFF273501B01EE5153E4CE8F259766F88CF6ACB8935802A2B97";

    const THIRD: Anulacion<'static> = Anulacion {
        id_emisor_factura_anulada: "89890001K",
        num_serie_factura_anulada: "12345679/G34",
        fecha_expedicion_factura_anulada: "01-01-2024",
        huella_anterior: SECOND_HUELLA,
        fecha_hora_huso_gen_registro: "2024-01-01T19:20:40+01:00",
    };
    const THIRD_HUELLA: &str = "177547C0D57AC74748561D054A9CEC14B4C4EA23D1BEFD6F2E69E3A388F90C68";

    #[test]
    fn aeat_example_6_1_first_alta() {
        assert_eq!(
            chain_input_alta(&FIRST),
            "IDEmisorFactura=89890001K&NumSerieFactura=12345678/G33&FechaExpedicionFactura=01-01-2024\
             &TipoFactura=F1&CuotaTotal=12.35&ImporteTotal=123.45&Huella=\
             &FechaHoraHusoGenRegistro=2024-01-01T19:20:30+01:00"
        );
        assert_eq!(huella_alta(&FIRST), FIRST_HUELLA);
    }

    #[test]
    fn aeat_example_6_2_chained_alta() {
        assert_eq!(
            chain_input_alta(&SECOND),
            "IDEmisorFactura=89890001K&NumSerieFactura=12345679/G34&FechaExpedicionFactura=01-01-2024\
             &TipoFactura=F1&CuotaTotal=12.35&ImporteTotal=123.45\
             &Huella=3C464DAF61ACB827C65FDA19F352A4E3BDC2C640E9E9FC4CC058073F38F12F60\
             &FechaHoraHusoGenRegistro=2024-01-01T19:20:35+01:00"
        );
        assert_eq!(huella_alta(&SECOND), SECOND_HUELLA);
    }

    #[test]
    fn aeat_example_6_3_anulacion() {
        assert_eq!(
            chain_input_anulacion(&THIRD),
            "IDEmisorFacturaAnulada=89890001K&NumSerieFacturaAnulada=12345679/G34\
             &FechaExpedicionFacturaAnulada=01-01-2024\
             &Huella=F7B94CFD8924EDFF273501B01EE5153E4CE8F259766F88CF6ACB8935802A2B97\
             &FechaHoraHusoGenRegistro=2024-01-01T19:20:40+01:00"
        );
        assert_eq!(huella_anulacion(&THIRD), THIRD_HUELLA);
    }

    #[test]
    fn the_three_examples_chain() {
        let first = huella_alta(&FIRST);
        let second = huella_alta(&Alta { huella_anterior: &first, ..SECOND });
        let third = huella_anulacion(&Anulacion { huella_anterior: &second, ..THIRD });
        assert_eq!(third, THIRD_HUELLA);
    }

    #[test]
    fn third_party_example_with_one_decimal_amounts() {
        // Not the AEAT's: the README of the open-source .NET library
        // github.com/mdiago/VeriFactu ("1. Generación de la huella o hash de
        // un registro de alta de factura", invoice GITHUB-EJ-003). A second,
        // independent check, with a previous huella, another NIF and
        // amounts written with one decimal.
        let alta = Alta {
            id_emisor_factura: "B72877814",
            num_serie_factura: "GITHUB-EJ-003",
            fecha_expedicion_factura: "04-11-2024",
            tipo_factura: "F1",
            cuota_total: "21.4",
            importe_total: "131.4",
            huella_anterior: "8C8DCEFB120522E0C71BC19902F44D5334FF6C98E74F0E3AC1D1E5A30C2EA836",
            fecha_hora_huso_gen_registro: "2024-11-04T12:36:39+01:00",
        };
        assert_eq!(huella_alta(&alta), "4EECCE4DD48C0539665385D61D451BA921B7160CA6FEF46CD3C2E2BC5C778E14");
        // The literal matters: the same amounts written with two decimals
        // hash differently.
        assert_ne!(huella_alta(&Alta { cuota_total: "21.40", importe_total: "131.40", ..alta }), huella_alta(&alta));
    }

    #[test]
    fn values_are_trimmed_of_outer_spaces_only() {
        // Specification §3: `<NumSerieFactura>    12345678 / G33  </...>`
        // gives the value "12345678 / G33": inner spaces stay.
        let alta = Alta { num_serie_factura: "    12345678 / G33  ", ..FIRST };
        assert!(chain_input_alta(&alta).contains("&NumSerieFactura=12345678 / G33&"));
        // Padded copies of every field of example 6.1 give its hash, tabs and
        // line breaks included (Java's trim strips them too).
        let padded = Alta {
            id_emisor_factura: "  89890001K  ",
            num_serie_factura: "\t12345678/G33\n",
            fecha_expedicion_factura: " 01-01-2024",
            tipo_factura: "F1 ",
            cuota_total: " 12.35 ",
            importe_total: "123.45\r\n",
            huella_anterior: "   ",
            fecha_hora_huso_gen_registro: " 2024-01-01T19:20:30+01:00 ",
        };
        assert_eq!(huella_alta(&padded), FIRST_HUELLA);
        // A no-break space is not trimmed, as in Java.
        let nbsp = Alta { num_serie_factura: "12345678/G33\u{a0}", ..FIRST };
        assert_ne!(huella_alta(&nbsp), FIRST_HUELLA);
    }

    #[test]
    fn output_is_upper_case_hex_of_the_utf8_bytes() {
        // SHA-256 of "abc" (FIPS 180-2, appendix B.1), in upper case.
        assert_eq!(sha256_upper_hex("abc"), "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD");
        // Non-ASCII text is hashed as UTF-8.
        let alta = Alta { num_serie_factura: "Año/Ñ1", ..FIRST };
        let expected = {
            let input = chain_input_alta(&alta);
            assert!(input.contains("NumSerieFactura=Año/Ñ1&"));
            let digest = Sha256::digest(input.as_bytes());
            digest.iter().map(|b| format!("{b:02X}")).collect::<String>()
        };
        assert_eq!(huella_alta(&alta), expected);
    }
}
