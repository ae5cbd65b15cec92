"""{{name}}: a wasm_exporter plugin in Python.

collect() runs once per scrape in a fresh sandbox. Read files only under the
directories the manifest asks for (capabilities.dirs) and the operator
grants; emit only the metrics the manifest declares. On failure, call
fail("...") naming what went wrong: the exporter counts a guest_error and
serves none of this plugin's series for that scrape.
"""

import wit_world
from scraper_helpers import INFO, collector, family, params_dict, sample


class WitWorld(wit_world.WitWorld):
    @collector
    def collect(self, params):
        info = family("{{metric}}_info", "A constant, to show the shape of a plugin.", INFO, ["greeting"])
        sample(info, 1, params_dict(params).get("greeting", "hello"))
        return [info]
