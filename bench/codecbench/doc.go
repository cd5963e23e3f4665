// Package codecbench compares sluice's HTTP/1.1 request parser
// (codec/http1) with fasthttp's and net/http's on the same inputs.
//
// It holds benchmarks only. It lives in its own module,
// github.com/sluice-go/sluice/bench, for one reason: so that fasthttp, which
// these benchmarks need as the yardstick, never enters the library's
// go.mod. The library itself is compared with net/http in
// codec/http1/bench_test.go; this package adds fasthttp on a copy of the
// same inputs.
//
// Run with:
//
//	cd bench && go test -run XXX -bench . ./codecbench/
package codecbench
