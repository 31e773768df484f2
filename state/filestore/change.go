package filestore

import (
	"context"
	"fmt"
	"time"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/state"
)

var _ state.Replacer = (*Store)(nil)

// Replace implements state.Replacer.
func (s *Store) Replace(_ context.Context, pipeline string, obj pusher.Object) error {
	return s.do(pipeline, func(f *pipelineFile) (record, error) {
		return f.markGone(obj.Key, func(e *entry) bool { return e.ETag != obj.ETag }, state.Replaced), nil
	})
}

// markGone marks the versions of key that match with status (Replaced or
// Removed), their position back at the start, and returns the record.
func (f *pipelineFile) markGone(key string, match func(*entry) bool, status state.Status) record {
	var put []*entry
	now := time.Now().UTC()
	for _, e := range f.entries[key] {
		if e.Status.Gone() || !match(e) {
			continue
		}
		n := *e
		n.Status, n.Pos, n.Error, n.Updated, n.Tail = status, pusher.Position{}, "", now, nil
		put = append(put, &n)
	}
	for _, n := range put {
		f.put(n)
	}
	return record{Put: put}
}

var _ state.Resumer = (*Store)(nil)

// SetTail implements state.Resumer.
func (s *Store) SetTail(_ context.Context, pipeline string, obj pusher.Object, t state.Tail) error {
	return s.do(pipeline, func(f *pipelineFile) (record, error) {
		e := f.get(obj.Key, obj.ETag)
		if e == nil {
			return record{}, fmt.Errorf("state: checksum of %q: no such file version", obj.Key)
		}
		n := *e
		n.Tail = &t
		f.put(&n)
		return record{Put: []*entry{&n}}, nil
	})
}

// Tail implements state.Resumer.
func (s *Store) Tail(_ context.Context, pipeline string, obj pusher.Object) (state.Tail, error) {
	var t state.Tail
	err := s.do(pipeline, readOnly(func(f *pipelineFile) {
		if e := f.get(obj.Key, obj.ETag); e != nil && e.Tail != nil {
			t = *e.Tail
		}
	}))
	return t, err
}

// StartAt implements state.Resumer.
func (s *Store) StartAt(_ context.Context, pipeline string, obj pusher.Object, pos pusher.Position) error {
	return s.do(pipeline, func(f *pipelineFile) (record, error) {
		e := f.get(obj.Key, obj.ETag)
		if e == nil || e.Status != state.Loading || e.Pos != (pusher.Position{}) {
			return record{}, fmt.Errorf("state: start %q at record %d: file is not loading at its start", obj.Key, pos.Records)
		}
		n := *e
		n.Pos = pos
		f.put(&n)
		return record{Put: []*entry{&n}}, nil
	})
}

var _ state.Remover = (*Store)(nil)

// Remove implements state.Remover.
func (s *Store) Remove(_ context.Context, pipeline, key string) error {
	return s.do(pipeline, func(f *pipelineFile) (record, error) {
		return f.markGone(key, func(*entry) bool { return true }, state.Removed), nil
	})
}
