// durations: the job durations a file records (one "JOB SECONDS" line per
// run, as a batch job appends them), served as a histogram and a summary
// per job with MustNewConstHistogram and MustNewConstSummary. The Rust
// guest of the same name (guests/rust/durations) serves the same series.
//
// Parameters: file (default /data/durations), buckets (upper bounds in
// seconds, comma-separated; default 0.1,0.5,1,5,10), quantiles (default
// 0.5,0.9,0.99).
package main

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"wasm_exporter/scraper"
)

var (
	durationDesc = scraper.NewDesc("job_duration_seconds", "Duration of the recorded job runs.",
		[]string{"job"}, nil).WithUnit("seconds")
	quantilesDesc = scraper.NewDesc("job_duration_quantiles_seconds",
		"Quantiles of the recorded job run durations (nearest rank).", []string{"job"}, nil).WithUnit("seconds")
)

// Durations collects on every scrape.
type Durations struct {
	file      string
	bounds    []float64
	quantiles []float64
}

// Configure takes the parameters, naming the one that does not parse.
func (d *Durations) Configure(p scraper.Params) error {
	d.file = p.Get("file", "/data/durations")
	var err error
	if d.bounds, err = numbers(p, "buckets", "0.1,0.5,1,5,10"); err != nil {
		return err
	}
	d.quantiles, err = numbers(p, "quantiles", "0.5,0.9,0.99")
	return err
}

func (d *Durations) Describe(ch chan<- *scraper.Desc) {
	ch <- durationDesc
	ch <- quantilesDesc
}

func (d *Durations) Collect(ch chan<- scraper.Metric) {
	runs, err := d.read()
	if err != nil {
		ch <- scraper.NewInvalidMetric(durationDesc, err)
		return
	}
	jobs := make([]string, 0, len(runs))
	for job := range runs {
		jobs = append(jobs, job)
	}
	sort.Strings(jobs)
	for _, job := range jobs {
		count, sum, buckets := scraper.HistogramOf(d.bounds, runs[job])
		ch <- scraper.MustNewConstHistogram(durationDesc, count, sum, buckets, job)
	}
	for _, job := range jobs {
		count, sum, quantiles := scraper.SummaryOf(d.quantiles, runs[job])
		ch <- scraper.MustNewConstSummary(quantilesDesc, count, sum, quantiles, job)
	}
}

// read returns the durations of each job, from "JOB SECONDS" lines (blank
// lines and # comments skipped).
func (d *Durations) read() (map[string][]float64, error) {
	data, err := scraper.ReadFile(d.file)
	if err != nil {
		return nil, err
	}
	runs := map[string][]float64{}
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		var seconds float64
		if len(fields) == 2 {
			seconds, err = strconv.ParseFloat(fields[1], 64)
		}
		if len(fields) != 2 || err != nil || !(seconds >= 0) {
			return nil, fmt.Errorf("%s:%d: expected JOB SECONDS (seconds a number >= 0), got %q", d.file, i+1, line)
		}
		runs[fields[0]] = append(runs[fields[0]], seconds)
	}
	return runs, nil
}

// numbers returns the comma-separated numbers of parameter name.
func numbers(p scraper.Params, name, def string) ([]float64, error) {
	var out []float64
	for _, v := range strings.Split(p.Get(name, def), ",") {
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return nil, fmt.Errorf("parameter %s: %q is not a number", name, v)
		}
		out = append(out, f)
	}
	return out, nil
}

func init() {
	scraper.MustRegister(&Durations{})
}

// main never runs (the component is a library the exporter calls), but
// package main needs it.
func main() {}
