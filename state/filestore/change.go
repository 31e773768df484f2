package filestore

import (
	"context"
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
		n.Status, n.Pos, n.Error, n.Updated = status, pusher.Position{}, "", now
		put = append(put, &n)
	}
	for _, n := range put {
		f.put(n)
	}
	return record{Put: put}
}
