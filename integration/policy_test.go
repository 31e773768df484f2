//go:build integration

package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// policyFiles: a.csv mixes good and bad records of every kind; b.csv is good.
func policyFiles() map[string][]byte {
	return map[string][]byte{
		"a.csv": []byte("id,name,n\n" +
			"1,one,1\n" + // good
			"2,two\n" + // wrong field count (reader)
			"3,three,3\n" + // good
			"4,four,abc\n" + // does not convert to integer (client)
			"5,five,5\n" + // good
			"6,,6\n" + // NOT NULL violation (server)
			"7,seven,7\n"), // good
		"b.csv": []byte("id,name,n\n8,eight,8\n"),
	}
}

const policyDDL = ` (id bigint PRIMARY KEY, name text NOT NULL, n integer)`

func TestOnErrorSkipRecord(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	exec1(t, "CREATE TABLE "+table(schema, "t")+policyDDL)
	dir := writeDir(t, policyFiles())
	args := []string{"snapshot", "--source", dir, "--target", databaseURL, "--table", schema + ".t", "--on-error", "skip-record", "--pipeline", schema}
	r := ferry(t, args...)
	if r.code != 0 || !strings.Contains(r.stderr, "3 records rejected (see ferry.rejects)") {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	equal(t, "rows", queryRows(t, "SELECT id FROM "+table(schema, "t")+" ORDER BY id"), []string{"1", "3", "5", "7", "8"})
	rejects := queryRows(t, `SELECT key, record, coalesce(byte_offset, -1), error, raw FROM ferry.rejects WHERE pipeline = $1 ORDER BY record`, schema)
	equal(t, "rejects", rejects, []string{
		"a.csv|2|18|has 2 fields, header has 3|2,two",
		`a.csv|4|-1|column "n": invalid integer "abc"|{"id":"4","name":"four","n":"abc"}`,
		`a.csv|6|-1|null value in column "name" of relation "t" violates not-null constraint|{"id":"6","name":null,"n":"6"}`,
	})
	equal(t, "state", queryRows(t, `SELECT key, status, rows FROM ferry.files WHERE pipeline = $1 ORDER BY key`, schema),
		[]string{"a.csv|done|7", "b.csv|done|1"})

	// Again: nothing loads, nothing is rejected twice.
	r = ferry(t, args...)
	if r.code != 0 || queryInt(t, `SELECT count(*) FROM ferry.rejects WHERE pipeline = $1`, schema) != 3 {
		t.Fatalf("re-run: exit %d", r.code)
	}

	// --max-rejects: past it, the file fails.
	schema2 := newSchema(t)
	exec1(t, "CREATE TABLE "+table(schema2, "t")+policyDDL)
	r = ferry(t, "snapshot", "--source", dir, "--target", databaseURL, "--table", schema2+".t", "--on-error", "skip-record", "--max-rejects", "1", "--pipeline", schema2)
	if r.code != 1 || !strings.Contains(r.stderr, "(--max-rejects)") {
		t.Fatalf("max-rejects: exit %d", r.code)
	}
	equal(t, "state", queryRows(t, `SELECT key, status FROM ferry.files WHERE pipeline = $1 ORDER BY key`, schema2), []string{"a.csv|failed", "b.csv|done"})
}

func TestOnErrorSkipFileAndAbort(t *testing.T) {
	t.Parallel()
	for _, policy := range []string{"skip-file", "abort"} {
		t.Run(policy, func(t *testing.T) {
			t.Parallel()
			schema := newSchema(t)
			exec1(t, "CREATE TABLE "+table(schema, "t")+policyDDL)
			dir := writeDir(t, policyFiles())
			r := ferry(t, "snapshot", "--source", dir, "--target", databaseURL, "--table", schema+".t", "--on-error", policy, "--workers", "1", "--pipeline", schema)
			if r.code != 1 {
				t.Fatalf("exit %d", r.code)
			}
			states := queryRows(t, `SELECT key, status, attempts FROM ferry.files WHERE pipeline = $1 ORDER BY key`, schema)
			if policy == "skip-file" {
				equal(t, "state", states, []string{"a.csv|failed|1", "b.csv|done|1"})
				// The chunk before the bad record stays committed.
				equal(t, "rows", queryRows(t, "SELECT id FROM "+table(schema, "t")+" ORDER BY id"), []string{"1", "8"})
			} else {
				// abort: a.csv (listed first) fails; b.csv may have started
				// with it (files are claimed and started a batch ahead),
				// and then finishes.
				if len(states) == 0 || states[0] != "a.csv|failed|1" || len(states) > 1 && states[1] != "b.csv|done|1" {
					t.Fatalf("state %v: want a.csv failed, and b.csv done if it started", states)
				}
				if !strings.Contains(r.stderr, "--on-error abort") {
					t.Fatalf("stderr does not explain the abort:\n%s", r.stderr)
				}
			}
		})
	}
}

// TestAbortStopsStartingFiles: after the first failed file under abort, no
// file starts; the files started before its failure was known finish.
func TestAbortStopsStartingFiles(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	exec1(t, "CREATE TABLE "+table(schema, "t")+policyDDL)
	files := policyFiles()
	for i := range 400 {
		files[fmt.Sprintf("c%03d.csv", i)] = []byte(fmt.Sprintf("id,name,n\n%d,x,1\n", 1000+i))
	}
	dir := writeDir(t, files)
	r := ferry(t, "snapshot", "--source", dir, "--target", databaseURL, "--table", schema+".t", "--workers", "1", "--pipeline", schema)
	if r.code != 1 || !strings.Contains(r.stderr, "--on-error abort") {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
	states := queryRows(t, `SELECT key, status FROM ferry.files WHERE pipeline = $1 ORDER BY key`, schema)
	if len(states) == 0 || states[0] != "a.csv|failed" {
		t.Fatalf("state %v: want a.csv failed first", states)
	}
	for _, s := range states[1:] {
		if !strings.HasSuffix(s, "|done") {
			t.Fatalf("a file started before the abort did not finish: %s", s)
		}
	}
	if len(states) > 200 {
		t.Fatalf("%d of 402 files started after a failure under abort", len(states))
	}
}

func TestSkipRecordToStdoutRejectsFile(t *testing.T) {
	t.Parallel()
	dir := writeDir(t, map[string][]byte{"a.jsonl": []byte("{\"id\":1}\n{\"id\":\n{\"id\":3}\n")})
	rejects := filepath.Join(t.TempDir(), "rejects.jsonl")
	r := ferry(t, "snapshot", "--source", dir, "--state", t.TempDir(), "--on-error", "skip-record", "--rejects-file", rejects)
	if r.code != 0 || r.stdout != "{\"id\":1}\n{\"id\":3}\n" {
		t.Fatalf("exit %d stdout %q", r.code, r.stdout)
	}
	// The summary points at the rejects file, not at a table there is not.
	if !strings.Contains(r.stderr, "1 records rejected (see "+rejects+")") || strings.Contains(r.stderr, "ferry.rejects") {
		t.Fatalf("stderr %q: want the summary to name %s", r.stderr, rejects)
	}
	got, _ := os.ReadFile(rejects)
	if !strings.Contains(string(got), `"key":"a.jsonl","etag":`) || !strings.Contains(string(got), `"record":2,"byte_offset":9,`) || !strings.Contains(string(got), `"raw":"{\"id\":"`) {
		t.Fatalf("rejects file: %s", got)
	}
}

func TestWidenCreatedTable(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	dir := writeDir(t, map[string][]byte{"a.csv": []byte("id,v,d\n1,10,2024-01-01\n2,20,2024-01-02\n3,2.5,2024-01-03 10:00:00Z\n4,99999999999999999999,2024-01-04\n5,abc,x\n")})
	r := ferry(t, "snapshot", "--source", dir, "--target", databaseURL, "--table", schema+".w", "--batch-rows", "2")
	if r.code != 0 {
		t.Fatalf("exit %d", r.code)
	}
	equal(t, "types", queryRows(t, `SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'w' ORDER BY ordinal_position`, schema),
		[]string{"id|bigint", "v|text", "d|text"})
	equal(t, "rows", queryRows(t, "SELECT id, v, d FROM "+table(schema, "w")+" ORDER BY id"), []string{
		"1|10|2024-01-01 00:00:00+00", "2|20|2024-01-02 00:00:00+00", "3|2.5|2024-01-03 10:00:00+00", "4|1e+20|2024-01-04 00:00:00+00", "5|abc|x"})
	if !strings.Contains(r.stderr, `widened column "v"`) {
		t.Fatalf("no widening notice:\n%s", r.stderr)
	}
}

func TestTypesEpochUTF8AndExtra(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	exec1(t, "CREATE TABLE "+table(schema, "e")+" (id int, ts timestamptz, note text, _extra jsonb)")
	dir := writeDir(t, map[string][]byte{"a.jsonl": []byte(
		`{"id":1,"ts":1700000000123,"note":"ok","more":{"x":1},"tag":"t"}` + "\n" +
			`{"id":2,"ts":"2024-01-01T00:00:00Z","note":"caf` + "\xe9" + `"}` + "\n")})
	args := []string{"snapshot", "--source", dir, "--target", databaseURL, "--table", schema + ".e", "--timestamp-format", "epoch_ms", "--unknown-fields", "extra", "--pipeline", schema}
	r := ferry(t, args...)
	if r.code != 0 {
		t.Fatalf("exit %d", r.code)
	}
	equal(t, "rows", queryRows(t, "SELECT id, ts, note, _extra::text FROM "+table(schema, "e")+" ORDER BY id"), []string{
		`1|2023-11-14T22:13:20.123Z|ok|{"tag": "t", "more": {"x": 1}}`,
		"2|2024-01-01T00:00:00Z|caf\ufffd|{}",
	})

	// --invalid-utf8 reject makes the second record bad.
	exec1(t, "TRUNCATE "+table(schema, "e"))
	r = ferry(t, append(args, "--invalid-utf8", "reject", "--on-error", "skip-record", "--pipeline", schema+"-2")...)
	if r.code != 0 {
		t.Fatalf("exit %d", r.code)
	}
	equal(t, "rows", queryRows(t, "SELECT id FROM "+table(schema, "e")), []string{"1"})
	equal(t, "rejects", queryRows(t, `SELECT record, error FROM ferry.rejects WHERE pipeline = $1`, schema+"-2"),
		[]string{`2|column "note": invalid UTF-8 (--invalid-utf8 reject)`})
}
