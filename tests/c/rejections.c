/*
 * rejections.c: what a C host sees when the service rejects its data.
 *
 * The driver (ffi/tests/c_programs.rs) makes the emulator answer the first
 * request with 400. The program sends one log, flushes (which must report
 * GENKIT_AZURE_INCOMPLETE: the log was not delivered), then reads the
 * rejections by HTTP status, first asking how many there are.
 *
 * Prints "REJECTED <status> <count>" per entry of the combined view, then
 * "REQUESTS_REJECTED <status> <count>" per whole request rejected, then how
 * many envelope-level (206) rejections there are, and the item counters.
 * Exit status 0 only if every call behaved as described.
 */
#include "genkit_azure.h"

#include <inttypes.h>
#include <stdio.h>

int main(void)
{
    int failures = 0;
    genkit_azure_config config = {0};
    config.struct_size = sizeof config;
    config.disable_offline_storage = true;
    genkit_azure_handle *handle = NULL;
    if (genkit_azure_new(&config, &handle) != GENKIT_AZURE_OK) {
        fprintf(stderr, "genkit_azure_new: %s\n", genkit_azure_last_error());
        return 1;
    }

    genkit_azure_log_record log = {0};

    log.struct_size = sizeof log;
    log.severity_number = 9; /* INFO */
    log.body = "this one will be rejected";
    if (genkit_azure_emit_log(handle, &log) != GENKIT_AZURE_OK) {
        fprintf(stderr, "emit_log: %s\n", genkit_azure_last_error());
        failures++;
    }
    genkit_azure_status flushed = genkit_azure_flush(handle, 10000);
    if (flushed != GENKIT_AZURE_INCOMPLETE) {
        fprintf(stderr, "flush returned %s, expected GENKIT_AZURE_INCOMPLETE\n",
                genkit_azure_status_name(flushed));
        failures++;
    }

    size_t len = 0;
    if (genkit_azure_get_rejected_by_status(handle, NULL, 0, &len) != GENKIT_AZURE_OK || len != 1) {
        fprintf(stderr, "asking for the count: len %zu: %s\n", len, genkit_azure_last_error());
        failures++;
    }
    if (genkit_azure_get_rejected_by_status(handle, NULL, 4, &len) != GENKIT_AZURE_NULL_ARGUMENT) {
        fprintf(stderr, "NULL out with a capacity was accepted\n");
        failures++;
    }
    genkit_azure_status_count counts[4] = {0};
    if (genkit_azure_get_rejected_by_status(handle, counts, 4, &len) != GENKIT_AZURE_OK) {
        fprintf(stderr, "get_rejected_by_status: %s\n", genkit_azure_last_error());
        failures++;
    }
    for (size_t i = 0; i < len && i < 4; i++) {
        printf("REJECTED %u %" PRIu64 "\n", (unsigned)counts[i].status, counts[i].count);
    }

    /* The whole request was rejected: it shows among requests, not envelopes. */
    size_t requests = 0;
    genkit_azure_status_count by_request[4] = {0};
    if (genkit_azure_get_requests_rejected_by_status(handle, by_request, 4, &requests) != GENKIT_AZURE_OK) {
        fprintf(stderr, "get_requests_rejected_by_status: %s\n", genkit_azure_last_error());
        failures++;
    }
    for (size_t i = 0; i < requests && i < 4; i++) {
        printf("REQUESTS_REJECTED %u %" PRIu64 "\n", (unsigned)by_request[i].status, by_request[i].count);
    }
    size_t envelopes = 99;
    if (genkit_azure_get_envelopes_rejected_by_status(handle, NULL, 0, &envelopes) != GENKIT_AZURE_OK) {
        fprintf(stderr, "get_envelopes_rejected_by_status: %s\n", genkit_azure_last_error());
        failures++;
    }
    printf("ENVELOPES_REJECTED_LEN %zu\n", envelopes);

    genkit_azure_stats stats = {0};

    stats.struct_size = sizeof stats;
    if (genkit_azure_get_stats(handle, &stats) == GENKIT_AZURE_OK) {
        printf("batches_rejected %" PRIu64 "\n", stats.batches_rejected);
        printf("items_rejected %" PRIu64 "\n", stats.items_rejected);
    }
    genkit_azure_shutdown(handle, 5000);
    genkit_azure_free(handle);
    return failures == 0 ? 0 : 1;
}
