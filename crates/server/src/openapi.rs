//! `/openapi.json`: an OpenAPI 3.1 description of every endpoint, written by hand from the
//! contract (API.md) so the document says exactly what the handlers do. The service-endpoints
//! test in `tests/api.rs` checks every endpoint is described, and that every endpoint taking a
//! `callBackUrl` describes its callback with a schema the real callback bodies
//! (`records::stage_callback`, `error_callback`, `wav_callback`) conform to.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};
use std::sync::Arc;

use crate::App;

fn envelope(data: Value) -> Value {
    json!({
        "type": "object",
        "required": ["code", "msg", "data"],
        "properties": {
            "code": {"type": "integer", "enum": [200, 401, 402, 404, 405, 409, 422, 429, 451, 455, 500],
                     "description": "200 ok · 401 auth · 402 credits · 404 not found · 405 wrong HTTP method · 409 WAV exists · 422 validation · 429 rate limited · 455 maintenance · 500 error. Sent with HTTP 200 unless server.mirror_status is set."},
            "msg": {"type": "string", "example": "success"},
            "data": data
        }
    })
}

fn answer(data: Value, description: &str) -> Value {
    json!({"200": {"description": description, "content": {"application/json": {"schema": envelope(data)}}}})
}

fn upload_answer() -> Value {
    json!({"200": {"description": "`success` tells; errors carry code 400, 401, 405, 455 or 500",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/UploadAnswer"}}}}})
}

/// An operation's `callbacks` entry: a POST of `schema` to the request's `callBackUrl`.
fn callback(schema: &str) -> Value {
    json!({"{$request.body#/callBackUrl}": {"post": {
        "requestBody": {"content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}},
        "responses": {"200": {"description": "any 2xx within 15 s; otherwise retried 3 times with growing delays"}}
    }}})
}

fn task_id_query() -> Value {
    json!([{"name": "taskId", "in": "query", "required": true, "schema": {"type": "string"}}])
}

/// The document, with `base` as the server URL.
pub fn document(base: &str) -> Value {
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Bandmate API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Suno-compatible add-instrumental API served by Bandmate. Every /api/v1 answer is the envelope {code, msg, data}. Generation is asynchronous: submit, then receive callbacks (text, first, complete, or error) and/or poll record-info."
        },
        "servers": [{"url": base}],
        "security": [{"BearerAuth": []}],
        "paths": {
            "/api/v1/generate/add-instrumental": {"post": {
                "summary": "Add an instrumental to a vocal (two variations)",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/AddInstrumentalRequest"}}}},
                "responses": answer(json!({"type": "object", "properties": {"taskId": {"type": "string", "pattern": "^[0-9a-f]{32}$"}}}), "taskId, or an error code with a message naming the field and rule"),
                "callbacks": {"stages": callback("StageCallback")}
            }},
            "/api/v1/generate/record-info": {"get": {
                "summary": "Task status and results",
                "parameters": task_id_query(),
                "responses": answer(json!({"$ref": "#/components/schemas/RecordInfo"}), "the record; 422 'recordInfo is null' for unknown tasks or another key's")
            }},
            "/api/v1/chat/credit": {"get": {
                "summary": "Credits left on this key",
                "responses": answer(json!({"type": "number"}), "credits")
            }},
            "/api/v1/wav/generate": {"post": {
                "summary": "Make a WAV of one finished track",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["taskId", "audioId", "callBackUrl"],
                    "properties": {"taskId": {"type": "string"}, "audioId": {"type": "string", "description": "the track id"}, "callBackUrl": {"type": "string", "format": "uri"}}}}}},
                "responses": answer(json!({"type": "object", "properties": {"taskId": {"type": "string"}}}), "the WAV task id; 409 when that track's WAV already exists"),
                "callbacks": {"wav": callback("WavCallback")}
            }},
            "/api/v1/wav/record-info": {"get": {
                "summary": "WAV task status",
                "parameters": task_id_query(),
                "responses": answer(json!({"$ref": "#/components/schemas/WavRecord"}), "the WAV record")
            }},
            "/api/file-stream-upload": {"post": {
                "summary": "Upload a file (multipart)",
                "requestBody": {"required": true, "content": {"multipart/form-data": {"schema": {
                    "type": "object", "required": ["file", "uploadPath"],
                    "properties": {"file": {"type": "string", "format": "binary"}, "uploadPath": {"type": "string"}, "fileName": {"type": "string"}}}}}},
                "responses": upload_answer()
            }},
            "/api/file-base64-upload": {"post": {
                "summary": "Upload a file (base64 or data URL)",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["base64Data", "uploadPath"],
                    "properties": {"base64Data": {"type": "string"}, "uploadPath": {"type": "string"}, "fileName": {"type": "string"}}}}}},
                "responses": upload_answer()
            }},
            "/api/file-url-upload": {"post": {
                "summary": "Upload a file by URL (fetched with limits and the SSRF guard)",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["fileUrl", "uploadPath"],
                    "properties": {"fileUrl": {"type": "string", "format": "uri"}, "uploadPath": {"type": "string"}, "fileName": {"type": "string"}}}}}},
                "responses": upload_answer()
            }},
            "/files/{id}/{name}": {"get": {
                "summary": "Download a stored file (HTTP Range supported; ?download=1 for an attachment)",
                "security": [],
                "parameters": [
                    {"name": "id", "in": "path", "required": true, "schema": {"type": "string"}},
                    {"name": "name", "in": "path", "required": true, "schema": {"type": "string"}},
                    {"name": "Range", "in": "header", "required": false, "schema": {"type": "string", "example": "bytes=0-1023"}}
                ],
                "responses": {"200": {"description": "the file"}, "206": {"description": "the requested range"}, "404": {"description": "unknown or expired"}, "416": {"description": "range not satisfiable"}}
            }},
            "/files/{id}": {"get": {
                "summary": "Download a stored file by id alone",
                "security": [],
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "the file"}, "206": {"description": "the requested range"}, "404": {"description": "unknown or expired"}}
            }},
            "/healthz": {"get": {"summary": "Liveness and database check", "security": [],
                "responses": {"200": {"description": "{status: ok, queueDepth}"}, "503": {"description": "the database is unreachable"}}}},
            "/metrics": {"get": {"summary": "Prometheus metrics", "security": [],
                "responses": {"200": {"description": "text exposition format"}}}},
            "/openapi.json": {"get": {"summary": "This document", "security": [],
                "responses": {"200": {"description": "OpenAPI 3.1"}}}},
            "/player/callback": {"post": {"summary": "The web player's callback sink: callbacks addressed to the server itself are recorded as delivered without a request", "security": [],
                "responses": {"200": {"description": "envelope with data null"}}}},
            "/": {"get": {"summary": "The web player", "security": [],
                "responses": {"200": {"description": "HTML"}}}}
        },
        "components": {
            "securitySchemes": {"BearerAuth": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "AddInstrumentalRequest": {
                    "type": "object",
                    "required": ["uploadUrl", "title", "tags", "negativeTags", "callBackUrl"],
                    "properties": {
                        "uploadUrl": {"type": "string", "format": "uri", "maxLength": 2048, "description": "the vocal or melody; fetched by the worker (size/time/redirect limits, private addresses refused)"},
                        "title": {"type": "string", "minLength": 1, "maxLength": 100},
                        "tags": {"type": "string", "minLength": 1, "maxLength": 1000, "description": "must contain a letter or digit (422 'tags must not be empty')"},
                        "negativeTags": {"type": "string", "maxLength": 200},
                        "callBackUrl": {"type": "string", "format": "uri", "maxLength": 2048},
                        "model": {"type": "string", "enum": ["V4_5PLUS", "V5"], "default": "V4_5PLUS"},
                        "vocalGender": {"type": "string", "enum": ["m", "f"]},
                        "styleWeight": {"type": "number", "minimum": 0, "maximum": 1, "multipleOf": 0.01, "default": 0.5},
                        "weirdnessConstraint": {"type": "number", "minimum": 0, "maximum": 1, "multipleOf": 0.01, "default": 0.3},
                        "audioWeight": {"type": "number", "minimum": 0, "maximum": 1, "multipleOf": 0.01, "default": 0.65}
                    }
                },
                "Track": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string", "format": "uuid"},
                        "audioUrl": {"type": "string"}, "sourceAudioUrl": {"type": "string"},
                        "streamAudioUrl": {"type": "string"}, "sourceStreamAudioUrl": {"type": "string"},
                        "imageUrl": {"type": "string"}, "sourceImageUrl": {"type": "string"},
                        "prompt": {"type": "string"}, "modelName": {"type": "string"},
                        "title": {"type": "string"}, "tags": {"type": "string"},
                        "createTime": {"type": "integer", "description": "epoch milliseconds"},
                        "duration": {"type": ["number", "null"]},
                        "variation": {"type": "integer", "description": "Bandmate: 1 or 2"},
                        "instrumentalUrl": {"type": "string", "description": "Bandmate: the band alone (MP3)"},
                        "midiUrl": {"type": "string", "description": "Bandmate: the arrangement (SMF)"},
                        "stemsUrl": {"type": "string", "description": "Bandmate: ZIP of per-instrument MP3 stems"},
                        "stems": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}, "url": {"type": "string"}}}},
                        "wavUrl": {"type": ["string", "null"], "description": "Bandmate: the WAV once made"},
                        "loudnessLufs": {"type": "number"}, "truePeakDbtp": {"type": "number"},
                        "plan": {"type": "object", "description": "Bandmate: key, tempo, beats, chord chart, style, parts"}
                    }
                },
                "RecordInfo": {
                    "type": "object",
                    "properties": {
                        "taskId": {"type": "string"},
                        "parentMusicId": {"type": "string"},
                        "param": {"type": "string", "description": "the request body as a JSON string"},
                        "response": {"type": ["object", "null"], "properties": {
                            "taskId": {"type": "string"},
                            "sunoData": {"type": "array", "items": {"$ref": "#/components/schemas/Track"}}}},
                        "status": {"type": "string", "enum": ["PENDING", "TEXT_SUCCESS", "FIRST_SUCCESS", "SUCCESS", "CREATE_TASK_FAILED", "GENERATE_AUDIO_FAILED", "CALLBACK_EXCEPTION", "SENSITIVE_WORD_ERROR"]},
                        "type": {"type": "string"},
                        "operationType": {"type": "string", "enum": ["add_instrumental"]},
                        "errorCode": {"type": ["integer", "null"]},
                        "errorMessage": {"type": ["string", "null"]},
                        "createTime": {"type": "integer"},
                        "plan": {"type": ["object", "null"], "description": "Bandmate: the plan of the text stage"}
                    }
                },
                "WavRecord": {
                    "type": "object",
                    "properties": {
                        "taskId": {"type": "string"}, "musicId": {"type": "string"}, "musicIndex": {"type": ["integer", "null"]},
                        "callbackUrl": {"type": "string"}, "completeTime": {"type": ["integer", "null"]},
                        "response": {"type": ["object", "null"], "properties": {"audioWavUrl": {"type": "string"}}},
                        "successFlag": {"type": "string", "enum": ["PENDING", "SUCCESS", "CREATE_TASK_FAILED", "GENERATE_WAV_FAILED", "CALLBACK_EXCEPTION"]},
                        "createTime": {"type": "integer"}, "errorCode": {"type": ["integer", "null"]}, "errorMessage": {"type": ["string", "null"]}
                    }
                },
                "Callback": {
                    "description": "Any body POSTed to a callBackUrl: the stages of an add-instrumental task, or the one callback of a WAV task.",
                    "oneOf": [{"$ref": "#/components/schemas/StageCallback"}, {"$ref": "#/components/schemas/WavCallback"}]
                },
                "StageCallback": {
                    "type": "object",
                    "required": ["code", "msg", "data"],
                    "description": "code 200 with callbackType text (data: []), first (track 1) or complete (both); on failure code 451/400/500/501 with callbackType error and data null. Signed with X-Webhook-Timestamp and X-Webhook-Signature = base64(HMAC-SHA256(secret, task_id + '.' + timestamp)) when the key has a webhook secret.",
                    "properties": {
                        "code": {"type": "integer"},
                        "msg": {"type": "string"},
                        "data": {"type": "object", "required": ["callbackType", "task_id", "data"], "properties": {
                            "callbackType": {"type": "string", "enum": ["text", "first", "complete", "error"]},
                            "task_id": {"type": "string"},
                            "data": {"type": ["array", "null"], "items": {"type": "object", "description": "snake_case track: id, audio_url, source_audio_url, stream_audio_url, source_stream_audio_url, image_url, source_image_url, prompt, model_name, title, tags, createTime, duration (+ instrumental_url, midi_url, stems_url, stems, plan)"}},
                            "plan": {"type": "object", "description": "text stage only: the plan"}
                        }}
                    }
                },
                "WavCallback": {
                    "type": "object",
                    "required": ["code", "msg", "data"],
                    "description": "The callback of POST /api/v1/wav/generate: code 200 and msg success with the WAV's URL, or on failure the error code (500 internal, 501 generation failed, …) and the reason, with audioWavUrl null. Signed like the stage callbacks.",
                    "properties": {
                        "code": {"type": "integer"},
                        "msg": {"type": "string"},
                        "data": {"type": "object", "required": ["task_id", "audioWavUrl"], "properties": {
                            "task_id": {"type": "string", "description": "the WAV task's id"},
                            "audioWavUrl": {"type": ["string", "null"], "description": "the WAV; null on failure"}
                        }}
                    }
                },
                "UploadAnswer": {
                    "type": "object",
                    "properties": {
                        "success": {"type": "boolean"}, "code": {"type": "integer"}, "msg": {"type": "string"},
                        "data": {"type": ["object", "null"], "properties": {
                            "fileName": {"type": "string"}, "filePath": {"type": "string"}, "downloadUrl": {"type": "string"},
                            "fileSize": {"type": "integer"}, "mimeType": {"type": "string"}, "uploadedAt": {"type": "string", "format": "date-time"}}}
                    }
                }
            }
        }
    })
}

/// `GET /openapi.json`.
pub async fn handler(State(app): State<Arc<App>>) -> Json<Value> {
    Json(document(&app.base_url))
}
