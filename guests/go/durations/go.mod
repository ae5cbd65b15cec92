module durations

go 1.27

require (
	go.bytecodealliance.org/pkg v0.4.0
	wasm_exporter/scraper v0.0.0
)

replace (
	go.bytecodealliance.org/pkg => ../third_party/go-pkg
	wasm_exporter/scraper => ../lib
)
