// {{name}}: a wasm_exporter plugin in Go.
//
// Collect runs once per scrape in a fresh sandbox. Read files (scraper.ReadFile)
// only under the directories the manifest asks for (capabilities.dirs) and
// the operator grants; emit only the metrics the manifest declares. On
// failure, send scraper.NewInvalidMetric(desc, err) naming what went wrong:
// the exporter counts a guest_error and serves none of this plugin's series
// for that scrape. The scraper package (lib/) has client_golang's shape;
// its documentation: `go doc -all wasm_exporter/scraper`.
package main

import "wasm_exporter/scraper"

var infoDesc = scraper.NewDesc("{{metric}}_info", "A constant, to show the shape of a plugin.", []string{"greeting"}, nil)

// Collector serves the plugin's metrics.
type Collector struct {
	greeting string
}

// Configure takes the module's parameters, before every collection.
func (c *Collector) Configure(p scraper.Params) error {
	c.greeting = p.Get("greeting", "hello")
	return nil
}

func (c *Collector) Describe(ch chan<- *scraper.Desc) {
	ch <- infoDesc
}

func (c *Collector) Collect(ch chan<- scraper.Metric) {
	// An info metric: its information in labels, the value 1. Other types:
	// GaugeValue, CounterValue; MustNewConstHistogram, MustNewConstSummary;
	// Desc.WithUnit.
	ch <- scraper.MustNewConstMetric(infoDesc, scraper.InfoValue, 1, c.greeting)
}

func init() {
	scraper.MustRegister(&Collector{})
}

// main never runs (the component is a library the exporter calls), but
// package main needs it.
func main() {}
