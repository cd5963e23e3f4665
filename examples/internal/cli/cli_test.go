package cli_test

import (
	"io"
	"net/http"
	"testing"

	"go.uber.org/goleak"

	"github.com/sluice-go/sluice"
	"github.com/sluice-go/sluice/examples/internal/cli"
	"github.com/sluice-go/sluice/examples/internal/clitest"
)

func TestRunPrintsAndStops(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent()) // gnet starts a process-wide ants pool at init
	for _, model := range []string{"reactor", "single", "perconn"} {
		addr, stop := clitest.Start(t, model, false, sluice.HandlerFunc(func(c *sluice.Ctx) { _ = c.String(200, "ok") }))
		tr := &http.Transport{}
		resp, err := (&http.Client{Transport: tr}).Get("http://" + addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		tr.CloseIdleConnections()
		if string(b) != "ok" {
			t.Fatalf("%s: got %q", model, b)
		}
		if err := stop(); err != nil {
			t.Fatalf("%s: Run returned %v", model, err)
		}
	}
}

func TestBadModel(t *testing.T) {
	f := cli.Flags{Model: "threads"}
	if _, err := f.Config(); err == nil {
		t.Fatal("unknown model accepted")
	}
}
