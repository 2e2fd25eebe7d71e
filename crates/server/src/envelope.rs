//! The answer shapes: the `{code, msg, data}` envelope of `/api/v1/*` and the
//! `{success, code, msg, data}` shape of the upload endpoints, and the one error type every
//! handler returns.
//!
//! Like upstream, answers are HTTP 200 with the real code in the envelope; with
//! `server.mirror_status` the code is also sent as the HTTP status (a layer in [`crate::api`]
//! does that, reading the [`EnvelopeCode`] extension each answer carries).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// The code of an answer, for the status-mirroring layer.
#[derive(Debug, Clone, Copy)]
pub struct EnvelopeCode(pub u16);

/// An error answer of the `/api/v1/*` envelope.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code}: {msg}")]
pub struct ApiError {
    /// Envelope code (401, 402, 409, 422, 429, 455, 500, …).
    pub code: u16,
    /// Message.
    pub msg: String,
}

impl ApiError {
    /// An error with this code and message.
    pub fn new(code: u16, msg: impl Into<String>) -> Self {
        Self {
            code,
            msg: msg.into(),
        }
    }
    /// 401 with the contract's message.
    pub fn unauthorized() -> Self {
        Self::new(401, "You do not have access permissions")
    }
    /// 422.
    pub fn validation(msg: impl Into<String>) -> Self {
        Self::new(422, msg)
    }
    /// 422 "recordInfo is null": unknown task, or another key's.
    pub fn no_record() -> Self {
        Self::new(422, "recordInfo is null")
    }
    /// 500 (details go to the log, not to the client).
    pub fn internal(what: impl std::fmt::Display) -> Self {
        tracing::error!("internal error: {what}");
        Self::new(500, "internal error, please try again later")
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        ApiError::internal(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        envelope(self.code, &self.msg, Value::Null)
    }
}

/// An envelope answer.
pub fn envelope(code: u16, msg: &str, data: Value) -> Response {
    let mut r = (
        StatusCode::OK,
        Json(json!({"code": code, "msg": msg, "data": data})),
    )
        .into_response();
    r.extensions_mut().insert(EnvelopeCode(code));
    r
}

/// A success envelope.
pub fn ok(data: Value) -> Response {
    envelope(200, "success", data)
}

/// An error of the upload endpoints (`{"success":false,"code":…,"msg":…}`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code}: {msg}")]
pub struct UploadError {
    /// 400, 401, 405, 455, 500.
    pub code: u16,
    /// Message.
    pub msg: String,
}

impl UploadError {
    /// An error with this code and message.
    pub fn new(code: u16, msg: impl Into<String>) -> Self {
        Self {
            code,
            msg: msg.into(),
        }
    }
}

impl From<ApiError> for UploadError {
    fn from(e: ApiError) -> Self {
        Self {
            code: e.code,
            msg: e.msg,
        }
    }
}

impl From<crate::store::StoreError> for UploadError {
    fn from(e: crate::store::StoreError) -> Self {
        ApiError::internal(e).into()
    }
}

impl IntoResponse for UploadError {
    fn into_response(self) -> Response {
        let mut r = (
            StatusCode::OK,
            Json(json!({"success": false, "code": self.code, "msg": self.msg, "data": null})),
        )
            .into_response();
        r.extensions_mut().insert(EnvelopeCode(self.code));
        r
    }
}

/// The upload success answer.
pub fn upload_ok(data: Value) -> Response {
    let mut r = (
        StatusCode::OK,
        Json(json!({"success": true, "code": 200, "msg": "File uploaded successfully", "data": data})),
    )
        .into_response();
    r.extensions_mut().insert(EnvelopeCode(200));
    r
}
