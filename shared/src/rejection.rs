//! Why a delivery is refused before anything is stored: what the providers'
//! checks return and the pipeline answers.

/// Why a delivery was refused before anything was stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    Method,
    TooLarge(usize),
    /// Bad or missing credentials: signature, path token.
    Unauthorized {
        code: &'static str,
        reason: String,
    },
    /// The caller's address is not on the configured allow-list.
    Forbidden {
        code: &'static str,
        reason: String,
    },
    /// Not JSON, wrong shape, missing key fields.
    BadRequest {
        code: &'static str,
        reason: String,
    },
    /// Authentic (signature or path token valid) but not usable: not UTF-8, not
    /// JSON, a field of an unexpected shape. Never refused: kept in quarantine.
    Unusable {
        code: &'static str,
        reason: String,
    },
}

impl Rejection {
    pub fn unauthorized(code: &'static str, reason: impl Into<String>) -> Self {
        Rejection::Unauthorized {
            code,
            reason: reason.into(),
        }
    }

    pub fn bad_request(code: &'static str, reason: impl Into<String>) -> Self {
        Rejection::BadRequest {
            code,
            reason: reason.into(),
        }
    }

    pub fn unusable(code: &'static str, reason: impl Into<String>) -> Self {
        Rejection::Unusable {
            code,
            reason: reason.into(),
        }
    }

    /// What a bad body means once the sender has proved who it is: the provider
    /// would only send the same bytes again, so it is kept, not refused.
    pub fn authentic(self) -> Self {
        match self {
            Rejection::BadRequest { code, reason } => Rejection::Unusable { code, reason },
            other => other,
        }
    }
}

/// A signature header that is missing, repeated or not text: no credential to check.
pub fn header_rejection(e: crate::request::HeaderError) -> Rejection {
    use crate::request::HeaderError;
    let code = match e {
        HeaderError::Missing(_) => "header_missing",
        HeaderError::Repeated(_) => "header_repeated",
        HeaderError::NotAscii(_) => "header_not_ascii",
    };
    Rejection::unauthorized(code, e.to_string())
}
