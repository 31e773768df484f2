package runner

import (
	"context"
	"errors"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source/load"
	"github.com/ferrydata/ferry/state"
)

// load claims f's file (when the state can), starts it in the state and
// reads it from its committed position into the pass's pusher. The file
// ends in ended, called by the pusher once nothing of it is in flight, or
// here when it ends before its read starts.
func (ps *pass) load(f *flight) {
	r, ctx, obj := ps.r, ps.ctx, f.obj
	log := r.log.With().Str("file", obj.Key).Logger()
	if c, ok := r.state.(state.Claimer); ok {
		release, err := c.Claim(ctx, r.pipeline, obj)
		if errors.Is(err, state.ErrClaimed) {
			r.Claimed.Add(1)
			log.Debug().Msg("another process is loading the file")
			ps.end(f, Result{Outcome: Retry, Err: err})
			return
		}
		if err != nil {
			ps.notStarted(f, err)
			return
		}
		f.release = release
	}
	pr, err := r.state.Start(ctx, r.pipeline, obj)
	if err != nil {
		ps.notStarted(f, err)
		return
	}
	if pr.Status == state.Done {
		r.Skipped.Add(1)
		ps.end(f, Result{Outcome: Loaded})
		return
	}
	f.attempts = pr.Attempts
	if pr.Pos.Records > 0 {
		log.Info().Int64("record", pr.Pos.Records).Int64("offset", pr.Pos.Offset).Int("attempt", pr.Attempts).Msg("resuming file")
	}
	cfg := r.load
	if ps.writeCtx != ctx {
		cfg.WriteCtx = ps.writeCtx
	}
	st, err := load.File(ctx, r.store, obj, pr.Pos, cfg, ps.p)
	ps.p.Finish(obj, err, func(res pusher.FileResult) {
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
	if err == nil {
		if res.Rejects > 0 {
			log.Warn().Int64("rejected", res.Rejects).Msg("file loaded with rejected records")
		}
		r.Done.Add(1)
		ps.end(f, Result{Outcome: Loaded})
		return
	}
	class := pusher.ClassOf(err)
	switch {
	case class == pusher.ClassGone:
		// Deleted or replaced since it was named: not a failure; a
		// changed object is a new version that the next listing shows.
		r.Vanished.Add(1)
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
		log.Warn().Msg(err.Error() + " (will retry)")
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
		if ferr := r.state.Fail(context.WithoutCancel(ps.ctx), r.pipeline, obj, err); ferr != nil {
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
		log.Error().Msg(err.Error())
		ps.fail(err)
	default:
		r.Retry.Add(1)
		log.Warn().Msg(err.Error() + " (will retry)")
		if class == pusher.ClassUnavailable {
			ps.stop(err, true)
		}
	}
	ps.end(f, Result{Outcome: Retry, Err: err})
}
