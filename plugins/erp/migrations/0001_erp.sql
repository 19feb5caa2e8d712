-- Portable dialect (SQLite): INTEGER PRIMARY KEY is the rowid and numbers
-- itself; the PostgreSQL variant uses identity columns. Money that is added
-- up (line nets, taxes, totals, payments) is INTEGER cents and quantities are
-- INTEGER thousandths, so SUM() in SQL is exact and stock can be taken with
-- one conditional UPDATE; unit prices and costs, which may carry up to six
-- decimals and are never summed, are decimal TEXT. Timestamps are RFC 3339
-- UTC text; booleans INTEGER 0/1 here and BOOLEAN on PostgreSQL; JSON TEXT.

CREATE TABLE categories (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    parent_id INTEGER,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE products (
    id INTEGER PRIMARY KEY,
    sku TEXT NOT NULL UNIQUE,
    barcode TEXT UNIQUE,
    name TEXT NOT NULL,
    category_id INTEGER,
    unit TEXT NOT NULL,
    price TEXT NOT NULL,
    -- Weighted average cost, updated by every receipt.
    cost TEXT NOT NULL,
    tax_code TEXT NOT NULL,
    active BOOLEAN NOT NULL,
    -- Thousandths of a unit; NULL: no alert.
    low_stock_milli INTEGER,
    -- JSON object of the tenant's custom fields.
    custom TEXT NOT NULL,
    -- Name, SKU and barcode, accents folded, lower case.
    search_text TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX products_category ON products (category_id);

-- Customers and suppliers (`kind`); the final consumer is one customer.
CREATE TABLE parties (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    tax_id TEXT NOT NULL,
    tax_id_kind TEXT NOT NULL,
    name TEXT NOT NULL,
    email TEXT,
    phone TEXT,
    address TEXT,
    custom TEXT NOT NULL,
    active BOOLEAN NOT NULL,
    search_text TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (kind, tax_id)
);

CREATE TABLE warehouses (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    active BOOLEAN NOT NULL,
    created_at TEXT NOT NULL
);

-- Derived from the movements, in the same transaction as each of them;
-- never written by any other path.
CREATE TABLE stock_levels (
    product_id INTEGER NOT NULL,
    warehouse_id INTEGER NOT NULL,
    quantity_milli INTEGER NOT NULL,
    PRIMARY KEY (product_id, warehouse_id)
);

-- opening, receipt, sale, return, transfer-out, transfer-in, adjustment.
CREATE TABLE stock_movements (
    id INTEGER PRIMARY KEY,
    product_id INTEGER NOT NULL,
    warehouse_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    -- Signed: positive in, negative out.
    quantity_milli INTEGER NOT NULL,
    unit_cost TEXT,
    reference TEXT,
    reason TEXT,
    user_id TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX stock_movements_product ON stock_movements (product_id, id);

-- Numbering series per establishment and point of sale (SRI style
-- 001-002-000000123). A number is drawn inside the transaction that uses
-- it, so a failure gives it back: no gaps.
CREATE TABLE series (
    code TEXT PRIMARY KEY,
    establishment TEXT NOT NULL,
    point TEXT NOT NULL,
    name TEXT NOT NULL,
    last_value INTEGER NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE sales (
    id INTEGER PRIMARY KEY,
    -- draft, confirmed, paid, cancelled.
    state TEXT NOT NULL,
    series TEXT NOT NULL,
    number TEXT UNIQUE,
    customer_id INTEGER NOT NULL,
    warehouse_id INTEGER NOT NULL,
    seller TEXT NOT NULL,
    currency TEXT NOT NULL,
    notes TEXT NOT NULL,
    subtotal_cents INTEGER NOT NULL,
    discount_cents INTEGER NOT NULL,
    base_cents INTEGER NOT NULL,
    tax_cents INTEGER NOT NULL,
    total_cents INTEGER NOT NULL,
    paid_cents INTEGER NOT NULL,
    -- The tenant's calendar date of confirmation (reports group by it).
    issue_date TEXT,
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    confirmed_at TEXT,
    paid_at TEXT,
    cancelled_at TEXT,
    updated_at TEXT NOT NULL
);
CREATE INDEX sales_state ON sales (state, id);
CREATE INDEX sales_issue_date ON sales (issue_date);
CREATE INDEX sales_customer ON sales (customer_id);

CREATE TABLE sale_lines (
    sale_id INTEGER NOT NULL,
    line_no INTEGER NOT NULL,
    product_id INTEGER NOT NULL,
    sku TEXT NOT NULL,
    description TEXT NOT NULL,
    quantity_milli INTEGER NOT NULL,
    unit_price TEXT NOT NULL,
    discount_percent TEXT NOT NULL,
    discount_amount TEXT NOT NULL,
    gross_cents INTEGER NOT NULL,
    discount_cents INTEGER NOT NULL,
    net_cents INTEGER NOT NULL,
    tax_code TEXT NOT NULL,
    tax_percent TEXT NOT NULL,
    tax_cents INTEGER NOT NULL,
    -- The average cost when sold, for margins.
    unit_cost TEXT NOT NULL,
    PRIMARY KEY (sale_id, line_no)
);
CREATE INDEX sale_lines_product ON sale_lines (product_id);

-- The tax of each rate, computed once on the rate's base.
CREATE TABLE sale_taxes (
    sale_id INTEGER NOT NULL,
    tax_code TEXT NOT NULL,
    tax_percent TEXT NOT NULL,
    sri_code TEXT,
    base_cents INTEGER NOT NULL,
    tax_cents INTEGER NOT NULL,
    PRIMARY KEY (sale_id, tax_code)
);

CREATE TABLE payments (
    id INTEGER PRIMARY KEY,
    sale_id INTEGER NOT NULL,
    method TEXT NOT NULL,
    amount_cents INTEGER NOT NULL,
    tendered_cents INTEGER NOT NULL,
    change_cents INTEGER NOT NULL,
    reference TEXT,
    user_id TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX payments_sale ON payments (sale_id);

CREATE TABLE purchases (
    id INTEGER PRIMARY KEY,
    -- ordered, received, cancelled.
    state TEXT NOT NULL,
    supplier_id INTEGER NOT NULL,
    warehouse_id INTEGER NOT NULL,
    supplier_document TEXT NOT NULL,
    currency TEXT NOT NULL,
    base_cents INTEGER NOT NULL,
    tax_cents INTEGER NOT NULL,
    total_cents INTEGER NOT NULL,
    version INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    received_at TEXT,
    cancelled_at TEXT,
    updated_at TEXT NOT NULL
);

CREATE TABLE purchase_lines (
    purchase_id INTEGER NOT NULL,
    line_no INTEGER NOT NULL,
    product_id INTEGER NOT NULL,
    quantity_milli INTEGER NOT NULL,
    unit_cost TEXT NOT NULL,
    tax_code TEXT NOT NULL,
    net_cents INTEGER NOT NULL,
    tax_cents INTEGER NOT NULL,
    PRIMARY KEY (purchase_id, line_no)
);

CREATE TABLE expenses (
    id INTEGER PRIMARY KEY,
    category TEXT NOT NULL,
    description TEXT NOT NULL,
    supplier_id INTEGER,
    expense_date TEXT NOT NULL,
    currency TEXT NOT NULL,
    base_cents INTEGER NOT NULL,
    tax_code TEXT NOT NULL,
    tax_cents INTEGER NOT NULL,
    total_cents INTEGER NOT NULL,
    receipt_key TEXT,
    receipt_type TEXT,
    receipt_size INTEGER,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX expenses_date ON expenses (expense_date);

-- Imports: batch -> ingest -> validate -> promote.
CREATE TABLE import_batches (
    id INTEGER PRIMARY KEY,
    -- products, customers, suppliers, stock.
    kind TEXT NOT NULL,
    -- open, validated, promoted, discarded.
    state TEXT NOT NULL,
    source TEXT NOT NULL,
    rows_total INTEGER NOT NULL,
    rows_invalid INTEGER NOT NULL,
    rows_promoted INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    validated_at TEXT,
    promoted_at TEXT,
    updated_at TEXT NOT NULL
);

-- One ingested row: its fields already checked and normalised into the
-- staging columns the promotion copies, its own errors (JSON list of
-- {field, detail}) and, after validation, the error it has against other
-- rows or stored data (`conflict`).
CREATE TABLE import_rows (
    batch_id INTEGER NOT NULL,
    row_no INTEGER NOT NULL,
    -- The natural key: SKU, tax id, or SKU|warehouse for opening stock.
    natural_key TEXT NOT NULL,
    errors TEXT,
    conflict TEXT,
    sku TEXT,
    barcode TEXT,
    name TEXT,
    category_id INTEGER,
    unit TEXT,
    price TEXT,
    cost TEXT,
    tax_code TEXT,
    low_stock_milli INTEGER,
    custom TEXT,
    search_text TEXT,
    tax_id TEXT,
    tax_id_kind TEXT,
    email TEXT,
    phone TEXT,
    address TEXT,
    warehouse_id INTEGER,
    quantity_milli INTEGER,
    PRIMARY KEY (batch_id, row_no)
);
CREATE INDEX import_rows_key ON import_rows (batch_id, natural_key);
