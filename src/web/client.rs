//! Who is asking: the client's address (behind a trusted proxy, too) and per-client
//! rate limits.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::HttpRequest;

/// The client's IP address. Behind `TRUSTED_PROXY`, the last entry of
/// `X-Forwarded-For`, the one that proxy appended; otherwise, or when that entry is not
/// an address, the peer address. Earlier entries are the client's own words and never
/// used, so a forged header cannot dodge a limit.
pub fn client_ip(req: &HttpRequest, trusted_proxy: Option<IpAddr>) -> Option<IpAddr> {
    let peer = req.peer_addr().map(|addr| addr.ip());
    if trusted_proxy.is_some() && peer == trusted_proxy {
        let forwarded = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .last()
            .and_then(|last| last.trim().parse::<IpAddr>().ok());
        if forwarded.is_some() {
            return forwarded;
        }
    }
    peer
}

/// A fixed-window counter of requests per client and minute.
pub struct RateLimiter {
    per_window: u32,
    window: Duration,
    counts: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl RateLimiter {
    /// `per_minute == 0` turns the limit off.
    pub fn per_minute(per_minute: u32) -> RateLimiter {
        RateLimiter {
            per_window: per_minute,
            window: Duration::from_secs(60),
            counts: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one request from `client`; `false` when it is over the limit.
    pub fn allow(&self, client: Option<IpAddr>) -> bool {
        let Some(client) = client else { return true };
        if self.per_window == 0 {
            return true;
        }
        let now = Instant::now();
        let mut counts = self
            .counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if counts.len() > 100_000 {
            // Keep memory bounded under a flood of distinct addresses.
            counts.retain(|_, (start, _)| now.duration_since(*start) < self.window);
        }
        let entry = counts.entry(client).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        entry.1 += 1;
        entry.1 <= self.per_window
    }
}

impl RateLimiter {
    /// Whether `client` has used up this window, without counting a request.
    pub fn exhausted(&self, client: Option<IpAddr>) -> bool {
        let Some(client) = client else { return false };
        if self.per_window == 0 {
            return false;
        }
        let counts = self
            .counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        counts.get(&client).is_some_and(|(start, count)| {
            start.elapsed() < self.window && *count >= self.per_window
        })
    }

    /// Clears `client`'s count (after a successful login).
    pub fn forget(&self, client: Option<IpAddr>) {
        if let Some(client) = client {
            self.counts
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .remove(&client);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_counts_per_client() {
        let limiter = RateLimiter::per_minute(2);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(limiter.allow(Some(a)));
        assert!(limiter.allow(Some(a)));
        assert!(!limiter.allow(Some(a)));
        assert!(limiter.allow(Some(b)));
    }

    #[test]
    fn zero_turns_the_limit_off() {
        let limiter = RateLimiter::per_minute(0);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        assert!((0..1000).all(|_| limiter.allow(Some(a))));
    }
}
