//! Code 128 bars for the RIDE's clave de acceso.
//!
//! The SRI's ficha técnica asks for the 49-digit clave de acceso as a
//! Code 128 barcode. `barcoders` does the symbol table and the mod-103
//! check symbol; this file only chooses the code sets, which that crate
//! leaves to its caller.

use barcoders::sym::code128::Code128;

/// Input for `barcoders`: `text` prefixed by the code set it starts in and
/// with the set changes it needs (`Ć` = set C, `Ɓ` = set B, its syntax).
/// Digits go in set C, two per symbol, so the 49 digits take 24 symbols
/// plus one in set B for the odd last digit instead of 49 in set B.
/// Other printable ASCII goes in set B. `None` for text Code 128 (sets B
/// and C) cannot carry: empty, or with characters outside ASCII 0x20..=0x7E.
fn plan(text: &str) -> Option<String> {
    if text.len() >= 2 && text.bytes().all(|b| b.is_ascii_digit()) {
        let (pairs, last) = text.split_at(text.len() - text.len() % 2);
        let mut planned = String::with_capacity(text.len() + 4);
        planned.push('Ć');
        planned.push_str(pairs);
        if !last.is_empty() {
            planned.push('Ɓ');
            planned.push_str(last);
        }
        Some(planned)
    } else if !text.is_empty() && text.bytes().all(|b| (b' '..=b'~').contains(&b)) {
        Some(format!("Ɓ{text}"))
    } else {
        None
    }
}

/// The modules of `text`'s symbol, left to right (`true` a bar, `false` a
/// space), from the start character to the stop pattern's final bar,
/// without quiet zones. `None` when `text` cannot be encoded.
pub(super) fn modules(text: &str) -> Option<Vec<bool>> {
    let code = Code128::new(plan(text)?).ok()?;
    Some(code.encode().into_iter().map(|m| m == 1).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bits(modules: &[bool]) -> String {
        modules.iter().map(|b| if *b { '1' } else { '0' }).collect()
    }

    /// Wikipedia's worked example ("Code 128", section "Check digit
    /// calculation"): "PJJ123C" in set A sums 878, 878 mod 103 = 54, the
    /// symbol `V`, whose pattern in the symbol table is 311123
    /// (bar 3, space 1, bar 1, space 1, bar 2, space 3) = 11101011000; the
    /// stop pattern with its final bar is 2331112 = 1100011101011.
    #[test]
    fn check_symbol_of_wikipedias_example() {
        let Ok(code) = Code128::new("ÀPJJ123C") else { panic!("encodes") };
        let all: Vec<bool> = code.encode().into_iter().map(|m| m == 1).collect();
        let all = bits(&all);
        assert!(all.starts_with("11010000100"), "Start A is 211412: {all}");
        assert!(all.ends_with(&format!("{}{}", "11101011000", "1100011101011")), "{all}");
        // Start + 7 data + check, 11 modules each, then 13 of stop.
        assert_eq!(all.len(), 9 * 11 + 13);
    }

    /// barmatrixcode.de's modulo-103 example: "Bar01234Code" as
    /// Start B, B a r, Code C, 01 23, Code B, 4 C o d e: the weighted sum is
    /// 4594 and the check symbol 62, whose pattern in Wikipedia's symbol
    /// table is 431111 = 11110001010. It exercises the set changes the
    /// clave de acceso needs.
    #[test]
    fn check_symbol_across_set_changes() {
        let Ok(code) = Code128::new("ƁBarĆ0123Ɓ4Code") else { panic!("encodes") };
        let all: Vec<bool> = code.encode().into_iter().map(|m| m == 1).collect();
        let all = bits(&all);
        assert!(all.starts_with("11010010000"), "Start B is 211214: {all}");
        assert!(all.ends_with(&format!("{}{}", "11110001010", "1100011101011")), "{all}");
    }

    #[test]
    fn a_clave_de_acceso_is_set_c_with_its_last_digit_in_set_b() {
        let clave = "2110201101179214673900110020010000000011234567813";
        assert_eq!(clave.len(), 49);
        let Some(planned) = plan(clave) else { panic!("digits plan") };
        assert_eq!(planned, format!("Ć{}Ɓ{}", &clave[..48], &clave[48..]));
        let Some(bars) = modules(clave) else { panic!("digits encode") };
        // Start C, 24 pairs, Code B, the last digit, check: 28 symbols of
        // 11 modules, then the 13-module stop.
        assert_eq!(bars.len(), 28 * 11 + 13);
        assert!(bits(&bars).starts_with("11010011100"), "Start C is 211232");
        // Even digit counts need no set change.
        assert_eq!(plan("1234").as_deref(), Some("Ć1234"));
        assert_eq!(plan("AB-1").as_deref(), Some("ƁAB-1"));
        assert_eq!(plan("7").as_deref(), Some("Ɓ7"));
        assert!(plan("").is_none());
        assert!(modules("año").is_none());
    }
}
