//! `--mode encode`: the background CPU of turning finished spans into a
//! request body, timed alone (no queue, no HTTP), side by side:
//!
//! * `ours`: core's envelope writer (`bench_support::SpanEncoder`) from
//!   packed spans, at every gzip level asked for;
//! * `crate`: `opentelemetry-application-insights` 0.46 from `SpanData`
//!   (its mapping, `serde_json::to_vec`, gzip at its hard-coded level 6), as
//!   the pipeline ran it before the writer;
//! * `crate-from-packed`: the same plus `PackedSpan::unpack`, the whole step
//!   the old pipeline took from a queued span (without its limits pass,
//!   which cuts nothing in this workload);
//! * `limit`: `serde_json` serialisation of the very same envelopes (our
//!   output, decoded before timing into structs that borrow every string)
//!   into a gzip encoder at the same level: what any writer must at least pay;
//! * `limit-value`: the same from `serde_json::Value` trees, for scale.
//!
//! Time is thread CPU time (`CLOCK_THREAD_CPUTIME_ID`) of the one thread
//! that does everything here. One sample is one pass over all the spans in
//! batches of one size; every job runs once untimed first, then `reps` times,
//! jobs interleaved and their order rotated between repetitions, so that
//! the machine's drift spreads over all of them. Reported: the median, min
//! and max of the samples, in µs per span.

use crate::{fail, run_workload, SERVICE_NAME};
use async_trait::async_trait;
use bytes::Bytes;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use genkit_azure::bench_support::SpanEncoder;
use genkit_azure::PackedSpan;
use http::{Request, Response};
use opentelemetry::trace::TracerProvider;
use opentelemetry::Context;
use opentelemetry_http::{HttpClient, HttpError};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, Span, SpanData, SpanExporter, SpanProcessor};
use opentelemetry_sdk::Resource;
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use serde_json::{json, Value};
use std::future::Future;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::Duration;

/// `Compression::default()` in the crate's `uploader::serialize_request_body`.
const CRATE_GZIP_LEVEL: u32 = 6;

pub struct EncodeArgs {
    pub spans: usize,
    pub reps: usize,
    pub batch_sizes: Vec<usize>,
    pub levels: Vec<u32>,
    pub ikey: String,
}

// ---------------------------------------------------------------------------
// The spans: the benchmark's workload through the SDK, kept as `SpanData`

/// Keeps every finished span.
#[derive(Debug, Clone, Default)]
struct Collect(Arc<Mutex<Vec<SpanData>>>);

impl SpanProcessor for Collect {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        self.0.lock().expect("not poisoned").push(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

fn resource() -> Resource {
    Resource::builder().with_service_name(SERVICE_NAME).build()
}

fn workload(spans: usize) -> Vec<SpanData> {
    let collect = Collect::default();
    let provider = SdkTracerProvider::builder()
        .with_resource(resource())
        .with_span_processor(collect.clone())
        .build();
    run_workload(&provider.tracer("genkit-azure-bench"), spans);
    let _ = provider.shutdown();
    let spans = std::mem::take(&mut *collect.0.lock().expect("not poisoned"));
    spans
}

// ---------------------------------------------------------------------------
// The bare crate, driven directly: its body is taken from its HTTP client

/// Takes the body the crate "sends" and answers 200.
#[derive(Debug, Clone, Default)]
struct BodyClient(Arc<Mutex<Option<Bytes>>>);

#[async_trait]
impl HttpClient for BodyClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        *self.0.lock().expect("not poisoned") = Some(request.into_body());
        Ok(Response::builder().status(200).body(Bytes::new())?)
    }
}

struct CrateEncoder {
    exporter: opentelemetry_application_insights::Exporter<BodyClient>,
    body: BodyClient,
}

impl CrateEncoder {
    fn new(ikey: &str) -> Self {
        let body = BodyClient::default();
        let mut exporter =
            opentelemetry_application_insights::Exporter::new_from_connection_string(
                format!("InstrumentationKey={ikey};IngestionEndpoint=https://ingestion.invalid"),
                body.clone(),
            )
            .unwrap_or_else(|e| fail(&format!("the crate refused the connection string: {e}")));
        // As the old pipeline did: the crate copies the resource into every envelope.
        exporter.set_resource(&resource());
        Self { exporter, body }
    }

    fn encode(&self, spans: Vec<SpanData>) -> Bytes {
        if let Err(e) = block_on(self.exporter.export(spans)) {
            fail(&format!("the crate's export failed: {e}"));
        }
        self.body
            .0
            .lock()
            .expect("not poisoned")
            .take()
            .unwrap_or_else(|| fail("the crate wrote no body"))
    }
}

/// Polls once: with a client that answers at once, the crate's export never
/// waits (its retry timer is only armed after a failure).
fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    match f
        .as_mut()
        .poll(&mut std::task::Context::from_waker(Waker::noop()))
    {
        Poll::Ready(v) => v,
        Poll::Pending => fail("the crate's export waited on something"),
    }
}

// ---------------------------------------------------------------------------
// The limit: the same envelopes as structs that borrow every string

/// String members of a JSON object (tags, properties), written as a map.
struct Pairs<'a>(Vec<(&'a str, &'a str)>);

impl Pairs<'_> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for Pairs<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// A Request or RemoteDependency envelope, fields in the writer's order.
#[derive(Serialize)]
struct Envelope<'a> {
    name: &'a str,
    time: &'a str,
    #[serde(rename = "iKey")]
    ikey: &'a str,
    #[serde(rename = "sampleRate", skip_serializing_if = "Option::is_none")]
    sample_rate: Option<f64>,
    tags: Pairs<'a>,
    data: Data<'a>,
}

#[derive(Serialize)]
struct Data<'a> {
    #[serde(rename = "baseType")]
    base_type: &'a str,
    #[serde(rename = "baseData")]
    base_data: BaseData<'a>,
}

#[derive(Serialize)]
struct BaseData<'a> {
    ver: i64,
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    duration: &'a str,
    #[serde(rename = "responseCode", skip_serializing_if = "Option::is_none")]
    response_code: Option<&'a str>,
    #[serde(rename = "resultCode", skip_serializing_if = "Option::is_none")]
    result_code: Option<&'a str>,
    success: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<&'a str>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'a str>,
    #[serde(skip_serializing_if = "Pairs::is_empty")]
    properties: Pairs<'a>,
}

fn pairs(v: Option<&Value>) -> Pairs<'_> {
    Pairs(
        v.and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| {
                        (
                            k.as_str(),
                            v.as_str().unwrap_or_else(|| fail("a non-string member")),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default(),
    )
}

/// The envelope as structs; fails unless they say exactly what `v` says, so
/// the limit never serialises less than ours.
fn typed(v: &Value) -> Envelope<'_> {
    fn s<'v>(v: &'v Value, k: &str) -> Option<&'v str> {
        v.get(k).and_then(Value::as_str)
    }
    fn must<'v>(v: &'v Value, k: &str) -> &'v str {
        s(v, k).unwrap_or_else(|| fail(&format!("no {k}")))
    }
    let data = &v["data"];
    let base = &data["baseData"];
    let e = Envelope {
        name: must(v, "name"),
        time: must(v, "time"),
        ikey: must(v, "iKey"),
        sample_rate: v.get("sampleRate").and_then(Value::as_f64),
        tags: pairs(v.get("tags")),
        data: Data {
            base_type: must(data, "baseType"),
            base_data: BaseData {
                ver: base["ver"].as_i64().unwrap_or_else(|| fail("no ver")),
                id: must(base, "id"),
                name: s(base, "name"),
                duration: must(base, "duration"),
                response_code: s(base, "responseCode"),
                result_code: s(base, "resultCode"),
                success: base["success"]
                    .as_bool()
                    .unwrap_or_else(|| fail("no success")),
                url: s(base, "url"),
                data: s(base, "data"),
                source: s(base, "source"),
                target: s(base, "target"),
                kind: s(base, "type"),
                properties: pairs(base.get("properties")),
            },
        },
    };
    let back = serde_json::to_value(&e).expect("serialisable");
    if back != *v {
        fail(&format!(
            "the limit's structs do not cover this envelope:\n{v}\nvs\n{back}"
        ));
    }
    e
}

/// `items` as JSON into a reused buffer, then into gzip: the faster of the
/// two ways (the crate measured `to_writer` straight into gzip slower).
fn serde_gzip<T: Serialize>(items: &[T], level: u32, buf: &mut Vec<u8>) -> usize {
    buf.clear();
    serde_json::to_writer(&mut *buf, items).expect("serialisable");
    let mut gz = GzEncoder::new(Vec::new(), Compression::new(level));
    gz.write_all(buf).expect("in memory");
    gz.finish().expect("in memory").len()
}

fn gunzip(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    GzDecoder::new(body)
        .read_to_end(&mut out)
        .unwrap_or_else(|e| fail(&format!("a body is not gzip: {e}")));
    out
}

// ---------------------------------------------------------------------------
// Timing

/// CPU time of the calling thread, in nanoseconds.
fn thread_cpu_ns() -> u64 {
    // SAFETY: clock_gettime writes a plain struct we own.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Encoder {
    Ours,
    Crate,
    CrateFromPacked,
    Limit,
    LimitValue,
}

impl Encoder {
    fn name(self) -> &'static str {
        match self {
            Encoder::Ours => "ours",
            Encoder::Crate => "crate",
            Encoder::CrateFromPacked => "crate-from-packed",
            Encoder::Limit => "limit",
            Encoder::LimitValue => "limit-value",
        }
    }
}

struct Job {
    encoder: Encoder,
    level: u32,
    batch: usize,
    /// µs per span of each timed pass.
    samples: Vec<f64>,
    gzip_bytes: usize,
}

/// Everything the jobs read, prepared before any timing.
struct Inputs<'a> {
    packed: &'a [PackedSpan],
    data: &'a [SpanData],
    values: &'a [Value],
    typed: &'a [Envelope<'a>],
    ours: Vec<(u32, SpanEncoder)>,
    krate: CrateEncoder,
}

impl Job {
    /// One pass over every span in batches; returns (thread CPU ns, gzip bytes).
    fn pass(&self, input: &Inputs<'_>, buf: &mut Vec<u8>) -> (u64, usize) {
        let b = self.batch;
        let mut bytes = 0;
        match self.encoder {
            Encoder::Ours => {
                let enc = &input
                    .ours
                    .iter()
                    .find(|(l, _)| *l == self.level)
                    .expect("an encoder per level")
                    .1;
                let t0 = thread_cpu_ns();
                for chunk in input.packed.chunks(b) {
                    bytes += enc.encode(chunk).expect("in memory").len();
                }
                (thread_cpu_ns() - t0, bytes)
            }
            Encoder::Crate => {
                // The crate takes its spans by value: the copies are made untimed.
                let owned: Vec<Vec<SpanData>> =
                    input.data.chunks(b).map(<[SpanData]>::to_vec).collect();
                let t0 = thread_cpu_ns();
                for chunk in owned {
                    bytes += input.krate.encode(chunk).len();
                }
                (thread_cpu_ns() - t0, bytes)
            }
            Encoder::CrateFromPacked => {
                let t0 = thread_cpu_ns();
                for chunk in input.packed.chunks(b) {
                    let spans = chunk.iter().map(PackedSpan::unpack).collect();
                    bytes += input.krate.encode(spans).len();
                }
                (thread_cpu_ns() - t0, bytes)
            }
            Encoder::Limit => {
                let t0 = thread_cpu_ns();
                for chunk in input.typed.chunks(b) {
                    bytes += serde_gzip(chunk, self.level, buf);
                }
                (thread_cpu_ns() - t0, bytes)
            }
            Encoder::LimitValue => {
                let t0 = thread_cpu_ns();
                for chunk in input.values.chunks(b) {
                    bytes += serde_gzip(chunk, self.level, buf);
                }
                (thread_cpu_ns() - t0, bytes)
            }
        }
    }
}

fn summary(samples: &[f64]) -> Value {
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    let median = if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    };
    json!({"median": median, "min": s[0], "max": s[n - 1], "n": n})
}

pub fn run(args: &EncodeArgs) -> Value {
    let default_level = genkit_azure::Config::default().gzip_level;
    let data = workload(args.spans);
    let n = data.len();
    let packed: Vec<PackedSpan> = data
        .iter()
        .map(|s| PackedSpan::from_span_data(s).unwrap_or_else(|e| fail(&format!("pack: {e}"))))
        .collect();

    // The envelopes the limit serialises: ours, decoded (one per span here:
    // the workload's spans have no events).
    let mut levels = args.levels.clone();
    for l in [default_level, CRATE_GZIP_LEVEL] {
        if !levels.contains(&l) {
            levels.push(l);
        }
    }
    levels.sort_unstable();
    let ours: Vec<(u32, SpanEncoder)> = levels
        .iter()
        .map(|&l| (l, SpanEncoder::new(&args.ikey, &resource(), l)))
        .collect();
    let our_json = gunzip(
        &ours[0]
            .1
            .encode(&packed)
            .unwrap_or_else(|e| fail(&format!("encode: {e}"))),
    );
    let values: Vec<Value> = serde_json::from_slice(&our_json)
        .unwrap_or_else(|e| fail(&format!("our body is not a JSON array: {e}")));
    if values.len() != n {
        fail(&format!("{} envelopes for {n} spans", values.len()));
    }
    let typed: Vec<Envelope<'_>> = values.iter().map(typed).collect();
    let krate = CrateEncoder::new(&args.ikey);
    let crate_json = gunzip(&krate.encode(data.clone()));
    let crate_envelopes = serde_json::from_slice::<Vec<Value>>(&crate_json)
        .unwrap_or_else(|e| fail(&format!("the crate's body is not a JSON array: {e}")))
        .len();
    let mut buf = Vec::new();
    let limit_json = {
        serde_gzip(&typed, 0, &mut buf);
        buf.len()
    };
    let limit_value_json = {
        serde_gzip(&values, 0, &mut buf);
        buf.len()
    };

    let input = Inputs {
        packed: &packed,
        data: &data,
        values: &values,
        typed: &typed,
        ours,
        krate,
    };
    let mut jobs = Vec::new();
    for &batch in &args.batch_sizes {
        let mut job = |encoder, level| {
            jobs.push(Job {
                encoder,
                level,
                batch,
                samples: Vec::new(),
                gzip_bytes: 0,
            })
        };
        job(Encoder::Crate, CRATE_GZIP_LEVEL);
        job(Encoder::CrateFromPacked, CRATE_GZIP_LEVEL);
        job(Encoder::LimitValue, default_level);
        for &level in &levels {
            job(Encoder::Ours, level);
            job(Encoder::Limit, level);
        }
    }
    for job in &mut jobs {
        job.gzip_bytes = job.pass(&input, &mut buf).1;
    }
    let count = jobs.len();
    for rep in 0..args.reps {
        // A different job first in each repetition.
        let start = rep * count / args.reps.max(1);
        for i in (start..count).chain(0..start) {
            let (ns, _) = jobs[i].pass(&input, &mut buf);
            jobs[i].samples.push(ns as f64 / 1e3 / n as f64);
        }
    }

    let rows: Vec<Value> = jobs
        .iter()
        .map(|j| {
            json!({
                "encoder": j.encoder.name(),
                "level": j.level,
                "batch_size": j.batch,
                "cpu_us_per_span": summary(&j.samples),
                "gzip_bytes_per_span": j.gzip_bytes as f64 / n as f64,
            })
        })
        .collect();
    json!({
        "host": "rust",
        "variant": "encode",
        "mode": "encode",
        "spans_created": n,
        "reps": args.reps,
        "batch_sizes": args.batch_sizes,
        "levels": levels,
        "default_level": default_level,
        "crate_level": CRATE_GZIP_LEVEL,
        "clock": "CLOCK_THREAD_CPUTIME_ID",
        "envelopes": {"ours": values.len(), "crate": crate_envelopes},
        "json_bytes_per_span": {
            "ours": our_json.len() as f64 / n as f64,
            "crate": crate_json.len() as f64 / n as f64,
            "limit": limit_json as f64 / n as f64,
            "limit-value": limit_value_json as f64 / n as f64,
        },
        "rows": rows,
    })
}
