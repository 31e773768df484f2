//go:build integration

package integration

import (
	"fmt"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// stopBound is how long a SIGTERM may take to stop a replicate that waits
// in a 20 s long poll: generous (the race detector, parallel tests), and
// still far below the 20 s that waiting out the poll took.
const stopBound = 5 * time.Second

// sigterm stops r and returns how long it took to exit; it fails the test
// unless ferry exits 0 within stopBound.
func sigterm(t *testing.T, r *replicator) time.Duration {
	t.Helper()
	start := time.Now()
	r.cmd.Process.Signal(syscall.SIGTERM)
	code := r.exitCode(waitDeadline)
	took := time.Since(start)
	if code != 0 {
		t.Fatalf("exit %d after SIGTERM", code)
	}
	if took > stopBound {
		t.Fatalf("SIGTERM during a 20 s long poll: ferry exited after %v, want within %v", took.Round(time.Millisecond), stopBound)
	}
	return took
}

// waitReceiving waits until ferry logged n receives asking for max
// messages, then a little longer, so that the last is waiting at the
// queue.
func waitReceiving(r *replicator, n, max int) {
	r.t.Helper()
	r.waitFor(fmt.Sprintf("%d receives of at most %d messages", n, max), func() bool {
		got := 0
		for _, l := range r.logs("receiving") {
			if m, _ := l["max_messages"].(float64); int(m) == max {
				got++
			}
		}
		return got >= n
	})
	time.Sleep(500 * time.Millisecond)
}

// TestSQSStopDuringLongPoll: SIGTERM while ferry waits in a 20 s long poll
// stops it within seconds, not at the end of the poll. The abandoned poll
// may still take a message sent after the stop (SQS and fauxqs keep it
// waiting); an idle receiver asks for one message only, so at most one per
// receiver stays hidden, for the visibility timeout, and the next start
// loads it. Every file announced is loaded once and every message deleted,
// also when the stop comes during the poll that follows a burst.
func TestSQSStopDuringLongPoll(t *testing.T) {
	t.Parallel()
	const files, receivers = 8, 2
	c := newSQSClient(t)
	queue := newQueue(t, c)
	schema := newSchema(t)
	ensureState(t, pool)
	bucket := newBucket(t)
	exec1(t, "CREATE TABLE "+table(schema, "t")+" (id bigint, note text)")
	pipeline := randomName("sqs-stop-")
	args := sqsArgs(bucket, "in", queue, schema, pipeline, "--sqs-wait", "20s", "--sqs-receivers", strconv.Itoa(receivers),
		"--sqs-visibility", "5s", "--backfill=false", "--log-level", "debug")

	// Idle: every receiver waits in a long poll on an empty queue.
	r1 := startReplicate(t, args...)
	waitReceiving(r1, receivers, 1)
	t.Logf("idle: stopped %v after SIGTERM", sigterm(t, r1).Round(time.Millisecond))

	// Announced after the stop: the abandoned polls, still waiting at the
	// queue, may take one message each.
	for i := range files {
		o := putObject(t, bucket, fmt.Sprintf("in/f%d.csv", i), idsCSV(i*10+1, i*10+10, "x"))
		send(t, c, queue, s3Notification("ObjectCreated:Put", bucket, o))
	}
	v, nv := queueCounts(t, c, queue)
	t.Logf("after the stop, %d notifications sent: %d visible, %d taken by the abandoned polls", files, v, nv)
	if v+nv != files || nv > receivers {
		t.Fatalf("queue holds %d visible + %d invisible messages; want %d, at most %d (one per abandoned poll) invisible", v, nv, files, receivers)
	}

	// The next start loads them all, the hidden ones once their
	// visibility timeout ends, and is stopped in the poll after the burst.
	r2 := startReplicate(t, args...)
	r2.waitCount(files, `SELECT count(*) FROM ferry.files WHERE pipeline = $1 AND status = 'done'`, pipeline)
	waitQueueEmpty(r2, c, queue)
	time.Sleep(time.Second)
	t.Logf("after a burst: stopped %v after SIGTERM", sigterm(t, r2).Round(time.Millisecond))
	equal(t, "rows", queryRows(t, "SELECT count(*), count(DISTINCT id) FROM "+table(schema, "t")), []string{fmt.Sprintf("%d|%d", files*10, files*10)})
	equal(t, "attempts", queryRows(t, `SELECT count(*), max(attempts) FROM ferry.files WHERE pipeline = $1 AND status = 'done'`, pipeline), []string{fmt.Sprintf("%d|1", files)})
	wantQueueCounts(t, c, queue, 0, 0)
}
