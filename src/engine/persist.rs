//! The on-disk form of the core's windows for a warm restart (`<journal>.windows`): PURE
//! encoding and decoding; the engine fills and applies it, the app layer writes the file.
//!
//! Layout: `SLOGUARDW`, the format version (u32 LE), the SHA-256 of the payload, then the
//! payload: the length of a JSON header (u32 LE), the header, and every stream's buckets
//! as u64 LE. The header names each SLO by `service/slo` with a fingerprint of what
//! shapes its windows (queries, windows, tiers, buckets, lateness): an SLO whose
//! fingerprint changed starts cold, the others stay warm. A file from another format,
//! with a bad checksum or that does not parse is refused whole, naming why: nothing in it
//! is ever read as good.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

const MAGIC: &[u8; 9] = b"SLOGUARDW";
/// Bumped whenever the layout of the header or the buckets changes.
pub const FORMAT: u32 = 1;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PersistError {
    #[error("not a sloguard windows file")]
    NotOurs,
    #[error("written by another format ({found}; this sloguard reads {FORMAT})")]
    Format { found: u32 },
    #[error("checksum mismatch: the file is corrupt or truncated")]
    Checksum,
    #[error("malformed: {0}")]
    Malformed(String),
}

/// Everything saved about one SLO.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedSlo {
    /// `service/slo`.
    pub key: String,
    pub fingerprint: String,
    /// The clock of its group's store when saved.
    pub clock: i64,
    pub image_len: usize,
    pub streams: Vec<SavedStream>,
    /// (region, covered from, last answered).
    pub cover: Vec<(String, i64, i64)>,
    pub gaps: Vec<SavedGap>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedStream {
    pub region: String,
    pub tier_bits: u32,
    pub alert_bits: u8,
    /// Where its buckets start in the data (in u64s).
    pub offset: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedGap {
    pub regions: Option<Vec<String>>,
    pub from: i64,
    pub to: i64,
    pub initial: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// The sloguard that wrote it (informational; `FORMAT` decides compatibility).
    pub version: String,
    /// The last evaluation the windows hold.
    pub saved_at: i64,
    pub slos: Vec<SavedSlo>,
}

/// The file's bytes.
pub fn encode(header: &Header, data: &[u64]) -> Vec<u8> {
    let json = serde_json::to_vec(header).unwrap_or_default();
    let mut payload = Vec::with_capacity(4 + json.len() + 8 * data.len());
    payload.extend_from_slice(&(json.len() as u32).to_le_bytes());
    payload.extend_from_slice(&json);
    for v in data {
        payload.extend_from_slice(&v.to_le_bytes());
    }
    let mut out = Vec::with_capacity(MAGIC.len() + 4 + 32 + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT.to_le_bytes());
    out.extend_from_slice(&Sha256::digest(&payload));
    out.extend_from_slice(&payload);
    out
}

/// The header and the bucket data of a file's bytes.
pub fn decode(bytes: &[u8]) -> Result<(Header, Vec<u64>), PersistError> {
    let rest = bytes.strip_prefix(MAGIC).ok_or(PersistError::NotOurs)?;
    let (format, rest) = rest.split_at_checked(4).ok_or(PersistError::Checksum)?;
    let found = u32::from_le_bytes(format.try_into().map_err(|_| PersistError::Checksum)?);
    if found != FORMAT {
        return Err(PersistError::Format { found });
    }
    let (sum, payload) = rest.split_at_checked(32).ok_or(PersistError::Checksum)?;
    if Sha256::digest(payload).as_slice() != sum {
        return Err(PersistError::Checksum);
    }
    let (len, rest) = payload.split_at_checked(4).ok_or(PersistError::Checksum)?;
    let len = u32::from_le_bytes(len.try_into().map_err(|_| PersistError::Checksum)?) as usize;
    let (json, data) = rest
        .split_at_checked(len)
        .ok_or_else(|| PersistError::Malformed("header longer than the file".into()))?;
    let header: Header =
        serde_json::from_slice(json).map_err(|e| PersistError::Malformed(e.to_string()))?;
    if data.len() % 8 != 0 {
        return Err(PersistError::Malformed(
            "bucket data is not whole u64s".into(),
        ));
    }
    let values = data
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
        .collect();
    Ok((header, values))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> (Header, Vec<u64>) {
        (
            Header {
                version: "0.1.0".into(),
                saved_at: 1_000,
                slos: vec![SavedSlo {
                    key: "api/availability".into(),
                    fingerprint: "f".into(),
                    clock: 990,
                    image_len: 3,
                    streams: vec![SavedStream {
                        region: "us-east-1".into(),
                        tier_bits: 1,
                        alert_bits: 0,
                        offset: 0,
                    }],
                    cover: vec![("us-east-1".into(), 0, 990)],
                    gaps: Vec::new(),
                }],
            },
            vec![1, 2, u64::MAX],
        )
    }

    #[test]
    fn round_trips() {
        let (h, d) = sample();
        assert_eq!(decode(&encode(&h, &d)).unwrap(), (h, d));
    }

    #[test]
    fn refuses_foreign_corrupt_and_other_format_files() {
        let (h, d) = sample();
        let good = encode(&h, &d);
        assert_eq!(decode(b"SQLite format 3\0"), Err(PersistError::NotOurs));
        let mut flipped = good.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert_eq!(decode(&flipped), Err(PersistError::Checksum));
        assert_eq!(decode(&good[..good.len() - 5]), Err(PersistError::Checksum));
        let mut other = good.clone();
        other[9] = 9;
        assert_eq!(decode(&other), Err(PersistError::Format { found: 9 }));
    }
}
