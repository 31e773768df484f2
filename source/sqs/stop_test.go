package sqs

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ferrydata/ferry/source/runner"
)

// fakeQueue is a queue whose receives wait, like a long poll, until the
// test hands them a reply or their context ends.
type fakeQueue struct {
	asked   chan int       // the n of each receive, as it starts
	replies chan []Message // what a waiting receive returns
	mu      sync.Mutex
	deleted []Message
	visible map[time.Duration][]Message // SetVisibility calls by duration
}

func newFakeQueue() *fakeQueue {
	return &fakeQueue{asked: make(chan int, 100), replies: make(chan []Message), visible: map[time.Duration][]Message{}}
}

func (q *fakeQueue) Receive(ctx context.Context, n int) ([]Message, error) {
	q.asked <- n
	select {
	case msgs := <-q.replies:
		return msgs, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (q *fakeQueue) Delete(ctx context.Context, msgs []Message) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.deleted = append(q.deleted, msgs...)
	return nil
}

func (q *fakeQueue) SetVisibility(ctx context.Context, msgs []Message, d time.Duration) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.visible[d] = append(q.visible[d], msgs...)
	return nil
}

func (q *fakeQueue) String() string { return "fake" }

// nextAsk waits for the next receive to start and returns its n.
func (q *fakeQueue) nextAsk(t *testing.T) int {
	t.Helper()
	select {
	case n := <-q.asked:
		return n
	case <-time.After(10 * time.Second):
		t.Fatal("no receive started")
		return 0
	}
}

func ids(msgs []Message) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, m.ID)
	}
	slices.Sort(out)
	return out
}

func testFeed(q *fakeQueue, receivers int) *Feed {
	return NewFeed(FeedConfig{Queue: q, Receivers: receivers, MaxMessages: 100, Visibility: time.Minute, Log: zerolog.Nop()})
}

// stopWithin calls stop and fails the test if it has not returned after d:
// a generous bound, far below the fake's wait, which never ends on its own.
func stopWithin(t *testing.T, stop func(), d time.Duration) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		stop()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("stop did not return within %v: it waits for the long poll", d)
	}
}

// TestFeedStopAbandonsLongPoll: stopping does not wait for a long poll
// under way (the fake's never ends); no receive starts after the stop.
func TestFeedStopAbandonsLongPoll(t *testing.T) {
	q := newFakeQueue()
	f := testFeed(q, 2)
	ctx, cancel := context.WithCancel(t.Context())
	stop := f.Start(ctx, context.Background()) // writeCtx never ends
	q.nextAsk(t)
	q.nextAsk(t)
	cancel()
	stopWithin(t, stop, 10*time.Second)
	select {
	case n := <-q.asked:
		t.Fatalf("a receive (n=%d) started after the stop", n)
	default:
	}
}

// TestFeedStopReleasesWhatThePollBrings: messages a poll returns just
// after the stop (within StopGrace) are made visible again at once, not
// left hidden for the visibility timeout.
func TestFeedStopReleasesWhatThePollBrings(t *testing.T) {
	q := newFakeQueue()
	f := testFeed(q, 1)
	ctx, cancel := context.WithCancel(t.Context())
	stop := f.Start(ctx, context.Background())
	q.nextAsk(t)
	cancel()
	msgs := []Message{{ID: "a", ReceiptHandle: "ha"}}
	select {
	case q.replies <- msgs:
	case <-time.After(10 * time.Second):
		t.Fatal("the poll was abandoned at once, without StopGrace")
	}
	stopWithin(t, stop, 10*time.Second)
	if got := ids(q.visible[0]); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("made visible at once: %v, want [a] (visibility changes %v)", got, q.visible)
	}
	if f.Released.Load() != 1 {
		t.Fatalf("released %d messages, want 1", f.Released.Load())
	}
}

// TestFeedIdleReceiveAsksForOne: the first receive, and a receive after an
// empty one, ask for one message (all an abandoned poll can hide); after a
// receive that brought messages, for a batch.
func TestFeedIdleReceiveAsksForOne(t *testing.T) {
	q := newFakeQueue()
	f := testFeed(q, 1)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	stop := f.Start(ctx, context.Background())
	dctx, stopPass := context.WithCancel(ctx)
	var pass sync.WaitGroup
	pass.Go(func() {
		f.Feed(ctx)(dctx, func(context.Context, []runner.Task) error { return nil })
	})
	testEvent := `{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"b"}`
	var asked []int
	asked = append(asked, q.nextAsk(t))
	q.replies <- []Message{{ID: "t1", ReceiptHandle: "h1", Body: testEvent}}
	asked = append(asked, q.nextAsk(t))
	q.replies <- nil // an empty receive: the queue is idle
	asked = append(asked, q.nextAsk(t))
	stopPass()
	pass.Wait()
	cancel()
	stopWithin(t, stop, 10*time.Second)
	if want := []int{1, MaxBatch, 1}; !slices.Equal(asked, want) {
		t.Fatalf("receives asked for %v messages, want %v", asked, want)
	}
	if got := ids(q.deleted); !slices.Equal(got, []string{"t1"}) {
		t.Fatalf("deleted %v, want [t1] (the test event)", got)
	}
}
