// Package filestore keeps file progress in a local JSON file per pipeline,
// for targets that are not PostgreSQL (stdout, a file). Progress is written
// after the target has the chunk, so a crash between the two replays that
// chunk: loading through it is at-least-once.
//
// The file is rewritten atomically (temporary file, fsync, rename) on every
// change; one process at a time may use a pipeline's file.
package filestore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/state"
)

// Store is the file state store.
type Store struct {
	dir string

	mu    sync.Mutex
	files map[string]*pipelineFile // by pipeline
}

var _ state.Store = (*Store)(nil)

type entry struct {
	Key      string          `json:"key"`
	ETag     string          `json:"etag"`
	Size     int64           `json:"size"`
	Status   state.Status    `json:"status"`
	Pos      pusher.Position `json:"position"`
	Attempts int             `json:"attempts"`
	Error    string          `json:"error,omitempty"`
	Updated  time.Time       `json:"updated_at"`
}

type document struct {
	Version  int       `json:"version"`
	Pipeline string    `json:"pipeline"`
	Anchor   time.Time `json:"anchor,omitzero"`
	Files    []*entry  `json:"files"`
}

type pipelineFile struct {
	path    string
	doc     document
	entries map[string]*entry
}

// New returns a store keeping its files in dir (created if missing).
func New(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	return &Store{dir: dir, files: map[string]*pipelineFile{}}, nil
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// Path is the file that holds a pipeline's progress.
func (s *Store) Path(pipeline string) string {
	sum := sha256.Sum256([]byte(pipeline))
	name := unsafeName.ReplaceAllString(pipeline, "_")
	if len(name) > 80 {
		name = name[:80]
	}
	return filepath.Join(s.dir, name+"-"+hex.EncodeToString(sum[:4])+".json")
}

func (s *Store) open(pipeline string) (*pipelineFile, error) {
	if f, ok := s.files[pipeline]; ok {
		return f, nil
	}
	f := &pipelineFile{path: s.Path(pipeline), entries: map[string]*entry{}}
	f.doc = document{Version: 1, Pipeline: pipeline}
	b, err := os.ReadFile(f.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("state: %w", err)
	default:
		if err := json.Unmarshal(b, &f.doc); err != nil {
			return nil, fmt.Errorf("state: %s is not a ferry state file: %w", f.path, err)
		}
		for _, e := range f.doc.Files {
			f.entries[state.ID(pusher.Object{Key: e.Key, ETag: e.ETag})] = e
		}
	}
	s.files[pipeline] = f
	return f, nil
}

func (f *pipelineFile) save() error {
	b, err := json.MarshalIndent(f.doc, "", " ")
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(f.path), ".state-*")
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	defer os.Remove(tmp.Name()) //nolint:errcheck // gone after rename
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("state: write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("state: sync %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	if err := os.Rename(tmp.Name(), f.path); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	return nil
}

// Lookup implements state.Store.
func (s *Store) Lookup(_ context.Context, pipeline string, objs []pusher.Object) (map[string]state.Progress, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.open(pipeline)
	if err != nil {
		return nil, err
	}
	keys := make(map[string]bool, len(objs))
	for _, o := range objs {
		keys[o.Key] = true
	}
	out := map[string]state.Progress{}
	for _, e := range f.doc.Files {
		if keys[e.Key] {
			out[state.ID(pusher.Object{Key: e.Key, ETag: e.ETag})] = e.progress()
		}
	}
	return out, nil
}

func (e *entry) progress() state.Progress {
	return state.Progress{Status: e.Status, Pos: e.Pos, Attempts: e.Attempts, Error: e.Error}
}

// Start implements state.Store.
func (s *Store) Start(_ context.Context, pipeline string, obj pusher.Object) (state.Progress, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.open(pipeline)
	if err != nil {
		return state.Progress{}, err
	}
	e, ok := f.entries[state.ID(obj)]
	if !ok {
		e = &entry{Key: obj.Key, ETag: obj.ETag, Size: obj.Size}
		f.entries[state.ID(obj)] = e
		f.doc.Files = append(f.doc.Files, e)
	}
	if e.Status != state.Done {
		e.Status = state.Loading
		e.Attempts++
		e.Updated = time.Now().UTC()
	}
	return e.progress(), f.save()
}

// Advance implements state.Store.
func (s *Store) Advance(_ context.Context, pipeline string, c *pusher.Chunk) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.open(pipeline)
	if err != nil {
		return err
	}
	e, ok := f.entries[state.ID(c.File)]
	if !ok || e.Status != state.Loading || e.Pos.Records != c.Start.Records {
		return fmt.Errorf("state: advance %q: file is not loading at record %d", c.File.Key, c.Start.Records)
	}
	e.Pos = c.End
	e.Error = ""
	e.Updated = time.Now().UTC()
	if c.Last {
		e.Status = state.Done
	}
	return f.save()
}

// Fail implements state.Store.
func (s *Store) Fail(_ context.Context, pipeline string, obj pusher.Object, cause error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.open(pipeline)
	if err != nil {
		return err
	}
	if e, ok := f.entries[state.ID(obj)]; ok && e.Status != state.Done {
		e.Status = state.Failed
		e.Error = cause.Error()
		e.Updated = time.Now().UTC()
		return f.save()
	}
	return nil
}

// Anchor implements state.Store.
func (s *Store) Anchor(_ context.Context, pipeline string, t time.Time) (time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.open(pipeline)
	if err != nil {
		return t, err
	}
	if !f.doc.Anchor.IsZero() {
		return f.doc.Anchor, nil
	}
	f.doc.Anchor = t.UTC()
	return f.doc.Anchor, f.save()
}

// Prune implements state.Store.
func (s *Store) Prune(_ context.Context, pipeline string, before time.Time, belowKey string) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.open(pipeline)
	if err != nil {
		return 0, err
	}
	kept := f.doc.Files[:0]
	var n int64
	for _, e := range f.doc.Files {
		if e.Status == state.Done && e.Updated.Before(before) && (belowKey == "" || e.Key < belowKey) {
			delete(f.entries, state.ID(pusher.Object{Key: e.Key, ETag: e.ETag}))
			n++
			continue
		}
		kept = append(kept, e)
	}
	f.doc.Files = kept
	if n == 0 {
		return 0, nil
	}
	return n, f.save()
}

// StartAfter implements state.Store.
func (s *Store) StartAfter(_ context.Context, pipeline string, keepKeys int, since time.Time) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.open(pipeline)
	if err != nil {
		return "", err
	}
	var done []string
	var old, minLoading string
	for _, e := range f.doc.Files {
		switch {
		case e.Status == state.Done:
			done = append(done, e.Key)
			if !since.IsZero() && e.Updated.Before(since) && e.Key > old {
				old = e.Key
			}
		case e.Status == state.Loading && (minLoading == "" || e.Key < minLoading):
			minLoading = e.Key
		}
	}
	var bounds []string
	if keepKeys > 0 {
		sort.Strings(done)
		if len(done) <= keepKeys {
			return "", nil
		}
		bounds = append(bounds, done[len(done)-keepKeys-1])
	}
	if !since.IsZero() {
		if old == "" {
			return "", nil
		}
		bounds = append(bounds, old)
	}
	if len(bounds) == 0 {
		return "", nil
	}
	after := slices.Min(bounds)
	if minLoading != "" && minLoading <= after {
		// Start just before the file still loading.
		prev := ""
		for _, e := range f.doc.Files {
			if e.Key < minLoading && e.Key > prev {
				prev = e.Key
			}
		}
		return prev, nil
	}
	return after, nil
}

// Close implements state.Store.
func (s *Store) Close() error { return nil }
