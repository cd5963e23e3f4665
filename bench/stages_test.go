package main

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
)

// The testdata readings are real (sluice a01fd29): examples/hello -model
// reactor with -debug-addr, pinned to one CPU, read (GET /debug/stats,
// GET /metrics) after a 1 s wrk warm-up on /plaintext (stats-before,
// metrics-before) and again after 2 s of wrk on POST /decode with
// decodeBody (stats-after, metrics-after). stats-off.json is the same
// server with -stage-sampling -1 after 1 s of /plaintext.

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func testReading(t *testing.T, which string) stageReading {
	t.Helper()
	st, err := parseDebugStats(readTestdata(t, "stats-"+which+".json"))
	if err != nil {
		t.Fatal(err)
	}
	bs, err := parseStageBuckets(readTestdata(t, "metrics-"+which+".prom"))
	if err != nil {
		t.Fatal(err)
	}
	return stageReading{stats: st, buckets: bs}
}

func TestParseDebugStats(t *testing.T) {
	s, err := parseDebugStats(readTestdata(t, "stats-after.json"))
	if err != nil {
		t.Fatal(err)
	}
	if s.SampleEvery != 100 || len(s.Stages) != 10 {
		t.Fatalf("sample_every %d, %d stages; want 100, 10", s.SampleEvery, len(s.Stages))
	}
	var names []string
	for _, st := range s.Stages {
		names = append(names, st.Stage)
	}
	if !slices.Equal(names, stageOrder) {
		t.Errorf("stages %v; want stageOrder %v", names, stageOrder)
	}
	p := s.Stages[3]
	if want := (debugStage{Stage: "parse", Count: 3174, Sum: 1017294, Min: 170, Max: 28933, P50: p.P50, P99: p.P99}); p != want || p.P50 <= 0 || p.P99 < p.P50 {
		t.Errorf("parse %+v; want %+v with 0 < p50 <= p99", p, want)
	}
	if s.Counters["requests_2xx"] != 319663 || s.Counters["conns_accepted"] != 130 {
		t.Errorf("counters %v", s.Counters)
	}

	off, err := parseDebugStats(readTestdata(t, "stats-off.json"))
	if err != nil {
		t.Fatal(err)
	}
	if off.SampleEvery != 0 || off.Counters["requests_2xx"] == 0 {
		t.Errorf("timing off: sample_every %d, requests_2xx %d; want 0 and some", off.SampleEvery, off.Counters["requests_2xx"])
	}
	for _, st := range off.Stages {
		if st.Count != 0 {
			t.Errorf("timing off: stage %s has %d samples", st.Stage, st.Count)
		}
	}

	for name, in := range map[string]string{
		"not JSON":         "listening on 127.0.0.1:80",
		"no stages":        `{"open_conns":3}`,
		"stages as object": `{"stages":{"parse":1},"counters":{}}`,
	} {
		if _, err := parseDebugStats([]byte(in)); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

func TestParseStageBuckets(t *testing.T) {
	js, err := parseDebugStats(readTestdata(t, "stats-after.json"))
	if err != nil {
		t.Fatal(err)
	}
	bs, err := parseStageBuckets(readTestdata(t, "metrics-after.prom"))
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != len(js.Stages) {
		t.Errorf("%d stages in /metrics, %d in /debug/stats", len(bs), len(js.Stages))
	}
	for _, st := range js.Stages {
		b := bs[st.Stage]
		// 4 buckets per octave from 127 ns to 2^37 ns, plus +Inf.
		if len(b) != 122 || b[0].Le != 127 || b[len(b)-1].Le != math.MaxInt64 {
			t.Fatalf("%s: %d buckets from %d to %d ns", st.Stage, len(b), b[0].Le, b[len(b)-1].Le)
		}
		if got := b[len(b)-1].Count; got != st.Count {
			t.Errorf("%s: +Inf bucket %d; /debug/stats count %d", st.Stage, got, st.Count)
		}
		if !slices.IsSortedFunc(b, func(x, y cumBucket) int { return cmpInt64(int64(x.Count), int64(y.Count)) }) {
			t.Errorf("%s: cumulative counts decrease", st.Stage)
		}
	}
	if i := slices.IndexFunc(bs["accept"], func(b cumBucket) bool { return b.Le == 6143 }); i < 0 {
		t.Errorf("no le=6.143e-06 (6143 ns) bucket for accept")
	}

	tests := []struct {
		name, in string
		want     map[string][]cumBucket // nil: an error
	}{
		{name: "labels reversed, timestamp, other families",
			in: "# HELP x\nsluice_requests_total{class=\"2xx\"} 5\n" +
				"sluice_stage_duration_seconds_bucket{le=\"2.55e-07\",stage=\"parse\"} 3 1700000000000\n" +
				"sluice_stage_duration_seconds_bucket{stage=\"parse\",le=\"1.27e-07\"} 1\n" +
				"sluice_stage_duration_seconds_bucket{stage=\"parse\",le=\"+Inf\"} 1.2e+07\n" +
				"sluice_stage_duration_seconds_count{stage=\"parse\"} 4\n",
			want: map[string][]cumBucket{"parse": {{127, 1}, {255, 3}, {math.MaxInt64, 12_000_000}}}},
		{name: "escaped quote in a label",
			in:   `sluice_stage_duration_seconds_bucket{stage="a\"b",le="+Inf"} 2`,
			want: map[string][]cumBucket{`a"b`: {{math.MaxInt64, 2}}}},
		{name: "no family", in: "sluice_requests_total{class=\"2xx\"} 5\n"},
		{name: "unterminated label", in: `sluice_stage_duration_seconds_bucket{stage="parse,le="+Inf"} 2`},
		{name: "no le", in: `sluice_stage_duration_seconds_bucket{stage="parse"} 2`},
		{name: "bad count", in: `sluice_stage_duration_seconds_bucket{stage="parse",le="+Inf"} many`},
		{name: "bad le", in: `sluice_stage_duration_seconds_bucket{stage="parse",le="soon"} 1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStageBuckets([]byte(tt.in))
			if tt.want == nil {
				if err == nil {
					t.Fatalf("parsed: %v", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v; want %v", got, tt.want)
			}
			for k, w := range tt.want {
				if !slices.Equal(got[k], w) {
					t.Errorf("%s: %v; want %v", k, got[k], w)
				}
			}
		})
	}
}

func TestWindowBreakdown(t *testing.T) {
	before, after := testReading(t, "before"), testReading(t, "after")
	bd, err := windowBreakdown(before, after)
	if err != nil {
		t.Fatal(err)
	}
	if bd.SampleEvery != 100 || bd.Requests != 173268 || bd.Conns != 65 || bd.Reads != 173268 || bd.Handshakes != 0 || bd.Sampled != 1719 {
		t.Errorf("window: sample_every %d, requests %d, conns %d, reads %d, handshakes %d, sampled %d",
			bd.SampleEvery, bd.Requests, bd.Conns, bd.Reads, bd.Handshakes, bd.Sampled)
	}
	// Accept has its one sample in both readings: nothing in the window.
	var names []string
	for _, w := range bd.Stages {
		names = append(names, w.Stage)
	}
	if want := []string{"read", "parse", "decode", "process", "write", "queue_wait"}; !slices.Equal(names, want) {
		t.Fatalf("stages %v; want %v", names, want)
	}
	sums := map[string]int64{"read": 917453, "parse": 685759, "decode": 2806163, "process": 1078036, "write": 400062865, "queue_wait": 430981291}
	var shares float64
	for _, w := range bd.Stages {
		if w.Count != 1719 || w.Sum != sums[w.Stage] || w.Per != "request" {
			t.Errorf("%s: count %d, sum %d, per %s; want 1719, %d, request", w.Stage, w.Count, w.Sum, w.Per, sums[w.Stage])
		}
		var n uint64
		for _, b := range w.Buckets {
			n += b.Count
			if b.Count == 0 || b.Lo > b.Hi {
				t.Errorf("%s: bucket %+v", w.Stage, b)
			}
		}
		if n != w.Count {
			t.Errorf("%s: buckets hold %d; count %d", w.Stage, n, w.Count)
		}
		// The window's quantiles lie within the cumulative extremes, and
		// p50 within a bucket (1/4 octave) of the mean's order.
		if w.P50 < w.CumMin || w.P99 > w.CumMax || w.P50 > w.P99 {
			t.Errorf("%s: p50 %d, p99 %d outside [%d, %d]", w.Stage, w.P50, w.P99, w.CumMin, w.CumMax)
		}
		if want := float64(w.Sum) * 173268 / 1719; math.Abs(w.Total-want) > 1 {
			t.Errorf("%s: total %.0f; want sum/count × requests = %.0f", w.Stage, w.Total, want)
		}
		if w.Stage != "parse" { // inside read
			shares += w.Share
		}
	}
	if math.Abs(shares-1) > 1e-9 {
		t.Errorf("shares but parse's add up to %v", shares)
	}
	if bd.Culprit != "queue_wait" {
		t.Errorf("culprit %q; want queue_wait (430981291 ns sampled against write's 400062865)", bd.Culprit)
	}

	// Readings in the wrong order: counters go back.
	if _, err := windowBreakdown(after, before); err == nil {
		t.Error("reversed readings accepted")
	}
	// A window with nothing in it.
	if bd, err := windowBreakdown(after, after); err != nil || len(bd.Stages) != 0 || bd.Culprit != "" || bd.Requests != 0 {
		t.Errorf("empty window: %+v, %v", bd, err)
	}
}

func TestDiffBuckets(t *testing.T) {
	before := []cumBucket{{127, 1}, {159, 1}, {191, 4}, {math.MaxInt64, 4}}
	after := []cumBucket{{127, 3}, {159, 3}, {191, 9}, {math.MaxInt64, 10}}
	got, err := diffBuckets(before, after)
	if err != nil {
		t.Fatal(err)
	}
	want := []windowBucket{{0, 127, 2}, {160, 191, 3}, {192, math.MaxInt64, 1}}
	if !slices.Equal(got, want) {
		t.Errorf("got %v; want %v", got, want)
	}
	// A server that started with no buckets yet: before is empty.
	if got, err := diffBuckets(nil, after); err != nil || !slices.Equal(got, []windowBucket{{0, 127, 3}, {160, 191, 6}, {192, math.MaxInt64, 1}}) {
		t.Errorf("from nothing: %v, %v", got, err)
	}
	if _, err := diffBuckets(after, before); err == nil {
		t.Error("a bucket going back was accepted")
	}
}

func TestBucketQuantile(t *testing.T) {
	bs := []windowBucket{{0, 127, 10}, {1024, 1279, 80}, {4096, 5119, 9}, {6144, math.MaxInt64, 1}}
	tests := []struct {
		name   string
		q      float64
		lo, hi int64
		want   int64
	}{
		{name: "p50 midpoint", q: 0.5, lo: 0, hi: 1e9, want: 1151},
		{name: "p10 first bucket", q: 0.1, lo: 0, hi: 1e9, want: 63},
		{name: "p10 clamped to min", q: 0.1, lo: 100, hi: 1e9, want: 100},
		{name: "p99", q: 0.99, lo: 0, hi: 1e9, want: 4607},
		{name: "p999 overflow is the max", q: 0.999, lo: 0, hi: 9000, want: 9000},
		{name: "clamped to max", q: 0.99, lo: 0, hi: 4200, want: 4200},
		{name: "all zero", q: 0.5, lo: 0, hi: 0, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := bs
			if tt.name == "all zero" {
				b = []windowBucket{{0, 127, 3}}
			}
			if got := bucketQuantile(b, tt.q, tt.lo, tt.hi); got != tt.want {
				t.Errorf("q %v = %d; want %d", tt.q, got, tt.want)
			}
		})
	}
	if got := bucketQuantile(nil, 0.5, 0, 10); got != 0 {
		t.Errorf("empty: %d", got)
	}
}

// window is a stage window of count samples summing to sum, all in one
// bucket.
func window(st string, count uint64, sum int64) stageWindow {
	mean := sum / int64(max(count, 1))
	return stageWindow{Stage: st, Count: count, Sum: sum, Per: stagePer(st), CumMin: 0, CumMax: 2 * mean,
		Buckets: []windowBucket{{Lo: mean / 2, Hi: mean + mean/2, Count: count}}}
}

func TestCulprit(t *testing.T) {
	tests := []struct {
		name string
		bd   stageBreakdown
		want string
	}{
		{name: "largest sampled sum among per-request stages",
			bd:   stageBreakdown{Requests: 1000, Stages: []stageWindow{window("parse", 10, 5000), window("process", 10, 9000), window("write", 10, 8000)}},
			want: "process"},
		{name: "per connection: few samples, many connections (storm)",
			// accept: 2 of 1000 connections sampled, 20 µs each: 20 ms in
			// all; process: 10 of 1000 requests, 1 µs each: 1 ms.
			bd:   stageBreakdown{Requests: 1000, Conns: 1000, Stages: []stageWindow{window("accept", 2, 40000), window("parse", 10, 3000), window("process", 10, 10000)}},
			want: "accept"},
		{name: "per connection: keep-alive, few connections",
			bd:   stageBreakdown{Requests: 100000, Conns: 64, Stages: []stageWindow{window("accept", 1, 20000), window("parse", 1000, 300000)}},
			want: "parse"},
		{name: "decode on a tenth of the requests counts a tenth",
			// decode: 10 samples of 50 µs, but 100 requests sampled: 1000
			// requests × 1/10 × 50 µs = 5 ms; process 100 × 100 µs.
			bd:   stageBreakdown{Requests: 1000, Stages: []stageWindow{window("parse", 100, 1000), window("decode", 10, 500000), window("process", 100, 10000000)}},
			want: "process"},
		{name: "TLS handshakes are all recorded",
			bd:   stageBreakdown{Requests: 1000, Handshakes: 1000, Stages: []stageWindow{window("parse", 10, 10000), window("tls_handshake", 1000, 300000000)}},
			want: "tls_handshake"},
		{name: "decrypt per read",
			bd:   stageBreakdown{Requests: 100, Reads: 100000, Stages: []stageWindow{window("parse", 1, 1000), window("decrypt", 1000, 2000000)}},
			want: "decrypt"},
		{name: "parse is inside read: not counted twice, not the culprit",
			// read 10 µs (parse 9 µs of it), process 12 µs: process.
			bd:   stageBreakdown{Requests: 10, Stages: []stageWindow{window("read", 10, 100000), window("parse", 10, 90000), window("process", 10, 120000)}},
			want: "process"},
		{name: "parse without read",
			bd:   stageBreakdown{Requests: 10, Stages: []stageWindow{window("parse", 10, 90000), window("process", 10, 12000)}},
			want: "parse"},
		{name: "all zero", bd: stageBreakdown{Requests: 10, Conns: 10, Stages: []stageWindow{window("accept_queue", 3, 0)}}, want: ""},
		{name: "no samples", bd: stageBreakdown{Requests: 10}, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bd := tt.bd
			bd.finish()
			if bd.Culprit != tt.want {
				var shares []string
				for _, w := range bd.Stages {
					shares = append(shares, w.Stage+" "+pctStr(w.Share))
				}
				t.Errorf("culprit %q; want %q (shares %v)", bd.Culprit, tt.want, shares)
			}
		})
	}
}

func TestPoolBreakdowns(t *testing.T) {
	a := &stageBreakdown{SampleEvery: 100, Requests: 1000, Conns: 64, Stages: []stageWindow{
		{Stage: "parse", Per: "request", Count: 10, Sum: 2000, CumMin: 100, CumMax: 900, Buckets: []windowBucket{{160, 191, 4}, {192, 223, 6}}},
		{Stage: "write", Per: "request", Count: 10, Sum: 9000, CumMin: 500, CumMax: 2000, Buckets: []windowBucket{{768, 895, 10}}},
	}}
	b := &stageBreakdown{SampleEvery: 100, Requests: 3000, Conns: 64, Stages: []stageWindow{
		{Stage: "accept", Per: "connection", Count: 1, Sum: 5000, CumMin: 5000, CumMax: 6000, Buckets: []windowBucket{{4096, 5119, 1}}},
		{Stage: "parse", Per: "request", Count: 30, Sum: 9000, CumMin: 90, CumMax: 800, Buckets: []windowBucket{{128, 159, 5}, {192, 223, 25}}},
	}}
	for _, bd := range []*stageBreakdown{a, b} {
		bd.finish()
	}
	p := poolBreakdowns([]*stageBreakdown{a, nil, b})
	if p == nil || p.Rounds != 2 || p.Requests != 4000 || p.Conns != 128 || p.SampleEvery != 100 {
		t.Fatalf("pooled %+v", p)
	}
	var names []string
	for _, w := range p.Stages {
		names = append(names, w.Stage)
	}
	if want := []string{"accept", "parse", "write"}; !slices.Equal(names, want) {
		t.Errorf("stages %v; want %v (stage order)", names, want)
	}
	parse := p.stage("parse")
	want := []windowBucket{{128, 159, 5}, {160, 191, 4}, {192, 223, 31}}
	if parse.Count != 40 || parse.Sum != 11000 || !slices.Equal(parse.Buckets, want) || parse.CumMin != 90 || parse.CumMax != 900 {
		t.Errorf("parse pooled %+v; want 40 samples, sum 11000, buckets %v, extremes 90–900", *parse, want)
	}
	if parse.P50 != 207 || p.Sampled != 40 {
		t.Errorf("pooled p50 %d, sampled %d; want 207 (bucket 192–223), 40", parse.P50, p.Sampled)
	}
	// The inputs are left alone.
	if len(a.Stages[0].Buckets) != 2 || a.Stages[0].Buckets[1].Count != 6 {
		t.Errorf("input changed: %+v", a.Stages[0].Buckets)
	}
	if poolBreakdowns([]*stageBreakdown{nil}) != nil {
		t.Error("pooling nothing gave a breakdown")
	}
}

func TestDurStr(t *testing.T) {
	for ns, want := range map[float64]string{0: "0 ns", 63: "63 ns", 999: "999 ns", 1500: "1.5 µs", 12_345: "12 µs",
		450_000: "450 µs", 2_500_000: "2.5 ms", 45_000_000: "45 ms", 3e9: "3.0 s"} {
		if got := durStr(ns); got != want {
			t.Errorf("durStr(%v) = %q; want %q", ns, got, want)
		}
	}
}

func TestWriteStageTable(t *testing.T) {
	bd, err := windowBreakdown(testReading(t, "before"), testReading(t, "after"))
	if err != nil {
		t.Fatal(err)
	}
	bd.Conns = 64
	bd.Stages = append([]stageWindow{window("accept", 2, 12000)}, bd.Stages...)
	bd.finish()
	rows := []summary{
		{Scenario: "decode", Target: "reactor", OK: 1, Stages: poolBreakdowns([]*stageBreakdown{bd})},
		{Scenario: "decode", Target: "reactor-nostages", OK: 1, Stages: &stageBreakdown{SampleEvery: 0, Requests: 5, Rounds: 1}},
		{Scenario: "decode", Target: "single", OK: 1, StageErrors: []string{"round 1: stage timings: GET http://127.0.0.1:9/debug/stats: connection refused"}},
		{Scenario: "decode", Target: "nethttp", OK: 1},
	}
	var b strings.Builder
	writeStageTable(&b, rows)
	md := b.String()
	for _, want := range []string{
		"| target | timing | sampled | accept | read | parse | decode | process | write | queue_wait |\n|---|---|--:|--:|--:|--:|--:|--:|--:|--:|\n",
		"| reactor | 1 in 100 | 1.7k | 6.0 µs / 6.0 µs (2) | ",
		"| reactor-nostages | off | – | – | – | – | – | – | – | – |",
		"| single | – | – | – | – | – | – | – | – | – |",
		"| nethttp | – | – | – | – | – | – | – | – | – |",
		"- reactor: queue_wait 52% (mean 251 µs); then write 48%, decode 0.3%",
		"- single: no breakdown in round 1: stage timings: GET http://127.0.0.1:9/debug/stats: connection refused",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("table lacks %q:\n%s", want, md)
		}
	}
	// Columns only for stages with samples.
	for _, absent := range []string{"decrypt", "tls_handshake", "accept_queue"} {
		if strings.Contains(md, "| "+absent+" |") {
			t.Errorf("column %s without samples:\n%s", absent, md)
		}
	}
	// Only peers: no table.
	b.Reset()
	writeStageTable(&b, []summary{{Target: "nethttp", OK: 1}})
	if b.Len() != 0 {
		t.Errorf("a table without a breakdown:\n%s", b.String())
	}
}

func TestTimingOff(t *testing.T) {
	byName := func(n string) target {
		i := slices.IndexFunc(targets, func(t target) bool { return t.Name == n })
		if i < 0 {
			t.Fatalf("no target %s", n)
		}
		return targets[i]
	}
	if n, rest := stageSampling(byName("reactor-sample1")); n != 1 || !slices.Equal(rest, []string{"-model", "reactor"}) {
		t.Errorf("reactor-sample1: sampling %d, other flags %q", n, rest)
	}
	if n, rest := stageSampling(target{Flags: []string{"-inline", "--stage-sampling=-1"}}); n != -1 || !slices.Equal(rest, []string{"-inline"}) {
		t.Errorf("-stage-sampling=-1: sampling %d, other flags %q", n, rest)
	}
	tests := []struct {
		target, off string // off "": none
		judged      bool   // the sampling goal judges it
	}{
		{target: "reactor", off: "reactor-nostages", judged: true},
		{target: "reactor-sample1", off: "reactor-nostages"},
		{target: "reactor-nostages"},
		{target: "reactor-inline"},
		{target: "single"},
		{target: "nethttp"},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			off, ok := timingOff(byName(tt.target), targets)
			if ok != (tt.off != "") || off.Name != tt.off {
				t.Errorf("timing-off twin %q, %v; want %q", off.Name, ok, tt.off)
			}
			if got := defaultTimingWithOff(byName(tt.target), targets); got != tt.judged {
				t.Errorf("judged %v; want %v", got, tt.judged)
			}
		})
	}
	// Without the twin among the targets run, nothing is judged.
	if defaultTimingWithOff(byName("reactor"), []target{byName("reactor"), byName("reactor-sample1")}) {
		t.Error("reactor judged without reactor-nostages")
	}
}

// TestSamplingGoal runs the pipelined scenario's cells through the
// summaries and the markdown: round-by-round ratios to the timing-off
// twin, the goal on the default-sampling target only, and only from the
// rounds on a quiet machine.
func TestSamplingGoal(t *testing.T) {
	var pipelined scenario
	for _, sc := range scenarios {
		if sc.Name == "pipelined" {
			pipelined = sc
		}
	}
	ts := []target{{Name: "reactor", Kind: kindSluice, Flags: []string{"-model", "reactor"}},
		{Name: "reactor-inline", Kind: kindSluice, Flags: []string{"-model", "reactor", "-inline"}},
		{Name: "reactor-nostages", Kind: kindSluice, Flags: []string{"-model", "reactor", "-stage-sampling", "-1"}},
		{Name: "reactor-sample1", Kind: kindSluice, Flags: []string{"-model", "reactor", "-stage-sampling", "1"}},
		{Name: "nethttp", Kind: kindGo}}
	// cellsFor makes a round's cells from req/CPU-s by target; busy names
	// the targets whose runs were flagged busy, by round.
	cellsFor := func(perRound map[string][]float64, busy map[int]string) []cell {
		var cells []cell
		for r := range len(perRound["reactor"]) {
			for _, tg := range ts {
				v, ok := perRound[tg.Name]
				if !ok {
					continue
				}
				other := -1.0
				if busy[r] == tg.Name {
					other = 50
				}
				c := cell{Round: r + 1, Scenario: "pipelined", Target: tg.Name, Wrk: &wrkResult{RequestsPerSec: v[r] / 2},
					ReqPerCPUSec: v[r], OtherServerCPUPercent: other, OtherWrkCPUPercent: -1}
				if tg.Kind == kindSluice {
					every := 100
					if n, _ := stageSampling(tg); n != 0 {
						every = max(n, 0)
					}
					bd := &stageBreakdown{SampleEvery: every, Requests: 1000}
					if every > 0 {
						bd.Stages = []stageWindow{window("parse", uint64(1000/every), int64(200*1000/every)), window("write", uint64(1000/every), int64(900*1000/every))}
					}
					bd.finish()
					c.Stages = bd
				}
				cells = append(cells, c)
			}
		}
		return cells
	}
	// reactor: 0.98, 0.985 and 0.99 of the twin's (cost 1.5%);
	// reactor-sample1: 0.90, 0.91, 0.92.
	sums := summarizeCells(cellsFor(map[string][]float64{"reactor": {980, 1970, 2970}, "reactor-inline": {1200, 2400, 3600},
		"reactor-nostages": {1000, 2000, 3000}, "reactor-sample1": {900, 1820, 2760}, "nethttp": {300, 600, 900}}, nil),
		[]scenario{pipelined}, ts, map[string]string{}, 3)
	got := map[string]summary{}
	for _, s := range sums {
		got[s.Target] = s
	}
	if s := got["reactor"]; s.TimingOff != "reactor-nostages" || math.Abs(s.TimingCPUEff.Median-0.985) > 1e-9 || s.TimingCPUEffQuiet != s.TimingCPUEff || s.Goal != goalMet {
		t.Errorf("reactor: twin %q, ratio %+v, quiet %+v, goal %q (%s); want reactor-nostages, 0.985 in all rounds, met",
			s.TimingOff, s.TimingCPUEff, s.TimingCPUEffQuiet, s.Goal, s.GoalDetail)
	}
	if s := got["reactor-sample1"]; s.TimingOff != "reactor-nostages" || math.Abs(s.TimingCPUEff.Median-0.91) > 1e-9 || s.Goal != "" {
		t.Errorf("reactor-sample1: twin %q, ratio %+v, goal %q; want reactor-nostages, 0.91, not judged", s.TimingOff, s.TimingCPUEff, s.Goal)
	}
	for _, n := range []string{"reactor-inline", "reactor-nostages", "nethttp"} {
		if s := got[n]; s.TimingOff != "" || s.Goal != "" {
			t.Errorf("%s: twin %q, goal %q; want neither", n, s.TimingOff, s.Goal)
		}
	}
	if bd := got["reactor"].Stages; bd == nil || bd.Rounds != 3 || bd.Culprit != "write" || bd.Requests != 3000 {
		t.Errorf("reactor's pooled breakdown %+v", bd)
	}
	if got["nethttp"].Stages != nil {
		t.Errorf("nethttp has a breakdown")
	}

	md := markdown(&report{Options: options{Rounds: 3, Conns: 64}, Summaries: sums})
	for _, want := range []string{
		"Goal for sluice: the default stage sampling (1 in 100) costs ≤ 3% of req/CPU-s against the same server with timing off (-stage-sampling -1)",
		"- reactor: ✔ met (req/CPU-s over reactor-nostages's in the 3 quiet round(s): ratio 0.985 (0.980–0.990), cost +1.5%; all 3 round(s): req/CPU-s ratio 0.985 (0.980–0.990), req/s ratio 0.985 (0.980–0.990))",
		"- reactor (timing 1 in 100) vs reactor-nostages: req/CPU-s ratio 0.985 (0.980–0.990), cost +1.5%; req/s ratio 0.985 (0.980–0.990)\n",
		"- reactor-sample1 (timing every request) vs reactor-nostages: req/CPU-s ratio 0.910 (0.900–0.920), cost +9.0%",
		"| reactor-nostages | off | – |",
		"| nethttp | – | – | – | – |",
		"- reactor: write 82% (mean 900 ns); then parse 18%",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	if n := strings.Count(md, ": ✔") + strings.Count(md, ": ✘") + strings.Count(md, ": ?"); n != 1 {
		t.Errorf("the goal judged a target without default sampling and a twin:\n%s", md)
	}

	tests := []struct {
		name    string
		reactor []float64
		busy    map[int]string
		want    string
		detail  string
	}{
		{name: "0.96 of the twin: missed", reactor: []float64{960, 1920, 2880}, want: goalMissed,
			detail: "in the 3 quiet round(s): ratio 0.960, cost +4.0%"},
		{name: "busy round left out", reactor: []float64{980, 1000, 2940, 3960}, busy: map[int]string{1: "reactor-nostages"}, want: goalMet,
			detail: "in the 3 quiet round(s): ratio 0.980 (0.980–0.990), cost +2.0%; all 4 round(s): req/CPU-s ratio 0.980 (0.500–0.990)"},
		{name: "two quiet rounds: unknown", reactor: []float64{960, 1920, 2880}, busy: map[int]string{0: "reactor"}, want: goalUnknown,
			detail: "2 round(s) on a quiet machine, 3 needed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			off := make([]float64, len(tt.reactor))
			for i := range off {
				off[i] = float64(1000 * (i + 1))
			}
			sums := summarizeCells(cellsFor(map[string][]float64{"reactor": tt.reactor, "reactor-nostages": off}, tt.busy),
				[]scenario{pipelined}, ts, map[string]string{}, len(off))
			if s := sums[0]; s.Goal != tt.want || !strings.Contains(s.GoalDetail, tt.detail) {
				t.Errorf("goal %q (%s); want %s, %q", s.Goal, s.GoalDetail, tt.want, tt.detail)
			}
		})
	}
}

// TestReadStages reads a fake debug listener that serves the testdata.
func TestReadStages(t *testing.T) {
	stats, prom := readTestdata(t, "stats-after.json"), readTestdata(t, "metrics-after.prom")
	var broken atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/debug/stats":
			_, _ = w.Write(stats)
		case r.URL.Path == "/metrics" && !broken.Load():
			_, _ = w.Write(prom)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	r, err := readStages(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	if r.stats.SampleEvery != 100 || len(r.buckets) != 10 || r.buckets["parse"][len(r.buckets["parse"])-1].Count != 3174 {
		t.Errorf("reading: sample_every %d, %d stages of buckets", r.stats.SampleEvery, len(r.buckets))
	}
	broken.Store(true)
	if _, err := readStages(context.Background(), addr); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("no /metrics: %v; want a 404 error", err)
	}
}
