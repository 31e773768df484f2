package main

import (
	"bytes"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImportsFollowTheFlow holds the packages to DESIGN.md's flow:
// source → pusher (→ parsequeue) → targets / state. Only cmd imports
// source; targets and state use only the pusher's model (and targets may
// use state); the pusher and the parse queue import neither source,
// targets nor state; nothing imports cmd.
func TestImportsFollowTheFlow(t *testing.T) {
	const module = "github.com/ferrydata/ferry/"
	root := filepath.Join("..", "..")
	allowed := map[string][]string{ // top-level folder: what it may import
		"cmd":         {"cmd", "source", "pusher", "parsequeue", "state", "targets"},
		"source":      {"source", "pusher", "parsequeue", "state"},
		"pusher":      {"pusher", "parsequeue"},
		"parsequeue":  {"parsequeue"},
		"state":       {"state", "pusher"},
		"targets":     {"targets", "pusher", "state"},
		"integration": {"integration"}, // non-test code: the benchmark programs
	}
	checked := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if path != root && strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules" || d.Name() == "testdata" || rel == "bin" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		top := strings.Split(filepath.ToSlash(rel), "/")[0]
		ok, known := allowed[top]
		if !known {
			t.Errorf("%s: top-level folder %q is not in DESIGN.md's layout", rel, top)
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		checked++
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if !strings.HasPrefix(p, module) {
				continue
			}
			to := strings.Split(strings.TrimPrefix(p, module), "/")[0]
			if !contains(ok, to) {
				t.Errorf("%s imports %s: %s may import only %v", rel, p, top, ok)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 50 {
		t.Fatalf("checked only %d files: is the walk rooted at the repository?", checked)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// maxFileLines bounds every non-test Go file of the repository: a longer
// one mixes concepts, and is split by concept (DESIGN.md's layout says
// where each goes).
const maxFileLines = 600

// TestFileSizes holds every non-test Go file to maxFileLines.
func TestFileSizes(t *testing.T) {
	root := filepath.Join("..", "..")
	checked := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if path != root && strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules" || d.Name() == "testdata" || rel == "bin" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		checked++
		if n := bytes.Count(b, []byte("\n")); n > maxFileLines {
			t.Errorf("%s: %d lines, more than %d: split it by concept", rel, n, maxFileLines)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 50 {
		t.Fatalf("checked only %d files: is the walk rooted at the repository?", checked)
	}
}

// maxCmdLines bounds the command line's non-test Go: cmd maps flags and
// the config file onto the components' configurations, validates, builds
// the parts and turns results into exit statuses; the engine and what it
// reads, writes and shows live outside it (DESIGN.md).
const maxCmdLines = 900

// TestCmdSize holds cmd/ to maxCmdLines lines of non-test Go.
func TestCmdSize(t *testing.T) {
	total, files := 0, 0
	err := filepath.WalkDir(filepath.Join("..", "..", "cmd"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		b, err := os.ReadFile(path)
		total += bytes.Count(b, []byte("\n"))
		files++
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 3 {
		t.Fatalf("found only %d files under cmd/: is the walk rooted at the repository?", files)
	}
	if total > maxCmdLines {
		t.Errorf("cmd/ holds %d lines of non-test Go, more than %d: move what is not the command line's to the component it configures", total, maxCmdLines)
	}
	t.Logf("cmd/: %d lines of non-test Go in %d files", total, files)
}
