// idle opens -n keep-alive connections to -addr, sends one GET on each,
// reads the answer, prints "ready N" and holds them until stdin closes.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "")
	n := flag.Int("n", 5000, "")
	flag.Parse()
	conns := make([]net.Conn, *n)
	var ok atomic.Int64
	var next atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for w := 0; w < 64; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= *n {
					return
				}
				c, err := net.Dial("tcp", *addr)
				if err != nil {
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				if _, err = io.WriteString(c, "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n"); err == nil {
					var resp *http.Response
					resp, err = http.ReadResponse(bufio.NewReader(c), nil)
					if err == nil {
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					}
				}
				if err != nil {
					firstErr.CompareAndSwap(nil, err.Error())
					c.Close()
					continue
				}
				conns[i] = c
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	fmt.Printf("ready %d err=%v\n", ok.Load(), firstErr.Load())
	io.Copy(io.Discard, os.Stdin)
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
}
