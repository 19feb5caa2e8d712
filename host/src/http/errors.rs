//! The one place where domain errors become HTTP problems.

use poem::http::StatusCode;

use super::problem::ApiError;
use crate::db::DbError;
use crate::files::FilesError;
use crate::storage::StorageError;
use crate::tenancy::TenancyError;

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        match &e {
            DbError::Sqlx(sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_)) => {
                tracing::error!(error = %e, "database unavailable");
                ApiError::unavailable("the database is unavailable; retry later")
                    .with_header(poem::http::header::RETRY_AFTER, "1")
            }
            _ if e.is_busy() => {
                tracing::warn!(error = %e, "database busy past its timeout");
                ApiError::unavailable("the database is busy; retry shortly")
                    .with_header(poem::http::header::RETRY_AFTER, "1")
            }
            _ => ApiError::internal(&e),
        }
    }
}

impl From<crate::mail::MailError> for ApiError {
    fn from(e: crate::mail::MailError) -> Self {
        use crate::mail::MailError;
        match e {
            MailError::Invalid(_) | MailError::NoRelay(_) => ApiError::unprocessable(e.to_string()),
            MailError::Limit(_) => ApiError::too_many(e.to_string()),
            MailError::NotFound => ApiError::not_found("mail-not-found", e.to_string()),
            MailError::Db(e) => e.into(),
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
            FilesError::QuotaExceeded(_) => {
                ApiError::new(StatusCode::INSUFFICIENT_STORAGE, "storage-quota-exceeded", e.to_string())
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

impl From<crate::modules::ModuleError> for ApiError {
    fn from(e: crate::modules::ModuleError) -> Self {
        use crate::capabilities::sql::NamespaceError;
        use crate::modules::ModuleError as E;
        use plaza_registry::{ResolveError, SignatureError};
        let detail = e.to_string();
        match e {
            E::Link(_)
            | E::Manifest(_)
            | E::Invalid(_)
            | E::Routes(_)
            | E::Runtime(crate::runtime::RuntimeError::Compile(_)) => {
                ApiError::unprocessable(format!("not a valid module package: {detail}"))
            }
            E::Unknown(_) | E::NoSuchVersion { .. } => ApiError::not_found("module-not-found", detail),
            E::NotEnabled { .. } => ApiError::not_found("module-not-installed", detail),
            E::VersionExists { .. } => ApiError::conflict("version-exists", detail),
            E::TooLarge { .. } => ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large", detail),
            E::Signature(SignatureError::Missing | SignatureError::Untrusted(_)) => {
                ApiError::forbidden("untrusted-package", detail)
            }
            E::Signature(_) => ApiError::unprocessable(format!("bad signature: {detail}")),
            E::Resolve(ResolveError::Unknown(_) | ResolveError::NoMatch { .. }) => {
                ApiError::not_found("module-not-found", detail)
            }
            E::Resolve(ResolveError::BadRange(_) | ResolveError::BadVersion(_)) => ApiError::unprocessable(detail),
            E::Resolve(ResolveError::Cycle(_) | ResolveError::Conflict { .. }) => {
                ApiError::conflict("dependency-conflict", detail)
            }
            E::Refused(_) => ApiError::conflict("module-refused", detail),
            E::Setting(_) => ApiError::unprocessable(detail),
            E::Config(crate::modules::settings::ConfigError::Db(db)) => db.into(),
            E::Config(_) => ApiError::unprocessable(detail),
            E::Namespace(NamespaceError::Migration { .. } | NamespaceError::Changed(_)) => {
                ApiError::conflict("migration-failed", detail)
            }
            // A namespace's database out of connections or out of reach is
            // the database being unavailable (503 with Retry-After), as for
            // the host's own pool, not a server bug.
            E::Namespace(NamespaceError::Db(db)) => DbError::Sqlx(db).into(),
            E::Namespace(NamespaceError::TenantBusy(_)) => {
                ApiError::unavailable(detail).with_header(poem::http::header::RETRY_AFTER, "1")
            }
            E::Tenancy(t) => t.into(),
            E::Db(db) => db.into(),
            E::Blob(_) | E::Runtime(_) | E::Io { .. } | E::Start(_) | E::Namespace(_) => ApiError::internal(&detail),
        }
    }
}

#[cfg(test)]
mod tests {
    use poem::error::ResponseError;

    use super::*;
    use crate::capabilities::sql::NamespaceError;
    use crate::modules::ModuleError;

    #[test]
    fn a_namespace_database_out_of_connections_is_unavailable_not_a_bug() {
        for e in [
            NamespaceError::Db(sqlx::Error::PoolTimedOut),
            NamespaceError::Db(sqlx::Error::PoolClosed),
            NamespaceError::TenantBusy(5),
        ] {
            let api = ApiError::from(ModuleError::Namespace(e));
            assert_eq!(api.status(), StatusCode::SERVICE_UNAVAILABLE, "{api}");
            let response = api.as_response();
            assert_eq!(response.headers().get("retry-after").map(|v| v.as_bytes()), Some(&b"1"[..]));
        }
        let other = ApiError::from(ModuleError::Namespace(NamespaceError::Db(sqlx::Error::RowNotFound)));
        assert_eq!(other.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
