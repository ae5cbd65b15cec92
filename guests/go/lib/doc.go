// Package scraper writes wasm_exporter scrapers in Go the way
// client_golang writes collectors: describe each metric once with
// NewDesc, and on every scrape send const metrics built with
// MustNewConstMetric from a Collector's Collect method.
//
//	var memUsage = scraper.NewDesc("sys_mem_usage", "Memory in use, percent.", nil, nil)
//
//	type Exporter struct{ procDir string }
//
//	func (e *Exporter) Configure(p scraper.Params) error {
//		e.procDir = p.Get("proc_dir", "/proc")
//		return nil
//	}
//	func (e *Exporter) Describe(ch chan<- *scraper.Desc) { ch <- memUsage }
//	func (e *Exporter) Collect(ch chan<- scraper.Metric) {
//		v, err := readUsage(e.procDir + "/meminfo")
//		if err != nil {
//			ch <- scraper.NewInvalidMetric(memUsage, err)
//			return
//		}
//		ch <- scraper.MustNewConstMetric(memUsage, scraper.GaugeValue, v)
//	}
//
//	func init() { scraper.MustRegister(&Exporter{}) }
//	func main() {}
//
// The exporter instantiates the component afresh for every scrape and calls
// it once, so a scrape is: the package's init functions (registration),
// Configure with the operator's parameters (for collectors that implement
// Configurable), Describe, then Collect. What the collectors send is
// gathered into metric families and checked the way client_golang's
// registry checks it (a metric of an undescribed Desc, label values that do
// not match, the same series twice, one name with two helps or types).
//
// Errors: a collector reports a failure with NewInvalidMetric (as in
// client_golang), a Configurable returns it, and a panic (MustNewConstMetric
// with the wrong number of label values, say) is recovered. Each ends the
// collection with err("reason") in one line: the exporter counts a
// guest_error for the module and serves none of its series for that scrape.
//
// Files are read with ReadFile (or the os package); only the directories
// the operator grants are there, so read them through a path given by a
// parameter.
//
// The types of the scraper world 0.2.0 are made as in client_golang:
// MustNewConstMetric with CounterValue, GaugeValue, UntypedValue or
// InfoValue (value 1); MustNewConstHistogram(desc, count, sum, buckets,
// labelValues...) with buckets mapping upper bounds to cumulative counts
// (+Inf is added with count) and MustNewConstGaugeHistogram likewise;
// MustNewConstSummary(desc, count, sum, quantiles, labelValues...) with
// quantiles mapping quantiles to values. A Desc made WithUnit("seconds")
// carries a unit (# UNIT in OpenMetrics). HistogramOf and SummaryOf turn
// single observations a guest reads into those arguments:
//
//	var jobs = scraper.NewDesc("job_duration_seconds", "Job durations.",
//		[]string{"job"}, nil).WithUnit("seconds")
//	...
//	count, sum, buckets := scraper.HistogramOf([]float64{0.1, 1, 10}, seconds)
//	ch <- scraper.MustNewConstHistogram(jobs, count, sum, buckets, "backup")
package scraper
