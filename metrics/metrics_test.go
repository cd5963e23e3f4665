package metrics

import (
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/sluice-go/sluice/stage"
)

// parseDurations are the Parse stage's records in the known snapshot:
// below the first bound, on bucket edges, mid-range, and past MaxTrackable.
var parseDurations = []time.Duration{
	50, 127, 128, 300, 1000, 1000, 1500, 20 * time.Microsecond,
	3 * time.Millisecond, 2 * time.Second, 200 * time.Second,
}

// knownRecorder returns a Recorder with a known content on two shards.
func knownRecorder() *stage.Recorder {
	rec := stage.NewRecorder(2, 10)
	for i, d := range parseDurations {
		rec.Shard(i%2).Record(stage.Parse, d)
	}
	rec.Shard(1).Record(stage.QueueWait, 5*time.Microsecond)
	sh := rec.Shard(0)
	sh.Add(stage.ConnsAccepted, 7)
	sh.Inc(stage.ConnsRefused)
	sh.Add(stage.Requests2xx, 40)
	rec.Shard(1).Add(stage.Requests2xx, 2)
	sh.Add(stage.Requests5xx, 3)
	sh.Add(stage.ParseErrors431, 4)
	sh.Inc(stage.ParseErrorsOther)
	sh.Add(stage.TimeoutsIdle, 5)
	sh.Add(stage.BytesIn, 1<<20)
	sh.Add(stage.BytesOut, 1<<21)
	sh.Add(stage.TLSHandshakesFailed, 6)
	sh.AddGauge(stage.ConnsOpen, 9)
	rec.Shard(1).AddGauge(stage.ConnsOpen, -2)
	sh.SetGauge(stage.AcceptQueueLimit, 4096)
	rec.SetKernel(stage.ListenOverflows, 11)
	return rec
}

// scrape serves h with httptest and parses the text exposition back.
func scrape(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); expfmt.ResponseFormat(resp.Header).FormatType() != expfmt.TypeTextPlain {
		t.Fatalf("content type %q, want the text format", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}

// find returns the metric of family name whose label (if any) has value.
func find(t *testing.T, mfs map[string]*dto.MetricFamily, name, label, value string) *dto.Metric {
	t.Helper()
	mf, ok := mfs[name]
	if !ok {
		t.Fatalf("family %s missing", name)
	}
	for _, m := range mf.GetMetric() {
		if label == "" && len(m.GetLabel()) == 0 {
			return m
		}
		for _, l := range m.GetLabel() {
			if l.GetName() == label && l.GetValue() == value {
				return m
			}
		}
	}
	t.Fatalf("%s{%s=%q} missing", name, label, value)
	return nil
}

func TestHandlerFamilies(t *testing.T) {
	mfs := scrape(t, Handler(knownRecorder().Snapshot))
	tests := []struct {
		name   string
		typ    dto.MetricType
		label  string
		values []string // label values expected, in any order
	}{
		{name: "sluice_stage_duration_seconds", typ: dto.MetricType_HISTOGRAM, label: "stage",
			values: []string{"accept", "read", "decrypt", "parse", "decode", "process", "write", "queue_wait", "accept_queue", "tls_handshake"}},
		{name: "sluice_stage_sample_every", typ: dto.MetricType_GAUGE},
		{name: "sluice_connections_accepted_total", typ: dto.MetricType_COUNTER},
		{name: "sluice_connections_refused_total", typ: dto.MetricType_COUNTER},
		{name: "sluice_connections_open", typ: dto.MetricType_GAUGE},
		{name: "sluice_requests_total", typ: dto.MetricType_COUNTER, label: "class", values: []string{"1xx", "2xx", "3xx", "4xx", "5xx"}},
		{name: "sluice_requests_in_flight", typ: dto.MetricType_GAUGE},
		{name: "sluice_parse_errors_total", typ: dto.MetricType_COUNTER, label: "status",
			values: []string{"400", "408", "413", "414", "417", "431", "501", "505", "other"}},
		{name: "sluice_decode_errors_total", typ: dto.MetricType_COUNTER},
		{name: "sluice_handler_panics_total", typ: dto.MetricType_COUNTER},
		{name: "sluice_timeouts_total", typ: dto.MetricType_COUNTER, label: "kind", values: []string{"header", "body", "idle", "write", "handshake", "handler"}},
		{name: "sluice_received_bytes_total", typ: dto.MetricType_COUNTER},
		{name: "sluice_sent_bytes_total", typ: dto.MetricType_COUNTER},
		{name: "sluice_reads_total", typ: dto.MetricType_COUNTER},
		{name: "sluice_tls_handshakes_total", typ: dto.MetricType_COUNTER, label: "result", values: []string{"ok", "failed"}},
		{name: "sluice_pool_queue_depth", typ: dto.MetricType_GAUGE},
		{name: "sluice_accept_queue_depth", typ: dto.MetricType_GAUGE},
		{name: "sluice_accept_queue_limit", typ: dto.MetricType_GAUGE},
		{name: "sluice_listen_overflows_total", typ: dto.MetricType_COUNTER},
		{name: "sluice_listen_drops_total", typ: dto.MetricType_COUNTER},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mf, ok := mfs[tt.name]
			if !ok {
				t.Fatal("missing")
			}
			if mf.GetType() != tt.typ {
				t.Fatalf("type %v, want %v", mf.GetType(), tt.typ)
			}
			if mf.GetHelp() == "" {
				t.Fatal("no HELP")
			}
			var got []string
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() != tt.label {
						t.Fatalf("label %q, want %q", l.GetName(), tt.label)
					}
					got = append(got, l.GetValue())
				}
			}
			if tt.label == "" && len(mf.GetMetric()) != 1 {
				t.Fatalf("%d series, want 1", len(mf.GetMetric()))
			}
			slices.Sort(got)
			want := slices.Sorted(slices.Values(tt.values))
			if !slices.Equal(got, want) {
				t.Fatalf("label values %v, want %v", got, want)
			}
		})
	}
	if len(mfs) != len(tests) {
		t.Errorf("%d families, want %d", len(mfs), len(tests))
	}
}

func TestHandlerValues(t *testing.T) {
	mfs := scrape(t, Handler(knownRecorder().Snapshot))
	tests := []struct {
		name, family, label, value string
		want                       float64
	}{
		{name: "sample every", family: "sluice_stage_sample_every", want: 10},
		{name: "accepted", family: "sluice_connections_accepted_total", want: 7},
		{name: "refused", family: "sluice_connections_refused_total", want: 1},
		{name: "2xx summed over shards", family: "sluice_requests_total", label: "class", value: "2xx", want: 42},
		{name: "5xx", family: "sluice_requests_total", label: "class", value: "5xx", want: 3},
		{name: "1xx zero", family: "sluice_requests_total", label: "class", value: "1xx", want: 0},
		{name: "431", family: "sluice_parse_errors_total", label: "status", value: "431", want: 4},
		{name: "other", family: "sluice_parse_errors_total", label: "status", value: "other", want: 1},
		{name: "idle timeouts", family: "sluice_timeouts_total", label: "kind", value: "idle", want: 5},
		{name: "bytes in", family: "sluice_received_bytes_total", want: 1 << 20},
		{name: "bytes out", family: "sluice_sent_bytes_total", want: 1 << 21},
		{name: "handshakes failed", family: "sluice_tls_handshakes_total", label: "result", value: "failed", want: 6},
		{name: "conns open summed over shards", family: "sluice_connections_open", want: 7},
		{name: "accept queue limit", family: "sluice_accept_queue_limit", want: 4096},
		{name: "listen overflows", family: "sluice_listen_overflows_total", want: 11},
		{name: "listen drops", family: "sluice_listen_drops_total", want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := find(t, mfs, tt.family, tt.label, tt.value)
			var got float64
			switch {
			case m.Counter != nil:
				got = m.GetCounter().GetValue()
			case m.Gauge != nil:
				got = m.GetGauge().GetValue()
			default:
				t.Fatal("neither counter nor gauge")
			}
			if got != tt.want {
				t.Fatalf("%v, want %v", got, tt.want)
			}
		})
	}
}

func TestHandlerHistogram(t *testing.T) {
	mfs := scrape(t, Handler(knownRecorder().Snapshot))
	tests := []struct {
		name  string
		stage string
		in    []time.Duration
	}{
		{name: "parse", stage: "parse", in: parseDurations},
		{name: "queue wait", stage: "queue_wait", in: []time.Duration{5 * time.Microsecond}},
		{name: "empty stage", stage: "decode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := find(t, mfs, "sluice_stage_duration_seconds", "stage", tt.stage).GetHistogram()
			var sum time.Duration
			for _, d := range tt.in {
				sum += d
			}
			if h.GetSampleCount() != uint64(len(tt.in)) {
				t.Errorf("count %d, want %d", h.GetSampleCount(), len(tt.in))
			}
			if math.Abs(h.GetSampleSum()-sum.Seconds()) > 1e-9 {
				t.Errorf("sum %v, want %v", h.GetSampleSum(), sum.Seconds())
			}
			b := h.GetBucket()
			// The text format spells out the +Inf bucket; its count is
			// the sample count.
			if len(b) != 122 || !math.IsInf(b[121].GetUpperBound(), 1) {
				t.Fatalf("%d buckets, want 121 (4 per octave from 127ns to 2^37ns) and +Inf", len(b))
			}
			if b[121].GetCumulativeCount() != uint64(len(tt.in)) {
				t.Errorf("+Inf bucket %d, want %d", b[121].GetCumulativeCount(), len(tt.in))
			}
			b = b[:121]
			if first, last := b[0].GetUpperBound(), b[len(b)-1].GetUpperBound(); first != 127e-9 || last != float64(stage.MaxTrackable-1)/1e9 {
				t.Errorf("bounds from %v to %v", first, last)
			}
			// Each cumulative count equals the number of inputs at or
			// below the bound, counted here from the raw durations.
			for i, bk := range b {
				le := time.Duration(math.Round(bk.GetUpperBound() * 1e9))
				var want uint64
				for _, d := range tt.in {
					if d <= le {
						want++
					}
				}
				if bk.GetCumulativeCount() != want {
					t.Errorf("bucket le=%v: %d, want %d", le, bk.GetCumulativeCount(), want)
				}
				if i > 0 && bk.GetUpperBound() <= b[i-1].GetUpperBound() {
					t.Errorf("bounds not increasing at %d", i)
				}
			}
		})
	}
}

func TestBucketsPerOctave(t *testing.T) {
	tests := []struct {
		name      string
		perOctave int
		buckets   int
		secondLE  time.Duration
	}{
		{name: "zero is default 4", perOctave: 0, buckets: 121, secondLE: 159},
		{name: "1", perOctave: 1, buckets: 31, secondLE: 255},
		{name: "2", perOctave: 2, buckets: 61, secondLE: 191},
		{name: "3 rounds down to 2", perOctave: 3, buckets: 61, secondLE: 191},
		{name: "16 is full resolution", perOctave: 16, buckets: 481, secondLE: 135},
		{name: "64 clamps to 16", perOctave: 64, buckets: 481, secondLE: 135},
		{name: "negative is default", perOctave: -1, buckets: 121, secondLE: 159},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, bounds := layout(tt.perOctave)
			if len(bounds) != tt.buckets {
				t.Fatalf("%d buckets, want %d", len(bounds), tt.buckets)
			}
			if got := time.Duration(math.Round(bounds[1] * 1e9)); got != tt.secondLE {
				t.Fatalf("second bound %v, want %v", got, tt.secondLE)
			}
		})
	}
}

func TestCollectorLint(t *testing.T) {
	// A pedantic registry checks that Collect matches Describe; promlint
	// checks Prometheus naming conventions (units, _total, HELP).
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewCollector(knownRecorder().Snapshot, Config{BucketsPerOctave: 1}))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}

	// Control: the linter does flag a counter without _total.
	bad := prometheus.NewRegistry()
	bad.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "sluice_requests", Help: "x"}))
	mfs, err = bad.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if problems, _ := promlint.NewWithMetricFamilies(mfs).Lint(); len(problems) == 0 {
		t.Fatal("promlint accepted a counter without _total: the check above proves nothing")
	}
}

func TestEveryEnumValueHasSeries(t *testing.T) {
	for i, s := range counterSeries {
		if s.name == "" {
			t.Errorf("counter %v has no series", stage.Counter(i))
		}
	}
	for i, s := range gaugeSeries {
		if s.name == "" {
			t.Errorf("gauge %v has no series", stage.Gauge(i))
		}
	}
	for i, s := range kernelSeries {
		if s.name == "" {
			t.Errorf("kernel figure %v has no series", stage.Kernel(i))
		}
	}
	// Label values are unique within a family.
	seen := map[string]bool{}
	for _, s := range append(append(counterSeries[:], gaugeSeries[:]...), kernelSeries[:]...) {
		k := s.name + "{" + s.value + "}"
		if seen[k] {
			t.Errorf("duplicate series %s", k)
		}
		seen[k] = true
	}
}

func TestCollectConcurrent(t *testing.T) {
	// Scrapes while loops record: run with -race.
	rec := stage.NewRecorder(2, 1)
	h := Handler(rec.Snapshot)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 20_000 {
			sh := rec.Shard(i % 2)
			sh.Record(stage.Process, time.Duration(i)*time.Microsecond)
			sh.Inc(stage.Requests2xx)
		}
	}()
	for range 5 {
		rr := httptest.NewRecorder()
		h.ServeHTTP(rr, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		if rr.Code != http.StatusOK {
			t.Fatalf("status %d", rr.Code)
		}
	}
	<-done
	mfs := scrape(t, h)
	if got := find(t, mfs, "sluice_requests_total", "class", "2xx").GetCounter().GetValue(); got != 20_000 {
		t.Fatalf("2xx %v, want 20000", got)
	}
	if got := find(t, mfs, "sluice_stage_duration_seconds", "stage", "process").GetHistogram().GetSampleCount(); got != 20_000 {
		t.Fatalf("process count %v, want 20000", got)
	}
}

func BenchmarkCollect(b *testing.B) {
	rec := knownRecorder()
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(rec.Snapshot, Config{}))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := reg.Gather(); err != nil {
			b.Fatal(err)
		}
	}
}
