//go:build integration

package integration

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// columnsOf returns "name type" of each column of schema.name, in order.
func columnsOf(t *testing.T, schema, name string) []string {
	t.Helper()
	return queryRows(t, `SELECT attname || ' ' || format_type(atttypid, atttypmod) FROM pg_attribute
		WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped ORDER BY attnum`, table(schema, name))
}

// TestUnknownFieldsAdd: a table ferry did not create is left alone unless
// --unknown-fields add; with it, each new field becomes a column of the
// type its chunk suggests, logged once, with its rows.
func TestUnknownFieldsAdd(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	exec1(t, "CREATE TABLE "+table(schema, "ev")+" (id bigint)")
	src := writeDir(t, map[string][]byte{
		"a.jsonl": []byte(`{"id":1,"n":5,"when":"2024-05-01T10:00:00Z","Odd \"Name\"":"x"}` + "\n" + `{"id":2,"n":6}` + "\n"),
		"b.jsonl": []byte(`{"id":3,"n":7,"tags":["a"]}` + "\n"),
	})
	base := []string{"snapshot", "--source", src, "--target", databaseURL, "--table", schema + ".ev", "--pipeline", randomName("add-"), "--workers", "1"}

	// The default (error), ignore and extra never alter a table ferry did
	// not create.
	r := ferry(t, base...)
	if r.code != 1 || !strings.Contains(r.stderr, `has no column in table`) {
		t.Fatalf("without add: exit %d, want 1 and the unknown field named", r.code)
	}
	equal(t, "columns after a refused load", columnsOf(t, schema, "ev"), []string{"id bigint"})

	r = ferry(t, append(base, "--unknown-fields", "add", "--metadata-columns", "file")...)
	if r.code != 0 {
		t.Fatalf("add: exit %d", r.code)
	}
	cols := strings.Join(columnsOf(t, schema, "ev"), ", ")
	for _, want := range []string{"n bigint", "when timestamp with time zone", `Odd "Name" text`, "tags jsonb", "_ferry_file text"} {
		if !strings.Contains(cols, want) {
			t.Errorf("columns %s: no %q", cols, want)
		}
	}
	equal(t, "rows", queryRows(t, `SELECT id, n, "when", "Odd ""Name""", tags::text, _ferry_file FROM `+table(schema, "ev")+` ORDER BY id`), []string{
		"1|5|2024-05-01T10:00:00Z|x|NULL|a.jsonl", "2|6|NULL|NULL|NULL|a.jsonl", "3|7|NULL|NULL|[\"a\"]|b.jsonl"})
	for _, col := range []string{`"n"`, `"when"`, `"tags"`, `"_ferry_file"`} {
		if n := strings.Count(r.stderr, "added column "+col); n != 1 {
			t.Errorf("column %s logged %d times, want once", col, n)
		}
	}

	// Names no column can have fail their file, naming it; nothing is added.
	long := strings.Repeat("x", 64)
	for name, want := range map[string]string{long: "is longer than 63 bytes", "_ferry_etag": "has the name of a column ferry fills itself"} {
		bad := writeDir(t, map[string][]byte{"bad.jsonl": []byte(`{"id":9,"` + name + `":1}` + "\n")})
		r := ferry(t, "snapshot", "--source", bad, "--target", databaseURL, "--table", schema+".ev", "--unknown-fields", "add", "--pipeline", randomName("bad-"))
		if r.code != 1 || !strings.Contains(r.stderr, `file "bad.jsonl"`) || !strings.Contains(r.stderr, want) {
			t.Errorf("field %.20q: exit %d, want 1 and %q", name, r.code, want)
		}
	}
	if n := len(columnsOf(t, schema, "ev")); n != 6 {
		t.Errorf("%d columns after the bad names, want 6", n)
	}
}

// TestAddColumnConcurrently: two processes, two workers each, load files
// of the same table at the same time, and every file has the same new
// fields: they all try to add the columns, in their chunks' transactions.
// None fails another; a field whose type differs between the two sources
// ends in a column wide enough for both (a table ferry created widens).
func TestAddColumnConcurrently(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	tbl := schema + ".ev"
	seed := writeDir(t, map[string][]byte{"seed.jsonl": []byte(`{"id":0,"src":"seed"}` + "\n")})
	if r := ferry(t, "snapshot", "--source", seed, "--target", databaseURL, "--table", tbl, "--pipeline", randomName("seed-")); r.code != 0 {
		t.Fatalf("seed: exit %d", r.code)
	}
	const files, rows = 12, 300
	srcs := make([]string, 2)
	for p := range srcs {
		m := map[string][]byte{}
		for f := range files {
			var b bytes.Buffer
			for i := range rows {
				id := 1 + p*files*rows + f*rows + i
				// An integer in one source, text (or a fraction) in the other.
				mixed, num := fmt.Sprint(id), fmt.Sprint(id)
				if p == 1 {
					mixed, num = `"m`+fmt.Sprint(id)+`"`, fmt.Sprint(id)+".5"
				}
				fmt.Fprintf(&b, `{"id":%d,"src":"p%d","shared":%d,"mixed":%s,"num":%s}`+"\n", id, p, id*2, mixed, num)
			}
			m[fmt.Sprintf("f%02d.jsonl", f)] = b.Bytes()
		}
		srcs[p] = writeDir(t, m)
	}
	var wg sync.WaitGroup
	results := make([]result, 2)
	for p, src := range srcs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[p] = ferry(t, "snapshot", "--source", src, "--target", databaseURL, "--table", tbl,
				"--pipeline", randomName("conc-"), "--unknown-fields", "add", "--workers", "2", "--group-files", "1", "--batch-rows", "100")
		}()
	}
	wg.Wait()
	for p, r := range results {
		if r.code != 0 {
			t.Fatalf("process %d: exit %d", p, r.code)
		}
	}
	total := 2 * files * rows
	// A bigint column widened to double precision while the other
	// process's plans still encode bigints (8 bytes either way) must not
	// take their bytes as doubles.
	equal(t, "columns", columnsOf(t, schema, "ev"), []string{"id bigint", "src text", "shared bigint", "mixed text", "num double precision"})
	equal(t, "rows", queryRows(t, `SELECT count(*), count(DISTINCT id), sum(shared)::bigint, count(mixed),
			count(*) FILTER (WHERE mixed = CASE WHEN src = 'p1' THEN 'm' || id ELSE id::text END),
			count(*) FILTER (WHERE num = CASE WHEN src = 'p1' THEN id + 0.5 ELSE id END) FROM `+table(schema, "ev")+` WHERE id > 0`),
		[]string{fmt.Sprintf("%d|%d|%d|%d|%d|%d", total, total, total*(total+1), total, total, total)})
	// Each column is logged by the one transaction that added it.
	logged := strings.Count(results[0].stderr+results[1].stderr, `added column "shared"`)
	if logged != 1 {
		t.Errorf(`"shared" logged %d times, want once`, logged)
	}
}

// TestAddColumnKill kills ferry (SIGKILL) while it loads a file whose
// records bring new fields every few chunks, then starts it again: every
// record is in the table once, every column is there and holds its
// records' values, and the state agrees with the table after each kill.
func TestAddColumnKill(t *testing.T) {
	t.Parallel()
	const rows, every = 120_000, 8_000 // a new field every 8 chunks
	var b bytes.Buffer
	for i := 1; i <= rows; i++ {
		fmt.Fprintf(&b, `{"id":%d,"c%d":%d}`+"\n", i, i/every, i)
	}
	src := writeDir(t, map[string][]byte{"big.jsonl": b.Bytes()})
	schema := newSchema(t)
	exec1(t, "CREATE TABLE "+table(schema, "big")+" (id bigint)")
	pipeline := randomName("killadd-")
	args := []string{"snapshot", "--source", src, "--target", databaseURL, "--table", schema + ".big",
		"--batch-rows", "1000", "--pipeline", pipeline, "--unknown-fields", "add"}
	for kills := 0; kills < 3; kills++ {
		cmd := exec.Command(ferryBin, args...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		before := queryInt(t, `SELECT coalesce(max(rows), 0) FROM ferry.files WHERE pipeline = $1`, pipeline)
		deadline := time.Now().Add(2 * time.Minute) // against a hang, not a timing
		for n := before; n <= before+10_000; {
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatalf("no progress past %d rows", n)
			}
			time.Sleep(20 * time.Millisecond)
			n = queryInt(t, `SELECT coalesce(max(rows), 0) FROM ferry.files WHERE pipeline = $1`, pipeline)
			if n >= rows {
				t.Fatal("the file finished before it was killed; make it bigger")
			}
		}
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		var committed, inTable, cols int64
		if err := pool.QueryRow(t.Context(), `SELECT (SELECT rows FROM ferry.files WHERE pipeline = $1), (SELECT count(*) FROM `+table(schema, "big")+`),
				(SELECT count(*) FROM pg_attribute WHERE attrelid = to_regclass($2) AND attnum > 1 AND NOT attisdropped)`, pipeline, table(schema, "big")).Scan(&committed, &inTable, &cols); err != nil {
			t.Fatal(err)
		}
		if committed != inTable {
			t.Fatalf("after kill %d: state says %d rows, table has %d", kills, committed, inTable)
		}
		// The columns are those of the committed records, no more: an
		// added column commits with its chunk.
		if want := committed/every + 1; cols != want {
			t.Fatalf("after kill %d at record %d: %d new columns, want %d", kills, committed, cols, want)
		}
		t.Logf("killed with %d rows and %d new columns committed", committed, cols)
	}
	if r := ferry(t, args...); r.code != 0 {
		t.Fatalf("resume: exit %d", r.code)
	}
	equal(t, "rows", queryRows(t, "SELECT count(*), count(DISTINCT id) FROM "+table(schema, "big")), []string{fmt.Sprintf("%d|%d", rows, rows)})
	var checks []string
	var want []string
	for k := 0; k <= rows/every; k++ {
		lo, hi := max(1, k*every), min(rows, (k+1)*every-1)
		checks = append(checks, fmt.Sprintf(`(SELECT count(*) FILTER (WHERE c%d = id) = count(c%d) AND count(c%d) = %d FROM %s)::text`, k, k, k, hi-lo+1, table(schema, "big")))
		want = append(want, "true")
	}
	equal(t, "every column holds its records' values", queryRows(t, "SELECT "+strings.Join(checks, " || ',' || ")), []string{strings.Join(want, ",")})
}

// TestRescueColumn: values that do not convert are kept, as written, in
// the rescue column, the typed column is NULL, and the record loads;
// counted in the summary and in ferry.files. The rescue column may be the
// extra column.
func TestRescueColumn(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	exec1(t, "CREATE TABLE "+table(schema, "r")+" (id bigint, at timestamptz, ok boolean, _rescued jsonb)")
	src := writeDir(t, map[string][]byte{"r.csv": []byte("id,at,ok,more\n1,2024-05-01,yes,a\nx2,soon,maybe,b\n3,\"bad \"\"quoted\"\"\",no,c\n")})
	pipeline := randomName("rescue-")
	r := ferry(t, "snapshot", "--source", src, "--target", databaseURL, "--table", schema+".r", "--pipeline", pipeline,
		"--rescue-column", "_rescued", "--unknown-fields", "extra", "--extra-column", "_rescued")
	if r.code != 0 || !strings.Contains(r.stderr, "ferry: 2 records loaded with values kept in the rescue column") {
		t.Fatalf("exit %d, want 0 and the rescued records counted", r.code)
	}
	equal(t, "rows", queryRows(t, `SELECT id, at, ok, _rescued::text FROM `+table(schema, "r")+` ORDER BY _rescued->>'more'`), []string{
		`1|2024-05-01T00:00:00Z|true|{"more": "a"}`,
		`NULL|NULL|NULL|{"at": "soon", "id": "x2", "ok": "maybe", "more": "b"}`,
		`3|NULL|false|{"at": "bad \"quoted\"", "more": "c"}`,
	})
	equal(t, "ferry.files", queryRows(t, `SELECT loaded, rejected, rescued FROM ferry.files WHERE pipeline = $1`, pipeline), []string{"3|0|2"})
	equal(t, "load_history", queryRows(t, `SELECT rows, rescued FROM ferry.load_history WHERE pipeline = $1`, pipeline), []string{"3|2"})
	// ferry status and ferry files show the count.
	var sum struct {
		Pipelines []struct {
			RecordsRescued int64 `json:"records_rescued"`
		}
	}
	inspect(t, &sum, "status", "--target", databaseURL, "--pipeline", pipeline)
	if len(sum.Pipelines) != 1 || sum.Pipelines[0].RecordsRescued != 2 {
		t.Errorf("status = %+v; want 2 records rescued", sum)
	}
	var fs struct{ Files []struct{ Rescued *int64 } }
	inspect(t, &fs, "files", "--target", databaseURL, "--pipeline", pipeline)
	if len(fs.Files) != 1 || fs.Files[0].Rescued == nil || *fs.Files[0].Rescued != 2 {
		t.Errorf("files = %+v; want 2 records rescued", fs)
	}
	if st := ferry(t, "status", "--target", databaseURL, "--pipeline", pipeline); !strings.Contains(st.stdout, "3 loaded (2 with rescued values), 0 rejected") {
		t.Errorf("status text:\n%s", st.stdout)
	}

	// A table ferry did not create and that lacks the column: a clear
	// error, the table unchanged.
	exec1(t, "CREATE TABLE "+table(schema, "r2")+" (id bigint)")
	r = ferry(t, "snapshot", "--source", src, "--target", databaseURL, "--table", schema+".r2", "--rescue-column", "_rescued", "--unknown-fields", "ignore")
	if r.code == 0 || !strings.Contains(r.stderr, `has no column "_rescued" for --rescue-column`) {
		t.Fatalf("missing rescue column: exit %d", r.code)
	}
	equal(t, "columns", columnsOf(t, schema, "r2"), []string{"id bigint"})
}

// TestMetadataColumns fills every metadata column from MinIO's listing;
// --system-columns stays file and record.
func TestMetadataColumns(t *testing.T) {
	t.Parallel()
	bucket, schema := newBucket(t), newSchema(t)
	put(t, bucket, "in/a.csv", []byte("id\n1\n2\n"))
	put(t, bucket, "in/b.csv", []byte("id\n3\n"))
	r := ferry(t, "snapshot", "--source", "s3://"+bucket+"/in/", "--s3-path-style", "--target", databaseURL, "--table", schema+".m",
		"--metadata-columns", "file,record,etag,modified,size,loaded_at")
	if r.code != 0 {
		t.Fatalf("exit %d", r.code)
	}
	equal(t, "columns", columnsOf(t, schema, "m"), []string{"id bigint", "_ferry_file text", "_ferry_record bigint", "_ferry_etag text",
		"_ferry_modified timestamp with time zone", "_ferry_size bigint", "_ferry_loaded_at timestamp with time zone"})
	var want []string
	for _, k := range []string{"in/a.csv", "in/b.csv"} {
		head, err := s3Client.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(k)})
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, fmt.Sprintf("%s|%s|%s|%d|1", k, strings.Trim(aws.ToString(head.ETag), `"`), head.LastModified.UTC().Truncate(time.Second).Format(time.RFC3339Nano), aws.ToInt64(head.ContentLength)))
	}
	equal(t, "metadata per file", queryRows(t, `SELECT _ferry_file, _ferry_etag, date_trunc('second', _ferry_modified), _ferry_size, count(DISTINCT _ferry_loaded_at)
		FROM `+table(schema, "m")+` GROUP BY 1, 2, 3, 4 ORDER BY 1`), want)
	equal(t, "records", queryRows(t, `SELECT id, _ferry_record FROM `+table(schema, "m")+` ORDER BY id`), []string{"1|1", "2|2", "3|1"})

	if r := ferry(t, "snapshot", "--source", "s3://"+bucket+"/in/", "--s3-path-style", "--target", databaseURL, "--table", schema+".s", "--system-columns"); r.code != 0 {
		t.Fatalf("--system-columns: exit %d", r.code)
	}
	equal(t, "--system-columns", columnsOf(t, schema, "s"), []string{"id bigint", "_ferry_file text", "_ferry_record bigint"})

	// A table ferry created gains metadata columns asked for later; one
	// it did not create is not changed.
	put(t, bucket, "in/c.csv", []byte("id\n4\n"))
	if r := ferry(t, "snapshot", "--source", "s3://"+bucket+"/in/", "--s3-path-style", "--target", databaseURL, "--table", schema+".s", "--metadata-columns", "file,record,size"); r.code != 0 {
		t.Fatalf("later metadata: exit %d", r.code)
	}
	equal(t, "size added", queryRows(t, `SELECT _ferry_file, _ferry_size FROM `+table(schema, "s")+` ORDER BY id`),
		[]string{"in/a.csv|NULL", "in/a.csv|NULL", "in/b.csv|NULL", "in/c.csv|5"})
	exec1(t, "CREATE TABLE "+table(schema, "f")+" (id bigint)")
	r = ferry(t, "snapshot", "--source", "s3://"+bucket+"/in/", "--s3-path-style", "--target", databaseURL, "--table", schema+".f", "--metadata-columns", "etag")
	if r.code != 2 && r.code != 1 || !strings.Contains(r.stderr, "has no column _ferry_etag") {
		t.Fatalf("foreign table: exit %d", r.code)
	}
	equal(t, "foreign table unchanged", columnsOf(t, schema, "f"), []string{"id bigint"})
}

// TestPartitionColumns: Hive-style directories and --key-pattern groups
// become typed columns; a key without values loads with NULLs and one
// warning; hostile names are quoted; a clash with a field is an error.
func TestPartitionColumns(t *testing.T) {
	t.Parallel()
	bucket, schema := newBucket(t), newSchema(t)
	put(t, bucket, "land/dt=2024-05-01/region=eu/we%22ird=it's/part-0.csv", []byte("id\n1\n"))
	put(t, bucket, "land/dt=2024-05-02/region=us/we%22ird=x/part-0.csv", []byte("id\n2\n"))
	put(t, bucket, "land/dt=2024-05-03T10:00:00Z/region=__HIVE_DEFAULT_PARTITION__/part-0.csv", []byte("id\n3\n"))
	put(t, bucket, "land/flat/part-0.csv", []byte("id\n4\n"))
	put(t, bucket, "land/flat/part-1.csv", []byte("id\n5\n"))
	args := []string{"snapshot", "--source", "s3://" + bucket + "/land/", "--s3-path-style", "--target", databaseURL, "--table", schema + ".p", "--partition-columns"}
	r := ferry(t, args...)
	if r.code != 0 {
		t.Fatalf("exit %d", r.code)
	}
	if n := strings.Count(r.stderr, "gives no partition values"); n != 1 {
		t.Errorf("keys without partitions warned %d times, want once", n)
	}
	// dt had dates and a timestamp: the widest, timestamptz.
	cols := columnsOf(t, schema, "p")
	equal(t, "columns", cols[:1], []string{"id bigint"})
	got := strings.Join(cols, ", ")
	for _, want := range []string{"dt timestamp with time zone", "region text", `we"ird text`} {
		if !strings.Contains(got, want) {
			t.Errorf("columns %s: no %q", got, want)
		}
	}
	equal(t, "rows", queryRows(t, `SELECT id, dt, region, "we""ird" FROM `+table(schema, "p")+` ORDER BY id`), []string{
		"1|2024-05-01T00:00:00Z|eu|it's", "2|2024-05-02T00:00:00Z|us|x", "3|2024-05-03T10:00:00Z|NULL|NULL", "4|NULL|NULL|NULL", "5|NULL|NULL|NULL"})

	// --key-pattern, and the JSON lines target.
	put(t, bucket, "logs/2024/05/a.jsonl", []byte(`{"id":1}`+"\n"))
	put(t, bucket, "logs/2025/11/b.jsonl", []byte(`{"id":2}`+"\n")) // 11 alone would be a bigint
	kp := []string{"snapshot", "--source", "s3://" + bucket + "/logs/", "--s3-path-style", "--key-pattern", `^(?P<year>\d{4})/(?P<month>\d{2})/`}
	if r := ferry(t, append(kp, "--target", databaseURL, "--table", schema+".k")...); r.code != 0 {
		t.Fatalf("--key-pattern: exit %d", r.code)
	}
	equal(t, "key-pattern columns", columnsOf(t, schema, "k"), []string{"id bigint", "year bigint", "month text"})
	equal(t, "key-pattern rows", queryRows(t, `SELECT id, year, month FROM `+table(schema, "k")+` ORDER BY id`), []string{"1|2024|05", "2|2025|11"})
	r = ferry(t, append(kp, "--state", t.TempDir(), "--workers", "1")...)
	if r.code != 0 || !strings.Contains(r.stdout, `{"id":1,"year":"2024","month":"05"}`) || !strings.Contains(r.stdout, `{"id":2,"year":"2025","month":"11"}`) {
		t.Fatalf("JSON lines: exit %d, stdout %s", r.code, r.stdout)
	}

	// A partition named like a field of the file fails that file, naming it.
	put(t, bucket, "clash/id=7/a.csv", []byte("id\n1\n"))
	r = ferry(t, "snapshot", "--source", "s3://"+bucket+"/clash/", "--s3-path-style", "--target", databaseURL, "--table", schema+".c", "--partition-columns")
	if r.code != 1 || !strings.Contains(r.stderr, `key \"clash/id=7/a.csv\": partition \"id\" has the name of field \"id\"`) && !strings.Contains(r.stderr, `key "clash/id=7/a.csv": partition "id" has the name of field "id"`) {
		t.Fatalf("clash: exit %d", r.code)
	}
	// Flags that do not go together: a usage error.
	if r := ferry(t, append(kp, "--partition-columns")...); r.code != 2 {
		t.Fatalf("--partition-columns with --key-pattern: exit %d, want 2", r.code)
	}
	if r := ferry(t, "snapshot", "--source", "s3://"+bucket+"/logs/", "--key-pattern", `(\d+)/`); r.code != 2 || !strings.Contains(r.stderr, "no named group") {
		t.Fatalf("pattern without a named group: exit %d, want 2", r.code)
	}
}

// TestAddAndWidenInOneChunk: a chunk that adds a column (--unknown-fields
// add) and has a value wider than an existing column's type widens the
// column and loads (its plan was of the table as the rolled-back
// transaction that added the column saw it).
func TestAddAndWidenInOneChunk(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	dir := writeDir(t, map[string][]byte{"a.csv": []byte("id,n\n1,10\n")})
	args := []string{"snapshot", "--source", dir, "--target", databaseURL, "--table", schema + ".t", "--pipeline", schema, "--unknown-fields", "add"}
	if r := ferry(t, args...); r.code != 0 {
		t.Fatalf("a.csv: exit %d", r.code)
	}
	if err := os.WriteFile(filepath.Join(dir, "b.csv"), []byte("id,n,extra\n2,2.5,x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := ferry(t, args...); r.code != 0 {
		t.Fatalf("b.csv: exit %d", r.code)
	}
	equal(t, "rows", queryRows(t, "SELECT id, n, coalesce(extra, '-') FROM "+table(schema, "t")+" ORDER BY id"), []string{"1|10|-", "2|2.5|x"})
}
