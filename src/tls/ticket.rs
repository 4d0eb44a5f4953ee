//! Session tickets that every worker of a generation can open: the ticket keys are derived from
//! one secret drawn when the configuration is loaded, in the master, before the workers fork.
//!
//! rustls' own `Ticketer` draws a fresh key in each process when it rotates, so workers forked
//! from one master would stop resuming each other's tickets after the first rotation. Here the
//! key of each period is HKDF(secret, period number): every worker computes the same key at the
//! same time with no communication, keys still rotate (a stolen key opens at most two periods of
//! tickets), and nothing is locked per handshake.

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use ring::hkdf::{Prk, Salt, HKDF_SHA256};
use ring::rand::{SecureRandom, SystemRandom};
use rustls::server::ProducesTickets;
use std::time::{SystemTime, UNIX_EPOCH};

/// How long one ticket key issues tickets; a ticket opens during its period and the next.
const PERIOD_SECS: u64 = 6 * 3600;
/// The period number that starts a ticket, then the nonce.
const HEAD_LEN: usize = 4 + NONCE_LEN;

/// Ticket keys shared by every process that inherits this value.
pub struct SharedTickets {
    prk: Prk,
    rng: SystemRandom,
}

impl std::fmt::Debug for SharedTickets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedTickets")
    }
}

impl SharedTickets {
    /// Keys from a new random secret. None: the system's random source failed.
    pub fn new() -> Option<SharedTickets> {
        let rng = SystemRandom::new();
        let mut secret = [0u8; 32];
        rng.fill(&mut secret).ok()?;
        Some(SharedTickets::from_secret(&secret, rng))
    }

    fn from_secret(secret: &[u8], rng: SystemRandom) -> SharedTickets {
        SharedTickets {
            prk: Salt::new(HKDF_SHA256, b"forkhorn session tickets").extract(secret),
            rng,
        }
    }

    /// The key of period `n`.
    fn key(&self, n: u32) -> Option<LessSafeKey> {
        let info = n.to_be_bytes();
        let info = [&info[..]];
        let okm = self.prk.expand(&info, &CHACHA20_POLY1305).ok()?;
        Some(LessSafeKey::new(UnboundKey::from(okm)))
    }

    fn seal(&self, period: u32, plain: &[u8]) -> Option<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).ok()?;
        let mut out = Vec::with_capacity(HEAD_LEN + plain.len() + CHACHA20_POLY1305.tag_len());
        out.extend_from_slice(&period.to_be_bytes());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plain);
        let mut body = out.split_off(HEAD_LEN);
        self.key(period)?
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(period.to_be_bytes()),
                &mut body,
            )
            .ok()?;
        out.extend_from_slice(&body);
        Some(out)
    }

    fn open(&self, now: u32, ticket: &[u8]) -> Option<Vec<u8>> {
        let period = u32::from_be_bytes(ticket.get(..4)?.try_into().ok()?);
        if period != now && Some(period) != now.checked_sub(1) {
            return None;
        }
        let nonce = Nonce::try_assume_unique_for_key(ticket.get(4..HEAD_LEN)?).ok()?;
        let mut body = ticket.get(HEAD_LEN..)?.to_vec();
        let plain = self
            .key(period)?
            .open_in_place(nonce, Aad::from(period.to_be_bytes()), &mut body)
            .ok()?;
        let len = plain.len();
        body.truncate(len);
        Some(body)
    }
}

/// The current period number.
fn period_now() -> u32 {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    (secs / PERIOD_SECS) as u32
}

impl ProducesTickets for SharedTickets {
    fn enabled(&self) -> bool {
        true
    }

    fn lifetime(&self) -> u32 {
        PERIOD_SECS as u32
    }

    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        self.seal(period_now(), plain)
    }

    fn decrypt(&self, cipher: &[u8]) -> Option<Vec<u8>> {
        self.open(period_now(), cipher)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_with_the_same_secret_opens_tickets_of_this_period_and_the_last() {
        let a = SharedTickets::from_secret(&[7; 32], SystemRandom::new());
        let b = SharedTickets::from_secret(&[7; 32], SystemRandom::new());
        let other = SharedTickets::from_secret(&[8; 32], SystemRandom::new());
        let t = a.seal(100, b"session state").unwrap();
        assert_eq!(b.open(100, &t).as_deref(), Some(&b"session state"[..]));
        assert_eq!(b.open(101, &t).as_deref(), Some(&b"session state"[..]));
        assert_eq!(b.open(102, &t), None, "two periods later");
        assert_eq!(b.open(99, &t), None, "from the future");
        assert_eq!(other.open(100, &t), None, "another generation's secret");
        let mut forged = t.clone();
        forged[0..4].copy_from_slice(&101u32.to_be_bytes());
        assert_eq!(b.open(101, &forged), None, "the period is authenticated");
        let last = t.len() - 1;
        let mut flipped = t.clone();
        flipped[last] ^= 1;
        assert_eq!(b.open(100, &flipped), None);
        for short in [&t[..0], &t[..3], &t[..HEAD_LEN], &t[..HEAD_LEN + 5]] {
            assert_eq!(b.open(100, short), None);
        }
    }
}
