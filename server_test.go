package sluice

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sluice-go/sluice/engine"
)

// mode is one way of running the server; every server test runs in each.
type mode struct {
	name string
	cfg  Config
}

var modes = []mode{
	{"reactor-pool", Config{Model: Reactor, Loops: 2}},
	{"reactor-inline", Config{Model: Reactor, Loops: 2, Dispatch: DispatchInline}},
	{"reactor-shared", Config{Model: Reactor, Loops: 2, Accept: AcceptShared}}, // gnet's acceptor
	{"single", Config{Model: Single}},
	{"perconn", Config{Model: PerConn}},
	{"uring", Config{Model: Uring, Loops: 2}},
	{"uring-inline", Config{Model: Uring, Loops: 2, Dispatch: DispatchInline}},
}

// harness is a running server for one test.
type harness struct {
	t   *testing.T
	srv *Server
	url string
}

// run runs f once per mode against a server with handler h, then checks
// that no goroutine is left behind.
func run(t *testing.T, h Handler, f func(t *testing.T, s *harness), tweak ...func(*Config)) {
	t.Helper()
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			if m.cfg.Model == Uring {
				if err := engine.CheckUring(); err != nil {
					t.Skip(err)
				}
			}
			ignore := goleak.IgnoreCurrent()
			t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
			cfg := m.cfg
			cfg.Logger = discardLogger() // rejections log at Info; a test that reads the log sets its own
			for _, tw := range tweak {
				tw(&cfg)
			}
			s := &harness{t: t, srv: &Server{Handler: h, Config: cfg}}
			if err := s.srv.Start("127.0.0.1:0"); err != nil {
				t.Fatal(err)
			}
			s.url = "http://" + s.srv.Addr().String()
			t.Cleanup(func() { s.srv.Close() })
			f(t, s)
		})
	}
}

// dial opens a raw connection with a deadline.
func (s *harness) dial() (net.Conn, *bufio.Reader) {
	s.t.Helper()
	c, err := net.Dial("tcp", s.srv.Addr().String())
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return c, bufio.NewReader(c)
}

// client returns an http.Client whose idle connections are closed at the
// end of the test.
func (s *harness) client() *http.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	s.t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 20 * time.Second}
}

// readResp reads one response for a request of method.
func readResp(t *testing.T, r *bufio.Reader, method string) (*http.Response, string) {
	t.Helper()
	resp, err := http.ReadResponse(r, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp, string(b)
}

// testHandler is the handler the server tests share.
func testHandler() *Mux {
	m := NewMux()
	m.HandleFunc("GET /hello", func(c *Ctx) { _ = c.String(200, "hello") })
	m.Handle("GET /inline", InlineFunc(func(c *Ctx) { _ = c.String(200, "inline") }))
	m.HandleFunc("/echo", func(c *Ctx) {
		c.SetHeader("X-Method", c.Method())
		_ = c.Bytes(200, "application/octet-stream", c.Body())
	})
	m.HandleFunc("GET /n/{n}", func(c *Ctx) { _ = c.String(200, "n="+c.PathValue("n")) })
	m.HandleFunc("GET /panic", func(c *Ctx) { panic("boom") })
	m.HandleFunc("GET /sleep", func(c *Ctx) {
		time.Sleep(300 * time.Millisecond)
		_ = c.String(200, "slept")
	})
	m.HandleFunc("GET /stream", func(c *Ctx) {
		for i := 0; i < 3; i++ {
			fmt.Fprintf(c, "part%d;", i)
			_ = c.Flush()
		}
		_, _ = c.WriteString("end")
	})
	m.HandleFunc("GET /close", func(c *Ctx) {
		c.SetClose()
		_ = c.String(200, "bye")
	})
	return m
}

func TestNetHTTPClientKeepAlive(t *testing.T) {
	run(t, testHandler(), func(t *testing.T, s *harness) {
		cl := s.client()
		for i := 0; i < 200; i++ {
			path := []string{"/hello", "/inline", fmt.Sprintf("/n/%d", i)}[i%3]
			resp, err := cl.Get(s.url + path)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			want := map[int]string{0: "hello", 1: "inline", 2: fmt.Sprintf("n=%d", i)}[i%3]
			if resp.StatusCode != 200 || string(b) != want || resp.Header.Get("Server") != "sluice" || resp.Header.Get("Date") == "" {
				t.Fatalf("%s: %d %q %v", path, resp.StatusCode, b, resp.Header)
			}
		}
		if st := s.srv.Stats(); st.AcceptedConns != 1 {
			t.Fatalf("keep-alive not used: %d connections", st.AcceptedConns)
		}
	})
}

func TestOneBytePerWrite(t *testing.T) {
	run(t, testHandler(), func(t *testing.T, s *harness) {
		c, r := s.dial()
		req := "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world"
		for i := 0; i < len(req); i++ {
			if _, err := c.Write([]byte{req[i]}); err != nil {
				t.Fatal(err)
			}
		}
		resp, body := readResp(t, r, "POST")
		if resp.StatusCode != 200 || body != "hello world" || resp.Header.Get("X-Method") != "POST" {
			t.Fatalf("%d %q", resp.StatusCode, body)
		}
	})
}

func TestSplitAtEveryOffset(t *testing.T) {
	run(t, testHandler(), func(t *testing.T, s *harness) {
		req := "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
		c, r := s.dial()
		for k := 1; k < len(req); k++ {
			c.Write([]byte(req[:k]))
			time.Sleep(time.Millisecond) // let the first part arrive alone
			c.Write([]byte(req[k:]))
			resp, body := readResp(t, r, "POST")
			if resp.StatusCode != 200 || body != "abc" {
				t.Fatalf("split at %d: %d %q", k, resp.StatusCode, body)
			}
		}
	})
}

func TestPipelined100(t *testing.T) {
	run(t, testHandler(), func(t *testing.T, s *harness) {
		c, r := s.dial()
		var b strings.Builder
		for i := 0; i < 100; i++ {
			if i%2 == 0 {
				fmt.Fprintf(&b, "GET /n/%d HTTP/1.1\r\nHost: x\r\n\r\n", i)
			} else {
				fmt.Fprintf(&b, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\nbody%d", len(fmt.Sprint(i))+4, i)
			}
		}
		if _, err := c.Write([]byte(b.String())); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 100; i++ {
			method, want := "GET", fmt.Sprintf("n=%d", i)
			if i%2 == 1 {
				method, want = "POST", fmt.Sprintf("body%d", i)
			}
			resp, body := readResp(t, r, method)
			if resp.StatusCode != 200 || body != want {
				t.Fatalf("response %d: %d %q, want %q", i, resp.StatusCode, body, want)
			}
		}
	})
}

func TestConnectionClose(t *testing.T) {
	run(t, testHandler(), func(t *testing.T, s *harness) {
		c, r := s.dial()
		c.Write([]byte("GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n"))
		resp, body := readResp(t, r, "GET")
		if body != "hello" || !resp.Close {
			t.Fatalf("%q close=%v", body, resp.Close)
		}
		if b, err := r.ReadByte(); err != io.EOF {
			t.Fatalf("served after Connection: close: %q %v", b, err)
		}
	})
}

func TestHandlerClose(t *testing.T) {
	run(t, testHandler(), func(t *testing.T, s *harness) {
		c, r := s.dial()
		c.Write([]byte("GET /close HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n"))
		resp, body := readResp(t, r, "GET")
		if body != "bye" || !resp.Close {
			t.Fatalf("%q close=%v", body, resp.Close)
		}
		if _, err := r.ReadByte(); err != io.EOF {
			t.Fatalf("want EOF, got %v", err)
		}
	})
}

func TestHTTP10(t *testing.T) {
	run(t, testHandler(), func(t *testing.T, s *harness) {
		c, r := s.dial()
		c.Write([]byte("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"))
		resp, body := readResp(t, r, "GET")
		if body != "hello" || resp.Close || resp.Header.Get("Connection") != "keep-alive" || resp.ContentLength != 5 {
			t.Fatalf("keep-alive: %q %v %v", body, resp.Close, resp.Header)
		}
		c.Write([]byte("GET /hello HTTP/1.0\r\n\r\n"))
		resp, body = readResp(t, r, "GET")
		if body != "hello" || !resp.Close {
			t.Fatalf("no keep-alive: %q close=%v", body, resp.Close)
		}
		if _, err := r.ReadByte(); err != io.EOF {
			t.Fatalf("want EOF, got %v", err)
		}
	})
}

func TestHTTP10Stream(t *testing.T) {
	run(t, testHandler(), func(t *testing.T, s *harness) {
		c, r := s.dial()
		c.Write([]byte("GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"))
		resp, body := readResp(t, r, "GET")
		if body != "part0;part1;part2;end" || !resp.Close || len(resp.TransferEncoding) != 0 {
			t.Fatalf("%q close=%v te=%v", body, resp.Close, resp.TransferEncoding)
		}
	})
}

func TestStreamChunked(t *testing.T) {
	run(t, testHandler(), func(t *testing.T, s *harness) {
		c, r := s.dial()
		c.Write([]byte("GET /stream HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n"))
		resp, body := readResp(t, r, "GET")
		if body != "part0;part1;part2;end" || len(resp.TransferEncoding) != 1 {
			t.Fatalf("%q te=%v", body, resp.TransferEncoding)
		}
		if _, body = readResp(t, r, "GET"); body != "hello" {
			t.Fatalf("after stream: %q", body)
		}
	})
}

func TestExpectContinue(t *testing.T) {
	run(t, testHandler(), func(t *testing.T, s *harness) {
		c, r := s.dial()
		c.Write([]byte("POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"))
		line, err := r.ReadString('\n')
		if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
			t.Fatalf("want 100 Continue, got %q %v", line, err)
		}
		if l, _ := r.ReadString('\n'); l != "\r\n" {
			t.Fatalf("bad interim response end %q", l)
		}
		c.Write([]byte("data"))
		if resp, body := readResp(t, r, "POST"); resp.StatusCode != 200 || body != "data" {
			t.Fatalf("%d %q", resp.StatusCode, body)
		}
		// The final status first when the headers decide it (R56): 413.
		c.Write([]byte("POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 999999999\r\n\r\n"))
		if resp, _ := readResp(t, r, "POST"); resp.StatusCode != 413 {
			t.Fatalf("want 413, got %d", resp.StatusCode)
		}
	}, func(c *Config) { c.MaxStreamBytes = 10 << 20 })
}

func TestHead(t *testing.T) {
	run(t, testHandler(), func(t *testing.T, s *harness) {
		c, r := s.dial()
		c.Write([]byte("HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n"))
		resp, body := readResp(t, r, "HEAD")
		if resp.StatusCode != 200 || body != "" || resp.ContentLength != 5 {
			t.Fatalf("HEAD: %d %q cl=%d", resp.StatusCode, body, resp.ContentLength)
		}
		if _, body = readResp(t, r, "GET"); body != "hello" {
			t.Fatalf("GET after HEAD: %q", body)
		}
	})
}

func TestChunkedUpload(t *testing.T) {
	run(t, testHandler(), func(t *testing.T, s *harness) {
		cl := s.client()
		pr, pw := io.Pipe()
		go func() {
			for i := 0; i < 50; i++ {
				fmt.Fprintf(pw, "chunk%02d|", i)
			}
			pw.Close()
		}()
		req, _ := http.NewRequest("PUT", s.url+"/echo", pr)
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if len(b) != 50*8 || !bytes.HasPrefix(b, []byte("chunk00|")) || !bytes.HasSuffix(b, []byte("chunk49|")) {
			t.Fatalf("echoed %d bytes: %q", len(b), b)
		}
	})
}

func TestConcurrentClients(t *testing.T) {
	run(t, testHandler(), func(t *testing.T, s *harness) {
		const conns, reqs = 200, 100
		var wg sync.WaitGroup
		errs := make(chan error, conns)
		for i := 0; i < conns; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				c, err := net.Dial("tcp", s.srv.Addr().String())
				if err != nil {
					errs <- err
					return
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(30 * time.Second))
				r := bufio.NewReader(c)
				for j := 0; j < reqs; j++ {
					if _, err := fmt.Fprintf(c, "GET /n/%d-%d HTTP/1.1\r\nHost: x\r\n\r\n", i, j); err != nil {
						errs <- err
						return
					}
					resp, err := http.ReadResponse(r, nil)
					if err != nil {
						errs <- err
						return
					}
					b, _ := io.ReadAll(resp.Body)
					if want := fmt.Sprintf("n=%d-%d", i, j); string(b) != want {
						errs <- fmt.Errorf("conn %d req %d: got %q want %q", i, j, b, want)
						return
					}
				}
			}(i)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	})
}

func TestParseErrorMidPipeline(t *testing.T) {
	run(t, testHandler(), func(t *testing.T, s *harness) {
		c, r := s.dial()
		c.Write([]byte("GET /n/1 HTTP/1.1\r\nHost: x\r\n\r\nGET /n/2 HTTP/1.1\r\nHost: x\r\n\r\nGET /n/3 HTTP/1.1\r\nHost : x\r\n\r\nGET /n/4 HTTP/1.1\r\nHost: x\r\n\r\n"))
		for _, want := range []string{"n=1", "n=2"} {
			if _, body := readResp(t, r, "GET"); body != want {
				t.Fatalf("got %q want %q", body, want)
			}
		}
		resp, body := readResp(t, r, "GET")
		if resp.StatusCode != 400 || !resp.Close || !strings.Contains(body, "whitespace in field name") {
			t.Fatalf("error response: %d close=%v %q", resp.StatusCode, resp.Close, body)
		}
		if _, err := r.ReadByte(); err != io.EOF {
			t.Fatalf("want EOF after the error, got %v", err)
		}
	})
}

func TestPanicGets500(t *testing.T) {
	run(t, testHandler(), func(t *testing.T, s *harness) {
		c, r := s.dial()
		c.Write([]byte("GET /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /panic HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n"))
		if _, body := readResp(t, r, "GET"); body != "hello" {
			t.Fatalf("before the panic: %q", body)
		}
		resp, _ := readResp(t, r, "GET")
		if resp.StatusCode != 500 || !resp.Close {
			t.Fatalf("panic: %d close=%v", resp.StatusCode, resp.Close)
		}
		if _, err := r.ReadByte(); err != io.EOF {
			t.Fatalf("want EOF after the 500, got %v", err)
		}
		// The server keeps serving.
		resp2, err := s.client().Get(s.url + "/hello")
		if err != nil {
			t.Fatal(err)
		}
		resp2.Body.Close()
	}, func(c *Config) { c.Logger = discardLogger() })
}

func TestHeaderTimeout408(t *testing.T) {
	run(t, testHandler(), func(t *testing.T, s *harness) {
		c, r := s.dial()
		start := time.Now()
		c.Write([]byte("GET /hello HTTP/1.1\r\nHos"))
		resp, _ := readResp(t, r, "GET")
		if resp.StatusCode != 408 {
			t.Fatalf("want 408, got %d", resp.StatusCode)
		}
		if d := time.Since(start); d < 250*time.Millisecond || d > 3*time.Second {
			t.Fatalf("timed out after %v", d)
		}
	}, func(c *Config) { c.HeaderReadTimeout = 300 * time.Millisecond })
}

func TestIdleTimeout(t *testing.T) {
	run(t, testHandler(), func(t *testing.T, s *harness) {
		c, r := s.dial()
		c.Write([]byte("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"))
		readResp(t, r, "GET")
		start := time.Now()
		if _, err := r.ReadByte(); err != io.EOF {
			t.Fatalf("want EOF, got %v", err)
		}
		if d := time.Since(start); d < 250*time.Millisecond || d > 3*time.Second {
			t.Fatalf("closed after %v", d)
		}
	}, func(c *Config) { c.IdleTimeout = 300 * time.Millisecond })
}

func TestShutdownInFlight(t *testing.T) {
	run(t, testHandler(), func(t *testing.T, s *harness) {
		const n = 8
		var wg sync.WaitGroup
		results := make(chan string, n)
		for i := 0; i < n; i++ {
			c, r := s.dial()
			if _, err := c.Write([]byte("GET /sleep HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
				t.Fatal(err)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := http.ReadResponse(r, nil)
				if err != nil {
					results <- "error: " + err.Error()
					return
				}
				b, _ := io.ReadAll(resp.Body)
				results <- fmt.Sprintf("%d %s close=%v", resp.StatusCode, b, resp.Close)
			}()
		}
		idle, _ := s.dial() // an idle keep-alive connection: closed at once
		time.Sleep(100 * time.Millisecond)
		// Every connection is accepted first: Single accepts on its loop,
		// which sleeps in the handlers one after another, and what is
		// still in the kernel's accept queue when Shutdown closes the
		// listener is reset by the kernel, under any server.
		if !waitFor(5*time.Second, func() bool { return s.srv.Stats().AcceptedConns >= n+1 }) {
			t.Fatalf("stats %+v: not all %d connections accepted", s.srv.Stats(), n+1)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		start := time.Now()
		if err := s.srv.Shutdown(ctx); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		if d := time.Since(start); d > 4*time.Second {
			t.Fatalf("Shutdown took %v", d)
		}
		wg.Wait()
		close(results)
		// Responses sent after Shutdown began carry Connection: close;
		// inline models answer some before it (while accepting the rest).
		closing := 0
		for res := range results {
			switch res {
			case "200 slept close=true":
				closing++
			case "200 slept close=false":
			default:
				t.Fatalf("in-flight request: %s", res)
			}
		}
		if closing == 0 {
			t.Fatal("no response sent during Shutdown said Connection: close")
		}
		idle.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := idle.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("idle connection: %v", err)
		}
		if _, err := net.DialTimeout("tcp", s.srv.Addr().String(), time.Second); err == nil {
			t.Fatal("accepting after Shutdown")
		}
		if err := s.srv.Wait(); err != ErrServerClosed {
			t.Fatalf("Wait = %v, want ErrServerClosed", err)
		}
	})
}

func TestFromHTTP(t *testing.T) {
	m := NewMux()
	m.Handle("/std/{name}", FromHTTP(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Name", r.PathValue("name"))
		w.Header().Add("X-Multi", "a")
		w.Header().Add("X-Multi", "b")
		w.WriteHeader(201)
		fmt.Fprintf(w, "%s %s %s q=%s h=%s body=%s", r.Method, r.URL.Path, r.Host, r.URL.Query().Get("q"), r.Header.Get("X-In"), body)
	})))
	run(t, m, func(t *testing.T, s *harness) {
		req, _ := http.NewRequest("POST", s.url+"/std/bob?q=1", strings.NewReader("payload"))
		req.Header.Set("X-In", "in")
		resp, err := s.client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		want := fmt.Sprintf("POST /std/bob %s q=1 h=in body=payload", s.srv.Addr())
		if resp.StatusCode != 201 || string(b) != want || resp.Header.Get("X-Name") != "bob" || len(resp.Header["X-Multi"]) != 2 {
			t.Fatalf("%d %q %v", resp.StatusCode, b, resp.Header)
		}
	})
}
