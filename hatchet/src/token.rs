//! The JWT a Hatchet SDK is configured with (`HATCHET_CLIENT_TOKEN`). The SDK reads its
//! claims without checking them: `sub` is the tenant, `server_url` the REST API and
//! `grpc_broadcast_address` where it dials gRPC. The server signs it (HS256, a key of its
//! own) and checks the signature on every call before it looks the token up.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    /// The tenant: Ratchet has one, the installation.
    pub sub: String,
    pub server_url: String,
    pub grpc_broadcast_address: String,
    /// Unique per token, so two tokens with the same claims differ.
    pub jti: String,
    pub iat: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
}

pub fn sign(claims: &Claims, key: &[u8]) -> Result<String, String> {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(key),
    )
    .map_err(|e| format!("cannot sign the token: {e}"))
}

/// The claims of a token this server signed (and that has not expired).
pub fn verify(token: &str, key: &[u8]) -> Result<Claims, String> {
    let mut validation = Validation::new(Algorithm::HS256);
    // `exp` is checked when present; a token without one lives until it is revoked.
    validation.required_spec_claims.clear();
    validation.leeway = 0;
    jsonwebtoken::decode::<Claims>(token, &DecodingKey::from_secret(key), &validation)
        .map(|data| data.claims)
        .map_err(|e| format!("not a token of this server: {e}"))
}

/// Does this bearer look like a JWT (three dot-separated parts)?
pub fn is_jwt(token: &str) -> bool {
    token.split('.').count() == 3
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Claims {
        Claims {
            sub: "tenant".into(),
            server_url: "http://127.0.0.1:8080".into(),
            grpc_broadcast_address: "127.0.0.1:7077".into(),
            jti: "one".into(),
            iat: 1,
            exp: None,
        }
    }

    #[test]
    fn a_signed_token_verifies_and_a_changed_one_does_not() {
        let token = sign(&claims(), b"key").unwrap();
        assert_eq!(verify(&token, b"key").unwrap(), claims());
        assert!(verify(&token, b"other key").is_err());
        // Claims swapped for others (say, another tenant) under the same signature.
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = sign(
            &Claims {
                sub: "other".into(),
                ..claims()
            },
            b"attacker",
        )
        .unwrap();
        parts[1] = forged.split('.').nth(1).unwrap();
        assert!(verify(&parts.join("."), b"key").is_err());
    }

    #[test]
    fn an_expired_token_is_refused() {
        let token = sign(
            &Claims {
                exp: Some(1000),
                ..claims()
            },
            b"key",
        )
        .unwrap();
        let err = verify(&token, b"key").unwrap_err();
        assert!(err.contains("Expired"), "{err}");
    }
}
