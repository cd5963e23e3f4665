package bytesconv

import "testing"

func TestRoundTrip(t *testing.T) {
	for _, s := range []string{"", "a", "Hello, World!"} {
		if got := B2S(S2B(s)); got != s {
			t.Errorf("B2S(S2B(%q)) = %q", s, got)
		}
	}
	if B2S(nil) != "" || len(S2B("")) != 0 {
		t.Error("empty conversions must give empty values")
	}
}

func TestAliases(t *testing.T) {
	b := []byte("abc")
	s := B2S(b)
	b[0] = 'x'
	if s != "xbc" {
		t.Errorf("B2S must alias its input, got %q", s)
	}
}
