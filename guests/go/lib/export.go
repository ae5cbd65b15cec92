package scraper

import (
	"strings"

	"wasm_exporter/scraper/internal/wit/exports/export_wit_world"
	types "wasm_exporter/scraper/internal/wit/imports/wasm_exporter_scraper_types"
)

func init() {
	export_wit_world.Handler = handle
}

// handle is the scraper world's collect: the exporter's parameters in,
// the gathered families (or one line of error) out.
func handle(params []types.Param) ([]types.MetricFamily, string, bool) {
	pairs := make(map[string]string, len(params))
	for _, p := range params {
		pairs[p.Name] = p.Value
	}
	families, err := Gather(NewParams(pairs))
	if err != nil {
		return nil, strings.Join(strings.Fields(err.Error()), " "), false
	}
	out := make([]types.MetricFamily, 0, len(families))
	for _, f := range families {
		samples := make([]types.Sample, len(f.Samples))
		for i, s := range f.Samples {
			samples[i] = types.Sample{LabelValues: s.LabelValues, Value: s.Value}
		}
		out = append(out, types.MetricFamily{
			Name:       f.Name,
			Help:       f.Help,
			Kind:       kind(f.Type),
			LabelNames: f.LabelNames,
			Samples:    samples,
		})
	}
	return out, "", true
}

func kind(t ValueType) types.MetricKind {
	switch t {
	case CounterValue:
		return types.MetricKind_Counter
	case GaugeValue:
		return types.MetricKind_Gauge
	}
	return types.MetricKind_Untyped
}
