/*
 * legacy_v0.c: a program written and built against the header from before
 * struct_size (genkit_azure_v0.h, a frozen copy of include/genkit_azure.h
 * at e81c375), run against today's library. It must work unchanged: its
 * calls bind to the ABI 0 symbols, which read ABI 0's layouts.
 *
 * Sets config fields from the first to the last one (connection_string ...
 * deployment_environment, log_input_and_output, token_callback), starts and
 * exports a root span and a child, emits a log inside the child (logger_name,
 * the record's last field), tracks an event, an exception and an
 * availability result (operation_name, their last field), flushes, reads the
 * stats into ABI 0's struct (with a guard word after it that must survive)
 * and prints them, shuts down and frees.
 *
 * Usage: legacy_v0 <trace id as 32 hex digits>
 * Exit status 0 only if every call returned GENKIT_AZURE_OK and the stats
 * add up; ffi/tests/c_programs.rs checks what arrived.
 */
#include "genkit_azure_v0.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int failures = 0;

static void check(genkit_azure_status status, const char *call, int line)
{
    if (status != GENKIT_AZURE_OK) {
        fprintf(stderr, "legacy_v0.c:%d: %s returned %s: %s\n", line, call,
                genkit_azure_status_name(status), genkit_azure_last_error());
        failures++;
    }
}
#define CHECK(call) check((call), #call, __LINE__)

static uint64_t now_unix_nano(void)
{
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int parse_hex(const char *hex, uint8_t *out, size_t n)
{
    if (strlen(hex) != 2 * n) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned byte;
        if (sscanf(hex + 2 * i, "%2x", &byte) != 1) {
            return -1;
        }
        out[i] = (uint8_t)byte;
    }
    return 0;
}

int main(int argc, char **argv)
{
    uint8_t trace_id[16];
    if (argc != 2 || parse_hex(argv[1], trace_id, 16) != 0) {
        fprintf(stderr, "usage: legacy_v0 <trace id as 32 hex digits>\n");
        return 2;
    }

    /* As ABI 0 programs were written: zero-initialised, no struct_size. */
    genkit_azure_config config = {0};
    config.service_name = "legacy-c";
    config.service_version = "0.9.0";
    config.batch_delay_ms = GENKIT_AZURE_NO_BATCH_DELAY;
    config.disable_offline_storage = true;
    config.disable_live_metrics = true;
    config.log_input_and_output = true;
    config.deployment_environment = "legacy-env";
    config.metric_series_limit = 100;
    config.sampling_ratio = 1.0;
    config.token_callback = NULL;
    config.token_user_data = NULL;
    genkit_azure_handle *handle = NULL;
    CHECK(genkit_azure_new(&config, &handle));
    if (handle == NULL) {
        return 1;
    }

    genkit_azure_span root = {0};
    memcpy(root.trace_id, trace_id, 16);
    memcpy(root.span_id, "\xb1\x00\x00\x00\x00\x00\x00\x01", 8);
    root.name = "GET /legacy";
    root.kind = GENKIT_AZURE_SPAN_KIND_SERVER;
    genkit_azure_span_start start = {0};
    memcpy(start.trace_id, trace_id, 16);
    start.root_operation_name = "GET /legacy";
    CHECK(genkit_azure_span_started(handle, &start));

    genkit_azure_attribute input = {0};
    input.key = "genkit:input";
    input.type = GENKIT_AZURE_ATTRIBUTE_STRING;
    input.string_value = "what is on the menu";
    genkit_azure_span child = {0};
    memcpy(child.trace_id, trace_id, 16);
    memcpy(child.span_id, "\xb1\x00\x00\x00\x00\x00\x00\x02", 8);
    memcpy(child.parent_span_id, root.span_id, 8);
    child.name = "legacy step";
    child.kind = GENKIT_AZURE_SPAN_KIND_CLIENT;
    child.attributes = &input;
    child.attribute_count = 1;
    child.scope_name = "legacy-tracer";
    child.scope_version = "0.9";
    child.start_time_unix_nano = now_unix_nano();

    genkit_azure_log_record log = {0};
    log.severity_number = 13; /* WARN */
    log.body = "legacy log";
    memcpy(log.trace_id, trace_id, 16);
    memcpy(log.span_id, child.span_id, 8);
    log.logger_name = "legacy.logger";
    CHECK(genkit_azure_emit_log(handle, &log));

    child.end_time_unix_nano = now_unix_nano();
    CHECK(genkit_azure_export_span(handle, &child));
    root.start_time_unix_nano = child.start_time_unix_nano - 1000;
    root.end_time_unix_nano = now_unix_nano();
    CHECK(genkit_azure_export_span(handle, &root));

    genkit_azure_measurement amount = {"amount", 3.5};
    genkit_azure_custom_event event = {0};
    event.name = "legacy event";
    event.measurements = &amount;
    event.measurement_count = 1;
    event.operation_name = "legacy operation";
    CHECK(genkit_azure_track_event(handle, &event));
    genkit_azure_exception exception = {0};
    exception.type_name = "LegacyError";
    exception.message = "old but fine";
    exception.operation_name = "legacy operation";
    CHECK(genkit_azure_track_exception(handle, &exception));
    genkit_azure_availability availability = {0};
    availability.name = "legacy probe";
    availability.success = true;
    availability.duration_ms = 12.0;
    availability.run_location = "here";
    availability.operation_name = "legacy operation";
    CHECK(genkit_azure_track_availability(handle, &availability));

    CHECK(genkit_azure_flush(handle, 10000));

    /* ABI 0's stats struct, and a guard right after it: the library must
     * write exactly ABI 0's counters, not today's struct_size + counters. */
    struct {
        genkit_azure_stats stats;
        uint64_t guard;
    } out;
    memset(&out, 0, sizeof out);
    out.guard = 0x1e9ac7c0ffee;
    CHECK(genkit_azure_get_stats(handle, &out.stats));
    const genkit_azure_stats *s = &out.stats;
    if (out.guard != 0x1e9ac7c0ffee) {
        fprintf(stderr, "legacy_v0.c: get_stats wrote past ABI 0's struct\n");
        failures++;
    }
    /* The fate counters, the first and the last: nothing is pending. */
    uint64_t accepted = s->spans_accepted + s->logs_accepted + s->metrics_accepted + s->custom_accepted +
                        s->metrics_derived + s->logs_derived;
    uint64_t settled = s->items_delivered + s->items_persisted + s->items_rejected + s->items_export_failed +
                       s->dropped_mapping_error + s->dropped_backlog_full + s->dropped_too_large +
                       s->dropped_spill_failed + s->dropped_shut_down + s->spans_not_exported +
                       s->spans_sampled_out + s->logs_sampled_out + s->custom_sampled_out + s->items_pending;
    if (accepted != settled) {
        fprintf(stderr, "legacy_v0.c: accepted %" PRIu64 " != settled %" PRIu64 "\n", accepted, settled);
        failures++;
    }
    printf("spans_accepted=%" PRIu64 " logs_accepted=%" PRIu64 " custom_accepted=%" PRIu64
           " items_delivered=%" PRIu64 " items_pending=%" PRIu64 " custom_sampled_out=%" PRIu64 "\n",
           s->spans_accepted, s->logs_accepted, s->custom_accepted, s->items_delivered, s->items_pending,
           s->custom_sampled_out);

    CHECK(genkit_azure_shutdown(handle, 10000));
    genkit_azure_free(handle);
    return failures == 0 ? 0 : 1;
}
