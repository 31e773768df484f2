//go:build integration

package integration

import (
	"bytes"
	"compress/gzip"
	"os"
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
	_, rows := faultObjects(t, bucket)
	return rows
}

// faultObjects uploads the files of faultFiles and returns what their
// notifications say, and the number of rows.
func faultObjects(t *testing.T, bucket string) ([]putObj, int64) {
	t.Helper()
	objs := []putObj{putObject(t, bucket, "big.csv", idsCSV(1, 200_000, "big"))}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(idsCSV(200_001, 300_000, "gz"))
	zw.Close()
	objs = append(objs, putObject(t, bucket, "packed.csv.gz", gz.Bytes()))
	for i, name := range []string{"a.csv", "b.csv", "c.csv", "d.csv"} {
		from := 300_001 + i*1000
		objs = append(objs, putObject(t, bucket, name, idsCSV(from, from+999, name)))
	}
	return objs, 304_000
}

// faultArgs point ferry at the proxy, with a short stall timeout and
// chunks small enough that a cut falls after some were committed.
func faultArgs(fp *faultProxy, bucket, schema, pipeline string) []string {
	args := pgArgs("s3://"+bucket, schema, pipeline)
	return append(args, "--s3-endpoint", fp.URL, "--read-timeout", "2s", "--batch-rows", "20000")
}

// checkFaultRows checks rows and file states: every row once, every file
// done with one attempt, none failed.
func checkFaultRows(t *testing.T, schema, pipeline string, rows, files int64) {
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
	if got := queryInt(t, "SELECT count(*) FROM ferry.files WHERE pipeline = $1 AND status = 'done'", pipeline); got != files {
		t.Errorf("%d files done, want %d", got, files)
	}
	// A transient failure is never an attempt.
	equal(t, "files with more than one attempt",
		queryRows(t, "SELECT key, attempts FROM ferry.files WHERE pipeline = $1 AND attempts <> 1", pipeline), nil)
}

// checkFaultRun checks the run as checkFaultRows does, and the faults'
// traces in the logs: retried reads and listings, and stalls.
func checkFaultRun(t *testing.T, fp *faultProxy, schema, pipeline string, rows int64, logs string) {
	t.Helper()
	checkFaultRows(t, schema, pipeline, rows, 6)
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
	// Each fault fails a poll, and failed polls back off (1 s doubling):
	// a few faults on object reads, none on listings.
	fp.configure(func(fp *faultProxy) { fp.maxFaults, fp.quietListing = 5, true })
	pipeline := "fault-nobudget-" + schema
	r := startReplicate(t, append(faultArgs(fp, bucket, schema, pipeline), "--max-attempts", "1", "--retry-max-elapsed", "0")...)
	r.waitCount(rows, countSQL(schema))
	r.waitFor("every file done", func() bool {
		return queryInt(t, "SELECT count(*) FROM ferry.files WHERE pipeline = $1 AND status = 'done'", pipeline) == 6
	})
	if code := r.stop(); code != 0 {
		t.Errorf("exit %d", code)
	}
	checkFaultRows(t, schema, pipeline, rows, 6)
	if faults := fp.injected(); faults["cut"] == 0 {
		t.Errorf("faults injected %v: want cuts", faults)
	}
	if len(r.logs("resuming file")) == 0 {
		t.Errorf("no file resumed at a later poll")
	}
}

// TestFaultSQS: an SQS-driven replicate with faults on both endpoints —
// S3 as in TestFaultSnapshot (plus 503 bursts on HEAD, asked for
// notifications without an ETag), SQS with 503 bursts, resets and answers
// cut short on receive, 503s on visibility changes, and deletes answered
// 503 for 10 s, so that some give up — loads every row once, fails no file,
// deletes every message (a message whose delete gave up comes back, finds
// its object done and is deleted), and exits 0 on SIGTERM.
func TestFaultSQS(t *testing.T) {
	t.Parallel()
	c := newSQSClient(t)
	queue := newQueue(t, c)
	schema := newSchema(t)
	ensureState(t, pool)
	bucket := newBucket(t)
	exec1(t, "CREATE TABLE "+table(schema, "t")+" (id bigint PRIMARY KEY, note text)")
	s3p := newFaultProxy(t, s3Endpoint, 20*time.Second)
	sqsp := newFaultProxy(t, os.Getenv("FERRY_TEST_SQS_ENDPOINT"), 0)
	sqsp.configure(func(fp *faultProxy) { fp.script = sqsScript(10 * time.Second) })
	pipeline := "fault-sqs-" + schema
	// A short visibility timeout: a message whose receive answer was cut,
	// or whose delete gave up, comes back soon.
	r := startReplicate(t, append(faultArgs(s3p, bucket, schema, pipeline), "--sqs-queue-url", queue,
		"--sqs-endpoint", sqsp.URL, "--sqs-wait", "1s", "--sqs-visibility", "4s", "--backfill=false", "--max-attempts", "1")...)
	objs, rows := faultObjects(t, bucket)
	for i, o := range objs {
		if i%3 == 1 {
			o.etag = "" // ferry asks S3 (HEAD) for the current version
		}
		send(t, c, queue, s3Notification("ObjectCreated:Put", bucket, o))
	}
	r.waitCount(rows, countSQL(schema))
	r.waitFor("every file done", func() bool {
		return queryInt(t, "SELECT count(*) FROM ferry.files WHERE pipeline = $1 AND status = 'done'", pipeline) == 6
	})
	waitQueueEmpty(r, c, queue)
	if code := r.stop(); code != 0 {
		t.Errorf("exit %d after SIGTERM", code)
	}
	checkFaultRows(t, schema, pipeline, rows, 6)
	logs := r.stderr.String()
	t.Logf("S3 faults %v, SQS faults %v", s3p.injected(), sqsp.injected())
	if f := sqsp.injected(); f["sqs 503"] == 0 || f["sqs reset"] == 0 || f["sqs delete 503"] == 0 {
		t.Errorf("SQS faults injected %v: want 503s, resets and failed deletes", f)
	}
	if f := s3p.injected(); f["cut"] == 0 || f["head slowdown"] == 0 {
		t.Errorf("S3 faults injected %v: want cuts and HEAD 503s", f)
	}
	for _, want := range []string{"receive failed, retrying", "delete failed, retrying", "(gave up after", "head failed, retrying", "read failed, retrying"} {
		if !strings.Contains(logs, want) {
			t.Errorf("no %q in the logs", want)
		}
	}
}

// TestFaultOutage: S3 unreachable for 20 s (every connection reset) in the
// middle of a run, on top of the usual faults. A snapshot rides it out
// within the default --retry-max-elapsed and exits 0 with every row once;
// a replicate keeps going: every row once, and a file uploaded after the
// outage loads too. (Before: the first reset failed its file.)
func TestFaultOutage(t *testing.T) {
	t.Parallel()
	const outage = 20 * time.Second
	for _, job := range []string{"snapshot", "replicate"} {
		t.Run(job, func(t *testing.T) {
			t.Parallel()
			schema := newSchema(t)
			ensureState(t, pool)
			bucket := newBucket(t)
			rows := faultFiles(t, bucket)
			exec1(t, "CREATE TABLE "+table(schema, "t")+" (id bigint PRIMARY KEY, note text)")
			fp := newFaultProxy(t, s3Endpoint, 20*time.Second)
			// The 3rd object GET: big.csv and packed.csv.gz are loading.
			fp.configure(func(fp *faultProxy) { fp.outageAt, fp.outageFor = 3, outage })
			pipeline := "fault-outage-" + job + "-" + schema
			args := faultArgs(fp, bucket, schema, pipeline)
			var r *replicator
			if job == "snapshot" {
				r = startFerry(t, append([]string{"snapshot", "--log-format", "json", "--progress", "none"}, args...)...)
				if code := r.exitCode(waitDeadline + outage); code != 0 {
					t.Fatalf("exit %d", code)
				}
			} else {
				r = startReplicate(t, append(args, "--max-attempts", "1")...)
				// The outage, then retries backing off up to 10 s each
				// while faults go on, on a machine that may be loaded.
				r.slack = outage + 2*time.Minute
				r.waitCount(rows, countSQL(schema))
				put(t, bucket, "after.csv", idsCSV(400_001, 400_010, "after"))
				rows += 10
				r.waitCount(rows, countSQL(schema))
				r.waitFor("every file done", func() bool {
					return queryInt(t, "SELECT count(*) FROM ferry.files WHERE pipeline = $1 AND status = 'done'", pipeline) == 7
				})
				if code := r.stop(); code != 0 {
					t.Errorf("exit %d after SIGTERM", code)
				}
			}
			files := int64(6)
			if job == "replicate" {
				files = 7
			}
			checkFaultRows(t, schema, pipeline, rows, files)
			faults := fp.injected()
			t.Logf("faults injected: %v", faults)
			if faults["outage"] != 1 || faults["outage reset"] < 2 {
				t.Errorf("faults injected %v: want one outage resetting requests", faults)
			}
			if !strings.Contains(r.stderr.String(), "read failed, retrying") {
				t.Errorf("no read retry in the logs")
			}
		})
	}
}
