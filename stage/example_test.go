package stage_test

import (
	"fmt"
	"time"

	"github.com/sluice-go/sluice/stage"
)

// A loop samples each request once, times the stages of the sampled ones
// into its own shard, and counts every request.
func Example() {
	rec := stage.NewRecorder(2, 1) // two loops; time every request
	sh := rec.Shard(1)             // this loop's shard, looked up once

	for _, parse := range []time.Duration{800, 900, 1000, 1100, 40_000} {
		if sh.Sample() {
			sh.Record(stage.Parse, parse) // in a server: time.Since(t0)
		}
		sh.Inc(stage.RequestCounter(200))
		sh.Add(stage.BytesIn, 120)
	}
	sh.Inc(stage.ParseErrorCounter(431))

	s := rec.Snapshot()
	p := s.Stages[stage.Parse]
	fmt.Println(p.Stage, p.Count, p.Min, p.P50, p.Max)
	fmt.Println(s.Counters[stage.Requests2xx], s.Counters[stage.BytesIn], s.Counters[stage.ParseErrors431])
	// Output:
	// parse 5 800ns 1.008µs 40µs
	// 5 600 1
}

// A histogram on its own, and the quantile's documented error.
func ExampleHistogram() {
	var h stage.Histogram
	for i := 1; i <= 1000; i++ {
		h.Record(time.Duration(i) * time.Microsecond)
	}
	s := h.Snapshot()
	// The exact p99 is 990µs; the estimate, the middle of its 32.8µs-wide
	// bucket, is within 1/32 of it (here 0.95%).
	fmt.Println(s.Count, s.Quantile(0.99))
	// Output:
	// 1000 999.424µs
}
