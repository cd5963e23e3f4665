package stage

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestNames(t *testing.T) {
	tests := []struct {
		name string
		got  string
		want string
	}{
		{name: "first stage", got: Accept.String(), want: "accept"},
		{name: "last journey stage", got: Write.String(), want: "write"},
		{name: "queue wait", got: QueueWait.String(), want: "queue_wait"},
		{name: "accept queue", got: AcceptQueue.String(), want: "accept_queue"},
		{name: "unknown stage", got: NumStages.String(), want: "Stage(10)"},
		{name: "counter", got: ParseErrors431.String(), want: "parse_errors_431"},
		{name: "unknown counter", got: NumCounters.String(), want: "Counter(29)"},
		{name: "gauge", got: PoolQueueDepth.String(), want: "pool_queue_depth"},
		{name: "kernel", got: ListenDrops.String(), want: "listen_drops"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Fatalf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
	// Every enum value has a distinct, non-empty name.
	seen := map[string]bool{}
	for _, n := range append(append(append(stageNames[:], counterNames[:]...), gaugeNames[:]...), kernelNames[:]...) {
		if n == "" || seen[n] {
			t.Fatalf("empty or duplicate name %q", n)
		}
		seen[n] = true
	}
}

func TestStatusCounters(t *testing.T) {
	tests := []struct {
		name string
		got  Counter
		want Counter
	}{
		{name: "100", got: RequestCounter(100), want: Requests1xx},
		{name: "200", got: RequestCounter(200), want: Requests2xx},
		{name: "304", got: RequestCounter(304), want: Requests3xx},
		{name: "499", got: RequestCounter(499), want: Requests4xx},
		{name: "503", got: RequestCounter(503), want: Requests5xx},
		{name: "bogus 999", got: RequestCounter(999), want: Requests5xx},
		{name: "parse 400", got: ParseErrorCounter(400), want: ParseErrors400},
		{name: "parse 408", got: ParseErrorCounter(408), want: ParseErrors408},
		{name: "parse 413", got: ParseErrorCounter(413), want: ParseErrors413},
		{name: "parse 414", got: ParseErrorCounter(414), want: ParseErrors414},
		{name: "parse 417", got: ParseErrorCounter(417), want: ParseErrors417},
		{name: "parse 431", got: ParseErrorCounter(431), want: ParseErrors431},
		{name: "parse 501", got: ParseErrorCounter(501), want: ParseErrors501},
		{name: "parse 505", got: ParseErrorCounter(505), want: ParseErrors505},
		{name: "parse unknown", got: ParseErrorCounter(418), want: ParseErrorsOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Fatalf("got %v, want %v", tt.got, tt.want)
			}
		})
	}
}

func TestRecorderMergesShards(t *testing.T) {
	rec := NewRecorder(4, 1)
	var want [NumStages]Histogram
	for i := range 4000 {
		sh := rec.Shard(i % rec.Shards())
		st := Stage(i % int(NumStages))
		d := time.Duration(i*37) * time.Nanosecond
		sh.Record(st, d)
		want[st].Record(d)
		sh.Add(BytesIn, uint64(i))
		sh.Inc(Requests2xx)
		sh.AddGauge(ConnsOpen, 1)
		if i%2 == 1 {
			rec.Shard((i+1)%rec.Shards()).AddGauge(ConnsOpen, -1) // closed from another shard
		}
	}
	rec.Shard(0).SetGauge(AcceptQueueLimit, 4096)
	rec.Shard(1).SetGauge(AcceptQueueLimit, 4096)
	rec.SetKernel(ListenOverflows, 12)

	s := rec.Snapshot()
	if s.Shards != 4 || s.SampleEvery != 1 {
		t.Fatalf("shards %d, sample every %d", s.Shards, s.SampleEvery)
	}
	for st := range NumStages {
		w := want[st].Snapshot()
		got := s.Stages[st]
		if got.HistogramSnapshot != w {
			t.Errorf("%v: merged histogram differs from the unsharded one", st)
		}
		if got.Stage != st.String() {
			t.Errorf("stage name %q, want %q", got.Stage, st)
		}
		if got.P50 != w.Quantile(0.5) || got.P99 != w.Quantile(0.99) || got.P999 != w.Quantile(0.999) {
			t.Errorf("%v: quantiles differ", st)
		}
	}
	if got, want := s.Counters[BytesIn], uint64(4000*3999/2); got != want {
		t.Errorf("bytes in %d, want %d", got, want)
	}
	if got := s.Counters[Requests2xx]; got != 4000 {
		t.Errorf("2xx %d, want 4000", got)
	}
	if got := s.Gauges[ConnsOpen]; got != 2000 {
		t.Errorf("conns open %d, want 2000", got)
	}
	if got := s.Gauges[AcceptQueueLimit]; got != 8192 {
		t.Errorf("accept queue limit %d, want 8192 (two listeners)", got)
	}
	if got := s.Kernel[ListenOverflows]; got != 12 {
		t.Errorf("listen overflows %d, want 12", got)
	}
}

func TestNewRecorderClamps(t *testing.T) {
	rec := NewRecorder(0, -1)
	if rec.Shards() != 1 || rec.SampleEvery() != 0 {
		t.Fatalf("shards %d, every %d; want 1, 0", rec.Shards(), rec.SampleEvery())
	}
	if rec.Shard(0).Sample() {
		t.Fatal("disabled sampler sampled")
	}
}

func TestRecorderConcurrent(t *testing.T) {
	// Writers on many goroutines (two per shard, so shards are shared too)
	// while a reader snapshots: run with -race. The reader checks that
	// nothing goes backwards and that each histogram's Sum, Min and Max
	// cover its Count; after the writers stop, totals are exact.
	const shards, perShard, iters = 4, 2, 20_000
	rec := NewRecorder(shards, 3)
	stop := make(chan struct{})
	var readerErr error
	var readerWG sync.WaitGroup
	readerWG.Go(func() {
		var prev Snapshot
		for {
			select {
			case <-stop:
				return
			default:
			}
			s := rec.Snapshot()
			for st := range s.Stages {
				h := &s.Stages[st]
				if h.Count < prev.Stages[st].Count {
					readerErr = fmt.Errorf("stage %v count went back: %d < %d", Stage(st), h.Count, prev.Stages[st].Count)
					return
				}
				// Every value is in [1us, 2us): Sum covers Count records.
				if h.Count > 0 && (h.Sum < time.Duration(h.Count)*time.Microsecond || h.Min < time.Microsecond || h.Max >= 2*time.Microsecond) {
					readerErr = fmt.Errorf("stage %v: count %d sum %v min %v max %v", Stage(st), h.Count, h.Sum, h.Min, h.Max)
					return
				}
			}
			for c := range s.Counters {
				if s.Counters[c] < prev.Counters[c] {
					readerErr = fmt.Errorf("counter %v went back", Counter(c))
					return
				}
			}
			prev = s
		}
	})
	var wg sync.WaitGroup
	for w := range shards * perShard {
		wg.Go(func() {
			sh := rec.Shard(w % shards)
			smp := NewSampler(1, uint64(w)) // the shard's own sampler is Loop-only; shared shards need their own
			for i := range iters {
				if smp.Sample() {
					sh.Record(Stage(i%int(NumStages)), time.Microsecond+time.Duration(i%1000))
				}
				sh.Inc(Requests2xx)
				sh.Add(BytesOut, 10)
				sh.AddGauge(InFlight, 1)
				sh.AddGauge(InFlight, -1)
			}
		})
	}
	// Each shard's own sampler, used by one goroutine only.
	for i := range shards {
		wg.Go(func() {
			for range 1000 {
				rec.Shard(i).Sample()
			}
		})
	}
	wg.Wait()
	close(stop)
	readerWG.Wait()
	if readerErr != nil {
		t.Fatal(readerErr)
	}
	s := rec.Snapshot()
	var n uint64
	for st := range s.Stages {
		n += s.Stages[st].Count
	}
	if want := uint64(shards * perShard * iters); n != want || s.Counters[Requests2xx] != want || s.Counters[BytesOut] != 10*want {
		t.Fatalf("records %d, 2xx %d, bytes %d; want %d, %d, %d", n, s.Counters[Requests2xx], s.Counters[BytesOut], want, want, 10*want)
	}
	if s.Gauges[InFlight] != 0 {
		t.Fatalf("in flight %d, want 0", s.Gauges[InFlight])
	}
}

func TestZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's bookkeeping allocates")
	}
	rec := NewRecorder(2, 4)
	sh := rec.Shard(1)
	var h Histogram
	tests := []struct {
		name string
		f    func()
	}{
		{name: "Histogram.Record", f: func() { h.Record(1234) }},
		{name: "Shard.Record", f: func() { sh.Record(Parse, 1234) }},
		{name: "Shard.Add", f: func() { sh.Add(BytesIn, 512) }},
		{name: "Shard.Inc", f: func() { sh.Inc(RequestCounter(200)) }},
		{name: "Shard.AddGauge", f: func() { sh.AddGauge(InFlight, 1) }},
		{name: "Shard.SetGauge", f: func() { sh.SetGauge(PoolQueueDepth, 3) }},
		{name: "Shard.Sample", f: func() { sh.Sample() }},
		{name: "Recorder.SetKernel", f: func() { rec.SetKernel(ListenDrops, 9) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if a := testing.AllocsPerRun(1000, tt.f); a != 0 {
				t.Fatalf("%v allocations per call, want 0", a)
			}
		})
	}
}

func TestSnapshotJSON(t *testing.T) {
	rec := NewRecorder(1, 1)
	sh := rec.Shard(0)
	sh.Record(Parse, 1500)
	sh.Inc(ParseErrors431)
	sh.AddGauge(ConnsOpen, 3)
	rec.SetKernel(ListenOverflows, 5)
	s := rec.Snapshot()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`"sample_every":1`,
		`{"stage":"parse","count":1,"sum_ns":1500,"min_ns":1500,"max_ns":1500,"p50_ns":1500,`,
		`"parse_errors_431":1`,
		`"conns_open":3`,
		`"kernel":{"listen_overflows":5,"listen_drops":0}`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON lacks %s:\n%s", want, b)
		}
	}
	var back Snapshot
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	// Bucket counts are not in JSON; everything else survives.
	for st := range s.Stages {
		s.Stages[st].Counts = [NumBuckets]uint64{}
	}
	if back != s {
		t.Fatalf("JSON round trip differs:\n%+v\n%+v", back.Counters, s.Counters)
	}
}
