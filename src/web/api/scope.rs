//! What an `operator` console user may see: only the calls they answered, and the
//! evaluations of those calls. Every handler that serves a call, a recording or an
//! evaluation to a role that includes operators asks here; a call of someone else is
//! answered 404, as if it did not exist (its existence is not theirs to know).

use super::error::ApiError;
use crate::model::CallRecord;
use crate::store::{Principal, Role};

/// The operator whose calls alone this principal may see; `None`: every call.
pub fn own_operator(who: &Principal) -> Result<Option<&str>, ApiError> {
    match who.role {
        // The schema ties `operator` users to an operator id; without one, nothing.
        Role::Operator => who
            .operator_id
            .as_deref()
            .map(Some)
            .ok_or(ApiError::Forbidden),
        _ => Ok(None),
    }
}

/// Whether the principal may see this call.
pub fn may_see(who: &Principal, operator_id: Option<&str>) -> Result<bool, ApiError> {
    Ok(match own_operator(who)? {
        None => true,
        Some(own) => operator_id == Some(own),
    })
}

/// The call, or 404 when the principal may not see it.
pub fn visible(who: &Principal, call: CallRecord) -> Result<CallRecord, ApiError> {
    if may_see(who, call.operator_id.as_deref())? {
        Ok(call)
    } else {
        Err(ApiError::NotFound("call"))
    }
}
