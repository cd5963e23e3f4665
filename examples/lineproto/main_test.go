package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sluice-go/sluice/engine"
)

// The protocol alone, without a socket.

func TestAnswer(t *testing.T) {
	long := "ECHO " + strings.Repeat("x", maxLine-len("ECHO ")) // exactly maxLine
	for _, tt := range []struct {
		name     string
		in       string
		out      string
		consumed int // bytes of in consumed
		quit     bool
	}{
		{name: "ping", in: "PING\n", out: "PONG\n", consumed: 5},
		{name: "ping ignores argument", in: "PING x\n", out: "PONG\n", consumed: 7},
		{name: "echo", in: "ECHO hello world\n", out: "hello world\n", consumed: 17},
		{name: "echo keeps spaces", in: "ECHO  a  b \n", out: " a  b \n", consumed: 12},
		{name: "echo nothing", in: "ECHO\n", out: "\n", consumed: 5},
		{name: "incr", in: "INCR a\nINCR a\nINCR b\nINCR a\n", out: "1\n2\n1\n3\n", consumed: 28},
		{name: "incr without key", in: "INCR\n", out: "ERR missing key\n", consumed: 5},
		{name: "unknown", in: "FOO bar\n", out: "ERR unknown command FOO\n", consumed: 8},
		{name: "case-sensitive", in: "ping\n", out: "ERR unknown command ping\n", consumed: 5},
		{name: "empty line", in: "\n", out: "ERR unknown command \n", consumed: 1},
		{name: "crlf", in: "PING\r\nECHO a\r\n", out: "PONG\na\n", consumed: 14},
		{name: "one cr stripped", in: "ECHO a\r\r\n", out: "a\r\n", consumed: 9},
		{name: "pipelined", in: "PING\nECHO a\nINCR k\n", out: "PONG\na\n1\n", consumed: 19},
		{name: "incomplete", in: "PING\nPIN", out: "PONG\n", consumed: 5},
		{name: "incomplete crlf", in: "PING\r", out: "", consumed: 0},
		{name: "quit", in: "QUIT\n", out: "BYE\n", consumed: 5, quit: true},
		{name: "quit stops", in: "PING\nQUIT\nPING\n", out: "PONG\nBYE\n", consumed: 10, quit: true},
		{name: "longest line", in: long + "\n", out: long[5:] + "\n", consumed: maxLine + 1},
		{name: "longest line crlf", in: long + "\r\n", out: long[5:] + "\n", consumed: maxLine + 2},
		{name: "longest line incomplete", in: long + "\r", out: "", consumed: 0},
		{name: "too long", in: long + "x\n", out: "ERR line too long\n", consumed: maxLine + 2, quit: true},
		{name: "too long incomplete", in: long + "x", out: "ERR line too long\n", consumed: maxLine + 1, quit: true},
		{name: "too long after good", in: "PING\n" + long + "x", out: "PONG\nERR line too long\n", consumed: maxLine + 6, quit: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, n, quit := new(session).answer(nil, []byte(tt.in))
			if string(out) != tt.out || n != tt.consumed || quit != tt.quit {
				t.Errorf("answer = %.40q, %d, %v; want %.40q, %d, %v", out, n, quit, tt.out, tt.consumed, tt.quit)
			}
			// The same answers when every byte arrives on its own.
			out, quit = feed(new(session), []byte(tt.in))
			if string(out) != tt.out || quit != tt.quit {
				t.Errorf("byte by byte: %.40q, %v; want %.40q, %v", out, quit, tt.out, tt.quit)
			}
		})
	}
}

// feed offers in to s one byte more at a time, as the engine does when
// every byte arrives in its own read, and returns every response.
func feed(s *session, in []byte) (out []byte, quit bool) {
	var buf []byte
	for _, b := range in {
		var n int
		buf = append(buf, b)
		out, n, quit = s.answer(out, buf)
		buf = buf[n:]
		if quit {
			break
		}
	}
	return out, quit
}

func TestAnswerTime(t *testing.T) {
	before := time.Now().Truncate(time.Second)
	out, _, _ := new(session).answer(nil, []byte("TIME\n"))
	checkTime(t, string(out), before)
}

// checkTime checks that line is an RFC 3339 time between before and now.
func checkTime(t *testing.T, line string, before time.Time) {
	t.Helper()
	got, err := time.Parse(time.RFC3339, strings.TrimSuffix(line, "\n"))
	if err != nil || got.Before(before) || got.After(time.Now()) {
		t.Errorf("TIME = %q (%v), want a time in [%v, now]", line, err, before)
	}
}

func TestIncrTooManyKeys(t *testing.T) {
	s := new(session)
	var in []byte
	for i := range maxKeys {
		in = append(in, "INCR k"+strconv.Itoa(i)+"\n"...)
	}
	in = append(in, "INCR k0\nINCR new\n"...)
	out, _, _ := s.answer(nil, in)
	if want := "2\nERR too many keys\n"; !bytes.HasSuffix(out, []byte(want)) {
		t.Errorf("after %d keys: %q, want suffix %q", maxKeys, out[len(out)-40:], want)
	}
}

// The server over TCP, once per model.

func TestCommands(t *testing.T)  { run(t, testCommands) }
func TestPipelined(t *testing.T) { run(t, testPipelined) }
func TestSplit(t *testing.T)     { run(t, testSplit) }
func TestTooLong(t *testing.T)   { run(t, testTooLong) }
func TestQuit(t *testing.T)      { run(t, testQuit) }
func TestIdle(t *testing.T)      { run(t, testIdle) }
func TestShutdown(t *testing.T)  { run(t, testShutdown) }
func TestNoReader(t *testing.T)  { run(t, testNoReader) }

// run runs test once per model, then checks that no goroutine leaked.
func run(t *testing.T, test func(t *testing.T, model engine.Model)) {
	for _, model := range []engine.Model{engine.Reactor, engine.Single, engine.PerConn, engine.Uring} {
		t.Run(model.String(), func(t *testing.T) {
			if err := engine.CheckUring(); model == engine.Uring && err != nil {
				t.Skip(err)
			}
			ignore := goleak.IgnoreCurrent()
			// Registered first, so it runs after the other cleanups have
			// closed the connections and stopped the server.
			t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
			test(t, model)
		})
	}
}

// start runs serve on a free port until the test ends and returns its
// address, and stop, which stops it early and returns serve's error.
func start(t *testing.T, model engine.Model, idle time.Duration) (addr string, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		err := serve(ctx, pw, "127.0.0.1:0", model, idle)
		pw.Close()
		errc <- err
	}()
	stop = sync.OnceValue(func() error {
		cancel()
		return <-errc
	})
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	line, _ := bufio.NewReader(pr).ReadString('\n')
	addr, ok := strings.CutPrefix(line, "listening on ")
	if !ok {
		t.Fatalf("first output line %q, want listening on HOST:PORT", line)
	}
	return strings.TrimSuffix(addr, "\n"), stop
}

// client is one test connection.
type client struct {
	t *testing.T
	net.Conn
	r *bufio.Reader
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return &client{t: t, Conn: c, r: bufio.NewReader(c)}
}

func (c *client) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c, s); err != nil {
		c.t.Fatal(err)
	}
}

func (c *client) expect(want ...string) {
	c.t.Helper()
	for _, w := range want {
		got, err := c.r.ReadString('\n')
		if err != nil || got != w+"\n" {
			c.t.Fatalf("got %q (%v), want %q", got, err, w+"\n")
		}
	}
}

// expectEOF checks that the server has closed the connection, gracefully:
// EOF, not a reset.
func (c *client) expectEOF() {
	c.t.Helper()
	if b, err := c.r.ReadByte(); err != io.EOF {
		c.t.Fatalf("got %q (%v), want EOF", b, err)
	}
}

func testCommands(t *testing.T, model engine.Model) {
	addr, _ := start(t, model, time.Minute)
	c := dial(t, addr)
	for _, tt := range []struct{ in, out string }{
		{"PING\n", "PONG"},
		{"ECHO hello, world\n", "hello, world"},
		{"ECHO\n", ""},
		{"INCR a\n", "1"},
		{"INCR a\n", "2"},
		{"INCR b\n", "1"},
		{"INCR\n", "ERR missing key"},
		{"NOPE x\n", "ERR unknown command NOPE"},
		{"PING\r\n", "PONG"},
		{"ECHO crlf\r\n", "crlf"},
	} {
		c.send(tt.in)
		c.expect(tt.out)
	}
	before := time.Now().Truncate(time.Second)
	c.send("TIME\n")
	line, err := c.r.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	checkTime(t, line, before)

	// Counters belong to the connection.
	c2 := dial(t, addr)
	c2.send("INCR a\n")
	c2.expect("1")
	c.send("INCR a\n")
	c.expect("3")
}

func testPipelined(t *testing.T, model engine.Model) {
	addr, _ := start(t, model, time.Minute)
	c := dial(t, addr)
	before := time.Now().Truncate(time.Second)
	c.send("PING\nECHO one\r\nINCR k\nINCR k\nBAD\nTIME\nECHO two\n")
	c.expect("PONG", "one", "1", "2", "ERR unknown command BAD")
	line, _ := c.r.ReadString('\n')
	checkTime(t, line, before)
	c.expect("two")
}

func testSplit(t *testing.T, model engine.Model) {
	addr, _ := start(t, model, time.Minute)
	c := dial(t, addr)
	for _, b := range []byte("ECHO split\r\nINCR k\n") {
		c.send(string(b))
		time.Sleep(time.Millisecond) // most bytes then arrive in reads of their own
	}
	c.expect("split", "1")
}

func testTooLong(t *testing.T, model engine.Model) {
	addr, _ := start(t, model, time.Minute)
	c := dial(t, addr)
	text := strings.Repeat("x", maxLine-len("ECHO "))
	c.send("ECHO " + text + "\r\n") // the longest line is fine
	c.expect(text)
	c.send("ECHO " + text + "x\n")
	c.expect("ERR line too long")
	c.expectEOF()

	// Without a newline, too.
	c = dial(t, addr)
	c.send(strings.Repeat("y", maxLine+1))
	c.expect("ERR line too long")
	c.expectEOF()
}

func testQuit(t *testing.T, model engine.Model) {
	addr, _ := start(t, model, time.Minute)
	c := dial(t, addr)
	c.send("PING\nQUIT\nPING\n") // the last PING is never answered
	c.expect("PONG", "BYE")
	c.expectEOF()
}

func testIdle(t *testing.T, model engine.Model) {
	// The timer wheel ticks every 100 ms, so a timeout fires between
	// idle-100ms and idle+100ms after the last input, plus scheduling.
	const idle = 500 * time.Millisecond
	addr, _ := start(t, model, idle)
	c := dial(t, addr)
	// Input keeps the connection open past idle.
	for i := range 4 {
		if i > 0 {
			time.Sleep(idle / 2)
		}
		c.send("PING\n")
		c.expect("PONG")
	}
	last := time.Now()
	c.expectEOF()
	if d := time.Since(last); d < idle-150*time.Millisecond || d > idle+2*time.Second {
		t.Errorf("closed %v after the last input, want about %v", d, idle)
	}
	// A connection that never sends is closed too.
	c = dial(t, addr)
	c.expectEOF()
}

func testShutdown(t *testing.T, model engine.Model) {
	addr, stop := start(t, model, time.Minute)
	c := dial(t, addr)
	c.send("PING\n")
	c.expect("PONG")
	errc := make(chan error, 1)
	go func() { errc <- stop() }()
	c.expectEOF() // closed gracefully while serve shuts down
	c.Close()     // which ends the server's drain at once
	if err := <-errc; err != nil {
		t.Fatalf("serve: %v", err)
	}
	if nc, err := net.Dial("tcp", addr); err == nil {
		nc.Close()
		t.Fatal("still accepting after shutdown")
	}
}

func testNoReader(t *testing.T, model engine.Model) {
	if model == engine.PerConn {
		t.Skip("PerConn writes block, until the engine's WriteTimeout (30 s)")
	}
	addr, _ := start(t, model, time.Minute)
	c := dial(t, addr)
	// Requests, and never a read: once the socket buffers are full the
	// answers queue in the server, until maxPending.
	batch := strings.Repeat("ECHO "+strings.Repeat("x", 4000)+"\n", 16)
	for sent := 0; sent < 256<<20; sent += len(batch) {
		if _, err := io.WriteString(c, batch); err != nil {
			if ne := net.Error(nil); errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("write: %v, want the server to close the connection", err)
			}
			return // closed by the server
		}
	}
	t.Fatal("the server queued 256 MiB of answers to a peer that does not read")
}
