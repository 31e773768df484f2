// Package backoff spaces out the retries of an operation that failed for a
// transient reason: exponential delays with jitter, within a total budget.
package backoff

import (
	"context"
	"math"
	"math/rand/v2"
	"time"
)

// Defaults of a Policy's zero fields.
const (
	DefaultInitial    = 100 * time.Millisecond
	DefaultMax        = 10 * time.Second
	DefaultMaxElapsed = 5 * time.Minute
	// Forever, as Policy.MaxElapsed, never stops retrying.
	Forever = time.Duration(math.MaxInt64)
)

// Policy says how long to wait between tries.
type Policy struct {
	// Initial is the first delay (DefaultInitial when 0); each next one
	// doubles, up to Max (DefaultMax when 0).
	Initial, Max time.Duration
	// MaxElapsed bounds the time spent retrying since the first failure
	// (or the last Reset): once the next delay would end past it, Next
	// says stop. 0: DefaultMaxElapsed; negative: no retry at all.
	MaxElapsed time.Duration
}

// Backoff is one operation's sequence of delays. Not safe for concurrent
// use.
type Backoff struct {
	p     Policy
	began time.Time // of the current series; zero before the first Next
	delay time.Duration
	tries int
}

// New starts a sequence of delays under p.
func New(p Policy) *Backoff {
	if p.Initial <= 0 {
		p.Initial = DefaultInitial
	}
	if p.Max <= 0 {
		p.Max = DefaultMax
	}
	if p.MaxElapsed == 0 {
		p.MaxElapsed = DefaultMaxElapsed
	}
	return &Backoff{p: p}
}

// Next returns the delay before the next try, and false when the budget
// is spent. The delay is drawn between half and all of the current step
// (jitter), so that clients failing together do not retry together.
func (b *Backoff) Next() (time.Duration, bool) {
	if b.p.MaxElapsed < 0 {
		return 0, false
	}
	now := time.Now()
	if b.began.IsZero() {
		b.began, b.delay = now, b.p.Initial
	}
	d := b.delay/2 + rand.N(b.delay/2+1)
	if now.Add(d).Sub(b.began) > b.p.MaxElapsed {
		return 0, false
	}
	b.delay = min(2*b.delay, b.p.Max)
	b.tries++
	return d, true
}

// Tries returns the number of delays handed out since the last Reset.
func (b *Backoff) Tries() int { return b.tries }

// Elapsed returns the time since the first failure of the current series.
func (b *Backoff) Elapsed() time.Duration {
	if b.began.IsZero() {
		return 0
	}
	return time.Since(b.began)
}

// Reset starts a new series: the operation made progress.
func (b *Backoff) Reset() { b.began, b.delay, b.tries = time.Time{}, 0, 0 }

// Sleep waits d, or until ctx is done (returning its error).
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
