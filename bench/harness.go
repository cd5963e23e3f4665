package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// options are the harness's settings, one per flag.
type options struct {
	Scenarios []string      `json:"scenarios"`
	Targets   []string      `json:"targets"`
	Rounds    int           `json:"rounds"`
	Duration  time.Duration `json:"duration_ns"`
	Warmup    time.Duration `json:"warmup_ns"`
	Conns     int           `json:"conns"`
	IdleConns int           `json:"idle_conns"`
	// Baseline is -baseline: a target, "auto" (each scenario's default:
	// gnetraw, nethttp for TLS) or "" (no ratios). Baselines is what it
	// resolved to for each scenario run, "" where there is none.
	Baseline  string            `json:"baseline"`
	Baselines map[string]string `json:"baselines"`
	// QuietWait is how long a cell may wait for the pinned CPUs to be
	// quiet (other processes under busyThreshold) before it starts.
	QuietWait time.Duration `json:"quiet_wait_ns"`
	Out       string        `json:"-"`
}

// harness runs scenarios × targets in interleaved rounds.
type harness struct {
	opt       options
	scenarios []scenario
	targets   []target
	benchDir  string // the bench module's directory
	repoDir   string // the sluice repository (benchDir/..)
	binDir    string // built servers, removed at the end
	procs     *procSet
	serverCPU int // -1: not pinned
	wrkCPU    int // -1: not pinned
	clkTck    uint64
	fileLimit uint64
	log       io.Writer // progress lines
	skipped   []string  // targets dropped before the run, with the reason
	built     map[string]runnable
	tls       *tlsFiles // the TLS scenarios' certificate, in binDir
}

// cell is the result of one scenario × target in one round.
type cell struct {
	Round    int    `json:"round"` // from 1
	Scenario string `json:"scenario"`
	Target   string `json:"target"`
	// Error says why the cell has no result; empty when it has one.
	Error string `json:"error,omitempty"`
	// Load scenarios: wrk's report and the server's CPU time (utime+stime)
	// over the measured run.
	Wrk          *wrkResult `json:"wrk,omitempty"`
	CPUSeconds   float64    `json:"server_cpu_seconds,omitempty"`
	ReqPerCPUSec float64    `json:"requests_per_cpu_second,omitempty"`
	CPUPercent   float64    `json:"server_cpu_percent,omitempty"` // of one core, over wrk's duration
	// WrkCPUPercent likewise for wrk: near 100, wrk was the bottleneck.
	WrkCPUPercent float64 `json:"wrk_cpu_percent,omitempty"`
	// Other*CPUPercent is the share of the server's (wrk's) pinned CPU
	// that other processes used during the run: a busy machine. -1 when
	// not pinned.
	OtherServerCPUPercent float64     `json:"other_server_cpu_percent,omitempty"`
	OtherWrkCPUPercent    float64     `json:"other_wrk_cpu_percent,omitempty"`
	Idle                  *idleResult `json:"idle,omitempty"`
	// Full-handshake scenarios: whether the server was started with
	// -no-session-tickets, and whether it resumed a session anyway when
	// asked to (checked before the run with a Go client; nil: not
	// checked).
	NoSessionTickets bool  `json:"no_session_tickets,omitempty"`
	ServerResumes    *bool `json:"server_resumes_sessions,omitempty"`
	// Stages is a sluice server's per-stage breakdown of the measured
	// run (see stages.go); StagesError says why there is none.
	Stages      *stageBreakdown `json:"stages,omitempty"`
	StagesError string          `json:"stages_error,omitempty"`
}

func (h *harness) logf(format string, args ...any) {
	fmt.Fprintf(h.log, format+"\n", args...)
}

// selectByName picks the named items, in the order of all, or all of them
// for an empty list.
func selectByName[T any](all []T, name func(T) string, names []string, what string) ([]T, error) {
	if len(names) == 0 {
		return all, nil
	}
	want := make(map[string]bool, len(names))
	for _, n := range names {
		want[n] = true
	}
	var out []T
	for _, x := range all {
		if want[name(x)] {
			out = append(out, x)
			delete(want, name(x))
		}
	}
	if len(want) > 0 {
		var known, unknown []string
		for _, x := range all {
			known = append(known, name(x))
		}
		for n := range want {
			unknown = append(unknown, n)
		}
		return nil, fmt.Errorf("unknown %s %s (known: %s)", what, strings.Join(unknown, ", "), strings.Join(known, ", "))
	}
	return out, nil
}

// newHarness checks the options and the machine: wrk, pinning, the file
// limit, node.
func newHarness(opt options, log io.Writer) (*harness, error) {
	h := &harness{opt: opt, log: log, procs: newProcSet(), serverCPU: -1, wrkCPU: -1, clkTck: clockTicks()}
	var err error
	if h.scenarios, err = selectByName(scenarios, func(s scenario) string { return s.Name }, opt.Scenarios, "scenario"); err != nil {
		return nil, err
	}
	if h.targets, err = selectByName(targets, func(t target) string { return t.Name }, opt.Targets, "target"); err != nil {
		return nil, err
	}
	if opt.Rounds < 1 || opt.Duration <= 0 || opt.Warmup < 0 || opt.Conns < 1 || opt.IdleConns < 1 {
		return nil, errors.New("-rounds, -duration, -conns and -idle-conns must be positive, -warmup not negative")
	}
	if h.benchDir, err = findBenchDir(); err != nil {
		return nil, err
	}
	h.repoDir = filepath.Dir(h.benchDir)

	needWrk := false
	for _, s := range h.scenarios {
		needWrk = needWrk || !s.Idle
	}
	if needWrk {
		if _, err := exec.LookPath("wrk"); err != nil {
			return nil, errWrkMissing
		}
	}

	// Node is optional: without it the target is skipped, with a message.
	kept := h.targets[:0:0]
	for _, t := range h.targets {
		if t.Kind == kindNode {
			if _, err := exec.LookPath("node"); err != nil {
				h.skipped = append(h.skipped, t.Name+": node is not on PATH")
				h.logf("skipping target %s: node is not on PATH", t.Name)
				continue
			}
		}
		kept = append(kept, t)
	}
	h.targets = kept
	if len(h.targets) == 0 {
		return nil, errors.New("no target to run")
	}
	// Targets that cannot serve a scenario (gnetraw: no TLS) are skipped
	// for it, with a message.
	for _, t := range h.targets {
		var scs []string
		for _, sc := range h.scenarios {
			if !h.runs(sc, t) {
				scs = append(scs, sc.Name)
			}
		}
		if len(scs) > 0 {
			h.skipped = append(h.skipped, fmt.Sprintf("%s in %s: %s", t.Name, strings.Join(scs, ", "), t.NoTLS))
			h.logf("skipping target %s in %s: %s", t.Name, strings.Join(scs, ", "), t.NoTLS)
		}
	}
	if opt.Baseline != "auto" && opt.Baseline != "" && !slices.ContainsFunc(targets, func(t target) bool { return t.Name == opt.Baseline }) {
		return nil, fmt.Errorf("unknown baseline %s", opt.Baseline)
	}
	h.opt.Baselines = make(map[string]string, len(h.scenarios))
	for _, sc := range h.scenarios {
		b := opt.Baseline
		if b == "auto" {
			b = sc.defaultBaseline()
		}
		if b != "" && !slices.ContainsFunc(h.targets, func(t target) bool { return t.Name == b && h.runs(sc, t) }) {
			h.logf("warning: baseline %s does not run %s: no ratios there", b, sc.Name)
			b = ""
		}
		h.opt.Baselines[sc.Name] = b
	}

	cpus, err := allowedCPUs()
	if err != nil || len(cpus) == 0 {
		cpus = make([]int, runtime.NumCPU())
		for i := range cpus {
			cpus[i] = i
		}
	}
	_, tasksetErr := exec.LookPath("taskset")
	switch {
	case len(cpus) < 2:
		h.logf("warning: one CPU: the server and wrk share it, unpinned; numbers are only roughly comparable")
	case tasksetErr != nil:
		h.logf("warning: taskset not found (apt-get install -y util-linux): the server and wrk are not pinned")
	default:
		h.serverCPU, h.wrkCPU = cpus[0], cpus[1]
	}

	if h.fileLimit, err = raiseFileLimit(); err != nil {
		h.logf("warning: raising RLIMIT_NOFILE: %v", err)
	}
	if h.fileLimit > 0 && uint64(h.opt.IdleConns)+256 > h.fileLimit {
		n := int(h.fileLimit) - 256
		h.logf("warning: open-file limit %d: -idle-conns lowered from %d to %d", h.fileLimit, h.opt.IdleConns, n)
		h.opt.IdleConns = max(1, n)
	}
	return h, nil
}

var errWrkMissing = errors.New("wrk is not on PATH; install it with: apt-get install -y wrk")

// runs reports whether target t takes part in scenario sc.
func (h *harness) runs(sc scenario, t target) bool { return !sc.TLS || t.NoTLS == "" }

// wantFullHandshakes reports whether a scenario needs servers that do not
// resume TLS sessions.
func (h *harness) wantFullHandshakes() bool {
	return slices.ContainsFunc(h.scenarios, func(sc scenario) bool { return sc.FullHandshakes })
}

func (h *harness) hasTarget(name string) bool {
	for _, t := range h.targets {
		if t.Name == name {
			return true
		}
	}
	return false
}

// findBenchDir walks up from the working directory to the bench module.
func findBenchDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.HasPrefix(string(b), "module github.com/sluice-go/sluice/bench\n") {
			return dir, nil
		}
		if sub := filepath.Join(dir, "bench"); dir != sub {
			if b, err := os.ReadFile(filepath.Join(sub, "go.mod")); err == nil &&
				strings.HasPrefix(string(b), "module github.com/sluice-go/sluice/bench\n") {
				return sub, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("cannot find the bench module (github.com/sluice-go/sluice/bench): run from bench/")
		}
		dir = parent
	}
}

// run builds the targets and runs every cell: for each round, each
// scenario, each target, so that slow drift of the machine spreads over
// all targets alike. It returns the cells run so far when ctx is done.
func (h *harness) run(ctx context.Context) ([]cell, error) {
	var err error
	if h.binDir, err = os.MkdirTemp("", "sluice-bench-"); err != nil {
		return nil, err
	}
	defer os.RemoveAll(h.binDir)
	defer h.procs.stopAll()
	if slices.ContainsFunc(h.scenarios, func(sc scenario) bool { return sc.TLS }) {
		if h.tls, err = writeTLSFiles(h.binDir); err != nil {
			return nil, fmt.Errorf("TLS certificate: %w", err)
		}
	}
	h.built = h.build(ctx, h.targets)

	total := h.opt.Rounds * h.pairs()
	var cells []cell
	for r := range h.opt.Rounds {
		for _, sc := range h.scenarios {
			for _, t := range h.targets {
				if !h.runs(sc, t) {
					continue
				}
				if err := ctx.Err(); err != nil {
					return cells, err
				}
				h.logf("[round %d/%d] [%d/%d] %s × %s", r+1, h.opt.Rounds, len(cells)+1, total, sc.Name, t.Name)
				h.waitQuiet(ctx)
				var c cell
				if sc.Idle {
					c = h.idleCell(ctx, r, sc, t)
				} else {
					c = h.loadCell(ctx, r, sc, t)
				}
				if err := ctx.Err(); err != nil { // cut short: no result
					return cells, err
				}
				h.logf("    %s", c.line())
				cells = append(cells, c)
			}
		}
	}
	return cells, ctx.Err()
}

// pairs counts the scenario × target cells of one round.
func (h *harness) pairs() int {
	n := 0
	for _, sc := range h.scenarios {
		for _, t := range h.targets {
			if h.runs(sc, t) {
				n++
			}
		}
	}
	return n
}

// start runs target t for scenario sc on a free port. It reports whether
// the server was given -no-session-tickets.
func (h *harness) start(ctx context.Context, t target, sc scenario) (*proc, bool, error) {
	rn := h.built[t.Name]
	if rn.err != nil {
		return nil, false, rn.err
	}
	port, err := freePort()
	if err != nil {
		return nil, false, err
	}
	argv := rn.argv(fmt.Sprintf("127.0.0.1:%d", port))
	extra, noTickets := serveArgs(sc, h.tls, rn)
	// The sluice servers of the load scenarios also serve their stage
	// timings, on a debug listener of their own. (The idle scenarios
	// measure memory: no listener, no readings.)
	debugAddr := ""
	if t.Kind == kindSluice && !sc.Idle {
		dp, err := freePort()
		if err != nil {
			return nil, false, err
		}
		debugAddr = fmt.Sprintf("127.0.0.1:%d", dp)
		extra = append(extra, "-debug-addr", debugAddr)
	}
	p, err := h.procs.startServer(ctx, h.serverCPU, append(argv, extra...))
	if p != nil {
		p.debugAddr = debugAddr
	}
	return p, noTickets, err
}

// clientTLS is the client configuration for sc's probe and Go clients:
// nil for plain HTTP.
func (h *harness) clientTLS(sc scenario, addr string) *tls.Config {
	if !sc.TLS {
		return nil
	}
	return h.tls.clientConfig(addr)
}

// wrkSlack is added to a wrk run's duration before it is killed: wrk
// stops on its own at -d, plus its 2 s request timeout.
const wrkSlack = 15 * time.Second

// wrk runs wrk and returns its report and the CPU time it used.
func (h *harness) wrk(ctx context.Context, sc scenario, addr string, d time.Duration) (*wrkResult, time.Duration, error) {
	script := ""
	if sc.Script != "" {
		script = filepath.Join(h.benchDir, "scripts", sc.Script)
	}
	argv := append([]string{"wrk"}, wrkArgs(h.opt.Conns, d, script, sc.scheme()+"://"+addr+sc.Path, sc.ScriptArgs)...)
	out, used, err := h.procs.runCommand(ctx, h.wrkCPU, d+wrkSlack, argv)
	if err != nil {
		return nil, used, err
	}
	r, err := parseWrk(out)
	return r, used, err
}

// loadCell runs one wrk scenario against a fresh server: probe, warm-up,
// then the measured run with the server's CPU time read right before and
// right after it.
func (h *harness) loadCell(ctx context.Context, round int, sc scenario, t target) cell {
	c := cell{Round: round + 1, Scenario: sc.Name, Target: t.Name}
	srv, noTickets, err := h.start(ctx, t, sc)
	if err != nil {
		c.Error = "start: " + oneLine(err.Error(), 300)
		return c
	}
	defer srv.stop()
	tlsCfg := h.clientTLS(sc, srv.addr)
	if err := probe(ctx, srv.addr, sc, t.Floor, tlsCfg); err != nil {
		c.Error = "probe: " + oneLine(err.Error(), 300)
		return c
	}
	if sc.FullHandshakes {
		c.NoSessionTickets = noTickets
		resumed, err := serverResumes(ctx, srv.addr, sc.Path, tlsCfg)
		if err != nil {
			c.Error = "resumption check: " + oneLine(err.Error(), 300)
			return c
		}
		c.ServerResumes = &resumed
	}
	if h.opt.Warmup > 0 {
		if _, _, err := h.wrk(ctx, sc, srv.addr, h.opt.Warmup); err != nil {
			c.Error = "warm-up: " + oneLine(err.Error(), 300)
			return c
		}
	}
	// The stage readings are taken outside the CPU-time window: they cost
	// the server a JSON and a Prometheus encoding each.
	var stBefore stageReading
	var stErr error
	if srv.debugAddr != "" {
		stBefore, stErr = readStages(ctx, srv.debugAddr)
	}
	sysBefore, sysErr := procStat()
	before, err := cpuTicks(srv.pid)
	if err != nil {
		c.Error = "cpu: " + err.Error()
		return c
	}
	res, wrkCPU, err := h.wrk(ctx, sc, srv.addr, h.opt.Duration)
	after, cpuErr := cpuTicks(srv.pid)
	sysAfter, sysErr2 := procStat()
	switch {
	case err != nil:
		c.Error = oneLine(err.Error(), 300)
	case srv.exited():
		c.Error = "server exited during the run: " + srv.out.tail()
	case cpuErr != nil:
		c.Error = "cpu: " + cpuErr.Error()
	case res.Requests == 0:
		c.Error = "no request completed"
	}
	if c.Error != "" {
		return c
	}
	if srv.debugAddr != "" {
		if stErr == nil {
			var stAfter stageReading
			if stAfter, stErr = readStages(ctx, srv.debugAddr); stErr == nil {
				c.Stages, stErr = windowBreakdown(stBefore, stAfter)
			}
		}
		if stErr != nil {
			c.StagesError = "stage timings: " + oneLine(stErr.Error(), 300)
		}
	}
	c.Wrk = res
	c.CPUSeconds = float64(after-before) / float64(h.clkTck)
	if res.Seconds > 0 {
		c.WrkCPUPercent = 100 * wrkCPU.Seconds() / res.Seconds
	}
	c.OtherServerCPUPercent, c.OtherWrkCPUPercent = -1, -1
	if sysErr == nil && sysErr2 == nil && h.serverCPU >= 0 {
		wrkTicks := uint64(wrkCPU.Seconds()*float64(h.clkTck) + 0.5)
		c.OtherServerCPUPercent = otherLoad(sysBefore, sysAfter, h.serverCPU, after-before)
		c.OtherWrkCPUPercent = otherLoad(sysBefore, sysAfter, h.wrkCPU, wrkTicks)
	}
	if v := perCPUSecond(res.Requests, c.CPUSeconds); !math.IsNaN(v) {
		c.ReqPerCPUSec = v
	}
	if res.Seconds > 0 {
		c.CPUPercent = 100 * c.CPUSeconds / res.Seconds
	}
	return c
}

// line is the progress line for a finished cell.
func (c *cell) line() string {
	switch {
	case c.Error != "":
		return "FAILED: " + c.Error
	case c.Idle != nil:
		return fmt.Sprintf("%d/%d connections alive, RSS %s -> %s, %.1f KiB per connection, connected in %.2f s",
			c.Idle.Alive, c.Idle.Conns, kib(c.Idle.RSSBeforeKiB), kib(c.Idle.RSSAfterKiB), c.Idle.KiBPerConn, c.Idle.ConnectSeconds)
	case c.Wrk != nil:
		s := fmt.Sprintf("%s req/s, server CPU %.2f s (%.0f%%), %s req/CPU-s, wrk CPU %.0f%%, p50 %s, p99 %s",
			si(c.Wrk.RequestsPerSec), c.CPUSeconds, c.CPUPercent, si(c.ReqPerCPUSec), c.WrkCPUPercent,
			msStr(c.Wrk.LatencyP50Ms), msStr(c.Wrk.LatencyP99Ms))
		if e := errorsText(c.Wrk.ErrConnect, c.Wrk.ErrRead, c.Wrk.ErrWrite, c.Wrk.ErrTimeout, c.Wrk.Non2xx); e != "" {
			s += ", ERRORS: " + e
		}
		if b := c.busyText(); b != "" {
			s += ", " + b
		}
		if c.ServerResumes != nil && *c.ServerResumes {
			s += ", RESUMED: the server resumes TLS sessions, so wrk's handshakes were mostly not full ones"
		}
		if c.Stages != nil {
			s += ", stages " + samplingText(c.Stages.SampleEvery)
			if ct := c.Stages.culpritText(); ct != "" {
				s += ", culprit " + ct
			}
		}
		if c.StagesError != "" {
			s += ", " + c.StagesError
		}
		return s
	}
	return ""
}

// estimate is roughly how long the cells take: a wrk cell is its warm-up
// and measured run plus about a second of start, probe and stop; an idle
// cell its settle pause plus connecting.
func (h *harness) estimate() time.Duration {
	var per time.Duration
	for _, sc := range h.scenarios {
		n := 0
		for _, t := range h.targets {
			if h.runs(sc, t) {
				n++
			}
		}
		if sc.Idle {
			per += time.Duration(n) * (idleSettle + 2*time.Second)
		} else {
			per += time.Duration(n) * (time.Duration(max(1, int((h.opt.Duration+time.Second-1)/time.Second)))*time.Second + h.opt.Warmup + time.Second)
		}
	}
	return per * time.Duration(h.opt.Rounds)
}

// busyThreshold is the share of a pinned CPU, in percent, that other
// processes may use during a run before the cell is flagged: above it the
// server or wrk lost enough CPU to skew req/s and latency (req/CPU-s
// suffers less, but caches and wake-ups are shared too).
const busyThreshold = 10

// busyText flags a run during which other processes used the pinned CPUs.
func (c *cell) busyText() string {
	if c.OtherServerCPUPercent < busyThreshold && c.OtherWrkCPUPercent < busyThreshold {
		return ""
	}
	return fmt.Sprintf("BUSY: others used %.0f%% of the server's CPU, %.0f%% of wrk's", max(0, c.OtherServerCPUPercent), max(0, c.OtherWrkCPUPercent))
}

// quietSample is how long waitQuiet watches the CPUs at a time.
const quietSample = 500 * time.Millisecond

// waitQuiet waits, up to -quiet-wait, until other processes use less than
// busyThreshold percent of each pinned CPU over quietSample. Nothing of
// the harness's runs then, so all the load is someone else's.
func (h *harness) waitQuiet(ctx context.Context) {
	if h.opt.QuietWait <= 0 || h.serverCPU < 0 {
		return
	}
	deadline := time.Now().Add(h.opt.QuietWait)
	logged := false
	for {
		before, err := procStat()
		if err != nil || sleep(ctx, quietSample) != nil {
			return
		}
		after, err := procStat()
		if err != nil {
			return
		}
		s, w := otherLoad(before, after, h.serverCPU, 0), otherLoad(before, after, h.wrkCPU, 0)
		if s < busyThreshold && w < busyThreshold {
			return
		}
		if time.Now().After(deadline) {
			h.logf("    machine still busy (%.0f%% and %.0f%% of the pinned CPUs in use); running anyway", s, w)
			return
		}
		if !logged {
			h.logf("    waiting up to %v for a quiet machine (%.0f%% and %.0f%% of the pinned CPUs in use)", h.opt.QuietWait, s, w)
			logged = true
		}
	}
}
