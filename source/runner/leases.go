package runner

import (
	"cmp"
	"context"
	"errors"
	"sync"
	"time"

	"github.com/ferrydata/ferry/source/runner/lease"
	"github.com/ferrydata/ferry/state"
)

// ErrNoLeases: PollOptions.LeaseRanges with a state store that keeps no
// leases.
var ErrNoLeases = errors.New("lease ranges need a state store that keeps leases (PostgreSQL)")

// startLeases joins the pipeline's leases (PollOptions.LeaseRanges) and
// beats until stop is called, which leaves them: the ranges held are
// free at once for the other processes. From Join on, listings keep only
// the keys of the ranges held.
func (r *Runner) startLeases(ctx context.Context, opts PollOptions) (stop func(), err error) {
	st, ok := r.state.(state.Leaser)
	if !ok {
		return nil, ErrNoLeases
	}
	// Beats come every third of the expiry, or every poll interval when
	// that is shorter (at most once a second): a process that joins gets
	// its share about as soon as a new file would load.
	expiry := cmp.Or(opts.LeaseExpiry, lease.DefaultExpiry)
	m, err := lease.New(lease.Config{Store: observedLeaser{st, r}, Pipeline: r.pipeline, Ranges: opts.LeaseRanges,
		Expiry: expiry, Interval: min(expiry/3, max(opts.Interval, time.Second)),
		Log: r.log, Changed: func(n int) { r.LeasesHeld.Store(int64(n)) }})
	if err != nil {
		return nil, err
	}
	if err := m.Join(ctx); err != nil {
		return nil, err
	}
	r.LeaseRanges.Store(int64(opts.LeaseRanges))
	r.leases.Store(m)
	// The beats go on while the last pass finishes its writes after a
	// stop, until Poll returns.
	bctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { m.Run(bctx) })
	return func() {
		cancel()
		wg.Wait()
		r.leases.Store(nil)
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := m.Leave(lctx); err != nil {
			r.log.Warn().Msg("leaving the leases (the others take them once they expire): " + err.Error())
		}
	}, nil
}

// observedLeaser is the state's leases, their round trips told to the
// observer (readiness).
type observedLeaser struct {
	st state.Leaser
	r  *Runner
}

func (o observedLeaser) LeaseJoin(ctx context.Context, pipeline, owner string, ranges int, expiry time.Duration) error {
	err := o.st.LeaseJoin(ctx, pipeline, owner, ranges, expiry)
	o.r.stateRoundTrip(err)
	return err
}

func (o observedLeaser) LeaseBeat(ctx context.Context, pipeline, owner string, ranges int, expiry time.Duration) (state.Heartbeat, error) {
	hb, err := o.st.LeaseBeat(ctx, pipeline, owner, ranges, expiry)
	o.r.stateRoundTrip(err)
	return hb, err
}

func (o observedLeaser) LeaseAcquire(ctx context.Context, pipeline, owner string, n int, expiry time.Duration) ([]int, error) {
	got, err := o.st.LeaseAcquire(ctx, pipeline, owner, n, expiry)
	o.r.stateRoundTrip(err)
	return got, err
}

func (o observedLeaser) LeaseRelease(ctx context.Context, pipeline, owner string, ranges []int) error {
	err := o.st.LeaseRelease(ctx, pipeline, owner, ranges)
	o.r.stateRoundTrip(err)
	return err
}

func (o observedLeaser) LeaseLeave(ctx context.Context, pipeline, owner string) error {
	err := o.st.LeaseLeave(ctx, pipeline, owner)
	o.r.stateRoundTrip(err)
	return err
}
