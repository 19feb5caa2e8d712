//! Web Push as a server sends it: the message encrypted for the browser's
//! subscription (RFC 8291, `aes128gcm` of RFC 8188), signed with the
//! tenant's VAPID key (RFC 8292), and posted to the push service (RFC 8030).
//!
//! The cryptography is aws-lc-rs's (ECDH P-256, HKDF-SHA-256, AES-128-GCM,
//! ECDSA P-256), already the host's TLS and signing provider; the Rust
//! `ece` crate needs OpenSSL. The tests decrypt what this writes with the
//! reference implementation, Python's `http_ece`.

use aws_lc_rs::aead::{AES_128_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::agreement::{self, ECDH_P256, PrivateKey, UnparsedPublicKey};
use aws_lc_rs::hkdf::{HKDF_SHA256, KeyType, Prk, Salt};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};

use crate::db::{Db, DbError};

/// Largest payload: one 4096-byte record, less its overhead, with room.
pub const MAX_PAYLOAD_BYTES: usize = 3000;
/// The record size written in the header.
const RECORD_SIZE: u32 = 4096;
/// How long a VAPID token is valid (RFC 8292 allows at most 24 hours).
const TOKEN_HOURS: i64 = 12;

/// Why a message could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum WebPushError {
    #[error("{0}")]
    Invalid(String),
    #[error("the VAPID key cannot be used: {0}")]
    Key(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for WebPushError {
    fn from(e: sqlx::Error) -> Self {
        WebPushError::Db(e.into())
    }
}

/// A length for HKDF's output.
struct Len(usize);

impl KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

fn expand(prk: &Prk, info: &[&[u8]], len: usize) -> Result<Vec<u8>, WebPushError> {
    let mut out = vec![0u8; len];
    prk.expand(info, Len(len))
        .and_then(|okm| okm.fill(&mut out))
        .map_err(|_| WebPushError::Invalid("key derivation failed".into()))?;
    Ok(out)
}

fn decode_b64(what: &str, text: &str) -> Result<Vec<u8>, WebPushError> {
    let trimmed = text.trim_end_matches('=');
    URL_SAFE_NO_PAD
        .decode(trimmed)
        .or_else(|_| URL_SAFE.decode(text))
        .map_err(|_| WebPushError::Invalid(format!("{what} is not base64url")))
}

/// Encrypts `payload` for the subscription whose keys are `p256dh` (the
/// browser's public key) and `auth` (its secret), both base64url: the body
/// of the push request (RFC 8291 §4, one record).
pub fn encrypt(p256dh: &str, auth: &str, payload: &[u8]) -> Result<Vec<u8>, WebPushError> {
    let rng = SystemRandom::new();
    let mut salt = [0u8; 16];
    rng.fill(&mut salt).map_err(|_| WebPushError::Invalid("no randomness".into()))?;
    // A key pair of its own for each message (RFC 8291 §2).
    let ephemeral = PrivateKey::generate(&ECDH_P256).map_err(|_| WebPushError::Invalid("no key".into()))?;
    encrypt_with(p256dh, auth, payload, &ephemeral, salt)
}

fn encrypt_with(
    p256dh: &str,
    auth: &str,
    payload: &[u8],
    ephemeral: &PrivateKey,
    salt: [u8; 16],
) -> Result<Vec<u8>, WebPushError> {
    if payload.len() > MAX_PAYLOAD_BYTES {
        return Err(WebPushError::Invalid(format!("a push payload may be {MAX_PAYLOAD_BYTES} bytes")));
    }
    let ua_public = decode_b64("p256dh", p256dh)?;
    let auth_secret = decode_b64("auth", auth)?;
    if ua_public.len() != 65 || ua_public[0] != 4 {
        return Err(WebPushError::Invalid("p256dh must be an uncompressed P-256 point (65 bytes)".into()));
    }
    if auth_secret.len() != 16 {
        return Err(WebPushError::Invalid("auth must be 16 bytes".into()));
    }
    let as_public = ephemeral.compute_public_key().map_err(|_| WebPushError::Invalid("no public key".into()))?;
    let as_public = as_public.as_ref().to_vec();
    let ecdh_secret = agreement::agree(
        ephemeral,
        UnparsedPublicKey::new(&ECDH_P256, &ua_public),
        WebPushError::Invalid("p256dh is not a point of P-256".into()),
        |shared| Ok(shared.to_vec()),
    )?;
    // RFC 8291 §3.3: the input keying material, bound to both public keys.
    let prk_key = Salt::new(HKDF_SHA256, &auth_secret).extract(&ecdh_secret);
    let ikm = expand(&prk_key, &[b"WebPush: info\0", &ua_public, &as_public], 32)?;
    // RFC 8188 §2.2: the content encryption key and nonce.
    let prk = Salt::new(HKDF_SHA256, &salt).extract(&ikm);
    let cek = expand(&prk, &[b"Content-Encoding: aes128gcm\0"], 16)?;
    let nonce = expand(&prk, &[b"Content-Encoding: nonce\0"], 12)?;
    let key = LessSafeKey::new(UnboundKey::new(&AES_128_GCM, &cek).map_err(|_| WebPushError::Invalid("cek".into()))?);
    let nonce = Nonce::try_assume_unique_for_key(&nonce).map_err(|_| WebPushError::Invalid("nonce".into()))?;
    // One record, the last: the payload and the delimiter 0x02, no padding.
    let mut record = payload.to_vec();
    record.push(2);
    key.seal_in_place_append_tag(nonce, Aad::empty(), &mut record)
        .map_err(|_| WebPushError::Invalid("encryption failed".into()))?;
    let mut body = Vec::with_capacity(16 + 4 + 1 + 65 + record.len());
    body.extend_from_slice(&salt);
    body.extend_from_slice(&RECORD_SIZE.to_be_bytes());
    body.push(65);
    body.extend_from_slice(&as_public);
    body.extend_from_slice(&record);
    Ok(body)
}

/// A tenant's VAPID key pair.
pub struct VapidKey {
    pair: EcdsaKeyPair,
    /// The public key, base64url, uncompressed.
    pub public: String,
}

impl VapidKey {
    fn from_pkcs8(der: &[u8]) -> Result<Self, WebPushError> {
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
            .map_err(|e| WebPushError::Key(e.to_string()))?;
        let public = URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
        Ok(Self { pair, public })
    }

    /// The `Authorization` header for a push to `endpoint` (RFC 8292 §3):
    /// an ES256 JWT for the endpoint's origin, valid 12 hours, naming
    /// `contact` (a `mailto:` or `https:` URI).
    pub fn authorization(&self, endpoint: &url::Url, contact: &str) -> Result<String, WebPushError> {
        let origin = endpoint.origin().ascii_serialization();
        let exp = chrono::Utc::now().timestamp() + TOKEN_HOURS * 3600;
        let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"ES256"}"#);
        let claims = serde_json::json!({ "aud": origin, "exp": exp, "sub": contact });
        let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
        let signing_input = format!("{header}.{claims}");
        let signature = self
            .pair
            .sign(&SystemRandom::new(), signing_input.as_bytes())
            .map_err(|e| WebPushError::Key(e.to_string()))?;
        let token = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()));
        Ok(format!("vapid t={token}, k={}", self.public))
    }
}

/// The tenant's VAPID key, made and stored on first use.
pub async fn vapid_key(db: &Db, tenant: &str) -> Result<VapidKey, WebPushError> {
    let select = "SELECT private_key FROM tenant_vapid_keys WHERE tenant_id = $1";
    if let Some((der,)) = sqlx::query_as::<_, (Vec<u8>,)>(select).bind(tenant).fetch_optional(db.pool()).await? {
        return VapidKey::from_pkcs8(&der);
    }
    let der = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
        .map_err(|e| WebPushError::Key(e.to_string()))?;
    let key = VapidKey::from_pkcs8(der.as_ref())?;
    // Two processes may make one at once: the first stored wins.
    sqlx::query(
        "INSERT INTO tenant_vapid_keys (tenant_id, private_key, public_key, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (tenant_id) DO NOTHING",
    )
    .bind(tenant)
    .bind(der.as_ref())
    .bind(&key.public)
    .bind(crate::db::now())
    .execute(db.pool())
    .await?;
    let (der,): (Vec<u8>,) = sqlx::query_as(select).bind(tenant).fetch_one(db.pool()).await?;
    VapidKey::from_pkcs8(&der)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_has_the_rfc_8188_header_and_one_sealed_record() {
        let ua = PrivateKey::generate(&ECDH_P256).unwrap();
        let p256dh = URL_SAFE_NO_PAD.encode(ua.compute_public_key().unwrap().as_ref());
        let auth = URL_SAFE_NO_PAD.encode([7u8; 16]);
        let body = encrypt(&p256dh, &auth, b"hola").unwrap();
        assert_eq!(&body[16..20], &4096u32.to_be_bytes());
        assert_eq!(body[20], 65);
        assert_eq!(body[21], 4, "the sender's key, uncompressed");
        assert_eq!(body.len(), 16 + 4 + 1 + 65 + 4 + 1 + 16, "payload, delimiter and tag");
        // Two messages never share a salt or a key.
        assert_ne!(encrypt(&p256dh, &auth, b"hola").unwrap()[..86], body[..86]);
    }

    /// RFC 8291, Appendix A: the same keys and salt give the same message.
    #[test]
    fn the_rfc_8291_example_encrypts_to_its_message() {
        let b64 = |s: &str| URL_SAFE_NO_PAD.decode(s).unwrap();
        let as_private =
            PrivateKey::from_private_key(&ECDH_P256, &b64("yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw")).unwrap();
        let salt: [u8; 16] = b64("DGv6ra1nlYgDCS1FRnbzlw").try_into().unwrap();
        let body = encrypt_with(
            "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4",
            "BTBZMqHH6r4Tts7J_aSIgg",
            b"When I grow up, I want to be a watermelon",
            &as_private,
            salt,
        )
        .unwrap();
        assert_eq!(
            URL_SAFE_NO_PAD.encode(&body),
            "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN"
        );
    }

    #[test]
    fn bad_subscription_keys_and_large_payloads_are_refused() {
        let auth = URL_SAFE_NO_PAD.encode([7u8; 16]);
        assert!(encrypt("not base64!", &auth, b"x").is_err());
        assert!(encrypt(&URL_SAFE_NO_PAD.encode([4u8; 10]), &auth, b"x").is_err());
        let mut point = vec![4u8];
        point.extend([1u8; 64]);
        assert!(encrypt(&URL_SAFE_NO_PAD.encode(&point), &auth, b"x").is_err(), "not on the curve");
        let ua = PrivateKey::generate(&ECDH_P256).unwrap();
        let p256dh = URL_SAFE_NO_PAD.encode(ua.compute_public_key().unwrap().as_ref());
        assert!(encrypt(&p256dh, &auth, &[0u8; MAX_PAYLOAD_BYTES + 1]).is_err());
    }

    #[test]
    fn the_vapid_token_names_the_origin_and_verifies_with_the_public_key() {
        let der = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new()).unwrap();
        let key = VapidKey::from_pkcs8(der.as_ref()).unwrap();
        let endpoint = url::Url::parse("https://push.example.net:8443/send/abc?x=1").unwrap();
        let header = key.authorization(&endpoint, "mailto:ops@example.com").unwrap();
        let (t, k) = header.strip_prefix("vapid t=").unwrap().split_once(", k=").unwrap();
        assert_eq!(k, key.public);
        let mut parts = t.split('.');
        let (h, c, sig) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
        let claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(c).unwrap()).unwrap();
        assert_eq!(claims["aud"], "https://push.example.net:8443");
        assert_eq!(claims["sub"], "mailto:ops@example.com");
        let public = aws_lc_rs::signature::UnparsedPublicKey::new(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED,
            URL_SAFE_NO_PAD.decode(k).unwrap(),
        );
        public.verify(format!("{h}.{c}").as_bytes(), &URL_SAFE_NO_PAD.decode(sig).unwrap()).unwrap();
    }
}
