package metrics

import (
	"math/bits"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sluice-go/sluice/stage"
)

// Config tunes a Collector. The zero value is the default. NewCollector
// copies it.
//
// Safe for concurrent use for reading: a plain value.
type Config struct {
	// BucketsPerOctave is how many histogram buckets each doubling of
	// duration gets in the exposition, from 127 ns to stage.MaxTrackable
	// (~137 s), plus +Inf: 1, 2, 4, 8 or 16 (stage.SubBuckets, stage's full
	// resolution). Zero means 4; other values are rounded down to a power
	// of two and clamped to [1, 16].
	//
	// Every bucket is one time series per stage. The default, 4, makes 121
	// buckets per stage (9 stages: ~1100 series) with buckets up to 19%
	// wide, so histogram_quantile is within ~10%; 16 makes 481 per stage
	// and 1.6-3.1% error; 1 makes 31 per stage and buckets a factor of 2
	// wide. The quantiles in stage.Snapshot always use full resolution.
	BucketsPerOctave int
}

// minExported is the first internal bucket whose lower bound is an
// exposition boundary: 128 ns. Below it, clock reads (tens of ns) blur the
// measurement, so one bucket (le 127 ns) gathers everything shorter.
const minExported = 4 * stage.SubBuckets // 4*16 = bucket [128 ns, 135 ns]

// Collector is a prometheus.Collector over a stage.Snapshot source. Each
// Collect calls the source once and builds const metrics from the result.
//
// Safe for concurrent use, provided the source is (Recorder.Snapshot is).
type Collector struct {
	src func() stage.Snapshot // immutable after NewCollector

	// bucket layout, immutable after NewCollector: boundary k closes
	// before internal bucket starts[k] (the cumulative count is the sum of
	// Counts[:starts[k]]) and is exposed as le = bounds[k] seconds.
	starts []int
	bounds []float64

	stageDur    *prometheus.Desc
	sampleEvery *prometheus.Desc
	counters    [stage.NumCounters]series
	gauges      [stage.NumGauges]series
	kernel      [stage.NumKernel]series
	descs       []*prometheus.Desc // each family once, for Describe
}

// series is one enum value's family and label value ("" without label).
type series struct {
	desc  *prometheus.Desc
	label string
}

// family describes one metric family and which enum values feed it.
type family struct {
	name, help, label string
}

// NewCollector returns a Collector reading snapshots from src.
func NewCollector(src func() stage.Snapshot, cfg Config) *Collector {
	c := &Collector{src: src}
	c.starts, c.bounds = layout(cfg.BucketsPerOctave)

	c.stageDur = c.desc(family{
		name:  "sluice_stage_duration_seconds",
		help:  "Time requests spent in each stage of their journey, for the requests sampled (one in sluice_stage_sample_every).",
		label: "stage",
	})
	c.sampleEvery = c.desc(family{
		name: "sluice_stage_sample_every",
		help: "Stage durations are recorded for one request in this many (0: sampling off, 1: every request).",
	})

	families := map[string]*prometheus.Desc{}
	fam := func(f family) *prometheus.Desc {
		if d, ok := families[f.name]; ok {
			return d
		}
		d := c.desc(f)
		families[f.name] = d
		return d
	}
	for i, s := range counterSeries {
		c.counters[i] = series{desc: fam(s.family), label: s.value}
	}
	for i, s := range gaugeSeries {
		c.gauges[i] = series{desc: fam(s.family), label: s.value}
	}
	for i, s := range kernelSeries {
		c.kernel[i] = series{desc: fam(s.family), label: s.value}
	}
	return c
}

func (c *Collector) desc(f family) *prometheus.Desc {
	var labels []string
	if f.label != "" {
		labels = []string{f.label}
	}
	d := prometheus.NewDesc(f.name, f.help, labels, nil)
	c.descs = append(c.descs, d)
	return d
}

// layout returns the exposition's bucket boundaries for a resolution.
func layout(perOctave int) (starts []int, bounds []float64) {
	if perOctave <= 0 {
		perOctave = 4
	}
	perOctave = min(perOctave, stage.SubBuckets)
	perOctave = 1 << (bits.Len(uint(perOctave)) - 1) // round down to a power of two
	step := stage.SubBuckets / perOctave
	last := stage.NumBuckets - 1 // the overflow bucket: +Inf, implicit
	for j := minExported; j <= last; j += step {
		_, hi := stage.BucketRange(j - 1)
		starts = append(starts, j)
		bounds = append(bounds, hi.Seconds())
	}
	return starts, bounds
}

// Describe sends the descriptors of every family.
//
// Safe for concurrent use.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// Collect takes one snapshot and sends every metric.
//
// Safe for concurrent use, provided the source is.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s := c.src()
	for st := range s.Stages {
		h := &s.Stages[st].HistogramSnapshot
		buckets := make(map[float64]uint64, len(c.bounds))
		var cum uint64
		i := 0
		for k, j := range c.starts {
			for ; i < j; i++ {
				cum += h.Counts[i]
			}
			buckets[c.bounds[k]] = cum
		}
		ch <- prometheus.MustNewConstHistogram(c.stageDur, h.Count, h.Sum.Seconds(), buckets, stage.Stage(st).String())
	}
	ch <- prometheus.MustNewConstMetric(c.sampleEvery, prometheus.GaugeValue, float64(s.SampleEvery))
	for i, v := range s.Counters {
		ch <- constMetric(c.counters[i], prometheus.CounterValue, float64(v))
	}
	for i, v := range s.Gauges {
		ch <- constMetric(c.gauges[i], prometheus.GaugeValue, float64(v))
	}
	for i, v := range s.Kernel {
		ch <- constMetric(c.kernel[i], prometheus.CounterValue, float64(v))
	}
}

func constMetric(s series, t prometheus.ValueType, v float64) prometheus.Metric {
	if s.label == "" {
		return prometheus.MustNewConstMetric(s.desc, t, v)
	}
	return prometheus.MustNewConstMetric(s.desc, t, v, s.label)
}

// Handler serves the metrics of src in the Prometheus exposition format
// (text, or what the scraper negotiates), from a private registry that
// holds only a Collector with the default Config.
//
// Safe for concurrent use, provided src is.
func Handler(src func() stage.Snapshot) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(src, Config{}))
	// A scrape is one Snapshot (tens of µs per shard); the timeout only
	// guards against a source that blocks.
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Timeout: 10 * time.Second})
}

// seriesSpec maps one enum value to its family and label value.
type seriesSpec struct {
	family
	value string
}

var (
	connsAccepted = family{name: "sluice_connections_accepted_total", help: "Connections accepted."}
	connsRefused  = family{name: "sluice_connections_refused_total", help: "Connections closed at accept: connection limit reached, or shutting down."}
	requests      = family{name: "sluice_requests_total", help: "Responses sent, by status class.", label: "class"}
	parseErrors   = family{name: "sluice_parse_errors_total", help: "Requests the HTTP/1.1 parser rejected, by the status answered.", label: "status"}
	decodeErrors  = family{name: "sluice_decode_errors_total", help: "Request bodies the Decode stage refused."}
	panics        = family{name: "sluice_handler_panics_total", help: "Handler panics recovered (the request got a 500, its connection was closed)."}
	timeouts      = family{name: "sluice_timeouts_total", help: "Connections timed out, by the timeout that fired.", label: "kind"}
	bytesIn       = family{name: "sluice_received_bytes_total", help: "Bytes read from connections, as on the wire (TLS ciphertext)."}
	bytesOut      = family{name: "sluice_sent_bytes_total", help: "Bytes written to connections, as on the wire (TLS ciphertext)."}
	reads         = family{name: "sluice_reads_total", help: "Reads from connections that brought bytes."}
	handshakes    = family{name: "sluice_tls_handshakes_total", help: "TLS handshakes, by result.", label: "result"}

	connsOpen   = family{name: "sluice_connections_open", help: "Connections open."}
	inFlight    = family{name: "sluice_requests_in_flight", help: "Requests parsed and not yet answered."}
	poolQueue   = family{name: "sluice_pool_queue_depth", help: "Batches of requests waiting in the worker pool's queue."}
	acceptDepth = family{name: "sluice_accept_queue_depth", help: "Connections waiting in the kernel's accept queues of the listeners."}
	acceptLimit = family{name: "sluice_accept_queue_limit", help: "Capacity of the kernel's accept queues of the listeners (effective backlog)."}

	overflows = family{name: "sluice_listen_overflows_total", help: "Machine-wide TcpExt ListenOverflows: connections dropped because an accept queue was full."}
	drops     = family{name: "sluice_listen_drops_total", help: "Machine-wide TcpExt ListenDrops: connections dropped at a listener, overflows included."}
)

// counterSeries, gaugeSeries and kernelSeries are indexed by stage's enums;
// a test checks that none is left empty when stage gains a value.
var counterSeries = [stage.NumCounters]seriesSpec{
	stage.ConnsAccepted:       {family: connsAccepted},
	stage.ConnsRefused:        {family: connsRefused},
	stage.Requests1xx:         {family: requests, value: "1xx"},
	stage.Requests2xx:         {family: requests, value: "2xx"},
	stage.Requests3xx:         {family: requests, value: "3xx"},
	stage.Requests4xx:         {family: requests, value: "4xx"},
	stage.Requests5xx:         {family: requests, value: "5xx"},
	stage.ParseErrors400:      {family: parseErrors, value: "400"},
	stage.ParseErrors408:      {family: parseErrors, value: "408"},
	stage.ParseErrors413:      {family: parseErrors, value: "413"},
	stage.ParseErrors414:      {family: parseErrors, value: "414"},
	stage.ParseErrors417:      {family: parseErrors, value: "417"},
	stage.ParseErrors431:      {family: parseErrors, value: "431"},
	stage.ParseErrors501:      {family: parseErrors, value: "501"},
	stage.ParseErrors505:      {family: parseErrors, value: "505"},
	stage.ParseErrorsOther:    {family: parseErrors, value: "other"},
	stage.DecodeErrors:        {family: decodeErrors},
	stage.Panics:              {family: panics},
	stage.TimeoutsHeader:      {family: timeouts, value: "header"},
	stage.TimeoutsBody:        {family: timeouts, value: "body"},
	stage.TimeoutsIdle:        {family: timeouts, value: "idle"},
	stage.TimeoutsWrite:       {family: timeouts, value: "write"},
	stage.TimeoutsHandshake:   {family: timeouts, value: "handshake"},
	stage.TimeoutsHandler:     {family: timeouts, value: "handler"},
	stage.BytesIn:             {family: bytesIn},
	stage.Reads:               {family: reads},
	stage.BytesOut:            {family: bytesOut},
	stage.TLSHandshakesOK:     {family: handshakes, value: "ok"},
	stage.TLSHandshakesFailed: {family: handshakes, value: "failed"},
}

var gaugeSeries = [stage.NumGauges]seriesSpec{
	stage.ConnsOpen:        {family: connsOpen},
	stage.InFlight:         {family: inFlight},
	stage.PoolQueueDepth:   {family: poolQueue},
	stage.AcceptQueueDepth: {family: acceptDepth},
	stage.AcceptQueueLimit: {family: acceptLimit},
}

var kernelSeries = [stage.NumKernel]seriesSpec{
	stage.ListenOverflows: {family: overflows},
	stage.ListenDrops:     {family: drops},
}
