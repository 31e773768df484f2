package runner

import (
	"context"
	"errors"
	"fmt"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/state"
)

// This file is --delete-on-remove: a task with Remove set deletes the rows
// loaded from its key and marks the key's versions removed in the state
// (in one transaction when the state is in the target's database).

// errNoRemover: the target cannot delete a key's rows.
var errNoRemover = errors.New("the target cannot delete a file's rows (--delete-on-remove needs PostgreSQL)")

// remove runs t's removal on its own goroutine (owned by the pass, which
// waits for it): a removal waits for the loads of its key in this pass.
func (ps *pass) remove(t Task) {
	ps.removals.Go(func() { t.done(ps.removeKey(t.Object.Key)) })
}

// removeKey waits until no file of key is loading in this pass, then
// removes the key. A load that started here ends first (committed, or
// left to resume), so the removal deletes every row it committed; a load
// in another process that commits meanwhile is waited for by the
// removal's transaction, and fails its next commit after it.
func (ps *pass) removeKey(key string) Result {
	r := ps.r
	log := r.log.With().Str("file", key).Logger()
	for {
		var wait chan struct{}
		ps.mu.Lock()
		for _, f := range ps.flights {
			if f.obj.Key == key {
				wait = f.ended
				break
			}
		}
		ps.mu.Unlock()
		if wait == nil {
			break
		}
		log.Info().Msg("removed while loading: the removal waits for the load to end")
		select {
		case <-wait:
		case <-ps.ctx.Done():
			return Result{Outcome: Retry}
		}
	}
	if ps.ctx.Err() != nil {
		return Result{Outcome: Retry}
	}
	if taken, err := r.takenByAfterLoad(ps.ctx, key); err != nil {
		log.Warn().Msg(err.Error() + ps.retryNote())
		return Result{Outcome: Retry, Err: err}
	} else if taken {
		// ferry deleted or moved it itself (--after-load): its rows stay.
		log.Info().Msg("removal ignored: the object was deleted or moved by --after-load")
		return Result{Outcome: Loaded}
	}
	rm, ok := r.target.(pusher.Remover)
	if !ok {
		err := fmt.Errorf("remove %q: %w", key, errNoRemover)
		log.Error().Msg(err.Error())
		return Result{Outcome: Failed, Err: err}
	}
	n, err := rm.Remove(ps.writeCtx, key)
	r.stateRoundTrip(err)
	if err == nil && !r.target.CommitsProgress() {
		if sr, ok := r.state.(state.Remover); ok {
			err = sr.Remove(context.WithoutCancel(ps.ctx), r.pipeline, key)
			r.stateRoundTrip(err)
		}
	}
	if err != nil {
		if class := pusher.ClassOf(err); class == pusher.ClassUnavailable || class == pusher.ClassCanceled || ps.ctx.Err() != nil {
			log.Warn().Msg(err.Error() + ps.retryNote())
			return Result{Outcome: Retry, Err: err}
		}
		log.Error().Msg(err.Error())
		return Result{Outcome: Failed, Err: err}
	}
	// A version it remembers done may be named again (the same content
	// uploaded again): it loads.
	r.done.forget(key, "")
	r.Removed.Add(1)
	log.Info().Int64("rows", n).Msg("file removed: its rows are deleted")
	return Result{Outcome: Loaded}
}
