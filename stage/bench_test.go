package stage

import (
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// durations cycles through values across many buckets, so that benchmarks
// do not measure one hot cache line only.
var durations = func() [256]time.Duration {
	var d [256]time.Duration
	for i := range d {
		d[i] = time.Duration(100 + i*i*i*7) // 100ns .. ~117ms
	}
	return d
}()

func BenchmarkHistogramRecord(b *testing.B) {
	var h Histogram
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		h.Record(durations[i&255])
		i++
	}
}

func BenchmarkShardRecord(b *testing.B) {
	sh := NewRecorder(1, 1).Shard(0)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		sh.Record(Parse, durations[i&255])
		i++
	}
}

func BenchmarkShardAdd(b *testing.B) {
	sh := NewRecorder(1, 1).Shard(0)
	b.ReportAllocs()
	for b.Loop() {
		sh.Add(BytesIn, 512)
	}
}

// BenchmarkTimeNow is the baseline the sampler saves: what timing a stage
// costs (two clock reads) on every request without sampling.
func BenchmarkTimeNow(b *testing.B) {
	b.ReportAllocs()
	var d time.Duration
	for b.Loop() {
		t0 := time.Now()
		d += time.Since(t0)
	}
	_ = d
}

func BenchmarkSample(b *testing.B) {
	for _, every := range []int{0, 1, 100} {
		b.Run("N="+strconv.Itoa(every), func(b *testing.B) {
			sh := NewRecorder(1, every).Shard(0)
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				if sh.Sample() {
					n++
				}
			}
			_ = n
		})
	}
}

// BenchmarkParallelRecord shows why the Recorder shards: the same
// RunParallel load recording into one Histogram shared by all goroutines
// (every core adds into the same sum, max and bucket lines) and into a
// shard per goroutine. Run with -cpu 1,2,4,... to see the gap grow.
func BenchmarkParallelRecord(b *testing.B) {
	b.Run("shared", func(b *testing.B) {
		var h Histogram
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				h.Record(durations[i&255])
				i++
			}
		})
	})
	b.Run("sharded", func(b *testing.B) {
		// More shards than goroutines: RunParallel starts GOMAXPROCS
		// goroutines unless SetParallelism raises it.
		rec := NewRecorder(64, 1)
		var next atomic.Int64
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			sh := rec.Shard(int(next.Add(1)-1) % rec.Shards())
			i := 0
			for pb.Next() {
				sh.Record(Parse, durations[i&255])
				i++
			}
		})
	})
}

func BenchmarkRecorderSnapshot(b *testing.B) {
	for _, shards := range []int{1, 8} {
		b.Run("shards="+strconv.Itoa(shards), func(b *testing.B) {
			rec := NewRecorder(shards, 1)
			for i := range 10_000 {
				rec.Shard(i%shards).Record(Stage(i%int(NumStages)), durations[i&255])
			}
			b.ReportAllocs()
			for b.Loop() {
				s := rec.Snapshot()
				_ = s.Stages[Parse].P99
			}
		})
	}
}
