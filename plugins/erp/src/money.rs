//! Exact sale arithmetic with taxes, in `Decimal`, never in floating point.
//!
//! Invoices are checked to the cent by the tax authority (SRI in Ecuador, AEAT in Spain) and by the
//! customer: a binary float cannot even hold 0.10, and its rounding drifts from the one the law
//! prescribes. Every amount here is a `rust_decimal::Decimal`, rounded only where the rules round:
//! each line to the cent, then each tax rate once, on the sum of its bases.

use std::fmt;

use rust_decimal::{Decimal, RoundingStrategy};

use crate::taxid::Country;

/// A tax rate of a country's table.
///
/// Only `Serialize`: the table is static, so a rate read from outside is looked up by its code with
/// [`tax_rate`] rather than deserialized (which could not produce `&'static str` anyway).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct TaxRate {
    /// Stable code stored on documents, e.g. "iva15".
    pub code: &'static str,
    /// Name for people, e.g. "IVA 15 %".
    pub name: &'static str,
    /// The rate in percent, e.g. 15.
    pub percent: Decimal,
    /// Ecuador: SRI's `codigoPorcentaje` for this rate (the tax itself, IVA, is [`SRI_IVA_CODE`]).
    /// `None` in Spain.
    pub sri_code: Option<&'static str>,
}

/// SRI's `codigo` of IVA in `totalConImpuestos` and in each line's `impuestos`.
pub const SRI_IVA_CODE: &str = "2";

const fn percent(n: u32) -> Decimal {
    Decimal::from_parts(n, 0, 0, false, 0)
}

/// Ecuador, IVA rates with SRI's `codigoPorcentaje` (electronic invoice technical sheet):
/// 15 % ("4", the general rate since April 2024), 5 % ("5"), 0 % ("0"),
/// not subject to IVA ("6") and exempt from IVA ("7"). The last three all charge nothing, but SRI wants
/// their bases reported apart, so they are distinct rates.
static EC_RATES: [TaxRate; 5] = [
    TaxRate { code: "iva15", name: "IVA 15 %", percent: percent(15), sri_code: Some("4") },
    TaxRate { code: "iva5", name: "IVA 5 %", percent: percent(5), sri_code: Some("5") },
    TaxRate { code: "iva0", name: "IVA 0 %", percent: percent(0), sri_code: Some("0") },
    TaxRate { code: "no-objeto", name: "Not subject to IVA", percent: percent(0), sri_code: Some("6") },
    TaxRate { code: "exento", name: "Exempt from IVA", percent: percent(0), sri_code: Some("7") },
];

/// Spain, IVA rates (AEAT): general 21 %, reduced 10 %, super-reduced 4 %, and 0 %.
static ES_RATES: [TaxRate; 4] = [
    TaxRate { code: "iva21", name: "IVA 21 %", percent: percent(21), sri_code: None },
    TaxRate { code: "iva10", name: "IVA 10 %", percent: percent(10), sri_code: None },
    TaxRate { code: "iva4", name: "IVA 4 %", percent: percent(4), sri_code: None },
    TaxRate { code: "iva0", name: "IVA 0 %", percent: percent(0), sri_code: None },
];

/// The tax table of a country. Ecuador (SRI, IVA code "2"): "iva15" 15 % (codigoPorcentaje "4"),
/// "iva5" 5 % ("5"), "iva0" 0 % ("0"), "no-objeto" 0 % ("6", not subject to IVA), "exento" 0 % ("7",
/// exempt). Spain (AEAT): "iva21" 21 %, "iva10" 10 %, "iva4" 4 %, "iva0" 0 % (sri_code None).
/// The order is the one of tax breakdowns on documents.
pub fn tax_table(country: Country) -> &'static [TaxRate] {
    match country {
        Country::Ec => &EC_RATES,
        Country::Es => &ES_RATES,
    }
}

/// The rate of `country` whose code is `code`, ignoring ASCII case (codes come from forms and imports).
pub fn tax_rate(country: Country, code: &str) -> Option<&'static TaxRate> {
    tax_table(country).iter().find(|rate| rate.code.eq_ignore_ascii_case(code.trim()))
}

/// The ISO 4217 currency of a country's documents: "USD" for Ecuador (dollarized since 2000),
/// "EUR" for Spain.
pub fn currency(country: Country) -> &'static str {
    match country {
        Country::Ec => "USD",
        Country::Es => "EUR",
    }
}

/// Rounds to 2 decimals, half away from zero (SRI and AEAT round half up on positive amounts), and
/// always returns exactly 2 decimals ("15.00", not "15"), so that amounts print and compare as
/// documents show them.
pub fn round2(d: Decimal) -> Decimal {
    round_to(d, 2)
}

fn round_to(d: Decimal, dp: u32) -> Decimal {
    let mut r = d.round_dp_with_strategy(dp, RoundingStrategy::MidpointAwayFromZero);
    r.rescale(dp);
    r
}

/// How many decimals `d` really has (trailing zeros do not count: 1.500 has 1).
fn decimals(d: Decimal) -> u32 {
    d.normalize().scale()
}

/// One line of a sale or purchase, as entered.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LineInput {
    /// Units sold, > 0, at most 3 decimals (grams of a kilogram, millilitres of a litre).
    pub quantity: Decimal,
    /// Price of one unit before tax, >= 0, at most 6 decimals (SRI allows 6 in unit prices).
    pub unit_price: Decimal,
    /// Discount in percent of the gross, 0 to 100.
    pub discount_percent: Decimal,
    /// Discount as an amount, >= 0, at most 2 decimals, added to the percent discount.
    pub discount_amount: Decimal,
    /// Code of a rate of the country's [`tax_table`].
    pub tax_code: String,
}

/// The amounts of one line.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LineTotals {
    /// round2(quantity × unit price).
    pub gross: Decimal,
    /// round2(gross × discount percent / 100) + discount amount.
    pub discount: Decimal,
    /// gross − discount: the taxable base of the line.
    pub net: Decimal,
    /// The rate's code as written in the tax table.
    pub tax_code: String,
    /// The rate in percent.
    pub tax_percent: Decimal,
    /// round2(net × percent / 100). Informative (SRI asks for it per line): the authoritative tax is
    /// the rate's, in [`RateTotals::tax`], which may differ from the sum of these by a cent or so.
    pub tax: Decimal,
}

/// The base and tax of one rate over the whole document.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RateTotals {
    /// The rate's code.
    pub tax_code: String,
    /// The rate in percent.
    pub tax_percent: Decimal,
    /// SRI's `codigoPorcentaje` (Ecuador), None in Spain.
    pub sri_code: Option<String>,
    /// Sum of the nets of the lines with this rate.
    pub base: Decimal,
    /// round2(base × percent / 100), computed once on the sum.
    pub tax: Decimal,
}

/// The totals of a document.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Totals {
    /// One per input line, in the same order.
    pub lines: Vec<LineTotals>,
    /// One per rate used, in tax-table order.
    pub by_rate: Vec<RateTotals>,
    /// Sum of the lines' gross amounts.
    pub subtotal: Decimal,
    /// Sum of the lines' discounts.
    pub discount: Decimal,
    /// Sum of the lines' nets (= subtotal − discount).
    pub base: Decimal,
    /// Sum of the rates' taxes.
    pub tax: Decimal,
    /// base + tax: what the buyer pays.
    pub total: Decimal,
}

/// Why the totals could not be computed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoneyError {
    /// Index (from 0) of the offending line in the input; None when no single line is at fault.
    pub line: Option<usize>,
    /// The field at fault, named as in [`LineInput`] ("quantity", "tax_code", ...).
    pub field: &'static str,
    /// What is wrong, in English, for people.
    pub message: String,
}

impl fmt::Display for MoneyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(i) => write!(f, "line {}, {}: {}", i + 1, self.field, self.message),
            None => write!(f, "{}: {}", self.field, self.message),
        }
    }
}

impl std::error::Error for MoneyError {}

/// Totals of a sale or purchase: each line's net rounded to the cent; the tax of each rate computed ONCE
/// on the sum of that rate's bases and rounded half-up to the cent (how SRI's `totalConImpuestos` and
/// AEAT's breakdown by rate work), so the per-line taxes may differ by a cent from the rate's tax: the
/// rate's is authoritative.
///
/// Errors name the line and the field: unknown tax code ("tax_code"), quantity <= 0 or with more than
/// 3 decimals ("quantity"), unit price < 0 or with more than 6 decimals ("unit_price"), discount
/// percent outside 0..=100 ("discount_percent"), discount amount < 0, with more than 2 decimals, or
/// making the discount greater than the gross ("discount_amount"), and amounts too large for `Decimal`
/// ("amount"). No lines give zero totals: whether an empty document may be issued is the caller's call.
pub fn totals(country: Country, lines: &[LineInput]) -> Result<Totals, MoneyError> {
    let table = tax_table(country);
    let zero = round2(Decimal::ZERO);
    let mut bases: Vec<Option<Decimal>> = vec![None; table.len()];
    let mut out = Vec::with_capacity(lines.len());
    let (mut subtotal, mut discount_sum, mut base_sum) = (zero, zero, zero);
    let overflow = |line: Option<usize>| MoneyError {
        line,
        field: "amount",
        message: "the amounts are too large to compute".to_string(),
    };

    for (i, line) in lines.iter().enumerate() {
        let err = |field: &'static str, message: String| MoneyError { line: Some(i), field, message };
        let Some(idx) = table.iter().position(|rate| rate.code.eq_ignore_ascii_case(line.tax_code.trim())) else {
            let codes: Vec<&str> = table.iter().map(|rate| rate.code).collect();
            return Err(err(
                "tax_code",
                format!(
                    "unknown tax code {:?} for {}: known codes are {}",
                    line.tax_code,
                    country.code(),
                    codes.join(", ")
                ),
            ));
        };
        let rate = &table[idx];
        if line.quantity <= Decimal::ZERO {
            return Err(err("quantity", format!("the quantity must be greater than 0: found {}", line.quantity)));
        }
        if decimals(line.quantity) > 3 {
            return Err(err("quantity", format!("the quantity has at most 3 decimals: found {}", line.quantity)));
        }
        if line.unit_price < Decimal::ZERO {
            return Err(err("unit_price", format!("the unit price cannot be negative: found {}", line.unit_price)));
        }
        if decimals(line.unit_price) > 6 {
            return Err(err("unit_price", format!("the unit price has at most 6 decimals: found {}", line.unit_price)));
        }
        if line.discount_percent < Decimal::ZERO || line.discount_percent > Decimal::ONE_HUNDRED {
            return Err(err(
                "discount_percent",
                format!("the discount percent is between 0 and 100: found {}", line.discount_percent),
            ));
        }
        if line.discount_amount < Decimal::ZERO {
            return Err(err(
                "discount_amount",
                format!("the discount amount cannot be negative: found {}", line.discount_amount),
            ));
        }
        if decimals(line.discount_amount) > 2 {
            return Err(err(
                "discount_amount",
                format!("the discount amount is in cents, at most 2 decimals: found {}", line.discount_amount),
            ));
        }

        let gross = round2(line.quantity.checked_mul(line.unit_price).ok_or_else(|| overflow(Some(i)))?);
        let by_percent = gross
            .checked_mul(line.discount_percent)
            .and_then(|x| x.checked_div(Decimal::ONE_HUNDRED))
            .ok_or_else(|| overflow(Some(i)))?;
        let discount = round2(round2(by_percent).checked_add(line.discount_amount).ok_or_else(|| overflow(Some(i)))?);
        if discount > gross {
            return Err(err(
                "discount_amount",
                format!("the discount ({discount}) is greater than the line's gross amount ({gross})"),
            ));
        }
        let net = gross - discount;
        let tax = round2(
            net.checked_mul(rate.percent)
                .and_then(|x| x.checked_div(Decimal::ONE_HUNDRED))
                .ok_or_else(|| overflow(Some(i)))?,
        );

        let rate_base = bases[idx].unwrap_or(zero);
        bases[idx] = Some(rate_base.checked_add(net).ok_or_else(|| overflow(Some(i)))?);
        subtotal = subtotal.checked_add(gross).ok_or_else(|| overflow(Some(i)))?;
        discount_sum = discount_sum.checked_add(discount).ok_or_else(|| overflow(Some(i)))?;
        base_sum = base_sum.checked_add(net).ok_or_else(|| overflow(Some(i)))?;
        out.push(LineTotals { gross, discount, net, tax_code: rate.code.to_string(), tax_percent: rate.percent, tax });
    }

    let mut by_rate = Vec::new();
    let mut tax_sum = zero;
    for (rate, base) in table.iter().zip(bases) {
        let Some(base) = base else { continue };
        let tax = round2(
            base.checked_mul(rate.percent)
                .and_then(|x| x.checked_div(Decimal::ONE_HUNDRED))
                .ok_or_else(|| overflow(None))?,
        );
        tax_sum = tax_sum.checked_add(tax).ok_or_else(|| overflow(None))?;
        by_rate.push(RateTotals {
            tax_code: rate.code.to_string(),
            tax_percent: rate.percent,
            sri_code: rate.sri_code.map(str::to_string),
            base,
            tax,
        });
    }
    let total = base_sum.checked_add(tax_sum).ok_or_else(|| overflow(None))?;
    Ok(Totals { lines: out, by_rate, subtotal, discount: discount_sum, base: base_sum, tax: tax_sum, total })
}

/// Weighted average cost after receiving `qty_in` units at `unit_cost` into a stock of `qty_on_hand` at
/// `avg_cost`: (on_hand*avg + in*cost) / (on_hand + in), kept to 6 decimals (round half up); when
/// on_hand <= 0 the new cost is unit_cost.
///
/// Six decimals, like SRI's unit prices, keep the cost of cheap items bought in bulk from collapsing to
/// whole cents. A negative stock (sold before the purchase was entered) has no meaningful cost to
/// average with, hence unit_cost. When nothing is received (qty_in <= 0) the cost stays avg_cost. The
/// result always has exactly 6 decimals; amounts too large for `Decimal` (over 28 digits) fall back to
/// unit_cost, the most recent cost known, rather than panicking.
pub fn weighted_average(qty_on_hand: Decimal, avg_cost: Decimal, qty_in: Decimal, unit_cost: Decimal) -> Decimal {
    if qty_in <= Decimal::ZERO {
        return round_to(avg_cost, 6);
    }
    if qty_on_hand <= Decimal::ZERO {
        return round_to(unit_cost, 6);
    }
    let average = qty_on_hand
        .checked_mul(avg_cost)
        .zip(qty_in.checked_mul(unit_cost))
        .and_then(|(held, received)| held.checked_add(received))
        .zip(qty_on_hand.checked_add(qty_in))
        .and_then(|(value, quantity)| value.checked_div(quantity));
    round_to(average.unwrap_or(unit_cost), 6)
}

/// Cash payment: the change owed when `tendered` exceeds `due` (0 otherwise), to the cent.
pub fn change(due: Decimal, tendered: Decimal) -> Decimal {
    match tendered.checked_sub(due) {
        Some(diff) if diff > Decimal::ZERO => round2(diff),
        _ => round2(Decimal::ZERO),
    }
}

/// Currency marks accepted around an amount, longest first so that "USD" is not read as "$"-less "USD".
const CURRENCY_MARKS: [&str; 4] = ["USD", "EUR", "$", "€"];

fn strip_currency_prefix(s: &str) -> Option<&str> {
    CURRENCY_MARKS.iter().find_map(|mark| {
        let head = s.get(..mark.len())?;
        head.eq_ignore_ascii_case(mark).then(|| s[mark.len()..].trim_start())
    })
}

fn strip_currency_suffix(s: &str) -> Option<&str> {
    CURRENCY_MARKS.iter().find_map(|mark| {
        let cut = s.len().checked_sub(mark.len())?;
        let tail = s.get(cut..)?;
        tail.eq_ignore_ascii_case(mark).then(|| s[..cut].trim_end())
    })
}

fn strip_sign(s: &str) -> (Option<bool>, &str) {
    if let Some(rest) = s.strip_prefix('-') {
        (Some(true), rest.trim_start())
    } else if let Some(rest) = s.strip_prefix('+') {
        (Some(false), rest.trim_start())
    } else {
        (None, s)
    }
}

/// Whether `int` is digits grouped by `sep` in thousands: 1 to 3 digits, then groups of exactly 3.
fn thousands_groups_ok(int: &str, sep: char) -> bool {
    let mut groups = int.split(sep);
    let first_ok = groups.next().is_some_and(|g| (1..=3).contains(&g.len()) && g.bytes().all(|b| b.is_ascii_digit()));
    first_ok && groups.all(|g| g.len() == 3 && g.bytes().all(|b| b.is_ascii_digit()))
}

/// Parses a decimal amount written by a person or a spreadsheet: "12.5", "12,50" (comma decimal),
/// "1.234,56" and "1,234.56" (thousands separators, resolved by the last separator), with optional
/// leading/trailing spaces and an optional currency symbol ($, €, USD, EUR). Returns None when it is
/// not a number. Never goes through f64.
///
/// The rules, so that no amount is silently misread:
/// - with both separators, the last one is the decimal separator and must appear once; the other one
///   must group the integer part in thousands (`1.234.567,8`, `1,234,567.8`);
/// - with a single separator appearing once, it is the decimal separator: `1,234` is 1.234 and `1.234`
///   is 1.234 too (a caller that knows the locale and wants thousands must remove them first);
/// - with a single separator appearing more than once, it separates thousands (`1.234.567`);
/// - digits are required on both sides of the decimal separator (`.5` and `5.` are refused);
/// - one currency mark at most, before or after the number, any case (`usd 12`, `12,50 €`), and one
///   sign at most, before the number or the mark (`-$12.50`, `$-12.50`).
pub fn parse_amount(s: &str) -> Option<Decimal> {
    let (mut negative, mut rest) = strip_sign(s.trim());
    let mut marked = false;
    if let Some(r) = strip_currency_prefix(rest) {
        marked = true;
        rest = r;
        let (sign, r) = strip_sign(rest);
        if sign.is_some() {
            if negative.is_some() {
                return None;
            }
            negative = sign;
            rest = r;
        }
    }
    if let Some(r) = strip_currency_suffix(rest) {
        if marked {
            return None;
        }
        rest = r;
    }
    let number = rest;
    if number.is_empty() || !number.chars().all(|c| c.is_ascii_digit() || c == '.' || c == ',') {
        return None;
    }

    // (integer digits, fraction digits or None when there is no decimal separator)
    let (int, frac) = match number.rfind(['.', ',']) {
        None => (number.to_string(), None),
        Some(pos) => {
            let sep = if number.as_bytes()[pos] == b'.' { '.' } else { ',' };
            let other = if sep == '.' { ',' } else { '.' };
            let occurrences = number.matches(sep).count();
            if number.contains(other) {
                // Both separators: `sep` (the last) is decimal, `other` groups thousands.
                if occurrences != 1 || !thousands_groups_ok(&number[..pos], other) {
                    return None;
                }
                (number[..pos].replace(other, ""), Some(&number[pos + 1..]))
            } else if occurrences == 1 {
                (number[..pos].to_string(), Some(&number[pos + 1..]))
            } else {
                if !thousands_groups_ok(number, sep) {
                    return None;
                }
                (number.replace(sep, ""), None)
            }
        }
    };
    if int.is_empty() || frac.is_some_and(str::is_empty) {
        return None;
    }
    let mut text = String::with_capacity(int.len() + frac.map_or(0, str::len) + 2);
    if negative == Some(true) {
        text.push('-');
    }
    text.push_str(&int);
    if let Some(frac) = frac {
        text.push('.');
        text.push_str(frac);
    }
    Decimal::from_str_exact(&text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::from_str_exact(s).unwrap()
    }

    /// A line as (quantity, unit price, discount percent, discount amount, tax code).
    type In = (&'static str, &'static str, &'static str, &'static str, &'static str);

    fn input(lines: &[In]) -> Vec<LineInput> {
        lines
            .iter()
            .map(|&(q, p, pct, amt, code)| LineInput {
                quantity: d(q),
                unit_price: d(p),
                discount_percent: d(pct),
                discount_amount: d(amt),
                tax_code: code.to_string(),
            })
            .collect()
    }

    struct Case {
        name: &'static str,
        country: Country,
        lines: &'static [In],
        /// Per line: (gross, discount, net, tax).
        expect_lines: &'static [(&'static str, &'static str, &'static str, &'static str)],
        /// Per rate used, in table order: (code, base, tax).
        expect_rates: &'static [(&'static str, &'static str, &'static str)],
        /// (subtotal, discount, base, tax, total).
        expect_totals: (&'static str, &'static str, &'static str, &'static str, &'static str),
    }

    // Every expected value below was computed by hand, as the comment above each case shows; they are
    // compared as strings, so the scale (always 2 decimals) is checked too.
    const CASES: &[Case] = &[
        // Ecuador, iva15 + iva0 + exento + iva5, with both kinds of discount:
        //   1) 2 × 10.00 = 20.00, no discount, net 20.00, iva15: 20.00 × 0.15 = 3.00
        //   2) 3 × 1.25 = 3.75, net 3.75, iva0: 0.00
        //   3) 1 × 50.00 = 50.00, 10 % = 5.00, net 45.00, exento: 0.00
        //   4) 4 × 2.50 = 10.00, amount 1.00, net 9.00, iva5: 9.00 × 0.05 = 0.45
        //   5) 1 × 8.00 = 8.00, net 8.00, iva15: 1.20
        //   iva15 base 20.00 + 8.00 = 28.00, tax 28.00 × 0.15 = 4.20; iva5 9.00 → 0.45; iva0 3.75 → 0.00;
        //   exento 45.00 → 0.00 (table order: iva15, iva5, iva0, no-objeto, exento)
        //   subtotal 20 + 3.75 + 50 + 10 + 8 = 91.75; discount 5 + 1 = 6.00; base 85.75; tax 4.65; total 90.40
        Case {
            name: "ec-mixed-rates",
            country: Country::Ec,
            lines: &[
                ("2", "10.00", "0", "0", "iva15"),
                ("3", "1.25", "0", "0", "iva0"),
                ("1", "50.00", "10", "0", "exento"),
                ("4", "2.50", "0", "1.00", "iva5"),
                ("1", "8.00", "0", "0", "iva15"),
            ],
            expect_lines: &[
                ("20.00", "0.00", "20.00", "3.00"),
                ("3.75", "0.00", "3.75", "0.00"),
                ("50.00", "5.00", "45.00", "0.00"),
                ("10.00", "1.00", "9.00", "0.45"),
                ("8.00", "0.00", "8.00", "1.20"),
            ],
            expect_rates: &[
                ("iva15", "28.00", "4.20"),
                ("iva5", "9.00", "0.45"),
                ("iva0", "3.75", "0.00"),
                ("exento", "45.00", "0.00"),
            ],
            expect_totals: ("91.75", "6.00", "85.75", "4.65", "90.40"),
        },
        // Per-line and per-rate rounding differ by one cent:
        //   3 lines of 1 × 0.10, iva15: each line's tax 0.10 × 0.15 = 0.015 → 0.02 (half up), sum 0.06;
        //   the rate's tax is computed once: 0.30 × 0.15 = 0.045 → 0.05. The rate's 0.05 is the tax.
        //   total 0.30 + 0.05 = 0.35
        Case {
            name: "line-vs-rate-rounding",
            country: Country::Ec,
            lines: &[
                ("1", "0.10", "0", "0", "iva15"),
                ("1", "0.10", "0", "0", "iva15"),
                ("1", "0.10", "0", "0", "iva15"),
            ],
            expect_lines: &[
                ("0.10", "0.00", "0.10", "0.02"),
                ("0.10", "0.00", "0.10", "0.02"),
                ("0.10", "0.00", "0.10", "0.02"),
            ],
            expect_rates: &[("iva15", "0.30", "0.05")],
            expect_totals: ("0.30", "0.00", "0.30", "0.05", "0.35"),
        },
        // Half up where banker's rounding would go down, and 6-decimal unit prices:
        //   1) 5 × 0.665 = 3.325 exactly → 3.33 (half-even would give 3.32); tax 3.33 × 0.15 = 0.4995 → 0.50
        //   2) 1000 × 0.012345 = 12.345 exactly → 12.35; tax 12.35 × 0.15 = 1.8525 → 1.85
        //   iva15 base 3.33 + 12.35 = 15.68, tax 15.68 × 0.15 = 2.352 → 2.35 (lines: 0.50 + 1.85 = 2.35)
        //   total 15.68 + 2.35 = 18.03
        Case {
            name: "half-up",
            country: Country::Ec,
            lines: &[("5", "0.665", "0", "0", "iva15"), ("1000", "0.012345", "0", "0", "iva15")],
            expect_lines: &[("3.33", "0.00", "3.33", "0.50"), ("12.35", "0.00", "12.35", "1.85")],
            expect_rates: &[("iva15", "15.68", "2.35")],
            expect_totals: ("15.68", "0.00", "15.68", "2.35", "18.03"),
        },
        // Fractional quantities:
        //   1) 0.750 kg × 3.99 = 2.9925 → 2.99, iva0
        //   2) 1.255 kg × 2.40 = 3.012 → 3.01, iva15: 3.01 × 0.15 = 0.4515 → 0.45
        //   3) 0.5 × 7.00 = 3.50 with 0.25 off, net 3.25, no-objeto
        //   iva15 3.01 → 0.45; iva0 2.99 → 0.00; no-objeto 3.25 → 0.00
        //   subtotal 2.99 + 3.01 + 3.50 = 9.50; discount 0.25; base 9.25; tax 0.45; total 9.70
        Case {
            name: "fractional-quantities",
            country: Country::Ec,
            lines: &[
                ("0.750", "3.99", "0", "0", "iva0"),
                ("1.255", "2.40", "0", "0", "iva15"),
                ("0.5", "7.00", "0", "0.25", "no-objeto"),
            ],
            expect_lines: &[
                ("2.99", "0.00", "2.99", "0.00"),
                ("3.01", "0.00", "3.01", "0.45"),
                ("3.50", "0.25", "3.25", "0.00"),
            ],
            expect_rates: &[("iva15", "3.01", "0.45"), ("iva0", "2.99", "0.00"), ("no-objeto", "3.25", "0.00")],
            expect_totals: ("9.50", "0.25", "9.25", "0.45", "9.70"),
        },
        // A 100 % discount, and percent + amount on the same line:
        //   1) 2 × 5.00 = 10.00, 100 % = 10.00, net 0.00, tax 0.00
        //   2) 1 × 4.00 = 4.00, net 4.00, tax 0.60
        //   3) 1 × 100.00 = 100.00, 10 % = 10.00 + 5.00 = 15.00, net 85.00, tax 85.00 × 0.15 = 12.75
        //   iva15 base 0 + 4 + 85 = 89.00, tax 89.00 × 0.15 = 13.35
        //   subtotal 114.00; discount 25.00; base 89.00; tax 13.35; total 102.35
        Case {
            name: "full-discount",
            country: Country::Ec,
            lines: &[
                ("2", "5.00", "100", "0", "iva15"),
                ("1", "4.00", "0", "0", "iva15"),
                ("1", "100.00", "10", "5", "iva15"),
            ],
            expect_lines: &[
                ("10.00", "10.00", "0.00", "0.00"),
                ("4.00", "0.00", "4.00", "0.60"),
                ("100.00", "15.00", "85.00", "12.75"),
            ],
            expect_rates: &[("iva15", "89.00", "13.35")],
            expect_totals: ("114.00", "25.00", "89.00", "13.35", "102.35"),
        },
        // Spain, 21 / 10 / 4 %:
        //   1) 2 × 12.40 = 24.80, iva21: 24.80 × 0.21 = 5.208 → 5.21
        //   2) 3 × 1.15 = 3.45, 5 % = 0.1725 → 0.17, net 3.28, iva10: 0.328 → 0.33
        //   3) 1 × 0.95 = 0.95, iva4: 0.038 → 0.04
        //   4) 1 × 7.60 = 7.60, iva21: 1.596 → 1.60
        //   iva21 base 24.80 + 7.60 = 32.40, tax 32.40 × 0.21 = 6.804 → 6.80 (lines give 5.21 + 1.60 = 6.81:
        //   one cent apart again); iva10 3.28 → 0.33; iva4 0.95 → 0.04
        //   subtotal 36.80; discount 0.17; base 36.63; tax 6.80 + 0.33 + 0.04 = 7.17; total 43.80
        Case {
            name: "es-21-10-4",
            country: Country::Es,
            lines: &[
                ("2", "12.40", "0", "0", "iva21"),
                ("3", "1.15", "5", "0", "iva10"),
                ("1", "0.95", "0", "0", "iva4"),
                ("1", "7.60", "0", "0", "IVA21"),
            ],
            expect_lines: &[
                ("24.80", "0.00", "24.80", "5.21"),
                ("3.45", "0.17", "3.28", "0.33"),
                ("0.95", "0.00", "0.95", "0.04"),
                ("7.60", "0.00", "7.60", "1.60"),
            ],
            expect_rates: &[("iva21", "32.40", "6.80"), ("iva10", "3.28", "0.33"), ("iva4", "0.95", "0.04")],
            expect_totals: ("36.80", "0.17", "36.63", "7.17", "43.80"),
        },
        // No lines: zero totals.
        Case {
            name: "empty",
            country: Country::Es,
            lines: &[],
            expect_lines: &[],
            expect_rates: &[],
            expect_totals: ("0.00", "0.00", "0.00", "0.00", "0.00"),
        },
    ];

    #[test]
    fn totals_table() {
        for case in CASES {
            let t = totals(case.country, &input(case.lines)).unwrap();
            let name = case.name;
            let lines: Vec<_> = t
                .lines
                .iter()
                .map(|l| (l.gross.to_string(), l.discount.to_string(), l.net.to_string(), l.tax.to_string()))
                .collect();
            let want: Vec<_> = case
                .expect_lines
                .iter()
                .map(|&(g, dsc, n, tx)| (g.to_string(), dsc.to_string(), n.to_string(), tx.to_string()))
                .collect();
            assert_eq!(lines, want, "{name}: lines");
            let rates: Vec<_> =
                t.by_rate.iter().map(|r| (r.tax_code.as_str(), r.base.to_string(), r.tax.to_string())).collect();
            let want: Vec<_> = case.expect_rates.iter().map(|&(c, b, tx)| (c, b.to_string(), tx.to_string())).collect();
            assert_eq!(rates, want, "{name}: by rate");
            let (subtotal, discount, base, tax, total) = case.expect_totals;
            assert_eq!(t.subtotal.to_string(), subtotal, "{name}: subtotal");
            assert_eq!(t.discount.to_string(), discount, "{name}: discount");
            assert_eq!(t.base.to_string(), base, "{name}: base");
            assert_eq!(t.tax.to_string(), tax, "{name}: tax");
            assert_eq!(t.total.to_string(), total, "{name}: total");
            // Invariants of every document.
            assert_eq!(t.subtotal - t.discount, t.base, "{name}");
            assert_eq!(t.by_rate.iter().map(|r| r.base).sum::<Decimal>(), t.base, "{name}");
        }
    }

    #[test]
    fn rate_details_are_copied() {
        let t = totals(Country::Ec, &input(&[("1", "1", "0", "0", "exento"), ("1", "1", "0", "0", "iva5")])).unwrap();
        assert_eq!(t.by_rate[0].sri_code.as_deref(), Some("5"));
        assert_eq!(t.by_rate[1].sri_code.as_deref(), Some("7"));
        assert_eq!(t.lines[1].tax_percent, d("5"));
        let t = totals(Country::Es, &input(&[("1", "1", "0", "0", "iva4")])).unwrap();
        assert_eq!(t.by_rate[0].sri_code, None);
        assert_eq!(t.by_rate[0].tax_percent, d("4"));
    }

    #[test]
    fn totals_errors() {
        let ok: In = ("1", "10.00", "0", "0", "iva15");
        let cases: &[(In, &str)] = &[
            (("1", "10", "0", "0", "iva12"), "tax_code"), // 12 % is no longer a rate in Ecuador
            (("1", "10", "0", "0", "iva21"), "tax_code"), // a Spanish rate
            (("0", "10", "0", "0", "iva15"), "quantity"),
            (("-1", "10", "0", "0", "iva15"), "quantity"),
            (("1.2345", "10", "0", "0", "iva15"), "quantity"),
            (("1", "-0.01", "0", "0", "iva15"), "unit_price"),
            (("1", "0.1234567", "0", "0", "iva15"), "unit_price"),
            (("1", "10", "100.01", "0", "iva15"), "discount_percent"),
            (("1", "10", "-1", "0", "iva15"), "discount_percent"),
            (("1", "10", "0", "-1", "iva15"), "discount_amount"),
            (("1", "10", "0", "0.001", "iva15"), "discount_amount"),
            (("1", "10", "0", "10.01", "iva15"), "discount_amount"), // discount > gross
            (("1", "10", "50", "5.01", "iva15"), "discount_amount"), // 5.00 + 5.01 > 10.00
            (("1", "0", "0", "0.01", "iva15"), "discount_amount"),   // any discount on a free line
        ];
        for &(bad, field) in cases {
            let err = totals(Country::Ec, &input(&[ok, bad])).unwrap_err();
            assert_eq!((err.line, err.field), (Some(1), field), "{bad:?}: {}", err.message);
            assert!(!err.message.is_empty());
        }
        // Trailing zeros are not decimals: 1.5000 has 1, 2.50000000 has 1.
        assert!(totals(Country::Ec, &input(&[("1.5000", "2.50000000", "0", "1.000", "iva15")])).is_ok());
        let err = totals(Country::Ec, &input(&[("1", "10", "0", "10.01", "iva15")])).unwrap_err();
        assert_eq!(err.message, "the discount (10.01) is greater than the line's gross amount (10.00)");
        assert_eq!(
            err.to_string(),
            "line 1, discount_amount: the discount (10.01) is greater than the line's gross amount (10.00)"
        );
        // Too large for Decimal: an error, not a panic.
        let huge = LineInput {
            quantity: d("1000000"),
            unit_price: Decimal::MAX,
            discount_percent: Decimal::ZERO,
            discount_amount: Decimal::ZERO,
            tax_code: "iva15".into(),
        };
        assert_eq!(totals(Country::Ec, &[huge]).unwrap_err().field, "amount");
    }

    #[test]
    fn tables_and_currency() {
        let codes: Vec<_> = tax_table(Country::Ec).iter().map(|r| (r.code, r.percent, r.sri_code)).collect();
        assert_eq!(
            codes,
            [
                ("iva15", d("15"), Some("4")),
                ("iva5", d("5"), Some("5")),
                ("iva0", d("0"), Some("0")),
                ("no-objeto", d("0"), Some("6")),
                ("exento", d("0"), Some("7")),
            ]
        );
        let codes: Vec<_> = tax_table(Country::Es).iter().map(|r| (r.code, r.percent)).collect();
        assert_eq!(codes, [("iva21", d("21")), ("iva10", d("10")), ("iva4", d("4")), ("iva0", d("0"))]);
        assert_eq!(tax_rate(Country::Es, "IVA10").map(|r| r.code), Some("iva10"));
        assert_eq!(tax_rate(Country::Es, "iva15"), None);
        assert_eq!((currency(Country::Ec), currency(Country::Es)), ("USD", "EUR"));
    }

    #[test]
    fn round2_half_away_from_zero() {
        for (x, want) in [
            ("1.005", "1.01"),
            ("1.0049999", "1.00"),
            ("2.675", "2.68"),
            ("0.125", "0.13"),
            ("-0.125", "-0.13"),
            ("15", "15.00"),
            ("0.1", "0.10"),
        ] {
            assert_eq!(round2(d(x)).to_string(), want, "{x}");
        }
    }

    #[test]
    fn weighted_average_cost() {
        // (10 × 2.00 + 30 × 3.00) / 40 = 110 / 40 = 2.75
        assert_eq!(weighted_average(d("10"), d("2.00"), d("30"), d("3.00")).to_string(), "2.750000");
        // (3 × 1 + 3 × 2) / 6 = 9 / 6 = 1.5
        assert_eq!(weighted_average(d("3"), d("1"), d("3"), d("2")).to_string(), "1.500000");
        // (1 × 1 + 2 × 0) / 3 = 0.3333333… → 0.333333
        assert_eq!(weighted_average(d("1"), d("1"), d("2"), d("0")).to_string(), "0.333333");
        // (1 × 2 + 2 × 0) / 3 = 0.6666666… → 0.666667 (half up)
        assert_eq!(weighted_average(d("1"), d("2"), d("2"), d("0")).to_string(), "0.666667");
        // An exact half at the 7th decimal goes up: (1 × 0.000001 + 1 × 0) / 2 = 0.0000005 → 0.000001
        assert_eq!(weighted_average(d("1"), d("0.000001"), d("1"), d("0")).to_string(), "0.000001");
        // Nothing (or negative stock) on hand: the new cost is the purchase cost.
        assert_eq!(weighted_average(d("0"), d("9.99"), d("5"), d("1.25")).to_string(), "1.250000");
        assert_eq!(weighted_average(d("-4"), d("9.99"), d("5"), d("1.25")).to_string(), "1.250000");
        // Nothing received: the cost does not move.
        assert_eq!(weighted_average(d("4"), d("9.99"), d("0"), d("1.25")).to_string(), "9.990000");
        // Fractional quantities: (0.750 × 4.00 + 0.250 × 8.00) / 1.000 = 5.00
        assert_eq!(weighted_average(d("0.750"), d("4.00"), d("0.250"), d("8.00")).to_string(), "5.000000");
        // Overflow falls back to the purchase cost instead of panicking.
        assert_eq!(weighted_average(Decimal::MAX, Decimal::MAX, d("1"), d("2")).to_string(), "2.000000");
    }

    #[test]
    fn change_owed() {
        assert_eq!(change(d("17.35"), d("20")).to_string(), "2.65");
        assert_eq!(change(d("17.35"), d("17.35")).to_string(), "0.00");
        assert_eq!(change(d("17.35"), d("10")).to_string(), "0.00");
        assert_eq!(change(d("0"), d("5")).to_string(), "5.00");
    }

    #[test]
    fn parse_amounts() {
        for (s, want) in [
            ("12.5", "12.5"),
            ("12,50", "12.50"),
            ("1.234,56", "1234.56"),
            ("1,234.56", "1234.56"),
            ("1.234.567,8", "1234567.8"),
            ("1,234,567.89", "1234567.89"),
            ("1.234.567", "1234567"),
            ("1,234,567", "1234567"),
            ("1,234", "1.234"), // a lone separator is the decimal one
            ("0,5", "0.5"),
            ("42", "42"),
            ("  7  ", "7"),
            ("$12.50", "12.50"),
            ("$ 1,234.56", "1234.56"),
            ("12,50 €", "12.50"),
            ("€12", "12"),
            ("1.234,56 EUR", "1234.56"),
            ("eur 3,10", "3.10"),
            ("USD 1,234.56", "1234.56"),
            ("99.99usd", "99.99"),
            ("-12.5", "-12.5"),
            ("-$12.50", "-12.50"),
            ("$-12.50", "-12.50"),
            ("+3", "3"),
            ("0.000001", "0.000001"),
            ("12345678901234567890.12", "12345678901234567890.12"),
        ] {
            assert_eq!(parse_amount(s).map(|x| x.to_string()), Some(want.to_string()), "{s:?}");
        }
        for s in [
            "",
            "   ",
            "abc",
            "$",
            "12a",
            "1e5",
            "NaN",
            "12.34.5",
            "1,23,456.00",
            "1.234,56.78",
            "1,234,56",
            ".5",
            "5.",
            "1,234.",
            "12 34",
            "$12$",
            "$12 EUR",
            "--5",
            "-$-5",
            "12-",
            "0x10",
            "١٢", // Arabic-Indic digits are not ASCII digits
            "123456789012345678901234567890.5",
        ] {
            assert_eq!(parse_amount(s), None, "{s:?}");
        }
    }
}
