package loadgen

import (
	"bufio"
	"strings"
	"testing"
)

func TestReadResponse(t *testing.T) {
	r := bufio.NewReader(strings.NewReader("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-I: 7\r\nServer: x\r\n\r\nhelloHTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n"))
	body := make([]byte, 16)
	if st, xi, n, err := ReadResponse(r, body, "X-I"); st != 200 || xi != 7 || string(body[:n]) != "hello" || err != nil {
		t.Fatalf("%d %d %q %v", st, xi, body[:n], err)
	}
	if st, xi, n, err := ReadResponse(r, body, "X-I"); st != 404 || xi != -1 || n != 0 || err != nil {
		t.Fatalf("%d %d %d %v", st, xi, n, err)
	}
	if _, _, _, err := ReadResponse(r, body, ""); err == nil {
		t.Fatal("a body larger than the buffer was read")
	}
	if _, _, _, err := ReadResponse(bufio.NewReader(strings.NewReader("SSH-2.0-x\r\n\r\n")), body, ""); err == nil {
		t.Fatal("a status line that is not HTTP/1.x was taken")
	}
	const ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-I: 3\r\n\r\nok"
	sr := strings.NewReader(ok)
	br := bufio.NewReader(sr)
	if a := testing.AllocsPerRun(100, func() {
		sr.Reset(ok)
		br.Reset(sr)
		if st, xi, n, err := ReadResponse(br, body, "X-I"); st != 200 || xi != 3 || n != 2 || err != nil {
			t.Fatalf("%d %d %d %v", st, xi, n, err)
		}
	}); a != 0 {
		t.Fatalf("%v allocations per response", a)
	}
}

func TestAtoi(t *testing.T) {
	for in, want := range map[string]int{"0": 0, "200": 200, "": 0, "12a": -1, "-1": -1} {
		if got := Atoi([]byte(in)); got != want {
			t.Errorf("Atoi(%q) = %d, want %d", in, got, want)
		}
	}
}
