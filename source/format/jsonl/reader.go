package jsonl

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/ferrydata/ferry/source"
	"github.com/ferrydata/ferry/source/format"
)

func init() {
	format.Register(format.JSONL, New)
}

// bufSize is the initial size of the read buffer. It grows only for a line
// longer than it (up to MaxRecordBytes).
const bufSize = 1 << 20

var bom = []byte{0xEF, 0xBB, 0xBF}

// Reader reads JSON lines. Create it with New. It is not safe for
// concurrent use.
type Reader struct {
	rd    io.Reader
	o     format.Options
	start source.Position

	// buf[p:n] is read but not yet parsed; base is the stream offset of buf[0].
	buf       []byte
	p, n      int
	base      int64
	eof       bool
	readErr   error // final: wrapped read error
	zeroReads int

	started bool
	nrec    int64 // records consumed (good and bad) since the file start
	pos     source.Position
	pending error // error to return on the next call, after a batch
	err     error // final error: returned by every later call
	// skipLine discards through the next LF (the rest of an over-long line).
	skipLine bool

	// cols is shared with every batch returned; it only grows (a bad
	// record's new columns are removed before anyone sees them).
	cols  []string
	index map[string]int
	// order[k] is the column of the k-th key of the last object read.
	order []int

	recStart int64  // stream offset of the line being parsed
	scratch  []byte // an unescaped string value
	key      []byte // an unescaped key
}

var _ format.Reader = (*Reader)(nil)

// New returns a JSON lines Reader for r, starting at start (the zero
// Position for the beginning of the stream, or a Position returned by Pos).
func New(r io.Reader, o format.Options, start source.Position) (format.Reader, error) {
	return newReader(r, o, start, bufSize)
}

// newReader is New with the initial buffer size; tests make it tiny to
// exercise lines that straddle reads.
func newReader(r io.Reader, o format.Options, start source.Position, size int) (*Reader, error) {
	o = o.WithDefaults()
	if start.Offset < 0 || start.Records < 0 || (start.Offset == 0 && start.Records != 0) {
		return nil, fmt.Errorf("jsonl: invalid start position %+v", start)
	}
	return &Reader{
		rd:    r,
		o:     o,
		start: start,
		nrec:  start.Records,
		pos:   start,
		buf:   make([]byte, max(size, 1)),
		index: make(map[string]int),
	}, nil
}

// Pos is the position just after the last record returned by Next.
func (r *Reader) Pos() source.Position { return r.pos }

// Next resets b and fills it with the next records; see the package doc.
func (r *Reader) Next(b *source.Batch) error {
	b.Reset()
	err := r.next(b)
	b.Columns = r.cols
	return err
}

// Parse outcomes.
const (
	stOK   = iota // a record was added to the batch
	stSkip        // bytes were consumed without a record (blank line, BOM)
	stMore        // the line is incomplete: read more
	stEOF         // no more data
)

func (r *Reader) next(b *source.Batch) error {
	if r.pending != nil {
		err := r.pending
		r.pending = nil
		var re *source.RecordError
		if !errors.As(err, &re) {
			r.err = err
		}
		return err
	}
	if r.err != nil {
		return r.err
	}
	if !r.started {
		r.started = true
		if r.start.Offset > 0 {
			if err := r.skipTo(r.start.Offset); err != nil {
				r.err = err
				return err
			}
		}
	}
	for {
		if r.skipLine {
			k := bytes.IndexByte(r.buf[r.p:r.n], '\n')
			switch {
			case k >= 0:
				r.p += k + 1
				r.skipLine = false
			case r.eof:
				r.p = r.n
				r.skipLine = false
			case r.readErr != nil:
				return r.fail(b, r.readErr)
			default:
				r.p = r.n
				r.fill()
				continue
			}
		}
		st, err := r.parseLine(b)
		if err != nil {
			r.nrec++
			return r.fail(b, err)
		}
		switch st {
		case stOK:
			r.nrec++
			r.pos = source.Position{Records: r.nrec, Offset: r.base + int64(r.p)}
			if b.Len() >= r.o.BatchRows || b.Size() >= r.o.BatchBytes {
				return nil
			}
		case stSkip:
		case stMore:
			if r.readErr != nil {
				return r.fail(b, r.readErr)
			}
			r.fill()
		case stEOF:
			return r.fail(b, io.EOF)
		}
	}
}

// fail returns err now when b is empty, and otherwise returns b with a nil
// error and keeps err for the next call.
func (r *Reader) fail(b *source.Batch, err error) error {
	if b.Len() > 0 {
		r.pending = err
		return nil
	}
	var re *source.RecordError
	if !errors.As(err, &re) {
		r.err = err
	}
	return err
}

// parseLine reads one line from buf[p:n]. On stOK the record is in b and p
// is after the line; on stSkip p has moved past a blank line or the BOM; on
// stMore and stEOF nothing changed. A bad line is a *source.RecordError,
// with p (or the discard state) past it.
func (r *Reader) parseLine(b *source.Batch) (int, error) {
	data := r.buf[r.p:r.n]
	r.recStart = r.base + int64(r.p)
	if len(data) == 0 {
		if r.eof {
			return stEOF, nil
		}
		return stMore, nil
	}
	if r.recStart == 0 && data[0] == bom[0] {
		if len(data) < len(bom) && !r.eof && bytes.HasPrefix(bom, data) {
			return stMore, nil
		}
		if bytes.HasPrefix(data, bom) {
			r.p += len(bom)
			return stSkip, nil
		}
	}
	nl := bytes.IndexByte(data, '\n')
	next := nl + 1
	if nl < 0 {
		if !r.eof {
			if r.exceeds(data) {
				r.skipLine = true
				return 0, r.tooLong()
			}
			return stMore, nil
		}
		nl, next = len(data), len(data)
	}
	line := data[:nl]
	r.p += next
	if r.exceeds(line) {
		return 0, r.tooLong()
	}
	i := skipSpace(line, 0)
	if i == len(line) {
		return stSkip, nil
	}
	if err := r.object(b, line, i); err != nil {
		return 0, &source.RecordError{Record: r.nrec + 1, Offset: r.recStart, Err: err}
	}
	return stOK, nil
}

// exceeds reports whether a line that holds data (and maybe more) is
// longer than MaxRecordBytes, not counting the CR of a CRLF.
func (r *Reader) exceeds(data []byte) bool {
	n := len(data)
	if n > 0 && data[n-1] == '\r' {
		n--
	}
	return n > r.o.MaxRecordBytes
}

func (r *Reader) tooLong() error {
	return &source.RecordError{Record: r.nrec + 1, Offset: r.recStart,
		Err: fmt.Errorf("record longer than %d bytes", r.o.MaxRecordBytes)}
}

// skipTo discards the stream up to offset off, which must be a line
// boundary.
func (r *Reader) skipTo(off int64) error {
	if r.o.Seek != nil && off-1 > r.base+int64(r.n) {
		// Open the stream just before off rather than read up to it; the
		// byte before off must still be the LF that ends a record.
		rd, err := r.o.Seek(off - 1)
		if err != nil {
			return fmt.Errorf("jsonl: seek to byte %d: %w", off-1, err)
		}
		r.rd = rd
		r.base, r.p, r.n = off-1, 0, 0
		r.eof, r.zeroReads = false, 0
		r.fill()
	}
	var prev byte
	for r.base+int64(r.n) < off {
		if r.readErr != nil {
			return r.readErr
		}
		if r.eof {
			return fmt.Errorf("jsonl: start offset %d is beyond the end of the stream (%d bytes)", off, r.base+int64(r.n))
		}
		if r.n > 0 {
			prev = r.buf[r.n-1]
		}
		r.p = r.n
		r.fill()
	}
	r.p = int(off - r.base)
	if r.p > 0 {
		prev = r.buf[r.p-1]
	}
	if prev == '\n' {
		return nil
	}
	// The last line may end at the end of the stream without a newline.
	for r.p == r.n && !r.eof && r.readErr == nil {
		r.fill()
	}
	if r.p == r.n && r.eof {
		return nil
	}
	if r.readErr != nil {
		return r.readErr
	}
	return fmt.Errorf("jsonl: start offset %d is not at the end of a line", off)
}

// fill moves the unparsed bytes to the front of the buffer, grows it when
// they fill it, and reads until the buffer is full, the stream ends or a
// read fails.
func (r *Reader) fill() {
	if r.p > 0 {
		r.n = copy(r.buf, r.buf[r.p:r.n])
		r.base += int64(r.p)
		r.p = 0
	}
	if r.n == len(r.buf) {
		// One line fills the buffer. parseLine reports lines longer than
		// MaxRecordBytes before the buffer outgrows that bound.
		size := 2 * len(r.buf)
		if limit := r.o.MaxRecordBytes + 4096; size > limit {
			size = max(limit, len(r.buf)+1)
		}
		nb := make([]byte, size)
		copy(nb, r.buf[:r.n])
		r.buf = nb
	}
	for r.n < len(r.buf) && !r.eof && r.readErr == nil {
		m, err := r.rd.Read(r.buf[r.n:])
		r.n += m
		if err == io.EOF {
			r.eof = true
		} else if err != nil {
			r.readErr = fmt.Errorf("read at byte %d: %w", r.base+int64(r.n), err)
		} else if m == 0 {
			if r.zeroReads++; r.zeroReads > 100 {
				r.readErr = fmt.Errorf("read at byte %d: %w", r.base+int64(r.n), io.ErrNoProgress)
			}
		} else {
			r.zeroReads = 0
		}
	}
}
