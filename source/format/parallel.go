package format

import (
	"bytes"
	"errors"
	"io"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source/format/internal/readerr"
)

// Parallel reads one stream with several goroutines: a splitter reads raw
// blocks cut at record boundaries (Split.Cut) and adds them to a parse
// queue (package parsequeue), whose Workers goroutines parse them, each
// with its format's own Reader (Split.Block), and whose push hands them
// to Next in stream order; Next returns their batches and errors. It is a
// Reader that returns what the Splitter it wraps would have returned,
// except that batches also end at block boundaries (so there may be more
// of them): the same records with the same ordinals, the same positions
// after each record, the same bad records (ordinal, offset, message, Raw)
// and the same final error.
//
// Ordering: record ordinals and offsets of a block are translated to the
// stream's when its turn comes, in order; JSON lines columns a block
// discovered are mapped onto the stream's (a record may then have fewer
// fields than the batch has columns: the missing ones are Null).
//
// Fallbacks: reading goes sequential (Split.Resume) where cutting without
// parsing fails, and splits again after a few batches (twice as many
// after each fallback, up to 64): at the start until the Splitter can hand
// over (the CSV header, skipped rows, the start position), for a record
// longer than MaxRecordBytes (no boundary within a block), after a read
// error (to report it where the sequential reader would), and after a
// bad record that Split.Realign says breaks the cuts (malformed CSV
// quoting) — then the blocks after it, already cut, are read again from
// its offset.
//
// Memory: at most Workers+2 blocks exist, each of at most BatchBytes/2
// raw bytes (see ParallelOptions.BlockBytes; more for a record longer than
// that), with their parsed batches. Block buffers and batches are kept for
// the next file (a sync.Pool, which the garbage collector empties).
//
// Shutdown: Close stops the goroutines and waits for them, including a
// read of the stream in progress (cancel the stream's context first).
// Close must be called, and not concurrently with Next.
type Parallel struct {
	o  Options
	po ParallelOptions

	seq     Reader // reading sequentially, or nil
	seqRead int    // batches seq has returned
	backoff int    // batches seq must return before the next Split
	sp      Split  // the current split
	run     *run   // reading in parallel, or nil
	target  int64  // block size carried from one run to the next

	cur  *block // the block being returned
	ev   int    // cur's next event
	base int64  // records before cur

	pos    pusher.Position
	cols   []string       // the stream's columns
	idx    map[string]int // cols by name, built on demand
	colMap []int
	tmp    pusher.Batch
	final  error
}

// ParallelOptions configure a Parallel reader.
type ParallelOptions struct {
	// Workers is the number of goroutines that parse blocks (at least 1;
	// use a plain Reader for 1).
	Workers int
	// BlockBytes fixes the size blocks are read at before they are cut at
	// their last record boundary. 0: sized so that a block fills about one
	// batch (BatchBytes and BatchRows), from what the blocks parsed so far
	// held, but at most BatchBytes/2 bytes (and at least 64 KiB), so that
	// a file makes blocks enough to keep the workers busy.
	BlockBytes int
}

// Bounds of an adapted block size.
const (
	minBlock   = 64 << 10
	maxBackoff = 64
)

// ErrClosed is returned by Next after Close.
var ErrClosed = errors.New("format: reader closed")

var _ Reader = (*Parallel)(nil)

// NewParallel returns a Parallel reader of rd, which reads on from its
// position (nothing of it need have been read yet). o are the options rd
// was made with. rd.CanSplit() should be true, otherwise every record is
// read by rd.
func NewParallel(rd Splitter, o Options, po ParallelOptions) *Parallel {
	o = o.WithDefaults()
	po.Workers = max(po.Workers, 1)
	return &Parallel{o: o, po: po, seq: rd, pos: rd.Pos(), target: int64(max(o.BatchBytes/2, minBlock))}
}

// Pos is the position after the last record returned by Next.
func (p *Parallel) Pos() pusher.Position { return p.pos }

// Next resets b and fills it with the next records.
func (p *Parallel) Next(b *pusher.Batch) error {
	b.Reset()
	if p.final != nil {
		return p.final
	}
	for {
		if p.run == nil {
			if p.seqRead >= p.backoff && p.split() {
				continue
			}
			err := p.seq.Next(b)
			switch {
			case err == nil:
				p.seqRead++
				p.pos = p.seq.Pos()
				p.cols, p.idx = b.Columns, nil
			case !readerr.IsRecordError(err):
				p.final = err
			}
			return err
		}
		if p.cur == nil {
			bl, err := p.run.next()
			if err != nil { // io.EOF: the splitter read the whole stream
				p.endRun()
				p.final = err
				return err
			}
			if bl.tail {
				p.endRun()
				p.sequential([][]byte{bl.data}, bl.src, pusher.Position{Records: p.base, Offset: bl.off})
				continue
			}
			p.cur, p.ev = bl, 0
			continue
		}
		if p.ev == len(p.cur.events) {
			p.base += p.cur.records
			p.run.release(p.cur)
			p.cur = nil
			continue
		}
		e := &p.cur.events[p.ev]
		p.ev++
		switch {
		case e.batch != nil:
			*b, *e.batch = *e.batch, *b
			p.run.putBatch(e.batch)
			e.batch = nil
			p.merge(b)
			p.pos = pusher.Position{Records: p.base + e.pos.Records, Offset: e.pos.Offset}
			return nil
		case e.realign:
			if err := p.realign(e.re); err != nil {
				p.final = err
				return err
			}
		case e.re != nil:
			e.re.Record += p.base
			return e.err
		default:
			p.endRun()
			p.final = e.err
			return e.err
		}
	}
}

// Close stops the goroutines of a parallel read and waits until they have
// exited. Next returns ErrClosed afterwards.
func (p *Parallel) Close() {
	if p.run != nil {
		p.endRun()
	}
	if p.final == nil {
		p.final = ErrClosed
	}
}

// split starts reading in parallel when the sequential reader can hand
// the stream over.
func (p *Parallel) split() bool {
	s, ok := p.seq.(Splitter)
	if !ok {
		return false
	}
	sp, ok := s.Split()
	if !ok {
		return false
	}
	p.seq, p.sp = nil, sp
	p.cols, p.idx = sp.Cols, nil
	p.base = sp.At.Records
	p.run = newRun(sp, p.o, p.po, p.target, p.cols)
	return true
}

// sequential goes on reading sequentially from at: parts, then src (nil
// at the end of the stream).
func (p *Parallel) sequential(parts [][]byte, src io.Reader, at pusher.Position) {
	var rs []io.Reader
	for _, d := range parts {
		if len(d) > 0 {
			rs = append(rs, bytes.NewReader(d))
		}
	}
	if src != nil {
		rs = append(rs, src)
	}
	p.seq = p.sp.Resume(io.MultiReader(rs...), at, p.cols)
	p.seqRead = 0
	p.backoff = min(max(2*p.backoff, 1), maxBackoff)
}

// realign reads the stream again sequentially from the bad record re of
// the current block: the splitter hands back what it has not added to the
// queue, and the blocks added after the current one are read again, not
// parsed.
func (p *Parallel) realign(re *pusher.RecordError) error {
	cur := p.cur
	p.cur = nil
	at := pusher.Position{Records: p.base + re.Record - 1, Offset: re.Offset}
	if at.Offset < cur.off || at.Offset > cur.off+int64(len(cur.data)) {
		p.endRun()
		return errors.New("format: bad record outside its block") // a bug
	}
	// The realign event is cur's last: its batches are all returned.
	parts := [][]byte{cur.data[at.Offset-cur.off:]}
	r := p.run
	r.skip.Store(true)
	r.stop()
	var src io.Reader
	for { // until the splitter has handed back
		bl, err := r.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			p.endRun()
			return err
		}
		r.dropBatches(bl)
		parts = append(parts, bl.data)
		if bl.tail {
			src = bl.src
		}
	}
	p.endRun()
	p.sequential(parts, src, at)
	return nil
}

// merge maps the columns of b, a batch of a block, onto the stream's.
func (p *Parallel) merge(b *pusher.Batch) {
	l := b.Columns
	if len(l) == len(p.cols) && (len(l) == 0 || &l[0] == &p.cols[0]) {
		return
	}
	m := p.colMap[:0]
	same, grew := true, false
	for i, name := range l {
		g := i
		if i >= len(p.cols) || p.cols[i] != name {
			if p.idx == nil {
				p.idx = make(map[string]int, len(p.cols))
				for k, c := range p.cols {
					p.idx[c] = k
				}
			}
			var ok bool
			if g, ok = p.idx[name]; !ok {
				g = len(p.cols)
				p.cols = append(p.cols, name)
				p.idx[name] = g
				grew = true
			}
		}
		same = same && g == i
		m = append(m, g)
	}
	p.colMap = m
	if !same {
		remap(b, m, &p.tmp)
	}
	b.Columns = p.cols
	if grew {
		cols := p.cols
		p.run.cols.Store(&cols)
	}
}

// remap moves field i of each record of b to column m[i], by way of tmp.
func remap(b *pusher.Batch, m []int, tmp *pusher.Batch) {
	tmp.Reset()
	for i := range b.Len() {
		rec := b.Record(i)
		n := 0
		for k := range rec {
			n = max(n, m[k]+1)
		}
		tmp.StartRecord()
		for range n {
			tmp.AddNull()
		}
		for k, f := range rec {
			if f.Kind != pusher.Null {
				tmp.SetField(m[k], f.Kind, b.Value(f))
			}
		}
	}
	*b, *tmp = *tmp, *b
}

// endRun stops the current run's goroutines and waits for them.
func (p *Parallel) endRun() {
	if p.run == nil {
		return
	}
	p.target = p.run.end()
	p.run, p.cur = nil, nil
}
