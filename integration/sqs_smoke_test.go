//go:build integration

package integration

// The SQS calls ferry's SQS consumer makes, checked against the endpoint
// integration/services.sh provides (fauxqs, unless FERRY_TEST_SQS_ENDPOINT
// names another), so that a gap in the emulator shows up here and not as a
// puzzling consumer failure. Each test has its own queue.

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
)

// sqsVisibility is the VisibilityTimeout (seconds) most receives here ask
// for: short, so that redelivery is quick to observe.
const sqsVisibility = 2

// newSQSClient returns a client for the test SQS endpoint. It relies on
// AWS_ENDPOINT_URL_SQS, as ferry does, and refuses to run when that does not
// name FERRY_TEST_SQS_ENDPOINT, so that a test never reaches real AWS.
func newSQSClient(t *testing.T) *sqs.Client {
	t.Helper()
	endpoint := os.Getenv("FERRY_TEST_SQS_ENDPOINT")
	if endpoint == "" {
		t.Fatal("FERRY_TEST_SQS_ENDPOINT is not set: run the integration tests through integration/services.sh (make integration), which starts fauxqs")
	}
	if got := os.Getenv("AWS_ENDPOINT_URL_SQS"); got != endpoint {
		t.Fatalf("AWS_ENDPOINT_URL_SQS=%q, want FERRY_TEST_SQS_ENDPOINT=%q", got, endpoint)
	}
	cfg, err := awsconfig.LoadDefaultConfig(t.Context())
	if err != nil {
		t.Fatalf("load AWS config: %v", err)
	}
	return sqs.NewFromConfig(cfg)
}

// newQueue creates a queue with a unique name and a 30 s default visibility
// timeout, checks GetQueueUrl and the attribute, and deletes it at the end.
func newQueue(t *testing.T, c *sqs.Client) string {
	t.Helper()
	ctx := t.Context()
	name := randomName("ferry-it-")
	out, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{
		QueueName:  aws.String(name),
		Attributes: map[string]string{string(types.QueueAttributeNameVisibilityTimeout): "30"},
	})
	if err != nil {
		t.Fatalf("CreateQueue %s: %v", name, err)
	}
	url := aws.ToString(out.QueueUrl)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := c.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(url)}); err != nil {
			t.Errorf("DeleteQueue %s: %v", url, err)
		}
	})
	got, err := c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
	if err != nil {
		t.Fatalf("GetQueueUrl %s: %v", name, err)
	}
	if aws.ToString(got.QueueUrl) != url {
		t.Fatalf("GetQueueUrl %s = %q, CreateQueue said %q", name, aws.ToString(got.QueueUrl), url)
	}
	attrs, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(url),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameVisibilityTimeout},
	})
	if err != nil {
		t.Fatalf("GetQueueAttributes %s: %v", url, err)
	}
	if v := attrs.Attributes[string(types.QueueAttributeNameVisibilityTimeout)]; v != "30" {
		t.Fatalf("queue VisibilityTimeout = %q, want 30 (attributes %v)", v, attrs.Attributes)
	}
	return url
}

// receive makes one ReceiveMessage call the way the consumer does.
func receive(t *testing.T, c *sqs.Client, url string, wait, visibility int32) []types.Message {
	t.Helper()
	out, err := c.ReceiveMessage(t.Context(), receiveInput(url, wait, visibility))
	if err != nil {
		t.Fatalf("ReceiveMessage: %v", err)
	}
	return out.Messages
}

func receiveInput(url string, wait, visibility int32) *sqs.ReceiveMessageInput {
	return &sqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(url),
		MaxNumberOfMessages:         10,
		WaitTimeSeconds:             wait,
		VisibilityTimeout:           visibility,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount},
	}
}

// receiveN receives (WaitTimeSeconds 1) until it has n messages or the time
// is up, and returns them by body. SQS may return fewer than asked per call.
func receiveN(t *testing.T, c *sqs.Client, url string, n int, visibility int32, within time.Duration) map[string]types.Message {
	t.Helper()
	got := map[string]types.Message{}
	deadline := time.Now().Add(within)
	for len(got) < n && time.Now().Before(deadline) {
		for _, m := range receive(t, c, url, 1, visibility) {
			body := aws.ToString(m.Body)
			if _, dup := got[body]; dup {
				t.Fatalf("message %q delivered twice within its visibility timeout", body)
			}
			got[body] = m
		}
	}
	if len(got) != n {
		t.Fatalf("received %d messages (%v) within %v, want %d", len(got), slices.Sorted(maps.Keys(got)), within, n)
	}
	return got
}

// receiveCount is the message's ApproximateReceiveCount, which must be there.
func receiveCount(t *testing.T, m types.Message) int {
	t.Helper()
	s, ok := m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)]
	if !ok {
		t.Fatalf("message %q has no ApproximateReceiveCount (attributes %v)", aws.ToString(m.Body), m.Attributes)
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("message %q: ApproximateReceiveCount %q: %v", aws.ToString(m.Body), s, err)
	}
	return n
}

func wantReceiveCount(t *testing.T, msgs map[string]types.Message, want int) {
	t.Helper()
	for body, m := range msgs {
		if n := receiveCount(t, m); n != want {
			t.Errorf("message %q: ApproximateReceiveCount = %d, want %d", body, n, want)
		}
	}
}

// queueCounts returns ApproximateNumberOfMessages and
// ApproximateNumberOfMessagesNotVisible.
func queueCounts(t *testing.T, c *sqs.Client, url string) (visible, notVisible int) {
	t.Helper()
	out, err := c.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(url),
		AttributeNames: []types.QueueAttributeName{
			types.QueueAttributeNameApproximateNumberOfMessages,
			types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		},
	})
	if err != nil {
		t.Fatalf("GetQueueAttributes: %v", err)
	}
	get := func(name types.QueueAttributeName) int {
		s, ok := out.Attributes[string(name)]
		if !ok {
			t.Fatalf("GetQueueAttributes returned no %s (got %v)", name, out.Attributes)
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("%s = %q: %v", name, s, err)
		}
		return n
	}
	return get(types.QueueAttributeNameApproximateNumberOfMessages),
		get(types.QueueAttributeNameApproximateNumberOfMessagesNotVisible)
}

func wantQueueCounts(t *testing.T, c *sqs.Client, url string, visible, notVisible int) {
	t.Helper()
	v, nv := queueCounts(t, c, url)
	if v != visible || nv != notVisible {
		t.Fatalf("ApproximateNumberOfMessages = %d, ApproximateNumberOfMessagesNotVisible = %d; want %d, %d", v, nv, visible, notVisible)
	}
}

func sendBatch(t *testing.T, c *sqs.Client, url string, bodies ...string) {
	t.Helper()
	entries := make([]types.SendMessageBatchRequestEntry, len(bodies))
	for i, b := range bodies {
		entries[i] = types.SendMessageBatchRequestEntry{Id: aws.String(fmt.Sprintf("e%d", i)), MessageBody: aws.String(b)}
	}
	out, err := c.SendMessageBatch(t.Context(), &sqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: entries})
	if err != nil {
		t.Fatalf("SendMessageBatch: %v", err)
	}
	if len(out.Failed) != 0 || len(out.Successful) != len(bodies) {
		t.Fatalf("SendMessageBatch: %d successful, failed %+v; want %d successful", len(out.Successful), out.Failed, len(bodies))
	}
	for _, s := range out.Successful {
		i, err := strconv.Atoi(aws.ToString(s.Id)[1:])
		if err != nil || i >= len(bodies) {
			t.Fatalf("SendMessageBatch: unexpected entry id %q", aws.ToString(s.Id))
		}
		if aws.ToString(s.MessageId) == "" || aws.ToString(s.MD5OfMessageBody) != md5hex(bodies[i]) {
			t.Errorf("SendMessageBatch entry %s: MessageId %q, MD5OfMessageBody %q (want %s)",
				aws.ToString(s.Id), aws.ToString(s.MessageId), aws.ToString(s.MD5OfMessageBody), md5hex(bodies[i]))
		}
	}
}

// orOK describes err for a log line: "ok", or its type and text.
func orOK(err error) string {
	if err == nil {
		return "ok"
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return fmt.Sprintf("%T %v", apiErr, err)
	}
	return err.Error()
}

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

func deleteBatch(t *testing.T, c *sqs.Client, url string, msgs map[string]types.Message) *sqs.DeleteMessageBatchOutput {
	t.Helper()
	var entries []types.DeleteMessageBatchRequestEntry
	for _, body := range slices.Sorted(maps.Keys(msgs)) {
		entries = append(entries, types.DeleteMessageBatchRequestEntry{Id: aws.String(body), ReceiptHandle: msgs[body].ReceiptHandle})
	}
	out, err := c.DeleteMessageBatch(t.Context(), &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(url), Entries: entries})
	if err != nil {
		t.Fatalf("DeleteMessageBatch: %v", err)
	}
	return out
}

func changeVisibility(t *testing.T, c *sqs.Client, url string, m types.Message, seconds int32) {
	t.Helper()
	if _, err := c.ChangeMessageVisibility(t.Context(), &sqs.ChangeMessageVisibilityInput{
		QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: seconds,
	}); err != nil {
		t.Fatalf("ChangeMessageVisibility(%q, %d): %v", aws.ToString(m.Body), seconds, err)
	}
}

// changeVisibilityBatch changes all msgs (entry id = body) to seconds and
// fails unless every entry succeeded.
func changeVisibilityBatch(t *testing.T, c *sqs.Client, url string, msgs map[string]types.Message, seconds int32) {
	t.Helper()
	var entries []types.ChangeMessageVisibilityBatchRequestEntry
	for body, m := range msgs {
		entries = append(entries, types.ChangeMessageVisibilityBatchRequestEntry{Id: aws.String(body), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: seconds})
	}
	out, err := c.ChangeMessageVisibilityBatch(t.Context(), &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(url), Entries: entries})
	if err != nil {
		t.Fatalf("ChangeMessageVisibilityBatch: %v", err)
	}
	if len(out.Failed) != 0 || len(out.Successful) != len(msgs) {
		t.Fatalf("ChangeMessageVisibilityBatch(%d): %d successful, failed %s", seconds, len(out.Successful), batchErrors(out.Failed))
	}
}

func batchErrors(fs []types.BatchResultErrorEntry) string {
	s := "["
	for i, f := range fs {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("{Id:%s Code:%s SenderFault:%t Message:%q}", aws.ToString(f.Id), aws.ToString(f.Code), f.SenderFault, aws.ToString(f.Message))
	}
	return s + "]"
}

// expectNothing receives until the time is up and fails on any message.
func expectNothing(t *testing.T, c *sqs.Client, url string, until time.Time, why string) {
	t.Helper()
	for time.Now().Before(until) {
		if msgs := receive(t, c, url, 1, sqsVisibility); len(msgs) != 0 {
			t.Fatalf("%s: received %q", why, aws.ToString(msgs[0].Body))
		}
	}
}

func TestSQSSmokeQueueSetup(t *testing.T) {
	t.Parallel()
	c := newSQSClient(t)
	url := newQueue(t, c)
	t.Logf("queue URL %s", url)
	wantQueueCounts(t, c, url, 0, 0)

	missing := randomName("ferry-it-missing-")
	_, err := c.GetQueueUrl(t.Context(), &sqs.GetQueueUrlInput{QueueName: aws.String(missing)})
	var notFound *types.QueueDoesNotExist
	if !errors.As(err, &notFound) {
		t.Fatalf("GetQueueUrl of a missing queue: got %v (%T), want *types.QueueDoesNotExist", err, err)
	}
	t.Logf("GetQueueUrl of a missing queue: %v", err)
}

func TestSQSSmokeSendReceiveRedelivery(t *testing.T) {
	t.Parallel()
	c := newSQSClient(t)
	url := newQueue(t, c)
	ctx := t.Context()

	sent, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("m0")})
	if err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
	if aws.ToString(sent.MessageId) == "" || aws.ToString(sent.MD5OfMessageBody) != md5hex("m0") {
		t.Fatalf("SendMessage: MessageId %q, MD5OfMessageBody %q", aws.ToString(sent.MessageId), aws.ToString(sent.MD5OfMessageBody))
	}
	sendBatch(t, c, url, "m1", "m2", "m3")
	wantQueueCounts(t, c, url, 4, 0)

	first := receiveN(t, c, url, 4, sqsVisibility, 5*time.Second)
	received := time.Now()
	wantReceiveCount(t, first, 1)
	if first["m0"].MessageId == nil || *first["m0"].MessageId != *sent.MessageId {
		t.Errorf("received m0 with MessageId %v, SendMessage said %q", first["m0"].MessageId, *sent.MessageId)
	}
	wantQueueCounts(t, c, url, 0, 4)
	if msgs := receive(t, c, url, 0, sqsVisibility); len(msgs) != 0 {
		t.Fatalf("in-flight message %q delivered again before its visibility timeout", aws.ToString(msgs[0].Body))
	}

	// After the visibility timeout the messages come back, counted twice.
	time.Sleep(time.Until(received.Add(sqsVisibility*time.Second + 500*time.Millisecond)))
	v, nv := queueCounts(t, c, url)
	t.Logf("after the visibility timeout expired, before any receive: ApproximateNumberOfMessages %d, NotVisible %d (real SQS: about 4, 0)", v, nv)
	second := receiveN(t, c, url, 4, 30, 5*time.Second)
	wantReceiveCount(t, second, 2)
	for body, m := range second {
		if *m.ReceiptHandle == *first[body].ReceiptHandle {
			t.Errorf("message %q redelivered with the same receipt handle", body)
		}
	}

	// Receipt handles ferry must not send: logged, not asserted. SQS
	// documents that deleting with an earlier handle succeeds but may not
	// delete; ferry must always use the latest handle.
	_, err = c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(url), ReceiptHandle: first["m0"].ReceiptHandle, VisibilityTimeout: 10})
	t.Logf("ChangeMessageVisibility with the receipt handle of an earlier receive: %v", orOK(err))
	_, err = c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(url), ReceiptHandle: aws.String("not-a-receipt-handle"), VisibilityTimeout: 10})
	t.Logf("ChangeMessageVisibility with an invalid receipt handle: %v", orOK(err))
	_, err = c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: aws.String("not-a-receipt-handle")})
	t.Logf("DeleteMessage with an invalid receipt handle: %v", orOK(err))
	bad := maps.Clone(first)
	bad["bogus"] = types.Message{ReceiptHandle: aws.String("not-a-receipt-handle")}
	stale := deleteBatch(t, c, url, bad)
	v, nv = queueCounts(t, c, url)
	t.Logf("DeleteMessageBatch with 4 earlier receipt handles and an invalid one: %d successful, failed %s; then visible %d, not visible %d",
		len(stale.Successful), batchErrors(stale.Failed), v, nv)

	out := deleteBatch(t, c, url, second)
	if len(out.Failed) != 0 || len(out.Successful) != 4 {
		t.Fatalf("DeleteMessageBatch: %d successful, failed %s; want 4 successful", len(out.Successful), batchErrors(out.Failed))
	}
	wantQueueCounts(t, c, url, 0, 0)
	expectNothing(t, c, url, received.Add(2*(sqsVisibility+1)*time.Second), "deleted message came back")
	wantQueueCounts(t, c, url, 0, 0)
}

func TestSQSSmokeChangeMessageVisibility(t *testing.T) {
	t.Parallel()
	c := newSQSClient(t)
	url := newQueue(t, c)
	ctx := t.Context()
	sendBatch(t, c, url, "a", "b", "c")

	// Received for 5 s: a is extended to 30 s, b released at once, c left.
	first := receiveN(t, c, url, 3, 5, 5*time.Second)
	t0 := time.Now()
	wantReceiveCount(t, first, 1)
	changeVisibility(t, c, url, first["a"], 30)
	changeVisibility(t, c, url, first["b"], 0)
	msgs := receive(t, c, url, 1, 30)
	if len(msgs) != 1 || aws.ToString(msgs[0].Body) != "b" {
		t.Fatalf("after ChangeMessageVisibility(b, 0): received %d messages, want b alone", len(msgs))
	}
	b := msgs[0]
	if n := receiveCount(t, b); n != 2 {
		t.Errorf("b: ApproximateReceiveCount = %d, want 2", n)
	}

	// c comes back after its 5 s; a does not, though its first 5 s are over.
	var c2 types.Message
	for time.Since(t0) < 6500*time.Millisecond {
		for _, m := range receive(t, c, url, 1, 30) {
			if body := aws.ToString(m.Body); body != "c" || c2.Body != nil {
				t.Fatalf("received %q (count %d) %v after the first receive; want c once (a was extended to 30 s, b received for 30 s)", body, receiveCount(t, m), time.Since(t0))
			}
			c2 = m
		}
	}
	if c2.Body == nil {
		t.Fatal("c was not redelivered after its visibility timeout")
	}
	if n := receiveCount(t, c2); n != 2 {
		t.Errorf("c: ApproximateReceiveCount = %d, want 2", n)
	}

	// The batch form: everything visible again at once; one bad entry fails
	// alone.
	entries := []types.ChangeMessageVisibilityBatchRequestEntry{
		{Id: aws.String("a"), ReceiptHandle: first["a"].ReceiptHandle, VisibilityTimeout: 0},
		{Id: aws.String("b"), ReceiptHandle: b.ReceiptHandle, VisibilityTimeout: 0},
		{Id: aws.String("c"), ReceiptHandle: c2.ReceiptHandle, VisibilityTimeout: 0},
		{Id: aws.String("bogus"), ReceiptHandle: aws.String("not-a-receipt-handle"), VisibilityTimeout: 0},
	}
	out, err := c.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(url), Entries: entries})
	if err != nil {
		t.Fatalf("ChangeMessageVisibilityBatch: %v", err)
	}
	var ok []string
	for _, s := range out.Successful {
		ok = append(ok, aws.ToString(s.Id))
	}
	slices.Sort(ok)
	if !slices.Equal(ok, []string{"a", "b", "c"}) || len(out.Failed) != 1 || aws.ToString(out.Failed[0].Id) != "bogus" || !out.Failed[0].SenderFault {
		t.Fatalf("ChangeMessageVisibilityBatch: successful %v, failed %s; want a, b, c successful and bogus failed (sender fault)", ok, batchErrors(out.Failed))
	}
	t.Logf("ChangeMessageVisibilityBatch with an invalid receipt handle: failed %s", batchErrors(out.Failed))
	all := receiveN(t, c, url, 3, sqsVisibility, 2*time.Second)
	t1 := time.Now()
	for body, want := range map[string]int{"a": 2, "b": 3, "c": 3} {
		if n := receiveCount(t, all[body]); n != want {
			t.Errorf("%s: ApproximateReceiveCount = %d, want %d", body, n, want)
		}
	}

	// Extended by the batch form past the receive's 2 s: nothing comes back.
	changeVisibilityBatch(t, c, url, all, 30)
	expectNothing(t, c, url, t1.Add((sqsVisibility+1)*time.Second), "message extended to 30 s came back")
	wantQueueCounts(t, c, url, 0, 3)

	del := deleteBatch(t, c, url, all)
	if len(del.Failed) != 0 || len(del.Successful) != 3 {
		t.Fatalf("DeleteMessageBatch: %d successful, failed %s; want 3 successful", len(del.Successful), batchErrors(del.Failed))
	}
	wantQueueCounts(t, c, url, 0, 0)
}

// TestSQSSmokeLateExtension logs what happens when the consumer extends a
// message's visibility after it ran out but before anyone received it again.
func TestSQSSmokeLateExtension(t *testing.T) {
	t.Parallel()
	c := newSQSClient(t)
	url := newQueue(t, c)
	sendBatch(t, c, url, "late")
	m := receiveN(t, c, url, 1, 1, 5*time.Second)["late"]
	time.Sleep(1500 * time.Millisecond)
	_, err := c.ChangeMessageVisibility(t.Context(), &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 10})
	msgs := receive(t, c, url, 0, 10)
	t.Logf("ChangeMessageVisibility(10) 0.5 s after the 1 s visibility ran out: %v; a receive right after got %d messages", orOK(err), len(msgs))
}

func TestSQSSmokeLongPoll(t *testing.T) {
	t.Parallel()
	c := newSQSClient(t)
	url := newQueue(t, c)

	// An empty queue: the call waits WaitTimeSeconds, then returns nothing.
	start := time.Now()
	if msgs := receive(t, c, url, 1, sqsVisibility); len(msgs) != 0 {
		t.Fatalf("empty queue returned %d messages", len(msgs))
	}
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Fatalf("long poll (WaitTimeSeconds 1) on an empty queue returned after %v", d)
	} else {
		t.Logf("long poll (WaitTimeSeconds 1) on an empty queue returned empty after %v", d)
	}

	// A message sent during a long poll ends it.
	sent := make(chan error, 1)
	go func() {
		time.Sleep(300 * time.Millisecond)
		_, err := c.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("late")})
		sent <- err
	}()
	start = time.Now()
	msgs := receive(t, c, url, 10, sqsVisibility)
	d := time.Since(start)
	if err := <-sent; err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
	if len(msgs) != 1 || aws.ToString(msgs[0].Body) != "late" {
		t.Fatalf("long poll received %d messages, want the one sent meanwhile", len(msgs))
	}
	if d > 5*time.Second {
		t.Fatalf("long poll (WaitTimeSeconds 10) returned the message sent after 0.3 s only after %v", d)
	}
	t.Logf("long poll returned a message sent 0.3 s in after %v", d)
}

func TestSQSSmokeReceiveContext(t *testing.T) {
	t.Parallel()
	c := newSQSClient(t)
	url := newQueue(t, c)

	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := c.ReceiveMessage(cancelled, receiveInput(url, 5, sqsVisibility)); !errors.Is(err, context.Canceled) {
		t.Fatalf("ReceiveMessage with a cancelled context: %v, want context.Canceled", err)
	}

	short, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.ReceiveMessage(short, receiveInput(url, 5, sqsVisibility))
	d := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ReceiveMessage (WaitTimeSeconds 5) with a 300 ms context: %v, want context.DeadlineExceeded", err)
	}
	if d > 4*time.Second {
		t.Fatalf("ReceiveMessage with a 300 ms context returned after %v", d)
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		t.Fatalf("ReceiveMessage with a 300 ms context: an API error %v, want only the context's", err)
	}

	// The abandoned long poll may still be waiting on the server. A message
	// sent now must reach a receiver, at once or (if the abandoned poll took
	// it) after that poll's VisibilityTimeout.
	if _, err := c.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("after-cancel")}); err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
	start = time.Now()
	got := receiveN(t, c, url, 1, sqsVisibility, (sqsVisibility+5)*time.Second)
	n := receiveCount(t, got["after-cancel"])
	t.Logf("message sent after a cancelled long poll: received after %v with ApproximateReceiveCount %d (2 = the abandoned poll took it first)", time.Since(start), n)
	if out := deleteBatch(t, c, url, got); len(out.Successful) != 1 {
		t.Fatalf("DeleteMessageBatch: failed %s", batchErrors(out.Failed))
	}
	wantQueueCounts(t, c, url, 0, 0)
}
