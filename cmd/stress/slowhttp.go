package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// slowRow is one second of slowhttptest's CSV report.
type slowRow struct {
	second, closed, pending, connected, available int
}

// parseSlowCSV reads slowhttptest's CSV: a header
// "Seconds,Closed,Pending,Connected,Service Available", then one row per
// second. Service Available is the connection count while the probe is
// answered and 0 when it is not.
func parseSlowCSV(b []byte) ([]slowRow, error) {
	recs, err := csv.NewReader(strings.NewReader(string(b))).ReadAll()
	if err != nil {
		return nil, err
	}
	if len(recs) < 2 || len(recs[0]) < 5 || recs[0][0] != "Seconds" {
		return nil, fmt.Errorf("not a slowhttptest CSV: %q", firstLines(b, 2))
	}
	var rows []slowRow
	for _, r := range recs[1:] {
		if len(r) < 5 {
			continue
		}
		var v [5]int
		for i := range v {
			n, err := strconv.Atoi(strings.TrimSpace(r[i]))
			if err != nil {
				return nil, fmt.Errorf("CSV row %v: %v", r, err)
			}
			v[i] = n
		}
		rows = append(rows, slowRow{v[0], v[1], v[2], v[3], v[4]})
	}
	if len(rows) == 0 {
		return nil, errors.New("the CSV has no rows")
	}
	return rows, nil
}

var ansi = regexp.MustCompile("\x1b\\[[0-9;]*m")

// slowExit returns slowhttptest's "Exit status:" text and the last
// "error:" count of its log.
func slowExit(out []byte) (status string, errs int) {
	errs = -1
	for _, line := range strings.Split(ansi.ReplaceAllString(string(out), ""), "\n") {
		line = strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(line, "Exit status:"); ok {
			status = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(line, "error:"); ok {
			if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
				errs = n
			}
		}
	}
	return status, errs
}

// slowVerdict judges a run of conns connections: the probe must always
// be answered and every connection must have been closed before the run
// ended. It returns a failure reason ("" when it passed) and a summary.
func slowVerdict(rows []slowRow, status string, conns int) (fail, summary string) {
	last := rows[len(rows)-1]
	firstClose, maxConnected := -1, 0
	for _, r := range rows {
		if firstClose < 0 && r.closed > 0 {
			firstClose = r.second
		}
		maxConnected = max(maxConnected, r.connected)
	}
	closes := "none closed"
	if firstClose >= 0 {
		closes = fmt.Sprintf("first closed at %d s", firstClose)
	}
	summary = fmt.Sprintf("slowhttptest: %d connections, %d connected at most, %s, run ended at %d s (%s)",
		conns, maxConnected, closes, last.second, strings.ToLower(status))
	for _, r := range rows[1:] { // at 0 s the probe has not run yet
		if r.available == 0 {
			return fmt.Sprintf("service unavailable to the probe at %d s", r.second), summary
		}
	}
	switch {
	case maxConnected < conns*9/10:
		return fmt.Sprintf("only %d of %d connections were established", maxConnected, conns), summary
	case strings.Contains(status, "No open connections left") || last.closed >= conns:
		return "", summary
	}
	return fmt.Sprintf("%d of %d connections still open when the run ended", last.connected+last.pending, conns), summary
}

// slowHTTP runs slowhttptest in one mode against srv.
func slowHTTP(ctx context.Context, name string, srv *server, o *options, work string) result {
	scheme := "http"
	if o.tls {
		scheme = "https"
	}
	base := scheme + "://" + srv.addr
	var args []string
	var expect time.Duration
	var why string
	switch name {
	case "slowloris":
		args = []string{"-H", "-i", "1", "-x", "24", "-t", "GET", "-u", base + "/plaintext"}
		expect, why = o.headerTimeout, "HeaderReadTimeout"
	case "slowbody":
		args = []string{"-B", "-i", "1", "-x", "10", "-s", "8192", "-t", "POST", "-f", "application/json", "-u", base + bodyPath(o.example)}
		expect, why = o.bodyTimeout, "BodyReadTimeout"
	case "slowread":
		// 32 bytes every 2 s: the three answers (~400 bytes) are read
		// within 30 s, so the client sees the close soon after it comes.
		args = []string{"-X", "-k", "3", "-w", "512", "-y", "1024", "-n", "2", "-z", "32", "-u", base + "/plaintext"}
		expect, why = o.idleTimeout, "IdleTimeout (the answers fit the socket buffers)"
	}
	length := max(o.duration, expect+15*time.Second)
	prefix := filepath.Join(work, name)
	args = append(args, "-c", strconv.Itoa(o.conns), "-r", strconv.Itoa(o.conns),
		"-l", strconv.Itoa(int(length.Seconds())), "-p", "3", "-g", "-o", prefix)
	reset := srv.resetPeak()
	before := srv.rss()
	watch := watchOpen(srv, o.conns)
	out, err := runTool(ctx, length+30*time.Second, work, "slowhttptest", args...)
	seen := watch()
	_ = os.WriteFile(prefix+".log", out, 0o644)
	if errors.Is(err, errMissing) {
		return result{status: "FAIL", detail: "slowhttptest is not installed: apt-get install -y slowhttptest"}
	}
	mem := srv.peakNote(reset, before)
	if err != nil {
		return result{status: "FAIL", detail: fmt.Sprintf("slowhttptest: %v: %s", err, firstLines(out, 3))}
	}
	b, err := os.ReadFile(prefix + ".csv")
	if err != nil {
		return result{status: "FAIL", detail: fmt.Sprintf("no CSV report (%v): %s", err, firstLines(out, 3))}
	}
	rows, err := parseSlowCSV(b)
	if err != nil {
		return result{status: "FAIL", detail: err.Error()}
	}
	status, errs := slowExit(out)
	fail, summary := slowVerdict(rows, status, o.conns)
	detail := fmt.Sprintf("%s; expected close at %v (%s), run length %v", summary, expect, why, length)
	if errs > 0 {
		detail += fmt.Sprintf("; %d connection errors", errs)
	}
	if seen.ok {
		detail += "; server's Stats: " + seen.String()
		if strings.Contains(fail, "still open when the run ended") && seen.closedAt > 0 {
			// A slow reader learns of the close only once it has read
			// what came before it (over TLS, session tickets too).
			fail = ""
			detail += " (slowhttptest, reading slowly, had not seen every close yet)"
		}
	}
	detail += "; " + mem
	if !srv.alive() {
		fail = "the server died"
	}
	if fail != "" {
		return result{status: "FAIL", detail: fail + ": " + detail}
	}
	return result{status: "PASS", detail: detail}
}

// bodyPath is the route of an example that reads a request body.
func bodyPath(example string) string {
	switch example {
	case "hello":
		return "/decode"
	case "echo":
		return "/echo"
	}
	return "/"
}

// openWatch is what the server's Stats said during a run: the most
// connections open at once and when the attack's connections were all
// gone again.
type openWatch struct {
	ok       bool
	peak     int64
	closedAt time.Duration // 0 if they never were
}

func (w openWatch) String() string {
	if w.closedAt == 0 {
		return fmt.Sprintf("open connections peaked at %d", w.peak)
	}
	return fmt.Sprintf("open connections peaked at %d, all attack connections closed by %d s", w.peak, int(w.closedAt.Seconds()+0.5))
}

// watchOpen polls the server's /debug/stats every 200 ms until the
// returned function is called, and reports when the open connections,
// having risen by nine tenths of conns or more, fell back to what they
// were. (A run that ends as soon as its client sees the last close may
// stop the watch before a poll sees it.)
func watchOpen(srv *server, conns int) func() openWatch {
	if srv.debug == "" {
		return func() openWatch { return openWatch{} }
	}
	stop := make(chan struct{})
	done := make(chan openWatch, 1)
	go func() {
		var w openWatch
		start := time.Now()
		base := int64(-1)
		risen := false
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			if st, err := serverStats(srv.debug); err == nil {
				w.ok = true
				if base < 0 {
					base = st.Open
				}
				w.peak = max(w.peak, st.Open)
				if st.Open >= base+int64(conns*9/10) {
					risen = true
				}
				if risen && w.closedAt == 0 && st.Open <= base+1 { // the probe's connection may be open
					w.closedAt = time.Since(start)
				}
			}
			select {
			case <-stop:
				done <- w
				return
			case <-tick.C:
			}
		}
	}()
	return func() openWatch {
		close(stop)
		return <-done
	}
}
