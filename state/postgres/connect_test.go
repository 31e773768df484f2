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
