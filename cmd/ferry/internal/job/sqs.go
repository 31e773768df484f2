package job

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source"
	"github.com/ferrydata/ferry/source/discover"
	"github.com/ferrydata/ferry/source/s3"
	"github.com/ferrydata/ferry/source/sqs"
	"github.com/ferrydata/ferry/state"
	pgstate "github.com/ferrydata/ferry/state/postgres"
	"github.com/ferrydata/ferry/targets/jsonlines"
)

// Queue counters, read by the progress reporter and the tests.
type queueCounters struct {
	Received, Deleted, Ignored atomic.Int64 // messages; Ignored: events
	Garbage, Released          atomic.Int64
}

// ReplicateSQS follows S3 event notifications on the SQS queue until ctx is
// cancelled (a graceful stop, as Replicate): each object a notification
// names is loaded, and its message is deleted only once every object it
// names is committed, quarantined or not to be loaded. With Backfill, the
// first pass also lists the store, while already following the queue; the
// state absorbs the overlap.
func (j *Job) ReplicateSQS(ctx, writeCtx context.Context) error {
	q := j.queue
	in := sqs.NewInflight(q, j.cfg.SQSVisibility, func(err error) { j.log.Warn().Msg(err.Error()) })
	// The tracker outlives the passes: it sends the last deletes after the
	// in-flight chunks are committed.
	runCtx, stopRun := context.WithCancel(context.WithoutCancel(ctx))
	var run sync.WaitGroup
	run.Go(func() { in.Run(runCtx) })
	run.Go(func() { j.reportQueue(runCtx, in) })
	if j.cfg.StateRetention > 0 {
		run.Go(func() { j.pruneEvery(runCtx, min(j.cfg.StateRetention/10, 10*time.Minute)) })
	}
	defer func() {
		stopRun()
		run.Wait()
	}()
	since, err := j.cfg.sinceTime(time.Now())
	if err != nil {
		return err
	}
	backfill := j.cfg.Backfill
	// Receivers outlive the passes: cancelling a long poll can make the
	// queue hand a message to the abandoned request, hiding it for a whole
	// visibility timeout.
	slots := semaphore.NewWeighted(int64(j.cfg.SQSMaxMessages))
	received := make(chan sqs.Message)
	// They stop when ctx is done, or when this returns (--on-error abort).
	rctx, stopReceiving := context.WithCancel(ctx)
	var receivers sync.WaitGroup
	for range j.cfg.SQSReceivers {
		receivers.Go(func() { j.receive(rctx, writeCtx, q, in, slots, received) })
	}
	defer func() {
		stopReceiving()
		receivers.Wait()
	}()
	freeSlot := func() { slots.Release(1) }
	backoff := time.Duration(0)
	for pass := 1; ; pass++ {
		listed := atomic.Bool{}
		fd := j.queueFeed(ctx, q, in, received, freeSlot, since)
		if backfill {
			lf := j.listing(discover.Options{Filter: j.filter(), Since: since})
			qf := fd
			fd = func(ctx context.Context, send func(task) bool) error {
				g, gctx := errgroup.WithContext(ctx)
				g.Go(func() error {
					if err := lf(gctx, send); err != nil {
						return err
					}
					if gctx.Err() == nil {
						listed.Store(true)
						j.log.Info().Msg("backfill listing done; following the queue")
					}
					return nil
				})
				g.Go(func() error { return qf(gctx, send) })
				return g.Wait()
			}
		}
		began := time.Now()
		sum, err := j.pass(ctx, writeCtx, fd)
		if listed.Load() {
			backfill = false
		}
		if ctx.Err() != nil {
			return nil
		}
		if sum.Aborted {
			return sum.Errors[0]
		}
		if err != nil && j.cfg.OnError == OnErrorAbort && !isTransient(err) {
			return err
		}
		if time.Since(began) > time.Minute {
			backoff = 0 // the pass ran well for a while
		}
		backoff = min(max(2*backoff, time.Second), time.Minute)
		if err != nil {
			j.log.Warn().Int("pass", pass).Dur("retry_in", backoff).Msg(err.Error())
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
	}
}

// pruneEvery forgets done files past --state-retention every interval.
func (j *Job) pruneEvery(ctx context.Context, every time.Duration) {
	t := time.NewTicker(max(every, time.Second))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := j.state.Prune(ctx, j.pipeline, time.Now().Add(-j.cfg.StateRetention), "")
		if err != nil {
			j.log.Warn().Msg(err.Error())
		} else if n > 0 {
			j.log.Info().Int64("files", n).Msg("pruned done files past --state-retention")
		}
	}
}

// reportQueue logs the queue's counters every 30 s while they move.
func (j *Job) reportQueue(ctx context.Context, in *sqs.Inflight) {
	t := time.NewTicker(30 * time.Second)
	defer t.Stop()
	var last [4]int64
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := [4]int64{j.Queue.Received.Load(), j.Queue.Deleted.Load(), j.Done.Load(), j.Records.Load()}
		if now == last {
			continue
		}
		j.log.Info().Int64("received", now[0]).Int64("deleted", now[1]).Int("in_flight", in.Len()).
			Int64("files_loaded", now[2]).Int64("rows", now[3]).Int64("failed", j.Failed.Load()).
			Int64("ignored_events", j.Queue.Ignored.Load()).Int64("rejected_messages", j.Queue.Garbage.Load()).Msg("queue")
		last = now
	}
}

// receive long-polls the queue and hands each message over, until ctx is
// done. A poll under way then completes (within --sqs-wait, or until
// writeCtx is done) and what it brings is made visible again at once.
func (j *Job) receive(ctx, writeCtx context.Context, q *sqs.Queue, in *sqs.Inflight, slots *semaphore.Weighted, out chan<- sqs.Message) {
	backoff := time.Duration(0)
	for ctx.Err() == nil {
		// Take slots for up to a batch of messages: at least one
		// (waiting), then what is free.
		if err := slots.Acquire(ctx, 1); err != nil {
			return
		}
		n := 1
		for n < sqs.MaxBatch && slots.TryAcquire(1) {
			n++
		}
		msgs, err := q.Receive(writeCtx, n)
		received := time.Now()
		slots.Release(int64(n - len(msgs)))
		if err != nil {
			if ctx.Err() != nil || writeCtx.Err() != nil {
				return
			}
			backoff = min(max(2*backoff, time.Second), 30*time.Second)
			j.log.Warn().Dur("retry_in", backoff).Msg(sqs.Reason(err))
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			continue
		}
		backoff = 0
		for _, m := range msgs {
			in.Add(m, received)
			j.Queue.Received.Add(1)
			j.log.Debug().Str("sqs_message_id", m.ID).Int("receives", m.ReceiveCount).Msg("message received")
			select {
			case out <- m:
			case <-ctx.Done():
				// Stopping: another consumer may take it at once.
				j.Queue.Released.Add(1)
				j.log.Debug().Str("sqs_message_id", m.ID).Msg("message released: stopping")
				in.Release(m, 0)
				slots.Release(1)
			}
		}
	}
}

// queueFeed handles the received messages with cfg.SQSReceivers goroutines
// and sends the objects they name, until the pass stops (dctx done).
func (j *Job) queueFeed(ctx context.Context, q *sqs.Queue, in *sqs.Inflight, received <-chan sqs.Message, freeSlot func(), since time.Time) feed {
	return func(dctx context.Context, send func(task) bool) error {
		var wg sync.WaitGroup
		for range j.cfg.SQSReceivers {
			wg.Go(func() {
				for {
					select {
					case <-dctx.Done():
						return
					case m := <-received:
						j.handleMessage(ctx, dctx, q, in, m, since, send, freeSlot)
					}
				}
			})
		}
		wg.Wait()
		return nil
	}
}

// handleMessage parses m and sends the objects it names; m completes (is
// deleted, or released for redelivery) once every object's task is done.
// freeSlot is called when m completes. ctx is the replication's (done when
// stopping), dctx the pass's.
func (j *Job) handleMessage(ctx, dctx context.Context, q *sqs.Queue, in *sqs.Inflight, m sqs.Message, since time.Time, send func(task) bool, freeSlot func()) {
	log := j.log.With().Str("sqs_message_id", m.ID).Logger()
	n, err := sqs.Parse([]byte(m.Body))
	if err != nil {
		j.garbage(dctx, q, in, m, err)
		freeSlot()
		return
	}
	var objs []pusher.Object
	for _, e := range n.Events {
		if obj, why := j.selectEvent(dctx, e, since); why != "" {
			j.Queue.Ignored.Add(1)
			log.Debug().Str("event", e.Name).Str("bucket", e.Bucket).Str("key", e.Key).Msg("event ignored: " + why)
		} else {
			objs = append(objs, obj)
		}
	}
	if n.Test {
		j.Queue.Ignored.Add(1)
		log.Debug().Msg("s3:TestEvent ignored")
	}
	msg := &message{m: m, pending: len(objs)}
	complete := func() {
		freeSlot()
		if msg.retry {
			j.Queue.Released.Add(1)
			delay := retryDelay(m.ReceiveCount)
			if ctx.Err() != nil {
				delay = 0 // stopping: another consumer may take it at once
			}
			log.Debug().Dur("visible_in", delay).Msg("message released")
			in.Release(m, delay)
			return
		}
		j.Queue.Deleted.Add(1)
		log.Debug().Msg("message complete")
		in.Done(m)
	}
	if len(objs) == 0 {
		complete()
		return
	}
	progress, err := j.state.Lookup(dctx, j.pipeline, objs)
	if err != nil {
		log.Warn().Msg(err.Error() + " (will retry)")
		msg.retry = true
		msg.pending = 0
		complete()
		return
	}
	for _, obj := range objs {
		done := func(o outcome) {
			if msg.resolve(j.keep(o)) {
				complete()
			}
		}
		if !j.wanted(obj, progress) {
			j.Skipped.Add(1)
			done(outcome{kind: outLoaded})
			continue
		}
		if !send(task{obj: obj, done: done}) {
			done(outcome{kind: outRetry})
		}
	}
}

// keep says whether a task's outcome keeps its message for redelivery.
func (j *Job) keep(o outcome) bool {
	switch o.kind {
	case outRetry:
		return true
	case outFailed:
		// Quarantined once it has failed --max-attempts times (0: never;
		// the queue's redrive policy decides); abort keeps the message.
		return j.cfg.OnError == OnErrorAbort || j.cfg.MaxAttempts == 0 || o.attempts < j.cfg.MaxAttempts
	}
	return false
}

// message is a received notification waiting for its objects.
type message struct {
	m       sqs.Message
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
func (j *Job) selectEvent(ctx context.Context, e sqs.Event, since time.Time) (pusher.Object, string) {
	st := j.store.(*s3.Store)
	switch {
	case !e.Created():
		return pusher.Object{}, "not an object creation"
	case e.Bucket != st.Bucket():
		return pusher.Object{}, "bucket is not " + st.Bucket()
	case st.Prefix() != "" && !strings.HasPrefix(e.Key, st.Prefix()+"/"):
		return pusher.Object{}, "key outside " + st.String()
	}
	obj := pusher.Object{Key: e.Key, Size: e.Size, ETag: e.ETag, LastModified: e.Time}
	rel := st.Rel(e.Key)
	switch {
	case e.Size == 0 && strings.HasSuffix(e.Key, "/"):
		return obj, "directory marker"
	case discover.Skip(obj, rel):
		return obj, "hidden file or directory marker"
	case !j.filter().Match(rel):
		return obj, "not matched by --include/--exclude"
	case !since.IsZero() && !e.Time.IsZero() && e.Time.Before(since):
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

// garbage handles a body that is not a notification: left for redelivery
// until it has been received --sqs-max-receives times, then recorded as a
// reject and deleted (with --sqs-max-receives 0: left for the queue's
// dead-letter redrive).
func (j *Job) garbage(ctx context.Context, q *sqs.Queue, in *sqs.Inflight, m sqs.Message, cause error) {
	log := j.log.With().Str("sqs_message_id", m.ID).Int("receives", m.ReceiveCount).Logger()
	max := j.cfg.SQSMaxReceives
	if max == 0 || m.ReceiveCount < max {
		log.Warn().Msg(fmt.Sprintf("message is not an S3 notification (left for redelivery, receive %d of %d): %v", m.ReceiveCount, max, cause))
		in.Release(m, j.cfg.SQSVisibility)
		return
	}
	err := j.rejectMessage(ctx, q, m, cause)
	if err != nil {
		log.Warn().Msg(err.Error() + " (message left for redelivery)")
		in.Release(m, retryDelay(m.ReceiveCount))
		return
	}
	j.Queue.Garbage.Add(1)
	j.Queue.Deleted.Add(1)
	log.Error().Msg(fmt.Sprintf("message is not an S3 notification, received %d times: recorded as rejected and deleted: %v", m.ReceiveCount, cause))
	in.Done(m)
}

// rejectMessage records a message that is not a notification: in
// ferry.rejects when the state is in PostgreSQL, else in --rejects-file,
// else only in the log.
func (j *Job) rejectMessage(ctx context.Context, q *sqs.Queue, m sqs.Message, cause error) error {
	if st, ok := j.state.(*pgstate.Store); ok {
		return st.RejectMessage(ctx, j.pipeline, q.String(), m.ID, m.Body, cause)
	}
	if t, ok := j.target.(*jsonlines.Target); ok && j.rejectsFile != nil {
		return t.RejectMessage(q.String(), m.ID, m.Body, cause)
	}
	body := m.Body
	if len(body) > pusher.MaxRawBytes {
		body = body[:pusher.MaxRawBytes]
	}
	j.log.Error().Str("sqs_message_id", m.ID).Str("body", body).Msg("rejected message")
	return nil
}

var _ state.Claimer = (*pgstate.Store)(nil)
