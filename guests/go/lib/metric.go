package scraper

import (
	"fmt"
	"math"
	"sort"
)

// ValueType is the type of a metric, as in client_golang. NewConstMetric
// takes CounterValue, GaugeValue, UntypedValue and InfoValue; the other
// types are made by their own constructors (NewConstHistogram,
// NewConstGaugeHistogram, NewConstSummary) and appear in a gathered
// Family's Type.
type ValueType int

// The value types a scraper can send.
const (
	_ ValueType = iota
	// CounterValue: a cumulative value that only increases.
	CounterValue
	// GaugeValue: a value that can go up and down.
	GaugeValue
	// UntypedValue: a value whose type is not known.
	UntypedValue
	// HistogramValue: cumulative buckets of observations that only
	// increase (NewConstHistogram).
	HistogramValue
	// GaugeHistogramValue: buckets of what is there now, which may go down
	// (NewConstGaugeHistogram).
	GaugeHistogramValue
	// SummaryValue: precomputed quantiles of observations
	// (NewConstSummary).
	SummaryValue
	// InfoValue: textual information as the labels of a metric whose value
	// is 1; the name ends in _info (NewConstMetric with value 1).
	InfoValue
)

func (t ValueType) String() string {
	switch t {
	case CounterValue:
		return "counter"
	case GaugeValue:
		return "gauge"
	case UntypedValue:
		return "untyped"
	case HistogramValue:
		return "histogram"
	case GaugeHistogramValue:
		return "gaugehistogram"
	case SummaryValue:
		return "summary"
	case InfoValue:
		return "info"
	}
	return fmt.Sprintf("ValueType(%d)", int(t))
}

// Metric is one sample of a Desc, sent by a Collector's Collect method.
// Make one with NewConstMetric, NewConstHistogram, NewConstSummary (or
// their Must forms) or NewInvalidMetric.
type Metric interface {
	// Desc is the descriptor of the metric.
	Desc() *Desc
	// sample is the metric's value and label values, or why it is invalid.
	sample() (constMetric, error)
}

type constMetric struct {
	desc        *Desc
	valueType   ValueType
	labelValues []string
	// value of a counter, gauge, untyped or info metric.
	value float64
	// histogram of a histogram or gauge histogram metric.
	histogram *Histogram
	// summary of a summary metric.
	summary *Summary
}

func (m constMetric) Desc() *Desc                  { return m.desc }
func (m constMetric) sample() (constMetric, error) { return m, nil }

// NewConstMetric returns a metric with one value that does not change: the
// usual way to report a value read during Collect. It fails if the number
// of label values is not the number of the Desc's variable labels, if the
// Desc itself is invalid, or if valueType is not a counter, gauge,
// untyped or info type (an info metric's value is 1).
func NewConstMetric(desc *Desc, valueType ValueType, value float64, labelValues ...string) (Metric, error) {
	switch valueType {
	case CounterValue, GaugeValue, UntypedValue:
	case InfoValue:
		if value != 1 {
			return nil, fmt.Errorf("metric %s: an info metric has the value 1, not %v", desc.fqName, value)
		}
	default:
		return nil, fmt.Errorf("metric %s: NewConstMetric does not make %v metrics", desc.fqName, valueType)
	}
	m, err := newConstMetric(desc, valueType, labelValues)
	if err != nil {
		return nil, err
	}
	m.value = value
	return m, nil
}

// newConstMetric checks the Desc and the label values common to every
// const metric, and returns a metric without value.
func newConstMetric(desc *Desc, valueType ValueType, labelValues []string) (constMetric, error) {
	if desc.err != nil {
		return constMetric{}, desc.err
	}
	if len(labelValues) != len(desc.variableLabels) {
		return constMetric{}, fmt.Errorf("metric %s: %d label values for %d variable labels %q",
			desc.fqName, len(labelValues), len(desc.variableLabels), desc.variableLabels)
	}
	values := make([]string, 0, len(labelValues)+len(desc.constValues))
	values = append(append(values, labelValues...), desc.constValues...)
	return constMetric{desc: desc, valueType: valueType, labelValues: values}, nil
}

// MustNewConstMetric is NewConstMetric that panics on error. The panic ends
// the collection with err naming the metric (it does not crash the
// exporter).
func MustNewConstMetric(desc *Desc, valueType ValueType, value float64, labelValues ...string) Metric {
	return must(NewConstMetric(desc, valueType, value, labelValues...))
}

func must(m Metric, err error) Metric {
	if err != nil {
		panic(err)
	}
	return m
}

type invalidMetric struct {
	desc *Desc
	err  error
}

func (m invalidMetric) Desc() *Desc                  { return m.desc }
func (m invalidMetric) sample() (constMetric, error) { return constMetric{}, m.err }

// NewInvalidMetric returns a metric that reports err when it is gathered,
// as in client_golang: the collection fails with err("<name>: <err>").
// Send it when a collector cannot read what it should report.
func NewInvalidMetric(desc *Desc, err error) Metric {
	return invalidMetric{desc: desc, err: err}
}

// Bucket is one bucket of a Histogram: the observations less than or
// equal to UpperBound (cumulative).
type Bucket struct {
	UpperBound float64
	Count      uint64
}

// Histogram is the value of a histogram or gauge histogram sample, as the
// exporter receives it: Buckets sorted by upper bound, the last one +Inf
// with Count; Sum nil when not known.
type Histogram struct {
	Buckets []Bucket
	Count   uint64
	Sum     *float64
}

// Summary is the value of a summary sample, as the exporter receives it:
// Quantiles (quantile -> value) sorted by quantile.
type Summary struct {
	Quantiles []Quantile
	Count     uint64
	Sum       float64
}

// Quantile is one quantile of a Summary.
type Quantile struct {
	Quantile float64
	Value    float64
}

// NewConstHistogram returns a histogram metric, as client_golang's does:
// count observations summing to sum, buckets mapping upper bounds to
// cumulative counts (observations less than or equal to the bound). The
// +Inf bucket holds count; leave it out of buckets (it is added). It fails
// as NewConstMetric does, and for a NaN bound.
//
// The exporter checks the rest (counts that do not decrease with the
// bound and do not exceed count, a sum that is neither NaN nor negative,
// and none when a bound is negative) and names the metric when a rule is
// broken.
func NewConstHistogram(desc *Desc, count uint64, sum float64, buckets map[float64]uint64, labelValues ...string) (Metric, error) {
	return newConstHistogram(desc, HistogramValue, count, sum, buckets, labelValues)
}

// MustNewConstHistogram is NewConstHistogram that panics on error.
func MustNewConstHistogram(desc *Desc, count uint64, sum float64, buckets map[float64]uint64, labelValues ...string) Metric {
	return must(NewConstHistogram(desc, count, sum, buckets, labelValues...))
}

// NewConstGaugeHistogram is NewConstHistogram for a gauge histogram:
// buckets of what is there now (the ages of the items in a queue), which
// may go down between scrapes.
func NewConstGaugeHistogram(desc *Desc, count uint64, sum float64, buckets map[float64]uint64, labelValues ...string) (Metric, error) {
	return newConstHistogram(desc, GaugeHistogramValue, count, sum, buckets, labelValues)
}

// MustNewConstGaugeHistogram is NewConstGaugeHistogram that panics on
// error.
func MustNewConstGaugeHistogram(desc *Desc, count uint64, sum float64, buckets map[float64]uint64, labelValues ...string) Metric {
	return must(NewConstGaugeHistogram(desc, count, sum, buckets, labelValues...))
}

func newConstHistogram(desc *Desc, t ValueType, count uint64, sum float64, buckets map[float64]uint64, labelValues []string) (Metric, error) {
	m, err := newConstMetric(desc, t, labelValues)
	if err != nil {
		return nil, err
	}
	h := &Histogram{Count: count, Sum: &sum}
	for bound, n := range buckets {
		if math.IsNaN(bound) {
			return nil, fmt.Errorf("metric %s: a bucket bound is NaN", desc.fqName)
		}
		if !math.IsInf(bound, 1) {
			h.Buckets = append(h.Buckets, Bucket{UpperBound: bound, Count: n})
		}
	}
	sort.Slice(h.Buckets, func(i, j int) bool { return h.Buckets[i].UpperBound < h.Buckets[j].UpperBound })
	h.Buckets = append(h.Buckets, Bucket{UpperBound: math.Inf(1), Count: count})
	m.histogram = h
	return m, nil
}

// NewConstSummary returns a summary metric, as client_golang's does: count
// observations summing to sum, quantiles mapping quantiles (0 to 1) to
// their values (NaN when nothing was observed in the period a quantile
// covers). It fails as NewConstMetric does; the exporter checks the rest.
func NewConstSummary(desc *Desc, count uint64, sum float64, quantiles map[float64]float64, labelValues ...string) (Metric, error) {
	m, err := newConstMetric(desc, SummaryValue, labelValues)
	if err != nil {
		return nil, err
	}
	s := &Summary{Count: count, Sum: sum}
	for q, v := range quantiles {
		s.Quantiles = append(s.Quantiles, Quantile{Quantile: q, Value: v})
	}
	sort.Slice(s.Quantiles, func(i, j int) bool { return s.Quantiles[i].Quantile < s.Quantiles[j].Quantile })
	m.summary = s
	return m, nil
}

// MustNewConstSummary is NewConstSummary that panics on error.
func MustNewConstSummary(desc *Desc, count uint64, sum float64, quantiles map[float64]float64, labelValues ...string) Metric {
	return must(NewConstSummary(desc, count, sum, quantiles, labelValues...))
}
