/*
 * C host of the benchmarks: the synthetic workload handed to libgenkit_azure.so
 * through genkit_azure_export_span (driven by bench/run.py).
 *
 *   genkit-azure-bench-c [--mode throughput|queued-memory] [--spans N]
 *                        [--endpoint http://127.0.0.1:PORT] [--ikey KEY]
 *
 * Same trace shape as the Rust and Python hosts: 1 SERVER span and 4
 * INTERNAL/CLIENT children per trace, 10 attributes each, children exported
 * before their root (the order in which spans end). The ingest queue is sized
 * so that nothing is dropped.
 *
 * throughput:    export every span, flush, print wall time, CPU (getrusage,
 *                all threads) and peak RSS.
 * queued-memory: point the library at a socket that listens but never
 *                accepts (the first exports hang, everything after them stays
 *                queued), export every span, wait 0.5 s, and print the RSS
 *                growth since before genkit_azure_new divided by the spans.
 *
 * Prints one line "RESULT {json}", then waits for a line on stdin (the
 * harness reads the emulator's counters meanwhile) and shuts down.
 */
#define _GNU_SOURCE
#include "genkit_azure.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char *GENKIT_NAMES[5] = {"answer_flow", "generate", "fake-model", "lookup", "fetch"};
static const char *GENKIT_PATHS[5] = {
    "/{answer_flow,t:flow}",
    "/{answer_flow,t:flow}/{generate,t:util}",
    "/{answer_flow,t:flow}/{generate,t:util}/{fake-model,t:action,s:model}",
    "/{answer_flow,t:flow}/{generate,t:util}/{lookup,t:action,s:tool}",
    "/{answer_flow,t:flow}/{fetch,t:action}",
};
static const char *SUBTYPES[5] = {"flow", "util", "model", "tool", "action"};
static const char *CHILD_NAMES[4] = {"generate", "model/call", "tool/lookup", "http GET"};
static const uint32_t CHILD_KINDS[4] = {
    GENKIT_AZURE_SPAN_KIND_INTERNAL, GENKIT_AZURE_SPAN_KIND_CLIENT,
    GENKIT_AZURE_SPAN_KIND_INTERNAL, GENKIT_AZURE_SPAN_KIND_CLIENT};

static void die(const char *what, genkit_azure_status st) {
    fprintf(stderr, "genkit-azure-bench-c: %s failed: %s: %s\n", what,
            genkit_azure_status_name((int)st), genkit_azure_last_error());
    exit(1);
}

static uint64_t now_unix_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static double mono_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_bytes(void) {
    long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &size, &resident) != 2) resident = 0;
        fclose(f);
    }
    return resident * sysconf(_SC_PAGESIZE);
}

struct usage { double user_s, sys_s; long max_rss_kb; };

static struct usage get_usage(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    struct usage u = {
        (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
        (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6,
        ru.ru_maxrss};
    return u;
}

static void put_u64_be(uint8_t *out, uint64_t v, int n) {
    for (int i = n - 1; i >= 0; i--) { out[i] = (uint8_t)(v & 0xff); v >>= 8; }
}

/* Random ids, as a tracer draws them (splitmix64, seeded the same every run):
 * ids counted up share their first bytes, which compresses better than the
 * ids real tracers send, and the bare crate's host draws random ones. */
static uint64_t id_state = 0x5eed5eed5eed5eedull;
static uint64_t random_id(void) {
    uint64_t z = (id_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Fills the 10 attributes of span c (0 = root) of trace t; the strings live in bufs. */
static void fill_attributes(genkit_azure_attribute *a, char bufs[2][32], long t, int c) {
    memset(a, 0, 10 * sizeof *a);
    snprintf(bufs[0], 32, "req-%08ld", t);
    snprintf(bufs[1], 32, "user-%ld", t % 1000);
    const char *keys[10] = {"genkit:name", "genkit:path", "genkit:type", "genkit:metadata:subtype",
                            "genkit:state", "app.request_id", "app.user_id", "app.items",
                            "app.score", "app.cached"};
    const char *strs[7] = {GENKIT_NAMES[c], GENKIT_PATHS[c], "action", SUBTYPES[c], "success",
                           bufs[0], bufs[1]};
    for (int i = 0; i < 10; i++) a[i].key = keys[i];
    for (int i = 0; i < 7; i++) { a[i].type = GENKIT_AZURE_ATTRIBUTE_STRING; a[i].string_value = strs[i]; }
    a[7].type = GENKIT_AZURE_ATTRIBUTE_INT;    a[7].int_value = t % 50;
    a[8].type = GENKIT_AZURE_ATTRIBUTE_DOUBLE; a[8].double_value = 0.25 * c;
    a[9].type = GENKIT_AZURE_ATTRIBUTE_BOOL;   a[9].bool_value = (t % 2) == 0;
}

static unsigned long long queue_full = 0;

static void export_one(genkit_azure_handle *h, const genkit_azure_span *s) {
    genkit_azure_status st = genkit_azure_export_span(h, s);
    if (st == GENKIT_AZURE_QUEUE_FULL) queue_full++;
    else if (st != GENKIT_AZURE_OK) die("genkit_azure_export_span", st);
}

/* Exports `spans` spans (whole traces of 5); returns how many. */
static long run_workload(genkit_azure_handle *h, long spans) {
    long traces = spans / 5;
    genkit_azure_attribute attrs[10];
    char bufs[2][32];
    for (long t = 0; t < traces; t++) {
        genkit_azure_span root;
        memset(&root, 0, sizeof root); root.struct_size = sizeof root;
        put_u64_be(root.trace_id, random_id(), 8);
        put_u64_be(root.trace_id + 8, random_id(), 8);
        put_u64_be(root.span_id, random_id(), 8);
        root.name = "POST /answer";
        root.kind = GENKIT_AZURE_SPAN_KIND_SERVER;
        root.start_time_unix_nano = now_unix_ns();
        root.scope_name = "genkit-azure-bench";
        for (int c = 0; c < 4; c++) {
            genkit_azure_span child;
            memset(&child, 0, sizeof child); child.struct_size = sizeof child;
            memcpy(child.trace_id, root.trace_id, 16);
            memcpy(child.parent_span_id, root.span_id, 8);
            put_u64_be(child.span_id, random_id(), 8);
            child.name = CHILD_NAMES[c];
            child.kind = CHILD_KINDS[c];
            child.start_time_unix_nano = now_unix_ns();
            fill_attributes(attrs, bufs, t, c + 1);
            child.attributes = attrs;
            child.attribute_count = 10;
            child.scope_name = "genkit-azure-bench";
            child.end_time_unix_nano = now_unix_ns();
            export_one(h, &child);
        }
        fill_attributes(attrs, bufs, t, 0);
        root.attributes = attrs;
        root.attribute_count = 10;
        root.end_time_unix_nano = now_unix_ns();
        export_one(h, &root);
    }
    return traces * 5;
}

static genkit_azure_handle *start(const char *endpoint, const char *ikey, long spans, uint32_t timeout_ms) {
    char cs[512];
    snprintf(cs, sizeof cs, "InstrumentationKey=%s;IngestionEndpoint=%s/", ikey, endpoint);
    genkit_azure_config config;
    memset(&config, 0, sizeof config); config.struct_size = sizeof config;
    config.connection_string = cs;
    config.service_name = "genkit-azure-bench";
    config.queue_capacity = (uint32_t)(spans + 8192);
    config.max_queue_bytes = 1ULL << 40; /* in bytes too: every span may wait at once */
    config.request_timeout_ms = timeout_ms;
    genkit_azure_handle *h = NULL;
    genkit_azure_status st = genkit_azure_new(&config, &h);
    if (st != GENKIT_AZURE_OK) die("genkit_azure_new", st);
    return h;
}

static void print_stats(const genkit_azure_handle *h) {
    genkit_azure_stats s;
    memset(&s, 0, sizeof s); s.struct_size = sizeof s;
    genkit_azure_status st = genkit_azure_get_stats(h, &s);
    if (st != GENKIT_AZURE_OK) die("genkit_azure_get_stats", st);
    printf("\"pipeline\":{\"spans_accepted\":%" PRIu64 ",\"envelopes_delivered\":%" PRIu64
           ",\"dropped_queue_full\":%" PRIu64 ",\"queue_depth\":%" PRIu64 ",\"http_requests\":%" PRIu64
           ",\"bytes_sent\":%" PRIu64 ",\"batches_failed\":%" PRIu64 "}",
           s.spans_accepted, s.envelopes_delivered, s.dropped_queue_full, s.queue_depth,
           s.http_requests, s.bytes_sent, s.batches_failed);
}

static void wait_for_harness(void) {
    char line[64];
    if (!fgets(line, sizeof line, stdin)) { /* EOF: go on */ }
}

static void usage_exit(void) {
    fprintf(stderr, "usage: genkit-azure-bench-c [--mode throughput|queued-memory] [--spans N] "
                    "[--endpoint http://127.0.0.1:PORT] [--ikey KEY]\n");
    exit(2);
}

int main(int argc, char **argv) {
    const char *mode = "throughput", *endpoint = NULL;
    const char *ikey = "00000000-0000-0000-0000-000000000000";
    long spans = 200000;
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc) usage_exit();
        if (!strcmp(argv[i], "--mode")) mode = argv[++i];
        else if (!strcmp(argv[i], "--spans")) spans = atol(argv[++i]);
        else if (!strcmp(argv[i], "--endpoint")) endpoint = argv[++i];
        else if (!strcmp(argv[i], "--ikey")) ikey = argv[++i];
        else usage_exit();
    }
    if (spans < 5) usage_exit();

    if (!strcmp(mode, "throughput")) {
        if (!endpoint) usage_exit();
        genkit_azure_handle *h = start(endpoint, ikey, spans, 30000);
        struct usage u0 = get_usage();
        double t0 = mono_s();
        long created = run_workload(h, spans);
        double loop_s = mono_s() - t0;
        genkit_azure_status fst = genkit_azure_flush(h, 600000);
        double wall_s = mono_s() - t0;
        struct usage u1 = get_usage();
        double user = u1.user_s - u0.user_s, sys = u1.sys_s - u0.sys_s;
        printf("RESULT {\"host\":\"c\",\"variant\":\"ours\",\"mode\":\"throughput\",\"spans_created\":%ld,"
               "\"flushed\":%s,\"queue_full\":%llu,\"loop_s\":%.6f,\"flush_s\":%.6f,\"wall_s\":%.6f,"
               "\"cpu_user_s\":%.6f,\"cpu_sys_s\":%.6f,\"cpu_s\":%.6f,\"max_rss_kb\":%ld,",
               created, fst == GENKIT_AZURE_OK ? "true" : "false", queue_full, loop_s, wall_s - loop_s,
               wall_s, user, sys, user + sys, u1.max_rss_kb);
        print_stats(h);
        printf("}\n");
        fflush(stdout);
        wait_for_harness();
        genkit_azure_status sst = genkit_azure_shutdown(h, 30000);
        if (sst != GENKIT_AZURE_OK) fprintf(stderr, "shutdown: %s\n", genkit_azure_status_name((int)sst));
        genkit_azure_free(h);
        return 0;
    }
    if (!strcmp(mode, "queued-memory")) {
        /* Listens, never accepts: connections complete in the kernel backlog and
           requests are written, but no answer ever comes. */
        int hole = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in addr;
        memset(&addr, 0, sizeof addr);
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof addr;
        if (hole < 0 || bind(hole, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(hole, 128) != 0 ||
            getsockname(hole, (struct sockaddr *)&addr, &len) != 0) {
            perror("black-hole socket");
            return 1;
        }
        char hole_url[64];
        snprintf(hole_url, sizeof hole_url, "http://127.0.0.1:%u", (unsigned)ntohs(addr.sin_port));
        usleep(50000);
        long rss0 = rss_bytes();
        genkit_azure_handle *h = start(hole_url, ikey, spans, 600000);
        long created = run_workload(h, spans);
        usleep(500000);
        long rss1 = rss_bytes();
        printf("RESULT {\"host\":\"c\",\"variant\":\"ours\",\"mode\":\"queued-memory\",\"spans_created\":%ld,"
               "\"queue_full\":%llu,\"rss_bytes_before\":%ld,\"rss_bytes_after\":%ld,"
               "\"rss_bytes_per_queued_span\":%.1f,\"max_rss_kb\":%ld,",
               created, queue_full, rss0, rss1, (double)(rss1 - rss0) / (double)created, get_usage().max_rss_kb);
        print_stats(h);
        printf("}\n");
        fflush(stdout);
        wait_for_harness();
        /* The hung exports would hold a shutdown for the whole request timeout. */
        _exit(0);
    }
    usage_exit();
}
