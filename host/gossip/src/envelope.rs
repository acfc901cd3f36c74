//! Datagram envelope: versioning, multiplexing of several protocols on one UDP port, and
//! authenticated encryption with the keyring.
//!
//! Plaintext (no keyring): `[version][kind][payload]`.
//! Encrypted (keyring):    `[version][ENCRYPTED][nonce 12][AES-256-GCM([kind][payload]) + tag 16]`,
//! the two header bytes being the associated data. A pool with a keyring accepts only
//! encrypted datagrams; a pool without one only plaintext ones.

use std::num::NonZeroUsize;

use crate::keyring::{Keyring, OpenFailed, SEAL_OVERHEAD, SealFailed};

/// Envelope format version.
pub(crate) const VERSION: u8 = 1;
/// Bytes of the envelope header.
pub(crate) const HEADER_LEN: usize = 2;
/// Header kind code of an encrypted datagram (the real kind is inside the ciphertext).
pub(crate) const ENCRYPTED: u8 = 0x80;
/// Largest datagram we send (memberlist's UDP buffer size; below typical MTUs).
pub(crate) const MAX_DATAGRAM: usize = 1400;
/// Bytes encryption adds to a plaintext envelope: nonce, tag and the inner kind byte.
pub(crate) const ENCRYPTION_OVERHEAD: usize = SEAL_OVERHEAD + 1;
/// The largest foca packet (what foca produces and accepts): a full packet still fits in
/// [`MAX_DATAGRAM`] once encrypted.
pub(crate) const FOCA_MAX_PACKET: NonZeroUsize =
    match NonZeroUsize::new(MAX_DATAGRAM - HEADER_LEN - ENCRYPTION_OVERHEAD) {
        Some(n) => n,
        None => NonZeroUsize::MIN,
    };

/// What a datagram carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A foca (SWIM) packet.
    Foca,
    /// An RTT probe (network coordinates).
    Ping,
    /// The answer to a [`Kind::Ping`].
    Ack,
    /// A keyring operation sent to every member.
    KeyQuery,
    /// A member's answer to a [`Kind::KeyQuery`].
    KeyReply,
    /// A chunk of a push-pull state sync.
    Sync,
}

impl Kind {
    pub fn code(self) -> u8 {
        match self {
            Kind::Foca => 0,
            Kind::Ping => 1,
            Kind::Ack => 2,
            Kind::KeyQuery => 3,
            Kind::KeyReply => 4,
            Kind::Sync => 5,
        }
    }

    pub fn from_code(code: u8) -> Option<Kind> {
        match code {
            0 => Some(Kind::Foca),
            1 => Some(Kind::Ping),
            2 => Some(Kind::Ack),
            3 => Some(Kind::KeyQuery),
            4 => Some(Kind::KeyReply),
            5 => Some(Kind::Sync),
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
    /// Plaintext datagram while a keyring is configured.
    Plaintext,
    /// Encrypted datagram while no keyring is configured.
    Encrypted,
    /// Encrypted, but no installed key authenticates it (wrong key, bad tag).
    Decrypt,
}

impl OpenError {
    /// A key problem (counted as a decrypt failure) rather than a malformed datagram.
    pub fn is_decrypt_failure(self) -> bool {
        self == OpenError::Decrypt
    }
}

/// Seals and opens datagrams, with the keyring when there is one.
#[derive(Debug)]
pub(crate) struct Envelope {
    keyring: Option<Keyring>,
    scratch: Vec<u8>,
}

impl Envelope {
    pub fn new(keyring: Option<Keyring>) -> Self {
        Self {
            keyring,
            scratch: Vec::new(),
        }
    }

    pub fn keyring(&self) -> Option<&Keyring> {
        self.keyring.as_ref()
    }

    pub fn keyring_mut(&mut self) -> Option<&mut Keyring> {
        self.keyring.as_mut()
    }

    /// Writes the datagram for `(kind, payload)` into `out` (cleared first).
    pub fn seal(
        &mut self,
        kind: Kind,
        payload: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), SealFailed> {
        out.clear();
        let Some(keyring) = &self.keyring else {
            out.reserve(HEADER_LEN + payload.len());
            out.push(VERSION);
            out.push(kind.code());
            out.extend_from_slice(payload);
            return Ok(());
        };
        self.scratch.clear();
        self.scratch.push(kind.code());
        self.scratch.extend_from_slice(payload);
        let header = [VERSION, ENCRYPTED];
        out.extend_from_slice(&header);
        keyring.seal(&header, &self.scratch, out)
    }

    /// Checks (and decrypts) a datagram; returns its kind, the payload being left in `plain`.
    pub fn open(&mut self, datagram: &[u8], plain: &mut Vec<u8>) -> Result<Kind, OpenError> {
        plain.clear();
        let [version, code, body @ ..] = datagram else {
            return Err(OpenError::TooShort(datagram.len()));
        };
        if *version != VERSION {
            return Err(OpenError::Version(*version));
        }
        match (&self.keyring, *code == ENCRYPTED) {
            (None, false) => {
                let kind = Kind::from_code(*code).ok_or(OpenError::Kind(*code))?;
                plain.extend_from_slice(body);
                Ok(kind)
            }
            (None, true) => Err(OpenError::Encrypted),
            (Some(_), false) => Err(OpenError::Plaintext),
            (Some(keyring), true) => {
                keyring
                    .open(&[*version, *code], body, &mut self.scratch)
                    .map_err(|OpenFailed| OpenError::Decrypt)?;
                let [inner, payload @ ..] = self.scratch.as_slice() else {
                    return Err(OpenError::TooShort(0));
                };
                let kind = Kind::from_code(*inner).ok_or(OpenError::Kind(*inner))?;
                plain.extend_from_slice(payload);
                Ok(kind)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(env: &mut Envelope, d: &[u8]) -> Result<(Kind, Vec<u8>), OpenError> {
        let mut plain = vec![9, 9];
        env.open(d, &mut plain).map(|k| (k, plain))
    }

    #[test]
    fn plaintext_seal_then_open_round_trips() {
        let mut env = Envelope::new(None);
        let mut out = vec![9, 9, 9];
        env.seal(Kind::Foca, b"hello", &mut out).unwrap();
        assert_eq!(out, [VERSION, 0, b'h', b'e', b'l', b'l', b'o']);
        assert_eq!(open(&mut env, &out), Ok((Kind::Foca, b"hello".to_vec())));
        env.seal(Kind::KeyReply, b"", &mut out).unwrap();
        assert_eq!(open(&mut env, &out), Ok((Kind::KeyReply, vec![])));
    }

    #[test]
    fn rejects_short_wrong_version_and_unknown_kind() {
        let mut env = Envelope::new(None);
        assert_eq!(open(&mut env, &[]), Err(OpenError::TooShort(0)));
        assert_eq!(open(&mut env, &[VERSION]), Err(OpenError::TooShort(1)));
        assert_eq!(open(&mut env, &[7, 0, 1]), Err(OpenError::Version(7)));
        assert_eq!(open(&mut env, &[VERSION, 6, 1]), Err(OpenError::Kind(6)));
        assert_eq!(open(&mut env, &[VERSION, 255]), Err(OpenError::Kind(255)));
        assert_eq!(open(&mut env, &[VERSION, 0]), Ok((Kind::Foca, vec![])));
    }

    #[test]
    fn encrypted_round_trip_and_mismatches() {
        let key = Keyring::new(&[[4; 32]]);
        let mut enc = Envelope::new(key);
        let mut plain_env = Envelope::new(None);
        let mut other = Envelope::new(Keyring::new(&[[5; 32]]));
        let mut out = Vec::new();
        enc.seal(Kind::Ping, b"probe", &mut out).unwrap();
        assert_eq!(out[..2], [VERSION, ENCRYPTED]);
        assert_eq!(out.len(), HEADER_LEN + ENCRYPTION_OVERHEAD + 5);
        assert_eq!(open(&mut enc, &out), Ok((Kind::Ping, b"probe".to_vec())));
        assert_eq!(open(&mut other, &out), Err(OpenError::Decrypt));
        assert_eq!(open(&mut plain_env, &out), Err(OpenError::Encrypted));
        let mut tampered = out.clone();
        tampered[1] = ENCRYPTED;
        tampered[0] = VERSION;
        let last = tampered.len() - 1;
        tampered[last] ^= 0x40;
        assert_eq!(open(&mut enc, &tampered), Err(OpenError::Decrypt));
        plain_env.seal(Kind::Foca, b"x", &mut out).unwrap();
        assert_eq!(open(&mut enc, &out), Err(OpenError::Plaintext));
        assert_eq!(
            open(&mut enc, &[VERSION, ENCRYPTED, 1, 2]),
            Err(OpenError::Decrypt)
        );
        assert!(OpenError::Decrypt.is_decrypt_failure());
        assert!(!OpenError::Plaintext.is_decrypt_failure());
    }

    #[test]
    fn a_full_foca_packet_fits_the_datagram_once_encrypted() {
        assert_eq!(
            FOCA_MAX_PACKET.get() + HEADER_LEN + ENCRYPTION_OVERHEAD,
            MAX_DATAGRAM
        );
        let mut enc = Envelope::new(Keyring::new(&[[4; 32]]));
        let mut out = Vec::new();
        enc.seal(Kind::Foca, &vec![0xaa; FOCA_MAX_PACKET.get()], &mut out)
            .unwrap();
        assert_eq!(out.len(), MAX_DATAGRAM);
    }
}
