package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source"
	"github.com/ferrydata/ferry/source/backoff"
	"github.com/ferrydata/ferry/state"
)

// This file is --after-load (Options.AfterLoad): what is done with an
// object once its rows are committed.
//
// The action is recorded pending in the state with the file's last chunk,
// in the same transaction as its rows when the target commits progress
// (pusher.Chunk.AfterLoad). Once the file has ended, the action runs on a
// goroutine of the pass (it does not hold up the file's completion, nor
// an SQS message's delete): a transient failure is retried with backoff
// within the read retry budget (load.Config.RetryMaxElapsed); an action
// that still fails is recorded failed, with its error, and tried again
// by a later sweep. Every pass sweeps the state for the actions pending
// (a crash between the commit and the action left them) or failed (in
// replication, each waits afterLoadDelay(attempts) since its last try; a
// snapshot tries them all), at its start and
// every afterLoadSweep while it runs. The file itself stays done: an
// action never loads it again, nor fails it.

// afterLoadSweep is how often a running pass looks for actions to do
// again; afterLoadBatch the most it takes at once.
var (
	afterLoadSweep = 10 * time.Second
	afterLoadBatch = 1000
)

// afterLoadWorkers bounds the actions under way at once.
const afterLoadWorkers = 4

// KillBeforeAfterLoadEnv, when set to 1 in the environment, makes the
// process kill itself (SIGKILL) right before its first --after-load
// action: after the commit that recorded it pending. For the tests that
// check a crash there.
const KillBeforeAfterLoadEnv = "FERRY_TEST_KILL_BEFORE_AFTER_LOAD"

// afterLoadDelay is how long a failed action waits before it is tried
// again: 1 s after the first failure, doubling, at most 10 minutes.
func afterLoadDelay(attempts int) time.Duration {
	return min(time.Second<<min(max(attempts-1, 0), 10), 10*time.Minute)
}

// afterLoader runs a runner's actions.
type afterLoader struct {
	action  source.AfterLoad
	store   source.Store
	state   state.AfterLoader
	kill    bool
	slots   chan struct{}
	mu      sync.Mutex
	running map[string]bool // by Object.ID: under way in this process
}

// newAfterLoader checks that the store and the state can do a, and
// returns nil for none.
func newAfterLoader(st source.Store, ss state.Store, a source.AfterLoad) (*afterLoader, error) {
	if !a.Active() {
		return nil, nil
	}
	if err := source.CheckAfterLoad(st, a); err != nil {
		return nil, err
	}
	al, ok := ss.(state.AfterLoader)
	if !ok {
		return nil, fmt.Errorf("--after-load %s: the state store cannot keep after-load actions", a)
	}
	return &afterLoader{action: a, store: st, state: al, kill: os.Getenv(KillBeforeAfterLoadEnv) == "1",
		slots: make(chan struct{}, afterLoadWorkers), running: map[string]bool{}}, nil
}

// afterLoad runs obj's action on a goroutine of the pass, unless it is
// under way already.
func (ps *pass) afterLoad(obj pusher.Object) {
	a := ps.r.after
	if a == nil {
		return
	}
	a.mu.Lock()
	if a.running[obj.ID()] {
		a.mu.Unlock()
		return
	}
	a.running[obj.ID()] = true
	a.mu.Unlock()
	ps.actions.Go(func() {
		defer func() {
			a.mu.Lock()
			delete(a.running, obj.ID())
			a.mu.Unlock()
		}()
		select {
		case a.slots <- struct{}{}:
		case <-ps.ctx.Done():
			return
		}
		defer func() { <-a.slots }()
		ps.r.runAfterLoad(ps.ctx, obj)
	})
}

// sweepAfterLoads runs, until done is closed, the actions the state says
// are pending or due again, at once and every afterLoadSweep.
func (ps *pass) sweepAfterLoads(done <-chan struct{}) {
	r := ps.r
	t := time.NewTicker(afterLoadSweep)
	defer t.Stop()
	for {
		fs, err := r.after.state.AfterLoads(ps.ctx, r.pipeline, afterLoadBatch)
		r.stateRoundTrip(err)
		if err != nil && ps.ctx.Err() == nil {
			r.log.Warn().Msg("after load: list the actions to do: " + err.Error() + " (will retry)")
		}
		for _, f := range fs {
			// A snapshot (a run of its own) tries every failed action
			// again; the passes of a replication space them out.
			if !ps.once && f.AfterLoad.Status == state.AfterLoadFailed && time.Since(f.AfterLoad.At) < afterLoadDelay(f.AfterLoad.Attempts) {
				continue
			}
			ps.afterLoad(f.Object)
		}
		select {
		case <-done:
			return
		case <-ps.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// runAfterLoad does obj's action, retrying a transient failure with
// backoff, and records how it ended. A stop leaves it as it was (pending
// or failed) for the next run.
func (r *Runner) runAfterLoad(ctx context.Context, obj pusher.Object) {
	a := r.after
	if a.kill {
		r.log.Warn().Str("file", obj.Key).Msg(KillBeforeAfterLoadEnv + " is set: killing the process before the after-load action")
		syscall.Kill(os.Getpid(), syscall.SIGKILL) //nolint:errcheck // a test hook
		select {}
	}
	log := r.log.With().Str("file", obj.Key).Str("after_load", a.action.String()).Logger()
	bo := backoff.New(backoff.Policy{MaxElapsed: r.load.RetryMaxElapsed})
	var err error
	for {
		err = a.do(ctx, obj)
		if err == nil || ctx.Err() != nil || pusher.ClassOf(err) != pusher.ClassUnavailable {
			break
		}
		wait, ok := bo.Next()
		if !ok {
			break
		}
		log.Warn().Int("retry", bo.Tries()).Dur("retry_in", wait).Msg("after-load action failed, retrying: " + err.Error())
		if backoff.Sleep(ctx, wait) != nil {
			break
		}
	}
	if ctx.Err() != nil {
		return // stopping: left for the next run
	}
	status := state.AfterLoadDone
	switch {
	case err == nil:
	case pusher.ClassOf(err) == pusher.ClassGone:
		status = state.AfterLoadSkipped
	default:
		status = state.AfterLoadFailed
	}
	serr := a.state.AfterLoaded(context.WithoutCancel(ctx), r.pipeline, obj, status, err)
	r.stateRoundTrip(serr)
	switch status {
	case state.AfterLoadDone:
		r.AfterLoadDone.Add(1)
		log.Info().Msg("after-load action done")
	case state.AfterLoadSkipped:
		r.AfterLoadSkipped.Add(1)
		log.Warn().Msg("after-load action skipped, the object is not the version loaded: " + err.Error())
	default:
		r.AfterLoadFailed.Add(1)
		r.obs.Retried(RetryAfterLoad)
		log.Error().Msg("after-load action failed (the file stays loaded; the action is tried again later): " + err.Error())
	}
	if serr != nil {
		log.Warn().Msg("cannot record the after-load action in the state (it is tried again): " + serr.Error())
	}
}

// do runs the action once on obj.
func (a *afterLoader) do(ctx context.Context, obj pusher.Object) error {
	switch a.action.Kind {
	case source.AfterLoadDelete:
		return a.store.(source.ActionStore).Delete(ctx, obj)
	case source.AfterLoadMove:
		as := a.store.(source.ActionStore)
		dst, err := as.Dest(a.action.Prefix, obj.Key)
		if err != nil {
			return err
		}
		if err := as.Copy(ctx, obj, dst); err != nil {
			return err
		}
		return as.Delete(ctx, obj)
	case source.AfterLoadTag:
		return a.store.(source.Tagger).Tag(ctx, obj, a.action.TagKey, a.action.TagValue)
	}
	return errors.New("after load: no action")
}

// takenByAfterLoad says whether key's objects were deleted or moved by
// --after-load (this run's or an earlier one's), so that its removal is
// not one to delete rows for.
func (r *Runner) takenByAfterLoad(ctx context.Context, key string) (bool, error) {
	al, ok := r.state.(state.AfterLoader)
	if !ok {
		return false, nil
	}
	taken, err := al.TakenByAfterLoad(ctx, r.pipeline, key)
	r.stateRoundTrip(err)
	return taken, err
}
