//! `/t/{tenant}/events`: deliveries of events to the tenant's modules, the
//! dead-letter list, and retrying from it (tenant admins). Logic in
//! [`crate::events`].

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Enum, Object, OpenApi};

use super::Tag;
use crate::app::App;
use crate::auth::principal::ADMIN;
use crate::events::deliveries::{self, Delivery};
use crate::http::auth::Auth;
use crate::http::problem::{ApiError, ApiResult};
use crate::http::strict_json::StrictJson;

pub struct EventsApi;

/// A delivery's state.
#[derive(Enum, Clone, Copy)]
#[oai(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Not delivered yet (waiting, or waiting for a retry).
    Pending,
    /// The module accepted it.
    Delivered,
    /// Given up after the last attempt: the dead-letter list.
    Dead,
}

impl DeliveryStatus {
    fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Dead => "dead",
        }
    }
}

/// Which dead deliveries of an event to retry.
#[derive(Object, Default)]
pub struct RetryRequest {
    /// Only the delivery to this module; default: every dead delivery of the event.
    pub module: Option<String>,
}

fn default_limit() -> u32 {
    100
}

#[OpenApi(tag = "Tag::Events")]
impl EventsApi {
    /// List event deliveries
    ///
    /// Newest event first. `status=dead` is the dead-letter list: deliveries
    /// given up after the last retry, with the last error.
    #[oai(path = "/t/:tenant/events", method = "get", operation_id = "listEventDeliveries")]
    async fn list(
        &self,
        Data(app): Data<&Arc<App>>,
        auth: Auth,
        tenant: Path<String>,
        /// Only deliveries in this state.
        status: Query<Option<DeliveryStatus>>,
        /// Only deliveries to this module.
        module: Query<Option<String>>,
        /// At most this many, 1–1000.
        #[oai(validator(minimum(value = "1"), maximum(value = "1000")), default = "default_limit")]
        limit: Query<u32>,
    ) -> ApiResult<Json<Vec<Delivery>>> {
        auth.tenant(app, &tenant, Some(ADMIN)).await?;
        let status = status.0.map(DeliveryStatus::as_str);
        Ok(Json(deliveries::list(&app.db, &tenant, status, module.0.as_deref(), i64::from(limit.0)).await?))
    }

    /// Retry a dead event
    ///
    /// Puts the event's dead deliveries (or the one to `module`) back in
    /// their queues with a fresh set of attempts; they are tried at once.
    #[oai(path = "/t/:tenant/events/:event_id/retry", method = "post", operation_id = "retryEvent")]
    async fn retry(
        &self,
        Data(app): Data<&Arc<App>>,
        auth: Auth,
        tenant: Path<String>,
        event_id: Path<String>,
        body: StrictJson<RetryRequest>,
    ) -> ApiResult<Json<Vec<Delivery>>> {
        auth.tenant(app, &tenant, Some(ADMIN)).await?;
        let actor = auth.principal().actor();
        let retried = deliveries::retry_dead(&app.db, &actor, &tenant, &event_id, body.module.as_deref()).await?;
        if retried.is_empty() {
            let to = body.module.as_ref().map(|m| format!(" to {m:?}")).unwrap_or_default();
            return Err(ApiError::not_found(
                "delivery-not-found",
                format!("event {:?} has no dead delivery{to} for this tenant", event_id.0),
            ));
        }
        Ok(Json(retried))
    }
}
