package filestore

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/state"
)

var _ state.AfterLoader = (*Store)(nil)

// actionDue says whether e's --after-load action is still to do (pending,
// or failed and to be tried again): Prune keeps such an entry.
func (e *entry) actionDue() bool {
	return e.Status == state.Done && e.AfterLoad != nil &&
		(e.AfterLoad.Status == state.AfterLoadPending || e.AfterLoad.Status == state.AfterLoadFailed)
}

// AfterLoads implements state.AfterLoader.
func (s *Store) AfterLoads(_ context.Context, pipeline string, limit int) ([]state.AfterLoadFile, error) {
	var out []state.AfterLoadFile
	err := s.do(pipeline, readOnly(func(f *pipelineFile) {
		f.each(func(e *entry) {
			if e.actionDue() {
				out = append(out, state.AfterLoadFile{
					Object:    pusher.Object{Key: e.Key, ETag: e.ETag, Size: e.Size, LastModified: e.Modified},
					AfterLoad: e.AfterLoad.info()})
			}
		})
	}))
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b state.AfterLoadFile) int {
		return cmp.Or(a.AfterLoad.At.Compare(b.AfterLoad.At), strings.Compare(a.Object.Key, b.Object.Key),
			strings.Compare(a.Object.ETag, b.Object.ETag))
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// AfterLoaded implements state.AfterLoader.
func (s *Store) AfterLoaded(_ context.Context, pipeline string, obj pusher.Object, status state.AfterLoadStatus, cause error) error {
	return s.do(pipeline, func(f *pipelineFile) (record, error) {
		e := f.get(obj.Key, obj.ETag)
		if e == nil || e.AfterLoad == nil {
			return record{}, nil
		}
		n := *e
		a := *e.AfterLoad
		a.Status, a.At = status, time.Now().UTC()
		switch {
		case status == state.AfterLoadDone:
			a.Error = ""
		case cause != nil:
			a.Error = cause.Error()
		}
		if status == state.AfterLoadFailed {
			a.Attempts++
		}
		n.AfterLoad = &a
		f.put(&n)
		return record{Put: []*entry{&n}}, nil
	})
}

// TakenByAfterLoad implements state.AfterLoader.
func (s *Store) TakenByAfterLoad(_ context.Context, pipeline, key string) (bool, error) {
	taken := false
	err := s.do(pipeline, readOnly(func(f *pipelineFile) {
		for _, e := range f.entries[key] {
			if e.Status.Gone() {
				continue
			}
			a := e.AfterLoad
			if e.Status != state.Done || a == nil || a.Status != state.AfterLoadPending && a.Status != state.AfterLoadDone ||
				!(a.Action == "delete" || strings.HasPrefix(a.Action, "move:")) {
				taken = false
				return
			}
			taken = true
		}
	}))
	return taken, err
}
