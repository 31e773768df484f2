//go:build integration

package integration

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	pgstate "github.com/ferrydata/ferry/state/postgres"
)

// waitDeadline bounds every wait for a condition in these tests: long
// enough for a race-built ferry on a busy 2-core machine, short enough to
// fail a stuck test.
const waitDeadline = 60 * time.Second

// lockedBuffer collects a subprocess's output; the test reads it while the
// process writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// replicator is a running `ferry replicate`.
type replicator struct {
	t      *testing.T
	args   []string
	cmd    *exec.Cmd
	stderr *lockedBuffer
	done   chan struct{} // closed once the process exited
	err    error         // cmd.Wait's error, valid after done
	// slack is added to waitDeadline by the waits (a test that stops a
	// service on purpose gives its outage and the backoff after it).
	slack time.Duration
}

// startReplicate starts `ferry replicate ARGS --poll-interval 1s
// --log-format json` (later flags win, so ARGS cannot override those two)
// with stderr (and stdout) captured, and stops it with SIGTERM at the end
// of the test.
func startReplicate(t *testing.T, args ...string) *replicator {
	t.Helper()
	full := append([]string{"replicate"}, args...)
	return startFerry(t, append(full, "--poll-interval", "1s", "--log-format", "json")...)
}

// startFerry starts ferry with args (a whole command line) in the
// background, as startReplicate does.
func startFerry(t *testing.T, full ...string) *replicator {
	t.Helper()
	r := &replicator{t: t, args: full, stderr: &lockedBuffer{}, done: make(chan struct{})}
	r.cmd = exec.Command(ferryBin, full...)
	r.cmd.Env = append(os.Environ(), "AWS_ENDPOINT_URL_S3="+s3Endpoint)
	r.cmd.Stdout = r.stderr
	r.cmd.Stderr = r.stderr
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("start ferry: %v", err)
	}
	go func() {
		r.err = r.cmd.Wait()
		close(r.done)
	}()
	t.Cleanup(func() {
		if !r.exited() {
			r.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-r.done:
			case <-time.After(waitDeadline):
				r.cmd.Process.Kill()
				<-r.done
				t.Errorf("ferry replicate (pid %d) did not stop within %v of SIGTERM; killed", r.cmd.Process.Pid, waitDeadline)
			}
		}
		t.Logf("ferry %s\n%s\nstderr:\n%s", strings.Join(r.args, " "), r.status(), r.stderr.String())
	})
	return r
}

func (r *replicator) exited() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

func (r *replicator) status() string {
	if !r.exited() {
		return "running"
	}
	if r.err != nil {
		return r.err.Error()
	}
	return "exit status 0"
}

// exitCode waits up to d for the process to exit and returns its exit code
// (-1 when a signal killed it).
func (r *replicator) exitCode(d time.Duration) int {
	r.t.Helper()
	select {
	case <-r.done:
	case <-time.After(d):
		r.t.Fatalf("ferry replicate did not exit within %v\n%s", d, r.stderr.String())
	}
	var ee *exec.ExitError
	if errors.As(r.err, &ee) {
		return ee.ExitCode()
	}
	if r.err != nil {
		r.t.Fatalf("wait ferry: %v", r.err)
	}
	return 0
}

// stop sends SIGTERM and returns the exit code.
func (r *replicator) stop() int {
	r.t.Helper()
	r.cmd.Process.Signal(syscall.SIGTERM)
	return r.exitCode(waitDeadline)
}

// logs returns the JSON log lines whose message is msg (all when empty).
func (r *replicator) logs(msg string) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(r.stderr.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) != nil {
			continue
		}
		if msg == "" || m["message"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// waitFor polls cond until it holds; it fails the test after waitDeadline,
// or at once when ferry exits meanwhile.
func (r *replicator) waitFor(what string, cond func() bool) {
	r.t.Helper()
	deadline := time.Now().Add(waitDeadline + r.slack)
	for !cond() {
		if r.exited() {
			r.t.Fatalf("waiting for %s: ferry replicate exited (%s)\n%s", what, r.status(), r.stderr.String())
		}
		if time.Now().After(deadline) {
			// A goroutine dump in the log (printed at cleanup) shows
			// where ferry is stuck.
			r.cmd.Process.Signal(syscall.SIGQUIT)
			select {
			case <-r.done:
			case <-time.After(5 * time.Second):
			}
			r.t.Fatalf("waiting for %s: not true after %v", what, waitDeadline+r.slack)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitCount waits until the SQL count query returns want. It fails at once
// when the count goes past want (rows loaded twice).
func (r *replicator) waitCount(want int64, sql string, args ...any) {
	r.t.Helper()
	var got int64
	r.waitFor(fmt.Sprintf("%s = %d", sql, want), func() bool {
		got = queryInt(r.t, sql, args...)
		if got > want {
			r.t.Fatalf("%s = %d, want %d", sql, got, want)
		}
		return got == want
	})
}

// ensureState creates ferry.files in the database of p as ferry would, so
// a test can query it before ferry's first start got that far.
func ensureState(t *testing.T, p *pgxpool.Pool) {
	t.Helper()
	if _, err := pgstate.New(t.Context(), p); err != nil {
		t.Fatal(err)
	}
}

// idsCSV is a CSV file with ids from..to and a note naming the file.
func idsCSV(from, to int, note string) []byte {
	var b bytes.Buffer
	b.WriteString("id,note\n")
	for i := from; i <= to; i++ {
		fmt.Fprintf(&b, "%d,%s\n", i, note)
	}
	return b.Bytes()
}

// idsJSONL is the JSON-lines counterpart of idsCSV.
func idsJSONL(from, to int, note string) string {
	var b strings.Builder
	for i := from; i <= to; i++ {
		fmt.Fprintf(&b, `{"id":%d,"note":%q}`+"\n", i, note)
	}
	return b.String()
}

// pgArgs are the flags every S3-to-PostgreSQL replicate in these tests uses.
func pgArgs(source, schema, pipeline string) []string {
	return []string{"--source", source, "--s3-path-style", "--target", databaseURL,
		"--table", schema + ".t", "--pipeline", pipeline}
}

func countSQL(schema string) string { return "SELECT count(*) FROM " + table(schema, "t") }

// TestReplicateNewFiles starts replication on an empty prefix and uploads
// files one by one while it runs: each file's rows appear, and in the end
// every row is there exactly once and every file is done.
func TestReplicateNewFiles(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	ensureState(t, pool)
	bucket := newBucket(t)
	exec1(t, "CREATE TABLE "+table(schema, "t")+" (id bigint PRIMARY KEY, note text)")
	pipeline := randomName("repl-new-")
	// A file outside the prefix, present from the start, is never loaded.
	put(t, bucket, "other/x.csv", idsCSV(1000, 1001, "other"))
	r := startReplicate(t, pgArgs("s3://"+bucket+"/in/", schema, pipeline)...)

	files := []struct {
		key  string
		body []byte
		n    int64
	}{
		{"in/a.csv", idsCSV(1, 100, "a"), 100},
		{"in/2024/b.jsonl.gz", gz(t, idsJSONL(101, 350, "b")), 250},
		{"in/c.csv", idsCSV(351, 351, "c"), 1},
		// Two gzip members.
		{"in/2024/05/d.jsonl.gz", gz(t, idsJSONL(352, 500, "d1"), idsJSONL(501, 1000, "d2")), 649},
		// Sorts before every key already loaded.
		{"in/0.csv", idsCSV(1002, 1101, "zero"), 100},
	}
	var total int64
	for i, f := range files {
		put(t, bucket, f.key, f.body)
		total += f.n
		r.waitCount(total, countSQL(schema))
		r.waitCount(int64(i+1), `SELECT count(*) FROM ferry.files WHERE pipeline = $1 AND status = 'done'`, pipeline)
	}
	equal(t, "rows", queryRows(t, "SELECT count(*), count(DISTINCT id), min(id), max(id) FROM "+table(schema, "t")),
		[]string{fmt.Sprintf("%d|%d|1|1101", total, total)})
	equal(t, "rows per file", queryRows(t, "SELECT note, count(*) FROM "+table(schema, "t")+" GROUP BY note ORDER BY note"),
		[]string{"a|100", "b|250", "c|1", "d1|149", "d2|500", "zero|100"})
	equal(t, "state", queryRows(t, `SELECT key, status, rows, attempts FROM ferry.files WHERE pipeline = $1 ORDER BY key COLLATE "C"`, pipeline),
		[]string{"in/0.csv|done|100|1", "in/2024/05/d.jsonl.gz|done|649|1", "in/2024/b.jsonl.gz|done|250|1", "in/a.csv|done|100|1", "in/c.csv|done|1|1"})
	if r.exited() {
		t.Fatalf("ferry replicate exited: %s", r.status())
	}
	if code := r.stop(); code != 0 {
		t.Fatalf("SIGTERM: exit %d, want 0", code)
	}
	if len(r.logs("stopped; the next start resumes where this one stopped")) != 1 {
		t.Fatalf("no graceful-stop log line")
	}
}

// TestReplicateLateFiles: with --start-after-key --lookback-keys 3, the
// listing starts after the 4th newest loaded key. A late key that sorts
// inside that window loads; one that sorts before it is not even listed
// (the documented trade-off of --start-after-key), until replication runs
// without --start-after-key.
func TestReplicateLateFiles(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	ensureState(t, pool)
	bucket := newBucket(t)
	exec1(t, "CREATE TABLE "+table(schema, "t")+" (id bigint PRIMARY KEY, note text)")
	pipeline := randomName("repl-late-")
	for h := 0; h < 10; h++ {
		put(t, bucket, fmt.Sprintf("logs/2024/05/01/%02d.csv", h), idsCSV(h*10+1, h*10+10, fmt.Sprintf("%02d", h)))
	}
	args := pgArgs("s3://"+bucket+"/logs/", schema, pipeline)
	r := startReplicate(t, append(args, "--start-after-key", "--lookback-keys", "3")...)
	doneSQL := `SELECT count(*) FROM ferry.files WHERE pipeline = $1 AND status = 'done'`
	r.waitCount(10, doneSQL, pipeline)
	r.waitCount(100, countSQL(schema))

	// Loaded keys, newest first: 09, 08, 07, 06, ...: the listing now
	// starts after 06. "08a.csv" sorts between 08.csv and 09.csv.
	put(t, bucket, "logs/2024/05/01/08a.csv", idsCSV(1001, 1005, "08a"))
	r.waitCount(105, countSQL(schema))
	r.waitCount(11, doneSQL, pipeline)
	var afters []string
	for _, m := range r.logs("poll") {
		s, _ := m["start_after"].(string)
		afters = append(afters, s)
		// Durations are duration strings ("29.6ms"), not bare numbers.
		if took, _ := m["took"].(string); took == "" {
			t.Fatalf("poll line %v: took is not a duration string", m)
		} else if _, err := time.ParseDuration(took); err != nil {
			t.Fatalf("poll line %v: took: %v", m, err)
		}
	}
	if len(afters) < 2 || afters[0] != "" || afters[len(afters)-1] != "logs/2024/05/01/06.csv" {
		t.Fatalf("start_after of the polls that loaded something: %q; want first empty (nothing loaded yet), last logs/2024/05/01/06.csv", afters)
	}

	// 01a.csv sorts before the window: never listed. 10.csv and 11.csv
	// are uploaded after it, and each loads in a later poll than the one
	// before, so once 11.csv is in, at least two complete polls ran after
	// 01a.csv was in the bucket.
	put(t, bucket, "logs/2024/05/01/01a.csv", idsCSV(2001, 2005, "01a"))
	put(t, bucket, "logs/2024/05/01/10.csv", idsCSV(101, 110, "10"))
	r.waitCount(115, countSQL(schema))
	put(t, bucket, "logs/2024/05/01/11.csv", idsCSV(111, 120, "11"))
	r.waitCount(125, countSQL(schema))
	r.waitCount(13, doneSQL, pipeline)
	if n := queryInt(t, "SELECT count(*) FROM "+table(schema, "t")+" WHERE note = '01a'"); n != 0 {
		t.Fatalf("01a.csv loaded (%d rows) though it sorts before the --start-after-key window", n)
	}
	if n := queryInt(t, `SELECT count(*) FROM ferry.files WHERE pipeline = $1 AND key LIKE '%01a.csv'`, pipeline); n != 0 {
		t.Fatalf("01a.csv is in ferry.files though it sorts before the --start-after-key window")
	}
	if code := r.stop(); code != 0 {
		t.Fatalf("SIGTERM: exit %d, want 0", code)
	}

	// Without --start-after-key the whole prefix is listed: 01a.csv loads,
	// and nothing else loads again.
	r2 := startReplicate(t, args...)
	r2.waitCount(130, countSQL(schema))
	r2.waitCount(14, doneSQL, pipeline)
	equal(t, "rows", queryRows(t, "SELECT count(*), count(DISTINCT id) FROM "+table(schema, "t")), []string{"130|130"})
	equal(t, "01a.csv", queryRows(t, "SELECT min(id), max(id) FROM "+table(schema, "t")+" WHERE note = '01a'"), []string{"2001|2005"})
}

// TestReplicateChangedFile: a file rewritten with new content (new ETag)
// is a new version and loads again; with --reload-changed=false the
// rewrite is ignored.
func TestReplicateChangedFile(t *testing.T) {
	t.Parallel()
	t.Run("reload", func(t *testing.T) {
		t.Parallel()
		schema := newSchema(t)
		ensureState(t, pool)
		bucket := newBucket(t)
		exec1(t, "CREATE TABLE "+table(schema, "t")+" (id bigint PRIMARY KEY, note text)")
		pipeline := randomName("repl-chg-")
		put(t, bucket, "in/a.csv", idsCSV(1, 3, "v1"))
		r := startReplicate(t, pgArgs("s3://"+bucket+"/in/", schema, pipeline)...)
		r.waitCount(3, countSQL(schema))
		r.waitCount(1, `SELECT count(*) FROM ferry.files WHERE pipeline = $1 AND status = 'done'`, pipeline)

		put(t, bucket, "in/a.csv", idsCSV(4, 8, "v2"))
		r.waitCount(2, `SELECT count(*) FROM ferry.files WHERE pipeline = $1 AND status = 'done'`, pipeline)
		r.waitCount(8, countSQL(schema))
		equal(t, "rows", queryRows(t, "SELECT note, count(*), min(id), max(id) FROM "+table(schema, "t")+" GROUP BY note ORDER BY note"),
			[]string{"v1|3|1|3", "v2|5|4|8"})
		equal(t, "state", queryRows(t, `SELECT key, status, rows, count(*) OVER () FROM ferry.files WHERE pipeline = $1 ORDER BY rows`, pipeline),
			[]string{"in/a.csv|done|3|2", "in/a.csv|done|5|2"})
		if n := queryInt(t, `SELECT count(DISTINCT etag) FROM ferry.files WHERE pipeline = $1`, pipeline); n != 2 {
			t.Fatalf("%d distinct ETags for the two versions, want 2", n)
		}
	})
	t.Run("reload-changed=false", func(t *testing.T) {
		t.Parallel()
		schema := newSchema(t)
		ensureState(t, pool)
		bucket := newBucket(t)
		exec1(t, "CREATE TABLE "+table(schema, "t")+" (id bigint PRIMARY KEY, note text)")
		pipeline := randomName("repl-nochg-")
		put(t, bucket, "in/a.csv", idsCSV(1, 3, "v1"))
		r := startReplicate(t, append(pgArgs("s3://"+bucket+"/in/", schema, pipeline), "--reload-changed=false")...)
		r.waitCount(3, countSQL(schema))

		put(t, bucket, "in/a.csv", idsCSV(4, 8, "v2"))
		// b.csv is listed with the new a.csv or later; c.csv, uploaded once
		// b.csv is in, loads in a later poll, so the poll that saw the new
		// a.csv is complete by then.
		put(t, bucket, "in/b.csv", idsCSV(101, 102, "b"))
		r.waitCount(5, countSQL(schema))
		put(t, bucket, "in/c.csv", idsCSV(201, 202, "c"))
		r.waitCount(7, countSQL(schema))
		equal(t, "rows", queryRows(t, "SELECT note, count(*) FROM "+table(schema, "t")+" GROUP BY note ORDER BY note"),
			[]string{"b|2", "c|2", "v1|3"})
		equal(t, "state", queryRows(t, `SELECT key, status, rows FROM ferry.files WHERE pipeline = $1 ORDER BY key`, pipeline),
			[]string{"in/a.csv|done|3", "in/b.csv|done|2", "in/c.csv|done|2"})
	})
}

// stopShutdownTimeout is --shutdown-timeout in the stop-mid-file tests.
const stopShutdownTimeout = 20 * time.Second

// stopMidFile loads one big CSV with replicate, stops the process with sig
// once some chunks of it are committed, and checks the committed position
// matches the table. It waits for the position to move past before (the
// previous stop's), and returns the rows committed.
func stopMidFile(t *testing.T, sig syscall.Signal, args []string, schema, pipeline string, rows, before int64) int64 {
	t.Helper()
	r := startReplicate(t, args...)
	r.waitFor(fmt.Sprintf("chunks of big.csv committed past record %d", before), func() bool {
		return queryInt(t, `SELECT count(*) FROM ferry.files WHERE pipeline = $1 AND status = 'loading' AND rows > $2`, pipeline, before) == 1
	})
	r.cmd.Process.Signal(sig)
	// Reading stops at once; chunks being written get --shutdown-timeout
	// to commit. The margin is for the race-built binary on a busy machine.
	code := r.exitCode(stopShutdownTimeout + 30*time.Second)
	switch sig {
	case syscall.SIGTERM:
		if code != 0 {
			t.Fatalf("after SIGTERM: exit %d, want 0", code)
		}
		if len(r.logs("stopping: finishing chunks in flight")) != 1 || len(r.logs("stopped; the next start resumes where this one stopped")) != 1 {
			t.Fatalf("graceful stop not logged")
		}
	case syscall.SIGKILL:
		if code != -1 {
			t.Fatalf("after SIGKILL: exit %d, want -1 (killed)", code)
		}
	}
	// One statement, one snapshot: a COMMIT sent just before a kill -9 can
	// still land between two queries.
	st := queryRows(t, `SELECT status, rows FROM ferry.files WHERE pipeline = $1`, pipeline)
	var committed, inTable int64
	if err := pool.QueryRow(t.Context(), `SELECT (SELECT rows FROM ferry.files WHERE pipeline = $1), (`+countSQL(schema)+`)`, pipeline).Scan(&committed, &inTable); err != nil {
		t.Fatal(err)
	}
	if committed != inTable {
		t.Fatalf("after %v: state says %d rows committed (%v), table has %d", sig, committed, st, inTable)
	}
	if committed >= rows {
		t.Fatalf("big.csv finished before the %v; make it bigger", sig)
	}
	// (Chunks hold at most 2000 rows; with parallel parsing they also end
	// at block boundaries, so the count need not be a multiple of 2000.)
	t.Logf("%v with %d of %d rows committed (%v)", sig, committed, rows, st)
	return committed
}

// testStopMidFileResumes: a replicate stopped with sig in the middle of a
// big file resumes it at the last committed chunk when started again.
func testStopMidFileResumes(t *testing.T, sig syscall.Signal, stops int) {
	const rows = 1_000_000 // big enough that a parallel parse does not finish before the stops
	schema := newSchema(t)
	ensureState(t, pool)
	bucket := newBucket(t)
	exec1(t, "CREATE TABLE "+table(schema, "t")+" (id bigint, note text)")
	put(t, bucket, "big/big.csv", bigCSV(rows))
	pipeline := randomName("repl-stop-")
	// Parallel parsing (not the default on 2 CPUs) must resume exactly too.
	// A small in-flight budget keeps what a graceful stop still commits
	// small: with the default 64MiB, the chunks read ahead before SIGTERM
	// held most of the file, and a stop committed all of it.
	args := append(pgArgs("s3://"+bucket+"/big/", schema, pipeline), "--batch-rows", "2000",
		"--shutdown-timeout", stopShutdownTimeout.String(), "--parse-workers", "2", "--inflight-bytes", "2MiB")
	last := int64(0)
	for range stops {
		last = stopMidFile(t, sig, args, schema, pipeline, rows, last)
	}
	r := startReplicate(t, args...)
	// The rest of a million rows: a minute on a loaded machine was not
	// enough (0.7 MB/s seen in a CI run at load 30).
	r.slack = 3 * time.Minute
	r.waitCount(1, `SELECT count(*) FROM ferry.files WHERE pipeline = $1 AND status = 'done'`, pipeline)
	equal(t, "rows after resume", queryRows(t, "SELECT count(*), count(DISTINCT id), min(id), max(id) FROM "+table(schema, "t")),
		[]string{fmt.Sprintf("%d|%d|1|%d", rows, rows, rows)})
	equal(t, "state", queryRows(t, `SELECT status, rows, attempts FROM ferry.files WHERE pipeline = $1`, pipeline),
		[]string{fmt.Sprintf("done|%d|1", rows)}) // a stop is no attempt
	resumed := r.logs("resuming file")
	if len(resumed) != 1 || resumed[0]["record"] != float64(last) {
		t.Fatalf("resume log lines %v, want one at record %d", resumed, last)
	}
}

func TestReplicateSIGTERMMidFileResumes(t *testing.T) {
	t.Parallel()
	testStopMidFileResumes(t, syscall.SIGTERM, 2)
}

func TestReplicateKill9MidFileResumes(t *testing.T) {
	t.Parallel()
	testStopMidFileResumes(t, syscall.SIGKILL, 2)
}

// TestReplicateBackfillFalse: with --backfill=false, files already in the
// bucket are not loaded; files uploaded after the start are.
func TestReplicateBackfillFalse(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	ensureState(t, pool)
	bucket := newBucket(t)
	exec1(t, "CREATE TABLE "+table(schema, "t")+" (id bigint PRIMARY KEY, note text)")
	pipeline := randomName("repl-nobf-")
	put(t, bucket, "in/old1.csv", idsCSV(1, 5, "old"))
	put(t, bucket, "in/z-old2.csv", idsCSV(6, 10, "old"))
	// S3 LastModified has one-second resolution, and ferry counts the
	// second it starts in as "from now on" (it keeps objects modified at or
	// after its start time truncated to the second). So the old files must
	// be in an earlier second than the start, and the new ones in the
	// start's second or later: sleep more than a second on each side.
	time.Sleep(1500 * time.Millisecond)
	r := startReplicate(t, append(pgArgs("s3://"+bucket+"/in/", schema, pipeline), "--backfill=false")...)
	r.waitFor("replication starting", func() bool { return len(r.logs("replication starting")) == 1 })
	time.Sleep(1500 * time.Millisecond)
	put(t, bucket, "in/new1.csv", idsCSV(101, 103, "new"))
	r.waitCount(3, countSQL(schema))
	put(t, bucket, "in/a-new2.csv", idsCSV(104, 106, "new")) // sorts before the old files
	r.waitCount(6, countSQL(schema))
	equal(t, "rows", queryRows(t, "SELECT note, count(*), min(id), max(id) FROM "+table(schema, "t")+" GROUP BY note"),
		[]string{"new|6|101|106"})
	equal(t, "state", queryRows(t, `SELECT key, status FROM ferry.files WHERE pipeline = $1 ORDER BY key`, pipeline),
		[]string{"in/a-new2.csv|done", "in/new1.csv|done"})
}

// TestReplicateStateRetention: with --state-retention 2s, a done file's
// state row is pruned a couple of polls after it loaded; the documented
// trade-off is that the file, still in the source, then loads again.
func TestReplicateStateRetention(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	ensureState(t, pool)
	exec1(t, "CREATE TABLE "+table(schema, "t")+" (id bigint, note text)")
	dir := writeDir(t, map[string][]byte{"a.csv": idsCSV(1, 10, "a")})
	pipeline := randomName("repl-ret-")
	r := startReplicate(t, "--source", dir, "--target", databaseURL, "--table", schema+".t",
		"--pipeline", pipeline, "--state-retention", "2s")
	r.waitCount(10, countSQL(schema))
	stateSQL := `SELECT count(*) FROM ferry.files WHERE pipeline = $1`
	if n := queryInt(t, stateSQL, pipeline); n != 1 {
		t.Fatalf("%d state rows after the load, want 1", n)
	}
	// Pruned at the end of a poll at least 2 s after the load; the next
	// poll, a second later, loads the file again.
	r.waitFor("the state row pruned", func() bool { return queryInt(t, stateSQL, pipeline) == 0 })
	r.waitFor("pruned log line", func() bool { return len(r.logs("pruned done files past --state-retention")) > 0 })
	r.waitFor("the file loaded again", func() bool { return queryInt(t, countSQL(schema)) >= 20 })
	equal(t, "rows", queryRows(t, "SELECT id, count(*) FROM "+table(schema, "t")+" WHERE id IN (1, 10) GROUP BY id ORDER BY id"),
		[]string{"1|2", "10|2"})
}

// TestReplicateFileTarget sanity-checks replicate's non-PostgreSQL path:
// a file target with the file state store (at-least-once) loads new files.
func TestReplicateFileTarget(t *testing.T) {
	t.Parallel()
	dir := writeDir(t, map[string][]byte{"a.jsonl": []byte(idsJSONL(1, 2, "a"))})
	out := filepath.Join(t.TempDir(), "out.jsonl")
	r := startReplicate(t, "--source", dir, "--target", "file:"+out, "--state", t.TempDir())
	lines := func() int {
		b, _ := os.ReadFile(out)
		return bytes.Count(b, []byte("\n"))
	}
	r.waitFor("2 lines in the output file", func() bool { return lines() == 2 })
	// Written under a hidden name (skipped) and renamed, so no poll sees
	// it half-written.
	if err := os.WriteFile(filepath.Join(dir, ".b.tmp"), []byte(idsJSONL(3, 5, "b")), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, ".b.tmp"), filepath.Join(dir, "b.jsonl")); err != nil {
		t.Fatal(err)
	}
	r.waitFor("5 lines in the output file", func() bool { return lines() == 5 })
	if code := r.stop(); code != 0 {
		t.Fatalf("SIGTERM: exit %d", code)
	}
	if n := lines(); n != 5 {
		t.Fatalf("%d lines after stop, want 5", n)
	}
}

// TestReplicateStartAfterKeyWithStateRetention: with --start-after-key,
// keys before the lookback window are never listed again, so forgetting
// them (--state-retention) must not load them again. But the window is
// computed from the state rows that --state-retention prunes: once a quiet
// period longer than the retention has pruned every done row, the window is
// empty, the next poll lists the whole prefix from its start, and every
// file in it loads again (and again, each time the retention passes).
func TestReplicateStartAfterKeyWithStateRetention(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	ensureState(t, pool)
	bucket := newBucket(t)
	exec1(t, "CREATE TABLE "+table(schema, "t")+" (id bigint, note text)")
	pipeline := randomName("repl-sak-ret-")
	for h := range 5 {
		put(t, bucket, fmt.Sprintf("logs/2024/05/01/%02d.csv", h), idsCSV(h+1, h+1, fmt.Sprintf("%02d", h)))
	}
	r := startReplicate(t, append(pgArgs("s3://"+bucket+"/logs/", schema, pipeline),
		"--start-after-key", "--lookback-keys", "1", "--state-retention", "2s")...)
	r.waitCount(5, countSQL(schema))
	// At least the 3 keys before the window (00, 01, 02) get forgotten.
	r.waitFor("3 files pruned", func() bool {
		var n float64
		for _, m := range r.logs("pruned done files past --state-retention") {
			f, _ := m["files"].(float64)
			n += f
		}
		return n >= 3
	})
	// A few more polls and one more retention period: time for the rest to
	// be pruned and for what a poll would then list to load.
	time.Sleep(3 * time.Second)
	// A new, newest key: it loads; the old ones, before the window, must not.
	put(t, bucket, "logs/2024/05/01/05.csv", idsCSV(6, 6, "05"))
	r.waitFor("05.csv loaded", func() bool {
		return queryInt(t, "SELECT count(*) FROM "+table(schema, "t")+" WHERE note = '05'") > 0
	})
	var afters []string
	for _, m := range r.logs("poll") {
		afters = append(afters, fmt.Sprint(m["start_after"]))
	}
	equal(t, fmt.Sprintf("rows per file (start_after of the polls: %q)", afters),
		queryRows(t, "SELECT note, count(*) FROM "+table(schema, "t")+" GROUP BY note ORDER BY note"),
		[]string{"00|1", "01|1", "02|1", "03|1", "04|1", "05|1"})
}

// TestReplicateBackfillFalseRestart: replicate logs "stopped; the next
// start resumes where this one stopped". With --backfill=false, a file
// that arrives while replicate is stopped (a deploy, a crash) is newer
// than anything it loaded, so it should load after the restart. But "from
// now on" is measured from each process start, so it is skipped forever.
func TestReplicateBackfillFalseRestart(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	ensureState(t, pool)
	bucket := newBucket(t)
	exec1(t, "CREATE TABLE "+table(schema, "t")+" (id bigint PRIMARY KEY, note text)")
	pipeline := randomName("repl-nobf-rs-")
	args := append(pgArgs("s3://"+bucket+"/in/", schema, pipeline), "--backfill=false")
	r := startReplicate(t, args...)
	r.waitFor("replication starting", func() bool { return len(r.logs("replication starting")) == 1 })
	// See TestReplicateBackfillFalse for the one-second margins.
	time.Sleep(1500 * time.Millisecond)
	put(t, bucket, "in/a.csv", idsCSV(1, 3, "a"))
	r.waitCount(3, countSQL(schema))
	if code := r.stop(); code != 0 {
		t.Fatalf("SIGTERM: exit %d", code)
	}
	put(t, bucket, "in/b.csv", idsCSV(4, 6, "while stopped"))
	time.Sleep(1500 * time.Millisecond)
	r = startReplicate(t, args...)
	r.waitFor("replication starting", func() bool { return len(r.logs("replication starting")) == 1 })
	time.Sleep(1500 * time.Millisecond)
	put(t, bucket, "in/c.csv", idsCSV(7, 9, "c"))
	r.waitFor("c.csv loaded", func() bool {
		return queryInt(t, "SELECT count(*) FROM "+table(schema, "t")+" WHERE note = 'c'") == 3
	})
	equal(t, "rows per file", queryRows(t, "SELECT note, count(*) FROM "+table(schema, "t")+" GROUP BY note ORDER BY note"),
		[]string{"a|3", "c|3", "while stopped|3"})
}
