//! `/t/{tenant}/stream`: the caller's live stream as server-sent events —
//! the items modules sent to them or to one of their roles, numbered per
//! tenant (the SSE `id`), resumed after `Last-Event-ID`. Authenticated like
//! every route (a browser's `EventSource` sends its session cookie). The
//! handler checks the caller and delegates to [`crate::stream`].

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use poem::web::Data;
use poem::web::sse::Event;
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::EventStream;
use poem_openapi::{ApiResponse, OpenApi};
use tokio::sync::broadcast::error::RecvError;

use super::Tag;
use crate::app::App;
use crate::auth::principal::has_role;
use crate::http::auth::Auth;
use crate::http::problem::{ApiError, ApiResult};
use crate::stream::{self, Item, ReaderSlot};

pub struct StreamApi;

/// A comment line is sent this often, so proxies keep the connection.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

#[derive(ApiResponse)]
enum Opened {
    /// Server-sent events: `id` the item's number, `event` its kind, `data`
    /// the item as JSON.
    #[oai(status = 200)]
    Events(EventStream<BoxStream<'static, Item>>),
}

/// Where a reader is.
struct Reader {
    app: Arc<App>,
    tenant: String,
    user: String,
    roles: Vec<String>,
    after: i64,
    ready: VecDeque<Item>,
    woken: tokio::sync::broadcast::Receiver<String>,
    /// When the connection ends, so that the caller is authorised again.
    until: tokio::time::Instant,
    _slot: ReaderSlot,
}

impl Reader {
    /// The next item for this reader, waiting for one as long as it takes.
    async fn next(mut self) -> Option<(Item, Self)> {
        loop {
            if tokio::time::Instant::now() >= self.until {
                return None;
            }
            if let Some(item) = self.ready.pop_front() {
                return Some((item, self));
            }
            let roles = &self.roles;
            let holds = |role: &str| has_role(roles, role);
            match stream::read(&self.app.db, &self.tenant, &self.user, &holds, self.after).await {
                Ok((items, read_to)) => {
                    self.after = read_to;
                    if !items.is_empty() {
                        self.ready.extend(items);
                        continue;
                    }
                }
                Err(e) => tracing::warn!(tenant = %self.tenant, error = %e, "stream read failed; trying again"),
            }
            self.wait().await;
        }
    }

    /// Until this tenant's stream grows here, or the poll interval passes
    /// (items appended by another process).
    async fn wait(&mut self) {
        let poll = tokio::time::sleep_until(self.until.min(tokio::time::Instant::now() + stream::POLL));
        tokio::pin!(poll);
        loop {
            tokio::select! {
                _ = &mut poll => return,
                woken = self.woken.recv() => match woken {
                    Ok(tenant) if tenant == self.tenant => return,
                    Ok(_) => {}
                    Err(RecvError::Lagged(_)) => return,
                    Err(RecvError::Closed) => return (&mut poll).await,
                },
            }
        }
    }
}

#[OpenApi(tag = "Tag::Stream")]
impl StreamApi {
    /// The caller's live stream
    ///
    /// Server-sent events: what the tenant's modules send to the caller or
    /// to one of the caller's roles, as it happens. Each event's `id` is its
    /// number in the tenant's stream: reconnecting with `Last-Event-ID`
    /// (browsers do it by themselves) resumes after it without losing or
    /// repeating one; without it the stream starts with the next item.
    /// Items are kept 7 days. The server ends a connection after
    /// `PLAZA_STREAM_MAX_SECS` (15 minutes); the browser reconnects and is
    /// authorised again.
    #[oai(path = "/t/:tenant/stream", method = "get", operation_id = "readStream")]
    async fn read(
        &self,
        Data(app): Data<&Arc<App>>,
        auth: Auth,
        tenant: Path<String>,
        /// The last item received: resume after it.
        #[oai(name = "Last-Event-ID")]
        last_event_id: Header<Option<String>>,
        /// Resume after this item (for clients that cannot set the header).
        after: Query<Option<i64>>,
    ) -> ApiResult<Opened> {
        let (_, roles) = auth.tenant(app, &tenant, None).await?;
        let resume =
            match last_event_id.0.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                Some(id) => Some(id.parse::<i64>().map_err(|_| {
                    ApiError::unprocessable(format!("Last-Event-ID {id:?} is not an id of this stream"))
                })?),
                None => after.0,
            };
        let after = match resume {
            Some(n) if n >= 0 => n,
            Some(_) => return Err(ApiError::unprocessable("the id to resume after is not negative")),
            None => stream::head(&app.db, &tenant).await?,
        };
        let hub = &app.modules.services().push.hub;
        let slot = hub.reader(&tenant).ok_or_else(|| {
            ApiError::too_many(format!(
                "the tenant has {} streams open on this server; close one",
                stream::MAX_READERS_PER_TENANT
            ))
        })?;
        let reader = Reader {
            app: Arc::clone(app),
            tenant: tenant.0,
            user: auth.principal().user_id(),
            roles,
            after,
            ready: VecDeque::new(),
            woken: hub.subscribe(),
            until: tokio::time::Instant::now() + Duration::from_secs(app.config.stream_max_secs),
            _slot: slot,
        };
        let items = futures_util::stream::unfold(reader, Reader::next).boxed();
        Ok(Opened::Events(EventStream::new(items).keep_alive(KEEP_ALIVE).to_event(|item: Item| {
            let data = serde_json::to_string(&item).unwrap_or_default();
            Event::message(data).id(item.id.to_string()).event_type(item.kind)
        })))
    }
}
