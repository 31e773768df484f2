package runner

import (
	"context"
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
}

// Follow runs passes over queue, a feed that never ends on its own (SQS
// notifications), until ctx is cancelled (a graceful stop, as Poll). A
// pass ends when a service is unavailable or the async pusher stops;
// the next starts after a backoff of 1 s, doubling up to a minute. It
// returns nil on a graceful stop and an error only when OnErrorAbort
// stops it.
func (r *Runner) Follow(ctx, writeCtx context.Context, queue Feed, opts FollowOptions) error {
	if opts.Retention > 0 {
		var wg sync.WaitGroup
		pctx, stop := context.WithCancel(ctx)
		wg.Go(func() { r.pruneEvery(pctx, opts.Retention) })
		defer func() {
			stop()
			wg.Wait()
		}()
	}
	backfill := opts.Backfill
	backoff := time.Duration(0)
	for pass := 1; ; pass++ {
		var listed atomic.Bool
		fd := queue
		if backfill {
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
