//! The `genkit-azure-emulator` binary as scripts and the demo use it: readiness line,
//! port file, JSONL output, and clean exits on SIGTERM and `POST /shutdown`.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_genkit-azure-emulator");

/// Starts the binary and returns it with the port parsed from its readiness line.
fn spawn(args: &[&str]) -> (Child, u16, BufReader<std::process::ChildStdout>) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn emulator binary");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let port = line
        .trim_end()
        .strip_prefix("genkit-azure-emulator listening on http://127.0.0.1:")
        .unwrap_or_else(|| panic!("unexpected readiness line {line:?}"))
        .parse()
        .unwrap();
    (child, port, stdout)
}

fn wait_exit(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("emulator did not exit within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn binary_writes_port_file_and_jsonl_and_exits_on_sigterm() {
    let port_file = temp_path("port");
    let out = temp_path("bin.jsonl");
    let (mut child, port, mut stdout) = spawn(&[
        "--port",
        "0",
        "--ikey",
        IKEY,
        "--out",
        out.to_str().unwrap(),
        "--port-file",
        port_file.to_str().unwrap(),
    ]);
    assert_eq!(
        std::fs::read_to_string(&port_file).unwrap().trim(),
        port.to_string()
    );

    let mut foreign = message_env("foreign");
    foreign["iKey"] = json!("00000000-0000-0000-0000-000000000000");
    let r = post_json(port, "/v2/track", &json!([message_env("kept"), foreign]));
    assert_eq!(r.status, 206, "--ikey is enforced");
    let lines = std::fs::read_to_string(&out).unwrap();
    assert_eq!(lines.lines().count(), 1);
    assert!(lines.contains("\"kept\""));

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = wait_exit(&mut child, Duration::from_secs(10));
    assert!(exit.success(), "clean exit on SIGTERM, got {exit:?}");
    // Exactly one line on stdout: nothing more after the readiness line.
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    assert_eq!(rest, "");
    let _ = std::fs::remove_file(&port_file);
    let _ = std::fs::remove_file(&out);
}

#[test]
fn binary_exits_on_post_shutdown() {
    let (mut child, port, _stdout) = spawn(&[]);
    assert_eq!(
        post_json(port, "/v2.1/track", &json!([metric_env("m", 1.0)])).status,
        200
    );
    assert_eq!(get_json(port, "/stats")["itemsAccepted"], 1);
    assert_eq!(http(port, "POST", "/shutdown", &[], b"").status, 200);
    assert!(wait_exit(&mut child, Duration::from_secs(10)).success());
}

#[test]
fn binary_rejects_bad_arguments_with_exit_code_2() {
    for args in [
        &["--port", "notaport"][..],
        &["--frobnicate"],
        &["--out"],
        &["--faults", "[{\"status\": 206}]"],
    ] {
        let out = Command::new(BIN).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            !out.stderr.is_empty(),
            "an explanation on stderr for {args:?}"
        );
        assert!(out.stdout.is_empty(), "no readiness line for {args:?}");
    }
}

#[test]
fn binary_starts_with_the_faults_flag_plan() {
    let (mut child, port, _stdout) =
        spawn(&["--faults", r#"[{"status": 503, "retry_after": "2"}]"#]);
    let r = post_json(port, "/v2.1/track", &json!([message_env("x")]));
    assert_eq!((r.status, r.header("retry-after")), (503, Some("2")));
    assert_eq!(
        post_json(port, "/v2.1/track", &json!([message_env("x")])).status,
        200
    );
    let faults = get_json(port, "/faults");
    assert_eq!(faults["steps_applied"], 1);
    assert_eq!(get_json(port, "/stats")["faultsInjected"], 1);
    assert_eq!(http(port, "POST", "/shutdown", &[], b"").status, 200);
    assert!(wait_exit(&mut child, Duration::from_secs(10)).success());
}
