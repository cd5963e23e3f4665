package http1

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// ruleCase is one raw-wire row: input, the status it must get (0 means it
// parses), and for accepted input a check of what was parsed.
type ruleCase struct {
	name   string
	rule   string
	in     string
	status int
	lim    Limits
	check  func(t *testing.T, r *Request)
}

const h11 = "GET / HTTP/1.1\r\nHost: example.com\r\n"

// post wraps framing headers and a body into a POST.
func post(fields, body string) string {
	return "POST /upload HTTP/1.1\r\nHost: example.com\r\n" + fields + "\r\n" + body
}

func chunked(body string) string { return post("Transfer-Encoding: chunked\r\n", body) }

func wantHeader(name, value string) func(*testing.T, *Request) {
	return func(t *testing.T, r *Request) {
		t.Helper()
		v, ok := r.Header(name)
		if !ok || string(v) != value {
			t.Errorf("header %s = %q, %v; want %q", name, v, ok, value)
		}
	}
}

func wantBody(body string) func(*testing.T, *Request) {
	return func(t *testing.T, r *Request) {
		t.Helper()
		if string(r.Body) != body {
			t.Errorf("body = %q, want %q", r.Body, body)
		}
	}
}

var ruleCases = []ruleCase{
	// A. General message parsing.
	{name: "obs-text value kept raw", rule: "R1", in: h11 + "X: \xa0caf\xc3\xa9\x85\r\n\r\n", check: wantHeader("X", "\xa0caf\xc3\xa9\x85")},
	{name: "bare LF ends request-line", rule: "R2", in: "GET / HTTP/1.1\nHost: a\r\n\r\n", status: 400},
	{name: "bare LF ends field line", rule: "R2", in: h11 + "A: b\n\r\n", status: 400},
	{name: "LF inside value smuggles TE", rule: "R2", in: h11 + "A: b\nTransfer-Encoding: chunked\r\n\r\n", status: 400},
	{name: "bare LF ends header section", rule: "R2", in: h11 + "\n", status: 400},
	{name: "only LFs", rule: "R2", in: "GET / HTTP/1.1\nHost: a\n\n", status: 400},
	{name: "bare CR in request-line", rule: "R3", in: "GET / HTTP/1.1\rHost: a\r\n\r\n", status: 400},
	{name: "bare CR in value", rule: "R3", in: h11 + "A: b\rc\r\n\r\n", status: 400},
	{name: "bare CR before TE", rule: "R3", in: h11 + "x:\rTransfer-Encoding: chunked\r\n\r\n", status: 400},
	{name: "CR CR LF ends head", rule: "R3", in: h11 + "\r\rZ", status: 400},
	{name: "one empty line before request", rule: "R4", in: "\r\n" + h11 + "\r\n", check: func(t *testing.T, r *Request) {
		if string(r.Method) != "GET" || r.HeadLen != len(h11)+4 {
			t.Errorf("method %q headLen %d", r.Method, r.HeadLen)
		}
	}},
	{name: "eight empty lines", rule: "R4", in: strings.Repeat("\r\n", 8) + h11 + "\r\n"},
	{name: "nine empty lines", rule: "R4", in: strings.Repeat("\r\n", 9) + h11 + "\r\n", status: 400},
	{name: "empty line of bare LF", rule: "R4", in: "\n" + h11 + "\r\n", status: 400},
	{name: "whitespace-led first field line", rule: "R5", in: "GET / HTTP/1.1\r\n Host: a\r\n\r\n", status: 400},
	{name: "tab-led first field line", rule: "R5", in: "GET / HTTP/1.1\r\n\tHost: a\r\nHost: a\r\n\r\n", status: 400},
	{name: "TLS record on a plain port", rule: "R6", in: "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", status: 400},

	// B. Request line.
	{name: "two spaces after method", rule: "R8", in: "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", status: 400},
	{name: "two spaces before version", rule: "R8", in: "GET /  HTTP/1.1\r\nHost: a\r\n\r\n", status: 400},
	{name: "HTAB separator", rule: "R8", in: "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", status: 400},
	{name: "leading space", rule: "R8", in: " GET / HTTP/1.1\r\nHost: a\r\n\r\n", status: 400},
	{name: "trailing space", rule: "R8", in: "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", status: 400},
	{name: "unknown method parses", rule: "R9", in: "MKCOLA /x HTTP/1.1\r\nHost: a\r\n\r\n", check: func(t *testing.T, r *Request) {
		if string(r.Method) != "MKCOLA" {
			t.Errorf("method %q", r.Method)
		}
	}},
	{name: "method is case-sensitive token", rule: "R9", in: "get / HTTP/1.1\r\nHost: a\r\n\r\n", check: func(t *testing.T, r *Request) {
		if string(r.Method) != "get" {
			t.Errorf("method %q", r.Method)
		}
	}},
	{name: "non-tchar in method", rule: "R9", in: "G@T / HTTP/1.1\r\nHost: a\r\n\r\n", status: 400},
	{name: "method longer than the line limit", rule: "R10", in: strings.Repeat("M", 70) + " / HTTP/1.1\r\n", status: 501, lim: Limits{MaxRequestLine: 64}},
	{name: "CTL in target", rule: "R11", in: "GET /a\x01b HTTP/1.1\r\nHost: a\r\n\r\n", status: 400},
	{name: "DEL in target", rule: "R11", in: "GET /a\x7fb HTTP/1.1\r\nHost: a\r\n\r\n", status: 400},
	{name: "non-ASCII in target", rule: "R11", in: "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", status: 400},
	{name: "browser-unescaped bytes pass raw", rule: "R11", in: "GET /a|b?q={\"x\":\"^\"}&p=<\\> HTTP/1.1\r\nHost: a\r\n\r\n", check: func(t *testing.T, r *Request) {
		if string(r.Path) != "/a|b" || string(r.Query) != `q={"x":"^"}&p=<\>` {
			t.Errorf("path %q query %q", r.Path, r.Query)
		}
	}},
	{name: "fragment", rule: "R12", in: "GET /a#frag HTTP/1.1\r\nHost: a\r\n\r\n", status: 400},
	{name: "query after first ?, not decoded", rule: "R12", in: "GET /p%20a?x=%41?y HTTP/1.1\r\nHost: a\r\n\r\n", check: func(t *testing.T, r *Request) {
		if string(r.Path) != "/p%20a" || string(r.Query) != "x=%41?y" || r.Form != OriginForm {
			t.Errorf("path %q query %q form %d", r.Path, r.Query, r.Form)
		}
	}},
	{name: "no query", rule: "R12", in: h11 + "\r\n", check: func(t *testing.T, r *Request) {
		if r.Query != nil {
			t.Errorf("query %q, want nil", r.Query)
		}
	}},
	{name: "empty query", rule: "R12", in: "GET /? HTTP/1.1\r\nHost: a\r\n\r\n", check: func(t *testing.T, r *Request) {
		if r.Query == nil || len(r.Query) != 0 {
			t.Errorf("query %q, want empty non-nil", r.Query)
		}
	}},
	{name: "absolute-form authority wins", rule: "R13", in: "GET http://origin.example:8080/a?b HTTP/1.1\r\nHost: other\r\n\r\n", check: func(t *testing.T, r *Request) {
		if string(r.Host) != "origin.example:8080" || string(r.Path) != "/a" || string(r.Query) != "b" || r.Form != AbsoluteForm {
			t.Errorf("host %q path %q query %q form %d", r.Host, r.Path, r.Query, r.Form)
		}
	}},
	{name: "absolute-form without path", rule: "R13", in: "GET HTTPS://h.example HTTP/1.1\r\nHost: h.example\r\n\r\n", check: func(t *testing.T, r *Request) {
		if string(r.Path) != "/" || string(r.Host) != "h.example" {
			t.Errorf("path %q host %q", r.Path, r.Host)
		}
	}},
	{name: "absolute-form still needs Host", rule: "R13", in: "GET http://h/ HTTP/1.1\r\n\r\n", status: 400},
	{name: "absolute-form other scheme", rule: "R13", in: "GET ftp://h/ HTTP/1.1\r\nHost: h\r\n\r\n", status: 400},
	{name: "asterisk with GET", rule: "R14", in: "GET * HTTP/1.1\r\nHost: a\r\n\r\n", status: 400},
	{name: "asterisk with OPTIONS", rule: "R14", in: "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", check: func(t *testing.T, r *Request) {
		if r.Form != AsteriskForm || string(r.Path) != "*" {
			t.Errorf("form %d path %q", r.Form, r.Path)
		}
	}},
	{name: "authority-form with GET", rule: "R14", in: "GET example.com:80 HTTP/1.1\r\nHost: a\r\n\r\n", status: 400},
	{name: "authority-form with CONNECT", rule: "R14", in: "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", check: func(t *testing.T, r *Request) {
		if r.Form != AuthorityForm || string(r.Host) != "example.com:443" || r.Path != nil {
			t.Errorf("form %d host %q path %q", r.Form, r.Host, r.Path)
		}
	}},
	{name: "CONNECT with origin-form", rule: "R14", in: "CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n", status: 400},
	{name: "CONNECT without port", rule: "R14", in: "CONNECT example.com HTTP/1.1\r\nHost: a\r\n\r\n", status: 400},
	{name: "target over the line limit", rule: "R15", in: "GET /" + strings.Repeat("a", 100) + " HTTP/1.1\r\n", status: 414, lim: Limits{MaxRequestLine: 64}},
	{name: "line exactly at the limit", rule: "R15", in: "GET /" + strings.Repeat("a", 64-len("GET / HTTP/1.1\r\n")) + " HTTP/1.1\r\nHost: a\r\n\r\n", lim: Limits{MaxRequestLine: 64}},
	{name: "line one over the limit", rule: "R15", in: "GET /" + strings.Repeat("a", 65-len("GET / HTTP/1.1\r\n")) + " HTTP/1.1\r\nHost: a\r\n\r\n", status: 414, lim: Limits{MaxRequestLine: 64}},
	{name: "lower-case version", rule: "R16", in: "GET / http/1.1\r\nHost: a\r\n\r\n", status: 400},
	{name: "two-digit minor", rule: "R16", in: "GET / HTTP/1.10\r\nHost: a\r\n\r\n", status: 400},
	{name: "two-digit major", rule: "R16", in: "GET / HTTP/01.1\r\nHost: a\r\n\r\n", status: 400},
	{name: "no minor", rule: "R16", in: "GET / HTTP/1\r\nHost: a\r\n\r\n", status: 400},
	{name: "junk after version", rule: "R16", in: "GET / HTTP/1.1x\r\nHost: a\r\n\r\n", status: 400},
	{name: "HTTP/0.9 request", rule: "R16", in: "GET /\r\n\r\n", status: 400},
	{name: "RTSP", rule: "R16", in: "OPTIONS /x RTSP/1.0\r\n\r\n", status: 400},
	{name: "HTTP/2.0", rule: "R17", in: "GET / HTTP/2.0\r\nHost: a\r\n\r\n", status: 505},
	{name: "h2 preface", rule: "R17", in: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", status: 505},
	{name: "HTTP/0.9 in version syntax", rule: "R17", in: "GET / HTTP/0.9\r\n\r\n", status: 505},
	{name: "HTTP/1.2 served as 1.1", rule: "R17", in: "GET / HTTP/1.2\r\nHost: a\r\n\r\n", check: func(t *testing.T, r *Request) {
		if r.ProtoMinor != 1 || !r.KeepAlive {
			t.Errorf("minor %d keep-alive %v", r.ProtoMinor, r.KeepAlive)
		}
	}},

	// C. Header fields.
	{name: "no colon", rule: "R19", in: h11 + "NoColon\r\n\r\n", status: 400},
	{name: "empty name", rule: "R19", in: h11 + ": v\r\n\r\n", status: 400},
	{name: "@ in name", rule: "R19", in: h11 + "a@b: v\r\n\r\n", status: 400},
	{name: "non-ASCII in name", rule: "R19", in: h11 + "caf\xc3\xa9: v\r\n\r\n", status: 400},
	{name: "names kept as sent", rule: "R19", in: "GET / HTTP/1.1\r\nhOsT: a\r\nX-MiXeD: 1\r\n\r\n", check: func(t *testing.T, r *Request) {
		if string(r.Headers[0].Name) != "hOsT" || string(r.Headers[1].Name) != "X-MiXeD" || string(r.Host) != "a" {
			t.Errorf("headers %q", r.Headers)
		}
	}},
	{name: "space before colon", rule: "R20", in: "GET / HTTP/1.1\r\nHost : a\r\n\r\n", status: 400},
	{name: "space before colon on CL", rule: "R20", in: post("Content-Length : 4\r\n", "abcd"), status: 400},
	{name: "tab before colon", rule: "R20", in: h11 + "A\t: b\r\n\r\n", status: 400},
	{name: "OWS trimmed, inner kept", rule: "R21", in: h11 + "A: \t b  c \t \r\nB:\r\nC:   \r\n\r\n", check: func(t *testing.T, r *Request) {
		wantHeader("A", "b  c")(t, r)
		wantHeader("B", "")(t, r)
		wantHeader("C", "")(t, r)
	}},
	{name: "obs-fold", rule: "R22", in: h11 + "A: b\r\n c\r\n\r\n", status: 400},
	{name: "obs-fold with tab", rule: "R22", in: h11 + "A: b\r\n\tc\r\n\r\n", status: 400},
	{name: "NUL in value", rule: "R23", in: h11 + "A: b\x00c\r\n\r\n", status: 400},
	{name: "FF in value", rule: "R23", in: h11 + "A: b\x0cc\r\n\r\n", status: 400},
	{name: "DEL in value", rule: "R23", in: h11 + "A: b\x7fc\r\n\r\n", status: 400},
	{name: "VT after chunked", rule: "R23", in: post("Transfer-Encoding: chunked\x0b\r\n", "0\r\n\r\n"), status: 400},
	{name: "0xA0 and 0x85 not stripped", rule: "R23", in: h11 + "A: \xa0b\x85\r\n\r\n", check: wantHeader("A", "\xa0b\x85")},
	{name: "duplicates kept in order", rule: "R24", in: h11 + "X: 1\r\nY: 2\r\nx: 3\r\n\r\n", check: func(t *testing.T, r *Request) {
		got := ""
		for _, h := range r.Headers {
			got += string(h.Name) + "=" + string(h.Value) + ";"
		}
		if got != "Host=example.com;X=1;Y=2;x=3;" {
			t.Errorf("headers %s", got)
		}
	}},
	{name: "header section over the limit", rule: "R25", in: h11 + "A: " + strings.Repeat("v", 100) + "\r\n\r\n", status: 431, lim: Limits{MaxHeaderBytes: 64}},
	{name: "header section exactly at the limit", rule: "R25", in: "GET / HTTP/1.1\r\nHost: a\r\nA: " + strings.Repeat("v", 64-len("Host: a\r\nA: \r\n")) + "\r\n\r\n", lim: Limits{MaxHeaderBytes: 64}},
	{name: "header section one over the limit", rule: "R25", in: "GET / HTTP/1.1\r\nHost: a\r\nA: " + strings.Repeat("v", 65-len("Host: a\r\nA: \r\n")) + "\r\n\r\n", status: 431, lim: Limits{MaxHeaderBytes: 64}},
	{name: "too many fields", rule: "R25", in: h11 + strings.Repeat("A: b\r\n", 4) + "\r\n", status: 431, lim: Limits{MaxHeaders: 4}},
	{name: "as many fields as allowed", rule: "R25", in: h11 + strings.Repeat("A: b\r\n", 3) + "\r\n", lim: Limits{MaxHeaders: 4}},
	{name: "default 64 KiB section refused", rule: "R25", in: h11 + "A: " + strings.Repeat("v", 64<<10) + "\r\n\r\n", status: 431},
	{name: "Connection list with close", rule: "R26", in: h11 + "Connection: keep-alive, CLOSE\r\n\r\n", check: func(t *testing.T, r *Request) {
		if r.KeepAlive {
			t.Error("keep-alive despite close")
		}
	}},

	// D. Host.
	{name: "HTTP/1.1 without Host", rule: "R27", in: "GET / HTTP/1.1\r\n\r\n", status: 400},
	{name: "HTTP/1.0 without Host", rule: "R27", in: "GET / HTTP/1.0\r\n\r\n", check: func(t *testing.T, r *Request) {
		if r.ProtoMinor != 0 || r.Host != nil || r.KeepAlive {
			t.Errorf("minor %d host %q keep-alive %v", r.ProtoMinor, r.Host, r.KeepAlive)
		}
	}},
	{name: "two identical Host", rule: "R28", in: h11 + "Host: example.com\r\n\r\n", status: 400},
	{name: "two Host on 1.0", rule: "R28", in: "GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n", status: 400},
	{name: "Host with space", rule: "R29", in: "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", status: 400},
	{name: "Host list", rule: "R29", in: "GET / HTTP/1.1\r\nHost: a,b\r\n\r\n", status: 400},
	{name: "Host with userinfo", rule: "R29", in: "GET / HTTP/1.1\r\nHost: u@h\r\n\r\n", status: 400},
	{name: "Host with path", rule: "R29", in: "GET / HTTP/1.1\r\nHost: h/p\r\n\r\n", status: 400},
	{name: "Host unclosed IPv6", rule: "R29", in: "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", status: 400},
	{name: "Host bad port", rule: "R29", in: "GET / HTTP/1.1\r\nHost: h:8x\r\n\r\n", status: 400},
	{name: "Host bad pct-encoding", rule: "R29", in: "GET / HTTP/1.1\r\nHost: a%2\r\n\r\n", status: 400},
	{name: "Host IPv6 with port", rule: "R29", in: "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", check: wantHeader("host", "[::1]:8080")},
	{name: "Host empty", rule: "R29", in: "GET / HTTP/1.1\r\nHost:\r\n\r\n", check: func(t *testing.T, r *Request) {
		if len(r.Host) != 0 {
			t.Errorf("host %q", r.Host)
		}
	}},
	{name: "empty authority", rule: "R30", in: "GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n", status: 400},
	{name: "userinfo in absolute-form", rule: "R64", in: "GET http://user:pw@h/ HTTP/1.1\r\nHost: h\r\n\r\n", status: 400},

	// E. Body framing.
	{name: "GET with Content-Length has a body", rule: "R31", in: "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", check: wantBody("hello")},
	{name: "no framing, no body", rule: "R31", in: post("", ""), check: func(t *testing.T, r *Request) {
		if r.Body != nil || r.ContentLength != -1 || r.HasBody() {
			t.Errorf("body %q cl %d", r.Body, r.ContentLength)
		}
	}},
	{name: "CL leading zeros", rule: "R32", in: post("Content-Length: 003\r\n", "abc"), check: wantBody("abc")},
	{name: "CL plus sign", rule: "R32", in: post("Content-Length: +5\r\n", "hello"), status: 400},
	{name: "CL negative", rule: "R32", in: post("Content-Length: -1\r\n", ""), status: 400},
	{name: "CL hex", rule: "R32", in: post("Content-Length: 0x5\r\n", "hello"), status: 400},
	{name: "CL inner space", rule: "R32", in: post("Content-Length: 1 0\r\n", "0123456789"), status: 400},
	{name: "CL empty", rule: "R32", in: post("Content-Length:\r\n", ""), status: 400},
	{name: "CL trailing junk", rule: "R32", in: post("Content-Length: 5x\r\n", "hello"), status: 400},
	{name: "CL semicolon", rule: "R32", in: post("Content-Length: 5;\r\n", "hello"), status: 400},
	{name: "CL underscore", rule: "R32", in: post("Content-Length: 1_0\r\n", "0123456789"), status: 400},
	{name: "CL non-ASCII digit", rule: "R32", in: post("Content-Length: \xd9\xa3\r\n", "abc"), status: 400},
	{name: "CL different values", rule: "R33", in: post("Content-Length: 5\r\nContent-Length: 6\r\n", "hello!"), status: 400},
	{name: "CL same value twice", rule: "R33", in: post("Content-Length: 5\r\nContent-Length: 5\r\n", "hello"), status: 400},
	{name: "CL list", rule: "R33", in: post("Content-Length: 5, 5\r\n", "hello"), status: 400},
	{name: "CL 2^64", rule: "R34", in: post("Content-Length: 18446744073709551616\r\n", ""), status: 400},
	{name: "CL 2^63", rule: "R34", in: post("Content-Length: 9223372036854775808\r\n", ""), status: 400},
	{name: "CL over the body limit", rule: "R34", in: post("Content-Length: 9223372036854775807\r\n", ""), status: 413},
	{name: "short body waits", rule: "R35", in: post("Content-Length: 10\r\n", "hello"), status: -1},
	{name: "TE then CL", rule: "R36", in: post("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", "0\r\n\r\n"), status: 400},
	{name: "CL then TE", rule: "R36", in: post("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n"), status: 400},
	{name: "CL then TE identity", rule: "R36", in: post("Content-Length: 5\r\nTransfer-Encoding: identity\r\n", "hello"), status: 400},
	{name: "TE identity", rule: "R37", in: post("Transfer-Encoding: identity\r\n", "hello"), status: 400},
	{name: "chunked then gzip", rule: "R37", in: post("Transfer-Encoding: chunked, gzip\r\n", "0\r\n\r\n"), status: 400},
	{name: "chunked then identity", rule: "R37", in: post("Transfer-Encoding: chunked, identity\r\n", "0\r\n\r\n"), status: 400},
	{name: "chunked line then gzip line", rule: "R37", in: post("Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n", "0\r\n\r\n"), status: 400},
	{name: "unknown coding alone", rule: "R37", in: post("Transfer-Encoding: foo\r\n", "0\r\n\r\n"), status: 400},
	{name: "empty TE", rule: "R37", in: post("Transfer-Encoding:\r\n", ""), status: 400},
	{name: "gzip then chunked", rule: "R38", in: post("Transfer-Encoding: gzip, chunked\r\n", "0\r\n\r\n"), status: 501},
	{name: "deflate line then chunked line", rule: "R39", in: post("Transfer-Encoding: deflate\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n"), status: 400},
	{name: "chunked line then empty line", rule: "R39", in: post("Transfer-Encoding: chunked\r\nTransfer-Encoding:\r\n", "0\r\n\r\n"), status: 400},
	{name: "Chunked in any case", rule: "R38", in: post("Transfer-Encoding: ChUnKeD\r\n", "0\r\n\r\n"), check: func(t *testing.T, r *Request) {
		if !r.Chunked || len(r.Body) != 0 {
			t.Errorf("chunked %v body %q", r.Chunked, r.Body)
		}
	}},
	{name: "NBSP before chunked", rule: "R38", in: post("Transfer-Encoding: \xa0chunked\r\n", "0\r\n\r\n"), status: 400},
	{name: "chunked twice", rule: "R39", in: post("Transfer-Encoding: chunked, chunked\r\n", "0\r\n\r\n"), status: 400},
	{name: "chunked on two lines", rule: "R39", in: post("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n"), status: 400},
	{name: "TE in HTTP/1.0", rule: "R40", in: "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", status: 400},
	{name: "parameter on chunked", rule: "R41", in: post("Transfer-Encoding: chunked;foo=bar\r\n", "0\r\n\r\n"), status: 400},
	{name: "CL over a small limit, no body sent", rule: "R42", in: post("Content-Length: 11\r\n", ""), status: 413, lim: Limits{MaxBodyBytes: 10}},
	{name: "CL at a small limit", rule: "R42", in: post("Content-Length: 10\r\n", "0123456789"), lim: Limits{MaxBodyBytes: 10}, check: wantBody("0123456789")},
	{name: "chunk size over the limit", rule: "R42", in: chunked("b\r\n"), status: 413, lim: Limits{MaxBodyBytes: 10}},
	{name: "chunks summing over the limit", rule: "R42", in: chunked("6\r\nhello!\r\n5\r\n"), status: 413, lim: Limits{MaxBodyBytes: 10}},
	{name: "empty TE elements", rule: "R43", in: post("Transfer-Encoding: , ,chunked\r\n", "3\r\nabc\r\n0\r\n\r\n"), check: wantBody("abc")},

	// F. Chunked.
	{name: "hex sizes, any case, leading zeros", rule: "R44", in: chunked("00A\r\n0123456789\r\nf\r\n0123456789abcde\r\n000\r\n\r\n"), check: wantBody("01234567890123456789abcde")},
	{name: "size 0x5", rule: "R44", in: chunked("0x5\r\nhello\r\n0\r\n\r\n"), status: 400},
	{name: "size +5", rule: "R44", in: chunked("+5\r\nhello\r\n0\r\n\r\n"), status: 400},
	{name: "size -5", rule: "R44", in: chunked("-5\r\nhello\r\n0\r\n\r\n"), status: 400},
	{name: "size 5_0", rule: "R44", in: chunked("5_0\r\nhello\r\n0\r\n\r\n"), status: 400},
	{name: "empty size line", rule: "R44", in: chunked("\r\nhello\r\n0\r\n\r\n"), status: 400},
	{name: "space before size", rule: "R44", in: chunked(" 5\r\nhello\r\n0\r\n\r\n"), status: 400},
	{name: "space after size", rule: "R44", in: chunked("5 \r\nhello\r\n0\r\n\r\n"), status: 400},
	{name: "BWS before extension", rule: "R46", in: chunked("5 ;a=b\r\nhello\r\n0\r\n\r\n"), check: wantBody("hello")},
	{name: "size overflows 64 bits", rule: "R45", in: chunked("10000000000000000\r\n"), status: 400},
	{name: "size 2^64-1 is over the limit", rule: "R45", in: chunked("ffffffffffffffff\r\n"), status: 413},
	{name: "extensions ignored", rule: "R46", in: chunked("5;a=b;c;d=\"q \\\" ;x\" ; e = f\r\nhello\r\n0;last\r\n\r\n"), check: wantBody("hello")},
	{name: "semicolon without name", rule: "R46", in: chunked("5;\r\nhello\r\n0\r\n\r\n"), status: 400},
	{name: "extension with empty name", rule: "R46", in: chunked("5;=b\r\nhello\r\n0\r\n\r\n"), status: 400},
	{name: "unterminated quoted extension", rule: "R46", in: chunked("5;a=\"b\r\nhello\r\n0\r\n\r\n"), status: 400},
	{name: "CTL in extension", rule: "R46", in: chunked("5;a\x01\r\nhello\r\n0\r\n\r\n"), status: 400},
	{name: "bare CR in extension", rule: "R46", in: chunked("5;a\rb\r\nhello\r\n0\r\n\r\n"), status: 400},
	{name: "trailing space after extension", rule: "R46", in: chunked("5;a=b \r\nhello\r\n0\r\n\r\n"), status: 400},
	{name: "extensions over the limit", rule: "R46", in: chunked("5;" + strings.Repeat("a", 40) + "\r\nhello\r\n0\r\n\r\n"), status: 400, lim: Limits{MaxChunkExtBytes: 32}},
	{name: "more data than declared", rule: "R47", in: chunked("5\r\nhelloX\r\n0\r\n\r\n"), status: 400},
	{name: "data without CRLF", rule: "R47", in: chunked("5\r\nhello0\r\n\r\n"), status: 400},
	{name: "no last chunk waits", rule: "R48", in: chunked("5\r\nhello\r\n"), status: -1},
	{name: "no final CRLF waits", rule: "R48", in: chunked("5\r\nhello\r\n0\r\n"), status: -1},
	{name: "LF after size", rule: "R49", in: chunked("5\nhello\r\n0\r\n\r\n"), status: 400},
	{name: "LF after data", rule: "R49", in: chunked("5\r\nhello\n0\r\n\r\n"), status: 400},
	{name: "CR CR after size", rule: "R49", in: chunked("6\r\r;ABCD\r\n"), status: 400},
	{name: "CR without LF after data", rule: "R49", in: chunked("5\r\nhello\r0\r\n\r\n"), status: 400},
	{name: "Content-Length trailer", rule: "R50", in: chunked("5\r\nhello\r\n0\r\nContent-Length: 99\r\n\r\n"), status: 400},
	{name: "Transfer-Encoding trailer", rule: "R50", in: chunked("5\r\nhello\r\n0\r\ntransfer-encoding: chunked\r\n\r\n"), status: 400},
	{name: "Host trailer", rule: "R50", in: chunked("5\r\nhello\r\n0\r\nHost: evil\r\n\r\n"), status: 400},
	{name: "trailers kept apart", rule: "R50", in: chunked("5\r\nhello\r\n0\r\nX-Check: 1\r\nX-Sum: abc\r\n\r\n"), check: func(t *testing.T, r *Request) {
		if len(r.Trailers) != 2 || string(r.Trailers[0].Name) != "X-Check" || string(r.Trailers[1].Value) != "abc" {
			t.Errorf("trailers %q", r.Trailers)
		}
		if _, ok := r.Header("X-Sum"); ok || string(r.Body) != "hello" {
			t.Errorf("trailer leaked into headers, or body %q", r.Body)
		}
	}},
	{name: "obs-fold in trailer", rule: "R50", in: chunked("0\r\nA: b\r\n c\r\n\r\n"), status: 400},
	{name: "space before colon in trailer", rule: "R50", in: chunked("0\r\nA : b\r\n\r\n"), status: 400},
	{name: "trailer section over the limit", rule: "R50", in: chunked("0\r\nA: " + strings.Repeat("b", 100) + "\r\n\r\n"), status: 431, lim: Limits{MaxHeaderBytes: 80}},

	// G. Connection management.
	{name: "HTTP/1.0 keep-alive", rule: "R51", in: "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", check: func(t *testing.T, r *Request) {
		if !r.KeepAlive {
			t.Error("HTTP/1.0 keep-alive not honoured")
		}
	}},
	{name: "HTTP/1.1 persistent by default", rule: "R51", in: h11 + "\r\n", check: func(t *testing.T, r *Request) {
		if !r.KeepAlive {
			t.Error("HTTP/1.1 not persistent")
		}
	}},
	{name: "Connection: close", rule: "R52", in: h11 + "Connection: close\r\n\r\n", check: func(t *testing.T, r *Request) {
		if r.KeepAlive {
			t.Error("keep-alive despite close")
		}
	}},
	{name: "Upgrade parsed as plain request", rule: "R52", in: h11 + "Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n", check: func(t *testing.T, r *Request) {
		if !r.Upgrade || !r.KeepAlive {
			t.Errorf("upgrade %v keep-alive %v", r.Upgrade, r.KeepAlive)
		}
	}},

	// H. Expect.
	{name: "100-continue with a body", rule: "R56", in: post("Expect: 100-Continue\r\nContent-Length: 5\r\n", "hello"), check: func(t *testing.T, r *Request) {
		if !r.Expect100 {
			t.Error("Expect100 not set")
		}
	}},
	{name: "100-continue without a body", rule: "R56", in: h11 + "Expect: 100-continue\r\n\r\n", check: func(t *testing.T, r *Request) {
		if r.Expect100 {
			t.Error("Expect100 set for a request without a body")
		}
	}},
	{name: "100-continue on HTTP/1.0 ignored", rule: "R57", in: "POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx", check: func(t *testing.T, r *Request) {
		if r.Expect100 {
			t.Error("Expect100 set on HTTP/1.0")
		}
	}},
	{name: "unknown expectation", rule: "R58", in: h11 + "Expect: teapot\r\n\r\n", status: 417},
}

func TestRules(t *testing.T) {
	for _, tc := range ruleCases {
		t.Run(tc.rule+"/"+tc.name, func(t *testing.T) {
			got := whole(tc.lim, []byte(tc.in))
			switch {
			case tc.status == 0:
				if got.err != "" || len(got.msgs) != 1 {
					t.Fatalf("want accept, got %v", got)
				}
				var p Parser
				p.SetLimits(tc.lim)
				var r Request
				n, err := p.Parse([]byte(tc.in), &r)
				if err != nil || n != len(tc.in) {
					t.Fatalf("Parse = %d, %v; want %d", n, err, len(tc.in))
				}
				if tc.check != nil {
					tc.check(t, &r)
				}
			case tc.status == -1:
				if got.err != "need-more" {
					t.Fatalf("want need-more, got %v", got)
				}
			default:
				var p Parser
				p.SetLimits(tc.lim)
				var r Request
				_, err := p.Parse([]byte(tc.in), &r)
				var e *Error
				if !errors.As(err, &e) || e.Status != tc.status {
					t.Fatalf("want %d, got %v (%v)", tc.status, err, got)
				}
				if e.Offset < 0 || e.Offset > len(tc.in) || e.Reason == "" {
					t.Errorf("bad error fields: %+v", e)
				}
			}
			if bw := bytewise(tc.lim, []byte(tc.in)); bw.String() != got.String() {
				t.Errorf("split changes the result:\nwhole:    %v\nbytewise: %v", got, bw)
			}
		})
	}
}

func TestSetBodyLimit(t *testing.T) {
	for _, tc := range []struct {
		name   string
		in     string
		limit  int64
		status int
	}{
		{"CL under", post("Content-Length: 5\r\n", "hello"), 5, 0},
		{"CL over", post("Content-Length: 6\r\n", "hello!"), 5, 413},
		{"chunked under", chunked("5\r\nhello\r\n0\r\n\r\n"), 5, 0},
		{"chunked over", chunked("5\r\nhello\r\n1\r\n!\r\n0\r\n\r\n"), 5, 413},
	} {
		var p Parser
		p.SetLimits(Limits{MaxBodyBytes: -1})
		var r Request
		in := []byte(tc.in)
		head := bytes.Index(in, []byte("\r\n\r\n")) + 4
		if _, err := p.Parse(in[:head], &r); err != ErrNeedMore || !p.InBody() {
			t.Fatalf("%s: head: %v", tc.name, err)
		}
		p.SetBodyLimit(tc.limit)
		_, err := p.Parse(in, &r)
		var e *Error
		switch {
		case tc.status == 0 && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.status != 0 && (!errors.As(err, &e) || e.Status != tc.status):
			t.Errorf("%s: want %d, got %v", tc.name, tc.status, err)
		}
		// The next request has the configured limit again.
		if _, err := p.Parse([]byte(post("Content-Length: 6\r\n", "hello!")), &r); err != nil {
			t.Errorf("%s: limit kept for the next request: %v", tc.name, err)
		}
	}
}

// TestSetBodyLimitAfterBody: a limit lowered after the first Parse has
// already decoded part of a chunked body (a server decides to buffer once
// it has seen the head, and the first read held more) still applies: the
// next Parse answers 413, whether the bytes already decoded pass the new
// limit or the chunk under way would.
func TestSetBodyLimitAfterBody(t *testing.T) {
	for _, tc := range []struct {
		name  string
		first string // body bytes the first Parse sees
		rest  string
	}{
		{"decoded past the limit", "c\r\nhello world!\r\n", "0\r\n\r\n"},
		{"chunk under way would pass it", "14\r\nhello", " world, and more!!!\r\n0\r\n\r\n"},
	} {
		var p Parser
		p.SetLimits(Limits{MaxBodyBytes: -1})
		var r Request
		in := []byte(chunked(tc.first))
		if _, err := p.Parse(in, &r); err != ErrNeedMore || !p.InBody() {
			t.Fatalf("%s: first parse: %v", tc.name, err)
		}
		p.SetBodyLimit(5)
		_, err := p.Parse(append(in, tc.rest...), &r)
		var e *Error
		if !errors.As(err, &e) || e.Status != 413 {
			t.Errorf("%s: want 413, got %v", tc.name, err)
		}
	}
}
