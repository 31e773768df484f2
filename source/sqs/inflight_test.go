package sqs

import (
	"context"
	"sync"
	"testing"
	"time"
)

type fakeClient struct {
	mu        sync.Mutex
	deleted   []string
	deletes   int // calls
	visible   map[string]time.Duration
	extended  map[string]int
	batchSize []int
}

func (f *fakeClient) Delete(_ context.Context, msgs []Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deletes++
	for _, m := range msgs {
		f.deleted = append(f.deleted, m.ID)
	}
	return nil
}

func (f *fakeClient) SetVisibility(_ context.Context, msgs []Message, d time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range msgs {
		if d == 2*time.Second {
			f.extended[m.ID]++
		} else {
			f.visible[m.ID] = d
		}
	}
	return nil
}

func TestInflight(t *testing.T) {
	f := &fakeClient{visible: map[string]time.Duration{}, extended: map[string]int{}}
	in := NewInflight(f, 2*time.Second, func(err error) { t.Error(err) })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { in.Run(ctx); close(done) }()
	now := time.Now()
	msg := func(id string) Message { return Message{ID: id, ReceiptHandle: "rh-" + id} }
	for _, id := range []string{"a", "b", "c", "long"} {
		in.Add(msg(id), now)
	}
	for i := range 25 {
		in.Add(msg(string(rune('A'+i))), now)
	}
	in.Done(msg("a"))
	in.Done(msg("a")) // twice: once only
	in.Release(msg("b"), 0)
	in.Release(msg("c"), time.Hour) // capped at the visibility timeout
	for i := range 25 {
		in.Done(msg(string(rune('A' + i))))
	}
	time.Sleep(2500 * time.Millisecond) // "long" needs a heartbeat at ~1s and ~2s
	cancel()
	<-done
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.deleted) != 26 {
		t.Errorf("deleted %d messages, want 26: %v", len(f.deleted), f.deleted)
	}
	if f.deletes > 5 {
		t.Errorf("%d delete calls for 26 messages: not batched", f.deletes)
	}
	if d, ok := f.visible["b"]; !ok || d != 0 {
		t.Errorf("b released with %v (%v), want 0", d, ok)
	}
	if d, ok := f.visible["c"]; !ok || d != time.Second*2 {
		// capped at visibility, which SetVisibility records as an extension
		if f.extended["c"] != 1 {
			t.Errorf("c released with %v, want the visibility timeout", d)
		}
	}
	if f.extended["long"] < 1 {
		t.Errorf("long-running message extended %d times", f.extended["long"])
	}
	if f.extended["a"] > 0 {
		t.Error("a deleted message was extended")
	}
	if in.Len() != 1 {
		t.Errorf("Len = %d, want 1 (long)", in.Len())
	}
}
