package sluice

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func readRespErr(r *bufio.Reader) (string, error) {
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		return "", err
	}
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// syncBuf is a log destination safe for the server's goroutines.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) lines(substr string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, l := range strings.Split(s.b.String(), "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return out
}

// TestRejectionLogRateLimited: every refused request is logged with the
// remote address and what was wrong, but no more than LogRate lines a
// second; the rest are reported in one summary line.
func TestRejectionLogRateLimited(t *testing.T) {
	var buf *syncBuf
	run(t, testHandler(), func(t *testing.T, s *harness) {
		const n = 40
		for range n {
			c, r := s.dial()
			fmt.Fprint(c, "GET /hello HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
			resp, _ := readResp(t, r, "GET")
			if resp.StatusCode != 400 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			c.Close()
		}
		got := buf.lines("sluice: bad request")
		// The requests may straddle a second boundary (or two, on a slow
		// machine): up to 5 lines a second.
		if len(got) < 1 || len(got) > 15 {
			t.Fatalf("%d lines logged for %d refusals at LogRate 5:\n%s", len(got), n, strings.Join(got, "\n"))
		}
		for _, l := range got {
			if !strings.Contains(l, "remote=127.0.0.1:") || !strings.Contains(strings.ToLower(l), "host") {
				t.Fatalf("line without the remote address or the reason: %s", l)
			}
		}
		// The next second's first event reports the ones held back.
		time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second + 50*time.Millisecond)))
		c, r := s.dial()
		fmt.Fprint(c, "GET /hello HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
		readResp(t, r, "GET")
		c.Close()
		sum := buf.lines("not logged in the last second")
		if len(sum) == 0 {
			t.Fatal("no summary of the lines held back")
		}
	}, func(c *Config) {
		buf = &syncBuf{}
		c.LogRate = 5
		c.Logger = slog.New(slog.NewTextHandler(buf, nil))
	})
}
