//! The pipeline's threads defer to the host's for CPU (`thread_nice`), and
//! the host's own threads keep their priority. A test binary of its own, so
//! no other pipeline's threads are in the process.

#![cfg(target_os = "linux")]

mod common;

use std::fs;
use std::time::Duration;

/// (thread name, nice) of every thread of this process.
fn threads() -> Vec<(String, i64)> {
    let mut out = Vec::new();
    for task in fs::read_dir("/proc/self/task").expect("procfs") {
        let dir = task.expect("task").path();
        let (Ok(comm), Ok(stat)) = (
            fs::read_to_string(dir.join("comm")),
            fs::read_to_string(dir.join("stat")),
        ) else {
            continue; // the thread ended meanwhile
        };
        // Field 19 is nice; fields are counted after the ")" that ends the name.
        let after_name = &stat[stat.rfind(')').expect("stat has a name") + 2..];
        let nice: i64 = after_name
            .split(' ')
            .nth(16)
            .and_then(|f| f.parse().ok())
            .expect("nice field");
        out.push((comm.trim().to_string(), nice));
    }
    out
}

fn own_nice() -> i64 {
    let tid = unsafe { libc::syscall(libc::SYS_gettid) };
    let stat = fs::read_to_string(format!("/proc/self/task/{tid}/stat")).unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    after_name.split(' ').nth(16).unwrap().parse().unwrap()
}

#[test]
fn background_threads_run_below_the_host_and_the_host_is_untouched() {
    let emu = common::emulator();
    let host_before = own_nice();
    let telemetry = common::builder(&emu)
        .worker_threads(2)
        .thread_nice(7)
        .build()
        .unwrap();
    assert!(telemetry.flush(Duration::from_secs(10)).unwrap());
    let ours: Vec<i64> = threads()
        .into_iter()
        .filter(|(name, _)| name == "genkit-azure")
        .map(|(_, nice)| nice)
        .collect();
    assert!(ours.len() >= 2, "the runtime's threads: {:?}", threads());
    let expected = (host_before + 7).min(19);
    assert!(
        ours.iter().all(|n| *n == expected),
        "{ours:?} vs {expected}"
    );
    assert_eq!(
        own_nice(),
        host_before,
        "the host's thread changed priority"
    );
    telemetry.shutdown(Duration::from_secs(10)).unwrap();
}

#[test]
fn a_nice_above_19_is_refused_with_the_setting_named() {
    let emu = common::emulator();
    let err = common::builder(&emu).thread_nice(20).build().unwrap_err();
    assert!(err.to_string().contains("thread_nice"), "{err}");
}
