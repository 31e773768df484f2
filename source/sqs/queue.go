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
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/rs/zerolog"

	"github.com/ferrydata/ferry/source/backoff"
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
	// RetryMaxElapsed bounds the retries of a delete or visibility change
	// that failed for a transient reason (Transient), as
	// backoff.Policy.MaxElapsed does, and at most half of Visibility: the
	// tracker that sends them also sends the heartbeats. A message whose
	// delete still fails comes back once its visibility ends, finds its
	// objects done in the state, and is deleted then.
	RetryMaxElapsed time.Duration
	// Log receives a warning for each retry.
	Log zerolog.Logger
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

// Transient says whether a failed SQS call may succeed if tried again:
// a 5xx or 429 answer, a throttling or unavailable code, a network error
// or an answer cut short. Access, a missing queue or a bad request are not.
func Transient(err error) bool {
	if err == nil {
		return false
	}
	var respErr *smithyhttp.ResponseError
	if errors.As(err, &respErr) {
		if code := respErr.HTTPStatusCode(); code >= 500 || code == http.StatusTooManyRequests {
			return true
		}
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "ServiceUnavailable", "InternalError", "InternalFailure", "RequestTimeout", "Throttling",
			"ThrottlingException", "RequestThrottled", "RequestLimitExceeded", "TooManyRequests",
			"KmsThrottled", "KMS.ThrottlingException":
			return true
		}
		if apiErr.ErrorFault() == smithy.FaultServer {
			return true
		}
		if respErr == nil {
			return false
		}
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return true
	}
	var netErr net.Error
	return errors.As(err, &netErr)
}

// policy is the retry policy of deletes and visibility changes.
func (q *Queue) policy() backoff.Policy {
	p := backoff.Policy{MaxElapsed: q.cfg.RetryMaxElapsed}
	if p.MaxElapsed == 0 {
		p.MaxElapsed = backoff.DefaultMaxElapsed
	}
	if half := q.cfg.Visibility / 2; p.MaxElapsed > 0 && half > 0 && p.MaxElapsed > half {
		p.MaxElapsed = half
	}
	return p
}

// Receive long-polls for up to n messages (1..10), making them invisible
// for the configured visibility timeout. It is not retried here: the
// feed's receivers retry (a long poll waits anyway).
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

// Delete deletes the messages, MaxBatch per DeleteMessageBatch call.
// Every batch is tried; a call, or an entry, that fails for a transient
// reason is tried again (see Config.RetryMaxElapsed); the error reports
// what still failed.
func (q *Queue) Delete(ctx context.Context, msgs []Message) error {
	return q.batches(ctx, msgs, "delete", func(part []Message) ([]types.BatchResultErrorEntry, error) {
		entries := make([]types.DeleteMessageBatchRequestEntry, len(part))
		for i, m := range part {
			entries[i] = types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(m.ReceiptHandle)}
		}
		out, err := q.client.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(q.cfg.QueueURL), Entries: entries})
		if err != nil {
			return nil, err
		}
		return out.Failed, nil
	})
}

// SetVisibility makes the messages visible again after d (0: at once),
// MaxBatch per ChangeMessageVisibilityBatch call, retried as Delete is.
func (q *Queue) SetVisibility(ctx context.Context, msgs []Message, d time.Duration) error {
	return q.batches(ctx, msgs, "change visibility", func(part []Message) ([]types.BatchResultErrorEntry, error) {
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
		return out.Failed, nil
	})
}

// batches calls call with up to MaxBatch messages at a time. A call that
// fails for a transient reason, and the entries the service failed on its
// side (not SenderFault), are tried again with backoff.
func (q *Queue) batches(ctx context.Context, msgs []Message, op string, call func([]Message) ([]types.BatchResultErrorEntry, error)) error {
	failed := map[string]string{}
	var firstErr error
	for len(msgs) > 0 {
		part := msgs[:min(MaxBatch, len(msgs))]
		msgs = msgs[len(part):]
		bo := backoff.New(q.policy())
		for {
			entries, err := call(part)
			var again []Message
			if err == nil {
				for _, f := range entries {
					i, cerr := strconv.Atoi(aws.ToString(f.Id))
					if cerr != nil || i < 0 || i >= len(part) {
						continue
					}
					reason := aws.ToString(f.Code) + ": " + aws.ToString(f.Message)
					if f.SenderFault {
						failed[part[i].ReceiptHandle] = reason
					} else {
						again = append(again, part[i])
						err = errors.New(reason)
					}
				}
				if len(again) == 0 {
					break
				}
			} else if !Transient(err) {
				firstErr = cmp.Or(firstErr, fmt.Errorf("%s %d messages on %s: %s", op, len(part), q.cfg.QueueURL, Reason(err)))
				break
			} else {
				again = part
			}
			wait, ok := bo.Next()
			if !ok || ctx.Err() != nil {
				firstErr = cmp.Or(firstErr, fmt.Errorf("%s %d messages on %s: %s (gave up after %d retries)", op, len(again), q.cfg.QueueURL, Reason(err), bo.Tries()))
				break
			}
			q.cfg.Log.Warn().Str("queue", q.cfg.QueueURL).Int("messages", len(again)).Int("retry", bo.Tries()).Dur("retry_in", wait).
				Msg(op + " failed, retrying: " + Reason(err))
			if backoff.Sleep(ctx, wait) != nil {
				firstErr = cmp.Or(firstErr, fmt.Errorf("%s %d messages on %s: %s", op, len(again), q.cfg.QueueURL, Reason(err)))
				break
			}
			part = again
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
