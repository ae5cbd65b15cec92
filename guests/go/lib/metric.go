package scraper

import (
	"fmt"
)

// ValueType is the type of a const metric, as in client_golang.
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
)

func (t ValueType) String() string {
	switch t {
	case CounterValue:
		return "counter"
	case GaugeValue:
		return "gauge"
	case UntypedValue:
		return "untyped"
	}
	return fmt.Sprintf("ValueType(%d)", int(t))
}

// Metric is one sample of a Desc, sent by a Collector's Collect method.
// Make one with NewConstMetric, MustNewConstMetric or NewInvalidMetric.
type Metric interface {
	// Desc is the descriptor of the metric.
	Desc() *Desc
	// sample is the metric's value and label values, or why it is invalid.
	sample() (constMetric, error)
}

type constMetric struct {
	desc        *Desc
	valueType   ValueType
	value       float64
	labelValues []string
}

func (m constMetric) Desc() *Desc                  { return m.desc }
func (m constMetric) sample() (constMetric, error) { return m, nil }

// NewConstMetric returns a metric with one value that does not change: the
// usual way to report a value read during Collect. It fails if the number
// of label values is not the number of the Desc's variable labels, or if
// the Desc itself is invalid.
func NewConstMetric(desc *Desc, valueType ValueType, value float64, labelValues ...string) (Metric, error) {
	if desc.err != nil {
		return nil, desc.err
	}
	if valueType < CounterValue || valueType > UntypedValue {
		return nil, fmt.Errorf("metric %s: unknown value type %v", desc.fqName, valueType)
	}
	if len(labelValues) != len(desc.variableLabels) {
		return nil, fmt.Errorf("metric %s: %d label values for %d variable labels %q",
			desc.fqName, len(labelValues), len(desc.variableLabels), desc.variableLabels)
	}
	values := make([]string, 0, len(labelValues)+len(desc.constValues))
	values = append(append(values, labelValues...), desc.constValues...)
	return constMetric{desc: desc, valueType: valueType, value: value, labelValues: values}, nil
}

// MustNewConstMetric is NewConstMetric that panics on error. The panic ends
// the collection with err naming the metric (it does not crash the
// exporter).
func MustNewConstMetric(desc *Desc, valueType ValueType, value float64, labelValues ...string) Metric {
	m, err := NewConstMetric(desc, valueType, value, labelValues...)
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
