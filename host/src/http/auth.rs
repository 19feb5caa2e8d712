//! Security schemes of the OpenAPI document and their checks.

use std::sync::Arc;

use poem::Request;
use poem_openapi::SecurityScheme;
use poem_openapi::auth::Bearer;

use super::problem::ApiError;
use crate::app::App;
use crate::audit::Actor;

/// The platform operator's bearer token (`PLAZA_OPERATOR_TOKEN`).
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "opaque", checker = "check_operator", rename = "operatorToken")]
pub struct OperatorAuth(pub Actor);

async fn check_operator(req: &Request, bearer: Bearer) -> poem::Result<Actor> {
    let app = req.data::<Arc<App>>().ok_or_else(|| ApiError::internal(&"application state missing from request"))?;
    if app.operator.verify(&bearer.token) {
        Ok(Actor::new("operator"))
    } else {
        Err(ApiError::unauthorized("the bearer token is not valid").into())
    }
}
