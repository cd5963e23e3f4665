// Command stress attacks an example server on 127.0.0.1 and says, check by
// check, whether it held: slow clients, floods and the TLS configuration.
//
// It builds an example (examples/hello by default), starts it on a free
// loopback port with the chosen model, and runs, each bounded in time:
//
//	slowloris   slowhttptest -H: heads trickled; the server must close
//	            every connection (HeaderReadTimeout) while its probe
//	            connection is always answered
//	slowbody    slowhttptest -B: bodies trickled (BodyReadTimeout)
//	slowread    slowhttptest -X: responses read slowly through a small
//	            TCP window (the connection is idle to the server once the
//	            kernel holds the answers: IdleTimeout)
//	testssl     testssl.sh against the TLS listener (with -tls): no
//	            finding rated LOW or worse, apart from those about the
//	            ephemeral self-signed certificate, HTTP headers that are
//	            the application's business, and crypto/tls's fixed 7-day
//	            session-ticket lifetime (see sslIgnored; listed with the
//	            reason when seen), and those accepted with -testssl-allow
//	idle        10,000 connections that send nothing, from eight loopback
//	            source addresses: each is closed at HeaderReadTimeout and
//	            a probe client is answered every 100 ms meanwhile
//	pipeline    500,000 requests pipelined on one connection, read after
//	            a pause: all answered, in order, and the server's memory
//	            stays bounded (it stops parsing at its write high-water mark)
//	storm       3,072 connections at once against a second instance whose
//	            open-file limit is lowered to 1,152, so its MaxConns is
//	            1,024 (736 for uring, whose shared accepting ring leaves
//	            the listen backlog free too): the surplus is refused at accept
//	            (with a 503 when plain), those accepted are served, and a
//	            connection after the storm is served
//
// slowhttptest's exit code says nothing, so it is judged by its CSV: the
// probe's "Service Available" must never drop to 0, and every attacking
// connection must have been closed by the server before the run ended
// (slowhttptest then stops with "No open connections left"). The server
// runs with -debug-addr, and its Stats (/debug/stats) are polled during
// each run too: a slow reader learns of a close only after reading what
// came before it, so when slowhttptest has not seen every close, the
// server's own count of open connections falling back decides. A run lasts
// -duration, or longer when the server's timeout for that attack needs it:
// the examples use sluice's default timeouts (header 10 s, body 30 s,
// idle 60 s), so the runs last at least 25 s (slowloris), 45 s (slow
// body) and 75 s (slow read). If the example is run with other timeouts, say so with
// -header-timeout, -body-timeout and -idle-timeout.
//
// For each check the server's peak resident memory is reported (VmHWM of
// /proc/PID/status, reset before the check through /proc/PID/clear_refs).
// stress prints one line per check, PASS or FAIL with the numbers, and
// exits 1 if any check failed (2 for a usage or setup error). All traffic
// stays on loopback. It stops only the processes it started: the servers
// by their process id, slowhttptest and testssl (with the openssl
// processes it runs) by the process group created for each.
//
// Usage, from the repository root:
//
//	go run ./cmd/stress [-model reactor|single|perconn|uring] [-inline] [-tls]
//	                    [-duration 30s] [-conns 200] [-only idle,storm,...]
//
// The external tools come from Debian:
//
//	apt-get install -y slowhttptest testssl.sh
//
// A check whose tool is missing fails and says how to install it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// options are the command's flags.
type options struct {
	example  string
	model    string
	inline   bool
	tls      bool
	duration time.Duration
	conns    int
	only     map[string]bool

	idleConns  int
	pipelined  int
	stormConns int
	stormLimit int // the storm server's open-file limit; MaxConns is 128 less

	headerTimeout time.Duration
	bodyTimeout   time.Duration
	idleTimeout   time.Duration

	testsslTimeout time.Duration
	testsslAllow   map[string]bool // finding ids accepted
	keep           bool
	root           string
}

// checkNames are the checks in the order they run.
var checkNames = []string{"slowloris", "slowbody", "slowread", "testssl", "idle", "pipeline", "storm"}

// result is one check's verdict.
type result struct {
	name   string
	status string // PASS, FAIL or SKIP
	detail string
}

func main() {
	os.Exit(run())
}

func run() int {
	var o options
	var only, allow string
	flag.StringVar(&o.example, "example", "hello", "the example to attack (a directory of examples/)")
	flag.StringVar(&o.model, "model", "reactor", "connection model, passed to the example: reactor, single, perconn, uring")
	flag.BoolVar(&o.inline, "inline", false, "reactor: run handlers on the event loops")
	flag.BoolVar(&o.tls, "tls", false, "serve HTTPS with a self-signed certificate, and run testssl")
	flag.DurationVar(&o.duration, "duration", 30*time.Second, "shortest length of each slowhttptest run")
	flag.IntVar(&o.conns, "conns", 200, "connections of each slowhttptest run")
	flag.StringVar(&only, "only", "", "comma-separated checks to run (default all): "+strings.Join(checkNames, ","))
	flag.IntVar(&o.idleConns, "idle-conns", 10000, "connections of the idle check")
	flag.IntVar(&o.pipelined, "pipelined", 500000, "requests of the pipeline check")
	flag.IntVar(&o.stormConns, "storm-conns", 3072, "connections of the storm check")
	flag.IntVar(&o.stormLimit, "storm-nofile", 1152, "open-file limit of the storm's server (its MaxConns is this minus 128, and minus the backlog for uring)")
	flag.DurationVar(&o.headerTimeout, "header-timeout", 10*time.Second, "the server's HeaderReadTimeout (the examples use sluice's default)")
	flag.DurationVar(&o.bodyTimeout, "body-timeout", 30*time.Second, "the server's BodyReadTimeout")
	flag.DurationVar(&o.idleTimeout, "idle-timeout", 60*time.Second, "the server's IdleTimeout")
	flag.DurationVar(&o.testsslTimeout, "testssl-timeout", 6*time.Minute, "longest testssl run")
	flag.StringVar(&allow, "testssl-allow", "", "comma-separated testssl finding ids to accept (e.g. TLS_session_ticket)")
	flag.BoolVar(&o.keep, "keep", false, "keep the work directory (binaries, CSV, JSON, logs)")
	flag.StringVar(&o.root, "root", "", "the sluice repository (default: the module of the current directory)")
	flag.Parse()
	o.only = map[string]bool{}
	for _, n := range strings.Split(only, ",") {
		if n = strings.TrimSpace(n); n != "" {
			if !contains(checkNames, n) {
				fmt.Fprintf(os.Stderr, "stress: unknown check %q (want %s)\n", n, strings.Join(checkNames, ","))
				return 2
			}
			o.only[n] = true
		}
	}
	o.testsslAllow = map[string]bool{}
	for _, id := range strings.Split(allow, ",") {
		if id = strings.TrimSpace(id); id != "" {
			o.testsslAllow[id] = true
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	work, err := os.MkdirTemp("", "sluice-stress-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "stress:", err)
		return 2
	}
	if o.keep {
		fmt.Printf("stress: work directory %s\n", work)
	} else {
		defer os.RemoveAll(work)
	}
	bin, err := build(ctx, o.root, o.example, work)
	if err != nil {
		fmt.Fprintln(os.Stderr, "stress:", err)
		return 2
	}
	args := []string{"-addr", "127.0.0.1:0", "-model", o.model}
	if o.inline {
		args = append(args, "-inline")
	}
	if o.tls {
		args = append(args, "-tls-self-signed")
	}
	debugAddr, err := freeAddr()
	if err != nil {
		fmt.Fprintln(os.Stderr, "stress:", err)
		return 2
	}
	srv, err := startServer(ctx, bin, append(args, "-debug-addr", debugAddr), 0, filepath.Join(work, "server.log"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "stress:", err)
		return 2
	}
	srv.debug = debugAddr
	defer srv.stop()
	scheme := "http"
	if o.tls {
		scheme = "https"
	}
	fmt.Printf("stress: examples/%s -model %s%s%s: pid %d, %s://%s, RSS %s\n",
		o.example, o.model, flagIf(o.inline, " -inline"), flagIf(o.tls, " -tls-self-signed"),
		srv.pid(), scheme, srv.addr, mib(srv.rss()))

	var results []result
	for _, name := range checkNames {
		if len(o.only) > 0 && !o.only[name] {
			continue
		}
		if ctx.Err() != nil {
			break
		}
		if !srv.alive() {
			results = append(results, result{name, "FAIL", "the server is gone: " + srv.errors()})
			break
		}
		var r result
		switch name {
		case "slowloris", "slowbody", "slowread":
			r = slowHTTP(ctx, name, srv, &o, work)
		case "testssl":
			if !o.tls {
				r = result{name, "SKIP", "plain HTTP (run with -tls)"}
				break
			}
			r = testSSL(ctx, srv, &o, work)
		case "idle":
			r = idleCheck(ctx, srv, &o)
		case "pipeline":
			r = pipelineCheck(ctx, srv, &o)
		case "storm":
			r = stormCheck(ctx, bin, args, &o, work)
		}
		r.name = name
		fmt.Printf("%-4s %-9s %s\n", r.status, r.name, r.detail)
		results = append(results, r)
	}
	if err := srv.stop(); err != nil {
		results = append(results, result{"server", "FAIL", err.Error()})
		fmt.Printf("FAIL server    %v\n", err)
	}
	failed := 0
	passed := 0
	for _, r := range results {
		switch r.status {
		case "FAIL":
			failed++
		case "PASS":
			passed++
		}
	}
	fmt.Printf("stress: %d passed, %d failed, %d skipped\n", passed, failed, len(results)-passed-failed)
	if ctx.Err() != nil {
		fmt.Println("stress: interrupted")
		return 1
	}
	if failed > 0 {
		return 1
	}
	return 0
}

// errMissing is returned when an external tool is not installed.
var errMissing = errors.New("not installed")

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func flagIf(b bool, s string) string {
	if b {
		return s
	}
	return ""
}

// mib formats kilobytes as MiB.
func mib(kb int64) string {
	if kb < 0 {
		return "?"
	}
	return fmt.Sprintf("%.1f MiB", float64(kb)/1024)
}

// secs formats a duration in seconds with one decimal.
func secs(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }
