package cli_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"go.uber.org/goleak"

	"github.com/sluice-go/sluice"
	"github.com/sluice-go/sluice/examples/internal/cli"
	"github.com/sluice-go/sluice/examples/internal/clitest"
)

func TestRunPrintsAndStops(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent()) // gnet starts a process-wide ants pool at init
	for _, model := range []string{"reactor", "single", "perconn"} {
		addr, stop := clitest.Start(t, model, false, sluice.HandlerFunc(func(c *sluice.Ctx) { _ = c.String(200, "ok") }))
		tr := &http.Transport{}
		resp, err := (&http.Client{Transport: tr}).Get("http://" + addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		tr.CloseIdleConnections()
		if string(b) != "ok" {
			t.Fatalf("%s: got %q", model, b)
		}
		if err := stop(); err != nil {
			t.Fatalf("%s: Run returned %v", model, err)
		}
	}
}

func TestBadModel(t *testing.T) {
	f := cli.Flags{Model: "threads"}
	if _, err := f.Config(); err == nil {
		t.Fatal("unknown model accepted")
	}
}

// TestMetricsFlag: -metrics mounts the Prometheus text at GET /metrics,
// counting the requests served before the scrape.
func TestMetricsFlag(t *testing.T) {
	mux := sluice.NewMux()
	mux.HandleFunc("GET /hi", func(c *sluice.Ctx) { _ = c.String(200, "hi") })
	addr, stop := clitest.StartFlags(t, cli.Flags{Model: "reactor", Metrics: true}, mux)
	defer stop()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr}
	for range 3 {
		resp, err := cl.Get("http://" + addr + "/hi")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	resp, err := cl.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	var ok float64
	for _, m := range mfs["sluice_requests_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "class" && l.GetValue() == "2xx" {
				ok = m.GetCounter().GetValue()
			}
		}
	}
	if ok != 3 {
		t.Fatalf("sluice_requests_total{class=\"2xx\"} = %v, want 3", ok)
	}
}

// TestMetricsNeedsMux: -metrics with a handler it cannot mount on fails
// at start-up, saying why.
func TestMetricsNeedsMux(t *testing.T) {
	f := cli.Flags{Addr: "127.0.0.1:0", Metrics: true}
	cfg, _ := f.Config()
	err := cli.Run(context.Background(), io.Discard, f, cfg, sluice.HandlerFunc(func(*sluice.Ctx) {}), time.Second)
	if err == nil || !strings.Contains(err.Error(), "*sluice.Mux") {
		t.Fatalf("err %v, want one naming *sluice.Mux", err)
	}
}

func TestNoTicketsNeedsTLS(t *testing.T) {
	if _, err := (&cli.Flags{NoTickets: true}).Config(); err == nil {
		t.Fatal("-no-session-tickets without TLS accepted")
	}
	cfg, err := (&cli.Flags{NoTickets: true, SelfSigned: true, Addr: "127.0.0.1:0"}).Config()
	if err != nil || !cfg.TLS.SessionTicketsDisabled {
		t.Fatalf("err %v, tickets disabled %v", err, cfg.TLS != nil && cfg.TLS.SessionTicketsDisabled)
	}
}
