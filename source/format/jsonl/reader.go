package jsonl

import (
	"bytes"
	"fmt"
	"io"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source/format"
	"github.com/ferrydata/ferry/source/format/internal/jsonscan"
	"github.com/ferrydata/ferry/source/format/internal/readerr"
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
	o     format.Options
	start pusher.Position

	format.Stream // Buf[P:N] is read but not yet parsed

	started bool
	nrec    int64 // records consumed (good and bad) since the file start
	pos     pusher.Position
	errs    readerr.Errs
	// skipLine discards through the next LF (the rest of an over-long line).
	skipLine bool

	// dec maps objects to columns; dec.Cols is shared with every batch.
	dec jsonscan.Decoder

	recStart int64 // stream offset of the line being parsed
}

var _ format.Reader = (*Reader)(nil)

// New returns a JSON lines Reader for r, starting at start (the zero
// Position for the beginning of the stream, or a Position returned by Pos).
func New(r io.Reader, o format.Options, start pusher.Position) (format.Reader, error) {
	return newReader(r, o, start, bufSize)
}

// newReader is New with the initial buffer size; tests make it tiny to
// exercise lines that straddle reads.
func newReader(r io.Reader, o format.Options, start pusher.Position, size int) (*Reader, error) {
	o = o.WithDefaults()
	if start.Offset < 0 || start.Records < 0 || (start.Offset == 0 && start.Records != 0) {
		return nil, fmt.Errorf("jsonl: invalid start position %+v", start)
	}
	return &Reader{
		o:      o,
		start:  start,
		nrec:   start.Records,
		pos:    start,
		Stream: format.NewStream(r, "jsonl", size, o),
	}, nil
}

// Pos is the position just after the last record returned by Next.
func (r *Reader) Pos() pusher.Position { return r.pos }

// Next resets b and fills it with the next records; see the package doc.
func (r *Reader) Next(b *pusher.Batch) error {
	b.Reset()
	err := r.next(b)
	b.Columns = r.dec.Cols
	return err
}

// Parse outcomes.
const (
	stOK   = iota // a record was added to the batch
	stSkip        // bytes were consumed without a record (blank line, BOM)
	stMore        // the line is incomplete: read more
	stEOF         // no more data
)

func (r *Reader) next(b *pusher.Batch) error {
	if err := r.errs.Due(); err != nil {
		return err
	}
	if !r.started {
		r.started = true
		if r.start.Offset > 0 {
			if err := r.SkipTo(r.start.Offset); err != nil {
				return r.errs.Fail(b, err)
			}
		}
	}
	for {
		if r.skipLine {
			k := bytes.IndexByte(r.Buf[r.P:r.N], '\n')
			switch {
			case k >= 0:
				r.P += k + 1
				r.skipLine = false
			case r.EOF:
				r.P = r.N
				r.skipLine = false
			case r.ReadErr != nil:
				return r.errs.Fail(b, r.ReadErr)
			default:
				r.P = r.N
				r.Fill()
				continue
			}
		}
		st, err := r.parseLine(b)
		if err != nil {
			r.nrec++
			return r.errs.Fail(b, err)
		}
		switch st {
		case stOK:
			r.nrec++
			r.pos = pusher.Position{Records: r.nrec, Offset: r.Base + int64(r.P)}
			if b.Len() >= r.o.BatchRows || b.Size() >= r.o.BatchBytes {
				return nil
			}
		case stSkip:
		case stMore:
			if r.ReadErr != nil {
				return r.errs.Fail(b, r.ReadErr)
			}
			r.Fill()
		case stEOF:
			return r.errs.Fail(b, io.EOF)
		}
	}
}

// parseLine reads one line from buf[p:n]. On stOK the record is in b and p
// is after the line; on stSkip p has moved past a blank line or the BOM; on
// stMore and stEOF nothing changed. A bad line is a *pusher.RecordError,
// with p (or the discard state) past it.
func (r *Reader) parseLine(b *pusher.Batch) (int, error) {
	data := r.Buf[r.P:r.N]
	r.recStart = r.Base + int64(r.P)
	if len(data) == 0 {
		if r.EOF {
			return stEOF, nil
		}
		return stMore, nil
	}
	if r.recStart == 0 && data[0] == bom[0] {
		if len(data) < len(bom) && !r.EOF && bytes.HasPrefix(bom, data) {
			return stMore, nil
		}
		if bytes.HasPrefix(data, bom) {
			r.P += len(bom)
			return stSkip, nil
		}
	}
	nl := bytes.IndexByte(data, '\n')
	next := nl + 1
	if nl < 0 {
		if !r.EOF {
			// An over-long line is reported once its first MaxRawBytes are
			// buffered, for RecordError.Raw (the buffer may grow to
			// MaxRecordBytes plus 4 KiB).
			if r.exceeds(data) && len(data) >= pusher.MaxRawBytes {
				r.skipLine = true
				return 0, r.tooLong(data)
			}
			return stMore, nil
		}
		nl, next = len(data), len(data)
	}
	line := data[:nl]
	r.P += next
	raw := line // without the terminator, LF or CRLF
	if nl < len(data) {
		raw = bytes.TrimSuffix(raw, []byte{'\r'})
	}
	if r.exceeds(line) {
		return 0, r.tooLong(raw)
	}
	i := jsonscan.SkipSpace(line, 0)
	if i == len(line) {
		return stSkip, nil
	}
	if err := r.object(b, line, i); err != nil {
		return 0, &pusher.RecordError{Record: r.nrec + 1, Offset: r.recStart, Err: err, Raw: pusher.CutRaw(raw)}
	}
	return stOK, nil
}

// object parses the object starting at line[i], which must be followed
// only by whitespace, into a new record of b.
func (r *Reader) object(b *pusher.Batch, line []byte, i int) error {
	if kind := jsonscan.Kind(line[i]); line[i] != '{' && kind != "" {
		return fmt.Errorf("not a JSON object: the line holds %s", kind)
	}
	end, err := r.dec.Object(b, line, i)
	if err != nil {
		return err
	}
	if j := jsonscan.SkipSpace(line, end); j < len(line) {
		r.dec.Drop(b)
		return jsonscan.Unexpected(line, j, "after the object (one object per line)")
	}
	return nil
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

// tooLong reports the line being parsed as longer than MaxRecordBytes;
// raw holds its start.
func (r *Reader) tooLong(raw []byte) error {
	return &pusher.RecordError{Record: r.nrec + 1, Offset: r.recStart,
		Err: fmt.Errorf("record longer than %d bytes", r.o.MaxRecordBytes), Raw: pusher.CutRaw(raw)}
}
