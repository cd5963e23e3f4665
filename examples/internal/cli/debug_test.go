package cli

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sluice-go/sluice"
)

// TestDebugStats: /debug/stats is the server's Stats as JSON, with the
// stage names and counters the bench reads.
func TestDebugStats(t *testing.T) {
	srv := &sluice.Server{Handler: sluice.HandlerFunc(func(c *sluice.Ctx) { _ = c.String(200, "ok") }), Config: sluice.Config{StageSampling: 1}}
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get("http://" + srv.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	rec := httptest.NewRecorder()
	debugMux(srv).ServeHTTP(rec, httptest.NewRequest("GET", "/debug/stats", nil))
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
	var got struct {
		Stages []struct {
			Stage string `json:"stage"`
			Count uint64 `json:"count"`
			P50   int64  `json:"p50_ns"`
		} `json:"stages"`
		Counters map[string]uint64 `json:"counters"`
		Accepted int64             `json:"accepted_conns"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatalf("%v in %s", err, rec.Body.String())
	}
	if got.Counters["requests_2xx"] != 1 || got.Accepted != 1 {
		t.Fatalf("requests_2xx %d accepted %d, want 1 and 1: %s", got.Counters["requests_2xx"], got.Accepted, rec.Body.String())
	}
	for _, s := range got.Stages {
		if s.Stage == "parse" && (s.Count != 1 || s.P50 <= 0) {
			t.Fatalf("parse stage %+v, want one sample with a duration", s)
		}
	}
	rec = httptest.NewRecorder()
	debugMux(srv).ServeHTTP(rec, httptest.NewRequest("GET", "/debug/pprof/", nil))
	if rec.Code != 200 {
		t.Fatalf("pprof index: %d", rec.Code)
	}
}
