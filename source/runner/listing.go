package runner

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source/discover"
)

// Listing is the feed of one listing of the store: every object the
// options select, page by page (each page's progress looked up in one
// query). startAfter, when not "", lists only the keys after it.

func (r *Runner) Listing(startAfter string) Feed { return r.listing(startAfter, r.opts.Since) }

// listing is Listing of the objects modified since the given time.
func (r *Runner) listing(startAfter string, since time.Time) Feed {
	opts := discover.Options{Filter: r.opts.Filter, Since: since, StartAfter: startAfter}
	return func(ctx context.Context, send Send) error {
		var st discover.Stats
		opts := opts
		opts.Stats = &st
		defer func() {
			r.Keys.Add(st.Listed)
			r.Hidden.Add(st.Hidden)
			r.Unmatched.Add(st.Unmatched)
			r.Old.Add(st.Old)
		}()
		err := discover.ListWith(ctx, r.store, opts, func(page []pusher.Object) error {
			r.obs.SourceRoundTrip(nil)
			if m := r.leases.Load(); m != nil {
				// Only this process's share is looked up and claimed.
				n := len(page)
				page = slices.DeleteFunc(page, func(o pusher.Object) bool { return !m.Owns(o.Key) })
				r.Others.Add(int64(n - len(page)))
				if len(page) == 0 {
					return nil
				}
			}
			r.Listed.Add(int64(len(page)))
			tasks := make([]Task, len(page))
			for i, obj := range page {
				tasks[i] = Task{Object: obj}
			}
			return send(ctx, tasks)
		})
		if errors.Is(err, ErrStopped) || (err != nil && ctx.Err() != nil) {
			return nil
		}
		if err != nil {
			if le := (*lookupError)(nil); !errors.As(err, &le) {
				r.obs.SourceRoundTrip(err)
			}
			return fmt.Errorf("list %s: %w", r.store, err)
		}
		r.obs.SourceRoundTrip(nil)
		return nil
	}
}

// Snapshot loads every selected file not yet done, then returns. It
// returns an error only when the run itself fails (listing, state, a
// service down); failed files are counted in the summary.
func (r *Runner) Snapshot(ctx context.Context) (Summary, error) {
	return r.pass(ctx, ctx, r.Listing(""), true)
}

// Poll lists the store every opts.Interval and loads every selected object
// version not yet done, until ctx is cancelled (a graceful stop: reading
// stops, and chunks already pushed commit under writeCtx, which the caller
// cancels after its shutdown timeout). It returns nil on a graceful stop
// and an error only when OnErrorAbort stops it.
//
// Each poll lists page by page and asks the state about each page, so
// memory per poll is O(one listing page) whatever the bucket holds. With
// StartAfterKey the listing starts after the oldest key of the lookback
// window instead of at the beginning. With LeaseRanges it joins the
// pipeline's leases first (failing when it cannot) and loads only the
// keys of the ranges it holds; it leaves them when it returns.
func (r *Runner) Poll(ctx, writeCtx context.Context, opts PollOptions) error {
	if err := opts.Validate(); err != nil {
		return err
	}
	if !opts.Backfill {
		// Only what arrives from the pipeline's first start on (kept in
		// the state, so files that arrive while ferry is stopped still
		// load). S3 times have one-second resolution, so the boundary
		// second is included; the state absorbs any overlap.
		anchor, err := r.state.Anchor(ctx, r.pipeline, time.Now().Truncate(time.Second))
		r.stateRoundTrip(err)
		if err != nil {
			return err
		}
		if anchor.After(r.opts.Since) {
			r.opts.Since = anchor
		}
	}
	if opts.LeaseRanges > 0 {
		stop, err := r.startLeases(ctx, opts)
		if err != nil {
			return err
		}
		defer stop()
	}
	backoff := time.Duration(0)
	listed := false
	for poll := 1; ; poll++ {
		err := r.poll(ctx, writeCtx, opts, !listed)
		listed = listed || err == nil
		if ctx.Err() != nil {
			return nil
		}
		wait := opts.Interval
		if err != nil {
			backoff = min(max(2*backoff, time.Second), time.Minute)
			wait = backoff
			r.obs.Retried(RetryPass)
			r.log.Warn().Int("poll", poll).Dur("retry_in", wait).Msg(err.Error())
		} else {
			backoff = 0
		}
		if err != nil && r.opts.OnError == OnErrorAbort && pusher.ClassOf(err) == pusher.ClassData {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// poll runs one listing pass. When first (no listing has succeeded yet)
// and it selects no file, it logs what it listed: a wrong prefix or glob
// shows at once, while the replication waits for files.
func (r *Runner) poll(ctx, writeCtx context.Context, opts PollOptions, first bool) error {
	startAfter, err := r.startAfter(ctx, opts)
	if err != nil {
		return err
	}
	sum, err := r.Pass(ctx, writeCtx, r.Listing(startAfter))
	if err != nil {
		return err
	}
	if empty := sum.NothingMatched(r.store.String()); first && empty != nil {
		r.log.Warn().Msg(empty.Error() + "; waiting for files")
	}
	if sum.Loaded+sum.Failed+sum.Vanished > 0 || len(sum.Errors) > 0 {
		e := r.log.Info().Int64("listed", sum.Files).Int64("loaded", sum.Loaded).Int64("failed", sum.Failed).
			Int64("rows", sum.Records).Int64("rejected", sum.Rejected).Str("start_after", startAfter)
		if opts.LeaseRanges > 0 {
			e = e.Int64("others", sum.Others) // in other processes' ranges
		}
		e.Dur("took", roundDuration(sum.Elapsed)).Msg("poll")
	}
	if sum.Aborted {
		return sum.Errors[0]
	}
	if opts.Retention > 0 && (!opts.StartAfterKey || startAfter != "") {
		// With StartAfterKey only keys below the window are pruned: they
		// are never listed again, and the window keeps its boundary.
		return r.Prune(ctx, opts.Retention, startAfter)
	}
	return nil
}

// startAfter is the key a listing under opts starts after: the lookback
// window's with StartAfterKey, else "".
func (r *Runner) startAfter(ctx context.Context, opts PollOptions) (string, error) {
	if !opts.StartAfterKey {
		return "", nil
	}
	var lookbackSince time.Time
	if opts.Lookback > 0 {
		lookbackSince = time.Now().Add(-opts.Lookback)
	}
	after, err := r.state.StartAfter(ctx, r.pipeline, opts.LookbackKeys, lookbackSince)
	r.stateRoundTrip(err)
	return after, err
}

// roundDuration rounds d for a log line: 29.6ms, 2m3.46s.
func roundDuration(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(100 * time.Microsecond)
	}
	return d.Round(10 * time.Millisecond)
}
