package scraper

import (
	"math"
	"reflect"
	"strings"
	"testing"

	types "wasm_exporter/scraper/internal/wit/imports/wasm_exporter_scraper_types"
)

var (
	latency = NewDesc("http_request_seconds", "Latency.", []string{"path"}, nil).WithUnit("seconds")
	rpc     = NewDesc("rpc_seconds", "RPC.", nil, Labels{"host": "a"}).WithUnit("seconds")
	queue   = NewDesc("queue_age_seconds", "Ages.", nil, nil)
	build   = NewDesc("app_build_info", "Build.", []string{"version"}, nil)
)

func everyType(ch chan<- *Desc) { ch <- latency; ch <- rpc; ch <- queue; ch <- build }

func float(v float64) *float64 { return &v }

func TestHistogramsSummariesAndInfoAreGathered(t *testing.T) {
	got, err := gatherOnly(t, nil, funcCollector{everyType, func(ch chan<- Metric) {
		// Bounds in any order; the +Inf bucket is added with the count.
		ch <- MustNewConstHistogram(latency, 10, 4.5, map[float64]uint64{1: 9, 0.1: 2, 0.5: 6}, "/a")
		ch <- MustNewConstHistogram(latency, 3, 1, map[float64]uint64{math.Inf(1): 3}, "/b")
		ch <- MustNewConstSummary(rpc, 120, 9.5, map[float64]float64{0.99: 0.75, 0.5: 0.05})
		ch <- MustNewConstGaugeHistogram(queue, 7, 21, map[float64]uint64{10: 5})
		ch <- MustNewConstMetric(build, InfoValue, 1, "1.2.3")
	}})
	if err != nil {
		t.Fatal(err)
	}
	inf := math.Inf(1)
	want := []Family{
		{Name: "http_request_seconds", Help: "Latency.", Unit: "seconds", Type: HistogramValue, LabelNames: []string{"path"},
			Samples: []Sample{
				{LabelValues: []string{"/a"}, Histogram: &Histogram{Buckets: []Bucket{{0.1, 2}, {0.5, 6}, {1, 9}, {inf, 10}}, Count: 10, Sum: float(4.5)}},
				{LabelValues: []string{"/b"}, Histogram: &Histogram{Buckets: []Bucket{{inf, 3}}, Count: 3, Sum: float(1)}},
			}},
		{Name: "rpc_seconds", Help: "RPC.", Unit: "seconds", Type: SummaryValue, LabelNames: []string{"host"},
			Samples: []Sample{{LabelValues: []string{"a"}, Summary: &Summary{Quantiles: []Quantile{{0.5, 0.05}, {0.99, 0.75}}, Count: 120, Sum: 9.5}}}},
		{Name: "queue_age_seconds", Help: "Ages.", Type: GaugeHistogramValue, LabelNames: []string{},
			Samples: []Sample{{LabelValues: []string{}, Histogram: &Histogram{Buckets: []Bucket{{10, 5}, {inf, 7}}, Count: 7, Sum: float(21)}}}},
		{Name: "app_build_info", Help: "Build.", Type: InfoValue, LabelNames: []string{"version"},
			Samples: []Sample{{LabelValues: []string{"1.2.3"}, Value: 1}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
}

func TestFamiliesBecomeTheWorldsTypes(t *testing.T) {
	registryMu.Lock()
	saved := registry
	registry = []Collector{funcCollector{everyType, func(ch chan<- Metric) {
		ch <- MustNewConstHistogram(latency, 2, 0.3, map[float64]uint64{0.1: 1}, "/a")
		ch <- MustNewConstSummary(rpc, 3, 4, map[float64]float64{0.5: 1})
		ch <- MustNewConstMetric(build, InfoValue, 1, "1.2.3")
	}}}
	registryMu.Unlock()
	defer func() { registryMu.Lock(); registry = saved; registryMu.Unlock() }()

	families, reason, ok := handle([]types.Param{{Name: "x", Value: "y"}})
	if !ok {
		t.Fatal(reason)
	}
	h := families[0]
	if h.Kind != types.MetricKind_Histogram || h.Unit != "seconds" || h.Samples[0].Value.Tag() != types.SampleValue_Histogram {
		t.Fatalf("%+v", h)
	}
	hv := h.Samples[0].Value.Histogram()
	if !reflect.DeepEqual(hv.Buckets, []types.Bucket{{UpperBound: 0.1, Count: 1}, {UpperBound: math.Inf(1), Count: 2}}) ||
		hv.Count != 2 || hv.Sum.Some() != 0.3 {
		t.Fatalf("%+v", hv)
	}
	s := families[1]
	sv := s.Samples[0].Value.Summary()
	if s.Kind != types.MetricKind_Summary || !reflect.DeepEqual(sv.Quantiles, []types.Quantile{{Quantile: 0.5, Value: 1}}) || sv.Count != 3 || sv.Sum != 4 {
		t.Fatalf("%+v", s)
	}
	i := families[2]
	if i.Kind != types.MetricKind_Info || i.Unit != "" || i.Samples[0].Value.Number() != 1 {
		t.Fatalf("%+v", i)
	}
}

func TestTypesAreCheckedNamingTheMetric(t *testing.T) {
	cases := []struct {
		name string
		make func() (Metric, error)
		want string
	}{
		{"histogram through NewConstMetric", func() (Metric, error) { return NewConstMetric(latency, HistogramValue, 1, "/a") },
			"metric http_request_seconds: NewConstMetric does not make histogram metrics"},
		{"info not 1", func() (Metric, error) { return NewConstMetric(build, InfoValue, 2, "x") },
			"metric app_build_info: an info metric has the value 1, not 2"},
		{"NaN bound", func() (Metric, error) {
			return NewConstHistogram(latency, 1, 1, map[float64]uint64{math.NaN(): 1}, "/a")
		}, "metric http_request_seconds: a bucket bound is NaN"},
		{"label count", func() (Metric, error) { return NewConstSummary(rpc, 1, 1, nil, "extra") },
			"metric rpc_seconds: 1 label values for 0 variable labels"},
		{"unit not in the name", func() (Metric, error) {
			return NewConstMetric(NewDesc("sys_mem", "M.", nil, nil).WithUnit("bytes"), GaugeValue, 1)
		}, `metric sys_mem: the name of a metric with unit "bytes" must end in "_bytes"`},
		{"invalid unit", func() (Metric, error) {
			return NewConstMetric(NewDesc("x_kB", "X.", nil, nil).WithUnit("k-B"), GaugeValue, 1)
		}, `metric x_kB: "k-B" is not a valid unit`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := c.make()
			if m != nil || err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("metric %v, error %v, want one containing %q", m, err, c.want)
			}
		})
	}
	// A counter's unit comes before _total.
	if _, err := NewConstMetric(NewDesc("sent_bytes_total", "S.", nil, nil).WithUnit("bytes"), CounterValue, 1); err != nil {
		t.Fatal(err)
	}
	// One name, two units.
	_, err := gatherOnly(t, nil, funcCollector{func(chan<- *Desc) {}, func(ch chan<- Metric) {
		ch <- MustNewConstMetric(NewDesc("a_seconds", "A.", nil, nil).WithUnit("seconds"), GaugeValue, 1)
		ch <- MustNewConstMetric(NewDesc("a_seconds", "A.", []string{"x"}, nil), GaugeValue, 1, "y")
	}})
	if err == nil || !strings.Contains(err.Error(), `collected metric a_seconds has unit "" but should have "seconds"`) {
		t.Fatalf("error %v", err)
	}
}

func TestObservationsBecomeBucketsAndQuantiles(t *testing.T) {
	count, sum, buckets := HistogramOf([]float64{0.1, 0.5, 1}, []float64{0.1, 0.2, 0.6, 0.05, 3})
	if count != 5 || math.Abs(sum-3.95) > 1e-12 || !reflect.DeepEqual(buckets, map[float64]uint64{0.1: 2, 0.5: 3, 1: 4}) {
		t.Fatal(count, sum, buckets)
	}
	obs := []float64{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}
	count, sum, quantiles := SummaryOf([]float64{0, 0.5, 0.9, 1}, obs)
	if count != 10 || sum != 55 || !reflect.DeepEqual(quantiles, map[float64]float64{0: 1, 0.5: 5, 0.9: 9, 1: 10}) {
		t.Fatal(count, sum, quantiles)
	}
	if obs[0] != 10 {
		t.Fatal("SummaryOf sorted its argument")
	}
	if _, _, q := SummaryOf([]float64{0.5}, nil); !math.IsNaN(q[0.5]) {
		t.Fatal(q)
	}
}
