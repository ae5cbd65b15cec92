module {{name}}

go 1.27

require (
	go.bytecodealliance.org/pkg v0.4.0
	wasm_exporter/scraper v0.0.0
)

// Both come with the plugin: lib is the scraper package (with the bindings
// of wit/scraper.wit in lib/internal/wit), third_party/go-pkg the runtime
// package of those bindings. Nothing is fetched from a module proxy.
replace (
	go.bytecodealliance.org/pkg => ./third_party/go-pkg
	wasm_exporter/scraper => ./lib
)
