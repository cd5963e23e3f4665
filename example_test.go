package sluice_test

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/sluice-go/sluice"
)

func Example() {
	mux := sluice.NewMux()
	mux.HandleFunc("GET /hello/{name}", func(c *sluice.Ctx) {
		_ = c.String(200, "Hello, "+c.PathValue("name")+"!")
	})
	srv := &sluice.Server{Handler: mux}
	if err := srv.Start("127.0.0.1:0"); err != nil { // or ListenAndServe
		panic(err)
	}
	defer srv.Shutdown(context.Background())

	resp, err := http.Get("http://" + srv.Addr().String() + "/hello/gopher")
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, string(body))
	// Output: 200 Hello, gopher!
}
