package runner

import (
	"context"
	"errors"
	"time"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source"
	"github.com/ferrydata/ferry/source/load"
	"github.com/ferrydata/ferry/state"
)

// start claims (when the state can) and starts the files of tasks, in
// one step each where the state can, and hands the files to load to the
// workers. A task for a file already in flight joins it.
func (ps *pass) start(tasks []Task) {
	if ps.dispatch.Err() != nil {
		for _, t := range tasks {
			t.done(Result{Outcome: Retry}) // stopping
		}
		return
	}
	var fs []*flight
	var dropped []Task
	leases := ps.r.leases.Load()
	ps.mu.Lock()
	for _, t := range tasks {
		id := t.Object.ID()
		if f := ps.flights[id]; f != nil {
			f.tasks = append(f.tasks, t) // already loading
			continue
		}
		if leases != nil && !leases.Owns(t.Object.Key) {
			// Its range was released or lost since it was listed: the
			// process that holds it now loads it.
			dropped = append(dropped, t)
			continue
		}
		f := &flight{obj: t.Object, tasks: []Task{t}, base: ps.bases[id], ended: make(chan struct{})}
		delete(ps.bases, id)
		ps.flights[id] = f
		ps.r.flying.Add(1)
		fs = append(fs, f)
	}
	ps.mu.Unlock()
	for _, t := range dropped {
		t.done(Result{Outcome: Retry})
	}
	if fs = ps.claim(fs); len(fs) == 0 {
		return
	}
	progress, err := ps.startState(fs)
	if err != nil {
		for _, f := range fs {
			ps.notStarted(f, err)
		}
		return
	}
	for i, f := range fs {
		pr := progress[i]
		if pr.Status == state.Done {
			ps.r.done.add(f.obj.ID())
			ps.r.Skipped.Add(1)
			ps.r.obs.FileEnded(f.obj, FileSkipped, 0)
			ps.end(f, Result{Outcome: Loaded})
			continue
		}
		f.attempts, f.pos = pr.Attempts, pr.Pos
		if f.pos != (pusher.Position{}) {
			f.base = nil // resumes at its own position
		}
		ps.prefetch(f)
		// The workers take every file until the feed ends; they decide
		// whether it still loads (see work).
		ps.files <- f
	}
}

// claim claims fs' files when the state can, and returns those claimed;
// the others end (another process loads them, or the claim failed).
func (ps *pass) claim(fs []*flight) []*flight {
	r := ps.r
	objs := make([]pusher.Object, len(fs))
	for i, f := range fs {
		objs[i] = f.obj
	}
	var releases []func()
	switch c := r.state.(type) {
	case state.GroupClaimer:
		var err error
		releases, err = c.ClaimGroup(ps.ctx, r.pipeline, objs)
		r.stateRoundTrip(err)
		if err != nil {
			for _, f := range fs {
				ps.notStarted(f, err)
			}
			return nil
		}
	case state.Claimer:
		releases = make([]func(), len(fs))
		for i, f := range fs {
			release, err := c.Claim(ps.ctx, r.pipeline, f.obj)
			r.stateRoundTrip(err)
			if err != nil && !errors.Is(err, state.ErrClaimed) {
				ps.notStarted(f, err)
				fs[i] = nil
				continue
			}
			releases[i] = release
		}
	default:
		return fs
	}
	claimed := fs[:0]
	for i, f := range fs {
		switch {
		case f == nil:
		case releases[i] == nil:
			r.Claimed.Add(1)
			r.obs.Retried(RetryClaimed)
			r.log.Debug().Str("file", f.obj.Key).Msg("another process is loading the file")
			ps.end(f, Result{Outcome: Retry, Err: state.ErrClaimed})
		default:
			f.release = releases[i]
			claimed = append(claimed, f)
		}
	}
	return claimed
}

// startState starts fs' files in the state (in one step when it can) and
// returns their progress.
func (ps *pass) startState(fs []*flight) ([]state.Progress, error) {
	r := ps.r
	if g, ok := r.state.(state.GroupStarter); ok && len(fs) > 1 {
		objs := make([]pusher.Object, len(fs))
		for i, f := range fs {
			objs[i] = f.obj
		}
		progress, err := g.StartGroup(ps.ctx, r.pipeline, objs)
		r.stateRoundTrip(err)
		return progress, err
	}
	out := make([]state.Progress, len(fs))
	for i, f := range fs {
		pr, err := r.state.Start(ps.ctx, r.pipeline, f.obj)
		r.stateRoundTrip(err)
		if err != nil {
			// The files before started; they stay loading and resume later.
			return nil, err
		}
		out[i] = pr
	}
	return out, nil
}

// load reads f's started file from its committed position into the
// pass's pusher. The file ends in ended, called by the pusher once nothing
// of it is in flight.
func (ps *pass) load(f *flight) {
	r, ctx, obj := ps.r, ps.ctx, f.obj
	log := r.log.With().Str("file", obj.Key).Logger()
	f.began = time.Now()
	if f.base != nil {
		ps.resume(f)
	}
	pr := f.pos
	if pr.Records > 0 {
		log.Info().Int64("record", pr.Records).Int64("offset", pr.Offset).Int("attempt", f.attempts).Msg("resuming file")
	}
	cfg := r.load
	if ps.writeCtx != ctx {
		cfg.WriteCtx = ps.writeCtx
	}
	var store source.Store = r.store
	if f.fetch != nil {
		store = &fetchedStore{Store: r.store, fetch: f.fetch, obj: obj}
	}
	st, err := load.File(ctx, store, obj, pr, cfg, ps.p)
	if err != nil && r.opts.OnError == OnErrorAbort && pusher.ClassOf(err) == pusher.ClassData && ps.ctx.Err() == nil {
		// Abort at once: the file's failure is known before its chunks
		// in flight are committed, and no file starts after it.
		ps.stop(err, false)
	}
	ps.p.Finish(obj, err, func(res pusher.FileResult) {
		// The target's rejects were counted when pushed: they did not load.
		r.Records.Add(st.Rejects - res.Rejects)
		if res.Err == nil {
			log.Debug().Int64("records", st.Records).Int("chunks", st.Chunks).Msg("file loaded")
		}
		ps.ended(f, res)
	})
}

// ended classifies how f's file ended, records a failure in the state,
// counts, and ends the flight.
func (ps *pass) ended(f *flight, res pusher.FileResult) {
	r, obj, err := ps.r, f.obj, res.Err
	log := r.log.With().Str("file", obj.Key).Logger()
	r.Rejected.Add(res.Rejects)
	r.Rescued.Add(res.Rescued)
	if err == nil {
		if res.Rejects > 0 {
			log.Warn().Int64("rejected", res.Rejects).Msg("file loaded with rejected records")
		}
		r.Done.Add(1)
		if !obj.LastModified.IsZero() {
			r.LastLag.Store(int64(time.Since(obj.LastModified)))
		}
		r.done.add(obj.ID())
		r.replaced(ps.ctx, f)
		ps.recordTail(obj)
		r.obs.FileEnded(obj, FileLoaded, time.Since(f.began))
		ps.end(f, Result{Outcome: Loaded})
		ps.afterLoad(obj)
		return
	}
	class := pusher.ClassOf(err)
	switch {
	case class == pusher.ClassGone:
		// Deleted or replaced since it was named: not a failure; a
		// changed object is a new version that the next listing shows.
		r.Vanished.Add(1)
		r.obs.FileEnded(obj, FileSkipped, 0)
		log.Warn().Msg(err.Error() + " (skipped)")
		ps.end(f, Result{Outcome: Skipped, Err: err})
	case ps.ctx.Err() != nil || class == pusher.ClassCanceled:
		// Stopping: the file stays "loading" and resumes at its last
		// committed chunk.
		ps.end(f, Result{Outcome: Retry, Err: err})
	case class == pusher.ClassUnavailable || class == pusher.ClassRetry:
		// A service is unavailable, or another process moved the file:
		// not the file's fault. It stays "loading"; a later pass resumes
		// it. Other files would meet the same service: stop the pass.
		r.Retry.Add(1)
		r.obs.Retried(retryReason(class))
		log.Warn().Msg(err.Error() + ps.retryNote())
		if class == pusher.ClassUnavailable {
			ps.stop(err, true)
		}
		ps.end(f, Result{Outcome: Retry, Err: err})
	default:
		r.Failed.Add(1)
		log.Error().Msg(err.Error())
		// Nothing of the file is in flight: no write moves it after this.
		// With a dead database this fails too, and the file stays
		// "loading" to be resumed.
		ferr := r.state.Fail(context.WithoutCancel(ps.ctx), r.pipeline, obj, err)
		r.stateRoundTrip(ferr)
		status := FileFailed
		if r.opts.MaxAttempts > 0 && f.attempts >= r.opts.MaxAttempts {
			status = FileQuarantined
		}
		r.obs.FileEnded(obj, status, time.Since(f.began))
		if ferr != nil {
			log.Warn().Err(ferr).Msg("cannot record the failure in the state")
		}
		ps.fail(err)
		ps.end(f, Result{Outcome: Failed, Attempts: f.attempts, Err: err})
	}
}

// fail counts a failed file in the summary; under OnErrorAbort it stops
// the pass from taking new files.
func (ps *pass) fail(err error) {
	ps.mu.Lock()
	ps.errs = append(ps.errs, err)
	ps.mu.Unlock()
	if ps.r.opts.OnError == OnErrorAbort {
		ps.stop(err, false)
	}
}

// notStarted ends f, whose claim or start in the state failed: the file
// is not at fault and nothing is recorded; it is tried again later.
func (ps *pass) notStarted(f *flight, err error) {
	r := ps.r
	log := r.log.With().Str("file", f.obj.Key).Logger()
	switch class := pusher.ClassOf(err); {
	case ps.ctx.Err() != nil || class == pusher.ClassCanceled:
	case class == pusher.ClassData:
		// The state itself fails (not a service outage): count it, as
		// OnErrorAbort needs.
		r.Failed.Add(1)
		r.obs.FileEnded(f.obj, FileFailed, 0)
		log.Error().Msg(err.Error())
		ps.fail(err)
	default:
		r.Retry.Add(1)
		r.obs.Retried(retryReason(class))
		log.Warn().Msg(err.Error() + ps.retryNote())
		if class == pusher.ClassUnavailable {
			ps.stop(err, true)
		}
	}
	ps.end(f, Result{Outcome: Retry, Err: err})
}

// retryReason names why a file is tried again, for the Observer.
func retryReason(class pusher.Class) string {
	if class == pusher.ClassRetry {
		return RetryConflict
	}
	return RetryUnavailable
}
