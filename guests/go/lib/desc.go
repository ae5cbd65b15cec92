package scraper

import (
	"fmt"
	"sort"
	"strings"
)

// Labels are constant label pairs of a Desc: every metric of the Desc
// carries them, after its variable labels.
type Labels map[string]string

// Desc describes a metric: its fully qualified name, help text, variable
// label names and constant labels. Make one per metric with NewDesc,
// usually in a package-level variable, and use it for every scrape.
type Desc struct {
	fqName         string
	help           string
	unit           string
	variableLabels []string
	constNames     []string
	constValues    []string
	// err is why the Desc is invalid (nil if it is valid). As in
	// client_golang, NewDesc does not fail: the error surfaces when the Desc
	// is described or a metric of it is collected.
	err error
}

// NewDesc returns a Desc. A Desc with an invalid name, invalid or duplicate
// label names is still returned; the collection that uses it fails with the
// reason.
func NewDesc(fqName, help string, variableLabels []string, constLabels Labels) *Desc {
	d := &Desc{fqName: fqName, help: help, variableLabels: append([]string(nil), variableLabels...)}
	for name := range constLabels {
		d.constNames = append(d.constNames, name)
	}
	sort.Strings(d.constNames)
	for _, name := range d.constNames {
		d.constValues = append(d.constValues, constLabels[name])
	}
	d.err = d.validate()
	return d
}

// WithUnit returns a copy of d with a unit ("seconds", "bytes"), exposed
// as # UNIT in OpenMetrics. The name must end in _ and the unit (before
// _total for a counter), as OpenMetrics requires:
//
//	var latency = scraper.NewDesc("http_request_seconds", "Request latency.",
//		[]string{"path"}, nil).WithUnit("seconds")
//
// The copy is a Desc of its own: describe and collect with the copy.
func (d *Desc) WithUnit(unit string) *Desc {
	c := *d
	c.unit = unit
	if c.err == nil {
		c.err = c.validateUnit()
	}
	return &c
}

func (d *Desc) validateUnit() error {
	if d.unit == "" {
		return nil
	}
	for _, c := range d.unit {
		if !(c == '_' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
			return fmt.Errorf("metric %s: %q is not a valid unit", d.fqName, d.unit)
		}
	}
	suffix := "_" + d.unit
	if !strings.HasSuffix(d.fqName, suffix) && !strings.HasSuffix(d.fqName, suffix+"_total") {
		return fmt.Errorf("metric %s: the name of a metric with unit %q must end in %q", d.fqName, d.unit, suffix)
	}
	return nil
}

func (d *Desc) validate() error {
	if !validMetricName(d.fqName) {
		return fmt.Errorf("%q is not a valid metric name", d.fqName)
	}
	seen := map[string]bool{}
	for _, name := range d.labelNames() {
		if !validLabelName(name) {
			return fmt.Errorf("metric %s: %q is not a valid label name", d.fqName, name)
		}
		if seen[name] {
			return fmt.Errorf("metric %s: label %q appears twice", d.fqName, name)
		}
		seen[name] = true
	}
	return nil
}

// labelNames are the variable labels, then the constant ones.
func (d *Desc) labelNames() []string {
	names := make([]string, 0, len(d.variableLabels)+len(d.constNames))
	return append(append(names, d.variableLabels...), d.constNames...)
}

// String describes the Desc as client_golang does, for error messages.
func (d *Desc) String() string {
	unit := ""
	if d.unit != "" {
		unit = fmt.Sprintf(", unit: %q", d.unit)
	}
	return fmt.Sprintf("Desc{fqName: %q, help: %q%s, variableLabels: [%s], constLabels: [%s]}",
		d.fqName, d.help, unit, strings.Join(d.variableLabels, ","), strings.Join(d.constNames, ","))
}

// BuildFQName joins namespace, subsystem and name with underscores,
// leaving out the empty ones, as client_golang's BuildFQName does.
func BuildFQName(namespace, subsystem, name string) string {
	if name == "" {
		return ""
	}
	parts := make([]string, 0, 3)
	for _, p := range []string{namespace, subsystem, name} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, "_")
}

func validMetricName(s string) bool {
	if s == "" || strings.HasPrefix(s, "__") {
		return false
	}
	for i, c := range s {
		letter := c == '_' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

func validLabelName(s string) bool {
	if s == "" || strings.HasPrefix(s, "__") {
		return false
	}
	for i, c := range s {
		letter := c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}
