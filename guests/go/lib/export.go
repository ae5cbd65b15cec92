package scraper

import (
	"strings"

	"wasm_exporter/scraper/internal/wit/exports/export_wit_world"
	types "wasm_exporter/scraper/internal/wit/imports/wasm_exporter_scraper_types"

	witTypes "go.bytecodealliance.org/pkg/wit/types"
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
			samples[i] = types.Sample{LabelValues: s.LabelValues, Value: sampleValue(s)}
		}
		out = append(out, types.MetricFamily{
			Name:       f.Name,
			Help:       f.Help,
			Unit:       f.Unit,
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
	case HistogramValue:
		return types.MetricKind_Histogram
	case GaugeHistogramValue:
		return types.MetricKind_GaugeHistogram
	case SummaryValue:
		return types.MetricKind_Summary
	case InfoValue:
		return types.MetricKind_Info
	}
	return types.MetricKind_Untyped
}

func sampleValue(s Sample) types.SampleValue {
	switch {
	case s.Histogram != nil:
		buckets := make([]types.Bucket, len(s.Histogram.Buckets))
		for i, b := range s.Histogram.Buckets {
			buckets[i] = types.Bucket{UpperBound: b.UpperBound, Count: b.Count}
		}
		sum := witTypes.None[float64]()
		if s.Histogram.Sum != nil {
			sum = witTypes.Some(*s.Histogram.Sum)
		}
		return types.MakeSampleValueHistogram(types.Histogram{Buckets: buckets, Count: s.Histogram.Count, Sum: sum})
	case s.Summary != nil:
		quantiles := make([]types.Quantile, len(s.Summary.Quantiles))
		for i, q := range s.Summary.Quantiles {
			quantiles[i] = types.Quantile{Quantile: q.Quantile, Value: q.Value}
		}
		return types.MakeSampleValueSummary(types.Summary{Quantiles: quantiles, Count: s.Summary.Count, Sum: s.Summary.Sum})
	}
	return types.MakeSampleValueNumber(s.Value)
}
