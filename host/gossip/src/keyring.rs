//! The gossip keyring (memberlist's model): a primary key that encrypts, other installed keys
//! that still decrypt; AES-256-GCM sealing and opening with `ring`; serf's key operations.

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

/// A gossip encryption key (AES-256).
pub(crate) type Key = [u8; 32];

/// At most this many keys can be installed, so a keyring listing fits in one datagram.
pub(crate) const MAX_KEYS: usize = 16;
/// AES-GCM tag length (ring does not export it).
const TAG_LEN: usize = 16;
/// Bytes an encrypted payload grows by: the nonce in front, the tag behind.
pub(crate) const SEAL_OVERHEAD: usize = NONCE_LEN + TAG_LEN;

/// memberlist's `UseKey` error.
pub(crate) const ERR_KEY_NOT_INSTALLED: &str = "Requested key is not in the keyring";
/// memberlist's `RemoveKey` error.
pub(crate) const ERR_REMOVE_PRIMARY: &str = "Removing the primary key is not allowed";

/// Opening failed: too short, or no installed key authenticates it (wrong key, bad tag).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OpenFailed;

/// Sealing failed (the system random source or the AEAD refused; not expected to happen).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SealFailed;

struct Installed {
    raw: Key,
    aead: LessSafeKey,
}

impl Installed {
    /// `None` only if ring refuses the key (AES-256-GCM accepts every 32-byte key).
    fn new(raw: Key) -> Option<Self> {
        let aead = UnboundKey::new(&AES_256_GCM, &raw)
            .ok()
            .map(LessSafeKey::new)?;
        Some(Self { raw, aead })
    }
}

/// The installed keys, primary first (never empty).
pub(crate) struct Keyring {
    keys: Vec<Installed>,
    rng: SystemRandom,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        write!(f, "Keyring({} keys)", self.keys.len())
    }
}

impl Keyring {
    /// A keyring from keys in order, the first being the primary; duplicates are dropped and
    /// at most [`MAX_KEYS`] are kept. `None` for an empty list.
    pub fn new(keys: &[Key]) -> Option<Self> {
        let mut installed: Vec<Installed> = Vec::with_capacity(keys.len());
        for key in keys {
            if installed.len() < MAX_KEYS
                && !installed.iter().any(|k| k.raw == *key)
                && let Some(k) = Installed::new(*key)
            {
                installed.push(k);
            }
        }
        if installed.is_empty() {
            return None;
        }
        Some(Self {
            keys: installed,
            rng: SystemRandom::new(),
        })
    }

    pub fn primary(&self) -> Key {
        self.keys.first().map(|k| k.raw).unwrap_or([0; 32])
    }

    /// All installed keys, primary first.
    pub fn keys(&self) -> Vec<Key> {
        self.keys.iter().map(|k| k.raw).collect()
    }

    /// Adds a key (already installed: nothing to do). `Ok(true)` when the keyring changed.
    pub fn install(&mut self, key: Key) -> Result<bool, String> {
        if self.keys.iter().any(|k| k.raw == key) {
            return Ok(false);
        }
        if self.keys.len() >= MAX_KEYS {
            return Err(format!(
                "Keyring is full: at most {MAX_KEYS} keys can be installed"
            ));
        }
        let installed = Installed::new(key).ok_or_else(|| "Invalid key".to_string())?;
        self.keys.push(installed);
        Ok(true)
    }

    /// Makes an installed key the primary. `Ok(true)` when the keyring changed.
    pub fn use_key(&mut self, key: Key) -> Result<bool, String> {
        let pos = self
            .keys
            .iter()
            .position(|k| k.raw == key)
            .ok_or_else(|| ERR_KEY_NOT_INSTALLED.to_string())?;
        if pos == 0 {
            return Ok(false);
        }
        let k = self.keys.remove(pos);
        self.keys.insert(0, k);
        Ok(true)
    }

    /// Removes a key that is not the primary (not installed: nothing to do). `Ok(true)` when
    /// the keyring changed.
    pub fn remove(&mut self, key: Key) -> Result<bool, String> {
        if self.primary() == key {
            return Err(ERR_REMOVE_PRIMARY.to_string());
        }
        let before = self.keys.len();
        self.keys.retain(|k| k.raw != key);
        Ok(self.keys.len() != before)
    }

    /// Appends `nonce || AEAD(primary, plaintext, aad) || tag` to `out`.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8], out: &mut Vec<u8>) -> Result<(), SealFailed> {
        let key = self.keys.first().ok_or(SealFailed)?;
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).map_err(|_| SealFailed)?;
        out.reserve(SEAL_OVERHEAD + plaintext.len());
        out.extend_from_slice(&nonce);
        let start = out.len();
        out.extend_from_slice(plaintext);
        let tag = key
            .aead
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut out[start..],
            )
            .map_err(|_| SealFailed)?;
        out.extend_from_slice(tag.as_ref());
        Ok(())
    }

    /// Opens `nonce || ciphertext || tag` with each installed key, primary first; the
    /// plaintext is left in `scratch`.
    pub fn open(&self, aad: &[u8], sealed: &[u8], scratch: &mut Vec<u8>) -> Result<(), OpenFailed> {
        if sealed.len() < SEAL_OVERHEAD {
            return Err(OpenFailed);
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| OpenFailed)?;
        for key in &self.keys {
            scratch.clear();
            scratch.extend_from_slice(body);
            let opened = key.aead.open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                scratch.as_mut_slice(),
            );
            if let Ok(plain) = opened {
                let len = plain.len();
                scratch.truncate(len);
                return Ok(());
            }
        }
        scratch.clear();
        Err(OpenFailed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Key = [1; 32];
    const B: Key = [2; 32];
    const C: Key = [3; 32];

    #[test]
    fn seal_open_round_trip_with_any_installed_key() {
        let sender = Keyring::new(&[A]).unwrap();
        let receiver = Keyring::new(&[B, A]).unwrap();
        let mut sealed = Vec::new();
        sender.seal(b"hdr", b"hello", &mut sealed).unwrap();
        assert_eq!(sealed.len(), 5 + SEAL_OVERHEAD);
        let mut plain = Vec::new();
        receiver.open(b"hdr", &sealed, &mut plain).unwrap();
        assert_eq!(plain, b"hello");
        // Wrong associated data, wrong key, tampering, truncation: all fail.
        assert_eq!(receiver.open(b"hdX", &sealed, &mut plain), Err(OpenFailed));
        let stranger = Keyring::new(&[C]).unwrap();
        assert_eq!(stranger.open(b"hdr", &sealed, &mut plain), Err(OpenFailed));
        let mut tampered = sealed.clone();
        tampered[NONCE_LEN] ^= 1;
        assert_eq!(
            receiver.open(b"hdr", &tampered, &mut plain),
            Err(OpenFailed)
        );
        assert_eq!(
            receiver.open(b"hdr", &sealed[..SEAL_OVERHEAD - 1], &mut plain),
            Err(OpenFailed)
        );
    }

    #[test]
    fn tag_length_is_ring_s() {
        assert_eq!(AES_256_GCM.tag_len(), TAG_LEN);
        assert_eq!(AES_256_GCM.nonce_len(), NONCE_LEN);
    }

    #[test]
    fn nonces_differ_between_datagrams() {
        let k = Keyring::new(&[A]).unwrap();
        let (mut x, mut y) = (Vec::new(), Vec::new());
        k.seal(b"", b"same", &mut x).unwrap();
        k.seal(b"", b"same", &mut y).unwrap();
        assert_ne!(x, y);
    }

    #[test]
    fn operations_follow_memberlist() {
        let mut k = Keyring::new(&[A]).unwrap();
        assert_eq!(k.install(B), Ok(true));
        assert_eq!(k.install(B), Ok(false), "already installed is fine");
        assert_eq!(k.use_key(C), Err(ERR_KEY_NOT_INSTALLED.to_string()));
        assert_eq!(k.remove(A), Err(ERR_REMOVE_PRIMARY.to_string()));
        assert_eq!(k.use_key(B), Ok(true));
        assert_eq!(k.use_key(B), Ok(false));
        assert_eq!(k.keys(), [B, A]);
        assert_eq!(k.remove(A), Ok(true));
        assert_eq!(k.remove(A), Ok(false), "not installed is fine");
        assert_eq!(k.keys(), [B]);
        assert_eq!(k.primary(), B);
    }

    #[test]
    fn construction_dedups_and_caps() {
        assert!(Keyring::new(&[]).is_none());
        assert_eq!(Keyring::new(&[A, B, A]).unwrap().keys(), [A, B]);
        let many: Vec<Key> = (0..40u8).map(|i| [i; 32]).collect();
        let mut k = Keyring::new(&many).unwrap();
        assert_eq!(k.keys().len(), MAX_KEYS);
        assert!(k.install([200; 32]).is_err());
    }
}
