package sqs

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Client is what Inflight needs from a queue (a *Queue, or a fake in tests).
type Client interface {
	Delete(ctx context.Context, msgs []Message) error
	SetVisibility(ctx context.Context, msgs []Message, d time.Duration) error
}

// Inflight keeps received messages invisible while their objects load and
// completes them. Add starts tracking a message received with the
// visibility timeout; while tracked, Run extends its visibility by the
// timeout again once half of it has passed (a heartbeat), so a long load
// never lets the message reappear to another consumer. Done deletes the
// message and Release makes it visible again after a delay; both are
// batched and sent by Run (MaxBatch entries per call, within Linger).
type Inflight struct {
	c          Client
	visibility time.Duration
	onErr      func(error)
	// Linger is how long a completion may wait for others to fill a batch.
	Linger time.Duration

	mu       sync.Mutex
	msgs     map[string]time.Time // receipt handle -> visibility deadline
	byHandle map[string]Message
	deletes  []Message
	releases map[time.Duration][]Message
	first    time.Time // when the oldest unsent completion was queued
	wake     chan struct{}

	// Extended counts the visibility extensions sent (one per message
	// extended).
	Extended atomic.Int64
}

// NewInflight tracks messages of c received with the given visibility
// timeout; onErr is told about failed deletes and visibility changes (the
// messages then reappear, and the state makes their redelivery harmless).
func NewInflight(c Client, visibility time.Duration, onErr func(error)) *Inflight {
	return &Inflight{
		c: c, visibility: visibility, onErr: onErr, Linger: 100 * time.Millisecond,
		msgs: map[string]time.Time{}, byHandle: map[string]Message{},
		releases: map[time.Duration][]Message{}, wake: make(chan struct{}, 1),
	}
}

// Add tracks m, received at the given time.
func (in *Inflight) Add(m Message, received time.Time) {
	in.mu.Lock()
	in.msgs[m.ReceiptHandle] = received.Add(in.visibility)
	in.byHandle[m.ReceiptHandle] = m
	in.mu.Unlock()
}

// Len is the number of messages tracked.
func (in *Inflight) Len() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.msgs)
}

// Done stops tracking m and queues its deletion.
func (in *Inflight) Done(m Message) {
	in.complete(m, func() { in.deletes = append(in.deletes, m) })
}

// Release stops tracking m and queues making it visible after d.
func (in *Inflight) Release(m Message, d time.Duration) {
	d = min(max(d, 0), in.visibility).Truncate(time.Second)
	in.complete(m, func() { in.releases[d] = append(in.releases[d], m) })
}

func (in *Inflight) complete(m Message, queue func()) {
	in.mu.Lock()
	if _, ok := in.msgs[m.ReceiptHandle]; !ok {
		in.mu.Unlock()
		return // completed already
	}
	delete(in.msgs, m.ReceiptHandle)
	delete(in.byHandle, m.ReceiptHandle)
	queue()
	if in.first.IsZero() {
		in.first = time.Now()
	}
	full := len(in.deletes) >= MaxBatch
	in.mu.Unlock()
	if full {
		select {
		case in.wake <- struct{}{}:
		default:
		}
	}
}

// Run sends completions and heartbeats until ctx is done, then sends the
// completions still queued (within a few seconds) and returns.
func (in *Inflight) Run(ctx context.Context) {
	tick := min(max(in.visibility/8, 50*time.Millisecond), 5*time.Second)
	t := time.NewTicker(min(tick, in.Linger))
	defer t.Stop()
	lastBeat := time.Now()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			in.Flush(fctx)
			cancel()
			return
		case <-in.wake:
			in.flush(ctx, false)
		case now := <-t.C:
			in.flush(ctx, false)
			if now.Sub(lastBeat) >= tick {
				in.heartbeat(ctx, now)
				lastBeat = now
			}
		}
	}
}

// Flush sends every queued completion now.
func (in *Inflight) Flush(ctx context.Context) { in.flush(ctx, true) }

func (in *Inflight) flush(ctx context.Context, all bool) {
	in.mu.Lock()
	if in.first.IsZero() || (!all && len(in.deletes) < MaxBatch && time.Since(in.first) < in.Linger) {
		in.mu.Unlock()
		return
	}
	deletes, releases := in.deletes, in.releases
	in.deletes, in.releases, in.first = nil, map[time.Duration][]Message{}, time.Time{}
	in.mu.Unlock()
	if len(deletes) > 0 {
		if err := in.c.Delete(ctx, deletes); err != nil {
			in.onErr(err)
		}
	}
	for d, msgs := range releases {
		if err := in.c.SetVisibility(ctx, msgs, d); err != nil {
			in.onErr(err)
		}
	}
}

// heartbeat extends the messages whose visibility ends within half the
// timeout.
func (in *Inflight) heartbeat(ctx context.Context, now time.Time) {
	var due []Message
	in.mu.Lock()
	for h, deadline := range in.msgs {
		if deadline.Sub(now) <= in.visibility/2 {
			due = append(due, in.byHandle[h])
			in.msgs[h] = now.Add(in.visibility)
		}
	}
	in.mu.Unlock()
	if len(due) == 0 {
		return
	}
	err := in.c.SetVisibility(ctx, due, in.visibility)
	if err == nil {
		in.Extended.Add(int64(len(due)))
	} else if ctx.Err() == nil {
		in.onErr(err)
	}
}
