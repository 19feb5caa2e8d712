//! `playlists`: the admin and mobile API of a TV/streaming app, per tenant.
//!
//! - **Videos** (the catalogue: a title, a duration and the video
//!   provider's `media_id`) and **playlists** of them, kept in order with
//!   positions exactly 1..n even under concurrent edits.
//! - **Live channels** with a stream URL and a logo (stored as a blob).
//! - A **news feed** that producers write and admins approve.
//! - **Ad requests** that agencies submit and admins approve, reject or
//!   complete, with the history of every status change.
//!
//! Roles: the tenant's `admin` may do everything; `producer` creates
//! videos, playlists and news and edits only their own; `agency` submits ad
//! requests and sees only its own; `user` (and anyone) reads the public
//! listings. Every route lives under `/api` and, for older clients, also
//! answers without it (deprecated aliases).
//!
//! Handlers are thin: they read the request, call a plain function of the
//! feature's module, and wrap the answer.

use plaza_sdk::prelude::*;

mod ads;
mod channels;
mod common;
mod news;
mod playlists;
mod videos;

/// Module roles; the tenant's `admin` (and `owner`) exist already.
pub const PRODUCER: &str = "producer";
pub const AGENCY: &str = "agency";
pub const USER: &str = "user";
pub const ADMIN: &str = "admin";

struct Playlists;

impl plaza_sdk::Module for Playlists {
    fn router() -> Router {
        router()
    }
}

plaza_sdk::export!(Playlists);

/// The whole module: its description, capabilities, migration and routes.
fn router() -> Router {
    const EDITORS: [&str; 2] = [ADMIN, PRODUCER];
    const ADS: [&str; 2] = [ADMIN, AGENCY];
    Router::new("playlists", env!("CARGO_PKG_VERSION"))
        .description(
            "A TV/streaming app's admin and mobile API: videos, playlists, live channels, news and ad requests.",
        )
        .capabilities([Capability::Sql, Capability::Blob, Capability::Events, Capability::Log])
        .define_roles([PRODUCER, AGENCY, USER])
        .migration_pg(
            1,
            "videos, playlists, channels, news, ads",
            include_str!("../migrations/0001_catalogue.sql"),
            include_str!("../migrations/0001_catalogue.postgres.sql"),
        )
        .legacy_alias_prefix("/api")
        // ----- videos -----
        .get("/api/videos", videos::list)
        .public()
        .summary("Videos, newest first (query `q`: title contains; `page`, `per_page`)")
        .get("/api/videos/{id}", videos::get)
        .public()
        .summary("One video")
        .post("/api/videos", videos::create)
        .roles(EDITORS)
        .summary("Add a video (admin, producer); `media_id` is unique")
        .put("/api/videos/{id}", videos::update)
        .roles(EDITORS)
        .summary("Change a video (admin, or the producer who added it); absent fields stay")
        .delete("/api/videos/{id}", videos::delete)
        .roles(EDITORS)
        .summary("Delete a video (admin, or its producer); it leaves every playlist")
        // ----- playlists -----
        .get("/api/playlists", playlists::list)
        .public()
        .summary("Playlists, newest first (query `page`, `per_page`)")
        .get("/api/playlists/{id}", playlists::get)
        .public()
        .summary("One playlist with its videos in order")
        .post("/api/playlists", playlists::create)
        .roles(EDITORS)
        .summary("Create a playlist (admin, producer)")
        .put("/api/playlists/{id}", playlists::update)
        .roles(EDITORS)
        .summary("Rename or describe a playlist (admin, or its producer); absent fields stay")
        .delete("/api/playlists/{id}", playlists::delete)
        .roles(EDITORS)
        .summary("Delete a playlist (admin, or its producer)")
        .post("/api/playlists/{id}/items", playlists::add_item)
        .roles(EDITORS)
        .summary("Insert a video at a position (default: the end); answers the playlist")
        .put("/api/playlists/{id}/items/{item_id}", playlists::move_item)
        .roles(EDITORS)
        .summary("Move an item to a position (clamped to 1..=n); answers the playlist")
        .delete("/api/playlists/{id}/items/{item_id}", playlists::remove_item)
        .roles(EDITORS)
        .summary("Remove an item (the others close the gap); answers the playlist")
        // ----- live channels -----
        .get("/api/channels", channels::list)
        .public()
        .summary("Active live channels, by sort order then number (query `page`, `per_page`)")
        .get("/api/channels/{id}", channels::get)
        .public()
        .summary("One live channel (an inactive one only for admins)")
        .get("/api/admin/channels", channels::list_all)
        .roles([ADMIN])
        .summary("Every live channel, inactive ones included (admin)")
        .post("/api/channels", channels::create)
        .roles([ADMIN])
        .summary("Add a live channel (admin); `number` is unique")
        .put("/api/channels/{id}", channels::update)
        .roles([ADMIN])
        .summary("Change a live channel (admin); absent fields stay")
        .delete("/api/channels/{id}", channels::delete)
        .roles([ADMIN])
        .summary("Delete a live channel and its logo (admin)")
        .put("/api/channels/{id}/logo", channels::put_logo)
        .roles([ADMIN])
        .summary("Upload the channel's logo: the raw image (PNG, JPEG, WebP or SVG, at most 2 MB)")
        .request::<common::ImageBytes>()
        .get("/api/channels/{id}/logo", channels::get_logo)
        .public()
        .summary("The channel's logo, with its content type")
        .response::<common::ImageBytes>()
        // ----- news -----
        .get("/api/news", news::list)
        .public()
        .summary("Approved news, newest first (query `page`, `per_page`)")
        .get("/api/news/{id}", news::get)
        .public()
        .summary("One approved news item")
        .post("/api/news", news::create)
        .roles(EDITORS)
        .summary("Write a news item (producer, admin); it waits for approval")
        .get("/api/admin/news", news::list_admin)
        .roles(EDITORS)
        .summary("News in any status: a producer's own, every one for admins (query `status`, `page`, `per_page`)")
        .put("/api/news/{id}", news::update)
        .roles(EDITORS)
        .summary("Change a news item: its producer while pending or rejected (back to pending), admins any")
        .post("/api/news/{id}/approve", news::approve)
        .roles([ADMIN])
        .request::<NoInput>()
        .summary("Approve a pending news item (admin)")
        .post("/api/news/{id}/reject", news::reject)
        .roles([ADMIN])
        .request::<common::Reason>()
        .summary("Reject a pending news item, with a reason (admin)")
        .delete("/api/news/{id}", news::delete)
        .roles(EDITORS)
        .summary("Delete a news item (admin, or its producer)")
        // ----- ad requests -----
        .post("/api/ads", ads::create)
        .roles([AGENCY])
        .summary("Submit an ad request (agency); it starts pending")
        .get("/api/ads", ads::list)
        .roles(ADS)
        .summary("Ad requests: an agency's own, every one for admins (query `status`, `page`, `per_page`)")
        .get("/api/ads/report", ads::report)
        .roles(ADS)
        .summary("Ad requests per status and the approved budget: an agency's own, all for admins")
        .get("/api/ads/{id}", ads::get)
        .roles(ADS)
        .summary("One ad request with its history (its agency, admins)")
        .post("/api/ads/{id}/approve", ads::approve)
        .roles([ADMIN])
        .request::<NoInput>()
        .summary("Approve a pending ad request (admin)")
        .post("/api/ads/{id}/reject", ads::reject)
        .roles([ADMIN])
        .request::<common::Reason>()
        .summary("Reject a pending ad request, with a reason (admin)")
        .post("/api/ads/{id}/cancel", ads::cancel)
        .roles(ADS)
        .request::<common::OptionalReason>()
        .summary("Cancel a pending or approved ad request (its agency, admins); a reason is optional")
        .post("/api/ads/{id}/complete", ads::complete)
        .roles([ADMIN])
        .request::<NoInput>()
        .summary("Mark an approved ad request completed (admin)")
}

#[cfg(test)]
mod tests {
    use plaza_sdk::{Access, Method};

    #[test]
    fn every_route_is_documented_and_aliased() {
        let manifest = super::router().manifest();
        assert_eq!(manifest.name, "playlists");
        assert_eq!(manifest.version, "1.0.0");
        let (routes, aliases): (Vec<_>, Vec<_>) = manifest.routes.iter().partition(|r| r.path.starts_with("/api"));
        assert_eq!(routes.len(), aliases.len(), "every route has its legacy alias");
        for route in &routes {
            assert!(!route.summary.is_empty(), "{} has a summary", route.path);
            assert!(!route.deprecated);
            let no_content = route.method == Method::Delete && !route.path.contains("/items/");
            assert!(route.response_schema.is_some() || no_content, "{} answers a schema", route.path);
            if matches!(route.method, Method::Post | Method::Put) {
                assert!(route.request_schema.is_some(), "{} takes a schema", route.path);
            }
        }
        assert!(aliases.iter().all(|r| r.deprecated && r.operation_id.starts_with("legacy_")));
        let videos = aliases.iter().find(|r| r.path == "/videos" && r.method == Method::Get);
        assert_eq!(videos.map(|r| &r.access), Some(&Access::Public));
        assert_eq!(manifest.roles, ["producer", "agency", "user"]);
    }
}
