package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

func main() {
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}

// realMain runs the harness with args and returns the exit code: 0, 1 on
// a failure to run, 2 on bad flags, 130 when interrupted.
func realMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var opt options
	var scs, ts string
	fs.StringVar(&scs, "scenarios", "", "comma-separated scenarios (default all: "+names(scenarios, func(s scenario) string { return s.Name })+")")
	fs.StringVar(&ts, "targets", "", "comma-separated targets (default all: "+names(targets, func(t target) string { return t.Name })+")")
	fs.IntVar(&opt.Rounds, "rounds", 3, "interleaved rounds; each cell reports the median and min–max")
	fs.DurationVar(&opt.Duration, "duration", 5*time.Second, "measured wrk run per cell (whole seconds)")
	fs.DurationVar(&opt.Warmup, "warmup", time.Second, "wrk warm-up before each measured run (0: none)")
	fs.IntVar(&opt.Conns, "conns", 64, "wrk connections")
	fs.IntVar(&opt.IdleConns, "idle-conns", 10000, "connections held open in the idle scenario")
	fs.StringVar(&opt.Baseline, "baseline", "auto", "target the ratios are taken against; auto: gnetraw, and nethttp for the TLS scenarios; \"\": none")
	fs.DurationVar(&opt.QuietWait, "quiet-wait", 0, "before each cell, wait up to this long for other processes to leave the pinned CPUs (0: do not wait)")
	fs.StringVar(&opt.Out, "out", "results", "directory for the .md, .json, .svg and .png results")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "unexpected arguments: %s\n", strings.Join(fs.Args(), " "))
		return 2
	}
	opt.Scenarios, opt.Targets = splitList(scs), splitList(ts)

	h, err := newHarness(opt, stderr)
	if err != nil {
		fmt.Fprintln(stderr, err)
		if errors.Is(err, errWrkMissing) {
			return 1
		}
		return 2
	}

	// Ctrl-C (or SIGTERM) cancels the run: the running wrk and server are
	// stopped by PID, and the results so far are written. A second signal
	// stops the servers and exits at once.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	go func() {
		if _, ok := <-sig; !ok {
			return
		}
		fmt.Fprintln(stderr, "interrupted: stopping the processes the harness started")
		cancel()
		if _, ok := <-sig; ok {
			h.procs.stopAll()
			os.Exit(130)
		}
	}()

	fmt.Fprintf(stderr, "%d round(s) × %d scenario(s) × %d target(s): about %v after the builds\n",
		h.opt.Rounds, len(h.scenarios), len(h.targets), h.estimate().Round(time.Second))

	rep := &report{Started: time.Now(), Command: append([]string{"go", "run", "."}, args...), Skipped: h.skipped}
	cells, runErr := h.run(ctx)
	rep.Cells = cells
	rep.Interrupted = runErr != nil
	rep.Options = h.opt
	rep.Machine = h.describeMachine()
	rep.Summaries = summarizeCells(cells, h.scenarios, h.targets, h.opt.Baselines, h.opt.Rounds)
	md := markdown(rep)
	fmt.Fprint(stdout, "\n"+md)
	if len(cells) > 0 {
		out := opt.Out
		if !filepath.IsAbs(out) {
			out = filepath.Join(h.benchDir, out)
		}
		paths, err := writeResults(out, rep, md)
		for _, p := range paths {
			fmt.Fprintf(stderr, "wrote %s\n", p)
		}
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
	}
	if runErr != nil {
		fmt.Fprintln(stderr, runErr)
		return 130
	}
	return 0
}

func (h *harness) describeMachine() machine {
	m := machine{
		CPU: cpuModel(), CPUs: runtime.NumCPU(), Kernel: readTrim("/proc/sys/kernel/osrelease"),
		Go: runtime.Version(), ServerCPU: h.serverCPU, WrkCPU: h.wrkCPU, ClkTck: h.clkTck, FileLimit: h.fileLimit,
	}
	// wrk -v prints its version and exits non-zero.
	if b, _ := exec.Command("wrk", "-v").CombinedOutput(); len(b) > 0 {
		f := strings.Fields(string(b))
		if len(f) >= 2 {
			m.Wrk = f[0] + " " + f[1]
		}
	}
	if h.hasTarget("node") {
		if b, err := exec.Command("node", "--version").Output(); err == nil {
			m.Node = strings.TrimSpace(string(b))
		}
	}
	return m
}

func splitList(s string) []string {
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func names[T any](xs []T, name func(T) string) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = name(x)
	}
	return strings.Join(s, ",")
}
