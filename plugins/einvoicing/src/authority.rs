//! Calls to a tax authority, the same for the SRI and the AEAT: one SOAP
//! POST, and what a document records when no answer comes.
//!
//! Before each call the document's next try is armed, so that a call that
//! never ends (the host cuts it at the call's deadline, the process dies)
//! is still picked up by the `retry` job; an answer disarms it. A call the
//! module's own per-call budget of requests refuses is not the authority's
//! failure: it is reported as [`OUT_OF_BUDGET`], and the job stops its
//! batch there.

use plaza_sdk::prelude::*;

use crate::documents::{self, DocumentRow};

/// The problem type of a call refused by the per-call budget of requests.
pub const OUT_OF_BUDGET: &str = "urn:plaza:problem:einvoicing:out-of-call-budget";

/// Longest one call may take. The host's deadline of the whole call may
/// come first; the armed retry covers that.
const TIMEOUT_MS: u32 = 20_000;

/// Why no answer came.
pub enum NoAnswer {
    /// The authority is down, slow or answered garbage: try again later.
    Unreachable(String),
    /// This call has used its requests: a problem for the caller.
    OutOfBudget(Problem),
}

/// Arms the document's next try, in case this call never ends.
pub fn arm(doc: &DocumentRow) -> Result<(), Problem> {
    sql::execute(
        "UPDATE documents SET next_attempt_at = $1, updated_at = $2 WHERE id = $3",
        &params![documents::backoff(doc.attempts), time::now_rfc3339(), doc.id],
    )?;
    Ok(())
}

/// POSTs a SOAP envelope; the answer's body (a SOAP fault included, whose
/// body says more than its status).
pub fn post_soap(who: &str, url: &str, envelope: String) -> Result<Vec<u8>, NoAnswer> {
    let sent = http::post(url)
        .header("content-type", "text/xml; charset=utf-8")
        .header("soapaction", "")
        .body(envelope)
        .timeout_ms(TIMEOUT_MS)
        .send();
    let response = match sent {
        Ok(r) => r,
        Err(e) if e.kind() == "limit-exceeded" => {
            let problem = Problem::new(503, "Out of call budget")
                .with_type(OUT_OF_BUDGET)
                .detail(format!("this call may send no more requests to {who}: {e}"));
            return Err(NoAnswer::OutOfBudget(problem));
        }
        Err(e) => return Err(NoAnswer::Unreachable(format!("{who} could not be reached: {e}"))),
    };
    let soap = response.body.trim_ascii_start().starts_with(b"<");
    if response.status >= 500 && !soap {
        return Err(NoAnswer::Unreachable(format!("{who} answered {}", response.status)));
    }
    Ok(response.body)
}

/// What a caller does with a call that got no answer: the document keeps
/// its state and the job comes back after the back-off; a call out of
/// requests is the caller's problem.
pub fn no_answer(doc: &DocumentRow, why: NoAnswer) -> Result<(), Problem> {
    match why {
        NoAnswer::Unreachable(why) => documents::schedule_retry(doc.id, doc.attempts, &why),
        NoAnswer::OutOfBudget(problem) => Err(problem),
    }
}
