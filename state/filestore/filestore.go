// Package filestore keeps file progress in a local directory, for targets
// that are not PostgreSQL (stdout, a file). Progress is written after the
// target has the chunk, so a crash between the two replays that chunk:
// loading through it is at-least-once.
//
// Each pipeline has three files in the directory, named after it:
//
//   - NAME.json, a snapshot of the whole state (the format of the single
//     JSON file older versions rewrote at every step, which therefore opens
//     as a snapshot with an empty log);
//   - NAME.log, the changes since the snapshot, one line per commit
//     (a checksum and a JSON record), appended and fsynced before the step
//     returns; at open the log is replayed over the snapshot. A last line
//     cut short by a crash is dropped (its step never returned); a damaged
//     line before the end is an error naming the file and the line;
//   - NAME.lock, locked while a commit reads and writes the other two.
//
// A step (Start, Advance, Fail, Anchor, Prune) costs one append and one
// fsync, whatever the number of files tracked; steps of concurrent workers
// that arrive together share one fsync. When the log holds more than twice
// as many changes as there are live entries, it is folded into a new
// snapshot (temporary file, fsync, rename, fsync of the directory), so the
// directory stays within a constant times the live state, which Prune
// shrinks.
//
// Every commit takes the lock file and first reads what another process
// appended or compacted since, so processes sharing a directory never
// corrupt it nor undo each other's steps; they do not claim files, so two
// processes on one pipeline may load a file twice (at-least-once).
package filestore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/state"
)

// Store is the file state store.
type Store struct {
	dir string
	// RejectsFile, when set, is the JSON-lines file of rejected records
	// (the stdout and file targets' --rejects-file) that Rejects reads.
	RejectsFile string

	mu    sync.Mutex
	files map[string]*pipelineFile // by pipeline
}

var (
	_ state.Store     = (*Store)(nil)
	_ state.Inspector = (*Store)(nil)
)

// New returns a store keeping its files in dir (created if missing).
func New(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	return &Store{dir: dir, files: map[string]*pipelineFile{}}, nil
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// Path is the snapshot file of a pipeline's progress; the log and the lock
// file are beside it, with the extensions .log and .lock.
func (s *Store) Path(pipeline string) string {
	sum := sha256.Sum256([]byte(pipeline))
	name := unsafeName.ReplaceAllString(pipeline, "_")
	if len(name) > 80 {
		name = name[:80]
	}
	return filepath.Join(s.dir, name+"-"+hex.EncodeToString(sum[:4])+".json")
}

func (s *Store) file(pipeline string) *pipelineFile {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.files[pipeline]
	if !ok {
		snap := s.Path(pipeline)
		base := strings.TrimSuffix(snap, ".json")
		f = &pipelineFile{pipeline: pipeline, snapPath: snap, logPath: base + ".log", lockPath: base + ".lock"}
		s.files[pipeline] = f
	}
	return f
}

// do runs fn on the pipeline's state; see pipelineFile.do.
func (s *Store) do(pipeline string, fn func(*pipelineFile) (record, error)) error {
	return s.file(pipeline).do(fn)
}

func readOnly(fn func(*pipelineFile)) func(*pipelineFile) (record, error) {
	return func(f *pipelineFile) (record, error) {
		fn(f)
		return record{}, nil
	}
}

// Lookup implements state.Store.
func (s *Store) Lookup(_ context.Context, pipeline string, objs []pusher.Object) (map[string]state.Progress, error) {
	out := map[string]state.Progress{}
	err := s.do(pipeline, readOnly(func(f *pipelineFile) {
		for _, o := range objs {
			for _, e := range f.entries[o.Key] {
				out[state.ID(pusher.Object{Key: e.Key, ETag: e.ETag})] = e.progress()
			}
		}
	}))
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Start implements state.Store.
func (s *Store) Start(_ context.Context, pipeline string, obj pusher.Object) (state.Progress, error) {
	var p state.Progress
	err := s.do(pipeline, func(f *pipelineFile) (record, error) {
		e := f.get(obj.Key, obj.ETag)
		if e != nil && e.Status == state.Done {
			p = e.progress()
			return record{}, nil
		}
		now := time.Now().UTC()
		n := entry{Key: obj.Key, ETag: obj.ETag, Size: obj.Size, Counted: true, Started: now}
		if e != nil {
			n = *e
			if e.Status.Gone() {
				// Its rows were deleted: it loads again from its start.
				n.Pos, n.Attempts, n.Loaded, n.Rejected, n.Error, n.Counted = pusher.Position{}, 0, 0, 0, "", true
			}
		}
		if e == nil || e.Status == state.Failed || e.Status.Gone() {
			// A resume of a loading file (after a transient failure, a
			// stop or a crash) is not a new attempt.
			n.Attempts++
		}
		n.Status = state.Loading
		n.Updated, n.Attempted = now, now
		if !obj.LastModified.IsZero() {
			n.Modified = obj.LastModified.UTC()
		}
		f.put(&n)
		p = n.progress()
		return record{Put: []*entry{&n}}, nil
	})
	return p, err
}

// Advance implements state.Store.
func (s *Store) Advance(_ context.Context, pipeline string, c *pusher.Chunk) error {
	return s.do(pipeline, func(f *pipelineFile) (record, error) {
		e := f.get(c.File.Key, c.File.ETag)
		if e == nil || e.Status != state.Loading || e.Pos.Records != c.Start.Records {
			return record{}, fmt.Errorf("state: advance %q: file is not loading at record %d", c.File.Key, c.Start.Records)
		}
		n := advanced(e, c)
		f.put(n)
		return record{Put: []*entry{n}}, nil
	})
}

// AdvanceGroup implements pusher.GroupProgress: the chunks, of different
// files, advance in one appended record (one sync), all or none.
func (s *Store) AdvanceGroup(_ context.Context, pipeline string, cs []*pusher.Chunk) error {
	return s.do(pipeline, func(f *pipelineFile) (record, error) {
		put := make([]*entry, len(cs))
		for i, c := range cs {
			e := f.get(c.File.Key, c.File.ETag)
			if e == nil || e.Status != state.Loading || e.Pos.Records != c.Start.Records {
				return record{}, fmt.Errorf("state: advance %q: file is not loading at record %d", c.File.Key, c.Start.Records)
			}
			for _, p := range put[:i] {
				if p.Key == e.Key && p.ETag == e.ETag {
					return record{}, fmt.Errorf("state: advance %q: two chunks of the file in one group", c.File.Key)
				}
			}
			put[i] = advanced(e, c)
		}
		for _, n := range put {
			f.put(n)
		}
		return record{Put: put}, nil
	})
}

// advanced is e moved past the committed chunk c.
func advanced(e *entry, c *pusher.Chunk) *entry {
	n := *e
	n.Pos = c.End
	loaded, rejected := state.Counts(c)
	n.Loaded += loaded
	n.Rejected += rejected
	n.Rescued += int64(c.Rescued)
	n.Error = ""
	n.Updated = time.Now().UTC()
	if c.Last {
		n.Status = state.Done
		if c.AfterLoad != "" {
			n.AfterLoad = &afterLoad{Status: state.AfterLoadPending, Action: c.AfterLoad, At: n.Updated}
		}
	}
	return &n
}

// Fail implements state.Store.
func (s *Store) Fail(_ context.Context, pipeline string, obj pusher.Object, cause error) error {
	return s.do(pipeline, func(f *pipelineFile) (record, error) {
		e := f.get(obj.Key, obj.ETag)
		if e == nil || e.Status == state.Done {
			return record{}, nil
		}
		n := *e
		n.Status = state.Failed
		n.Error = cause.Error()
		n.Updated = time.Now().UTC()
		f.put(&n)
		return record{Put: []*entry{&n}}, nil
	})
}

var _ state.Haver = (*Store)(nil)

// Has implements state.Haver: the pipeline's snapshot or log exists and
// holds a file or an anchor. A pipeline never written to is not read (and
// so its files are not created).
func (s *Store) Has(_ context.Context, pipeline string) (bool, error) {
	snap := s.Path(pipeline)
	found := false
	for _, p := range []string{snap, strings.TrimSuffix(snap, ".json") + ".log"} {
		if _, err := os.Stat(p); err == nil {
			found = true
		} else if !errors.Is(err, os.ErrNotExist) {
			return false, fmt.Errorf("state: %w", err)
		}
	}
	if !found {
		return false, nil
	}
	var has bool
	err := s.do(pipeline, readOnly(func(f *pipelineFile) {
		has = len(f.entries) > 0 || !f.anchor.IsZero()
	}))
	return has, err
}

// Anchor implements state.Store.
func (s *Store) Anchor(_ context.Context, pipeline string, t time.Time) (time.Time, error) {
	var got time.Time
	err := s.do(pipeline, func(f *pipelineFile) (record, error) {
		if !f.anchor.IsZero() {
			got = f.anchor
			return record{}, nil
		}
		f.anchor = t.UTC()
		got = f.anchor
		return record{Anchor: f.anchor}, nil
	})
	if err != nil {
		return t, err
	}
	return got, nil
}

// Prune implements state.Store.
func (s *Store) Prune(_ context.Context, pipeline string, before time.Time, belowKey string) (int64, error) {
	var gone []fileID
	err := s.do(pipeline, func(f *pipelineFile) (record, error) {
		gone = gone[:0]
		f.each(func(e *entry) {
			if (e.Status == state.Done || e.Status.Gone()) && e.Updated.Before(before) && (belowKey == "" || e.Key < belowKey) && !e.actionDue() {
				gone = append(gone, fileID{Key: e.Key, ETag: e.ETag})
			}
		})
		for _, id := range gone {
			f.del(id.Key, id.ETag)
		}
		return record{Del: gone}, nil
	})
	if err != nil {
		return 0, err
	}
	return int64(len(gone)), nil
}

// StartAfter implements state.Store.
func (s *Store) StartAfter(_ context.Context, pipeline string, keepKeys int, since time.Time) (string, error) {
	var after string
	err := s.do(pipeline, readOnly(func(f *pipelineFile) { after = f.startAfter(keepKeys, since) }))
	return after, err
}

func (f *pipelineFile) startAfter(keepKeys int, since time.Time) string {
	var done []string
	var old, minLoading string
	f.each(func(e *entry) {
		switch {
		case e.Status == state.Done:
			done = append(done, e.Key)
			if !since.IsZero() && e.Updated.Before(since) && e.Key > old {
				old = e.Key
			}
		case e.Status == state.Loading && (minLoading == "" || e.Key < minLoading):
			minLoading = e.Key
		}
	})
	var bounds []string
	if keepKeys > 0 {
		sort.Strings(done)
		if len(done) <= keepKeys {
			return ""
		}
		bounds = append(bounds, done[len(done)-keepKeys-1])
	}
	if !since.IsZero() {
		if old == "" {
			return ""
		}
		bounds = append(bounds, old)
	}
	if len(bounds) == 0 {
		return ""
	}
	after := slices.Min(bounds)
	if minLoading != "" && minLoading <= after {
		// Start just before the file still loading.
		prev := ""
		for k := range f.entries {
			if k < minLoading && k > prev {
				prev = k
			}
		}
		return prev
	}
	return after
}

// Close implements state.Store. It closes the store's files; a store used
// after Close opens them again.
func (s *Store) Close() error {
	s.mu.Lock()
	files := make([]*pipelineFile, 0, len(s.files))
	for _, f := range s.files {
		files = append(files, f)
	}
	s.mu.Unlock()
	var errs []error
	for _, f := range files {
		errs = append(errs, f.closeFiles())
	}
	return errors.Join(errs...)
}
