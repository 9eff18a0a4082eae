//! Random secrets and password hashing: the OS RNG and Argon2id, nothing else.
//!
//! Hashing is deliberately slow; callers run it outside every lock (and the server
//! outside its async workers). Verification reads the parameters from the stored
//! hash, so hashes made with other parameters still verify.

use super::types::Secret;
use super::IdentityError;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::rngs::SysRng;
use rand::TryRng;
use std::fmt::Write;

/// Argon2id cost parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Argon2Params {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for Argon2Params {
    /// The `argon2` crate's defaults (OWASP's recommendation): 19 MiB, 2 passes, 1 lane.
    fn default() -> Self {
        Argon2Params {
            memory_kib: Params::DEFAULT_M_COST,
            iterations: Params::DEFAULT_T_COST,
            parallelism: Params::DEFAULT_P_COST,
        }
    }
}

impl Argon2Params {
    /// The cheapest parameters Argon2 accepts: for tests only, which hash hundreds of
    /// credentials and must stay fast. Never use them for real credentials.
    pub fn insecure_for_tests() -> Argon2Params {
        Argon2Params {
            memory_kib: Params::MIN_M_COST,
            iterations: Params::MIN_T_COST,
            parallelism: Params::MIN_P_COST,
        }
    }

    fn hasher(&self) -> Result<Argon2<'static>, IdentityError> {
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map_err(|e| IdentityError::Hash(e.to_string()))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }

    /// Hashes `secret` with a fresh random salt; returns the PHC string.
    pub fn hash(&self, secret: &str) -> Result<Secret, IdentityError> {
        let hash = self
            .hasher()?
            .hash_password(secret.as_bytes())
            .map_err(|e| IdentityError::Hash(e.to_string()))?;
        Ok(Secret::new(hash.to_string()))
    }
}

/// Whether `secret` matches `hash` (a PHC string made by [`Argon2Params::hash`]).
pub fn verify(secret: &str, hash: &Secret) -> Result<bool, IdentityError> {
    match Argon2::default().verify_password(secret.as_bytes(), hash.expose()) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
        Err(e) => Err(IdentityError::Hash(e.to_string())),
    }
}

/// `N` bytes from the operating system's RNG.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], IdentityError> {
    let mut bytes = [0u8; N];
    SysRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| IdentityError::Rng(e.to_string()))?;
    Ok(bytes)
}

/// `N` random bytes as `2N` lowercase hex digits.
pub fn random_hex<const N: usize>() -> Result<String, IdentityError> {
    let mut out = String::with_capacity(2 * N);
    for b in random_bytes::<N>()? {
        // Writing to a String cannot fail.
        let _ = write!(out, "{b:02x}");
    }
    Ok(out)
}

/// `len` random characters of `[0-9a-z]`, the shape of Publisher Manual §1.1.3's APIKey.
pub fn random_base36(len: usize) -> Result<String, IdentityError> {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    // 252 = 7 × 36: bytes at or above it are dropped, so every digit is equally likely.
    let mut out = String::with_capacity(len);
    while out.len() < len {
        for b in random_bytes::<32>()? {
            if b < 252 && out.len() < len {
                out.push(char::from(DIGITS[usize::from(b % 36)]));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_secrets_have_their_shape() {
        let params = Argon2Params::insecure_for_tests();
        let hash = params.hash("123456").expect("hash");
        assert!(hash.expose().starts_with("$argon2id$"));
        assert_eq!(verify("123456", &hash), Ok(true));
        assert_eq!(verify("1234567", &hash), Ok(false));
        assert!(verify("x", &Secret::new("not a hash".into())).is_err());
        let token = random_hex::<32>().expect("token");
        assert_eq!(token.len(), 64);
        assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
        let key = random_base36(32).expect("key");
        assert_eq!(key.len(), 32);
        assert!(key
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase()));
        assert_ne!(random_hex::<32>().expect("second"), token);
    }
}
