//go:build integration

package integration

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// corpusCase is one case of the conformance corpus (testdata/corpus; see
// its README.md), with its PostgreSQL expectation.
type corpusCase struct {
	name  string
	path  string
	flags []string
	want  []byte // when fail is empty
	fail  string
}

func corpusRoot() string {
	_, thisFile, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(filepath.Dir(thisFile)), "testdata", "corpus")
}

// loadCorpus returns the cases under root, with NAME.pg.want or
// NAME.pg.fail in place of NAME.want or NAME.fail where they exist.
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
		for _, ext := range []string{".flags", ".want", ".fail"} {
			if strings.HasSuffix(name, ext) {
				return nil
			}
		}
		rel, _ := filepath.Rel(root, path)
		c := corpusCase{name: filepath.ToSlash(rel), path: path}
		if b, err := os.ReadFile(path + ".flags"); err == nil {
			c.flags = corpusFlags(string(b))
		}
		for _, prefix := range []string{path + ".pg", path} {
			if b, err := os.ReadFile(prefix + ".want"); err == nil {
				c.want = b
				break
			}
			if b, err := os.ReadFile(prefix + ".fail"); err == nil {
				c.fail = strings.TrimSpace(string(b))
				break
			}
		}
		if c.want == nil && c.fail == "" {
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

// corpusFlags reads a .flags file as cmd/ferry's corpus test does.
func corpusFlags(s string) []string {
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

// TestCorpusPostgres loads every corpus case into a table ferry creates
// and compares its rows (row_to_json, in record order) with the case's
// records, both normalised (see canonJSON): the same corpus the stdout
// and file targets are held to, through PostgreSQL.
func TestCorpusPostgres(t *testing.T) {
	cases := loadCorpus(t, corpusRoot())
	if len(cases) == 0 {
		t.Fatal("no corpus cases")
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			schema := newSchema(t)
			src := filepath.Join(t.TempDir(), "src")
			if err := os.MkdirAll(src, 0o755); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(c.path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(src, filepath.Base(c.path)), data, 0o644); err != nil {
				t.Fatal(err)
			}
			userSystem := slices.Contains(c.flags, "--system-columns")
			args := append([]string{"snapshot", "--source", src, "--target", databaseURL, "--table", schema + ".corpus",
				"--system-columns", "--progress", "none"}, c.flags...)
			res := ferryQuick(t, args...)
			if c.fail != "" {
				if res.code != 1 || !strings.Contains(res.stderr, c.fail) {
					t.Fatalf("exit %d, want 1 with %q in:\n%s", res.code, c.fail, res.stderr)
				}
				return
			}
			if res.code != 0 {
				t.Fatalf("exit %d:\n%s", res.code, res.stderr)
			}
			var got []string
			if queryInt(t, "SELECT count(*) FROM pg_tables WHERE schemaname = $1 AND tablename = 'corpus'", schema) > 0 {
				got = queryRows(t, "SELECT row_to_json(r__)::text FROM "+table(schema, "corpus")+" r__ ORDER BY _ferry_record")
			}
			var want []string
			for _, line := range strings.Split(strings.TrimSuffix(string(c.want), "\n"), "\n") {
				if line != "" {
					want = append(want, line)
				}
			}
			if len(got) != len(want) {
				t.Fatalf("%d rows, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
			}
			for i := range want {
				g, w := canonRecord(t, got[i], !userSystem), canonRecord(t, want[i], false)
				if g != w {
					t.Errorf("row %d:\n got  %s\n want %s\n (normalised:\n got  %s\n want %s)", i+1, got[i], want[i], g, w)
				}
			}
		})
	}
}

// ferryQuick is ferry without the race detector's one-second sleep at
// exit (GORACE atexit_sleep_ms), which would make up most of the corpus
// run's time.
func ferryQuick(t *testing.T, args ...string) result {
	t.Helper()
	cmd := exec.Command(ferryBin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Env = append(os.Environ(), "GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run ferry: %v", err)
	}
	if code != 0 {
		t.Logf("ferry %s\nexit %d\n%s", strings.Join(args, " "), code, errb.String())
	}
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// canonRecord normalises one record (a JSON object): keys in order, each
// value by canonJSON; the system columns dropped when dropSystem.
func canonRecord(t *testing.T, line string, dropSystem bool) string {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(line))
	d.UseNumber()
	tok, err := d.Token()
	if err != nil || tok != json.Delim('{') {
		t.Fatalf("not a JSON object: %s", line)
	}
	var b strings.Builder
	for d.More() {
		k, err := d.Token()
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		var v any
		if err := d.Decode(&v); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		key := canonText(k.(string))
		if dropSystem && (key == "_ferry_file" || key == "_ferry_record") {
			continue
		}
		b.WriteString(key + "=" + canonJSON(v) + "; ")
	}
	return b.String()
}

var (
	numberText = regexp.MustCompile(`^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$`)
	timeText   = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?$`)
)

// canonJSON renders a value so that what a JSON-lines line holds and what
// PostgreSQL holds after typing it compare equal: numbers (and strings
// that are numbers) by value, timestamps (and strings that are) by instant
// in UTC, JSON documents (and strings holding an object or array) by
// content with keys sorted, booleans and their text alike, NUL as U+FFFD
// (PostgreSQL text cannot hold it).
func canonJSON(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		if x {
			return "true"
		}
		return "false"
	case json.Number:
		return canonNumber(string(x))
	case string:
		s := strings.TrimSpace(x)
		switch {
		case numberText.MatchString(s):
			return canonNumber(s)
		case timeText.MatchString(s):
			if ts, ok := parseTime(s); ok {
				return "time:" + ts.UTC().Format(time.RFC3339Nano)
			}
		case len(s) > 1 && (s[0] == '{' || s[0] == '[') && json.Valid([]byte(s)):
			d := json.NewDecoder(bytes.NewReader([]byte(s)))
			d.UseNumber()
			var doc any
			if d.Decode(&doc) == nil {
				return canonJSON(doc)
			}
		}
		return `"` + canonText(x) + `"`
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = canonJSON(e)
		}
		return "[" + strings.Join(parts, ",") + "]"
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = canonText(k) + ":" + canonJSON(x[k])
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
	return "?"
}

func canonText(s string) string { return strings.ReplaceAll(s, "\x00", "\uFFFD") }

func canonNumber(s string) string {
	f, _, err := big.ParseFloat(strings.TrimPrefix(s, "+"), 10, 256, big.ToNearestEven)
	if err != nil {
		return `"` + s + `"`
	}
	if f.Sign() == 0 {
		return "0" // -0 and 0 alike
	}
	return f.Text('g', 20)
}

func parseTime(s string) (time.Time, bool) {
	s = strings.Replace(s, " ", "T", 1)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999Z07", "2006-01-02T15:04:05.999999999Z0700",
		"2006-01-02T15:04:05.999999999", "2006-01-02T15:04Z07:00", "2006-01-02T15:04", "2006-01-02"} {
		if ts, err := time.Parse(layout, s); err == nil {
			return ts, true
		}
	}
	return time.Time{}, false
}
