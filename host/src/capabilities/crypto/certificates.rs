//! Where a pair's certificates live: the `module_certificates` table
//! (DER certificate, PKCS#8 key). Read by the capability, written by it
//! (self-signed test certificates) and by the tenant admin's API.

use super::x509::{Certified, X509Error};
use crate::db::{Db, DbError};

/// Why a stored certificate could not be had.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("stored certificate: {0}")]
    X509(#[from] X509Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        Self::Db(e.into())
    }
}

/// The certificate `name` of (tenant, module), if one is stored.
pub async fn load(db: &Db, tenant: &str, module: &str, name: &str) -> Result<Option<Certified>, StoreError> {
    let row = sqlx::query_as::<_, (Vec<u8>, Vec<u8>, i64)>(
        "SELECT certificate, private_key, self_signed FROM module_certificates \
         WHERE tenant_id = $1 AND module = $2 AND name = $3",
    )
    .bind(tenant)
    .bind(module)
    .bind(name)
    .fetch_optional(db.pool())
    .await?;
    Ok(match row {
        Some((cert, key, self_signed)) => Some(Certified::from_stored(&cert, &key, self_signed != 0)?),
        None => None,
    })
}

/// Stores a certificate unless one of that name is there already (two
/// first uses racing: the first wins, both read it back).
pub async fn insert_if_absent(
    db: &Db,
    tenant: &str,
    module: &str,
    name: &str,
    cert_der: &[u8],
    pkcs8: &[u8],
    self_signed: bool,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO module_certificates (tenant_id, module, name, certificate, private_key, self_signed, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (tenant_id, module, name) DO NOTHING",
    )
    .bind(tenant)
    .bind(module)
    .bind(name)
    .bind(cert_der.to_vec())
    .bind(pkcs8.to_vec())
    .bind(i64::from(self_signed))
    .bind(crate::db::now())
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Installs (or replaces) the certificate `name` of (tenant, module) from
/// the PEM a tenant admin gave; the key must belong to the certificate.
/// This process forgets the old one at once; the others when the change
/// feed tells them (within seconds).
pub async fn install_pem(
    services: &crate::capabilities::Services,
    actor: &crate::audit::Actor,
    tenant: &str,
    module: &str,
    name: &str,
    cert_pem: &str,
    key_pem: &str,
) -> Result<super::x509::CertificateInfo, StoreError> {
    if !super::valid_name(name) {
        return Err(X509Error::Certificate("a certificate name has 1 to 64 letters, digits, `-`, `_` or `.`".into()).into());
    }
    let (certified, pkcs8) = Certified::from_pem(cert_pem, key_pem)?;
    let info = install(&services.db, actor, tenant, module, name, &certified, &pkcs8).await?;
    services.crypto.forget_certificate(tenant, module, name);
    Ok(info)
}

/// Stores a checked certificate in place of the one of that name, audited,
/// and announces it on the change feed so every process drops what it
/// cached of the tenant's certificates.
pub async fn install(
    db: &Db,
    actor: &crate::audit::Actor,
    tenant: &str,
    module: &str,
    name: &str,
    certified: &Certified,
    pkcs8: &[u8],
) -> Result<super::x509::CertificateInfo, StoreError> {
    let mut tx = db.begin().await?;
    sqlx::query("DELETE FROM module_certificates WHERE tenant_id = $1 AND module = $2 AND name = $3")
        .bind(tenant)
        .bind(module)
        .bind(name)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO module_certificates (tenant_id, module, name, certificate, private_key, self_signed, created_at) \
         VALUES ($1, $2, $3, $4, $5, 0, $6)",
    )
    .bind(tenant)
    .bind(module)
    .bind(name)
    .bind(certified.der().to_vec())
    .bind(pkcs8.to_vec())
    .bind(crate::db::now())
    .execute(&mut *tx)
    .await?;
    let info = certified.info();
    let detail = serde_json::json!({ "module": module, "name": name, "subject": info.subject, "sha256": info.sha256 });
    crate::audit::record(&mut tx, actor, "module.certificate.install", Some(tenant), detail).await?;
    crate::changes::announce(&mut tx, db.backend(), tenant, "*", "certificate").await?;
    tx.commit().await?;
    Ok(info)
}

/// Every certificate of (tenant, module), by name.
pub async fn list(db: &Db, tenant: &str, module: &str) -> Result<Vec<(String, Certified)>, StoreError> {
    let rows = sqlx::query_as::<_, (String, Vec<u8>, Vec<u8>, i64)>(
        "SELECT name, certificate, private_key, self_signed FROM module_certificates \
         WHERE tenant_id = $1 AND module = $2 ORDER BY name",
    )
    .bind(tenant)
    .bind(module)
    .fetch_all(db.pool())
    .await?;
    rows.into_iter()
        .map(|(name, cert, key, self_signed)| Ok((name, Certified::from_stored(&cert, &key, self_signed != 0)?)))
        .collect()
}
