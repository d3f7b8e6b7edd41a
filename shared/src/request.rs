//! What a receiver reads off an incoming delivery: raw body bytes, single-valued
//! headers and the caller's address.

use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HeaderError {
    #[error("header `{0}` is missing")]
    Missing(&'static str),
    #[error("header `{0}` is repeated")]
    Repeated(&'static str),
    #[error("header `{0}` is not visible ASCII")]
    NotAscii(&'static str),
}

/// The body exactly as the provider sent it (API Gateway's base64 is already undone).
pub fn raw_body(req: &Request) -> &[u8] {
    match req.body() {
        Body::Empty => &[],
        Body::Text(s) => s.as_bytes(),
        Body::Binary(b) => b,
        _ => &[],
    }
}

/// One header value, looked up case-insensitively. A repeated header is refused:
/// two `Sign` values leave no single truth to check.
pub fn single_header<'r>(req: &'r Request, name: &'static str) -> Result<&'r str, HeaderError> {
    let mut values = req.headers().get_all(name).iter();
    let first = values.next().ok_or(HeaderError::Missing(name))?;
    if values.next().is_some() {
        return Err(HeaderError::Repeated(name));
    }
    first.to_str().map_err(|_| HeaderError::NotAscii(name))
}

/// The caller's address as API Gateway (or a function URL) saw it.
pub fn source_ip(req: &Request) -> Option<String> {
    match req.request_context_ref()? {
        RequestContext::ApiGatewayV2(ctx) => ctx.http.source_ip.clone(),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}
