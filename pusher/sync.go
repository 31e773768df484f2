package pusher

import (
	"context"
	"sync"
)

// Sync writes each chunk to the target in Push. When the target does not
// commit progress itself, Sync records it right after the target has the
// chunk (at-least-once: a crash between the two replays the chunk).
type Sync struct {
	target   Target
	progress Progress
	pipeline string

	mu      sync.Mutex
	rejects map[string]*rejectCount // files read, by Object.ID
}

var _ Pusher = (*Sync)(nil)

// NewSync returns a sync pusher. progress may be nil when the target
// commits progress itself.
func NewSync(t Target, progress Progress, pipeline string) *Sync {
	return &Sync{target: t, progress: progress, pipeline: pipeline, rejects: map[string]*rejectCount{}}
}

// Push implements Pusher: the chunk is committed when it returns nil.
func (s *Sync) Push(ctx context.Context, c *Chunk) error {
	defer c.Release()
	readerRejects := len(c.Rejects)
	s.mu.Lock()
	r := s.rejects[c.File.ID()]
	if r == nil {
		r = &rejectCount{}
		s.rejects[c.File.ID()] = r
	}
	r.limit(c)
	s.mu.Unlock()
	err := s.target.Write(ctx, c)
	if err == nil && !s.target.CommitsProgress() {
		err = s.progress.Advance(ctx, s.pipeline, c)
	}
	if err != nil {
		return err
	}
	s.mu.Lock()
	r.add(c, readerRejects)
	s.mu.Unlock()
	return nil
}

// Finish implements Pusher: every chunk pushed is already committed, so
// done runs at once, with readErr.
func (s *Sync) Finish(obj Object, readErr error, done func(FileResult)) {
	s.mu.Lock()
	var n, rescued int64
	if r := s.rejects[obj.ID()]; r != nil {
		n, rescued = r.total, r.rescued
		delete(s.rejects, obj.ID())
	}
	s.mu.Unlock()
	done(FileResult{Err: readErr, Rejects: n, Rescued: rescued})
}
