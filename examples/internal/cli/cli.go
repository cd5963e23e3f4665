// Package cli is what the HTTP examples share: the common flags, the
// "listening on" line, and a clean stop on SIGINT or SIGTERM.
package cli

import (
	"context"
	stdtls "crypto/tls"
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
	ReusePort  bool
	Debug      string
	Cert, Key  string
	SelfSigned bool
}

// Register adds -addr, -model and -inline to fs.
func (f *Flags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.Addr, "addr", "127.0.0.1:8080", "address to listen on (port 0 picks a free one)")
	fs.StringVar(&f.Model, "model", "reactor", "connection model: reactor, single or perconn")
	fs.BoolVar(&f.Inline, "inline", false, "reactor: run handlers on the event loops instead of the worker pool")
	fs.BoolVar(&f.ReusePort, "reuseport", false, "reactor: one SO_REUSEPORT listener per loop instead of one acceptor")
	fs.StringVar(&f.Debug, "debug-addr", "", "serve net/http/pprof on this address (e.g. 127.0.0.1:6060); off when empty")
	fs.StringVar(&f.Cert, "cert", "", "serve HTTPS with this PEM certificate chain (with -key)")
	fs.StringVar(&f.Key, "key", "", "the PEM private key of -cert")
	fs.BoolVar(&f.SelfSigned, "tls-self-signed", false, "serve HTTPS with an ephemeral self-signed ECDSA P-256 certificate (demos and tests)")
}

// Config turns the flags into a server Config.
func (f *Flags) Config() (sluice.Config, error) {
	m, err := sluice.ParseModel(f.Model)
	if err != nil {
		return sluice.Config{}, err
	}
	cfg := sluice.Config{Model: m, ReusePort: f.ReusePort}
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
	return cfg, nil
}

// Run serves h with cfg on addr, prints "listening on HOST:PORT" to out
// once connections are accepted, and on SIGINT or SIGTERM (or when ctx is
// done) shuts down, giving in-flight requests up to grace to finish.
func Run(ctx context.Context, out io.Writer, addr string, cfg sluice.Config, h sluice.Handler, grace time.Duration) error {
	srv := &sluice.Server{Handler: h, Config: cfg}
	if err := srv.Start(addr); err != nil {
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

// serveDebug serves net/http/pprof on its own listener, away from the
// server being measured.
func serveDebug(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("debug listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	go http.Serve(ln, mux)
	return nil
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
	if err == nil && f.Debug != "" {
		err = serveDebug(f.Debug)
	}
	if err == nil {
		err = Run(context.Background(), os.Stdout, f.Addr, cfg, h(&f), 10*time.Second)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
