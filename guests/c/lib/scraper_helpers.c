#include "scraper_helpers.h"

#include <errno.h>
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
    // stay valid while the collect function fills them in any order.
    if (out->len == 0) {
        out->ptr = calloc(MAX_FAMILIES, sizeof(family_t));
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

void sample_add(family_t *family, double value, const char *const *label_values) {
    wasm_exporter_scraper_types_list_sample_t *s = &family->samples;
    s->ptr = grow(s->ptr, s->len, sizeof(*s->ptr));
    if (!s->ptr) abort();
    wasm_exporter_scraper_types_sample_t *sample = &s->ptr[s->len++];
    size_t n = family->label_names.len;
    sample->value = value;
    sample->label_values.len = n;
    sample->label_values.ptr = n ? calloc(n, sizeof(scraper_string_t)) : NULL;
    for (size_t i = 0; i < n; i++) dup(&sample->label_values.ptr[i], label_values[i]);
}

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
