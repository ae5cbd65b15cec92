// netdev: per-interface traffic counters from /proc/net/dev, read through
// the directory the operator grants as /proc.
//
//   netdev_receive_bytes_total{device}     netdev_transmit_bytes_total{device}
//   netdev_receive_packets_total{device}   netdev_transmit_packets_total{device}
//   netdev_receive_errors_total{device}    netdev_transmit_errors_total{device}
//   netdev_receive_drop_total{device}      netdev_transmit_drop_total{device}
//
// Parameters:
//   proc_dir   where the proc filesystem is in the guest (default /proc)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scraper_helpers.h"

// Columns of /proc/net/dev after "iface:": receive bytes packets errs drop
// fifo frame compressed multicast, then transmit bytes packets errs drop ...
// The byte counters carry their unit (OpenMetrics `# UNIT`).
static const struct {
    const char *name, *help, *unit;
    int column;
} COLUMNS[] = {
    {"netdev_receive_bytes_total", "Bytes received by the interface.", "bytes", 0},
    {"netdev_receive_packets_total", "Packets received by the interface.", "", 1},
    {"netdev_receive_errors_total", "Receive errors of the interface.", "", 2},
    {"netdev_receive_drop_total", "Received packets the interface dropped.", "", 3},
    {"netdev_transmit_bytes_total", "Bytes sent by the interface.", "bytes", 8},
    {"netdev_transmit_packets_total", "Packets sent by the interface.", "", 9},
    {"netdev_transmit_errors_total", "Transmit errors of the interface.", "", 10},
    {"netdev_transmit_drop_total", "Packets the interface dropped on transmit.", "", 11},
};
#define NCOLUMNS (sizeof COLUMNS / sizeof COLUMNS[0])

bool exports_scraper_collect(scraper_list_param_t *params, scraper_list_metric_family_t *ret,
                             scraper_string_t *err) {
    char *proc_dir = param_get(params, "proc_dir");
    char path[256];
    snprintf(path, sizeof path, "%s/net/dev", proc_dir ? proc_dir : "/proc");
    free(proc_dir);
    scraper_list_param_free(params);

    FILE *f = fopen(path, "r");
    if (!f) return fail(err, "opening %s: %s", path, strerror(errno));
    const char *labels[] = {"device"};
    family_t *families[NCOLUMNS];
    for (size_t i = 0; i < NCOLUMNS; i++) {
        families[i] = family_add(ret, COLUMNS[i].name, COLUMNS[i].help, COUNTER, 1, labels);
        family_set_unit(families[i], COLUMNS[i].unit);
    }

    char line[1024];
    int lineno = 0;
    bool ok = true;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *colon = strchr(line, ':');
        if (lineno <= 2 || !colon) continue;  // the two header lines
        *colon = 0;
        char *device = line + strspn(line, " \t");
        unsigned long long v[16];
        if (sscanf(colon + 1, "%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu",
                   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9], &v[10],
                   &v[11], &v[12], &v[13], &v[14], &v[15]) != 16) {
            ok = fail(err, "%s:%d: expected 16 counters for %s", path, lineno, device);
            break;
        }
        const char *values[] = {device};
        for (size_t i = 0; i < NCOLUMNS; i++)
            sample_add(families[i], (double)v[COLUMNS[i].column], values);
    }
    fclose(f);
    return ok;
}
