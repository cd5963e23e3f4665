//go:build !sluice_stdjson && ((amd64 && go1.17 && !go1.28) || (arm64 && go1.20 && !go1.28))

package json

import (
	"testing"

	"github.com/bytedance/sonic"
)

// TestSonicFastPath fails if sonic compiled itself as its encoding/json
// fallback where backend_sonic.go expects its JIT (the constraints drifted
// apart, e.g. after a sonic upgrade).
func TestSonicFastPath(t *testing.T) {
	if sonic.APIKind != sonic.UseSonicJSON {
		t.Fatalf("sonic.APIKind = %d: sonic fell back to encoding/json on this platform", sonic.APIKind)
	}
	if Backend != "sonic" {
		t.Fatalf("Backend = %q", Backend)
	}
}
