package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// This file reads where a sluice server's time went, stage by stage. The
// sluice targets run examples/hello with -debug-addr, whose debug listener
// (net/http, apart from the server measured) serves GET /debug/stats, the
// server's sluice.Stats as JSON, and GET /metrics, the same histograms in
// the Prometheus text format. The harness reads both right before and
// right after the measured run and keeps the difference, so the warm-up
// and the probe are left out.
//
// The histograms are cumulative since the server started, and the JSON
// gives their counts, exact sums and quantiles but not their buckets: a
// quantile of the cumulative histogram cannot be split into warm-up and
// measured run. /metrics carries the bucket counts (4 per octave, the
// metrics package's default, against stage's 16), so the window's
// quantiles come from the difference of the two readings' buckets, within
// half a bucket: ±12.5% (a bucket is a quarter of its octave's lower bound
// wide, and its midpoint is reported; below 128 ns there is one bucket).
// Counts and sums are the JSON's, exact.

// debugStats is the part of GET /debug/stats the harness reads.
type debugStats struct {
	// SampleEvery is the sampling N: the stage histograms hold one
	// request in N (0: timing off).
	SampleEvery int               `json:"sample_every"`
	Stages      []debugStage      `json:"stages"`
	Counters    map[string]uint64 `json:"counters"`
}

// debugStage is one stage's cumulative histogram in /debug/stats.
type debugStage struct {
	Stage string `json:"stage"`
	Count uint64 `json:"count"`
	Sum   int64  `json:"sum_ns"`
	Min   int64  `json:"min_ns"`
	Max   int64  `json:"max_ns"`
	P50   int64  `json:"p50_ns"`
	P99   int64  `json:"p99_ns"`
}

// parseDebugStats decodes GET /debug/stats.
func parseDebugStats(b []byte) (debugStats, error) {
	var s debugStats
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("/debug/stats: %w", err)
	}
	if len(s.Stages) == 0 || s.Counters == nil {
		return s, errors.New("/debug/stats: no stages or counters: not a sluice server's Stats")
	}
	return s, nil
}

// stageBucketFamily is the Prometheus series of the stage histograms'
// cumulative bucket counts, labelled stage and le (seconds).
const stageBucketFamily = "sluice_stage_duration_seconds_bucket"

// cumBucket is one line of a cumulative Prometheus histogram: the records
// of at most Le ns (math.MaxInt64 for +Inf).
type cumBucket struct {
	Le    int64
	Count uint64
}

// parseStageBuckets reads the stage histograms' buckets from a Prometheus
// text exposition: by stage, the cumulative buckets in increasing le.
func parseStageBuckets(text []byte) (map[string][]cumBucket, error) {
	out := make(map[string][]cumBucket)
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), stageBucketFamily+"{")
		if !ok {
			continue
		}
		labels, value, ok := cutLabels(rest)
		if !ok {
			return nil, fmt.Errorf("/metrics: malformed line %q", trunc(sc.Text(), 120))
		}
		// The value may be followed by a timestamp.
		if f := strings.Fields(value); len(f) > 0 {
			value = f[0]
		}
		n, err := strconv.ParseFloat(value, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("/metrics: count in %q", trunc(sc.Text(), 120))
		}
		st, le := labels["stage"], labels["le"]
		if st == "" || le == "" {
			return nil, fmt.Errorf("/metrics: no stage or le label in %q", trunc(sc.Text(), 120))
		}
		b := cumBucket{Le: math.MaxInt64, Count: uint64(n)}
		if le != "+Inf" {
			sec, err := strconv.ParseFloat(le, 64)
			if err != nil {
				return nil, fmt.Errorf("/metrics: le in %q", trunc(sc.Text(), 120))
			}
			// The bounds are whole nanoseconds written in seconds.
			b.Le = int64(math.Round(sec * 1e9))
		}
		out[st] = append(out[st], b)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("/metrics: no %s series", stageBucketFamily)
	}
	for _, bs := range out {
		slices.SortFunc(bs, func(a, b cumBucket) int { return cmpInt64(a.Le, b.Le) })
	}
	return out, nil
}

// cutLabels parses `name="value",...}` and returns the labels and what
// follows the closing brace. Values may hold \\, \" and \n escapes.
func cutLabels(s string) (map[string]string, string, bool) {
	labels := make(map[string]string, 2)
	for {
		s = strings.TrimLeft(s, " ,")
		if rest, ok := strings.CutPrefix(s, "}"); ok {
			return labels, strings.TrimSpace(rest), true
		}
		name, rest, ok := strings.Cut(s, `="`)
		if !ok || name == "" {
			return nil, "", false
		}
		var v strings.Builder
		i := 0
		for ; i < len(rest) && rest[i] != '"'; i++ {
			if rest[i] == '\\' && i+1 < len(rest) {
				i++
				if rest[i] == 'n' {
					v.WriteByte('\n')
					continue
				}
			}
			v.WriteByte(rest[i])
		}
		if i == len(rest) {
			return nil, "", false
		}
		labels[strings.TrimSpace(name)] = v.String()
		s = rest[i+1:]
	}
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// stageReading is one reading of a server's stage timings.
type stageReading struct {
	stats   debugStats
	buckets map[string][]cumBucket // from /metrics
}

// scrapeTimeout bounds one reading of the debug listener.
const scrapeTimeout = 5 * time.Second

// readStages reads /debug/stats and /metrics from a debug listener.
func readStages(ctx context.Context, debugAddr string) (stageReading, error) {
	ctx, cancel := context.WithTimeout(ctx, scrapeTimeout)
	defer cancel()
	var r stageReading
	b, err := httpGet(ctx, "http://"+debugAddr+"/debug/stats")
	if err != nil {
		return r, err
	}
	if r.stats, err = parseDebugStats(b); err != nil {
		return r, err
	}
	if b, err = httpGet(ctx, "http://"+debugAddr+"/metrics"); err != nil {
		return r, err
	}
	r.buckets, err = parseStageBuckets(b)
	return r, err
}

// debugClient reads the debug listeners. No keep-alive: no connection of
// the harness's stays open on the server through the measured run.
var debugClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

func httpGet(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := debugClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return b, nil
}

// stageBreakdown is where a server's time went, stage by stage, over the
// measured run of one cell, or pooled over a summary's rounds.
type stageBreakdown struct {
	// SampleEvery is the server's sampling N (0: timing off).
	SampleEvery int `json:"sample_every"`
	// Over the window: responses the server counted (requests_1xx..5xx),
	// connections accepted, reads that brought bytes, TLS handshakes.
	Requests   uint64 `json:"requests"`
	Conns      uint64 `json:"conns"`
	Reads      uint64 `json:"reads"`
	Handshakes uint64 `json:"tls_handshakes"`
	// Sampled is the number of requests the sampler chose: the most
	// samples of read, parse and process, which every request passes.
	Sampled uint64 `json:"sampled_requests"`
	// Stages holds the stages with samples in the window, in the
	// server's order.
	Stages []stageWindow `json:"stages"`
	// Culprit is the stage with the largest share of the time requests
	// spent in the stages (stageWindow.Total), "" without samples.
	Culprit string `json:"culprit,omitempty"`
	// Rounds is how many cells a summary's breakdown pools.
	Rounds int `json:"rounds,omitempty"`
}

// stageWindow is one stage over the window.
type stageWindow struct {
	Stage string `json:"stage"`
	// Count and Sum are the samples recorded in the window and their
	// exact total; Mean is Sum/Count.
	Count uint64 `json:"count"`
	Sum   int64  `json:"sum_ns"`
	Mean  int64  `json:"mean_ns"`
	// P50 and P99 are the window's quantiles, from Buckets.
	P50 int64 `json:"p50_ns"`
	P99 int64 `json:"p99_ns"`
	// Per is what one sample stands for (see stagePer); Total estimates
	// the time all of them spent in the stage over the window, Sum scaled
	// by events over sampled events; Share is Total over the stages'
	// (withinRead stages: over the same sum, which they are not in).
	Per   string  `json:"per"`
	Total float64 `json:"est_total_ns"`
	Share float64 `json:"share"`
	// Buckets are the window's non-empty buckets (from /metrics).
	Buckets []windowBucket `json:"buckets"`
	// From /debug/stats after the run, warm-up and probe included: the
	// extremes (which bound the window's values) and the library's own
	// full-resolution quantiles. Cells only.
	CumMin int64 `json:"cumulative_min_ns,omitempty"`
	CumMax int64 `json:"cumulative_max_ns,omitempty"`
	CumP50 int64 `json:"cumulative_p50_ns,omitempty"`
	CumP99 int64 `json:"cumulative_p99_ns,omitempty"`
}

// windowBucket is one bucket of a window: Count records of Lo to Hi ns,
// both inclusive (Hi math.MaxInt64: beyond the last bound).
type windowBucket struct {
	Lo    int64  `json:"lo_ns"`
	Hi    int64  `json:"hi_ns"`
	Count uint64 `json:"count"`
}

// stagePer says what a stage's samples are drawn from: requests, except
// accept and accept_queue (per connection), decrypt (per read) and the
// TLS handshake (every one, unsampled).
func stagePer(st string) string {
	switch st {
	case "accept", "accept_queue":
		return "connection"
	case "decrypt":
		return "read"
	case "tls_handshake":
		return "handshake"
	}
	return "request"
}

// withinRead reports whether a stage's time lies inside Read's: Parse's
// does, since Read runs from a request's first bytes to its complete
// head, the parser's calls included. Such a stage is shown, but left out
// of the sum the shares are taken of (it would count twice) and cannot be
// the culprit (Read, which holds it, is at least as long).
func withinRead(st string) bool { return st == "parse" }

// perRequestStage reports whether every request passes st once (the
// stages Sampled counts).
func perRequestStage(st string) bool { return st == "read" || st == "parse" || st == "process" }

// counterDiff is after's counter minus before's.
func counterDiff(before, after debugStats, names ...string) (uint64, error) {
	var d uint64
	for _, n := range names {
		a, b := after.Counters[n], before.Counters[n]
		if a < b {
			return 0, fmt.Errorf("counter %s went back from %d to %d: another server answered?", n, b, a)
		}
		d += a - b
	}
	return d, nil
}

// windowBreakdown is what the server recorded between two readings.
func windowBreakdown(before, after stageReading) (*stageBreakdown, error) {
	bd := &stageBreakdown{SampleEvery: after.stats.SampleEvery}
	var err error
	if bd.Requests, err = counterDiff(before.stats, after.stats, "requests_1xx", "requests_2xx", "requests_3xx", "requests_4xx", "requests_5xx"); err != nil {
		return nil, err
	}
	if bd.Conns, err = counterDiff(before.stats, after.stats, "conns_accepted"); err != nil {
		return nil, err
	}
	if bd.Reads, err = counterDiff(before.stats, after.stats, "reads"); err != nil {
		return nil, err
	}
	if bd.Handshakes, err = counterDiff(before.stats, after.stats, "tls_handshakes_ok", "tls_handshakes_failed"); err != nil {
		return nil, err
	}
	prev := make(map[string]debugStage, len(before.stats.Stages))
	for _, s := range before.stats.Stages {
		prev[s.Stage] = s
	}
	for _, a := range after.stats.Stages {
		b := prev[a.Stage]
		if a.Count < b.Count {
			return nil, fmt.Errorf("stage %s: count went back from %d to %d", a.Stage, b.Count, a.Count)
		}
		if a.Count == b.Count {
			continue
		}
		w := stageWindow{Stage: a.Stage, Count: a.Count - b.Count, Sum: a.Sum - b.Sum, Per: stagePer(a.Stage),
			CumMin: a.Min, CumMax: a.Max, CumP50: a.P50, CumP99: a.P99}
		if w.Buckets, err = diffBuckets(before.buckets[a.Stage], after.buckets[a.Stage]); err != nil {
			return nil, fmt.Errorf("stage %s: %w", a.Stage, err)
		}
		bd.Stages = append(bd.Stages, w)
	}
	bd.finish()
	return bd, nil
}

// diffBuckets turns two cumulative readings of a histogram into the
// window's non-empty buckets.
func diffBuckets(before, after []cumBucket) ([]windowBucket, error) {
	if len(after) == 0 {
		return nil, errors.New("no buckets in /metrics")
	}
	was := make(map[int64]uint64, len(before))
	for _, b := range before {
		was[b.Le] = b.Count
	}
	var out []windowBucket
	var lo int64
	var cumPrev uint64
	for _, a := range after {
		if a.Count < was[a.Le] {
			return nil, fmt.Errorf("bucket le %d ns went back", a.Le)
		}
		cum := a.Count - was[a.Le]
		if cum < cumPrev {
			return nil, fmt.Errorf("bucket le %d ns: cumulative counts not increasing", a.Le)
		}
		if n := cum - cumPrev; n > 0 {
			out = append(out, windowBucket{Lo: lo, Hi: a.Le, Count: n})
		}
		cumPrev = cum
		if a.Le < math.MaxInt64 {
			lo = a.Le + 1
		}
	}
	return out, nil
}

// finish computes what follows from the counts, sums and buckets: the
// quantiles, each stage's estimated total and share, and the culprit.
func (bd *stageBreakdown) finish() {
	bd.Sampled = 0
	for _, w := range bd.Stages {
		if perRequestStage(w.Stage) {
			bd.Sampled = max(bd.Sampled, w.Count)
		}
	}
	var total float64
	for i := range bd.Stages {
		w := &bd.Stages[i]
		w.Mean = 0
		if w.Count > 0 {
			w.Mean = w.Sum / int64(w.Count)
		}
		w.P50 = bucketQuantile(w.Buckets, 0.50, w.CumMin, w.CumMax)
		w.P99 = bucketQuantile(w.Buckets, 0.99, w.CumMin, w.CumMax)
		events, sampled := bd.Requests, bd.Sampled
		switch w.Per {
		case "connection":
			events, sampled = bd.Conns, w.Count
		case "read":
			events, sampled = bd.Reads, w.Count
		case "handshake":
			events, sampled = bd.Handshakes, w.Count
		}
		if sampled == 0 {
			sampled = w.Count
		}
		w.Total = 0
		if sampled > 0 {
			w.Total = float64(w.Sum) * float64(events) / float64(sampled)
		}
		if !withinRead(w.Stage) || bd.stage("read") == nil {
			total += w.Total
		}
	}
	bd.Culprit = ""
	var most float64
	for i := range bd.Stages {
		w := &bd.Stages[i]
		w.Share = 0
		if total > 0 {
			w.Share = w.Total / total
		}
		if w.Total > most && !bd.inRead(w.Stage) {
			most, bd.Culprit = w.Total, w.Stage
		}
	}
}

// inRead reports whether st is a withinRead stage and Read was recorded.
func (bd *stageBreakdown) inRead(st string) bool { return withinRead(st) && bd.stage("read") != nil }

// bucketQuantile is the q-quantile of a window's buckets by the nearest
// rank, as stage computes it: the midpoint of the bucket holding the value
// of rank ceil(q*count), clamped to [lo, hi] (the cumulative extremes,
// which bound every value of the window). 0 when empty.
func bucketQuantile(bs []windowBucket, q float64, lo, hi int64) int64 {
	var n uint64
	for _, b := range bs {
		n += b.Count
	}
	if n == 0 {
		return 0
	}
	rank := max(uint64(math.Ceil(q*float64(n))), 1)
	var seen uint64
	for _, b := range bs {
		if seen += b.Count; seen < rank {
			continue
		}
		v := hi // beyond the last bound: the maximum
		if b.Hi != math.MaxInt64 {
			v = b.Lo + (b.Hi-b.Lo)/2
		}
		return min(max(v, lo), hi)
	}
	return 0
}

// poolBreakdowns adds the cells' breakdowns into one (their windows are
// disjoint, so counts, sums, buckets and events add). nil when none has
// one.
func poolBreakdowns(bds []*stageBreakdown) *stageBreakdown {
	var p *stageBreakdown
	index := map[string]int{}
	for _, bd := range bds {
		if bd == nil {
			continue
		}
		if p == nil {
			p = &stageBreakdown{SampleEvery: bd.SampleEvery}
		}
		p.Rounds++
		p.Requests += bd.Requests
		p.Conns += bd.Conns
		p.Reads += bd.Reads
		p.Handshakes += bd.Handshakes
		for _, w := range bd.Stages {
			i, ok := index[w.Stage]
			if !ok {
				i = len(p.Stages)
				index[w.Stage] = i
				p.Stages = append(p.Stages, stageWindow{Stage: w.Stage, Per: w.Per, CumMin: w.CumMin, CumMax: w.CumMax})
			}
			pw := &p.Stages[i]
			pw.Count += w.Count
			pw.Sum += w.Sum
			pw.Buckets = mergeBuckets(pw.Buckets, w.Buckets)
			pw.CumMin = min(pw.CumMin, w.CumMin)
			pw.CumMax = max(pw.CumMax, w.CumMax)
		}
	}
	if p == nil {
		return nil
	}
	// Pooled, the cumulative quantiles mean nothing: only the extremes
	// are kept, to clamp the pooled quantiles.
	slices.SortStableFunc(p.Stages, func(a, b stageWindow) int { return stageRank(a.Stage) - stageRank(b.Stage) })
	p.finish()
	return p
}

// mergeBuckets adds two windows' buckets (the same layout: one server
// binary) in increasing order.
func mergeBuckets(a, b []windowBucket) []windowBucket {
	out := slices.Clone(a)
	for _, x := range b {
		i, found := slices.BinarySearchFunc(out, x.Lo, func(w windowBucket, lo int64) int { return cmpInt64(w.Lo, lo) })
		if found && out[i].Hi == x.Hi {
			out[i].Count += x.Count
			continue
		}
		out = slices.Insert(out, i, x)
	}
	return out
}

// stageOrder is the order of sluice's stages (stage.Stage), for tables.
var stageOrder = []string{"accept", "read", "decrypt", "parse", "decode", "process", "write", "queue_wait", "accept_queue", "tls_handshake"}

// stageRank orders stage names: known stages first, in stageOrder.
func stageRank(st string) int {
	if i := slices.Index(stageOrder, st); i >= 0 {
		return i
	}
	return len(stageOrder)
}

// stage returns the named stage's window, or nil.
func (bd *stageBreakdown) stage(name string) *stageWindow {
	for i := range bd.Stages {
		if bd.Stages[i].Stage == name {
			return &bd.Stages[i]
		}
	}
	return nil
}

// culpritText is "write 52% (mean 195 µs)", or "".
func (bd *stageBreakdown) culpritText() string {
	w := bd.stage(bd.Culprit)
	if w == nil {
		return ""
	}
	return fmt.Sprintf("%s %s (mean %s)", w.Stage, pctStr(w.Share), durStr(float64(w.Mean)))
}

// samplingText names a sampling N.
func samplingText(n int) string {
	switch n {
	case 0:
		return "off"
	case 1:
		return "every request"
	}
	return fmt.Sprintf("1 in %d", n)
}

// durStr prints nanoseconds with a unit and two or three digits.
func durStr(ns float64) string {
	switch {
	case ns < 1e3:
		return fmt.Sprintf("%.0f ns", ns)
	case ns < 1e4:
		return fmt.Sprintf("%.1f µs", ns/1e3)
	case ns < 1e6:
		return fmt.Sprintf("%.0f µs", ns/1e3)
	case ns < 1e7:
		return fmt.Sprintf("%.1f ms", ns/1e6)
	case ns < 1e9:
		return fmt.Sprintf("%.0f ms", ns/1e6)
	}
	return fmt.Sprintf("%.1f s", ns/1e9)
}

// writeStageTable writes a load scenario's per-stage breakdown: a row per
// target, a column per stage with samples (p50 / p99), and the culprits.
// Targets without a breakdown (the peers; sluice with timing off) get
// dashes.
func writeStageTable(b *strings.Builder, rows []summary) {
	var cols []string
	have := false
	for _, s := range rows {
		if s.Stages == nil {
			continue
		}
		have = true
		for _, w := range s.Stages.Stages {
			if !slices.Contains(cols, w.Stage) {
				cols = append(cols, w.Stage)
			}
		}
	}
	if !have {
		return
	}
	slices.SortStableFunc(cols, func(a, b string) int { return stageRank(a) - stageRank(b) })
	b.WriteString("\nPer stage, measured run only (server readings right before and right after it, rounds pooled): p50 / p99 of the sampled requests; (n) where a stage has other samples than the requests (per connection: accept, accept_queue; per read: decrypt). Quantiles from the Prometheus buckets: ±12.5% (one bucket below 128 ns); accept_queue has the kernel tick's resolution (4 ms at HZ=250).\n\n")
	b.WriteString("| target | timing | sampled |")
	for _, c := range cols {
		b.WriteString(" " + c + " |")
	}
	b.WriteString("\n|---|---|--:|" + strings.Repeat("--:|", len(cols)) + "\n")
	var culprits []string
	for _, s := range rows {
		bd := s.Stages
		if bd == nil {
			b.WriteString("| " + s.Target + " | – | – |" + strings.Repeat(" – |", len(cols)) + "\n")
			for _, e := range s.StageErrors {
				culprits = append(culprits, fmt.Sprintf("- %s: no breakdown in %s", s.Target, e))
			}
			continue
		}
		sampled := "–"
		if bd.SampleEvery > 0 {
			sampled = si(float64(bd.Sampled))
		}
		fmt.Fprintf(b, "| %s | %s | %s |", s.Target, samplingText(bd.SampleEvery), sampled)
		for _, c := range cols {
			w := bd.stage(c)
			if w == nil {
				b.WriteString(" – |")
				continue
			}
			cell := durStr(float64(w.P50)) + " / " + durStr(float64(w.P99))
			// Per-request stages are not marked: their counts differ from
			// Sampled only by the requests in flight at the window's edges.
			if w.Per != "request" {
				cell += fmt.Sprintf(" (%s)", si(float64(w.Count)))
			}
			b.WriteString(" " + cell + " |")
		}
		b.WriteString("\n")
		if ct := bd.culpritText(); ct != "" {
			line := fmt.Sprintf("- %s: %s", s.Target, ct)
			if next := bd.runnersUp(2); next != "" {
				line += "; then " + next
			}
			culprits = append(culprits, line)
		}
	}
	if len(culprits) > 0 {
		b.WriteString("\nCulprit, the stage with the largest share of the time requests spent in the stages (mean × requests of the measured run; per connection or read where marked above). Read includes parse (first bytes to complete head), so parse is not counted apart; queue_wait and accept_queue are waits, and so are read beyond parse and, on the pool, write (until the loop has written).\n\n")
		b.WriteString(strings.Join(culprits, "\n") + "\n")
	}
}

// runnersUp lists the n stages after the culprit by share: "queue_wait
// 47%, parse 0.4%".
func (bd *stageBreakdown) runnersUp(n int) string {
	ws := slices.Clone(bd.Stages)
	slices.SortStableFunc(ws, func(a, b stageWindow) int {
		switch {
		case a.Total > b.Total:
			return -1
		case a.Total < b.Total:
			return 1
		}
		return 0
	})
	var parts []string
	for _, w := range ws {
		if len(parts) == n || w.Share < 0.0005 { // prints as 0.0%
			break
		}
		if w.Stage == bd.Culprit || bd.inRead(w.Stage) {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %s", w.Stage, pctStr(w.Share)))
	}
	return strings.Join(parts, ", ")
}

// pctStr prints a share as a percentage, with a decimal below 10%.
func pctStr(share float64) string {
	if share < 0.1 {
		return fmt.Sprintf("%.1f%%", 100*share)
	}
	return fmt.Sprintf("%.0f%%", 100*share)
}
