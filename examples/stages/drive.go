package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-go/sluice"
	"github.com/sluice-go/sluice/examples/internal/cli"
	"github.com/sluice-go/sluice/stage"
)

const (
	// driveConns is the keep-alive connections per route. Three keep both
	// cores of a 2-core machine busy with the server's work; with four,
	// the clients crowd the event loops out and the waits for a core
	// (Write, QueueWait) grow until they rival the stage a route loads.
	driveConns = 3
	// driveMaxRequests bounds a route's load whatever -drive-time says.
	driveMaxRequests = 1 << 20
	// driveRounds is /hash's work under load: ~0.2 ms, a hundred times
	// the server's own per-request cost, a fiftieth of maxRounds.
	driveRounds = 2000
	// ingestRecords and ingestReadings shape /ingest's document: 163 KiB
	// of JSON, under the 1 MiB Config.StreamThreshold, so the body is
	// buffered whole before the handler runs and decoding it is pure CPU.
	ingestRecords  = 300
	ingestReadings = 8
	// headerFields is the number of fields in /headers's header set, Host
	// aside: 89 field lines, under the parser's default of 100
	// (Limits.MaxHeaders).
	headerFields = 88
	// minHeaderLine is the shortest field line of /headers's set: a name
	// and a cookie- and trace-like value, unpadded.
	minHeaderLine = 72
	// maxHeaderBytes bounds -header-bytes: the parser's default limit on
	// a header section is 64 KiB (Limits.MaxHeaderBytes), and the request
	// line and Host need a little of it.
	maxHeaderBytes = 60 << 10
)

// driveOptions are -drive's settings.
type driveOptions struct {
	// per is the time each route is loaded for.
	per time.Duration
	// headerBytes is the size of /headers's header set, in bytes.
	headerBytes int
	// headerWrite is the size of each write of a /headers request, in
	// bytes; 0 writes it whole.
	headerWrite int
}

// defaultDrive is -drive's defaults. The header set is ~11 KiB (a session
// cookie, tracing baggage and forwarding headers from a few proxies run to
// that), written 4 KiB at a time as net/http's Transport writes it (its
// default WriteBufferSize); README.md says why the writes matter.
var defaultDrive = driveOptions{per: 3 * time.Second, headerBytes: 11 << 10, headerWrite: 4 << 10}

// load is one route's traffic: the same raw request, again and again.
type load struct {
	route  string   // "POST /ingest", as the breakdown is titled
	req    []byte   // the whole request, head and body
	chunk  int      // the size of each write of req; 0: req in one write
	inline bool     // the route is wrapped with sluice.Inline
	want   []string // the stages expected to be the culprit
}

// loads returns the three routes' loads.
func loads(o driveOptions) []load {
	return []load{
		{route: "POST /ingest", req: ingestRequest(), want: []string{"decode"}},
		{route: "GET /hash", req: []byte("GET /hash?rounds=" + strconv.Itoa(driveRounds) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"), want: []string{"process"}},
		{route: "GET /headers", req: headersRequest(o.headerBytes), chunk: o.headerWrite, inline: true, want: []string{"read", "parse"}},
	}
}

// ingestDoc is /ingest's load document, made the same on every run.
func ingestDoc() batch {
	b := batch{Source: "drive", Records: make([]record, ingestRecords)}
	for i := range b.Records {
		r := &b.Records[i]
		r.ID = int64(1000 + i)
		r.Device = fmt.Sprintf("sensor-%04d.rack-%02d.eu-west", i, i%16)
		r.Tags = []string{"temperature", "humidity", fmt.Sprintf("zone-%d", i%7), "calibrated"}
		r.Location = location{Site: fmt.Sprintf("site-%02d", i%12), Lat: 48.85 + float64(i)/1000, Lon: 2.35 - float64(i)/1000}
		r.Readings = make([]reading, ingestReadings)
		for j := range r.Readings {
			r.Readings[j] = reading{T: 1700000000 + int64(i*60+j), Kind: [...]string{"temp", "hum"}[j%2], V: float64(i%50) + float64(j)/4}
		}
		r.Meta = map[string]string{"firmware": "v2.14.3", "owner": "facilities", "batch": strconv.Itoa(i / 50)}
	}
	return b
}

// ingestRequest is POST /ingest with ingestDoc as its body.
func ingestRequest() []byte {
	body, err := json.Marshal(ingestDoc())
	if err != nil {
		panic(err) // a batch always encodes
	}
	head := "POST /ingest HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n"
	return append([]byte(head), body...)
}

// headersRequest returns GET /headers with headerFields fields (and
// Host) of about size bytes in all, cookie- and trace-like values padded
// to the same length.
func headersRequest(size int) []byte {
	var b strings.Builder
	b.WriteString("GET /headers HTTP/1.1\r\nHost: 127.0.0.1\r\n")
	line := max(size/headerFields, minHeaderLine)
	for i := range headerFields {
		v := fmt.Sprintf("session=%016x; trace=%016x-%04d; pad=", uint64(i)*0x9e3779b97f4a7c15, uint64(i)*0xbf58476d1ce4e5b9, i)
		name := fmt.Sprintf("X-Attr-%02d", i)
		pad := max(line-len(name)-len(": \r\n")-len(v), 0)
		b.WriteString(name + ": " + v + strings.Repeat("z", pad) + "\r\n")
	}
	b.WriteString("\r\n")
	return []byte(b.String())
}

// result is one route's load and the server's stats after it.
type result struct {
	route    string
	requests int64
	elapsed  time.Duration
	stats    sluice.Stats
}

// drive serves the routes on a fresh server at 127.0.0.1:0 with cfg and
// sends l.req on conns keep-alive connections until d has passed or limit
// requests were answered, then returns the server's Stats: this route's
// only. Every answer must be 200.
func drive(cfg sluice.Config, l load, conns int, d time.Duration, limit int64) (result, error) {
	srv := &sluice.Server{Handler: routes(&cli.Flags{}), Config: cfg}
	if err := srv.Start("127.0.0.1:0"); err != nil {
		return result{}, err
	}
	defer srv.Close()
	addr := srv.Addr().String()
	var sent atomic.Int64
	errs := make([]error, conns)
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for i := range conns {
		wg.Go(func() { errs[i] = send(addr, l.req, l.chunk, deadline, &sent, limit) })
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return result{}, fmt.Errorf("%s: %w", l.route, err)
	}
	// A client holds its last answer as soon as the kernel does, a moment
	// before the loop records that answer's Write stage; once the server
	// has seen every connection close, their loops are past all that.
	for wait := time.Now(); srv.Stats().OpenConns > 0; time.Sleep(time.Millisecond) {
		if time.Since(wait) > 5*time.Second {
			return result{}, fmt.Errorf("%s: connections still open 5s after the load ended", l.route)
		}
	}
	res := result{route: l.route, requests: min(sent.Load(), limit), elapsed: elapsed, stats: srv.Stats()}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return res, srv.Shutdown(ctx)
}

// send is one connection's load: it writes req and reads the answer,
// chunk bytes at a time, one request at a time, until deadline or until
// sent reaches limit.
func send(addr string, req []byte, chunk int, deadline time.Time, sent *atomic.Int64, limit int64) error {
	if chunk <= 0 {
		chunk = len(req)
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	// A server that stops answering fails the run instead of hanging it.
	_ = c.SetDeadline(deadline.Add(10 * time.Second))
	br := bufio.NewReaderSize(c, 64<<10)
	for time.Now().Before(deadline) && sent.Add(1) <= limit {
		for p := req; len(p) > 0; {
			n := min(chunk, len(p))
			if _, err := c.Write(p[:n]); err != nil {
				return err
			}
			p = p[n:]
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		if resp.StatusCode != 200 {
			return fmt.Errorf("status %s", resp.Status)
		}
	}
	return nil
}

// runDrive is -drive: each route on its own server, every request timed,
// and its breakdown printed to out. It returns the exit status.
func runDrive(out, errOut io.Writer, f cli.Flags, o driveOptions) int {
	cfg, err := f.Config()
	switch {
	case err != nil:
	case cfg.TLS != nil:
		err = errors.New("-drive speaks plain HTTP: drop -cert/-key and -tls-self-signed")
	case o.per <= 0:
		err = errors.New("-drive-time must be positive")
	case o.headerBytes < headerFields*minHeaderLine || o.headerBytes > maxHeaderBytes:
		err = fmt.Errorf("-header-bytes must be from %d (%d fields) to %d (the parser's limit is 64 KiB)",
			headerFields*minHeaderLine, headerFields, maxHeaderBytes)
	case o.headerWrite < 0:
		err = errors.New("-header-write must not be negative")
	}
	if err != nil {
		fmt.Fprintln(errOut, err)
		return 2
	}
	tune(&cfg)
	cfg.StageSampling = 1 // every request timed: the breakdown is exact, not a sample
	for _, l := range loads(o) {
		r, err := drive(cfg, l, driveConns, o.per, driveMaxRequests)
		if err != nil {
			fmt.Fprintln(errOut, err)
			return 1
		}
		writes := "in one write"
		if l.chunk > 0 && l.chunk < len(l.req) {
			writes = fmt.Sprintf("in %d-byte writes", l.chunk)
		}
		where := "a pool worker"
		switch {
		case cfg.Model == sluice.PerConn:
			where = "the connection's goroutine"
		case l.inline || cfg.Dispatch == sluice.DispatchInline || cfg.Model == sluice.Single:
			where = "the event loop"
		}
		fmt.Fprintf(out, "%s: %d requests in %.1fs on %d connections, %d bytes each %s (model %s, handler on %s)\n",
			r.route, r.requests, r.elapsed.Seconds(), driveConns, len(l.req), writes, f.Model, where)
		writeBreakdown(out, &r.stats.Snapshot)
		fmt.Fprintln(out)
	}
	return 0
}

// culpritIn reports whether r's culprit is one of want's stages.
func culpritIn(s *stage.Snapshot, want []string) bool {
	c, ok := culprit(s)
	if !ok {
		return false
	}
	for _, w := range want {
		if c.String() == w {
			return true
		}
	}
	return false
}
