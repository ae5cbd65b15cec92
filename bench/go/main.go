// go_exporter: the collection of the sysinfo and procstat guests, done
// natively in Go after the client_golang recipe of the exporter development
// guide (an Exporter with Describe and Collect, const metrics built on every
// scrape, the default registry, promhttp). It exists to be measured against
// the wasm exporter, so every scrape reads /proc afresh, as the guests do.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

var (
	listenAddress = flag.String("web.listen-address", ":9601", "Address to listen on for web interface and telemetry.")
	metricPath    = flag.String("web.telemetry-path", "/metrics", "Path under which to expose metrics.")
	procDir       = flag.String("proc-dir", "/proc", "Where the proc filesystem is mounted.")
)

// userHZ is the unit of /proc/stat: the kernel fixes it at 100 for user
// space on every architecture, whatever its internal HZ.
const userHZ = 100.0

// cpuModes are the first eight columns of a cpuN line; guest and guest_nice
// are already included in user and nice.
var cpuModes = []string{"user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"}

var (
	memUsageDesc = prometheus.NewDesc("sys_mem_usage", "Memory in use, percent of total memory.", nil, nil)
	diskSizeDesc = prometheus.NewDesc("sys_disk_size", "Size of the block device in bytes.", []string{"disk_name"}, nil)
	cpuDesc      = prometheus.NewDesc("cpu_seconds_total", "Seconds each CPU spent in each mode.", []string{"cpu", "mode"}, nil)
)

// Exporter collects on every scrape and counts the collections that failed.
type Exporter struct {
	scrapeErrors *prometheus.CounterVec
}

func NewExporter() *Exporter {
	return &Exporter{
		scrapeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sys_scrape_errors_total",
			Help: "Collections that failed, by collector.",
		}, []string{"collector"}),
	}
}

func (e *Exporter) Describe(ch chan<- *prometheus.Desc) {
	ch <- memUsageDesc
	ch <- diskSizeDesc
	ch <- cpuDesc
	e.scrapeErrors.Describe(ch)
}

func (e *Exporter) Collect(ch chan<- prometheus.Metric) {
	if err := ScrapeMem(ch); err != nil {
		log.Printf("mem: %v", err)
		e.scrapeErrors.WithLabelValues("mem").Inc()
	}
	if err := ScrapeDisk(ch); err != nil {
		log.Printf("disk: %v", err)
		e.scrapeErrors.WithLabelValues("disk").Inc()
	}
	if err := ScrapeCPU(ch); err != nil {
		log.Printf("cpu: %v", err)
		e.scrapeErrors.WithLabelValues("cpu").Inc()
	}
	e.scrapeErrors.Collect(ch)
}

// ScrapeMem serves (MemTotal - MemAvailable) / MemTotal, in percent.
func ScrapeMem(ch chan<- prometheus.Metric) error {
	path := *procDir + "/meminfo"
	data, err := os.ReadFile(path)
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
	ch <- prometheus.MustNewConstMetric(memUsageDesc, prometheus.GaugeValue, (total-available)/total*100)
	return nil
}

// ScrapeDisk serves the size of every device of /proc/partitions (1 KiB
// blocks) in bytes.
func ScrapeDisk(ch chan<- prometheus.Metric) error {
	data, err := os.ReadFile(*procDir + "/partitions")
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
		ch <- prometheus.MustNewConstMetric(diskSizeDesc, prometheus.GaugeValue, float64(blocks)*1024, fields[3])
	}
	return nil
}

// ScrapeCPU serves the time of each CPU in each mode from the cpuN lines of
// /proc/stat; the aggregate "cpu" line is their sum and is left out.
func ScrapeCPU(ch chan<- prometheus.Metric) error {
	path := *procDir + "/stat"
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	cpus := 0
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(line, "cpu") || len(line) < 4 || line[3] < '0' || line[3] > '9' {
			continue
		}
		fields := strings.Fields(line)
		cpu := fields[0][3:]
		columns := fields[1:]
		if len(columns) > len(cpuModes) {
			columns = columns[:len(cpuModes)]
		}
		if len(columns) < 4 {
			return fmt.Errorf("%s: cpu%s has %d columns, expected at least 4", path, cpu, len(columns))
		}
		for i, c := range columns {
			ticks, err := strconv.ParseUint(c, 10, 64)
			if err != nil {
				return fmt.Errorf("%s: cpu%s: %v", path, cpu, err)
			}
			ch <- prometheus.MustNewConstMetric(cpuDesc, prometheus.CounterValue, float64(ticks)/userHZ, cpu, cpuModes[i])
		}
		cpus++
	}
	if cpus == 0 {
		return fmt.Errorf("%s: no cpuN lines", path)
	}
	return nil
}

func main() {
	flag.Parse()
	prometheus.MustRegister(NewExporter())
	http.Handle(*metricPath, promhttp.Handler())
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("<html><head><title>go_exporter</title></head><body><a href='" + *metricPath + "'>Metrics</a></body></html>"))
	})
	listener, err := net.Listen("tcp", *listenAddress)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("listening on %s", listener.Addr())
	log.Fatal(http.Serve(listener, nil))
}
