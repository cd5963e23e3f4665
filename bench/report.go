package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// report is everything one harness run produced; it is written as JSON.
type report struct {
	Started     time.Time `json:"started"`
	Command     []string  `json:"command"`
	Machine     machine   `json:"machine"`
	Options     options   `json:"options"`
	Interrupted bool      `json:"interrupted,omitempty"`
	Skipped     []string  `json:"skipped,omitempty"`
	Cells       []cell    `json:"cells"`
	Summaries   []summary `json:"summaries"`
}

// machine describes where the numbers were taken.
type machine struct {
	CPU       string `json:"cpu"`
	CPUs      int    `json:"cpus"` // CPUs the harness may use
	Kernel    string `json:"kernel"`
	Go        string `json:"go"`
	Wrk       string `json:"wrk,omitempty"`
	Node      string `json:"node,omitempty"`
	ServerCPU int    `json:"server_cpu"` // -1: not pinned
	WrkCPU    int    `json:"wrk_cpu"`    // -1: not pinned
	ClkTck    uint64 `json:"clk_tck"`
	FileLimit uint64 `json:"file_limit"`
}

// summary is one scenario × target over all rounds.
type summary struct {
	Scenario string   `json:"scenario"`
	Target   string   `json:"target"`
	Baseline string   `json:"baseline,omitempty"` // what the ratios are against
	OK       int      `json:"ok_rounds"`
	Failures []string `json:"failures,omitempty"` // "round N: reason"
	// Load scenarios.
	ReqPerSec     stat `json:"requests_per_sec"`
	CPUPercent    stat `json:"server_cpu_percent"`
	WrkCPUPercent stat `json:"wrk_cpu_percent"`
	// BusyRounds counts the rounds during which other processes used more
	// than busyThreshold percent of a pinned CPU; MaxOther is the most.
	BusyRounds   int     `json:"busy_rounds,omitempty"`
	MaxOther     float64 `json:"max_other_cpu_percent,omitempty"`
	ReqPerCPUSec stat    `json:"requests_per_cpu_second"`
	// CPUMicrosPerReq is server CPU time per request, in µs: per
	// handshake in the full-handshake scenario.
	CPUMicrosPerReq stat `json:"server_cpu_us_per_request"`
	// CPUEffRatio is ReqPerCPUSec over the baseline's in the same round;
	// RPSRatio the same for req/s. Median and range of the per-round
	// ratios.
	CPUEffRatio stat  `json:"cpu_efficiency_ratio"`
	RPSRatio    stat  `json:"requests_per_sec_ratio"`
	P50Ms       stat  `json:"latency_p50_ms"`
	P99Ms       stat  `json:"latency_p99_ms"`
	ErrConnect  int64 `json:"err_connect,omitempty"` // summed over rounds
	ErrRead     int64 `json:"err_read,omitempty"`
	ErrWrite    int64 `json:"err_write,omitempty"`
	ErrTimeout  int64 `json:"err_timeout,omitempty"`
	Non2xx      int64 `json:"non_2xx,omitempty"`
	// Full-handshake scenario: rounds whose server was checked for
	// session resumption, rounds in which it resumed, and rounds started
	// with -no-session-tickets.
	ResumeChecked int `json:"resume_checked_rounds,omitempty"`
	Resumed       int `json:"resumed_rounds,omitempty"`
	NoTickets     int `json:"no_session_tickets_rounds,omitempty"`
	// Goal is the verdict on the scenario's goal for a sluice target
	// (goalMet, goalMissed, goalUnknown; "" for the peers), GoalDetail
	// the numbers behind it.
	Goal       string `json:"goal,omitempty"`
	GoalDetail string `json:"goal_detail,omitempty"`
	// Stages is the sluice servers' per-stage breakdown of the measured
	// runs, pooled over the rounds; StageErrors says why a round has
	// none ("round N: reason"). nil for the peers.
	Stages      *stageBreakdown `json:"stages,omitempty"`
	StageErrors []string        `json:"stage_errors,omitempty"`
	// TimingOff is the target that runs this one's server with stage
	// timing off; TimingCPUEff and TimingRPS are this target's req/CPU-s
	// and req/s over its, round by round: 1 − TimingCPUEff is what the
	// timing costs.
	TimingOff    string `json:"timing_off_target,omitempty"`
	TimingCPUEff stat   `json:"timing_cpu_eff_ratio"`
	TimingRPS    stat   `json:"timing_rps_ratio"`
	// TimingCPUEffQuiet is TimingCPUEff over the rounds in which neither
	// server's run was flagged busy.
	TimingCPUEffQuiet stat `json:"timing_cpu_eff_ratio_quiet"`
	// Idle scenarios.
	KiBPerConn stat `json:"kib_per_conn"`
	MemRatio   stat `json:"kib_per_conn_ratio"` // over the baseline's, same round
	Alive      stat `json:"alive"`
	Conns      int  `json:"conns,omitempty"`
}

func (s *summary) errorText() string {
	return errorsText(s.ErrConnect, s.ErrRead, s.ErrWrite, s.ErrTimeout, s.Non2xx)
}

// summarizeCells folds the cells into one summary per scenario × target,
// in table order. Ratios are taken round by round against each scenario's
// baseline (missing or "": none), then summarised; each sluice target is
// judged against the scenario's goal.
func summarizeCells(cells []cell, scs []scenario, ts []target, baselines map[string]string, rounds int) []summary {
	type key struct{ sc, t string }
	byKey := make(map[key][]cell)
	for _, c := range cells {
		k := key{c.Scenario, c.Target}
		byKey[k] = append(byKey[k], c)
	}
	// perRound collects one value per successful round.
	perRound := func(cs []cell, f func(cell) float64) map[int]float64 {
		m := make(map[int]float64)
		for _, c := range cs {
			if c.Error == "" {
				m[c.Round-1] = f(c)
			}
		}
		return m
	}
	values := func(m map[int]float64) []float64 {
		v := make([]float64, 0, len(m))
		for _, x := range m {
			v = append(v, x)
		}
		return v
	}
	rps := func(c cell) float64 { return c.Wrk.RequestsPerSec }
	eff := func(c cell) float64 {
		if c.ReqPerCPUSec <= 0 {
			return math.NaN()
		}
		return c.ReqPerCPUSec
	}
	mem := func(c cell) float64 { return c.Idle.KiBPerConn }
	var out []summary
	for _, sc := range scs {
		baseline := baselines[sc.Name]
		base := byKey[key{sc.Name, baseline}]
		first := len(out)
		for _, t := range ts {
			cs, ok := byKey[key{sc.Name, t.Name}]
			if !ok {
				continue
			}
			s := summary{Scenario: sc.Name, Target: t.Name, Baseline: baseline}
			for _, c := range cs {
				if c.Error != "" {
					s.Failures = append(s.Failures, fmt.Sprintf("round %d: %s", c.Round, c.Error))
					continue
				}
				s.OK++
				if c.busyText() != "" {
					s.BusyRounds++
					s.MaxOther = max(s.MaxOther, c.OtherServerCPUPercent, c.OtherWrkCPUPercent)
				}
				if c.ServerResumes != nil {
					s.ResumeChecked++
					if *c.ServerResumes {
						s.Resumed++
					}
				}
				if c.NoSessionTickets {
					s.NoTickets++
				}
				if w := c.Wrk; w != nil {
					s.ErrConnect += w.ErrConnect
					s.ErrRead += w.ErrRead
					s.ErrWrite += w.ErrWrite
					s.ErrTimeout += w.ErrTimeout
					s.Non2xx += w.Non2xx
				}
			}
			if sc.Idle {
				m := perRound(cs, mem)
				s.KiBPerConn = summarize(values(m))
				s.Alive = summarize(values(perRound(cs, func(c cell) float64 { return float64(c.Idle.Alive) })))
				for _, c := range cs {
					if c.Idle != nil {
						s.Conns = c.Idle.Conns
					}
				}
				if baseline != "" {
					s.MemRatio = summarize(roundRatios(m, perRound(base, mem), rounds))
				}
			} else {
				r, e := perRound(cs, rps), perRound(cs, eff)
				s.ReqPerSec = summarize(values(r))
				s.ReqPerCPUSec = summarize(values(e))
				s.CPUMicrosPerReq = summarize(values(perRound(cs, func(c cell) float64 { return 1e6 / eff(c) })))
				s.CPUPercent = summarize(values(perRound(cs, func(c cell) float64 { return c.CPUPercent })))
				s.WrkCPUPercent = summarize(values(perRound(cs, func(c cell) float64 { return c.WrkCPUPercent })))
				s.P50Ms = summarize(values(perRound(cs, func(c cell) float64 { return c.Wrk.LatencyP50Ms })))
				s.P99Ms = summarize(values(perRound(cs, func(c cell) float64 { return c.Wrk.LatencyP99Ms })))
				if baseline != "" {
					s.RPSRatio = summarize(roundRatios(r, perRound(base, rps), rounds))
					s.CPUEffRatio = summarize(roundRatios(e, perRound(base, eff), rounds))
				}
				if off, ok := timingOff(t, ts); ok {
					if oc := byKey[key{sc.Name, off.Name}]; len(oc) > 0 {
						s.TimingOff = off.Name
						s.TimingRPS = summarize(roundRatios(r, perRound(oc, rps), rounds))
						s.TimingCPUEff = summarize(roundRatios(e, perRound(oc, eff), rounds))
						quiet := func(cs []cell) map[int]float64 {
							m := perRound(cs, eff)
							for _, c := range cs {
								if c.busyText() != "" {
									delete(m, c.Round-1)
								}
							}
							return m
						}
						s.TimingCPUEffQuiet = summarize(roundRatios(quiet(cs), quiet(oc), rounds))
					}
				}
				var bds []*stageBreakdown
				for _, c := range cs {
					switch {
					case c.Error != "":
					case c.StagesError != "":
						s.StageErrors = append(s.StageErrors, fmt.Sprintf("round %d: %s", c.Round, c.StagesError))
					default:
						bds = append(bds, c.Stages)
					}
				}
				s.Stages = poolBreakdowns(bds)
			}
			out = append(out, s)
		}
		if sc.Goal != nil {
			judge(sc.Goal, out[first:], ts)
		}
	}
	return out
}

// judge records g's verdict on each sluice target among sums, one
// scenario's summaries.
func judge(g *goal, sums []summary, ts []target) {
	all := make(map[string]summary, len(sums))
	for _, s := range sums {
		all[s.Target] = s
	}
	for i := range sums {
		s := &sums[i]
		j := slices.IndexFunc(ts, func(t target) bool { return t.Name == s.Target && t.Kind == kindSluice })
		if j < 0 || (g.Applies != nil && !g.Applies(ts[j], ts)) {
			continue
		}
		met, ok, detail := g.Check(*s, all)
		switch {
		case !ok:
			s.Goal = goalUnknown
		case met:
			s.Goal = goalMet
		default:
			s.Goal = goalMissed
		}
		s.GoalDetail = detail
	}
}

// markdown renders the report as a header and one table per scenario.
func markdown(rep *report) string {
	var b strings.Builder
	m, o := rep.Machine, rep.Options
	fmt.Fprintf(&b, "# sluice load test, %s\n\n", rep.Started.UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "- machine: %s, %d CPUs, Linux %s; %s, %s", orDash(m.CPU), m.CPUs, orDash(m.Kernel), m.Go, orDash(m.Wrk))
	if m.Node != "" {
		fmt.Fprintf(&b, ", node %s", m.Node)
	}
	b.WriteString("\n")
	if m.ServerCPU >= 0 {
		fmt.Fprintf(&b, "- pinning (taskset): server on CPU %d, wrk (one thread) on CPU %d\n", m.ServerCPU, m.WrkCPU)
	} else {
		b.WriteString("- not pinned: the server and wrk share the CPUs\n")
	}
	fmt.Fprintf(&b, "- %d interleaved round(s); each cell: a fresh server, a %v warm-up, then %v measured; %d connections; cells show the median (and min–max over rounds)\n",
		o.Rounds, o.Warmup, o.Duration, o.Conns)
	if bt := baselineText(o.Baselines); bt != "" {
		fmt.Fprintf(&b, "- CPU eff. = requests per second of server CPU time (utime+stime from /proc/PID/stat) divided by the baseline's in the same round, median over rounds: above 1 is less CPU per request than the baseline. Baselines: %s\n", bt)
	}
	b.WriteString("- server CPU, wrk CPU: share of one core over the measured run; wrk near 100% means the load generator, not the server, set req/s (compare req/CPU-s then)\n")
	fmt.Fprintf(&b, "- command: `%s`\n", strings.Join(rep.Command, " "))
	if rep.Interrupted {
		b.WriteString("- INTERRUPTED: partial results\n")
	}
	for _, s := range rep.Skipped {
		fmt.Fprintf(&b, "- skipped %s\n", s)
	}
	for _, sc := range scenarios {
		var rows []summary
		for _, s := range rep.Summaries {
			if s.Scenario == sc.Name {
				rows = append(rows, s)
			}
		}
		if len(rows) == 0 {
			continue
		}
		if sc.Idle {
			writeIdleTable(&b, sc, rows, o)
		} else {
			writeLoadTable(&b, sc, rows, o)
		}
		writeGoal(&b, sc, rows)
		if !sc.Idle {
			writeTimingCost(&b, rows)
			writeStageTable(&b, rows)
		}
	}
	return b.String()
}

// baselineText lists the scenarios by baseline: "gnetraw (plaintext,
// json); nethttp (tls)", in table order; "" when there is none.
func baselineText(baselines map[string]string) string {
	var order []string
	by := map[string][]string{}
	for _, sc := range scenarios {
		b, ok := baselines[sc.Name]
		if !ok || b == "" {
			continue
		}
		if by[b] == nil {
			order = append(order, b)
		}
		by[b] = append(by[b], sc.Name)
	}
	parts := make([]string, len(order))
	for i, b := range order {
		parts[i] = fmt.Sprintf("%s (%s)", b, strings.Join(by[b], ", "))
	}
	return strings.Join(parts, "; ")
}

// writeGoal writes the scenario's goal and each sluice target's verdict.
func writeGoal(b *strings.Builder, sc scenario, rows []summary) {
	if sc.Goal == nil {
		return
	}
	var lines []string
	for _, s := range rows {
		mark := map[string]string{goalMet: "✔ met", goalMissed: "✘ missed", goalUnknown: "? unknown"}[s.Goal]
		if mark != "" {
			lines = append(lines, fmt.Sprintf("- %s: %s (%s)", s.Target, mark, s.GoalDetail))
		}
	}
	if len(lines) == 0 {
		return
	}
	fmt.Fprintf(b, "\nGoal for sluice: %s (from the medians).\n\n%s\n", sc.Goal.Text, strings.Join(lines, "\n"))
}

func writeLoadTable(b *strings.Builder, sc scenario, rows []summary, o options) {
	fmt.Fprintf(b, "\n## %s: %s, %d connections\n\n", sc.Name, sc.Desc, o.Conns)
	base := o.Baselines[sc.Name]
	unit := "req"
	if sc.FullHandshakes {
		unit = "handshakes"
	}
	// Columns, in order: name, alignment; the ratio columns only with a
	// baseline, the handshake ones only for full handshakes.
	head := []string{"target"}
	add := func(on bool, names ...string) {
		if on {
			head = append(head, names...)
		}
	}
	add(base != "", "CPU eff. vs "+base)
	add(true, unit+"/CPU-s")
	add(sc.FullHandshakes, "server CPU per handshake")
	add(true, unit+"/s")
	add(base != "", unit+"/s vs "+base)
	add(true, "server CPU", "wrk CPU", "p50", "p99")
	add(sc.FullHandshakes, "full handshakes")
	add(true, "errors")
	b.WriteString("| " + strings.Join(head, " | ") + " |\n|---|")
	for range head[1 : len(head)-1] {
		b.WriteString("--:|")
	}
	b.WriteString("---|\n")
	for _, s := range rows {
		notes := failureText(s)
		if e := s.errorText(); e != "" {
			notes = joinNonEmpty("⚠ "+e, notes)
		}
		if s.BusyRounds > 0 {
			notes = joinNonEmpty(fmt.Sprintf("⚠ busy machine in %d round(s): others used up to %.0f%% of a pinned CPU", s.BusyRounds, s.MaxOther), notes)
		}
		if s.Resumed > 0 {
			why := "it was given -no-session-tickets"
			if s.NoTickets < s.OK {
				why = "it does not take -no-session-tickets"
			}
			notes = joinNonEmpty(fmt.Sprintf("⚠ the server resumed TLS sessions (%s) and wrk resumes them: most handshakes measured were abbreviated, not full", why), notes)
		}
		if s.OK == 0 {
			dashes := strings.Repeat("– | ", len(head)-2)
			fmt.Fprintf(b, "| %s | %s%s |\n", s.Target, dashes, notes)
			continue
		}
		if notes == "" {
			notes = "–"
		}
		pct := func(v float64) string { return fmt.Sprintf("%.0f%%", v) }
		row := []string{s.Target}
		put := func(on bool, cells ...string) {
			if on {
				row = append(row, cells...)
			}
		}
		put(base != "", fmtStat(s.CPUEffRatio, ratio))
		put(true, fmtStat(s.ReqPerCPUSec, si))
		put(sc.FullHandshakes, fmtStat(s.CPUMicrosPerReq, func(v float64) string { return fmt.Sprintf("%.0f µs", v) }))
		put(true, fmtStat(s.ReqPerSec, si))
		put(base != "", fmtStat(s.RPSRatio, ratio))
		put(true, fmtStat(s.CPUPercent, pct), pct(s.WrkCPUPercent.Median), msStr(s.P50Ms.Median), msStr(s.P99Ms.Median))
		put(sc.FullHandshakes, fullText(s))
		put(true, notes)
		b.WriteString("| " + strings.Join(row, " | ") + " |\n")
	}
	if sc.FullHandshakes {
		b.WriteString("\nOne request per connection, so requests are handshakes. Full handshakes: a Go client checked, before each run, that the server does not resume a session (wrk offers each connection's previous session on every reconnect).\n")
	}
}

// fullText says whether a full-handshake row measured full handshakes.
func fullText(s summary) string {
	switch {
	case s.ResumeChecked == 0:
		return "–"
	case s.Resumed > 0:
		return fmt.Sprintf("⚠ no: resumed in %d/%d round(s)", s.Resumed, s.ResumeChecked)
	}
	return "yes"
}

func writeIdleTable(b *strings.Builder, sc scenario, rows []summary, o options) {
	fmt.Fprintf(b, "\n## %s: %d %s\n\n", sc.Name, o.IdleConns, sc.Desc)
	base := o.Baselines[sc.Name]
	if base != "" {
		fmt.Fprintf(b, "| target | KiB per connection | vs %s | alive | notes |\n|---|--:|--:|--:|---|\n", base)
	} else {
		b.WriteString("| target | KiB per connection | alive | notes |\n|---|--:|--:|---|\n")
	}
	for _, s := range rows {
		notes := failureText(s)
		if notes == "" {
			notes = "–"
		}
		if s.OK == 0 {
			if base != "" {
				fmt.Fprintf(b, "| %s | – | – | – | %s |\n", s.Target, notes)
			} else {
				fmt.Fprintf(b, "| %s | – | – | %s |\n", s.Target, notes)
			}
			continue
		}
		kpc := fmtStat(s.KiBPerConn, func(v float64) string { return fmt.Sprintf("%.1f", v) })
		alive := fmt.Sprintf("%.0f/%d", s.Alive.Min, s.Conns)
		if s.Alive.Min < float64(s.Conns) {
			alive = "⚠ " + alive
		}
		if base != "" {
			fmt.Fprintf(b, "| %s | %s | %s | %s | %s |\n", s.Target, kpc, fmtStat(s.MemRatio, ratio), alive, notes)
		} else {
			fmt.Fprintf(b, "| %s | %s | %s | %s |\n", s.Target, kpc, alive, notes)
		}
	}
	b.WriteString("\nKiB per connection = (server VmRSS with the connections open − VmRSS before connecting) / connections that answered. Lower is better; so is a ratio below 1.\n")
}

func failureText(s summary) string {
	if len(s.Failures) == 0 {
		return ""
	}
	// The same reason in every round is said once.
	first := s.Failures[0]
	_, reason, _ := strings.Cut(first, ": ")
	same := true
	for _, f := range s.Failures[1:] {
		if _, r, _ := strings.Cut(f, ": "); r != reason {
			same = false
		}
	}
	text := reason
	if !same {
		text = strings.Join(s.Failures, "; ")
	}
	prefix := "FAILED"
	if s.OK > 0 {
		prefix = fmt.Sprintf("failed %d round(s)", len(s.Failures))
	}
	return prefix + ": " + strings.ReplaceAll(trunc(text, 200), "|", "\\|")
}

func joinNonEmpty(a, b string) string {
	if a == "" {
		return b
	}
	if b == "" {
		return a
	}
	return a + "; " + b
}

// fmtStat prints the median, and the range when there are several rounds.
func fmtStat(s stat, f func(float64) string) string {
	if s.N == 0 {
		return "–"
	}
	if s.N == 1 || s.Min == s.Max {
		return f(s.Median)
	}
	return fmt.Sprintf("%s (%s–%s)", f(s.Median), f(s.Min), f(s.Max))
}

func ratio(v float64) string { return fmt.Sprintf("%.2f", v) }

// si prints a count with a k or M suffix.
func si(v float64) string {
	switch {
	case math.IsNaN(v):
		return "–"
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

func msStr(v float64) string {
	switch {
	case v <= 0:
		return "–"
	case v < 10:
		return fmt.Sprintf("%.2f ms", v)
	}
	return fmt.Sprintf("%.0f ms", v)
}

func kib(v int64) string { return fmt.Sprintf("%.1f MiB", float64(v)/1024) }

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

// errorsText lists the non-zero error counts, or "".
func errorsText(connect, read, write, timeout, non2xx int64) string {
	var parts []string
	for _, e := range []struct {
		name string
		n    int64
	}{{"connect", connect}, {"read", read}, {"write", write}, {"timeout", timeout}, {"non-2xx", non2xx}} {
		if e.n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", e.name, e.n))
		}
	}
	return strings.Join(parts, ", ")
}

// writeResults writes <stamp>.md, <stamp>.json and the charts into dir and
// returns the paths written.
func writeResults(dir string, rep *report, md string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	stamp := filepath.Join(dir, rep.Started.Format("20060102-150405"))
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return nil, err
	}
	paths := []string{stamp + ".md", stamp + ".json"}
	if err := os.WriteFile(paths[0], []byte(md), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(paths[1], append(js, '\n'), 0o644); err != nil {
		return nil, err
	}
	charts, err := writeCharts(stamp, rep)
	return append(paths, charts...), err
}
