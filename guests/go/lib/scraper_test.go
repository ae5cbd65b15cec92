package scraper

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// funcCollector is a Collector made of two functions.
type funcCollector struct {
	describe func(chan<- *Desc)
	collect  func(chan<- Metric)
}

func (c funcCollector) Describe(ch chan<- *Desc) { c.describe(ch) }
func (c funcCollector) Collect(ch chan<- Metric) { c.collect(ch) }

// gatherOnly gathers exactly cs with params.
func gatherOnly(t *testing.T, params map[string]string, cs ...Collector) ([]Family, error) {
	t.Helper()
	registryMu.Lock()
	saved := registry
	registry = nil
	registryMu.Unlock()
	defer func() {
		registryMu.Lock()
		registry = saved
		registryMu.Unlock()
	}()
	MustRegister(cs...)
	return Gather(NewParams(params))
}

var (
	disks = NewDesc("sys_disk_size", "Size.", []string{"disk_name"}, Labels{"host": "a"})
	usage = NewDesc("sys_mem_usage", "Usage.", nil, nil)
)

func describeBoth(ch chan<- *Desc) { ch <- disks; ch <- usage }

func TestGathersFamiliesInOrderWithConstLabelsLast(t *testing.T) {
	got, err := gatherOnly(t, nil, funcCollector{describeBoth, func(ch chan<- Metric) {
		ch <- MustNewConstMetric(disks, GaugeValue, 1024, "sda")
		ch <- MustNewConstMetric(usage, GaugeValue, 25)
		ch <- MustNewConstMetric(disks, GaugeValue, 2048, "sdb")
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := []Family{
		{Name: "sys_disk_size", Help: "Size.", Type: GaugeValue, LabelNames: []string{"disk_name", "host"},
			Samples: []Sample{{LabelValues: []string{"sda", "a"}, Value: 1024}, {LabelValues: []string{"sdb", "a"}, Value: 2048}}},
		{Name: "sys_mem_usage", Help: "Usage.", Type: GaugeValue, LabelNames: []string{},
			Samples: []Sample{{LabelValues: []string{}, Value: 25}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
}

func TestErrorsEndTheCollectionNamingTheMetric(t *testing.T) {
	other := NewDesc("other", "Other.", nil, nil)
	cases := []struct {
		name    string
		collect func(chan<- Metric)
		want    string
	}{
		{"invalid metric", func(ch chan<- Metric) {
			ch <- NewInvalidMetric(usage, errors.New("open /proc/meminfo: no such file or directory"))
		}, "sys_mem_usage: open /proc/meminfo: no such file or directory"},
		{"label count", func(ch chan<- Metric) {
			ch <- MustNewConstMetric(disks, GaugeValue, 1)
		}, "panic: metric sys_disk_size: 0 label values for 1 variable labels"},
		{"duplicate series", func(ch chan<- Metric) {
			ch <- MustNewConstMetric(usage, GaugeValue, 1)
			ch <- MustNewConstMetric(usage, GaugeValue, 2)
		}, "was collected before with the same label values"},
		{"undescribed", func(ch chan<- Metric) {
			ch <- MustNewConstMetric(other, GaugeValue, 1)
		}, "collected metric other with a Desc its collector did not describe"},
		{"two types", func(ch chan<- Metric) {
			ch <- MustNewConstMetric(usage, GaugeValue, 1)
			ch <- MustNewConstMetric(NewDesc("sys_mem_usage", "Usage.", []string{"x"}, nil), GaugeValue, 1, "y")
		}, "collected metric sys_mem_usage"},
		{"panic", func(ch chan<- Metric) { panic("boom") }, "panic: boom"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			describe := describeBoth
			if c.name == "two types" {
				describe = func(chan<- *Desc) {} // unchecked
			}
			_, err := gatherOnly(t, nil, funcCollector{describe, c.collect})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestInvalidDescsAreReported(t *testing.T) {
	bad := NewDesc("1bad", "Bad.", nil, nil)
	_, err := gatherOnly(t, nil, funcCollector{func(ch chan<- *Desc) { ch <- bad }, func(chan<- Metric) {}})
	if err == nil || !strings.Contains(err.Error(), `"1bad" is not a valid metric name`) {
		t.Fatalf("error %v", err)
	}
	if _, err := NewConstMetric(NewDesc("ok", "Ok.", []string{"a", "a"}, nil), GaugeValue, 1, "x", "y"); err == nil ||
		!strings.Contains(err.Error(), `label "a" appears twice`) {
		t.Fatalf("error %v", err)
	}
}

type configured struct{ dir string }

func (c *configured) Configure(p Params) error {
	c.dir = p.Get("proc_dir", "/proc")
	_, err := p.Int("max", 10)
	return err
}
func (c *configured) Describe(ch chan<- *Desc) { ch <- disks }
func (c *configured) Collect(ch chan<- Metric) {
	ch <- MustNewConstMetric(disks, GaugeValue, 1, c.dir)
}

func TestParamsReachConfigureAndBadValuesNameTheParameter(t *testing.T) {
	got, err := gatherOnly(t, map[string]string{"proc_dir": "/host/proc"}, &configured{})
	if err != nil || got[0].Samples[0].LabelValues[0] != "/host/proc" {
		t.Fatalf("%+v %v", got, err)
	}
	_, err = gatherOnly(t, map[string]string{"max": "many"}, &configured{})
	if err == nil || err.Error() != `parameter max: "many" is not an int` {
		t.Fatalf("error %v", err)
	}
	p := NewParams(map[string]string{"on": "true", "every": "1m30s", "ratio": "0.5"})
	if b, err := p.Bool("on", false); !b || err != nil {
		t.Fatal(b, err)
	}
	if d, err := p.Duration("every", 0); d != 90*time.Second || err != nil {
		t.Fatal(d, err)
	}
	if f, err := p.Float("ratio", 0); f != 0.5 || err != nil {
		t.Fatal(f, err)
	}
	if f, _ := p.Float("missing", 2); f != 2 {
		t.Fatal(f)
	}
}

func TestNothingRegistered(t *testing.T) {
	if _, err := gatherOnly(t, nil); err == nil || !strings.Contains(err.Error(), "no collector registered") {
		t.Fatalf("error %v", err)
	}
}

func TestBuildFQName(t *testing.T) {
	if got := BuildFQName("node", "", "load1"); got != "node_load1" {
		t.Fatal(got)
	}
}

func TestReadFileNamesTheFile(t *testing.T) {
	if _, err := ReadFile("/nonexistent/x"); err == nil || err.Error() != "reading /nonexistent/x: No such file or directory" {
		t.Fatalf("error %v", err)
	}
	if data, err := ReadFile("files.go"); err != nil || !strings.HasPrefix(string(data), "package scraper") {
		t.Fatalf("%v", err)
	}
}
