//go:build integration

package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestOnChangeReplace: under --on-change replace, a file rewritten with
// new content replaces its rows: the table ferry creates gets _ferry_file
// and its index, the older version is marked replaced, and another key's
// rows stay. With --on-change ignore, a rewrite is skipped.
func TestOnChangeReplace(t *testing.T) {
	t.Parallel()
	t.Run("replace", func(t *testing.T) {
		t.Parallel()
		schema := newSchema(t)
		ensureState(t, pool)
		bucket := newBucket(t)
		pipeline := randomName("chg-repl-")
		put(t, bucket, "in/a.csv", idsCSV(1, 3, "a1"))
		put(t, bucket, "in/b.csv", idsCSV(101, 102, "b1"))
		r := startReplicate(t, append(pgArgs("s3://"+bucket+"/in/", schema, pipeline), "--on-change", "replace")...)
		r.waitCount(2, `SELECT count(*) FROM ferry.files WHERE pipeline = $1 AND status = 'done'`, pipeline)
		r.waitCount(5, countSQL(schema))
		if n := queryInt(t, `SELECT count(*) FROM pg_indexes WHERE schemaname = $1 AND tablename = 't' AND indexdef LIKE '%_ferry_file%'`, schema); n != 1 {
			t.Fatalf("%d indexes on _ferry_file; want 1", n)
		}

		put(t, bucket, "in/a.csv", idsCSV(4, 8, "a2"))
		r.waitCount(1, `SELECT count(*) FROM ferry.files WHERE pipeline = $1 AND status = 'replaced'`, pipeline)
		r.waitCount(2, `SELECT count(*) FROM ferry.files WHERE pipeline = $1 AND status = 'done'`, pipeline)
		equal(t, "rows", queryRows(t, "SELECT note, _ferry_file, count(*), min(id), max(id) FROM "+table(schema, "t")+" GROUP BY 1, 2 ORDER BY 1"),
			[]string{"a2|in/a.csv|5|4|8", "b1|in/b.csv|2|101|102"})
		equal(t, "state", queryRows(t, `SELECT key, status, rows FROM ferry.files WHERE pipeline = $1 ORDER BY key, status`, pipeline),
			[]string{"in/a.csv|done|5", "in/a.csv|replaced|0", "in/b.csv|done|2"})

		// A version that is empty replaces the rows with none.
		put(t, bucket, "in/b.csv", []byte("id,note\n"))
		r.waitCount(2, `SELECT count(*) FROM ferry.files WHERE pipeline = $1 AND status = 'replaced'`, pipeline)
		r.waitCount(5, countSQL(schema))
		equal(t, "rows after b emptied", queryRows(t, "SELECT note, count(*) FROM "+table(schema, "t")+" GROUP BY 1 ORDER BY 1"), []string{"a2|5"})
	})
	t.Run("ignore", func(t *testing.T) {
		t.Parallel()
		schema := newSchema(t)
		bucket := newBucket(t)
		pipeline := randomName("chg-ign-")
		put(t, bucket, "in/a.csv", idsCSV(1, 3, "v1"))
		args := append([]string{"snapshot"}, append(pgArgs("s3://"+bucket+"/in/", schema, pipeline), "--on-change", "ignore")...)
		if r := ferry(t, args...); r.code != 0 {
			t.Fatalf("exit %d", r.code)
		}
		put(t, bucket, "in/a.csv", idsCSV(4, 8, "v2"))
		if r := ferry(t, args...); r.code != 0 {
			t.Fatalf("exit %d", r.code)
		}
		equal(t, "rows", queryRows(t, "SELECT note, count(*) FROM "+table(schema, "t")+" GROUP BY 1"), []string{"v1|3"})
	})
	t.Run("a table without _ferry_file", func(t *testing.T) {
		t.Parallel()
		schema := newSchema(t)
		bucket := newBucket(t)
		put(t, bucket, "in/a.csv", idsCSV(1, 3, "v1"))
		// Not created by ferry: a clear error, the table untouched.
		exec1(t, "CREATE TABLE "+table(schema, "mine")+" (id bigint, note text)")
		r := ferry(t, "snapshot", "--source", "s3://"+bucket+"/in/", "--s3-path-style", "--target", databaseURL,
			"--table", schema+".mine", "--pipeline", randomName("chg-mine-"), "--on-change", "replace")
		if r.code == 0 || !strings.Contains(r.stderr, "has no column _ferry_file") || !strings.Contains(r.stderr, "ferry did not create it") {
			t.Fatalf("exit %d; want an error naming _ferry_file", r.code)
		}
		if n := queryInt(t, `SELECT count(*) FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'mine'`, schema); n != 2 {
			t.Fatalf("the table has %d columns; want its 2", n)
		}
		// Created by ferry without it: the column and its index are added.
		pipeline := randomName("chg-add-")
		args := append([]string{"snapshot"}, pgArgs("s3://"+bucket+"/in/", schema, pipeline)...)
		if r := ferry(t, args...); r.code != 0 {
			t.Fatalf("exit %d", r.code)
		}
		put(t, bucket, "in/a.csv", idsCSV(4, 5, "v2"))
		r = ferry(t, append(args, "--on-change", "replace")...)
		if r.code != 0 || !strings.Contains(r.stderr, "added column _ferry_file") {
			t.Fatalf("exit %d; want the column added", r.code)
		}
		// The rows loaded before have no file name: they stay.
		equal(t, "rows", queryRows(t, "SELECT note, coalesce(_ferry_file, 'NULL'), count(*) FROM "+table(schema, "t")+" GROUP BY 1, 2 ORDER BY 1"),
			[]string{"v1|NULL|3", "v2|in/a.csv|2"})
	})
}

// TestOnChangeReplaceKill kills ferry (SIGKILL) in the middle of a big
// new version that replaces a small one, twice, then lets it finish. A
// reader querying all along never sees both versions, nor, once the new
// one is done, neither; the table ends with the new version exactly once.
func TestOnChangeReplaceKill(t *testing.T) {
	t.Parallel()
	const rows = 300_000
	schema := newSchema(t)
	bucket := newBucket(t)
	pipeline := randomName("chg-kill-")
	args := []string{"snapshot", "--source", "s3://" + bucket + "/big/", "--s3-path-style", "--target", databaseURL,
		"--table", schema + ".big", "--batch-rows", "1000", "--pipeline", pipeline, "--on-change", "replace"}
	put(t, bucket, "big/f.csv", idsCSV(1, 50, "old"))
	if r := ferry(t, args...); r.code != 0 {
		t.Fatalf("first version: exit %d", r.code)
	}
	put(t, bucket, "big/f.csv", bigCSV(rows))

	// The reader: one statement, one snapshot.
	var stop atomic.Bool
	var wg sync.WaitGroup
	var reads, both atomic.Int64
	var bad atomic.Value
	wg.Go(func() {
		for !stop.Load() {
			var old, new int64
			err := pool.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE note = 'old'), count(*) FILTER (WHERE note <> 'old') FROM `+table(schema, "big")).Scan(&old, &new)
			if err != nil {
				bad.Store(err.Error())
				return
			}
			reads.Add(1)
			if old > 0 && new > 0 {
				both.Add(1)
				bad.Store(fmt.Sprintf("a reader saw %d old rows and %d new ones", old, new))
			}
			if old == 0 && new == 0 {
				bad.Store("a reader saw neither version")
			}
		}
	})
	defer func() {
		stop.Store(true)
		wg.Wait()
	}()

	var before int64
	for kills := 0; kills < 2; kills++ {
		cmd := exec.Command(ferryBin, args...)
		cmd.Env = append(os.Environ(), "AWS_ENDPOINT_URL_S3="+s3Endpoint)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(waitDeadline)
		for queryInt(t, `SELECT coalesce(max(rows), 0) FROM ferry.files WHERE pipeline = $1 AND status = 'loading'`, pipeline) <= before+5000 {
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatal("no progress")
			}
			time.Sleep(20 * time.Millisecond)
		}
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		var committed, old, inTable int64
		if err := pool.QueryRow(t.Context(), `SELECT (SELECT rows FROM ferry.files WHERE pipeline = $1 AND status = 'loading'),
				(SELECT count(*) FILTER (WHERE note = 'old') FROM `+table(schema, "big")+`), (SELECT count(*) FROM `+table(schema, "big")+`)`,
			pipeline).Scan(&committed, &old, &inTable); err != nil {
			t.Fatal(err)
		}
		if old != 0 || committed != inTable || committed >= rows {
			t.Fatalf("after kill %d: state says %d rows, the table has %d (%d of the old version); want the committed rows of the new version only", kills, committed, inTable, old)
		}
		t.Logf("killed with %d rows committed", committed)
		before = committed
	}
	if r := ferry(t, args...); r.code != 0 {
		t.Fatalf("resume: exit %d", r.code)
	}
	stop.Store(true)
	wg.Wait()
	if msg, _ := bad.Load().(string); msg != "" {
		t.Fatalf("%s (%d reads, %d saw both)", msg, reads.Load(), both.Load())
	}
	equal(t, "rows", queryRows(t, "SELECT count(*), count(DISTINCT id), min(id), max(id), count(*) FILTER (WHERE note = 'old') FROM "+table(schema, "big")),
		[]string{fmt.Sprintf("%d|%d|1|%d|0", rows, rows, rows)})
	equal(t, "state", queryRows(t, `SELECT status, rows FROM ferry.files WHERE pipeline = $1 ORDER BY status`, pipeline),
		[]string{fmt.Sprintf("done|%d", rows), "replaced|0"})
	if reads.Load() == 0 {
		t.Fatal("the reader read nothing")
	}
}

// TestOnChangeResume: a log file in a local directory that grows while
// replicate follows it loads only its new lines, each once; when its
// loaded part is rewritten, it is loaded whole and replaces the key's
// rows (the fallback with PostgreSQL).
func TestOnChangeResume(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	ensureState(t, pool)
	dir := t.TempDir()
	path := dir + "/app.jsonl"
	if err := os.WriteFile(path, []byte(idsJSONL(1, 3, "a")), 0o644); err != nil {
		t.Fatal(err)
	}
	pipeline := randomName("chg-resume-")
	r := startReplicate(t, "--source", dir, "--target", databaseURL, "--table", schema+".t", "--pipeline", pipeline, "--on-change", "resume")
	doneSQL := `SELECT count(*) FROM ferry.files WHERE pipeline = $1 AND status = 'done'`
	r.waitCount(1, doneSQL, pipeline)
	r.waitCount(3, countSQL(schema))
	appendTo := func(s string) {
		f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteString(s); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	appendTo(idsJSONL(4, 5, "a"))
	r.waitCount(2, doneSQL, pipeline)
	r.waitCount(5, countSQL(schema))
	appendTo(idsJSONL(6, 6, "a"))
	r.waitCount(3, doneSQL, pipeline)
	r.waitCount(6, countSQL(schema))
	equal(t, "rows", queryRows(t, "SELECT count(*), count(DISTINCT id), min(id), max(id) FROM "+table(schema, "t")), []string{"6|6|1|6"})
	equal(t, "state", queryRows(t, `SELECT rows, loaded FROM ferry.files WHERE pipeline = $1 ORDER BY rows`, pipeline),
		[]string{"3|3", "5|2", "6|1"})
	if n := len(r.logs("file grew: loading what follows the part already loaded")); n != 2 {
		t.Fatalf("%d log lines say the file grew; want 2", n)
	}

	// The loaded part rewritten: a warning, and the new content whole
	// in place of the key's rows.
	if err := os.WriteFile(path, []byte(idsJSONL(101, 104, "b")), 0o644); err != nil {
		t.Fatal(err)
	}
	r.waitCount(3, `SELECT count(*) FROM ferry.files WHERE pipeline = $1 AND status = 'replaced'`, pipeline)
	r.waitCount(1, doneSQL, pipeline)
	r.waitFor("the rewritten file's rows", func() bool {
		return strings.Join(queryRows(t, "SELECT note, count(*) FROM "+table(schema, "t")+" GROUP BY 1 ORDER BY 1"), ",") == "b|4"
	})
	if !strings.Contains(r.stderr.String(), "falls back to replace") {
		t.Fatalf("no warning that the file changed")
	}
}

// TestSQSDeleteOnRemove: with --delete-on-remove, an ObjectRemoved
// notification deletes the key's rows and marks it removed, and the
// message is deleted; replays delete nothing more; a removal of a key
// that exists again is ignored; a key removed while it loads ends with
// none of its rows, whatever the load had committed.
func TestSQSDeleteOnRemove(t *testing.T) {
	t.Parallel()
	c := newSQSClient(t)
	queue := newQueue(t, c)
	schema := newSchema(t)
	ensureState(t, pool)
	bucket := newBucket(t)
	pipeline := randomName("sqs-rm-")
	a := putObject(t, bucket, "in/a.csv", idsCSV(1, 3, "a"))
	b := putObject(t, bucket, "in/b.csv", idsCSV(4, 5, "b"))
	send(t, c, queue, s3Notification("ObjectCreated:Put", bucket, a, b))
	r := startReplicate(t, sqsArgs(bucket, "in", queue, schema, pipeline, "--delete-on-remove", "--backfill=false", "--batch-rows", "2000")...)
	doneSQL := `SELECT count(*) FROM ferry.files WHERE pipeline = $1 AND status = 'done'`
	r.waitCount(2, doneSQL, pipeline)
	r.waitCount(5, countSQL(schema))

	// Removed: its rows go, once; the replays are harmless.
	if _, err := s3Client.DeleteObject(t.Context(), &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("in/a.csv")}); err != nil {
		t.Fatal(err)
	}
	removal := s3Notification("ObjectRemoved:Delete", bucket, putObj{key: "in/a.csv"})
	send(t, c, queue, removal)
	send(t, c, queue, removal)
	r.waitFor("a.csv's rows deleted", func() bool { return queryInt(t, countSQL(schema)) == 2 })
	waitQueueEmpty(r, c, queue)
	send(t, c, queue, removal)
	waitQueueEmpty(r, c, queue)
	equal(t, "rows", queryRows(t, "SELECT note, count(*) FROM "+table(schema, "t")+" GROUP BY 1"), []string{"b|2"})
	equal(t, "state", queryRows(t, `SELECT key, status, rows FROM ferry.files WHERE pipeline = $1 ORDER BY key`, pipeline),
		[]string{"in/a.csv|removed|0", "in/b.csv|done|2"})

	// A removal of a key that exists again (put after it was removed) is
	// stale: ignored.
	send(t, c, queue, s3Notification("ObjectRemoved:Delete", bucket, putObj{key: "in/b.csv"}))
	waitQueueEmpty(r, c, queue)
	equal(t, "rows after a stale removal", queryRows(t, "SELECT note, count(*) FROM "+table(schema, "t")+" GROUP BY 1"), []string{"b|2"})

	// The same content uploaded again (the same ETag) loads again.
	a = putObject(t, bucket, "in/a.csv", idsCSV(1, 3, "a"))
	send(t, c, queue, s3Notification("ObjectCreated:Put", bucket, a))
	r.waitCount(5, countSQL(schema))
	waitQueueEmpty(r, c, queue)

	// Removed while it loads: the removal waits for the load to end,
	// then deletes what it committed.
	const rows = 300_000
	big := bigCSVObject(t, bucket, "in/big.csv", rows)
	send(t, c, queue, s3Notification("ObjectCreated:Put", bucket, big))
	r.waitFor("some chunks of big.csv committed", func() bool {
		return queryInt(t, `SELECT count(*) FROM ferry.files WHERE pipeline = $1 AND key = 'in/big.csv' AND status = 'loading' AND rows > 0`, pipeline) == 1
	})
	if _, err := s3Client.DeleteObject(t.Context(), &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("in/big.csv")}); err != nil {
		t.Fatal(err)
	}
	send(t, c, queue, s3Notification("ObjectRemoved:Delete", bucket, putObj{key: "in/big.csv"}))
	r.waitFor("big.csv removed", func() bool { return len(r.logs("file removed: its rows are deleted")) == 4 })
	waitQueueEmpty(r, c, queue)
	equal(t, "rows after big.csv was removed", queryRows(t, "SELECT note, count(*) FROM "+table(schema, "t")+" WHERE note IN ('a', 'b') OR _ferry_file = 'in/big.csv' GROUP BY 1 ORDER BY 1"),
		[]string{"a|3", "b|2"})
	if n := queryInt(t, `SELECT count(*) FROM `+table(schema, "t")); n != 5 {
		t.Fatalf("%d rows; want the 5 of a.csv and b.csv", n)
	}
	if n := queryInt(t, `SELECT rows FROM ferry.files WHERE pipeline = $1 AND key = 'in/big.csv'`, pipeline); n != 0 {
		t.Fatalf("big.csv's position is %d; want 0 (removed)", n)
	}
	t.Logf("the removal waited for the load: %v", len(r.logs("removed while loading: the removal waits for the load to end")) > 0)
}
