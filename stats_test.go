package sluice

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/sluice-go/sluice/stage"
)

// statsHandler is the known mix's server side.
func statsHandler() *Mux {
	m := NewMux()
	m.HandleFunc("GET /ok", func(c *Ctx) { _ = c.String(200, "ok") })
	m.HandleFunc("GET /slow", func(c *Ctx) {
		time.Sleep(20 * time.Millisecond)
		_ = c.String(200, "slow")
	})
	m.HandleFunc("POST /decode", func(c *Ctx) {
		var v struct {
			N int `json:"n"`
		}
		if c.Bind(&v) {
			_ = c.JSON(200, v)
		}
	})
	m.HandleFunc("GET /panic", func(c *Ctx) { panic("boom") })
	return m
}

// TestStatsKnownMix drives a known mix of requests through every model,
// plain and TLS, with every request timed, and checks the counters
// exactly, each stage's sample count, that the durations are plausible and
// ordered as the pipeline implies, and that the Prometheus output says
// the same when parsed back.
func TestStatsKnownMix(t *testing.T) {
	for _, secure := range []bool{false, true} {
		name := "plain"
		tweak := []func(*Config){func(c *Config) { c.StageSampling = 1; c.Logger = discardLogger() }}
		if secure {
			name = "tls"
			tweak = append(tweak, tlsConfig)
		}
		t.Run(name, func(t *testing.T) {
			run(t, statsHandler(), func(t *testing.T, s *harness) {
				testKnownMix(t, s, secure)
			}, tweak...)
		})
	}
}

func testKnownMix(t *testing.T, s *harness, secure bool) {
	dial := func() (net.Conn, func(string) *http.Response) {
		var c net.Conn
		var r *bufio.Reader
		if secure {
			c, r = s.dialTLS(0)
		} else {
			c, r = s.dial()
		}
		return c, func(method string) *http.Response {
			resp, _ := readResp(t, r, method)
			return resp
		}
	}

	// Connection A: ten requests on one keep-alive connection.
	a, read := dial()
	send := func(req string, status int) {
		t.Helper()
		if _, err := fmt.Fprint(a, req); err != nil {
			t.Fatal(err)
		}
		method, _, _ := strings.Cut(req, " ")
		if resp := read(method); resp.StatusCode != status {
			t.Fatalf("%q: status %d, want %d", req, resp.StatusCode, status)
		}
	}
	for range 5 {
		send("GET /ok HTTP/1.1\r\nHost: x\r\n\r\n", 200)
	}
	for range 2 {
		send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n", 200)
	}
	send("POST /decode HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 8\r\n\r\n{\"n\":42}", 200)
	send("POST /decode HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 8\r\n\r\n{\"n\":42,", 400)
	send("GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n", 404)
	a.Close()

	// Connection B: a handler panic (500, then the connection closes).
	b, readB := dial()
	fmt.Fprint(b, "GET /panic HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp := readB("GET"); resp.StatusCode != 500 {
		t.Fatalf("panic: status %d", resp.StatusCode)
	}
	b.Close()

	// Connection C: a request the parser refuses (two Host headers).
	c, readC := dial()
	fmt.Fprint(c, "GET /ok HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n")
	if resp := readC("GET"); resp.StatusCode != 400 {
		t.Fatalf("duplicate Host: status %d", resp.StatusCode)
	}
	c.Close()

	// The counters are exact; wait for the closes to be seen.
	var st Stats
	deadline := time.Now().Add(5 * time.Second)
	for {
		st = s.srv.Stats()
		if st.OpenConns == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cnt := st.Counters
	checks := []struct {
		what      string
		got, want uint64
	}{
		{"accepted", cnt[stage.ConnsAccepted], 3},
		{"refused", cnt[stage.ConnsRefused], 0},
		{"2xx", cnt[stage.Requests2xx], 8},
		{"4xx (decode 400, 404, parser 400)", cnt[stage.Requests4xx], 3},
		{"5xx", cnt[stage.Requests5xx], 1},
		{"parse errors 400", cnt[stage.ParseErrors400], 1},
		{"decode errors", cnt[stage.DecodeErrors], 1},
		{"panics", cnt[stage.Panics], 1},
		{"reads at least one per request", min(cnt[stage.Reads], 12), 12},
	}
	if secure {
		checks = append(checks,
			struct {
				what      string
				got, want uint64
			}{"handshakes ok", cnt[stage.TLSHandshakesOK], 3},
			struct {
				what      string
				got, want uint64
			}{"handshakes failed", cnt[stage.TLSHandshakesFailed], 0})
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: %d, want %d", c.what, c.got, c.want)
		}
	}
	if st.AcceptedConns != 3 || st.OpenConns != 0 {
		t.Errorf("connections: accepted %d open %d, want 3 and 0", st.AcceptedConns, st.OpenConns)
	}
	if cnt[stage.BytesIn] < 300 || cnt[stage.BytesOut] < 300 {
		t.Errorf("bytes in %d out %d: too few for 12 requests", cnt[stage.BytesIn], cnt[stage.BytesOut])
	}
	if g := st.Gauges[stage.InFlight]; g != 0 {
		t.Errorf("in flight %d after every response", g)
	}

	// Stage sample counts: every request timed (StageSampling 1). All 12
	// requests were read and parsed (the parser refused one: its time
	// counts); the 11 that reached a handler ran it (Process); two
	// decoded; their responses were written (the panic's 500 too, or
	// not: it closes the connection).
	pool := s.srv.cfg.Dispatch == DispatchPool // Single and PerConn resolve to inline
	counts := []struct {
		st       stage.Stage
		min, max uint64
	}{
		{stage.Accept, 3, 3},
		{stage.Read, 12, 12},
		{stage.Parse, 12, 12},
		{stage.Decode, 2, 2},
		{stage.Process, 11, 11},
		{stage.Write, 10, 11},
	}
	if pool {
		counts = append(counts, struct {
			st       stage.Stage
			min, max uint64
		}{stage.QueueWait, 10, 10}) // one batch per request, each sent after the last answer; the 404 runs on the loop
	} else {
		counts = append(counts, struct {
			st       stage.Stage
			min, max uint64
		}{stage.QueueWait, 0, 0})
	}
	if secure {
		counts = append(counts,
			struct {
				st       stage.Stage
				min, max uint64
			}{stage.Handshake, 3, 3},
			struct {
				st       stage.Stage
				min, max uint64
			}{stage.Decrypt, 8, 1000}) // a connection's first request may come with the client's Finished, decrypted by the handshake
	} else {
		counts = append(counts,
			struct {
				st       stage.Stage
				min, max uint64
			}{stage.Handshake, 0, 0},
			struct {
				st       stage.Stage
				min, max uint64
			}{stage.Decrypt, 0, 0})
	}
	for _, c := range counts {
		ss := st.Stages[c.st]
		if ss.Count < c.min || ss.Count > c.max {
			t.Errorf("stage %s: %d samples, want %d..%d", c.st, ss.Count, c.min, c.max)
			continue
		}
		if ss.Count == 0 {
			continue
		}
		// Plausible: every timed stage took some time, none a second.
		if ss.Min <= 0 || ss.Max > 2*time.Second || ss.P50 <= 0 || ss.P50 > ss.Max {
			t.Errorf("stage %s: min %v p50 %v max %v: implausible", c.st, ss.Min, ss.P50, ss.Max)
		}
	}
	stg := func(x stage.Stage) stage.StageStats { return st.Stages[x] }
	// Ordered as the pipeline implies: a head's Read time (first byte to
	// complete head) contains its parsing; the slow handler's 20 ms show
	// in Process and nowhere before it; a handshake costs more than
	// decrypting one read's records.
	if stg(stage.Read).Sum < stg(stage.Parse).Sum {
		t.Errorf("Read total %v < Parse total %v", stg(stage.Read).Sum, stg(stage.Parse).Sum)
	}
	if p := stg(stage.Process); p.Max < 20*time.Millisecond || p.P50 >= 20*time.Millisecond {
		t.Errorf("Process: max %v (want ≥ 20 ms, the slow route), p50 %v (want < 20 ms)", p.Max, p.P50)
	}
	if r := stg(stage.Read); r.Max >= 20*time.Millisecond {
		t.Errorf("Read max %v: the handler's sleep leaked into Read", r.Max)
	}
	if secure && stg(stage.Handshake).P50 <= stg(stage.Decrypt).P50 {
		t.Errorf("handshake p50 %v ≤ decrypt p50 %v", stg(stage.Handshake).P50, stg(stage.Decrypt).P50)
	}

	// The Prometheus output, parsed back, says the same.
	rec := httptest.NewRecorder()
	s.srv.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(rec.Body.String()))
	if err != nil {
		t.Fatalf("metrics do not parse: %v", err)
	}
	value := func(family, label, lv string) float64 {
		mf := mfs[family]
		if mf == nil {
			t.Fatalf("no family %s", family)
		}
		for _, m := range mf.GetMetric() {
			if label == "" || hasLabel(m, label, lv) {
				if c := m.GetCounter(); c != nil {
					return c.GetValue()
				}
				if h := m.GetHistogram(); h != nil {
					return float64(h.GetSampleCount())
				}
				return m.GetGauge().GetValue()
			}
		}
		t.Fatalf("%s{%s=%q} missing", family, label, lv)
		return 0
	}
	prom := []struct {
		family, label, lv string
		want              float64
	}{
		{"sluice_requests_total", "class", "2xx", 8},
		{"sluice_requests_total", "class", "4xx", 3},
		{"sluice_requests_total", "class", "5xx", 1},
		{"sluice_parse_errors_total", "status", "400", 1},
		{"sluice_decode_errors_total", "", "", 1},
		{"sluice_handler_panics_total", "", "", 1},
		{"sluice_connections_accepted_total", "", "", 3},
		{"sluice_connections_open", "", "", 0},
		{"sluice_stage_duration_seconds", "stage", "parse", 12},
		{"sluice_stage_duration_seconds", "stage", "decode", 2},
		{"sluice_stage_duration_seconds", "stage", "process", 11},
	}
	for _, c := range prom {
		if got := value(c.family, c.label, c.lv); got != c.want {
			t.Errorf("%s{%s=%q} = %v, want %v", c.family, c.label, c.lv, got, c.want)
		}
	}
}

func hasLabel(m *dto.Metric, name, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}
