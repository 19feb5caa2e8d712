-- X.509 certificates of a (tenant, module) pair, by name, for the crypto
-- capability's CMS signatures (plaza:module 1.1). A tenant admin installs
-- one; until then the first use stores a self-signed test certificate.
CREATE TABLE module_certificates (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    module      TEXT NOT NULL,
    name        TEXT NOT NULL,
    certificate BLOB NOT NULL,                 -- DER
    private_key BLOB NOT NULL,                 -- PKCS#8 DER
    self_signed INTEGER NOT NULL,                -- 1 for a self-signed test certificate
    created_at  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, module, name)
);
