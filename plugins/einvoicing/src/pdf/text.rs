//! Text for the standard fonts: WinAnsi (Windows-1252) bytes, their widths
//! and line wrapping.
//!
//! The PDF uses Helvetica with `/WinAnsiEncoding` and embeds no font, so a
//! string is shown as one byte per character. Spanish text (accents, `ñ`,
//! `¿¡`, `º`/`ª`) and `€` are all in that encoding; anything else prints as
//! `?` rather than as a wrong glyph.

use super::metrics::{HELVETICA, HELVETICA_BOLD};

/// Which of the two fonts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Face {
    Regular,
    Bold,
}

impl Face {
    /// The name of the font resource in each page's content.
    pub(super) fn resource(self) -> &'static [u8] {
        match self {
            Face::Regular => b"F1",
            Face::Bold => b"F2",
        }
    }

    /// The PostScript name of the standard font.
    pub(super) fn base_font(self) -> &'static [u8] {
        match self {
            Face::Regular => b"Helvetica",
            Face::Bold => b"Helvetica-Bold",
        }
    }

    /// Widths of codes 0x20..=0xFF, in 1/1000 of the font size.
    pub(super) fn widths(self) -> &'static [u16; 224] {
        match self {
            Face::Regular => &HELVETICA,
            Face::Bold => &HELVETICA_BOLD,
        }
    }
}

/// The Windows-1252 code of `c`, `?` for what that encoding lacks. Line
/// breaks stay `\n` (the wrapper splits paragraphs there), tabs become
/// spaces and other control characters are dropped, so no byte without a
/// glyph reaches the page.
fn encode_char(c: char) -> Option<u8> {
    let code = u32::from(c);
    let byte = match c {
        '\n' => b'\n',
        '\t' => b' ',
        ' '..='~' | '\u{a0}'..='\u{ff}' => u8::try_from(code).ok()?,
        // 0x80..=0x9F: the characters Windows-1252 puts where Latin-1 has
        // control codes.
        '€' => 0x80,
        '‚' => 0x82,
        'ƒ' => 0x83,
        '„' => 0x84,
        '…' => 0x85,
        '†' => 0x86,
        '‡' => 0x87,
        'ˆ' => 0x88,
        '‰' => 0x89,
        'Š' => 0x8A,
        '‹' => 0x8B,
        'Œ' => 0x8C,
        'Ž' => 0x8E,
        '‘' => 0x91,
        '’' => 0x92,
        '“' => 0x93,
        '”' => 0x94,
        '•' => 0x95,
        '–' => 0x96,
        '—' => 0x97,
        '˜' => 0x98,
        '™' => 0x99,
        'š' => 0x9A,
        '›' => 0x9B,
        'œ' => 0x9C,
        'ž' => 0x9E,
        'Ÿ' => 0x9F,
        c if c.is_control() => return None,
        _ => b'?',
    };
    Some(byte)
}

/// `text` as WinAnsi bytes, one per character kept.
pub(super) fn encode(text: &str) -> Vec<u8> {
    text.chars().filter_map(encode_char).collect()
}

/// Width in points of WinAnsi `bytes` set in `face` at `size`.
pub(super) fn width(bytes: &[u8], face: Face, size: f32) -> f32 {
    let table = face.widths();
    let units: u32 = bytes
        .iter()
        .filter_map(|b| b.checked_sub(0x20).and_then(|i| table.get(usize::from(i))))
        .map(|w| u32::from(*w))
        .sum();
    units as f32 * size / 1000.0
}

/// How many leading bytes of `bytes` fit in `max` points (at least one,
/// so a line always makes progress).
fn fitting(bytes: &[u8], face: Face, size: f32, max: f32) -> usize {
    let mut used = 0.0;
    for (i, b) in bytes.iter().enumerate() {
        used += width(std::slice::from_ref(b), face, size);
        if used > max {
            return i.max(1);
        }
    }
    bytes.len()
}

/// Breaks `text` into lines no wider than `max` points: at `\n`, then
/// between words, and inside a word only when the word alone is wider
/// (a 49-digit key in a narrow cell, a long e-mail address). Always at
/// least one line, so an empty cell still has its height.
pub(super) fn wrap(text: &str, face: Face, size: f32, max: f32) -> Vec<Vec<u8>> {
    let encoded = encode(text.trim());
    let space = width(b" ", face, size);
    let mut lines = Vec::new();
    for paragraph in encoded.split(|b| *b == b'\n') {
        let mut line: Vec<u8> = Vec::new();
        let mut used = 0.0;
        for word in paragraph.split(|b| *b == b' ').filter(|w| !w.is_empty()) {
            let w = width(word, face, size);
            if !line.is_empty() {
                if used + space + w <= max {
                    line.push(b' ');
                    line.extend_from_slice(word);
                    used += space + w;
                    continue;
                }
                lines.push(std::mem::take(&mut line));
            }
            let mut rest = word;
            while !rest.is_empty() && width(rest, face, size) > max {
                let cut = fitting(rest, face, size, max);
                lines.push(rest[..cut].to_vec());
                rest = &rest[cut..];
            }
            line.extend_from_slice(rest);
            used = width(rest, face, size);
        }
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spanish_text_and_the_euro_are_windows_1252() {
        assert_eq!(encode("Año"), vec![b'A', 0xF1, b'o']);
        assert_eq!(encode("NOTA DE CRÉDITO"), b"NOTA DE CR\xC9DITO".to_vec());
        assert_eq!(encode("€ º ª ¿¡ ü"), b"\x80 \xBA \xAA \xBF\xA1 \xFC".to_vec());
        assert_eq!(encode("“x” – —"), b"\x93x\x94 \x96 \x97".to_vec());
        // Outside Windows-1252: a visible `?`; control characters: dropped.
        assert_eq!(encode("Ω 中\u{7}"), b"? ?".to_vec());
        assert_eq!(encode("a\tb\r\nc"), b"a b\nc".to_vec());
    }

    #[test]
    fn widths_are_adobe_s() {
        // Helvetica.afm: A = 667, space = 278, ñ = 556, € = 556.
        assert!((width(b"A A", Face::Regular, 1000.0) - 1612.0).abs() < 0.01);
        assert!((width(&encode("ñ€"), Face::Regular, 10.0) - 11.12).abs() < 0.001);
        // Helvetica-Bold.afm: b = 611 (regular: 556).
        assert!((width(b"b", Face::Bold, 1000.0) - 611.0).abs() < 0.01);
        assert!((width(b"b", Face::Regular, 1000.0) - 556.0).abs() < 0.01);
    }

    #[test]
    fn wrapping_keeps_lines_within_the_measure() {
        let text = "Servicio de mantenimiento preventivo del sistema de facturación electrónica, año 2025";
        let lines = wrap(text, Face::Regular, 8.0, 100.0);
        assert!(lines.len() > 2, "{lines:?}");
        for line in &lines {
            assert!(width(line, Face::Regular, 8.0) <= 100.0);
        }
        let joined: Vec<u8> = lines.join(&b' ');
        assert_eq!(joined, encode(text), "only spaces are replaced by breaks");

        let digits = "2110201101179214673900110020010000000011234567813";
        let lines = wrap(digits, Face::Regular, 8.0, 60.0);
        assert!(lines.len() > 1);
        assert_eq!(lines.concat(), digits.as_bytes(), "a long word is cut, nothing lost");
        for line in &lines {
            assert!(width(line, Face::Regular, 8.0) <= 60.0);
        }

        assert_eq!(wrap("", Face::Bold, 8.0, 50.0), vec![Vec::<u8>::new()]);
        assert_eq!(wrap("a\nb", Face::Bold, 8.0, 50.0), vec![b"a".to_vec(), b"b".to_vec()]);
    }
}
