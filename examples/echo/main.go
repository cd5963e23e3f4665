// Command echo answers /echo, any method, with a JSON description of the
// request exactly as the server parsed it:
//
//	{"method": str, "path": str, "query": str, "proto": "HTTP/1.1" or "HTTP/1.0",
//	 "headers": [[name, value], ...], "body": str, "trailers": [[name, value], ...]}
//
// Headers are in the order received with names as sent; path and query
// are raw (not percent-decoded); body is de-chunked. Strings that are
// valid UTF-8 are sent as they are; a string that is not is sent as its
// bytes read as Latin-1 (every byte >= 0x80 as \u00XX), so the bytes can
// be recovered exactly. Any other path gets 404. This example is the
// conformance contract of the whole server: every request it answers 200
// must be described exactly.
package main

import (
	"strconv"
	"unicode/utf8"

	"github.com/sluice-go/sluice"
	"github.com/sluice-go/sluice/examples/internal/cli"
)

func main() { cli.Main(func(*cli.Flags) sluice.Handler { return routes() }) }

func routes() *sluice.Mux {
	mux := sluice.NewMux()
	mux.HandleFunc("/echo", echo)
	return mux
}

func echo(c *sluice.Ctx) {
	r := c.Request()
	b := make([]byte, 0, 256+len(r.Body))
	b = append(b, `{"method":`...)
	b = appendString(b, r.Method)
	b = append(b, `,"path":`...)
	b = appendString(b, r.Path)
	b = append(b, `,"query":`...)
	b = appendString(b, r.Query)
	b = append(b, `,"proto":`...)
	b = appendString(b, []byte(c.Proto()))
	b = append(b, `,"headers":`...)
	b = appendFields(b, r.Headers)
	b = append(b, `,"body":`...)
	b = appendString(b, r.Body)
	b = append(b, `,"trailers":`...)
	b = appendFields(b, r.Trailers)
	b = append(b, '}')
	_ = c.Bytes(200, "application/json", b)
}

func appendFields(b []byte, fs []sluice.Header) []byte {
	b = append(b, '[')
	for i, f := range fs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		b = appendString(b, f.Name)
		b = append(b, ',')
		b = appendString(b, f.Value)
		b = append(b, ']')
	}
	return append(b, ']')
}

// appendString appends s as a JSON string: UTF-8 kept, or every byte >=
// 0x80 escaped when s is not valid UTF-8; quotes, backslashes and control
// bytes escaped.
func appendString(b []byte, s []byte) []byte {
	latin1 := !utf8.Valid(s)
	b = append(b, '"')
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20 || c == 0x7f || c >= 0x80 && latin1:
			b = append(b, `\u00`...)
			if c < 0x10 {
				b = append(b, '0')
			}
			b = strconv.AppendUint(b, uint64(c), 16)
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
