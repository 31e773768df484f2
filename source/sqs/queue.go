// Package sqs discovers files through S3 event notifications on an SQS
// queue: it parses notification bodies (S3, SNS-wrapped S3, EventBridge),
// receives messages with long polling, keeps the messages in flight
// invisible while their objects load (a heartbeat extends their visibility
// at half the timeout), and deletes them in batches once they are
// complete.
//
// On stop (Feed.Start), receiving stops at once: a long poll under way is
// abandoned after StopGrace, at the cost of the messages SQS may still
// hand it (see Feed); messages received and not complete are made visible
// again at once, and those whose objects commit during the shutdown are
// deleted.
//
// Credentials and region come from the SDK's default chain; the endpoint is
// Config.Endpoint when set, else what the SDK resolves, which honours
// AWS_ENDPOINT_URL_SQS and AWS_ENDPOINT_URL.
package sqs

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
)

// DefaultRegion is used when no region is configured anywhere.
const DefaultRegion = "us-east-1"

// MaxBatch is SQS's limit of messages per receive and entries per batch call.
const MaxBatch = 10

// Config says which queue to follow and how.
type Config struct {
	// QueueURL is the queue's URL (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME).
	QueueURL string
	// Endpoint overrides the SQS endpoint; empty: the SDK's resolution.
	Endpoint string
	// Region overrides the region from the default chain.
	Region string
	// Wait is the long-polling wait of a receive (at most 20 s).
	Wait time.Duration
	// Visibility is the visibility timeout set on receive and renewed
	// while a message is in flight.
	Visibility time.Duration
}

// Validate checks the settings without contacting SQS.
func (c Config) Validate() error {
	u, err := url.Parse(c.QueueURL)
	if c.QueueURL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.Trim(u.Path, "/") == "" {
		return fmt.Errorf("SQS queue URL %q: want https://sqs.REGION.amazonaws.com/ACCOUNT/QUEUE", c.QueueURL)
	}
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("SQS endpoint %q: want http://host[:port] or https://host[:port]", c.Endpoint)
		}
	}
	if c.Wait < 0 || c.Wait > 20*time.Second {
		return fmt.Errorf("SQS wait %v: must be between 0 and 20s", c.Wait)
	}
	if c.Visibility < time.Second || c.Visibility > 12*time.Hour {
		return fmt.Errorf("SQS visibility timeout %v: must be between 1s and 12h", c.Visibility)
	}
	return nil
}

// Message is a received message.
type Message struct {
	ID            string
	ReceiptHandle string
	Body          string
	// ReceiveCount is how many times the queue has handed the message out,
	// this time included.
	ReceiveCount int
	// SentAt is when the message was sent, when the queue says.
	SentAt time.Time
}

// Queue is an SQS queue.
type Queue struct {
	client *sqs.Client
	cfg    Config
}

// CheckTimeout bounds the queue check New makes.
const CheckTimeout = 10 * time.Second

// New connects to the queue and checks, within CheckTimeout, that it
// exists and is accessible.
func New(ctx context.Context, cfg Config) (*Queue, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var opts []func(*config.LoadOptions) error
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		awsCfg.Region = DefaultRegion
	}
	client := sqs.NewFromConfig(awsCfg, func(o *sqs.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
	})
	q := &Queue{client: client, cfg: cfg}
	cctx, cancel := context.WithTimeout(ctx, CheckTimeout)
	defer cancel()
	_, err = client.GetQueueAttributes(cctx, &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(cfg.QueueURL), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameVisibilityTimeout},
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("SQS queue %s: %s", cfg.QueueURL, Reason(err))
	}
	return q, nil
}

// String names the queue.
func (q *Queue) String() string { return q.cfg.QueueURL }

// Reason reduces an SDK error to the service's code and message, or the
// transport's cause.
func Reason(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode() + ": " + ae.ErrorMessage()
	}
	return err.Error()
}

// Receive long-polls for up to n messages (1..10), making them invisible
// for the configured visibility timeout.
func (q *Queue) Receive(ctx context.Context, n int) ([]Message, error) {
	n = min(MaxBatch, max(1, n))
	out, err := q.client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:            aws.String(q.cfg.QueueURL),
		MaxNumberOfMessages: int32(n),
		WaitTimeSeconds:     int32(q.cfg.Wait / time.Second),
		VisibilityTimeout:   int32(q.cfg.Visibility / time.Second),
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{
			types.MessageSystemAttributeNameApproximateReceiveCount,
			types.MessageSystemAttributeNameSentTimestamp,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("receive from %s: %w", q.cfg.QueueURL, err)
	}
	msgs := make([]Message, 0, len(out.Messages))
	for _, m := range out.Messages {
		msg := Message{ID: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle), Body: aws.ToString(m.Body), ReceiveCount: 1}
		if v, ok := m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)]; ok {
			if n, err := strconv.Atoi(v); err == nil {
				msg.ReceiveCount = n
			}
		}
		if v, ok := m.Attributes[string(types.MessageSystemAttributeNameSentTimestamp)]; ok {
			if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
				msg.SentAt = time.UnixMilli(ms)
			}
		}
		msgs = append(msgs, msg)
	}
	return msgs, nil
}

// BatchError lists the entries of a batch call that failed.
type BatchError struct {
	Op     string
	Failed map[string]string // receipt handle -> reason
}

func (e *BatchError) Error() string {
	var reasons []string
	for _, r := range e.Failed {
		reasons = append(reasons, r)
		if len(reasons) == 3 {
			break
		}
	}
	return fmt.Sprintf("%s: %d entries failed: %s", e.Op, len(e.Failed), strings.Join(reasons, "; "))
}

// Delete deletes the messages, MaxBatch per DeleteMessageBatch call. Every
// batch is tried; the error reports the entries that failed.
func (q *Queue) Delete(ctx context.Context, msgs []Message) error {
	return q.batches(msgs, "delete", func(part []Message) (map[string]string, error) {
		entries := make([]types.DeleteMessageBatchRequestEntry, len(part))
		for i, m := range part {
			entries[i] = types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(m.ReceiptHandle)}
		}
		out, err := q.client.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(q.cfg.QueueURL), Entries: entries})
		if err != nil {
			return nil, err
		}
		return failedEntries(part, out.Failed), nil
	})
}

// SetVisibility makes the messages visible again after d (0: at once),
// MaxBatch per ChangeMessageVisibilityBatch call.
func (q *Queue) SetVisibility(ctx context.Context, msgs []Message, d time.Duration) error {
	return q.batches(msgs, "change visibility", func(part []Message) (map[string]string, error) {
		entries := make([]types.ChangeMessageVisibilityBatchRequestEntry, len(part))
		for i, m := range part {
			entries[i] = types.ChangeMessageVisibilityBatchRequestEntry{
				Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(m.ReceiptHandle), VisibilityTimeout: int32(d / time.Second),
			}
		}
		out, err := q.client.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(q.cfg.QueueURL), Entries: entries})
		if err != nil {
			return nil, err
		}
		return failedEntries(part, out.Failed), nil
	})
}

func (q *Queue) batches(msgs []Message, op string, call func([]Message) (map[string]string, error)) error {
	failed := map[string]string{}
	var firstErr error
	for len(msgs) > 0 {
		part := msgs[:min(MaxBatch, len(msgs))]
		msgs = msgs[len(part):]
		f, err := call(part)
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("%s %d messages on %s: %s", op, len(part), q.cfg.QueueURL, Reason(err))
			}
			continue
		}
		for h, r := range f {
			failed[h] = r
		}
	}
	if firstErr != nil {
		return firstErr
	}
	if len(failed) > 0 {
		return &BatchError{Op: op + " on " + q.cfg.QueueURL, Failed: failed}
	}
	return nil
}

func failedEntries(part []Message, failed []types.BatchResultErrorEntry) map[string]string {
	out := map[string]string{}
	for _, f := range failed {
		i, err := strconv.Atoi(aws.ToString(f.Id))
		if err != nil || i < 0 || i >= len(part) {
			continue
		}
		out[part[i].ReceiptHandle] = aws.ToString(f.Code) + ": " + aws.ToString(f.Message)
	}
	return out
}
