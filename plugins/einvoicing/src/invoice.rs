//! The invoice as the module keeps it (the `body` of a document): what
//! every XML and PDF is built from, whichever country. It comes from an
//! `erp.sale-confirmed` payload ([`Invoice::from_sale`]) or from the API
//! ([`InvoiceInput`], whose totals the module computes).

use std::collections::BTreeMap;

use plaza_sdk::prelude::*;
use plaza_sdk::validation::Errors;
use rust_decimal::{Decimal, RoundingStrategy};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A customer as invoiced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Customer {
    pub tax_id: String,
    /// Ecuador: the SRI's `tipoIdentificacion` (`04` RUC, `05` cédula, `06`
    /// passport, `07` final consumer, `08` foreign id). Derived from the
    /// tax id when absent.
    #[serde(default)]
    pub id_type: Option<String>,
    pub name: String,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

/// One invoiced line; amounts are decimal strings with two decimals
/// (quantity and unit price up to six).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Line {
    pub code: String,
    pub description: String,
    pub quantity: String,
    pub unit_price: String,
    pub discount: String,
    /// quantity × unit price − discount: the line's taxable base.
    pub net: String,
    /// The rate, e.g. `15` or `21`.
    pub tax_percent: String,
    /// Ecuador: the SRI's `codigoPorcentaje` of the rate.
    pub sri_code: Option<String>,
    pub tax: String,
}

/// One rate's base and tax, the authoritative tax of the invoice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Tax {
    pub percent: String,
    pub sri_code: Option<String>,
    pub base: String,
    pub tax: String,
}

/// One payment: `cash`, `card`, `transfer` or `other`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Payment {
    pub method: String,
    pub amount: String,
}

/// The invoice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Invoice {
    /// Ecuador: `001-002-000000123`; Spain: the series and number.
    pub number: String,
    /// The issuer's calendar date, yyyy-mm-dd.
    pub issue_date: String,
    pub currency: String,
    pub customer: Customer,
    pub lines: Vec<Line>,
    pub taxes: Vec<Tax>,
    /// Sum of quantity × unit price.
    pub subtotal: String,
    pub discount: String,
    pub base: String,
    pub tax: String,
    pub total: String,
    pub payments: Vec<Payment>,
    /// Printed as additional information (`infoAdicional`).
    #[serde(default)]
    pub notes: String,
}

// ----- from erp -----

/// The part of erp's `Sale` (its `erp.sale-confirmed` payload) an invoice needs.
#[derive(Debug, Deserialize)]
pub struct Sale {
    pub id: i64,
    pub number: Option<String>,
    pub issue_date: Option<String>,
    pub currency: String,
    pub customer: SaleParty,
    #[serde(default)]
    pub notes: String,
    pub lines: Vec<SaleLine>,
    pub taxes: Vec<SaleTax>,
    pub subtotal: String,
    pub discount: String,
    pub base: String,
    pub tax: String,
    pub total: String,
    #[serde(default)]
    pub payments: Vec<SalePayment>,
}

#[derive(Debug, Deserialize)]
pub struct SaleParty {
    pub tax_id: String,
    pub sri_id_type: Option<String>,
    pub name: String,
    pub address: Option<String>,
    pub email: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct SaleLine {
    pub sku: String,
    pub description: String,
    pub quantity: String,
    pub unit_price: String,
    pub discount: String,
    pub net: String,
    pub tax_percent: String,
    pub tax: String,
}

#[derive(Debug, Deserialize)]
pub struct SaleTax {
    pub tax_percent: String,
    pub sri_code: Option<String>,
    pub base: String,
    pub tax: String,
}

#[derive(Debug, Deserialize)]
pub struct SalePayment {
    pub method: String,
    pub amount: String,
}

impl Invoice {
    /// The invoice of a confirmed sale: erp's numbers, dates and totals as
    /// they are (erp computed them once; the invoice never recomputes them).
    pub fn from_sale(sale: Sale) -> Result<Self, String> {
        let number = sale.number.ok_or("the sale has no number: it is not confirmed")?;
        let issue_date = sale.issue_date.ok_or("the sale has no issue date")?;
        let code_of: BTreeMap<String, Option<String>> =
            sale.taxes.iter().map(|t| (t.tax_percent.clone(), t.sri_code.clone())).collect();
        Ok(Self {
            number,
            issue_date,
            currency: sale.currency,
            customer: Customer {
                tax_id: sale.customer.tax_id,
                id_type: sale.customer.sri_id_type,
                name: sale.customer.name,
                address: sale.customer.address,
                email: sale.customer.email,
            },
            lines: sale
                .lines
                .into_iter()
                .map(|l| Line {
                    sri_code: code_of.get(&l.tax_percent).cloned().flatten(),
                    code: l.sku,
                    description: l.description,
                    quantity: l.quantity,
                    unit_price: l.unit_price,
                    discount: l.discount,
                    net: l.net,
                    tax_percent: l.tax_percent,
                    tax: l.tax,
                })
                .collect(),
            taxes: sale
                .taxes
                .into_iter()
                .map(|t| Tax { percent: t.tax_percent, sri_code: t.sri_code, base: t.base, tax: t.tax })
                .collect(),
            subtotal: sale.subtotal,
            discount: sale.discount,
            base: sale.base,
            tax: sale.tax,
            total: sale.total,
            payments: sale.payments.into_iter().map(|p| Payment { method: p.method, amount: p.amount }).collect(),
            notes: sale.notes,
        })
    }

    /// Cents of a two-decimal amount of this invoice (0 if unreadable:
    /// amounts were checked when the invoice was made).
    pub fn cents(amount: &str) -> i64 {
        amount.parse::<Decimal>().ok().and_then(|d| (d * Decimal::ONE_HUNDRED).round().try_into().ok()).unwrap_or(0)
    }
}

// ----- from the API -----

/// An invoice made through the API: the module numbers it and computes
/// its totals (per line, then the tax once per rate on the rate's base).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InvoiceInput {
    pub customer: Customer,
    /// 1 to 100 lines.
    pub lines: Vec<LineInput>,
    /// How it was paid; the whole total as `other` when absent.
    #[serde(default)]
    pub payments: Vec<Payment>,
    #[serde(default)]
    pub notes: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LineInput {
    pub code: String,
    pub description: String,
    /// Decimal, more than zero, up to 6 decimals.
    pub quantity: String,
    /// Decimal, zero or more, up to 6 decimals.
    pub unit_price: String,
    /// An amount off the line (decimal, two decimals); none by default.
    #[serde(default)]
    pub discount: Option<String>,
    /// The rate in percent, e.g. `15`, `0`, `21`.
    pub tax_percent: String,
}

/// The SRI's `codigoPorcentaje` of an IVA rate (ficha técnica, tabla 17).
pub fn sri_code(percent: Decimal) -> Option<&'static str> {
    let p = percent.normalize().to_string();
    Some(match p.as_str() {
        "0" => "0",
        "12" => "2",
        "14" => "3",
        "15" => "4",
        "5" => "5",
        "13" => "10",
        "8" => "8",
        _ => return None,
    })
}

const MAX_LINES: usize = 100;

/// Two decimals, half away from zero, always written (`1.00`).
fn two(d: Decimal) -> String {
    format!("{:.2}", d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero))
}

fn decimal(errors: &mut Errors, field: &str, value: &str, max_dp: u32) -> Decimal {
    match value.trim().parse::<Decimal>() {
        Ok(d) if d.scale() <= max_dp && d >= Decimal::ZERO => d,
        _ => {
            errors.add(field, format!("`{value}` is not a decimal of zero or more with at most {max_dp} decimals"));
            Decimal::ZERO
        }
    }
}

impl InvoiceInput {
    /// The invoice, numbered `number` on `issue_date`, or 422 naming each
    /// bad field. `ecuador`: every rate must be one the SRI has a code for.
    pub fn into_invoice(
        self,
        number: String,
        issue_date: String,
        currency: &str,
        ecuador: bool,
    ) -> Result<Invoice, Problem> {
        let mut errors = Errors::default();
        if self.customer.tax_id.trim().is_empty() {
            errors.add("customer.tax_id", "the customer's tax id is required");
        }
        if self.customer.name.trim().is_empty() {
            errors.add("customer.name", "the customer's name is required");
        }
        if self.lines.is_empty() || self.lines.len() > MAX_LINES {
            errors.add("lines", format!("an invoice has 1 to {MAX_LINES} lines"));
        }
        let mut lines = Vec::with_capacity(self.lines.len());
        let mut per_rate: BTreeMap<Decimal, Decimal> = BTreeMap::new();
        let (mut subtotal, mut discount_sum) = (Decimal::ZERO, Decimal::ZERO);
        for (i, l) in self.lines.into_iter().enumerate() {
            let at = |f: &str| format!("lines[{i}].{f}");
            let quantity = decimal(&mut errors, &at("quantity"), &l.quantity, 6);
            if quantity.is_zero() {
                errors.add(&at("quantity"), "the quantity must be more than zero");
            }
            let price = decimal(&mut errors, &at("unit_price"), &l.unit_price, 6);
            let discount = decimal(&mut errors, &at("discount"), l.discount.as_deref().unwrap_or("0"), 2);
            let percent = decimal(&mut errors, &at("tax_percent"), &l.tax_percent, 2);
            let gross = (quantity * price).round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
            if discount > gross {
                errors.add(&at("discount"), "the discount is more than the line");
            }
            let code = sri_code(percent);
            if ecuador && code.is_none() {
                errors.add(&at("tax_percent"), format!("{percent} % is not an IVA rate the SRI knows"));
            }
            if l.description.trim().is_empty() || l.code.trim().is_empty() {
                errors.add(&at("description"), "each line has a code and a description");
            }
            let net = gross - discount;
            subtotal += gross;
            discount_sum += discount;
            *per_rate.entry(percent).or_default() += net;
            let tax = net * percent / Decimal::ONE_HUNDRED;
            lines.push(Line {
                code: l.code.trim().to_owned(),
                description: l.description.trim().to_owned(),
                quantity: quantity.normalize().to_string(),
                unit_price: price.normalize().to_string(),
                discount: two(discount),
                net: two(net),
                tax_percent: percent.normalize().to_string(),
                sri_code: code.map(str::to_owned),
                tax: two(tax),
            });
        }
        let mut payments = self.payments;
        for (i, p) in payments.iter().enumerate() {
            if !matches!(p.method.as_str(), "cash" | "card" | "transfer" | "other") {
                errors.add(&format!("payments[{i}].method"), "a payment is `cash`, `card`, `transfer` or `other`");
            }
            decimal(&mut errors, &format!("payments[{i}].amount"), &p.amount, 2);
        }
        errors.finish()?;
        let taxes: Vec<Tax> = per_rate
            .iter()
            .map(|(percent, base)| Tax {
                percent: percent.normalize().to_string(),
                sri_code: sri_code(*percent).map(str::to_owned),
                base: two(*base),
                tax: two(*base * percent / Decimal::ONE_HUNDRED),
            })
            .collect();
        let base: Decimal = taxes.iter().filter_map(|t| t.base.parse::<Decimal>().ok()).sum();
        let tax: Decimal = taxes.iter().filter_map(|t| t.tax.parse::<Decimal>().ok()).sum();
        let total = base + tax;
        if payments.is_empty() {
            payments.push(Payment { method: "other".into(), amount: two(total) });
        }
        Ok(Invoice {
            number,
            issue_date,
            currency: currency.to_owned(),
            customer: self.customer,
            lines,
            taxes,
            subtotal: two(subtotal),
            discount: two(discount_sum),
            base: two(base),
            tax: two(tax),
            total: two(total),
            payments,
            notes: self.notes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(q: &str, p: &str, d: Option<&str>, rate: &str) -> LineInput {
        LineInput {
            code: "A1".into(),
            description: "Arroz".into(),
            quantity: q.into(),
            unit_price: p.into(),
            discount: d.map(str::to_owned),
            tax_percent: rate.into(),
        }
    }

    fn customer() -> Customer {
        Customer { tax_id: "1710034065".into(), id_type: None, name: "Ana".into(), address: None, email: None }
    }

    #[test]
    fn api_invoices_compute_the_tax_once_per_rate() {
        // 3 × 1.335 = 4.005 → 4.01 (half away from zero); 2 × 0.99 = 1.98;
        // 15 % of 4.01 + 1.98 = 5.99 → 0.8985 → 0.90; 0 % line 10.00 − 1.00.
        let input = InvoiceInput {
            customer: customer(),
            lines: vec![line("3", "1.335", None, "15"), line("2", "0.99", None, "15"), line("1", "10", Some("1"), "0")],
            payments: vec![],
            notes: String::new(),
        };
        let inv = input.into_invoice("001-900-000000001".into(), "2026-12-07".into(), "USD", true).unwrap();
        assert_eq!(inv.subtotal, "15.99");
        assert_eq!(inv.discount, "1.00");
        assert_eq!(inv.base, "14.99");
        assert_eq!(inv.taxes.len(), 2);
        assert_eq!((inv.taxes[1].base.as_str(), inv.taxes[1].tax.as_str()), ("5.99", "0.90"));
        assert_eq!(inv.taxes[1].sri_code.as_deref(), Some("4"));
        assert_eq!(inv.total, "15.89");
        assert_eq!(inv.payments, vec![Payment { method: "other".into(), amount: "15.89".into() }]);
    }

    #[test]
    fn bad_lines_are_named() {
        let input = InvoiceInput {
            customer: customer(),
            lines: vec![line("0", "1", None, "15"), line("1", "x", None, "16")],
            payments: vec![],
            notes: String::new(),
        };
        let problem = input.into_invoice("n".into(), "2026-12-07".into(), "USD", true).unwrap_err();
        assert_eq!(problem.status(), 422);
        let text = problem.to_json(None, None);
        for field in ["lines[0].quantity", "lines[1].unit_price", "lines[1].tax_percent"] {
            assert!(text.contains(field), "{field} in {text}");
        }
    }
}
