package csv

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/ferrydata/ferry/source"
	"github.com/ferrydata/ferry/source/format"
)

func init() {
	format.Register(format.CSV, New)
	format.Register(format.TSV, newTSV)
}

// bufSize is the initial size of the read buffer. It grows only for a
// record longer than it (up to MaxRecordBytes).
const bufSize = 1 << 20

var bom = []byte{0xEF, 0xBB, 0xBF}

// Reader reads CSV records. Create it with New. It is not safe for
// concurrent use.
type Reader struct {
	o         format.Options
	delim     byte
	null      []byte
	header    bool
	start     source.Position
	haveWidth bool // cols are known (header read, given, or from the first record)
	cols      []string

	format.Stream // Buf[P:N] is read but not yet parsed

	started bool
	nrec    int64 // data records consumed (good and bad) since the file start
	pos     source.Position
	pending error // error to return on the next call, after a batch
	err     error // final error: returned by every later call

	// skipLine discards through the next LF (after malformed quoting);
	// skipRecord discards the rest of an over-long record, following quotes.
	skipLine   bool
	skipRecord bool
	inQuote    bool

	recStart int64 // stream offset of the record parse last looked at
	scratch  []byte
	hdr      source.Batch
}

var _ format.Reader = (*Reader)(nil)

// New returns a CSV Reader for r, starting at start (the zero Position for
// the beginning of the stream, or a Position returned by Pos).
func New(r io.Reader, o format.Options, start source.Position) (format.Reader, error) {
	return newReader(r, o, start, bufSize)
}

// newTSV is New for format "tsv": a tab delimiter unless o sets another.
func newTSV(r io.Reader, o format.Options, start source.Position) (format.Reader, error) {
	o.Format = format.TSV
	return newReader(r, o, start, bufSize)
}

// newReader is New with the initial buffer size; tests make it tiny to
// exercise records that straddle reads.
func newReader(r io.Reader, o format.Options, start source.Position, size int) (*Reader, error) {
	o = o.WithDefaults()
	switch o.Delimiter {
	case '"', '\r', '\n':
		return nil, fmt.Errorf("csv: invalid delimiter %q", o.Delimiter)
	}
	if start.Offset < 0 || start.Records < 0 || (start.Offset == 0 && start.Records != 0) {
		return nil, fmt.Errorf("csv: invalid start position %+v", start)
	}
	rd := &Reader{
		o:      o,
		delim:  o.Delimiter,
		null:   []byte(o.NullString),
		header: o.Header,
		start:  start,
		nrec:   start.Records,
		pos:    start,
		Stream: format.NewStream(r, "csv", size, o),
	}
	if !o.Header && len(o.Columns) > 0 {
		rd.cols = append([]string(nil), o.Columns...)
		rd.haveWidth = true
	}
	return rd, nil
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
	stSkip        // bytes were consumed without a record (empty line, BOM)
	stMore        // the record is incomplete: read more
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
		if err := r.begin(); err != nil {
			r.err = err
			return err
		}
	}
	for {
		st, nf, err := r.record(b)
		if err != nil {
			var re *source.RecordError
			if errors.As(err, &re) {
				r.nrec++
			}
			return r.fail(b, err)
		}
		if st == stEOF {
			return r.fail(b, io.EOF)
		}
		if !r.haveWidth {
			r.setWidth(nf)
		} else if nf != len(r.cols) {
			b.DropRecord()
			what := "expected"
			if r.header {
				what = "header has"
			}
			err := r.recordError(r.recStart, fmt.Errorf("has %d fields, %s %d", nf, what, len(r.cols)))
			r.nrec++
			return r.fail(b, err)
		}
		r.nrec++
		r.pos = source.Position{Records: r.nrec, Offset: r.Base + int64(r.P)}
		if b.Len() >= r.o.BatchRows || b.Size() >= r.o.BatchBytes {
			return nil
		}
	}
}

// record reads the next record into b, reading and discarding as needed.
// It returns stOK with the record's field count, stEOF, a
// *source.RecordError (the record is not in b), or a final read error.
func (r *Reader) record(b *source.Batch) (st, nf int, err error) {
	for {
		if r.skipLine || r.skipRecord {
			if !r.discard() {
				if r.ReadErr != nil {
					return 0, 0, r.ReadErr
				}
				r.Fill()
				continue
			}
		}
		st, nf, err := r.parse(b)
		if err != nil {
			return 0, 0, err
		}
		switch st {
		case stOK, stEOF:
			return st, nf, nil
		case stMore:
			if r.ReadErr != nil {
				return 0, 0, r.ReadErr
			}
			r.Fill()
		}
	}
}

// setWidth names n columns column_1..column_n.
func (r *Reader) setWidth(n int) {
	r.haveWidth = true
	r.cols = make([]string, n)
	for i := range r.cols {
		r.cols[i] = "column_" + strconv.Itoa(i+1)
	}
}

// fail returns err now when b is empty, and otherwise returns b with a nil
// error and keeps err for the next call.
func (r *Reader) fail(b *source.Batch, err error) error {
	var re *source.RecordError
	isRecord := errors.As(err, &re)
	if b.Len() > 0 {
		r.pending = err
		return nil
	}
	if !isRecord {
		r.err = err
	}
	return err
}

func (r *Reader) recordError(start int64, err error) *source.RecordError {
	return &source.RecordError{Record: r.nrec + 1, Offset: start, Err: err}
}

// begin reads the header and skips to the start position.
func (r *Reader) begin() error {
	if r.header {
		if err := r.readHeader(); err != nil {
			return err
		}
	}
	off := r.start.Offset
	if off == 0 {
		return nil
	}
	if cur := r.Base + int64(r.P); off < cur {
		return fmt.Errorf("csv: start offset %d is inside the header (which ends at byte %d)", off, cur)
	}
	// Without header or given columns, the width is that of the file's
	// first well-formed record, as when reading from the start.
	for !r.haveWidth && r.Base+int64(r.P) < off {
		r.hdr.Reset()
		st, nf, err := r.record(&r.hdr)
		var re *source.RecordError
		if errors.As(err, &re) {
			continue
		}
		if err != nil {
			return err
		}
		if st == stEOF {
			break
		}
		if r.recStart >= off {
			return fmt.Errorf("csv: start offset %d is not at a record boundary", off)
		}
		r.setWidth(nf)
	}
	if cur := r.Base + int64(r.P); off < cur {
		return fmt.Errorf("csv: start offset %d is not at a record boundary", off)
	}
	return r.SkipTo(off)
}

func (r *Reader) readHeader() error {
	r.hdr.Reset()
	st, nf, err := r.record(&r.hdr)
	var re *source.RecordError
	if errors.As(err, &re) {
		return fmt.Errorf("csv header (byte %d): %w", re.Offset, re.Err)
	}
	if err != nil {
		return err
	}
	if st == stEOF {
		return nil // empty stream: no columns, no records
	}
	cols := make([]string, nf)
	seen := make(map[string]bool, nf)
	for i, f := range r.hdr.Record(0) {
		name := strings.TrimSpace(string(r.hdr.Value(f)))
		if name == "" {
			name = "column_" + strconv.Itoa(i+1)
		}
		if seen[name] {
			return fmt.Errorf("csv header: duplicate column name %q in header", name)
		}
		seen[name] = true
		cols[i] = name
	}
	r.cols = cols
	r.haveWidth = true
	return nil
}

// discard drops bytes after a bad record. It reports whether it is done;
// when not, the buffer is exhausted and more must be read (or the stream
// has failed).
func (r *Reader) discard() bool {
	for {
		data := r.Buf[r.P:r.N]
		if len(data) == 0 {
			if r.EOF {
				r.skipLine, r.skipRecord, r.inQuote = false, false, false
				return true
			}
			return false
		}
		if r.skipLine {
			k := bytes.IndexByte(data, '\n')
			if k < 0 {
				r.P = r.N
				continue
			}
			r.P += k + 1
			r.skipLine = false
			return true
		}
		// skipRecord: follow quotes to find the record's end.
		if r.inQuote {
			k := bytes.IndexByte(data, '"')
			if k < 0 {
				r.P = r.N
				continue
			}
			r.P += k + 1
			r.inQuote = false
			continue
		}
		nl := bytes.IndexByte(data, '\n')
		line := data
		if nl >= 0 {
			line = data[:nl]
		}
		if q := bytes.IndexByte(line, '"'); q >= 0 {
			r.P += q + 1
			r.inQuote = true
			continue
		}
		if nl < 0 {
			r.P = r.N
			continue
		}
		r.P += nl + 1
		r.skipRecord = false
		return true
	}
}
