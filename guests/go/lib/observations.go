package scraper

import (
	"math"
	"sort"
)

// A guest reports values something else keeps (a service's buckets, a
// file a job wrote). When what it reads are single observations (a job
// log), these turn them into the arguments of NewConstHistogram and
// NewConstSummary.

// HistogramOf counts observations into buckets with the upper bounds
// given (+Inf is added by NewConstHistogram) and sums them:
//
//	count, sum, buckets := scraper.HistogramOf([]float64{0.1, 1}, seconds)
//	ch <- scraper.MustNewConstHistogram(desc, count, sum, buckets, job)
func HistogramOf(bounds, observations []float64) (count uint64, sum float64, buckets map[float64]uint64) {
	buckets = make(map[float64]uint64, len(bounds))
	for _, b := range bounds {
		buckets[b] = 0
	}
	for _, o := range observations {
		sum += o
		for _, b := range bounds {
			if o <= b {
				buckets[b]++
			}
		}
	}
	return uint64(len(observations)), sum, buckets
}

// SummaryOf returns the quantiles given of observations by the nearest
// rank method (the smallest observation that at least that fraction of
// them does not exceed; NaN when there are none), their count and sum:
//
//	count, sum, quantiles := scraper.SummaryOf([]float64{0.5, 0.9}, seconds)
//	ch <- scraper.MustNewConstSummary(desc, count, sum, quantiles, job)
func SummaryOf(quantiles, observations []float64) (count uint64, sum float64, values map[float64]float64) {
	sorted := append([]float64(nil), observations...)
	sort.Float64s(sorted)
	for _, o := range sorted {
		sum += o
	}
	values = make(map[float64]float64, len(quantiles))
	for _, q := range quantiles {
		values[q] = nearestRank(sorted, q)
	}
	return uint64(len(sorted)), sum, values
}

func nearestRank(sorted []float64, q float64) float64 {
	if len(sorted) == 0 || !(q >= 0 && q <= 1) {
		return math.NaN()
	}
	rank := int(math.Ceil(q * float64(len(sorted))))
	rank = max(1, min(rank, len(sorted)))
	return sorted[rank-1]
}
