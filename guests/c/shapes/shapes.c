// shapes: one family of every kind of world 0.2.0, with fixed values the
// tests know, for the end-to-end tests of histograms, summaries, info,
// stateset and units (Prometheus' histogram_quantile runs over its
// buckets). With the parameter `fault`, it breaks one rule of the
// interface instead, as a buggy or hostile guest would; the exporter must
// refuse its whole answer with the reason, and keep serving the others.
//
//   shapes_request_seconds{path}    histogram, seconds
//   shapes_queue_age_seconds        gauge histogram, seconds
//   shapes_rpc_seconds{method}      summary, seconds
//   shapes_build_info{version}      info
//   shapes_mode{shapes_mode}        stateset
//   shapes_temperature_celsius      gauge, celsius
//   shapes_sent_bytes_total         counter, bytes
//
// Parameters:
//   fault     a rule to break (see FAULTS below), default none
//   buckets   buckets of an extra histogram shapes_wide (default 0: none),
//             to test the series cap
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scraper_helpers.h"

static const char *const FAULTS[] = {
    "none",           "unsorted",       "not_cumulative", "no_inf",        "inf_count",
    "nan_sum",        "negative_sum",   "quantile_range", "negative_value", "le_label",
    "quantile_label", "info_value",     "info_name",      "stateset_label", "stateset_value",
    "unit_suffix",    "clash",          "wrong_value",
};

static bool is(const char *fault, const char *name) { return strcmp(fault, name) == 0; }

static void add_histograms(scraper_list_metric_family_t *ret, const char *fault) {
    const char *labels[] = {is(fault, "le_label") ? "le" : "path"};
    family_t *h = family_add(ret, "shapes_request_seconds", "Request latency by path.", HISTOGRAM, 1,
                             labels);
    family_set_unit(h, "seconds");
    // path="/a": 10 requests, 2 within 0.1 s, 6 within 0.5 s, 9 within 1 s.
    double bounds[] = {0.1, 0.5, 1, INFINITY};
    uint64_t counts[] = {2, 6, 9, 10};
    double sum = 4.5;
    uint64_t count = 10;
    if (is(fault, "unsorted")) bounds[1] = 0.05;
    if (is(fault, "not_cumulative")) counts[1] = 1;
    if (is(fault, "inf_count")) count = 11;
    if (is(fault, "nan_sum")) sum = NAN;
    if (is(fault, "negative_sum")) sum = -1;
    const char *a[] = {"/a"};
    if (is(fault, "no_inf")) {
        // Three bounds and no +Inf bucket: the helper would add one, so
        // the sample is written by hand.
        histogram_add(h, 3, bounds, counts, 9, &sum, a);
        wasm_exporter_scraper_types_histogram_t *v = &h->samples.ptr[h->samples.len - 1].value.val.histogram;
        v->buckets.len = 3;
    } else {
        histogram_add(h, 4, bounds, counts, count, &sum, a);
    }
    // path="/b": the +Inf bucket added by the helper.
    const char *b[] = {"/b"};
    double b_bounds[] = {0.1, 0.5, 1};
    uint64_t b_counts[] = {0, 1, 1};
    double b_sum = 0.75;
    histogram_add(h, 3, b_bounds, b_counts, 3, &b_sum, b);

    family_t *g = family_add(ret, "shapes_queue_age_seconds", "Age of the items waiting now.",
                             GAUGE_HISTOGRAM, 0, NULL);
    family_set_unit(g, "seconds");
    double g_bounds[] = {1, 10};
    uint64_t g_counts[] = {3, 5};
    double g_sum = 21;
    histogram_add(g, 2, g_bounds, g_counts, 7, &g_sum, NULL);
}

static void add_summary(scraper_list_metric_family_t *ret, const char *fault) {
    const char *labels[] = {is(fault, "quantile_label") ? "quantile" : "method"};
    family_t *s = family_add(ret, "shapes_rpc_seconds", "RPC latency by method.", SUMMARY, 1, labels);
    family_set_unit(s, "seconds");
    double quantiles[] = {0.5, 0.9, 0.99};
    double values[] = {0.05, 0.2, 0.75};
    if (is(fault, "quantile_range")) quantiles[2] = 1.5;
    if (is(fault, "negative_value")) values[0] = -0.05;
    const char *get[] = {"get"};
    summary_add(s, 3, quantiles, values, 120, 9.5, get);
    // No call in the period: the quantiles are NaN.
    double none[] = {NAN, NAN, NAN};
    const char *put[] = {"put"};
    summary_add(s, 3, quantiles, none, 4, 0.5, put);
}

static void add_info_and_states(scraper_list_metric_family_t *ret, const char *fault) {
    const char *info_labels[] = {"version"};
    family_t *i = family_add(ret, is(fault, "info_name") ? "shapes_build" : "shapes_build_info",
                             "Version of the shapes guest.", INFO, 1, info_labels);
    const char *version[] = {"1.2.3"};
    sample_add(i, is(fault, "info_value") ? 2 : 1, version);

    const char *state_labels[] = {is(fault, "stateset_label") ? "state" : "shapes_mode"};
    family_t *m = family_add(ret, "shapes_mode", "Mode of operation.", STATESET, 1, state_labels);
    const char *states[] = {"fast", "slow"};
    bool enabled[] = {true, false};
    if (is(fault, "stateset_label") || is(fault, "stateset_value")) {
        const char *fast[] = {"fast"};
        sample_add(m, is(fault, "stateset_value") ? 0.5 : 1, fast);
    } else {
        stateset_add(m, 2, states, enabled, NULL);
    }
}

static void add_numbers(scraper_list_metric_family_t *ret, const char *fault) {
    family_t *t = family_add(ret, "shapes_temperature_celsius", "Temperature of the room.", GAUGE, 0,
                             NULL);
    family_set_unit(t, is(fault, "unit_suffix") ? "kelvin" : "celsius");
    sample_add(t, -3.5, NULL);
    family_t *c = family_add(ret, "shapes_sent_bytes_total", "Bytes sent.", COUNTER, 0, NULL);
    family_set_unit(c, "bytes");
    sample_add(c, 1024, NULL);
    if (is(fault, "clash")) {
        // Its samples would be read as the count of shapes_request_seconds.
        sample_add(family_add(ret, "shapes_request_seconds_count", "A clash.", GAUGE, 0, NULL), 1, NULL);
    }
    if (is(fault, "wrong_value")) {
        family_t *w = family_add(ret, "shapes_wrong", "A histogram holding a number.", HISTOGRAM, 0, NULL);
        sample_add(w, 1, NULL);
    }
}

static void add_wide(scraper_list_metric_family_t *ret, long n) {
    family_t *w = family_add(ret, "shapes_wide", "A histogram with many buckets.", HISTOGRAM, 0, NULL);
    double *bounds = calloc((size_t)n, sizeof(double));
    uint64_t *counts = calloc((size_t)n, sizeof(uint64_t));
    if (!bounds || !counts) abort();
    for (long i = 0; i < n; i++) {
        bounds[i] = (double)(i + 1);
        counts[i] = (uint64_t)i;
    }
    double sum = 1;
    histogram_add(w, (size_t)n, bounds, counts, (uint64_t)n, &sum, NULL);
    free(bounds);
    free(counts);
}

bool exports_scraper_collect(scraper_list_param_t *params, scraper_list_metric_family_t *ret,
                             scraper_string_t *err) {
    char *fault_param = param_get(params, "fault");
    char *buckets_param = param_get(params, "buckets");
    scraper_list_param_free(params);
    const char *fault = fault_param ? fault_param : "none";
    bool known = false;
    for (size_t i = 0; i < sizeof FAULTS / sizeof FAULTS[0]; i++) known |= is(fault, FAULTS[i]);
    long buckets = buckets_param ? strtol(buckets_param, NULL, 10) : 0;
    free(buckets_param);
    if (!known) {
        bool r = fail(err, "parameter fault: unknown fault %s", fault);
        free(fault_param);
        return r;
    }
    add_histograms(ret, fault);
    add_summary(ret, fault);
    add_info_and_states(ret, fault);
    add_numbers(ret, fault);
    if (buckets > 0) add_wide(ret, buckets);
    free(fault_param);
    return true;
}
