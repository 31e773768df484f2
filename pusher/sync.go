package pusher

import (
	"context"

	"github.com/ferrydata/ferry/source"
	"github.com/ferrydata/ferry/state"
	"github.com/ferrydata/ferry/targets"
)

// Sync writes each chunk to the target in Push. When the target does not
// commit progress itself, Sync records it in the state store right after the
// target has the chunk (at-least-once: a crash between the two replays the
// chunk).
type Sync struct {
	target   targets.Target
	state    state.Store
	pipeline string
}

var _ Pusher = (*Sync)(nil)

// NewSync returns a sync pusher.
func NewSync(t targets.Target, st state.Store, pipeline string) *Sync {
	return &Sync{target: t, state: st, pipeline: pipeline}
}

// Push implements Pusher: the chunk is committed when it returns nil.
func (s *Sync) Push(ctx context.Context, c *source.Chunk) error {
	err := s.target.Write(ctx, c)
	if err == nil && !s.target.CommitsProgress() {
		err = s.state.Advance(ctx, s.pipeline, c)
	}
	c.Release()
	return err
}

// Ack implements Pusher: a pushed chunk is already committed.
func (s *Sync) Ack(c *source.Chunk) (bool, error) { return c.Last, nil }
