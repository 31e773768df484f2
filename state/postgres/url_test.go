package postgres

import "testing"

func TestIsURL(t *testing.T) {
	for s, want := range map[string]bool{
		"postgres://u@h/db":        true,
		"postgresql://h:5433/db":   true,
		"host=h dbname=db user=u":  true,
		"dbname=db":                true,
		"./state":                  false,
		"file:/var/lib/ferry":      false,
		"stdout":                   false,
		"s3://bucket/postgres://x": false,
		"":                         false,
	} {
		if got := IsURL(s); got != want {
			t.Errorf("IsURL(%q) = %v, want %v", s, got, want)
		}
	}
}
