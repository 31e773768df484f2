package postgres

import (
	"bytes"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"unicode/utf8"
)

// checkFastFloat fails when fastFloat accepts s with another value than
// strconv.ParseFloat gives.
func checkFastFloat(t *testing.T, s string) {
	t.Helper()
	f, ok := fastFloat([]byte(s))
	if !ok {
		return
	}
	want, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("fastFloat(%q) = %v, strconv fails: %v", s, f, err)
	}
	if math.Float64bits(f) != math.Float64bits(want) {
		t.Fatalf("fastFloat(%q) = %v (%x), strconv %v (%x)", s, f, math.Float64bits(f), want, math.Float64bits(want))
	}
}

func TestFastFloat(t *testing.T) {
	for _, s := range []string{"0", "-0", "+0", "0.0", "-0.0", "1", "286.80", "561.01", "0.1", "0.3", "123456789012345",
		"1234567890.12345", "999999999999999", "0.00000000000001", "-12.5", "+7.25", "00012.500"} {
		if _, ok := fastFloat([]byte(s)); !ok {
			t.Errorf("fastFloat(%q) falls back", s)
		}
		checkFastFloat(t, s)
	}
	for _, s := range []string{"", "-", "+", ".", "5.", ".5", "1e5", "1_0", "0x1p3", "NaN", "inf", "1.2.3", "--1", "1234567890123456", "12345678.123456789", " 1"} {
		if f, ok := fastFloat([]byte(s)); ok {
			t.Errorf("fastFloat(%q) = %v, want a fall back to strconv", s, f)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200_000 {
		var b []byte
		if r.IntN(3) == 0 {
			b = append(b, "-+"[r.IntN(2)])
		}
		for range 1 + r.IntN(15) {
			b = append(b, byte('0'+r.IntN(10)))
		}
		if r.IntN(4) != 0 {
			b = append(b, '.')
			for range 1 + r.IntN(15) {
				b = append(b, byte('0'+r.IntN(10)))
			}
		}
		checkFastFloat(t, string(b))
	}
}

func FuzzFastFloat(f *testing.F) {
	for _, s := range []string{"286.80", "-0.0", "1e5", "999999999999999.9"} {
		f.Add(s)
	}
	f.Fuzz(checkFastFloat)
}

func TestCleanText(t *testing.T) {
	for _, s := range []string{"", "a", "abcdefgh", "abcdefghi", "café", "said \"hi\", café and more text",
		"a\x00", "abcdefg\x00", "abcdefgh\x00", "\x00abcdefghijk", "abc\xff", "abcdefghijklmno\xc3", "abcdefgh\xc3\xa9ijklmnop\x00",
		"\x80\x80\x80\x80\x80\x80\x80\x80", "\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f", "\x01\x01\x01\x01\x01\x01\x01\x01"} {
		want := utf8.ValidString(s) && !bytes.Contains([]byte(s), []byte{0})
		if got := cleanText([]byte(s)); got != want {
			t.Errorf("cleanText(%q) = %v, want %v", s, got, want)
		}
	}
}

func FuzzCleanText(f *testing.F) {
	for _, s := range []string{"abcdefgh\x00", "café", "\x01\x01\x01\x01\x01\x01\x01\x01\x81"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		want := utf8.Valid(v) && bytes.IndexByte(v, 0) < 0
		if got := cleanText(v); got != want {
			t.Fatalf("cleanText(%q) = %v, want %v", v, got, want)
		}
	})
}
