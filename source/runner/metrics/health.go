package metrics

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// DefaultWindow is how recent the last successful round trip must be for
// a pipeline to be ready.
const DefaultWindow = time.Minute

// Health keeps the outcome of the last round trips to the state and
// target (PostgreSQL, or the state directory) and to the source (a
// listing page, a queue receive), and says whether the pipeline is ready:
// the last of each succeeded within its window. The zero value is not
// usable; see NewHealth.
type Health struct {
	// StateWindow and SourceWindow are how recent the last success must
	// be (default DefaultWindow). SourceWindow < 0: any age (a snapshot,
	// which lists once).
	StateWindow, SourceWindow time.Duration
	// Ping, when set, makes a state/target round trip when the last one
	// failed or is older than twice PingEvery (an idle pipeline, or one
	// whose files are known done, talks to nobody; a server that went away
	// shows within seconds): /readyz calls it, at most every PingEvery.
	Ping      func(context.Context) error
	PingEvery time.Duration

	now      func() time.Time
	pingMu   sync.Mutex // one ping at a time
	mu       sync.Mutex
	state    probe
	source   probe
	lastPing time.Time
}

// probe is what is known of one service's round trips.
type probe struct {
	ok, failed time.Time // last success, last failure
	err        error     // the last failure's
}

// NewHealth returns a Health with the default windows, and no round trip
// seen yet.
func NewHealth() *Health {
	return &Health{StateWindow: DefaultWindow, SourceWindow: DefaultWindow, PingEvery: 5 * time.Second, now: time.Now}
}

// State records a state/target round trip: nil when the service answered.
func (h *Health) State(err error) { h.record(&h.state, err) }

// Source records a listing or receive: nil when it succeeded.
func (h *Health) Source(err error) { h.record(&h.source, err) }

func (h *Health) record(p *probe, err error) {
	now := h.now()
	h.mu.Lock()
	defer h.mu.Unlock()
	if err == nil {
		p.ok = now
	} else {
		p.failed, p.err = now, err
	}
}

// Ready says whether the pipeline is ready, and if not, why, in one line.
// It pings the state first when a ping is due (see Ping).
func (h *Health) Ready(ctx context.Context) (bool, string) {
	h.pingIfDue(ctx)
	now := h.now()
	h.mu.Lock()
	defer h.mu.Unlock()
	if why := h.state.why("state/target", now, h.StateWindow); why != "" {
		return false, why
	}
	if why := h.source.why("source (listing or queue receive)", now, h.SourceWindow); why != "" {
		return false, why
	}
	return true, "ready"
}

// why says why p is not ready, or "".
func (p probe) why(what string, now time.Time, window time.Duration) string {
	switch {
	case p.failed.After(p.ok):
		return fmt.Sprintf("%s: last round trip failed %s ago: %s", what, age(now, p.failed), oneLine(p.err.Error()))
	case p.ok.IsZero():
		return what + ": no successful round trip yet"
	case window >= 0 && now.Sub(p.ok) > window:
		return fmt.Sprintf("%s: no successful round trip for %s", what, age(now, p.ok))
	}
	return ""
}

// pingIfDue pings the state when the last round trip failed or is old.
func (h *Health) pingIfDue(ctx context.Context) {
	if h.Ping == nil {
		return
	}
	h.pingMu.Lock()
	defer h.pingMu.Unlock()
	now := h.now()
	h.mu.Lock()
	due := (h.state.failed.After(h.state.ok) || now.Sub(h.state.ok) > 2*h.PingEvery) && now.Sub(h.lastPing) >= h.PingEvery
	if due {
		h.lastPing = now
	}
	h.mu.Unlock()
	if !due {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	h.State(h.Ping(ctx))
}

func age(now, t time.Time) time.Duration { return now.Sub(t).Round(time.Second) }

// oneLine keeps the first line of a message (a driver's errors may span
// several).
func oneLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
