package scraper

import (
	"fmt"
	"strings"
	"sync"
)

// Collector is what a scraper registers, with client_golang's two methods.
//
// Describe sends the Desc of every metric Collect may send (a collector
// that describes nothing is unchecked: anything it sends is accepted).
// Collect reads what it reports and sends one Metric per series; it runs
// once per scrape.
type Collector interface {
	Describe(ch chan<- *Desc)
	Collect(ch chan<- Metric)
}

// Configurable is a Collector that takes the module's parameters. Its
// Configure runs before Describe and Collect on every scrape; an error ends
// the collection with err(error).
type Configurable interface {
	Configure(params Params) error
}

var (
	registryMu sync.Mutex
	registry   []Collector
)

// Register adds collectors to those gathered on every scrape. Call it from
// an init function: the component has no main that runs.
func Register(cs ...Collector) {
	registryMu.Lock()
	defer registryMu.Unlock()
	registry = append(registry, cs...)
}

// MustRegister is Register, named as in client_golang. (Registration cannot
// fail here: conflicting Descs are reported when a collection gathers them,
// so the operator sees the reason in the exporter's log.)
func MustRegister(cs ...Collector) {
	Register(cs...)
}

// Family is a gathered metric family: what a scrape hands the exporter.
type Family struct {
	Name string
	Help string
	// Unit is "" for none.
	Unit       string
	Type       ValueType
	LabelNames []string
	Samples    []Sample
}

// Sample is one series of a Family. Which value it holds depends on the
// family's Type: Histogram for histograms and gauge histograms, Summary
// for summaries, Value for the others.
type Sample struct {
	LabelValues []string
	Value       float64
	Histogram   *Histogram
	Summary     *Summary
}

// Gather configures, describes and collects the registered collectors with
// params and returns their metrics as families, in the order first
// collected. It is what the exporter's call runs; tests of a collector can
// call it directly.
func Gather(params Params) ([]Family, error) {
	registryMu.Lock()
	cs := append([]Collector(nil), registry...)
	registryMu.Unlock()
	if len(cs) == 0 {
		return nil, fmt.Errorf("no collector registered (call scraper.MustRegister in an init function)")
	}
	g := gatherer{index: map[string]int{}, series: map[string]bool{}}
	for _, c := range cs {
		if cfg, ok := c.(Configurable); ok {
			if err := safely(func() error { return cfg.Configure(params) }); err != nil {
				return nil, err
			}
		}
	}
	for _, c := range cs {
		described, err := describe(c)
		if err != nil {
			return nil, err
		}
		if err := collect(c, func(m Metric) error { return g.add(m, described) }); err != nil {
			return nil, err
		}
	}
	return g.families, nil
}

// describe returns the Descs c describes, by identity, or nil if it
// describes none (an unchecked collector).
func describe(c Collector) (map[*Desc]bool, error) {
	descs := map[*Desc]bool{}
	err := drain(func(ch chan<- *Desc) { c.Describe(ch) }, func(d *Desc) error {
		if d.err != nil {
			return d.err
		}
		descs[d] = true
		return nil
	})
	if len(descs) == 0 {
		descs = nil
	}
	return descs, err
}

func collect(c Collector, each func(Metric) error) error {
	return drain(func(ch chan<- Metric) { c.Collect(ch) }, each)
}

// drain runs send in a goroutine, as client_golang's registry does, and
// hands each value it sends to each. A panic in send, or the first error
// of each, ends it; the values still sent are discarded.
func drain[T any](send func(chan<- T), each func(T) error) error {
	ch := make(chan T, 64)
	panicked := make(chan error, 1)
	go func() {
		defer close(ch)
		defer func() {
			if r := recover(); r != nil {
				panicked <- fmt.Errorf("panic: %v", r)
			}
		}()
		send(ch)
	}()
	var first error
	for v := range ch {
		if first == nil {
			first = each(v)
		}
	}
	select {
	case err := <-panicked:
		return err
	default:
		return first
	}
}

// safely runs f, turning a panic into an error.
func safely(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return f()
}

type gatherer struct {
	families []Family
	// index maps a family name to its place in families.
	index map[string]int
	// series holds name + label values of every sample gathered.
	series map[string]bool
}

func (g *gatherer) add(m Metric, described map[*Desc]bool) error {
	d := m.Desc()
	if d == nil {
		return fmt.Errorf("collected a metric with a nil Desc")
	}
	s, err := m.sample()
	if err != nil {
		return fmt.Errorf("%s: %w", d.fqName, err)
	}
	if described != nil && !described[d] {
		return fmt.Errorf("collected metric %s with a Desc its collector did not describe: %s", d.fqName, d)
	}
	names := d.labelNames()
	i, ok := g.index[d.fqName]
	if !ok {
		i = len(g.families)
		g.index[d.fqName] = i
		g.families = append(g.families, Family{Name: d.fqName, Help: d.help, Unit: d.unit, Type: s.valueType, LabelNames: names})
	}
	f := &g.families[i]
	switch {
	case f.Help != d.help:
		return fmt.Errorf("collected metric %s has help %q but should have %q", d.fqName, d.help, f.Help)
	case f.Unit != d.unit:
		return fmt.Errorf("collected metric %s has unit %q but should have %q", d.fqName, d.unit, f.Unit)
	case f.Type != s.valueType:
		return fmt.Errorf("collected metric %s is a %v but was collected as a %v before", d.fqName, s.valueType, f.Type)
	case strings.Join(f.LabelNames, "\x00") != strings.Join(names, "\x00"):
		return fmt.Errorf("collected metric %s has label names %q but should have %q", d.fqName, names, f.LabelNames)
	}
	key := d.fqName + "\xff" + strings.Join(s.labelValues, "\xff")
	if g.series[key] {
		return fmt.Errorf("collected metric %s with label values %q was collected before with the same label values", d.fqName, s.labelValues)
	}
	g.series[key] = true
	f.Samples = append(f.Samples, Sample{LabelValues: s.labelValues, Value: s.value, Histogram: s.histogram, Summary: s.summary})
	return nil
}
