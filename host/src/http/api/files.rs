//! `/t/{tenant}/files`: a tenant's files on the object store. Handlers
//! validate and delegate to [`crate::files`].
//!
//! A key is one path parameter: clients percent-encode `/` inside it
//! (`reports%2F2026.pdf`), as OpenAPI generators do for every path parameter.

use std::sync::Arc;

use poem::Body;
use poem::http::StatusCode;
use poem::web::Data;
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::{Binary, Json, Payload};
use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::multipart::Upload;
use poem_openapi::{ApiResponse, Multipart, OpenApi};
use tokio_util::io::ReaderStream;

use super::Tag;
use crate::app::App;
use crate::auth::principal::MEMBER;
use crate::files::{self, FileMeta, FilePage, NewFile};
use crate::http::auth::Auth;
use crate::http::problem::{ApiError, ApiResult, Problem, ProblemJson};
use crate::tenancy::Tenant;

pub struct FilesApi;

/// A multipart upload.
#[derive(Multipart)]
pub struct UploadForm {
    /// The file's content.
    pub file: Upload,
    /// The key to store it under; defaults to the part's file name.
    pub key: Option<String>,
}

#[derive(ApiResponse)]
pub enum Uploaded {
    /// A new file was stored.
    #[oai(status = 201)]
    Created(Json<FileMeta>, #[oai(header = "Location")] String, #[oai(header = "ETag")] String),
    /// An existing file was replaced.
    #[oai(status = 200)]
    Replaced(Json<FileMeta>, #[oai(header = "ETag")] String),
}

#[derive(ApiResponse)]
pub enum Deleted {
    /// The file is gone.
    #[oai(status = 204)]
    Deleted,
}

/// A file's bytes with their own content type.
pub struct FileBody {
    pub content_type: String,
    pub body: Body,
}

impl Payload for FileBody {
    const CONTENT_TYPE: &'static str = "application/octet-stream";

    fn check_content_type(_content_type: &str) -> bool {
        true
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema { format: Some("binary"), ..MetaSchema::new("string") }))
    }
}

impl poem::IntoResponse for FileBody {
    fn into_response(self) -> poem::Response {
        poem::Response::builder().content_type(self.content_type).body(self.body)
    }
}

#[derive(ApiResponse)]
pub enum Download {
    /// The whole file, streamed.
    #[oai(status = 200)]
    Full(
        FileBody,
        #[oai(header = "Content-Length")] u64,
        #[oai(header = "ETag")] String,
        #[oai(header = "Accept-Ranges")] String,
    ),
    /// The requested byte range; for several ranges, a
    /// `multipart/byteranges` body with one part per range (and no
    /// `Content-Range` on the whole).
    #[oai(status = 206)]
    Partial(
        FileBody,
        #[oai(header = "Content-Length")] u64,
        #[oai(header = "ETag")] String,
        #[oai(header = "Content-Range")] Option<String>,
    ),
    /// The client's copy (`If-None-Match`) is current.
    #[oai(status = 304)]
    NotModified(#[oai(header = "ETag")] String),
    /// The range lies outside the file.
    #[oai(status = 416)]
    RangeNotSatisfiable(ProblemJson<Problem>, #[oai(header = "Content-Range")] String),
}

/// What a `Range` header asks for, once checked against the file's size.
#[derive(Debug, PartialEq, Eq)]
enum RangeAsk {
    Whole,
    Part(std::ops::Range<u64>),
    /// Several ranges, sorted, adjacent ones merged.
    Parts(Vec<std::ops::Range<u64>>),
    Unsatisfiable,
}

/// Most ranges answered as parts; a header asking for more gets the whole
/// file (RFC 9110 lets a server ignore a Range it finds too costly).
const MAX_PARTS: usize = 16;

/// Reads a `bytes=` range set. An unparseable header is ignored (the whole
/// file is sent), as RFC 9110 allows.
fn range_ask(header: Option<&str>, size: u64) -> RangeAsk {
    let Some(raw) = header else { return RangeAsk::Whole };
    let Ok(parsed) = http_range_header::parse_range_header(raw) else { return RangeAsk::Whole };
    if size == 0 {
        // No byte of an empty file can be addressed.
        return RangeAsk::Unsatisfiable;
    }
    let ranges = match parsed.validate(size) {
        Ok(ranges) => ranges,
        // Overlapping ranges cost more than they save: the whole file.
        Err(http_range_header::RangeUnsatisfiableError::OverlappingRanges) => return RangeAsk::Whole,
        Err(_) => return RangeAsk::Unsatisfiable,
    };
    let mut ranges: Vec<std::ops::Range<u64>> = ranges.iter().map(|r| *r.start()..r.end() + 1).collect();
    ranges.sort_by_key(|r| r.start);
    let mut merged: Vec<std::ops::Range<u64>> = Vec::with_capacity(ranges.len());
    for r in ranges {
        match merged.last_mut() {
            Some(last) if r.start == last.end => last.end = r.end,
            _ => merged.push(r),
        }
    }
    match merged.len() {
        0 => RangeAsk::Unsatisfiable,
        1 => merged.pop().map_or(RangeAsk::Unsatisfiable, RangeAsk::Part),
        n if n > MAX_PARTS => RangeAsk::Whole,
        _ => RangeAsk::Parts(merged),
    }
}

/// A `multipart/byteranges` answer (RFC 9110, 14.6): its content type, its
/// exact length, and its body, each part read from the store when reached.
fn multipart(
    storage: &crate::storage::Storage,
    meta: &files::FileMeta,
    parts: Vec<std::ops::Range<u64>>,
) -> (String, u64, Body) {
    use futures_util::{StreamExt, TryStreamExt};
    let size = meta.size;
    let boundary = format!("plaza-{}", uuid::Uuid::new_v4().simple());
    let head = |r: &std::ops::Range<u64>| {
        format!(
            "\r\n--{boundary}\r\nContent-Type: {}\r\nContent-Range: bytes {}-{}/{size}\r\n\r\n",
            meta.content_type,
            r.start,
            r.end - 1
        )
    };
    let tail = format!("\r\n--{boundary}--\r\n");
    let length = parts.iter().map(|r| head(r).len() as u64 + (r.end - r.start)).sum::<u64>() + tail.len() as u64;
    let heads: Vec<String> = parts.iter().map(head).collect();
    let (storage, meta) = (storage.clone(), meta.clone());
    let body = futures_util::stream::iter(parts.into_iter().zip(heads))
        .then(move |(range, head)| {
            let (storage, meta) = (storage.clone(), meta.clone());
            async move {
                let data = files::open(&storage, &meta, Some(range)).await.map_err(std::io::Error::other)?;
                let head = futures_util::stream::once(async move { Ok(bytes::Bytes::from(head)) });
                Ok::<_, std::io::Error>(head.chain(data))
            }
        })
        .try_flatten()
        .chain(futures_util::stream::once(async move { Ok(bytes::Bytes::from(tail)) }));
    (format!("multipart/byteranges; boundary={boundary}"), length, Body::from_bytes_stream(body))
}

fn etag_matches(if_none_match: Option<&str>, etag: &str) -> bool {
    if_none_match.is_some_and(|v| {
        v.split(',').map(str::trim).any(|t| t == "*" || t == etag || t.strip_prefix("W/") == Some(etag))
    })
}

/// The tenant's storage quota in bytes.
async fn storage_quota(app: &App, tenant: &Tenant) -> ApiResult<u64> {
    Ok(app.modules.services().quotas.of(&app.db, &tenant.id).await?.storage_bytes)
}

/// The tenant, if the caller may read its files (any role) or write them (`member`).
async fn tenant_for(app: &App, auth: &Auth, slug: &str, write: bool) -> ApiResult<Tenant> {
    Ok(auth.tenant(app, slug, write.then_some(MEMBER)).await?.0)
}

fn uploaded(tenant: &str, meta: FileMeta, created: bool) -> Uploaded {
    let etag = meta.etag.clone();
    if created {
        let location = format!("/t/{tenant}/files/{}", urlencode(&meta.key));
        Uploaded::Created(Json(meta), location, etag)
    } else {
        Uploaded::Replaced(Json(meta), etag)
    }
}

/// Percent-encodes a key as one path segment.
fn urlencode(key: &str) -> String {
    url::form_urlencoded::byte_serialize(key.as_bytes()).collect::<String>().replace('+', "%20")
}

#[OpenApi(tag = "Tag::Files")]
impl FilesApi {
    /// Upload a file (multipart)
    ///
    /// `multipart/form-data` with a `file` part and an optional `key` (default:
    /// the part's file name). Replaces a file of the same key only once the new
    /// content is completely stored.
    #[oai(path = "/t/:tenant/files", method = "post", operation_id = "uploadFileMultipart")]
    async fn upload_multipart(
        &self,
        Data(app): Data<&Arc<App>>,
        auth: Auth,
        tenant: Path<String>,
        form: UploadForm,
    ) -> ApiResult<Uploaded> {
        let tenant = tenant_for(app, &auth, &tenant, true).await?;
        let key = form
            .key
            .or_else(|| form.file.file_name().map(str::to_owned))
            .ok_or_else(|| ApiError::unprocessable("give a `key` field or a file name on the `file` part"))?;
        let content_type = files::content_type_or_default(form.file.content_type())?;
        if form.file.size() as u64 > app.config.max_upload_bytes {
            return Err(files::FilesError::TooLarge { limit: app.config.max_upload_bytes }.into());
        }
        let body = ReaderStream::new(form.file.into_async_read());
        let quota = storage_quota(app, &tenant).await?;
        let file = NewFile { key: &key, content_type: &content_type, limit: app.config.max_upload_bytes, quota };
        let (meta, created) =
            files::upload(&app.db, &app.storage, &auth.principal().actor(), &tenant, file, body).await?;
        Ok(uploaded(&tenant.id, meta, created))
    }

    /// Upload a file (raw body)
    ///
    /// The body is the content; `Content-Type` is recorded and served back.
    #[oai(path = "/t/:tenant/files/:key", method = "put", operation_id = "putFile")]
    async fn put(
        &self,
        Data(app): Data<&Arc<App>>,
        auth: Auth,
        tenant: Path<String>,
        /// The file key (percent-encode `/`).
        key: Path<String>,
        #[oai(name = "Content-Type")] content_type: Header<Option<String>>,
        body: Binary<Body>,
    ) -> ApiResult<Uploaded> {
        let tenant = tenant_for(app, &auth, &tenant, true).await?;
        files::validate_key(&key)?;
        let content_type = files::content_type_or_default(content_type.0.as_deref())?;
        let quota = storage_quota(app, &tenant).await?;
        let file = NewFile { key: &key, content_type: &content_type, limit: app.config.max_upload_bytes, quota };
        let stream = body.0.into_bytes_stream();
        let (meta, created) =
            files::upload(&app.db, &app.storage, &auth.principal().actor(), &tenant, file, stream).await?;
        Ok(uploaded(&tenant.id, meta, created))
    }

    /// List files
    ///
    /// In key order, optionally under a prefix; follow `next_cursor` for more.
    #[oai(path = "/t/:tenant/files", method = "get", operation_id = "listFiles")]
    async fn list(
        &self,
        Data(app): Data<&Arc<App>>,
        auth: Auth,
        tenant: Path<String>,
        /// Only keys starting with this.
        #[oai(default)]
        prefix: Query<String>,
        /// The `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
        /// Items per page, 1–1000.
        #[oai(validator(minimum(value = "1"), maximum(value = "1000")), default = "default_page")]
        limit: Query<u32>,
    ) -> ApiResult<Json<FilePage>> {
        let tenant = tenant_for(app, &auth, &tenant, false).await?;
        Ok(Json(files::list(&app.db, &tenant, &prefix, cursor.0.as_deref(), limit.0).await?))
    }

    /// Download a file
    ///
    /// Streamed with its `Content-Type`, `Content-Length` and `ETag`.
    /// `Range: bytes=…` gives 206: one range as itself, several (up to 16,
    /// adjacent ones merged) as `multipart/byteranges`; more than 16 or
    /// overlapping ones, the whole file. `If-None-Match` with the current
    /// ETag gives 304.
    #[oai(path = "/t/:tenant/files/:key", method = "get", operation_id = "downloadFile")]
    async fn download(
        &self,
        Data(app): Data<&Arc<App>>,
        auth: Auth,
        tenant: Path<String>,
        /// The file key (percent-encode `/`).
        key: Path<String>,
        #[oai(name = "Range")] range: Header<Option<String>>,
        #[oai(name = "If-None-Match")] if_none_match: Header<Option<String>>,
    ) -> ApiResult<Download> {
        let tenant = tenant_for(app, &auth, &tenant, false).await?;
        let meta = files::metadata(&app.db, &tenant, &key).await?;
        if etag_matches(if_none_match.0.as_deref(), &meta.etag) {
            return Ok(Download::NotModified(meta.etag));
        }
        let size = u64::try_from(meta.size).unwrap_or(0);
        match range_ask(range.0.as_deref(), size) {
            RangeAsk::Whole => {
                let stream = files::open(&app.storage, &meta, None).await?;
                let body = FileBody { content_type: meta.content_type.clone(), body: Body::from_bytes_stream(stream) };
                Ok(Download::Full(body, size, meta.etag, "bytes".into()))
            }
            RangeAsk::Part(r) => {
                let content_range = format!("bytes {}-{}/{size}", r.start, r.end - 1);
                let len = r.end - r.start;
                let stream = files::open(&app.storage, &meta, Some(r)).await?;
                let body = FileBody { content_type: meta.content_type.clone(), body: Body::from_bytes_stream(stream) };
                Ok(Download::Partial(body, len, meta.etag, Some(content_range)))
            }
            RangeAsk::Parts(parts) => {
                let (content_type, len, body) = multipart(&app.storage, &meta, parts);
                Ok(Download::Partial(FileBody { content_type, body }, len, meta.etag, None))
            }
            RangeAsk::Unsatisfiable => {
                let problem = ApiError::new(
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    "range-not-satisfiable",
                    format!("the file has {size} bytes"),
                )
                .to_problem();
                Ok(Download::RangeNotSatisfiable(ProblemJson(problem), format!("bytes */{size}")))
            }
        }
    }

    /// File metadata
    #[oai(path = "/t/:tenant/files/:key/metadata", method = "get", operation_id = "getFileMetadata")]
    async fn metadata(
        &self,
        Data(app): Data<&Arc<App>>,
        auth: Auth,
        tenant: Path<String>,
        /// The file key (percent-encode `/`).
        key: Path<String>,
    ) -> ApiResult<Json<FileMeta>> {
        let tenant = tenant_for(app, &auth, &tenant, false).await?;
        Ok(Json(files::metadata(&app.db, &tenant, &key).await?))
    }

    /// Delete a file
    #[oai(path = "/t/:tenant/files/:key", method = "delete", operation_id = "deleteFile")]
    async fn delete(
        &self,
        Data(app): Data<&Arc<App>>,
        auth: Auth,
        tenant: Path<String>,
        /// The file key (percent-encode `/`).
        key: Path<String>,
    ) -> ApiResult<Deleted> {
        let tenant = tenant_for(app, &auth, &tenant, true).await?;
        files::delete(&app.db, &app.storage, &auth.principal().actor(), &tenant, &key).await?;
        Ok(Deleted::Deleted)
    }
}

fn default_page() -> u32 {
    100
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert!(matches!(range_ask(None, 10), RangeAsk::Whole));
        assert!(matches!(range_ask(Some("bytes=0-3"), 10), RangeAsk::Part(r) if r == (0..4)));
        assert!(matches!(range_ask(Some("bytes=5-"), 10), RangeAsk::Part(r) if r == (5..10)));
        assert!(matches!(range_ask(Some("bytes=-2"), 10), RangeAsk::Part(r) if r == (8..10)));
        assert!(matches!(range_ask(Some("bytes=20-30"), 10), RangeAsk::Unsatisfiable));
        assert!(matches!(range_ask(Some("lines=1-2"), 10), RangeAsk::Whole));
        assert_eq!(range_ask(Some("bytes=0-1,4-5"), 10), RangeAsk::Parts(vec![0..2, 4..6]));
        assert_eq!(range_ask(Some("bytes=7-8,0-1,2-3"), 10), RangeAsk::Parts(vec![0..4, 7..9]), "sorted, merged");
        assert_eq!(range_ask(Some("bytes=0-1,2-5"), 10), RangeAsk::Part(0..6), "adjacent: one range");
        assert_eq!(range_ask(Some("bytes=0-3,2-5"), 10), RangeAsk::Whole, "overlapping: the whole file");
        let many = (0..20).map(|i| format!("{}-{}", i * 3, i * 3)).collect::<Vec<_>>().join(",");
        assert_eq!(range_ask(Some(&format!("bytes={many}")), 100), RangeAsk::Whole);
        assert!(matches!(range_ask(Some("bytes=0-0"), 0), RangeAsk::Unsatisfiable));
        assert!(matches!(range_ask(Some("bytes=-5"), 0), RangeAsk::Unsatisfiable));
    }

    #[test]
    fn etags() {
        assert!(etag_matches(Some("\"abc\""), "\"abc\""));
        assert!(etag_matches(Some("\"x\", W/\"abc\""), "\"abc\""));
        assert!(etag_matches(Some("*"), "\"abc\""));
        assert!(!etag_matches(Some("\"x\""), "\"abc\""));
        assert!(!etag_matches(None, "\"abc\""));
    }

    #[test]
    fn keys_encode_as_one_segment() {
        assert_eq!(urlencode("a/b c.txt"), "a%2Fb%20c.txt");
    }
}
