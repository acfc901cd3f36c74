//! `praetor keygen`: a new gossip encryption key (32 random bytes from the OS, base64).

use anyhow::anyhow;
use base64::Engine as _;
use rand::TryRng as _;
use rand::rngs::SysRng;

use super::Outcome;

/// Size of the keys `keygen` makes (AES-256, the only size `encrypt` accepts; Consul also
/// takes 16 and 24 bytes).
pub const KEY_LEN: usize = 32;

/// A fresh key, base64-encoded (standard alphabet, padded).
pub fn new_key() -> anyhow::Result<String> {
    let mut key = [0u8; KEY_LEN];
    SysRng
        .try_fill_bytes(&mut key)
        .map_err(|e| anyhow!("Error reading random data: {e}"))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(key))
}

/// Prints a new key.
pub fn run() -> Outcome {
    println!("{}", new_key()?);
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_32_random_bytes_in_base64() {
        let a = new_key().expect("key");
        let b = new_key().expect("key");
        let raw = base64::engine::general_purpose::STANDARD
            .decode(&a)
            .expect("base64");
        assert_eq!(raw.len(), KEY_LEN);
        assert_eq!(a.len(), 44);
        assert_ne!(a, b);
    }
}
