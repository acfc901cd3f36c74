//! HTTP errors in Consul's shape: a status code and a plain-text body.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use praetor_rpc::RpcError;

/// An error answered to an HTTP client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 with the reason.
    #[error("{0}")]
    BadRequest(String),
    /// 404 with an optional body (Consul often sends none).
    #[error("{0}")]
    NotFound(String),
    /// 403: a denial or an unknown token, with Consul's text.
    #[error("{0}")]
    Forbidden(String),
    /// 401 (`ACL support disabled`).
    #[error("{0}")]
    Unauthorized(String),
    /// 405.
    #[error("method {0} not allowed")]
    MethodNotAllowed(String),
    /// 409 (transactions that failed).
    #[error("{0}")]
    Conflict(String),
    /// 413.
    #[error("{0}")]
    TooLarge(String),
    /// 429 (`Rate limit reached, try again later`).
    #[error("{0}")]
    TooManyRequests(String),
    /// 500 with Consul's message (`No path to datacenter`, `No cluster leader`, ...).
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// A state query answered with a result of another kind (a bug, not bad input).
    pub(crate) fn unexpected_result(r: &impl std::fmt::Debug) -> ApiError {
        ApiError::Internal(format!("unexpected result {r:?}"))
    }

    /// An RPC answered with a response of another kind (a bug, not bad input).
    pub(crate) fn unexpected_response(r: &impl std::fmt::Debug) -> ApiError {
        ApiError::Internal(format!("unexpected response {r:?}"))
    }
}

impl From<praetor_acl::PermissionDenied> for ApiError {
    fn from(e: praetor_acl::PermissionDenied) -> Self {
        ApiError::Forbidden(e.to_string())
    }
}

impl From<RpcError> for ApiError {
    fn from(e: RpcError) -> Self {
        match e.root() {
            RpcError::BadRequest(m) => ApiError::BadRequest(m.clone()),
            RpcError::PermissionDenied(_) | RpcError::AclNotFound(_) => {
                ApiError::Forbidden(e.to_string())
            }
            RpcError::RateLimited => ApiError::TooManyRequests(e.root().to_string()),
            _ => ApiError::Internal(e.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = match &self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        (code, self.to_string()).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
