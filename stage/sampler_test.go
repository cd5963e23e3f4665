package stage

import (
	"math"
	"testing"
)

func TestSamplerRate(t *testing.T) {
	tests := []struct {
		name  string
		every int
		calls int
		tol   float64 // allowed relative deviation of the sample count
	}{
		{name: "disabled", every: 0, calls: 100_000},
		{name: "negative is disabled", every: -3, calls: 100_000},
		{name: "every request", every: 1, calls: 100_000},
		{name: "1 in 2", every: 2, calls: 200_000},
		{name: "1 in 3", every: 3, calls: 300_000, tol: 0.01},
		{name: "1 in 16", every: 16, calls: 1_600_000, tol: 0.01},
		{name: "1 in 100", every: 100, calls: 2_000_000, tol: 0.02},
		{name: "1 in 1000", every: 1000, calls: 5_000_000, tol: 0.05},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewSampler(tt.every, 7)
			n := 0
			for range tt.calls {
				if s.Sample() {
					n++
				}
			}
			want := 0.0
			if tt.every > 0 {
				want = float64(tt.calls) / float64(tt.every)
			}
			if math.Abs(float64(n)-want) > tt.tol*want {
				t.Fatalf("%d samples in %d calls, want %.0f ± %.0f%%", n, tt.calls, want, 100*tt.tol)
			}
		})
	}
}

func TestSamplerZeroValue(t *testing.T) {
	var s Sampler
	for range 1000 {
		if s.Sample() {
			t.Fatal("zero Sampler sampled")
		}
	}
}

func TestSamplerGaps(t *testing.T) {
	// Gaps stay within [N-h, N+h], h = (N-1)/2, and are not all equal (a
	// fixed gap would alias with pipelined batches).
	const every = 16
	s := NewSampler(every, 1)
	last, gaps := -1, map[int]int{}
	for i := range 100_000 {
		if !s.Sample() {
			continue
		}
		if last >= 0 {
			g := i - last
			if g < every-(every-1)/2 || g > every+(every-1)/2 {
				t.Fatalf("gap %d outside [%d, %d]", g, every-(every-1)/2, every+(every-1)/2)
			}
			gaps[g]++
		}
		last = i
	}
	if len(gaps) < every/2 {
		t.Fatalf("only %d distinct gaps: %v", len(gaps), gaps)
	}
}

func TestSamplerFirstRequest(t *testing.T) {
	// Per-connection samplers with distinct seeds sample a connection's
	// first request with probability ~1/N, so that connections carrying a
	// single request are still seen.
	const every, conns = 10, 100_000
	n := 0
	for id := range uint64(conns) {
		s := NewSampler(every, id)
		if s.Sample() {
			n++
		}
	}
	if want := conns / every; math.Abs(float64(n-want)) > 0.05*float64(want) {
		t.Fatalf("%d of %d first requests sampled, want ~%d", n, conns, want)
	}
}

func TestSamplerDeterministic(t *testing.T) {
	a, b := NewSampler(100, 42), NewSampler(100, 42)
	for i := range 10_000 {
		if a.Sample() != b.Sample() {
			t.Fatalf("samplers with the same seed diverge at call %d", i)
		}
	}
}
