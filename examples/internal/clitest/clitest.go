// Package clitest starts an example in-process, as its tests need.
package clitest

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-go/sluice"
	"github.com/sluice-go/sluice/examples/internal/cli"
)

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Start runs h like an example does and returns its address and a stop
// function that cancels it and returns Run's error.
func Start(t *testing.T, model string, inline bool, h sluice.Handler) (addr string, stop func() error) {
	t.Helper()
	return StartFlags(t, cli.Flags{Model: model, Inline: inline}, h)
}

// StartFlags is Start with any flags (say -tls-self-signed).
func StartFlags(t *testing.T, f cli.Flags, h sluice.Handler) (addr string, stop func() error) {
	t.Helper()
	f.Addr = "127.0.0.1:0"
	cfg, err := f.Config()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	done := make(chan error, 1)
	go func() { done <- cli.Run(ctx, &out, f, cfg, h, 5*time.Second) }()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.HasSuffix(out.String(), "\n") {
		if time.Now().After(deadline) {
			t.Fatalf("no listening line; output %q", out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	line := out.String()
	if !strings.HasPrefix(line, "listening on 127.0.0.1:") || strings.Count(line, "\n") != 1 {
		t.Fatalf("output %q, want one line 'listening on HOST:PORT'", line)
	}
	return strings.TrimSpace(strings.TrimPrefix(line, "listening on ")), func() error {
		cancel()
		return <-done
	}
}
