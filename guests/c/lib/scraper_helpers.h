// Small helpers for C scrapers on top of the wit-bindgen C bindings:
// growing lists of families and samples (family_add, sample_add), parameters
// (param_get, and param_double / param_long / param_bool, which parse and
// name the parameter in their error), errors (fail). Histograms and
// summaries come with version 0.2 of the scraper world, whose metric model
// carries them (as kinds and a sample function of their own).
//
// Ownership: everything handed to the host must be heap-allocated, because
// the bindings free the returned value after the host has read it. These
// helpers always copy.
#ifndef SCRAPER_HELPERS_H
#define SCRAPER_HELPERS_H

#include <stdbool.h>
#include <stddef.h>

#include <stdint.h>

#include "scraper.h"

// The helpers serve both versions of the scraper world; the bindings say
// which one this guest is built against (only 0.2.0 has histograms).
#ifdef WASM_EXPORTER_SCRAPER_TYPES_METRIC_KIND_HISTOGRAM
#define SCRAPER_WIT_0_2 1
#endif

typedef scraper_metric_family_t family_t;

// Short names of the metric kinds.
#define GAUGE WASM_EXPORTER_SCRAPER_TYPES_METRIC_KIND_GAUGE
#define COUNTER WASM_EXPORTER_SCRAPER_TYPES_METRIC_KIND_COUNTER
#define UNTYPED WASM_EXPORTER_SCRAPER_TYPES_METRIC_KIND_UNTYPED
#ifdef SCRAPER_WIT_0_2
#define HISTOGRAM WASM_EXPORTER_SCRAPER_TYPES_METRIC_KIND_HISTOGRAM
#define GAUGE_HISTOGRAM WASM_EXPORTER_SCRAPER_TYPES_METRIC_KIND_GAUGE_HISTOGRAM
#define SUMMARY WASM_EXPORTER_SCRAPER_TYPES_METRIC_KIND_SUMMARY
#define INFO WASM_EXPORTER_SCRAPER_TYPES_METRIC_KIND_INFO
#define STATESET WASM_EXPORTER_SCRAPER_TYPES_METRIC_KIND_STATESET
#endif

// Families one collect can return with these helpers.
#define MAX_FAMILIES 256

// Appends an empty family of `kind` (GAUGE, COUNTER...). `label_names`
// holds `nlabels` names. The pointer
// stays valid for the whole collect, however many families follow (up to
// MAX_FAMILIES; one more aborts, which the host reports as a trap).
family_t *family_add(scraper_list_metric_family_t *out, const char *name, const char *help,
                     wasm_exporter_scraper_types_metric_kind_t kind, size_t nlabels,
                     const char *const *label_names);

// Appends a sample holding a number (gauge, counter, untyped, and 1 for an
// INFO family); `label_values` holds as many values as the family has label
// names.
void sample_add(family_t *family, double value, const char *const *label_values);

#ifdef SCRAPER_WIT_0_2
// Sets the family's unit ("seconds", "bytes"): the name must end in _UNIT
// (before _total for a counter).
void family_set_unit(family_t *family, const char *unit);

// Appends a histogram sample (HISTOGRAM or GAUGE_HISTOGRAM family): `n`
// buckets with ascending upper bounds `bounds` and cumulative counts
// `counts`, all observations `count`, and their sum (`sum` NULL: no sum).
// The +Inf bucket is added with `count` unless the last bound is INFINITY.
void histogram_add(family_t *family, size_t n, const double *bounds, const uint64_t *counts,
                   uint64_t count, const double *sum, const char *const *label_values);

// Appends a summary sample: `n` quantiles (0..1) with their values (NAN
// when nothing was observed), all observations `count` and their sum.
void summary_add(family_t *family, size_t n, const double *quantiles, const double *values,
                 uint64_t count, double sum, const char *const *label_values);

// Appends the `n` states of a STATESET family (one sample each, 1 for an
// enabled state, 0 otherwise). The family's label names include its own
// name, which holds the state; `label_values` holds the values of its other
// labels, in order.
void stateset_add(family_t *family, size_t n, const char *const *states, const bool *enabled,
                  const char *const *label_values);
#endif

// The value of parameter `name` as a new NUL-terminated string, or NULL
// when the operator did not set it.
char *param_get(const scraper_list_param_t *params, const char *name);

// Parameter `name` parsed into `*out`, or `fallback` when it is not set.
// Returns false with `err` naming the parameter when the value does not
// parse (so `if (!param_long(params, "max", 10, &max, err)) return false;`).
bool param_double(const scraper_list_param_t *params, const char *name, double fallback,
                  double *out, scraper_string_t *err);
bool param_long(const scraper_list_param_t *params, const char *name, long long fallback,
                long long *out, scraper_string_t *err);
// true/false (or 1/0).
bool param_bool(const scraper_list_param_t *params, const char *name, bool fallback, bool *out,
                scraper_string_t *err);

// Sets `err` to a formatted message (printf-style) and returns false, so a
// collect function can `return fail(err, "...", ...)`.
bool fail(scraper_string_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
