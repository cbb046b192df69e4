//! `genkit-azure-emulator [--port N] [--ikey KEY] [--out FILE.jsonl] [--port-file FILE] [--faults JSON] [--auth JSON]`
//!
//! Runs the emulator in the foreground until SIGTERM/SIGINT or `POST /shutdown`.
//! Prints exactly one line to stdout once it is ready (after writing `--port-file`), so scripts
//! can wait for that line (or for `--port-file`) instead of sleeping.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use genkit_azure_emulator::{server, AuthPlan, EmulatorConfig, FaultPlan, State};

const USAGE: &str =
    "usage: genkit-azure-emulator [--port N] [--ikey KEY] [--out FILE.jsonl] [--port-file FILE] [--faults JSON] [--auth JSON]

  --port N          TCP port on 127.0.0.1 (default 0: pick a free one)
  --ikey KEY        reject envelopes whose iKey differs from KEY
  --out FILE        append every accepted envelope to FILE as JSON lines (truncated at start)
  --port-file FILE  write the chosen port to FILE (atomically) once listening
  --faults JSON     initial fault plan, e.g. '[503, 503, 200]' or
                    '{\"steps\": [{\"status\": 429, \"retry_after\": \"5\"}], \"delay_ms\": 100}'
                    (@FILE reads it from FILE); change it later with POST /faults
  --auth JSON       require Entra ID bearer tokens on track requests, e.g.
                    '{\"tokens\": [{\"token\": \"abc\", \"expires_on\": 1767225600}]}'
                    (@FILE reads it from FILE); change it later with POST /auth
  -h, --help        show this help

Stops on SIGTERM, SIGINT or POST /shutdown.";

#[derive(Debug)]
struct Args {
    config: EmulatorConfig,
    port_file: Option<PathBuf>,
    faults: Option<FaultPlan>,
    auth: Option<AuthPlan>,
}

enum Parsed {
    Run(Args),
    Help,
}

/// Hand-rolled parsing (no clap) keeps the test tool's dependency tree small.
/// Accepts both `--flag value` and `--flag=value`.
fn parse_args(mut it: impl Iterator<Item = String>) -> Result<Parsed, String> {
    let mut config = EmulatorConfig::default();
    let mut port_file = None;
    let mut faults = None;
    let mut auth = None;
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| -> Result<String, String> {
            match inline.clone().or_else(|| it.next()) {
                Some(v) if !v.is_empty() => Ok(v),
                _ => Err(format!("{name} needs a value")),
            }
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(Parsed::Help),
            "--port" => {
                let v = value("--port")?;
                config.port = v
                    .parse()
                    .map_err(|_| format!("--port: {v:?} is not a port number (0-65535)"))?;
            }
            "--ikey" => config.instrumentation_key = Some(value("--ikey")?),
            "--out" => config.jsonl_path = Some(PathBuf::from(value("--out")?)),
            "--port-file" => port_file = Some(PathBuf::from(value("--port-file")?)),
            "--faults" => {
                let v = value("--faults")?;
                let text = match v.strip_prefix('@') {
                    Some(path) => std::fs::read_to_string(path)
                        .map_err(|e| format!("--faults: cannot read {path}: {e}"))?,
                    None => v,
                };
                faults = Some(FaultPlan::from_json(&text).map_err(|e| format!("--faults: {e}"))?);
            }
            "--auth" => {
                let v = value("--auth")?;
                let text = match v.strip_prefix('@') {
                    Some(path) => std::fs::read_to_string(path)
                        .map_err(|e| format!("--auth: cannot read {path}: {e}"))?,
                    None => v,
                };
                auth = Some(AuthPlan::from_json(&text).map_err(|e| format!("--auth: {e}"))?);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Parsed::Run(Args {
        config,
        port_file,
        faults,
        auth,
    }))
}

/// Write-then-rename, so a script polling for the file never reads it half-written.
fn write_port_file(path: &Path, port: u16) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp.{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, format!("{port}\n"))?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Parsed::Run(a)) => a,
        Ok(Parsed::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("genkit-azure-emulator: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("genkit-azure-emulator: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(args))
}

async fn run(args: Args) -> ExitCode {
    let listener = match tokio::net::TcpListener::bind(("127.0.0.1", args.config.port)).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!(
                "genkit-azure-emulator: cannot listen on 127.0.0.1:{}: {e}",
                args.config.port
            );
            return ExitCode::FAILURE;
        }
    };
    let port = match listener.local_addr() {
        Ok(a) => a.port(),
        Err(e) => {
            eprintln!("genkit-azure-emulator: {e}");
            return ExitCode::FAILURE;
        }
    };
    let state = match State::new(&args.config) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            let out = args.config.jsonl_path.as_deref().unwrap_or(Path::new("?"));
            eprintln!(
                "genkit-azure-emulator: cannot create {}: {e}",
                out.display()
            );
            return ExitCode::FAILURE;
        }
    };
    if let Some(plan) = args.faults {
        // Validated while parsing arguments; an outage in it starts now.
        if let Err(e) = state.set_faults(plan) {
            eprintln!("genkit-azure-emulator: --faults: {e}");
            return ExitCode::from(2);
        }
    }

    if let Some(plan) = args.auth {
        // Validated while parsing arguments.
        if let Err(e) = state.set_auth(plan) {
            eprintln!("genkit-azure-emulator: --auth: {e}");
            return ExitCode::from(2);
        }
    }

    // Install signal handlers before announcing readiness: a harness that sends SIGTERM
    // right after reading the line must get a clean shutdown, not the default kill.
    let signals = match Signals::install() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("genkit-azure-emulator: cannot install signal handlers: {e}");
            return ExitCode::FAILURE;
        }
    };
    let signal_state = state.clone();
    tokio::spawn(async move {
        signals.recv().await;
        signal_state.shutdown();
    });

    // Port file first, then the line: whoever waits for the line may read the file.
    if let Some(pf) = &args.port_file {
        if let Err(e) = write_port_file(pf, port) {
            eprintln!(
                "genkit-azure-emulator: cannot write port file {}: {e}",
                pf.display()
            );
            return ExitCode::FAILURE;
        }
    }

    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "genkit-azure-emulator listening on http://127.0.0.1:{port}"
        );
        let _ = out.flush();
    }
    if let Err(e) = server::serve(listener, state.clone()).await {
        eprintln!("genkit-azure-emulator: {e}");
        return ExitCode::FAILURE;
    }
    let stats = state.stats();
    eprintln!(
        "genkit-azure-emulator: stopped after {} requests, {} items accepted, {} rejected",
        stats.requests, stats.items_accepted, stats.items_rejected
    );
    ExitCode::SUCCESS
}

/// SIGTERM + SIGINT on Unix, Ctrl-C elsewhere.
struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> std::io::Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Signals {
                term: signal(SignalKind::terminate())?,
                int: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Signals {})
        }
    }

    async fn recv(mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Parsed, String> {
        parse_args(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn parses_all_flags() {
        let Ok(Parsed::Run(a)) = parse(&[
            "--port",
            "1234",
            "--ikey=k",
            "--out",
            "o.jsonl",
            "--port-file",
            "p",
        ]) else {
            panic!("should parse")
        };
        assert_eq!(a.config.port, 1234);
        assert_eq!(a.config.instrumentation_key.as_deref(), Some("k"));
        assert_eq!(a.config.jsonl_path, Some(PathBuf::from("o.jsonl")));
        assert_eq!(a.port_file, Some(PathBuf::from("p")));
        assert!(a.faults.is_none());
        assert!(a.auth.is_none());
        let Ok(Parsed::Run(a)) = parse(&["--auth", r#"{"tokens": [{"token": "t"}]}"#]) else {
            panic!("should parse")
        };
        assert_eq!(a.auth.unwrap().tokens[0].token, "t");
        assert!(parse(&["--auth", r#"{"tokens": [{"token": ""}]}"#]).is_err());
    }

    #[test]
    fn parses_fault_plans_inline_and_from_a_file() {
        let Ok(Parsed::Run(a)) = parse(&["--faults", "[503, 200]"]) else {
            panic!("should parse")
        };
        assert_eq!(a.faults, Some(FaultPlan::statuses([503, 200])));
        let path = std::env::temp_dir().join(format!("emu-plan-{}.json", std::process::id()));
        std::fs::write(&path, r#"{"steps": [429], "delay_ms": 5}"#).unwrap();
        let Ok(Parsed::Run(a)) = parse(&[&format!("--faults=@{}", path.display())]) else {
            panic!("should parse")
        };
        assert_eq!(a.faults, Some(FaultPlan::statuses([429]).with_delay(5)));
        let _ = std::fs::remove_file(&path);
        let err = parse(&["--faults", r#"[{"status": 206}]"#]).err().unwrap();
        assert!(err.contains("206 needs item_errors"), "{err}");
        assert!(parse(&["--faults", "@/nonexistent/plan.json"]).is_err());
    }

    #[test]
    fn rejects_bad_args() {
        assert!(parse(&["--port", "70000"]).is_err());
        assert!(parse(&["--port"]).is_err());
        assert!(parse(&["--bogus"]).is_err());
        assert!(parse(&["--ikey="]).is_err());
        assert!(matches!(parse(&["--help"]), Ok(Parsed::Help)));
    }
}
