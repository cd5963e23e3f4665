package sluice

import (
	"bufio"
	"bytes"
	stdtls "crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-go/sluice/tls"
)

var testCert = func() stdtls.Certificate {
	c, err := tls.SelfSigned("127.0.0.1", "localhost", "example.test")
	if err != nil {
		panic(err)
	}
	return c
}()

func tlsConfig(c *Config) {
	c.TLS = &stdtls.Config{Certificates: []stdtls.Certificate{testCert}}
}

func clientTLS(max uint16) *stdtls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(testCert.Leaf)
	return &stdtls.Config{RootCAs: pool, ServerName: "example.test", MaxVersion: max, NextProtos: []string{"http/1.1"}}
}

func tlsHandler() *Mux {
	m := streamHandler()
	m.HandleFunc("GET /tlsinfo", func(c *Ctx) {
		st := c.TLS()
		if st == nil {
			_ = c.String(200, "plain")
			return
		}
		fmt.Fprintf(c, "%s %s %s %s", stdtls.VersionName(st.Version), stdtls.CipherSuiteName(st.CipherSuite), st.ServerName, st.NegotiatedProtocol)
	})
	return m
}

func (s *harness) dialTLS(max uint16) (*stdtls.Conn, *bufio.Reader) {
	s.t.Helper()
	c, err := stdtls.Dial("tcp", s.srv.Addr().String(), clientTLS(max))
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return c, bufio.NewReader(c)
}

func TestTLSBasics(t *testing.T) {
	run(t, tlsHandler(), func(t *testing.T, s *harness) {
		for _, v := range []uint16{stdtls.VersionTLS12, stdtls.VersionTLS13} {
			c, r := s.dialTLS(v)
			fmt.Fprint(c, "GET /tlsinfo HTTP/1.1\r\nHost: x\r\n\r\n")
			_, b := readResp(t, r, "GET")
			want := stdtls.VersionName(v) + " "
			if !strings.HasPrefix(b, want) || !strings.HasSuffix(b, " example.test http/1.1") {
				t.Fatalf("tlsinfo: %q", b)
			}
			if v == stdtls.VersionTLS12 && !strings.Contains(b, "ECDHE") {
				t.Fatalf("TLS 1.2 without ECDHE: %q", b)
			}
			// 100 pipelined requests on the same connection.
			var req strings.Builder
			for i := 0; i < 100; i++ {
				fmt.Fprintf(&req, "GET /n/%d HTTP/1.1\r\nHost: x\r\n\r\n", i)
			}
			io.WriteString(c, req.String())
			for i := 0; i < 100; i++ {
				if _, b := readResp(t, r, "GET"); b != fmt.Sprintf("n=%d", i) {
					t.Fatalf("pipelined %d: %q", i, b)
				}
			}
		}
		// net/http's client over HTTPS, keep-alive.
		tr := &http.Transport{TLSClientConfig: clientTLS(0)}
		defer tr.CloseIdleConnections()
		cl := &http.Client{Transport: tr}
		for i := 0; i < 20; i++ {
			resp, err := cl.Post("https://"+s.srv.Addr().String()+"/echo", "text/plain", strings.NewReader("ping"))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != "ping" || resp.TLS == nil {
				t.Fatalf("%q", b)
			}
		}
	}, tlsConfig)
}

func TestTLSStream(t *testing.T) {
	run(t, tlsHandler(), func(t *testing.T, s *harness) {
		const size = 16 << 20
		tr := &http.Transport{TLSClientConfig: clientTLS(0)}
		defer tr.CloseIdleConnections()
		req, _ := http.NewRequest("PUT", "https://"+s.srv.Addr().String()+"/upload", &patternReader{n: size})
		req.ContentLength = size
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := fmt.Sprintf("%d %08x trailers=0", size, patternSum(size)); string(b) != want {
			t.Fatalf("got %q want %q", b, want)
		}
	}, tlsConfig)
}

func TestTLSPlainHTTPRefused(t *testing.T) {
	run(t, tlsHandler(), func(t *testing.T, s *harness) {
		c, r := s.dial()
		fmt.Fprint(c, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, b := readResp(t, r, "GET")
		if resp.StatusCode != 400 || !strings.Contains(b, "plain HTTP") {
			t.Fatalf("%d %q", resp.StatusCode, b)
		}
		// Garbage is closed without a word.
		c2, r2 := s.dial()
		c2.Write([]byte("\x00\x01\x02\x03\x04\x05\x06\x07"))
		if _, err := r2.ReadByte(); err == nil {
			t.Fatal("garbage answered")
		}
	}, tlsConfig)
}

// TestTLSRequestBehindFinished: the client's first request arrives in the
// same segment as its Finished message (TLS 1.3: the client's handshake
// ends when it sends Finished, so its first write can follow at once).
func TestTLSRequestBehindFinished(t *testing.T) {
	run(t, tlsHandler(), func(t *testing.T, s *harness) {
		raw, err := net.Dial("tcp", s.srv.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		bc := &coalescingConn{Conn: raw, hold: true}
		c := stdtls.Client(bc, clientTLS(stdtls.VersionTLS13))
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if err := c.Handshake(); err != nil {
			t.Fatal(err)
		}
		fmt.Fprint(c, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
		bc.release() // Finished and the request leave in one write
		if _, b := readResp(t, bufio.NewReader(c), "GET"); b != "hello" {
			t.Fatalf("%q", b)
		}
	}, tlsConfig)
}

// coalescingConn holds writes made while hold is set and sends them in
// one write on release.
type coalescingConn struct {
	net.Conn
	mu   sync.Mutex
	hold bool
	buf  []byte
	n    int
}

func (c *coalescingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	if c.hold && c.n > 1 { // the first write is the ClientHello
		c.buf = append(c.buf, p...)
		return len(p), nil
	}
	return c.Conn.Write(p)
}

func (c *coalescingConn) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hold = false
	c.Conn.Write(c.buf)
}

// TestTLSTamperedRecord: a flipped bit in an application record fails the
// MAC: the server sends an alert and closes.
func TestTLSTamperedRecord(t *testing.T) {
	run(t, tlsHandler(), func(t *testing.T, s *harness) {
		raw, err := net.Dial("tcp", s.srv.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		tc := &tamperConn{Conn: raw}
		c := stdtls.Client(tc, clientTLS(0))
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if err := c.Handshake(); err != nil {
			t.Fatal(err)
		}
		tc.flip = true
		fmt.Fprint(c, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
		if b, err := io.ReadAll(c); err == nil {
			t.Fatalf("tampered record answered: %q", b)
		}
	}, tlsConfig)
}

type tamperConn struct {
	net.Conn
	flip bool
}

func (c *tamperConn) Write(p []byte) (int, error) {
	if c.flip && len(p) > 10 {
		q := append([]byte(nil), p...)
		q[len(q)-3] ^= 0x40
		return c.Conn.Write(q)
	}
	return c.Conn.Write(p)
}

// TestTLSStalledHandshakes: 300 clients that send half a ClientHello, or
// nothing, are closed at the deadline and leave no goroutine behind.
func TestTLSStalledHandshakes(t *testing.T) {
	run(t, tlsHandler(), func(t *testing.T, s *harness) {
		before := runtime.NumGoroutine()
		var conns []net.Conn
		for i := 0; i < 300; i++ {
			c, err := net.Dial("tcp", s.srv.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
			if i%2 == 0 {
				c.Write([]byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03})
			}
		}
		for _, c := range conns {
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := c.Read(make([]byte, 1)); err == nil {
				t.Fatal("stalled handshake answered")
			}
			c.Close()
		}
		// Until every connection was accepted (an accept loop starved of
		// CPU may take one after the others are reaped) and all are gone.
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			st := s.srv.Stats()
			if runtime.NumGoroutine() <= before+5 && st.OpenConns == 0 && st.AcceptedConns >= 300 {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > before+5 {
			t.Fatalf("%d goroutines after, %d before", n, before)
		}
		if st := s.srv.Stats(); st.OpenConns != 0 || st.AcceptedConns < 300 {
			t.Fatalf("%d connections still open, %d of 300 accepted", st.OpenConns, st.AcceptedConns)
		}
	}, tlsConfig, func(c *Config) {
		c.HeaderReadTimeout = 500 * time.Millisecond
		c.TLSHandshakeTimeout = 500 * time.Millisecond
	})
}

func TestTLSCloseNotify(t *testing.T) {
	run(t, tlsHandler(), func(t *testing.T, s *harness) {
		c, r := s.dialTLS(0)
		fmt.Fprint(c, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
		if _, b := readResp(t, r, "GET"); b != "hello" {
			t.Fatalf("%q", b)
		}
		c.CloseWrite() // our close_notify: the server answers with its own
		if _, err := r.ReadByte(); err != io.EOF {
			t.Fatalf("want a clean EOF (close_notify), got %v", err)
		}
	}, tlsConfig)
}

// TestTLSCurl: curl over TLS 1.2 and 1.3, two URLs per call (one
// connection, keep-alive).
func TestTLSCurl(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl not installed (apt-get install -y curl)")
	}
	run(t, tlsHandler(), func(t *testing.T, s *harness) {
		for _, v := range []string{"1.2", "1.3"} {
			base := "https://" + s.srv.Addr().String()
			out, err := exec.Command(curl, "-sk", "--tlsv"+v, "--tls-max", v, "-w", " %{num_connects}|",
				base+"/hello", base+"/n/7").CombinedOutput()
			if err != nil {
				t.Fatalf("curl TLS %s: %v %s", v, err, out)
			}
			if got := string(out); got != "hello 1|n=7 0|" {
				t.Fatalf("curl TLS %s: %q (want two answers over one connection)", v, got)
			}
		}
	}, tlsConfig)
}

// TestTLSOpenSSL: openssl s_client's renegotiation is refused; a TLS 1.3
// KeyUpdate (with update requested) is answered and the connection works
// on.
func TestTLSOpenSSL(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed (apt-get install -y openssl)")
	}
	// s_client reads commands ("K", "R") only when neither -quiet nor
	// -ign_eof is given, so stdin is fed slowly and kept open.
	session := func(args []string, steps ...string) string {
		cmd := exec.Command(openssl, append([]string{"s_client", "-connect"}, args...)...)
		stdin, _ := cmd.StdinPipe()
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		for _, st := range steps {
			time.Sleep(300 * time.Millisecond)
			io.WriteString(stdin, st)
		}
		time.Sleep(500 * time.Millisecond)
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		return out.String()
	}
	run(t, tlsHandler(), func(t *testing.T, s *harness) {
		addr := s.srv.Addr().String()
		out := session([]string{addr, "-tls1_3"},
			"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n", "K\n", "GET /n/2 HTTP/1.1\r\nHost: x\r\n\r\n")
		if !strings.Contains(out, "KEYUPDATE") || strings.Count(out, "HTTP/1.1 200 OK") != 2 || !strings.Contains(out, "n=2") {
			t.Fatalf("KeyUpdate: %s", out)
		}
		out = session([]string{addr, "-tls1_2"}, "R\n", "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
		if !strings.Contains(out, "RENEGOTIATING") || strings.Contains(out, "HTTP/1.1 200 OK") || !strings.Contains(out, "alert") {
			t.Fatalf("renegotiation not refused: %s", out)
		}
	}, tlsConfig)
}
