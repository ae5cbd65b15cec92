package scraper

import (
	"fmt"
	"strconv"
	"time"
)

// Params are the module's parameters, as the operator configured them
// (checked against the plugin's manifest by the exporter). Values arrive as
// text; the typed getters parse them and name the parameter when they
// cannot.
type Params struct {
	values map[string]string
}

// NewParams makes Params from name/value pairs (the last of a repeated
// name wins). The exporter's call does this; tests of a collector can too.
func NewParams(pairs map[string]string) Params {
	p := Params{values: map[string]string{}}
	for k, v := range pairs {
		p.values[k] = v
	}
	return p
}

// Lookup returns the value of parameter name and whether it was set.
func (p Params) Lookup(name string) (string, bool) {
	v, ok := p.values[name]
	return v, ok
}

// Get returns the value of parameter name, or def if it was not set.
func (p Params) Get(name, def string) string {
	if v, ok := p.values[name]; ok {
		return v
	}
	return def
}

// Int returns parameter name as an integer, or def if it was not set.
func (p Params) Int(name string, def int64) (int64, error) {
	return parse(p, name, def, "an int", func(s string) (int64, error) { return strconv.ParseInt(s, 10, 64) })
}

// Float returns parameter name as a float, or def if it was not set.
func (p Params) Float(name string, def float64) (float64, error) {
	return parse(p, name, def, "a float", func(s string) (float64, error) { return strconv.ParseFloat(s, 64) })
}

// Bool returns parameter name as a bool (true/false), or def if it was not
// set.
func (p Params) Bool(name string, def bool) (bool, error) {
	return parse(p, name, def, "a bool", strconv.ParseBool)
}

// Duration returns parameter name as a duration in Go's notation
// ("500ms", "1m30s"), or def if it was not set.
func (p Params) Duration(name string, def time.Duration) (time.Duration, error) {
	return parse(p, name, def, "a duration", time.ParseDuration)
}

func parse[T any](p Params, name string, def T, what string, conv func(string) (T, error)) (T, error) {
	v, ok := p.values[name]
	if !ok {
		return def, nil
	}
	t, err := conv(v)
	if err != nil {
		return def, fmt.Errorf("parameter %s: %q is not %s", name, v, what)
	}
	return t, nil
}
