//! Who is asking: the client's address (behind a trusted proxy, too), the key it is
//! limited by, and the one keyed rate limiter every per-client limit uses (sign-ups,
//! wrong admin tokens).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::HttpRequest;
use governor::{DefaultKeyedRateLimiter, Quota};

/// The client's IP address. Behind `TRUSTED_PROXY`, the last entry of
/// `X-Forwarded-For`, the one that proxy appended; otherwise, or when that entry is not
/// an address, the peer address. Earlier entries are the client's own words and never
/// used, so a forged header cannot dodge a limit.
pub fn client_ip(req: &HttpRequest, trusted_proxy: Option<IpAddr>) -> Option<IpAddr> {
    let peer = req.peer_addr().map(|addr| addr.ip());
    if from_trusted_proxy(peer, trusted_proxy) {
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

/// Whether a connection from `peer` is the `TRUSTED_PROXY`'s, so its forwarding headers
/// (`X-Forwarded-For`, `X-Request-Id`) are believed.
pub fn from_trusted_proxy(peer: Option<IpAddr>, trusted_proxy: Option<IpAddr>) -> bool {
    trusted_proxy.is_some() && peer == trusted_proxy
}

/// What a client is limited as: an IPv4 address as it is, an IPv6 address by its /64
/// network (one subscriber line gets a whole /64, so limiting per /128 would limit
/// nothing). IPv4-mapped IPv6 addresses count as the IPv4 address.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX))),
        },
    }
}

/// How many clients a limiter remembers at most. Past it (a flood from more distinct
/// networks than this within a minute) every client shares one budget until the next
/// sweep frees room, so memory stays bounded (~100 bytes a client).
const MAX_CLIENTS: usize = 500_000;
/// The sweep drops clients whose budget is full again; it runs at most this often, and
/// only once the limiter holds more than [`SWEEP_ABOVE`] clients, so it never becomes
/// work per request.
const SWEEP_EVERY: Duration = Duration::from_secs(10);
const SWEEP_ABOVE: usize = 10_000;
/// The key all clients share while the limiter is full.
const OVERFLOW_KEY: IpAddr = IpAddr::V6(Ipv6Addr::UNSPECIFIED);

/// A per-client budget of `n` requests a minute (GCRA: a burst of `n`, then one every
/// `60/n` seconds), keyed by [`client_key`].
pub struct RateLimiter {
    /// `None` when the limit is off.
    limiter: Option<DefaultKeyedRateLimiter<IpAddr>>,
    /// Clients refused lately, and when: what [`RateLimiter::spent`] answers from.
    refused: Mutex<HashMap<IpAddr, Instant>>,
    /// How long a client's budget takes to grow by one request again.
    replenish: Duration,
    last_sweep: Mutex<Instant>,
}

impl RateLimiter {
    /// `per_minute == 0` turns the limit off.
    pub fn per_minute(per_minute: u32) -> RateLimiter {
        RateLimiter {
            limiter: NonZeroU32::new(per_minute)
                .map(|n| governor::RateLimiter::dashmap(Quota::per_minute(n))),
            refused: Mutex::new(HashMap::new()),
            replenish: Duration::from_secs(60) / per_minute.max(1),
            last_sweep: Mutex::new(Instant::now()),
        }
    }

    /// Counts one request from `client`; `false` when it is over its budget. A request
    /// whose address is unknown (no peer address) is not limited.
    pub fn allow(&self, client: Option<IpAddr>) -> bool {
        let (Some(limiter), Some(client)) = (&self.limiter, client) else {
            return true;
        };
        self.sweep_now_and_then(limiter);
        let key = Self::key_for(limiter, client);
        let allowed = limiter.check_key(&key).is_ok();
        if !allowed {
            let mut refused = lock(&self.refused);
            if refused.len() < MAX_CLIENTS {
                refused.insert(key, Instant::now());
            }
        }
        allowed
    }

    /// Whether `client` was refused so lately that its budget has not grown since,
    /// without counting a request: for a request that costs nothing to answer but must
    /// not become a way around the limit (the admin token already known right, which
    /// would otherwise let a refused client keep guessing).
    /// While the record of refusals is full, every client counts as spent: failing
    /// closed for the rare cheap request beats an unlimited one.
    pub fn spent(&self, client: Option<IpAddr>) -> bool {
        let (Some(limiter), Some(client)) = (&self.limiter, client) else {
            return false;
        };
        let refused = lock(&self.refused);
        refused.len() >= MAX_CLIENTS
            || refused
                .get(&Self::key_for(limiter, client))
                .is_some_and(|at| at.elapsed() < self.replenish)
    }

    /// The key `client` is counted under: its own, or the shared one while the limiter
    /// is full.
    fn key_for(limiter: &DefaultKeyedRateLimiter<IpAddr>, client: IpAddr) -> IpAddr {
        if limiter.len() >= MAX_CLIENTS {
            OVERFLOW_KEY
        } else {
            client_key(client)
        }
    }

    fn sweep_now_and_then(&self, limiter: &DefaultKeyedRateLimiter<IpAddr>) {
        if limiter.len() <= SWEEP_ABOVE {
            return;
        }
        // `try_lock`: one request sweeps, the others go on.
        let Ok(mut last) = self.last_sweep.try_lock() else {
            return;
        };
        if last.elapsed() >= SWEEP_EVERY {
            *last = Instant::now();
            limiter.retain_recent();
            limiter.shrink_to_fit();
            lock(&self.refused).retain(|_, at| at.elapsed() < self.replenish);
        }
    }

    /// How many clients the limiter remembers now.
    pub fn remembered(&self) -> usize {
        self.limiter.as_ref().map_or(0, |l| l.len())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
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
        assert!(limiter.spent(Some(a)), "a was refused just now");
        assert!(!limiter.spent(Some(b)));
    }

    #[test]
    fn zero_turns_the_limit_off() {
        let limiter = RateLimiter::per_minute(0);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        assert!((0..1000).all(|_| limiter.allow(Some(a))));
    }

    #[test]
    fn ipv6_clients_are_limited_by_their_64_network() {
        let limiter = RateLimiter::per_minute(2);
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        assert!(limiter.allow(ip("2001:db8:1:2::1")));
        assert!(limiter.allow(ip("2001:db8:1:2:ffff:ffff:ffff:fffe")));
        assert!(
            !limiter.allow(ip("2001:db8:1:2:dead:beef::7")),
            "a third address in the same /64 shares its budget"
        );
        assert!(
            limiter.allow(ip("2001:db8:1:3::1")),
            "the next /64 is another client"
        );
        assert_eq!(
            client_key("::ffff:192.0.2.7".parse().unwrap()),
            "192.0.2.7".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn a_flood_of_distinct_clients_stays_fast_and_bounded() {
        // The old limiter scanned its whole map on every request past 100,000 clients:
        // 300,000 clients took minutes. Each check is now constant work.
        let limiter = RateLimiter::per_minute(10);
        let started = Instant::now();
        let ip = |i: u32| Some(IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i)));
        let n = MAX_CLIENTS as u32;
        assert!((0..n).all(|i| limiter.allow(ip(i))));
        // Past the cap, new clients share one budget of ten.
        let allowed = (n..n + 1000).filter(|&i| limiter.allow(ip(i))).count();
        assert_eq!(allowed, 10);
        assert!(
            limiter.spent(ip(n + 5000)),
            "a client counted under the shared key is spent with it"
        );
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "took {:?}",
            started.elapsed()
        );
        assert!(
            limiter.remembered() <= MAX_CLIENTS + 1,
            "{} clients remembered",
            limiter.remembered()
        );
    }
}
