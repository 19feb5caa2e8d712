//! VeriFactu's verification QR code ("QR tributario"): a URL of the AEAT's
//! *cotejo* service that lets the customer check that the invoice reached the
//! AEAT, and the QR code that carries it.
//!
//! Per the AEAT's "Detalle de las especificaciones técnicas del código «QR»
//! de la factura y de la «URL» del servicio de cotejo o remisión de
//! información por parte del receptor de la factura" (v0.5.0, 10/12/2025):
//! - §5.1, for systems that issue verifiable invoices (VERI*FACTU), the
//!   service is `https://prewww2.aeat.es/wlpl/TIKE-CONT/ValidarQR` in the test
//!   environment and `https://www2.agenciatributaria.gob.es/wlpl/TIKE-CONT/ValidarQR`
//!   in production (the `ValidarQRNoVerifactu` variants are for systems that
//!   do not send their records, which this module is not);
//! - §6, exactly four parameters, in this order: `nif`, `numserie`, `fecha`
//!   (dd-mm-aaaa) and `importe` (dot as decimal separator);
//! - §4, their values URL-encoded as UTF-8, which its reference code does
//!   with Java's `URLEncoder` (application/x-www-form-urlencoded);
//! - §2 (Orden HAC/1177/2024 art. 21), the code follows ISO/IEC 18004 with
//!   error correction level M and measures between 30x30 and 40x40 mm.
//!
//! The huella is not part of the URL (unlike TicketBAI's).

use std::fmt;

use qrcode::render::svg;
use qrcode::{Color, EcLevel, QrCode};

/// The AEAT environment the invoice's record was sent to: a record sent to
/// the test environment can only be checked there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    /// The AEAT's external test portal (`prewww2.aeat.es`).
    Test,
    /// Production (`www2.agenciatributaria.gob.es`).
    Production,
}

impl Environment {
    /// The cotejo service's address, without parameters.
    pub fn cotejo_url(self) -> &'static str {
        match self {
            Self::Test => "https://prewww2.aeat.es/wlpl/TIKE-CONT/ValidarQR",
            Self::Production => "https://www2.agenciatributaria.gob.es/wlpl/TIKE-CONT/ValidarQR",
        }
    }
}

/// Side of the printed code itself, quiet zone excluded: the middle of the
/// 30 to 40 mm the Orden allows, so that rounding in a viewer or printer
/// keeps it inside.
const SYMBOL_MM: f64 = 35.0;

/// The blank margin ISO/IEC 18004 asks around a QR code, in modules. At
/// 35 mm for the symbol it is over 2 mm for any version the URL can need
/// (the AEAT asks at least 2 mm, recommends 6).
const QUIET_ZONE_MODULES: usize = 4;

/// The URL to encode in the invoice's QR code.
///
/// The values go in as they are in the registro de alta (`importe` is its
/// ImporteTotal, `fecha` its FechaExpedicionFactura): the cotejo service
/// compares them with what it received, so they are not reformatted here.
/// Each is percent-encoded exactly as the AEAT's reference code does, where
/// a space becomes `+` and everything but letters, digits and `*-._` becomes
/// `%XX` (so a series `A/1&B` is `A%2F1%26B`).
pub fn url(environment: Environment, nif: &str, numserie: &str, fecha: &str, importe: &str) -> String {
    let mut out = String::from(environment.cotejo_url());
    for (i, (name, value)) in
        [("nif", nif), ("numserie", numserie), ("fecha", fecha), ("importe", importe)].into_iter().enumerate()
    {
        out.push(if i == 0 { '?' } else { '&' });
        out.push_str(name);
        out.push('=');
        out.extend(form_urlencoded::byte_serialize(value.as_bytes()));
    }
    out
}

/// Why a QR code could not be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QrError {
    /// The text does not fit any QR version at level M (over 2331 bytes; a
    /// cotejo URL is at most a few hundred).
    Encode(String),
}

impl fmt::Display for QrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Encode(reason) => write!(f, "cannot encode the QR code: {reason}"),
        }
    }
}

impl std::error::Error for QrError {}

/// A QR code's modules, for drawers that place their own rectangles (the
/// PDF writer): `width` modules a side, no quiet zone, `dark` row-major from
/// the top-left corner, `true` for a dark module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrMatrix {
    pub width: usize,
    pub dark: Vec<bool>,
}

impl QrMatrix {
    /// Whether the module at column `x`, row `y` is dark; `false` outside.
    #[cfg(test)]
    pub fn is_dark(&self, x: usize, y: usize) -> bool {
        x < self.width && y < self.width && self.dark.get(y * self.width + x).copied().unwrap_or(false)
    }
}

/// The QR code for `text` (the [`url`]) at error correction level M, in the
/// smallest version that holds it.
fn encode(text: &str) -> Result<QrCode, QrError> {
    QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).map_err(|e| QrError::Encode(e.to_string()))
}

/// The QR code's modules. The drawer adds the quiet zone: 4 modules of
/// blank on every side (ISO/IEC 18004), and at least 2 mm (the AEAT).
pub fn modules(text: &str) -> Result<QrMatrix, QrError> {
    let code = encode(text)?;
    let width = code.width();
    let dark = code.to_colors().into_iter().map(|c| c == Color::Dark).collect();
    Ok(QrMatrix { width, dark })
}

/// The QR code as a standalone SVG image (for an `image/svg+xml` answer):
/// black on white, with its quiet zone, sized in millimetres so that the
/// code itself prints 35 mm wide. The drawing's unit is one module.
pub fn svg(text: &str) -> Result<String, QrError> {
    let code = encode(text)?;
    let side = code.width() + 2 * QUIET_ZONE_MODULES;
    let image = code.render::<svg::Color<'_>>().quiet_zone(true).module_dimensions(1, 1).build();
    // The renderer writes the size in user units (one per module); only the
    // first occurrence, on the <svg> element itself, becomes millimetres.
    let units = format!(r#"width="{side}" height="{side}""#);
    let mm = side_mm(code.width(), side);
    Ok(image.replacen(&units, &format!(r#"width="{mm}mm" height="{mm}mm""#), 1))
}

/// The printed side, quiet zone included, for a symbol of [`SYMBOL_MM`],
/// to two decimals.
fn side_mm(symbol_modules: usize, side_modules: usize) -> String {
    // Module counts are at most 177 + 8, exactly representable.
    let mm = SYMBOL_MM * side_modules as f64 / symbol_modules as f64;
    format!("{mm:.2}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads a matrix back with an independent decoder (rqrr), drawn with
    /// its quiet zone at 4 pixels a module.
    fn decode(matrix: &QrMatrix) -> String {
        const SCALE: usize = 4;
        let side = (matrix.width + 2 * QUIET_ZONE_MODULES) * SCALE;
        let mut image = rqrr::PreparedImage::prepare_from_bitmap(side, side, |x, y| {
            let (mx, my) = (x / SCALE, y / SCALE);
            mx >= QUIET_ZONE_MODULES
                && my >= QUIET_ZONE_MODULES
                && matrix.is_dark(mx - QUIET_ZONE_MODULES, my - QUIET_ZONE_MODULES)
        });
        let grids = image.detect_grids();
        assert_eq!(grids.len(), 1);
        let (meta, content) = grids[0].decode().unwrap();
        // Level M is ECC level 0 in the format bits (ISO/IEC 18004 table 12).
        assert_eq!(meta.ecc_level, 0);
        content
    }

    #[test]
    fn aeat_example_url() {
        // QR specification v0.5.0, §4: numserie 12345678&G33 must travel as
        // 12345678%26G33, giving exactly this URL for the test environment.
        assert_eq!(
            url(Environment::Test, "89890001K", "12345678&G33", "01-01-2024", "241.4"),
            "https://prewww2.aeat.es/wlpl/TIKE-CONT/ValidarQR?nif=89890001K&numserie=12345678%26G33&fecha=01-01-2024&importe=241.4"
        );
    }

    #[test]
    fn production_url_and_encoding() {
        assert_eq!(
            url(Environment::Production, "89890001K", "A/2024 1&2+3", "01-09-2024", "1210.00"),
            "https://www2.agenciatributaria.gob.es/wlpl/TIKE-CONT/ValidarQR\
             ?nif=89890001K&numserie=A%2F2024+1%262%2B3&fecha=01-09-2024&importe=1210.00"
        );
        // Java's URLEncoder leaves letters, digits and *-._ alone and escapes
        // the rest of ASCII 32..126 that numserie may hold.
        assert_eq!(
            url(Environment::Test, "B", "aZ09*-._~!'()%#=?", "f", "i"),
            "https://prewww2.aeat.es/wlpl/TIKE-CONT/ValidarQR\
             ?nif=B&numserie=aZ09*-._%7E%21%27%28%29%25%23%3D%3F&fecha=f&importe=i"
        );
    }

    #[test]
    fn url_round_trips_through_a_form_decoder() {
        let numserie = "FAC 2024/001 & <co> + \"x\"";
        let link = url(Environment::Test, "89890001K", numserie, "31-12-2024", "99.99");
        let (_, query) = link.split_once('?').unwrap();
        let pairs: Vec<(String, String)> =
            form_urlencoded::parse(query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        let expected = [("nif", "89890001K"), ("numserie", numserie), ("fecha", "31-12-2024"), ("importe", "99.99")]
            .map(|(k, v)| (k.to_owned(), v.to_owned()));
        assert_eq!(pairs, expected);
    }

    #[test]
    fn matrix_is_square_and_decodes_to_the_url() {
        let link = url(Environment::Production, "89890001K", "12345678/G33", "01-01-2024", "123.45");
        let matrix = modules(&link).unwrap();
        assert_eq!(matrix.dark.len(), matrix.width * matrix.width);
        // Versions are 21 modules plus 4 per step.
        assert_eq!((matrix.width - 17) % 4, 0);
        let code = QrCode::with_error_correction_level(link.as_bytes(), EcLevel::M).unwrap();
        assert_eq!(code.version(), qrcode::Version::Normal(((matrix.width - 17) / 4) as i16));
        assert_eq!(code.error_correction_level(), EcLevel::M);
        // 132 bytes at level M need version 8, 49 modules (7 holds 122).
        assert_eq!(link.len(), 132);
        assert_eq!(matrix.width, 49);
        // Finder pattern: the top-left 7x7 has a dark border and a light ring.
        assert!((0..7).all(|i| matrix.is_dark(i, 0) && matrix.is_dark(0, i) && matrix.is_dark(6, i)));
        assert!((1..6).all(|i| !matrix.is_dark(i, 1) && !matrix.is_dark(1, i)));
        assert!(!matrix.is_dark(matrix.width, 0));
        assert_eq!(decode(&matrix), link);
    }

    #[test]
    fn longest_series_still_fits() {
        // numserie is at most 60 characters of ASCII 32..126; all escaped it
        // triples, and a 12-digit amount: still a small code.
        let numserie = "%".repeat(60);
        let link = url(Environment::Production, "89890001K", &numserie, "01-01-2024", "-999999999999.99");
        let matrix = modules(&link).unwrap();
        assert!(matrix.width <= 17 + 4 * 15, "version too large: {}", matrix.width);
        assert_eq!(decode(&matrix), link);
    }

    #[test]
    fn svg_is_sized_in_millimetres() {
        let link = url(Environment::Test, "89890001K", "12345678/G33", "01-01-2024", "123.45");
        let width = modules(&link).unwrap().width;
        let side = width + 8;
        let image = svg(&link).unwrap();
        assert!(image.starts_with("<?xml"));
        // One module per user unit, quiet zone included.
        assert!(image.contains(&format!(r#"viewBox="0 0 {side} {side}""#)), "{image}");
        // The symbol is 35 mm: the whole image is 35 * side / width.
        let mm = format!("{:.2}", 35.0 * side as f64 / width as f64);
        assert!(
            image.contains(&format!(
                r#"<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{mm}mm" height="{mm}mm""#
            )),
            "{image}"
        );
        // Quiet zone of 4 modules above 2 mm.
        assert!(35.0 * 4.0 / width as f64 >= 2.0);
        // Black modules on a white background.
        assert!(image.contains(r##"fill="#fff""##) && image.contains(r##"<path fill="#000""##));
        assert!(image.ends_with("</svg>"));
    }

    #[test]
    fn too_long_text_is_an_error() {
        let err = modules(&"9".repeat(8000)).unwrap_err();
        assert!(err.to_string().contains("data too long"), "{err}");
        assert!(svg(&"x".repeat(3000)).is_err());
    }
}
