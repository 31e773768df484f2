//go:build integration

package integration

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestMergeKeyCreatedTable: --merge-key on a table ferry creates: the key
// becomes its primary key; a file's duplicate keys keep the last record;
// a later file updates rows (the metadata columns too) and adds a column
// (--unknown-fields add) and widens one; a NULL key is a bad record
// (rejected under skip-record, naming file and record; the run fails
// under abort); the config file takes merge-key as a list.
func TestMergeKeyCreatedTable(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a.csv", "id,region,n\n1,eu,10\n2,eu,20\n1,eu,11\n3,us,30\n,us,99\n1,us,12\n")
	cfg := filepath.Join(t.TempDir(), "job.yaml")
	if err := os.WriteFile(cfg, []byte("merge-key: [id, region]\non-error: skip-record\nsystem-columns: true\nunknown-fields: add\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"snapshot", "--config", cfg, "--source", dir, "--target", databaseURL, "--table", schema + ".m", "--pipeline", schema}
	r := ferry(t, args...)
	if r.code != 0 || !strings.Contains(r.stderr, "1 records rejected") {
		t.Fatalf("exit %d", r.code)
	}
	tbl := table(schema, "m")
	equal(t, "primary key", queryRows(t, `SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'p'`, tbl),
		[]string{"PRIMARY KEY (id, region)"})
	equal(t, "rows", queryRows(t, "SELECT id, region, n, _ferry_file, _ferry_record FROM "+tbl+" ORDER BY id, region"),
		[]string{"1|eu|11|a.csv|3", "1|us|12|a.csv|6", "2|eu|20|a.csv|2", "3|us|30|a.csv|4"})
	equal(t, "rejects", queryRows(t, `SELECT key, record, error FROM ferry.rejects WHERE pipeline = $1`, schema),
		[]string{`a.csv|5|column "id" of --merge-key is NULL`})

	// A later file: updates, a new column and a wider value in one chunk;
	// then a file that only updates some columns.
	write("b.csv", "id,region,n,extra\n2,eu,2.5,x\n4,eu,40,y\n")
	if r = ferry(t, args...); r.code != 0 || !strings.Contains(r.stderr, `widened column "n"`) || !strings.Contains(r.stderr, `added column "extra"`) {
		t.Fatalf("b.csv: exit %d", r.code)
	}
	write("b2.csv", "id,region,extra\n2,eu,z\n")
	if r = ferry(t, args...); r.code != 0 {
		t.Fatalf("b2.csv: exit %d", r.code)
	}
	equal(t, "rows after b.csv and b2.csv", queryRows(t, "SELECT id, region, n, coalesce(extra, '-'), _ferry_file, _ferry_record FROM "+tbl+" ORDER BY id, region"),
		[]string{"1|eu|11|-|a.csv|3", "1|us|12|-|a.csv|6", "2|eu|2.5|z|b2.csv|1", "3|us|30|-|a.csv|4", "4|eu|40|y|b.csv|2"})
	equal(t, "state", queryRows(t, `SELECT key, status, rows FROM ferry.files WHERE pipeline = $1 ORDER BY key`, schema),
		[]string{"a.csv|done|6", "b.csv|done|2", "b2.csv|done|1"}) // rows counts records read

	// Under abort, a NULL key fails the file, naming file and record.
	write("c.csv", "id,region,n\n5,eu,1\n6,,2\n")
	r = ferry(t, "snapshot", "--source", dir, "--target", databaseURL, "--table", schema+".m", "--pipeline", schema,
		"--merge-key", "id,region", "--system-columns", "--unknown-fields", "add")
	if r.code != 1 || !strings.Contains(r.stderr, "c.csv") || !strings.Contains(r.stderr, `record 2`) || !strings.Contains(r.stderr, `column "region" of --merge-key is NULL`) {
		t.Fatalf("abort on a NULL key: exit %d", r.code)
	}
	if n := queryInt(t, "SELECT count(*) FROM "+tbl+" WHERE id = 5"); n != 0 {
		t.Fatalf("the failed chunk left %d rows", n)
	}

	// A file without a key's field: the error names the column, the key
	// and the table.
	os.Remove(filepath.Join(dir, "c.csv"))
	write("d.csv", "id,n\n7,1\n")
	r = ferry(t, "snapshot", "--source", dir, "--target", databaseURL, "--table", schema+".m", "--pipeline", schema,
		"--merge-key", "id,region", "--system-columns", "--unknown-fields", "add")
	if r.code != 1 || !strings.Contains(r.stderr, `d.csv`) || !strings.Contains(r.stderr, `no field fills column "region" of --merge-key ("id", "region") of table `+tbl) {
		t.Fatalf("no key field: exit %d", r.code)
	}
}

// TestMergeKeyExistingTable: a table ferry did not create needs a unique
// index on the key (the error names table and key); with one, rows merge
// whatever the names (quoted); a key that is no column is named; the
// combinations that cannot be are usage errors.
func TestMergeKeyExistingTable(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	tbl := table(schema, "Odd T")
	exec1(t, "CREATE TABLE "+tbl+` ("we""ird, key" text, v bigint CHECK (v >= 0), filler text DEFAULT 'd' NOT NULL, serial_id bigint GENERATED ALWAYS AS IDENTITY)`)
	dir := writeDir(t, map[string][]byte{"a.jsonl": []byte(
		`{"we\"ird, key":"a","v":1}` + "\n" + `{"we\"ird, key":"b","v":2}` + "\n" + `{"we\"ird, key":"a","v":3}` + "\n" + `{"we\"ird, key":"c","v":-1}` + "\n")})
	args := []string{"snapshot", "--source", dir, "--target", databaseURL, "--table", schema + `."Odd T"`, "--pipeline", schema,
		"--merge-key", `"we""ird, key"`, "--on-error", "skip-record"}
	r := ferry(t, args...)
	if r.code != 1 || !strings.Contains(r.stderr, `table `+tbl+` has no unique index on --merge-key ("we""ird, key")`) {
		t.Fatalf("no unique index: exit %d", r.code)
	}
	r = ferry(t, "snapshot", "--source", dir, "--target", databaseURL, "--table", schema+`."Odd T"`, "--pipeline", schema, "--merge-key", "nope")
	if r.code != 1 || !strings.Contains(r.stderr, `table `+tbl+` has no column "nope" of --merge-key "nope"`) {
		t.Fatalf("no such column: exit %d", r.code)
	}
	exec1(t, "CREATE UNIQUE INDEX ON "+tbl+` ("we""ird, key")`)
	exec1(t, "INSERT INTO "+tbl+` ("we""ird, key", v) VALUES ('b', 100), ('z', 7)`)
	r = ferry(t, args...)
	if r.code != 0 {
		t.Fatalf("exit %d", r.code)
	}
	// c's v breaks the check constraint: refused by the server, named.
	equal(t, "rows", queryRows(t, `SELECT "we""ird, key", v, filler FROM `+tbl+` ORDER BY 1`), []string{"a|3|d", "b|2|d", "z|7|d"})
	equal(t, "rejects", queryRows(t, `SELECT key, record, error FROM ferry.rejects WHERE pipeline = $1`, schema),
		[]string{`a.jsonl|4|new row for relation "Odd T" violates check constraint "Odd T_v_check"`})

	for _, tc := range []struct{ args []string }{
		{[]string{"--on-change", "replace"}},
		{[]string{"--on-change", "resume"}}, // its fallback is replace
	} {
		r = ferry(t, append(append([]string(nil), args...), tc.args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, "--merge-key cannot go with --on-change replace") {
			t.Fatalf("%v: exit %d", tc.args, r.code)
		}
	}
	r = ferry(t, "snapshot", "--source", dir, "--state", t.TempDir(), "--merge-key", "id")
	if r.code != 2 || !strings.Contains(r.stderr, "--merge-key is for a PostgreSQL target") {
		t.Fatalf("JSON lines target: exit %d", r.code)
	}
}

// mergeCSV: record r (1..rows) has id (r-1)%keys+1 and v r, so the last
// record of id k is the one with the largest r.
func mergeCSV(rows, keys int) []byte {
	var b bytes.Buffer
	b.WriteString("id,v,note\n")
	for r := 1; r <= rows; r++ {
		fmt.Fprintf(&b, "%d,%d,\"row %d, \"\"quoted\"\"\"\n", (r-1)%keys+1, r, r)
	}
	return b.Bytes()
}

// TestMergeKeyKillAndResume kills ferry with SIGKILL in the middle of a
// merge (a big file from MinIO whose keys come back in the same and the
// next chunks,
// two connections per file), three times, and restarts it: after each
// kill the table is what the committed records make it, and at the end
// it is as if the load ran once.
func TestMergeKeyKillAndResume(t *testing.T) {
	t.Parallel()
	const rows, keys = 300_000, 700 // keys come back within a chunk and in the next one
	bucket := newBucket(t)
	put(t, bucket, "big/big.csv", mergeCSV(rows, keys))
	schema := newSchema(t)
	tbl := table(schema, "m")
	pipeline := randomName("mergekill-")
	args := []string{"snapshot", "--source", "s3://" + bucket + "/big/", "--s3-path-style", "--target", databaseURL,
		"--table", schema + ".m", "--batch-rows", "1000", "--pipeline", pipeline, "--merge-key", "id"}
	check := func(what string, committed int64) {
		t.Helper()
		// For committed records, id k holds the last r <= committed.
		want := min(committed, keys)
		got := queryRows(t, `SELECT count(*), count(*) FILTER (WHERE v <= $1 AND v > $1 - $2 AND (v - 1) % $2 + 1 = id) FROM `+tbl, committed, keys)
		equal(t, what, got, []string{fmt.Sprintf("%d|%d", want, want)})
	}
	for kills := 0; kills < 3; kills++ {
		cmd := exec.Command(ferryBin, args...)
		cmd.Env = append(os.Environ(), "AWS_ENDPOINT_URL_S3="+s3Endpoint)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		before := queryInt(t, `SELECT coalesce(max(rows), 0) FROM ferry.files WHERE pipeline = $1`, pipeline)
		deadline := time.Now().Add(90 * time.Second)
		for {
			n := queryInt(t, `SELECT coalesce(max(rows), 0) FROM ferry.files WHERE pipeline = $1`, pipeline)
			if n > before+5000 {
				break
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatalf("no progress past %d rows", n)
			}
			time.Sleep(20 * time.Millisecond)
		}
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		// The state and the table in one snapshot.
		tx, err := pool.BeginTx(t.Context(), pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
		if err != nil {
			t.Fatal(err)
		}
		var committed int64
		if err := tx.QueryRow(t.Context(), `SELECT rows FROM ferry.files WHERE pipeline = $1`, pipeline).Scan(&committed); err != nil {
			t.Fatal(err)
		}
		var n, good int64
		if err := tx.QueryRow(t.Context(), `SELECT count(*), count(*) FILTER (WHERE v <= $1 AND v > $1 - $2 AND (v - 1) % $2 + 1 = id) FROM `+tbl, committed, keys).Scan(&n, &good); err != nil {
			t.Fatal(err)
		}
		tx.Rollback(t.Context())
		if want := min(committed, keys); n != want || good != want {
			t.Fatalf("after kill %d at %d committed records: %d rows, %d as the committed records make them, want %d", kills, committed, n, good, want)
		}
		if committed >= rows {
			t.Fatalf("the file finished before it was killed; make it bigger")
		}
		t.Logf("killed with %d records committed", committed)
	}
	r := ferry(t, args...)
	if r.code != 0 {
		t.Fatalf("resume: exit %d", r.code)
	}
	check("rows after resume", rows)
	equal(t, "state", queryRows(t, `SELECT status, rows FROM ferry.files WHERE pipeline = $1`, pipeline), []string{fmt.Sprintf("done|%d", rows)})
}

// TestMergeKeySmallFiles: small files committed together (one transaction
// for many files) merge in order: with --workers 1 the last file listed
// wins, and a key twice in one file keeps its last record; with two
// workers, every key is there once, from one of the files.
func TestMergeKeySmallFiles(t *testing.T) {
	t.Parallel()
	files := map[string][]byte{}
	for i := 0; i < 20; i++ {
		files[fmt.Sprintf("f%02d.csv", i)] = fmt.Appendf(nil, "id,v\n1,%d\n2,%d\n3,%d\n1,%d\n", i, i, i, i+100)
	}
	dir := writeDir(t, files)
	for _, workers := range []string{"1", "2"} {
		schema := newSchema(t)
		r := ferry(t, "snapshot", "--source", dir, "--target", databaseURL, "--table", schema+".m", "--pipeline", schema,
			"--merge-key", "id", "--system-columns", "--workers", workers)
		if r.code != 0 {
			t.Fatalf("--workers %s: exit %d", workers, r.code)
		}
		tbl := table(schema, "m")
		if workers == "1" {
			equal(t, "rows", queryRows(t, "SELECT id, v, _ferry_file, _ferry_record FROM "+tbl+" ORDER BY id"),
				[]string{"1|119|f19.csv|4", "2|19|f19.csv|2", "3|19|f19.csv|3"})
			continue
		}
		equal(t, "rows", queryRows(t, "SELECT count(*), count(*) FILTER (WHERE _ferry_file = format('f%s.csv', to_char(v % 100, 'FM00')) AND (id = 1) = (v >= 100)) FROM "+tbl),
			[]string{"3|3"})
	}
}
