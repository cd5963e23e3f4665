package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sluice-go/sluice/examples/internal/clitest"
)

type description struct {
	Method   string      `json:"method"`
	Path     string      `json:"path"`
	Query    string      `json:"query"`
	Proto    string      `json:"proto"`
	Headers  [][2]string `json:"headers"`
	Body     string      `json:"body"`
	Trailers [][2]string `json:"trailers"`
}

func TestEcho(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	cases := []struct {
		name string
		raw  string
		want description
	}{
		{"get", "GET /echo?a=%41&b HTTP/1.1\r\nHost: x\r\nX-CaSe: v1\r\nx-case: v2\r\n\r\n",
			description{"GET", "/echo", "a=%41&b", "HTTP/1.1", [][2]string{{"Host", "x"}, {"X-CaSe", "v1"}, {"x-case", "v2"}}, "", [][2]string{}}},
		{"chunked with trailer", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 9\r\n\r\n",
			description{"POST", "/echo", "", "HTTP/1.1", [][2]string{{"Host", "x"}, {"Transfer-Encoding", "chunked"}}, "hello world", [][2]string{{"X-Sum", "9"}}}},
		{"HTTP/1.0 unknown method", "PURGE /echo HTTP/1.0\r\nContent-Length: 3\r\n\r\n\"\\\n",
			description{"PURGE", "/echo", "", "HTTP/1.0", [][2]string{{"Content-Length", "3"}}, "\"\\\n", [][2]string{}}},
		{"obs-text value", "GET /echo HTTP/1.1\r\nHost: x\r\nX: caf\xe9\r\n\r\n",
			description{"GET", "/echo", "", "HTTP/1.1", [][2]string{{"Host", "x"}, {"X", "caf\u00e9"}}, "", [][2]string{}}},
	}
	for _, model := range []string{"reactor", "single", "perconn"} {
		addr, stop := clitest.Start(t, model, false, routes())
		for _, tc := range cases {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			c.SetDeadline(time.Now().Add(5 * time.Second))
			fmt.Fprint(c, tc.raw)
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			c.Close()
			var got description
			if err := json.Unmarshal(b, &got); err != nil || resp.StatusCode != 200 {
				t.Fatalf("%s %s: %d %q %v", model, tc.name, resp.StatusCode, b, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("%s %s:\n got %+v\nwant %+v", model, tc.name, got, tc.want)
			}
		}
		resp, err := http.Get("http://" + addr + "/other")
		if err != nil || resp.StatusCode != 404 {
			t.Fatalf("other path: %v %v", resp, err)
		}
		resp.Body.Close()
		http.DefaultClient.CloseIdleConnections()
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	}
}
