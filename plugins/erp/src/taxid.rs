//! Tax identifiers of customers and suppliers, by country, with their check digits.
//!
//! An invoice is rejected by the tax authority (SRI in Ecuador, AEAT in Spain) when the buyer's id is
//! malformed, and a mistyped id is far cheaper to catch when it is typed than after the invoice is
//! issued. This module checks the shape and the check digit of each kind of id, tells which kind it
//! is, and returns it in one canonical form so that the same party is never stored twice.
//!
//! It checks only what the number itself can prove: a well-formed id may still belong to nobody.
//!
//! Sources of the rules:
//! - Ecuador: the cédula's modulo-10 check digit (Registro Civil) and the RUC's structure and modulo-11
//!   checks as collected by python-stdnum (`stdnum/ec/ci.py`, `stdnum/ec/ruc.py`), including the
//!   exceptions real registries forced on it (see [`validate_lenient`] and the notes in `ec_ruc`).
//! - Spain: the DNI/NIE letter as published by the Ministerio del Interior ("Cálculo del dígito de
//!   control del NIF/NIE"), the NIF of legal entities as set by Orden EHA/451/2008 (an entity letter,
//!   7 digits, a control character), and the control computation used by python-stdnum
//!   (`stdnum/es/cif.py`).

use std::fmt;

/// A country whose tax ids this module knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Country {
    /// Ecuador (SRI).
    Ec,
    /// Spain (AEAT).
    Es,
}

impl Country {
    /// Every known country, for exhaustive tests.
    #[cfg(test)]
    pub const ALL: [Country; 2] = [Country::Ec, Country::Es];

    /// Parses an ISO 3166-1 alpha-2 code ("EC", "es", " Es "), case-insensitively, because codes
    /// arrive from forms, spreadsheets and other systems in any case.
    pub fn parse(code: &str) -> Option<Country> {
        let code = code.trim();
        if code.eq_ignore_ascii_case("EC") {
            Some(Country::Ec)
        } else if code.eq_ignore_ascii_case("ES") {
            Some(Country::Es)
        } else {
            None
        }
    }

    /// The ISO 3166-1 alpha-2 code, upper-case ("EC", "ES").
    pub fn code(self) -> &'static str {
        match self {
            Country::Ec => "EC",
            Country::Es => "ES",
        }
    }
}

/// The kind of a tax id. The kind decides which rules apply and, in Ecuador, which
/// `tipoIdentificacionComprador` an electronic invoice must declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TaxIdKind {
    /// Ecuador: cédula de identidad, 10 digits, of a natural person.
    Cedula,
    /// Ecuador: RUC of a natural person: their cédula plus a 3-digit establishment number.
    RucNatural,
    /// Ecuador: RUC of a private company (third digit 9).
    RucPrivate,
    /// Ecuador: RUC of a public entity (third digit 6).
    RucPublic,
    /// Ecuador: the "consumidor final" id `9999999999999`, for sales to an unidentified buyer.
    FinalConsumer,
    /// A passport number (either country). It has no check digit, so it is never guessed from the
    /// shape: the caller must say that the id is a passport.
    Passport,
    /// Spain: NIF of a natural person: a DNI (8 digits and a letter) or the NIF of a person without
    /// DNI or NIE (K, L or M, 7 digits and a letter).
    Nif,
    /// Spain: NIE of a foreigner (X, Y or Z, 7 digits and a letter).
    Nie,
    /// Spain: NIF of a legal entity or an entity without legal personality, still widely called CIF.
    Cif,
}

impl TaxIdKind {
    /// Every kind, in declaration order.
    pub const ALL: [TaxIdKind; 9] = [
        TaxIdKind::Cedula,
        TaxIdKind::RucNatural,
        TaxIdKind::RucPrivate,
        TaxIdKind::RucPublic,
        TaxIdKind::FinalConsumer,
        TaxIdKind::Passport,
        TaxIdKind::Nif,
        TaxIdKind::Nie,
        TaxIdKind::Cif,
    ];

    /// The stable kebab-case name, the same one serde uses, so that stored and serialized kinds agree.
    pub fn as_str(self) -> &'static str {
        match self {
            TaxIdKind::Cedula => "cedula",
            TaxIdKind::RucNatural => "ruc-natural",
            TaxIdKind::RucPrivate => "ruc-private",
            TaxIdKind::RucPublic => "ruc-public",
            TaxIdKind::FinalConsumer => "final-consumer",
            TaxIdKind::Passport => "passport",
            TaxIdKind::Nif => "nif",
            TaxIdKind::Nie => "nie",
            TaxIdKind::Cif => "cif",
        }
    }

    /// Parses the name given by [`TaxIdKind::as_str`], ignoring surrounding spaces and ASCII case.
    pub fn parse(name: &str) -> Option<TaxIdKind> {
        let name = name.trim();
        TaxIdKind::ALL.into_iter().find(|kind| kind.as_str().eq_ignore_ascii_case(name))
    }

    /// The country whose kind this is. `None` for [`TaxIdKind::Passport`], which is accepted in both
    /// countries: a passport is issued by a third country, not by the one whose rules we apply.
    pub fn country(self) -> Option<Country> {
        match self {
            TaxIdKind::Cedula
            | TaxIdKind::RucNatural
            | TaxIdKind::RucPrivate
            | TaxIdKind::RucPublic
            | TaxIdKind::FinalConsumer => Some(Country::Ec),
            TaxIdKind::Nif | TaxIdKind::Nie | TaxIdKind::Cif => Some(Country::Es),
            TaxIdKind::Passport => None,
        }
    }

    /// Whether an id of this kind can be used with `country`.
    pub fn is_valid_in(self, country: Country) -> bool {
        self.country().is_none_or(|c| c == country)
    }

    /// The SRI code of `tipoIdentificacionComprador` (electronic invoice technical sheet):
    /// RUC "04", cédula "05", pasaporte "06", consumidor final "07". `None` for Spanish kinds.
    /// The three RUC kinds share "04": SRI does not ask which kind of RUC it is.
    pub fn sri_code(self) -> Option<&'static str> {
        match self {
            TaxIdKind::RucNatural | TaxIdKind::RucPrivate | TaxIdKind::RucPublic => Some("04"),
            TaxIdKind::Cedula => Some("05"),
            TaxIdKind::Passport => Some("06"),
            TaxIdKind::FinalConsumer => Some("07"),
            TaxIdKind::Nif | TaxIdKind::Nie | TaxIdKind::Cif => None,
        }
    }
}

impl fmt::Display for TaxIdKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an id was rejected. `rule` is a stable kebab-case id, meant for programs (to translate the
/// message, or to offer an override); `message` is an English sentence meant for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaxIdError {
    /// The rule broken, e.g. `ec-cedula-check-digit`. Never changes meaning once published.
    pub rule: &'static str,
    /// What is wrong, with the expected and the found value where there is one.
    pub message: String,
}

impl TaxIdError {
    fn new(rule: &'static str, message: impl Into<String>) -> Self {
        TaxIdError { rule, message: message.into() }
    }
}

impl fmt::Display for TaxIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.rule)
    }
}

impl std::error::Error for TaxIdError {}

/// Normalizes (trim, strip spaces, dots and hyphens, upper-case) and validates `id` for `country`.
///
/// `kind` None = detect the kind from the shape; Some(kind) = the caller says which kind it is (then
/// it must be valid as that kind). Passports are never detected: their kind must be given.
/// Returns the kind and the normalized id.
///
/// A Spanish id may carry the `ES` prefix of its EU VAT form (`ESB12345674`, `ES-B-1234567-4`): the
/// prefix is removed, and the id returned is the national form, which is what Spanish invoices print
/// and the one to store (the VAT form is `ES` followed by it). The prefix is removed only when 9
/// characters follow it, so a doubled prefix is still an error.
///
/// An Ecuadorian company RUC whose modulo-11 check digit fails is rejected here; see
/// [`validate_lenient`] for why that can be wrong and what to do.
pub fn validate(country: Country, kind: Option<TaxIdKind>, id: &str) -> Result<(TaxIdKind, String), TaxIdError> {
    validate_with(country, kind, id, false)
}

/// Like [`validate`], but accepts an Ecuadorian RUC of a company or public entity (third digit 9 or 6)
/// whose only fault is its modulo-11 check digit.
///
/// Why: the modulo-11 check of company and public RUCs is a community reconstruction, never a rule SRI
/// published for them, and SRI has issued active company RUCs that pass neither form of it (python-stdnum
/// issues #290 and #497, e.g. `1793213150001`, `0993370026001`, both listed as active companies in SRI's
/// registry); its electronic invoicing does not check it either. The check still catches most typing
/// errors, so [`validate`] keeps it; call this function only after a person confirmed the RUC in SRI's
/// registry (e.g. an "I checked it, save anyway" action on a `ec-ruc-private-check-digit`,
/// `ec-ruc-public-check-digit` or `ec-ruc-check-digit` error). Everything else (length, province,
/// third digit, establishment, cédula check digit of natural persons) is still enforced.
pub fn validate_lenient(
    country: Country,
    kind: Option<TaxIdKind>,
    id: &str,
) -> Result<(TaxIdKind, String), TaxIdError> {
    validate_with(country, kind, id, true)
}

fn validate_with(
    country: Country,
    kind: Option<TaxIdKind>,
    id: &str,
    lenient: bool,
) -> Result<(TaxIdKind, String), TaxIdError> {
    let mut norm = normalize(id);
    if norm.is_empty() {
        return Err(TaxIdError::new("empty", "the tax id is empty"));
    }
    if let Some(kind) = kind
        && !kind.is_valid_in(country)
    {
        return Err(TaxIdError::new(
            "kind-country",
            format!("a {} is not a tax id of {}", kind.as_str(), country.code()),
        ));
    }
    if kind == Some(TaxIdKind::Passport) {
        return passport(norm);
    }
    match country {
        Country::Ec => ec(kind, norm, lenient),
        Country::Es => {
            if norm.len() == 11 && norm.starts_with("ES") {
                norm.drain(..2);
            }
            es(kind, norm)
        }
    }
}

/// Removes what people and systems put around and inside ids (spaces, dots, hyphens) and upper-cases,
/// so that `171430710-3`, ` 1714307103 ` and `x-2482300w` compare equal to their canonical form.
fn normalize(id: &str) -> String {
    id.chars().filter(|c| !c.is_whitespace() && *c != '.' && *c != '-').map(|c| c.to_ascii_uppercase()).collect()
}

/// Passports have no check digit and no common format across countries: only a plausible length and
/// alphabet are checked, to catch an empty or pasted-garbage field.
fn passport(norm: String) -> Result<(TaxIdKind, String), TaxIdError> {
    let len = norm.chars().count();
    if !(3..=20).contains(&len) {
        return Err(TaxIdError::new(
            "passport-format",
            format!("a passport number has 3 to 20 letters or digits: found {len} characters"),
        ));
    }
    if !norm.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(TaxIdError::new("passport-format", "a passport number has only letters (A to Z) and digits"));
    }
    Ok((TaxIdKind::Passport, norm))
}

// ---------------------------------------------------------------------------------------------------
// Ecuador
// ---------------------------------------------------------------------------------------------------

/// The id SRI prescribes for sales to an unidentified buyer ("consumidor final").
pub const EC_FINAL_CONSUMER: &str = "9999999999999";

fn ec(kind: Option<TaxIdKind>, norm: String, lenient: bool) -> Result<(TaxIdKind, String), TaxIdError> {
    match kind {
        Some(TaxIdKind::Cedula) => ec_cedula(&norm).map(|()| (TaxIdKind::Cedula, norm)),
        Some(TaxIdKind::FinalConsumer) => {
            if norm == EC_FINAL_CONSUMER {
                Ok((TaxIdKind::FinalConsumer, norm))
            } else {
                Err(TaxIdError::new(
                    "ec-final-consumer",
                    format!("the final consumer id is {EC_FINAL_CONSUMER} (13 nines)"),
                ))
            }
        }
        Some(kind @ (TaxIdKind::RucNatural | TaxIdKind::RucPrivate | TaxIdKind::RucPublic)) => {
            ec_ruc(&norm, Some(kind), lenient).map(|k| (k, norm))
        }
        // Other kinds were rejected by the country check before.
        Some(other) => Err(TaxIdError::new("kind-country", format!("a {} is not a tax id of EC", other.as_str()))),
        None => {
            if norm == EC_FINAL_CONSUMER {
                return Ok((TaxIdKind::FinalConsumer, norm));
            }
            if !norm.bytes().all(|b| b.is_ascii_digit()) {
                return Err(TaxIdError::new(
                    "unknown-format",
                    "an Ecuadorian cédula or RUC has only digits; for a passport, give the kind passport",
                ));
            }
            match norm.len() {
                10 => ec_cedula(&norm).map(|()| (TaxIdKind::Cedula, norm)),
                13 => ec_ruc(&norm, None, lenient).map(|k| (k, norm)),
                n => Err(TaxIdError::new(
                    "ec-length",
                    format!("an Ecuadorian tax id has 10 digits (cédula) or 13 (RUC): found {n}"),
                )),
            }
        }
    }
}

/// The digits of `s` as numbers, or None when some character is not an ASCII digit.
fn digits(s: &str) -> Option<Vec<u32>> {
    s.chars().map(|c| if c.is_ascii_digit() { c.to_digit(10) } else { None }).collect()
}

/// Province codes: 01 to 24 are Ecuador's provinces, 30 is given to Ecuadorians registered abroad.
/// 50 is also accepted because python-stdnum accepts it since 2018 (pull request #87, for cédulas of
/// foreigners); no official list of it was found, and rejecting a real person's id is worse than
/// accepting a code nobody has, since the check digit still guards against typing errors.
fn ec_province_ok(d: &[u32]) -> bool {
    let p = d[0] * 10 + d[1];
    (1..=24).contains(&p) || p == 30 || p == 50
}

/// The check digit of a cédula: modulo 10 with coefficients 2,1,2,1,2,1,2,1,2 over the first 9
/// digits, products above 9 reduced by 9, check = (10 - sum % 10) % 10.
fn cedula_check_digit(d: &[u32]) -> u32 {
    let sum: u32 = d[..9]
        .iter()
        .zip([2, 1, 2, 1, 2, 1, 2, 1, 2])
        .map(|(digit, coef)| {
            let p = digit * coef;
            if p > 9 { p - 9 } else { p }
        })
        .sum();
    (10 - sum % 10) % 10
}

/// Modulo 11 over `d` with `coefs`: check = 11 - sum % 11, where 11 becomes 0 and 10 means no digit
/// can be right (None).
fn mod11_check_digit(d: &[u32], coefs: &[u32]) -> Option<u32> {
    let sum: u32 = d.iter().zip(coefs).map(|(digit, coef)| digit * coef).sum();
    match 11 - sum % 11 {
        11 => Some(0),
        10 => None,
        c => Some(c),
    }
}

/// The modulo-11 check of a private company's RUC: coefficients 4,3,2,7,6,5,4,3,2 over the first 9
/// digits, check digit in position 10.
fn private_check_digit(d: &[u32]) -> Option<u32> {
    mod11_check_digit(&d[..9], &[4, 3, 2, 7, 6, 5, 4, 3, 2])
}

/// The modulo-11 check of a public entity's RUC: coefficients 3,2,7,6,5,4,3,2 over the first 8 digits,
/// check digit in position 9.
fn public_check_digit(d: &[u32]) -> Option<u32> {
    mod11_check_digit(&d[..8], &[3, 2, 7, 6, 5, 4, 3, 2])
}

fn show_check(c: Option<u32>) -> String {
    match c {
        Some(c) => c.to_string(),
        None => "none (the remainder gives 10, which no valid number has)".to_string(),
    }
}

fn ec_cedula(norm: &str) -> Result<(), TaxIdError> {
    let d = digits(norm).ok_or_else(|| TaxIdError::new("ec-cedula-format", "a cédula has only digits"))?;
    if d.len() != 10 {
        return Err(TaxIdError::new("ec-cedula-length", format!("a cédula has 10 digits: found {}", d.len())));
    }
    if !ec_province_ok(&d) {
        return Err(TaxIdError::new(
            "ec-cedula-province",
            format!(
                "the first two digits of a cédula are the province that issued it (01 to 24, or 30 for \
                 Ecuadorians registered abroad): found {}{}",
                d[0], d[1]
            ),
        ));
    }
    // Below 6 for Ecuadorians; 6 has been issued to foreign residents (python-stdnum pull request #228,
    // and issue #267 with 0962467429, checked in the Registro Civil).
    if d[2] > 6 {
        return Err(TaxIdError::new(
            "ec-cedula-third-digit",
            format!("the third digit of a cédula is 0 to 5 (6 for some foreign residents): found {}", d[2]),
        ));
    }
    let expected = cedula_check_digit(&d);
    if expected != d[9] {
        return Err(TaxIdError::new(
            "ec-cedula-check-digit",
            format!("the last digit of a cédula is a modulo-10 check digit: expected {expected}, found {}", d[9]),
        ));
    }
    Ok(())
}

/// Validates a 13-character RUC and tells its kind.
///
/// The third digit tells the kind: 0 to 5 natural person, 6 public entity, 9 private company. Real
/// registries broke that rule in two known ways, both handled as python-stdnum does (its
/// `stdnum/ec/ruc.py` and `tests/test_ec_ruc.doctest`, whose numbers were found online):
/// - third digit 6 is also the RUC of a foreign resident whose cédula starts with 6 (issue #267,
///   `0962467429001`): such a RUC is natural when the public check fails and the cédula check passes;
/// - third digit 9 with the check digit in position 9, computed like a public entity's, was issued to
///   companies (issue #457, `1793221293001`): accepted as [`TaxIdKind::RucPrivate`], because the third
///   digit says company and SRI's identification type is "04" for every RUC anyway.
///
/// Company RUCs that pass neither check exist too (issues #290 and #497): they are rejected unless
/// `lenient` (see [`validate_lenient`]). Foreigners without a cédula may hold a RUC with third digit 9;
/// it is reported as `RucPrivate`, which changes nothing on an invoice (same SRI code "04").
fn ec_ruc(norm: &str, kind: Option<TaxIdKind>, lenient: bool) -> Result<TaxIdKind, TaxIdError> {
    let d = digits(norm).ok_or_else(|| TaxIdError::new("ec-ruc-format", "a RUC has only digits"))?;
    if d.len() != 13 {
        return Err(TaxIdError::new("ec-ruc-length", format!("a RUC has 13 digits: found {}", d.len())));
    }
    if !ec_province_ok(&d) {
        return Err(TaxIdError::new(
            "ec-ruc-province",
            format!(
                "the first two digits of a RUC are the province where it was issued (01 to 24, or 30): found {}{}",
                d[0], d[1]
            ),
        ));
    }
    let third = d[2];
    let est3_zero = d[10..].iter().all(|&x| x == 0);
    let est4_zero = d[9..].iter().all(|&x| x == 0);
    let natural_ok = third <= 6 && !est3_zero && cedula_check_digit(&d) == d[9];
    let public_ok = !est4_zero && public_check_digit(&d) == Some(d[8]);
    let private_ok = !est3_zero && private_check_digit(&d) == Some(d[9]);

    let establishment3 = || {
        TaxIdError::new(
            "ec-ruc-establishment",
            "the last 3 digits of a RUC are the establishment number, which starts at 001: found 000",
        )
    };
    let establishment4 = || {
        TaxIdError::new(
            "ec-ruc-establishment",
            "the last 4 digits of a public entity's RUC are its establishment number, which starts at 0001: \
             found 0000",
        )
    };
    let natural_err = || {
        TaxIdError::new(
            "ec-ruc-natural-check-digit",
            format!(
                "the first 10 digits of a natural person's RUC are their cédula, whose last digit is a modulo-10 \
                 check digit: expected {}, found {}",
                cedula_check_digit(&d),
                d[9]
            ),
        )
    };
    let public_err = || {
        TaxIdError::new(
            "ec-ruc-public-check-digit",
            format!(
                "the 9th digit of a public entity's RUC is a modulo-11 check digit: expected {}, found {}",
                show_check(public_check_digit(&d)),
                d[8]
            ),
        )
    };

    match kind {
        Some(TaxIdKind::RucNatural) => {
            if third > 6 {
                return Err(TaxIdError::new(
                    "ec-ruc-third-digit",
                    format!(
                        "the third digit of a natural person's RUC is 0 to 5 (6 for some foreigners): found {third}"
                    ),
                ));
            }
            if est3_zero {
                return Err(establishment3());
            }
            if !natural_ok {
                return Err(natural_err());
            }
            Ok(TaxIdKind::RucNatural)
        }
        Some(TaxIdKind::RucPublic) => {
            // Third digit 9 is accepted when it passes the public check: see issue #457 above.
            if third != 6 && !(third == 9 && public_ok) {
                return Err(TaxIdError::new(
                    "ec-ruc-third-digit",
                    format!("the third digit of a public entity's RUC is 6: found {third}"),
                ));
            }
            if est4_zero {
                return Err(establishment4());
            }
            if !public_ok && !lenient {
                return Err(public_err());
            }
            Ok(TaxIdKind::RucPublic)
        }
        Some(TaxIdKind::RucPrivate) | None if third == 9 => {
            if est3_zero {
                return Err(establishment3());
            }
            if private_ok || public_ok || lenient {
                return Ok(TaxIdKind::RucPrivate);
            }
            Err(TaxIdError::new(
                "ec-ruc-private-check-digit",
                format!(
                    "the 10th digit of a private company's RUC is a modulo-11 check digit: expected {}, found {} \
                     (SRI has issued some company RUCs without a valid check digit: if SRI's registry lists this \
                     one, it can be accepted with the lenient validation)",
                    show_check(private_check_digit(&d)),
                    d[9]
                ),
            ))
        }
        Some(TaxIdKind::RucPrivate) => Err(TaxIdError::new(
            "ec-ruc-third-digit",
            format!("the third digit of a private company's RUC is 9: found {third}"),
        )),
        None if third <= 5 => {
            if est3_zero {
                return Err(establishment3());
            }
            if !natural_ok {
                return Err(natural_err());
            }
            Ok(TaxIdKind::RucNatural)
        }
        None if third == 6 => {
            if public_ok {
                return Ok(TaxIdKind::RucPublic);
            }
            if natural_ok {
                return Ok(TaxIdKind::RucNatural);
            }
            if est4_zero {
                // An establishment of 0000 is wrong in both forms, whatever the check digits say.
                return Err(establishment4());
            }
            if lenient {
                return Ok(TaxIdKind::RucPublic);
            }
            Err(TaxIdError::new(
                "ec-ruc-check-digit",
                format!(
                    "a RUC whose third digit is 6 is a public entity's, whose 9th digit is a modulo-11 check digit \
                     (expected {}, found {}), or a foreign resident's, whose first 10 digits are a cédula ending in a \
                     modulo-10 check digit (expected {}, found {}): it passes neither",
                    show_check(public_check_digit(&d)),
                    d[8],
                    cedula_check_digit(&d),
                    d[9]
                ),
            ))
        }
        _ => Err(TaxIdError::new(
            "ec-ruc-third-digit",
            format!(
                "the third digit of a RUC is 0 to 5 (natural person), 6 (public entity) or 9 (private company): \
                 found {third}"
            ),
        )),
    }
}

// ---------------------------------------------------------------------------------------------------
// Spain
// ---------------------------------------------------------------------------------------------------

/// The DNI letter table of the Ministerio del Interior: the letter is `DNI_LETTERS[number % 23]`.
const DNI_LETTERS: &[u8; 23] = b"TRWAGMYFPDXBNJZSQVHLCKE";

/// The letter form of a legal entity's control character, indexed by the control digit.
const CIF_CONTROL_LETTERS: &[u8; 10] = b"JABCDEFGHI";

/// Entity letters of Orden EHA/451/2008 (A B C D E F G H J P Q R S U V for Spanish entities,
/// N foreign entities, W permanent establishments of non-residents).
const CIF_ENTITY_LETTERS: &[u8] = b"ABCDEFGHJNPQRSUVW";

fn es(kind: Option<TaxIdKind>, norm: String) -> Result<(TaxIdKind, String), TaxIdError> {
    if !norm.is_ascii() {
        return Err(TaxIdError::new("es-format", "a Spanish NIF, NIE or CIF has only letters (A to Z) and digits"));
    }
    let b = norm.as_bytes();
    if b.len() != 9 {
        return Err(TaxIdError::new(
            "es-length",
            format!("a Spanish NIF, NIE or CIF has 9 characters: found {}", norm.chars().count()),
        ));
    }
    let first = b[0];
    let detected = if first.is_ascii_digit() || matches!(first, b'K' | b'L' | b'M') {
        TaxIdKind::Nif
    } else if matches!(first, b'X' | b'Y' | b'Z') {
        TaxIdKind::Nie
    } else if CIF_ENTITY_LETTERS.contains(&first) {
        TaxIdKind::Cif
    } else {
        return Err(TaxIdError::new(
            "es-format",
            format!(
                "a Spanish tax id starts with a digit (DNI), K, L or M (NIF without DNI), X, Y or Z (NIE) or an \
                 entity letter (A B C D E F G H J N P Q R S U V W): found {}",
                char::from(first)
            ),
        ));
    };
    if let Some(kind) = kind
        && kind != detected
    {
        let shape = match kind {
            TaxIdKind::Nif => "a NIF is 8 digits and a letter (DNI), or K, L or M, 7 digits and a letter",
            TaxIdKind::Nie => "a NIE is X, Y or Z, 7 digits and a letter",
            _ => "a CIF is an entity letter (A B C D E F G H J N P Q R S U V W), 7 digits and a control character",
        };
        return Err(TaxIdError::new("es-format", format!("{shape}; this id looks like a {}", detected.as_str())));
    }
    let body = &norm[1..8];
    let Some(d) = digits(body) else {
        return Err(TaxIdError::new("es-format", "the 2nd to 8th characters of a Spanish tax id are digits"));
    };
    let last = b[8];
    match detected {
        TaxIdKind::Nif => {
            // The DNI rule over 8 digits; the K, L and M forms apply it to their 7 digits with the
            // leading letter ignored, as python-stdnum does (stdnum/es/nif.py).
            let mut n: u32 = d.iter().fold(0, |acc, x| acc * 10 + x);
            if first.is_ascii_digit() {
                n += u32::from(first - b'0') * 10_000_000;
            }
            check_dni_letter("es-nif-letter", "NIF", n, last)?;
        }
        TaxIdKind::Nie => {
            // X, Y, Z stand for 0, 1, 2 in front of the 7 digits, then the DNI rule.
            let prefix = u32::from(first - b'X');
            let n = d.iter().fold(prefix, |acc, x| acc * 10 + x);
            check_dni_letter("es-nie-letter", "NIE", n, last)?;
        }
        _ => check_cif_control(&d, last)?,
    }
    Ok((detected, norm))
}

fn check_dni_letter(rule: &'static str, what: &str, n: u32, found: u8) -> Result<(), TaxIdError> {
    let expected = DNI_LETTERS[(n % 23) as usize];
    if expected == found {
        Ok(())
    } else {
        Err(TaxIdError::new(
            rule,
            format!(
                "the last letter of a {what} is a check letter (the number modulo 23): expected {}, found {}",
                char::from(expected),
                char::from(found)
            ),
        ))
    }
}

/// The control digit of a legal entity's NIF, from its 7 digits: digits in even positions (2, 4, 6)
/// are added as they are; digits in odd positions (1, 3, 5, 7) are doubled and the digits of the
/// product added; control = (10 - sum % 10) % 10.
fn cif_control_digit(d: &[u32]) -> u32 {
    let sum: u32 = d.iter().enumerate().map(|(i, &x)| if i % 2 == 1 { x } else { (2 * x) / 10 + (2 * x) % 10 }).sum();
    (10 - sum % 10) % 10
}

/// Checks the control character of a legal entity's NIF.
///
/// Both forms, the digit and the letter of `JABCDEFGHI`, are accepted for every entity letter. The
/// rule often quoted (letter for P Q R S N W, digit for A B E H) is a convention of the old CIF, not a
/// rule of Orden EHA/451/2008, which only says "un carácter de control"; python-stdnum's
/// `stdnum/es/cif.py` accepts either "as there seems to be conflicting information", and so do we.
/// Accepting both costs nothing against typing errors: both forms encode the same control value.
fn check_cif_control(d: &[u32], found: u8) -> Result<(), TaxIdError> {
    let c = cif_control_digit(d);
    let digit = b'0' + c as u8;
    let letter = CIF_CONTROL_LETTERS[c as usize];
    if found == digit || found == letter {
        Ok(())
    } else {
        Err(TaxIdError::new(
            "es-cif-control",
            format!(
                "the last character of a CIF is a control digit or letter computed from its 7 digits: \
                 expected {} or {}, found {}",
                char::from(digit),
                char::from(letter),
                char::from(found)
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Asserts that every id is valid for `country`, detected as `kind` and normalized to `norm`.
    fn assert_valid(country: Country, kind: TaxIdKind, cases: &[(&str, &str)]) {
        for &(id, norm) in cases {
            assert_eq!(validate(country, None, id), Ok((kind, norm.to_string())), "detecting {id:?}");
            assert_eq!(validate(country, Some(kind), id), Ok((kind, norm.to_string())), "as {kind}: {id:?}");
        }
    }

    /// Asserts that every id is rejected, when detected and when given as `kind`, for `rule`.
    fn assert_invalid(country: Country, kind: Option<TaxIdKind>, cases: &[(&str, &str)]) {
        for &(id, rule) in cases {
            match validate(country, kind, id) {
                Err(e) => {
                    assert_eq!(e.rule, rule, "{id:?}: {}", e.message);
                    assert!(!e.message.is_empty());
                }
                Ok(ok) => panic!("{id:?} accepted as {ok:?}, expected {rule}"),
            }
        }
    }

    // --- Ecuador: cédula -------------------------------------------------------------------------

    // From python-stdnum tests/test_ec_ci.doctest ("Normal values that should just work") and the
    // doctest of stdnum/ec/ci.py; 0962467429 (third digit 6, a foreign resident) from python-stdnum
    // issue #267, checked there in the Registro Civil.
    const CEDULA_VALID: &[(&str, &str)] = &[
        ("1714307103", "1714307103"),
        ("171430710-3", "1714307103"),
        ("0602910945", "0602910945"),
        ("0926687856", "0926687856"),
        ("0910005917", "0910005917"),
        ("0962467429", "0962467429"),
    ];

    #[test]
    fn cedula_valid() {
        assert_valid(Country::Ec, TaxIdKind::Cedula, CEDULA_VALID);
    }

    #[test]
    fn cedula_invalid() {
        // From python-stdnum tests/test_ec_ci.doctest ("Some invalid numbers"), with the comment there.
        let cases = [
            ("1714307104", "ec-cedula-check-digit"), // invalid check digit
            ("1784307108", "ec-cedula-third-digit"), // third digit wrong
            ("8814307107", "ec-cedula-province"),    // invalid province code
        ];
        assert_invalid(Country::Ec, None, &cases);
        assert_invalid(Country::Ec, Some(TaxIdKind::Cedula), &cases);
        // Same file: digit missing, contains a letter. Detection cannot know it was meant as a cédula.
        assert_invalid(Country::Ec, None, &[("171430710", "ec-length"), ("123A567890", "unknown-format")]);
        assert_invalid(
            Country::Ec,
            Some(TaxIdKind::Cedula),
            &[("171430710", "ec-cedula-length"), ("123A567890", "ec-cedula-format")],
        );
        let e = validate(Country::Ec, None, "1714307104").unwrap_err();
        assert_eq!(e.message, "the last digit of a cédula is a modulo-10 check digit: expected 3, found 4");
    }

    // --- Ecuador: RUC ----------------------------------------------------------------------------

    // From python-stdnum tests/test_ec_ruc.doctest, "Normal natural RUC values" (numbers found online);
    // 0962467429001 has third digit 6 (a foreign resident's cédula, issue #267).
    const RUC_NATURAL_VALID: &[(&str, &str)] = &[
        ("0101016905001", "0101016905001"),
        ("0602910945001", "0602910945001"),
        ("0910005917001", "0910005917001"),
        ("1710034065001", "1710034065001"),
        ("1803557964001", "1803557964001"),
        ("0962467429001", "0962467429001"),
    ];

    // From python-stdnum tests/test_ec_ruc.doctest, "Normal public RUC values (third digit is 6)".
    const RUC_PUBLIC_VALID: &[(&str, &str)] = &[
        ("0160000510001", "0160000510001"),
        ("0260000250001", "0260000250001"),
        ("1760001550001", "1760001550001"),
        ("1768152130001", "1768152130001"),
        ("2160011760001", "2160011760001"),
        ("0968599020001", "0968599020001"),
    ];

    // From python-stdnum tests/test_ec_ruc.doctest, "Normal juridical RUC values (third digit is 9)";
    // 1792060346-001 is the doctest of stdnum/ec/ruc.py; 1793221293001 has its check digit in position
    // 9, like a public entity's (python-stdnum issue #457).
    const RUC_PRIVATE_VALID: &[(&str, &str)] = &[
        ("0190115798001", "0190115798001"),
        ("0990138850001", "0990138850001"),
        ("1790011674001", "1790011674001"),
        ("1792060346-001", "1792060346001"),
        ("1890037646001", "1890037646001"),
        ("1793221293001", "1793221293001"),
    ];

    #[test]
    fn ruc_valid() {
        assert_valid(Country::Ec, TaxIdKind::RucNatural, RUC_NATURAL_VALID);
        assert_valid(Country::Ec, TaxIdKind::RucPublic, RUC_PUBLIC_VALID);
        assert_valid(Country::Ec, TaxIdKind::RucPrivate, RUC_PRIVATE_VALID);
    }

    #[test]
    fn ruc_natural_invalid() {
        // From python-stdnum tests/test_ec_ruc.doctest ("Values that are invalid"), comments from there.
        assert_invalid(
            Country::Ec,
            None,
            &[
                ("8810034069001", "ec-ruc-province"),      // invalid province code in natural RUC
                ("0926687856000", "ec-ruc-establishment"), // invalid establishment in natural RUC
                // "invalid check digit in natural RUC": its third digit is 6, so it could also be a
                // public entity's, and it fails both checks.
                ("1763154690001", "ec-ruc-check-digit"),
                // Not published as a RUC: the invalid cédula 1714307104 of test_ec_ci.doctest with
                // establishment 001.
                ("1714307104001", "ec-ruc-natural-check-digit"),
            ],
        );
        assert_invalid(
            Country::Ec,
            Some(TaxIdKind::RucNatural),
            &[
                ("1763154690001", "ec-ruc-natural-check-digit"),
                ("1714307104001", "ec-ruc-natural-check-digit"),
                ("0926687856000", "ec-ruc-establishment"),
                ("0190115798001", "ec-ruc-third-digit"), // a valid private RUC, not a natural one
            ],
        );
    }

    #[test]
    fn ruc_public_invalid() {
        // From python-stdnum tests/test_ec_ruc.doctest ("Values that are invalid"), comments from there.
        assert_invalid(
            Country::Ec,
            None,
            &[
                ("0160000610001", "ec-ruc-check-digit"),   // invalid check digit in public RUC
                ("8868152120001", "ec-ruc-province"),      // invalid province code in public RUC
                ("1760001550000", "ec-ruc-establishment"), // invalid establishment in public RUC
            ],
        );
        assert_invalid(
            Country::Ec,
            Some(TaxIdKind::RucPublic),
            &[
                ("0160000610001", "ec-ruc-public-check-digit"),
                ("1760001550000", "ec-ruc-establishment"),
                ("0101016905001", "ec-ruc-third-digit"), // a valid natural RUC, not a public one
            ],
        );
    }

    #[test]
    fn ruc_private_invalid() {
        // From python-stdnum tests/test_ec_ruc.doctest ("Values that are invalid"), comments from there.
        let cases = [
            ("0190115799001", "ec-ruc-private-check-digit"), // invalid check digit in juridical RUC
            ("8892397539001", "ec-ruc-province"),            // invalid province code in juridical RUC
            ("0992397535000", "ec-ruc-establishment"),       // invalid establishment in juridical RUC
            ("0170000610001", "ec-ruc-third-digit"),         // third digit invalid
        ];
        assert_invalid(Country::Ec, None, &cases);
        assert_invalid(Country::Ec, Some(TaxIdKind::RucPrivate), &cases);
        // Same file: too short, contains a character.
        assert_invalid(Country::Ec, None, &[("179206034601", "ec-length"), ("17920603A6001", "unknown-format")]);
        assert_invalid(
            Country::Ec,
            Some(TaxIdKind::RucPrivate),
            &[("179206034601", "ec-ruc-length"), ("17920603A6001", "ec-ruc-format")],
        );
    }

    #[test]
    fn company_ruc_without_check_digit_needs_lenient() {
        // From python-stdnum issue #497 (and #290): active companies in SRI's registry whose RUC passes
        // neither modulo-11 form.
        for id in ["1793213150001", "1793189906001", "0993366721001", "0993370026001"] {
            assert_eq!(validate(Country::Ec, None, id).map_err(|e| e.rule), Err("ec-ruc-private-check-digit"));
            assert_eq!(validate_lenient(Country::Ec, None, id), Ok((TaxIdKind::RucPrivate, id.to_string())));
        }
        // Lenient forgives only the modulo-11 check digit of companies and public entities.
        let (public_bad, private_bad) = ("0160000610001", "0190115799001");
        assert_eq!(validate_lenient(Country::Ec, None, public_bad), Ok((TaxIdKind::RucPublic, public_bad.into())));
        assert_eq!(validate_lenient(Country::Ec, None, private_bad), Ok((TaxIdKind::RucPrivate, private_bad.into())));
        for (id, rule) in [
            ("0992397535000", "ec-ruc-establishment"),
            ("8892397539001", "ec-ruc-province"),
            ("0170000610001", "ec-ruc-third-digit"),
            ("1714307104001", "ec-ruc-natural-check-digit"),
            ("1714307104", "ec-cedula-check-digit"),
        ] {
            assert_eq!(validate_lenient(Country::Ec, None, id).map_err(|e| e.rule), Err(rule), "{id}");
        }
    }

    #[test]
    fn final_consumer_and_passport() {
        let nines = EC_FINAL_CONSUMER.to_string();
        assert_eq!(validate(Country::Ec, None, "9999999999999"), Ok((TaxIdKind::FinalConsumer, nines.clone())));
        assert_eq!(
            validate(Country::Ec, Some(TaxIdKind::FinalConsumer), " 9999999999999 "),
            Ok((TaxIdKind::FinalConsumer, nines))
        );
        assert_invalid(Country::Ec, Some(TaxIdKind::FinalConsumer), &[("1714307103", "ec-final-consumer")]);
        // Thirteen nines are not a RUC: province 99.
        assert_invalid(Country::Ec, Some(TaxIdKind::RucPrivate), &[("9999999999999", "ec-ruc-province")]);

        // Passports only when the caller says so, in either country.
        for country in Country::ALL {
            assert_eq!(
                validate(country, Some(TaxIdKind::Passport), "ab 123-456"),
                Ok((TaxIdKind::Passport, "AB123456".into()))
            );
            assert_invalid(
                country,
                Some(TaxIdKind::Passport),
                &[("A1", "passport-format"), ("AB12#34", "passport-format")],
            );
        }
        assert_invalid(Country::Ec, None, &[("AB123456", "unknown-format")]);
    }

    #[test]
    fn kind_country_and_empty() {
        assert_invalid(Country::Ec, Some(TaxIdKind::Nif), &[("54362315K", "kind-country")]);
        assert_invalid(Country::Es, Some(TaxIdKind::Cedula), &[("1714307103", "kind-country")]);
        assert_invalid(Country::Es, Some(TaxIdKind::FinalConsumer), &[("9999999999999", "kind-country")]);
        for country in Country::ALL {
            assert_invalid(country, None, &[("", "empty"), (" - . ", "empty")]);
        }
    }

    // --- Spain -----------------------------------------------------------------------------------

    #[test]
    fn nif_valid() {
        assert_valid(
            Country::Es,
            TaxIdKind::Nif,
            &[
                // From python-stdnum: stdnum/es/dni.py doctest; tests/test_es_nif.doctest ("valid DNI");
                // tests/test_eu_vat.doctest (VAT form, found online).
                ("54362315-K", "54362315K"),
                ("11111111H", "11111111H"),
                ("ES 54362315K", "54362315K"),
                // From python-stdnum stdnum/eu/at_02.py: the NIF inside the creditor id ES23ZZZ47690558N.
                ("47690558N", "47690558N"),
                // The worked example of the Ministerio del Interior ("Cálculo del dígito de control del
                // NIF/NIE", also at ordenacionjuego.es/calculo-digito-control).
                ("12345678Z", "12345678Z"),
                // From python-validators tests/i18n/test_es.py (test_returns_true_on_valid_doi).
                ("26643189N", "26643189N"),
                ("07060225F", "07060225F"),
                // NIF of persons without DNI or NIE. From python-stdnum stdnum/es/nif.py doctest ("foreign
                // person without NIE") and tests/test_es_nif.doctest ("valid NIF, not classified as DNI,
                // CIF or NIE"); K, L, M forms from python-validators tests/i18n/test_es.py.
                ("M-1234567-L", "M1234567L"),
                ("L1111111G", "L1111111G"),
                ("K0000023T", "K0000023T"),
                ("L0000024R", "L0000024R"),
                ("M0000025W", "M0000025W"),
            ],
        );
    }

    #[test]
    fn nif_invalid() {
        let cases = [
            ("54362315Z", "es-nif-letter"),      // python-stdnum stdnum/es/dni.py: invalid check digit
            ("11111111T", "es-nif-letter"),      // python-stdnum tests/test_es_nif.doctest: invalid DNI
            ("ES 54362415K", "es-nif-letter"),   // python-stdnum tests/test_eu_vat.doctest: mangled
            ("L1111111C", "es-nif-letter"),      // python-stdnum tests/test_es_nif.doctest: invalid NIF
            ("ES K-2814015-F", "es-nif-letter"), // python-stdnum tests/test_eu_vat.doctest: mangled
            ("54362315", "es-length"),           // python-stdnum stdnum/es/dni.py: digit missing
        ];
        assert_invalid(Country::Es, None, &cases);
        assert_invalid(Country::Es, Some(TaxIdKind::Nif), &cases);
        let e = validate(Country::Es, None, "54362315Z").unwrap_err();
        assert_eq!(e.message, "the last letter of a NIF is a check letter (the number modulo 23): expected K, found Z");
    }

    #[test]
    fn nie_valid() {
        assert_valid(
            Country::Es,
            TaxIdKind::Nie,
            &[
                // From python-stdnum: stdnum/es/nie.py and stdnum/es/nif.py doctests,
                // tests/test_es_nif.doctest ("valid NIE") and tests/test_eu_vat.doctest (found online).
                ("x-2482300w", "X2482300W"),
                ("X-5253868-R", "X5253868R"),
                ("X1111111G", "X1111111G"),
                ("ES X5277343Q", "X5277343Q"),
                ("ES Y5277343F", "Y5277343F"),
                ("ES Z5277343K", "Z5277343K"),
                // From python-validators tests/i18n/test_es.py (test_returns_true_on_valid_nie).
                ("Y2584969J", "Y2584969J"),
                ("Z2915723H", "Z2915723H"),
            ],
        );
    }

    #[test]
    fn nie_invalid() {
        let cases = [
            ("x-2482300a", "es-nie-letter"),    // python-stdnum stdnum/es/nie.py: invalid check digit
            ("X1111111A", "es-nie-letter"),     // python-stdnum tests/test_es_nif.doctest: invalid NIE
            ("ES-x-2322300w", "es-nie-letter"), // python-stdnum tests/test_eu_vat.doctest: mangled
            ("X2482300", "es-length"),          // python-stdnum stdnum/es/nie.py: digit missing
        ];
        assert_invalid(Country::Es, None, &cases);
        assert_invalid(Country::Es, Some(TaxIdKind::Nie), &cases);
        // A NIE is not a NIF (DNI) when the caller says NIF.
        assert_invalid(Country::Es, Some(TaxIdKind::Nif), &[("X2482300W", "es-format")]);
    }

    #[test]
    fn cif_valid() {
        assert_valid(
            Country::Es,
            TaxIdKind::Cif,
            &[
                // From python-stdnum: stdnum/es/cif.py doctests (validate, split), stdnum/es/nif.py
                // doctest, tests/test_es_nif.doctest ("valid CIF").
                ("J99216582", "J99216582"),
                ("A13 585 625", "A13585625"),
                ("B64717838", "B64717838"),
                ("A11111119", "A11111119"),
                // From python-stdnum tests/test_eu_vat.doctest (found online), with their VAT prefixes.
                ("ES A-28184661", "A28184661"),
                ("ES B-58378431", "B58378431"),
                ("ES F13005293", "F13005293"),
                ("ES Q-2818015-F", "Q2818015F"),
                ("ES R9600075G", "R9600075G"),
                ("ES U99216426", "U99216426"),
                ("ES V99218067", "V99218067"),
                ("ES W4003922D", "W4003922D"),
                ("ES-B 60432291", "B60432291"),
                ("Es-a58951310", "A58951310"),
                ("ESA78109592", "A78109592"),
                // From koblas/stdnum-js src/es/cif.spec.ts: a foreign entity (N).
                ("N0112768G", "N0112768G"),
            ],
        );
    }

    #[test]
    fn cif_invalid() {
        let cases = [
            ("J99216583", "es-cif-control"),    // python-stdnum stdnum/es/cif.py: invalid check digit
            ("A11111118", "es-cif-control"),    // python-stdnum tests/test_es_nif.doctest: invalid CIF
            ("B64717839", "es-cif-control"),    // python-stdnum stdnum/es/nif.py: invalid check digit
            ("Es-a48951310", "es-cif-control"), // python-stdnum tests/test_eu_vat.doctest: mangled
            ("J992165831", "es-length"),        // python-stdnum stdnum/es/cif.py: too long
        ];
        assert_invalid(Country::Es, None, &cases);
        assert_invalid(Country::Es, Some(TaxIdKind::Cif), &cases);
        // python-stdnum stdnum/es/cif.py: invalid first character; a valid NIF but not a valid CIF.
        assert_invalid(Country::Es, None, &[("O-1234567-L", "es-format")]);
        assert_invalid(
            Country::Es,
            Some(TaxIdKind::Cif),
            &[("O-1234567-L", "es-format"), ("M-1234567-L", "es-format")],
        );
        // python-stdnum tests/test_eu_vat.doctest: a duplicated prefix is not valid.
        assert_invalid(Country::Es, None, &[("ES ES Y5277343F", "es-length")]);
        let e = validate(Country::Es, None, "J99216583").unwrap_err();
        assert_eq!(
            e.message,
            "the last character of a CIF is a control digit or letter computed from its 7 digits: expected 2 or B, found 3"
        );
    }

    #[test]
    fn cif_accepts_either_control_form() {
        // J99216582 (python-stdnum stdnum/es/cif.py) has control 2, whose letter form is B (JABCDEFGHI[2]).
        assert_eq!(validate(Country::Es, None, "J9921658B"), Ok((TaxIdKind::Cif, "J9921658B".into())));
        // Q2818015F (python-stdnum tests/test_eu_vat.doctest): letter F is control 6, digit form accepted.
        assert_eq!(validate(Country::Es, None, "Q28180156"), Ok((TaxIdKind::Cif, "Q28180156".into())));
        assert_invalid(Country::Es, None, &[("J9921658C", "es-cif-control"), ("J9921658Z", "es-cif-control")]);
    }

    #[test]
    fn spanish_format_errors() {
        assert_invalid(
            Country::Es,
            None,
            &[
                ("1234567AB", "es-format"),
                ("X12345Z6W", "es-format"),
                ("ÑB1234567", "es-format"),
                ("I12345678", "es-format"),
            ],
        );
    }

    #[test]
    fn names_round_trip() {
        for kind in TaxIdKind::ALL {
            assert_eq!(TaxIdKind::parse(kind.as_str()), Some(kind));
            assert_eq!(TaxIdKind::parse(&kind.as_str().to_uppercase()), Some(kind));
        }
        assert_eq!(TaxIdKind::parse("ruc"), None);
        assert_eq!(Country::parse("ec"), Some(Country::Ec));
        assert_eq!(Country::parse(" ES "), Some(Country::Es));
        assert_eq!(Country::parse("PE"), None);
        assert_eq!(TaxIdKind::RucPublic.sri_code(), Some("04"));
        assert_eq!(TaxIdKind::Cedula.sri_code(), Some("05"));
        assert_eq!(TaxIdKind::Passport.sri_code(), Some("06"));
        assert_eq!(TaxIdKind::FinalConsumer.sri_code(), Some("07"));
        assert_eq!(TaxIdKind::Cif.sri_code(), None);
        assert_eq!(TaxIdKind::Nie.country(), Some(Country::Es));
        assert_eq!(TaxIdKind::Passport.country(), None);
    }
}
