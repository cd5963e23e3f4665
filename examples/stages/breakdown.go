package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/sluice-go/sluice"
	"github.com/sluice-go/sluice/examples/internal/cli"
	"github.com/sluice-go/sluice/stage"
)

// requestStages are the stages every request passes through, the ones a
// culprit is chosen from. Accept, AcceptQueue and Handshake are paid once
// per connection, so their totals say how many connections there were,
// not where a route spends its time; the table shows them all the same.
var requestStages = []stage.Stage{
	stage.Read, stage.Decrypt, stage.Parse, stage.Decode, stage.Process, stage.Write, stage.QueueWait,
}

// withinRead reports whether a stage's time lies inside Read's: Parse
// does, since Read runs from a request's first byte to its complete head,
// the parser's calls included. Such a stage is shown but left out of the
// sum that shares are taken of, which would count it twice. (Decrypt does
// not: a read is decrypted before the server sees its bytes.)
func withinRead(s stage.Stage) bool { return s == stage.Parse }

// culprit returns the request stage with the largest total time, and
// false when no request stage recorded anything (sampling off, or no
// request yet). A tie goes to the stage a request meets first.
func culprit(s *stage.Snapshot) (stage.Stage, bool) {
	best, found := stage.Stage(0), false
	for _, st := range requestStages {
		if s.Stages[st].Sum > 0 && (!found || s.Stages[st].Sum > s.Stages[best].Sum) {
			best, found = st, true
		}
	}
	return best, found
}

// requestTotal is the time spent in the request stages, counting the
// stages inside Read once (as part of Read).
func requestTotal(s *stage.Snapshot) time.Duration {
	var t time.Duration
	for _, st := range requestStages {
		if !withinRead(st) {
			t += s.Stages[st].Sum
		}
	}
	return t
}

// writeBreakdown writes s as a table, one row per stage that recorded
// anything (count, median, p99, total, share of the request stages'
// time), then the culprit line.
func writeBreakdown(w io.Writer, s *stage.Snapshot) {
	const row = "%-13s %8v %9v %9v %9v %10v\n" // 13: "tls_handshake"; fmt pads in runes, so "µs" lines up
	fmt.Fprintf(w, row, "stage", "count", "median", "p99", "total", "share")
	all := requestTotal(s)
	for i := range s.Stages {
		st := &s.Stages[i]
		if st.Count == 0 {
			continue
		}
		share := "-" // a per-connection stage
		switch {
		case withinRead(stage.Stage(i)):
			share = "(in read)"
		case isRequestStage(stage.Stage(i)) && all > 0:
			share = fmt.Sprintf("%.0f%%", 100*float64(st.Sum)/float64(all))
		}
		fmt.Fprintf(w, row, st.Stage, st.Count, round(st.P50), round(st.P99), round(st.Sum), share)
	}
	c, ok := culprit(s)
	if !ok {
		fmt.Fprintln(w, "culprit: none (no request was timed: is -stage-sampling negative?)")
		return
	}
	fmt.Fprintf(w, "culprit: %s\n", c)
}

// isRequestStage reports whether s is one of requestStages.
func isRequestStage(s stage.Stage) bool {
	for _, r := range requestStages {
		if r == s {
			return true
		}
	}
	return false
}

// round shortens d to three significant digits, for a table a person reads.
func round(d time.Duration) time.Duration {
	for r := time.Duration(1); ; r *= 10 {
		if d < 1000*r {
			return d.Round(r)
		}
	}
}

// stagesHandler serves GET /stages: the breakdown of every request since
// the server started. cli.Main keeps the *sluice.Server to itself, so the
// handler reads the Stats back from the debug listener (-debug-addr, its
// /debug/stats JSON) over loopback: a blocking call, fine on a pool
// worker, not on an event loop.
func stagesHandler(f *cli.Flags) sluice.Handler {
	var refuse string
	switch {
	case f.Debug == "":
		refuse = "start the service with -debug-addr HOST:PORT: /stages reads the server's stats from its /debug/stats"
	case f.Inline || strings.EqualFold(f.Model, "single"):
		refuse = "/stages fetches the stats over HTTP, which would block an event loop (-inline, -model single): read /debug/stats on -debug-addr instead"
	}
	if refuse != "" {
		return sluice.HandlerFunc(func(c *sluice.Ctx) { _ = c.Error(503, refuse) })
	}
	url := "http://" + f.Debug + "/debug/stats"
	// The debug listener is in this process, on loopback: 2 s is an
	// answer that is not coming, not a slow one.
	client := &http.Client{Timeout: 2 * time.Second}
	return sluice.HandlerFunc(func(c *sluice.Ctx) {
		st, err := fetchStats(client, url)
		if err != nil {
			_ = c.Error(502, err.Error())
			return
		}
		var b strings.Builder
		if st.SampleEvery > 0 {
			fmt.Fprintf(&b, "every request since start, all routes, 1 in %d timed\n", st.SampleEvery)
		} else {
			b.WriteString("every request since start, all routes, none timed (-stage-sampling -1)\n")
		}
		writeBreakdown(&b, &st.Snapshot)
		_ = c.String(200, b.String())
	})
}

// fetchStats reads a server's Stats from a debug listener's /debug/stats.
func fetchStats(client *http.Client, url string) (sluice.Stats, error) {
	var st sluice.Stats
	resp, err := client.Get(url)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return st, fmt.Errorf("%s: %s", url, resp.Status)
	}
	// The JSON carries the quantiles, not the buckets: enough for a table.
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return st, fmt.Errorf("%s: %w", url, err)
	}
	return st, nil
}
