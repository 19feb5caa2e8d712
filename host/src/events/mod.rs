//! Events, as stored: what modules (and the host) published, in
//! `event_outbox`, and each subscriber's delivery of it in
//! `event_deliveries`, with its attempts, leases and the dead-letter list
//! ([`deliveries`]). The dispatcher that delivers them is in
//! `workers/dispatcher.rs`, above the modules it calls.

pub mod deliveries;

/// Who publishes the host's own events (`module.enabled`, `member.added`…).
pub const HOST_SOURCE: &str = "plaza";
