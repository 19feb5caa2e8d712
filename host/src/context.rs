//! The per-request context (request id, path, tenant) as a task-local, so
//! that errors, logs and audit rows deep in a call can name the request
//! without threading it through every function.
//!
//! It sits at the bottom of the layers: the HTTP edge sets it, and the
//! audit log, the event store and problem documents read it without
//! importing anything of the HTTP layer.

use std::sync::Arc;

/// What the host knows about the request being served.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub request_id: String,
    pub path: String,
    /// The `{tenant}` of a `/t/{tenant}/…` path, before it is checked.
    pub tenant: Option<String>,
}

tokio::task_local! {
    static CURRENT: Arc<RequestContext>;
}

/// The context of the request this task serves, if any.
pub fn current() -> Option<Arc<RequestContext>> {
    CURRENT.try_with(Arc::clone).ok()
}

/// The current request id, if any.
pub fn request_id() -> Option<String> {
    current().map(|c| c.request_id.clone())
}

/// Runs `fut` with `ctx` as the current request context.
pub async fn scope<F: Future>(ctx: Arc<RequestContext>, fut: F) -> F::Output {
    CURRENT.scope(ctx, fut).await
}

/// Accepts a client's `X-Request-Id` when it is short and plain, else makes one.
pub fn request_id_from_header(value: Option<&str>) -> String {
    match value {
        Some(v)
            if !v.is_empty()
                && v.len() <= 128
                && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b)) =>
        {
            v.to_owned()
        }
        _ => uuid::Uuid::now_v7().to_string(),
    }
}

/// The `{tenant}` segment of `/t/{tenant}/…`.
pub fn tenant_of_path(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/t/")?;
    let seg = rest.split('/').next().unwrap_or(rest);
    (!seg.is_empty()).then_some(seg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_plain_request_ids_and_replaces_others() {
        assert_eq!(request_id_from_header(Some("abc-123_X.y:z")), "abc-123_X.y:z");
        assert_ne!(request_id_from_header(Some("bad id\n")), "bad id\n");
        assert_eq!(request_id_from_header(Some(&"a".repeat(129))).len(), 36);
        assert_eq!(request_id_from_header(None).len(), 36);
    }

    #[test]
    fn finds_the_tenant_segment() {
        assert_eq!(tenant_of_path("/t/acme/files"), Some("acme"));
        assert_eq!(tenant_of_path("/t/acme"), Some("acme"));
        assert_eq!(tenant_of_path("/t/"), None);
        assert_eq!(tenant_of_path("/api/v1/tenants"), None);
    }
}
