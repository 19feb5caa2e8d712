-- Portable dialect (SQLite): INTEGER PRIMARY KEY is the rowid and numbers
-- itself. Timestamps are RFC 3339 UTC text, which sorts as time. Booleans
-- are INTEGER 0/1 here and BOOLEAN on PostgreSQL; JSON is kept as TEXT.

-- The municipality's org chart.
CREATE TABLE sectors (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    parent_code TEXT,
    active BOOLEAN NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Who works in which sector, with what position and signing rights. The
-- name is what signed PDFs print (the host's user ids are opaque).
CREATE TABLE members (
    user_id TEXT NOT NULL,
    sector_code TEXT NOT NULL,
    full_name TEXT NOT NULL,
    position TEXT NOT NULL,
    can_sign BOOLEAN NOT NULL,
    can_number BOOLEAN NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (user_id, sector_code)
);
CREATE INDEX members_sector ON members (sector_code);

CREATE TABLE document_types (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    numbered BOOLEAN NOT NULL,
    -- JSON list of the positions that may number (sign last).
    numbering_positions TEXT NOT NULL,
    -- JSON list of the template's fields, each with its JSON Schema.
    template TEXT NOT NULL,
    active BOOLEAN NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE documents (
    id INTEGER PRIMARY KEY,
    type_code TEXT NOT NULL,
    sector_code TEXT NOT NULL,
    reference TEXT NOT NULL,
    subject TEXT NOT NULL,
    body_markdown TEXT NOT NULL,
    -- JSON object of the template's fields.
    fields TEXT NOT NULL,
    -- draft, awaiting_signatures, signed, rejected, cancelled.
    state TEXT NOT NULL,
    -- Bumped by every change: concurrent changes of one document conflict.
    version INTEGER NOT NULL,
    -- The step (1-based) whose signer is awaited, 0 outside awaiting_signatures.
    current_step INTEGER NOT NULL,
    rejection_reason TEXT,
    number TEXT UNIQUE,
    number_year INTEGER,
    number_seq INTEGER,
    signed_at TEXT,
    pdf_key TEXT,
    pdf_sha256 TEXT,
    pdf_size INTEGER,
    -- Subject, reference and body, accents folded, lower case.
    search_text TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX documents_state ON documents (state, id);
CREATE INDEX documents_sector ON documents (sector_code, id);
CREATE INDEX documents_year ON documents (number_year, number_seq);
CREATE INDEX documents_pdf ON documents (pdf_sha256);

-- The signers a writer named, in order; the last one numbers. Each act of
-- signing records the digest signed and the host's signature over it.
CREATE TABLE document_signers (
    document_id INTEGER NOT NULL,
    step INTEGER NOT NULL,
    user_id TEXT NOT NULL,
    sector_code TEXT NOT NULL,
    full_name TEXT NOT NULL,
    position TEXT NOT NULL,
    numbers BOOLEAN NOT NULL,
    signed_at TEXT,
    digest TEXT,
    signature TEXT,
    PRIMARY KEY (document_id, step)
);
CREATE INDEX document_signers_user ON document_signers (user_id, document_id);

CREATE TABLE document_attachments (
    document_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (document_id, name)
);

-- What happened to a document: created, submitted, signed, rejected, ...
CREATE TABLE document_history (
    id INTEGER PRIMARY KEY,
    document_id INTEGER NOT NULL,
    action TEXT NOT NULL,
    user_id TEXT NOT NULL,
    detail TEXT,
    at TEXT NOT NULL
);
CREATE INDEX document_history_document ON document_history (document_id, id);

-- Gapless yearly sequences: `document` and `expediente`. A number is drawn
-- inside the transaction that uses it, so a failure gives it back.
CREATE TABLE sequences (
    kind TEXT NOT NULL,
    year INTEGER NOT NULL,
    last_value INTEGER NOT NULL,
    PRIMARY KEY (kind, year)
);

CREATE TABLE expedientes (
    id INTEGER PRIMARY KEY,
    number TEXT NOT NULL UNIQUE,
    number_year INTEGER NOT NULL,
    number_seq INTEGER NOT NULL,
    subject TEXT NOT NULL,
    procedure_type TEXT NOT NULL,
    -- citizen or office.
    initiator_kind TEXT NOT NULL,
    initiator_name TEXT NOT NULL,
    initiator_id TEXT,
    created_sector TEXT NOT NULL,
    current_sector TEXT NOT NULL,
    -- open, in_progress, archived.
    state TEXT NOT NULL,
    version INTEGER NOT NULL,
    cover_key TEXT,
    cover_sha256 TEXT,
    search_text TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX expedientes_sector ON expedientes (current_sector, id);
CREATE INDEX expedientes_year ON expedientes (number_year, number_seq);

-- The fojas: signed documents linked in order, never unlinked.
CREATE TABLE expediente_documents (
    expediente_id INTEGER NOT NULL,
    foja INTEGER NOT NULL,
    document_id INTEGER NOT NULL,
    linked_by TEXT NOT NULL,
    linked_at TEXT NOT NULL,
    PRIMARY KEY (expediente_id, foja),
    UNIQUE (expediente_id, document_id)
);

-- Pases: every move between sectors.
CREATE TABLE expediente_moves (
    id INTEGER PRIMARY KEY,
    expediente_id INTEGER NOT NULL,
    from_sector TEXT NOT NULL,
    to_sector TEXT NOT NULL,
    note TEXT NOT NULL,
    moved_by TEXT NOT NULL,
    moved_at TEXT NOT NULL
);
CREATE INDEX expediente_moves_expediente ON expediente_moves (expediente_id, id);
