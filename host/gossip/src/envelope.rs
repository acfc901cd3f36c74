//! Datagram envelope `[version u8][kind u8][payload]`: versioning, multiplexing of several
//! protocols on one UDP port, and the seam where AEAD encryption will go.

use std::num::NonZeroUsize;

/// Envelope format version.
pub(crate) const VERSION: u8 = 1;
/// Bytes of the envelope header.
pub(crate) const HEADER_LEN: usize = 2;
/// Largest datagram we send (memberlist's UDP buffer size; below typical MTUs).
pub(crate) const MAX_DATAGRAM: usize = 1400;
/// Room kept for the AEAD nonce and tag (12 + 16) once encryption is implemented, so foca's
/// packet size does not have to change then.
pub(crate) const SEAL_RESERVE: usize = 32;
/// The largest foca packet (what foca produces and accepts).
pub(crate) const FOCA_MAX_PACKET: NonZeroUsize =
    match NonZeroUsize::new(MAX_DATAGRAM - HEADER_LEN - SEAL_RESERVE) {
        Some(n) => n,
        None => NonZeroUsize::MIN,
    };

/// What a datagram carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A foca (SWIM) packet.
    Foca,
    // 1 = coordinate ping, 2 = coordinate ack: reserved for Vivaldi, not understood yet.
}

impl Kind {
    pub fn code(self) -> u8 {
        match self {
            Kind::Foca => 0,
        }
    }

    pub fn from_code(code: u8) -> Option<Kind> {
        match code {
            0 => Some(Kind::Foca),
            _ => None,
        }
    }
}

/// Why a datagram was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpenError {
    TooShort(usize),
    Version(u8),
    Kind(u8),
}

/// Seals and opens datagrams. With a key, payloads will become `AEAD(key, payload)` (not
/// implemented yet: the key is only remembered).
#[derive(Debug, Clone)]
pub(crate) struct Envelope {
    key: Option<[u8; 32]>,
}

impl Envelope {
    pub fn new(key: Option<[u8; 32]>) -> Self {
        Self { key }
    }

    /// Whether a key was configured (encryption itself is still a seam).
    pub fn has_key(&self) -> bool {
        self.key.is_some()
    }

    /// Writes `[VERSION][kind][payload]` into `out` (cleared first).
    pub fn seal(&self, kind: Kind, payload: &[u8], out: &mut Vec<u8>) {
        out.clear();
        out.reserve(HEADER_LEN + payload.len());
        out.push(VERSION);
        out.push(kind.code());
        out.extend_from_slice(payload);
    }

    /// Checks the header and returns the kind and the payload.
    pub fn open<'a>(&self, datagram: &'a [u8]) -> Result<(Kind, &'a [u8]), OpenError> {
        let [version, kind, payload @ ..] = datagram else {
            return Err(OpenError::TooShort(datagram.len()));
        };
        if *version != VERSION {
            return Err(OpenError::Version(*version));
        }
        let kind = Kind::from_code(*kind).ok_or(OpenError::Kind(*kind))?;
        Ok((kind, payload))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_then_open_round_trips() {
        let env = Envelope::new(None);
        let mut out = vec![9, 9, 9];
        env.seal(Kind::Foca, b"hello", &mut out);
        assert_eq!(out, [VERSION, 0, b'h', b'e', b'l', b'l', b'o']);
        assert_eq!(env.open(&out), Ok((Kind::Foca, &b"hello"[..])));
    }

    #[test]
    fn rejects_short_wrong_version_and_unknown_kind() {
        let env = Envelope::new(None);
        assert_eq!(env.open(&[]), Err(OpenError::TooShort(0)));
        assert_eq!(env.open(&[VERSION]), Err(OpenError::TooShort(1)));
        assert_eq!(env.open(&[7, 0, 1]), Err(OpenError::Version(7)));
        assert_eq!(env.open(&[VERSION, 1, 1]), Err(OpenError::Kind(1)));
        assert_eq!(env.open(&[VERSION, 255]), Err(OpenError::Kind(255)));
        assert_eq!(env.open(&[VERSION, 0]), Ok((Kind::Foca, &[][..])));
    }

    #[test]
    fn foca_packet_leaves_room_for_header_and_seal() {
        assert_eq!(
            FOCA_MAX_PACKET.get() + HEADER_LEN + SEAL_RESERVE,
            MAX_DATAGRAM
        );
    }
}
