// Command gnetraw is the floor of the load-test harness: the least work any
// server on github.com/panjf2000/gnet/v2 can do and still answer HTTP/1.1.
//
// It parses nothing it does not need. For each request it finds the end of
// the head (CRLFCRLF), and for a body the Content-Length; it looks at the
// method and path only to pick one of three fixed-shape responses, and at
// the head only for "Connection: close". Each response carries a fresh Date
// (refreshed once a second) and is appended to one buffer per read, so a
// read holding several pipelined requests costs one write. The JSON bodies
// are constants and /decode does not decode: this is not a TechEmpower
// entry but the yardstick every other gnet server, sluice included, pays
// for on top of. See package peers for the contract.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/panjf2000/gnet/v2/pkg/logging"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	flag.Parse()
	a, err := resolve(*addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	go refreshDate()
	err = gnet.Run(&server{addr: a}, "tcp://"+a,
		gnet.WithMulticore(true), // one loop per CPU the process may run on
		gnet.WithLogLevel(logging.ErrorLevel))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// resolve turns port 0 into a free port, because gnet does not report the
// port it bound.
func resolve(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port != "0" {
		return addr, err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

type server struct {
	gnet.BuiltinEventEngine
	addr string
}

func (s *server) OnBoot(gnet.Engine) gnet.Action {
	fmt.Printf("listening on %s\n", s.addr)
	return gnet.None
}

// maxHead bounds the bytes buffered while looking for the end of a head;
// the benchmark's heads are under 200 bytes.
const maxHead = 64 << 10

// outPool holds the per-read output buffers. OnTraffic runs on a loop and
// Conn.Write copies what it cannot send at once, so a buffer goes back to
// the pool as soon as Write returns.
var outPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func (s *server) OnTraffic(c gnet.Conn) gnet.Action {
	in, _ := c.Peek(-1)
	bp := outPool.Get().(*[]byte)
	out := (*bp)[:0]
	consumed, closing := 0, false
	for !closing {
		n, resp, cl := frame(in[consumed:])
		if n == 0 {
			break
		}
		if n < 0 {
			closing = true
			break
		}
		out = appendResponse(out, resp, cl)
		consumed += n
		closing = cl
	}
	if len(out) > 0 {
		_, _ = c.Write(out)
	}
	*bp = out
	outPool.Put(bp)
	_, _ = c.Discard(consumed)
	if closing || len(in)-consumed > maxHead {
		return gnet.Close
	}
	return gnet.None
}

type response int

const (
	respPlaintext response = iota
	respJSON
	respDecode
	respNotFound
)

// frame finds the first complete request in b. It returns its length (0:
// need more bytes; -1: unusable, close), which response it gets, and
// whether the client asked to close.
func frame(b []byte) (n int, r response, closing bool) {
	end := bytes.Index(b, crlfcrlf)
	if end < 0 {
		return 0, 0, false
	}
	head := b[:end+2] // keep the last field line's CRLF for the searches below
	n = end + 4
	if cl, ok := field(head, contentLength); ok {
		v, err := strconv.Atoi(string(bytes.TrimSpace(cl)))
		if err != nil || v < 0 {
			return -1, 0, false
		}
		if len(b)-n < v {
			return 0, 0, false
		}
		n += v
	}
	if v, ok := field(head, connection); ok && bytes.EqualFold(bytes.TrimSpace(v), []byte("close")) {
		closing = true
	}
	switch {
	case bytes.HasPrefix(head, []byte("GET /plaintext ")):
		r = respPlaintext
	case bytes.HasPrefix(head, []byte("GET /json ")):
		r = respJSON
	case bytes.HasPrefix(head, []byte("POST /decode ")):
		r = respDecode
	default:
		r = respNotFound
	}
	return n, r, closing
}

var (
	crlfcrlf      = []byte("\r\n\r\n")
	contentLength = []byte("\r\ncontent-length:")
	connection    = []byte("\r\nconnection:")
)

// field returns the value of the first field line whose "\r\nname:" prefix
// matches, ASCII case-insensitively, and whether there is one. head ends
// with CRLF.
func field(head, prefix []byte) ([]byte, bool) {
	for i := 0; i+len(prefix) <= len(head); i++ {
		if head[i] != '\r' || !bytes.EqualFold(head[i:i+len(prefix)], prefix) {
			continue
		}
		v := head[i+len(prefix):]
		return v[:bytes.IndexByte(v, '\r')], true
	}
	return nil, false
}

// Each response is head, Date line, tail. Only the Date changes.
var responses = [...]struct{ head, tail string }{
	respPlaintext: {
		"HTTP/1.1 200 OK\r\nServer: gnet\r\n",
		"Content-Type: text/plain; charset=utf-8\r\nContent-Length: 13\r\n",
	},
	respJSON: {
		"HTTP/1.1 200 OK\r\nServer: gnet\r\n",
		"Content-Type: application/json\r\nContent-Length: 27\r\n",
	},
	respDecode: {
		"HTTP/1.1 200 OK\r\nServer: gnet\r\n",
		"Content-Type: application/json\r\nContent-Length: 17\r\n",
	},
	respNotFound: {
		"HTTP/1.1 404 Not Found\r\nServer: gnet\r\n",
		"Content-Type: text/plain; charset=utf-8\r\nContent-Length: 13\r\n",
	},
}

var bodies = [...]string{
	respPlaintext: "Hello, World!",
	respJSON:      `{"message":"Hello, World!"}`,
	respDecode:    `{"ok":true,"n":0}`,
	respNotFound:  "404 Not Found",
}

func appendResponse(dst []byte, r response, closing bool) []byte {
	dst = append(dst, responses[r].head...)
	dst = append(dst, *date.Load()...)
	dst = append(dst, responses[r].tail...)
	if closing {
		dst = append(dst, "Connection: close\r\n"...)
	}
	dst = append(dst, "\r\n"...)
	return append(dst, bodies[r]...)
}

// date holds the current "Date: <IMF-fixdate>\r\n" line.
var date atomic.Pointer[[]byte]

func init() { storeDate(time.Now()) }

func storeDate(t time.Time) {
	b := t.UTC().AppendFormat([]byte("Date: "), "Mon, 02 Jan 2006 15:04:05 GMT")
	b = append(b, "\r\n"...)
	date.Store(&b)
}

func refreshDate() {
	for t := range time.Tick(time.Second) {
		storeDate(t)
	}
}
