package stage

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// Bucket layout (log-linear, as in HdrHistogram): durations below
// 2*SubBuckets ns get one bucket per nanosecond; above that, every octave
// [2^k, 2^(k+1)) ns is cut into SubBuckets equal buckets. A bucket is then
// at most 1/SubBuckets of its lower bound wide, so its midpoint is within
// 1/(2*SubBuckets) = 1/32 ≈ 3.1% of any value in it (that is the quantile
// error bound, see HistogramSnapshot.Quantile).
const (
	// SubBuckets is the number of buckets per octave: 16 gives a 3.1%
	// error bound with 4.3 KiB per histogram; 32 would halve the error and
	// double the memory and snapshot cost.
	SubBuckets = 16
	subBits    = 4 // log2(SubBuckets)

	// MaxTrackable is the first duration the buckets do not resolve:
	// 2^37 ns ≈ 137 s, above the ~100 s a stage can plausibly take. Longer
	// durations land in the overflow bucket; Sum and Max stay exact.
	MaxTrackable = time.Duration(1) << 37

	// overflowBucket is the index of the bucket for durations of at least
	// MaxTrackable.
	// bucketOf(MaxTrackable) by the formula: e = 38-(subBits+1) = 33,
	// 2^37>>33 = SubBuckets, so 33*16+16 = 544.
	overflowBucket = (37-subBits)*SubBuckets + SubBuckets

	// NumBuckets is the number of buckets, the overflow bucket included.
	NumBuckets = overflowBucket + 1
)

// bucketOf returns the bucket index of a duration of v ns: the octave's
// exponent times SubBuckets plus the top subBits+1 bits of v. Two shifts
// and a LZCNT, no loop and no table.
func bucketOf(v uint64) int {
	if v >= uint64(MaxTrackable) {
		return overflowBucket
	}
	e := bits.Len64(v) - (subBits + 1)
	if e < 0 {
		e = 0
	}
	return e*SubBuckets + int(v>>uint(e))
}

// BucketRange returns the smallest and the largest duration that bucket i
// counts, both inclusive. The overflow bucket (NumBuckets-1) reports
// [MaxTrackable, math.MaxInt64]. It panics if i is out of [0, NumBuckets).
func BucketRange(i int) (lo, hi time.Duration) {
	if i < 0 || i >= NumBuckets {
		panic("stage: bucket index out of range")
	}
	if i == overflowBucket {
		return MaxTrackable, math.MaxInt64
	}
	if i < 2*SubBuckets {
		return time.Duration(i), time.Duration(i)
	}
	e := uint(i/SubBuckets - 1)
	m := uint64(i%SubBuckets + SubBuckets)
	return time.Duration(m << e), time.Duration((m+1)<<e - 1)
}

// Histogram counts durations in log-linear buckets from 0 to MaxTrackable,
// with exact count, sum, min and max. The zero value is empty and ready to
// use; a Histogram must not be copied after first use.
//
// Safe for concurrent use: Record is lock-free (atomic adds, and a CAS only
// when a new minimum or maximum is seen).
type Histogram struct {
	counts [NumBuckets]atomic.Uint64
	sum    atomic.Uint64 // ns
	max    atomic.Uint64 // ns
	minInv atomic.Uint64 // ^min ns, so that the zero value means "no minimum yet"
}

// Record adds one duration. A negative duration (a clock step seen through
// a non-monotonic time) counts as zero.
//
// Safe for concurrent use. It does not allocate.
func (h *Histogram) Record(d time.Duration) {
	v := uint64(d)
	if d < 0 {
		v = 0
	}
	// Publish max, min and sum before the bucket: a Snapshot reads the
	// buckets first, so every record it counts is covered by its Sum, Min
	// and Max (see Snapshot).
	if v > h.max.Load() {
		h.storeMax(v)
	}
	if ^v > h.minInv.Load() {
		h.storeMin(v)
	}
	h.sum.Add(v)
	h.counts[bucketOf(v)].Add(1)
}

// storeMax is kept out of Record so that Record stays inlinable-sized and
// the common path (no new maximum) is two loads and two adds.
func (h *Histogram) storeMax(v uint64) {
	for {
		old := h.max.Load()
		if v <= old || h.max.CompareAndSwap(old, v) {
			return
		}
	}
}

func (h *Histogram) storeMin(v uint64) {
	for {
		old := h.minInv.Load()
		if ^v <= old || h.minInv.CompareAndSwap(old, ^v) {
			return
		}
	}
}

// Snapshot returns the histogram's current contents. While Records run
// concurrently, the snapshot is not a single instant: each bucket is read
// atomically, in turn, so Count (the sum of the bucket counts) includes
// every Record that returned before Snapshot was called and may include
// some that overlapped it. Sum, Min and Max are read after the buckets and
// cover at least every record counted in them (they may also reflect a
// concurrent record that no bucket shows yet). Successive snapshots never
// go backwards.
//
// Safe for concurrent use.
func (h *Histogram) Snapshot() HistogramSnapshot {
	var s HistogramSnapshot
	h.snapshotInto(&s)
	return s
}

// snapshotInto merges h into s (which may already hold other shards).
func (h *Histogram) snapshotInto(s *HistogramSnapshot) {
	var n uint64
	for i := range h.counts {
		c := h.counts[i].Load()
		s.Counts[i] += c
		n += c
	}
	if n == 0 {
		return
	}
	o := HistogramSnapshot{
		Count: n,
		Sum:   time.Duration(h.sum.Load()),
		Min:   time.Duration(^h.minInv.Load()),
		Max:   time.Duration(h.max.Load()),
	}
	s.mergeTotals(&o)
}

// HistogramSnapshot is a plain copy of a Histogram (or of several merged).
// Durations are in nanoseconds, so JSON carries integers.
//
// Safe for concurrent use for reading: it is a plain value with no shared
// state; Merge, like any write to a shared value, needs the caller's own
// synchronisation.
type HistogramSnapshot struct {
	// Counts holds the number of records per bucket; BucketRange(i) gives
	// bucket i's bounds. Left out of JSON: 545 mostly-zero numbers.
	Counts [NumBuckets]uint64 `json:"-"`
	// Count is the number of records: the sum of Counts.
	Count uint64 `json:"count"`
	// Sum is the exact sum of the recorded durations.
	Sum time.Duration `json:"sum_ns"`
	// Min and Max are the exact extremes; zero when Count is zero.
	Min time.Duration `json:"min_ns"`
	Max time.Duration `json:"max_ns"`
}

// Merge adds o into s, as if every record of o had been made on s.
func (s *HistogramSnapshot) Merge(o *HistogramSnapshot) {
	for i := range s.Counts {
		s.Counts[i] += o.Counts[i]
	}
	s.mergeTotals(o)
}

func (s *HistogramSnapshot) mergeTotals(o *HistogramSnapshot) {
	if o.Count == 0 {
		return
	}
	if s.Count == 0 || o.Min < s.Min {
		s.Min = o.Min
	}
	if o.Max > s.Max {
		s.Max = o.Max
	}
	s.Count += o.Count
	s.Sum += o.Sum
}

// Mean returns Sum/Count, or 0 for an empty snapshot.
func (s *HistogramSnapshot) Mean() time.Duration {
	if s.Count == 0 {
		return 0
	}
	return s.Sum / time.Duration(s.Count)
}

// Quantile returns an estimate of the q-quantile (0 <= q <= 1) of the
// recorded durations, by the nearest-rank definition: the value of rank
// ceil(q*Count) in sorted order. The estimate is the midpoint of that
// value's bucket, clamped to [Min, Max], so it is exact below 32 ns and
// otherwise within 1/32 (3.125%) of the true quantile; at or above
// MaxTrackable it is Max. q <= 0 gives Min, q >= 1 gives Max, and an empty
// snapshot gives 0.
func (s *HistogramSnapshot) Quantile(q float64) time.Duration {
	if s.Count == 0 {
		return 0
	}
	if q <= 0 {
		return s.Min
	}
	if q >= 1 || math.IsNaN(q) {
		return s.Max
	}
	rank := uint64(math.Ceil(q * float64(s.Count)))
	if rank == 0 {
		rank = 1
	}
	var seen uint64
	for i, c := range s.Counts {
		seen += c
		if seen < rank {
			continue
		}
		if i == overflowBucket {
			return s.Max
		}
		lo, hi := BucketRange(i)
		return min(max(lo+(hi-lo+1)/2, s.Min), s.Max)
	}
	// Count exceeds the bucket total only if a caller filled the struct
	// by hand inconsistently; Max is the best remaining answer.
	return s.Max
}
