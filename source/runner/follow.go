package runner

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/ferrydata/ferry/pusher"
)

// FollowOptions configure Follow.
type FollowOptions struct {
	// Backfill lists the store in the first pass, while the queue is
	// already being followed; the state absorbs the overlap.
	Backfill bool
	// Retention forgets done files completed longer ago than it, every
	// tenth of it (at most every 10 minutes); 0: never.
	Retention time.Duration
	// Reconcile lists the store every Reconcile.Reconcile (0: never),
	// after the start-after window of Reconcile (StartAfterKey,
	// LookbackKeys, Lookback), while the queue is followed: objects whose
	// notifications never arrived (a filter that misses them, events
	// dropped, a queue purged) load within an interval. Without Backfill,
	// only objects modified since the pipeline's anchor are listed.
	Reconcile PollOptions
}

// Follow runs passes over queue, a feed that never ends on its own (SQS
// notifications), until ctx is cancelled (a graceful stop, as Poll). A
// pass ends when a service is unavailable or the async pusher stops;
// the next starts after a backoff of 1 s, doubling up to a minute. It
// returns nil on a graceful stop and an error only when OnErrorAbort
// stops it.
func (r *Runner) Follow(ctx, writeCtx context.Context, queue Feed, opts FollowOptions) error {
	if opts.Reconcile.LeaseRanges > 0 {
		return errors.New("lease ranges are for polling replication: a queue already shares its notifications out among its consumers")
	}
	if opts.Retention > 0 {
		var wg sync.WaitGroup
		pctx, stop := context.WithCancel(ctx)
		wg.Go(func() { r.pruneEvery(pctx, opts.Retention) })
		defer func() {
			stop()
			wg.Wait()
		}()
	}
	since := r.opts.Since
	if opts.Reconcile.Reconcile > 0 && !opts.Backfill {
		// As Poll without backfill: only what arrives from the
		// pipeline's first start on.
		anchor, err := r.state.Anchor(ctx, r.pipeline, time.Now().Truncate(time.Second))
		r.stateRoundTrip(err)
		if err != nil {
			return err
		}
		if anchor.After(since) {
			since = anchor
		}
	}
	backfill := opts.Backfill
	backoff := time.Duration(0)
	for pass := 1; ; pass++ {
		var listed atomic.Bool
		fd := queue
		if opts.Reconcile.Reconcile > 0 {
			fd = r.reconciled(fd, opts.Reconcile, since)
		}
		if backfill {
			queue := fd
			fd = func(ctx context.Context, send Send) error {
				g, gctx := errgroup.WithContext(ctx)
				g.Go(func() error {
					if err := r.Listing("")(gctx, send); err != nil {
						return err
					}
					if gctx.Err() == nil {
						listed.Store(true)
						r.log.Info().Msg("backfill listing done; following the queue")
					}
					return nil
				})
				g.Go(func() error { return queue(gctx, send) })
				return g.Wait()
			}
		}
		began := time.Now()
		sum, err := r.Pass(ctx, writeCtx, fd)
		if listed.Load() {
			backfill = false
		}
		if ctx.Err() != nil {
			return nil
		}
		if sum.Aborted {
			return sum.Errors[0]
		}
		if err != nil && r.opts.OnError == OnErrorAbort && pusher.ClassOf(err) == pusher.ClassData {
			return err
		}
		if time.Since(began) > time.Minute {
			backoff = 0 // the pass ran well for a while
		}
		backoff = min(max(2*backoff, time.Second), time.Minute)
		if err != nil {
			r.obs.Retried(RetryPass)
			r.log.Warn().Int("pass", pass).Dur("retry_in", backoff).Msg(err.Error())
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
	}
}

// reconciled is queue with a listing every opts.Reconcile alongside, for
// as long as the pass runs. A failed listing is logged and tried again at
// the next tick: the queue goes on.
func (r *Runner) reconciled(queue Feed, opts PollOptions, since time.Time) Feed {
	return func(ctx context.Context, send Send) error {
		var wg sync.WaitGroup
		lctx, stop := context.WithCancel(ctx)
		wg.Go(func() {
			t := time.NewTicker(opts.Reconcile)
			defer t.Stop()
			for {
				select {
				case <-lctx.Done():
					return
				case <-t.C:
				}
				after, err := r.startAfter(lctx, opts)
				if err == nil {
					r.log.Debug().Str("start_after", after).Msg("reconciliation listing")
					err = r.listing(after, since)(lctx, send)
				}
				if err != nil && lctx.Err() == nil {
					r.obs.Retried(RetryPass)
					r.log.Warn().Msg("reconciliation listing: " + err.Error() + " (will retry)")
				}
			}
		})
		err := queue(ctx, send)
		stop()
		wg.Wait()
		return err
	}
}

// pruneEvery forgets done files past retention, every tenth of it (at
// most every 10 minutes, at least every second).
func (r *Runner) pruneEvery(ctx context.Context, retention time.Duration) {
	t := time.NewTicker(max(min(retention/10, 10*time.Minute), time.Second))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := r.Prune(ctx, retention, ""); err != nil && ctx.Err() == nil {
			r.log.Warn().Msg(err.Error())
		}
	}
}
