package pusher

import (
	"context"
)

// Sync writes each chunk to the target in Push. When the target does not
// commit progress itself, Sync records it in the state store right after the
// target has the chunk (at-least-once: a crash between the two replays the
// chunk).
type Sync struct {
	target   Target
	state    Progress
	pipeline string
}

var _ Pusher = (*Sync)(nil)

// NewSync returns a sync pusher.
func NewSync(t Target, st Progress, pipeline string) *Sync {
	return &Sync{target: t, state: st, pipeline: pipeline}
}

// Push implements Pusher: the chunk is committed when it returns nil.
func (s *Sync) Push(ctx context.Context, c *Chunk) error {
	err := s.target.Write(ctx, c)
	if err == nil && !s.target.CommitsProgress() {
		err = s.state.Advance(ctx, s.pipeline, c)
	}
	c.Release()
	return err
}

// Ack implements Pusher: a pushed chunk is already committed.
func (s *Sync) Ack(c *Chunk) (bool, error) { return c.Last, nil }
