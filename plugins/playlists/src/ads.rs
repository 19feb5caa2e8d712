//! Ad requests: agencies submit them, admins decide. Every status change
//! is recorded in `ad_history` (creation first, from no status).
//!
//! pending → approved | rejected | cancelled; approved → cancelled |
//! completed; nothing else (409).

use plaza_sdk::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{self, Errors, Page, PageRequest};

const COLUMNS: &str =
    "id, agency_id, campaign, advertiser, starts_on, ends_on, budget_cents, notes, status, created_at, updated_at";

pub const PENDING: &str = "pending";
pub const APPROVED: &str = "approved";
pub const REJECTED: &str = "rejected";
pub const CANCELLED: &str = "cancelled";
pub const COMPLETED: &str = "completed";
const STATUSES: [&str; 5] = [PENDING, APPROVED, REJECTED, CANCELLED, COMPLETED];

/// Whether an ad request may go from `from` to `to`.
pub fn allowed(from: &str, to: &str) -> bool {
    matches!((from, to), (PENDING, APPROVED | REJECTED | CANCELLED) | (APPROVED, CANCELLED | COMPLETED))
}

/// An ad request.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Ad {
    pub id: i64,
    /// The agency (user) that submitted it.
    pub agency_id: String,
    pub campaign: String,
    pub advertiser: String,
    /// `YYYY-MM-DD`.
    pub starts_on: String,
    /// `YYYY-MM-DD`, on or after `starts_on`.
    pub ends_on: String,
    pub budget_cents: i64,
    pub notes: String,
    /// `pending`, `approved`, `rejected`, `cancelled` or `completed`.
    pub status: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub updated_at: String,
}

/// An ad request with its history.
#[derive(Debug, Serialize, JsonSchema)]
pub struct AdDetail {
    #[serde(flatten)]
    pub ad: Ad,
    /// Every status change, oldest first; creation is the first.
    pub history: Vec<Change>,
}

/// One status change.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Change {
    /// `null` for the creation.
    pub from_status: Option<String>,
    pub to_status: String,
    /// Who made the change (a user id).
    pub by: String,
    /// RFC 3339, UTC.
    pub at: String,
    pub reason: Option<String>,
}

/// A row of `ad_history` (`by` is a SQL keyword: the column is `actor`).
#[derive(Deserialize)]
struct ChangeRow {
    from_status: Option<String>,
    to_status: String,
    actor: String,
    at: String,
    reason: Option<String>,
}

/// A new ad request.
#[derive(Deserialize, JsonSchema)]
pub struct NewAd {
    /// 1 to 200 characters.
    campaign: String,
    /// 1 to 200 characters.
    advertiser: String,
    /// `YYYY-MM-DD`.
    starts_on: String,
    /// `YYYY-MM-DD`, on or after `starts_on`.
    ends_on: String,
    /// Above 0.
    budget_cents: i64,
    /// Up to 5000 characters; empty when absent.
    #[serde(default)]
    notes: String,
}

/// Ad requests per status.
#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct StatusCounts {
    pub pending: i64,
    pub approved: i64,
    pub rejected: i64,
    pub cancelled: i64,
    pub completed: i64,
}

/// The report: an agency's own ad requests, or every one for admins.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Report {
    /// How many ad requests, in every status.
    pub total: i64,
    pub counts: StatusCounts,
    /// The budget of the requests that are approved now (not yet completed).
    pub approved_budget_cents: i64,
    /// The budget of the completed ones.
    pub completed_budget_cents: i64,
}

#[derive(Deserialize)]
struct StatusQuery {
    status: Option<String>,
}

// ----- handlers -----

pub fn create(req: &Request, Json(new): Json<NewAd>) -> Result<Created<AdDetail>, Problem> {
    let agency = common::user_id(req.caller())?;
    let id = insert(check(new)?, agency)?;
    detail(id).map(Created)
}

pub fn list(req: &Request) -> Result<Json<Page<Ad>>, Problem> {
    let page = PageRequest::from_request(req)?;
    let StatusQuery { status } = req.query()?;
    let status = status.map(|s| check_status(&s)).transpose()?;
    let (filter, params) = match (scope(req.caller())?, status) {
        (None, None) => ("FROM ads", vec![]),
        (None, Some(s)) => ("FROM ads WHERE status = $1", vec![s.into()]),
        (Some(a), None) => ("FROM ads WHERE agency_id = $1", vec![a.into()]),
        (Some(a), Some(s)) => ("FROM ads WHERE agency_id = $1 AND status = $2", vec![a.into(), s.into()]),
    };
    common::paged(COLUMNS, filter, "id DESC", &params, page).map(Json)
}

pub fn get(req: &Request) -> Result<Json<AdDetail>, Problem> {
    let ad = visible(req)?;
    detail(ad.id).map(Json)
}

pub fn report(req: &Request) -> Result<Json<Report>, Problem> {
    summarise(scope(req.caller())?).map(Json)
}

pub fn approve(req: &Request) -> Result<Json<AdDetail>, Problem> {
    let ad = visible(req)?;
    transition(&ad, APPROVED, None, common::user_id(req.caller())?).map(Json)
}

pub fn reject(req: &Request) -> Result<Json<AdDetail>, Problem> {
    let ad = visible(req)?;
    let reason = common::required_reason(req)?;
    transition(&ad, REJECTED, Some(&reason), common::user_id(req.caller())?).map(Json)
}

pub fn cancel(req: &Request) -> Result<Json<AdDetail>, Problem> {
    let ad = visible(req)?;
    let reason = common::optional_reason(req)?;
    transition(&ad, CANCELLED, reason.as_deref(), common::user_id(req.caller())?).map(Json)
}

pub fn complete(req: &Request) -> Result<Json<AdDetail>, Problem> {
    let ad = visible(req)?;
    transition(&ad, COMPLETED, None, common::user_id(req.caller())?).map(Json)
}

/// Whose ad requests the caller sees: `None` for admins (all), else the
/// caller's own.
fn scope(caller: &Caller) -> Result<Option<&str>, Problem> {
    if common::is_admin(caller) { Ok(None) } else { common::user_id(caller).map(Some) }
}

/// The ad request of the path, if the caller may see it: another agency's
/// is a 404, as if it did not exist.
fn visible(req: &Request) -> Result<Ad, Problem> {
    let id = common::id(req)?;
    let ad = find(id)?;
    match scope(req.caller())? {
        Some(agency) if agency != ad.agency_id => Err(not_found(id)),
        _ => Ok(ad),
    }
}

// ----- logic -----

fn not_found(id: i64) -> Problem {
    Problem::not_found().detail(format!("no ad request {id}"))
}

fn check_status(status: &str) -> Result<&'static str, Problem> {
    STATUSES
        .into_iter()
        .find(|s| *s == status)
        .ok_or_else(|| common::invalid("status", format!("`status` is one of {}, not `{status}`", STATUSES.join(", "))))
}

/// A new request's fields, trimmed and checked together.
fn check(new: NewAd) -> Result<NewAd, Problem> {
    let mut errors = Errors::default();
    let campaign = common::text(&mut errors, "campaign", &new.campaign, 1, 200);
    let advertiser = common::text(&mut errors, "advertiser", &new.advertiser, 1, 200);
    let notes = common::text(&mut errors, "notes", &new.notes, 0, 5000);
    let starts_on = new.starts_on.trim().to_owned();
    let ends_on = new.ends_on.trim().to_owned();
    let dates = [("starts_on", &starts_on), ("ends_on", &ends_on)];
    for (field, date) in dates {
        errors.check(common::is_date(date), field, || format!("`{field}` must be a date, YYYY-MM-DD, not `{date}`"));
    }
    if common::is_date(&starts_on) && common::is_date(&ends_on) {
        // YYYY-MM-DD compares as text in calendar order.
        errors.check(ends_on >= starts_on, "ends_on", || {
            format!("`ends_on` ({ends_on}) must not be before `starts_on` ({starts_on})")
        });
    }
    errors.check(new.budget_cents > 0, "budget_cents", || {
        format!("`budget_cents` must be above 0, not {}", new.budget_cents)
    });
    errors.finish()?;
    Ok(NewAd { campaign, advertiser, starts_on, ends_on, budget_cents: new.budget_cents, notes })
}

/// The ad request, or 404.
pub fn find(id: i64) -> Result<Ad, Problem> {
    sql::query_one_as(&format!("SELECT {COLUMNS} FROM ads WHERE id = $1"), &params![id])?.ok_or_else(|| not_found(id))
}

/// The ad request with its history, or 404.
pub fn detail(id: i64) -> Result<AdDetail, Problem> {
    let ad = find(id)?;
    let rows: Vec<ChangeRow> = sql::query_as(
        "SELECT from_status, to_status, actor, at, reason FROM ad_history WHERE ad_id = $1 ORDER BY id",
        &params![id],
    )?;
    let history = rows
        .into_iter()
        .map(|r| Change { from_status: r.from_status, to_status: r.to_status, by: r.actor, at: r.at, reason: r.reason })
        .collect();
    Ok(AdDetail { ad, history })
}

fn record(id: i64, from: Option<&str>, to: &str, by: &str, at: &str, reason: Option<&str>) -> Result<(), Problem> {
    sql::execute(
        "INSERT INTO ad_history (ad_id, from_status, to_status, actor, at, reason) VALUES ($1, $2, $3, $4, $5, $6)",
        &params![id, from, to, by, at, reason],
    )?;
    Ok(())
}

/// The payload of `playlists.ad.status-changed`.
#[derive(Serialize)]
struct StatusChanged<'a> {
    id: i64,
    agency_id: &'a str,
    from_status: Option<&'a str>,
    to_status: &'a str,
}

fn insert(new: NewAd, agency: &str) -> Result<i64, Problem> {
    sql::transaction(|| -> Result<i64, Problem> {
        let now = time::now_rfc3339();
        let rows = sql::query(
            "INSERT INTO ads (agency_id, campaign, advertiser, starts_on, ends_on, budget_cents, notes, status, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING id",
            &params![
                agency,
                new.campaign.as_str(),
                new.advertiser.as_str(),
                new.starts_on.as_str(),
                new.ends_on.as_str(),
                new.budget_cents,
                new.notes.as_str(),
                PENDING,
                now.as_str()
            ],
        )?;
        let id = common::returned_id(&rows)?;
        record(id, None, PENDING, agency, &now, None)?;
        let event = StatusChanged { id, agency_id: agency, from_status: None, to_status: PENDING };
        events::publish("playlists.ad.status-changed", &event)?;
        Ok(id)
    })
}

fn illegal(ad: &Ad, current: &str, to: &str) -> Problem {
    Problem::conflict(format!("ad request {} is {current}: it cannot become {to}", ad.id))
        .with("current_status", current)
        .with("wanted_status", to)
}

/// Moves the request to `to` if its status allows it (409 naming both
/// statuses otherwise), with a history entry, in one transaction.
fn transition(ad: &Ad, to: &str, reason: Option<&str>, by: &str) -> Result<AdDetail, Problem> {
    if !allowed(&ad.status, to) {
        return Err(illegal(ad, &ad.status, to));
    }
    sql::transaction(|| -> Result<(), Problem> {
        let now = time::now_rfc3339();
        // Compare-and-set: a concurrent change makes this update nothing.
        let changed = sql::execute(
            "UPDATE ads SET status = $1, updated_at = $2 WHERE id = $3 AND status = $4",
            &params![to, now.as_str(), ad.id, ad.status.as_str()],
        )?;
        if changed == 0 {
            let current = find(ad.id)?.status;
            return Err(illegal(ad, &current, to));
        }
        record(ad.id, Some(&ad.status), to, by, &now, reason)?;
        let event = StatusChanged { id: ad.id, agency_id: &ad.agency_id, from_status: Some(&ad.status), to_status: to };
        events::publish("playlists.ad.status-changed", &event)?;
        Ok(())
    })?;
    plaza_sdk::info!("ad request {} {} → {to} by {by}", ad.id, ad.status);
    detail(ad.id)
}

/// Counts per status and budgets, for one agency or all.
fn summarise(agency: Option<&str>) -> Result<Report, Problem> {
    #[derive(Deserialize)]
    struct Row {
        status: String,
        n: i64,
        budget: i64,
    }
    let (filter, params): (&str, Vec<sql::Value>) = match agency {
        None => ("", vec![]),
        Some(a) => ("WHERE agency_id = $1", vec![a.into()]),
    };
    let rows: Vec<Row> = sql::query_as(
        &format!(
            "SELECT status, COUNT(*) AS n, COALESCE(SUM(budget_cents), 0) AS budget FROM ads {filter} GROUP BY status"
        ),
        &params,
    )?;
    let mut report =
        Report { total: 0, counts: StatusCounts::default(), approved_budget_cents: 0, completed_budget_cents: 0 };
    for row in rows {
        report.total += row.n;
        let c = &mut report.counts;
        match row.status.as_str() {
            PENDING => c.pending = row.n,
            APPROVED => {
                c.approved = row.n;
                report.approved_budget_cents = row.budget;
            }
            REJECTED => c.rejected = row.n,
            CANCELLED => c.cancelled = row.n,
            COMPLETED => {
                c.completed = row.n;
                report.completed_budget_cents = row.budget;
            }
            _ => {}
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions() {
        assert!(allowed(PENDING, APPROVED) && allowed(PENDING, REJECTED) && allowed(PENDING, CANCELLED));
        assert!(allowed(APPROVED, CANCELLED) && allowed(APPROVED, COMPLETED));
        assert!(!allowed(PENDING, COMPLETED));
        assert!(!allowed(APPROVED, APPROVED));
        assert!(!allowed(REJECTED, APPROVED));
        for end in [REJECTED, CANCELLED, COMPLETED] {
            assert!(STATUSES.iter().all(|to| !allowed(end, to)), "{end} is final");
        }
    }

    #[test]
    fn new_requests_are_checked() {
        let new = |starts: &str, ends: &str, budget| NewAd {
            campaign: " Spring ".into(),
            advertiser: "Acme".into(),
            starts_on: starts.into(),
            ends_on: ends.into(),
            budget_cents: budget,
            notes: String::new(),
        };
        assert_eq!(check(new("2025-03-01", "2025-03-01", 1)).ok().map(|a| a.campaign), Some("Spring".into()));
        let fields = |p: Problem| p.extensions()["errors"].clone();
        let problem = check(new("2025-03-02", "2025-03-01", 0)).err().map(fields);
        assert_eq!(problem.as_ref().map(|e| e[0]["field"].clone()), Some("ends_on".into()));
        assert_eq!(problem.as_ref().map(|e| e[1]["field"].clone()), Some("budget_cents".into()));
        let problem = check(new("2025-02-30", "x", 5)).err().map(fields);
        assert_eq!(problem.map(|e| e.as_array().map(Vec::len)), Some(Some(2)));
    }
}
