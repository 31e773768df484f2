package format

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"github.com/ferrydata/ferry/pusher"
)

// run is one parallel read: a splitter goroutine and the workers.
type run struct {
	sp      Split
	o       Options
	fixed   int
	maxGrow int
	target  atomic.Int64 // adapted block size

	// slots holds a token per block that exists (being filled, parsed or
	// returned): the splitter takes one before reading a block, Next gives
	// it back once it has returned the block. jobs and order are as large,
	// and order has room for the tail too, so sends never block.
	slots chan struct{}
	jobs  chan *block // to the workers
	order chan *block // to Next, in stream order; closed by the splitter

	stop chan struct{} // Next: hand back what is not cut (tail) and exit
	kill chan struct{} // Close: exit now
	skip atomic.Bool   // workers: do not parse (the blocks are dropped)

	cols    atomic.Pointer[[]string] // the stream's columns, for Block
	bufs    chan []byte
	batches chan *pusher.Batch
	g       errgroup.Group
}

// block is a piece of the stream and what parsing it gave. A tail block
// is what the splitter read and did not cut, followed by src.
type block struct {
	data    []byte
	off     int64 // stream offset of data[0]
	events  []event
	records int64 // records in data, good and bad
	done    chan struct{}
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

var closed = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func (p *Parallel) newRun(sp Split) *run {
	n := p.po.Workers
	r := &run{
		sp:      sp,
		o:       p.o,
		fixed:   p.po.BlockBytes,
		maxGrow: p.o.MaxRecordBytes + 4096,
		slots:   make(chan struct{}, n+2),
		jobs:    make(chan *block, n+2),
		order:   make(chan *block, n+3),
		stop:    make(chan struct{}),
		kill:    make(chan struct{}),
		bufs:    make(chan []byte, n+2),
		batches: make(chan *pusher.Batch, 2*(n+2)),
	}
	r.target.Store(p.target)
	cols := p.cols
	r.cols.Store(&cols)
	r.g.Go(func() error { r.split(sp.Rest, sp.At.Offset); return nil })
	for range n {
		r.g.Go(r.work)
	}
	return r
}

// errKilled ends a read interrupted by Close.
var errKilled = errors.New("killed")

// split reads src (from stream offset off) into blocks cut at record
// boundaries and sends them to the workers and, in order, to Next.
func (r *run) split(src io.Reader, off int64) {
	defer close(r.order)
	defer close(r.jobs)
	var carry []byte // read after the last cut
	for {
		select {
		case <-r.kill:
			return
		case <-r.stop:
			r.handBack(carry, src, off)
			return
		default:
		}
		select {
		case r.slots <- struct{}{}:
		case <-r.kill:
			return
		case <-r.stop:
			r.handBack(carry, src, off)
			return
		}
		limit := r.blockSize()
		data := append(r.getBuf(max(limit, len(carry))), carry...)
		var err error
		cut := 0
		for {
			if data, err = r.read(src, data, limit); err != nil {
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
				r.send(data, off)
			} else {
				<-r.slots
			}
			return
		case err == errKilled:
			return
		case err != nil:
			// Let a sequential reader report the read error where it
			// would have.
			<-r.slots
			r.handBack(data, &errReader{err}, off)
			return
		case cut == 0:
			// A record longer than MaxRecordBytes: read it sequentially.
			<-r.slots
			r.handBack(data, src, off)
			return
		}
		carry = append(carry[:0], data[cut:]...)
		r.send(data[:cut], off)
		off += int64(cut)
	}
}

// read reads src into data until it holds limit bytes, the stream ends
// (io.EOF) or a read fails.
func (r *run) read(src io.Reader, data []byte, limit int) ([]byte, error) {
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
		select {
		case <-r.kill:
			return data, errKilled
		default:
		}
	}
	return data, nil
}

func (r *run) send(data []byte, off int64) {
	bl := &block{data: data, off: off, done: make(chan struct{})}
	r.jobs <- bl
	r.order <- bl
}

func (r *run) handBack(data []byte, src io.Reader, off int64) {
	r.order <- &block{data: data, off: off, done: closed, tail: true, src: src}
}

// blockSize is the size to read the next block at.
func (r *run) blockSize() int {
	if r.fixed > 0 {
		return r.fixed
	}
	return int(r.target.Load())
}

func (r *run) work() error {
	for bl := range r.jobs {
		if !r.skip.Load() {
			r.parse(bl)
		}
		close(bl.done)
	}
	return nil
}

// parse reads bl with its format's Reader, keeping what each Next
// returned.
func (r *run) parse(bl *block) {
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
	for _, e := range bl.events {
		if e.batch != nil {
			r.putBatch(e.batch)
		}
	}
	if c := cap(bl.data); c > 0 && c <= 4*int(r.target.Load())+r.fixed {
		select {
		case r.bufs <- bl.data[:0]:
		default:
		}
	}
	bl.data, bl.events = nil, nil
	<-r.slots
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
