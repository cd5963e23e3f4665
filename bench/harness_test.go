package main

import (
	"bytes"
	"context"
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
// nethttp, one round of one second each.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode: builds and runs servers and wrk")
	}
	if _, err := exec.LookPath("wrk"); err != nil {
		t.Skip("wrk is not installed (apt-get install -y wrk): skipping the end-to-end run")
	}
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := realMain([]string{"-scenarios", "plaintext", "-targets", "nethttp,gnetraw",
		"-rounds", "1", "-duration", "1s", "-warmup", "0", "-conns", "16", "-out", out}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, &stdout, &stderr)
	}
	md := stdout.String()
	for _, want := range []string{"## plaintext", "| nethttp |", "| gnetraw |", "CPU eff. vs gnetraw"} {
		if !strings.Contains(md, want) {
			t.Errorf("table lacks %q:\n%s", want, md)
		}
	}
	for _, want := range []string{"[round 1/1] [1/2] plaintext × nethttp", "[round 1/1] [2/2] plaintext × gnetraw"} {
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
	if len(rep.Cells) != 2 {
		t.Fatalf("%d cells; want 2", len(rep.Cells))
	}
	// Only that both ran: on a busy machine a server may get less than one
	// clock tick of CPU in a second.
	for _, c := range rep.Cells {
		if c.Error != "" || c.Wrk == nil || c.Wrk.Requests == 0 || c.CPUSeconds < 0 {
			t.Errorf("cell %s: %+v", c.Target, c)
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
	if err := probe(ctx, addr, byName("plaintext"), false); err != nil {
		t.Errorf("plaintext: %v", err)
	}
	if err := probe(ctx, addr, byName("storm"), false); err != nil {
		t.Errorf("storm: %v", err)
	}
	if err := probe(ctx, addr, byName("json"), false); err == nil || !strings.Contains(err.Error(), "body") {
		t.Errorf("json with a wrong body: %v", err)
	}
	if err := probe(ctx, addr, byName("decode"), false); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("decode without the endpoint: %v; want a 404 failure", err)
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
		Options: options{Rounds: 2, Duration: time.Second, Conns: 64, IdleConns: 100, Baseline: "gnetraw"},
		Summaries: []summary{
			{Scenario: "decode", Target: "reactor", Failures: []string{"round 1: probe: POST /decode answered 404 Not Found", "round 2: probe: POST /decode answered 404 Not Found"}},
			{Scenario: "decode", Target: "gnetraw", OK: 2, ReqPerSec: stat{Median: 1500, Min: 1000, Max: 2000, N: 2},
				CPUEffRatio: stat{Median: 1, Min: 1, Max: 1, N: 2}, ErrRead: 3},
			{Scenario: "idle", Target: "gnetraw", OK: 1, KiBPerConn: stat{Median: 2.5, Min: 2.5, Max: 2.5, N: 1}, Alive: stat{Median: 99, Min: 99, Max: 99, N: 1}, Conns: 100},
		},
	}
	md := markdown(rep)
	for _, want := range []string{
		"| reactor | – | – | – | – | – | – | – | – | FAILED: probe: POST /decode answered 404 Not Found |",
		"| gnetraw | 1.00 | – | 1.5k (1.0k–2.0k) |",
		"⚠ read 3",
		"| gnetraw | 2.5 | – | ⚠ 99/100 |",
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
