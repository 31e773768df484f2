package format

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"github.com/ferrydata/ferry/parsequeue"
	"github.com/ferrydata/ferry/pusher"
)

// run is one parallel read of a Split. A splitter goroutine reads the
// stream into blocks cut at record boundaries (Split.Cut) and adds them to
// a parse queue; the queue's workers parse each block with its format's
// Reader (Split.Block), and its in-order push hands the blocks to Next
// (see parsequeue's "Consuming in order on another goroutine").
//
// Memory: at most Workers blocks are pending in the queue (added, not yet
// received by Next), so that with the one the splitter holds while Add
// waits and the one Next is returning, at most Workers+2 exist.
type run struct {
	sp      Split
	o       Options
	fixed   int
	maxGrow int
	target  atomic.Int64 // adapted block size

	q   *parsequeue.Queue[*block, *block]
	out chan *block // push to next, unbuffered

	kill context.CancelFunc // Close: everything stops now
	stop context.CancelFunc // Next: the splitter hands back what it has not added and ends
	skip atomic.Bool        // parse: do not parse (the blocks are read again or dropped)

	cols    atomic.Pointer[[]string] // the stream's columns, for Block
	bufs    chan []byte
	batches chan *pusher.Batch
	g       errgroup.Group // the splitter
}

// block is a piece of the stream and what parsing it gave. A tail block
// is what the splitter read and did not add, followed by src; it is not
// parsed.
type block struct {
	data    []byte
	off     int64 // stream offset of data[0]
	events  []event
	records int64 // records in data, good and bad
	tail    bool
	src     io.Reader
}

// event is one Next of a block's Reader: a batch and the position after
// it, or an error (re when it is a record error; realign: the block is
// read again from re on).
type event struct {
	batch   *pusher.Batch
	pos     pusher.Position
	err     error
	re      *pusher.RecordError
	realign bool
}

// newRun starts reading sp in parallel with po.Workers parsers, at block
// size target, the stream's columns being cols.
func newRun(sp Split, o Options, po ParallelOptions, target int64, cols []string) *run {
	n := po.Workers
	r := &run{
		sp:      sp,
		o:       o,
		fixed:   po.BlockBytes,
		maxGrow: o.MaxRecordBytes + 4096,
		out:     make(chan *block),
		bufs:    make(chan []byte, n+2),
		batches: make(chan *pusher.Batch, 2*(n+2)),
	}
	r.target.Store(target)
	r.cols.Store(&cols)
	ctx, kill := context.WithCancel(context.Background())
	stop, cancelStop := context.WithCancel(ctx)
	r.kill, r.stop = kill, cancelStop
	r.q = parsequeue.New(ctx, parsequeue.Config[*block, *block]{
		Workers:    n,
		MaxPending: n,
		Parse:      r.parse,
		Push:       r.push,
	})
	r.g.Go(func() error { r.split(ctx, stop, sp.Rest, sp.At.Offset); return nil })
	return r
}

// next returns the next block in stream order, or io.EOF once the
// splitter has ended and every block it added was returned.
func (r *run) next() (*block, error) {
	select {
	case bl := <-r.out:
		return bl, nil
	case <-r.q.Context().Done():
		// Drained: nothing is left in out. Otherwise only end stops the
		// queue.
		if err := r.q.Err(); err != nil {
			return nil, err
		}
		return nil, io.EOF
	}
}

// push is the queue's Push: it hands bl to next.
func (r *run) push(ctx context.Context, bl *block) error {
	select {
	case r.out <- bl:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// end stops the run's goroutines and waits until they have exited; it
// returns the adapted block size.
func (r *run) end() int64 {
	r.skip.Store(true)
	r.stop()
	r.kill()
	_ = r.g.Wait()                      // the splitter returns nil
	_ = r.q.Close(context.Background()) // its context is done: it returns once its goroutines have exited
	// The next file's run may reuse the grown batches.
	for len(r.batches) > 0 {
		pusher.PutBatch(<-r.batches)
	}
	for len(r.bufs) > 0 {
		b := <-r.bufs
		blockBufs.Put(&b)
	}
	return r.target.Load()
}

// errKilled ends a read interrupted by Close.
var errKilled = errors.New("killed")

// split reads src (from stream offset off) into blocks cut at record
// boundaries and adds them to the queue. It stops when ctx is done; when
// stop is done, it hands back what it has not added (a tail block). It
// closes the queue once done, which waits until next has received every
// block.
func (r *run) split(ctx, stop context.Context, src io.Reader, off int64) {
	defer func() { _ = r.q.Close(ctx) }()
	var carry []byte // read after the last cut
	for {
		if ctx.Err() != nil {
			return
		}
		if stop.Err() != nil {
			r.handBack(ctx, carry, src, off)
			return
		}
		limit := r.blockSize()
		data := append(r.getBuf(max(limit, len(carry))), carry...)
		var err error
		cut := 0
		for {
			if data, err = r.read(ctx, src, data, limit); err != nil {
				break
			}
			if cut = r.sp.Cut(data); cut > 0 || len(data) > r.maxGrow {
				break
			}
			limit = min(2*len(data), r.maxGrow+1)
		}
		switch {
		case err == io.EOF:
			if len(data) > 0 {
				r.add(ctx, stop, data, len(data), off, nil)
			}
			return
		case err == errKilled:
			return
		case err != nil:
			// Let a sequential reader report the read error where it
			// would have.
			r.handBack(ctx, data, &errReader{err}, off)
			return
		case cut == 0:
			// A record longer than MaxRecordBytes: read it sequentially.
			r.handBack(ctx, data, src, off)
			return
		}
		carry = append(carry[:0], data[cut:]...)
		if !r.add(ctx, stop, data, cut, off, src) {
			return
		}
		off += int64(cut)
	}
}

// read reads src into data until it holds limit bytes, the stream ends
// (io.EOF), a read fails or ctx is done (errKilled).
func (r *run) read(ctx context.Context, src io.Reader, data []byte, limit int) ([]byte, error) {
	if cap(data) < limit {
		data = append(make([]byte, 0, limit+limit/8), data...)
	}
	zero := 0
	for len(data) < limit {
		n, err := src.Read(data[len(data):limit])
		data = data[:len(data)+n]
		switch {
		case err != nil:
			return data, err
		case n > 0:
			zero = 0
		default:
			if zero++; zero > 100 {
				return data, io.ErrNoProgress
			}
		}
		if ctx.Err() != nil {
			return data, errKilled
		}
	}
	return data, nil
}

// add queues data[:cut], at stream offset off, as a block. When stop is
// done first, it hands back the whole of data, then src, and reports
// false.
func (r *run) add(ctx, stop context.Context, data []byte, cut int, off int64, src io.Reader) bool {
	if err := r.q.Add(stop, &block{data: data[:cut], off: off}); err != nil {
		r.handBack(ctx, data, src, off)
		return false
	}
	return true
}

// handBack queues the tail block: data, at stream offset off, then src.
// It fails only once the run is killed, and then nothing is read any more.
func (r *run) handBack(ctx context.Context, data []byte, src io.Reader, off int64) {
	_ = r.q.Add(ctx, &block{data: data, off: off, tail: true, src: src})
}

// blockSize is the size to read the next block at.
func (r *run) blockSize() int {
	if r.fixed > 0 {
		return r.fixed
	}
	return int(r.target.Load())
}

// parse is the queue's Parse: it parses bl unless it is the tail or the
// blocks are not wanted any more. It never fails: a block's errors are
// its events, returned in their turn.
func (r *run) parse(_ context.Context, bl *block) (*block, error) {
	if !bl.tail && !r.skip.Load() {
		r.parseBlock(bl)
	}
	return bl, nil
}

// parseBlock reads bl with its format's Reader, keeping what each Next
// returned.
func (r *run) parseBlock(bl *block) {
	rd := r.sp.Block(bl.data, pusher.Position{Offset: bl.off}, *r.cols.Load())
	size := 0
	for {
		b := r.getBatch()
		err := rd.Next(b)
		if err == nil {
			size += b.Size()
			bl.events = append(bl.events, event{batch: b, pos: rd.Pos()})
			continue
		}
		r.putBatch(b)
		if err == io.EOF {
			break
		}
		var re *pusher.RecordError
		if !errors.As(err, &re) {
			bl.events = append(bl.events, event{err: err})
			return
		}
		bl.records = max(bl.records, re.Record)
		if r.sp.Realign != nil && r.sp.Realign(re) {
			bl.events = append(bl.events, event{err: err, re: re, realign: true})
			return
		}
		bl.events = append(bl.events, event{err: err, re: re})
	}
	bl.records = max(bl.records, rd.Pos().Records)
	r.adapt(len(bl.data), size, bl.records)
}

// adapt moves the block size towards 90% of one that fills a batch, from
// a block of n bytes that gave records records in batches of size bytes.
func (r *run) adapt(n, size int, records int64) {
	if r.fixed > 0 || size == 0 || records < 16 {
		return
	}
	t := int64(n) * int64(r.o.BatchBytes) / int64(size)
	t = min(t, int64(n)*int64(r.o.BatchRows)/records)
	t = t * 9 / 10
	old := r.target.Load()
	t = (3*old + t) / 4
	r.target.Store(min(max(t, minBlock), int64(max(r.o.BatchBytes/2, minBlock))))
}

// release gives back what a returned block holds.
func (r *run) release(bl *block) {
	r.dropBatches(bl)
	if c := cap(bl.data); c > 0 && c <= 4*int(r.target.Load())+r.fixed {
		select {
		case r.bufs <- bl.data[:0]:
		default:
		}
	}
	bl.data = nil
}

// dropBatches gives back the batches of bl's events.
func (r *run) dropBatches(bl *block) {
	for _, e := range bl.events {
		if e.batch != nil {
			r.putBatch(e.batch)
		}
	}
	bl.events = nil
}

// blockBufs keeps block buffers from one run to the next (a run keeps
// its own in bufs).
var blockBufs sync.Pool // *[]byte

func (r *run) getBuf(n int) []byte {
	select {
	case b := <-r.bufs:
		if cap(b) >= n {
			return b
		}
	default:
		if b, ok := blockBufs.Get().(*[]byte); ok && cap(*b) >= n && cap(*b) <= 2*n {
			return (*b)[:0]
		}
	}
	return make([]byte, 0, n+n/8)
}

func (r *run) getBatch() *pusher.Batch {
	select {
	case b := <-r.batches:
		return b
	default:
		return pusher.GetBatch()
	}
}

func (r *run) putBatch(b *pusher.Batch) {
	select {
	case r.batches <- b:
	default:
		pusher.PutBatch(b)
	}
}

// errReader fails every read with err.
type errReader struct{ err error }

func (e *errReader) Read([]byte) (int, error) { return 0, e.err }
