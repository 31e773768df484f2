package main

import (
	"path/filepath"
	"testing"
)

// TestCorpusUpToDate: the committed corpus holds what the generators make.
func TestCorpusUpToDate(t *testing.T) {
	files, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	if bad := Check(filepath.Join("..", "..", "testdata", "corpus"), files); len(bad) > 0 {
		t.Fatalf("generated corpus files missing or stale (run go run ./integration/corpusgen from the repository root): %v", bad)
	}
}
