//! The one error type of the Identity Center layer. Every message names the operation and the
//! object and says what an operator should do; none ever contains the token.

use super::filter::FilterError;

/// Anything that can go wrong talking to Identity Center's SCIM endpoint.
///
/// `Clone` (every field is a string) so a failure can be recorded in a snapshot or summary and
/// still be returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScimError {
    /// The configured endpoint is unusable (not https, malformed, carries credentials).
    #[error("invalid SCIM endpoint URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },

    /// The HTTP client could not be built (TLS set-up).
    #[error("could not set up the HTTPS client for Identity Center: {0}")]
    Setup(String),

    /// The server's TLS certificate was refused. Retrying cannot help: the endpoint is not
    /// the one configured, or something between intercepts TLS.
    #[error(
        "the TLS certificate of the SCIM endpoint was refused during {operation}: {detail}; check \
         that the SCIM URL points to Identity Center and that no proxy intercepts TLS"
    )]
    Certificate { operation: String, detail: String },

    /// 401: every further call would fail the same way.
    #[error(
        "SCIM token rejected (401) during {operation}: the token expired or was rotated, or \
         provisioning was re-enabled; {remedy}"
    )]
    Unauthorized {
        operation: String,
        /// Where to put a new token (names the secret id, never the token).
        remedy: String,
    },

    /// 403: the token is valid but may not do this.
    #[error(
        "Identity Center refused {operation} of {object} (403 AccessDenied): check that \
         automatic provisioning is enabled and the token belongs to this instance"
    )]
    Forbidden { operation: String, object: String },

    /// 404 on a collection or discovery URL: the endpoint itself is wrong.
    #[error(
        "SCIM endpoint not found (404) during {operation} at {url}: the SCIM URL or tenant id is \
         wrong (re-enabling automatic provisioning changes both); copy the SCIM endpoint from \
         the IAM Identity Center console. Detail: \"{detail}\""
    )]
    EndpointNotFound {
        operation: String,
        url: String,
        detail: String,
    },

    /// 404 on one object: it does not exist (any more).
    #[error("{object} not found (404) during {operation}; it was probably deleted meanwhile, the next pass re-reads it")]
    NotFound { operation: String, object: String },

    /// 400: Identity Center refused the request; its detail is quoted.
    #[error(
        "Identity Center rejected {operation} of {object} (400): \"{detail}\"; fix the value in \
         the directory if it is one Identity Center refuses, otherwise report this as a \
         scim-sync bug"
    )]
    BadRequest {
        operation: String,
        object: String,
        detail: String,
    },

    /// 409 that is not our own earlier write: another object holds a unique value.
    #[error(
        "{operation} of {object} conflicts with an existing Identity Center object (409): \
         {detail}; rename or remove one of the two, or let scim-sync own the existing object"
    )]
    Conflict {
        operation: String,
        object: String,
        detail: String,
    },

    /// Throttling, server errors or lost connections outlasted the retry budget.
    #[error(
        "{operation} of {object} failed after {attempts} attempts (last: {last}); Identity \
         Center is throttling or unavailable, the next pass retries"
    )]
    RetriesExhausted {
        operation: String,
        object: String,
        attempts: u32,
        last: String,
    },

    /// The pass's deadline came first: the request (or the rest of a multi-request change)
    /// was not sent. Not a failure: the pass reports itself incomplete and the next one
    /// continues from what it reads.
    #[error(
        "{operation} of {object} stopped at the pass's deadline: {detail}; the pass is \
         incomplete and the next pass continues"
    )]
    DeadlineReached {
        operation: String,
        object: String,
        detail: String,
    },

    /// A status the client has no rule for.
    #[error("unexpected HTTP {status} during {operation} of {object}: \"{detail}\"")]
    UnexpectedStatus {
        operation: String,
        object: String,
        status: u16,
        detail: String,
    },

    /// A success whose body could not be understood.
    #[error("unreadable response to {operation} of {object}: {reason}")]
    InvalidResponse {
        operation: String,
        object: String,
        reason: String,
    },

    /// A value that cannot be put in a filter reached a caller with no listing fallback.
    #[error(transparent)]
    Filter(#[from] FilterError),
}

impl ScimError {
    /// True for a rejected token: stop the pass and alarm.
    pub fn is_auth_failure(&self) -> bool {
        matches!(self, ScimError::Unauthorized { .. })
    }

    /// True for a collision with an object the sync does not own.
    pub fn is_conflict(&self) -> bool {
        matches!(self, ScimError::Conflict { .. })
    }

    /// True when the pass's deadline stopped the work, not an error of the service.
    pub fn is_deadline_reached(&self) -> bool {
        matches!(self, ScimError::DeadlineReached { .. })
    }

    /// True for a 404 on a single object.
    pub fn is_not_found(&self) -> bool {
        matches!(self, ScimError::NotFound { .. })
    }

    /// True when the endpoint or the credentials are wrong, so nothing else can work either.
    pub fn is_configuration_error(&self) -> bool {
        matches!(
            self,
            ScimError::Unauthorized { .. }
                | ScimError::EndpointNotFound { .. }
                | ScimError::InvalidUrl { .. }
                | ScimError::Certificate { .. }
                | ScimError::Setup(_)
        )
    }
}

/// The remedy sentence of a 401, naming where the token lives.
pub(crate) fn token_remedy(token_secret_id: Option<&str>, token_origin: Option<&str>) -> String {
    match (token_secret_id, token_origin) {
        (Some(id), _) => format!("put a new token in secret {id}"),
        (None, Some(origin)) => format!("put a new token in {origin}"),
        (None, None) => "put a new token where the configuration reads it (token file or \
                         environment variable)"
            .to_string(),
    }
}
