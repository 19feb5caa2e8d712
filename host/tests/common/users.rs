//! People over HTTP, as the identity tests and the business modules' tests
//! need them: registration, sign-in, invitations into a tenant with roles.

use reqwest::Method;
use serde_json::{Value, json};

use super::TestServer;
use plaza::config::Registration;

pub const PASSWORD: &str = "a long enough password";

pub async fn open_server() -> TestServer {
    TestServer::start_with(|c| c.registration = Registration::Open).await
}

pub async fn register(s: &TestServer, email: &str, invitation: Option<&str>) -> reqwest::Response {
    let mut body = json!({ "email": email, "password": PASSWORD, "display_name": email });
    if let Some(i) = invitation {
        body["invitation"] = json!(i);
    }
    s.anon(Method::POST, "/api/v1/auth/register").json(&body).send().await.unwrap()
}

pub async fn login(s: &TestServer, email: &str, password: &str) -> reqwest::Response {
    s.anon(Method::POST, "/api/v1/auth/login")
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .unwrap()
}

/// Signs in and returns (access, refresh).
pub async fn tokens(s: &TestServer, email: &str) -> (String, String) {
    let resp = login(s, email, PASSWORD).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    (body["access_token"].as_str().unwrap().to_owned(), body["refresh_token"].as_str().unwrap().to_owned())
}

pub async fn refresh(s: &TestServer, token: &str) -> reqwest::Response {
    s.anon(Method::POST, "/api/v1/auth/refresh").json(&json!({ "refresh_token": token })).send().await.unwrap()
}

pub fn as_user(s: &TestServer, method: Method, path: &str, access: &str) -> reqwest::RequestBuilder {
    s.anon(method, path).bearer_auth(access)
}

/// Invites `email` to `tenant` with `roles` as the operator; returns the accept token.
pub async fn invite(s: &TestServer, by: Option<&str>, tenant: &str, email: &str, roles: &[&str]) -> reqwest::Response {
    let path = format!("/t/{tenant}/invitations");
    let req = match by {
        Some(access) => as_user(s, Method::POST, &path, access),
        None => s.req(Method::POST, &path),
    };
    req.json(&json!({ "email": email, "roles": roles })).send().await.unwrap()
}

pub async fn onboard(s: &TestServer, by: Option<&str>, tenant: &str, email: &str, roles: &[&str]) -> String {
    let resp = invite(s, by, tenant, email, roles).await;
    assert_eq!(resp.status(), 201);
    let inv: Value = resp.json().await.unwrap();
    let token = inv["accept_token"].as_str().expect("no SMTP: the token comes back").to_owned();
    assert_eq!(register(s, email, Some(&token)).await.status(), 201);
    tokens(s, email).await.0
}
