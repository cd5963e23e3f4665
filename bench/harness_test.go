package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestEndToEnd runs the real harness: plaintext against gnetraw and
// nethttp, and tls-handshake against nethttp (gnetraw has no TLS), one
// round of one second each.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode: builds and runs servers and wrk")
	}
	if _, err := exec.LookPath("wrk"); err != nil {
		t.Skip("wrk is not installed (apt-get install -y wrk): skipping the end-to-end run")
	}
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := realMain([]string{"-scenarios", "plaintext,tls-handshake", "-targets", "nethttp,gnetraw",
		"-rounds", "1", "-duration", "1s", "-warmup", "0", "-conns", "16", "-out", out}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, &stdout, &stderr)
	}
	md := stdout.String()
	for _, want := range []string{"## plaintext", "| nethttp |", "| gnetraw |", "CPU eff. vs gnetraw",
		"## tls-handshake", "CPU eff. vs nethttp", "skipped gnetraw in tls-handshake: gnet has no TLS"} {
		if !strings.Contains(md, want) {
			t.Errorf("table lacks %q:\n%s", want, md)
		}
	}
	for _, want := range []string{"[round 1/1] [1/3] plaintext × nethttp", "[round 1/1] [2/3] plaintext × gnetraw",
		"[round 1/1] [3/3] tls-handshake × nethttp"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("progress lacks %q:\n%s", want, &stderr)
		}
	}
	jsons, _ := filepath.Glob(filepath.Join(out, "*.json"))
	if len(jsons) != 1 {
		t.Fatalf("json results: %v", jsons)
	}
	b, err := os.ReadFile(jsons[0])
	if err != nil {
		t.Fatal(err)
	}
	var rep report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Cells) != 3 {
		t.Fatalf("%d cells; want 3", len(rep.Cells))
	}
	// Only that both ran: on a busy machine a server may get less than one
	// clock tick of CPU in a second.
	for _, c := range rep.Cells {
		if c.Error != "" || c.Wrk == nil || c.Wrk.Requests == 0 || c.CPUSeconds < 0 {
			t.Errorf("cell %s × %s: %+v", c.Scenario, c.Target, c)
		}
		if c.Scenario == "tls-handshake" && (!c.NoSessionTickets || c.ServerResumes == nil || *c.ServerResumes) {
			t.Errorf("tls-handshake × %s: -no-session-tickets %v, resumes %v; want full handshakes", c.Target, c.NoSessionTickets, c.ServerResumes)
		}
	}
	for _, ext := range []string{".md", ".svg", ".png"} {
		if m, _ := filepath.Glob(filepath.Join(out, "*"+ext)); len(m) != 1 {
			t.Errorf("%s results: %v", ext, m)
		}
	}
}

func TestProbe(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /plaintext", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "test")
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte("Hello, World!"))
	})
	mux.HandleFunc("GET /json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "test")
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"message":"Goodbye"}`))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	byName := func(name string) scenario {
		for _, s := range scenarios {
			if s.Name == name {
				return s
			}
		}
		t.Fatalf("no scenario %s", name)
		return scenario{}
	}
	ctx := context.Background()
	if err := probe(ctx, addr, byName("plaintext"), false, nil); err != nil {
		t.Errorf("plaintext: %v", err)
	}
	if err := probe(ctx, addr, byName("storm"), false, nil); err != nil {
		t.Errorf("storm: %v", err)
	}
	if err := probe(ctx, addr, byName("json"), false, nil); err == nil || !strings.Contains(err.Error(), "body") {
		t.Errorf("json with a wrong body: %v", err)
	}
	if err := probe(ctx, addr, byName("decode"), false, nil); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("decode without the endpoint: %v; want a 404 failure", err)
	}

	// The TLS scenarios, against the same handler over TLS with the
	// harness's certificate, which the probe must trust.
	f, err := writeTLSFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		t.Fatal(err)
	}
	if k, ok := cert.PrivateKey.(*ecdsa.PrivateKey); !ok || k.Curve != elliptic.P256() {
		t.Errorf("key %T; want ECDSA P-256", cert.PrivateKey)
	}
	tsrv := httptest.NewUnstartedServer(mux)
	tsrv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	tsrv.StartTLS()
	defer tsrv.Close()
	taddr := strings.TrimPrefix(tsrv.URL, "https://")
	for _, name := range []string{"tls", "tls-handshake", "tls-idle"} {
		if err := probe(ctx, taddr, byName(name), false, f.clientConfig(taddr)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := probe(ctx, addr, byName("tls"), false, f.clientConfig(addr)); err == nil {
		t.Error("tls against a plain HTTP server passed")
	}
}

// TestServerResumes checks the resumption check against crypto/tls with
// session tickets on (it resumes) and off (it cannot).
func TestServerResumes(t *testing.T) {
	for _, off := range []bool{false, true} {
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
		srv.TLS = &tls.Config{SessionTicketsDisabled: off}
		srv.StartTLS()
		roots := x509.NewCertPool()
		roots.AddCert(srv.Certificate())
		addr := strings.TrimPrefix(srv.URL, "https://")
		got, err := serverResumes(context.Background(), addr, "/plaintext", &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"})
		srv.Close()
		if err != nil {
			t.Fatalf("tickets off %v: %v", off, err)
		}
		if got == off {
			t.Errorf("tickets off %v: resumed %v", off, got)
		}
	}
}

func TestServeArgs(t *testing.T) {
	f := &tlsFiles{Cert: "c.pem", Key: "k.pem"}
	byName := map[string]scenario{}
	for _, s := range scenarios {
		byName[s.Name] = s
	}
	tests := []struct {
		name      string
		sc        string
		noTickets bool // the server takes -no-session-tickets
		want      string
		passed    bool
	}{
		{name: "plain", sc: "plaintext", noTickets: true, want: ""},
		{name: "keep-alive TLS", sc: "tls", noTickets: true, want: "-cert c.pem -key k.pem"},
		{name: "idle TLS", sc: "tls-idle", noTickets: true, want: "-cert c.pem -key k.pem"},
		{name: "full handshakes", sc: "tls-handshake", noTickets: true, want: "-cert c.pem -key k.pem -no-session-tickets", passed: true},
		{name: "server without the flag", sc: "tls-handshake", noTickets: false, want: "-cert c.pem -key k.pem"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args, passed := serveArgs(byName[tt.sc], f, runnable{noTickets: tt.noTickets})
			if got := strings.Join(args, " "); got != tt.want || passed != tt.passed {
				t.Errorf("serveArgs = %q, %v; want %q, %v", got, passed, tt.want, tt.passed)
			}
		})
	}
}

func TestUsageHasFlag(t *testing.T) {
	usage := "Usage of hello:\n  -addr string\n    \taddress\n  -no-session-tickets\n    \tno tickets\n  -tls-self-signed\n"
	for _, tt := range []struct {
		name string
		want bool
	}{{"addr", true}, {"no-session-tickets", true}, {"tls-self-signed", true}, {"no-session", false}, {"cert", false}} {
		if got := usageHasFlag(usage, tt.name); got != tt.want {
			t.Errorf("usageHasFlag(%q) = %v; want %v", tt.name, got, tt.want)
		}
	}
}

// TestBaselines checks the per-scenario baselines and the skipped
// targets, with the idle scenarios only (no wrk needed).
func TestBaselines(t *testing.T) {
	tests := []struct {
		name, flag, targets string
		want                map[string]string
	}{
		{name: "auto", flag: "auto", targets: "reactor,nethttp,gnetraw", want: map[string]string{"idle": "gnetraw", "tls-idle": "nethttp"}},
		{name: "given", flag: "reactor", targets: "reactor,nethttp,gnetraw", want: map[string]string{"idle": "reactor", "tls-idle": "reactor"}},
		{name: "no TLS", flag: "gnetraw", targets: "reactor,gnetraw", want: map[string]string{"idle": "gnetraw", "tls-idle": ""}},
		{name: "baseline not run", flag: "auto", targets: "reactor", want: map[string]string{"idle": "", "tls-idle": ""}},
		{name: "none", flag: "", targets: "reactor,nethttp,gnetraw", want: map[string]string{"idle": "", "tls-idle": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opt := options{Scenarios: []string{"idle", "tls-idle"}, Targets: splitList(tt.targets), Baseline: tt.flag,
				Rounds: 1, Duration: time.Second, Conns: 1, IdleConns: 1}
			h, err := newHarness(opt, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			for sc, want := range tt.want {
				if got := h.opt.Baselines[sc]; got != want {
					t.Errorf("%s: baseline %q; want %q", sc, got, want)
				}
			}
			gnet := strings.Contains(tt.targets, "gnetraw")
			if skipped := strings.Join(h.skipped, "; "); gnet != (skipped == "gnetraw in tls-idle: gnet has no TLS") {
				t.Errorf("skipped %q", skipped)
			}
			if want := 2*len(opt.Targets) - map[bool]int{true: 1}[gnet]; h.pairs() != want {
				t.Errorf("%d cells per round; want %d", h.pairs(), want)
			}
		})
	}
	if _, err := newHarness(options{Baseline: "nope", Rounds: 1, Duration: time.Second, Conns: 1, IdleConns: 1, Scenarios: []string{"idle"}}, io.Discard); err == nil {
		t.Error("an unknown baseline was accepted")
	}
}

func TestCheckDecodeBody(t *testing.T) {
	ok := `{"ok":true,"n":42}`
	if err := checkBody("/decode", []byte(ok), false); err != nil {
		t.Error(err)
	}
	if err := checkBody("/decode", []byte(`{"ok":true,"n":0}`), false); err == nil {
		t.Error("a wrong n passed")
	}
	if err := checkBody("/decode", []byte(`{"ok":true,"n":0}`), true); err != nil {
		t.Errorf("floor: %v", err)
	}
}

func TestDecodeBody(t *testing.T) {
	var v struct {
		Name  string   `json:"name"`
		Email string   `json:"email"`
		Tags  []string `json:"tags"`
		N     int      `json:"n"`
	}
	if err := json.Unmarshal([]byte(decodeBody), &v); err != nil {
		t.Fatal(err)
	}
	if v.N != decodeN || v.Name == "" || v.Email == "" || len(v.Tags) == 0 {
		t.Errorf("decodeBody decodes to %+v", v)
	}
	if n := len(decodeBody); n < 250 || n > 350 {
		t.Errorf("decodeBody is %d bytes; want about 300", n)
	}
}

func TestScriptsExist(t *testing.T) {
	for _, sc := range scenarios {
		if sc.Script == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join("scripts", sc.Script)); err != nil {
			t.Errorf("scenario %s: %v", sc.Name, err)
		}
	}
	for _, tg := range targets {
		if tg.Pkg == "" {
			continue
		}
		if _, err := os.Stat(tg.Pkg); err != nil {
			t.Errorf("target %s: %v", tg.Name, err)
		}
	}
}

func TestOutputWriter(t *testing.T) {
	w := newOutputWriter()
	w.Write([]byte("[gnet] starting\nlisten"))
	w.Write([]byte("ing on 127.0.0.1:4321\nmore\n"))
	select {
	case addr := <-w.listening:
		if addr != "127.0.0.1:4321" {
			t.Errorf("addr %q", addr)
		}
	case <-time.After(time.Second):
		t.Fatal("no listening line")
	}
	if tail := w.tail(); !strings.Contains(tail, "[gnet] starting") || !strings.Contains(tail, "more") {
		t.Errorf("tail %q", tail)
	}
}

func TestStartServerFailure(t *testing.T) {
	ps := newProcSet()
	_, err := ps.startServer(context.Background(), -1, []string{"sh", "-c", "echo no such flag >&2; exit 3"})
	if err == nil || !strings.Contains(err.Error(), "no such flag") {
		t.Errorf("err = %v; want the process's output", err)
	}
	p, err := ps.startServer(context.Background(), -1, []string{"sh", "-c", "echo listening on 127.0.0.1:9; exec sleep 60"})
	if err != nil {
		t.Fatal(err)
	}
	if p.addr != "127.0.0.1:9" {
		t.Errorf("addr %q", p.addr)
	}
	start := time.Now()
	ps.stopAll()
	if !p.exited() || time.Since(start) > 3*time.Second {
		t.Errorf("stop: exited %v after %v", p.exited(), time.Since(start))
	}
	if len(ps.live) != 0 {
		t.Errorf("%d processes still tracked", len(ps.live))
	}
}

func TestMarkdown(t *testing.T) {
	rep := &report{
		Options: options{Rounds: 2, Duration: time.Second, Conns: 64, IdleConns: 100, Baseline: "auto",
			Baselines: map[string]string{"decode": "gnetraw", "idle": "gnetraw", "tls-handshake": "nethttp"}},
		Summaries: []summary{
			{Scenario: "decode", Target: "reactor", Failures: []string{"round 1: probe: POST /decode answered 404 Not Found", "round 2: probe: POST /decode answered 404 Not Found"}},
			{Scenario: "decode", Target: "gnetraw", OK: 2, ReqPerSec: stat{Median: 1500, Min: 1000, Max: 2000, N: 2},
				CPUEffRatio: stat{Median: 1, Min: 1, Max: 1, N: 2}, ErrRead: 3},
			{Scenario: "idle", Target: "gnetraw", OK: 1, KiBPerConn: stat{Median: 2.5, Min: 2.5, Max: 2.5, N: 1}, Alive: stat{Median: 99, Min: 99, Max: 99, N: 1}, Conns: 100},
			{Scenario: "tls-handshake", Target: "reactor", OK: 1, ReqPerSec: one(2000), ReqPerCPUSec: one(2500), CPUMicrosPerReq: one(400),
				CPUEffRatio: one(1.25), RPSRatio: one(1.1), ResumeChecked: 1, Resumed: 1, Goal: goalUnknown, GoalDetail: "resumed handshakes were measured, not full ones"},
			{Scenario: "tls-handshake", Target: "nethttp", OK: 1, ReqPerSec: one(1800), ReqPerCPUSec: one(2000), CPUMicrosPerReq: one(500),
				CPUEffRatio: one(1), RPSRatio: one(1), ResumeChecked: 1, NoTickets: 1},
		},
	}
	md := markdown(rep)
	for _, want := range []string{
		"| reactor | – | – | – | – | – | – | – | – | FAILED: probe: POST /decode answered 404 Not Found |",
		"| gnetraw | 1.00 | – | 1.5k (1.0k–2.0k) |",
		"⚠ read 3",
		"| gnetraw | 2.5 | – | ⚠ 99/100 |",
		"Baselines: gnetraw (decode, idle); nethttp (tls-handshake)",
		"| target | CPU eff. vs nethttp | handshakes/CPU-s | server CPU per handshake | handshakes/s | handshakes/s vs nethttp | server CPU | wrk CPU | p50 | p99 | full handshakes | errors |",
		"| reactor | 1.25 | 2.5k | 400 µs | 2.0k | 1.10 |",
		"| ⚠ no: resumed in 1/1 round(s) | ⚠ the server resumed TLS sessions (it does not take -no-session-tickets)",
		"| nethttp | 1.00 | 2.0k | 500 µs | 1.8k | 1.00 |",
		"| yes | – |",
		"- reactor: ? unknown (resumed handshakes were measured, not full ones)",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

func TestWrkMissing(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	var stderr bytes.Buffer
	if code := realMain([]string{"-scenarios", "plaintext"}, io.Discard, &stderr); code != 1 {
		t.Errorf("exit %d; want 1", code)
	}
	if !strings.Contains(stderr.String(), "apt-get install -y wrk") {
		t.Errorf("stderr %q does not say how to install wrk", &stderr)
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-scenarios", "nope"},
		{"-targets", "reactor,nope"},
		{"-rounds", "0"},
		{"extra"},
	} {
		if code := realMain(args, io.Discard, io.Discard); code != 2 {
			t.Errorf("realMain(%q) = %d; want 2", args, code)
		}
	}
}

func one(v float64) stat { return stat{Median: v, Min: v, Max: v, N: 1} }
