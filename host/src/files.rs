//! Tenant files: bytes in the object store, metadata in the database.
//!
//! A file's bytes are written to a fresh object (`{prefix}/files/{uuid}`)
//! and only then is the metadata row switched to it, in one transaction with
//! its audit row. An upload that fails half-way (too large, client gone,
//! store down) therefore never replaces or damages what was stored before,
//! and readers always see a complete object.

use std::ops::Range;

use bytes::{Bytes, BytesMut};
use futures_util::stream::BoxStream;
use futures_util::{Stream, StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStoreExt, PutPayload, WriteMultipart};
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::Acquire;

use crate::audit::{self, Actor};
use crate::db::{self, Db, DbError};
use crate::storage::{Storage, StorageError};
use crate::tenancy::Tenant;

/// Uploads up to this size go to the store in one request; larger ones stream as multipart parts.
const SINGLE_PUT_MAX: usize = 5 * 1024 * 1024;
/// Longest accepted key, in bytes.
const MAX_KEY_BYTES: usize = 1024;
/// Most items a list page returns.
pub const MAX_PAGE: u32 = 1000;

/// Why a files operation failed.
#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    #[error("invalid file key: {0}")]
    InvalidKey(&'static str),
    #[error("invalid content type {0:?}")]
    InvalidContentType(String),
    #[error("file {0:?} does not exist")]
    NotFound(String),
    #[error("file is over the upload limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("{0}")]
    QuotaExceeded(#[from] crate::tenancy::quotas::QuotaExceeded),
    #[error("could not read the upload: {0}")]
    Body(std::io::Error),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for FilesError {
    fn from(e: sqlx::Error) -> Self {
        FilesError::Db(e.into())
    }
}

impl From<object_store::Error> for FilesError {
    fn from(e: object_store::Error) -> Self {
        FilesError::Storage(e.into())
    }
}

/// Metadata of a stored file.
#[derive(Debug, Clone, poem_openapi::Object)]
pub struct FileMeta {
    /// The file's key, unique within the tenant (may contain `/`).
    pub key: String,
    /// Size in bytes.
    pub size: i64,
    pub content_type: String,
    /// Hex SHA-256 of the content.
    pub sha256: String,
    /// Strong entity tag (the quoted SHA-256).
    pub etag: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// RFC 3339, UTC.
    pub updated_at: String,
    #[oai(skip)]
    object_path: String,
}

/// One page of a file listing.
#[derive(Debug, Clone, poem_openapi::Object)]
pub struct FilePage {
    pub items: Vec<FileMeta>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[oai(skip_serializing_if_is_none)]
    pub next_cursor: Option<String>,
}

type FileRow = (String, String, i64, String, String, String, String);

macro_rules! file_columns {
    () => {
        "key, object_path, size, content_type, sha256, created_at, updated_at"
    };
}

fn from_row((key, object_path, size, content_type, sha256, created_at, updated_at): FileRow) -> FileMeta {
    FileMeta { etag: format!("\"{sha256}\""), key, size, content_type, sha256, created_at, updated_at, object_path }
}

/// Checks a file key: 1–1024 bytes, no control characters, no leading `/`.
pub fn validate_key(key: &str) -> Result<(), FilesError> {
    if key.is_empty() {
        return Err(FilesError::InvalidKey("must not be empty"));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(FilesError::InvalidKey("must be at most 1024 bytes"));
    }
    if key.chars().any(char::is_control) {
        return Err(FilesError::InvalidKey("must not contain control characters"));
    }
    if key.starts_with('/') {
        return Err(FilesError::InvalidKey("must not start with '/'"));
    }
    Ok(())
}

/// Normalises a content type; `None` or blank gives `application/octet-stream`.
pub fn content_type_or_default(raw: Option<&str>) -> Result<String, FilesError> {
    let raw = raw.map(str::trim).unwrap_or("");
    if raw.is_empty() {
        return Ok("application/octet-stream".into());
    }
    let essence = raw.split(';').next().unwrap_or("").trim();
    let valid = raw.len() <= 255
        && raw.bytes().all(|b| (0x20..0x7f).contains(&b))
        && essence.split_once('/').is_some_and(|(t, s)| {
            let token =
                |x: &str| !x.is_empty() && x.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b));
            token(t) && token(s)
        });
    if valid { Ok(raw.to_owned()) } else { Err(FilesError::InvalidContentType(raw.to_owned())) }
}

/// What an upload stores, besides its bytes.
#[derive(Debug, Clone, Copy)]
pub struct NewFile<'a> {
    pub key: &'a str,
    pub content_type: &'a str,
    /// Largest accepted size in bytes.
    pub limit: u64,
    /// The tenant's storage quota (files and module blobs), in bytes.
    pub quota: u64,
}

/// Stores `body` as `file.key`, replacing any earlier file of that key once
/// it is complete. Returns the metadata and whether the key is new.
pub async fn upload<S>(
    db: &Db,
    storage: &Storage,
    actor: &Actor,
    tenant: &Tenant,
    file: NewFile<'_>,
    body: S,
) -> Result<(FileMeta, bool), FilesError>
where
    S: Stream<Item = Result<Bytes, std::io::Error>> + Send,
{
    validate_key(file.key)?;
    // What the tenant may still store, the file this one replaces counted as free.
    let used = crate::tenancy::quotas::storage_used(db, &tenant.id).await?;
    let replaced: Option<(i64,)> = sqlx::query_as("SELECT size FROM files WHERE tenant_id = $1 AND key = $2")
        .bind(&tenant.id)
        .bind(file.key)
        .fetch_optional(db.pool())
        .await?;
    let replaced = replaced.map_or(0, |(n,)| u64::try_from(n).unwrap_or(0));
    let left = file.quota.saturating_sub(used.saturating_sub(replaced));
    let over_quota = |e: FilesError| match e {
        FilesError::TooLarge { .. } if left < file.limit => {
            FilesError::QuotaExceeded(crate::tenancy::quotas::QuotaExceeded {
                what: "storage",
                limit: file.quota,
                used,
                unit: "bytes",
            })
        }
        other => other,
    };
    let object_path = format!("{}/files/{}", tenant.storage_prefix, uuid::Uuid::now_v7());
    let (size, sha256) = write_object(storage, &Path::from(object_path.as_str()), body, file.limit.min(left))
        .await
        .map_err(over_quota)?;
    let stored = Stored { object_path: &object_path, size, sha256: &sha256 };

    match record_upload(db, actor, tenant, file, stored).await {
        Ok((meta, replaced)) => {
            if let Some(old) = replaced.as_deref()
                && let Err(e) = storage.store().delete(&Path::from(old)).await
            {
                tracing::warn!(object = old, error = %e, "replaced object could not be deleted");
            }
            Ok((meta, replaced.is_none()))
        }
        Err(e) => {
            // The row was not switched: the new object is unreachable, drop it.
            let _ = storage.store().delete(&Path::from(object_path.as_str())).await;
            Err(e)
        }
    }
}

/// Streams `body` into a new object, hashing as it goes; returns (size, hex sha256).
async fn write_object<S>(storage: &Storage, path: &Path, body: S, limit: u64) -> Result<(u64, String), FilesError>
where
    S: Stream<Item = Result<Bytes, std::io::Error>> + Send,
{
    let mut body = std::pin::pin!(body);
    let mut hasher = Sha256::new();
    let mut size: u64 = 0;
    let mut buffer = BytesMut::new();
    let mut multipart: Option<WriteMultipart> = None;

    let outcome: Result<(), FilesError> = async {
        while let Some(chunk) = body.next().await {
            // A body over the host's request limit fails here too; the HTTP
            // edge answers that one with a 413 whatever this returns.
            let chunk = chunk.map_err(FilesError::Body)?;
            size += chunk.len() as u64;
            if size > limit {
                return Err(FilesError::TooLarge { limit });
            }
            hasher.update(&chunk);
            match multipart.as_mut() {
                Some(upload) => {
                    upload.wait_for_capacity(4).await?;
                    upload.put(chunk);
                }
                None => {
                    buffer.extend_from_slice(&chunk);
                    if buffer.len() > SINGLE_PUT_MAX {
                        let mut upload = WriteMultipart::new(storage.store().put_multipart(path).await?);
                        upload.put(buffer.split().freeze());
                        multipart = Some(upload);
                    }
                }
            }
        }
        Ok(())
    }
    .await;

    match (outcome, multipart) {
        (Err(e), Some(upload)) => {
            let _ = upload.abort().await;
            Err(e)
        }
        (Err(e), None) => Err(e),
        (Ok(()), Some(upload)) => {
            upload.finish().await?;
            Ok((size, hex::encode(hasher.finalize())))
        }
        (Ok(()), None) => {
            storage.store().put(path, PutPayload::from(buffer.freeze())).await?;
            Ok((size, hex::encode(hasher.finalize())))
        }
    }
}

/// A complete object, not yet referenced by any row.
struct Stored<'a> {
    object_path: &'a str,
    size: u64,
    sha256: &'a str,
}

/// Switches the row of `file.key` to the new object; returns the replaced object's path.
async fn record_upload(
    db: &Db,
    actor: &Actor,
    tenant: &Tenant,
    file: NewFile<'_>,
    stored: Stored<'_>,
) -> Result<(FileMeta, Option<String>), FilesError> {
    let Stored { object_path, sha256, .. } = stored;
    let (key, content_type) = (file.key, file.content_type);
    let now = db::now();
    let size = i64::try_from(stored.size).unwrap_or(i64::MAX);
    let mut tx = db.begin().await?;
    let old: Option<(String, String)> =
        sqlx::query_as("SELECT object_path, created_at FROM files WHERE tenant_id = $1 AND key = $2")
            .bind(&tenant.id)
            .bind(key)
            .fetch_optional(&mut *tx)
            .await?;
    let created_at = old.as_ref().map_or_else(|| now.clone(), |(_, c)| c.clone());
    sqlx::query(
        "INSERT INTO files (tenant_id, key, object_path, size, content_type, sha256, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (tenant_id, key) DO UPDATE SET object_path = excluded.object_path, size = excluded.size, \
         content_type = excluded.content_type, sha256 = excluded.sha256, updated_at = excluded.updated_at",
    )
    .bind(&tenant.id)
    .bind(key)
    .bind(object_path)
    .bind(size)
    .bind(content_type)
    .bind(sha256)
    .bind(&created_at)
    .bind(&now)
    .execute(&mut *tx)
    .await?;
    let action = if old.is_some() { "file.replace" } else { "file.create" };
    audit::record(
        tx.acquire().await?,
        actor,
        action,
        Some(&tenant.id),
        json!({ "key": key, "size": size, "sha256": sha256 }),
    )
    .await?;
    tx.commit().await?;
    let meta = from_row((
        key.to_owned(),
        object_path.to_owned(),
        size,
        content_type.to_owned(),
        sha256.to_owned(),
        created_at,
        now,
    ));
    Ok((meta, old.map(|(path, _)| path)))
}

/// The metadata of one file.
pub async fn metadata(db: &Db, tenant: &Tenant, key: &str) -> Result<FileMeta, FilesError> {
    let row: Option<FileRow> =
        sqlx::query_as(concat!("SELECT ", file_columns!(), " FROM files WHERE tenant_id = $1 AND key = $2"))
            .bind(&tenant.id)
            .bind(key)
            .fetch_optional(db.pool())
            .await?;
    row.map(from_row).ok_or_else(|| FilesError::NotFound(key.to_owned()))
}

/// Files whose key starts with `prefix`, in key order, after `cursor`.
pub async fn list(
    db: &Db,
    tenant: &Tenant,
    prefix: &str,
    cursor: Option<&str>,
    limit: u32,
) -> Result<FilePage, FilesError> {
    let limit = limit.clamp(1, MAX_PAGE);
    // One more than asked tells whether another page exists.
    let rows: Vec<FileRow> = sqlx::query_as(concat!(
        "SELECT ",
        file_columns!(),
        " FROM files WHERE tenant_id = $1 AND substr(key, 1, length($2)) = $2 AND key > $3 \
         ORDER BY key LIMIT $4"
    ))
    .bind(&tenant.id)
    .bind(prefix)
    .bind(cursor.unwrap_or(""))
    .bind(i64::from(limit) + 1)
    .fetch_all(db.pool())
    .await?;
    let mut items: Vec<FileMeta> = rows.into_iter().map(from_row).collect();
    let next_cursor = if items.len() > limit as usize {
        items.truncate(limit as usize);
        items.last().map(|m| m.key.clone())
    } else {
        None
    };
    Ok(FilePage { items, next_cursor })
}

/// Opens a file's content, whole or one byte range (already validated against its size).
pub async fn open(
    storage: &Storage,
    meta: &FileMeta,
    range: Option<Range<u64>>,
) -> Result<BoxStream<'static, Result<Bytes, std::io::Error>>, FilesError> {
    let options = GetOptions { range: range.map(GetRange::Bounded), ..GetOptions::default() };
    let result = match storage.store().get_opts(&Path::from(meta.object_path.as_str()), options).await {
        Ok(r) => r,
        // Replaced or deleted between reading the row and opening the object.
        Err(object_store::Error::NotFound { .. }) => return Err(FilesError::NotFound(meta.key.clone())),
        Err(e) => return Err(e.into()),
    };
    Ok(result.into_stream().map_err(std::io::Error::other).boxed())
}

/// Deletes a file: the row and its audit entry first, then the object.
pub async fn delete(db: &Db, storage: &Storage, actor: &Actor, tenant: &Tenant, key: &str) -> Result<(), FilesError> {
    let mut tx = db.begin().await?;
    let row: Option<(String, i64)> =
        sqlx::query_as("DELETE FROM files WHERE tenant_id = $1 AND key = $2 RETURNING object_path, size")
            .bind(&tenant.id)
            .bind(key)
            .fetch_optional(&mut *tx)
            .await?;
    let Some((object_path, size)) = row else {
        return Err(FilesError::NotFound(key.to_owned()));
    };
    audit::record(tx.acquire().await?, actor, "file.delete", Some(&tenant.id), json!({ "key": key, "size": size }))
        .await?;
    tx.commit().await?;
    if let Err(e) = storage.store().delete(&Path::from(object_path.as_str())).await {
        tracing::warn!(object = object_path, error = %e, "deleted file's object could not be removed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert!(validate_key("reports/2026/q1.pdf").is_ok());
        assert!(validate_key("").is_err());
        assert!(validate_key("/abs").is_err());
        assert!(validate_key("a\nb").is_err());
        assert!(validate_key(&"k".repeat(1025)).is_err());
    }

    #[test]
    fn content_types() {
        assert_eq!(content_type_or_default(None).ok().as_deref(), Some("application/octet-stream"));
        assert_eq!(
            content_type_or_default(Some("text/plain; charset=utf-8")).ok().as_deref(),
            Some("text/plain; charset=utf-8")
        );
        assert!(content_type_or_default(Some("nonsense")).is_err());
        assert!(content_type_or_default(Some("text/\u{7f}")).is_err());
    }
}
