package main

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sluice-go/sluice/engine"
	"github.com/sluice-go/sluice/examples/internal/cli"
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
	for _, run := range []struct {
		model string
		tls   bool
	}{{"reactor", false}, {"single", false}, {"perconn", false}, {"uring", false}, {"reactor", true}, {"single", true}, {"perconn", true}, {"uring", true}} {
		model := run.model
		if err := engine.CheckUring(); model == "uring" && err != nil {
			t.Log(err)
			continue
		}
		addr, stop := clitest.StartFlags(t, cli.Flags{Model: model, SelfSigned: run.tls}, routes())
		dial := func() (net.Conn, error) {
			if run.tls {
				return tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
			}
			return net.Dial("tcp", addr)
		}
		// Every case pipelined in one write, then each on its own.
		var all strings.Builder
		for _, tc := range cases {
			all.WriteString(tc.raw)
		}
		pc, err := dial()
		if err != nil {
			t.Fatal(err)
		}
		pc.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprint(pc, all.String())
		pr := bufio.NewReader(pc)
		for _, tc := range cases[:2] { // the third is HTTP/1.0 without keep-alive: the connection ends there
			resp, err := http.ReadResponse(pr, nil)
			if err != nil {
				t.Fatalf("%s tls=%v pipelined %s: %v", model, run.tls, tc.name, err)
			}
			b, _ := io.ReadAll(resp.Body)
			var got description
			if err := json.Unmarshal(b, &got); err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("%s tls=%v pipelined %s: %q", model, run.tls, tc.name, b)
			}
		}
		pc.Close()
		for _, tc := range cases {
			c, err := dial()
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
		oc, err := dial()
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprint(oc, "GET /other HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(oc), nil)
		if err != nil || resp.StatusCode != 404 {
			t.Fatalf("other path: %v %v", resp, err)
		}
		oc.Close()
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	}
}
