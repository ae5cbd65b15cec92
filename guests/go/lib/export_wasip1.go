//go:build wasip1

package scraper

// The generated entry points (//go:wasmexport collect) exist only in the
// wasm build; the rest of the package also builds natively, for tests.
import _ "wasm_exporter/scraper/internal/wit/exports/wit_exports"
