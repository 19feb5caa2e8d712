//! Ecuador's *clave de acceso*: the 49-digit key that identifies every
//! electronic comprobante and, in the SRI's offline scheme, is also its
//! authorisation number.
//!
//! Layout, per the SRI's "Ficha técnica de comprobantes electrónicos esquema
//! offline" (v2.32, October 2025, §5.2 Tabla 1):
//!
//! | digits | field                                             |
//! |--------|---------------------------------------------------|
//! | 8      | fecha de emisión, `ddmmaaaa`                      |
//! | 2      | tipo de comprobante (Tabla 3: 01 factura, ...)    |
//! | 13     | RUC of the issuer                                 |
//! | 1      | tipo de ambiente (Tabla 4: 1 pruebas, 2 producción) |
//! | 6      | serie: establecimiento (3) + punto de emisión (3) |
//! | 9      | número secuencial                                 |
//! | 8      | código numérico                                   |
//! | 1      | tipo de emisión (Tabla 2: only `1`, normal)       |
//! | 1      | dígito verificador, módulo 11 over the first 48   |
//!
//! The SRI rejects a key whose fields are not zero-padded to these lengths,
//! so [`AccessKey::build`] validates every part instead of padding silently
//! whatever it is given (a 4-digit establishment must be an error, not a
//! truncation).

use std::fmt;

use sha2::{Digest, Sha256};

/// Tipo de emisión. The offline scheme has only "emisión normal" (the ficha's
/// Tabla 2, footnote 2: contingency keys were removed in v2.0).
const EMISSION_NORMAL: char = '1';

/// Tipos de comprobante of the ficha's Tabla 3: factura, liquidación de
/// compra, nota de crédito, nota de débito, guía de remisión, comprobante de
/// retención. Anything else would produce a key the SRI cannot match to a
/// document.
const DOC_TYPES: [&str; 6] = ["01", "03", "04", "05", "06", "07"];

/// Why a clave de acceso could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaveError {
    /// The year does not fit the 4 digits of `ddmmaaaa`.
    Year(i16),
    /// Not one of the ficha's Tabla 3 codes.
    DocType(String),
    /// Not 13 digits.
    Ruc(String),
    /// Neither 1 (pruebas) nor 2 (producción).
    Environment(u8),
    /// Not 3 digits.
    Establishment(String),
    /// Not 3 digits.
    EmissionPoint(String),
    /// Outside 1..=999 999 999, the 9 digits the key has for it.
    Sequential(u64),
    /// Not 8 digits.
    NumericCode(String),
}

impl fmt::Display for ClaveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Year(y) => write!(f, "year {y} does not fit the clave de acceso's ddmmaaaa"),
            Self::DocType(t) => write!(f, "tipo de comprobante {t:?} is not one of 01, 03, 04, 05, 06, 07"),
            Self::Ruc(r) => write!(f, "RUC {r:?} is not 13 digits"),
            Self::Environment(e) => write!(f, "tipo de ambiente {e} is neither 1 (pruebas) nor 2 (producción)"),
            Self::Establishment(s) => write!(f, "establecimiento {s:?} is not 3 digits"),
            Self::EmissionPoint(s) => write!(f, "punto de emisión {s:?} is not 3 digits"),
            Self::Sequential(n) => write!(f, "secuencial {n} is outside 1..=999999999"),
            Self::NumericCode(c) => write!(f, "código numérico {c:?} is not 8 digits"),
        }
    }
}

impl std::error::Error for ClaveError {}

/// The parts of a clave de acceso, as the comprobante's `infoTributaria`
/// carries them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKey<'a> {
    /// Fecha de emisión, in Ecuador's calendar (the same day as the
    /// comprobante's `fechaEmision`).
    pub date: jiff::civil::Date,
    /// Tipo de comprobante (`codDoc`): "01" factura, "04" nota de crédito, ...
    pub doc_type: &'a str,
    /// The issuer's RUC, 13 digits.
    pub ruc: &'a str,
    /// Tipo de ambiente: 1 pruebas, 2 producción.
    pub environment: u8,
    /// Establecimiento (`estab`), 3 digits.
    pub establishment: &'a str,
    /// Punto de emisión (`ptoEmi`), 3 digits.
    pub emission_point: &'a str,
    /// Número secuencial (`secuencial`), written zero-padded to 9 digits.
    pub sequential: u64,
    /// Código numérico, 8 digits: see [`numeric_code`].
    pub numeric_code: &'a str,
}

impl AccessKey<'_> {
    /// The 49-digit key, or which part is malformed.
    pub fn build(&self) -> Result<String, ClaveError> {
        let year = self.date.year();
        if !(0..=9999).contains(&year) {
            return Err(ClaveError::Year(year));
        }
        if !DOC_TYPES.contains(&self.doc_type) {
            return Err(ClaveError::DocType(self.doc_type.to_owned()));
        }
        if !is_digits(self.ruc, 13) {
            return Err(ClaveError::Ruc(self.ruc.to_owned()));
        }
        if !matches!(self.environment, 1 | 2) {
            return Err(ClaveError::Environment(self.environment));
        }
        if !is_digits(self.establishment, 3) {
            return Err(ClaveError::Establishment(self.establishment.to_owned()));
        }
        if !is_digits(self.emission_point, 3) {
            return Err(ClaveError::EmissionPoint(self.emission_point.to_owned()));
        }
        if !(1..=999_999_999).contains(&self.sequential) {
            return Err(ClaveError::Sequential(self.sequential));
        }
        if !is_digits(self.numeric_code, 8) {
            return Err(ClaveError::NumericCode(self.numeric_code.to_owned()));
        }
        let mut key = format!(
            "{:02}{:02}{:04}{}{}{}{}{}{:09}{}{}",
            self.date.day(),
            self.date.month(),
            year,
            self.doc_type,
            self.ruc,
            self.environment,
            self.establishment,
            self.emission_point,
            self.sequential,
            self.numeric_code,
            EMISSION_NORMAL,
        );
        // Every part was checked to be ASCII digits above, so the check digit
        // always exists; the fallback only keeps this free of a panic path.
        let check = check_digit(&key).ok_or_else(|| ClaveError::Ruc(self.ruc.to_owned()))?;
        key.push(char::from(b'0' + check));
        Ok(key)
    }
}

/// The módulo 11 check digit the SRI asks for (ficha técnica §5.2): each
/// digit times a weight cycling 2, 3, 4, 5, 6, 7 from the rightmost digit,
/// then 11 minus the sum modulo 11, where a result of 11 becomes 0 and 10
/// becomes 1.
///
/// The clave de acceso applies it to its first 48 digits; the algorithm
/// itself takes any length (the ficha's worked example uses 8 digits), so
/// this does too. `None` for an empty string or one with anything but ASCII
/// digits.
pub fn check_digit(digits: &str) -> Option<u8> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let sum: u32 =
        digits.bytes().rev().zip([2u32, 3, 4, 5, 6, 7].into_iter().cycle()).map(|(b, w)| u32::from(b - b'0') * w).sum();
    match 11 - sum % 11 {
        11 => Some(0),
        10 => Some(1),
        // 1..=9: `sum % 11` is at most 10, so this is at least 1.
        d => u8::try_from(d).ok(),
    }
}

/// Whether `key` is 49 digits whose last one is the módulo 11 check digit
/// of the other 48: the check a key read back from storage or typed by a
/// person should pass. It does not check that the date or codes make sense.
#[cfg(test)]
pub fn is_valid(key: &str) -> bool {
    let Some((first48, last)) = key.split_at_checked(48) else {
        return false;
    };
    match (check_digit(first48), last.as_bytes()) {
        (Some(check), [digit]) => *digit == b'0' + check,
        _ => false,
    }
}

/// An 8-digit código numérico derived from `seed` (SHA-256, the first 8
/// bytes as a big-endian number, modulo 10^8).
///
/// Deterministic on purpose: a retry of the same document must rebuild the
/// same clave de acceso, since the SRI treats two keys as two documents and
/// the ficha (§5.10) asks that a rejected comprobante be resent under the
/// same key. The seed should therefore identify the document, and include
/// something not guessable (such as the document's random id) since the
/// ficha describes this code as the issuer's security measure. The output
/// for a given seed must never change: keys already issued depend on it.
pub fn numeric_code(seed: &[u8]) -> String {
    let digest = Sha256::digest(seed);
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    // 2^64 is about 1.8e11 times 10^8, so the modulo's bias is negligible.
    format!("{:08}", u64::from_be_bytes(first) % 100_000_000)
}

/// Whether `s` is exactly `len` ASCII digits.
fn is_digits(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    /// Published claves de acceso, all from the SRI's "Ficha técnica:
    /// Manual de usuario, catálogo y especificaciones técnicas — Emisión de
    /// comprobantes electrónicos, método de automatización off-line",
    /// versión 2.32 (actualizado octubre 2025):
    /// - §7.2.3, recepción fallida (DEVUELTA): 1702201205176001321000110010030001000011234567816
    /// - §7.2.3, comprobante autorizado: 0503201201176001321000110010030009900641234567814
    /// - §7.2.3, comprobante no autorizado: 1302201201176001321000120010030000050431234567814
    /// - §7.4 Tabla 8, envío por lote: 2808201400179210439400110010010000000091234567812
    /// - §8.2.3, consulta de validez (request): 0211202401050306179800120010020000000677300995216
    /// - §8.2.3, consulta de validez (AUTORIZADO): 2111202405176001321000110010010000001241234567810
    /// - §8.2.3, fuera de rango: 1510202407099313057500110010010000103591234567816
    /// - Anexo 1, "FORMATO XML FACTURA" (claveAcceso of the sample factura):
    ///   2110201101179214673900110020010000000011234567813
    ///
    /// Left out: §8.2.3's "no existen datos" example,
    /// 2111202401176001321000110010010000011171234567810, whose last digit
    /// is not its módulo 11 check digit (that would be 5).
    const FICHA_KEYS: [&str; 8] = [
        "1702201205176001321000110010030001000011234567816",
        "0503201201176001321000110010030009900641234567814",
        "1302201201176001321000120010030000050431234567814",
        "2808201400179210439400110010010000000091234567812",
        "0211202401050306179800120010020000000677300995216",
        "2111202405176001321000110010010000001241234567810",
        "1510202407099313057500110010010000103591234567816",
        "2110201101179214673900110020010000000011234567813",
    ];

    fn factura_example() -> AccessKey<'static> {
        // The parts of the ficha's Anexo 1 sample factura's key.
        AccessKey {
            date: date(2011, 10, 21),
            doc_type: "01",
            ruc: "1792146739001",
            environment: 1,
            establishment: "002",
            emission_point: "001",
            sequential: 1,
            numeric_code: "12345678",
        }
    }

    #[test]
    fn worked_example_of_the_ficha() {
        // Ficha técnica v2.32, §5.2, "Ejemplo de verificación utilizando
        // algoritmo de módulo 11": cadena 41261533, sum 104, 104 mod 11 = 5,
        // 11 - 5 = 6.
        assert_eq!(check_digit("41261533"), Some(6));
    }

    #[test]
    fn published_keys_verify() {
        for key in FICHA_KEYS {
            assert_eq!(key.len(), 49, "{key}");
            assert!(is_valid(key), "{key}");
            assert_eq!(check_digit(&key[..48]), Some(key.as_bytes()[48] - b'0'), "{key}");
        }
    }

    #[test]
    fn builds_the_ficha_factura_key() {
        assert_eq!(factura_example().build().unwrap(), "2110201101179214673900110020010000000011234567813");
    }

    #[test]
    fn builds_the_ficha_nota_de_debito_key() {
        // Ficha técnica v2.32, §8.2.3, the AUTORIZADO answer: a nota de
        // débito (05) of RUC 1760013210001 of 21/11/2024, ambiente 1, serie
        // 001001, secuencial 124, código numérico 12345678.
        let key = AccessKey {
            date: date(2024, 11, 21),
            doc_type: "05",
            ruc: "1760013210001",
            environment: 1,
            establishment: "001",
            emission_point: "001",
            sequential: 124,
            numeric_code: "12345678",
        };
        assert_eq!(key.build().unwrap(), "2111202405176001321000110010010000001241234567810");
    }

    #[test]
    fn check_digit_special_results() {
        // A sum of 0 mod 11 gives 11 - 0 = 11, which becomes 0.
        assert_eq!(check_digit("0"), Some(0));
        // "6" sums to 6 * 2 = 12, 1 mod 11: 11 - 1 = 10, which becomes 1.
        assert_eq!(check_digit("6"), Some(1));
        assert_eq!(check_digit(""), None);
        assert_eq!(check_digit("12a4"), None);
        assert_eq!(check_digit("１２"), None);
    }

    #[test]
    fn rejects_bad_keys() {
        let good = FICHA_KEYS[0];
        // One digit changed.
        let mut altered = good.to_owned();
        altered.replace_range(10..11, if &good[10..11] == "9" { "8" } else { "9" });
        assert!(!is_valid(&altered));
        // Wrong check digit.
        assert!(!is_valid(&format!("{}{}", &good[..48], (good.as_bytes()[48] - b'0' + 1) % 10)));
        // Lengths.
        assert!(!is_valid(&good[..48]));
        assert!(!is_valid(&format!("{good}0")));
        assert!(!is_valid(""));
        // Not digits, including a multi-byte character at the split point.
        assert!(!is_valid(&format!("{}x", &good[..48])));
        assert!(!is_valid(&format!("{}é", &good[..47])));
    }

    #[test]
    fn build_rejects_malformed_parts() {
        let base = factura_example();
        let cases: Vec<(AccessKey<'_>, ClaveError)> = vec![
            (AccessKey { doc_type: "1", ..base.clone() }, ClaveError::DocType("1".into())),
            (AccessKey { doc_type: "02", ..base.clone() }, ClaveError::DocType("02".into())),
            (AccessKey { ruc: "179214673900", ..base.clone() }, ClaveError::Ruc("179214673900".into())),
            (AccessKey { ruc: "17921467390O1", ..base.clone() }, ClaveError::Ruc("17921467390O1".into())),
            (AccessKey { environment: 0, ..base.clone() }, ClaveError::Environment(0)),
            (AccessKey { environment: 3, ..base.clone() }, ClaveError::Environment(3)),
            (AccessKey { establishment: "2", ..base.clone() }, ClaveError::Establishment("2".into())),
            (AccessKey { emission_point: "0001", ..base.clone() }, ClaveError::EmissionPoint("0001".into())),
            (AccessKey { sequential: 0, ..base.clone() }, ClaveError::Sequential(0)),
            (AccessKey { sequential: 1_000_000_000, ..base.clone() }, ClaveError::Sequential(1_000_000_000)),
            (AccessKey { numeric_code: "1234567", ..base.clone() }, ClaveError::NumericCode("1234567".into())),
            (AccessKey { numeric_code: "1234567a", ..base.clone() }, ClaveError::NumericCode("1234567a".into())),
            (AccessKey { date: date(-1, 1, 1), ..base.clone() }, ClaveError::Year(-1)),
        ];
        for (key, err) in cases {
            assert_eq!(key.build(), Err(err));
        }
        let max = AccessKey { sequential: 999_999_999, ..base }.build().unwrap();
        assert!(is_valid(&max));
        assert_eq!(&max[30..39], "999999999");
    }

    #[test]
    fn numeric_code_is_deterministic_eight_digits() {
        let a = numeric_code(b"tenant-1/sale-42");
        assert_eq!(a, numeric_code(b"tenant-1/sale-42"));
        assert_eq!(a.len(), 8);
        assert!(a.bytes().all(|b| b.is_ascii_digit()));
        assert_ne!(a, numeric_code(b"tenant-1/sale-43"));
        // Pinned: keys already issued depend on this value never changing.
        // SHA-256("") starts e3b0c44298fc1c14 = 16406829232824261652, and
        // that modulo 10^8 is 24261652.
        assert_eq!(numeric_code(b""), "24261652");
        // Usable in a key as is.
        let code = numeric_code(b"x");
        assert!(is_valid(&AccessKey { numeric_code: &code, ..factura_example() }.build().unwrap()));
    }
}
