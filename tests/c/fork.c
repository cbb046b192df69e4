/*
 * fork.c: a C host that forks after genkit_azure_new, as a pre-forking
 * server does.
 *
 * The parent sends a span and flushes, queues another (maybe not sent yet
 * when it forks), then forks two children:
 *   - the first calls genkit_azure_after_fork_child and sends its own span
 *     and log through its fresh pipeline (before that, the handle refuses
 *     calls with GENKIT_AZURE_FORKED_CHILD); its stats count only its own;
 *     then it forks a grandchild, which renews the handle again and sends
 *     a span of its own;
 *   - the second never renews the handle: flush is refused, and free
 *     returns at once (it would otherwise wait on the parent's threads).
 * The parent sends one more span meanwhile (after_fork_child does nothing
 * in it), waits for both, flushes and checks its own stats.
 *
 * Usage: fork <trace id as 32 hex digits>
 * Exit status 0 only if every check passed in all three processes;
 * ffi/tests/c_programs.rs checks that every span and the log arrived once.
 */
#define _POSIX_C_SOURCE 200809L

#include "genkit_azure.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int failures = 0;
static const char *who = "parent";
static uint8_t trace_id[16];

static void expect(genkit_azure_status got, genkit_azure_status want, const char *call, int line)
{
    if (got != want) {
        fprintf(stderr, "fork.c:%d (%s): %s returned %s, expected %s: %s\n", line, who, call,
                genkit_azure_status_name(got), genkit_azure_status_name(want), genkit_azure_last_error());
        failures++;
    }
}
#define EXPECT(call, want) expect((call), (want), #call, __LINE__)
#define CHECK(call) EXPECT(call, GENKIT_AZURE_OK)
#define CHECK_TRUE(cond)                                                          \
    do {                                                                          \
        if (!(cond)) {                                                            \
            fprintf(stderr, "fork.c:%d (%s): %s is false\n", __LINE__, who, #cond); \
            failures++;                                                           \
        }                                                                         \
    } while (0)

static uint64_t now_unix_nano(void)
{
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static genkit_azure_span span(uint8_t id, const char *name)
{
    genkit_azure_span s = {0};
    s.struct_size = sizeof s;
    memcpy(s.trace_id, trace_id, 16);
    s.span_id[0] = 0xf0;
    s.span_id[7] = id;
    s.name = name;
    s.kind = GENKIT_AZURE_SPAN_KIND_INTERNAL;
    s.start_time_unix_nano = now_unix_nano();
    s.end_time_unix_nano = s.start_time_unix_nano + 1000;
    return s;
}

static genkit_azure_stats stats_of(genkit_azure_handle *h)
{
    genkit_azure_stats s = {0};
    s.struct_size = sizeof s;
    CHECK(genkit_azure_get_stats(h, &s));
    return s;
}

static int renewing_child(genkit_azure_handle *h)
{
    who = "child 1";
    genkit_azure_span early = span(9, "child before renewal");
    EXPECT(genkit_azure_export_span(h, &early), GENKIT_AZURE_FORKED_CHILD);
    CHECK_TRUE(strstr(genkit_azure_last_error(), "genkit_azure_after_fork_child") != NULL);
    genkit_azure_stats none = {0};
    none.struct_size = sizeof none;
    EXPECT(genkit_azure_get_stats(h, &none), GENKIT_AZURE_FORKED_CHILD);

    CHECK(genkit_azure_after_fork_child(h));
    CHECK(genkit_azure_after_fork_child(h)); /* again: nothing to do */
    genkit_azure_span mine = span(4, "child");
    CHECK(genkit_azure_export_span(h, &mine));
    genkit_azure_log_record log = {0};
    log.struct_size = sizeof log;
    log.severity_number = 9;
    log.body = "child log";
    CHECK(genkit_azure_emit_log(h, &log));
    CHECK(genkit_azure_flush(h, 10000));
    genkit_azure_stats s = stats_of(h);
    CHECK_TRUE(s.spans_accepted == 1); /* its own pipeline's counters only */
    CHECK_TRUE(s.logs_accepted == 1);
    CHECK_TRUE(s.items_delivered == 2);

    /* A fork of the renewed child renews again. */
    fflush(NULL);
    pid_t grandchild = fork();
    if (grandchild == 0) {
        who = "grandchild";
        EXPECT(genkit_azure_flush(h, 100), GENKIT_AZURE_FORKED_CHILD);
        CHECK(genkit_azure_after_fork_child(h));
        genkit_azure_span its = span(5, "grandchild");
        CHECK(genkit_azure_export_span(h, &its));
        CHECK(genkit_azure_shutdown(h, 10000));
        genkit_azure_free(h);
        _exit(failures == 0 ? 0 : 1);
    }
    int status = 0;
    CHECK_TRUE(grandchild > 0 && waitpid(grandchild, &status, 0) == grandchild);
    CHECK_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(genkit_azure_shutdown(h, 10000));
    genkit_azure_free(h);
    return failures == 0 ? 0 : 1;
}

static int idle_child(genkit_azure_handle *h)
{
    who = "child 2";
    EXPECT(genkit_azure_flush(h, 100), GENKIT_AZURE_FORKED_CHILD);
    EXPECT(genkit_azure_shutdown(h, 100), GENKIT_AZURE_FORKED_CHILD);
    genkit_azure_free(h); /* must not wait for the parent's threads */
    return failures == 0 ? 0 : 1;
}

static int wait_for(pid_t pid)
{
    int status = 0;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) {
        return -1;
    }
    return WEXITSTATUS(status);
}

int main(int argc, char **argv)
{
    if (argc != 2 || strlen(argv[1]) != 32) {
        fprintf(stderr, "usage: fork <trace id as 32 hex digits>\n");
        return 2;
    }
    for (int i = 0; i < 16; i++) {
        unsigned byte;
        sscanf(argv[1] + 2 * i, "%2x", &byte);
        trace_id[i] = (uint8_t)byte;
    }
    genkit_azure_config config = {0};
    config.struct_size = sizeof config;
    config.service_name = "fork-c";
    config.disable_live_metrics = true;
    genkit_azure_handle *h = NULL;
    CHECK(genkit_azure_new(&config, &h));
    if (h == NULL) {
        return 1;
    }
    genkit_azure_span before = span(1, "before fork");
    CHECK(genkit_azure_export_span(h, &before));
    CHECK(genkit_azure_flush(h, 10000));
    genkit_azure_span queued = span(2, "queued at fork");
    CHECK(genkit_azure_export_span(h, &queued));

    fflush(NULL);
    pid_t first = fork();
    if (first == 0) {
        _exit(renewing_child(h));
    }
    pid_t second = fork();
    if (second == 0) {
        _exit(idle_child(h));
    }
    CHECK_TRUE(first > 0 && second > 0);

    CHECK(genkit_azure_after_fork_child(h)); /* the parent: nothing to do */
    genkit_azure_span after = span(3, "parent after fork");
    CHECK(genkit_azure_export_span(h, &after));
    CHECK_TRUE(wait_for(first) == 0);
    CHECK_TRUE(wait_for(second) == 0);
    CHECK(genkit_azure_flush(h, 10000));
    genkit_azure_stats s = stats_of(h);
    CHECK_TRUE(s.spans_accepted == 3);
    CHECK_TRUE(s.items_delivered == 3);
    printf("parent spans_accepted=%" PRIu64 " items_delivered=%" PRIu64 "\n", s.spans_accepted,
           s.items_delivered);
    CHECK(genkit_azure_shutdown(h, 10000));
    genkit_azure_free(h);
    return failures == 0 ? 0 : 1;
}
