package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// queues is the SQS (fauxqs) side. Every request goes to the test
// endpoint, never to AWS: it is set explicitly, as is ferry's
// --sqs-endpoint.
type queues struct {
	client   *sqs.Client
	endpoint string
}

func newQueues(ctx context.Context, endpoint string) (*queues, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS config: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	client := sqs.NewFromConfig(cfg, func(o *sqs.Options) {
		o.BaseEndpoint = aws.String(endpoint)
	})
	return &queues{client: client, endpoint: endpoint}, nil
}

// create makes a queue (30 s default visibility timeout; ferry sets its
// own on receive) and returns its URL.
func (q *queues) create(ctx context.Context, name string) (string, error) {
	out, err := q.client.CreateQueue(ctx, &sqs.CreateQueueInput{
		QueueName:  aws.String(name),
		Attributes: map[string]string{string(types.QueueAttributeNameVisibilityTimeout): "30"},
	})
	if err != nil {
		return "", fmt.Errorf("create queue %s at %s: %w", name, q.endpoint, err)
	}
	return aws.ToString(out.QueueUrl), nil
}

func (q *queues) remove(ctx context.Context, queueURL string) error {
	if _, err := q.client.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(queueURL)}); err != nil {
		return fmt.Errorf("delete queue %s: %w", queueURL, err)
	}
	return nil
}

// counts returns ApproximateNumberOfMessages and
// ApproximateNumberOfMessagesNotVisible.
func (q *queues) counts(ctx context.Context, queueURL string) (visible, notVisible int, err error) {
	out, err := q.client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(queueURL),
		AttributeNames: []types.QueueAttributeName{
			types.QueueAttributeNameApproximateNumberOfMessages,
			types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		},
	})
	if err != nil {
		return 0, 0, fmt.Errorf("GetQueueAttributes %s: %w", queueURL, err)
	}
	get := func(name types.QueueAttributeName) (int, error) {
		s, ok := out.Attributes[string(name)]
		if !ok {
			return 0, fmt.Errorf("GetQueueAttributes %s returned no %s (got %v)", queueURL, name, out.Attributes)
		}
		return strconv.Atoi(s)
	}
	if visible, err = get(types.QueueAttributeNameApproximateNumberOfMessages); err != nil {
		return 0, 0, err
	}
	if notVisible, err = get(types.QueueAttributeNameApproximateNumberOfMessagesNotVisible); err != nil {
		return 0, 0, err
	}
	return visible, notVisible, nil
}

func (q *queues) send(ctx context.Context, queueURL, body string) error {
	if _, err := q.client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(queueURL), MessageBody: aws.String(body)}); err != nil {
		return fmt.Errorf("SendMessage: %w", err)
	}
	return nil
}

// sendBatch sends up to 10 bodies in one SendMessageBatch and fails unless
// every entry succeeded.
func (q *queues) sendBatch(ctx context.Context, queueURL string, bodies []string) error {
	entries := make([]types.SendMessageBatchRequestEntry, len(bodies))
	for i, b := range bodies {
		entries[i] = types.SendMessageBatchRequestEntry{Id: aws.String("m" + strconv.Itoa(i)), MessageBody: aws.String(b)}
	}
	out, err := q.client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(queueURL), Entries: entries})
	if err != nil {
		return fmt.Errorf("SendMessageBatch: %w", err)
	}
	if len(out.Failed) != 0 || len(out.Successful) != len(bodies) {
		var why string
		if len(out.Failed) > 0 {
			f := out.Failed[0]
			why = fmt.Sprintf("; the first failure: %s %s", aws.ToString(f.Code), aws.ToString(f.Message))
		}
		return fmt.Errorf("SendMessageBatch: %d of %d entries successful, %d failed%s", len(out.Successful), len(bodies), len(out.Failed), why)
	}
	return nil
}

// object is what an S3 event notification says of an uploaded object.
type object struct {
	key  string
	size int64
	etag string // without quotes
}

// s3Notification is the body S3 sends to SQS for one ObjectCreated:Put (the
// shape of integration/sqs_test.go's). The key is URL-encoded the way S3
// does it (form encoding: a space is "+"), slashes left as they are.
func s3Notification(bucket string, o object, at time.Time) string {
	key := strings.ReplaceAll(url.QueryEscape(o.key), "%2F", "/")
	return fmt.Sprintf(`{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1",`+
		`"eventTime":%q,"eventName":"ObjectCreated:Put","userIdentity":{"principalId":"AWS:BENCHREP"},`+
		`"requestParameters":{"sourceIPAddress":"127.0.0.1"},"responseElements":{"x-amz-request-id":"R","x-amz-id-2":"H"},`+
		`"s3":{"s3SchemaVersion":"1.0","configurationId":"benchrep","bucket":{"name":%q,"ownerIdentity":{"principalId":"X"},"arn":"arn:aws:s3:::%s"},`+
		`"object":{"key":%q,"size":%d,"eTag":%q,"sequencer":"%016X"}}}]}`,
		at.UTC().Format("2006-01-02T15:04:05.000Z"), bucket, bucket, key, o.size, o.etag, at.UnixNano())
}

// logColumns is the table the log files load into; its columns are the
// records' keys, in order.
const logColumns = "(ts timestamptz, level text, msg text, id bigint, latency_ms double precision)"

// logRecord is one line of an application log.
type logRecord struct {
	TS        string  `json:"ts"`
	Level     string  `json:"level"`
	Msg       string  `json:"msg"`
	ID        int64   `json:"id"`
	LatencyMS float64 `json:"latency_ms"`
}

var (
	logLevels = [...]string{"info", "info", "info", "info", "info", "debug", "debug", "warn", "error"}
	logPaths  = [...]string{"/api/v1/orders", "/api/v1/items", "/api/v1/users", "/healthz", "/api/v1/cart/checkout"}
	logUsers  = [...]string{"alice", "bob", "chloé", "Dmitri \"the admin\"", "李雷", "o'brien"}
)

func logMsg(rng *rand.Rand, id int64) string {
	switch rng.IntN(6) {
	case 0, 1, 2:
		return fmt.Sprintf("GET %s/%d -> %d", logPaths[rng.IntN(len(logPaths))], id%9973, []int{200, 200, 200, 201, 204, 304, 404, 500}[rng.IntN(8)])
	case 3:
		return fmt.Sprintf("user %q logged in from 10.%d.%d.%d", logUsers[rng.IntN(len(logUsers))], rng.IntN(256), rng.IntN(256), rng.IntN(256))
	case 4:
		return fmt.Sprintf("cache miss for key \"sess:%08x\"\tretrying", rng.Uint32())
	default:
		return fmt.Sprintf("slow query (%d ms): SELECT * FROM orders WHERE id = $1", 100+rng.IntN(2000))
	}
}

// logFile returns a gzip-compressed JSON-lines log of records records with
// ids firstID, firstID+1, ...; the rest is random but fixed by firstID.
func logFile(firstID int64, records int, start time.Time) []byte {
	rng := rand.New(rand.NewPCG(uint64(firstID), 0x106))
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	enc := json.NewEncoder(zw)
	enc.SetEscapeHTML(false)
	ts := start
	for r := range records {
		id := firstID + int64(r)
		ts = ts.Add(time.Duration(rng.IntN(1500)) * time.Millisecond)
		rec := logRecord{
			TS:        ts.UTC().Format("2006-01-02T15:04:05.000Z"),
			Level:     logLevels[rng.IntN(len(logLevels))],
			Msg:       logMsg(rng, id),
			ID:        id,
			LatencyMS: float64(rng.IntN(250_000)) / 100,
		}
		if err := enc.Encode(&rec); err != nil { // cannot fail: a bytes.Buffer
			panic(err)
		}
	}
	if err := zw.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// logKey is the key of log file i (0-based) of day.
func logKey(day time.Time, i int) string {
	return fmt.Sprintf("logs/%s/app-%05d.jsonl.gz", day.Format("2006/01/02"), i)
}

// sqsArgs are replicateArgs for following queueURL (at the test endpoint)
// with no backfill listing.
func (e *env) sqsArgs(source, table, pipeline, queueURL string, extra ...string) []string {
	return e.replicateArgs(source, table, pipeline, append([]string{
		"--sqs-queue-url", queueURL, "--sqs-endpoint", e.cfg.sqsEndpoint, "--backfill=false"}, extra...)...)
}

// removeQueue deletes a part's queue unless BENCHREP_KEEP=1. Failures are
// logged, not fatal.
func (e *env) removeQueue(queueURL string) {
	if e.cfg.keep {
		logf("kept queue %s (BENCHREP_KEEP=1)", queueURL)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := e.sqs.remove(ctx, queueURL); err != nil {
		logf("cleanup: %v", err)
	}
}

// waitQueueEmpty polls the queue every `every` until no message is left,
// visible or not (every message was deleted), and returns the time it saw
// that. Ferry exiting, ctx ending or timeout stop the wait with an error.
func (e *env) waitQueueEmpty(ctx context.Context, p *ferryProc, queueURL string, every, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		v, nv, err := e.sqs.counts(ctx, queueURL)
		now := time.Now()
		if err != nil {
			return now, err
		}
		if v == 0 && nv == 0 {
			return now, nil
		}
		if now.After(deadline) {
			return now, fmt.Errorf("queue not empty %v after every file was done: %d visible, %d not visible\n%s", timeout, v, nv, p.tail(30))
		}
		select {
		case <-ctx.Done():
			return now, ctx.Err()
		case <-p.done:
			return now, p.exitError()
		case <-tick.C:
		}
	}
}
