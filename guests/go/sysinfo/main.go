// sysinfo: the exporter development guide's Go collector (the client_golang
// recipe of bench/go/main.go), ported to a wasm_exporter scraper with the
// scraper package, which has client_golang's shape. It serves the same
// series as the C sysinfo plugin (guests/c/sysinfo):
//
//	sys_mem_usage                 memory in use, percent of MemTotal
//	sys_disk_size{disk_name=...}  size of each block device in bytes
//
// What changed from the native collector: the prometheus package is now
// scraper; os.ReadFile is scraper.ReadFile (whose errors say when a file
// is outside the granted directories); the -proc-dir flag is the proc_dir parameter (Configure); a read
// that fails sends NewInvalidMetric, which fails the scrape of this module,
// instead of counting sys_scrape_errors_total (the exporter counts failed
// scrapes itself, in wasm_exporter_scrape_errors_total); registration is in
// init, since a component's main never runs; there is no HTTP server.
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"wasm_exporter/scraper"
)

var (
	memUsageDesc = scraper.NewDesc("sys_mem_usage", "Memory in use, percent of total memory.", nil, nil)
	diskSizeDesc = scraper.NewDesc("sys_disk_size", "Size of the block device in bytes.", []string{"disk_name"}, nil)
)

// Exporter collects on every scrape.
type Exporter struct {
	procDir string
}

// Configure takes the proc_dir parameter: where the proc filesystem the
// operator grants is in the guest.
func (e *Exporter) Configure(p scraper.Params) error {
	e.procDir = strings.TrimRight(p.Get("proc_dir", "/proc"), "/")
	return nil
}

func (e *Exporter) Describe(ch chan<- *scraper.Desc) {
	ch <- memUsageDesc
	ch <- diskSizeDesc
}

func (e *Exporter) Collect(ch chan<- scraper.Metric) {
	if err := e.ScrapeMem(ch); err != nil {
		ch <- scraper.NewInvalidMetric(memUsageDesc, err)
		return
	}
	if err := e.ScrapeDisk(ch); err != nil {
		ch <- scraper.NewInvalidMetric(diskSizeDesc, err)
	}
}

// ScrapeMem serves (MemTotal - MemAvailable) / MemTotal, in percent.
func (e *Exporter) ScrapeMem(ch chan<- scraper.Metric) error {
	path := e.procDir + "/meminfo"
	data, err := scraper.ReadFile(path)
	if err != nil {
		return err
	}
	total, available := -1.0, -1.0
	s := bufio.NewScanner(bytes.NewReader(data))
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) < 2 {
			continue
		}
		switch fields[0] {
		case "MemTotal:":
			total, _ = strconv.ParseFloat(fields[1], 64)
		case "MemAvailable:":
			available, _ = strconv.ParseFloat(fields[1], 64)
		}
	}
	if total <= 0 || available < 0 {
		return fmt.Errorf("%s has no MemTotal or MemAvailable line", path)
	}
	ch <- scraper.MustNewConstMetric(memUsageDesc, scraper.GaugeValue, (total-available)/total*100)
	return nil
}

// ScrapeDisk serves the size of every device of /proc/partitions (1 KiB
// blocks) in bytes.
func (e *Exporter) ScrapeDisk(ch chan<- scraper.Metric) error {
	data, err := scraper.ReadFile(e.procDir + "/partitions")
	if err != nil {
		return err
	}
	s := bufio.NewScanner(bytes.NewReader(data))
	for s.Scan() {
		// "major minor  #blocks  name"; the header and blank line do not parse.
		fields := strings.Fields(s.Text())
		if len(fields) != 4 {
			continue
		}
		blocks, err := strconv.ParseUint(fields[2], 10, 64)
		if err != nil {
			continue
		}
		ch <- scraper.MustNewConstMetric(diskSizeDesc, scraper.GaugeValue, float64(blocks)*1024, fields[3])
	}
	return nil
}

func init() {
	scraper.MustRegister(&Exporter{})
}

// main never runs: the component is a library whose collect the exporter
// calls. Go requires it of package main.
func main() {}
