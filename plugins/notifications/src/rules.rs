//! The rules, without host calls (unit-tested natively): what a valid
//! notification and device are, who reads what, what a push carries.

use plaza_sdk::Problem;
use plaza_sdk::validation::{Errors, text};

use crate::store::Notification;
use crate::{NewDevice, NewNotification};

/// Who a notification is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    User(String),
    Role(String),
}

/// A notification as checked, ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub audience: Audience,
    pub title: String,
    pub body: String,
    pub kind: String,
    pub action_url: Option<String>,
}

/// The caller reading their notifications: their id, and every role they
/// hold as the host decides it (`owner` holds `admin`, which holds `member`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reader {
    pub user: String,
    pub roles: Vec<String>,
}

impl Reader {
    pub fn new(user: String, roles: &[String]) -> Self {
        let mut all: Vec<String> = roles.to_vec();
        let implied: &[&str] = if roles.iter().any(|r| r == "owner") {
            &["admin", "member"]
        } else if roles.iter().any(|r| r == "admin") {
            &["member"]
        } else {
            &[]
        };
        all.extend(implied.iter().map(|r| (*r).to_owned()));
        all.sort();
        all.dedup();
        Self { user, roles: all }
    }

    /// The roles as stored with a device: space-separated between spaces.
    pub fn roles_field(&self) -> String {
        format!(" {} ", self.roles.join(" "))
    }
}

/// A role or type name: lower-case letters and digits joined by `-` or `_`.
fn is_word(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 50
        && s.split(['-', '_']).all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
}

/// A place a notification may lead to: a path of this site, or https.
fn is_action_url(u: &str) -> bool {
    if u.len() > 2000 || u.chars().any(char::is_control) {
        return false;
    }
    if u.starts_with('/') {
        return !u.starts_with("//");
    }
    url::Url::parse(u).is_ok_and(|url| url.scheme() == "https" && url.host().is_some())
}

/// Checks a notification: one audience, a title, sizes, a safe link.
pub fn check(new: &NewNotification) -> Result<Checked, Problem> {
    let mut errors = Errors::default();
    let audience = match (&new.user_id, &new.role) {
        (Some(user), None) if !user.trim().is_empty() && user.len() <= 200 => {
            Some(Audience::User(user.trim().to_owned()))
        }
        (None, Some(role)) if is_word(role) => Some(Audience::Role(role.clone())),
        (Some(_), Some(_)) => {
            errors.add("user_id", "give a `user_id` or a `role`, not both");
            None
        }
        (None, None) => {
            errors.add("user_id", "give the `user_id` of a member or a `role`");
            None
        }
        (Some(_), None) => {
            errors.add("user_id", "`user_id` must be 1 to 200 characters");
            None
        }
        (None, Some(role)) => {
            errors.add("role", format!("{role:?} is not a role name"));
            None
        }
    };
    let title = text(&mut errors, "title", &new.title, 1, 200);
    let body = text(&mut errors, "body", &new.body, 0, 2000);
    let kind = new.kind.clone().unwrap_or_else(|| "info".to_owned());
    errors.check(is_word(&kind), "type", || format!("type {kind:?}: lower-case words joined by `-` or `_`"));
    if let Some(u) = &new.action_url {
        errors.check(is_action_url(u), "action_url", || "a path of this site (`/…`) or an https:// URL".to_owned());
    }
    errors.finish()?;
    let audience = audience.ok_or_else(|| Problem::unprocessable("no audience"))?;
    Ok(Checked { audience, title, body, kind, action_url: new.action_url.clone() })
}

/// Checks a browser's subscription before it is stored.
pub fn check_device(errors: &mut Errors, new: &NewDevice) {
    let https =
        url::Url::parse(&new.endpoint).is_ok_and(|u| matches!(u.scheme(), "https" | "http") && u.host().is_some());
    errors.check(https && new.endpoint.len() <= 2000, "endpoint", || "the push service's URL".to_owned());
    let b64 = |s: &str, min: usize, max: usize| {
        (min..=max).contains(&s.len())
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'='))
    };
    errors.check(b64(&new.keys.p256dh, 86, 90), "keys.p256dh", || "a base64url P-256 public key".to_owned());
    errors.check(b64(&new.keys.auth, 22, 24), "keys.auth", || "a base64url 16-byte secret".to_owned());
    if let Some(label) = &new.label {
        errors.check(label.chars().count() <= 100, "label", || "at most 100 characters".to_owned());
    }
}

/// What a push carries to the service worker: the notification as JSON,
/// its body cut so the whole fits in a push message.
pub fn push_payload(n: &Notification) -> Vec<u8> {
    let mut body: String = n.body.chars().take(1000).collect();
    loop {
        let payload = serde_json::json!({
            "id": n.id, "title": n.title, "body": body, "type": n.kind, "action_url": n.action_url,
        })
        .to_string();
        if payload.len() <= 2800 || body.is_empty() {
            return payload.into_bytes();
        }
        let keep = body.chars().count() / 2;
        body = body.chars().take(keep).collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(user: Option<&str>, role: Option<&str>) -> NewNotification {
        NewNotification {
            user_id: user.map(str::to_owned),
            role: role.map(str::to_owned),
            title: "Expediente EX-7".into(),
            body: "Pasó a Hacienda".into(),
            kind: None,
            action_url: Some("/t/acme/gdi/expedientes/7".into()),
        }
    }

    #[test]
    fn a_notification_has_one_audience_and_a_safe_link() {
        assert_eq!(check(&new(Some("u1"), None)).map(|c| c.audience), Ok(Audience::User("u1".into())));
        assert_eq!(check(&new(None, Some("gdi-signer"))).map(|c| c.audience), Ok(Audience::Role("gdi-signer".into())));
        assert!(check(&new(Some("u1"), Some("admin"))).is_err());
        assert!(check(&new(None, None)).is_err());
        for bad in ["javascript:alert(1)", "//evil.example/x", "http://example.com", "data:text/html,x"] {
            let mut n = new(Some("u1"), None);
            n.action_url = Some(bad.into());
            assert_eq!(check(&n).map_err(|p| p.status()), Err(422), "{bad}");
        }
        let mut n = new(Some("u1"), None);
        n.action_url = Some("https://portal.example.gob/tramites/7".into());
        assert!(check(&n).is_ok());
    }

    #[test]
    fn readers_hold_the_roles_below_theirs() {
        let owner = Reader::new("u".into(), &["owner".into()]);
        assert_eq!(owner.roles, ["admin", "member", "owner"]);
        let signer = Reader::new("u".into(), &["member".into(), "gdi-signer".into()]);
        assert_eq!(signer.roles, ["gdi-signer", "member"]);
        assert_eq!(signer.roles_field(), " gdi-signer member ");
    }

    #[test]
    fn a_push_payload_fits_in_one_message() {
        let n = Notification {
            id: 1,
            user_id: None,
            role: Some("member".into()),
            title: "t".repeat(200),
            body: "ñ".repeat(2000),
            kind: "info".into(),
            action_url: None,
            source: "api".into(),
            sent_by: None,
            read: false,
            created_at: "2026-12-07T00:00:00Z".into(),
        };
        let payload = push_payload(&n);
        assert!(payload.len() <= 2800, "{}", payload.len());
        let v: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        assert_eq!(v["title"], n.title);
    }
}
