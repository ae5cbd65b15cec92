// The Go helper library of wasm_exporter scrapers: client_golang's shape
// (NewDesc, MustNewConstMetric, a Collector with Describe and Collect) on
// top of the WIT bindings that the build generates into internal/wit.
module wasm_exporter/scraper

go 1.27

require go.bytecodealliance.org/pkg v0.4.0

// The runtime package of the generated bindings, from the wit-bindgen-go
// crate (no Go module proxy is needed).
replace go.bytecodealliance.org/pkg => ../third_party/go-pkg
