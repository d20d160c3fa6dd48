//! Time as a parameter. Everything that reads the clock or waits takes a
//! [`Clock`], so tests drive time instead of sleeping: [`ManualClock::sleep`]
//! returns at once and moves the clock forward by the requested amount.

use std::{
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex},
    time::Duration,
};

use jiff::Timestamp;

/// A future returned by [`Clock::sleep`].
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The source of "now" and of waiting.
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> Timestamp;
    /// Waits for `duration`.
    fn sleep(&self, duration: Duration) -> Sleep;
}

/// Wall-clock time and tokio timers.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }

    fn sleep(&self, duration: Duration) -> Sleep {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// A clock that only moves when told to. `sleep` records the duration, advances
/// the clock by it and returns immediately.
#[derive(Debug)]
pub struct ManualClock {
    state: Mutex<ManualState>,
}

#[derive(Debug)]
struct ManualState {
    now: Timestamp,
    slept: Vec<Duration>,
}

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: Timestamp) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(ManualState {
                now: start,
                slept: Vec::new(),
            }),
        })
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let mut state = self.lock();
        state.now = add(state.now, by);
    }

    /// Every duration passed to `sleep` so far, in order.
    pub fn slept(&self) -> Vec<Duration> {
        self.lock().slept.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ManualState> {
        // A panic while holding this lock leaves plain data behind; keep going.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        self.lock().now
    }

    fn sleep(&self, duration: Duration) -> Sleep {
        let mut state = self.lock();
        state.slept.push(duration);
        state.now = add(state.now, duration);
        Box::pin(std::future::ready(()))
    }
}

/// `ts + by`, saturating at the largest timestamp.
pub fn add(ts: Timestamp, by: Duration) -> Timestamp {
    jiff::SignedDuration::try_from(by)
        .ok()
        .and_then(|d| ts.checked_add(d).ok())
        .unwrap_or(Timestamp::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn manual_sleep_advances_time_and_is_recorded() {
        let start: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let clock = ManualClock::new(start);
        clock.sleep(Duration::from_secs(2)).await;
        clock.advance(Duration::from_millis(500));
        assert_eq!(
            clock.now(),
            "2026-01-01T00:00:02.5Z".parse::<Timestamp>().unwrap()
        );
        assert_eq!(clock.slept(), [Duration::from_secs(2)]);
    }
}
