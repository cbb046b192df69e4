//! Compiles the C programs in tests/c/ against include/genkit_azure.h and the
//! shared library, runs them against an in-process ingestion emulator, and
//! checks what arrived.
//!
//! The programs use the library exactly as a C client would: only the header,
//! `-lgenkit_azure`, and the connection string in the environment. This test
//! does not build the library (running cargo from inside cargo would fight
//! over the build lock); `cargo build -p genkit-azure-ffi` must have produced
//! target/debug/libgenkit_azure.so first, as `make test` does.

use genkit_azure_emulator::{Emulator, EmulatorConfig};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const IKEY: &str = "6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("ffi/ has a parent")
        .to_path_buf()
}

/// Where `cargo build` put the debug library: `$CARGO_TARGET_DIR/debug`
/// (relative paths taken from the repository root, where `make` runs cargo),
/// else `<repo>/target/debug`.
fn library_dir() -> PathBuf {
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => repo_root().join(dir),
        _ => repo_root().join("target"),
    };
    let dir = target.join("debug");
    let lib = dir.join(format!(
        "{}genkit_azure{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ));
    assert!(
        lib.is_file(),
        "{} does not exist. The C programs link against the shared library, which this \
         test does not build; run `cargo build -p genkit-azure-ffi` first (`make test` does).",
        lib.display()
    );
    // cargo test does not rebuild a cdylib-only crate, so an old library
    // would silently test old code.
    let built = modified(&lib);
    for src in ["ffi/src", "core/src"] {
        if let Some(newer) = newest_file(&repo_root().join(src)).filter(|(t, _)| *t > built) {
            panic!(
                "{} is older than {}; run `cargo build -p genkit-azure-ffi` first (`make test` does).",
                lib.display(),
                newer.1.display()
            );
        }
    }
    // Programs linked against it ask for its soname; ffi/build.rs links it
    // next to the library, but only when the build script runs.
    // Tests run in parallel and each one's programs load it: the link is
    // made under another name and renamed into place, never removed, so no
    // program ever finds it missing.
    // Once per test process (the tests are its threads); the temporary
    // name is this process's own, so test processes running at once do not
    // collide either.
    #[cfg(target_os = "linux")]
    {
        static LINKED: std::sync::Once = std::sync::Once::new();
        LINKED.call_once(|| {
            let soname = dir.join("libgenkit_azure.so.1");
            if !soname.exists() {
                let temporary = dir.join(format!("libgenkit_azure.so.1.{}", std::process::id()));
                let _ = std::fs::remove_file(&temporary);
                std::os::unix::fs::symlink("libgenkit_azure.so", &temporary)
                    .and_then(|()| std::fs::rename(&temporary, &soname))
                    .unwrap_or_else(|e| panic!("cannot link {}: {e}", soname.display()));
            }
        });
    }
    dir
}

fn modified(path: &Path) -> SystemTime {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .unwrap_or(UNIX_EPOCH)
}

/// The most recently modified file under `dir`, recursively.
fn newest_file(dir: &Path) -> Option<(SystemTime, PathBuf)> {
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter_map(|entry| {
            let path = entry.path();
            if path.is_dir() {
                newest_file(&path)
            } else {
                Some((modified(&path), path))
            }
        })
        .max()
}

/// Compiles tests/c/<name>.c into a scratch directory and returns the executable.
fn compile(name: &str) -> PathBuf {
    compile_with(name, &[])
}

/// Compiles tests/c/<name>.c (`name` may hold a subdirectory) with extra
/// compiler flags.
fn compile_with(name: &str, flags: &[&str]) -> PathBuf {
    let root = repo_root();
    let lib_dir = library_dir();
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("c_programs");
    std::fs::create_dir_all(&out_dir).expect("create the scratch directory");
    let exe = out_dir.join(name.replace('/', "_"));
    let source = root.join("tests/c").join(format!("{name}.c"));
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let output = Command::new(&cc)
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror"])
        .args(flags)
        .arg(format!("-I{}", root.join("include").display()))
        .arg(&source)
        .arg(format!("-L{}", lib_dir.display()))
        .arg("-lgenkit_azure")
        .arg(format!("-Wl,-rpath,{}", lib_dir.display()))
        .arg("-o")
        .arg(&exe)
        .output()
        .unwrap_or_else(|e| panic!("cannot run the C compiler `{cc}`: {e}"));
    assert!(
        output.status.success(),
        "compiling {} failed:\n{}",
        source.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    exe
}

/// Runs a compiled program with the emulator's connection string in the
/// environment. A program that has not exited after a minute is killed and
/// the test fails: a deadlock must not hang the suite.
fn run(exe: &Path, emulator: &Emulator, args: &[&str]) -> Output {
    run_with(exe, emulator, args, &[])
}

/// As [`run`], with more environment variables.
fn run_with(exe: &Path, emulator: &Emulator, args: &[&str], env: &[(&str, &str)]) -> Output {
    // A private TMPDIR: the library keeps undeliverable batches under the
    // temp directory, keyed by the instrumentation key, and resends them on
    // the next start. Sharing it across runs would let one failed run leak
    // extra items into the next.
    let tmp = exe.with_extension("tmpdir");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).expect("create the program's TMPDIR");
    // Files, not pipes: a program's forked children inherit them, and a
    // full pipe could block a program the harness is not reading yet.
    let (out_path, err_path) = (tmp.join("stdout"), tmp.join("stderr"));
    let file = |p: &Path| std::fs::File::create(p).expect("create an output file");
    let mut child = Command::new(exe)
        .args(args)
        .env(
            "APPLICATIONINSIGHTS_CONNECTION_STRING",
            emulator.connection_string(IKEY),
        )
        .env("TMPDIR", &tmp)
        .envs(env.iter().copied())
        // The resource must come from the program, not from the developer's shell.
        .env_remove("OTEL_SERVICE_NAME")
        .env_remove("OTEL_RESOURCE_ATTRIBUTES")
        .stdout(file(&out_path))
        .stderr(file(&err_path))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", exe.display()));
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the program") {
            break Some(status);
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let output = |p: &Path| std::fs::read(p).unwrap_or_default();
    let (stdout, stderr) = (output(&out_path), output(&err_path));
    eprintln!(
        "--- {} stdout:\n{}--- stderr:\n{}",
        exe.display(),
        String::from_utf8_lossy(&stdout),
        String::from_utf8_lossy(&stderr)
    );
    let Some(status) = status else {
        panic!("{} did not exit within 60 s (a deadlock?)", exe.display());
    };
    Output {
        status,
        stdout,
        stderr,
    }
}

fn start_emulator() -> Emulator {
    Emulator::start(EmulatorConfig {
        instrumentation_key: Some(IKEY.to_string()),
        ..Default::default()
    })
    .expect("start the ingestion emulator")
}

/// The short item type of an envelope: "Request", "RemoteDependency", ...
/// What the emulator accepted, without the `_OTELRESOURCE_` metric that
/// describes the sender.
fn items(emulator: &Emulator) -> Vec<Value> {
    emulator
        .envelopes()
        .into_iter()
        .filter(|e| !genkit_azure_emulator::is_resource_metric(e))
        .collect()
}

fn kind(envelope: &Value) -> &str {
    envelope["name"]
        .as_str()
        .and_then(|n| n.strip_prefix("Microsoft.ApplicationInsights."))
        .unwrap_or("?")
}

fn tag<'a>(envelope: &'a Value, name: &str) -> Option<&'a str> {
    envelope["tags"][name].as_str()
}

fn base_data(envelope: &Value) -> &Value {
    &envelope["data"]["baseData"]
}

/// A trace id unique to this run, so a stray envelope from elsewhere cannot match.
fn fresh_trace_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos();
    format!(
        "{:016x}{:08x}{:08x}",
        nanos as u64 | 1,
        std::process::id(),
        0x6e6b_7a75
    )
}

#[test]
fn span_tree_arrives_as_a_correlated_operation() {
    let exe = compile("span_tree");
    let emulator = start_emulator();
    let trace_id = fresh_trace_id();

    let output = run(&exe, &emulator, &[&trace_id]);
    assert!(
        output.status.success(),
        "span_tree failed: {:?}",
        output.status
    );

    // 4 spans (1 request, 3 dependencies) + 1 exception + 2 messages, and
    // what the pipeline derives from the Genkit spans: the failing tool's
    // Error[...] record, its feature/path metrics and the outer Genkit
    // action's feature metrics. The program flushed and shut down before
    // exiting, so they are all in.
    assert!(
        emulator.wait_for_items(13, Duration::from_secs(10)),
        "expected 12 items and the resource's metric, got {:?}",
        emulator.stats()
    );
    let (derived, envelopes): (Vec<Value>, Vec<Value>) =
        items(&emulator).into_iter().partition(|e| {
            base_data(e)["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("Error["))
                || base_data(e)["metrics"][0]["name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("genkit/"))
        });
    let kinds: Vec<&str> = envelopes.iter().map(kind).collect();
    assert_eq!(
        envelopes.len(),
        7,
        "unexpected items: {kinds:?}\n{envelopes:#?}"
    );
    let mut metrics: Vec<&str> = derived
        .iter()
        .filter_map(|e| base_data(e)["metrics"][0]["name"].as_str())
        .collect();
    metrics.sort_unstable();
    assert_eq!(
        metrics,
        [
            "genkit/feature/latency",
            "genkit/feature/path/latency",
            "genkit/feature/path/requests",
            "genkit/feature/requests"
        ],
        "{derived:#?}"
    );

    let span_id = |n: u8| format!("a1000000000000{n:02x}");
    let (root_id, flow_id, model_id, tool_id) = (span_id(1), span_id(2), span_id(3), span_id(4));

    // Each span exactly once, as the right item type.
    let by_id = |id: &str| -> &Value {
        let matches: Vec<&Value> = envelopes
            .iter()
            .filter(|e| matches!(kind(e), "Request" | "RemoteDependency"))
            .filter(|e| base_data(e)["id"].as_str() == Some(id))
            .collect();
        assert_eq!(
            matches.len(),
            1,
            "span {id} arrived {} times",
            matches.len()
        );
        matches[0]
    };
    let root = by_id(&root_id);
    let flow = by_id(&flow_id);
    let model = by_id(&model_id);
    let tool = by_id(&tool_id);
    assert_eq!(kind(root), "Request");
    for dep in [flow, model, tool] {
        assert_eq!(kind(dep), "RemoteDependency", "{dep:#}");
    }
    assert_eq!(base_data(root)["name"], "POST /api/generate");
    assert_eq!(base_data(root)["responseCode"], "200");
    assert_eq!(base_data(root)["success"], true);
    // Its link, as the official distro writes links (only the root has one).
    let links: Value = serde_json::from_str(
        base_data(root)["properties"]["_MS.links"]
            .as_str()
            .expect("the root's _MS.links"),
    )
    .expect("_MS.links is JSON");
    assert_eq!(
        links,
        serde_json::json!([{"operation_Id": "5e".repeat(16), "id": "7d".repeat(8)}])
    );
    assert!(base_data(root)["properties"]
        .get("messaging.message.id")
        .is_none());
    for dep in [flow, model, tool] {
        assert!(base_data(dep)["properties"].get("_MS.links").is_none());
    }
    assert_eq!(base_data(flow)["name"], "generate");
    assert_eq!(base_data(flow)["properties"]["genkit:name"], "generate");
    assert_eq!(base_data(flow)["properties"]["genkit:type"], "action");
    // An omitted "success" means true to the service (UNSET status, 2xx code).
    assert_ne!(base_data(model)["success"], false, "{model:#}");
    assert_eq!(
        base_data(tool)["success"],
        false,
        "the ERROR span must fail: {tool:#}"
    );

    // One operation: every item carries the trace id and, registered at
    // the spans' starts, the root's name (the log and the exception too).
    for e in &envelopes[..] {
        if kind(e) == "Message" && base_data(e)["message"] == "cache warm-up skipped" {
            assert_eq!(tag(e, "ai.operation.name"), None, "{e:#}");
            continue;
        }
        assert_eq!(tag(e, "ai.operation.id"), Some(trace_id.as_str()), "{e:#}");
        assert_eq!(
            tag(e, "ai.operation.name"),
            Some("POST /api/generate"),
            "{e:#}"
        );
    }
    // Parent links follow the tree.
    assert_eq!(
        tag(root, "ai.operation.parentId"),
        None,
        "the root has no parent: {root:#}"
    );
    assert_eq!(tag(flow, "ai.operation.parentId"), Some(root_id.as_str()));
    assert_eq!(tag(model, "ai.operation.parentId"), Some(flow_id.as_str()));
    assert_eq!(tag(tool, "ai.operation.parentId"), Some(flow_id.as_str()));
    // The resource set in the config.
    assert_eq!(tag(root, "ai.cloud.role"), Some("span-tree-c"));
    assert_eq!(tag(root, "ai.application.ver"), Some("1.2.3"));

    // The exception event became an Exception item inside the failing span.
    let exceptions: Vec<&Value> = envelopes
        .iter()
        .filter(|e| kind(e) == "Exception")
        .collect();
    assert_eq!(exceptions.len(), 1, "{kinds:?}");
    let exception = exceptions[0];
    assert_eq!(
        tag(exception, "ai.operation.parentId"),
        Some(tool_id.as_str())
    );
    let detail = &base_data(exception)["exceptions"][0];
    assert_eq!(detail["typeName"], "OrderNotFoundError", "{exception:#}");
    assert_eq!(detail["message"], "order 42 does not exist");
    assert!(
        detail["stack"]
            .as_str()
            .is_some_and(|s| s.contains("lookupOrder")),
        "{exception:#}"
    );

    // The tool failed and none of its children did: it is the failure
    // source, and its Error[...] record says so inside its span.
    let error = derived
        .iter()
        .find(|e| kind(e) == "Message")
        .expect("an Error[...] record");
    assert_eq!(
        base_data(error)["message"],
        "Error[generate > lookupOrder, OrderNotFoundError]"
    );
    assert_eq!(tag(error, "ai.operation.parentId"), Some(tool_id.as_str()));
    assert_eq!(tag(error, "ai.operation.name"), Some("POST /api/generate"));
    assert_eq!(
        base_data(tool)["properties"]["genkit:isFailureSource"],
        "true"
    );
    assert_eq!(
        base_data(tool)["properties"]["gen_ai.operation.name"],
        "execute_tool"
    );

    // The log inside "generate" is a Message in that span; the other is in none.
    let messages: Vec<&Value> = envelopes.iter().filter(|e| kind(e) == "Message").collect();
    assert_eq!(messages.len(), 2, "{kinds:?}");
    let find_message = |body: &str| -> &Value {
        messages
            .iter()
            .copied()
            .find(|m| base_data(m)["message"] == body)
            .unwrap_or_else(|| panic!("no Message {body:?} in {messages:#?}"))
    };
    let in_span = find_message("generating a reply");
    assert_eq!(tag(in_span, "ai.operation.id"), Some(trace_id.as_str()));
    assert_eq!(
        tag(in_span, "ai.operation.parentId"),
        Some(flow_id.as_str())
    );
    assert_eq!(
        base_data(in_span)["properties"]["logger_name"],
        "genkit",
        "{in_span:#}"
    );
    let outside = find_message("cache warm-up skipped");
    assert_eq!(tag(outside, "ai.operation.id"), None, "{outside:#}");
    assert_eq!(tag(outside, "ai.operation.parentId"), None, "{outside:#}");

    // The program printed its stats.
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("spans_accepted=4 logs_accepted=2"),
        "{stdout}"
    );
}

#[test]
fn bad_input_is_refused_with_messages_and_changes_nothing() {
    let exe = compile("bad_input");
    let emulator = start_emulator();

    let output = run(&exe, &emulator, &[IKEY]);
    assert!(
        output.status.success(),
        "bad_input failed: {:?}",
        output.status
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains(IKEY),
        "the instrumentation key leaked to stderr"
    );

    // Exactly the good span and the good log, nothing from the bad calls.
    // The program flushed before it checked its stats, so both are in.
    assert!(
        emulator.wait_for_items(3, Duration::from_secs(10)),
        "{:?}",
        emulator.stats()
    );
    // Give a stray late request a moment to show up before counting.
    std::thread::sleep(Duration::from_millis(200));
    let envelopes = items(&emulator);
    let kinds: Vec<&str> = envelopes.iter().map(kind).collect();
    assert_eq!(
        kinds.len(),
        2,
        "unexpected items: {kinds:?}\n{envelopes:#?}"
    );
    let span = envelopes
        .iter()
        .find(|e| kind(e) == "RemoteDependency")
        .expect("the good span");
    assert_eq!(base_data(span)["name"], "good span");
    let log = envelopes
        .iter()
        .find(|e| kind(e) == "Message")
        .expect("the good log");
    assert_eq!(base_data(log)["message"], "good log café");
    assert_eq!(emulator.stats().items_rejected, 0);
}

#[test]
fn rejections_are_reported_by_http_status() {
    let exe = compile("rejections");
    let emulator = start_emulator();
    emulator
        .set_faults(genkit_azure_emulator::FaultPlan::statuses([400]))
        .expect("a valid fault plan");
    let output = run(&exe, &emulator, &[]);
    assert!(
        output.status.success(),
        "rejections failed: {:?}",
        output.status
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("\nREJECTED 400 1") || stdout.starts_with("REJECTED 400 1"),
        "{stdout}"
    );
    assert!(stdout.contains("REQUESTS_REJECTED 400 1"), "{stdout}");
    assert!(stdout.contains("ENVELOPES_REJECTED_LEN 0"), "{stdout}");
    assert!(stdout.contains("batches_rejected 1"), "{stdout}");
    assert!(stdout.contains("items_rejected 1"), "{stdout}");
    assert!(emulator.envelopes().is_empty());
}

/// Items carrying 8 KiB each overflow a 64 KiB queue by bytes: every call
/// answers at once, queued or dropped and counted, and what was queued
/// arrives, each once.
#[test]
fn large_items_overflow_the_queue_by_bytes_and_are_counted() {
    let exe = compile("large_items");
    let emulator = start_emulator();
    let output = run(&exe, &emulator, &[]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "large_items failed: {:?}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let accepted = printed(&stdout, "accepted");
    assert!(printed(&stdout, "dropped") > 0, "{stdout}");
    let mut bodies: Vec<String> = items(&emulator)
        .iter()
        .map(|e| base_data(e)["message"].as_str().unwrap_or("?").to_string())
        .collect();
    assert_eq!(bodies.len() as u64, accepted, "{stdout}");
    bodies.sort();
    bodies.dedup();
    assert_eq!(bodies.len() as u64, accepted, "an item arrived twice");
}

/// The envelopes of one kind.
fn of_kind<'a>(envelopes: &'a [Value], wanted: &str) -> Vec<&'a Value> {
    envelopes.iter().filter(|e| kind(e) == wanted).collect()
}

/// The tags an item adds to the resource's: its operation, if any.
fn operation_tags(envelope: &Value) -> Value {
    let mut tags = envelope["tags"].as_object().cloned().unwrap_or_default();
    tags.retain(|k, _| k.starts_with("ai.operation."));
    Value::Object(tags)
}

#[test]
fn custom_telemetry_arrives_field_by_field() {
    use serde_json::json;
    let exe = compile("custom_telemetry");
    let emulator = start_emulator();
    let trace_id = fresh_trace_id();
    let output = run(&exe, &emulator, &[&trace_id]);
    assert!(
        output.status.success(),
        "custom_telemetry failed: {:?}",
        output.status
    );
    // 4 custom items and 5 metric series; the program flushed and shut down.
    // An up-down counter's total is reported at every collection (the flush,
    // then the shutdown's), the others once.
    let envelopes = items(&emulator);
    let is_queue = |e: &Value| base_data(e)["metrics"][0]["name"] == "queue";
    let (queue, envelopes): (Vec<Value>, Vec<Value>) = envelopes.into_iter().partition(is_queue);
    let kinds: Vec<&str> = envelopes.iter().map(kind).collect();
    assert_eq!(envelopes.len(), 8, "{kinds:?}\n{envelopes:#?}");
    assert!(!queue.is_empty());
    for total in &queue {
        assert_eq!(
            base_data(total),
            &json!({"ver": 2, "metrics": [{"name": "queue", "value": 3, "count": 1}]})
        );
    }
    for e in &envelopes {
        assert_eq!(tag(e, "ai.cloud.role"), Some("custom-c"), "{e:#}");
        assert!(
            tag(e, "ai.internal.sdkVersion").is_some_and(|v| v.starts_with("genkit-azure:c:")),
            "{e:#}"
        );
        assert_eq!(e["iKey"], IKEY);
        assert!(e.get("sampleRate").is_none(), "{e:#}");
    }
    let in_request = json!({
        "ai.operation.id": trace_id,
        "ai.operation.parentId": "a100000000000001",
        "ai.operation.name": "POST /orders",
    });

    let events = of_kind(&envelopes, "Event");
    assert_eq!(events.len(), 1);
    let event = events[0];
    assert_eq!(operation_tags(event), in_request);
    let mut data = base_data(event).clone();
    let note = data["properties"]
        .as_object_mut()
        .unwrap()
        .remove("note")
        .unwrap();
    // 9,000 two-byte characters cut to 8,192 bytes, at a character boundary.
    assert_eq!(note, "ü".repeat(4096));
    assert_eq!(
        data,
        json!({
            "ver": 2,
            "name": "order placed",
            "properties": {"tier": "gold"},
            "measurements": {"amount": 12.5, "lines": 2},
        })
    );

    let exceptions = of_kind(&envelopes, "Exception");
    assert_eq!(exceptions.len(), 2);
    let typed = |t: &str| {
        *exceptions
            .iter()
            .find(|e| base_data(e)["exceptions"][0]["typeName"] == t)
            .unwrap_or_else(|| panic!("no {t} in {exceptions:#?}"))
    };
    let inside = typed("OrderNotFoundError");
    assert_eq!(operation_tags(inside), in_request);
    assert_eq!(
        base_data(inside),
        &json!({
            "ver": 2,
            "exceptions": [{
                "typeName": "OrderNotFoundError",
                "message": "order 42 does not exist",
                "hasFullStack": true,
                "stack": "OrderNotFoundError: order 42 does not exist\n    at lookupOrder (orders.c:17)",
            }],
            "properties": {"order": "42"},
        })
    );
    let outside = typed("TimeoutError");
    assert_eq!(operation_tags(outside), json!({}), "outside any span");
    assert_eq!(
        base_data(outside),
        &json!({"ver": 2, "exceptions": [{"typeName": "TimeoutError", "message": "gave up"}]})
    );

    let availability = of_kind(&envelopes, "Availability");
    assert_eq!(availability.len(), 1);
    assert_eq!(operation_tags(availability[0]), json!({}));
    let mut data = base_data(availability[0]).clone();
    let id = data.as_object_mut().unwrap().remove("id").unwrap();
    assert_eq!(id.as_str().map(str::len), Some(16), "{id}");
    assert_eq!(
        data,
        json!({
            "ver": 2,
            "name": "home page",
            "duration": "0.00:00:01.234500",
            "success": false,
            "runLocation": "westeurope",
            "message": "timed out",
            "properties": {"probe": "p1"},
        })
    );

    // Metrics: one series per metric and attribute set, aggregated by kind.
    let metric = |name: &str, dimension: Option<(&str, &str)>| -> Value {
        let found: Vec<&Value> = of_kind(&envelopes, "Metric")
            .into_iter()
            .filter(|m| base_data(m)["metrics"][0]["name"] == name)
            .filter(|m| dimension.is_none_or(|(k, v)| base_data(m)["properties"][k] == v))
            .collect();
        assert_eq!(found.len(), 1, "{name} {dimension:?}: {envelopes:#?}");
        assert_eq!(operation_tags(found[0]), json!({}));
        base_data(found[0]).clone()
    };
    assert_eq!(
        metric("orders", Some(("region", "eu"))),
        json!({"ver": 2, "metrics": [{"name": "orders", "value": 5, "count": 1}],
               "properties": {"region": "eu"}})
    );
    assert_eq!(
        metric("orders", Some(("region", "us")))["metrics"][0]["value"],
        1
    );
    assert_eq!(
        metric("latency_ms", None),
        json!({"ver": 2,
               "metrics": [{"name": "latency_ms", "value": 60, "count": 3, "min": 10, "max": 30}],
               "properties": {"route": "/orders"}})
    );
    assert_eq!(metric("pool", None)["metrics"][0]["value"], 4);

    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains(
            "custom_accepted=4 metrics_accepted=10 values_truncated=1 items_delivered=14"
        ),
        "{stdout}"
    );
    assert_eq!(emulator.stats().items_rejected, 0);
}

/// A program built against the header from before `struct_size` (ABI 0,
/// frozen in tests/c/abi/genkit_azure_v0.h) runs against today's library:
/// its settings apply, its items arrive, its stats are right and written in
/// ABI 0's layout (the program checks a guard word after the struct).
#[test]
fn an_abi_0_program_runs_against_the_new_library() {
    let exe = compile("abi/legacy_v0");
    let emulator = start_emulator();
    let trace_id = fresh_trace_id();
    let output = run(&exe, &emulator, &[&trace_id]);
    assert!(
        output.status.success(),
        "legacy_v0 failed: {:?}",
        output.status
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains(
            "spans_accepted=2 logs_accepted=1 custom_accepted=3 items_delivered=6 \
             items_pending=0 custom_sampled_out=0"
        ),
        "{stdout}"
    );
    let all = emulator.envelopes();
    let resource = all
        .iter()
        .find(|e| genkit_azure_emulator::is_resource_metric(e))
        .expect("the resource's metric");
    assert_eq!(
        base_data(resource)["properties"]["deployment.environment.name"],
        "legacy-env",
        "{resource:#}"
    );
    let envelopes = items(&emulator);
    let kinds: Vec<&str> = envelopes.iter().map(kind).collect();
    assert_eq!(envelopes.len(), 6, "{kinds:?}\n{envelopes:#?}");
    for e in &envelopes {
        assert_eq!(tag(e, "ai.cloud.role"), Some("legacy-c"), "{e:#}");
        assert_eq!(tag(e, "ai.application.ver"), Some("0.9.0"), "{e:#}");
    }
    let one = |wanted: &str| -> &Value {
        let found: Vec<&Value> = of_kind(&envelopes, wanted);
        assert_eq!(found.len(), 1, "{wanted}: {kinds:?}");
        found[0]
    };
    let request = one("Request");
    assert_eq!(base_data(request)["name"], "GET /legacy");
    assert_eq!(tag(request, "ai.operation.id"), Some(trace_id.as_str()));
    let step = one("RemoteDependency");
    assert_eq!(
        tag(step, "ai.operation.name"),
        Some("GET /legacy"),
        "{step:#}"
    );
    assert_eq!(
        base_data(step)["properties"]["genkit:input"],
        "what is on the menu",
        "log_input_and_output was read: {step:#}"
    );
    let log = one("Message");
    assert_eq!(base_data(log)["message"], "legacy log");
    assert_eq!(base_data(log)["properties"]["logger_name"], "legacy.logger");
    assert_eq!(tag(log, "ai.operation.parentId"), Some("b100000000000002"));
    for kind in ["Event", "Exception", "Availability"] {
        assert_eq!(
            tag(one(kind), "ai.operation.name"),
            Some("legacy operation"),
            "{kind}"
        );
    }
    assert_eq!(base_data(one("Event"))["measurements"]["amount"], 3.5);
    assert_eq!(base_data(one("Availability"))["runLocation"], "here");
}

/// `readelf -d <file>`: the dynamic section (binutils, which every `cc`
/// toolchain brings along with its linker).
fn dynamic_section(file: &Path) -> String {
    let output = Command::new("readelf")
        .arg("-d")
        .arg(file)
        .output()
        .unwrap_or_else(|e| panic!("cannot run readelf (binutils): {e}"));
    assert!(output.status.success(), "readelf -d {}", file.display());
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `Cflags` and `Libs` of a .pc file: from pkg-config when it is installed,
/// else read here (variables substituted), so the test needs no pkg-config.
fn pkg_config_flags(pc_dir: &Path) -> (String, String) {
    let ask = |what: &str| {
        Command::new("pkg-config")
            .arg(what)
            .arg("genkit_azure")
            .env("PKG_CONFIG_PATH", pc_dir)
            .env("PKG_CONFIG_LIBDIR", pc_dir)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    if let (Some(cflags), Some(libs)) = (ask("--cflags"), ask("--libs")) {
        return (cflags, libs);
    }
    let text = std::fs::read_to_string(pc_dir.join("genkit_azure.pc")).expect("read the .pc");
    let mut vars: Vec<(String, String)> = Vec::new();
    let expand = |value: &str, vars: &[(String, String)]| {
        let mut v = value.to_string();
        for (name, with) in vars.iter().rev() {
            v = v.replace(&format!("${{{name}}}"), with);
        }
        v
    };
    let (mut cflags, mut libs) = (String::new(), String::new());
    for line in text.lines() {
        if let Some((name, value)) = line.split_once('=').filter(|(n, _)| !n.contains(':')) {
            let value = expand(value.trim(), &vars);
            vars.push((name.trim().to_string(), value));
        } else if let Some(v) = line.strip_prefix("Cflags:") {
            cflags = expand(v.trim(), &vars);
        } else if let Some(v) = line.strip_prefix("Libs:") {
            libs = expand(v.trim(), &vars);
        }
    }
    (cflags, libs)
}

/// The shared library's soname names its ABI, `ffi/install.sh` installs it
/// with its header and a pkg-config file, and a program built with
/// pkg-config's flags against the installed copy asks for that soname and
/// runs.
#[test]
fn the_library_has_a_versioned_soname_and_installs_for_pkg_config() {
    let lib_dir = library_dir();
    let soname = "libgenkit_azure.so.1";
    let dynamic = dynamic_section(&lib_dir.join("libgenkit_azure.so"));
    assert!(
        dynamic.contains(&format!("Library soname: [{soname}]")),
        "{dynamic}"
    );

    let scratch = Path::new(env!("CARGO_TARGET_TMPDIR")).join("install");
    let _ = std::fs::remove_dir_all(&scratch);
    let prefix = scratch.join("prefix");
    let output = Command::new("sh")
        .arg(repo_root().join("ffi/install.sh"))
        .arg(&lib_dir)
        .arg(&prefix)
        .env_remove("DESTDIR")
        .output()
        .expect("run ffi/install.sh");
    assert!(
        output.status.success(),
        "install.sh failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lib = prefix.join("lib");
    let version = genkit_azure::VERSION;
    assert!(lib.join(format!("libgenkit_azure.so.{version}")).is_file());
    assert_eq!(
        std::fs::read_link(lib.join(soname)).unwrap(),
        Path::new(&format!("libgenkit_azure.so.{version}"))
    );
    assert_eq!(
        std::fs::read_link(lib.join("libgenkit_azure.so")).unwrap(),
        Path::new(soname)
    );
    assert!(prefix.join("include/genkit_azure.h").is_file());
    let pc = std::fs::read_to_string(lib.join("pkgconfig/genkit_azure.pc")).unwrap();
    assert!(pc.contains(&format!("Version: {version}\n")), "{pc}");
    assert!(
        pc.contains(&format!("prefix={}\n", prefix.display())),
        "{pc}"
    );

    let (cflags, libs) = pkg_config_flags(&lib.join("pkgconfig"));
    let exe = scratch.join("version");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let output = Command::new(&cc)
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror"])
        .args(cflags.split_whitespace())
        .arg(repo_root().join("tests/c/abi/version.c"))
        .args(libs.split_whitespace())
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .arg("-o")
        .arg(&exe)
        .output()
        .expect("run the C compiler");
    assert!(
        output.status.success(),
        "compiling with `{cflags}` `{libs}` failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let needed = dynamic_section(&exe);
    assert!(
        needed.contains(&format!("Shared library: [{soname}]")),
        "{needed}"
    );
    let output = Command::new(&exe)
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert_eq!(
        stdout.trim(),
        format!("version={version} abi=1 new_without_struct_size=GENKIT_AZURE_INVALID_STRUCT_SIZE")
    );
}

/// A program forks after genkit_azure_new: the child that calls
/// genkit_azure_after_fork_child exports through its own pipeline, the one
/// that does not is refused and frees its handle without hanging, and the
/// parent goes on; every span arrives exactly once, whether it was sent
/// before the fork or still queued when the process forked.
#[test]
fn a_forked_child_gets_its_own_pipeline_and_nothing_arrives_twice() {
    let exe = compile("fork");
    let emulator = start_emulator();
    let trace_id = fresh_trace_id();
    let output = run(&exe, &emulator, &[&trace_id]);
    assert!(output.status.success(), "fork failed: {:?}", output.status);
    // Every pipeline flushed or shut down before its process went on.
    assert!(
        emulator.wait_for_items(6, Duration::from_secs(10)),
        "{:?}",
        emulator.stats()
    );
    std::thread::sleep(Duration::from_millis(300));
    let envelopes = items(&emulator);
    let mut names: Vec<String> = envelopes
        .iter()
        .map(|e| {
            let data = base_data(e);
            data["name"]
                .as_str()
                .or(data["message"].as_str())
                .unwrap_or("?")
                .to_string()
        })
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "before fork",
            "child",
            "child log",
            "grandchild",
            "parent after fork",
            "queued at fork"
        ],
        "{envelopes:#?}"
    );
    // Three pipelines (parent, child, grandchild), each announcing its
    // resource once.
    let resources = emulator
        .envelopes()
        .into_iter()
        .filter(genkit_azure_emulator::is_resource_metric)
        .count();
    assert_eq!(resources, 3);
}

/// The number after `name=` in a program's output.
fn printed(stdout: &str, name: &str) -> u64 {
    stdout
        .split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{name}=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name}= in {stdout}"))
}

/// 16 C threads export spans and emit logs while 2 flush in a loop and the
/// main thread shuts the pipeline down under them: no deadlock (the harness
/// kills a program after a minute), no crash, every call's status is one a
/// caller can expect, the program's counts add up (it checks), and what
/// arrived is what the stats call delivered, each item once.
#[test]
fn sixteen_threads_emit_while_flush_and_shutdown_run() {
    let exe = compile_with("threads", &["-pthread"]);
    let emulator = start_emulator();
    let trace_id = fresh_trace_id();
    let output = run(&exe, &emulator, &[&trace_id]);
    assert!(
        output.status.success(),
        "threads failed: {:?}",
        output.status
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let delivered = printed(&stdout, "items_delivered");
    let accepted = printed(&stdout, "ok_spans") + printed(&stdout, "ok_logs");
    assert!(accepted >= 16 * 1500, "{stdout}");
    assert_eq!(
        printed(&stdout, "after_shutdown"),
        16,
        "each emitter ends when the shutdown refuses it: {stdout}"
    );
    // Everything the stats call delivered is at the emulator, and no more.
    let _ = emulator.wait_for_items(delivered as usize + 1, Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(300));
    let envelopes = items(&emulator);
    assert_eq!(envelopes.len() as u64, delivered, "{stdout}");
    let mut ids: Vec<String> = envelopes
        .iter()
        .filter(|e| kind(e) == "RemoteDependency")
        .map(|e| base_data(e)["id"].as_str().unwrap_or("?").to_string())
        .collect();
    let spans = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), spans, "a span arrived twice");
}

/// Diagnostics go to a C callback when one is set (from a background
/// thread, with no part of the key), and to stderr again once it is removed.
#[test]
fn diagnostics_reach_the_c_callback_then_stderr() {
    let exe = compile_with("diagnostics", &["-pthread"]);
    let emulator = start_emulator();
    emulator
        .set_faults(genkit_azure_emulator::FaultPlan::always(
            genkit_azure_emulator::Step::status(401),
        ))
        .expect("a valid fault plan");
    let output = run(&exe, &emulator, &[IKEY]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "diagnostics failed: {:?}",
        output.status
    );
    let said: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("CALLBACK "))
        .collect();
    assert!(
        said.iter()
            .any(|m| m.contains("the service refused the data (401)")),
        "{stdout}"
    );
    // The first handle's diagnostics went to the callback only; the second's,
    // made after the callback was removed, to stderr.
    let on_stderr: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("genkit-azure: "))
        .collect();
    assert!(
        on_stderr
            .iter()
            .any(|l| l.contains("the service refused the data (401)")),
        "{stderr}"
    );
    assert_eq!(
        on_stderr.len(),
        said.len(),
        "one handle's diagnostics each way:\n{stdout}\n{stderr}"
    );
    let undashed = IKEY.replace('-', "");
    for text in [&stdout, &stderr] {
        for secret in [IKEY, undashed.as_str(), &IKEY[..8], &IKEY[IKEY.len() - 8..]] {
            assert!(
                !text.contains(secret),
                "a diagnostic holds part of the key: {text}"
            );
        }
    }
}
