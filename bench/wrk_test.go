package main

import (
	"errors"
	"slices"
	"testing"
	"time"
)

// Reports as wrk 4.1.0 prints them with --latency.
const (
	wrkPlain = `Running 2s test @ http://127.0.0.1:18090/plaintext
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     8.81ms   17.09ms 125.59ms   90.49%
    Req/Sec     7.83k     2.97k   12.74k    73.68%
  Latency Distribution
     50%    2.16ms
     75%    6.53ms
     90%   24.60ms
     99%   99.18ms
  15720 requests in 2.08s, 2.44MB read
Requests/sec:   7545.53
Transfer/sec:      1.17MB
`
	wrkNon2xx = `Running 1s test @ http://127.0.0.1:18090/nope
  1 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   298.70us    1.20ms  15.55ms   96.29%
    Req/Sec    58.65k     6.10k   63.89k    90.00%
  Latency Distribution
     50%   88.00us
     75%  101.00us
     90%  189.00us
     99%    6.51ms
  58308 requests in 1.00s, 8.40MB read
  Non-2xx or 3xx responses: 58308
Requests/sec:  58241.43
Transfer/sec:      8.39MB
`
	wrkSocketErrors = `Running 1m test @ http://127.0.0.1:8080/plaintext
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.50s   300.00ms   2.00s    70.00%
    Req/Sec   100.00      20.00   150.00     60.00%
  Latency Distribution
     50%    1.50s
     75%    1.70s
     90%    1.90s
     99%    2.00s
  6000 requests in 1.00m, 1.00MB read
  Socket errors: connect 3, read 12, write 1, timeout 40
Requests/sec:    100.00
Transfer/sec:     17.07KB
`
	// Pipelined runs can print a 0 percentile (wrk records no latency for
	// most pipelined responses).
	wrkPipelined = `Running 1s test @ http://127.0.0.1:18090/plaintext
  1 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.06ms    4.31ms  35.17ms   88.85%
    Req/Sec   622.44k   139.87k  764.28k    80.00%
  Latency Distribution
     50%   92.00us
     75%  164.00us
     90%    8.78ms
     99%    0.00us
  618752 requests in 1.00s, 84.97MB read
Requests/sec: 616169.63
Transfer/sec:     84.62MB
`
)

func TestParseWrk(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want wrkResult
	}{
		{name: "plain", in: wrkPlain, want: wrkResult{
			Requests: 15720, Seconds: 2.08, RequestsPerSec: 7545.53,
			LatencyAvgMs: 8.81, LatencyP50Ms: 2.16, LatencyP99Ms: 99.18,
		}},
		{name: "non-2xx", in: wrkNon2xx, want: wrkResult{
			Requests: 58308, Seconds: 1, RequestsPerSec: 58241.43,
			LatencyAvgMs: 0.2987, LatencyP50Ms: 0.088, LatencyP99Ms: 6.51, Non2xx: 58308,
		}},
		{name: "socket errors and long units", in: wrkSocketErrors, want: wrkResult{
			Requests: 6000, Seconds: 60, RequestsPerSec: 100,
			LatencyAvgMs: 1500, LatencyP50Ms: 1500, LatencyP99Ms: 2000,
			ErrConnect: 3, ErrRead: 12, ErrWrite: 1, ErrTimeout: 40,
		}},
		{name: "pipelined zero percentile", in: wrkPipelined, want: wrkResult{
			Requests: 618752, Seconds: 1, RequestsPerSec: 616169.63,
			LatencyAvgMs: 1.06, LatencyP50Ms: 0.092, LatencyP99Ms: 0,
		}},
		{name: "no Requests/sec line", in: "  100 requests in 2.00s, 1.00MB read\n", want: wrkResult{
			Requests: 100, Seconds: 2, RequestsPerSec: 50,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseWrk(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if !wrkEqual(*got, tt.want) {
				t.Errorf("parseWrk:\n got %+v\nwant %+v", *got, tt.want)
			}
		})
	}
}

func wrkEqual(a, b wrkResult) bool {
	near := func(x, y float64) bool { return x-y < 1e-9 && y-x < 1e-9 }
	return a.Requests == b.Requests && near(a.Seconds, b.Seconds) && near(a.RequestsPerSec, b.RequestsPerSec) &&
		near(a.LatencyAvgMs, b.LatencyAvgMs) && near(a.LatencyP50Ms, b.LatencyP50Ms) && near(a.LatencyP99Ms, b.LatencyP99Ms) &&
		a.ErrConnect == b.ErrConnect && a.ErrRead == b.ErrRead && a.ErrWrite == b.ErrWrite &&
		a.ErrTimeout == b.ErrTimeout && a.Non2xx == b.Non2xx
}

func TestParseWrkErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{name: "empty", in: ""},
		{name: "usage", in: "Usage: wrk <options> <url>\n"},
		{name: "bad count", in: "  x requests in 2.00s, 1.00MB read\n"},
		{name: "bad duration", in: "  100 requests in 2.00parsecs, 1.00MB read\n"},
		{name: "bad percentile", in: "  Latency Distribution\n     50%   fast\n  100 requests in 2.00s, 1MB read\n"},
		{name: "bad socket errors", in: "  100 requests in 2.00s, 1MB read\n  Socket errors: connect x, read 0, write 0, timeout 0\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if r, err := parseWrk(tt.in); !errors.Is(err, errWrkOutput) {
				t.Errorf("parseWrk = %+v, %v; want errWrkOutput", r, err)
			}
		})
	}
}

func TestParseWrkTime(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"88.00us", 88 * time.Microsecond},
		{"2.16ms", 2160 * time.Microsecond},
		{"2.08s", 2080 * time.Millisecond},
		{"1.00m", time.Minute},
		{"0.50h", 30 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseWrkTime(tt.in)
			if err != nil || got != tt.want {
				t.Errorf("parseWrkTime(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
	for _, bad := range []string{"", "ms", "12", "-1s", "1.2.3ms"} {
		if _, err := parseWrkTime(bad); err == nil {
			t.Errorf("parseWrkTime(%q) succeeded", bad)
		}
	}
}

func TestWrkArgs(t *testing.T) {
	got := wrkArgs(64, 1500*time.Millisecond, "/s/decode.lua", "http://127.0.0.1:1/decode", []string{`{"n":1}`})
	want := []string{"-t1", "-c64", "-d2s", "--latency", "-s", "/s/decode.lua", "http://127.0.0.1:1/decode", "--", `{"n":1}`}
	if !slices.Equal(got, want) {
		t.Errorf("wrkArgs = %q; want %q", got, want)
	}
	got = wrkArgs(8, 100*time.Millisecond, "", "http://127.0.0.1:1/json", nil)
	want = []string{"-t1", "-c8", "-d1s", "--latency", "http://127.0.0.1:1/json"}
	if !slices.Equal(got, want) {
		t.Errorf("wrkArgs = %q; want %q", got, want)
	}
}
