package main

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// corpusRoot is the conformance corpus (see testdata/corpus/README.md).
var corpusRoot = filepath.Join("..", "..", "testdata", "corpus")

// corpusCase is one case of the corpus.
type corpusCase struct {
	name  string // path relative to the corpus root, slash-separated
	path  string // the input file
	flags []string
	want  []byte // expected JSON lines, when not fail
	fail  string // substring of the error, when it must fail
}

// loadCorpus returns every case under root.
func loadCorpus(t *testing.T, root string) []corpusCase {
	t.Helper()
	var cases []corpusCase
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		name := d.Name()
		if name == "README.md" || strings.HasPrefix(name, ".") {
			return nil
		}
		for _, ext := range []string{".pg.want", ".pg.fail", ".flags", ".want", ".fail"} {
			if strings.HasSuffix(name, ext) {
				if _, err := os.Stat(strings.TrimSuffix(path, ext)); err != nil {
					t.Errorf("%s: no case file beside it", path)
				}
				return nil
			}
		}
		rel, _ := filepath.Rel(root, path)
		c := corpusCase{name: filepath.ToSlash(rel), path: path}
		if b, err := os.ReadFile(path + ".flags"); err == nil {
			c.flags = parseCorpusFlags(string(b))
		}
		want, werr := os.ReadFile(path + ".want")
		fail, ferr := os.ReadFile(path + ".fail")
		switch {
		case werr == nil && ferr == nil:
			t.Errorf("%s: both .want and .fail", c.name)
			return nil
		case werr == nil:
			c.want = want
		case ferr == nil:
			c.fail = strings.TrimSpace(string(fail))
			if c.fail == "" {
				t.Errorf("%s: empty .fail", c.name)
			}
		default:
			t.Errorf("%s: neither .want nor .fail", c.name)
			return nil
		}
		cases = append(cases, c)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return cases
}

// parseCorpusFlags reads a .flags file: one flag per line, as --name=value
// or --name value (the value may hold spaces); blank lines and lines
// starting with # are skipped.
func parseCorpusFlags(s string) []string {
	var args []string
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "-") && !strings.Contains(strings.SplitN(line, " ", 2)[0], "=") {
			if name, value, ok := strings.Cut(line, " "); ok {
				args = append(args, name, value)
				continue
			}
		}
		args = append(args, line)
	}
	return args
}

// TestCorpus runs every case of the conformance corpus through the stdout
// and file targets: each line printed must be one compact JSON object in
// valid UTF-8, the lines the case's .want, or ferry must exit 1 with the
// case's .fail in its error output.
func TestCorpus(t *testing.T) {
	cases := loadCorpus(t, corpusRoot)
	if len(cases) == 0 {
		t.Fatalf("no cases under %s", corpusRoot)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, target := range []string{"stdout", "file"} {
				out, stderr, code := runCorpusCase(t, c, target)
				checkCorpusResult(t, c, target, out, stderr, code)
			}
		})
	}
}

// runCorpusCase runs ferry snapshot over a directory holding only the
// case's file, into target ("stdout" or "file"), and returns what the
// target received, the error output and the exit status.
func runCorpusCase(t *testing.T, c corpusCase, target string) (out, stderr []byte, code int) {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	data, err := os.ReadFile(c.path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, filepath.Base(c.path)), data, 0o644); err != nil {
		t.Fatal(err)
	}
	outPath := filepath.Join(dir, "out.jsonl")
	args := []string{"snapshot", "--source", src, "--state", filepath.Join(dir, "state"),
		"--rejects-file", filepath.Join(dir, "rejects.jsonl"), "--progress", "none"}
	if target == "file" {
		args = append(args, "--target", "file:"+outPath)
	}
	args = append(args, c.flags...)

	// The stdout target writes to os.Stdout: point it at a file.
	stdout, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	defer stdout.Close()
	saved := os.Stdout
	os.Stdout = stdout
	var errBuf bytes.Buffer
	code = run(args, stdout, &errBuf)
	os.Stdout = saved

	if target == "file" {
		out, err = os.ReadFile(outPath)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if printed, _ := os.ReadFile(stdout.Name()); len(printed) > 0 {
			t.Errorf("file target: stdout got %q", printed)
		}
	} else if out, err = os.ReadFile(stdout.Name()); err != nil {
		t.Fatal(err)
	}
	return out, errBuf.Bytes(), code
}

// checkCorpusResult compares one run with the case's expectation.
func checkCorpusResult(t *testing.T, c corpusCase, target string, out, stderr []byte, code int) {
	t.Helper()
	checkJSONLinesOutput(t, target, out)
	if c.fail != "" {
		if code != exitFailed {
			t.Errorf("%s: exit %d, want %d; stderr:\n%s", target, code, exitFailed, stderr)
		}
		if !bytes.Contains(stderr, []byte(c.fail)) {
			t.Errorf("%s: error output does not contain %q:\n%s", target, c.fail, stderr)
		}
		return
	}
	if code != exitOK {
		t.Fatalf("%s: exit %d; stderr:\n%s", target, code, stderr)
	}
	got, want := splitLines(out), splitLines(c.want)
	for i := 0; i < max(len(got), len(want)); i++ {
		switch {
		case i >= len(got):
			t.Errorf("%s: record %d missing; want %s", target, i+1, want[i])
		case i >= len(want):
			t.Errorf("%s: record %d not expected: %s", target, i+1, got[i])
		case got[i] != want[i]:
			t.Errorf("%s: record %d\n got  %s\n want %s", target, i+1, got[i], want[i])
		}
	}
}

// checkJSONLinesOutput fails unless out is lines of one compact JSON
// object each, in valid UTF-8, the last one ending with a newline.
func checkJSONLinesOutput(t *testing.T, target string, out []byte) {
	t.Helper()
	if !utf8.Valid(out) {
		t.Errorf("%s: output is not valid UTF-8: %q", target, out)
	}
	if len(out) > 0 && out[len(out)-1] != '\n' {
		t.Errorf("%s: output does not end with a newline", target)
	}
	for i, line := range splitLines(out) {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal([]byte(line), &obj); err != nil || obj == nil {
			t.Errorf("%s: line %d is not a JSON object (%v): %s", target, i+1, err, line)
			continue
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, []byte(line)); err != nil || compact.String() != line {
			t.Errorf("%s: line %d is not compact JSON: %s", target, i+1, line)
		}
	}
}

func splitLines(b []byte) []string {
	s := strings.TrimSuffix(string(b), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}
