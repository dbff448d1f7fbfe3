//! Bearer tokens: AWS allows at most two at a time; rotation adds the new one, then the old
//! one is deleted. Expired tokens still occupy a slot but are rejected.

use std::time::{Duration, Instant};

/// Refusal to add a third token (AWS: delete one first).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("two SCIM tokens already exist; revoke one before adding another")]
pub struct TokenLimitReached;

#[derive(Debug, Clone)]
struct TokenRec {
    value: String,
    expired: bool,
    /// AWS tokens live a year; tests shorten that to exercise expiry.
    expires_at: Option<Instant>,
}

impl TokenRec {
    fn new(value: &str, ttl: Option<Duration>) -> Self {
        Self {
            value: value.to_string(),
            expired: false,
            expires_at: ttl.map(|t| Instant::now() + t),
        }
    }

    fn is_active(&self) -> bool {
        !self.expired && self.expires_at.is_none_or(|t| Instant::now() < t)
    }
}

/// The token set of one emulated IdC instance.
#[derive(Debug, Clone)]
pub(crate) struct Tokens {
    list: Vec<TokenRec>,
}

/// AWS's limit on simultaneously existing tokens.
pub(crate) const MAX_TOKENS: usize = 2;

impl Tokens {
    pub fn new(first: &str) -> Self {
        Self {
            list: vec![TokenRec::new(first, None)],
        }
    }

    /// True if `t` is an existing, unexpired token.
    pub fn accepts(&self, t: &str) -> bool {
        self.list.iter().any(|r| r.is_active() && r.value == t)
    }

    pub fn add(&mut self, t: &str, ttl: Option<Duration>) -> Result<(), TokenLimitReached> {
        if self.list.iter().any(|r| r.value == t) {
            return Ok(());
        }
        if self.list.len() >= MAX_TOKENS {
            return Err(TokenLimitReached);
        }
        self.list.push(TokenRec::new(t, ttl));
        Ok(())
    }

    /// Adds `t`, dropping the oldest token if the limit is reached.
    pub fn rotate(&mut self, t: &str, ttl: Option<Duration>) {
        if self.list.iter().any(|r| r.value == t) {
            return;
        }
        while self.list.len() >= MAX_TOKENS {
            self.list.remove(0);
        }
        self.list.push(TokenRec::new(t, ttl));
    }

    pub fn revoke(&mut self, t: &str) {
        self.list.retain(|r| r.value != t);
    }

    pub fn expire(&mut self, t: &str) {
        for r in self.list.iter_mut().filter(|r| r.value == t) {
            r.expired = true;
        }
    }

    /// (existing, active) counts, for the admin API (which never shows token values).
    pub fn counts(&self) -> (usize, usize) {
        (
            self.list.len(),
            self.list.iter().filter(|r| r.is_active()).count(),
        )
    }
}
