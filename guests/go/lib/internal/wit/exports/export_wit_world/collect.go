// Package export_wit_world is where the generated bindings
// (internal/wit/exports/wit_exports, written by `cargo xtask bindings go`)
// find the world's exported function. It hands the call to package
// scraper, which sets Handler in its init.
package export_wit_world

import (
	types "wasm_exporter/scraper/internal/wit/imports/wasm_exporter_scraper_types"

	witTypes "go.bytecodealliance.org/pkg/wit/types"
)

// Handler collects: families and ok, or a one-line reason and not ok.
var Handler func(params []types.Param) (families []types.MetricFamily, reason string, ok bool)

// Collect is the world's `collect` export.
func Collect(params []types.Param) witTypes.Result[[]types.MetricFamily, string] {
	if Handler == nil {
		return witTypes.Err[[]types.MetricFamily, string]("the scraper package is not linked in")
	}
	families, reason, ok := Handler(params)
	if !ok {
		return witTypes.Err[[]types.MetricFamily, string](reason)
	}
	return witTypes.Ok[[]types.MetricFamily, string](families)
}
