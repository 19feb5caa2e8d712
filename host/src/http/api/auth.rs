//! `/api/v1/auth/*` and `/.well-known/jwks.json`: built-in accounts.
//! Handlers check limits and delegate to [`crate::auth::accounts`] and
//! [`crate::auth::mfa`].

use std::sync::Arc;

use poem::Request;
use poem::web::Data;
use poem_openapi::payload::{Json, Response};
use poem_openapi::{ApiResponse, Object, OpenApi};
use serde_json::{Value, json};

use super::Tag;
use crate::app::App;
use crate::audit::{self, Actor};
use crate::auth::accounts::{self, Login, Me, Membership, Tokens};
use crate::auth::limits::{account_key, ip_key};
use crate::auth::mfa::{self, Enrollment};
use crate::auth::principal::Principal;
use crate::auth::{AuthError, members, secrets};
use crate::http::auth::{Auth, cookie, csrf_ok, set_cookie};
use crate::http::problem::{ApiError, ApiResult};
use crate::http::strict_json::StrictJson;

pub struct AuthApi;

#[derive(Object)]
pub struct RegisterRequest {
    pub email: String,
    /// At least 10 characters.
    pub password: String,
    #[oai(default)]
    pub display_name: String,
    /// An invitation token; required unless registration is open.
    pub invitation: Option<String>,
}

#[derive(Object)]
pub struct Registered {
    pub id: String,
    pub email: String,
}

#[derive(Object)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
    /// Cookie mode for browser front ends: tokens go to HttpOnly cookies and
    /// the answer carries a CSRF token to repeat in `X-CSRF-Token`.
    #[oai(default)]
    pub cookie: bool,
}

#[derive(Object)]
pub struct MfaLoginRequest {
    /// The `mfa_token` of the sign-in answer.
    pub mfa_token: String,
    /// A current TOTP code or an unused recovery code.
    pub code: String,
    #[oai(default)]
    pub cookie: bool,
}

#[derive(Object)]
pub struct RefreshRequest {
    /// The refresh token; in cookie mode leave it out (the cookie is used).
    pub refresh_token: Option<String>,
}

/// A signed-in session. In cookie mode the tokens are in cookies and only
/// `csrf_token` is here.
#[derive(Object)]
pub struct Session {
    #[oai(skip_serializing_if_is_none)]
    pub access_token: Option<String>,
    pub token_type: String,
    pub expires_in: u64,
    #[oai(skip_serializing_if_is_none)]
    pub refresh_token: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub csrf_token: Option<String>,
}

/// The CSRF token to repeat in `X-CSRF-Token`.
#[derive(Object)]
pub struct CsrfToken {
    pub csrf_token: String,
}

/// The password was right; a second factor is needed.
#[derive(Object)]
pub struct MfaChallenge {
    pub mfa_required: bool,
    /// Send it with a code to `/api/v1/auth/login/mfa` within 5 minutes.
    pub mfa_token: String,
}

#[derive(ApiResponse)]
pub enum LoginResponse {
    /// Signed in.
    #[oai(status = 200)]
    Session(Json<Session>),
    /// A second factor is needed.
    #[oai(status = 202)]
    MfaRequired(Json<MfaChallenge>),
}

#[derive(ApiResponse)]
pub enum NoContent {
    /// Done.
    #[oai(status = 204)]
    Done,
}

#[derive(ApiResponse)]
pub enum Created {
    /// The account exists.
    #[oai(status = 201)]
    Created(Json<Registered>),
}

#[derive(Object)]
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
}

#[derive(Object)]
pub struct Code {
    /// A TOTP code (or, to disable MFA, also a recovery code).
    pub code: String,
}

#[derive(Object)]
pub struct RecoveryCodes {
    /// One-time codes for when the authenticator is lost. Shown once.
    pub recovery_codes: Vec<String>,
}

#[derive(Object)]
pub struct AcceptInvitation {
    pub token: String,
}

fn client_ip(req: &Request) -> String {
    req.remote_addr().as_socket_addr().map(|a| a.ip().to_string()).unwrap_or_else(|| "unknown".into())
}

fn user_of(auth: &Auth) -> Result<(&str, &str), ApiError> {
    match auth.principal() {
        Principal::User { id, email, .. } => Ok((id, email)),
        _ => Err(ApiError::forbidden("account-only", "this needs a signed-in account")),
    }
}

/// The answer to a sign-in or refresh: tokens in the body, or (cookie
/// mode) in HttpOnly cookies with a CSRF token in the body.
fn session(app: &App, tokens: Tokens, cookie_mode: bool) -> (Session, Vec<String>) {
    if !cookie_mode {
        let session = Session {
            access_token: Some(tokens.access_token),
            token_type: tokens.token_type,
            expires_in: tokens.expires_in,
            refresh_token: Some(tokens.refresh_token),
            csrf_token: None,
        };
        return (session, Vec::new());
    }
    let (names, secure) = (app.identity.cookies, app.identity.cookie_secure);
    let csrf = secrets::random_token("", 16);
    let refresh_age = app.identity.refresh_ttl_secs;
    let cookies = vec![
        set_cookie(names.access, &tokens.access_token, "/", true, tokens.expires_in, secure),
        set_cookie(names.refresh, &tokens.refresh_token, REFRESH_PATH, true, refresh_age, secure),
        set_cookie(names.csrf, &csrf, "/", true, refresh_age, secure),
    ];
    let session = Session {
        access_token: None,
        token_type: tokens.token_type,
        expires_in: tokens.expires_in,
        refresh_token: None,
        csrf_token: Some(csrf),
    };
    (session, cookies)
}

/// The path of the refresh cookie: the auth routes only.
const REFRESH_PATH: &str = "/api/v1/auth";

/// A session as the whole answer (MFA step, refresh).
fn session_response(app: &App, tokens: Tokens, cookie_mode: bool) -> Response<Json<Session>> {
    let (session, cookies) = session(app, tokens, cookie_mode);
    with_cookies(Response::new(Json(session)), cookies)
}

fn with_cookies<T>(mut resp: Response<T>, cookies: Vec<String>) -> Response<T> {
    for c in cookies {
        resp = resp.header("set-cookie", c);
    }
    resp
}

async fn audit_failure(app: &App, action: &str, detail: Value) {
    if let Ok(mut conn) = app.db.pool().acquire().await {
        let _ = audit::record(&mut conn, &Actor::new("anonymous"), action, None, detail).await;
    }
}

#[OpenApi(prefix_path = "/api/v1/auth", tag = "Tag::Auth")]
impl AuthApi {
    /// Create an account
    ///
    /// Open registration, or with an invitation (which also grants its tenant membership).
    #[oai(path = "/register", method = "post", operation_id = "register")]
    async fn register(
        &self,
        Data(app): Data<&Arc<App>>,
        req: &Request,
        body: StrictJson<RegisterRequest>,
    ) -> ApiResult<Created> {
        let keys = [ip_key(&client_ip(req))];
        app.identity.limits.check(&keys)?;
        let id = accounts::register(
            &app.db,
            &app.identity,
            &body.email,
            &body.password,
            &body.display_name,
            body.invitation.as_deref(),
        )
        .await
        .inspect_err(|_| app.identity.limits.failed(&keys))?;
        let email = accounts::normalise_email(&body.email)?;
        Ok(Created::Created(Json(Registered { id, email })))
    }

    /// Sign in
    ///
    /// 200 with tokens (or cookies), or 202 when the account needs a second factor.
    #[oai(path = "/login", method = "post", operation_id = "login")]
    async fn login(
        &self,
        Data(app): Data<&Arc<App>>,
        req: &Request,
        body: StrictJson<LoginRequest>,
    ) -> ApiResult<Response<LoginResponse>> {
        let keys = [ip_key(&client_ip(req)), account_key(&body.email)];
        app.identity.limits.check(&keys)?;
        match accounts::login(&app.db, &app.identity, &body.email, &body.password).await {
            Ok(Login::Tokens(tokens)) => {
                app.identity.limits.succeeded(&keys[1..]);
                let (s, cookies) = session(app, tokens, body.cookie);
                Ok(with_cookies(Response::new(LoginResponse::Session(Json(s))), cookies))
            }
            Ok(Login::MfaRequired { mfa_token }) => {
                Ok(Response::new(LoginResponse::MfaRequired(Json(MfaChallenge { mfa_required: true, mfa_token }))))
            }
            Err(e @ AuthError::InvalidCredentials) => {
                app.identity.limits.failed(&keys);
                audit_failure(app, "auth.login_failed", json!({ "email": body.email.trim().to_lowercase() })).await;
                Err(e.into())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Finish signing in with a second factor
    #[oai(path = "/login/mfa", method = "post", operation_id = "loginMfa")]
    async fn login_mfa(
        &self,
        Data(app): Data<&Arc<App>>,
        req: &Request,
        body: StrictJson<MfaLoginRequest>,
    ) -> ApiResult<Response<Json<Session>>> {
        let ip = [ip_key(&client_ip(req))];
        app.identity.limits.check(&ip)?;
        let user_id =
            accounts::mfa_subject(&app.identity, &body.mfa_token).inspect_err(|_| app.identity.limits.failed(&ip))?;
        // Limited per account, not per MFA token: a new password step must
        // not buy a fresh set of code guesses.
        let keys = [ip_key(&client_ip(req)), format!("mfa-user:{user_id}")];
        app.identity.limits.check(&keys)?;
        match accounts::complete_mfa(&app.db, &app.identity, &user_id, &body.code).await {
            Ok(tokens) => Ok(session_response(app, tokens, body.cookie)),
            Err(e) => {
                app.identity.limits.failed(&keys);
                audit_failure(app, "auth.mfa_failed", json!({})).await;
                Err(e.into())
            }
        }
    }

    /// Exchange a refresh token
    ///
    /// Each refresh token works once and is replaced; presenting a used one
    /// revokes every session descended from the same sign-in.
    #[oai(path = "/refresh", method = "post", operation_id = "refresh")]
    async fn refresh(
        &self,
        Data(app): Data<&Arc<App>>,
        req: &Request,
        body: StrictJson<RefreshRequest>,
    ) -> ApiResult<Response<Json<Session>>> {
        let keys = [ip_key(&client_ip(req))];
        app.identity.limits.check(&keys)?;
        let (token, cookie_mode) = match body.0.refresh_token {
            Some(t) => (t, false),
            None => {
                let names = app.identity.cookies;
                let t = cookie(req, names.refresh).ok_or_else(|| ApiError::unauthorized("no refresh token"))?;
                if !csrf_ok(req, names) {
                    return Err(ApiError::forbidden("csrf", "repeat the CSRF token in X-CSRF-Token"));
                }
                (t, true)
            }
        };
        match accounts::refresh(&app.db, &app.identity, &token).await {
            Ok((_, tokens)) => Ok(session_response(app, tokens, cookie_mode)),
            Err(e) => {
                app.identity.limits.failed(&keys);
                Err(e.into())
            }
        }
    }

    /// Sign out
    ///
    /// Revokes the session of the refresh token (body or cookie) and clears the cookies.
    #[oai(path = "/logout", method = "post", operation_id = "logout")]
    async fn logout(
        &self,
        Data(app): Data<&Arc<App>>,
        req: &Request,
        body: StrictJson<RefreshRequest>,
    ) -> ApiResult<Response<NoContent>> {
        let (names, secure) = (app.identity.cookies, app.identity.cookie_secure);
        let token = body.0.refresh_token.or_else(|| cookie(req, names.refresh));
        if let Some(token) = token {
            accounts::logout(&app.db, &token).await?;
        }
        Ok(Response::new(NoContent::Done)
            .header("set-cookie", set_cookie(names.access, "", "/", true, 0, secure))
            .header("set-cookie", set_cookie(names.refresh, "", REFRESH_PATH, true, 0, secure))
            .header("set-cookie", set_cookie(names.csrf, "", "/", true, 0, secure)))
    }

    /// The CSRF token of cookie mode
    ///
    /// For a page of the host's own origin that lost the token of its
    /// sign-in answer (a reload): the CSRF cookie is HttpOnly, so scripts
    /// cannot read it, and other origins (module pages among them) cannot
    /// read this answer.
    #[oai(path = "/csrf", method = "get", operation_id = "csrfToken")]
    async fn csrf(&self, Data(app): Data<&Arc<App>>, req: &Request) -> ApiResult<Json<CsrfToken>> {
        let token = cookie(req, app.identity.cookies.csrf)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ApiError::unauthorized("not signed in with cookies"))?;
        Ok(Json(CsrfToken { csrf_token: token }))
    }

    /// The signed-in account
    #[oai(path = "/me", method = "get", operation_id = "me")]
    async fn me(&self, Data(app): Data<&Arc<App>>, auth: Auth) -> ApiResult<Json<Me>> {
        let (id, _) = user_of(&auth)?;
        Ok(Json(accounts::me(&app.db, id).await?))
    }

    /// Change the password
    ///
    /// Every session of the account is signed out.
    #[oai(path = "/password", method = "post", operation_id = "changePassword")]
    async fn password(
        &self,
        Data(app): Data<&Arc<App>>,
        req: &Request,
        auth: Auth,
        body: StrictJson<PasswordChange>,
    ) -> ApiResult<NoContent> {
        let (id, email) = user_of(&auth)?;
        let keys = [ip_key(&client_ip(req)), account_key(email)];
        app.identity.limits.check(&keys)?;
        accounts::change_password(&app.db, id, &body.current_password, &body.new_password).await.inspect_err(|e| {
            if matches!(e, AuthError::InvalidCredentials) {
                app.identity.limits.failed(&keys)
            }
        })?;
        Ok(NoContent::Done)
    }

    /// Start MFA enrolment
    ///
    /// Returns the TOTP secret and an `otpauth://` URL; confirm with a code.
    #[oai(path = "/mfa/enroll", method = "post", operation_id = "mfaEnroll")]
    async fn mfa_enroll(&self, Data(app): Data<&Arc<App>>, auth: Auth) -> ApiResult<Json<Enrollment>> {
        let (id, email) = user_of(&auth)?;
        Ok(Json(mfa::enroll(&app.db, id, email).await?))
    }

    /// Confirm MFA enrolment
    ///
    /// Returns one-time recovery codes, shown once.
    #[oai(path = "/mfa/confirm", method = "post", operation_id = "mfaConfirm")]
    async fn mfa_confirm(
        &self,
        Data(app): Data<&Arc<App>>,
        req: &Request,
        auth: Auth,
        body: StrictJson<Code>,
    ) -> ApiResult<Json<RecoveryCodes>> {
        let (id, email) = user_of(&auth)?;
        let keys = [ip_key(&client_ip(req)), format!("mfa-user:{id}")];
        app.identity.limits.check(&keys)?;
        let codes =
            mfa::confirm(&app.db, id, email, &body.code).await.inspect_err(|_| app.identity.limits.failed(&keys))?;
        Ok(Json(RecoveryCodes { recovery_codes: codes }))
    }

    /// Turn MFA off
    #[oai(path = "/mfa/disable", method = "post", operation_id = "mfaDisable")]
    async fn mfa_disable(
        &self,
        Data(app): Data<&Arc<App>>,
        req: &Request,
        auth: Auth,
        body: StrictJson<Code>,
    ) -> ApiResult<NoContent> {
        let (id, _) = user_of(&auth)?;
        let keys = [ip_key(&client_ip(req)), format!("mfa-user:{id}")];
        app.identity.limits.check(&keys)?;
        mfa::disable(&app.db, id, &body.code).await.inspect_err(|_| app.identity.limits.failed(&keys))?;
        Ok(NoContent::Done)
    }

    /// Accept a tenant invitation
    #[oai(path = "/invitations/accept", method = "post", operation_id = "acceptInvitation")]
    async fn accept(
        &self,
        Data(app): Data<&Arc<App>>,
        auth: Auth,
        body: StrictJson<AcceptInvitation>,
    ) -> ApiResult<Json<Membership>> {
        let (id, email) = user_of(&auth)?;
        let mut tx = app.db.begin().await.map_err(crate::db::DbError::from)?;
        let tenant = members::accept_in(&mut tx, &body.token, id, email).await?;
        tx.commit().await.map_err(crate::db::DbError::from)?;
        let roles = members::roles_of(&app.db, &tenant, id).await?.unwrap_or_default();
        Ok(Json(Membership { tenant, roles }))
    }
}

/// The JWKS endpoint, outside `/api/v1`.
pub struct JwksApi;

#[OpenApi(tag = "Tag::Auth")]
impl JwksApi {
    /// Public keys of host-issued tokens
    ///
    /// Every key that may have signed a live token (EdDSA, OKP/Ed25519).
    #[oai(path = "/.well-known/jwks.json", method = "get", operation_id = "jwks")]
    async fn jwks(&self, Data(app): Data<&Arc<App>>) -> ApiResult<Json<Value>> {
        Ok(Json(app.identity.keys.jwks().clone()))
    }
}
