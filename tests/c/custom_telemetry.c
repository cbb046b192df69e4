/*
 * custom_telemetry.c: a C host records its own telemetry: a business event,
 * handled exceptions, an availability result and metrics.
 *
 * Inside the request span a1..01 of the trace given on the command line, whose
 * start was announced with genkit_azure_span_started (operation "POST /orders"):
 *   - event "order placed": properties tier=gold and an oversized "note"
 *     (9,000 two-byte characters), measurements amount=12.5 and lines=2,
 *     naming its operation itself
 *   - exception OrderNotFoundError "order 42 does not exist" with a stack,
 *     naming no operation: it takes the open one's
 * Outside any span:
 *   - exception TimeoutError "gave up" without a stack
 *   - availability "home page": failed, 1234.5 ms, westeurope, "timed out"
 *   - metrics: counter "orders" 3 + 2 (region=eu) and 1 (region=us),
 *     histogram "latency_ms" 10, 30, 20 (route=/orders), gauge "pool" 7 then
 *     4, up-down counter "queue" +5 then -2
 * Then every kind of bad input, each checked for its status and its message,
 * none of which may queue anything; flush, the stats, shutdown, free.
 *
 * Usage: custom_telemetry <trace id as 32 hex digits>
 * Exit status 0 only if every check passed. ffi/tests/c_programs.rs checks
 * the envelopes at the emulator field by field.
 */
#include "genkit_azure.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0;

static void check(genkit_azure_status status, const char *call, int line)
{
    if (status != GENKIT_AZURE_OK) {
        fprintf(stderr, "custom_telemetry.c:%d: %s returned %s: %s\n", line, call,
                genkit_azure_status_name(status), genkit_azure_last_error());
        failures++;
    }
}
#define CHECK(call) check((call), #call, __LINE__)

/* The call returned `want` and its message holds `words`. */
static void refused(genkit_azure_status got, genkit_azure_status want, const char *words,
                    const char *call, int line)
{
    const char *message = genkit_azure_last_error();
    if (got != want) {
        fprintf(stderr, "custom_telemetry.c:%d: %s returned %s, expected %s (%s)\n", line, call,
                genkit_azure_status_name(got), genkit_azure_status_name(want), message);
        failures++;
    } else if (strstr(message, words) == NULL) {
        fprintf(stderr, "custom_telemetry.c:%d: %s: message \"%s\" lacks \"%s\"\n", line, call,
                message, words);
        failures++;
    }
}
#define REFUSED(call, want, words) refused((call), (want), (words), #call, __LINE__)

static genkit_azure_attribute str_attr(const char *key, const char *value)
{
    genkit_azure_attribute a = {0};
    a.key = key;
    a.type = GENKIT_AZURE_ATTRIBUTE_STRING;
    a.string_value = value;
    return a;
}

static int parse_hex(const char *hex, uint8_t *out, size_t n)
{
    if (strlen(hex) != 2 * n) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned int byte;
        if (sscanf(hex + 2 * i, "%2x", &byte) != 1) {
            return -1;
        }
        out[i] = (uint8_t)byte;
    }
    return 0;
}

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

int main(int argc, char **argv)
{
    uint8_t trace_id[16];
    if (argc != 2 || parse_hex(argv[1], trace_id, sizeof trace_id) != 0) {
        fprintf(stderr, "usage: %s <trace id: 32 hex digits>\n", argv[0]);
        return 2;
    }
    const uint8_t span_id[8] = {0xa1, 0, 0, 0, 0, 0, 0, 0x01};

    genkit_azure_config config = {0};

    config.struct_size = sizeof config;
    config.service_name = "custom-c";
    genkit_azure_handle *handle = NULL;
    CHECK(genkit_azure_new(&config, &handle));
    if (handle == NULL) {
        return 1;
    }

    /* The request's root span has started: it names the trace's operation. */
    genkit_azure_span_start request = {0};
    request.struct_size = sizeof request;
    memcpy(request.trace_id, trace_id, 16);
    request.root_operation_name = "POST /orders";
    CHECK(genkit_azure_span_started(handle, &request));

    /* 9,000 two-byte characters: past the 8,192-byte property limit. */
    char *note = malloc(9000 * 2 + 1);
    if (note == NULL) {
        return 1;
    }
    for (size_t i = 0; i < 9000; i++) {
        note[2 * i] = (char)0xc3;
        note[2 * i + 1] = (char)0xbc; /* ü */
    }
    note[9000 * 2] = '\0';

    genkit_azure_attribute event_props[] = {str_attr("tier", "gold"), str_attr("note", note)};
    genkit_azure_measurement event_measurements[] = {{"amount", 12.5}, {"lines", 2}};
    genkit_azure_custom_event event = {0};
    event.struct_size = sizeof event;
    event.name = "order placed";
    event.properties = event_props;
    event.property_count = COUNT(event_props);
    event.measurements = event_measurements;
    event.measurement_count = COUNT(event_measurements);
    memcpy(event.trace_id, trace_id, 16);
    memcpy(event.span_id, span_id, 8);
    event.operation_name = "POST /orders";
    CHECK(genkit_azure_track_event(handle, &event));

    genkit_azure_attribute exception_props[] = {str_attr("order", "42")};
    genkit_azure_exception inside = {0};
    inside.struct_size = sizeof inside;
    inside.type_name = "OrderNotFoundError";
    inside.message = "order 42 does not exist";
    inside.stack = "OrderNotFoundError: order 42 does not exist\n    at lookupOrder (orders.c:17)";
    inside.properties = exception_props;
    inside.property_count = COUNT(exception_props);
    memcpy(inside.trace_id, trace_id, 16);
    memcpy(inside.span_id, span_id, 8);
    CHECK(genkit_azure_track_exception(handle, &inside));

    genkit_azure_exception outside = {0};

    outside.struct_size = sizeof outside;
    outside.type_name = "TimeoutError";
    outside.message = "gave up";
    CHECK(genkit_azure_track_exception(handle, &outside));

    genkit_azure_attribute probe[] = {str_attr("probe", "p1")};
    genkit_azure_availability availability = {0};
    availability.struct_size = sizeof availability;
    availability.name = "home page";
    availability.success = false;
    availability.duration_ms = 1234.5;
    availability.run_location = "westeurope";
    availability.message = "timed out";
    availability.properties = probe;
    availability.property_count = COUNT(probe);
    CHECK(genkit_azure_track_availability(handle, &availability));

    genkit_azure_attribute eu[] = {str_attr("region", "eu")};
    genkit_azure_attribute us[] = {str_attr("region", "us")};
    genkit_azure_attribute route[] = {str_attr("route", "/orders")};
    CHECK(genkit_azure_record_metric(handle, GENKIT_AZURE_METRIC_COUNTER, "orders", 3, eu, 1));
    CHECK(genkit_azure_record_metric(handle, GENKIT_AZURE_METRIC_COUNTER, "orders", 2, eu, 1));
    CHECK(genkit_azure_record_metric(handle, GENKIT_AZURE_METRIC_COUNTER, "orders", 1, us, 1));
    CHECK(genkit_azure_record_metric(handle, GENKIT_AZURE_METRIC_HISTOGRAM, "latency_ms", 10, route, 1));
    CHECK(genkit_azure_record_metric(handle, GENKIT_AZURE_METRIC_HISTOGRAM, "latency_ms", 30, route, 1));
    CHECK(genkit_azure_record_metric(handle, GENKIT_AZURE_METRIC_HISTOGRAM, "latency_ms", 20, route, 1));
    CHECK(genkit_azure_record_metric(handle, GENKIT_AZURE_METRIC_GAUGE, "pool", 7, NULL, 0));
    CHECK(genkit_azure_record_metric(handle, GENKIT_AZURE_METRIC_GAUGE, "pool", 4, NULL, 0));
    CHECK(genkit_azure_record_metric(handle, GENKIT_AZURE_METRIC_UP_DOWN_COUNTER, "queue", 5, NULL, 0));
    CHECK(genkit_azure_record_metric(handle, GENKIT_AZURE_METRIC_UP_DOWN_COUNTER, "queue", -2, NULL, 0));

    /* Bad input: each refused with its status and a message naming the field. */
    REFUSED(genkit_azure_track_event(NULL, &event), GENKIT_AZURE_NULL_ARGUMENT,
            "genkit_azure_track_event: handle is NULL");
    REFUSED(genkit_azure_track_event(handle, NULL), GENKIT_AZURE_NULL_ARGUMENT,
            "genkit_azure_track_event: event is NULL");
    genkit_azure_custom_event bad_event = event;
    bad_event.name = NULL;
    REFUSED(genkit_azure_track_event(handle, &bad_event), GENKIT_AZURE_NULL_ARGUMENT,
            "event.name is NULL");
    bad_event.name = "";
    REFUSED(genkit_azure_track_event(handle, &bad_event), GENKIT_AZURE_INVALID_ARGUMENT,
            "event.name is empty");
    bad_event.name = "caf\xc3";
    REFUSED(genkit_azure_track_event(handle, &bad_event), GENKIT_AZURE_INVALID_UTF8,
            "event.name is not valid UTF-8 (bad byte at offset 3)");
    genkit_azure_measurement nan_measurement[] = {{"amount", NAN}};
    bad_event = event;
    bad_event.measurements = nan_measurement;
    REFUSED(genkit_azure_track_event(handle, &bad_event), GENKIT_AZURE_INVALID_ARGUMENT,
            "event.measurements[0].value is NaN, not a finite number");
    bad_event = event;
    bad_event.measurement_count = 3;
    bad_event.measurements = NULL;
    REFUSED(genkit_azure_track_event(handle, &bad_event), GENKIT_AZURE_NULL_ARGUMENT,
            "event.measurements is NULL but event.measurement_count is 3");
    bad_event = event;
    memset(bad_event.span_id, 0, 8);
    REFUSED(genkit_azure_track_event(handle, &bad_event), GENKIT_AZURE_INVALID_ARGUMENT,
            "event.trace_id and event.span_id must both be set or both be all zeros");

    genkit_azure_exception bad_exception = outside;
    bad_exception.type_name = NULL;
    REFUSED(genkit_azure_track_exception(handle, &bad_exception), GENKIT_AZURE_NULL_ARGUMENT,
            "genkit_azure_track_exception: exception.type_name is NULL");
    bad_exception = outside;
    bad_exception.message = NULL;
    REFUSED(genkit_azure_track_exception(handle, &bad_exception), GENKIT_AZURE_NULL_ARGUMENT,
            "exception.message is NULL");
    bad_exception = outside;
    bad_exception.stack = "\xff";
    REFUSED(genkit_azure_track_exception(handle, &bad_exception), GENKIT_AZURE_INVALID_UTF8,
            "exception.stack is not valid UTF-8");

    genkit_azure_availability bad_availability = availability;
    bad_availability.duration_ms = NAN;
    REFUSED(genkit_azure_track_availability(handle, &bad_availability), GENKIT_AZURE_INVALID_ARGUMENT,
            "genkit_azure_track_availability: availability.duration_ms is NaN");
    bad_availability.duration_ms = -5;
    REFUSED(genkit_azure_track_availability(handle, &bad_availability), GENKIT_AZURE_INVALID_ARGUMENT,
            "availability.duration_ms is -5");
    bad_availability = availability;
    bad_availability.run_location = "\xc3(";
    REFUSED(genkit_azure_track_availability(handle, &bad_availability), GENKIT_AZURE_INVALID_UTF8,
            "availability.run_location is not valid UTF-8");

    REFUSED(genkit_azure_record_metric(NULL, GENKIT_AZURE_METRIC_COUNTER, "orders", 1, NULL, 0),
            GENKIT_AZURE_NULL_ARGUMENT, "genkit_azure_record_metric: handle is NULL");
    REFUSED(genkit_azure_record_metric(handle, GENKIT_AZURE_METRIC_COUNTER, NULL, 1, NULL, 0),
            GENKIT_AZURE_NULL_ARGUMENT, "genkit_azure_record_metric: name is NULL");
    REFUSED(genkit_azure_record_metric(handle, GENKIT_AZURE_METRIC_COUNTER, "\xe2\x82", 1, NULL, 0),
            GENKIT_AZURE_INVALID_UTF8, "name is not valid UTF-8");
    REFUSED(genkit_azure_record_metric(handle, GENKIT_AZURE_METRIC_COUNTER, "", 1, NULL, 0),
            GENKIT_AZURE_INVALID_ARGUMENT, "name: must not be empty");
    REFUSED(genkit_azure_record_metric(handle, GENKIT_AZURE_METRIC_HISTOGRAM, "latency_ms", NAN, NULL, 0),
            GENKIT_AZURE_INVALID_ARGUMENT, "value: metric 'latency_ms' has a non-finite value");
    REFUSED(genkit_azure_record_metric(handle, GENKIT_AZURE_METRIC_GAUGE, "pool", INFINITY, NULL, 0),
            GENKIT_AZURE_INVALID_ARGUMENT, "value: metric 'pool' has a non-finite value");
    REFUSED(genkit_azure_record_metric(handle, GENKIT_AZURE_METRIC_COUNTER, "orders", -1, eu, 1),
            GENKIT_AZURE_INVALID_ARGUMENT, "value: metric 'orders' is a counter, which only counts up");
    REFUSED(genkit_azure_record_metric(handle, 7, "orders", 1, NULL, 0),
            GENKIT_AZURE_INVALID_ARGUMENT, "kind is 7, which is not a genkit_azure_metric_kind");
    REFUSED(genkit_azure_record_metric(handle, GENKIT_AZURE_METRIC_COUNTER, "orders", 1, NULL, 2),
            GENKIT_AZURE_NULL_ARGUMENT, "attributes is NULL but attribute_count is 2");

    CHECK(genkit_azure_flush(handle, 10000));
    genkit_azure_stats stats = {0};
    stats.struct_size = sizeof stats;
    CHECK(genkit_azure_get_stats(handle, &stats));
    printf("custom_accepted=%" PRIu64 " metrics_accepted=%" PRIu64 " values_truncated=%" PRIu64
           " items_delivered=%" PRIu64 "\n",
           stats.custom_accepted, stats.metrics_accepted, stats.values_truncated,
           stats.items_delivered);
    if (stats.custom_accepted != 4 || stats.metrics_accepted != 10) {
        fprintf(stderr, "custom_telemetry.c: expected 4 custom items and 10 metric points accepted\n");
        failures++;
    }
    CHECK(genkit_azure_shutdown(handle, 10000));
    genkit_azure_free(handle);
    free(note);
    if (failures != 0) {
        fprintf(stderr, "custom_telemetry.c: %d check(s) failed\n", failures);
        return 1;
    }
    printf("custom_telemetry: every check passed\n");
    return 0;
}
