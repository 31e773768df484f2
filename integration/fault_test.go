//go:build integration

package integration

import (
	"bytes"
	"compress/gzip"
	"strings"
	"testing"
	"time"
)

// faultFiles uploads the files of a fault test to bucket and returns the
// number of rows: a CSV big enough to be cut mid-way (many chunks), a
// gzip one, and small ones; ids do not overlap, so a row loaded twice
// breaks the primary key.
func faultFiles(t *testing.T, bucket string) int64 {
	t.Helper()
	put(t, bucket, "big.csv", idsCSV(1, 200_000, "big"))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(idsCSV(200_001, 300_000, "gz"))
	zw.Close()
	put(t, bucket, "packed.csv.gz", gz.Bytes())
	for i, name := range []string{"a.csv", "b.csv", "c.csv", "d.csv"} {
		from := 300_001 + i*1000
		put(t, bucket, name, idsCSV(from, from+999, name))
	}
	return 304_000
}

// faultArgs point ferry at the proxy, with a short stall timeout and
// chunks small enough that a cut falls after some were committed.
func faultArgs(fp *faultProxy, bucket, schema, pipeline string) []string {
	args := pgArgs("s3://"+bucket, schema, pipeline)
	return append(args, "--s3-endpoint", fp.URL, "--read-timeout", "2s", "--batch-rows", "20000")
}

// checkFaultRows checks rows and file states: every row once, every file
// done with one attempt, none failed.
func checkFaultRows(t *testing.T, schema, pipeline string, rows int64) {
	t.Helper()
	if got := queryInt(t, "SELECT count(DISTINCT id) FROM "+table(schema, "t")); got != rows {
		t.Errorf("%d distinct ids, want %d", got, rows)
	}
	if got := queryInt(t, countSQL(schema)); got != rows {
		t.Errorf("%d rows, want %d", got, rows)
	}
	if got := queryInt(t, "SELECT count(*) FROM ferry.files WHERE pipeline = $1 AND status <> 'done'", pipeline); got != 0 {
		t.Errorf("%d files not done: %v", got, queryRows(t, "SELECT key, status, attempts, error FROM ferry.files WHERE pipeline = $1", pipeline))
	}
	if got := queryInt(t, "SELECT count(*) FROM ferry.files WHERE pipeline = $1 AND status = 'done'", pipeline); got != 6 {
		t.Errorf("%d files done, want 6", got)
	}
	// A transient failure is never an attempt.
	equal(t, "files with more than one attempt",
		queryRows(t, "SELECT key, attempts FROM ferry.files WHERE pipeline = $1 AND attempts <> 1", pipeline), nil)
}

// checkFaultRun checks the run as checkFaultRows does, and the faults'
// traces in the logs: retried reads and listings, and stalls.
func checkFaultRun(t *testing.T, fp *faultProxy, schema, pipeline string, rows int64, logs string) {
	t.Helper()
	checkFaultRows(t, schema, pipeline, rows)
	faults := fp.injected()
	t.Logf("faults injected: %v", faults)
	if faults["cut"] == 0 || faults["slowdown"] == 0 || faults["stall"] == 0 {
		t.Errorf("faults injected %v: want cuts, 503s and stalls", faults)
	}
	if n := strings.Count(logs, "read failed, retrying"); n == 0 {
		t.Errorf("no retry in the logs")
	}
	if !strings.Contains(logs, "list failed, retrying") {
		t.Errorf("no listing retry in the logs")
	}
	if !strings.Contains(logs, "--read-timeout") {
		t.Errorf("no stall in the logs")
	}
}

// TestFaultSnapshot: a snapshot through an endpoint that throttles, cuts
// bodies short and stalls exits 0 with every row once and no file failed.
// (Before: the first cut body failed its file, "read at byte N: unexpected
// EOF", and the snapshot exited 1.)
func TestFaultSnapshot(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	bucket := newBucket(t)
	rows := faultFiles(t, bucket)
	exec1(t, "CREATE TABLE "+table(schema, "t")+" (id bigint PRIMARY KEY, note text)")
	fp := newFaultProxy(t, s3Endpoint, 20*time.Second)
	pipeline := "fault-snapshot-" + schema
	res := ferry(t, append([]string{"snapshot", "--log-format", "json", "--progress", "none"}, faultArgs(fp, bucket, schema, pipeline)...)...)
	if res.code != 0 {
		t.Fatalf("exit %d", res.code)
	}
	checkFaultRun(t, fp, schema, pipeline, rows, res.stderr)
}

// TestFaultReplicate: polling replication through the same endpoint with
// --max-attempts 1 quarantines nothing and loads every row once. (Before:
// each cut counted as a failed attempt and a good file was quarantined.)
func TestFaultReplicate(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	ensureState(t, pool)
	bucket := newBucket(t)
	rows := faultFiles(t, bucket)
	exec1(t, "CREATE TABLE "+table(schema, "t")+" (id bigint PRIMARY KEY, note text)")
	fp := newFaultProxy(t, s3Endpoint, 20*time.Second)
	pipeline := "fault-replicate-" + schema
	r := startReplicate(t, append(faultArgs(fp, bucket, schema, pipeline), "--max-attempts", "1")...)
	r.waitCount(rows, countSQL(schema))
	r.waitFor("every file done", func() bool {
		return queryInt(t, "SELECT count(*) FROM ferry.files WHERE pipeline = $1 AND status = 'done'", pipeline) == 6
	})
	if code := r.stop(); code != 0 {
		t.Errorf("exit %d", code)
	}
	checkFaultRun(t, fp, schema, pipeline, rows, r.stderr.String())
}

// TestFaultReplicateNoRetryBudget: with no retry budget
// (--retry-max-elapsed 0), every fault ends the file's load for now and a
// later poll resumes it at its committed position: with --max-attempts 1,
// no good file is quarantined, and each has one attempt however often it
// was resumed. (Before: each resume counted an attempt.)
func TestFaultReplicateNoRetryBudget(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	ensureState(t, pool)
	bucket := newBucket(t)
	rows := faultFiles(t, bucket)
	exec1(t, "CREATE TABLE "+table(schema, "t")+" (id bigint PRIMARY KEY, note text)")
	fp := newFaultProxy(t, s3Endpoint, 20*time.Second)
	pipeline := "fault-nobudget-" + schema
	r := startReplicate(t, append(faultArgs(fp, bucket, schema, pipeline), "--max-attempts", "1", "--retry-max-elapsed", "0")...)
	r.waitCount(rows, countSQL(schema))
	r.waitFor("every file done", func() bool {
		return queryInt(t, "SELECT count(*) FROM ferry.files WHERE pipeline = $1 AND status = 'done'", pipeline) == 6
	})
	if code := r.stop(); code != 0 {
		t.Errorf("exit %d", code)
	}
	checkFaultRows(t, schema, pipeline, rows)
	if faults := fp.injected(); faults["cut"] == 0 {
		t.Errorf("faults injected %v: want cuts", faults)
	}
	if len(r.logs("resuming file")) == 0 {
		t.Errorf("no file resumed at a later poll")
	}
}
