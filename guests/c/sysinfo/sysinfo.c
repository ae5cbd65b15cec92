// sysinfo: the two collectors of the exporter development guide, reading
// real data through the directory the operator grants as /proc.
//
//   sys_mem_usage                 memory in use, percent of MemTotal
//                                 ((MemTotal - MemAvailable) / MemTotal)
//   sys_disk_size{disk_name=...}  size of each block device in bytes
//                                 (/proc/partitions, 1 KiB blocks)
//
// Parameters:
//   proc_dir   where the proc filesystem is mounted in the guest
//              (default /proc; it exists only if the operator grants it)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scraper_helpers.h"

static bool read_mem_usage(const char *proc_dir, double *usage, scraper_string_t *err) {
    char path[256];
    snprintf(path, sizeof path, "%s/meminfo", proc_dir);
    FILE *f = fopen(path, "r");
    if (!f) return fail(err, "opening %s: %s", path, strerror(errno));
    // Each read is a call out of the sandbox: a buffer that holds the whole
    // file reads it in one (stdio's default is 1 KiB). wasi-libc's stdio
    // keeps its own 1 KiB buffer when given no buffer, whatever the size,
    // so the buffer is passed.
    static char buffer[8192];
    setvbuf(f, buffer, _IOFBF, sizeof buffer);
    char line[256];
    double total = -1, available = -1;
    while (fgets(line, sizeof line, f)) {
        // Only two of some fifty lines matter: told apart by their start,
        // and only they are parsed.
        double *slot;
        const char *rest;
        if (strncmp(line, "MemTotal:", 9) == 0) {
            slot = &total;
            rest = line + 9;
        } else if (strncmp(line, "MemAvailable:", 13) == 0) {
            slot = &available;
            rest = line + 13;
        } else {
            continue;
        }
        char *end;
        double v = strtod(rest, &end);
        if (end != rest) *slot = v;
        // Both come first (lines 1 and 3): the other lines are not read.
        if (total >= 0 && available >= 0) break;
    }
    fclose(f);
    if (total <= 0 || available < 0)
        return fail(err, "%s has no MemTotal or MemAvailable line", path);
    *usage = (total - available) / total * 100.0;
    return true;
}

static bool add_disk_sizes(const char *proc_dir, family_t *family, scraper_string_t *err) {
    char path[256];
    snprintf(path, sizeof path, "%s/partitions", proc_dir);
    FILE *f = fopen(path, "r");
    if (!f) return fail(err, "opening %s: %s", path, strerror(errno));
    static char buffer[8192];
    setvbuf(f, buffer, _IOFBF, sizeof buffer);
    char line[512];
    while (fgets(line, sizeof line, f)) {
        unsigned major, minor;
        unsigned long long blocks;
        char name[128];
        // "major minor  #blocks  name"; the header and blank line do not match.
        if (sscanf(line, " %u %u %llu %127s", &major, &minor, &blocks, name) != 4) continue;
        const char *labels[] = {name};
        sample_add(family, (double)blocks * 1024.0, labels);
    }
    fclose(f);
    return true;
}

bool exports_scraper_collect(scraper_list_param_t *params, scraper_list_metric_family_t *ret,
                             scraper_string_t *err) {
    char *proc_dir = param_get(params, "proc_dir");
    const char *dir = proc_dir ? proc_dir : "/proc";
    bool ok = false;

    double usage;
    if (!read_mem_usage(dir, &usage, err)) goto out;
    family_t *mem = family_add(ret, "sys_mem_usage", "Memory in use, percent of total memory.",
                               WASM_EXPORTER_SCRAPER_TYPES_METRIC_KIND_GAUGE, 0, NULL);
    sample_add(mem, usage, NULL);

    const char *disk_labels[] = {"disk_name"};
    family_t *disks = family_add(ret, "sys_disk_size", "Size of the block device in bytes.",
                                 WASM_EXPORTER_SCRAPER_TYPES_METRIC_KIND_GAUGE, 1, disk_labels);
    ok = add_disk_sizes(dir, disks, err);
out:
    free(proc_dir);
    scraper_list_param_free(params);
    return ok;
}
