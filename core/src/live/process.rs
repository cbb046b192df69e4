//! The process gauges Live Metrics always posts: CPU used over the last
//! interval, as a percentage of the CPUs this process may use (capped at
//! 100), and resident memory.

use std::time::{Duration, Instant};

/// CPU time at the previous sample, to measure the next interval from.
#[derive(Debug)]
pub(crate) struct ProcessClock {
    cpu: Duration,
    wall: Instant,
    cpus: f64,
}

/// One sample of the gauges.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ProcessSample {
    /// 0-100, over every CPU the process may use.
    pub cpu_percent: f64,
    pub memory_bytes: u64,
}

impl ProcessClock {
    pub fn new() -> Self {
        Self {
            cpu: process_cpu_time(),
            wall: Instant::now(),
            // What the process may use (cgroup quota, affinity), so a
            // container limited to two CPUs at full load says 100 %.
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()) as f64,
        }
    }

    /// Starts the next interval from now (a session begins).
    pub fn restart(&mut self) {
        self.cpu = process_cpu_time();
        self.wall = Instant::now();
    }

    /// The gauges over the interval since the previous sample.
    pub fn sample(&mut self) -> ProcessSample {
        let (cpu, wall) = (process_cpu_time(), Instant::now());
        let used = cpu.saturating_sub(self.cpu).as_secs_f64();
        let elapsed = wall.saturating_duration_since(self.wall).as_secs_f64();
        self.cpu = cpu;
        self.wall = wall;
        let cpu_percent = if elapsed > 0.0 {
            (used / elapsed / self.cpus * 100.0).clamp(0.0, 100.0)
        } else {
            0.0
        };
        ProcessSample {
            cpu_percent,
            memory_bytes: resident_bytes(),
        }
    }
}

/// CPU time of every thread of the process so far.
fn process_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for the call to fill.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Resident memory: `/proc/self/statm` on Linux, the peak elsewhere (what
/// `getrusage` has).
fn resident_bytes() -> u64 {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: sysconf has no memory arguments.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(1) as u64;
        if let Some(pages) = std::fs::read_to_string("/proc/self/statm")
            .ok()
            .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        {
            return pages * page;
        }
    }
    // SAFETY: `usage` is a valid rusage for the call to fill.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return 0;
    }
    let max = usage.ru_maxrss.max(0) as u64;
    // macOS says bytes, the others KiB.
    if cfg!(target_os = "macos") {
        max
    } else {
        max * 1024
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_interval_shows_cpu_and_memory_is_resident() {
        let mut clock = ProcessClock::new();
        let start = Instant::now();
        let mut x = 0u64;
        while start.elapsed() < Duration::from_millis(60) {
            x = x.wrapping_mul(31).wrapping_add(std::hint::black_box(7));
        }
        std::hint::black_box(x);
        let s = clock.sample();
        assert!(s.cpu_percent > 0.0 && s.cpu_percent <= 100.0, "{s:?}");
        // A test binary is resident in more than a megabyte, less than a terabyte.
        assert!(
            s.memory_bytes > 1 << 20 && s.memory_bytes < 1 << 40,
            "{s:?}"
        );
    }
}
