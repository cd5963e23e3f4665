package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// scenario is one workload.
type scenario struct {
	Name string
	Desc string // for the tables
	// The request, as the probe sends it and as wrk sends it through Script.
	Method, Path, Body string
	Script             string   // under bench/scripts; "" for none
	ScriptArgs         []string // after wrk's "--"
	Close              bool     // each request asks for Connection: close
	Idle               bool     // the idle-memory scenario, not a wrk run
	// TLS: HTTPS with the harness's ECDSA P-256 certificate (-cert/-key);
	// targets with NoTLS set skip the scenario.
	TLS bool
	// FullHandshakes: every request is a new connection whose handshake
	// must be a full one. wrk resumes sessions, so the server is started
	// with -no-session-tickets and checked not to resume; the table
	// reports handshakes rather than requests.
	FullHandshakes bool
	// Goal is the target the issue sets for sluice, checked in the table.
	Goal *goal
}

// defaultBaseline is the target sc's ratios are taken against unless
// -baseline names one: gnetraw, the floor, for plain HTTP; nethttp for
// TLS, which gnet does not have.
func (sc scenario) defaultBaseline() string {
	if sc.TLS {
		return "nethttp"
	}
	return "gnetraw"
}

// scheme is the URL scheme of sc's requests.
func (sc scenario) scheme() string {
	if sc.TLS {
		return "https"
	}
	return "http"
}

// decodeBody is the /decode request body: about 300 bytes, every field of
// the decode struct present.
const decodeBody = `{"name":"Ada Lovelace","email":"ada.lovelace@analytical-engine.example",` +
	`"tags":["mathematics","computing","poetry","engines","notes","bernoulli",` +
	`"analysis","difference","jacquard","loom","punched-cards","babbage",` +
	`"algorithm","translation","royal-society","countess","menabrea","sketch"],` +
	`"n":42}`

// decodeN is the n that decodeBody carries.
const decodeN = 42

// pipelineDepth is the number of requests per write in the pipelined
// scenario (TechEmpower's plaintext test uses 16).
const pipelineDepth = 16

// scenarios lists every scenario in the order they run and are reported.
var scenarios = []scenario{
	{Name: "plaintext", Desc: "GET /plaintext", Method: "GET", Path: "/plaintext"},
	{Name: "pipelined", Desc: fmt.Sprintf("GET /plaintext, %d requests per write", pipelineDepth),
		Method: "GET", Path: "/plaintext", Script: "pipeline.lua", ScriptArgs: []string{fmt.Sprint(pipelineDepth)},
		Goal: &goal{Text: fmt.Sprintf("the default stage sampling (1 in 100) costs ≤ %.0f%% of req/CPU-s against the same server with timing off (-stage-sampling -1)", 100*maxTimingCost),
			Check: samplingGoal, Applies: defaultTimingWithOff}},
	{Name: "json", Desc: "GET /json", Method: "GET", Path: "/json"},
	{Name: "decode", Desc: fmt.Sprintf("POST /decode, %d-byte JSON body", len(decodeBody)),
		Method: "POST", Path: "/decode", Body: decodeBody, Script: "decode.lua", ScriptArgs: []string{decodeBody}},
	{Name: "storm", Desc: "GET /plaintext, Connection: close (a new connection per request)",
		Method: "GET", Path: "/plaintext", Script: "storm.lua", Close: true},
	{Name: "idle", Desc: "keep-alive connections after one GET /plaintext each; server RSS", Method: "GET", Path: "/plaintext", Idle: true},
	{Name: "tls", Desc: "HTTPS GET /plaintext, keep-alive", Method: "GET", Path: "/plaintext", TLS: true,
		Goal: &goal{Text: "≥ 1.6× nethttp's req/CPU-s and ≥ fasthttp's req/s", Check: tlsGoal}},
	{Name: "tls-handshake", Desc: "HTTPS GET /plaintext, Connection: close: a new connection and a full TLS handshake per request",
		Method: "GET", Path: "/plaintext", Script: "storm.lua", Close: true, TLS: true, FullHandshakes: true,
		Goal: &goal{Text: "≥ nethttp's handshakes/s", Check: handshakeGoal}},
	{Name: "tls-idle", Desc: "keep-alive HTTPS connections after a handshake and one GET /plaintext each; server RSS",
		Method: "GET", Path: "/plaintext", Idle: true, TLS: true,
		Goal: &goal{Text: "≤ 10 KiB per connection", Check: tlsIdleGoal}},
}

// probeTimeout bounds the one request that checks a server before a run.
const probeTimeout = 5 * time.Second

// probe sends the scenario's request once and checks the answer: status
// 200, the shared headers, a Content-Length, and the body. A server
// without the endpoint fails here rather than in wrk's error counts.
// tlsCfg is the client configuration for the TLS scenarios (nil: plain
// HTTP).
func probe(ctx context.Context, addr string, sc scenario, floor bool, tlsCfg *tls.Config) error {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	if sc.TLS != (tlsCfg != nil) {
		return fmt.Errorf("scenario %s: TLS %v but a client TLS configuration %v", sc.Name, sc.TLS, tlsCfg != nil)
	}
	req, err := http.NewRequestWithContext(ctx, sc.Method, sc.scheme()+"://"+addr+sc.Path, strings.NewReader(sc.Body))
	if err != nil {
		return err
	}
	if sc.Body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Close = sc.Close
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, TLSClientConfig: tlsCfg}}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return err
	}
	if sc.TLS && resp.TLS == nil {
		return fmt.Errorf("%s %s: answered without TLS", sc.Method, sc.Path)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s answered %s", sc.Method, sc.Path, resp.Status)
	}
	for _, h := range []string{"Server", "Date", "Content-Type"} {
		if resp.Header.Get(h) == "" {
			return fmt.Errorf("%s %s: no %s header", sc.Method, sc.Path, h)
		}
	}
	if resp.ContentLength < 0 {
		return fmt.Errorf("%s %s: no Content-Length", sc.Method, sc.Path)
	}
	return checkBody(sc.Path, body, floor)
}

// checkBody checks a 200 response body for path.
func checkBody(path string, body []byte, floor bool) error {
	switch path {
	case "/plaintext":
		if string(body) != "Hello, World!" {
			return fmt.Errorf("%s: body %q", path, trunc(string(body), 80))
		}
	case "/json":
		var m struct{ Message string }
		if err := json.Unmarshal(body, &m); err != nil || m.Message != "Hello, World!" {
			return fmt.Errorf("%s: body %q", path, trunc(string(body), 80))
		}
	case "/decode":
		var m struct {
			OK bool `json:"ok"`
			N  int  `json:"n"`
		}
		if err := json.Unmarshal(body, &m); err != nil || !m.OK || (!floor && m.N != decodeN) {
			return fmt.Errorf("%s: body %q, want {\"ok\":true,\"n\":%d}", path, trunc(string(body), 80), decodeN)
		}
	}
	return nil
}

func trunc(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// oneLine flattens s to one line of at most n bytes.
func oneLine(s string, n int) string { return trunc(strings.Join(strings.Fields(s), " "), n) }
