//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// These tests run `ferry replicate --sqs-queue-url` against fauxqs (SQS),
// MinIO and PostgreSQL. The tests send the notifications themselves, in the
// exact shapes S3, SNS and EventBridge use, since MinIO cannot publish to
// SQS.

// s3Notification is an S3 event notification body naming objects.
func s3Notification(event, bucket string, objs ...putObj) string {
	var recs []string
	for _, o := range objs {
		recs = append(recs, fmt.Sprintf(`{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1",
"eventTime":%q,"eventName":%q,"userIdentity":{"principalId":"AWS:X"},
"requestParameters":{"sourceIPAddress":"127.0.0.1"},"responseElements":{"x-amz-request-id":"R","x-amz-id-2":"H"},
"s3":{"s3SchemaVersion":"1.0","configurationId":"ferry","bucket":{"name":%q,"ownerIdentity":{"principalId":"X"},"arn":"arn:aws:s3:::%s"},
"object":{"key":%q,"size":%d,"eTag":%q,"sequencer":"0055AED6DCD90281E5"}}}`,
			time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), event, bucket, bucket, url.QueryEscape(o.key), o.size, o.etag))
	}
	return `{"Records":[` + strings.Join(recs, ",") + `]}`
}

// snsEnvelope wraps a notification the way SNS delivers it to SQS.
func snsEnvelope(msg string) string {
	b, _ := json.Marshal(map[string]string{
		"Type": "Notification", "MessageId": "6f1c", "TopicArn": "arn:aws:sns:us-east-1:000000000000:ferry",
		"Subject": "Amazon S3 Notification", "Message": msg, "Timestamp": time.Now().UTC().Format(time.RFC3339),
		"SignatureVersion": "1", "Signature": "x", "SigningCertURL": "https://sns", "UnsubscribeURL": "https://sns",
	})
	return string(b)
}

// eventBridge is an EventBridge "Object Created" event for o.
func eventBridge(bucket string, o putObj) string {
	return fmt.Sprintf(`{"version":"0","id":"17793124-05d4","detail-type":"Object Created","source":"aws.s3","account":"000000000000",
"time":%q,"region":"us-east-1","resources":["arn:aws:s3:::%s"],
"detail":{"version":"0","bucket":{"name":%q},"object":{"key":%q,"size":%d,"etag":%q,"sequencer":"617f08299329d189"},
"request-id":"N4N7","requester":"000000000000","source-ip-address":"127.0.0.1","reason":"PutObject"}}`,
		time.Now().UTC().Format(time.RFC3339), bucket, bucket, o.key, o.size, o.etag)
}

type putObj struct {
	key  string
	size int64
	etag string
}

// putObject uploads and returns what a notification says of the object.
func putObject(t *testing.T, bucket, key string, body []byte) putObj {
	t.Helper()
	out, err := s3Client.PutObject(t.Context(), putInput(bucket, key, body))
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
	return putObj{key: key, size: int64(len(body)), etag: strings.Trim(aws.ToString(out.ETag), `"`)}
}

func send(t *testing.T, c *sqs.Client, queue string, body string) {
	t.Helper()
	if _, err := c.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: aws.String(queue), MessageBody: aws.String(body)}); err != nil {
		t.Fatalf("send: %v", err)
	}
}

// sqsArgs are the flags of an SQS-driven replicate in these tests.
func sqsArgs(bucket, prefix, queue, schema, pipeline string, extra ...string) []string {
	args := append(pgArgs("s3://"+bucket+"/"+prefix, schema, pipeline), "--sqs-queue-url", queue, "--sqs-wait", "1s")
	return append(args, extra...)
}

// waitQueueEmpty waits until no message is left in the queue, visible or
// not: every message was deleted.
func waitQueueEmpty(r *replicator, c *sqs.Client, queue string) {
	r.t.Helper()
	r.waitFor("queue empty", func() bool {
		v, nv := queueCounts(r.t, c, queue)
		return v == 0 && nv == 0
	})
}

// TestSQSNotifications: every shape of notification loads its object once;
// events to ignore are deleted without loading anything; a duplicate
// notification loads nothing twice; a file present before the start loads
// through the backfill listing.
func TestSQSNotifications(t *testing.T) {
	t.Parallel()
	c := newSQSClient(t)
	queue := newQueue(t, c)
	schema := newSchema(t)
	ensureState(t, pool)
	bucket := newBucket(t)
	exec1(t, "CREATE TABLE "+table(schema, "t")+" (id bigint PRIMARY KEY, note text)")
	pipeline := randomName("sqs-")

	// Present before the start, never notified: the backfill loads it.
	putObject(t, bucket, "in/old.csv", idsCSV(1, 10, "old"))
	r := startReplicate(t, sqsArgs(bucket, "in", queue, schema, pipeline)...)
	r.waitCount(10, countSQL(schema))

	plain := putObject(t, bucket, "in/a b+c.csv", idsCSV(11, 20, "s3"))             // space and plus: URL-encoded key
	viaSNS := putObject(t, bucket, "in/sns.jsonl", []byte(idsJSONL(21, 30, "sns"))) // SNS envelope
	viaEB := putObject(t, bucket, "in/eb.csv", idsCSV(31, 40, "eventbridge"))       // EventBridge
	multi1 := putObject(t, bucket, "in/m1.csv", idsCSV(41, 50, "multi"))
	multi2 := putObject(t, bucket, "in/m2.csv", idsCSV(51, 60, "multi"))
	outside := putObject(t, bucket, "elsewhere/x.csv", idsCSV(1000, 1010, "outside"))
	marker := putObject(t, bucket, "in/dir/", nil)
	send(t, c, queue, s3Notification("ObjectCreated:Put", bucket, plain))
	send(t, c, queue, snsEnvelope(s3Notification("ObjectCreated:CompleteMultipartUpload", bucket, viaSNS)))
	send(t, c, queue, eventBridge(bucket, viaEB))
	send(t, c, queue, s3Notification("ObjectCreated:Post", bucket, multi1, multi2, multi1)) // named twice in one message
	send(t, c, queue, s3Notification("ObjectCreated:Copy", bucket, multi2))                 // and again in another
	send(t, c, queue, s3Notification("ObjectCreated:Put", bucket, plain))                   // a duplicate
	send(t, c, queue, `{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-11-21T10:00:00.000Z","Bucket":"`+bucket+`","RequestId":"R","HostId":"H"}`)
	send(t, c, queue, s3Notification("ObjectCreated:Put", bucket, outside, marker))
	send(t, c, queue, s3Notification("ObjectCreated:Put", "another-bucket", plain))
	send(t, c, queue, s3Notification("ObjectRemoved:Delete", bucket, plain))

	r.waitCount(60, countSQL(schema))
	waitQueueEmpty(r, c, queue)
	equal(t, "rows per note", queryRows(t, "SELECT note, count(*), min(id), max(id) FROM "+table(schema, "t")+" GROUP BY note ORDER BY note"),
		[]string{"eventbridge|10|31|40", "multi|20|41|60", "old|10|1|10", "s3|10|11|20", "sns|10|21|30"})
	equal(t, "files", queryRows(t, `SELECT key, status, attempts FROM ferry.files WHERE pipeline = $1 ORDER BY key`, pipeline),
		[]string{"in/a b+c.csv|done|1", "in/eb.csv|done|1", "in/m1.csv|done|1", "in/m2.csv|done|1", "in/old.csv|done|1", "in/sns.jsonl|done|1"})
	if code := r.stop(); code != 0 {
		t.Fatalf("exit %d after SIGTERM", code)
	}
}

// TestSQSGarbage: bodies that are not notifications are left for
// redelivery, then recorded in ferry.rejects and deleted once received
// --sqs-max-receives times; good messages around them load.
func TestSQSGarbage(t *testing.T) {
	t.Parallel()
	c := newSQSClient(t)
	queue := newQueue(t, c)
	schema := newSchema(t)
	ensureState(t, pool)
	bucket := newBucket(t)
	pipeline := randomName("sqs-garbage-")
	exec1(t, "CREATE TABLE "+table(schema, "t")+" (id bigint PRIMARY KEY, note text)")
	send(t, c, queue, "garbage, not json")
	send(t, c, queue, `{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"`+bucket+`"},"object":{"key":"in/a.csv"`)
	good := putObject(t, bucket, "in/good.csv", idsCSV(1, 5, "good"))
	send(t, c, queue, s3Notification("ObjectCreated:Put", bucket, good))
	r := startReplicate(t, sqsArgs(bucket, "in", queue, schema, pipeline, "--sqs-max-receives", "3", "--sqs-visibility", "1s", "--backfill=false")...)
	r.waitCount(5, countSQL(schema))
	r.waitCount(2, `SELECT count(*) FROM ferry.rejects WHERE pipeline = $1`, pipeline)
	waitQueueEmpty(r, c, queue)
	rows := queryRows(t, `SELECT key = $2, etag, record IS NULL, message_id <> '', error LIKE '%not an S3 event notification%', left(raw, 12)
		FROM ferry.rejects WHERE pipeline = $1 ORDER BY raw COLLATE "C"`, pipeline, queue)
	equal(t, "rejected messages", rows, []string{
		"true||true|true|true|garbage, not",
		`true||true|true|true|{"Records":[`,
	})
	warned := 0
	for _, l := range r.logs("") {
		if m, _ := l["message"].(string); strings.HasPrefix(m, "message is not an S3 notification (left for redelivery, receive ") {
			warned++
		}
	}
	if warned != 4 { // two messages, receives 1 and 2 of 3
		t.Errorf("%d 'left for redelivery' warnings, want 4", warned)
	}
}

// TestSQSGarbageLeftForRedrive: with --sqs-max-receives 0 a body that is
// not a notification is never deleted by ferry.
func TestSQSGarbageLeftForRedrive(t *testing.T) {
	t.Parallel()
	c := newSQSClient(t)
	queue := newQueue(t, c)
	schema := newSchema(t)
	ensureState(t, pool)
	bucket := newBucket(t)
	pipeline := randomName("sqs-redrive-")
	send(t, c, queue, "garbage")
	r := startReplicate(t, sqsArgs(bucket, "in", queue, schema, pipeline, "--sqs-max-receives", "0", "--sqs-visibility", "1s")...)
	r.waitFor("three receives of the garbage message", func() bool {
		n := 0
		for _, l := range r.logs("") {
			if m, _ := l["message"].(string); strings.HasPrefix(m, "message is not an S3 notification (left for redelivery") {
				n++
			}
		}
		return n >= 3
	})
	if code := r.stop(); code != 0 {
		t.Fatalf("exit %d after SIGTERM", code)
	}
	if n := queryInt(t, `SELECT count(*) FROM ferry.rejects WHERE pipeline = $1`, pipeline); n != 0 {
		t.Fatalf("%d rejects recorded with --sqs-max-receives 0", n)
	}
	if v, nv := queueCounts(t, c, queue); v+nv != 1 {
		t.Fatalf("queue holds %d visible + %d invisible messages, want the garbage one", v, nv)
	}
}

// TestSQSMultiRecordOneFails: a message naming three objects, one of which
// cannot be loaded: the two others load; the bad one is retried until
// --max-attempts, quarantined, and then the message is deleted.
func TestSQSMultiRecordOneFails(t *testing.T) {
	t.Parallel()
	c := newSQSClient(t)
	queue := newQueue(t, c)
	schema := newSchema(t)
	ensureState(t, pool)
	bucket := newBucket(t)
	exec1(t, "CREATE TABLE "+table(schema, "t")+" (id bigint PRIMARY KEY, note text)")
	pipeline := randomName("sqs-fail-")
	a := putObject(t, bucket, "in/a.csv", idsCSV(1, 10, "a"))
	bad := putObject(t, bucket, "in/bad.csv", []byte("id,note\n1x,not a number\n"))
	b := putObject(t, bucket, "in/b.csv", idsCSV(11, 20, "b"))
	send(t, c, queue, s3Notification("ObjectCreated:Put", bucket, a, bad, b))
	r := startReplicate(t, sqsArgs(bucket, "in", queue, schema, pipeline, "--max-attempts", "2", "--backfill=false")...)
	r.waitCount(20, countSQL(schema))
	r.waitCount(1, `SELECT count(*) FROM ferry.files WHERE pipeline = $1 AND key = 'in/bad.csv' AND status = 'failed' AND attempts = 2`, pipeline)
	waitQueueEmpty(r, c, queue)
	equal(t, "files", queryRows(t, `SELECT key, status, attempts, coalesce(error LIKE '%in/bad.csv%invalid bigint "1x"', false) FROM ferry.files WHERE pipeline = $1 ORDER BY key`, pipeline),
		[]string{"in/a.csv|done|1|false", "in/b.csv|done|1|false", "in/bad.csv|failed|2|true"})
}

// bigCSVObject uploads a CSV big enough that loading it takes seconds.
func bigCSVObject(t *testing.T, bucket, key string, rows int) putObj {
	return putObject(t, bucket, key, bigCSV(rows))
}

// TestSQSLoadOutlastsVisibility: an object whose load takes several times
// the visibility timeout is not handed to another receiver: the heartbeat
// extends the message, and the object loads once.
func TestSQSLoadOutlastsVisibility(t *testing.T) {
	t.Parallel()
	const rows = 1_000_000
	c := newSQSClient(t)
	queue := newQueue(t, c)
	schema := newSchema(t)
	ensureState(t, pool)
	bucket := newBucket(t)
	exec1(t, "CREATE TABLE "+table(schema, "t")+" (id bigint, note text)")
	pipeline := randomName("sqs-slow-")
	big := bigCSVObject(t, bucket, "in/big.csv", rows)
	send(t, c, queue, s3Notification("ObjectCreated:Put", bucket, big))
	start := time.Now()
	r := startReplicate(t, sqsArgs(bucket, "in", queue, schema, pipeline, "--sqs-visibility", "1s", "--batch-rows", "2000",
		"--sqs-receivers", "3", "--workers", "3", "--backfill=false")...)
	r.waitCount(1, `SELECT count(*) FROM ferry.files WHERE pipeline = $1 AND status = 'done'`, pipeline)
	took := time.Since(start)
	waitQueueEmpty(r, c, queue)
	if took < 3*time.Second {
		t.Fatalf("the load took %v, not three times the 1s visibility timeout: make the file bigger", took)
	}
	equal(t, "rows", queryRows(t, "SELECT count(*), count(DISTINCT id) FROM "+table(schema, "t")), []string{fmt.Sprintf("%d|%d", rows, rows)})
	equal(t, "state", queryRows(t, `SELECT status, rows, attempts FROM ferry.files WHERE pipeline = $1`, pipeline), []string{fmt.Sprintf("done|%d|1", rows)})
	t.Logf("loaded in %v with a 1s visibility timeout", took)
}

// TestSQSKill9MidLoad: ferry killed in the middle of an object; the message
// comes back after its visibility timeout and a new process resumes the
// object at its committed position: rows exactly once, message deleted.
func TestSQSKill9MidLoad(t *testing.T) {
	t.Parallel()
	const rows = 400_000
	c := newSQSClient(t)
	queue := newQueue(t, c)
	schema := newSchema(t)
	ensureState(t, pool)
	bucket := newBucket(t)
	exec1(t, "CREATE TABLE "+table(schema, "t")+" (id bigint, note text)")
	pipeline := randomName("sqs-kill-")
	big := bigCSVObject(t, bucket, "in/big.csv", rows)
	small := putObject(t, bucket, "in/small.csv", idsCSV(rows+1, rows+10, "small"))
	send(t, c, queue, s3Notification("ObjectCreated:Put", bucket, big, small))
	args := sqsArgs(bucket, "in", queue, schema, pipeline, "--sqs-visibility", "3s", "--batch-rows", "2000", "--backfill=false", "--parse-workers", "3")
	r := startReplicate(t, args...)
	r.waitFor("some chunks of big.csv committed", func() bool {
		return queryInt(t, `SELECT count(*) FROM ferry.files WHERE pipeline = $1 AND key = 'in/big.csv' AND status = 'loading' AND rows > 0`, pipeline) == 1
	})
	r.cmd.Process.Signal(syscall.SIGKILL)
	if code := r.exitCode(waitDeadline); code != -1 {
		t.Fatalf("exit %d after SIGKILL", code)
	}
	committed := queryInt(t, `SELECT rows FROM ferry.files WHERE pipeline = $1 AND key = 'in/big.csv'`, pipeline)
	if v, nv := queueCounts(t, c, queue); v+nv != 1 {
		t.Fatalf("after kill -9 the queue holds %d+%d messages, want the one", v, nv)
	}
	r2 := startReplicate(t, args...)
	r2.waitCount(2, `SELECT count(*) FROM ferry.files WHERE pipeline = $1 AND status = 'done'`, pipeline)
	waitQueueEmpty(r2, c, queue)
	equal(t, "rows", queryRows(t, "SELECT count(*), count(DISTINCT id), max(id) FROM "+table(schema, "t")),
		[]string{fmt.Sprintf("%d|%d|%d", rows+10, rows+10, rows+10)})
	resumed := r2.logs("resuming file")
	if len(resumed) != 1 || resumed[0]["record"].(float64) < float64(committed) {
		t.Fatalf("resume log lines %v, want one at or after record %d", resumed, committed)
	}
}

// TestSQSTwoProcesses: two ferry processes on one queue and one state
// database, every object notified twice: each object loads exactly once and
// the queue ends empty.
func TestSQSTwoProcesses(t *testing.T) {
	t.Parallel()
	const files, perFile = 30, 2000
	c := newSQSClient(t)
	queue := newQueue(t, c)
	schema := newSchema(t)
	ensureState(t, pool)
	bucket := newBucket(t)
	exec1(t, "CREATE TABLE "+table(schema, "t")+" (id bigint, note text)")
	pipeline := randomName("sqs-two-")
	args := sqsArgs(bucket, "in", queue, schema, pipeline, "--batch-rows", "500", "--backfill=false")
	r1 := startReplicate(t, args...)
	r2 := startReplicate(t, args...)
	for i := range files {
		o := putObject(t, bucket, fmt.Sprintf("in/f%03d.csv", i), idsCSV(i*perFile+1, (i+1)*perFile, "x"))
		note := s3Notification("ObjectCreated:Put", bucket, o)
		send(t, c, queue, note)
		send(t, c, queue, note)
	}
	r1.waitCount(files, `SELECT count(*) FROM ferry.files WHERE pipeline = $1 AND status = 'done'`, pipeline)
	waitQueueEmpty(r1, c, queue)
	equal(t, "rows", queryRows(t, "SELECT count(*), count(DISTINCT id) FROM "+table(schema, "t")),
		[]string{fmt.Sprintf("%d|%d", files*perFile, files*perFile)})
	equal(t, "attempts", queryRows(t, `SELECT max(attempts) FROM ferry.files WHERE pipeline = $1`, pipeline), []string{"1"})
	if r2.exited() {
		t.Fatalf("second process exited: %s", r2.status())
	}
}

// TestSQSSIGTERMReleasesMessages: on SIGTERM, messages whose objects did not
// finish are made visible again at once (not after the 5-minute visibility
// timeout), and the message whose object was loading resumes later at its
// committed position.
func TestSQSSIGTERMReleasesMessages(t *testing.T) {
	t.Parallel()
	const rows, small = 400_000, 5
	c := newSQSClient(t)
	queue := newQueue(t, c)
	schema := newSchema(t)
	ensureState(t, pool)
	bucket := newBucket(t)
	exec1(t, "CREATE TABLE "+table(schema, "t")+" (id bigint, note text)")
	pipeline := randomName("sqs-term-")
	big := bigCSVObject(t, bucket, "in/big.csv", rows)
	send(t, c, queue, s3Notification("ObjectCreated:Put", bucket, big))
	for i := range small {
		o := putObject(t, bucket, fmt.Sprintf("in/s%d.csv", i), idsCSV(rows+i*10+1, rows+i*10+10, "small"))
		send(t, c, queue, s3Notification("ObjectCreated:Put", bucket, o))
	}
	args := sqsArgs(bucket, "in", queue, schema, pipeline, "--workers", "1", "--sqs-receivers", "1", "--batch-rows", "2000", "--backfill=false", "--log-level", "debug")
	r := startReplicate(t, args...)
	r.waitFor("some chunks of big.csv committed", func() bool {
		return queryInt(t, `SELECT count(*) FROM ferry.files WHERE pipeline = $1 AND key = 'in/big.csv' AND status = 'loading' AND rows > 0`, pipeline) == 1
	})
	if code := r.stop(); code != 0 {
		t.Fatalf("exit %d after SIGTERM", code)
	}
	done := queryInt(t, `SELECT count(*) FROM ferry.files WHERE pipeline = $1 AND status = 'done'`, pipeline)
	// Every message not deleted is receivable at once (the default
	// visibility timeout is 5 minutes).
	got := receiveN(t, c, queue, 1+small-int(done), 30, 10*time.Second)
	for _, m := range got {
		changeVisibility(t, c, queue, m, 0)
	}
	r2 := startReplicate(t, args...)
	r2.waitCount(1+small, `SELECT count(*) FROM ferry.files WHERE pipeline = $1 AND status = 'done'`, pipeline)
	waitQueueEmpty(r2, c, queue)
	equal(t, "rows", queryRows(t, "SELECT count(*), count(DISTINCT id) FROM "+table(schema, "t")),
		[]string{fmt.Sprintf("%d|%d", rows+10*small, rows+10*small)})
}

// TestSQSBadQueue: a queue that does not exist, or a source that is not a
// bucket, fails at once with a one-line reason.
func TestSQSBadQueue(t *testing.T) {
	t.Parallel()
	c := newSQSClient(t)
	queue := newQueue(t, c)
	bucket := newBucket(t)
	missing := queue[:strings.LastIndex(queue, "/")+1] + "no-such-queue"
	res := ferry(t, "replicate", "--source", "s3://"+bucket+"/in", "--s3-path-style", "--sqs-queue-url", missing, "--target", "stdout")
	if res.code != 1 || !strings.Contains(res.stderr, "SQS queue "+missing) || !strings.Contains(res.stderr, "NonExistentQueue") {
		t.Fatalf("missing queue: exit %d, stderr %q", res.code, res.stderr)
	}
	res = ferry(t, "replicate", "--source", t.TempDir(), "--sqs-queue-url", queue)
	if res.code != 2 || !strings.Contains(res.stderr, "--sqs-queue-url needs an s3:// --source") {
		t.Fatalf("local source: exit %d, stderr %q", res.code, res.stderr)
	}
	res = ferry(t, "replicate", "--source", "s3://"+bucket, "--sqs-queue-url", "not a url")
	if res.code != 2 || !strings.Contains(res.stderr, `SQS queue URL "not a url"`) {
		t.Fatalf("bad URL: exit %d, stderr %q", res.code, res.stderr)
	}
}

// TestSQSAbort: under --on-error abort a bad object stops ferry with exit
// status 1, and its message stays in the queue.
func TestSQSAbort(t *testing.T) {
	t.Parallel()
	c := newSQSClient(t)
	queue := newQueue(t, c)
	schema := newSchema(t)
	ensureState(t, pool)
	bucket := newBucket(t)
	exec1(t, "CREATE TABLE "+table(schema, "t")+" (id bigint PRIMARY KEY, note text)")
	pipeline := randomName("sqs-abort-")
	bad := putObject(t, bucket, "in/bad.csv", []byte("id,note\n1x,not a number\n"))
	send(t, c, queue, s3Notification("ObjectCreated:Put", bucket, bad))
	r := startReplicate(t, sqsArgs(bucket, "in", queue, schema, pipeline, "--on-error", "abort", "--backfill=false")...)
	if code := r.exitCode(waitDeadline); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if !strings.Contains(r.stderr.String(), `invalid bigint \"1x\"`) {
		t.Fatalf("the error is not in the log:\n%s", r.stderr.String())
	}
	equal(t, "files", queryRows(t, `SELECT key, status FROM ferry.files WHERE pipeline = $1`, pipeline), []string{"in/bad.csv|failed"})
	if v, nv := queueCounts(t, c, queue); v+nv != 1 {
		t.Fatalf("queue holds %d+%d messages, want the bad object's", v, nv)
	}
}

// TestSQSReconcile: with --reconcile-interval, an object uploaded without
// a notification (a filter that misses it, an event dropped) loads within
// an interval, next to the notified ones, each once; without backfill,
// an object there before the pipeline's start is left alone.
func TestSQSReconcile(t *testing.T) {
	t.Parallel()
	c := newSQSClient(t)
	queue := newQueue(t, c)
	schema := newSchema(t)
	ensureState(t, pool)
	bucket := newBucket(t)
	exec1(t, "CREATE TABLE "+table(schema, "t")+" (id bigint PRIMARY KEY, note text)")
	pipeline := randomName("sqs-reconcile-")
	putObject(t, bucket, "in/before.csv", idsCSV(1000, 1009, "before"))
	// S3 times have a one-second resolution: the pipeline starts in a
	// later second than the object before it.
	time.Sleep(1100 * time.Millisecond)
	r := startReplicate(t, sqsArgs(bucket, "in", queue, schema, pipeline, "--backfill=false", "--reconcile-interval", "2s")...)
	r.waitFor("the replication to start", func() bool { return len(r.logs("replication from SQS notifications starting")) == 1 })
	time.Sleep(1100 * time.Millisecond) // and the next objects in a later second than the start
	notified := putObject(t, bucket, "in/notified.csv", idsCSV(1, 10, "notified"))
	send(t, c, queue, s3Notification("ObjectCreated:Put", bucket, notified))
	putObject(t, bucket, "in/silent.csv", idsCSV(11, 20, "silent")) // no notification
	// silent.csv loaded through a reconciliation listing, which listed
	// before.csv too, and left it.
	r.waitCount(20, countSQL(schema))
	waitQueueEmpty(r, c, queue)
	if code := r.stop(); code != 0 {
		t.Fatalf("exit %d after SIGTERM", code)
	}
	equal(t, "rows per note", queryRows(t, "SELECT note, count(*), count(DISTINCT id) FROM "+table(schema, "t")+" GROUP BY note ORDER BY note"),
		[]string{"notified|10|10", "silent|10|10"})
	equal(t, "files", queryRows(t, `SELECT key, status, attempts FROM ferry.files WHERE pipeline = $1 ORDER BY key`, pipeline),
		[]string{"in/notified.csv|done|1", "in/silent.csv|done|1"})
}
