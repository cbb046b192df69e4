/*
 * large_items.c: a C host whose items carry large values (a prompt, a
 * model's output) overflows the queue by bytes long before its item count.
 *
 * The program sets max_queue_bytes to its least, 64 KiB, turns persistence
 * off, and emits 400 logs each carrying 8 KiB, with no pause. Every call
 * must return GENKIT_AZURE_OK (queued) or GENKIT_AZURE_QUEUE_FULL (dropped
 * and counted) at once; some must be dropped. After a flush, the stats must
 * say exactly that: logs_accepted the calls that returned OK,
 * dropped_queue_full the others, items_delivered every accepted one.
 * Prints "accepted=N dropped=M delivered=D" for the driver
 * (ffi/tests/c_programs.rs), which checks that N items arrived, each once.
 * Exit status 0 only if every check held.
 */
#include "genkit_azure.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define LOGS 400
#define VALUE_BYTES (8 * 1024)

int main(void)
{
    genkit_azure_config config = {0};
    config.struct_size = sizeof config;
    config.disable_offline_storage = true;
    config.max_queue_bytes = 64 * 1024;
    genkit_azure_handle *handle = NULL;
    if (genkit_azure_new(&config, &handle) != GENKIT_AZURE_OK) {
        fprintf(stderr, "genkit_azure_new: %s\n", genkit_azure_last_error());
        return 1;
    }

    static char value[VALUE_BYTES + 1];
    memset(value, 'x', VALUE_BYTES);
    genkit_azure_attribute output = {0};
    output.key = "genkit:output";
    output.type = GENKIT_AZURE_ATTRIBUTE_STRING;
    output.string_value = value;

    int failures = 0;
    uint64_t accepted = 0, dropped = 0;
    char body[32];
    for (int i = 0; i < LOGS; i++) {
        snprintf(body, sizeof body, "item %d", i);
        genkit_azure_log_record log = {0};
        log.struct_size = sizeof log;
        log.severity_number = 9; /* INFO */
        log.body = body;
        log.attributes = &output;
        log.attribute_count = 1;
        genkit_azure_status st = genkit_azure_emit_log(handle, &log);
        if (st == GENKIT_AZURE_OK) {
            accepted++;
        } else if (st == GENKIT_AZURE_QUEUE_FULL) {
            dropped++;
        } else {
            fprintf(stderr, "emit_log %d: %s: %s\n", i, genkit_azure_status_name(st),
                    genkit_azure_last_error());
            failures++;
        }
    }
    if (dropped == 0) {
        fprintf(stderr, "a 64 KiB queue took %d logs of 8 KiB without dropping any\n", LOGS);
        failures++;
    }
    genkit_azure_status flushed = genkit_azure_flush(handle, 20000);
    if (flushed != GENKIT_AZURE_OK) {
        fprintf(stderr, "flush: %s\n", genkit_azure_status_name(flushed));
        failures++;
    }

    genkit_azure_stats s = {0};
    s.struct_size = sizeof s;
    if (genkit_azure_get_stats(handle, &s) != GENKIT_AZURE_OK) {
        fprintf(stderr, "get_stats: %s\n", genkit_azure_last_error());
        return 1;
    }
    if (s.logs_accepted != accepted || s.dropped_queue_full != dropped ||
        s.items_delivered != accepted) {
        fprintf(stderr,
                "stats disagree: logs_accepted %" PRIu64 " dropped_queue_full %" PRIu64
                " items_delivered %" PRIu64 ", the calls said %" PRIu64 " and %" PRIu64 "\n",
                s.logs_accepted, s.dropped_queue_full, s.items_delivered, accepted, dropped);
        failures++;
    }
    printf("accepted=%" PRIu64 " dropped=%" PRIu64 " delivered=%" PRIu64 "\n", accepted, dropped,
           s.items_delivered);
    if (genkit_azure_shutdown(handle, 5000) != GENKIT_AZURE_OK) {
        fprintf(stderr, "shutdown: %s\n", genkit_azure_last_error());
        failures++;
    }
    genkit_azure_free(handle);
    return failures == 0 ? 0 : 1;
}
