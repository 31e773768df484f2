package sqs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sync/semaphore"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source"
	"github.com/ferrydata/ferry/source/backoff"
	"github.com/ferrydata/ferry/source/discover"
	"github.com/ferrydata/ferry/source/runner"
)

// Store is the bucket whose notifications the queue carries (an s3.Store).
type Store interface {
	source.Store
	Bucket() string
	// Contains reports whether a key is under the store's root.
	Contains(key string) bool
	// Stat returns the current version of the object at key.
	Stat(ctx context.Context, key string) (pusher.Object, error)
}

// RejectSink records a message that is not a notification (the
// PostgreSQL state's ferry.rejects, or a rejects file).
type RejectSink interface {
	RejectMessage(ctx context.Context, pipeline, queueURL, messageID, body string, cause error) error
}

// QueueClient is what a Feed needs from a queue (a *Queue, or a fake in
// tests).
type QueueClient interface {
	Client
	Receive(ctx context.Context, n int) ([]Message, error)
	String() string
}

var _ QueueClient = (*Queue)(nil)

// FeedConfig configures a Feed.
type FeedConfig struct {
	Queue QueueClient
	Store Store
	// Filter and Since select the objects to load, as for a listing.
	Filter discover.Filter
	Since  time.Time
	// Receivers is the number of long polls at once (and of goroutines
	// handling messages); MaxMessages bounds the messages in flight.
	Receivers, MaxMessages int
	// Visibility is the queue's visibility timeout, extended while a
	// message's objects load.
	Visibility time.Duration
	// MaxReceives: a body that is not a notification is left for
	// redelivery until it was received this many times, then recorded in
	// Rejects and deleted (0: left for the queue's dead-letter redrive).
	MaxReceives int
	Rejects     RejectSink // nil: rejected messages are only logged
	// DeleteOnRemove turns ObjectRemoved events into removal tasks
	// (runner.Task.Remove), for the keys the filter selects and that do
	// not exist again when the event is handled.
	DeleteOnRemove bool
	Pipeline       string
	// Quarantined says whether a failed object lets its message go (see
	// runner.Runner.Quarantined).
	Quarantined func(runner.Result) bool
	Log         zerolog.Logger
	// Report, when set, adds fields (the loads' counters) to the queue's
	// status line, logged every 30 s while the counters move.
	Report func(*zerolog.Event)
	// Received, when set, is told of every receive that returned: nil, or
	// its error (health checks).
	Received func(error)
}

// Counters of a Feed, read by the progress reporter and the tests.
type Counters struct {
	Received, Deleted, Ignored atomic.Int64 // messages; Ignored: events
	Garbage, Released          atomic.Int64
}

// Feed turns S3 event notifications on a queue into runner tasks. Each
// message's objects are sent as one batch, each with a completion handle;
// the message is deleted once every object it names is loaded, skipped or
// quarantined, else made visible again after a delay (2 s, doubling per
// receive, at most a minute; at once when stopping).
//
// Receivers outlive the passes (Start to stop). On stop, a long poll under
// way gets StopGrace to return (what it brings is made visible again at
// once), then it is abandoned: a stop never waits out the poll. The client
// cannot take an abandoned poll back: SQS keeps it waiting to the end of
// its wait time and may hand it messages that arrive meanwhile, which stay
// hidden until their visibility timeout ends. That costs at most one
// receive's messages per receiver, and one message when the queue was
// idle: a receive that follows an empty one asks for a single message.
type Feed struct {
	cfg FeedConfig
	in  *Inflight
	Counters

	slots    *semaphore.Weighted
	received chan Message
}

// StopGrace is how long a long poll under way may still take once the feed
// stops, before it is abandoned: time for a poll that is returning messages
// to bring them (to be made visible again at once), far less than a wait.
const StopGrace = 500 * time.Millisecond

// NewFeed returns a feed over cfg.Queue; Start starts it.
func NewFeed(cfg FeedConfig) *Feed {
	f := &Feed{cfg: cfg, slots: semaphore.NewWeighted(int64(cfg.MaxMessages)), received: make(chan Message)}
	f.in = NewInflight(cfg.Queue, cfg.Visibility, func(err error) { cfg.Log.Warn().Msg(err.Error()) })
	return f
}

// Start starts the receivers (under ctx: they stop receiving when it is
// done, and a long poll under way is abandoned StopGrace later, or when
// writeCtx is done) and the tracker that extends, deletes and releases
// messages. stop stops the receivers, then, once the caller's passes have
// returned, sends the last deletes and releases.
func (f *Feed) Start(ctx, writeCtx context.Context) (stop func()) {
	// The tracker outlives the passes: it sends the last deletes after the
	// in-flight chunks are committed.
	runCtx, stopRun := context.WithCancel(context.WithoutCancel(ctx))
	var run sync.WaitGroup
	run.Go(func() { f.in.Run(runCtx) })
	run.Go(func() { f.report(runCtx) })
	rctx, stopReceiving := context.WithCancel(ctx)
	// The polls' context ends StopGrace after rctx, or with writeCtx.
	pctx, abandon := context.WithCancel(context.WithoutCancel(ctx))
	var receivers, grace sync.WaitGroup
	grace.Go(func() {
		defer abandon()
		select {
		case <-rctx.Done():
		case <-writeCtx.Done():
			return
		}
		t := time.NewTimer(StopGrace)
		defer t.Stop()
		select {
		case <-t.C:
		case <-writeCtx.Done():
		case <-pctx.Done():
		}
	})
	for range f.cfg.Receivers {
		receivers.Go(func() { f.receive(rctx, pctx) })
	}
	return func() {
		stopReceiving()
		receivers.Wait()
		abandon()
		grace.Wait()
		stopRun()
		run.Wait()
	}
}

// InFlight returns the messages received and not yet deleted or released.
func (f *Feed) InFlight() int { return f.in.Len() }

// Extended returns the visibility extensions sent so far (one per message
// extended).
func (f *Feed) Extended() int64 { return f.in.Extended.Load() }

// Feed returns the runner feed of the replication ctx (done when
// stopping): it handles received messages until its pass stops.
func (f *Feed) Feed(ctx context.Context) runner.Feed {
	return func(dctx context.Context, send runner.Send) error {
		var wg sync.WaitGroup
		for range f.cfg.Receivers {
			wg.Go(func() {
				for {
					select {
					case <-dctx.Done():
						return
					case m := <-f.received:
						// With the messages already waiting: their objects'
						// progress is looked up in one query.
						tasks := f.tasks(ctx, dctx, m)
					more:
						for range MaxBatch * f.cfg.Receivers {
							select {
							case m := <-f.received:
								tasks = append(tasks, f.tasks(ctx, dctx, m)...)
							default:
								break more
							}
						}
						if len(tasks) == 0 {
							continue
						}
						if err := send(dctx, tasks); err != nil && !errors.Is(err, runner.ErrStopped) {
							f.cfg.Log.Warn().Msg(err.Error() + " (will retry)")
						}
					}
				}
			})
		}
		wg.Wait()
		return nil
	}
}

// report logs the queue's counters every 30 s while they move.
func (f *Feed) report(ctx context.Context) {
	t := time.NewTicker(30 * time.Second)
	defer t.Stop()
	var last [3]int64
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := [3]int64{f.Received.Load(), f.Deleted.Load(), f.Released.Load()}
		if now == last {
			continue
		}
		e := f.cfg.Log.Info().Int64("received", now[0]).Int64("deleted", now[1]).Int("in_flight", f.in.Len()).
			Int64("released", now[2]).Int64("ignored_events", f.Ignored.Load()).
			Int64("rejected_messages", f.Garbage.Load())
		if f.cfg.Report != nil {
			f.cfg.Report(e)
		}
		e.Msg("queue")
		last = now
	}
}

// receive long-polls the queue under pctx and hands each message over,
// until ctx is done. A poll under way then returns, or is abandoned when
// pctx ends (see Feed), and what it brings is made visible again at once.
func (f *Feed) receive(ctx, pctx context.Context) {
	// A failed receive is retried for as long as the feed runs.
	bo := backoff.New(backoff.Policy{Initial: 500 * time.Millisecond, Max: 30 * time.Second, MaxElapsed: backoff.Forever})
	// The first receive, and one after an empty receive, asks for one
	// message: an idle poll, abandoned on stop, can hide only that one.
	idle := true
	for ctx.Err() == nil {
		// Take slots for up to a batch of messages: at least one
		// (waiting), then what is free.
		if err := f.slots.Acquire(ctx, 1); err != nil {
			return
		}
		n := 1
		for !idle && n < MaxBatch && f.slots.TryAcquire(1) {
			n++
		}
		f.cfg.Log.Debug().Int("max_messages", n).Msg("receiving")
		msgs, err := f.cfg.Queue.Receive(pctx, n)
		received := time.Now()
		f.slots.Release(int64(n - len(msgs)))
		if err != nil {
			if ctx.Err() != nil || pctx.Err() != nil {
				return
			}
			if f.cfg.Received != nil {
				f.cfg.Received(err)
			}
			wait, _ := bo.Next()
			f.cfg.Log.Warn().Str("queue", f.cfg.Queue.String()).Int("retry", bo.Tries()).Dur("retry_in", wait).
				Msg("receive failed, retrying: " + Reason(err))
			if backoff.Sleep(ctx, wait) != nil {
				return
			}
			continue
		}
		if f.cfg.Received != nil {
			f.cfg.Received(nil)
		}
		bo.Reset()
		idle = len(msgs) == 0
		for _, m := range msgs {
			f.in.Add(m, received)
			f.Received.Add(1)
			f.cfg.Log.Debug().Str("sqs_message_id", m.ID).Int("receives", m.ReceiveCount).Msg("message received")
			select {
			case f.received <- m:
			case <-ctx.Done():
				// Stopping: another consumer may take it at once.
				f.Released.Add(1)
				f.cfg.Log.Debug().Str("sqs_message_id", m.ID).Msg("message released: stopping")
				f.in.Release(m, 0)
				f.slots.Release(1)
			}
		}
	}
}

// tasks parses m and returns the tasks of the objects it names; m
// completes (is deleted, or released for redelivery) once every object's
// task is done, at once when it names none. ctx is the replication's
// (done when stopping), dctx the pass's.
func (f *Feed) tasks(ctx, dctx context.Context, m Message) []runner.Task {
	log := f.cfg.Log.With().Str("sqs_message_id", m.ID).Logger()
	n, err := Parse([]byte(m.Body))
	if err != nil {
		f.garbage(dctx, m, err)
		f.slots.Release(1)
		return nil
	}
	var objs []pusher.Object
	var removes []bool
	again := false // a removal to handle on a later receive
	for _, e := range n.Events {
		if f.cfg.DeleteOnRemove && e.Removed() {
			switch why, err := f.selectRemoval(dctx, e); {
			case err != nil:
				log.Warn().Str("key", e.Key).Msg("removal left for redelivery: " + err.Error())
				again = true
			case why != "":
				f.Ignored.Add(1)
				log.Debug().Str("event", e.Name).Str("bucket", e.Bucket).Str("key", e.Key).Msg("event ignored: " + why)
			default:
				objs = append(objs, pusher.Object{Key: e.Key, LastModified: e.Time})
				removes = append(removes, true)
			}
			continue
		}
		if obj, why := f.selectEvent(dctx, e); why != "" {
			f.Ignored.Add(1)
			log.Debug().Str("event", e.Name).Str("bucket", e.Bucket).Str("key", e.Key).Msg("event ignored: " + why)
		} else {
			objs = append(objs, obj)
			removes = append(removes, false)
		}
	}
	if n.Test {
		f.Ignored.Add(1)
		log.Debug().Msg("s3:TestEvent ignored")
	}
	msg := &message{pending: len(objs), retry: again}
	complete := func() {
		f.slots.Release(1)
		if msg.retry {
			f.Released.Add(1)
			delay := retryDelay(m.ReceiveCount)
			if ctx.Err() != nil {
				delay = 0 // stopping: another consumer may take it at once
			}
			log.Debug().Dur("visible_in", delay).Msg("message released")
			f.in.Release(m, delay)
			return
		}
		f.Deleted.Add(1)
		log.Debug().Msg("message complete")
		f.in.Done(m)
	}
	if len(objs) == 0 {
		complete()
		return nil
	}
	tasks := make([]runner.Task, len(objs))
	for i, obj := range objs {
		tasks[i] = runner.Task{Object: obj, Remove: removes[i], Done: func(res runner.Result) {
			if msg.resolve(f.keep(res)) {
				complete()
			}
		}}
	}
	return tasks
}

// keep says whether a task's result keeps its message for redelivery.
func (f *Feed) keep(res runner.Result) bool {
	switch res.Outcome {
	case runner.Retry:
		return true
	case runner.Failed:
		return f.cfg.Quarantined == nil || !f.cfg.Quarantined(res)
	}
	return false
}

// message is a received notification waiting for its objects.
type message struct {
	mu      sync.Mutex
	pending int
	retry   bool
}

// resolve records one object's end, and reports whether it was the last.
func (m *message) resolve(keep bool) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.retry = m.retry || keep
	m.pending--
	return m.pending == 0
}

// retryDelay is how long a message whose objects did not all finish stays
// invisible before it comes back: 2 s, doubling with each receive, at most
// a minute.
func retryDelay(receives int) time.Duration {
	return min(2*time.Second<<min(max(receives-1, 0), 5), time.Minute)
}

// selectEvent returns the object an event names, or why it is ignored.
func (f *Feed) selectEvent(ctx context.Context, e Event) (pusher.Object, string) {
	st := f.cfg.Store
	switch {
	case !e.Created():
		return pusher.Object{}, "not an object creation"
	case e.Bucket != st.Bucket():
		return pusher.Object{}, "bucket is not " + st.Bucket()
	case !st.Contains(e.Key):
		return pusher.Object{}, "key outside " + st.String()
	}
	obj := pusher.Object{Key: e.Key, Size: e.Size, ETag: e.ETag, LastModified: e.Time}
	rel := st.Rel(e.Key)
	switch {
	case e.Size == 0 && strings.HasSuffix(e.Key, "/"):
		return obj, "directory marker"
	case discover.Skip(obj, rel):
		return obj, "hidden file or directory marker"
	case !f.cfg.Filter.Match(rel):
		return obj, "not matched by --include/--exclude"
	case !f.cfg.Since.IsZero() && !e.Time.IsZero() && e.Time.Before(f.cfg.Since):
		return obj, "older than --since"
	}
	if obj.ETag == "" {
		// Some S3-compatible stores send no ETag: ask for the current one.
		cur, err := st.Stat(ctx, e.Key)
		if err != nil {
			if errors.Is(err, source.ErrNotFound) {
				return obj, "object no longer exists"
			}
			// Let the load report the error.
			return obj, ""
		}
		obj = cur
	}
	return obj, ""
}

// selectRemoval returns why an ObjectRemoved event is ignored ("" when
// its key is to be removed): another bucket, a key outside the source or
// not selected, or an object that exists again (created after the
// removal, its own notification decides). err: the check failed.
func (f *Feed) selectRemoval(ctx context.Context, e Event) (why string, err error) {
	st := f.cfg.Store
	switch {
	case e.Bucket != st.Bucket():
		return "bucket is not " + st.Bucket(), nil
	case !st.Contains(e.Key):
		return "key outside " + st.String(), nil
	}
	rel := st.Rel(e.Key)
	if discover.Skip(pusher.Object{Key: e.Key, Size: 1}, rel) || !f.cfg.Filter.Match(rel) {
		return "not selected", nil
	}
	if _, err := st.Stat(ctx, e.Key); err == nil {
		return "the object exists again", nil
	} else if !errors.Is(err, source.ErrNotFound) {
		return "", err
	}
	return "", nil
}

// garbage handles a body that is not a notification: left for redelivery
// until it has been received MaxReceives times, then recorded as a reject
// and deleted (with MaxReceives 0: left for the queue's dead-letter
// redrive).
func (f *Feed) garbage(ctx context.Context, m Message, cause error) {
	log := f.cfg.Log.With().Str("sqs_message_id", m.ID).Int("receives", m.ReceiveCount).Logger()
	max := f.cfg.MaxReceives
	if max == 0 || m.ReceiveCount < max {
		log.Warn().Msg(fmt.Sprintf("message is not an S3 notification (left for redelivery, receive %d of %d): %v", m.ReceiveCount, max, cause))
		f.in.Release(m, f.cfg.Visibility)
		return
	}
	if err := f.reject(ctx, m, cause); err != nil {
		log.Warn().Msg(err.Error() + " (message left for redelivery)")
		f.in.Release(m, retryDelay(m.ReceiveCount))
		return
	}
	f.Garbage.Add(1)
	f.Deleted.Add(1)
	log.Error().Msg(fmt.Sprintf("message is not an S3 notification, received %d times: recorded as rejected and deleted: %v", m.ReceiveCount, cause))
	f.in.Done(m)
}

// reject records a message that is not a notification in the reject sink,
// or else only in the log.
func (f *Feed) reject(ctx context.Context, m Message, cause error) error {
	if f.cfg.Rejects != nil {
		return f.cfg.Rejects.RejectMessage(ctx, f.cfg.Pipeline, f.cfg.Queue.String(), m.ID, m.Body, cause)
	}
	body := m.Body
	if len(body) > pusher.MaxRawBytes {
		body = body[:pusher.MaxRawBytes]
	}
	f.cfg.Log.Error().Str("sqs_message_id", m.ID).Str("body", body).Msg("rejected message")
	return nil
}
