// Package load reads one file into a pusher: open it at the store, undo its
// compression, parse it with its format's reader from a start position, and
// push its records chunk by chunk, the last one flagged Last.
//
// Reading and parsing run on their own goroutine, one batch ahead of the
// push, so parsing overlaps with the target's work. With
// Config.ParseWorkers above 1 and a format whose records can be cut
// without parsing (CSV and TSV without an escape or comment byte, JSON
// lines, lines), reading and parsing overlap within the file too: raw
// blocks cut at record boundaries parse on that many goroutines and come
// out in order, with the same records, positions, rejects and errors as a
// sequential read, in chunks that may also end at block boundaries (see
// format.Parallel); JSON documents and Parquet are read sequentially.
// This is the same for the sync and the async pusher.
//
// Batches are recycled once Push returns (the pusher contract). A read
// that fails for a transient reason is retried within the load, resuming
// after the last chunk pushed (see File). Any other error, from reading,
// parsing or pushing, stops the file and is returned as a
// *pusher.FileError; chunks pushed before it stay pushed.
package load

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source"
	"github.com/ferrydata/ferry/source/backoff"
	"github.com/ferrydata/ferry/source/compress"
	"github.com/ferrydata/ferry/source/format"
)

// Config says how to read files.
type Config struct {
	// Format options; Format "auto" (or empty) picks by extension.
	Format format.Options
	// Compression: auto, none, gzip or zstd.
	Compression string
	// Pushed, when set, is called after each chunk is pushed, with its
	// number of records.
	Pushed func(records int64)
	// ReadBytes, when set, counts bytes read from the store.
	ReadBytes *atomic.Int64
	// Warn, when set, receives notices about a file that do not stop its
	// load, naming the file: a text file whose line ends are CR alone,
	// which none of the line formats takes as a line end (the whole file
	// would be one line, or a CSV header and no record).
	Warn func(msg string)
	// SkipRecords keeps going past bad records: each becomes a reject of
	// the chunk it falls in (and so commits with it) instead of failing
	// the file. MaxRejects (when >= 0) fails the file once more records
	// than that are rejected in one load, by the reader or the target.
	SkipRecords bool
	MaxRejects  int
	// WriteCtx, when set, governs pushes instead of File's ctx: cancelling
	// File's ctx then stops reading, but a push under way still completes
	// (a graceful stop commits the chunk in flight).
	WriteCtx context.Context
	// ParseWorkers is how many goroutines parse one file. 0 or 1: one
	// goroutine reads and parses. Above 1: one goroutine reads the file
	// in raw blocks (about a batch's worth of records, at most
	// BatchBytes/2 bytes), cut at record boundaries, and that many parse
	// them at once; at most ParseWorkers+2 blocks, with their batches,
	// are held besides the chunks given to the pusher. Formats whose
	// records cannot be found without parsing (JSON documents, Parquet,
	// CSV with an escape or comment byte) ignore it. The command sets it;
	// runtime.GOMAXPROCS(0) is a good value.
	ParseWorkers int
	// AfterLoad is set on each file's last chunk (pusher.Chunk.AfterLoad).
	AfterLoad string
	// RetryMaxElapsed bounds the retries of a read that failed for a
	// transient reason, counted from the last chunk pushed (see File).
	// 0: backoff.DefaultMaxElapsed; negative: no retry.
	RetryMaxElapsed time.Duration
	// ReadTimeout abandons a read of the object (opening it, or reading
	// its body) that gets no byte for that long; it is retried as a
	// transient failure. 0: DefaultReadTimeout; negative: none.
	ReadTimeout time.Duration
	// Retrying, when set, is told of each retry of a read: the file, the
	// position it resumes at, the retry's number (from 1), the wait
	// before it and the transient error.
	Retrying func(obj pusher.Object, at pusher.Position, retry int, wait time.Duration, err error)

	// blockBytes, when > 0, fixes the raw block size (tests).
	blockBytes int
}

// maxPendingRejects bounds the rejects held while no good record follows
// them (each holds at most pusher.MaxRawBytes of raw record).
const maxPendingRejects = 100_000

// Stats of one file load.
type Stats struct {
	Records int64 // records pushed by this load
	Rejects int64 // records the reader rejected in this load
	Chunks  int
}

// Stats of one file load.
type result struct {
	batch   *pusher.Batch
	pos     pusher.Position
	last    bool
	rejects []*pusher.RecordError
	err     error
}

// File loads obj from position start into p.
//
// A read that fails for a transient reason (pusher.ClassUnavailable: a
// connection reset, a body cut short, a throttled request, a read that
// stalls for Config.ReadTimeout) is retried with exponential backoff:
// the object is opened again at the position of the last chunk pushed,
// with a ranged read for a plain file and from the start, skipping the
// records pushed, for a compressed one, as a resume does. Once the
// budget (Config.RetryMaxElapsed, counted from the last progress) is
// spent, the error is returned, still ClassUnavailable: the file is not
// at fault and resumes later. A failed push is never retried here.
func File(ctx context.Context, store source.Store, obj pusher.Object, start pusher.Position, cfg Config, p pusher.Pusher) (Stats, error) {
	var st Stats
	rs := &readState{pos: start}
	bo := backoff.New(backoff.Policy{MaxElapsed: cfg.RetryMaxElapsed})
	for {
		from := rs.pos
		err := file(ctx, store, obj, cfg, p, rs, &st)
		if err == nil || rs.pushFailed || pusher.ClassOf(err) != pusher.ClassUnavailable || ctx.Err() != nil {
			return st, fileError(obj, whereRead(err, rs))
		}
		if rs.pos != from {
			bo.Reset() // progress since the last failure
		}
		wait, ok := bo.Next()
		if !ok {
			if bo.Tries() > 0 {
				err = fmt.Errorf("%w (gave up after %d retries in %v, --retry-max-elapsed)", err, bo.Tries(), bo.Elapsed().Round(time.Millisecond))
			}
			return st, fileError(obj, err)
		}
		if cfg.Retrying != nil {
			cfg.Retrying(obj, rs.pos, bo.Tries(), wait, err)
		}
		if backoff.Sleep(ctx, wait) != nil {
			return st, fileError(obj, err)
		}
	}
}

// whereRead says where in the file a read that failed on its data
// stopped, when the error does not (it is not a record's): a truncated
// gzip member or a broken Parquet page fails after the records before
// it were pushed, and a byte offset in decompressed data names no place
// a user can find.
func whereRead(err error, rs *readState) error {
	var re *pusher.RecordError
	var fe *pusher.FileError
	if err == nil || rs.pushFailed || rs.pos.Records == 0 || errors.As(err, &re) || errors.As(err, &fe) ||
		pusher.ClassOf(err) == pusher.ClassUnavailable {
		return err
	}
	return fmt.Errorf("after %d records: %w", rs.pos.Records, err)
}

func fileError(obj pusher.Object, err error) error {
	if err == nil {
		return nil
	}
	var fe *pusher.FileError
	if !errors.As(err, &fe) {
		err = &pusher.FileError{Key: obj.Key, Err: err}
	}
	return err
}

// readState is what one read of a file leaves for the next, when a
// transient failure stops it.
type readState struct {
	pos        pusher.Position // end of the last chunk pushed
	seq        int             // of the next chunk
	pushFailed bool            // the pusher failed, not the read
}

func file(ctx context.Context, store source.Store, obj pusher.Object, cfg Config, p pusher.Pusher, rs *readState, st *Stats) error {
	start := rs.pos
	opts := cfg.Format
	if opts.Format == "" || opts.Format == "auto" {
		f, err := format.Detect(obj.Key)
		if err != nil {
			return err
		}
		opts.Format = f
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var rd format.Reader
	if format.RandomAccess(opts.Format) {
		ras, ok := store.(source.RandomAccessStore)
		if !ok {
			return fmt.Errorf("format %s needs random access, which %s does not offer", opts.Format, store)
		}
		ra, err := ras.OpenAt(ctx, obj)
		if err != nil {
			return err
		}
		defer ra.Close()
		var at io.ReaderAt = ra
		if cfg.ReadBytes != nil {
			at = &countingReaderAt{r: ra, n: cfg.ReadBytes}
		}
		if rd, err = format.NewAt(at, obj.Size, opts, start); err != nil {
			return err
		}
	} else {
		open := func(off int64) (io.ReadCloser, error) {
			return openGuarded(ctx, store, obj, off, cfg.readTimeout())
		}
		body, err := open(0)
		if err != nil {
			return err
		}
		defer func() { body.Close() }() // body may be replaced by a ranged read
		var in io.Reader = body
		if cfg.ReadBytes != nil {
			in = &countingReader{r: body, n: cfg.ReadBytes}
		}
		rc, codec, err := compress.Reader(in, cfg.Compression, obj.Key)
		if err != nil {
			return err
		}
		defer rc.Close()
		// The read buffer need not be larger than the file: a plain
		// file's size is known, a compressed one's guessed (8 times).
		opts.SizeHint = max(obj.Size-start.Offset, 0)
		if codec != compress.None {
			opts.SizeHint = 8 * obj.Size
		}
		if codec == compress.None && start.Offset > 0 {
			// Resume with a ranged read instead of reading up to the position.
			opts.Seek = func(off int64) (io.Reader, error) {
				b, err := open(off)
				if err != nil {
					return nil, err
				}
				body.Close()
				body = b
				if cfg.ReadBytes != nil {
					return &countingReader{r: b, n: cfg.ReadBytes}, nil
				}
				return b, nil
			}
		}
		var text io.Reader = rc
		if cfg.Warn != nil && start.Offset == 0 && start.Records == 0 && lineFormat(opts.Format) {
			text = &lineEndCheck{r: rc, warn: func(msg string) { cfg.Warn(fmt.Sprintf("file %q: %s", obj.Key, msg)) }}
		}
		if rd, err = format.New(text, opts, start); err != nil {
			return err
		}
		if s, ok := rd.(format.Splitter); ok && cfg.ParseWorkers > 1 && s.CanSplit() {
			pr := format.NewParallel(s, opts, format.ParallelOptions{Workers: cfg.ParseWorkers, BlockBytes: cfg.blockBytes})
			// Cancel first: Close waits for a read of the body under way.
			defer func() { cancel(); pr.Close() }()
			rd = pr
		}
	}

	// Batches come from this load's free list and go back to it when the
	// pusher releases their chunk (keeping a few warm batches instead of
	// making garbage). With the sync pusher at most four exist: one being
	// filled, one held back until we know whether it is the last, one
	// waiting in the channel, one being written.
	free := make(chan *pusher.Batch, 4)
	// like is the size of the last full batch read: a new batch is made as
	// large, as the file's batches are about the same size.
	var like pusher.Dims
	getBatch := func() *pusher.Batch {
		select {
		case b := <-free:
			b.Reset()
			return b
		default:
			b := pusher.GetBatch()
			b.Reserve(like)
			return b
		}
	}
	putBatch := func(b *pusher.Batch) {
		if b == nil {
			return
		}
		select {
		case free <- b:
		default:
			pusher.PutBatch(b)
		}
	}
	defer func() {
		// Hand the warm batches on to the next load.
		for {
			select {
			case b := <-free:
				pusher.PutBatch(b)
			default:
				return
			}
		}
	}()
	results := make(chan result, 1)
	rejectsBefore := int(st.Rejects) // by earlier reads of this load
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(results)
		send := func(r result) bool {
			select {
			case results <- r:
				return true
			case <-gctx.Done():
				return false
			}
		}
		var held *result
		var rejects []*pusher.RecordError
		nrejects := rejectsBefore
		// Rejects travel with the next good batch, whose end position is
		// past them, so a resume never rejects them twice. flush sends what
		// is held and, at the end of the file, the trailing rejects in a
		// last chunk of their own.
		flush := func(last bool) bool {
			if held != nil {
				held.last = last && len(rejects) == 0
				if !send(*held) {
					return false
				}
				held = nil
			}
			if last && len(rejects) > 0 {
				pos := rd.Pos()
				if n := rejects[len(rejects)-1].Record; pos.Records < n {
					pos.Records = n
				}
				r := result{batch: pusher.GetBatch(), pos: pos, last: true, rejects: rejects}
				rejects = nil
				return send(r)
			}
			return true
		}
		for {
			if gctx.Err() != nil {
				return nil
			}
			b := getBatch()
			err := rd.Next(b)
			var re *pusher.RecordError
			if err != nil && cfg.SkipRecords && errors.As(err, &re) {
				putBatch(b)
				nrejects++
				if cfg.MaxRejects >= 0 && nrejects > cfg.MaxRejects {
					if flush(false) {
						send(result{err: fmt.Errorf("more than %d rejected records (--max-rejects); last: %w", cfg.MaxRejects, err)})
					}
					return nil
				}
				if len(rejects) > 0 && re.Record <= rejects[len(rejects)-1].Record {
					if flush(false) {
						send(result{err: fmt.Errorf("reader did not move past a bad record: %w", err)})
					}
					return nil
				}
				if len(rejects) >= maxPendingRejects {
					if flush(false) {
						send(result{err: fmt.Errorf("more than %d bad records in a row; last: %w", maxPendingRejects, err)})
					}
					return nil
				}
				rejects = append(rejects, re)
				continue
			}
			if errors.Is(err, io.EOF) {
				putBatch(b)
				if held == nil && len(rejects) == 0 {
					send(result{batch: pusher.GetBatch(), pos: rd.Pos(), last: true})
					return nil
				}
				flush(true)
				return nil
			}
			if err != nil {
				putBatch(b)
				if flush(false) {
					send(result{err: err})
				}
				return nil
			}
			if held != nil && !send(*held) {
				return nil
			}
			like = b.Dims()
			held = &result{batch: b, pos: rd.Pos(), rejects: rejects}
			rejects = nil
		}
	})
	g.Go(func() error {
		for r := range results {
			if r.err != nil {
				return r.err
			}
			c := &pusher.Chunk{File: obj, Seq: rs.seq, Start: rs.pos, End: r.pos, Last: r.last, Batch: r.batch, Rejects: r.rejects, RejectLimit: -1, OnRelease: putBatch}
			if r.last {
				c.AfterLoad = cfg.AfterLoad
			}
			if cfg.SkipRecords && cfg.MaxRejects >= 0 {
				c.RejectLimit = max(cfg.MaxRejects-int(st.Rejects), 0)
			}
			n := int64(r.batch.Len())
			pushCtx := gctx
			if cfg.WriteCtx != nil {
				pushCtx = cfg.WriteCtx
			}
			// The pusher owns c now; the target's own rejects are its to
			// count (FileResult.Rejects) and to hold under RejectLimit.
			st.Rejects += int64(len(r.rejects))
			if err := p.Push(pushCtx, c); err != nil {
				rs.pushFailed = true
				return err
			}
			st.Records += n
			st.Chunks++
			if cfg.Pushed != nil {
				cfg.Pushed(n)
			}
			rs.pos = r.pos
			rs.seq++
			if r.last {
				return nil
			}
		}
		if err := gctx.Err(); err != nil {
			return err
		}
		return fmt.Errorf("reader stopped before the end of the file")
	})
	return g.Wait()
}

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

type countingReaderAt struct {
	r io.ReaderAt
	n *atomic.Int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n.Add(int64(n))
	return n, err
}

// lineFormat reports whether records of the format are lines.
func lineFormat(f string) bool {
	switch f {
	case format.CSV, format.TSV, format.JSONL, format.Lines:
		return true
	}
	return false
}

// lineEndScan bounds how far lineEndCheck looks for the first LF.
const lineEndScan = 1 << 20

// lineEndCheck passes a stream through and warns once when it finds CR
// bytes but no LF in the first lineEndScan bytes (or in the whole stream,
// when shorter): CR alone is not a line end. It stops looking at the
// first LF.
type lineEndCheck struct {
	r       io.Reader
	warn    func(msg string)
	n       int64 // bytes looked at
	sawCR   bool
	decided bool
}

func (c *lineEndCheck) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if !c.decided {
		b := p[:n]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			c.decided = true // a line end: CRs before it are data or CRLF
		} else {
			c.sawCR = c.sawCR || bytes.IndexByte(b, '\r') >= 0
			c.n += int64(n)
			if c.n >= lineEndScan || err == io.EOF {
				c.decided = true
				if c.sawCR {
					c.warn(fmt.Sprintf("no LF or CRLF found in %d bytes: a CR alone does not end a line, so the lines run together", c.n))
				}
			}
		}
	}
	return n, err
}
