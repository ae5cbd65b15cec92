// procstat: CPU time by mode from /proc/stat, read through the directory the
// operator grants as /proc.
//
//   cpu_seconds_total{cpu="0",mode="user"}  seconds each CPU spent in each
//                                           mode since boot
//
// Only the cpuN lines are served: the aggregate "cpu" line is their sum, and
// serving it too would double every sum over `cpu` in a query.
//
// Parameters:
//   proc_dir   where the proc filesystem is mounted in the guest
//              (default /proc; it exists only if the operator grants it)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scraper_helpers.h"

// /proc/stat counts in USER_HZ ticks, which the kernel fixes at 100 for user
// space on every architecture, whatever its internal HZ.
#define USER_HZ 100.0

// The first eight columns of a cpuN line. The two after them (guest,
// guest_nice) are already included in user and nice, so they are left out
// rather than counted twice.
static const char *const MODES[] = {"user",   "nice", "system",  "idle",
                                    "iowait", "irq",  "softirq", "steal"};
#define NMODES (sizeof MODES / sizeof MODES[0])

static bool add_cpu_times(const char *proc_dir, family_t *family, scraper_string_t *err) {
    char path[256];
    snprintf(path, sizeof path, "%s/stat", proc_dir);
    FILE *f = fopen(path, "r");
    if (!f) return fail(err, "opening %s: %s", path, strerror(errno));
    // Each read is a call out of the sandbox: a buffer that holds the whole
    // file reads it in one (stdio's default is 1 KiB). wasi-libc's stdio
    // keeps its own 1 KiB buffer when given no buffer, whatever the size,
    // so the buffer is passed.
    static char buffer[8192];
    setvbuf(f, buffer, _IOFBF, sizeof buffer);
    // getline gives each line's length, so no line is scanned twice for its
    // end (the intr and softirq lines run to thousands of bytes).
    char *line = NULL;
    size_t capacity = 0;
    size_t cpus = 0;
    bool ok = true;
    while (getline(&line, &capacity, f) > 0) {
        if (strncmp(line, "cpu", 3) != 0) continue;
        char *p = line + 3;
        if (*p < '0' || *p > '9') continue;  // the aggregate "cpu" line
        char cpu[16];
        size_t n = 0;
        while (*p >= '0' && *p <= '9' && n < sizeof cpu - 1) cpu[n++] = *p++;
        cpu[n] = 0;
        unsigned long long ticks[NMODES];
        size_t columns = 0;
        while (columns < NMODES) {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(p, &end, 10);
            if (end == p || errno) break;
            ticks[columns++] = v;
            p = end;
        }
        if (columns < 4) {
            ok = fail(err, "%s: cpu%s has %zu columns, expected at least 4", path, cpu, columns);
            break;
        }
        for (size_t i = 0; i < columns; i++) {
            const char *values[] = {cpu, MODES[i]};
            sample_add(family, (double)ticks[i] / USER_HZ, values);
        }
        cpus++;
    }
    free(line);
    fclose(f);
    if (ok && cpus == 0) ok = fail(err, "%s: no cpuN lines", path);
    return ok;
}

bool exports_scraper_collect(scraper_list_param_t *params, scraper_list_metric_family_t *ret,
                             scraper_string_t *err) {
    char *proc_dir = param_get(params, "proc_dir");
    const char *dir = proc_dir ? proc_dir : "/proc";

    const char *labels[] = {"cpu", "mode"};
    family_t *cpu = family_add(ret, "cpu_seconds_total", "Seconds each CPU spent in each mode.",
                               COUNTER, 2, labels);
    family_set_unit(cpu, "seconds");
    bool ok = add_cpu_times(dir, cpu, err);

    free(proc_dir);
    scraper_list_param_free(params);
    return ok;
}
