package main

import (
	"math"
	"slices"
)

// stat summarises one quantity over rounds.
type stat struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	N      int     `json:"n"` // rounds that gave a value
}

// summarize returns the median, minimum and maximum of xs, ignoring NaNs.
// With no values it returns the zero stat (N == 0): JSON has no NaN.
func summarize(xs []float64) stat {
	v := make([]float64, 0, len(xs))
	for _, x := range xs {
		if !math.IsNaN(x) {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return stat{}
	}
	slices.Sort(v)
	return stat{Median: median(v), Min: v[0], Max: v[len(v)-1], N: len(v)}
}

// median of sorted, non-empty v: the middle value, or the mean of the two
// middle values.
func median(v []float64) float64 {
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// roundRatios divides a target's value by the baseline's value of the same
// round, round by round. A round missing on either side, or whose baseline
// is not positive, gives NaN: ratios are never taken across rounds, so a
// machine that drifts between rounds affects both sides of each ratio.
func roundRatios(target, baseline map[int]float64, rounds int) []float64 {
	r := make([]float64, rounds)
	for i := range r {
		t, okT := target[i]
		b, okB := baseline[i]
		if !okT || !okB || b <= 0 || math.IsNaN(t) || math.IsNaN(b) {
			r[i] = math.NaN()
			continue
		}
		r[i] = t / b
	}
	return r
}

// perCPUSecond is the requests served per second of server CPU time; NaN
// when no CPU time was measured.
func perCPUSecond(requests int64, cpuSeconds float64) float64 {
	if cpuSeconds <= 0 {
		return math.NaN()
	}
	return float64(requests) / cpuSeconds
}
