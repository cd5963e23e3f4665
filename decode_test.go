package sluice

import (
	"bytes"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
)

func decodeHandler() *Mux {
	m := NewMux()
	m.HandleFunc("POST /json", func(c *Ctx) {
		var v struct {
			Name string   `json:"name"`
			Tags []string `json:"tags"`
			N    int      `json:"n"`
		}
		if !c.Bind(&v) {
			return
		}
		_ = c.JSON(200, map[string]any{"name": v.Name, "tags": len(v.Tags), "n": v.N, "html": "<b>"})
	})
	m.HandleFunc("POST /form", func(c *Ctx) {
		f, err := c.Form()
		if err != nil {
			c.answerBodyError(err)
			return
		}
		fmt.Fprintf(c, "a=%q b=%q n=%d", f.Get("a"), f.Values("b"), f.Len())
	})
	m.HandleFunc("POST /multipart", func(c *Ctx) {
		mp, err := c.Multipart()
		if err != nil {
			c.answerBodyError(err)
			return
		}
		fh := mp.File("file")
		if fh == nil {
			_ = c.Error(400, "no file")
			return
		}
		r, err := fh.Open()
		if err != nil {
			_ = c.Error(500, err.Error())
			return
		}
		b, _ := io.ReadAll(r)
		r.Close()
		fmt.Fprintf(c, "field=%s file=%s size=%d mem=%v sum=%d", mp.Value("field"), fh.Filename, len(b), fh.InMemory(), bytes.Count(b, []byte("x")))
	})
	m.HandleFunc("GET /q", func(c *Ctx) {
		v, ok := c.LookupQuery("b")
		fmt.Fprintf(c, "a=%q b=%q,%v z=%q", c.Query("a"), v, ok, c.Query("z"))
	})
	return m
}

func TestDecodeJSON(t *testing.T) {
	run(t, decodeHandler(), func(t *testing.T, s *harness) {
		cl := s.client()
		for _, tc := range []struct {
			name, ctype, body string
			status            int
			want              string
		}{
			{"ok", "application/json; charset=utf-8", `{"name":"Ada","tags":["x","y"],"n":7,"extra":1}`, 200, `"html":"<b>"`},
			{"problem+json", "application/problem+json", `{"n":1}`, 200, `"n":1`},
			{"syntax", "application/json", `{"name": "Ada",}`, 400, `{"error":"invalid JSON","offset":`},
			{"type", "application/json", `{"n":"seven"}`, 400, `{"error":"invalid JSON value"`},
			{"overflow", "application/json", `{"n":1e400}`, 400, `{"error":"invalid JSON value"`},
			{"deep", "application/json", strings.Repeat("[", 100000), 400, `{"error":"invalid JSON"`},
			{"bad utf-8", "application/json", "{\"name\":\"\xff\"}", 400, `{"error":"invalid JSON"`},
			{"wrong type", "text/plain", `{"n":1}`, 415, `{"error":"unsupported media type"`},
			{"no type", "", `{"n":1}`, 415, `{"error":"unsupported media type"`},
			{"too large", "application/json", `{"name":"` + strings.Repeat("a", 2<<20) + `"}`, 413, `{"error":"request body too large"}`},
		} {
			req, _ := http.NewRequest("POST", s.url+"/json", strings.NewReader(tc.body))
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			resp, err := cl.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || !strings.Contains(string(b), tc.want) || resp.Header.Get("Content-Type") != "application/json" {
				t.Errorf("%s: %d %q", tc.name, resp.StatusCode, b[:min(len(b), 200)])
			}
		}
	}, func(c *Config) { c.Limits.MaxBodyBytes = 1 << 20; c.StreamThreshold = 512 << 10 })
}

func TestFormAndQuery(t *testing.T) {
	run(t, decodeHandler(), func(t *testing.T, s *harness) {
		cl := s.client()
		resp, err := cl.Post(s.url+"/form", "application/x-www-form-urlencoded", strings.NewReader("a=x%20y&b=1&b=2+3"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != `a="x y" b=["1" "2 3"] n=3` {
			t.Fatalf("form: %q", b)
		}
		resp, _ = cl.Post(s.url+"/form", "application/x-www-form-urlencoded", strings.NewReader("a=%zz"))
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Fatalf("bad escape: %d", resp.StatusCode)
		}
		resp, _ = cl.Get(s.url + "/q?a=%41%20b&b=&c")
		b, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != `a="A b" b="",true z=""` {
			t.Fatalf("query: %q", b)
		}
	})
}

func TestMultipartUpload(t *testing.T) {
	run(t, decodeHandler(), func(t *testing.T, s *harness) {
		for _, size := range []int{100, 3 << 20} {
			var buf bytes.Buffer
			w := multipart.NewWriter(&buf)
			w.WriteField("field", "value")
			fw, _ := w.CreateFormFile("file", "data.txt")
			fw.Write(bytes.Repeat([]byte("x"), size))
			w.Close()
			resp, err := s.client().Post(s.url+"/multipart", w.FormDataContentType(), &buf)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			want := fmt.Sprintf("field=value file=data.txt size=%d mem=%v sum=%d", size, size <= 1<<20, size)
			if string(b) != want {
				t.Fatalf("got %q want %q", b, want)
			}
		}
	})
}
