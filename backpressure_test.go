package sluice

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func bigHandler() *Mux {
	m := testHandler()
	big := strings.Repeat("x", 256<<10)
	m.HandleFunc("GET /big", func(c *Ctx) { _ = c.String(200, big) })
	return m
}

// TestSlowReaderClosed: a peer that pipelines requests for large
// responses and never reads makes the server stop parsing at the
// high-water mark and close at the write timeout, while others are served.
func TestSlowReaderClosed(t *testing.T) {
	run(t, bigHandler(), func(t *testing.T, s *harness) {
		c, err := net.Dial("tcp", s.srv.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		req := strings.Repeat("GET /big HTTP/1.1\r\nHost: x\r\n\r\n", 200)
		go c.Write([]byte(req))
		// Others are served meanwhile.
		cl := s.client()
		for i := 0; i < 10; i++ { // 1 s: more than three write timeouts
			resp, err := cl.Get(s.url + "/hello")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			time.Sleep(100 * time.Millisecond)
		}
		if !s.waitWriteTimeout(10 * time.Second) {
			t.Fatal("the peer that does not read was not cut off (write or handler timeout) within 10 s")
		}
		// The slow reader is cut off: reading now drains what was queued
		// and then ends, well before 200 responses of 256 KiB.
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := io.Copy(io.Discard, c)
		if err != nil && !errors.Is(err, syscall.ECONNRESET) { // a reset: the request bytes were never read
			t.Fatalf("read: %v after %d bytes", err, n)
		}
		if n >= 200*256<<10 {
			t.Fatalf("all %d bytes were queued for a peer that did not read", n)
		}
	}, func(c *Config) {
		c.WriteHighWater = 512 << 10
		c.WriteTimeout = 300 * time.Millisecond
		c.SocketWriteBuffer = 64 << 10
		c.Logger = discardLogger()
	})
}

// TestQueueFullWaits: with one worker and a queue of one, many
// connections' batches wait on their loops and are all served.
func TestQueueFullWaits(t *testing.T) {
	run(t, testHandler(), func(t *testing.T, s *harness) {
		const n = 6
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				c, err := net.Dial("tcp", s.srv.Addr().String())
				if err != nil {
					errs <- err
					return
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(20 * time.Second))
				fmt.Fprintf(c, "GET /sleep HTTP/1.1\r\nHost: x\r\n\r\n")
				resp, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err != nil {
					errs <- err
					return
				}
				b, _ := io.ReadAll(resp.Body)
				if string(b) != "slept" {
					errs <- fmt.Errorf("conn %d: %q", i, b)
				}
			}(i)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	}, func(c *Config) { c.Workers, c.QueueLen = 1, 1 })
}

// TestBufferedInputCap: input piling up while a request is being served
// closes the connection once it passes MaxBufferedInput.
func TestBufferedInputCap(t *testing.T) {
	run(t, testHandler(), func(t *testing.T, s *harness) {
		if s.srv.cfg.Dispatch == DispatchInline {
			t.Skip("inline handlers block the loop: nothing is buffered meanwhile")
		}
		c, r := s.dial()
		fmt.Fprintf(c, "GET /sleep HTTP/1.1\r\nHost: x\r\n\r\n")
		junk := make([]byte, 64<<10)
		for i := range junk {
			junk[i] = 'a'
		}
		for i := 0; i < 4; i++ {
			if _, err := c.Write(junk); err != nil {
				break
			}
		}
		// The sleeping request is answered or the connection is closed;
		// either way the junk is never parsed and the connection ends.
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err := io.Copy(io.Discard, r)
		if err != nil && !strings.Contains(err.Error(), "reset") {
			t.Fatalf("connection not closed: %v", err)
		}
	}, func(c *Config) { c.MaxBufferedInput = 100 << 10; c.Logger = discardLogger() })
}

// TestLateReaderServed: a peer that reads late, but within the write
// timeout, gets every pipelined response: parsing pauses at the
// high-water mark and resumes as the output drains.
func TestLateReaderServed(t *testing.T) {
	m := testHandler()
	body := strings.Repeat("y", 64<<10)
	m.HandleFunc("GET /mid/{i}", func(c *Ctx) { _ = c.String(200, c.PathValue("i")+body) })
	run(t, m, func(t *testing.T, s *harness) {
		c, r := s.dial()
		var req strings.Builder
		for i := 0; i < 100; i++ {
			fmt.Fprintf(&req, "GET /mid/%03d HTTP/1.1\r\nHost: x\r\n\r\n", i)
		}
		go c.Write([]byte(req.String()))
		time.Sleep(300 * time.Millisecond)
		for i := 0; i < 100; i++ {
			_, b := readResp(t, r, "GET")
			if want := fmt.Sprintf("%03d", i) + body; b != want {
				t.Fatalf("response %d: %d bytes, prefix %q", i, len(b), b[:min(len(b), 8)])
			}
		}
	}, func(c *Config) { c.WriteHighWater = 256 << 10; c.WriteTimeout = 5 * time.Second })
}
