package http1_test

import (
	"fmt"

	"github.com/sluice-go/sluice/codec/http1"
)

func ExampleParser_Parse() {
	in := []byte("POST /orders?id=7 HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 5\r\n\r\nhello" +
		"GET / HTTP/1.1\r\nHost : shop.example\r\n\r\n")
	var p http1.Parser
	var req http1.Request
	for len(in) > 0 {
		n, err := p.Parse(in, &req)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s %s query=%s host=%s body=%q\n", req.Method, req.Path, req.Query, req.Host, req.Body)
		in = in[n:]
	}
	// Output:
	// POST /orders query=id=7 host=shop.example body="hello"
	// http1: 400 whitespace in field name or before the colon (R20) at offset 20 near ".1\r\nHost : shop.example\r\n\r\n"
}

func ExampleAppendResponseHeader() {
	var p http1.Parser
	var req http1.Request
	p.Parse([]byte("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"), &req)
	h := http1.ResponseHeader{Status: 200, ContentLength: -1, ContentType: []byte("text/plain")}
	_, framing, keep := http1.AppendResponseHeader(nil, &req, &h)
	fmt.Println(framing == http1.FramingClose, keep)
	// Output: true false
}
