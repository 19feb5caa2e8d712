//! The `blob` capability: objects of a module for a tenant, in the object
//! store under `tenants/{tenant}/modules/{module}/`, with their content type
//! and size listed in a host table. Keys are validated so that a module
//! cannot climb out of its prefix.

use object_store::path::Path;
use object_store::{ObjectStoreExt, PutPayload};

use super::{CallState, CapError, Scope, Services, stateless_unit};
use crate::contract::Capability;
use crate::contract::plaza::module::blob::{self as wit, Host, Object, ObjectInfo};
use crate::tenancy::quotas;

stateless_unit!(
    /// The `blob` unit: objects live in the host's object store, listed in a host table; nothing per call.
    Blob,
    Capability::Blob,
    wit
);

/// Longest key, in bytes.
pub const MAX_KEY_BYTES: usize = 512;
/// Largest object one call may put (it passes through the module's memory).
pub const MAX_OBJECT_BYTES: usize = 32 << 20;
/// Most objects one listing returns.
pub const MAX_LIST: u32 = 1000;

/// The store prefix of a module's objects for a tenant.
pub fn prefix(tenant: &str, module: &str) -> String {
    format!("tenants/{tenant}/modules/{module}")
}

/// Keys are `/`-separated segments of letters, digits, `.`, `_` and `-`;
/// no empty, `.` or `..` segment.
fn check_key(key: &str) -> Result<(), CapError> {
    let ok = !key.is_empty()
        && key.len() <= MAX_KEY_BYTES
        && key.split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        });
    if ok {
        Ok(())
    } else {
        Err(CapError::invalid(format!(
            "blob key {key:?}: use 1 to {MAX_KEY_BYTES} bytes of `/`-separated segments of letters, digits, `.`, `_` and `-`"
        )))
    }
}

fn location(scope: &Scope, key: &str) -> Path {
    Path::from(format!("{}/{key}", prefix(&scope.tenant, scope.module())))
}

fn failed(e: impl std::fmt::Display) -> CapError {
    tracing::error!(error = %e, "blob capability failed");
    CapError::unavailable("the object store is not available; try again")
}

/// Reads one of the scope's objects: `None` if it is not there. Also how
/// the `mail` capability takes a module's attachments.
pub(crate) async fn read(services: &Services, scope: &Scope, key: &str) -> Result<Option<Object>, CapError> {
    check_key(key)?;
    let row: Option<(String,)> =
        sqlx::query_as("SELECT content_type FROM module_blobs WHERE tenant_id = $1 AND module = $2 AND key = $3")
            .bind(&scope.tenant)
            .bind(scope.module())
            .bind(key)
            .fetch_optional(services.db.pool())
            .await
            .map_err(failed)?;
    let Some((content_type,)) = row else { return Ok(None) };
    match services.storage.store().get(&location(scope, key)).await {
        Ok(got) => {
            if got.meta.size > MAX_OBJECT_BYTES as u64 {
                return Err(CapError::limit(format!("the object is larger than {MAX_OBJECT_BYTES} bytes")));
            }
            let data = got.bytes().await.map_err(failed)?;
            Ok(Some(Object { content_type, data: data.to_vec() }))
        }
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(failed(e)),
    }
}

impl Host for CallState {
    async fn put(&mut self, key: String, data: Vec<u8>, content_type: String) -> Result<(), CapError> {
        let scope = self.scope_for(Capability::Blob)?;
        self.before_wait();
        check_key(&key)?;
        if data.len() > MAX_OBJECT_BYTES {
            return Err(CapError::limit(format!("an object may be {MAX_OBJECT_BYTES} bytes")));
        }
        if content_type.is_empty() || content_type.len() > 255 || content_type.chars().any(char::is_control) {
            return Err(CapError::invalid("give a content type such as application/json"));
        }
        let size = i64::try_from(data.len()).unwrap_or(i64::MAX);
        let services = std::sync::Arc::clone(self.services());
        let quotas = services.quotas.of(&services.db, &scope.tenant).await.map_err(failed)?;
        let (stored, module_bytes, replaced) =
            quotas::blob_use(&services.db, &scope.tenant, scope.module(), &key).await.map_err(failed)?;
        let adding = data.len() as u64;
        quotas::check_bytes("module blob", quotas.module_blob_bytes, module_bytes, replaced, adding)
            .and_then(|()| quotas::check_bytes("storage", quotas.storage_bytes, stored, replaced, adding))
            .map_err(|e| CapError::limit(e.to_string()))?;
        services.storage.store().put(&location(&scope, &key), PutPayload::from(data)).await.map_err(failed)?;
        sqlx::query(
            "INSERT INTO module_blobs (tenant_id, module, key, size, content_type, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, module, key) \
             DO UPDATE SET size = excluded.size, content_type = excluded.content_type, updated_at = excluded.updated_at",
        )
        .bind(&scope.tenant)
        .bind(scope.module())
        .bind(&key)
        .bind(size)
        .bind(&content_type)
        .bind(crate::db::now())
        .execute(services.db.pool())
        .await
        .map_err(failed)?;
        Ok(())
    }

    async fn get(&mut self, key: String) -> Result<Option<Object>, CapError> {
        let scope = self.scope_for(Capability::Blob)?;
        self.before_wait();
        read(self.services(), &scope, &key).await
    }

    async fn delete(&mut self, key: String) -> Result<bool, CapError> {
        let scope = self.scope_for(Capability::Blob)?;
        self.before_wait();
        check_key(&key)?;
        let services = std::sync::Arc::clone(self.services());
        let done = sqlx::query("DELETE FROM module_blobs WHERE tenant_id = $1 AND module = $2 AND key = $3")
            .bind(&scope.tenant)
            .bind(scope.module())
            .bind(&key)
            .execute(services.db.pool())
            .await
            .map_err(failed)?;
        match services.storage.store().delete(&location(&scope, &key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(failed(e)),
        }
        Ok(done.rows_affected() > 0)
    }

    async fn list_objects(
        &mut self,
        prefix: String,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<Vec<ObjectInfo>, CapError> {
        let scope = self.scope_for(Capability::Blob)?;
        self.before_wait();
        if prefix.len() > MAX_KEY_BYTES {
            return Err(CapError::invalid("the prefix is longer than any key"));
        }
        let limit = i64::from(limit.clamp(1, MAX_LIST));
        let rows: Vec<(String, i64, String)> = sqlx::query_as(
            "SELECT key, size, content_type FROM module_blobs WHERE tenant_id = $1 AND module = $2 \
             AND substr(key, 1, length($3)) = $3 AND key > $4 ORDER BY key LIMIT $5",
        )
        .bind(&scope.tenant)
        .bind(scope.module())
        .bind(&prefix)
        .bind(cursor.unwrap_or_default())
        .bind(limit)
        .fetch_all(self.services().db.pool())
        .await
        .map_err(failed)?;
        Ok(rows
            .into_iter()
            .map(|(key, size, content_type)| ObjectInfo { key, size: u64::try_from(size).unwrap_or(0), content_type })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_cannot_leave_the_prefix() {
        for bad in ["", "../x", "a/../../b", "/abs", "a//b", "a/./b", "a\\b", "a b", "ä", "a/"] {
            assert!(check_key(bad).is_err(), "{bad:?} accepted");
        }
        for good in ["a", "photos/2024/cat.jpg", "x-y_z.1"] {
            assert!(check_key(good).is_ok(), "{good:?} refused");
        }
    }
}
