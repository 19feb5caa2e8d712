//! `notifications`: tell a tenant's members something, and let them see it
//! wherever they are.
//!
//! - Admins (and holders of the module's `notifier` role) send to a member
//!   or to a role; any other module raises one by publishing
//!   `notifications.requested`.
//! - Each member lists their own with an unread count, marks them read or
//!   unread (or all read) and deletes them; a role's notification is read
//!   and deleted per person.
//! - Delivery: at once on the host's live stream (`/t/{tenant}/stream`,
//!   server-sent events), and by Web Push to the browsers the recipients
//!   registered, sent in batches by the module's own
//!   `notifications.push-due` event so a send answers at once and a push
//!   service that is down delays no one.
//!
//! The handlers validate and delegate: the rules are in [`rules`], the SQL
//! in [`store`].

mod rules;
mod store;

use plaza_sdk::listing::PageRequest;
use plaza_sdk::prelude::*;
use plaza_sdk::push::{self, Subscription, Urgency, WebPush};
use plaza_sdk::validation::Errors;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use rules::Audience;
use store::{Device, Notification};

/// What other modules publish to notify someone.
pub const REQUESTED: &str = "notifications.requested";
/// This module's own event: push a notification to the next devices.
const PUSH_DUE: &str = "notifications.push-due";
/// The stream item's kind.
const CREATED: &str = "notifications.created";
/// Devices pushed to per call (each push is one outbound request).
const PUSH_BATCH: i64 = 8;

struct Notifications;

impl plaza_sdk::Module for Notifications {
    fn router() -> Router {
        Router::new("notifications", env!("CARGO_PKG_VERSION"))
            .description(
                "Notifications to a tenant's members or roles: sent by admins or by other modules' \
                 notifications.requested events, listed with an unread count, delivered live on the host's stream \
                 and by Web Push to registered browsers.",
            )
            // `push` is declared by importing it (plaza:module 1.1).
            .capabilities([Capability::Sql, Capability::Events, Capability::Log])
            .define_roles(["notifier"])
            .migration_pg(
                1,
                "notifications, read marks and devices",
                include_str!("../migrations/0001_notifications.sql"),
                include_str!("../migrations/0001_notifications.postgres.sql"),
            )
            .subscribe(REQUESTED)
            .subscribe(PUSH_DUE)
            .post("/send", send)
            .roles(["admin", "notifier"])
            .summary("Notify a member (`user_id`) or everyone holding a `role`")
            .get("/notifications", list)
            .roles(["member"])
            .summary(
                "The caller's notifications, newest first, with the unread count (query `unread`, `page`, `per_page`)",
            )
            .response::<NotificationPage>()
            .get("/notifications/unread-count", unread_count)
            .roles(["member"])
            .summary("How many of the caller's notifications are unread")
            .post("/notifications/read-all", read_all)
            .roles(["member"])
            .summary("Mark every notification of the caller read")
            .request::<NoInput>()
            .post("/notifications/{id}/read", mark_read)
            .roles(["member"])
            .summary("Mark one notification read")
            .request::<NoInput>()
            .post("/notifications/{id}/unread", mark_unread)
            .roles(["member"])
            .summary("Mark one notification unread")
            .request::<NoInput>()
            .delete("/notifications/{id}", delete)
            .roles(["member"])
            .summary("Delete one notification (for the caller only, when it was sent to a role)")
            .get("/push/public-key", public_key)
            .roles(["member"])
            .summary("The tenant's VAPID public key: the applicationServerKey for pushManager.subscribe")
            .get("/devices", devices)
            .roles(["member"])
            .summary("The caller's registered browsers")
            .post("/devices", register)
            .roles(["member"])
            .summary("Register a browser's push subscription (PushSubscription.toJSON()) for the caller")
            .delete("/devices/{id}", unregister)
            .roles(["member"])
            .summary("Unregister one of the caller's browsers")
    }

    fn on_event(event: Event) -> Result<(), String> {
        match event.event_type.as_str() {
            REQUESTED => requested(&event),
            // Only this module asks itself to push.
            PUSH_DUE if event.source == "notifications" => push_due(&event),
            _ => Ok(()),
        }
    }
}

plaza_sdk::export!(Notifications);

// ----- types -----

/// A notification to send.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewNotification {
    /// The member to notify (their user id), or
    pub user_id: Option<String>,
    /// every member holding this role (`member`, `admin`, or a module's role).
    pub role: Option<String>,
    /// 1 to 200 characters.
    pub title: String,
    /// At most 2 000 characters.
    #[serde(default)]
    pub body: String,
    /// `info` by default; lower-case words joined by `-` or `_`, e.g. `expediente-moved`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Where the notification leads: a path of this site (`/t/acme/gdi/...`) or an `https://` URL.
    pub action_url: Option<String>,
}

/// A page of the caller's notifications.
#[derive(Debug, Serialize, JsonSchema)]
pub struct NotificationPage {
    pub items: Vec<Notification>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
    /// The caller's unread notifications, over all pages.
    pub unread_count: i64,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct UnreadCount {
    pub unread_count: i64,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Marked {
    /// Notifications marked read by this call.
    pub marked: i64,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct PublicKey {
    /// base64url, an uncompressed P-256 point.
    pub public_key: String,
}

/// A browser's push subscription, as `PushSubscription.toJSON()` gives it.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct NewDevice {
    /// The push service's URL for this browser (https).
    pub endpoint: String,
    pub keys: DeviceKeys,
    /// A name the member recognises, e.g. "Firefox on the office PC".
    pub label: Option<String>,
    /// Ignored (browsers send it).
    #[serde(default, rename = "expirationTime")]
    pub expiration_time: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct DeviceKeys {
    /// base64url.
    pub p256dh: String,
    /// base64url.
    pub auth: String,
}

/// `notifications.push-due`: push notification `id` to the devices after `after`.
#[derive(Debug, Serialize, Deserialize)]
struct PushDue {
    id: i64,
    after: i64,
}

// ----- the work -----

/// Stores a notification, puts it on the recipients' live stream and asks
/// for its pushes.
fn create(
    new: &NewNotification,
    source: &str,
    sent_by: Option<&str>,
    event_id: Option<&str>,
) -> Result<Notification, Problem> {
    let checked = rules::check(new)?;
    let notification = sql::transaction(|| -> Result<Notification, Problem> {
        let n = store::insert(&checked, source, sent_by, event_id)?;
        if store::has_devices(&checked.audience)? {
            events::publish(PUSH_DUE, &PushDue { id: n.id, after: 0 })?;
        }
        Ok(n)
    })?;
    let streamed = match &checked.audience {
        Audience::User(user) => push::to_user(user, CREATED, &notification),
        Audience::Role(role) => push::to_role(role, CREATED, &notification),
    };
    // Stored is what counts: the list shows it even if the live stream missed it.
    if let Err(e) = streamed {
        log::warn(format!("notification {} not put on the live stream: {e}", notification.id));
    }
    Ok(notification)
}

fn requested(event: &Event) -> Result<(), String> {
    if store::event_seen(&event.id).map_err(|e| e.to_string())? {
        return Ok(());
    }
    let new: NewNotification = serde_json::from_str(&event.payload)
        .map_err(|e| format!("{REQUESTED} from {}: not a notification: {e}", event.source))?;
    create(&new, "event", Some(&event.source), Some(&event.id))
        .map(|_| ())
        .map_err(|p| format!("{REQUESTED} from {}: {}", event.source, p.detail_text().unwrap_or(p.title())))
}

/// Pushes notification `id` to the next batch of its devices, and asks for
/// the batch after it.
fn push_due(event: &Event) -> Result<(), String> {
    let due: PushDue = serde_json::from_str(&event.payload).map_err(|e| e.to_string())?;
    let Some((notification, audience)) = store::with_audience(due.id).map_err(|e| e.to_string())? else {
        return Ok(());
    };
    let batch = store::devices_for(&audience, due.after, PUSH_BATCH).map_err(|e| e.to_string())?;
    let payload = rules::push_payload(&notification);
    for device in &batch {
        let message = WebPush {
            subscription: Subscription {
                endpoint: device.endpoint.clone(),
                p256dh: device.p256dh.clone(),
                auth: device.auth.clone(),
            },
            payload: payload.clone(),
            ttl_seconds: 24 * 3600,
            urgency: Urgency::Normal,
            topic: None,
        };
        match push::send_web_push(&message) {
            Ok(404 | 410) => {
                log::info(format!("device {} is gone from its push service: forgotten", device.id));
                store::forget_device(device.id).map_err(|e| e.to_string())?;
            }
            Ok(status) if !(200..300).contains(&status) => {
                log::warn(format!("push to device {} answered {status}", device.id));
            }
            Ok(_) => {}
            // One browser's push service down delays no one else.
            Err(e) => log::warn(format!("push to device {} failed: {e}", device.id)),
        }
    }
    if let Some(last) = batch.last().filter(|_| batch.len() as i64 == PUSH_BATCH) {
        events::publish(PUSH_DUE, &PushDue { id: due.id, after: last.id }).map_err(|e| e.to_string())?;
    }
    Ok(())
}

// ----- handlers -----

fn send(req: &Request, Json(new): Json<NewNotification>) -> Result<Created<Notification>, Problem> {
    let by = req.caller().user_id.clone();
    Ok(Created(create(&new, "api", by.as_deref(), None)?))
}

fn me(req: &Request) -> rules::Reader {
    let caller = req.caller();
    rules::Reader::new(caller.user_id.clone().unwrap_or_default(), &caller.roles)
}

fn list(req: &Request) -> Result<Json<NotificationPage>, Problem> {
    let page = PageRequest::from_request(req)?;
    let unread_only = match req.query_param("unread") {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(plaza_sdk::validation::invalid("unread", format!("`unread` is true or false, not {other:?}")));
        }
    };
    let reader = me(req);
    let (items, total) = store::list(&reader, unread_only, page)?;
    let unread_count = store::unread_count(&reader)?;
    Ok(Json(NotificationPage { items, total, page: page.page, per_page: page.per_page, unread_count }))
}

fn unread_count(req: &Request) -> Result<Json<UnreadCount>, Problem> {
    Ok(Json(UnreadCount { unread_count: store::unread_count(&me(req))? }))
}

fn visible(req: &Request) -> Result<(rules::Reader, i64), Problem> {
    let id: i64 = req.path_param("id")?;
    let reader = me(req);
    if !store::is_visible(&reader, id)? {
        return Err(Problem::not_found().detail(format!("you have no notification {id}")));
    }
    Ok((reader, id))
}

fn mark_read(req: &Request) -> Result<NoContent, Problem> {
    let (reader, id) = visible(req)?;
    store::mark_read(&reader, id)?;
    Ok(NoContent)
}

fn mark_unread(req: &Request) -> Result<NoContent, Problem> {
    let (reader, id) = visible(req)?;
    store::mark_unread(&reader, id)?;
    Ok(NoContent)
}

fn read_all(req: &Request) -> Result<Json<Marked>, Problem> {
    Ok(Json(Marked { marked: store::mark_all_read(&me(req))? }))
}

fn delete(req: &Request) -> Result<NoContent, Problem> {
    let (reader, id) = visible(req)?;
    store::delete_for(&reader, id)?;
    Ok(NoContent)
}

fn public_key(_req: &Request) -> Result<Json<PublicKey>, Problem> {
    Ok(Json(PublicKey { public_key: push::vapid_public_key()? }))
}

fn devices(req: &Request) -> Result<Json<Vec<Device>>, Problem> {
    Ok(Json(store::devices_of(&me(req).user)?))
}

fn register(req: &Request, Json(new): Json<NewDevice>) -> Result<Created<Device>, Problem> {
    let mut errors = Errors::default();
    rules::check_device(&mut errors, &new);
    errors.finish()?;
    let reader = me(req);
    Ok(Created(store::register(&reader, &new)?))
}

fn unregister(req: &Request) -> Result<NoContent, Problem> {
    let id: i64 = req.path_param("id")?;
    if store::unregister(&me(req).user, id)? {
        Ok(NoContent)
    } else {
        Err(Problem::not_found().detail(format!("you have no device {id}")))
    }
}
