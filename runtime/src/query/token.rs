//! Pagination tokens: where the previous page stopped (the sort key of its
//! last event) and a fingerprint of the query it belongs to, so that a token
//! replayed against another query is refused instead of silently misapplied.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::params::BadRequest;

#[derive(Serialize, Deserialize)]
struct Token {
    #[serde(rename = "a")]
    after: String,
    #[serde(rename = "q")]
    query: String,
}

pub fn encode(after: &str, fingerprint: &str) -> String {
    let token = Token {
        after: after.to_owned(),
        query: fingerprint.to_owned(),
    };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&token).unwrap_or_default())
}

/// The position a token carries, if it is well-formed and was made for this query.
pub fn decode(text: &str, fingerprint: &str) -> Result<String, BadRequest> {
    let invalid = || {
        BadRequest(
            "`nextToken` is not a token this API issued; drop it to start from the first page"
                .into(),
        )
    };
    let bytes = URL_SAFE_NO_PAD.decode(text.trim()).map_err(|_| invalid())?;
    let token: Token = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if token.query != fingerprint {
        return Err(BadRequest(
            "`nextToken` belongs to a different query: repeat the same route, from, to and filters, or drop the token".into(),
        ));
    }
    Ok(token.after)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let t = encode("2024-01-01T00:00:00.000000Z#e", "q1");
        assert_eq!(decode(&t, "q1").unwrap(), "2024-01-01T00:00:00.000000Z#e");
        assert!(decode(&t, "q2").is_err());
        assert!(decode("not a token!", "q1").is_err());
        assert!(decode("e30", "q1").is_err());
    }
}
