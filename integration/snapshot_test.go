//go:build integration

package integration

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

const eventsDDL = `(id bigint PRIMARY KEY, ts timestamptz, user_id int, event text, amount double precision, ok boolean, note text, meta jsonb)`

func gz(t *testing.T, parts ...string) []byte {
	t.Helper()
	var out bytes.Buffer
	for _, p := range parts { // one gzip member per part
		w := gzip.NewWriter(&out)
		w.Write([]byte(p))
		w.Close()
	}
	return out.Bytes()
}

func zst(t *testing.T, s string) []byte {
	t.Helper()
	var out bytes.Buffer
	w, err := zstd.NewWriter(&out)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(s))
	w.Close()
	return out.Bytes()
}

// mixedFiles is one data set spread over every format and compression.
func mixedFiles(t *testing.T) map[string][]byte {
	return map[string][]byte{
		"a.csv": []byte("\xef\xbb\xbfid,ts,user_id,event,amount,ok,note,meta\r\n" +
			"1,2024-03-01T12:00:00Z,10,click,1.5,true,\"quoted, \"\"comma\"\"\",\"{\"\"k\"\":1}\"\r\n" +
			"2,2024-03-01 12:00:01.250+02:00,11,view,,false,\"multi\nline\",\r\n" +
			"3,2024-03-01T12:00:02Z,12,buy,-2,t,\"\",\"[1,2]\""), // no trailing newline; "" is empty text, empty is NULL
		"sub/b.tsv":    []byte("id\tts\tuser_id\tevent\tamount\tok\tnote\tmeta\n4\t2024-03-02T00:00:00Z\t13\tclick\t0.25\tfalse\tcafé ñ 日本\t\n5\t2024-03-02T00:00:01Z\t14\tview\t1e3\ttrue\ttab\t{}\n"),
		"c.jsonl":      []byte(`{"id":6,"ts":"2024-03-03T00:00:00Z","user_id":15,"event":"click","amount":2.5,"ok":true,"note":"say \"hi\"","meta":{"nested":{"a":[1,2]}}}` + "\n\n" + `{"id":7,"user_id":16,"event":"view","ok":false,"meta":null}` + "\n"),
		"d.csv.gz":     gz(t, "id,ts,user_id,event,amount,ok,note,meta\n8,2024-03-04T00:00:00Z,17,click,3,true,gz,\n9,2024-03-04T00:00:01Z,18,view,4,false,gz,\n"),
		"e.csv.gz":     gz(t, "id,ts,user_id,event,amount,ok,note,meta\n10,2024-03-05T00:00:00Z,19,click,5,true,member1,\n", "11,2024-03-05T00:00:01Z,20,view,6,false,member2,\n"),
		"f.jsonl.zst":  zst(t, `{"id":12,"ts":"2024-03-06T00:00:00Z","user_id":21,"event":"click","amount":7,"ok":true,"note":"zstd"}`+"\n"+`{"id":13,"ts":"2024-03-06T00:00:01Z","user_id":22,"event":"view","amount":8,"ok":false,"note":"zstd"}`),
		"g.csv.gz.bin": gz(t, "id,ts,user_id,event,amount,ok,note,meta\n14,2024-03-07T00:00:00Z,23,x,9,true,magic,\n"),
	}
}

var mixedWant = []string{
	`1|2024-03-01T12:00:00Z|10|click|1.5|true|quoted, "comma"|{"k": 1}`,
	"2|2024-03-01T10:00:01.25Z|11|view|NULL|false|multi\nline|NULL",
	`3|2024-03-01T12:00:02Z|12|buy|-2|true||[1, 2]`,
	`4|2024-03-02T00:00:00Z|13|click|0.25|false|café ñ 日本|NULL`,
	`5|2024-03-02T00:00:01Z|14|view|1000|true|tab|{}`,
	`6|2024-03-03T00:00:00Z|15|click|2.5|true|say "hi"|{"nested": {"a": [1, 2]}}`,
	`7|NULL|16|view|NULL|false|NULL|NULL`,
	`8|2024-03-04T00:00:00Z|17|click|3|true|gz|NULL`,
	`9|2024-03-04T00:00:01Z|18|view|4|false|gz|NULL`,
	`10|2024-03-05T00:00:00Z|19|click|5|true|member1|NULL`,
	`11|2024-03-05T00:00:01Z|20|view|6|false|member2|NULL`,
	`12|2024-03-06T00:00:00Z|21|click|7|true|zstd|NULL`,
	`13|2024-03-06T00:00:01Z|22|view|8|false|zstd|NULL`,
}

const selectEvents = `SELECT id, ts, user_id, event, amount, ok, note, meta::text FROM %s ORDER BY id`

func writeDir(t *testing.T, files map[string][]byte) string {
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestMixedDirectoryIntoPostgres(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	exec1(t, "CREATE TABLE "+table(schema, "events")+eventsDDL)
	files := mixedFiles(t)
	delete(files, "g.csv.gz.bin") // no known extension: tested on its own below
	files[".hidden.csv"] = []byte("id\nnot-an-int\n")
	dir := writeDir(t, files)
	r := ferry(t, "snapshot", "--source", dir, "--target", databaseURL, "--table", schema+".events", "--batch-rows", "2")
	if r.code != 0 {
		t.Fatalf("exit %d", r.code)
	}
	equal(t, "rows", queryRows(t, fmt.Sprintf(selectEvents, table(schema, "events"))), mixedWant)
	if n := queryInt(t, `SELECT count(*) FROM ferry.files WHERE pipeline LIKE '%'||$1||'%' AND status = 'done'`, schema); n != 6 {
		t.Fatalf("done files in state = %d, want 6", n)
	}

	// Running it again loads nothing and says so.
	r = ferry(t, "snapshot", "--source", dir, "--target", databaseURL, "--table", schema+".events")
	if r.code != 0 || !strings.Contains(r.stderr, "nothing new to load") {
		t.Fatalf("re-run: exit %d, stderr %q", r.code, r.stderr)
	}
	if n := queryInt(t, "SELECT count(*) FROM "+table(schema, "events")); n != 13 {
		t.Fatalf("rows after re-run = %d", n)
	}
}

func TestMinIOPrefixIntoPostgres(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	bucket := newBucket(t)
	exec1(t, "CREATE TABLE "+table(schema, "events")+eventsDDL)
	for name, body := range mixedFiles(t) {
		put(t, bucket, "landing/"+name, body)
	}
	put(t, bucket, "landing/", nil)                                // directory marker
	put(t, bucket, "landing/.tmp/partial.csv", []byte("id\nxx\n")) // hidden
	put(t, bucket, "landing/skip/no.csv", []byte("id\nxx\n"))      // excluded
	put(t, bucket, "landingzone/other.csv", []byte("id\nxx\n"))    // outside the prefix
	put(t, bucket, "other/elsewhere.csv", []byte("id\nxx\n"))      // outside the prefix
	r := ferry(t, "snapshot", "--source", "s3://"+bucket+"/landing/", "--s3-path-style",
		"--exclude", "skip/**", "--exclude", "*.bin",
		"--target", databaseURL, "--table", schema+".events", "--workers", "3")
	if r.code != 0 {
		t.Fatalf("exit %d", r.code)
	}
	equal(t, "rows", queryRows(t, fmt.Sprintf(selectEvents, table(schema, "events"))), mixedWant)

	// A file without a known extension, format given and compression found
	// by its magic bytes.
	r = ferry(t, "snapshot", "--source", "s3://"+bucket+"/landing/", "--s3-path-style", "--include", "*.bin",
		"--format", "csv", "--target", databaseURL, "--table", schema+".events")
	if r.code != 0 {
		t.Fatalf("exit %d", r.code)
	}
	if n := queryInt(t, "SELECT count(*) FROM "+table(schema, "events")+" WHERE note = 'magic'"); n != 1 {
		t.Fatalf("magic-bytes gzip rows = %d", n)
	}
}

func TestManyObjectsAndRerun(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	bucket := newBucket(t)
	const files = 1100
	ctx := context.Background()
	_ = ctx
	sem := make(chan struct{}, 16)
	errs := make(chan error, files)
	for i := range files {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			body := fmt.Sprintf("id,name\n%d,file %d\n", i, i)
			_, err := s3Client.PutObject(t.Context(), putInput(bucket, fmt.Sprintf("many/%05d.csv", i), []byte(body)))
			errs <- err
		}()
	}
	for range files {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	r := ferry(t, "snapshot", "--source", "s3://"+bucket+"/many", "--s3-path-style", "--target", databaseURL, "--table", schema+".many", "--log-format", "json")
	if r.code != 0 {
		t.Fatalf("exit %d", r.code)
	}
	if n := queryInt(t, "SELECT count(DISTINCT id) FROM "+table(schema, "many")); n != files {
		t.Fatalf("distinct ids = %d, want %d", n, files)
	}
	if n := queryInt(t, "SELECT count(*) FROM "+table(schema, "many")); n != files {
		t.Fatalf("rows = %d, want %d", n, files)
	}
	r = ferry(t, "snapshot", "--source", "s3://"+bucket+"/many", "--s3-path-style", "--target", databaseURL, "--table", schema+".many")
	if r.code != 0 || !strings.Contains(r.stderr, fmt.Sprintf("all %d files already loaded", files)) {
		t.Fatalf("re-run: exit %d stderr %q", r.code, r.stderr)
	}
	if n := queryInt(t, "SELECT count(*) FROM "+table(schema, "many")); n != files {
		t.Fatalf("rows after re-run = %d", n)
	}
}
