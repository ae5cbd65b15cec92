#include "scraper_helpers.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *grow(void *ptr, size_t len, size_t elem) {
    // Doubling capacity, tracked implicitly: grow when len is a power of two.
    if (len == 0) return malloc(elem * 4);
    if (len >= 4 && (len & (len - 1)) == 0) {
        void *p = realloc(ptr, elem * len * 2);
        if (!p) abort();
        return p;
    }
    return ptr;
}

static void dup(scraper_string_t *dst, const char *s) {
    scraper_string_dup(dst, s ? s : "");
}

family_t *family_add(scraper_list_metric_family_t *out, const char *name, const char *help,
                     wasm_exporter_scraper_types_metric_kind_t kind, size_t nlabels,
                     const char *const *label_names) {
    // One allocation for all families, never moved: the pointers handed out
    // stay valid while the collect function fills them in any order. Not
    // zeroed (each family is, as it is added): a fresh instance would
    // otherwise write every page of room for MAX_FAMILIES on every call,
    // and the host would then reset them all.
    if (out->len == 0) {
        out->ptr = malloc(MAX_FAMILIES * sizeof(family_t));
        if (!out->ptr) abort();
    }
    if (out->len == MAX_FAMILIES) {
        fprintf(stderr, "scraper_helpers: more than %d families in one collect\n", MAX_FAMILIES);
        abort();
    }
    family_t *f = &out->ptr[out->len++];
    memset(f, 0, sizeof(*f));
    dup(&f->name, name);
    dup(&f->help, help);
    f->kind = kind;
    f->label_names.len = nlabels;
    f->label_names.ptr = nlabels ? calloc(nlabels, sizeof(scraper_string_t)) : NULL;
    for (size_t i = 0; i < nlabels; i++) dup(&f->label_names.ptr[i], label_names[i]);
    return f;
}

// A new sample of `family` with copies of its label values; the caller sets
// the value.
static wasm_exporter_scraper_types_sample_t *new_sample(family_t *family,
                                                         const char *const *label_values) {
    wasm_exporter_scraper_types_list_sample_t *s = &family->samples;
    s->ptr = grow(s->ptr, s->len, sizeof(*s->ptr));
    if (!s->ptr) abort();
    wasm_exporter_scraper_types_sample_t *sample = &s->ptr[s->len++];
    memset(sample, 0, sizeof(*sample));
    size_t n = family->label_names.len;
    sample->label_values.len = n;
    sample->label_values.ptr = n ? calloc(n, sizeof(scraper_string_t)) : NULL;
    for (size_t i = 0; i < n; i++) dup(&sample->label_values.ptr[i], label_values[i]);
    return sample;
}

void sample_add(family_t *family, double value, const char *const *label_values) {
    wasm_exporter_scraper_types_sample_t *sample = new_sample(family, label_values);
#ifdef SCRAPER_WIT_0_2
    sample->value.tag = WASM_EXPORTER_SCRAPER_TYPES_SAMPLE_VALUE_NUMBER;
    sample->value.val.number = value;
#else
    sample->value = value;
#endif
}

#ifdef SCRAPER_WIT_0_2
void family_set_unit(family_t *family, const char *unit) {
    scraper_string_free(&family->unit);
    dup(&family->unit, unit);
}

void histogram_add(family_t *family, size_t n, const double *bounds, const uint64_t *counts,
                   uint64_t count, const double *sum, const char *const *label_values) {
    wasm_exporter_scraper_types_sample_t *sample = new_sample(family, label_values);
    sample->value.tag = WASM_EXPORTER_SCRAPER_TYPES_SAMPLE_VALUE_HISTOGRAM;
    wasm_exporter_scraper_types_histogram_t *h = &sample->value.val.histogram;
    bool has_inf = n > 0 && bounds[n - 1] == INFINITY;
    size_t total = n + (has_inf ? 0 : 1);
    h->buckets.ptr = calloc(total, sizeof(*h->buckets.ptr));
    if (!h->buckets.ptr) abort();
    h->buckets.len = total;
    for (size_t i = 0; i < n; i++) {
        h->buckets.ptr[i].upper_bound = bounds[i];
        h->buckets.ptr[i].count = counts[i];
    }
    if (!has_inf) {
        h->buckets.ptr[n].upper_bound = INFINITY;
        h->buckets.ptr[n].count = count;
    }
    h->count = count;
    h->sum.is_some = sum != NULL;
    h->sum.val = sum ? *sum : 0;
}

void summary_add(family_t *family, size_t n, const double *quantiles, const double *values,
                 uint64_t count, double sum, const char *const *label_values) {
    wasm_exporter_scraper_types_sample_t *sample = new_sample(family, label_values);
    sample->value.tag = WASM_EXPORTER_SCRAPER_TYPES_SAMPLE_VALUE_SUMMARY;
    wasm_exporter_scraper_types_summary_t *q = &sample->value.val.summary;
    q->quantiles.ptr = n ? calloc(n, sizeof(*q->quantiles.ptr)) : NULL;
    if (n && !q->quantiles.ptr) abort();
    q->quantiles.len = n;
    for (size_t i = 0; i < n; i++) {
        q->quantiles.ptr[i].quantile = quantiles[i];
        q->quantiles.ptr[i].value = values[i];
    }
    q->count = count;
    q->sum = sum;
}

void stateset_add(family_t *family, size_t n, const char *const *states, const bool *enabled,
                  const char *const *label_values) {
    size_t nlabels = family->label_names.len;
    size_t state_at = nlabels;
    for (size_t i = 0; i < nlabels; i++) {
        if (family->label_names.ptr[i].len == family->name.len &&
            memcmp(family->label_names.ptr[i].ptr, family->name.ptr, family->name.len) == 0) {
            state_at = i;
        }
    }
    if (state_at == nlabels) {
        fprintf(stderr, "scraper_helpers: a stateset needs a label named like the family\n");
        abort();
    }
    const char **values = calloc(nlabels, sizeof(char *));
    if (!values) abort();
    for (size_t s = 0; s < n; s++) {
        for (size_t i = 0, j = 0; i < nlabels; i++) {
            values[i] = i == state_at ? states[s] : label_values[j++];
        }
        sample_add(family, enabled[s] ? 1 : 0, values);
    }
    free(values);
}
#endif

char *param_get(const scraper_list_param_t *params, const char *name) {
    size_t name_len = strlen(name);
    for (size_t i = 0; i < params->len; i++) {
        const scraper_param_t *p = &params->ptr[i];
        if (p->name.len == name_len && memcmp(p->name.ptr, name, name_len) == 0) {
            char *v = malloc(p->value.len + 1);
            if (!v) abort();
            memcpy(v, p->value.ptr, p->value.len);
            v[p->value.len] = 0;
            return v;
        }
    }
    return NULL;
}

bool param_double(const scraper_list_param_t *params, const char *name, double fallback,
                  double *out, scraper_string_t *err) {
    char *v = param_get(params, name);
    if (!v) {
        *out = fallback;
        return true;
    }
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    bool ok = end != v && *end == 0 && errno == 0;
    if (ok) *out = d;
    else fail(err, "parameter %s: \"%s\" is not a valid float", name, v);
    free(v);
    return ok;
}

bool param_long(const scraper_list_param_t *params, const char *name, long long fallback,
                long long *out, scraper_string_t *err) {
    char *v = param_get(params, name);
    if (!v) {
        *out = fallback;
        return true;
    }
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    bool ok = end != v && *end == 0 && errno == 0;
    if (ok) *out = n;
    else fail(err, "parameter %s: \"%s\" is not a valid int", name, v);
    free(v);
    return ok;
}

bool param_bool(const scraper_list_param_t *params, const char *name, bool fallback, bool *out,
                scraper_string_t *err) {
    char *v = param_get(params, name);
    if (!v) {
        *out = fallback;
        return true;
    }
    bool ok = true;
    if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0) *out = true;
    else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0) *out = false;
    else ok = fail(err, "parameter %s: \"%s\" is not a valid bool", name, v);
    free(v);
    return ok;
}

bool fail(scraper_string_t *err, const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    scraper_string_dup(err, buf);
    return false;
}
