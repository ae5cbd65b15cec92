// generated: a guest whose output is drawn at random from a seed, for the
// exporter's generated-output tests. Every shape the WIT world allows comes
// out: names and label values of every byte class (quotes, backslashes,
// newlines, NUL, multi-byte UTF-8, and bytes that are not UTF-8 at all),
// empty and long strings, NaN, ±Inf, -0, subnormal and negative values,
// counts within and beyond the exporter's caps, duplicate series,
// mismatched label counts, clashing names, err(...) and traps.
//
// About half of the seeds give clean output (which the exporter must
// serve); the others carry faults at random (which it must refuse, counted
// under a reason).
//
// Parameters: `seed` (a number) fixes the output; without it the seed is
// drawn from WASI's random source. Either way the guest writes
// `seed=N clean=0|1` to stderr first, so the exporter's log tells which seed
// produced what, and `seed=N` reproduces it.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scraper_helpers.h"

static uint64_t state;

// splitmix64: small, fast, and the same on every platform.
static uint64_t next(void) {
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static size_t below(size_t n) { return n ? (size_t)(next() % n) : 0; }
static int chance(unsigned percent) { return below(100) < percent; }

// Percent chance of a fault at each decision; 0 for clean seeds.
static unsigned fault_rate;
static int fault(void) { return fault_rate && chance(fault_rate); }

// Whether this seed's strings may hold bytes that are not UTF-8 (the host
// refuses them while reading the answer); some faulty seeds only.
static int not_utf8;

// Caps the exporter is configured with in the tests (a little beyond them
// is "beyond the caps").
#define NAME_CAP 64
#define VALUE_CAP 200
#define HELP_CAP 256
#define SERIES_CAP 300
#define FAMILIES_CAP 16

typedef struct {
    uint8_t *ptr;
    size_t len, cap;
} buf_t;

static void put(buf_t *b, const void *bytes, size_t n) {
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 16;
        b->ptr = realloc(b->ptr, b->cap);
        if (!b->ptr) abort();
    }
    memcpy(b->ptr + b->len, bytes, n);
    b->len += n;
}

static void putc_(buf_t *b, char c) { put(b, &c, 1); }

static scraper_string_t finish(buf_t *b) {
    scraper_string_t s = {b->ptr, b->len};
    if (!s.ptr) s.ptr = malloc(1);  // a valid pointer even when empty
    return s;
}

static const char FIRST_METRIC[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_:";
static const char FIRST_LABEL[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_";
static const char REST_METRIC[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_:";
static const char REST_LABEL[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_";

// Pieces of text of every byte class; the last ones are not UTF-8.
static const char *const PIECES[] = {
    "a", "Z", "0", " ", "\"", "\\", "\n", "\r", "\t", "{", "}", "=", ",", "#",
    "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xe2\x80\xa8", "\x7f",
};
#define VALID_PIECES (sizeof PIECES / sizeof *PIECES)
static const char *const NOT_UTF8[] = {"\xff", "\xc3", "\xed\xa0\x80", "\x80\x41\x42", "\xf8\x88\x80\x80\x80"};

static void text(buf_t *b, size_t max) {
    size_t n = below(max + 1);
    for (size_t i = 0; i < n; i++) {
        if (chance(3)) {
            putc_(b, 0);  // NUL: valid in a WIT string
        } else {
            const char *p = PIECES[below(VALID_PIECES)];
            put(b, p, strlen(p));
        }
    }
    if (not_utf8 && chance(5)) {
        const char *p = NOT_UTF8[below(sizeof NOT_UTF8 / sizeof *NOT_UTF8)];
        put(b, p, strlen(p));
    }
}

// A name valid for its kind, or with a fault one that is not (or is too
// long, or reserved).
static scraper_string_t name(int metric) {
    buf_t b = {0};
    if (fault()) {
        switch (below(7)) {
            case 0: break;  // empty
            case 1: putc_(&b, '0' + (char)below(10)); putc_(&b, 'x'); break;
            case 2: put(&b, "__x", 3); break;
            case 3: put(&b, "wasm_exporter_x", 15); break;
            case 4: put(&b, "a-b", 3); break;
            case 5: for (size_t i = 0, n = NAME_CAP + 1 + below(200); i < n; i++) putc_(&b, 'n'); break;
            default: text(&b, 6); break;
        }
        return finish(&b);
    }
    const char *first = metric ? FIRST_METRIC : FIRST_LABEL;
    const char *rest = metric ? REST_METRIC : REST_LABEL;
    char c = first[below(strlen(first))];
    putc_(&b, c);
    // No reserved `__` prefix.
    char d = rest[below(strlen(rest))];
    if (c == '_' && d == '_') d = 'x';
    putc_(&b, d);
    for (size_t i = 0, n = below(12); i < n; i++) putc_(&b, rest[below(strlen(rest))]);
    return finish(&b);
}

static double value(int counter) {
    double v;
    switch (below(12)) {
        case 0: v = NAN; break;
        case 1: v = INFINITY; break;
        case 2: v = -INFINITY; break;
        case 3: v = -0.0; break;
        case 4: v = 5e-324; break;
        case 5: v = 1.7976931348623157e308; break;
        case 6: {
            uint64_t bits = next();
            memcpy(&v, &bits, sizeof v);
            break;
        }
        default: v = (double)(int64_t)(next() % 2000001) - 1000000.0; break;
    }
    // Counters may be neither negative nor NaN (but for a fault).
    if (counter && (v < 0 || isnan(v)) && !fault()) v = isnan(v) ? 0 : -v;
    return v;
}

static scraper_string_t *strings(size_t n) {
    return n ? calloc(n, sizeof(scraper_string_t)) : NULL;
}

static void family(family_t *f, size_t index, int series_budget) {
    memset(f, 0, sizeof *f);
    buf_t b = {0};
    if (fault_rate && chance(20)) {
        // Names from a small pool, with and without `_total`, so that some
        // families meet: as duplicates, or in OpenMetrics (a counter `m1`
        // is `m1_total` there).
        char pool[16];
        snprintf(pool, sizeof pool, "m%zu%s", below(4), chance(50) ? "_total" : "");
        put(&b, pool, strlen(pool));
    } else {
        scraper_string_t n = name(1);
        put(&b, n.ptr, n.len);
        free(n.ptr);
        // Clean names are told apart by their index (and never end in
        // `_total`, so no two meet in OpenMetrics either).
        char idx[24];
        snprintf(idx, sizeof idx, "_f%zu", index);
        put(&b, idx, strlen(idx));
    }
    f->name = finish(&b);
    buf_t help = {0};
    text(&help, fault() ? HELP_CAP * 2 : 12);
    f->help = finish(&help);
    f->kind = (wasm_exporter_scraper_types_metric_kind_t)below(3);
    int counter = f->kind == WASM_EXPORTER_SCRAPER_TYPES_METRIC_KIND_COUNTER;

    size_t nlabels = fault() ? below(40) : below(5);
    f->label_names.len = nlabels;
    f->label_names.ptr = strings(nlabels);
    for (size_t i = 0; i < nlabels; i++) {
        // Distinct when clean: the index makes each name unique.
        buf_t b = {0};
        scraper_string_t n = name(0);
        put(&b, n.ptr, n.len);
        free(n.ptr);
        if (!fault()) {
            char idx[24];
            snprintf(idx, sizeof idx, "_%zu", i);
            put(&b, idx, strlen(idx));
        }
        f->label_names.ptr[i] = finish(&b);
    }

    size_t nsamples = nlabels || fault() ? (size_t)below((size_t)series_budget + 1) : below(2);
    if (fault() && chance(30)) nsamples = SERIES_CAP + 1 + below(50);
    f->samples.len = nsamples;
    f->samples.ptr = nsamples ? calloc(nsamples, sizeof *f->samples.ptr) : NULL;
    for (size_t s = 0; s < nsamples; s++) {
        wasm_exporter_scraper_types_sample_t *sample = &f->samples.ptr[s];
        size_t nvalues = nlabels;
        if (fault()) nvalues = below(nlabels + 2);  // mismatched label count
        sample->label_values.len = nvalues;
        sample->label_values.ptr = strings(nvalues);
        for (size_t i = 0; i < nvalues; i++) {
            buf_t b = {0};
            if (i == 0 && !fault()) {
                // The first value tells the series apart (clean output).
                char idx[24];
                snprintf(idx, sizeof idx, "%zu:", s);
                put(&b, idx, strlen(idx));
            }
            text(&b, fault() && chance(30) ? VALUE_CAP * 2 : 8);
            sample->label_values.ptr[i] = finish(&b);
        }
        sample->value = value(counter);
    }
}

bool exports_scraper_collect(scraper_list_param_t *params, scraper_list_metric_family_t *ret,
                             scraper_string_t *err) {
    char *seed_p = param_get(params, "seed");
    uint64_t seed;
    if (seed_p) {
        seed = strtoull(seed_p, NULL, 10);
        free(seed_p);
    } else if (getentropy(&seed, sizeof seed) != 0) {
        return fail(err, "no random source");
    }
    scraper_list_param_free(params);
    state = seed;
    int clean = chance(50);
    fault_rate = clean ? 0 : (unsigned)(1 + below(10));
    fprintf(stderr, "seed=%llu clean=%d\n", (unsigned long long)seed, clean);
    fflush(stderr);

    not_utf8 = !clean && chance(15);
    if (!clean && chance(4)) abort();  // a trap
    if (!clean && chance(4)) return fail(err, "seed %llu says no", (unsigned long long)seed);

    size_t nfamilies = fault() ? below(FAMILIES_CAP + 8) : below(FAMILIES_CAP / 2);
    int budget = SERIES_CAP / (int)(nfamilies ? nfamilies : 1);
    ret->len = nfamilies;
    ret->ptr = nfamilies ? calloc(nfamilies, sizeof(family_t)) : NULL;
    for (size_t i = 0; i < nfamilies; i++) family(&ret->ptr[i], i, budget);
    return true;
}
