// {{name}}: a wasm_exporter plugin in C.
//
// collect() runs once per scrape in a fresh sandbox. Read files only under
// the directories the manifest asks for (capabilities.dirs) and the
// operator grants; emit only the metrics the manifest declares. On failure,
// return fail(err, "...") naming what went wrong: the exporter counts a
// guest_error and serves none of this plugin's series for that scrape.
#include <stdlib.h>

#include "scraper_helpers.h"

bool exports_scraper_collect(scraper_list_param_t *params, scraper_list_metric_family_t *ret,
                             scraper_string_t *err) {
    char *greeting = param_get(params, "greeting");
    const char *labels[] = {"greeting"};
    const char *values[] = {greeting ? greeting : "hello"};
    family_t *f = family_add(ret, "{{metric}}_info", "A constant, to show the shape of a plugin.",
                             WASM_EXPORTER_SCRAPER_TYPES_METRIC_KIND_INFO, 1, labels);
    sample_add(f, 1, values);
    free(greeting);
    scraper_list_param_free(params);
    return true;
}
