// Package stage names the stages of a request's journey through sluice and
// records how long each one takes, cheaply enough to leave on in
// production.
//
// It is the lowest package of sluice: it imports only the standard library,
// and every other package may import it.
//
// # Stages
//
// Accept, Read, Decrypt, Parse, Decode, Process and Write are the journey;
// QueueWait (the worker pool's queue) and AcceptQueue (the kernel's accept
// queue) are the waits between them that sluice can see; Handshake is the
// TLS handshake, once per connection, kept out of Decrypt's per-read
// timings.
//
// # Recording
//
// A Recorder has one Shard per goroutine that records often (each event
// loop, each worker). A shard holds a Histogram per stage, the Counters
// and the Gauges. Every recording method is one or two atomic adds on the
// caller's own shard: no lock, no allocation, no cache line shared with
// another core. The kernel's machine-wide figures (listen overflows and
// drops) are stored whole on the Recorder.
//
// Timing every request would cost two clock reads per stage, so stages are
// sampled: Shard.Sample says yes to one request in N (a per-shard
// countdown; N = 0 turns timing off, N = 1 times everything), and the
// server times all stages of the requests it says yes to. Counters are
// exact, never sampled.
//
//	sh := rec.Shard(loopID)          // once per loop
//	timed := sh.Sample()             // once per request, on the loop
//	if timed { t0 = time.Now() }
//	... parse ...
//	if timed { sh.Record(stage.Parse, time.Since(t0)) }
//	sh.Inc(stage.RequestCounter(status))
//
// # Histograms
//
// Buckets are log-linear, as in HdrHistogram: 1 ns wide below 32 ns, then
// 16 per power of two up to MaxTrackable (2^37 ns ≈ 137 s), so a bucket is
// at most 1/16 of its lower bound wide and a quantile read from a snapshot
// is within 1/32 (3.125%) of the exact one (HistogramSnapshot.Quantile).
// Count, Sum, Min and Max are exact.
//
// # Reading
//
// Recorder.Snapshot merges the shards into a Snapshot, a plain,
// JSON-friendly value with per-stage counts and quantiles, the counters,
// the gauges and the kernel figures. It runs concurrently with recording
// and states exactly what it guarantees. Package
// github.com/sluice-go/sluice/metrics exposes Snapshots to Prometheus.
package stage
