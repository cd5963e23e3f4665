package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"time"
)

// target is one server the harness runs.
type target struct {
	Name string
	Kind targetKind
	// Flags are added to examples/hello's command line (kindSluice).
	Flags []string
	// Pkg is the peer's package directory under bench/ (kindGo), or its
	// script (kindNode).
	Pkg string
	// Floor marks a server that answers with constant bodies: the probe
	// does not check /decode's echoed n.
	Floor bool
	// NoTLS, when set, says why the target cannot serve HTTPS: the TLS
	// scenarios skip it.
	NoTLS string
}

type targetKind int

const (
	kindSluice targetKind = iota // ../examples/hello with Flags
	kindGo                       // a peer package under bench/
	kindNode                     // a Node.js script under bench/
)

// targets lists every target in the order of the tables.
var targets = []target{
	{Name: "reactor", Kind: kindSluice, Flags: []string{"-model", "reactor"}},
	{Name: "reactor-inline", Kind: kindSluice, Flags: []string{"-model", "reactor", "-inline"}},
	{Name: "reactor-reuseport", Kind: kindSluice, Flags: []string{"-model", "reactor", "-reuseport"}},
	{Name: "reactor-shared", Kind: kindSluice, Flags: []string{"-model", "reactor", "-accept", "shared"}},
	{Name: "reactor-nostages", Kind: kindSluice, Flags: []string{"-model", "reactor", "-stage-sampling", "-1"}},
	{Name: "reactor-sample1", Kind: kindSluice, Flags: []string{"-model", "reactor", "-stage-sampling", "1"}},
	{Name: "single", Kind: kindSluice, Flags: []string{"-model", "single"}},
	{Name: "perconn", Kind: kindSluice, Flags: []string{"-model", "perconn"}},
	{Name: "uring", Kind: kindSluice, Flags: []string{"-model", "uring"}},
	{Name: "uring-inline", Kind: kindSluice, Flags: []string{"-model", "uring", "-inline"}},
	{Name: "nethttp", Kind: kindGo, Pkg: "peers/nethttp"},
	{Name: "fasthttp", Kind: kindGo, Pkg: "peers/fasthttp"},
	{Name: "gnetraw", Kind: kindGo, Pkg: "peers/gnetraw", Floor: true, NoTLS: "gnet has no TLS"},
	{Name: "node", Kind: kindNode, Pkg: "peers/node/server.js"},
}

// runnable is a built target: the command line to run it on addr, or why
// it cannot run.
type runnable struct {
	argv func(addr string) []string
	err  error
	// noTickets: the server takes -no-session-tickets (see serveArgs).
	noTickets bool
}

// serveArgs are the flags every target takes for a scenario, after -addr:
// for TLS, -cert and -key with the harness's certificate; for full
// handshakes also -no-session-tickets, which turns TLS session tickets
// off (and with them all resumption: crypto/tls keeps no server-side
// session cache) when the server takes it. It reports whether that flag
// was given.
func serveArgs(sc scenario, f *tlsFiles, rn runnable) ([]string, bool) {
	if !sc.TLS {
		return nil, false
	}
	args := []string{"-cert", f.Cert, "-key", f.Key}
	if sc.FullHandshakes && rn.noTickets {
		return append(args, "-no-session-tickets"), true
	}
	return args, false
}

// buildTimeout bounds one go build; a cold module cache may need a while.
const buildTimeout = 5 * time.Minute

// build compiles what ts need into binDir: examples/hello once for every
// sluice target, and each Go peer.
func (h *harness) build(ctx context.Context, ts []target) map[string]runnable {
	built := make(map[string]runnable, len(ts))
	var hello *runnable
	for _, t := range ts {
		switch t.Kind {
		case kindSluice:
			if hello == nil {
				bin := filepath.Join(h.binDir, "hello")
				h.logf("building ../examples/hello")
				err := h.goBuild(ctx, h.repoDir, bin, "./examples/hello")
				hello = &runnable{err: err, argv: func(string) []string { return []string{bin} }}
				if err == nil && h.wantFullHandshakes() {
					hello.noTickets = takesFlag(ctx, bin, "no-session-tickets")
					if !hello.noTickets {
						h.logf("  warning: examples/hello does not take -no-session-tickets: its TLS handshakes can be resumed, and wrk resumes them")
					}
				}
			}
			flags := t.Flags
			built[t.Name] = runnable{err: hello.err, noTickets: hello.noTickets, argv: func(addr string) []string {
				return append([]string{filepath.Join(h.binDir, "hello"), "-addr", addr}, flags...)
			}}
		case kindGo:
			bin := filepath.Join(h.binDir, t.Name)
			h.logf("building ./%s", t.Pkg)
			err := h.goBuild(ctx, h.benchDir, bin, "./"+t.Pkg)
			built[t.Name] = runnable{err: err, noTickets: t.NoTLS == "", argv: func(addr string) []string { return []string{bin, "-addr", addr} }}
		case kindNode:
			node, err := exec.LookPath("node")
			script := filepath.Join(h.benchDir, t.Pkg)
			built[t.Name] = runnable{err: err, noTickets: true, argv: func(addr string) []string { return []string{node, script, "-addr", addr} }}
		}
		if err := built[t.Name].err; err != nil {
			h.logf("  %s cannot run: %v", t.Name, err)
		}
	}
	return built
}

func (h *harness) goBuild(ctx context.Context, dir, out, pkg string) error {
	ctx, cancel := context.WithTimeout(ctx, buildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w: %s", pkg, err, oneLine(string(b), 600))
	}
	return nil
}

// helpTimeout bounds a server's -h run.
const helpTimeout = 10 * time.Second

// takesFlag reports whether the Go program bin lists -name in its -h
// usage (the flag package prints "  -name" at the start of a line).
func takesFlag(ctx context.Context, bin, name string) bool {
	ctx, cancel := context.WithTimeout(ctx, helpTimeout)
	defer cancel()
	out, _ := exec.CommandContext(ctx, bin, "-h").CombinedOutput() // -h exits 0 or 2
	return usageHasFlag(string(out), name)
}

func usageHasFlag(usage, name string) bool {
	return regexp.MustCompile(`(?m)^\s+-` + regexp.QuoteMeta(name) + `(\s|$)`).MatchString(usage)
}
