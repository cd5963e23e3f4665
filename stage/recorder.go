package stage

import (
	"sync/atomic"
	"time"
)

// cacheLinePad separates data written by different goroutines: 128 bytes,
// not 64, because x86's adjacent-line prefetcher pulls 64-byte lines in
// pairs, and 128 is Apple silicon's line size.
const cacheLinePad = 128

// Recorder holds a server's measurements: one Shard per loop or worker,
// each with a histogram per stage, counters and gauges, plus the kernel's
// machine-wide figures. Writers pick a shard; Snapshot merges them all.
//
// Safe for concurrent use.
type Recorder struct {
	shards []*Shard // immutable after NewRecorder
	every  int      // sampling N; immutable after NewRecorder
	kernel [NumKernel]atomic.Uint64
}

// NewRecorder returns a Recorder with the given number of shards (fewer
// than 1 means 1) whose shards' samplers time one request in sampleEvery
// (0 or negative: never; 1: every request).
//
// Give every goroutine that records often its own shard, so that no two
// cores add into the same cache line: one per event loop, plus one per
// worker (or worker index modulo a smaller count).
func NewRecorder(shards, sampleEvery int) *Recorder {
	shards = max(shards, 1)
	sampleEvery = max(sampleEvery, 0)
	r := &Recorder{shards: make([]*Shard, shards), every: sampleEvery}
	for i := range r.shards {
		// One allocation per shard: a Shard is ~40 KiB, so each gets its
		// own span, away from its neighbours, besides the padding.
		r.shards[i] = &Shard{sampler: NewSampler(sampleEvery, uint64(i))}
	}
	return r
}

// Shard returns shard i, for 0 <= i < Shards(); it panics otherwise. Look
// it up once (per loop, per worker) and keep the pointer.
//
// Safe for concurrent use.
func (r *Recorder) Shard(i int) *Shard { return r.shards[i] }

// Shards returns the number of shards.
//
// Safe for concurrent use.
func (r *Recorder) Shards() int { return len(r.shards) }

// SampleEvery returns the sampling N the shards' samplers were made with;
// NewSampler(r.SampleEvery(), seed) makes a matching per-connection one.
//
// Safe for concurrent use.
func (r *Recorder) SampleEvery() int { return r.every }

// SetKernel stores the current value of a machine-wide kernel figure.
//
// Safe for concurrent use.
func (r *Recorder) SetKernel(k Kernel, v uint64) { r.kernel[k].Store(v) }

// Shard is one slice of a Recorder: a histogram per stage, the counters,
// the gauges and a sampler. Recording methods are atomic, so any goroutine
// may record into any shard; sharding only keeps cores off each other's
// cache lines. The sampler is the exception: it belongs to one goroutine.
//
// Safe for concurrent use, except Sample, which is Loop-only.
type Shard struct {
	_        [cacheLinePad]byte
	sampler  Sampler // owned by the shard's goroutine; plain, not atomic
	_        [cacheLinePad - 16]byte
	counters [NumCounters]atomic.Uint64
	gauges   [NumGauges]atomic.Int64
	hist     [NumStages]Histogram
	_        [cacheLinePad]byte
}

// Sample reports whether the request that begins now should be timed (see
// Sampler.Sample): true once in SampleEvery calls on average. Call it once
// per request, on the goroutine that owns this shard, and keep the answer
// with the request.
//
// Loop-only: only the shard's own loop (or worker) may call it. A model
// with a goroutine per connection keeps a Sampler per connection instead
// (NewSampler(r.SampleEvery(), connID)).
func (s *Shard) Sample() bool { return s.sampler.Sample() }

// Record adds a duration to the stage's histogram. Time only sampled
// requests; the histograms then hold 1 request in N.
//
// Safe for concurrent use. It does not allocate.
func (s *Shard) Record(st Stage, d time.Duration) { s.hist[st].Record(d) }

// Add adds n to a counter.
//
// Safe for concurrent use. It does not allocate.
func (s *Shard) Add(c Counter, n uint64) { s.counters[c].Add(n) }

// Inc adds one to a counter.
//
// Safe for concurrent use. It does not allocate.
func (s *Shard) Inc(c Counter) { s.counters[c].Add(1) }

// AddGauge adds n (which may be negative) to this shard's part of a gauge.
//
// Safe for concurrent use. It does not allocate.
func (s *Shard) AddGauge(g Gauge, n int64) { s.gauges[g].Add(n) }

// SetGauge sets this shard's part of a gauge; Snapshot reports the sum of
// the parts, so a gauge set whole is set on one shard only (or on one
// shard per source, such as each loop its own listener).
//
// Safe for concurrent use. It does not allocate.
func (s *Shard) SetGauge(g Gauge, v int64) { s.gauges[g].Store(v) }

// Histogram returns the shard's histogram of a stage, for callers that
// record through a *Histogram they hold.
//
// Safe for concurrent use.
func (s *Shard) Histogram(st Stage) *Histogram { return &s.hist[st] }

// StageStats is one stage's merged histogram and its usual quantiles,
// computed with HistogramSnapshot.Quantile (within 3.125%).
//
// Safe for concurrent use for reading: a plain value.
type StageStats struct {
	// Stage is Stage.String(): "accept", "read", ..., "accept_queue".
	Stage string `json:"stage"`
	HistogramSnapshot
	P50  time.Duration `json:"p50_ns"`
	P90  time.Duration `json:"p90_ns"`
	P99  time.Duration `json:"p99_ns"`
	P999 time.Duration `json:"p999_ns"`
}

// Snapshot is a Recorder's merged contents at one moment (see
// Recorder.Snapshot for what "moment" means). Durations are nanoseconds,
// so JSON carries integers; the histograms' bucket counts stay out of
// JSON.
//
// Safe for concurrent use for reading: a plain value.
type Snapshot struct {
	// Shards is the number of shards merged.
	Shards int `json:"shards"`
	// SampleEvery is the sampling N: the stage histograms hold one request
	// in SampleEvery (0: sampling off, so they hold nothing the sampler
	// chose; 1: every request). Counters and gauges are never sampled.
	SampleEvery int `json:"sample_every"`
	// Stages is indexed by Stage.
	Stages [NumStages]StageStats `json:"stages"`
	// Counters is indexed by Counter, summed over the shards.
	Counters Counters `json:"counters"`
	// Gauges is indexed by Gauge, summed over the shards.
	Gauges Gauges `json:"gauges"`
	// Kernel is indexed by Kernel: the values last given to SetKernel.
	Kernel Kernels `json:"kernel"`
}

// Snapshot merges every shard into a Snapshot.
//
// It takes no lock and stops no writer, so it is not an instant: it reads
// the shards one after another, and each value atomically. What holds:
// every write that returned before Snapshot was called is included; each
// counter, gauge and histogram bucket is a value it really had during the
// call, and counters and buckets never go backwards from one Snapshot to
// the next; within a histogram, Count is the sum of its buckets (so
// quantiles are self-consistent), and Sum, Min and Max cover at least the
// records counted. Values of different counters, or of a counter and a
// histogram, may disagree by the writes that ran during the call: a
// request counted in Requests2xx may not be in a histogram yet.
//
// Safe for concurrent use. It allocates nothing; the result is ~40 KiB.
func (r *Recorder) Snapshot() Snapshot {
	var s Snapshot
	s.Shards = len(r.shards)
	s.SampleEvery = r.every
	for _, sh := range r.shards {
		for st := range sh.hist {
			sh.hist[st].snapshotInto(&s.Stages[st].HistogramSnapshot)
		}
		for c := range sh.counters {
			s.Counters[c] += sh.counters[c].Load()
		}
		for g := range sh.gauges {
			s.Gauges[g] += sh.gauges[g].Load()
		}
	}
	for k := range r.kernel {
		s.Kernel[k] = r.kernel[k].Load()
	}
	for st := range s.Stages {
		ss := &s.Stages[st]
		ss.Stage = Stage(st).String()
		ss.P50 = ss.Quantile(0.50)
		ss.P90 = ss.Quantile(0.90)
		ss.P99 = ss.Quantile(0.99)
		ss.P999 = ss.Quantile(0.999)
	}
	return s
}
