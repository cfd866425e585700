//! Webhook sink: each alert (alerts.md JSON) POSTed to a URL and signed, so a
//! receiver can tell pantau's alerts from forgeries and replays.
//!
//! Signature: `X-Pantau-Signature: sha256=<hex HMAC-SHA256(secret, "<t>.<body>")>`
//! where `<t>` is the `X-Pantau-Timestamp` header (Unix seconds). The timestamp
//! is inside the signed material, so a captured request cannot be replayed later
//! with a fresh timestamp; receivers reject timestamps outside a tolerance.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::SinkError;
use super::delivery::Transport;
use crate::alerts::Alert;
use crate::config::WebhookSinkConfig;

pub const SIGNATURE_HEADER: &str = "X-Pantau-Signature";
pub const TIMESTAMP_HEADER: &str = "X-Pantau-Timestamp";
/// The alert's id, so a receiver can drop a redelivery (same id) cheaply.
pub const ALERT_ID_HEADER: &str = "X-Pantau-Alert-Id";

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length.
    let mut m = HmacSha256::new_from_slice(secret).expect("HMAC accepts any key length");
    m.update(timestamp.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    m
}

/// The `X-Pantau-Signature` value for a body sent at `timestamp`.
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    format!(
        "sha256={}",
        hex::encode(mac(secret, timestamp, body).finalize().into_bytes())
    )
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("{TIMESTAMP_HEADER} is not Unix seconds")]
    BadTimestamp,
    #[error("{TIMESTAMP_HEADER} is {0} s away from now, beyond the tolerance")]
    Stale(i64),
    #[error("{SIGNATURE_HEADER} is not sha256=<hex>")]
    BadFormat,
    #[error("{SIGNATURE_HEADER} does not match the body")]
    Mismatch,
}

/// What a receiver does: checks the timestamp is recent and the signature
/// matches, in constant time.
pub fn verify(
    secret: &[u8],
    timestamp: &str,
    signature: &str,
    body: &[u8],
    now: i64,
    tolerance_s: i64,
) -> Result<(), VerifyError> {
    let t: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| VerifyError::BadTimestamp)?;
    if (now - t).abs() > tolerance_s {
        return Err(VerifyError::Stale(now - t));
    }
    let hex_sig = signature
        .trim()
        .strip_prefix("sha256=")
        .ok_or(VerifyError::BadFormat)?;
    let given = hex::decode(hex_sig).map_err(|_| VerifyError::BadFormat)?;
    mac(secret, t, body)
        .verify_slice(&given)
        .map_err(|_| VerifyError::Mismatch)
}

pub(crate) struct Webhook {
    url: String,
    secret: Vec<u8>,
}

impl Webhook {
    /// Reads the secret from the configured environment variable.
    pub(crate) fn new(cfg: &WebhookSinkConfig) -> Result<Webhook, SinkError> {
        let secret = std::env::var(&cfg.secret_env).unwrap_or_default();
        if secret.is_empty() {
            return Err(SinkError::Http {
                sink: "webhook",
                message: format!(
                    "the signing secret variable {} is not set or empty",
                    cfg.secret_env
                ),
            });
        }
        Ok(Webhook {
            url: cfg.url.clone(),
            secret: secret.into_bytes(),
        })
    }
}

impl Transport for Webhook {
    fn sink(&self) -> &'static str {
        "webhook"
    }

    fn url(&self) -> &str {
        &self.url
    }

    fn max_batch(&self) -> usize {
        1
    }

    fn request(&self, client: &reqwest::Client, batch: &[Alert]) -> reqwest::RequestBuilder {
        let alert = &batch[0];
        let body = serde_json::to_vec(alert).unwrap_or_default();
        let t = chrono::Utc::now().timestamp();
        client
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(TIMESTAMP_HEADER, t.to_string())
            .header(SIGNATURE_HEADER, sign(&self.secret, t, &body))
            .header(ALERT_ID_HEADER, alert.alert_id.as_str())
            .body(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_a_known_vector() {
        // python3 -c 'import hmac,hashlib;print(hmac.new(b"s3cret",b"1700000000.{}",hashlib.sha256).hexdigest())'
        assert_eq!(
            sign(b"s3cret", 1_700_000_000, b"{}"),
            "sha256=97926816e98fbb41ccb1673225ff29a2f35369099990e1b1561651e7bd097ebf"
        );
    }

    #[test]
    fn verify_accepts_the_signed_body_and_refuses_tampering_and_replays() {
        let body = br#"{"alert_id":"a"}"#;
        let sig = sign(b"k", 1000, body);
        assert_eq!(verify(b"k", "1000", &sig, body, 1100, 300), Ok(()));
        assert_eq!(
            verify(b"k", "1000", &sig, br#"{"alert_id":"b"}"#, 1100, 300),
            Err(VerifyError::Mismatch)
        );
        // The same body and signature under a fresher timestamp: not signed so.
        assert_eq!(
            verify(b"k", "1050", &sig, body, 1100, 300),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify(b"k", "1000", &sig, body, 2000, 300),
            Err(VerifyError::Stale(1000))
        );
        assert_eq!(
            verify(b"other", "1000", &sig, body, 1100, 300),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify(b"k", "1000", "md5=00", body, 1100, 300),
            Err(VerifyError::BadFormat)
        );
        assert_eq!(
            verify(b"k", "soon", &sig, body, 1100, 300),
            Err(VerifyError::BadTimestamp)
        );
    }
}
