// adversary: a guest that misbehaves on request, for the exporter's
// fault-isolation tests. The `mode` parameter picks the misbehaviour:
//
//   ok                  adversary_ok{id="<id>"} 1 (default; `id` is a parameter,
//                       so several instances can run side by side)
//   error               returns err("...")
//   many_series         `count` series (default 1000000)
//   huge_label          one label value of `bytes` bytes (default 10 MiB)
//   invalid_name        a metric name with a '-'
//   invalid_label_name  a label name starting with a digit
//   mismatched_labels   two label names, one label value
//   duplicate_series    the same label values twice
//   reserved_name       a wasm_exporter_* metric
//   emit                one gauge named by `name`, value `value`
//   escapes             label values with '"', '\', newline and odd text
//   special_values      NaN, +Inf, -Inf, -0 and extreme values
//   read_file           tries to read `path`; reports what it got
//   scan_mem            the /proc/self/mem attack: reads /proc/self/maps, then
//                       every readable region through /proc/self/mem (under
//                       `proc`, default /proc), looking for `needle`
//   list_dir            lists `path`; reports the entry count
//   list_names          lists `path`; one series per entry name
//   env                 reports whether env var `name` is visible
//   sleep               sleeps `ms` milliseconds (default 60000), then ok
//   leftover            adversary_leftover_bytes: how many bytes of a 256 KiB
//                       zero-initialised buffer hold the marker that this
//                       mode writes afterwards over every other page of it
//                       (32 separate runs of written pages, as an
//                       interpreter's heap has), before sleeping `ms`
//                       milliseconds (default 0); in a fresh sandbox always 0
//   busy                spins forever in C
//   alloc               mallocs 1 MiB blocks until refused, then ok
//   print               writes `lines` lines (default 3) to stdout and stderr:
//                       `text` when given (hostile text for the web pages),
//                       then returns err(`text`) if `fail` is 1
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "scraper_helpers.h"

#define GAUGE WASM_EXPORTER_SCRAPER_TYPES_METRIC_KIND_GAUGE

static long long param_num(const scraper_list_param_t *params, const char *name, long long dflt) {
    char *v = param_get(params, name);
    long long n = v ? atoll(v) : dflt;
    free(v);
    return n;
}

static void one(scraper_list_metric_family_t *ret, const char *name, double value) {
    sample_add(family_add(ret, name, "A value emitted by the adversary test guest.", GAUGE, 0, NULL), value, NULL);
}

// Sleeps `ms` milliseconds (the `sleep` and `leftover` modes).
static void sleep_ms(long long ms) {
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

// What `leftover` reads and writes: zero-initialised, so it lies in memory
// the module's image does not cover, page-aligned so it fills whole pages.
#define LEFTOVER_MARKER 0xA5
static unsigned char leftover_buffer[256 * 1024] __attribute__((aligned(4096)));

static void leftover(const scraper_list_param_t *params, scraper_list_metric_family_t *ret) {
    long long found = 0;
    for (size_t i = 0; i < sizeof leftover_buffer; i++) found += leftover_buffer[i] == LEFTOVER_MARKER;
    for (size_t page = 0; page < sizeof leftover_buffer; page += 2 * 4096)
        memset(leftover_buffer + page, LEFTOVER_MARKER, 4096);
    sleep_ms(param_num(params, "ms", 0));
    sample_add(family_add(ret, "adversary_leftover_bytes",
                          "Bytes a previous call left in this call's memory.", GAUGE, 0, NULL),
               (double)found, NULL);
}

static void ok_metric(const scraper_list_param_t *params, scraper_list_metric_family_t *ret) {
    char *id = param_get(params, "id");
    const char *labels[] = {"id"};
    const char *values[] = {id ? id : ""};
    sample_add(family_add(ret, "adversary_ok", "1 when the guest got this far.", GAUGE, 1, labels),
               1, values);
    free(id);
}

static bool read_file(const scraper_list_param_t *params, scraper_list_metric_family_t *ret) {
    char *path = param_get(params, "path");
    const char *labels[] = {"path", "error"};
    family_t *f = family_add(ret, "adversary_file_bytes",
                             "Bytes read from the file, -1 if it could not be opened.", GAUGE, 2,
                             labels);
    FILE *fp = fopen(path ? path : "", "r");
    if (!fp) {
        const char *values[] = {path ? path : "", strerror(errno)};
        sample_add(f, -1, values);
    } else {
        char buf[4096];
        size_t n, total = 0;
        while ((n = fread(buf, 1, sizeof buf, fp)) > 0) total += n;
        fclose(fp);
        const char *values[] = {path, ""};
        sample_add(f, (double)total, values);
    }
    free(path);
    return true;
}

static bool list_dir(const scraper_list_param_t *params, scraper_list_metric_family_t *ret) {
    char *path = param_get(params, "path");
    const char *labels[] = {"path", "error"};
    family_t *f = family_add(ret, "adversary_dir_entries",
                             "Entries in the directory, -1 if it could not be opened.", GAUGE, 2,
                             labels);
    DIR *d = opendir(path ? path : "");
    if (!d) {
        const char *values[] = {path ? path : "", strerror(errno)};
        sample_add(f, -1, values);
    } else {
        double n = 0;
        while (readdir(d)) n++;
        closedir(d);
        const char *values[] = {path, ""};
        sample_add(f, n, values);
    }
    free(path);
    return true;
}

// Reads every readable region listed in PROC/self/maps through
// PROC/self/mem and counts the bytes read and the places `needle` was seen.
static bool scan_mem(const scraper_list_param_t *params, scraper_list_metric_family_t *ret) {
    char *proc = param_get(params, "proc");
    char *needle = param_get(params, "needle");
    const char *dir = proc ? proc : "/proc";
    const char *labels[] = {"error"};
    family_t *bytes = family_add(ret, "adversary_mem_bytes",
                                 "Bytes of the host process read through /proc/self/mem, -1 if refused.",
                                 GAUGE, 1, labels);
    family_t *found = family_add(ret, "adversary_mem_needle_found",
                                 "Times the needle was found in what was read.", GAUGE, 0, NULL);
    char path[512];
    snprintf(path, sizeof path, "%s/self/maps", dir);
    FILE *maps = fopen(path, "r");
    snprintf(path, sizeof path, "%s/self/mem", dir);
    FILE *mem = maps ? fopen(path, "r") : NULL;
    double total = 0, hits = 0;
    if (!maps || !mem) {
        const char *values[] = {strerror(errno)};
        sample_add(bytes, -1, values);
    } else {
        char line[1024];
        size_t nlen = needle ? strlen(needle) : 0;
        static char buf[65536];
        while (fgets(line, sizeof line, maps)) {
            unsigned long long lo, hi;
            char perms[8];
            if (sscanf(line, "%llx-%llx %7s", &lo, &hi, perms) != 3 || perms[0] != 'r') continue;
            for (unsigned long long at = lo; at < hi; at += sizeof buf) {
                if (fseeko(mem, (off_t)at, SEEK_SET) != 0) break;
                size_t want = hi - at < sizeof buf ? (size_t)(hi - at) : sizeof buf;
                size_t got = fread(buf, 1, want, mem);
                total += (double)got;
                for (size_t i = 0; nlen && i + nlen <= got; i++)
                    if (!memcmp(buf + i, needle, nlen)) hits++;
                if (got < want) {
                    clearerr(mem);
                    break;
                }
            }
        }
        const char *values[] = {""};
        sample_add(bytes, total, values);
    }
    sample_add(found, hits, NULL);
    if (maps) fclose(maps);
    if (mem) fclose(mem);
    free(proc);
    free(needle);
    return true;
}

static bool list_names(const scraper_list_param_t *params, scraper_list_metric_family_t *ret) {
    char *path = param_get(params, "path");
    const char *labels[] = {"name"};
    family_t *f = family_add(ret, "adversary_dir_entry", "1 for each entry of the directory.",
                             GAUGE, 1, labels);
    DIR *d = opendir(path ? path : "");
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            const char *values[] = {e->d_name};
            sample_add(f, 1, values);
        }
        closedir(d);
    }
    free(path);
    return true;
}

static bool env(const scraper_list_param_t *params, scraper_list_metric_family_t *ret) {
    char *name = param_get(params, "name");
    const char *labels[] = {"name"};
    const char *values[] = {name ? name : ""};
    family_t *f = family_add(ret, "adversary_env_visible", "1 if the variable is visible.", GAUGE,
                             1, labels);
    sample_add(f, name && getenv(name) ? 1 : 0, values);
    free(name);
    return true;
}

static bool many_series(const scraper_list_param_t *params, scraper_list_metric_family_t *ret) {
    long long count = param_num(params, "count", 1000000);
    const char *labels[] = {"i"};
    family_t *f = family_add(ret, "adversary_series", "One of many series.", GAUGE, 1, labels);
    char buf[32];
    for (long long i = 0; i < count; i++) {
        snprintf(buf, sizeof buf, "%lld", i);
        const char *values[] = {buf};
        sample_add(f, (double)i, values);
    }
    return true;
}

static bool huge_label(const scraper_list_param_t *params, scraper_list_metric_family_t *ret) {
    long long bytes = param_num(params, "bytes", 10 << 20);
    char *v = malloc((size_t)bytes + 1);
    if (!v) abort();
    memset(v, 'x', (size_t)bytes);
    v[bytes] = 0;
    const char *labels[] = {"big"};
    const char *values[] = {v};
    sample_add(family_add(ret, "adversary_huge", "A series with a huge label value.", GAUGE, 1, labels), 1, values);
    free(v);
    return true;
}

static bool escapes(scraper_list_metric_family_t *ret) {
    const char *labels[] = {"text"};
    family_t *f = family_add(ret, "adversary_escapes", "Help with \\ backslash\nand newline.",
                             GAUGE, 1, labels);
    const char *quote[] = {"say \"hi\""};
    const char *backslash[] = {"C:\\path\\"};
    const char *newline[] = {"line1\nline2"};
    const char *odd[] = {"\\xff\\xfe not utf-8, \xef\xbf\xbd replacement, \xc3\xa9t\xc3\xa9"};
    sample_add(f, 1, quote);
    sample_add(f, 2, backslash);
    sample_add(f, 3, newline);
    sample_add(f, 4, odd);
    return true;
}

static bool special_values(scraper_list_metric_family_t *ret) {
    const char *labels[] = {"case"};
    family_t *f = family_add(ret, "adversary_special", "Special float values.", GAUGE, 1, labels);
    const char *nan[] = {"nan"}, *pinf[] = {"pinf"}, *ninf[] = {"ninf"}, *nzero[] = {"nzero"},
               *max[] = {"max"}, *tiny[] = {"tiny"};
    sample_add(f, NAN, nan);
    sample_add(f, INFINITY, pinf);
    sample_add(f, -INFINITY, ninf);
    sample_add(f, -0.0, nzero);
    sample_add(f, 1.7976931348623157e308, max);
    sample_add(f, 5e-324, tiny);
    return true;
}

static bool print(const scraper_list_param_t *params, scraper_list_metric_family_t *ret,
                  scraper_string_t *err) {
    long long lines = param_num(params, "lines", 3);
    char *text = param_get(params, "text");
    for (long long i = 0; i < lines; i++) {
        if (text) {
            printf("%s\n", text);
            fprintf(stderr, "%s\n", text);
        } else {
            printf("stdout line %lld\n", i);
            fprintf(stderr, "stderr line %lld\n", i);
        }
    }
    fflush(stdout);
    bool ok = true;
    if (param_num(params, "fail", 0)) {
        ok = fail(err, "%s", text ? text : "printed, then failed");
    } else {
        ok_metric(params, ret);
    }
    free(text);
    return ok;
}

static volatile unsigned long long spin_counter;
static char *volatile sink;

bool exports_scraper_collect(scraper_list_param_t *params, scraper_list_metric_family_t *ret,
                             scraper_string_t *err) {
    char *mode_p = param_get(params, "mode");
    const char *mode = mode_p ? mode_p : "ok";
    bool ok = true;
    if (!strcmp(mode, "ok")) {
        ok_metric(params, ret);
    } else if (!strcmp(mode, "error")) {
        ok = fail(err, "mode=error: the backend said no");
    } else if (!strcmp(mode, "many_series")) {
        ok = many_series(params, ret);
    } else if (!strcmp(mode, "huge_label")) {
        ok = huge_label(params, ret);
    } else if (!strcmp(mode, "invalid_name")) {
        one(ret, "adversary-bad-name", 1);
    } else if (!strcmp(mode, "invalid_label_name")) {
        const char *labels[] = {"0day"}, *values[] = {"x"};
        sample_add(family_add(ret, "adversary_bad_label", "Bad label name.", GAUGE, 1, labels), 1, values);
    } else if (!strcmp(mode, "mismatched_labels")) {
        const char *labels[] = {"a", "b"};
        family_t *f = family_add(ret, "adversary_mismatch", "Mismatched labels.", GAUGE, 2, labels);
        f->label_names.len = 1;  // build with one value, then claim two names
        const char *values[] = {"only-one"};
        sample_add(f, 1, values);
        f->label_names.len = 2;
    } else if (!strcmp(mode, "duplicate_series")) {
        const char *labels[] = {"a"}, *values[] = {"same"};
        family_t *f = family_add(ret, "adversary_dup", "Duplicate series.", GAUGE, 1, labels);
        sample_add(f, 1, values);
        sample_add(f, 2, values);
    } else if (!strcmp(mode, "reserved_name")) {
        one(ret, "wasm_exporter_scrape_errors_total", 0);
    } else if (!strcmp(mode, "emit")) {
        char *name = param_get(params, "name");
        double value;
        ok = param_double(params, "value", 1, &value, err);
        if (ok) one(ret, name ? name : "adversary_emit", value);
        free(name);
    } else if (!strcmp(mode, "escapes")) {
        ok = escapes(ret);
    } else if (!strcmp(mode, "special_values")) {
        ok = special_values(ret);
    } else if (!strcmp(mode, "read_file")) {
        ok = read_file(params, ret);
    } else if (!strcmp(mode, "scan_mem")) {
        ok = scan_mem(params, ret);
    } else if (!strcmp(mode, "list_names")) {
        ok = list_names(params, ret);
    } else if (!strcmp(mode, "list_dir")) {
        ok = list_dir(params, ret);
    } else if (!strcmp(mode, "env")) {
        ok = env(params, ret);
    } else if (!strcmp(mode, "leftover")) {
        leftover(params, ret);
    } else if (!strcmp(mode, "sleep")) {
        sleep_ms(param_num(params, "ms", 60000));
        ok_metric(params, ret);
    } else if (!strcmp(mode, "busy")) {
        for (;;) spin_counter++;
    } else if (!strcmp(mode, "alloc")) {
        // Each block is written to, so the allocations cannot be optimised away.
        size_t blocks = 0;
        for (char *p; (p = malloc(1 << 20)) != NULL; blocks++) {
            p[0] = 1;
            sink = p;
        }
        one(ret, "adversary_alloc_blocks", (double)blocks);
    } else if (!strcmp(mode, "print")) {
        ok = print(params, ret, err);
    } else {
        ok = fail(err, "unknown mode %s", mode);
    }
    free(mode_p);
    scraper_list_param_free(params);
    return ok;
}
