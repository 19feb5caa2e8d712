-- What the operator set for one tenant's quotas; a NULL is the host's
-- default (PLAZA_QUOTA_*). See host/src/tenancy/quotas.rs.
CREATE TABLE tenant_quotas (
    tenant_id         TEXT PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    storage_bytes     BIGINT,
    module_blob_bytes BIGINT,
    module_kv_entries BIGINT,
    module_sql_bytes  BIGINT,
    updated_at        TEXT NOT NULL
);
