/*
 * threads.c: 16 C threads export spans and emit logs on one handle while 2
 * more flush in a loop and the main thread shuts the pipeline down under
 * them. Nothing may deadlock or crash, every call must return a status a
 * caller can expect (OK, QUEUE_FULL, SHUT_DOWN; INCOMPLETE for a flush),
 * and the counts must add up:
 *   - spans_accepted / logs_accepted equal the calls that returned OK;
 *   - dropped_queue_full equals the calls that returned QUEUE_FULL;
 *   - every accepted item is settled, in exactly one fate counter, with
 *     nothing pending after shutdown.
 * Prints the totals and the fate counters for ffi/tests/c_programs.rs,
 * which checks that what arrived is items_delivered, each span once.
 *
 * Usage: threads <trace id as 32 hex digits>
 */
#define _POSIX_C_SOURCE 200809L

#include "genkit_azure.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define EMITTERS 16
#define FLUSHERS 2
#define PER_THREAD 1500

static genkit_azure_handle *handle;
static uint8_t trace_id[16];
static atomic_int failures;
static atomic_uint_fast64_t ok_spans, ok_logs, full, after_shutdown, ok_total;
static atomic_int shut_down;

static uint64_t now_unix_nano(void)
{
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Counts one call's outcome; returns 0 once the pipeline is shut down. */
static int count(genkit_azure_status st, atomic_uint_fast64_t *ok, const char *what)
{
    switch (st) {
    case GENKIT_AZURE_OK:
        atomic_fetch_add(ok, 1);
        atomic_fetch_add(&ok_total, 1);
        return 1;
    case GENKIT_AZURE_QUEUE_FULL:
        atomic_fetch_add(&full, 1);
        return 1;
    case GENKIT_AZURE_SHUT_DOWN:
        atomic_fetch_add(&after_shutdown, 1);
        return 0;
    default:
        fprintf(stderr, "threads.c: %s returned %s: %s\n", what, genkit_azure_status_name(st),
                genkit_azure_last_error());
        atomic_fetch_add(&failures, 1);
        return 0;
    }
}

static void *emit(void *arg)
{
    uint32_t thread = (uint32_t)(uintptr_t)arg;
    char name[32];
    /* Until the shutdown refuses the next item: every emitter is still at
     * it when the shutdown begins, and ends by seeing it. */
    for (uint32_t i = 0;; i++) {
        genkit_azure_span s = {0};
        s.struct_size = sizeof s;
        memcpy(s.trace_id, trace_id, 16);
        s.span_id[0] = 0xc0;
        s.span_id[1] = (uint8_t)thread;
        s.span_id[4] = (uint8_t)(i >> 24);
        s.span_id[5] = (uint8_t)(i >> 16);
        s.span_id[6] = (uint8_t)(i >> 8);
        s.span_id[7] = (uint8_t)i;
        snprintf(name, sizeof name, "t%u/%u", (unsigned)thread, (unsigned)i);
        s.name = name;
        s.kind = GENKIT_AZURE_SPAN_KIND_INTERNAL;
        s.start_time_unix_nano = now_unix_nano();
        s.end_time_unix_nano = s.start_time_unix_nano + 500;
        if (!count(genkit_azure_export_span(handle, &s), &ok_spans, "export_span")) {
            break;
        }
        genkit_azure_log_record log = {0};
        log.struct_size = sizeof log;
        log.severity_number = 9;
        log.body = name;
        memcpy(log.trace_id, s.trace_id, 16);
        memcpy(log.span_id, s.span_id, 8);
        if (!count(genkit_azure_emit_log(handle, &log), &ok_logs, "emit_log")) {
            break;
        }
    }
    return NULL;
}

static void *flush_loop(void *arg)
{
    (void)arg;
    while (!atomic_load(&shut_down)) {
        genkit_azure_status st = genkit_azure_flush(handle, 2000);
        if (st == GENKIT_AZURE_SHUT_DOWN) {
            break;
        }
        if (st != GENKIT_AZURE_OK && st != GENKIT_AZURE_INCOMPLETE) {
            fprintf(stderr, "threads.c: flush returned %s: %s\n", genkit_azure_status_name(st),
                    genkit_azure_last_error());
            atomic_fetch_add(&failures, 1);
            break;
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 2 || strlen(argv[1]) != 32) {
        fprintf(stderr, "usage: threads <trace id as 32 hex digits>\n");
        return 2;
    }
    for (int i = 0; i < 16; i++) {
        unsigned byte;
        sscanf(argv[1] + 2 * i, "%2x", &byte);
        trace_id[i] = (uint8_t)byte;
    }
    genkit_azure_config config = {0};
    config.struct_size = sizeof config;
    config.service_name = "threads-c";
    config.disable_live_metrics = true;
    config.batch_delay_ms = 50;
    if (genkit_azure_new(&config, &handle) != GENKIT_AZURE_OK) {
        fprintf(stderr, "genkit_azure_new: %s\n", genkit_azure_last_error());
        return 1;
    }
    pthread_t emitters[EMITTERS], flushers[FLUSHERS];
    for (uintptr_t t = 0; t < EMITTERS; t++) {
        pthread_create(&emitters[t], NULL, emit, (void *)t);
    }
    for (int t = 0; t < FLUSHERS; t++) {
        pthread_create(&flushers[t], NULL, flush_loop, NULL);
    }
    /* Shut down once about half of everything was accepted, while the
     * emitters and flushers are still at it. */
    struct timespec pause = {0, 1000000};
    while (atomic_load(&ok_total) < (uint64_t)EMITTERS * PER_THREAD) {
        nanosleep(&pause, NULL);
    }
    genkit_azure_status st = genkit_azure_shutdown(handle, 30000);
    atomic_store(&shut_down, 1);
    if (st != GENKIT_AZURE_OK) {
        fprintf(stderr, "threads.c: shutdown returned %s: %s\n", genkit_azure_status_name(st),
                genkit_azure_last_error());
        atomic_fetch_add(&failures, 1);
    }
    for (int t = 0; t < EMITTERS; t++) {
        pthread_join(emitters[t], NULL);
    }
    for (int t = 0; t < FLUSHERS; t++) {
        pthread_join(flushers[t], NULL);
    }

    genkit_azure_stats s = {0};
    s.struct_size = sizeof s;
    if (genkit_azure_get_stats(handle, &s) != GENKIT_AZURE_OK) {
        fprintf(stderr, "get_stats: %s\n", genkit_azure_last_error());
        return 1;
    }
    uint64_t accepted = s.spans_accepted + s.logs_accepted + s.metrics_accepted + s.custom_accepted +
                        s.metrics_derived + s.logs_derived;
    uint64_t settled = s.items_delivered + s.items_persisted + s.items_rejected + s.items_export_failed +
                       s.dropped_mapping_error + s.dropped_backlog_full + s.dropped_too_large +
                       s.dropped_spill_failed + s.dropped_shut_down + s.spans_not_exported +
                       s.spans_sampled_out + s.logs_sampled_out + s.custom_sampled_out;
    int bad = 0;
    if (s.spans_accepted != atomic_load(&ok_spans) || s.logs_accepted != atomic_load(&ok_logs)) {
        fprintf(stderr, "threads.c: accepted %" PRIu64 " spans, %" PRIu64 " logs; OK returned %" PRIu64
                        ", %" PRIu64 "\n",
                s.spans_accepted, s.logs_accepted, (uint64_t)atomic_load(&ok_spans),
                (uint64_t)atomic_load(&ok_logs));
        bad = 1;
    }
    if (s.dropped_queue_full != atomic_load(&full)) {
        fprintf(stderr, "threads.c: dropped_queue_full %" PRIu64 ", QUEUE_FULL returned %" PRIu64 "\n",
                s.dropped_queue_full, (uint64_t)atomic_load(&full));
        bad = 1;
    }
    if (accepted != settled || s.items_pending != 0) {
        fprintf(stderr, "threads.c: accepted %" PRIu64 " != settled %" PRIu64 " (pending %" PRIu64 ")\n",
                accepted, settled, s.items_pending);
        bad = 1;
    }
    printf("ok_spans=%" PRIu64 " ok_logs=%" PRIu64 " queue_full=%" PRIu64 " after_shutdown=%" PRIu64 "\n",
           (uint64_t)atomic_load(&ok_spans), (uint64_t)atomic_load(&ok_logs), (uint64_t)atomic_load(&full),
           (uint64_t)atomic_load(&after_shutdown));
    printf("items_delivered=%" PRIu64 " items_persisted=%" PRIu64 " dropped_shut_down=%" PRIu64
           " settled=%" PRIu64 "\n",
           s.items_delivered, s.items_persisted, s.dropped_shut_down, settled);
    genkit_azure_free(handle);
    return bad || atomic_load(&failures) != 0 ? 1 : 0;
}
