package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sluice-go/sluice/engine"
	"github.com/sluice-go/sluice/examples/internal/clitest"
)

func TestHello(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	for _, m := range []struct {
		model  string
		inline bool
	}{{"reactor", false}, {"reactor", true}, {"single", false}, {"perconn", false}, {"uring", false}, {"uring", true}} {
		if err := engine.CheckUring(); m.model == "uring" && err != nil {
			t.Log(err)
			continue
		}
		addr, stop := clitest.Start(t, m.model, m.inline, routes())
		tr := &http.Transport{}
		cl := &http.Client{Transport: tr}
		for _, tc := range []struct{ path, ctype, body string }{
			{"/plaintext", "text/plain; charset=utf-8", "Hello, World!"},
			{"/json", "application/json", `{"message":"Hello, World!"}`},
		} {
			resp, err := cl.Get("http://" + addr + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			date, err := http.ParseTime(resp.Header.Get("Date"))
			if resp.StatusCode != 200 || string(b) != tc.body || resp.Header.Get("Content-Type") != tc.ctype ||
				resp.Header.Get("Server") != "sluice" || resp.ContentLength != int64(len(tc.body)) ||
				err != nil || time.Since(date) > 2*time.Second {
				t.Fatalf("%s %s: %d %q %v", m.model, tc.path, resp.StatusCode, b, resp.Header)
			}
		}
		for _, tc := range []struct {
			body, ctype string
			status      int
			want        string
		}{
			{`{"name":"Ada","email":"ada@example.com","tags":["a","b"],"n":42}`, "application/json", 200, `{"ok":true,"n":42}`},
			{`{"name":"Ada","n":`, "application/json", 400, `{"error":"invalid JSON"`},
			{`{"n":"x"}`, "application/json", 400, `{"error":"invalid JSON value"`},
			{`{"n":1}`, "text/plain", 415, `{"error":"unsupported media type"`},
		} {
			resp, err := cl.Post("http://"+addr+"/decode", tc.ctype, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || !strings.HasPrefix(string(b), tc.want) {
				t.Fatalf("%s decode %q: %d %q", m.model, tc.body, resp.StatusCode, b)
			}
		}
		resp, err := cl.Get("http://" + addr + "/nope")
		if err != nil || resp.StatusCode != 404 {
			t.Fatalf("unknown path: %v %v", resp, err)
		}
		resp.Body.Close()
		tr.CloseIdleConnections()
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	}
}
