package stage

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// errorBound is the documented relative error of a quantile: 1/(2*SubBuckets).
const errorBound = 1.0 / (2 * SubBuckets)

func TestBucketLayout(t *testing.T) {
	// Buckets tile [0, MaxInt64] without gaps or overlaps, and bucketOf
	// agrees with BucketRange at both ends of every bucket.
	var next time.Duration
	for i := range NumBuckets {
		lo, hi := BucketRange(i)
		if lo != next {
			t.Fatalf("bucket %d starts at %d, want %d", i, lo, next)
		}
		if hi < lo {
			t.Fatalf("bucket %d: hi %d < lo %d", i, hi, lo)
		}
		if got := bucketOf(uint64(lo)); got != i {
			t.Fatalf("bucketOf(%d) = %d, want %d", lo, got, i)
		}
		if got := bucketOf(uint64(hi)); got != i {
			t.Fatalf("bucketOf(%d) = %d, want %d", hi, got, i)
		}
		if lo >= 2*SubBuckets && i != NumBuckets-1 {
			if w := hi - lo + 1; float64(w) > float64(lo)/SubBuckets {
				t.Fatalf("bucket %d [%d, %d] wider than 1/%d of its lower bound", i, lo, hi, SubBuckets)
			}
		}
		next = hi + 1
	}
	if _, hi := BucketRange(NumBuckets - 1); hi != math.MaxInt64 {
		t.Fatalf("overflow bucket ends at %d", hi)
	}
	if lo, _ := BucketRange(NumBuckets - 1); lo != MaxTrackable {
		t.Fatalf("overflow bucket starts at %d, want MaxTrackable", lo)
	}
}

func TestHistogramRecord(t *testing.T) {
	tests := []struct {
		name                   string
		in                     []time.Duration
		count                  uint64
		sum, min, max, p50, p1 time.Duration
	}{
		{name: "empty"},
		{name: "one", in: []time.Duration{7}, count: 1, sum: 7, min: 7, max: 7, p50: 7, p1: 7},
		{name: "negative counts as zero", in: []time.Duration{-5, 3}, count: 2, sum: 3, min: 0, max: 3, p50: 0, p1: 3},
		{name: "exact below 32ns", in: []time.Duration{1, 2, 3, 31}, count: 4, sum: 37, min: 1, max: 31, p50: 2, p1: 31},
		{name: "overflow reports max", in: []time.Duration{time.Second, 200 * time.Second, 300 * time.Second},
			count: 3, sum: 501 * time.Second, min: time.Second, max: 300 * time.Second, p50: 300 * time.Second, p1: 300 * time.Second},
		{name: "clamped to min and max", in: []time.Duration{1000, 1000, 1000}, count: 3, sum: 3000, min: 1000, max: 1000, p50: 1000, p1: 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Histogram
			for _, d := range tt.in {
				h.Record(d)
			}
			s := h.Snapshot()
			if s.Count != tt.count || s.Sum != tt.sum || s.Min != tt.min || s.Max != tt.max {
				t.Fatalf("count/sum/min/max = %d/%d/%d/%d, want %d/%d/%d/%d",
					s.Count, s.Sum, s.Min, s.Max, tt.count, tt.sum, tt.min, tt.max)
			}
			if got := s.Quantile(0.5); got != tt.p50 {
				t.Errorf("p50 = %d, want %d", got, tt.p50)
			}
			if got := s.Quantile(1); got != tt.p1 {
				t.Errorf("p100 = %d, want %d", got, tt.p1)
			}
		})
	}
}

// exactQuantile is the nearest-rank quantile of sorted data, the
// definition Quantile estimates.
func exactQuantile(sorted []time.Duration, q float64) time.Duration {
	rank := int(math.Ceil(q * float64(len(sorted))))
	rank = max(rank, 1)
	return sorted[rank-1]
}

func TestQuantileError(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	dists := []struct {
		name string
		gen  func() time.Duration
	}{
		{name: "uniform 100ns-1ms", gen: func() time.Duration { return 100 + time.Duration(r.Int64N(int64(time.Millisecond))) }},
		{name: "exponential mean 50us", gen: func() time.Duration { return time.Duration(r.ExpFloat64() * 50e3) }},
		{name: "lognormal median 2us", gen: func() time.Duration { return time.Duration(math.Exp(r.NormFloat64()*1.5) * 2e3) }},
		{name: "bimodal 300ns and 20ms", gen: func() time.Duration {
			if r.IntN(10) == 0 {
				return time.Duration(20e6 + r.NormFloat64()*1e6)
			}
			return time.Duration(300 + r.NormFloat64()*30)
		}},
		{name: "pareto heavy tail from 1us", gen: func() time.Duration { return time.Duration(1e3 / math.Pow(r.Float64(), 1/1.2)) }},
		{name: "log-uniform 100ns-100s", gen: func() time.Duration { return time.Duration(math.Pow(10, 2+9*r.Float64())) }},
		{name: "constant 1234ns", gen: func() time.Duration { return 1234 }},
	}
	quantiles := []float64{0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 0.9999}
	for _, d := range dists {
		t.Run(d.name, func(t *testing.T) {
			const n = 200_000
			var h Histogram
			data := make([]time.Duration, n)
			for i := range data {
				v := min(max(d.gen(), 0), MaxTrackable-1)
				data[i] = v
				h.Record(v)
			}
			slices.Sort(data)
			s := h.Snapshot()
			for _, q := range quantiles {
				want := exactQuantile(data, q)
				got := s.Quantile(q)
				if want == 0 {
					if got != 0 {
						t.Errorf("q%v = %v, exact 0", q, got)
					}
					continue
				}
				if rel := math.Abs(float64(got-want)) / float64(want); rel > errorBound {
					t.Errorf("q%v = %v, exact %v: relative error %.4f > %.4f", q, got, want, rel, errorBound)
				}
			}
		})
	}
}

func TestHistogramMerge(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var all Histogram
	parts := make([]Histogram, 5)
	for i := range 50_000 {
		d := time.Duration(r.Int64N(int64(10 * time.Millisecond)))
		all.Record(d)
		parts[i%len(parts)].Record(d)
	}
	var merged HistogramSnapshot
	for i := range parts {
		s := parts[i].Snapshot()
		merged.Merge(&s)
	}
	if want := all.Snapshot(); merged != want {
		t.Fatalf("merged snapshot differs: count %d sum %d min %d max %d, want %d %d %d %d",
			merged.Count, merged.Sum, merged.Min, merged.Max, want.Count, want.Sum, want.Min, want.Max)
	}
	var empty HistogramSnapshot
	before := merged
	merged.Merge(&empty)
	if merged != before {
		t.Fatal("merging an empty snapshot changed the result")
	}
}
