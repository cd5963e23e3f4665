package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sluice-go/sluice/examples/internal/cli"
	"github.com/sluice-go/sluice/examples/internal/clitest"
	"github.com/sluice-go/sluice/stage"
)

// models are the ways the routes are served in TestRoutes.
var models = []struct {
	model  string
	inline bool
}{{"reactor", false}, {"reactor", true}, {"single", false}, {"perconn", false}}

func TestRoutes(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	doc := ingestDoc()
	body, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	want := summary{Source: "drive", Records: ingestRecords, Readings: ingestRecords * ingestReadings}
	for _, r := range doc.Records {
		for _, x := range r.Readings {
			want.Sum += x.V
		}
	}
	wantIngest, _ := json.Marshal(want)
	one := sha256.Sum256([]byte("sluice"))
	two := sha256.Sum256(one[:])
	def := iterate(hashSeed, defaultRounds)
	const roundsErr = "400 Bad Request: rounds must be an integer from 1 to 100000\n"

	for _, m := range models {
		f := cli.Flags{Model: m.model, Inline: m.inline}
		addr, stop := clitest.Start(t, m.model, m.inline, routes(&f))
		tr := &http.Transport{}
		cl := &http.Client{Transport: tr}
		for _, tc := range []struct {
			name, method, path, ctype, body string
			status                          int
			want                            string // the whole body, or its prefix when it ends in "…"
		}{
			{"ingest", "POST", "/ingest", "application/json", string(body), 200, string(wantIngest)},
			{"ingest empty batch", "POST", "/ingest", "application/json", `{"source":"s","records":[]}`, 200, `{"source":"s","records":0,"readings":0,"sum":0}`},
			{"ingest truncated", "POST", "/ingest", "application/json", string(body[:len(body)/2]), 400, `{"error":"invalid JSON"…`},
			{"ingest wrong type", "POST", "/ingest", "application/json", `{"records":[{"id":"seven"}]}`, 400, `{"error":"invalid JSON value"…`},
			{"ingest not JSON", "POST", "/ingest", "text/plain", `{}`, 415, `{"error":"unsupported media type"…`},
			{"hash 1 round", "GET", "/hash?rounds=1", "", "", 200, `{"rounds":1,"digest":"` + hex.EncodeToString(one[:]) + `"}`},
			{"hash 2 rounds", "GET", "/hash?rounds=2", "", "", 200, `{"rounds":2,"digest":"` + hex.EncodeToString(two[:]) + `"}`},
			{"hash default", "GET", "/hash", "", "", 200, `{"rounds":1000,"digest":"` + hex.EncodeToString(def[:]) + `"}`},
			{"hash max", "GET", "/hash?rounds=100000", "", "", 200, `{"rounds":100000,"digest":"…`},
			{"hash zero", "GET", "/hash?rounds=0", "", "", 400, roundsErr},
			{"hash negative", "GET", "/hash?rounds=-5", "", "", 400, roundsErr},
			{"hash over limit", "GET", "/hash?rounds=100001", "", "", 400, roundsErr},
			{"hash huge", "GET", "/hash?rounds=99999999999999999999", "", "", 400, roundsErr},
			{"hash not a number", "GET", "/hash?rounds=ten", "", "", 400, roundsErr},
			{"hash empty", "GET", "/hash?rounds=", "", "", 400, roundsErr},
			{"stages without debug", "GET", "/stages", "", "", 503, "503 Service Unavailable: start the service with -debug-addr…"},
			{"wrong method", "GET", "/ingest", "", "", 405, ""},
		} {
			req, err := http.NewRequest(tc.method, "http://"+addr+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			resp, err := cl.Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", m.model, tc.name, err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			ok := resp.StatusCode == tc.status
			if p, prefix := strings.CutSuffix(tc.want, "…"); prefix {
				ok = ok && strings.HasPrefix(string(b), p)
			} else if tc.want != "" {
				ok = ok && string(b) == tc.want
			}
			if !ok {
				t.Errorf("%s inline=%v %s: %d %q, want %d %q", m.model, m.inline, tc.name, resp.StatusCode, b, tc.status, tc.want)
			}
		}
		testHeaders(t, addr)
		tr.CloseIdleConnections()
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	}
}

// testHeaders sends the driver's large header set and checks the count.
func testHeaders(t *testing.T, addr string) {
	t.Helper()
	req := headersRequest(defaultDrive.headerBytes)
	head, _, _ := bytes.Cut(req, []byte("\r\n\r\n"))
	lines := bytes.Split(head, []byte("\r\n"))[1:] // the field lines, Host first
	var want headerCount
	for _, l := range lines {
		name, value, _ := bytes.Cut(l, []byte(": "))
		want.Fields++
		want.Bytes += len(name) + len(value)
	}
	if want.Fields != headerFields+1 || len(head) > defaultDrive.headerBytes+1024 || len(head) < defaultDrive.headerBytes-1024 {
		t.Fatalf("the header set has %d fields in %d bytes, want %d in ~%d", want.Fields, len(head), headerFields+1, defaultDrive.headerBytes)
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	for _, chunk := range []int{len(req), 4 << 10, 1000} { // keep-alive: one connection serves them all
		for p := req; len(p) > 0; p = p[min(chunk, len(p)):] {
			if _, err := c.Write(p[:min(chunk, len(p))]); err != nil {
				t.Fatal(err)
			}
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		var got headerCount
		err = json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || got != want {
			t.Fatalf("GET /headers in %d-byte writes: %d %+v %v, want 200 %+v", chunk, resp.StatusCode, got, err, want)
		}
	}
}

func TestHeadersRequestSize(t *testing.T) {
	const reqLine = len("GET /headers HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
	for _, size := range []int{headerFields * minHeaderLine, defaultDrive.headerBytes, maxHeaderBytes} {
		got := len(headersRequest(size)) - reqLine
		if got > size || got < size-headerFields { // each line is size/headerFields, rounded down
			t.Errorf("headersRequest(%d): %d bytes of fields", size, got)
		}
	}
}

// TestStagesRoute reads GET /stages through the debug listener.
func TestStagesRoute(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	// cli.Run listens on -debug-addr itself and does not say which port
	// ":0" got, so the test picks a free one first.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	debug := ln.Addr().String()
	ln.Close()
	f := cli.Flags{Model: "reactor", Debug: debug, Sampling: 1}
	addr, stop := clitest.StartFlags(t, f, routes(&f))
	tr := &http.Transport{}
	cl := &http.Client{Transport: tr}
	get := func(path string) (int, string) {
		resp, err := cl.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(b)
	}
	for range 20 {
		if code, _ := get("/hash?rounds=20000"); code != 200 {
			t.Fatalf("hash: %d", code)
		}
	}
	code, body := get("/stages")
	t.Logf("GET /stages:\n%s", body)
	if code != 200 || !strings.HasPrefix(body, "every request since start, all routes, 1 in 1 timed\n") ||
		!strings.Contains(body, "culprit: process\n") {
		t.Errorf("GET /stages: %d %q", code, body)
	}
	for _, row := range []string{"stage", "read", "parse", "process", "write", "queue_wait"} {
		if !strings.Contains(body, "\n"+row+" ") {
			t.Errorf("GET /stages: no %q row in\n%s", row, body)
		}
	}
	tr.CloseIdleConnections()
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	// On an event loop the route refuses to block it.
	f = cli.Flags{Model: "reactor", Inline: true, Debug: debug}
	addr, stop = clitest.StartFlags(t, f, routes(&f))
	if code, body := get("/stages"); code != 503 || !strings.Contains(body, "would block an event loop") {
		t.Errorf("GET /stages, inline: %d %q", code, body)
	}
	tr.CloseIdleConnections()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func TestCulprit(t *testing.T) {
	snap := func(sums map[stage.Stage]time.Duration) *stage.Snapshot {
		var s stage.Snapshot
		for st, d := range sums {
			s.Stages[st].Count = 1
			s.Stages[st].Sum = d
		}
		return &s
	}
	ms := time.Millisecond
	for _, tc := range []struct {
		name string
		sums map[stage.Stage]time.Duration
		want string // "" for none
	}{
		{"empty", nil, ""},
		{"decode", map[stage.Stage]time.Duration{stage.Read: 1 * ms, stage.Parse: ms, stage.Decode: 40 * ms, stage.Process: 2 * ms, stage.Write: 5 * ms}, "decode"},
		{"process", map[stage.Stage]time.Duration{stage.Read: ms, stage.Process: 9 * ms, stage.QueueWait: 8 * ms}, "process"},
		{"queue wait", map[stage.Stage]time.Duration{stage.Process: ms, stage.QueueWait: 8 * ms}, "queue_wait"},
		{"read holds parse", map[stage.Stage]time.Duration{stage.Read: 10 * ms, stage.Parse: 9 * ms, stage.Write: 4 * ms}, "read"},
		{"tie goes to the earlier stage", map[stage.Stage]time.Duration{stage.Write: 3 * ms, stage.Process: 3 * ms}, "process"},
		{"per-connection stages are not candidates", map[stage.Stage]time.Duration{stage.Accept: time.Second, stage.AcceptQueue: time.Second, stage.Handshake: time.Second, stage.Write: ms}, "write"},
		{"only per-connection stages", map[stage.Stage]time.Duration{stage.Handshake: time.Second}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := culprit(snap(tc.sums))
			if tc.want == "" {
				if ok {
					t.Fatalf("culprit %s, want none", got)
				}
				return
			}
			if !ok || got.String() != tc.want {
				t.Fatalf("culprit %s %v, want %s", got, ok, tc.want)
			}
		})
	}
}

func TestWriteBreakdown(t *testing.T) {
	var s stage.Snapshot
	for i := range s.Stages {
		s.Stages[i].Stage = stage.Stage(i).String()
	}
	set := func(st stage.Stage, n uint64, p50, p99, sum time.Duration) {
		s.Stages[st].Count, s.Stages[st].P50, s.Stages[st].P99, s.Stages[st].Sum = n, p50, p99, sum
	}
	set(stage.Accept, 2, time.Microsecond, 2*time.Microsecond, 3*time.Microsecond)
	set(stage.Read, 10, 1500*time.Nanosecond, 12345*time.Nanosecond, 25*time.Microsecond)
	set(stage.Parse, 10, time.Microsecond, 9*time.Microsecond, 20*time.Microsecond)
	set(stage.Decode, 10, 800*time.Microsecond, 2*time.Millisecond, 9*time.Millisecond)
	set(stage.Write, 10, 90*time.Microsecond, 123456789, 975*time.Microsecond)
	var b strings.Builder
	writeBreakdown(&b, &s)
	want := `stage            count    median       p99     total      share
accept               2       1µs       2µs       3µs          -
read                10     1.5µs    12.3µs      25µs         0%
parse               10       1µs       9µs      20µs  (in read)
decode              10     800µs       2ms       9ms        90%
write               10      90µs     123ms     975µs        10%
culprit: decode
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	writeBreakdown(&b, &stage.Snapshot{})
	if !strings.HasSuffix(b.String(), "culprit: none (no request was timed: is -stage-sampling negative?)\n") {
		t.Errorf("empty snapshot: %q", b.String())
	}
}

// TestDriveCulprits loads each route on a fresh reactor server, every
// request timed, and checks that each stage was timed once per request
// and that the culprit is the stage the route was built to load, by a
// margin over every other request stage. Under the race detector the
// culprits are not checked: it slows instrumented code 5–25×, the parser
// and the handlers unevenly, so the timings are the detector's.
func TestDriveCulprits(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	var f cli.Flags // the defaults: reactor, pool dispatch
	cfg, err := f.Config()
	if err != nil {
		t.Fatal(err)
	}
	tune(&cfg)
	cfg.StageSampling = 1
	// Counts large enough that one scheduler stall (a few ms on a busy
	// 2-core machine) cannot reorder the totals, small enough to take
	// well under a second each.
	counts := map[string]int64{"POST /ingest": 200, "GET /hash": 500, "GET /headers": 3000}
	// margin is how far ahead of the next request stage the culprit must
	// be. The least measured in 20 runs of each route on a 2-core machine
	// was 2.2× idle and 1.6× with a busy loop hogging one core.
	const margin = 1.25
	for _, l := range loads(defaultDrive) {
		n := counts[l.route]
		r, err := drive(cfg, l, driveConns, 30*time.Second, n)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		writeBreakdown(&b, &r.stats.Snapshot)
		t.Logf("%s: %d requests in %v\n%s", l.route, r.requests, r.elapsed.Round(time.Millisecond), b.String())
		if r.requests != n {
			t.Errorf("%s: %d requests answered, want %d", l.route, r.requests, n)
		}
		s := &r.stats.Snapshot
		if !raceEnabled {
			checkCulprit(t, l, s, margin)
		}
		// Every request is timed once in each stage it passes through.
		wantCount := map[stage.Stage]int64{stage.Read: n, stage.Parse: n, stage.Process: n, stage.Write: n}
		if l.route == "POST /ingest" {
			wantCount[stage.Decode] = n
		}
		if !l.inline {
			wantCount[stage.QueueWait] = n
		}
		for _, st := range requestStages {
			if got := int64(s.Stages[st].Count); got != wantCount[st] {
				t.Errorf("%s: %s timed %d times, want %d", l.route, st, got, wantCount[st])
			}
		}
		if got := s.Counters[stage.RequestCounter(200)]; int64(got) != n {
			t.Errorf("%s: %d responses counted as 200, want %d", l.route, got, n)
		}
	}
}

// checkCulprit checks that s's culprit is one of l.want, ahead of every
// other request stage by margin.
func checkCulprit(t *testing.T, l load, s *stage.Snapshot, margin float64) {
	t.Helper()
	c, _ := culprit(s)
	if !culpritIn(s, l.want) {
		t.Errorf("%s: culprit %s, want one of %v", l.route, c, l.want)
		return
	}
	for _, st := range requestStages {
		if st == c || withinRead(st) || (c == stage.Parse && st == stage.Read) {
			continue
		}
		if float64(s.Stages[c].Sum) < margin*float64(s.Stages[st].Sum) {
			t.Errorf("%s: culprit %s (%v) is less than %.1f× %s (%v)", l.route, c, s.Stages[c].Sum, margin, st, s.Stages[st].Sum)
		}
	}
}

// TestDriveOutput runs -drive briefly and checks its report's shape.
func TestDriveOutput(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	var out, errOut strings.Builder
	if code := runDrive(&out, &errOut, cli.Flags{Model: "reactor"}, driveOptions{per: 100 * time.Millisecond, headerBytes: 8 << 10}); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, route := range []string{"POST /ingest", "GET /hash", "GET /headers"} {
		if !strings.Contains(out.String(), "\n"+route+": ") && !strings.HasPrefix(out.String(), route+": ") {
			t.Errorf("no %s section in\n%s", route, out.String())
		}
	}
	if n := strings.Count(out.String(), "culprit: "); n != 3 {
		t.Errorf("%d culprit lines, want 3:\n%s", n, out.String())
	}
	if code := runDrive(&out, &errOut, cli.Flags{Model: "reactor", SelfSigned: true}, defaultDrive); code != 2 {
		t.Errorf("-drive with TLS: exit %d, want 2", code)
	}
}
