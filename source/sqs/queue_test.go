package sqs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/rs/zerolog"
)

// scriptedSQS answers DeleteMessageBatch calls in turn from script: a
// status code to answer with, or (0) a success where the entries named in
// the step's fail set fail (server side, or sender side when sender).
type scriptedSQS struct {
	mu      sync.Mutex
	script  []sqsStep
	calls   int
	deleted []string // receipt handles
}

type sqsStep struct {
	status int
	fail   []string // receipt handles
	sender bool
}

func (s *scriptedSQS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	step := sqsStep{}
	if s.calls < len(s.script) {
		step = s.script[s.calls]
	}
	s.calls++
	if r.Header.Get("X-Amz-Target") != "AmazonSQS.DeleteMessageBatch" {
		http.Error(w, "unexpected call", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	if step.status != 0 {
		w.WriteHeader(step.status)
		fmt.Fprint(w, `{"__type":"com.amazonaws.sqs#ServiceUnavailable","message":"try again"}`)
		return
	}
	var in struct {
		Entries []struct{ Id, ReceiptHandle string }
	}
	body, _ := io.ReadAll(r.Body)
	json.Unmarshal(body, &in)
	type entry struct {
		Id          string
		SenderFault bool   `json:",omitempty"`
		Code        string `json:",omitempty"`
	}
	out := struct{ Successful, Failed []entry }{Successful: []entry{}, Failed: []entry{}}
	for _, e := range in.Entries {
		if slices.Contains(step.fail, e.ReceiptHandle) {
			out.Failed = append(out.Failed, entry{Id: e.Id, SenderFault: step.sender, Code: "InternalError"})
			continue
		}
		s.deleted = append(s.deleted, e.ReceiptHandle)
		out.Successful = append(out.Successful, entry{Id: e.Id})
	}
	json.NewEncoder(w).Encode(out)
}

func testQueue(t *testing.T, h http.Handler, maxElapsed time.Duration) *Queue {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	client := sqs.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: aws.AnonymousCredentials{},
		Retryer: func() aws.Retryer { return aws.NopRetryer{} }}, func(o *sqs.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	return &Queue{client: client, cfg: Config{QueueURL: srv.URL + "/000000000000/q", Visibility: time.Minute,
		RetryMaxElapsed: maxElapsed, Log: zerolog.Nop()}}
}

func msgs(handles ...string) []Message {
	var out []Message
	for _, h := range handles {
		out = append(out, Message{ID: h, ReceiptHandle: h})
	}
	return out
}

// TestDeleteRetries: a delete call answered 503, and entries the service
// failed on its side, are tried again until they are deleted; an entry
// failed by the sender's fault is not, and is reported.
func TestDeleteRetries(t *testing.T) {
	s := &scriptedSQS{script: []sqsStep{
		{status: http.StatusServiceUnavailable},
		{status: http.StatusInternalServerError},
		{fail: []string{"b", "c"}}, // a deleted
		{fail: []string{"c"}, sender: true},
	}}
	q := testQueue(t, s, time.Minute)
	err := q.Delete(t.Context(), msgs("a", "b", "c"))
	var be *BatchError
	if !errors.As(err, &be) || len(be.Failed) != 1 || be.Failed["c"] == "" {
		t.Fatalf("Delete = %v; want c failed by the sender's fault", err)
	}
	if !slices.Equal(s.deleted, []string{"a", "b"}) || s.calls != 4 {
		t.Fatalf("deleted %v in %d calls, want [a b] in 4", s.deleted, s.calls)
	}
}

// TestDeleteGivesUp: a delete that keeps failing for a transient reason
// gives up within its budget, with an error that says so; with no budget
// it is not retried.
func TestDeleteGivesUp(t *testing.T) {
	for _, tt := range []struct {
		budget    time.Duration
		wantCalls int // at least
	}{{300 * time.Millisecond, 2}, {-1, 1}} {
		var script []sqsStep
		for range 100 {
			script = append(script, sqsStep{status: http.StatusServiceUnavailable})
		}
		s := &scriptedSQS{script: script}
		q := testQueue(t, s, tt.budget)
		err := q.Delete(t.Context(), msgs("a"))
		if err == nil || len(s.deleted) != 0 || s.calls < tt.wantCalls || tt.budget < 0 && s.calls != 1 {
			t.Fatalf("budget %v: Delete = %v after %d calls", tt.budget, err, s.calls)
		}
	}
}

func TestTransient(t *testing.T) {
	for _, tt := range []struct {
		status int
		want   bool
	}{{503, true}, {500, true}, {429, true}, {400, false}, {403, false}} {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/x-amz-json-1.0")
			w.WriteHeader(tt.status)
			code := map[int]string{503: "ServiceUnavailable", 500: "InternalError", 429: "RequestThrottled", 400: "InvalidParameterValue", 403: "AccessDenied"}[tt.status]
			fmt.Fprintf(w, `{"__type":"com.amazonaws.sqs#%s","message":"m"}`, code)
		})
		q := testQueue(t, h, -1)
		_, err := q.Receive(t.Context(), 1)
		if err == nil || Transient(err) != tt.want {
			t.Errorf("HTTP %d: Transient(%v) = %v, want %v", tt.status, err, Transient(err), tt.want)
		}
	}
	// A connection reset, and an answer cut short.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	client := sqs.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: aws.AnonymousCredentials{},
		Retryer: func() aws.Retryer { return aws.NopRetryer{} }}, func(o *sqs.Options) { o.BaseEndpoint = aws.String("http://" + ln.Addr().String()) })
	q := &Queue{client: client, cfg: Config{QueueURL: "http://" + ln.Addr().String() + "/0/q", Visibility: time.Minute}}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := q.Receive(ctx, 1); err == nil || !Transient(err) {
		t.Errorf("reset: Transient(%v) = false", err)
	}
}
