package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source"
)

// DefaultReadTimeout is Config.ReadTimeout's default.
const DefaultReadTimeout = time.Minute

// ErrStalled is wrapped by a read abandoned after Config.ReadTimeout
// without a byte. It is classed pusher.ClassUnavailable.
var ErrStalled = errors.New("no byte received")

func (c Config) readTimeout() time.Duration {
	if c.ReadTimeout == 0 {
		return DefaultReadTimeout
	}
	return c.ReadTimeout
}

// openGuarded opens obj at off under its own context, which is cancelled
// (abandoning the request) when the open, or a read of the body, gets no
// byte for timeout (none when timeout < 0). Closing the body ends the
// context.
func openGuarded(ctx context.Context, store source.Store, obj pusher.Object, off int64, timeout time.Duration) (io.ReadCloser, error) {
	octx, cancel := context.WithCancel(ctx)
	if timeout < 0 {
		b, err := store.Open(octx, obj, off)
		if err != nil {
			cancel()
			return nil, err
		}
		return &guardedBody{ReadCloser: b, cancel: cancel}, nil
	}
	g := &guardedBody{cancel: cancel, timeout: timeout, key: obj.Key, off: off}
	g.timer = time.AfterFunc(timeout, func() {
		g.fired.Store(true)
		cancel()
		if a, ok := g.body.Load().(aborter); ok {
			a.Abort()
		}
	})
	b, err := store.Open(octx, obj, off)
	g.timer.Stop()
	if err != nil {
		err = g.stalled(err)
		cancel()
		return nil, err
	}
	g.ReadCloser = b
	g.body.Store(b)
	return g, nil
}

// aborter is a body opened under a context of its own (one fetched
// ahead), which Abort cancels.
type aborter interface{ Abort() }

// guardedBody is a body whose reads are abandoned after a timeout without
// a byte.
type guardedBody struct {
	io.ReadCloser
	cancel  context.CancelFunc
	timeout time.Duration // 0: no guard
	timer   *time.Timer
	fired   atomic.Bool
	body    atomic.Value // the body, for the timer
	key     string
	off     int64 // where the body starts
	n       int64 // bytes read
}

func (g *guardedBody) Read(p []byte) (int, error) {
	if g.timer == nil {
		return g.ReadCloser.Read(p)
	}
	g.timer.Reset(g.timeout)
	n, err := g.ReadCloser.Read(p)
	g.timer.Stop()
	g.n += int64(n)
	if err != nil && err != io.EOF {
		err = g.stalled(err)
	}
	return n, err
}

// stalled replaces err by a stall error when the timer fired.
func (g *guardedBody) stalled(err error) error {
	if !g.fired.Load() {
		return err
	}
	return pusher.Unavailable(fmt.Errorf("read %q at byte %d: %w for %v (--read-timeout), request abandoned", g.key, g.off+g.n, ErrStalled, g.timeout))
}

func (g *guardedBody) Close() error {
	if g.timer != nil {
		g.timer.Stop()
	}
	err := g.ReadCloser.Close()
	g.cancel()
	return err
}
