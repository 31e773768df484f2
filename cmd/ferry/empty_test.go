package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSnapshotMatchingNothing: a snapshot whose source matches no file
// says what it listed and exits 1, unless --allow-empty; a single file
// is a source.
func TestSnapshotMatchingNothing(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(filepath.Join(src, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"a.csv": "id\n1\n", "b.csv": "id\n2\n", ".hidden.csv": "id\n3\n"} {
		if err := os.WriteFile(filepath.Join(src, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "out.jsonl")
	snapshot := func(source string, args ...string) (int, string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		args = append([]string{"snapshot", "--source", source, "--target", "file:" + out,
			"--state", filepath.Join(dir, "state"), "--progress", "none", "--log-level", "warn"}, args...)
		code := run(args, &stdout, &stderr)
		return code, stderr.String()
	}
	for _, tc := range []struct {
		name   string
		source string
		args   []string
		code   int
		want   []string
	}{
		{"empty directory", filepath.Join(src, "empty"), nil, exitFailed, []string{"no files matched in file://", "the listing found no keys"}},
		{"empty directory, allowed", filepath.Join(src, "empty"), []string{"--allow-empty"}, exitOK, []string{"no files matched", "(--allow-empty)"}},
		{"include matches nothing", src, []string{"--include", "*.json"}, exitFailed, []string{"3 keys listed", "2 left out by --include/--exclude", "1 hidden"}},
		{"since leaves out all", src, []string{"--since", "2999-01-01"}, exitFailed, []string{"3 keys listed", "2 older than --since"}},
		{"single file", filepath.Join(src, "b.csv"), nil, exitOK, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stderr := snapshot(tc.source, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tc.code, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr does not say %q:\n%s", w, stderr)
				}
			}
		})
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "{\"id\":\"2\"}\n" {
		t.Fatalf("output %q, want the single file's record alone", got)
	}
	// Its re-run is not empty: nothing new to load, exit 0.
	if code, stderr := snapshot(filepath.Join(src, "b.csv")); code != exitOK || !strings.Contains(stderr, "nothing new to load") {
		t.Fatalf("re-run of the single file: exit %d\n%s", code, stderr)
	}
}

// TestPlanMatchingNothing: ferry plan says a snapshot of a source that
// matches no file would fail, as the snapshot does, unless --allow-empty.
func TestPlanMatchingNothing(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{nil, exitFailed, "no files matched in file://"},
		{[]string{"--allow-empty"}, exitOK, "The load would succeed"},
	} {
		var stdout, stderr bytes.Buffer
		args := append([]string{"plan", "--source", dir, "--state", filepath.Join(dir, ".state"), "--log-level", "warn"}, tc.args...)
		if code := run(args, &stdout, &stderr); code != tc.code {
			t.Fatalf("%q: exit %d, want %d; stdout:\n%s\nstderr:\n%s", tc.args, code, tc.code, &stdout, &stderr)
		}
		if !strings.Contains(stdout.String(), tc.want) {
			t.Errorf("%q: the plan does not say %q:\n%s", tc.args, tc.want, &stdout)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, ".state")); !os.IsNotExist(err) {
		t.Errorf("plan made its state directory: %v", err)
	}
}

// TestBadTargetURLIsUsage: a PostgreSQL URL that does not parse is a
// usage error (exit 2) for the jobs and for ferry plan alike.
func TestBadTargetURLIsUsage(t *testing.T) {
	for _, cmd := range []string{"snapshot", "plan"} {
		var stdout, stderr bytes.Buffer
		args := []string{cmd, "--source", t.TempDir(), "--target", "postgres://h/db?sslmode=bogus", "--table", "t", "--progress", "none"}
		if cmd == "plan" {
			args = args[:len(args)-2]
		}
		if code := run(args, &stdout, &stderr); code != exitUsage || !strings.Contains(stderr.String(), "invalid PostgreSQL URL") {
			t.Errorf("%s: exit %d, want %d; stderr: %s", cmd, code, exitUsage, &stderr)
		}
	}
}
