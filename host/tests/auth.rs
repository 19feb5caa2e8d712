//! Identity end to end over HTTP: registration, sign-in, refresh rotation
//! and reuse detection, sign-out, password change, MFA with recovery codes,
//! memberships, cross-tenant isolation, rate limits and cookie mode.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use common::users::{PASSWORD, as_user, invite, login, onboard, open_server, refresh, register, tokens};
use common::{TestServer, assert_problem};
use plaza::config::Registration;
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_and_refresh_rotation_with_reuse_detection() {
    let s = open_server().await;
    assert_eq!(register(&s, "Ana@Example.org", None).await.status(), 201);
    assert_problem(register(&s, "ana@example.org", None).await, 409).await;
    let weak =
        s.anon(Method::POST, "/api/v1/auth/register").json(&json!({"email": "b@example.org", "password": "short"}));
    assert_problem(weak.send().await.unwrap(), 422).await;
    let bad = s.anon(Method::POST, "/api/v1/auth/register").json(&json!({"email": "nope", "password": PASSWORD}));
    assert_problem(bad.send().await.unwrap(), 422).await;

    assert_problem(login(&s, "ana@example.org", "wrong password!!").await, 401).await;
    assert_problem(login(&s, "nobody@example.org", PASSWORD).await, 401).await;
    let (access, rt1) = tokens(&s, "ana@example.org").await;
    let me: Value = as_user(&s, Method::GET, "/api/v1/auth/me", &access).send().await.unwrap().json().await.unwrap();
    assert_eq!(me["email"], "ana@example.org");
    assert_eq!(me["mfa_enabled"], false);

    // Each refresh token works once and is replaced.
    let r2: Value = refresh(&s, &rt1).await.json().await.unwrap();
    let rt2 = r2["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(rt2, rt1);
    let new_access = r2["access_token"].as_str().unwrap();
    assert_eq!(as_user(&s, Method::GET, "/api/v1/auth/me", new_access).send().await.unwrap().status(), 200);
    let r3: Value = refresh(&s, &rt2).await.json().await.unwrap();
    let rt3 = r3["refresh_token"].as_str().unwrap().to_owned();
    // Reusing an old one is theft: 401, and the whole family is revoked.
    assert_problem(refresh(&s, &rt1).await, 401).await;
    assert_problem(refresh(&s, &rt3).await, 401).await;
    assert_problem(refresh(&s, "plz_rt_forged").await, 401).await;
    // Another sign-in is another family, unaffected.
    let (_, other) = tokens(&s, "ana@example.org").await;
    assert_eq!(refresh(&s, &other).await.status(), 200);
    let reuse: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM audit_log WHERE action = 'auth.refresh_reuse'")
        .fetch_one(s.app.db.pool())
        .await
        .unwrap();
    assert_eq!(reuse.0, 1);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_and_password_change_end_sessions() {
    let s = open_server().await;
    register(&s, "ana@example.org", None).await;
    let (_, rt) = tokens(&s, "ana@example.org").await;
    let resp = s.anon(Method::POST, "/api/v1/auth/logout").json(&json!({ "refresh_token": rt })).send().await.unwrap();
    assert_eq!(resp.status(), 204);
    assert_problem(refresh(&s, &rt).await, 401).await;

    let (access, rt_a) = tokens(&s, "ana@example.org").await;
    let (_, rt_b) = tokens(&s, "ana@example.org").await;
    let change = |current: &str, new: &str| {
        as_user(&s, Method::POST, "/api/v1/auth/password", &access)
            .json(&json!({ "current_password": current, "new_password": new }))
    };
    assert_problem(change("not my password", "another long password").send().await.unwrap(), 401).await;
    assert_problem(change(PASSWORD, "short").send().await.unwrap(), 422).await;
    assert_eq!(change(PASSWORD, "another long password").send().await.unwrap().status(), 204);
    assert_problem(refresh(&s, &rt_a).await, 401).await;
    assert_problem(refresh(&s, &rt_b).await, 401).await;
    assert_problem(login(&s, "ana@example.org", PASSWORD).await, 401).await;
    assert_eq!(login(&s, "ana@example.org", "another long password").await.status(), 200);
    s.stop().await;
}

/// The password step of an account with MFA: 202 and an MFA token, no tokens.
async fn challenge(s: &TestServer) -> String {
    let resp = login(s, "ana@example.org", PASSWORD).await;
    assert_eq!(resp.status(), 202);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["mfa_required"], true);
    assert!(body.get("access_token").is_none());
    body["mfa_token"].as_str().unwrap().to_owned()
}

/// The `amr` claim of a JWT (read without verifying: the server did that).
fn amr_of(jwt: &str) -> Value {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap();
    serde_json::from_slice::<Value>(&bytes).unwrap()["amr"].clone()
}

fn totp_at(secret: &str, unix: u64) -> String {
    let totp = totp_rs::Builder::new().with_secret(totp_rs::Secret::try_from_base32(secret).unwrap()).build().unwrap();
    totp.generate(unix).to_string()
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mfa_with_totp_and_one_time_recovery_codes() {
    let s = open_server().await;
    register(&s, "ana@example.org", None).await;
    let (access, _) = tokens(&s, "ana@example.org").await;
    let enroll: Value =
        as_user(&s, Method::POST, "/api/v1/auth/mfa/enroll", &access).send().await.unwrap().json().await.unwrap();
    let secret = enroll["secret"].as_str().unwrap().to_owned();
    assert!(enroll["otpauth_url"].as_str().unwrap().starts_with("otpauth://totp/"));
    let confirm =
        |code: String| as_user(&s, Method::POST, "/api/v1/auth/mfa/confirm", &access).json(&json!({ "code": code }));
    assert_problem(confirm("000000".into()).send().await.unwrap(), 401).await;
    let codes: Value = confirm(totp_at(&secret, now())).send().await.unwrap().json().await.unwrap();
    let codes: Vec<String> =
        codes["recovery_codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_owned()).collect();
    assert_eq!(codes.len(), 10);

    let finish = |mfa_token: String, code: String| {
        s.anon(Method::POST, "/api/v1/auth/login/mfa").json(&json!({ "mfa_token": mfa_token, "code": code }))
    };
    let mfa_token = challenge(&s).await;
    assert_problem(finish(mfa_token.clone(), "123456".into()).send().await.unwrap(), 401).await;
    // A recovery code works once.
    let resp = finish(mfa_token.clone(), codes[0].clone()).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let signed: Value = resp.json().await.unwrap();
    assert!(signed["access_token"].is_string());
    assert_problem(finish(challenge(&s).await, codes[0].clone()).send().await.unwrap(), 401).await;
    // A TOTP code of the next step works; the same code cannot be replayed.
    let next = totp_at(&secret, now() + 30);
    assert_eq!(finish(challenge(&s).await, next.clone()).send().await.unwrap().status(), 200);
    assert_problem(finish(challenge(&s).await, next).send().await.unwrap(), 401).await;
    // The MFA token is not an access token.
    assert_problem(as_user(&s, Method::GET, "/api/v1/auth/me", &mfa_token).send().await.unwrap(), 401).await;

    // A refresh keeps saying the session was opened with a second factor.
    let refreshed: Value = refresh(&s, signed["refresh_token"].as_str().unwrap()).await.json().await.unwrap();
    assert_eq!(amr_of(refreshed["access_token"].as_str().unwrap()), json!(["pwd", "mfa"]));
    let access = signed["access_token"].as_str().unwrap();
    let me: Value = as_user(&s, Method::GET, "/api/v1/auth/me", access).send().await.unwrap().json().await.unwrap();
    assert_eq!(me["mfa_enabled"], true);
    let disable = as_user(&s, Method::POST, "/api/v1/auth/mfa/disable", access).json(&json!({ "code": codes[1] }));
    assert_eq!(disable.send().await.unwrap().status(), 204);
    assert_eq!(login(&s, "ana@example.org", PASSWORD).await.status(), 200);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitations_roles_and_member_management() {
    let s = TestServer::start().await; // registration by invitation only
    s.create_tenant("acme").await;
    assert_problem(register(&s, "stranger@example.org", None).await, 403).await;

    let ana = onboard(&s, None, "acme", "ana@example.org", &["owner"]).await;
    let bob = onboard(&s, Some(&ana), "acme", "bob@example.org", &["member"]).await;
    // An invitation is for its email and works once.
    let resp = invite(&s, Some(&ana), "acme", "carl@example.org", &["member"]).await;
    let token = resp.json::<Value>().await.unwrap()["accept_token"].as_str().unwrap().to_owned();
    assert_problem(register(&s, "mallory@example.org", Some(&token)).await, 403).await;
    assert_eq!(register(&s, "carl@example.org", Some(&token)).await.status(), 201);
    assert_problem(register(&s, "carl2@example.org", Some(&token)).await, 409).await;

    let members: Value = as_user(&s, Method::GET, "/t/acme/members", &ana).send().await.unwrap().json().await.unwrap();
    let emails: Vec<&str> = members.as_array().unwrap().iter().map(|m| m["email"].as_str().unwrap()).collect();
    assert_eq!(emails, ["ana@example.org", "bob@example.org", "carl@example.org"]);
    let id_of = |email: &str| {
        members.as_array().unwrap().iter().find(|m| m["email"] == email).unwrap()["user_id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (ana_id, bob_id, carl_id) = (id_of("ana@example.org"), id_of("bob@example.org"), id_of("carl@example.org"));

    // A member without the admin role cannot manage members or keys, but can use the tenant.
    assert_eq!(as_user(&s, Method::GET, "/t/acme/files", &bob).send().await.unwrap().status(), 200);
    assert_problem(as_user(&s, Method::GET, "/t/acme/members", &bob).send().await.unwrap(), 403).await;
    assert_problem(invite(&s, Some(&bob), "acme", "x@example.org", &["member"]).await, 403).await;
    let put = as_user(&s, Method::PUT, &format!("/t/acme/members/{carl_id}"), &bob).json(&json!({"roles": ["admin"]}));
    assert_problem(put.send().await.unwrap(), 403).await;
    assert_problem(as_user(&s, Method::DELETE, &format!("/t/acme/members/{carl_id}"), &bob).send().await.unwrap(), 403)
        .await;
    assert_problem(as_user(&s, Method::GET, "/t/acme/api-keys", &bob).send().await.unwrap(), 403).await;
    // The owner promotes bob to admin; an admin still cannot grant owner.
    let put = as_user(&s, Method::PUT, &format!("/t/acme/members/{bob_id}"), &ana)
        .json(&json!({"roles": ["admin", "producer"]}));
    assert_eq!(put.send().await.unwrap().status(), 204);
    assert_eq!(as_user(&s, Method::GET, "/t/acme/members", &bob).send().await.unwrap().status(), 200);
    let put = as_user(&s, Method::PUT, &format!("/t/acme/members/{carl_id}"), &bob).json(&json!({"roles": ["owner"]}));
    assert_problem(put.send().await.unwrap(), 403).await;
    assert_eq!(
        as_user(&s, Method::DELETE, &format!("/t/acme/members/{carl_id}"), &bob).send().await.unwrap().status(),
        204
    );
    // Accepting an invitation adds roles, never removes any: the owner stays owner.
    let resp = invite(&s, Some(&bob), "acme", "ana@example.org", &["member"]).await;
    let token = resp.json::<Value>().await.unwrap()["accept_token"].as_str().unwrap().to_owned();
    let accepted = as_user(&s, Method::POST, "/api/v1/auth/invitations/accept", &ana).json(&json!({ "token": token }));
    let accepted: Value = accepted.send().await.unwrap().json().await.unwrap();
    assert_eq!(accepted["roles"], json!(["owner", "member"]));
    // The last owner stays.
    assert_problem(as_user(&s, Method::DELETE, &format!("/t/acme/members/{ana_id}"), &ana).send().await.unwrap(), 409)
        .await;
    let me: Value = as_user(&s, Method::GET, "/api/v1/auth/me", &bob).send().await.unwrap().json().await.unwrap();
    assert_eq!(me["memberships"], json!([{ "tenant": "acme", "roles": ["admin", "producer"] }]));
    let (_, audit) = s.get_json("/api/v1/tenants/acme/audit").await;
    let actions: Vec<&str> = audit.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    for a in ["member.invite", "member.add", "member.roles", "member.remove"] {
        assert!(actions.contains(&a), "{a} audited: {actions:?}");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_of_one_tenant_cannot_reach_another() {
    let s = TestServer::start().await;
    s.create_tenant("acme").await;
    s.create_tenant("globex").await;
    let ana = onboard(&s, None, "acme", "ana@example.org", &["owner"]).await;
    let _carl = onboard(&s, None, "globex", "carl@example.org", &["owner"]).await;
    let put = s.req(Method::PUT, "/t/globex/files/secret.txt").body("globex only").send().await.unwrap();
    assert!(put.status().is_success(), "globex's file is stored: {}", put.text().await.unwrap());
    let key: Value = as_user(&s, Method::POST, "/t/acme/api-keys", &ana)
        .json(&json!({ "name": "ci", "roles": ["admin"] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret = key["secret"].as_str().unwrap().to_owned();

    for (method, path) in [
        (Method::GET, "/t/globex/files"),
        (Method::GET, "/t/globex/files/secret.txt"),
        (Method::GET, "/t/globex/files/secret.txt/metadata"),
        (Method::PUT, "/t/globex/files/planted.txt"),
        (Method::DELETE, "/t/globex/files/secret.txt"),
        (Method::GET, "/t/globex/members"),
        (Method::POST, "/t/globex/invitations"),
        (Method::GET, "/t/globex/api-keys"),
        (Method::POST, "/t/globex/api-keys"),
    ] {
        let body = json!({ "email": "x@example.org", "roles": ["member"], "name": "x" });
        for cred in [&ana, &secret] {
            let mut req = s.anon(method.clone(), path).bearer_auth(cred);
            req = if method == Method::PUT { req.body("x") } else { req.json(&body) };
            let status = req.send().await.unwrap().status().as_u16();
            assert!(status == 403 || status == 404, "{method} {path}: {status}");
        }
        let via_header = s.anon(method.clone(), path).header("X-API-Key", &secret).json(&body).send().await.unwrap();
        assert!([403, 404].contains(&via_header.status().as_u16()), "{method} {path} with X-API-Key");
    }
    // The API key works on its own tenant, both ways, and not on operator routes.
    assert_eq!(s.anon(Method::GET, "/t/acme/files").header("X-API-Key", &secret).send().await.unwrap().status(), 200);
    assert_eq!(s.anon(Method::GET, "/t/acme/members").bearer_auth(&secret).send().await.unwrap().status(), 200);
    assert_problem(s.anon(Method::GET, "/api/v1/tenants").bearer_auth(&secret).send().await.unwrap(), 403).await;
    assert_problem(as_user(&s, Method::GET, "/api/v1/tenants", &ana).send().await.unwrap(), 403).await;
    // Its use is recorded, and its secret is never listed.
    let keys: Value = as_user(&s, Method::GET, "/t/acme/api-keys", &ana).send().await.unwrap().json().await.unwrap();
    assert!(keys[0]["last_used_at"].is_string(), "{keys}");
    assert!(!keys.to_string().contains(&secret));
    // The file is untouched.
    assert_eq!(
        s.req(Method::GET, "/t/globex/files/secret.txt").send().await.unwrap().text().await.unwrap(),
        "globex only"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failed_logins_get_429_with_retry_after_then_recover() {
    let s = TestServer::start_with(|c| {
        c.registration = Registration::Open;
        c.auth_max_failures = 3;
        c.auth_backoff_ms = 1000;
    })
    .await;
    register(&s, "ana@example.org", None).await;
    for _ in 0..3 {
        assert_problem(login(&s, "ana@example.org", "wrong password!!").await, 401).await;
    }
    let blocked = login(&s, "ana@example.org", PASSWORD).await;
    let retry: u64 = blocked.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry), "Retry-After {retry}");
    let p = assert_problem(blocked, 429).await;
    assert_eq!(p["type"], "urn:plaza:problem:rate-limited");
    tokio::time::sleep(std::time::Duration::from_millis(retry * 1000 + 100)).await;
    assert_eq!(login(&s, "ana@example.org", PASSWORD).await.status(), 200, "allowed again after the back-off");
    let failures: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM audit_log WHERE action = 'auth.login_failed'")
        .fetch_one(s.app.db.pool())
        .await
        .unwrap();
    assert_eq!(failures.0, 3, "failures are audited");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookie_mode_needs_the_csrf_header_for_unsafe_requests() {
    let s = TestServer::start_with(|c| {
        c.registration = Registration::Open;
        c.cookie_secure = true;
    })
    .await;
    register(&s, "ana@example.org", None).await;
    let resp = s
        .anon(Method::POST, "/api/v1/auth/login")
        .json(&json!({ "email": "ana@example.org", "password": PASSWORD, "cookie": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let cookies: Vec<String> =
        resp.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect();
    assert_eq!(cookies.len(), 3, "{cookies:?}");
    for c in &cookies {
        assert!(c.contains("SameSite=Strict") && c.contains("Secure"), "{c}");
    }
    // Prefixed (only this host, over HTTPS, may set them) and out of every script's reach.
    for prefix in ["__Host-plaza_access=", "__Secure-plaza_refresh=", "__Host-plaza_csrf="] {
        assert!(cookies.iter().any(|c| c.starts_with(prefix)), "{prefix} {cookies:?}");
    }
    assert!(cookies.iter().all(|c| c.contains("HttpOnly")), "{cookies:?}");
    let body: Value = resp.json().await.unwrap();
    assert!(body.get("access_token").is_none() && body.get("refresh_token").is_none(), "{body}");
    let csrf = body["csrf_token"].as_str().unwrap().to_owned();
    let jar: String = cookies.iter().map(|c| c.split(';').next().unwrap()).collect::<Vec<_>>().join("; ");

    assert_eq!(s.anon(Method::GET, "/api/v1/auth/me").header("Cookie", &jar).send().await.unwrap().status(), 200);
    // A page of the host that lost the token (a reload) asks for it again.
    let again: Value =
        s.anon(Method::GET, "/api/v1/auth/csrf").header("Cookie", &jar).send().await.unwrap().json().await.unwrap();
    assert_eq!(again["csrf_token"], csrf.as_str());
    assert_problem(s.anon(Method::GET, "/api/v1/auth/csrf").send().await.unwrap(), 401).await;
    let post = |with_csrf: bool| {
        let mut req = s.anon(Method::POST, "/api/v1/auth/mfa/enroll").header("Cookie", &jar);
        if with_csrf {
            req = req.header("X-CSRF-Token", &csrf);
        }
        req
    };
    let p = assert_problem(post(false).send().await.unwrap(), 403).await;
    assert_eq!(p["type"], "urn:plaza:problem:csrf");
    assert_eq!(post(true).send().await.unwrap().status(), 200);
    // Refresh from the cookie, with the CSRF header.
    let refresh = s.anon(Method::POST, "/api/v1/auth/refresh").header("Cookie", &jar).json(&json!({}));
    assert_problem(refresh.send().await.unwrap(), 403).await;
    let refreshed = s
        .anon(Method::POST, "/api/v1/auth/refresh")
        .header("Cookie", &jar)
        .header("X-CSRF-Token", &csrf)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(refreshed.status(), 200);
    assert_eq!(refreshed.headers().get_all("set-cookie").iter().count(), 3);
    // A stale access cookie does not block signing in again.
    let again = s
        .anon(Method::POST, "/api/v1/auth/login")
        .header("Cookie", &jar)
        .json(&json!({ "email": "ana@example.org", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwks_publishes_the_host_keys() {
    let s = TestServer::start().await;
    let jwks: Value = s.anon(Method::GET, "/.well-known/jwks.json").send().await.unwrap().json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["kty"], "OKP");
    assert_eq!(keys[0]["alg"], "EdDSA");
    assert!(keys[0].get("d").is_none());
    let key_file = std::fs::read_dir(s.dir.path().join("keys")).unwrap().next().unwrap().unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(key_file.metadata().unwrap().permissions().mode() & 0o777, 0o600);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_factor_guesses_are_limited_per_account() {
    let s = TestServer::start_with(|c| {
        c.registration = Registration::Open;
        c.auth_max_failures = 2;
    })
    .await;
    register(&s, "ana@example.org", None).await;
    let (access, _) = tokens(&s, "ana@example.org").await;
    let enroll: Value =
        as_user(&s, Method::POST, "/api/v1/auth/mfa/enroll", &access).send().await.unwrap().json().await.unwrap();
    let secret = enroll["secret"].as_str().unwrap().to_owned();
    let confirm = as_user(&s, Method::POST, "/api/v1/auth/mfa/confirm", &access)
        .json(&json!({ "code": totp_at(&secret, now()) }));
    assert_eq!(confirm.send().await.unwrap().status(), 200);
    let guess = |mfa_token: String| {
        s.anon(Method::POST, "/api/v1/auth/login/mfa").json(&json!({ "mfa_token": mfa_token, "code": "000000" }))
    };
    // Each wrong guess comes with a fresh MFA token: the limit still holds.
    for _ in 0..2 {
        let p = assert_problem(guess(challenge(&s).await).send().await.unwrap(), 401).await;
        assert!(p["detail"].as_str().unwrap().contains("code"), "{p}");
    }
    let blocked = guess(challenge(&s).await).send().await.unwrap();
    assert!(blocked.headers().contains_key("retry-after"));
    assert_problem(blocked, 429).await;
    s.stop().await;
}
