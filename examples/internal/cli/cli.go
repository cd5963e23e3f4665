// Package cli is what the HTTP examples share: the common flags, the
// "listening on" line, and a clean stop on SIGINT or SIGTERM.
package cli

import (
	"context"
	stdtls "crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/sluice-go/sluice"
	"github.com/sluice-go/sluice/tls"
)

// Flags are the flags every example takes.
type Flags struct {
	Addr       string
	Model      string
	Inline     bool
	Accept     string
	ReusePort  bool // -reuseport, the same as -accept perloop
	Debug      string
	Cert, Key  string
	SelfSigned bool
	NoTickets  bool // TLS: no session tickets, every handshake full (bench)
	Metrics    bool // mount the Prometheus metrics at GET /metrics
	Sampling   int  // Config.StageSampling: 0 the default (1 in 100), negative off
}

// Register adds the flags to fs.
func (f *Flags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.Addr, "addr", "127.0.0.1:8080", "address to listen on (port 0 picks a free one)")
	fs.StringVar(&f.Model, "model", "reactor", "connection model: reactor, single, perconn or uring (io_uring, Linux)")
	fs.BoolVar(&f.Inline, "inline", false, "reactor, uring: run handlers on the event loops instead of the worker pool")
	fs.StringVar(&f.Accept, "accept", "auto", "reactor, uring: who accepts: perloop (an SO_REUSEPORT listener per loop), shared (one acceptor), auto (perloop for reactor, shared for uring)")
	fs.BoolVar(&f.ReusePort, "reuseport", false, "the same as -accept perloop")
	fs.StringVar(&f.Debug, "debug-addr", "", "serve net/http/pprof and /debug/stats (the server's Stats as JSON) on this address (e.g. 127.0.0.1:6060); off when empty")
	fs.IntVar(&f.Sampling, "stage-sampling", 0, "time 1 request in N through every stage; 0 means the server's default (100), -1 turns timing off")
	fs.BoolVar(&f.Metrics, "metrics", false, "serve the server's stage timings and counters in the Prometheus text format at GET /metrics")
	fs.StringVar(&f.Cert, "cert", "", "serve HTTPS with this PEM certificate chain (with -key)")
	fs.StringVar(&f.Key, "key", "", "the PEM private key of -cert")
	fs.BoolVar(&f.SelfSigned, "tls-self-signed", false, "serve HTTPS with an ephemeral self-signed ECDSA P-256 certificate (demos and tests)")
	fs.BoolVar(&f.NoTickets, "no-session-tickets", false, "TLS: issue no session tickets, so every handshake is a full one (handshake benchmarks)")
}

// Config turns the flags into a server Config.
func (f *Flags) Config() (sluice.Config, error) {
	m, err := sluice.ParseModel(f.Model)
	if err != nil {
		return sluice.Config{}, err
	}
	accept, err := sluice.ParseAcceptMode(f.Accept)
	if err != nil {
		return sluice.Config{}, err
	}
	if f.ReusePort {
		accept = sluice.AcceptPerLoop
	}
	cfg := sluice.Config{Model: m, Accept: accept, StageSampling: f.Sampling}
	if f.Inline {
		cfg.Dispatch = sluice.DispatchInline
	}
	switch {
	case f.Cert != "" || f.Key != "":
		if f.SelfSigned {
			return cfg, errors.New("-cert/-key and -tls-self-signed exclude each other")
		}
		c, err := stdtls.LoadX509KeyPair(f.Cert, f.Key)
		if err != nil {
			return cfg, err
		}
		cfg.TLS = &stdtls.Config{Certificates: []stdtls.Certificate{c}}
	case f.SelfSigned:
		host, _, _ := net.SplitHostPort(f.Addr)
		c, err := tls.SelfSigned("localhost", "127.0.0.1", "::1", host)
		if err != nil {
			return cfg, err
		}
		cfg.TLS = &stdtls.Config{Certificates: []stdtls.Certificate{c}}
	}
	if f.NoTickets {
		if cfg.TLS == nil {
			return cfg, errors.New("-no-session-tickets needs -cert/-key or -tls-self-signed")
		}
		cfg.TLS.SessionTicketsDisabled = true
	}
	return cfg, nil
}

// Run serves h with cfg on f.Addr, prints "listening on HOST:PORT" to out
// once connections are accepted, and on SIGINT or SIGTERM (or when ctx is
// done) shuts down, giving in-flight requests up to grace to finish. With
// f.Metrics it mounts the metrics at GET /metrics (h must be a *sluice.Mux);
// with f.Debug it serves pprof and /debug/stats there.
func Run(ctx context.Context, out io.Writer, f Flags, cfg sluice.Config, h sluice.Handler, grace time.Duration) error {
	srv := &sluice.Server{Handler: h, Config: cfg}
	if f.Metrics {
		mux, ok := h.(*sluice.Mux)
		if !ok {
			return fmt.Errorf("-metrics: the handler is a %T, not a *sluice.Mux to mount /metrics on", h)
		}
		mux.Handle("GET /metrics", sluice.FromHTTP(srv.MetricsHandler()))
	}
	var debug *http.Server
	if f.Debug != "" {
		ln, err := net.Listen("tcp", f.Debug)
		if err != nil {
			return fmt.Errorf("debug listener: %w", err)
		}
		debug = &http.Server{Handler: debugMux(srv), ReadHeaderTimeout: 10 * time.Second}
		go debug.Serve(ln)
		defer debug.Close()
	}
	if err := srv.Start(f.Addr); err != nil {
		return err
	}
	fmt.Fprintf(out, "listening on %s\n", srv.Addr()) // the same line for HTTP and HTTPS
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- srv.Wait() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, sluice.ErrServerClosed) {
		return err
	}
	return nil
}

// debugMux serves net/http/pprof and the server's Stats as JSON
// (/debug/stats; the bench reads it for its per-stage breakdown), on a
// listener of its own, away from the server being measured.
func debugMux(srv *sluice.Server) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("GET /debug/stats", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(srv.Stats())
	})
	mux.Handle("GET /metrics", srv.MetricsHandler())
	return mux
}

// Main parses the flags, runs h and exits non-zero on error. tune, if
// not nil, adjusts the server's Config (an example's own settings).
func Main(h func(f *Flags) sluice.Handler, tune ...func(*sluice.Config)) {
	var f Flags
	f.Register(flag.CommandLine)
	flag.Parse()
	cfg, err := f.Config()
	for _, t := range tune {
		t(&cfg)
	}
	if err == nil {
		err = Run(context.Background(), os.Stdout, f, cfg, h(&f), 10*time.Second)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
