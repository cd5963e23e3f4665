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

func TestOffset(t *testing.T) {
	b := []byte("hello, world")
	if off, ok := Offset(B2S(b[7:12]), b); !ok || off != 7 {
		t.Fatalf("Offset = %d, %v", off, ok)
	}
	if _, ok := Offset("world", b); ok {
		t.Fatal("a string that is not a view must not be found")
	}
	if _, ok := Offset(B2S(b[7:12]), b[:8]); ok {
		t.Fatal("a view past the end of b must not be found")
	}
}
