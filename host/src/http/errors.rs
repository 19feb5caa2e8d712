//! The one place where domain errors become HTTP problems.

use poem::http::StatusCode;

use super::problem::ApiError;
use crate::db::DbError;
use crate::storage::StorageError;
use crate::storage::files::FilesError;
use crate::tenancy::TenancyError;

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        match &e {
            DbError::Sqlx(sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_)) => {
                tracing::error!(error = %e, "database unavailable");
                ApiError::unavailable("the database is unavailable; retry later")
            }
            _ => ApiError::internal(&e),
        }
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        tracing::error!(error = %e, "object store failure");
        ApiError::unavailable("the object store is unavailable; retry later")
    }
}

impl From<TenancyError> for ApiError {
    fn from(e: TenancyError) -> Self {
        match e {
            TenancyError::InvalidSlug(_) | TenancyError::InvalidName(_) => ApiError::unprocessable(e.to_string()),
            TenancyError::NotFound(_) => ApiError::not_found("tenant-not-found", e.to_string()),
            TenancyError::AlreadyExists(_) => ApiError::conflict("tenant-exists", e.to_string()),
            TenancyError::Db(db) => db.into(),
        }
    }
}

impl From<FilesError> for ApiError {
    fn from(e: FilesError) -> Self {
        match e {
            FilesError::InvalidKey(_) | FilesError::InvalidContentType(_) => ApiError::unprocessable(e.to_string()),
            FilesError::NotFound(_) => ApiError::not_found("file-not-found", e.to_string()),
            FilesError::TooLarge { .. } => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large", e.to_string())
            }
            FilesError::Body(_) => ApiError::bad_request(e.to_string()),
            FilesError::Storage(s) => s.into(),
            FilesError::Db(db) => db.into(),
        }
    }
}

impl From<crate::auth::AuthError> for ApiError {
    fn from(e: crate::auth::AuthError) -> Self {
        use crate::auth::AuthError as E;
        match e {
            E::InvalidCredentials | E::InvalidCode | E::InvalidToken(_) | E::RefreshReused => {
                ApiError::unauthorized(e.to_string())
            }
            E::Forbidden(m) => ApiError::forbidden("forbidden", m),
            E::NotFound(_) => ApiError::not_found("not-found", e.to_string()),
            E::Conflict(m) => ApiError::conflict("conflict", m),
            E::Invalid(m) => ApiError::unprocessable(m),
            E::RateLimited { retry_after_secs } => {
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate-limited", e.to_string())
                    .with_header(poem::http::header::RETRY_AFTER, retry_after_secs.to_string())
            }
            E::Internal(m) => ApiError::internal(&m),
            E::Db(db) => db.into(),
        }
    }
}

impl From<crate::auth::principal::AccessError> for ApiError {
    fn from(e: crate::auth::principal::AccessError) -> Self {
        use crate::auth::principal::AccessError as E;
        match e {
            E::NoTenant(_) => ApiError::not_found("tenant-not-found", e.to_string()),
            E::Suspended(_) => ApiError::forbidden("tenant-suspended", e.to_string()),
            E::MissingRole(_) => ApiError::forbidden("missing-role", e.to_string()),
            E::Db(db) => db.into(),
        }
    }
}
