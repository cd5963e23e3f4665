package main

import (
	"maps"
	"math"
	"testing"
)

func TestSummarize(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name string
		in   []float64
		want stat
	}{
		{name: "empty", in: nil, want: stat{}},
		{name: "all NaN", in: []float64{nan, nan}, want: stat{}},
		{name: "one", in: []float64{3}, want: stat{Median: 3, Min: 3, Max: 3, N: 1}},
		{name: "odd", in: []float64{5, 1, 3}, want: stat{Median: 3, Min: 1, Max: 5, N: 3}},
		{name: "even", in: []float64{4, 1, 3, 2}, want: stat{Median: 2.5, Min: 1, Max: 4, N: 4}},
		{name: "NaN skipped", in: []float64{2, nan, 10, 4}, want: stat{Median: 4, Min: 2, Max: 10, N: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := summarize(tt.in); got != tt.want {
				t.Errorf("summarize(%v) = %+v; want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestRoundRatios(t *testing.T) {
	target := map[int]float64{0: 50, 1: 90, 2: 30, 4: 10}
	base := map[int]float64{0: 100, 1: 100, 2: 20, 3: 100, 4: 0}
	got := roundRatios(target, base, 5)
	want := []float64{0.5, 0.9, 1.5, math.NaN(), math.NaN()}
	for i := range want {
		if math.IsNaN(want[i]) != math.IsNaN(got[i]) || (!math.IsNaN(want[i]) && math.Abs(got[i]-want[i]) > 1e-12) {
			t.Errorf("round %d: ratio %v; want %v", i, got[i], want[i])
		}
	}
	// The median of the per-round ratios, not the ratio of the medians:
	// medians 50 and 100 would give 0.5.
	if s := summarize(got); s.Median != 0.9 || s.Min != 0.5 || s.Max != 1.5 || s.N != 3 {
		t.Errorf("summary of ratios = %+v; want median 0.9 over 0.5–1.5, N 3", s)
	}
}

func TestPerCPUSecond(t *testing.T) {
	if got := perCPUSecond(1000, 0.5); got != 2000 {
		t.Errorf("perCPUSecond(1000, 0.5) = %v; want 2000", got)
	}
	if got := perCPUSecond(1000, 0); !math.IsNaN(got) {
		t.Errorf("perCPUSecond(1000, 0) = %v; want NaN", got)
	}
}

func TestSummarizeCells(t *testing.T) {
	sc := []scenario{{Name: "plaintext"}, {Name: "idle", Idle: true}}
	ts := []target{{Name: "a"}, {Name: "base"}}
	w := func(rps float64) *wrkResult { return &wrkResult{RequestsPerSec: rps, Requests: int64(rps)} }
	cells := []cell{
		{Round: 1, Scenario: "plaintext", Target: "a", Wrk: w(100), ReqPerCPUSec: 200},
		{Round: 1, Scenario: "plaintext", Target: "base", Wrk: w(200), ReqPerCPUSec: 100},
		{Round: 2, Scenario: "plaintext", Target: "a", Wrk: w(300), ReqPerCPUSec: 100},
		{Round: 2, Scenario: "plaintext", Target: "base", Error: "probe: boom"},
		{Round: 3, Scenario: "plaintext", Target: "a", Wrk: &wrkResult{RequestsPerSec: 120, Non2xx: 7}, ReqPerCPUSec: 240},
		{Round: 3, Scenario: "plaintext", Target: "base", Wrk: w(100), ReqPerCPUSec: 80},
		{Round: 1, Scenario: "idle", Target: "a", Idle: &idleResult{Conns: 10, Alive: 10, KiBPerConn: 8}},
		{Round: 1, Scenario: "idle", Target: "base", Idle: &idleResult{Conns: 10, Alive: 9, KiBPerConn: 4}},
	}
	sums := summarizeCells(cells, sc, ts, map[string]string{"plaintext": "base", "idle": "base"}, 3)
	if len(sums) != 4 {
		t.Fatalf("%d summaries; want 4", len(sums))
	}
	a := sums[0]
	if a.OK != 3 || a.ReqPerSec.Median != 120 || a.Non2xx != 7 {
		t.Errorf("a: %+v", a)
	}
	// Rounds 1 and 3 have both sides: 200/100 = 2 and 240/80 = 3.
	if a.CPUEffRatio != (stat{Median: 2.5, Min: 2, Max: 3, N: 2}) {
		t.Errorf("a CPU ratio = %+v", a.CPUEffRatio)
	}
	if a.RPSRatio != (stat{Median: 0.85, Min: 0.5, Max: 1.2, N: 2}) {
		t.Errorf("a req/s ratio = %+v", a.RPSRatio)
	}
	if b := sums[1]; b.OK != 2 || len(b.Failures) != 1 || b.CPUEffRatio.Median != 1 {
		t.Errorf("base: %+v", b)
	}
	if m := sums[2]; m.MemRatio.Median != 2 || m.KiBPerConn.Median != 8 || m.Conns != 10 {
		t.Errorf("idle a: %+v", m)
	}
}

func TestGoals(t *testing.T) {
	byName := map[string]scenario{}
	for _, s := range scenarios {
		byName[s.Name] = s
	}
	ts := []target{{Name: "fast", Kind: kindSluice}, {Name: "slow", Kind: kindSluice}, {Name: "nethttp", Kind: kindGo}, {Name: "fasthttp", Kind: kindGo}}
	load := func(sc, tg string, rps, eff float64, resumed bool) cell {
		r := resumed
		c := cell{Round: 1, Scenario: sc, Target: tg, Wrk: &wrkResult{RequestsPerSec: rps, Requests: int64(rps)}, ReqPerCPUSec: eff}
		if sc == "tls-handshake" {
			c.ServerResumes = &r
		}
		return c
	}
	idle := func(tg string, kib float64, alive int) cell {
		return cell{Round: 1, Scenario: "tls-idle", Target: tg, Idle: &idleResult{Conns: 10, Alive: alive, KiBPerConn: kib}}
	}
	cells := []cell{
		load("tls", "fast", 50e3, 100e3, false), load("tls", "slow", 50e3, 70e3, false),
		load("tls", "nethttp", 30e3, 50e3, false), load("tls", "fasthttp", 45e3, 80e3, false),
		load("tls-handshake", "fast", 3e3, 3e3, false), load("tls-handshake", "slow", 3e3, 3e3, true),
		load("tls-handshake", "nethttp", 2e3, 2e3, false),
		idle("fast", 8, 10), idle("slow", 8, 9), idle("nethttp", 30, 10),
	}
	scs := []scenario{byName["tls"], byName["tls-handshake"], byName["tls-idle"]}
	got := map[string]string{}
	for _, s := range summarizeCells(cells, scs, ts, nil, 1) {
		if s.Goal != "" {
			got[s.Scenario+" "+s.Target] = s.Goal
		}
	}
	want := map[string]string{
		"tls fast": goalMet, "tls slow": goalMissed, // 1.4× nethttp's req/CPU-s
		"tls-handshake fast": goalMet, "tls-handshake slow": goalUnknown, // resumed
		"tls-idle fast": goalMet, "tls-idle slow": goalMissed, // one connection closed
	}
	if !maps.Equal(got, want) {
		t.Errorf("verdicts %v; want %v", got, want)
	}
}
