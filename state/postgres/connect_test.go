package postgres

import (
	"errors"
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	got := Redact(errors.New(`cannot parse "host=x password=s3cret dbname=y"`))
	if strings.Contains(got, "s3cret") {
		t.Fatal(got)
	}
}

func TestApplicationName(t *testing.T) {
	for in, want := range map[string]string{
		"ferry/p":                           "ferry/p",
		"ferry/données\n":                   "ferry/donn??es?",
		"ferry/" + strings.Repeat("x", 100): "ferry/" + strings.Repeat("x", 57),
	} {
		if got := ApplicationName(in); got != want {
			t.Errorf("ApplicationName(%q) = %q; want %q", in, got, want)
		}
	}
}
