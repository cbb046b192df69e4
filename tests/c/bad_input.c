/*
 * bad_input.c: feeds genkit_azure every kind of bad input a C caller can
 * produce and checks, for each call, the status AND that
 * genkit_azure_last_error() names the function and the offending field.
 *
 * Then checks that none of the bad calls changed anything: the stats show
 * only the one good span and the one good log this program sends, and
 * ffi/tests/c_programs.rs checks the emulator received exactly those two.
 *
 * Usage: bad_input <instrumentation key of APPLICATIONINSIGHTS_CONNECTION_STRING>
 * The key is used to build bad connection strings around a real key (some
 * 1,700 mutations of three real shapes) and to check that no message ever
 * contains it or any 8 characters of it, in any case, with or without dashes.
 * Exit status 0 only if every check passed.
 */
#define _POSIX_C_SOURCE 200809L /* setenv/unsetenv, to test the environment fallback */

#include "genkit_azure.h"

#include <ctype.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int failures = 0;
static int checks = 0;

/* Strings that must never appear in an error message. */
static const char *secrets[3];

static void fail(int line, const char *call, const char *why)
{
    fprintf(stderr, "bad_input.c:%d: %s: %s\n", line, call, why);
    failures++;
}

/* The instrumentation key, with and without its dashes, lower case. */
static char key_lower[64];
static char key_undashed[64];

static void set_key(const char *key)
{
    size_t n = 0;
    for (size_t i = 0; key[i] != '\0' && i + 1 < sizeof key_lower; i++) {
        char c = (char)tolower((unsigned char)key[i]);
        key_lower[i] = c;
        key_lower[i + 1] = '\0';
        if (c != '-' && n + 1 < sizeof key_undashed) {
            key_undashed[n++] = c;
            key_undashed[n] = '\0';
        }
    }
}

/* True when `message` holds, in any case, 8 consecutive characters of `key`. */
static int holds_part_of(const char *message, const char *key)
{
    size_t key_len = strlen(key), len = strlen(message);
    for (size_t k = 0; k + 8 <= key_len; k++) {
        for (size_t m = 0; m + 8 <= len; m++) {
            size_t j = 0;
            while (j < 8 && tolower((unsigned char)message[m + j]) == key[k + j]) {
                j++;
            }
            if (j == 8) {
                return 1;
            }
        }
    }
    return 0;
}

/* Fails when the message holds any 8 characters of the key, in any form. */
static void check_hides_key(const char *message, int line, const char *call)
{
    if (holds_part_of(message, key_lower) || holds_part_of(message, key_undashed)) {
        char why[1200];
        snprintf(why, sizeof why, "message holds part of the instrumentation key: \"%s\"", message);
        fail(line, call, why);
    }
}

/*
 * Checks that `got` is `want` and that the last error starts with the
 * function's name and contains every word in `words` (NULL-terminated).
 */
static void expect(genkit_azure_status got, genkit_azure_status want, const char *call, int line,
                   const char *const *words)
{
    checks++;
    const char *message = genkit_azure_last_error();
    if (got != want) {
        char why[1024];
        snprintf(why, sizeof why, "returned %s, expected %s (last error: \"%s\")",
                 genkit_azure_status_name(got), genkit_azure_status_name(want), message);
        fail(line, call, why);
        return;
    }
    /* The function name is the call text up to the '('. */
    size_t name_len = strcspn(call, "(");
    if (strncmp(message, call, name_len) != 0 || message[name_len] != ':') {
        char why[1024];
        snprintf(why, sizeof why, "message \"%s\" does not start with \"%.*s:\"", message,
                 (int)name_len, call);
        fail(line, call, why);
    }
    for (; *words != NULL; words++) {
        if (strstr(message, *words) == NULL) {
            char why[1024];
            snprintf(why, sizeof why, "message \"%s\" lacks \"%s\"", message, *words);
            fail(line, call, why);
        }
    }
    for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++) {
        if (secrets[i] != NULL && strstr(message, secrets[i]) != NULL) {
            fail(line, call, "message contains a secret (instrumentation key)");
        }
    }
    check_hides_key(message, line, call);
}

/* EXPECT(call, status, words...): at least one word, all must be in the message. */
#define EXPECT(call, status, ...) \
    expect((call), (status), #call, __LINE__, (const char *const[]){__VA_ARGS__, NULL})

#define CHECK_OK(call)                                                                    \
    do {                                                                                  \
        genkit_azure_status st_ = (call);                                                 \
        checks++;                                                                         \
        if (st_ != GENKIT_AZURE_OK) {                                                     \
            fprintf(stderr, "bad_input.c:%d: %s returned %s: %s\n", __LINE__, #call,      \
                    genkit_azure_status_name(st_), genkit_azure_last_error());            \
            failures++;                                                                   \
        }                                                                                 \
    } while (0)

#define CHECK_TRUE(cond)                                 \
    do {                                                 \
        checks++;                                        \
        if (!(cond)) {                                   \
            fail(__LINE__, #cond, "is false");           \
        }                                                \
    } while (0)

static uint64_t now_unix_nano(void)
{
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A span every check starts from; each case breaks one thing. */
static genkit_azure_span good_span(void)
{
    genkit_azure_span s = {0};
    s.struct_size = sizeof s;
    memset(s.trace_id, 0x5b, sizeof s.trace_id);
    memset(s.span_id, 0x5c, sizeof s.span_id);
    s.name = "good span";
    s.kind = GENKIT_AZURE_SPAN_KIND_INTERNAL;
    s.end_time_unix_nano = now_unix_nano();
    s.start_time_unix_nano = s.end_time_unix_nano - 5000000u;
    return s;
}

static genkit_azure_log_record good_log(void)
{
    genkit_azure_log_record r = {0};
    r.struct_size = sizeof r;
    r.severity_number = 9;
    r.body = "good log caf\xc3\xa9"; /* valid UTF-8 (é) */
    return r;
}

static genkit_azure_attribute int_attr(const char *key)
{
    genkit_azure_attribute a = {0};
    a.key = key;
    a.type = GENKIT_AZURE_ATTRIBUTE_INT;
    a.int_value = 1;
    return a;
}

/*
 * Tries `text` as the connection string: an error must not hold the key; a
 * string that parses is shut down and freed at once (nothing is sent).
 * Returns 1 when it was refused.
 */
static int try_connection_string(const char *text, int line)
{
    genkit_azure_handle *h = NULL;
    genkit_azure_config c = {0};
    c.struct_size = sizeof c;
    c.connection_string = text;
    c.disable_offline_storage = true;
    checks++;
    genkit_azure_status st = genkit_azure_new(&c, &h);
    if (st == GENKIT_AZURE_OK) {
        genkit_azure_shutdown(h, 0);
        genkit_azure_free(h);
        return 0;
    }
    const char *message = genkit_azure_last_error();
    if (strncmp(message, "genkit_azure_new: ", 18) != 0) {
        fail(line, "genkit_azure_new(mutated)", "message does not name the function");
    }
    check_hides_key(message, line, "genkit_azure_new(mutated)");
    return 1;
}

/*
 * Connection strings around the key, broken in the ways people break them:
 * cut at every position, a space, '=', ';' or a non-ASCII character put at
 * every position, each separator dropped or replaced, and the key pasted
 * into each value. No error may hold any 8 characters of the key.
 */
static void mutated_connection_strings(const char *ikey)
{
    /* The key last: a cut anywhere before the end breaks it, and a string
     * that still parses starts a pipeline, which is slow to test. */
    char seeds[3][256];
    snprintf(seeds[0], sizeof seeds[0],
             "IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/;"
             "InstrumentationKey=%s",
             ikey);
    snprintf(seeds[1], sizeof seeds[1],
             "IngestionEndpoint=http://127.0.0.1:9/;Authorization=ikey;InstrumentationKey=%s",
             ikey);
    snprintf(seeds[2], sizeof seeds[2],
             "EndpointSuffix=applicationinsights.azure.cn;Location=chinaeast2;InstrumentationKey=%s",
             ikey);
    static const char *const inserts[] = {" ", "=", ";", "\xc3\xa9", "\xf0\x9f\x9a\x80", "/", ":"};
    char text[600];
    int tried = 0, refused = 0;
    for (size_t s = 0; s < sizeof seeds / sizeof seeds[0]; s++) {
        const char *seed = seeds[s];
        size_t len = strlen(seed);
        size_t key_part = (size_t)(strrchr(seed, ';') - seed);
        for (size_t i = 0; i <= len; i++) {
            /* Cut at a byte boundary: the seeds are ASCII. */
            snprintf(text, sizeof text, "%.*s", (int)i, seed);
            refused += try_connection_string(text, __LINE__);
            tried++;
            /* Inserts go into the key's part and next to separators; elsewhere
             * most only make an unknown setting, which is ignored. */
            int near_separator = strchr(";=", seed[i]) != NULL && seed[i] != '\0';
            if (i > 0) {
                near_separator |= seed[i - 1] == ';' || seed[i - 1] == '=';
            }
            if (i < key_part && !near_separator) {
                continue;
            }
            for (size_t k = 0; k < sizeof inserts / sizeof inserts[0]; k++) {
                snprintf(text, sizeof text, "%.*s%s%s", (int)i, seed, inserts[k], seed + i);
                refused += try_connection_string(text, __LINE__);
                tried++;
            }
            if (i < len && (seed[i] == ';' || seed[i] == '=')) {
                static const char *const replacements[] = {"", " ", ",", ";;", "==", "\n"};
                for (size_t k = 0; k < sizeof replacements / sizeof replacements[0]; k++) {
                    snprintf(text, sizeof text, "%.*s%s%s", (int)i, seed, replacements[k],
                             seed + i + 1);
                    refused += try_connection_string(text, __LINE__);
                    tried++;
                }
                /* The key pasted in right after the separator. */
                snprintf(text, sizeof text, "%.*s%s %s", (int)i + 1, seed, ikey, seed + i + 1);
                refused += try_connection_string(text, __LINE__);
                tried++;
            }
        }
    }
    /* The key as every value, as a host, as a path. */
    static const char *const shapes[] = {
        "InstrumentationKey=%s;IngestionEndpoint=https://%s:1",
        "InstrumentationKey=%s;LiveEndpoint=%s://h",
        "InstrumentationKey=%s;EndpointSuffix=x %s",
        "InstrumentationKey=%s;Location=%s;EndpointSuffix=x",
        "InstrumentationKey=%s;IngestionEndpoint=https://[%s]",
        "InstrumentationKey=%s x;IngestionEndpoint=%s",
        "%s=1;%s=2",
    };
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        snprintf(text, sizeof text, shapes[k], ikey, ikey);
        refused += try_connection_string(text, __LINE__);
        tried++;
    }
    /* Mostly broken strings, or this says little. */
    CHECK_TRUE(refused * 10 > tried * 8);
    printf("mutated connection strings: %d tried, %d refused\n", tried, refused);
}

static void connection_string_cases(const char *ikey)
{
    genkit_azure_handle *h = NULL;
    genkit_azure_config c = {0};
    c.struct_size = sizeof c;
    char text[512];

    c.connection_string = "IngestionEndpoint=https://example.com/";
    EXPECT(genkit_azure_new(&c, &h), GENKIT_AZURE_INVALID_CONFIG, "InstrumentationKey", "missing");
    CHECK_TRUE(h == NULL);

    c.connection_string = "InstrumentationKey=SECRET-1234-not-a-guid";
    EXPECT(genkit_azure_new(&c, &h), GENKIT_AZURE_INVALID_CONFIG, "InstrumentationKey", "GUID");
    CHECK_TRUE(h == NULL);

    snprintf(text, sizeof text, "InstrumentationKey=%s;IngestionEndpoint=http://example.com/", ikey);
    c.connection_string = text;
    EXPECT(genkit_azure_new(&c, &h), GENKIT_AZURE_INVALID_CONFIG, "IngestionEndpoint", "http://",
           "loopback", "the 2nd part, characters 57-93");
    CHECK_TRUE(h == NULL);

    /* The shapes that used to quote the value, and with it the key. */
    snprintf(text, sizeof text, "IngestionEndpoint=https://h/ InstrumentationKey=%s", ikey);
    c.connection_string = text;
    EXPECT(genkit_azure_new(&c, &h), GENKIT_AZURE_INVALID_CONFIG,
           "IngestionEndpoint (the 1st part, characters 1-84)", "not a valid URL",
           "a ';' may be missing");
    CHECK_TRUE(h == NULL);
    snprintf(text, sizeof text, "InstrumentationKey=%s;IngestionEndpoint=%s", ikey, ikey);
    EXPECT(genkit_azure_new(&c, &h), GENKIT_AZURE_INVALID_CONFIG, "IngestionEndpoint",
           "not an http(s) URL");
    snprintf(text, sizeof text, "InstrumentationKey=%s;LiveEndpoint=https:///%s", ikey, ikey);
    EXPECT(genkit_azure_new(&c, &h), GENKIT_AZURE_INVALID_CONFIG, "LiveEndpoint", "no host");
    snprintf(text, sizeof text, "InstrumentationKey=%s;IngestionEndpoint=http://%s/", ikey, ikey);
    EXPECT(genkit_azure_new(&c, &h), GENKIT_AZURE_INVALID_CONFIG, "IngestionEndpoint",
           "loopback");
    snprintf(text, sizeof text, "InstrumentationKey=%s;Authorization=%s", ikey, ikey);
    EXPECT(genkit_azure_new(&c, &h), GENKIT_AZURE_INVALID_CONFIG, "Authorization",
           "not supported");
    snprintf(text, sizeof text, "InstrumentationKey=%s;%s", ikey, ikey);
    EXPECT(genkit_azure_new(&c, &h), GENKIT_AZURE_INVALID_CONFIG, "the 2nd part",
           "not of the form Key=Value");
    /* Not UTF-8: the offset of the bad byte, never the text around it. */
    snprintf(text, sizeof text, "InstrumentationKey=%s\xff", ikey);
    EXPECT(genkit_azure_new(&c, &h), GENKIT_AZURE_INVALID_UTF8, "config.connection_string",
           "offset 55");
    CHECK_TRUE(h == NULL);

    mutated_connection_strings(ikey);

    /* NULL connection string with the environment variable unset. */
    const char *env = getenv("APPLICATIONINSIGHTS_CONNECTION_STRING");
    char saved[1024];
    snprintf(saved, sizeof saved, "%s", env != NULL ? env : "");
    unsetenv("APPLICATIONINSIGHTS_CONNECTION_STRING");
    genkit_azure_config zero = {0};
    zero.struct_size = sizeof zero;
    EXPECT(genkit_azure_new(&zero, &h), GENKIT_AZURE_INVALID_CONFIG,
           "APPLICATIONINSIGHTS_CONNECTION_STRING");
    CHECK_TRUE(h == NULL);
    setenv("APPLICATIONINSIGHTS_CONNECTION_STRING", saved, 1);
}

static void config_cases(void)
{
    genkit_azure_handle *h = NULL;
    genkit_azure_config c = {0};
    c.struct_size = sizeof c;

    EXPECT(genkit_azure_new(NULL, &h), GENKIT_AZURE_NULL_ARGUMENT, "config is NULL");
    CHECK_TRUE(h == NULL);
    EXPECT(genkit_azure_new(&c, NULL), GENKIT_AZURE_NULL_ARGUMENT, "out is NULL");

    c.max_batch_size = 100000;
    EXPECT(genkit_azure_new(&c, &h), GENKIT_AZURE_INVALID_CONFIG, "max_batch_size", "100000");
    c.max_batch_size = 0;

    c.batch_delay_ms = 3600001;
    EXPECT(genkit_azure_new(&c, &h), GENKIT_AZURE_INVALID_CONFIG, "batch_delay");
    c.batch_delay_ms = 0;

    c.max_batch_bytes = 100;
    EXPECT(genkit_azure_new(&c, &h), GENKIT_AZURE_INVALID_CONFIG, "max_batch_bytes", "100");
    c.max_batch_bytes = 0;

    c.thread_nice = 20;
    EXPECT(genkit_azure_new(&c, &h), GENKIT_AZURE_INVALID_CONFIG,
           "config.thread_nice: must be between 0 and 19, got 20");
    c.thread_nice = 0;

    /* The fields every face has, out of range: core's text, named as C names them. */
    c.max_disk_bytes = 10;
    EXPECT(genkit_azure_new(&c, &h), GENKIT_AZURE_INVALID_CONFIG,
           "config.max_disk_bytes: must be between 1024 and 1099511627776 bytes, got 10");
    c.max_disk_bytes = 0;

    c.gzip_level = 10;
    EXPECT(genkit_azure_new(&c, &h), GENKIT_AZURE_INVALID_CONFIG,
           "config.gzip_level: must be between 0 and 9, got 10");
    c.gzip_level = 0;

    c.disk_retention_ms = 999;
    EXPECT(genkit_azure_new(&c, &h), GENKIT_AZURE_INVALID_CONFIG, "config.disk_retention_ms",
           "1000 and 2592000000 ms");
    c.disk_retention_ms = 0;

    c.retry_base_delay_ms = 20000; /* above the default retry_max_delay_ms */
    EXPECT(genkit_azure_new(&c, &h), GENKIT_AZURE_INVALID_CONFIG,
           "config.retry_base_delay_ms: must be at most retry_max_delay_ms (10000 ms), got 20000 ms");
    c.retry_base_delay_ms = 0;

    c.worker_threads = GENKIT_AZURE_ZERO; /* 0 threads is not allowed: the sentinel is a number */
    EXPECT(genkit_azure_new(&c, &h), GENKIT_AZURE_INVALID_CONFIG, "config.worker_threads",
           "4294967295");
    c.worker_threads = 0;

    c.service_name = "svc\xff";
    EXPECT(genkit_azure_new(&c, &h), GENKIT_AZURE_INVALID_UTF8, "config.service_name", "UTF-8");
    c.service_name = NULL;

    c.resource_attribute_count = 1;
    EXPECT(genkit_azure_new(&c, &h), GENKIT_AZURE_NULL_ARGUMENT, "config.resource_attributes",
           "resource_attribute_count is 1");
    CHECK_TRUE(h == NULL);
}

static void null_handle_cases(void)
{
    genkit_azure_span span = good_span();
    genkit_azure_log_record log = good_log();
    genkit_azure_stats stats = {0};
    stats.struct_size = sizeof stats;

    EXPECT(genkit_azure_export_span(NULL, &span), GENKIT_AZURE_NULL_ARGUMENT, "handle is NULL");
    EXPECT(genkit_azure_emit_log(NULL, &log), GENKIT_AZURE_NULL_ARGUMENT, "handle is NULL");
    EXPECT(genkit_azure_flush(NULL, 10), GENKIT_AZURE_NULL_ARGUMENT, "handle is NULL");
    EXPECT(genkit_azure_shutdown(NULL, 10), GENKIT_AZURE_NULL_ARGUMENT, "handle is NULL");
    EXPECT(genkit_azure_get_stats(NULL, &stats), GENKIT_AZURE_NULL_ARGUMENT, "handle is NULL");
}

static void span_cases(genkit_azure_handle *h)
{
    genkit_azure_span s;

    EXPECT(genkit_azure_export_span(h, NULL), GENKIT_AZURE_NULL_ARGUMENT, "span is NULL");

    s = good_span();
    s.name = "bad \xff name";
    EXPECT(genkit_azure_export_span(h, &s), GENKIT_AZURE_INVALID_UTF8, "span.name", "UTF-8");

    s = good_span();
    s.name = NULL;
    EXPECT(genkit_azure_export_span(h, &s), GENKIT_AZURE_NULL_ARGUMENT, "span.name is NULL");

    genkit_azure_attribute attrs[4] = {int_attr("a"), int_attr("b"), int_attr("c"), int_attr("d\xc3(")};
    s = good_span();
    s.attributes = attrs;
    s.attribute_count = 4;
    EXPECT(genkit_azure_export_span(h, &s), GENKIT_AZURE_INVALID_UTF8, "span.attributes[3].key",
           "UTF-8");

    attrs[3] = int_attr("d");
    attrs[1].type = 42;
    EXPECT(genkit_azure_export_span(h, &s), GENKIT_AZURE_INVALID_ARGUMENT, "span.attributes[1].type",
           "42");
    attrs[1].type = GENKIT_AZURE_ATTRIBUTE_STRING; /* ... with string_value NULL */
    EXPECT(genkit_azure_export_span(h, &s), GENKIT_AZURE_NULL_ARGUMENT,
           "span.attributes[1].string_value is NULL");

    s = good_span();
    s.attribute_count = 2; /* attributes left NULL */
    EXPECT(genkit_azure_export_span(h, &s), GENKIT_AZURE_NULL_ARGUMENT, "span.attributes is NULL",
           "span.attribute_count is 2");

    s = good_span();
    s.kind = 7;
    EXPECT(genkit_azure_export_span(h, &s), GENKIT_AZURE_INVALID_ARGUMENT, "span.kind", "7");

    s = good_span();
    s.status_code = 3;
    EXPECT(genkit_azure_export_span(h, &s), GENKIT_AZURE_INVALID_ARGUMENT, "span.status_code", "3");

    s = good_span();
    s.end_time_unix_nano = s.start_time_unix_nano - 1;
    EXPECT(genkit_azure_export_span(h, &s), GENKIT_AZURE_INVALID_ARGUMENT,
           "span.end_time_unix_nano: is before the start time");

    s = good_span();
    s.start_time_unix_nano = 0;
    EXPECT(genkit_azure_export_span(h, &s), GENKIT_AZURE_INVALID_ARGUMENT,
           "span.start_time_unix_nano is 0");

    s = good_span();
    memset(s.trace_id, 0, sizeof s.trace_id);
    EXPECT(genkit_azure_export_span(h, &s), GENKIT_AZURE_INVALID_ARGUMENT, "span.trace_id",
           "all zeros");

    s = good_span();
    memset(s.span_id, 0, sizeof s.span_id);
    EXPECT(genkit_azure_export_span(h, &s), GENKIT_AZURE_INVALID_ARGUMENT, "span.span_id",
           "all zeros");

    genkit_azure_event event = {0};
    event.time_unix_nano = now_unix_nano();
    s = good_span();
    s.events = &event;
    s.event_count = 1;
    EXPECT(genkit_azure_export_span(h, &s), GENKIT_AZURE_NULL_ARGUMENT, "span.events[0].name is NULL");

    /* A link must name a span: ids not all zeros, attributes where their count says. */
    genkit_azure_link links[2];
    memset(links, 0, sizeof links);
    memset(links[0].trace_id, 1, 16);
    memset(links[0].span_id, 2, 8);
    memset(links[1].span_id, 2, 8);
    s = good_span();
    s.links = links;
    s.link_count = 2;
    EXPECT(genkit_azure_export_span(h, &s), GENKIT_AZURE_INVALID_ARGUMENT, "span.links[1].trace_id must not be all zeros");
    memset(links[1].trace_id, 1, 16);
    links[1].attribute_count = 1;
    EXPECT(genkit_azure_export_span(h, &s), GENKIT_AZURE_NULL_ARGUMENT,
           "span.links[1].attributes is NULL but span.links[1].attribute_count is 1");
    s.links = NULL;
    EXPECT(genkit_azure_export_span(h, &s), GENKIT_AZURE_NULL_ARGUMENT, "span.links is NULL but span.link_count is 2");
}

/*
 * struct_size left 0 (a struct built as ABI 0 built it) or cut short: every
 * function refuses it with GENKIT_AZURE_INVALID_STRUCT_SIZE, names the struct
 * and its size, and changes nothing (the stats are checked afterwards).
 */
static void struct_size_cases(genkit_azure_handle *h)
{
    genkit_azure_span span = good_span();
    span.struct_size = 0;
    EXPECT(genkit_azure_export_span(h, &span), GENKIT_AZURE_INVALID_STRUCT_SIZE,
           "span.struct_size is 0, but a genkit_azure_span has at least", "never set", "sizeof");
    /* One byte short of the struct's first ABI 1 version, which ended with operation_name. */
    span.struct_size = offsetof(genkit_azure_span, operation_name) + sizeof span.operation_name - 1;
    EXPECT(genkit_azure_export_span(h, &span), GENKIT_AZURE_INVALID_STRUCT_SIZE,
           "span.struct_size is", "genkit_azure_span");

    genkit_azure_log_record log = good_log();
    log.struct_size = 4;
    EXPECT(genkit_azure_emit_log(h, &log), GENKIT_AZURE_INVALID_STRUCT_SIZE,
           "log.struct_size is 4, but a genkit_azure_log_record has at least");

    genkit_azure_span_start start = {0};
    memset(start.trace_id, 3, sizeof start.trace_id);
    EXPECT(genkit_azure_span_started(h, &start), GENKIT_AZURE_INVALID_STRUCT_SIZE,
           "start.struct_size is 0", "genkit_azure_span_start");

    genkit_azure_custom_event event = {0};
    event.name = "never sent";
    EXPECT(genkit_azure_track_event(h, &event), GENKIT_AZURE_INVALID_STRUCT_SIZE,
           "event.struct_size is 0", "genkit_azure_custom_event");
    genkit_azure_exception exception = {0};
    exception.type_name = "E";
    exception.message = "never sent";
    EXPECT(genkit_azure_track_exception(h, &exception), GENKIT_AZURE_INVALID_STRUCT_SIZE,
           "exception.struct_size is 0", "genkit_azure_exception");
    genkit_azure_availability availability = {0};
    availability.name = "never sent";
    EXPECT(genkit_azure_track_availability(h, &availability), GENKIT_AZURE_INVALID_STRUCT_SIZE,
           "availability.struct_size is 0", "genkit_azure_availability");

    /* An output struct too small for the counters: not a byte is written. */
    genkit_azure_stats stats;
    memset(&stats, 0x7f, sizeof stats);
    stats.struct_size = 16;
    EXPECT(genkit_azure_get_stats(h, &stats), GENKIT_AZURE_INVALID_STRUCT_SIZE,
           "out.struct_size is 16, but a genkit_azure_stats has at least");
    CHECK_TRUE(stats.struct_size == 16);
    CHECK_TRUE(stats.spans_accepted == 0x7f7f7f7f7f7f7f7full);

    /* A config without its size: no handle, *out cleared. */
    genkit_azure_config c = {0};
    genkit_azure_handle *other = (genkit_azure_handle *)&c;
    EXPECT(genkit_azure_new(&c, &other), GENKIT_AZURE_INVALID_STRUCT_SIZE,
           "config.struct_size is 0, but a genkit_azure_config has at least");
    CHECK_TRUE(other == NULL);

    /* A newer header's struct (more bytes): fine while the unknown bytes are 0. */
    struct {
        genkit_azure_log_record known;
        uint64_t newer_field;
    } newer;
    memset(&newer, 0, sizeof newer);
    newer.known = good_log();
    newer.known.struct_size = sizeof newer;
    newer.newer_field = 1;
    EXPECT(genkit_azure_emit_log(h, &newer.known), GENKIT_AZURE_INVALID_STRUCT_SIZE,
           "log.struct_size is", "is not zero", "newer genkit_azure_log_record");
}

static void log_cases(genkit_azure_handle *h)
{
    genkit_azure_log_record r;

    EXPECT(genkit_azure_emit_log(h, NULL), GENKIT_AZURE_NULL_ARGUMENT, "log is NULL");

    r = good_log();
    r.body = "body \xe2\x82 cut";
    EXPECT(genkit_azure_emit_log(h, &r), GENKIT_AZURE_INVALID_UTF8, "log.body", "UTF-8");

    r = good_log();
    r.severity_number = 0;
    EXPECT(genkit_azure_emit_log(h, &r), GENKIT_AZURE_INVALID_ARGUMENT, "log.severity_number is 0",
           "1..24");

    r = good_log();
    r.severity_number = 25;
    EXPECT(genkit_azure_emit_log(h, &r), GENKIT_AZURE_INVALID_ARGUMENT, "log.severity_number is 25");

    r = good_log();
    r.attribute_count = 3;
    EXPECT(genkit_azure_emit_log(h, &r), GENKIT_AZURE_NULL_ARGUMENT, "log.attributes is NULL",
           "log.attribute_count is 3");

    r = good_log();
    memset(r.span_id, 1, sizeof r.span_id); /* a span id without a trace id */
    EXPECT(genkit_azure_emit_log(h, &r), GENKIT_AZURE_INVALID_ARGUMENT, "log.trace_id", "log.span_id");
}

static void status_name_cases(void)
{
    CHECK_TRUE(strcmp(genkit_azure_status_name(GENKIT_AZURE_OK), "GENKIT_AZURE_OK") == 0);
    CHECK_TRUE(strcmp(genkit_azure_status_name(GENKIT_AZURE_NULL_ARGUMENT),
                      "GENKIT_AZURE_NULL_ARGUMENT") == 0);
    CHECK_TRUE(strcmp(genkit_azure_status_name(GENKIT_AZURE_INTERNAL), "GENKIT_AZURE_INTERNAL") == 0);
    CHECK_TRUE(strcmp(genkit_azure_status_name(999), "GENKIT_AZURE_UNKNOWN_STATUS") == 0);
    CHECK_TRUE(strcmp(genkit_azure_status_name(-1), "GENKIT_AZURE_UNKNOWN_STATUS") == 0);
    CHECK_TRUE(strlen(genkit_azure_version()) > 0);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s <instrumentation key>\n", argv[0]);
        return 2;
    }
    secrets[0] = argv[1];
    set_key(argv[1]);
    secrets[1] = "SECRET-1234-not-a-guid";
    secrets[2] = "SECRET";

    CHECK_TRUE(strcmp(genkit_azure_last_error(), "") == 0); /* nothing failed yet */

    status_name_cases();
    genkit_azure_free(NULL); /* harmless */
    config_cases();
    connection_string_cases(argv[1]);
    null_handle_cases();

    /* A real handle, from the environment (zero-initialised config). */
    genkit_azure_handle *h = NULL;
    genkit_azure_config c = {0};
    c.struct_size = sizeof c;
    c.service_name = "bad-input-c";
    c.batch_delay_ms = GENKIT_AZURE_NO_BATCH_DELAY;
    c.thread_nice = GENKIT_AZURE_HOST_PRIORITY; /* the sentinels are accepted */
    c.gzip_level = GENKIT_AZURE_ZERO;
    c.max_disk_bytes = 1024 * 1024;
    c.metric_export_interval_ms = 120000;
    CHECK_OK(genkit_azure_new(&c, &h));
    if (h == NULL) {
        fprintf(stderr, "bad_input.c: cannot continue without a handle\n");
        return 1;
    }

    span_cases(h);
    log_cases(h);
    struct_size_cases(h);

    genkit_azure_stats stats = {0};

    stats.struct_size = sizeof stats;
    EXPECT(genkit_azure_get_stats(h, NULL), GENKIT_AZURE_NULL_ARGUMENT, "out is NULL");
    CHECK_OK(genkit_azure_get_stats(h, &stats));
    CHECK_TRUE(stats.spans_accepted == 0);
    CHECK_TRUE(stats.logs_accepted == 0);
    CHECK_TRUE(stats.queue_depth == 0);
    CHECK_TRUE(stats.dropped_queue_full == 0);
    CHECK_TRUE(stats.http_requests == 0);

    /* The handle still works after all that: one good span and one good log. */
    genkit_azure_span span = good_span();
    genkit_azure_log_record log = good_log();
    CHECK_OK(genkit_azure_export_span(h, &span));
    CHECK_OK(genkit_azure_emit_log(h, &log));
    CHECK_OK(genkit_azure_flush(h, 10000));
    CHECK_OK(genkit_azure_get_stats(h, &stats));
    CHECK_TRUE(stats.spans_accepted == 1);
    CHECK_TRUE(stats.logs_accepted == 1);
    /* the good span, the good log, and the resource's _OTELRESOURCE_ metric */
    CHECK_TRUE(stats.envelopes_delivered == 3);

    /* After shutdown everything but stats and free says SHUT_DOWN. */
    CHECK_OK(genkit_azure_shutdown(h, 10000));
    EXPECT(genkit_azure_export_span(h, &span), GENKIT_AZURE_SHUT_DOWN, "shut down");
    EXPECT(genkit_azure_emit_log(h, &log), GENKIT_AZURE_SHUT_DOWN, "shut down");
    EXPECT(genkit_azure_flush(h, 10), GENKIT_AZURE_SHUT_DOWN, "shut down");
    EXPECT(genkit_azure_shutdown(h, 10), GENKIT_AZURE_SHUT_DOWN, "shut down");
    /* Validation still comes first: a bad span says what is wrong with it. */
    span.kind = 99;
    EXPECT(genkit_azure_export_span(h, &span), GENKIT_AZURE_INVALID_ARGUMENT, "span.kind");
    CHECK_OK(genkit_azure_get_stats(h, &stats));
    CHECK_TRUE(stats.spans_accepted == 1);
    CHECK_TRUE(stats.logs_accepted == 1);
    CHECK_TRUE(stats.dropped_shut_down == 0);
    printf("spans_accepted=%" PRIu64 " logs_accepted=%" PRIu64 " envelopes_delivered=%" PRIu64 "\n",
           stats.spans_accepted, stats.logs_accepted, stats.envelopes_delivered);

    genkit_azure_free(h);
    genkit_azure_free(NULL);

    if (failures != 0) {
        fprintf(stderr, "bad_input.c: %d of %d checks failed\n", failures, checks);
        return 1;
    }
    printf("bad_input: all %d checks passed\n", checks);
    return 0;
}
