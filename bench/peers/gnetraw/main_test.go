package main

import (
	"strconv"
	"testing"
)

func TestFrame(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		n       int
		resp    response
		closing bool
	}{
		{name: "partial head", in: "GET /plaintext HTTP/1.1\r\nHost: a\r\n", n: 0},
		{name: "plaintext", in: "GET /plaintext HTTP/1.1\r\nHost: a\r\n\r\n", n: 36, resp: respPlaintext},
		{name: "json", in: "GET /json HTTP/1.1\r\nHost: a\r\n\r\n", n: 31, resp: respJSON},
		{name: "pipelined takes the first", in: "GET /json HTTP/1.1\r\n\r\nGET /plaintext HTTP/1.1\r\n\r\n", n: 22, resp: respJSON},
		{name: "post body complete", in: "POST /decode HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}GET", n: 46, resp: respDecode},
		{name: "post body partial", in: "POST /decode HTTP/1.1\r\ncontent-length: 5\r\n\r\n{}", n: 0},
		{name: "bad content-length", in: "POST /decode HTTP/1.1\r\nContent-Length: x\r\n\r\n", n: -1},
		{name: "connection close", in: "GET /plaintext HTTP/1.1\r\nConnection: Close\r\n\r\n", n: 46, resp: respPlaintext, closing: true},
		{name: "unknown path", in: "GET / HTTP/1.1\r\n\r\n", n: 18, resp: respNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, resp, closing := frame([]byte(tt.in))
			if n != tt.n || (n > 0 && (resp != tt.resp || closing != tt.closing)) {
				t.Errorf("frame(%q) = %d, %d, %v; want %d, %d, %v", tt.in, n, resp, closing, tt.n, tt.resp, tt.closing)
			}
		})
	}
}

func TestResponseLengths(t *testing.T) {
	for r, body := range bodies {
		want := "Content-Length: " + strconv.Itoa(len(body)) + "\r\n"
		if got := responses[r].tail; len(got) < len(want) || got[len(got)-len(want):] != want {
			t.Errorf("response %d: tail %q does not end with %q", r, got, want)
		}
	}
}
