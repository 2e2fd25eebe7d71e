//! Validation of request bodies: parse once at the edge into typed values, or answer 422
//! with a message that names the field and the rule (`"tags is required"`,
//! `"styleWeight must be between 0 and 1"`). Malformed JSON is 422 too, with the parser's
//! position. Unknown fields are ignored (clients send extras). The first failing field, in
//! the contract's table order, is reported.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use bandmate_core::{GenerationParams, ModelProfile, VocalGender, Weight};

use crate::envelope::ApiError;
use crate::guard::Guard;

/// Longest accepted URL.
pub const MAX_URL_CHARS: usize = 2048;
/// `title` length range (characters).
pub const TITLE_CHARS: (usize, usize) = (1, 100);
/// Longest `tags` (characters).
pub const MAX_TAGS_CHARS: usize = 1000;
/// Longest `negativeTags` (characters).
pub const MAX_NEGATIVE_TAGS_CHARS: usize = 200;

/// A validated add-instrumental request, as stored with the task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddInstrumental {
    /// The vocal.
    pub upload_url: String,
    /// 1..=100 characters.
    pub title: String,
    /// <= 1000 characters, at least one letter or digit.
    pub tags: String,
    /// <= 200 characters.
    pub negative_tags: String,
    /// Where callbacks go.
    pub call_back_url: String,
    /// Engine profile.
    pub model: ModelProfile,
    /// Voice hint.
    pub vocal_gender: Option<VocalGender>,
    /// 0..=1 in hundredths.
    pub style_weight: Option<u8>,
    /// 0..=1 in hundredths.
    pub weirdness_constraint: Option<u8>,
    /// 0..=1 in hundredths.
    pub audio_weight: Option<u8>,
}

impl AddInstrumental {
    /// The engine's settings for this request, with the task's seed.
    pub fn params(&self, seed: u64) -> GenerationParams {
        let w = |v: Option<u8>, d: Weight| v.map_or(d, Weight::from_hundredths);
        GenerationParams {
            title: self.title.clone(),
            tags: self.tags.clone(),
            negative_tags: self.negative_tags.clone(),
            style_weight: w(self.style_weight, GenerationParams::DEFAULT_STYLE_WEIGHT),
            weirdness: w(
                self.weirdness_constraint,
                GenerationParams::DEFAULT_WEIRDNESS,
            ),
            audio_weight: w(self.audio_weight, GenerationParams::DEFAULT_AUDIO_WEIGHT),
            vocal_gender: self.vocal_gender,
            model: self.model,
            seed,
        }
    }
}

/// A validated WAV request.
#[derive(Debug, Clone, PartialEq)]
pub struct WavRequest {
    /// The generation task.
    pub task_id: String,
    /// The track.
    pub audio_id: String,
    /// Where the callback goes.
    pub call_back_url: String,
}

/// Parse a body into a JSON object (422 on malformed JSON or a non-object).
pub fn parse_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ApiError::validation("request body must be a JSON object")),
        Err(e) => Err(ApiError::validation(format!("malformed JSON: {e}"))),
    }
}

fn present<'a>(m: &'a Map<String, Value>, field: &str) -> Option<&'a Value> {
    m.get(field).filter(|v| !v.is_null())
}

/// A required string field.
pub fn required_string(m: &Map<String, Value>, field: &str) -> Result<String, ApiError> {
    match present(m, field) {
        None => Err(ApiError::validation(format!("{field} is required"))),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(ApiError::validation(format!("{field} must be a string"))),
    }
}

fn optional_string(m: &Map<String, Value>, field: &str) -> Result<Option<String>, ApiError> {
    match present(m, field) {
        None => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::validation(format!("{field} must be a string"))),
    }
}

/// A required http(s) URL; `guard` (when given) refuses literal private addresses, except
/// under `own_base` (the server's own public URL: the web player's callback sink).
pub fn required_url(
    m: &Map<String, Value>,
    field: &str,
    guard: Option<(&Guard, &str)>,
) -> Result<String, ApiError> {
    let s = required_string(m, field)?;
    let s = s.trim().to_string();
    if s.chars().count() > MAX_URL_CHARS {
        return Err(ApiError::validation(format!(
            "{field} must be at most {MAX_URL_CHARS} characters"
        )));
    }
    let url = url::Url::parse(&s)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .ok_or_else(|| ApiError::validation(format!("{field} must be an http(s) URL")))?;
    if let Some((g, own_base)) = guard
        && (own_base.is_empty() || !s.starts_with(&format!("{own_base}/")))
        && g.check_url(&url).is_err()
    {
        return Err(ApiError::validation(format!(
            "{field} must not point to a loopback, private, link-local or metadata address"
        )));
    }
    Ok(s)
}

fn max_chars(field: &str, s: &str, max: usize) -> Result<(), ApiError> {
    if s.chars().count() > max {
        Err(ApiError::validation(format!(
            "{field} must be at most {max} characters"
        )))
    } else {
        Ok(())
    }
}

fn weight(m: &Map<String, Value>, field: &str) -> Result<Option<u8>, ApiError> {
    match present(m, field) {
        None => Ok(None),
        Some(Value::Number(n)) => {
            let v = n.as_f64().unwrap_or(f64::NAN);
            Weight::new(v)
                .map(|w| Some(w.hundredths()))
                .map_err(|_| ApiError::validation(format!("{field} must be between 0 and 1")))
        }
        Some(_) => Err(ApiError::validation(format!("{field} must be a number"))),
    }
}

/// Validate an add-instrumental body. `callback_guard` refuses a `callBackUrl` that is a
/// literal loopback/private address (names are checked at delivery) unless it is under
/// `own_base`.
pub fn add_instrumental(
    body: &[u8],
    callback_guard: &Guard,
    own_base: &str,
) -> Result<AddInstrumental, ApiError> {
    let m = parse_object(body)?;
    let upload_url = required_url(&m, "uploadUrl", None)?;
    let title = required_string(&m, "title")?;
    let n = title.trim().chars().count();
    if n < TITLE_CHARS.0 || title.chars().count() > TITLE_CHARS.1 {
        return Err(ApiError::validation(format!(
            "title must be between {} and {} characters",
            TITLE_CHARS.0, TITLE_CHARS.1
        )));
    }
    let tags = required_string(&m, "tags")?;
    // The contract has tags required and only negativeTags "may be empty". The engine reads
    // words made of letters and digits (compose::tags splits on everything else), so "",
    // "  " or ", ," would name no style at all: refused rather than silently played as the
    // default band.
    if !tags.chars().any(char::is_alphanumeric) {
        return Err(ApiError::validation("tags must not be empty"));
    }
    max_chars("tags", &tags, MAX_TAGS_CHARS)?;
    let negative_tags = required_string(&m, "negativeTags")?;
    max_chars("negativeTags", &negative_tags, MAX_NEGATIVE_TAGS_CHARS)?;
    let call_back_url = required_url(&m, "callBackUrl", Some((callback_guard, own_base)))?;
    let model = match optional_string(&m, "model")? {
        None => ModelProfile::default(),
        Some(s) => s
            .parse()
            .map_err(|_| ApiError::validation("model must be V4_5PLUS or V5"))?,
    };
    let vocal_gender = match optional_string(&m, "vocalGender")? {
        None => None,
        Some(s) => Some(
            s.parse()
                .map_err(|_| ApiError::validation("vocalGender must be m or f"))?,
        ),
    };
    Ok(AddInstrumental {
        upload_url,
        title: title.trim().to_string(),
        tags,
        negative_tags,
        call_back_url,
        model,
        vocal_gender,
        style_weight: weight(&m, "styleWeight")?,
        weirdness_constraint: weight(&m, "weirdnessConstraint")?,
        audio_weight: weight(&m, "audioWeight")?,
    })
}

/// Validate a WAV body.
pub fn wav(body: &[u8], callback_guard: &Guard, own_base: &str) -> Result<WavRequest, ApiError> {
    let m = parse_object(body)?;
    // Ids are trimmed and must not be blank, as `taskId` of the record-info queries.
    let id = |field: &str| -> Result<String, ApiError> {
        let s = required_string(&m, field)?.trim().to_string();
        if s.is_empty() {
            return Err(ApiError::validation(format!("{field} is required")));
        }
        Ok(s)
    };
    let task_id = id("taskId")?;
    let audio_id = id("audioId")?;
    let call_back_url = required_url(&m, "callBackUrl", Some((callback_guard, own_base)))?;
    Ok(WavRequest {
        task_id,
        audio_id,
        call_back_url,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const OWN: &str = "http://127.0.0.1:8080";

    fn good() -> Value {
        json!({
            "uploadUrl": "https://example.com/music.mp3",
            "model": "V4_5PLUS",
            "title": "Relaxing Piano",
            "negativeTags": "heavy metal, fast drums",
            "tags": "relaxing, piano, soothing",
            "callBackUrl": "https://example.com/callback",
            "vocalGender": "m",
            "styleWeight": 0.61,
            "weirdnessConstraint": 0.72,
            "audioWeight": 0.65,
            "someExtraField": [1, 2]
        })
    }

    fn err(v: Value) -> String {
        add_instrumental(v.to_string().as_bytes(), &Guard::default(), OWN)
            .unwrap_err()
            .msg
    }

    fn with(field: &str, value: Value) -> Value {
        let mut v = good();
        v[field] = value;
        v
    }

    fn without(field: &str) -> Value {
        let mut v = good();
        v.as_object_mut().unwrap().remove(field);
        v
    }

    #[test]
    fn the_upstream_example_is_valid() {
        let r = add_instrumental(good().to_string().as_bytes(), &Guard::default(), OWN).unwrap();
        assert_eq!(r.style_weight, Some(61));
        assert_eq!(r.model, ModelProfile::V45Plus);
        assert_eq!(r.vocal_gender, Some(VocalGender::Male));
        let p = r.params(7);
        assert_eq!(p.weirdness.hundredths(), 72);
        assert_eq!(p.seed, 7);
    }

    #[test]
    fn optional_fields_default() {
        let mut v = good();
        for f in [
            "model",
            "vocalGender",
            "styleWeight",
            "weirdnessConstraint",
            "audioWeight",
        ] {
            v.as_object_mut().unwrap().remove(f);
        }
        let r = add_instrumental(v.to_string().as_bytes(), &Guard::default(), OWN).unwrap();
        let p = r.params(1);
        assert_eq!(p.style_weight, GenerationParams::DEFAULT_STYLE_WEIGHT);
        assert_eq!(p.audio_weight.hundredths(), 65);
        assert_eq!(p.model, ModelProfile::V45Plus);
    }

    #[test]
    fn every_rule_names_its_field() {
        for f in ["uploadUrl", "title", "tags", "negativeTags", "callBackUrl"] {
            assert_eq!(err(without(f)), format!("{f} is required"));
            assert_eq!(err(with(f, Value::Null)), format!("{f} is required"));
            assert_eq!(err(with(f, json!(5))), format!("{f} must be a string"));
        }
        assert_eq!(
            err(with("uploadUrl", json!("ftp://x/y"))),
            "uploadUrl must be an http(s) URL"
        );
        assert_eq!(
            err(with("uploadUrl", json!("not a url"))),
            "uploadUrl must be an http(s) URL"
        );
        assert_eq!(
            err(with(
                "uploadUrl",
                json!(format!("https://e.com/{}", "a".repeat(2100)))
            )),
            "uploadUrl must be at most 2048 characters"
        );
        assert_eq!(
            err(with("title", json!(""))),
            "title must be between 1 and 100 characters"
        );
        assert_eq!(
            err(with("title", json!("x".repeat(101)))),
            "title must be between 1 and 100 characters"
        );
        assert!(
            add_instrumental(
                with("title", json!("é".repeat(100))).to_string().as_bytes(),
                &Guard::default(),
                OWN
            )
            .is_ok()
        );
        assert_eq!(
            err(with("tags", json!("t".repeat(1001)))),
            "tags must be at most 1000 characters"
        );
        for empty in ["", " ", "\t\n ", ",", " , ,, ", "; | / -"] {
            assert_eq!(
                err(with("tags", json!(empty))),
                "tags must not be empty",
                "{empty:?}"
            );
        }
        for fine in ["x", " , piano", "流行", "80s"] {
            assert!(
                add_instrumental(
                    with("tags", json!(fine)).to_string().as_bytes(),
                    &Guard::default(),
                    OWN
                )
                .is_ok(),
                "{fine:?}"
            );
        }
        assert_eq!(
            err(with("negativeTags", json!("t".repeat(201)))),
            "negativeTags must be at most 200 characters"
        );
        assert!(
            add_instrumental(
                with("negativeTags", json!("")).to_string().as_bytes(),
                &Guard::default(),
                OWN
            )
            .is_ok()
        );
        assert_eq!(
            err(with("callBackUrl", json!("http://127.0.0.1:9/cb"))),
            "callBackUrl must not point to a loopback, private, link-local or metadata address"
        );
        assert_eq!(
            err(with("model", json!("V4"))),
            "model must be V4_5PLUS or V5"
        );
        assert_eq!(
            err(with("vocalGender", json!("x"))),
            "vocalGender must be m or f"
        );
        for f in ["styleWeight", "weirdnessConstraint", "audioWeight"] {
            assert_eq!(
                err(with(f, json!(1.01))),
                format!("{f} must be between 0 and 1")
            );
            assert_eq!(
                err(with(f, json!(-0.1))),
                format!("{f} must be between 0 and 1")
            );
            assert_eq!(err(with(f, json!("0.5"))), format!("{f} must be a number"));
        }
    }

    #[test]
    fn wav_requests() {
        let wav_err = |v: Value| {
            wav(v.to_string().as_bytes(), &Guard::default(), OWN)
                .unwrap_err()
                .msg
        };
        let cb = "https://example.com/cb";
        let r = wav(
            json!({"taskId": " t1 ", "audioId": "a1", "callBackUrl": cb})
                .to_string()
                .as_bytes(),
            &Guard::default(),
            OWN,
        )
        .unwrap();
        assert_eq!((r.task_id.as_str(), r.audio_id.as_str()), ("t1", "a1"));
        assert_eq!(
            wav_err(json!({"audioId": "a", "callBackUrl": cb})),
            "taskId is required"
        );
        assert_eq!(
            wav_err(json!({"taskId": "  ", "audioId": "a", "callBackUrl": cb})),
            "taskId is required"
        );
        assert_eq!(
            wav_err(json!({"taskId": "t", "audioId": "", "callBackUrl": cb})),
            "audioId is required"
        );
        assert_eq!(
            wav_err(json!({"taskId": "t", "audioId": 7, "callBackUrl": cb})),
            "audioId must be a string"
        );
        assert_eq!(
            wav_err(json!({"taskId": "t", "audioId": "a"})),
            "callBackUrl is required"
        );
    }

    #[test]
    fn weights_round_to_hundredths() {
        let r = add_instrumental(
            with("audioWeight", json!(0.656)).to_string().as_bytes(),
            &Guard::default(),
            OWN,
        )
        .unwrap();
        assert_eq!(r.audio_weight, Some(66));
        let r = add_instrumental(
            with("audioWeight", json!(1)).to_string().as_bytes(),
            &Guard::default(),
            OWN,
        )
        .unwrap();
        assert_eq!(r.audio_weight, Some(100));
    }

    #[test]
    fn malformed_json_reports_the_position() {
        let e = add_instrumental(br#"{"title": "x",}"#, &Guard::default(), OWN).unwrap_err();
        assert_eq!(e.code, 422);
        assert!(e.msg.starts_with("malformed JSON: "), "{}", e.msg);
        assert!(e.msg.contains("line 1 column 15"), "{}", e.msg);
        assert_eq!(
            add_instrumental(b"[1]", &Guard::default(), OWN)
                .unwrap_err()
                .msg,
            "request body must be a JSON object"
        );
    }
}
