//! `erp`: the back office of a small business in Ecuador or Spain (a shop,
//! a restaurant, a distributor): a product catalogue with the tenant's own
//! fields, customers and suppliers with checked tax ids, stock derived from
//! movements, point-of-sale sales numbered per establishment and point of
//! sale without gaps, purchases, expenses, bulk imports and reports.
//!
//! Money is exact: decimals in the module ([`money`]), integer cents and
//! thousandths in the database. Rules without host calls ([`money`],
//! [`taxid`]) are unit-tested natively; each area keeps its SQL next to its
//! handlers.

mod catalogue;
mod common;
mod imports;
mod money;
mod parties;
mod purchases;
mod reports;
mod sales;
mod series;
mod stock;
mod taxid;

use common::{
    ACCOUNTANTS, ADMINS, ERP_ACCOUNTANT, ERP_ADMIN, ERP_READER, ERP_SELLER, ERP_STOCK, PARTIES, READERS, SELLERS,
    STOCK, Settings,
};
use plaza_sdk::prelude::*;

/// The raw body of an upload, for the OpenAPI document.
#[derive(schemars::JsonSchema)]
#[schemars(extend("contentMediaType" = "application/octet-stream", "contentEncoding" = "binary"))]
#[allow(dead_code)] // a schema only
struct Bytes(String);

/// A CSV download or upload, for the OpenAPI document.
#[derive(schemars::JsonSchema)]
#[schemars(extend("contentMediaType" = "text/csv"))]
#[allow(dead_code)] // a schema only
struct CsvText(String);

struct Erp;

impl plaza_sdk::Module for Erp {
    fn router() -> Router {
        Router::new("erp", env!("CARGO_PKG_VERSION"))
            .description(
                "Back office for small businesses in Ecuador and Spain: catalogue, customers and suppliers with \
                 checked tax ids, stock from movements, point-of-sale sales with gapless SRI-style numbering and \
                 the `erp.sale-confirmed` event, purchases, expenses, bulk imports (batch, ingest, validate, \
                 promote) and reports. Amounts are exact decimal strings.",
            )
            .capabilities([Capability::Sql, Capability::Blob, Capability::Events, Capability::Config, Capability::Log])
            .define_roles([ERP_ADMIN, ERP_SELLER, ERP_STOCK, ERP_ACCOUNTANT, ERP_READER])
            .config_schema::<Settings>()
            .migration_pg(
                1,
                "catalogue, parties, stock, series, sales, purchases, expenses, imports",
                include_str!("../migrations/0001_erp.sql"),
                include_str!("../migrations/0001_erp.postgres.sql"),
            )
            .job("stock-low", "0 0 7 * * *")
            // ----- catalogue -----
            .get("/tax-rates", catalogue::tax_rates)
            .roles(READERS)
            .summary("The tenant's tax table (by its `country` setting) and currency")
            .get("/categories", catalogue::list_categories)
            .roles(READERS)
            .summary("Every product category (a tree by `parent_id`)")
            .post("/categories", catalogue::create_category)
            .roles(ADMINS)
            .summary("Add a category")
            .get("/categories/{id}", catalogue::get_category)
            .roles(READERS)
            .summary("One category")
            .put("/categories/{id}", catalogue::update_category)
            .roles(ADMINS)
            .summary("Rename a category or move it in the tree")
            .get("/products", catalogue::list_products)
            .roles(READERS)
            .summary("Products by SKU (query `q`, `sku`, `barcode`, `category` with its subcategories, `active`, `low_stock=true`, `page`, `per_page`)")
            .post("/products", catalogue::create_product)
            .roles(ADMINS)
            .summary("Add a product; its custom fields are checked against the tenant's settings")
            .get("/products/{id}", catalogue::get_product)
            .roles(READERS)
            .summary("One product with its stock (all warehouses together; `GET /stock` has each)")
            .put("/products/{id}", catalogue::update_product)
            .roles(ADMINS)
            .summary("Change a product (absent fields stay; `version` guards against lost updates)")
            .get("/warehouses", catalogue::list_warehouses)
            .roles(READERS)
            .summary("Every warehouse")
            .post("/warehouses", catalogue::create_warehouse)
            .roles(ADMINS)
            .summary("Add a warehouse")
            .put("/warehouses/{id}", catalogue::update_warehouse)
            .roles(ADMINS)
            .summary("Rename or deactivate a warehouse")
            // ----- customers and suppliers -----
            .get("/customers", parties::list_customers)
            .roles(READERS)
            .summary("Customers by name (query `q`, `tax_id`, `page`, `per_page`)")
            .post("/customers", parties::create_customer)
            .roles(PARTIES)
            .summary("Add a customer; the tax id is checked by the tenant's country (422 naming the rule)")
            .get("/customers/{id}", parties::get_customer)
            .roles(READERS)
            .summary("One customer")
            .put("/customers/{id}", parties::update_customer)
            .roles(PARTIES)
            .summary("Change a customer (the tax id stays)")
            .get("/suppliers", parties::list_suppliers)
            .roles(READERS)
            .summary("Suppliers by name (query `q`, `tax_id`, `page`, `per_page`)")
            .post("/suppliers", parties::create_supplier)
            .roles(PARTIES)
            .summary("Add a supplier; the tax id is checked by the tenant's country")
            .get("/suppliers/{id}", parties::get_supplier)
            .roles(READERS)
            .summary("One supplier")
            .put("/suppliers/{id}", parties::update_supplier)
            .roles(PARTIES)
            .summary("Change a supplier (the tax id stays)")
            // ----- stock -----
            .get("/stock", stock::levels)
            .roles(READERS)
            .summary("Stock levels by product and warehouse (query `product_id`, `warehouse_id`)")
            .get("/stock/movements", stock::movements)
            .roles(READERS)
            .summary("Stock movements, newest first (query `product_id`, `warehouse_id`, `kind`, `reference`)")
            .post("/stock/adjustments", stock::adjust)
            .roles(STOCK)
            .summary("Adjust stock by a signed quantity, with a reason")
            .post("/stock/transfers", stock::transfer)
            .roles(STOCK)
            .summary("Move stock from one warehouse to another")
            // ----- sales -----
            .get("/series", series::list)
            .roles(READERS)
            .summary("Numbering series (establishment and point of sale) with their last number")
            .post("/series", series::create)
            .roles(ADMINS)
            .summary("Add a numbering series `001-002`")
            .get("/sales", sales::list)
            .roles(READERS)
            .summary("Sales, newest first (query `state`, `number`, `customer_id`, `series`, `from`, `to`)")
            .post("/sales", sales::create)
            .roles(SELLERS)
            .summary("Write a sale (a draft, or with `confirm: true` a numbered ticket, with its payments)")
            .get("/sales/{id}", sales::get)
            .roles(READERS)
            .summary("A sale with its customer, lines, taxes per rate, totals and payments")
            .put("/sales/{id}", sales::update)
            .roles(SELLERS)
            .summary("Change a draft (absent fields stay; `lines` replaces them all)")
            .post("/sales/{id}/confirm", sales::confirm)
            .roles(SELLERS)
            .summary("Number the draft, take its stock and publish `erp.sale-confirmed`")
            .request::<NoInput>()
            .post("/sales/{id}/payments", sales::pay)
            .roles(SELLERS)
            .summary("Take a payment (cash with change, card, transfer; partial ones add up); paid in full → `paid`")
            .post("/sales/{id}/cancel", sales::cancel)
            .roles(SELLERS)
            .summary("Cancel a draft, or a confirmed sale without payments (its stock comes back)")
            .request::<NoInput>()
            .get("/sales/{id}/receipt", sales::receipt)
            .roles(READERS)
            .summary("The point-of-sale ticket, as plain text")
            // ----- purchases and expenses -----
            .get("/purchases", purchases::list)
            .roles(READERS)
            .summary("Purchases, newest first (query `state`, `supplier_id`)")
            .post("/purchases", purchases::create)
            .roles(STOCK)
            .summary("Order from a supplier")
            .get("/purchases/{id}", purchases::get)
            .roles(READERS)
            .summary("One purchase with its lines")
            .post("/purchases/{id}/receive", purchases::receive)
            .roles(STOCK)
            .summary("Receive an ordered purchase: stock in at cost, average costs updated")
            .request::<NoInput>()
            .post("/purchases/{id}/cancel", purchases::cancel)
            .roles(STOCK)
            .summary("Cancel an ordered purchase")
            .request::<NoInput>()
            .get("/expenses", purchases::list_expenses)
            .roles(READERS)
            .summary("Expenses, newest first (query `category`, `from`, `to`)")
            .post("/expenses", purchases::create_expense)
            .roles(ACCOUNTANTS)
            .summary("Record an expense with its tax")
            .get("/expenses/{id}", purchases::get_expense)
            .roles(READERS)
            .summary("One expense")
            .put("/expenses/{id}/receipt", purchases::put_receipt)
            .roles(ACCOUNTANTS)
            .summary("Attach the receipt (PDF, JPEG, PNG or XML, the raw body with its content type)")
            .request::<Bytes>()
            .get("/expenses/{id}/receipt", purchases::get_receipt)
            .roles(READERS)
            .summary("The receipt file")
            .response::<Bytes>()
            // ----- imports -----
            .get("/imports/batches", imports::list)
            .roles(ADMINS)
            .summary("Import batches, newest first")
            .post("/imports/batches", imports::create)
            .roles(ADMINS)
            .summary("Start a batch of products, customers, suppliers or opening stock")
            .get("/imports/batches/{id}", imports::get)
            .roles(ADMINS)
            .summary("A batch and its progress (rows, invalid rows, promoted rows, state)")
            .delete("/imports/batches/{id}", imports::discard)
            .roles(ADMINS)
            .summary("Discard a batch that is not promoted, with its rows")
            .post("/imports/batches/{id}/rows", imports::ingest)
            .roles(ADMINS)
            .summary("Ingest a part: JSON rows, a CSV file or an XLSX workbook (by content type); each row's fields are checked")
            .request::<CsvText>()
            .post("/imports/batches/{id}/validate", imports::validate)
            .roles(ADMINS)
            .summary("Find duplicates inside the batch and against stored data; count the invalid rows")
            .request::<NoInput>()
            .get("/imports/batches/{id}/errors", imports::errors)
            .roles(ADMINS)
            .summary("The invalid rows, each with its errors by field")
            .post("/imports/batches/{id}/promote", imports::promote)
            .roles(ADMINS)
            .summary("Copy the valid rows into the catalogue, parties or stock: all or nothing; twice changes nothing")
            .request::<imports::Promotion>()
            // ----- reports -----
            .get("/reports/sales-by-day", reports::sales_by_day)
            .roles(ACCOUNTANTS)
            .summary("Sales per day of a period (query `from`, `to`, `format=csv`)")
            .response::<reports::Report<reports::DayRow>>()
            .get("/reports/sales-by-product", reports::sales_by_product)
            .roles(ACCOUNTANTS)
            .summary("Quantity, net and tax per product over a period (query `from`, `to`, `format=csv`)")
            .response::<reports::Report<reports::ProductSales>>()
            .get("/reports/sales-by-customer", reports::sales_by_customer)
            .roles(ACCOUNTANTS)
            .summary("Sales and totals per customer over a period (query `from`, `to`, `format=csv`)")
            .response::<reports::Report<reports::CustomerSales>>()
            .get("/reports/stock-valuation", reports::stock_valuation)
            .roles(ACCOUNTANTS)
            .summary("Stock on hand at average cost (query `warehouse_id`, `format=csv`)")
            .response::<reports::Valuation>()
            .get("/reports/tax-summary", reports::tax_summary)
            .roles(ACCOUNTANTS)
            .summary("Base and tax per rate of a period's sales (query `from`, `to`, `format=csv`)")
            .response::<reports::TaxSummary>()
    }

    fn run_job(run: JobRun) -> Result<(), String> {
        match run.name.as_str() {
            "stock-low" => {
                stock::stock_low_job().map(|_| ()).map_err(|p| p.detail_text().unwrap_or("failed").to_owned())
            }
            other => Err(format!("no job {other}")),
        }
    }
}

plaza_sdk::export!(Erp);
