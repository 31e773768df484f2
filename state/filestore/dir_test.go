package filestore

import "testing"

func TestDir(t *testing.T) {
	for loc, want := range map[string]string{
		"":            ".ferry",
		"./state":     "./state",
		"file:/var/x": "/var/x",
		"/abs/dir":    "/abs/dir",
	} {
		if got := Dir(loc); got != want {
			t.Errorf("Dir(%q) = %q, want %q", loc, got, want)
		}
	}
}
