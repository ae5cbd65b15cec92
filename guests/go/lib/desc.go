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
	return fmt.Sprintf("Desc{fqName: %q, help: %q, variableLabels: [%s], constLabels: [%s]}",
		d.fqName, d.help, strings.Join(d.variableLabels, ","), strings.Join(d.constNames, ","))
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
