-- The einvoicing module's tables, per tenant. Amounts are integer cents;
-- the documents' own text (XML, the authority's answers) is kept as sent
-- and as received, never rebuilt.

-- One row per fiscal document: an invoice or a credit note (Ecuador), an
-- invoice (Spain). `sale_id` ties it to the erp sale it came from; the
-- unique (kind, sale_id) makes a redelivered `erp.sale-confirmed` a no-op.
CREATE TABLE documents (
    id INTEGER PRIMARY KEY,
    -- EC or ES.
    country TEXT NOT NULL,
    -- invoice or credit-note.
    kind TEXT NOT NULL,
    -- erp or api.
    origin TEXT NOT NULL,
    sale_id INTEGER,
    -- The credit note's invoice.
    corrects_id INTEGER,
    -- Ecuador: 001-002-000000123; Spain: the series and number as printed.
    number TEXT NOT NULL,
    -- The issuer's calendar date, yyyy-mm-dd.
    issue_date TEXT NOT NULL,
    customer_tax_id TEXT NOT NULL,
    customer_name TEXT NOT NULL,
    -- Name and tax id, accents folded, lower case, for search.
    search_text TEXT NOT NULL,
    base_cents INTEGER NOT NULL,
    tax_cents INTEGER NOT NULL,
    total_cents INTEGER NOT NULL,
    currency TEXT NOT NULL,
    -- Ecuador: generated, signed, sent, received, authorized, returned,
    -- not_authorized. Spain: recorded, sent, accepted,
    -- accepted_with_errors, rejected.
    state TEXT NOT NULL,
    -- Ecuador's clave de acceso: one per document, for ever.
    access_key TEXT UNIQUE,
    -- The invoice as the module read it (JSON), what every XML is built from.
    body TEXT NOT NULL,
    xml TEXT,
    signed_xml TEXT,
    -- The SRI's authorization answer, or the AEAT's answer, as received.
    answer_xml TEXT,
    authorization_number TEXT,
    authorized_at TEXT,
    -- The authority's messages (JSON list), shown as they came.
    messages TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    -- When the retry job sends it again (NULL: nothing to do).
    next_attempt_at TEXT,
    last_error TEXT,
    -- The PDF in the module's blobs.
    pdf_key TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (kind, sale_id),
    UNIQUE (country, kind, number)
);
CREATE INDEX documents_state ON documents (state, id);
CREATE INDEX documents_issue_date ON documents (issue_date, id);
CREATE INDEX documents_due ON documents (next_attempt_at);

-- Numbers the module draws itself (credit notes, invoices made through the
-- API), gapless per (kind, series): drawn in the document's transaction.
CREATE TABLE sequences (
    kind TEXT NOT NULL,
    series TEXT NOT NULL,
    last INTEGER NOT NULL,
    PRIMARY KEY (kind, series)
);

-- Spain: the head of each issuer's chain. A new record takes its place
-- with one UPDATE of this row, which holds the row until the record's
-- transaction ends: records of one issuer are chained one after the other,
-- whatever the concurrency (no fork, no retry).
CREATE TABLE chain_heads (
    issuer TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    huella TEXT NOT NULL
);

-- Spain: the VeriFactu records of each issuer, one chain per NIF. `seq`
-- is the position in the chain; (issuer, seq) unique, so two records
-- racing for the same place cannot both land: no fork.
CREATE TABLE records (
    id INTEGER PRIMARY KEY,
    issuer TEXT NOT NULL,
    seq INTEGER NOT NULL,
    document_id INTEGER NOT NULL,
    -- alta or anulacion.
    record_type TEXT NOT NULL,
    num_serie TEXT NOT NULL,
    -- dd-mm-yyyy, as hashed.
    fecha_expedicion TEXT NOT NULL,
    tipo_factura TEXT NOT NULL,
    cuota_total TEXT NOT NULL,
    importe_total TEXT NOT NULL,
    previous_huella TEXT NOT NULL,
    huella TEXT NOT NULL,
    -- FechaHoraHusoGenRegistro, as hashed.
    generated_at TEXT NOT NULL,
    -- pending, accepted, accepted_with_errors, rejected.
    state TEXT NOT NULL,
    xml TEXT,
    answer_xml TEXT,
    -- The AEAT's CSV of the submission that carried it.
    csv TEXT,
    error_code TEXT,
    error_text TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (issuer, seq),
    UNIQUE (document_id, record_type)
);
