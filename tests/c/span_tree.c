/*
 * span_tree.c: drives genkit_azure the way a C host of a Genkit app would.
 *
 * Builds one trace:
 *
 *   POST /api/generate          SERVER    a100000000000001  (root, http attributes, a link)
 *   └─ generate                 INTERNAL  a100000000000002  (genkit:* attributes)
 *      ├─ POST generativelanguage  CLIENT a100000000000003
 *      └─ tool:lookupOrder      INTERNAL  a100000000000004  (status ERROR + "exception" event)
 *
 * plus a log record inside "generate" and one outside any span, then flushes,
 * shuts down, prints the stats and frees the handle. The connection string
 * comes from APPLICATIONINSIGHTS_CONNECTION_STRING (the config leaves it NULL).
 *
 * Usage: span_tree <trace id as 32 hex digits>
 * Exit status 0 only if every call returned GENKIT_AZURE_OK.
 * The span ids above are fixed; ffi/tests/c_programs.rs checks them.
 */
#include "genkit_azure.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int failures = 0;

static void check(genkit_azure_status status, const char *call, int line)
{
    if (status != GENKIT_AZURE_OK) {
        fprintf(stderr, "span_tree.c:%d: %s returned %s: %s\n", line, call,
                genkit_azure_status_name(status), genkit_azure_last_error());
        failures++;
    }
}
#define CHECK(call) check((call), #call, __LINE__)

static genkit_azure_attribute str_attr(const char *key, const char *value)
{
    genkit_azure_attribute a = {0};
    a.key = key;
    a.type = GENKIT_AZURE_ATTRIBUTE_STRING;
    a.string_value = value;
    return a;
}

static genkit_azure_attribute int_attr(const char *key, int64_t value)
{
    genkit_azure_attribute a = {0};
    a.key = key;
    a.type = GENKIT_AZURE_ATTRIBUTE_INT;
    a.int_value = value;
    return a;
}

static genkit_azure_attribute bool_attr(const char *key, bool value)
{
    genkit_azure_attribute a = {0};
    a.key = key;
    a.type = GENKIT_AZURE_ATTRIBUTE_BOOL;
    a.bool_value = value;
    return a;
}

static genkit_azure_attribute double_attr(const char *key, double value)
{
    genkit_azure_attribute a = {0};
    a.key = key;
    a.type = GENKIT_AZURE_ATTRIBUTE_DOUBLE;
    a.double_value = value;
    return a;
}

/* Says a span has started, as a span processor's on_start would: the root
 * names the operation, the others inherit it from their parent. */
static void started(genkit_azure_handle *handle, const genkit_azure_span *span, const char *root_name)
{
    genkit_azure_span_start s = {0};
    s.struct_size = sizeof s;
    memcpy(s.trace_id, span->trace_id, 16);
    memcpy(s.parent_span_id, span->parent_span_id, 8);
    s.parent_is_remote = span->parent_is_remote;
    s.root_operation_name = root_name;
    CHECK(genkit_azure_span_started(handle, &s));
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

static uint64_t now_unix_nano(void)
{
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void span_id(uint8_t out[8], uint8_t last)
{
    static const uint8_t base[8] = {0xa1, 0, 0, 0, 0, 0, 0, 0};
    memcpy(out, base, 8);
    out[7] = last;
}

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))
#define MS 1000000u

int main(int argc, char **argv)
{
    uint8_t trace_id[16];
    if (argc != 2 || parse_hex(argv[1], trace_id, sizeof trace_id) != 0) {
        fprintf(stderr, "usage: %s <trace id: 32 hex digits>\n", argv[0]);
        return 2;
    }
    printf("genkit_azure %s\n", genkit_azure_version());

    genkit_azure_attribute resource[] = {str_attr("deployment.environment", "ci")};
    genkit_azure_config config = {0};
    config.struct_size = sizeof config; /* all defaults; connection string from the environment */
    config.service_name = "span-tree-c";
    config.service_version = "1.2.3";
    config.resource_attributes = resource;
    config.resource_attribute_count = COUNT(resource);

    genkit_azure_handle *handle = NULL;
    CHECK(genkit_azure_new(&config, &handle));
    if (handle == NULL) {
        return 1;
    }

    const uint64_t t0 = now_unix_nano() - 1000 * MS;

    /* The root: an incoming HTTP request. */
    genkit_azure_attribute root_attrs[] = {
        str_attr("http.request.method", "POST"),
        str_attr("url.full", "http://localhost:3400/api/generate"),
        str_attr("http.route", "/api/generate"),
        int_attr("http.response.status_code", 200),
    };
    genkit_azure_span root = {0};
    root.struct_size = sizeof root;
    memcpy(root.trace_id, trace_id, 16);
    span_id(root.span_id, 1);
    root.name = "POST /api/generate";
    root.kind = GENKIT_AZURE_SPAN_KIND_SERVER;
    root.start_time_unix_nano = t0;
    root.end_time_unix_nano = t0 + 900 * MS;
    root.status_code = GENKIT_AZURE_STATUS_CODE_OK;
    root.attributes = root_attrs;
    root.attribute_count = COUNT(root_attrs);
    root.scope_name = "genkit-tracer";
    root.scope_version = "v1";
    /* The message that caused the request, sent from another service: a link. */
    genkit_azure_attribute link_attrs[] = {
        str_attr("messaging.message.id", "m-17"),
    };
    genkit_azure_link root_links[1];
    memset(root_links, 0, sizeof root_links);
    memset(root_links[0].trace_id, 0x5e, 16);
    memset(root_links[0].span_id, 0x7d, 8);
    root_links[0].is_remote = true;
    root_links[0].attributes = link_attrs;
    root_links[0].attribute_count = COUNT(link_attrs);
    root.links = root_links;
    root.link_count = COUNT(root_links);

    /* A Genkit action inside the request. */
    genkit_azure_attribute flow_attrs[] = {
        str_attr("genkit:name", "generate"),
        str_attr("genkit:type", "action"),
        str_attr("genkit:path", "/{generate,t:action}"),
        bool_attr("genkit:isRoot", false),
        double_attr("genkit:metadata:temperature", 0.7),
    };
    genkit_azure_span flow = {0};
    flow.struct_size = sizeof flow;
    memcpy(flow.trace_id, trace_id, 16);
    span_id(flow.span_id, 2);
    span_id(flow.parent_span_id, 1);
    flow.name = "generate";
    flow.kind = GENKIT_AZURE_SPAN_KIND_INTERNAL;
    flow.start_time_unix_nano = t0 + 10 * MS;
    flow.end_time_unix_nano = t0 + 880 * MS;
    flow.attributes = flow_attrs;
    flow.attribute_count = COUNT(flow_attrs);

    /* The model call the action made. */
    genkit_azure_attribute model_attrs[] = {
        str_attr("http.request.method", "POST"),
        str_attr("url.full", "https://generativelanguage.googleapis.com/v1beta/models/gemini:generateContent"),
        str_attr("server.address", "generativelanguage.googleapis.com"),
        int_attr("http.response.status_code", 200),
    };
    genkit_azure_span model = {0};
    model.struct_size = sizeof model;
    memcpy(model.trace_id, trace_id, 16);
    span_id(model.span_id, 3);
    span_id(model.parent_span_id, 2);
    model.name = "POST generativelanguage.googleapis.com";
    model.kind = GENKIT_AZURE_SPAN_KIND_CLIENT;
    model.start_time_unix_nano = t0 + 20 * MS;
    model.end_time_unix_nano = t0 + 600 * MS;
    model.attributes = model_attrs;
    model.attribute_count = COUNT(model_attrs);

    /* A tool call that failed with an exception. */
    genkit_azure_attribute exception_attrs[] = {
        str_attr("exception.type", "OrderNotFoundError"),
        str_attr("exception.message", "order 42 does not exist"),
        str_attr("exception.stacktrace", "OrderNotFoundError: order 42 does not exist\n    at lookupOrder (tools.c:17)"),
    };
    genkit_azure_event exception = {0};
    exception.name = "exception";
    exception.time_unix_nano = t0 + 700 * MS;
    exception.attributes = exception_attrs;
    exception.attribute_count = COUNT(exception_attrs);
    genkit_azure_attribute tool_attrs[] = {
        str_attr("genkit:name", "lookupOrder"),
        str_attr("genkit:type", "action"),
        str_attr("genkit:metadata:subtype", "tool"),
        str_attr("genkit:path", "/{generate,t:action}/{lookupOrder,t:action,s:tool}"),
    };
    genkit_azure_span tool = {0};
    tool.struct_size = sizeof tool;
    memcpy(tool.trace_id, trace_id, 16);
    span_id(tool.span_id, 4);
    span_id(tool.parent_span_id, 2);
    tool.name = "tool:lookupOrder";
    tool.kind = GENKIT_AZURE_SPAN_KIND_INTERNAL;
    tool.start_time_unix_nano = t0 + 650 * MS;
    tool.end_time_unix_nano = t0 + 750 * MS;
    tool.status_code = GENKIT_AZURE_STATUS_CODE_ERROR;
    tool.status_message = "order 42 does not exist";
    tool.attributes = tool_attrs;
    tool.attribute_count = COUNT(tool_attrs);
    tool.events = &exception;
    tool.event_count = 1;

    /* Spans start parents first... */
    started(handle, &root, "POST /api/generate");
    started(handle, &flow, NULL);
    started(handle, &model, NULL);
    started(handle, &tool, NULL);

    /* ...and children finish first, as they would in a real process. */
    CHECK(genkit_azure_export_span(handle, &model));
    CHECK(genkit_azure_export_span(handle, &tool));

    /* A log line written while "generate" was running. */
    genkit_azure_attribute log_attrs[] = {str_attr("genkit:flow", "generate"), int_attr("attempt", 1)};
    genkit_azure_log_record in_span = {0};
    in_span.struct_size = sizeof in_span;
    in_span.time_unix_nano = t0 + 15 * MS;
    in_span.severity_number = 9; /* INFO */
    in_span.body = "generating a reply";
    in_span.attributes = log_attrs;
    in_span.attribute_count = COUNT(log_attrs);
    memcpy(in_span.trace_id, trace_id, 16);
    span_id(in_span.span_id, 2);
    in_span.logger_name = "genkit";
    CHECK(genkit_azure_emit_log(handle, &in_span));

    CHECK(genkit_azure_export_span(handle, &flow));
    CHECK(genkit_azure_export_span(handle, &root));

    /* One outside any span; time 0 = now. */
    genkit_azure_log_record outside = {0};
    outside.struct_size = sizeof outside;
    outside.severity_number = 13; /* WARN */
    outside.body = "cache warm-up skipped";
    CHECK(genkit_azure_emit_log(handle, &outside));

    CHECK(genkit_azure_flush(handle, 10000));
    CHECK(genkit_azure_shutdown(handle, 10000));

    genkit_azure_stats stats = {0};

    stats.struct_size = sizeof stats;
    CHECK(genkit_azure_get_stats(handle, &stats));
    printf("spans_accepted=%" PRIu64 " logs_accepted=%" PRIu64 " envelopes_delivered=%" PRIu64
           " http_requests=%" PRIu64 " dropped_queue_full=%" PRIu64 " dropped_shut_down=%" PRIu64
           " items_export_failed=%" PRIu64 "\n",
           stats.spans_accepted, stats.logs_accepted, stats.envelopes_delivered, stats.http_requests,
           stats.dropped_queue_full, stats.dropped_shut_down, stats.items_export_failed);
    if (stats.spans_accepted != 4 || stats.logs_accepted != 2) {
        fprintf(stderr, "span_tree.c: expected 4 spans and 2 logs accepted\n");
        failures++;
    }

    genkit_azure_free(handle);
    if (failures != 0) {
        fprintf(stderr, "span_tree.c: %d call(s) failed\n", failures);
        return 1;
    }
    printf("span_tree: all calls returned GENKIT_AZURE_OK\n");
    return 0;
}
