package job

import (
	"context"
	"time"

	"github.com/ferrydata/ferry/source/discover"
)

// Replicate polls the store every PollInterval and loads every selected
// object version not yet done, until ctx is cancelled (a graceful stop:
// reading stops, and chunks already being written commit under writeCtx,
// which the caller cancels after the shutdown timeout). It returns nil on a
// graceful stop and an error only when --on-error abort stops it.
//
// Each poll lists page by page and asks the state about each page, so
// memory per poll is O(one listing page) whatever the bucket holds. With
// StartAfterKey the listing starts after the oldest key of the lookback
// window instead of at the beginning.
func (j *Job) Replicate(ctx, writeCtx context.Context) error {
	start := time.Now()
	since, err := j.cfg.sinceTime(start)
	if err != nil {
		return err
	}
	if !j.cfg.Backfill {
		// Only what arrives from the pipeline's first start on (kept in
		// the state, so files that arrive while ferry is stopped still
		// load). S3 times have one-second resolution, so the boundary
		// second is included; the state absorbs any overlap.
		anchor, err := j.state.Anchor(ctx, j.pipeline, start.Truncate(time.Second))
		if err != nil {
			return err
		}
		if anchor.After(since) {
			since = anchor
		}
	}
	backoff := time.Duration(0)
	for poll := 1; ; poll++ {
		opts := discover.Options{Filter: j.filter(), Since: since}
		err := j.poll(ctx, writeCtx, &opts)
		if ctx.Err() != nil {
			return nil
		}
		wait := j.cfg.PollInterval
		if err != nil {
			backoff = min(max(2*backoff, time.Second), time.Minute)
			wait = backoff
			j.log.Warn().Int("poll", poll).Dur("retry_in", wait).Msg(err.Error())
		} else {
			backoff = 0
		}
		if err != nil && j.cfg.OnError == OnErrorAbort && !isTransient(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// poll runs one listing pass.
func (j *Job) poll(ctx, writeCtx context.Context, opts *discover.Options) error {
	if j.cfg.StartAfterKey {
		var lookbackSince time.Time
		if j.cfg.Lookback > 0 {
			lookbackSince = time.Now().Add(-j.cfg.Lookback)
		}
		after, err := j.state.StartAfter(ctx, j.pipeline, j.cfg.LookbackKeys, lookbackSince)
		if err != nil {
			return err
		}
		opts.StartAfter = after
	}
	sum, err := j.pass(ctx, writeCtx, j.listing(*opts))
	if err != nil {
		return err
	}
	if sum.Loaded+sum.Failed+sum.Vanished > 0 || len(sum.Errors) > 0 {
		j.log.Info().Int64("listed", sum.Files).Int64("loaded", sum.Loaded).Int64("failed", sum.Failed).
			Int64("rows", sum.Records).Int64("rejected", sum.Rejected).Str("start_after", opts.StartAfter).
			Dur("took", sum.Elapsed).Msg("poll")
	}
	if sum.Aborted {
		return sum.Errors[0]
	}
	if j.cfg.StateRetention > 0 && (!j.cfg.StartAfterKey || opts.StartAfter != "") {
		// With --start-after-key only keys below the window are pruned:
		// they are never listed again, and the window keeps its boundary.
		n, err := j.state.Prune(ctx, j.pipeline, time.Now().Add(-j.cfg.StateRetention), opts.StartAfter)
		if err != nil {
			return err
		}
		if n > 0 {
			j.log.Info().Int64("files", n).Msg("pruned done files past --state-retention")
		}
	}
	return nil
}
