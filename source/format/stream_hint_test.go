package format

import (
	"strings"
	"testing"
)

// TestStreamSizeHint: the read buffer starts no larger than the hint (at
// least 4 KiB), and without one at the reader's size.
func TestStreamSizeHint(t *testing.T) {
	for _, tt := range []struct {
		hint int64
		want int
	}{{0, 1 << 20}, {100, 4 << 10}, {300 << 10, 300 << 10}, {4 << 20, 1 << 20}} {
		s := NewStream(strings.NewReader(""), "test", 1<<20, Options{SizeHint: tt.hint})
		if len(s.Buf) != tt.want {
			t.Errorf("hint %d: buffer of %d bytes, want %d", tt.hint, len(s.Buf), tt.want)
		}
	}
}
