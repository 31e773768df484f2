//go:build integration

package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestBadInput(t *testing.T) {
	t.Parallel()
	good := "id,amount\n1,1.5\n2,2.5\n"
	var rows strings.Builder
	rows.WriteString("id,amount\n")
	for i := range 20000 {
		fmt.Fprintf(&rows, "%d,%d.%d\n", 1000+i*7919%100003, i, i*31%97)
	}
	full := string(gz(t, rows.String()))
	tests := []struct {
		name string
		file string
		body string
		// what stderr must say about the bad file
		want string
		// rows of the bad file that still load (before the bad record)
		goodRows int64
	}{
		{"malformed CSV row", "bad.csv", "id,amount\n3,3\n4,4,4\n5,5\n", `file "bad.csv": record 2 (byte 14): has 3 fields, header has 2`, 1},
		{"unterminated quote", "quote.csv", "id,amount\n3,3\n4,\"4\n", `file "quote.csv": record 2`, 1},
		{"JSON line that does not parse", "bad.jsonl", "{\"id\":3,\"amount\":3}\n{\"id\":4,\"amount\":\n", `file "bad.jsonl": record 2`, 1},
		{"value that does not convert", "type.csv", "id,amount\n3,3\n4,four\n", `file "type.csv": record 2: column "amount": invalid double precision "four"`, 1},
		{"truncated gzip", "trunc.csv.gz", full[:len(full)/2], `file "trunc.csv.gz": after `, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			schema := newSchema(t)
			exec1(t, "CREATE TABLE "+table(schema, "t")+" (id bigint, amount double precision)")
			dir := writeDir(t, map[string][]byte{"good.csv": []byte(good), tt.file: []byte(tt.body)})
			// skip-file, not the default abort: under abort a file that has
			// not started when the bad one fails is left for the next run,
			// and which one starts first is up to the scheduler.
			r := ferry(t, "snapshot", "--source", dir, "--target", databaseURL, "--table", schema+".t", "--batch-rows", "1", "--on-error", "skip-file")
			if r.code != 1 {
				t.Fatalf("exit %d, want 1", r.code)
			}
			if !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("stderr does not say %q:\n%s", tt.want, r.stderr)
			}
			if strings.Contains(r.stderr, "goroutine ") || strings.Contains(r.stderr, "panic") {
				t.Fatalf("stack trace on stderr:\n%s", r.stderr)
			}
			if n := queryInt(t, "SELECT count(*) FROM "+table(schema, "t")+" WHERE id IN (1, 2)"); n != 2 {
				t.Fatalf("good file rows = %d, want 2", n)
			}
			if tt.goodRows >= 0 {
				if n := queryInt(t, "SELECT count(*) FROM "+table(schema, "t")+" WHERE id NOT IN (1, 2)"); n != tt.goodRows {
					t.Fatalf("rows of the bad file before the bad record = %d, want %d", n, tt.goodRows)
				}
			}
			rows := queryRows(t, `SELECT key, status, error IS NOT NULL, attempts FROM ferry.files WHERE pipeline LIKE '%'||$1||'%' ORDER BY key`, schema)
			want := []string{tt.file + "|failed|true|1", "good.csv|done|false|1"}
			if tt.file > "good.csv" {
				want[0], want[1] = want[1], want[0]
			}
			equal(t, "state", rows, want)
		})
	}
}

func TestUnreachable(t *testing.T) {
	t.Parallel()
	dir := writeDir(t, map[string][]byte{"a.csv": []byte("id\n1\n")})
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"database down", []string{"--source", dir, "--target", "postgres://postgres@127.0.0.1:1/test?connect_timeout=2"}, 1, "cannot connect to PostgreSQL at 127.0.0.1:1/test"},
		{"unknown bucket", []string{"--source", "s3://no-such-bucket-ferry/x", "--s3-path-style"}, 1, `bucket "no-such-bucket-ferry" does not exist`},
		{"missing directory", []string{"--source", filepath.Join(dir, "nope")}, 1, "nope"},
		{"no source", []string{}, 2, "--source is required"},
		{"bad format", []string{"--source", dir, "--format", "xml"}, 2, `--format "xml"`},
		{"bad flag", []string{"--source", dir, "--no-such-flag"}, 2, "no-such-flag"},
		{"bad target", []string{"--source", dir, "--target", "mysql://x"}, 2, "--target"},
		{"bad glob", []string{"--source", dir, "--include", "[a"}, 2, "[a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			r := ferry(t, append([]string{"snapshot"}, tt.args...)...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("exit %d (want %d), stderr %q (want %q)", r.code, tt.code, r.stderr, tt.want)
			}
			if lines := strings.Count(strings.TrimSpace(r.stderr), "\n"); lines > 2 {
				t.Fatalf("expected a short reason, got:\n%s", r.stderr)
			}
			if time.Since(start) > 30*time.Second {
				t.Fatalf("took %s: not failing fast", time.Since(start))
			}
		})
	}
}

func TestStdoutAndFileTargets(t *testing.T) {
	t.Parallel()
	dir := writeDir(t, map[string][]byte{
		"a.csv":   []byte("id,name\n1,\"a \"\"b\"\"\"\n2,\n"),
		"b.jsonl": []byte(`{"name":"c","id":3,"tags":["x"]}` + "\n"),
	})
	state := t.TempDir()
	r := ferry(t, "snapshot", "--source", dir, "--state", state, "--workers", "1", "--system-columns")
	if r.code != 0 {
		t.Fatalf("exit %d", r.code)
	}
	want := `{"id":"1","name":"a \"b\"","_ferry_file":"a.csv","_ferry_record":1}
{"id":"2","name":null,"_ferry_file":"a.csv","_ferry_record":2}
{"name":"c","id":3,"tags":["x"],"_ferry_file":"b.jsonl","_ferry_record":1}
`
	if r.stdout != want {
		t.Fatalf("stdout:\n%s\nwant:\n%s", r.stdout, want)
	}
	// The file state remembers: a second run prints nothing.
	r = ferry(t, "snapshot", "--source", dir, "--state", state)
	if r.code != 0 || r.stdout != "" {
		t.Fatalf("re-run: exit %d, stdout %q", r.code, r.stdout)
	}
	out := filepath.Join(t.TempDir(), "out.jsonl")
	r = ferry(t, "snapshot", "--source", dir, "--state", t.TempDir(), "--target", "file:"+out, "--include", "*.jsonl")
	got, _ := os.ReadFile(out)
	if r.code != 0 || string(got) != `{"name":"c","id":3,"tags":["x"]}`+"\n" {
		t.Fatalf("file target: exit %d, %q", r.code, got)
	}
}

func TestCreateTableWithInferenceAndHostileNames(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	header := `id,"Robert'); DROP TABLE students;--","a""b",naïve col,ts,day,flag,price,zip,doc`
	dir := writeDir(t, map[string][]byte{"x.csv": []byte(header + "\n" +
		"1,x,y,z,2024-01-01T00:00:00Z,2024-01-01,true,1.5,007,\"{\"\"a\"\":1}\"\n" +
		"2,,,,2024-01-02 10:00:00+01,2024-01-02,false,2,010,[]\n")})
	r := ferry(t, "snapshot", "--source", dir, "--target", databaseURL, "--table", schema+".Weird Table", "--system-columns")
	if r.code != 0 {
		t.Fatalf("exit %d", r.code)
	}
	cols := queryRows(t, `SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'Weird Table' ORDER BY ordinal_position`, schema)
	equal(t, "columns", cols, []string{
		"id|bigint",
		"Robert'); DROP TABLE students;--|text",
		`a"b|text`,
		"naïve col|text",
		"ts|timestamp with time zone",
		"day|date",
		"flag|boolean",
		"price|double precision",
		"zip|text",
		"doc|jsonb",
		"_ferry_file|text",
		"_ferry_record|bigint",
	})
	rows := queryRows(t, `SELECT id, "Robert'); DROP TABLE students;--", zip, doc::text, ts, _ferry_file, _ferry_record FROM `+table(schema, "Weird Table")+` ORDER BY id`)
	equal(t, "rows", rows, []string{
		`1|x|007|{"a": 1}|2024-01-01T00:00:00Z|x.csv|1`,
		`2|NULL|010|[]|2024-01-02T09:00:00Z|x.csv|2`,
	})
}

func TestConfigFileAndColumns(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	dir := writeDir(t, map[string][]byte{"data.txt": []byte("1;NA;x\n2;5;y\n")})
	cfg := filepath.Join(t.TempDir(), "ferry.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`
source: %s
target: %s
table: %s.cfg
format: csv
csv-header: false
csv-delimiter: ";"
null-string: NA
columns: "id bigint, n integer, label"
include: ["*.txt"]
`, dir, databaseURL, schema)), 0o644)
	r := ferry(t, "snapshot", "--config", cfg, "--log-level", "debug")
	if r.code != 0 {
		t.Fatalf("exit %d", r.code)
	}
	equal(t, "rows", queryRows(t, "SELECT id, n, label FROM "+table(schema, "cfg")+" ORDER BY id"), []string{"1|NULL|x", "2|5|y"})
	typ := queryRows(t, `SELECT data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'cfg' ORDER BY ordinal_position`, schema)
	equal(t, "types", typ, []string{"bigint", "integer", "text"})

	// An unknown key is a usage error.
	os.WriteFile(cfg, []byte("sorce: x\n"), 0o644)
	if r := ferry(t, "snapshot", "--config", cfg); r.code != 2 || !regexp.MustCompile(`unknown key "sorce"`).MatchString(r.stderr) {
		t.Fatalf("exit %d stderr %q", r.code, r.stderr)
	}
}
