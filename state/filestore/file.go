package filestore

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/ferrydata/ferry/pusher"
)

// Compaction: the log is folded into a new snapshot once it holds more
// than compactFloor changes and more than compactRatio times the number of
// live entries, so the directory stays within a constant times the live
// state and each step costs O(1) amortized.
var (
	compactFloor = 8192
	compactRatio = 2
)

// The writes to the state files go through these, which tests replace to
// fail them (a full disk, a read-only file system) or tear them.
var (
	writeTo  = func(f *os.File, b []byte) (int, error) { return f.Write(b) }
	truncate = func(f *os.File, size int64) error { return f.Truncate(size) }
	rename   = os.Rename
)

// unwritable marks an error writing the state files as
// pusher.ClassUnavailable: a full disk or a read-only directory is not
// the file's fault; the file stays where its last durable step left it
// and is resumed once the state can be written again.
func unwritable(err error) error { return pusher.Unavailable(err) }

// ioError marks an error reading the state files as unwritable does when
// the file system failed (a *fs.PathError: the directory cannot be read
// or created); a corrupt file stays an error of its own.
func ioError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return unwritable(err)
	}
	return err
}

// pipelineFile is the state of one pipeline: the snapshot (base.json), the
// log appended since (base.log) and the lock file (base.lock).
//
// Calls are queued; the first caller with no commit under way leads: it
// takes every queued call, runs them in order against the in-memory state
// under the lock file, writes their changes as one log line, fsyncs once,
// and wakes them. So each call returns only once its change is durable,
// and concurrent workers share fsyncs.
type pipelineFile struct {
	pipeline                    string
	snapPath, logPath, lockPath string

	qmu     sync.Mutex
	queue   []*call
	leading bool

	// Owned by the leader.
	lock    *os.File
	log     *os.File // nil until loaded
	off     int64    // bytes of the log applied
	lines   int      // lines of the log applied
	logOps  int      // changes in the log (puts, dels, anchors)
	anchor  time.Time
	entries map[string]map[string]*entry // key → ETag → entry
	live    int
}

type call struct {
	fn    func(*pipelineFile) (record, error)
	close bool // close the files after the commit
	err   error
	lead  bool
	wake  chan struct{}
}

// do runs fn against the pipeline's state, caught up with the files on
// disk, and returns once the change fn returns is durable. fn may change
// the in-memory state; when the change cannot be written, the state is
// dropped and read again from disk by the next call.
func (f *pipelineFile) do(fn func(*pipelineFile) (record, error)) error {
	return f.run(&call{fn: fn, wake: make(chan struct{})})
}

// closeFiles closes the pipeline's files once the queued calls are done;
// a later call opens them again.
func (f *pipelineFile) closeFiles() error {
	return f.run(&call{fn: func(*pipelineFile) (record, error) { return record{}, nil }, close: true, wake: make(chan struct{})})
}

func (f *pipelineFile) run(c *call) error {
	f.qmu.Lock()
	f.queue = append(f.queue, c)
	if f.leading {
		f.qmu.Unlock()
		<-c.wake
		if !c.lead {
			return c.err
		}
		f.qmu.Lock()
	}
	f.leading = true
	batch := f.queue
	f.queue = nil
	f.qmu.Unlock()

	f.commit(batch)
	for _, b := range batch {
		if b.close {
			if err := f.close(); err != nil && b.err == nil {
				b.err = fmt.Errorf("state: %w", err)
			}
		}
	}
	for _, b := range batch {
		if b != c {
			close(b.wake)
		}
	}

	f.qmu.Lock()
	if len(f.queue) > 0 {
		next := f.queue[0]
		next.lead = true
		close(next.wake)
	} else {
		f.leading = false
	}
	f.qmu.Unlock()
	return c.err
}

func (f *pipelineFile) commit(batch []*call) {
	fail := func(err error) {
		for _, c := range batch {
			if c.err == nil {
				c.err = err
			}
		}
	}
	if !slices.ContainsFunc(batch, func(c *call) bool { return !c.close }) {
		return // only closing: nothing to read
	}
	if err := f.lockFile(); err != nil {
		fail(ioError(err))
		return
	}
	defer f.unlockFile()
	if err := f.refresh(); err != nil {
		f.drop()
		fail(ioError(err))
		return
	}
	var rec record
	for _, c := range batch {
		r, err := c.fn(f)
		if c.err = err; err == nil {
			rec.add(r)
		}
	}
	if rec.empty() {
		return
	}
	if err := f.append(rec); err != nil {
		f.drop()
		fail(unwritable(err))
		return
	}
	if f.logOps > compactFloor && f.logOps > compactRatio*f.live {
		if err := f.compact(); err != nil {
			// The changes are durable in the log, and the old snapshot
			// and log still hold them (compact replaces each file
			// whole); the callers hear that the directory cannot be
			// written.
			f.drop()
			fail(unwritable(err))
		}
	}
}

func (f *pipelineFile) lockFile() error {
	if f.lock == nil {
		l, err := os.OpenFile(f.lockPath, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return fmt.Errorf("state: %w", err)
		}
		f.lock = l
	}
	if err := lockExclusive(f.lock); err != nil {
		return fmt.Errorf("state: lock %s: %w", f.lockPath, err)
	}
	return nil
}

func (f *pipelineFile) unlockFile() { unlock(f.lock) } //nolint:errcheck // closing the file frees it too

// refresh loads the state, or catches up with what another process
// appended or compacted since this one last looked.
func (f *pipelineFile) refresh() error {
	if f.log == nil {
		return f.load()
	}
	onDisk, err := os.Stat(f.logPath)
	if err != nil {
		return f.load()
	}
	mine, err := f.log.Stat()
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	switch {
	case !os.SameFile(onDisk, mine) || onDisk.Size() < f.off:
		return f.load()
	case onDisk.Size() > f.off:
		return f.replay(onDisk.Size())
	}
	return nil
}

// drop forgets the in-memory state; the next call reads the files again.
func (f *pipelineFile) drop() {
	if f.log != nil {
		f.log.Close() //nolint:errcheck // read-only use from here
		f.log = nil
	}
}

func (f *pipelineFile) close() error {
	f.drop()
	if f.lock == nil {
		return nil
	}
	err := f.lock.Close()
	f.lock = nil
	return err
}

func (f *pipelineFile) load() error {
	f.drop()
	f.entries = map[string]map[string]*entry{}
	f.live, f.off, f.lines, f.logOps = 0, 0, 0, 0
	f.anchor = time.Time{}

	b, err := os.ReadFile(f.snapPath)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return fmt.Errorf("state: %w", err)
	default:
		var doc document
		if err := json.Unmarshal(b, &doc); err != nil {
			return fmt.Errorf("state: %s is not a ferry state file: %w", f.snapPath, err)
		}
		f.anchor = doc.Anchor
		for _, e := range doc.Files {
			if e != nil {
				f.put(e)
			}
		}
	}

	_, err = os.Stat(f.logPath)
	created := errors.Is(err, os.ErrNotExist)
	lf, err := os.OpenFile(f.logPath, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	f.log = lf
	if created {
		if err := syncDir(filepath.Dir(f.logPath)); err != nil {
			return err
		}
	}
	fi, err := lf.Stat()
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	return f.replay(fi.Size())
}

// replay applies the log from f.off up to size. A damaged last line is an
// append cut short by a crash: it never returned, so it is cut off. A
// damaged line with more after it is corruption, and an error.
func (f *pipelineFile) replay(size int64) error {
	r := bufio.NewReaderSize(io.NewSectionReader(f.log, f.off, size-f.off), 64<<10)
	for {
		line, err := r.ReadBytes('\n')
		if len(line) == 0 && err == io.EOF {
			return nil
		}
		if err != nil && err != io.EOF {
			return fmt.Errorf("state: read %s: %w", f.logPath, err)
		}
		rec, derr := decodeLine(line)
		if derr != nil {
			if _, perr := r.Peek(1); perr == io.EOF && errors.Is(derr, errBadChecksum) {
				return f.cutTail()
			}
			return fmt.Errorf("state: %s line %d: corrupt record: %w", f.logPath, f.lines+1, derr)
		}
		f.apply(rec)
		f.off += int64(len(line))
		f.lines++
		f.logOps += rec.ops()
	}
}

// cutTail drops a torn last line so that the next append starts clean.
func (f *pipelineFile) cutTail() error {
	if err := truncate(f.log, f.off); err != nil {
		return fmt.Errorf("state: cut the torn end of %s: %w", f.logPath, err)
	}
	if err := f.log.Sync(); err != nil {
		return fmt.Errorf("state: sync %s: %w", f.logPath, err)
	}
	return nil
}

func (f *pipelineFile) apply(r record) {
	for _, e := range r.Put {
		f.put(e)
	}
	for _, id := range r.Del {
		f.del(id.Key, id.ETag)
	}
	if !r.Anchor.IsZero() {
		f.anchor = r.Anchor
	}
}

func (f *pipelineFile) get(key, etag string) *entry { return f.entries[key][etag] }

func (f *pipelineFile) put(e *entry) {
	versions := f.entries[e.Key]
	if versions == nil {
		versions = map[string]*entry{}
		f.entries[e.Key] = versions
	}
	if _, ok := versions[e.ETag]; !ok {
		f.live++
	}
	versions[e.ETag] = e
}

func (f *pipelineFile) del(key, etag string) {
	versions := f.entries[key]
	if _, ok := versions[etag]; !ok {
		return
	}
	delete(versions, etag)
	f.live--
	if len(versions) == 0 {
		delete(f.entries, key)
	}
}

// each calls fn for every entry, in no particular order.
func (f *pipelineFile) each(fn func(*entry)) {
	for _, versions := range f.entries {
		for _, e := range versions {
			fn(e)
		}
	}
}

func (f *pipelineFile) append(r record) error {
	if f.off == 0 {
		r.Pipeline = f.pipeline
	}
	line, err := encodeLine(r)
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	if _, err := writeTo(f.log, line); err != nil {
		truncate(f.log, f.off) //nolint:errcheck // best effort; replay cuts a torn end

		return fmt.Errorf("state: %w", err) // the error names the log
	}
	if err := f.log.Sync(); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	f.off += int64(len(line))
	f.lines++
	f.logOps += r.ops()
	return nil
}

// compact writes the whole state as a new snapshot, then starts an empty
// log. A crash in between leaves the new snapshot and the old log, which
// replays to the same state (every record sets whole entries).
func (f *pipelineFile) compact() error {
	doc := document{Version: 1, Pipeline: f.pipeline, Anchor: f.anchor, Files: make([]*entry, 0, f.live)}
	f.each(func(e *entry) { doc.Files = append(doc.Files, e) })
	sort.Slice(doc.Files, func(i, j int) bool {
		a, b := doc.Files[i], doc.Files[j]
		return a.Key < b.Key || a.Key == b.Key && a.ETag < b.ETag
	})
	b, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	if err := writeFile(f.snapPath, b); err != nil {
		return err
	}
	if err := writeFile(f.logPath, nil); err != nil {
		return err
	}
	// Follow the new log; the old one is gone.
	lf, err := os.OpenFile(f.logPath, os.O_RDWR|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	f.log.Close() //nolint:errcheck // replaced
	f.log = lf
	f.off, f.lines, f.logOps = 0, 0, 0
	return nil
}

// writeFile replaces path with data atomically and durably: a temporary
// file, fsync, rename, fsync of the directory.
func writeFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".state-*")
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	defer os.Remove(tmp.Name()) //nolint:errcheck // gone after rename
	if _, err := writeTo(tmp, data); err != nil {
		tmp.Close()
		return fmt.Errorf("state: replace %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("state: replace %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	if err := rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("state: replace %s: %w", path, err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("state: sync %s: %w", dir, err)
	}
	return nil
}
