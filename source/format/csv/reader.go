package csv

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source/format"
	"github.com/ferrydata/ferry/source/format/internal/readerr"
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
	quote     byte
	escape    byte // 0: none (also when Options.Escape is the quote)
	comment   byte // 0: none
	null      []byte
	errBare   error // errBareQuote, naming the quote byte
	header    bool
	start     pusher.Position
	haveWidth bool // cols are known (header read, given, or from the first record)
	cols      []string

	format.Stream // Buf[P:N] is read but not yet parsed

	started bool
	nrec    int64 // data records consumed (good and bad) since the file start
	pos     pusher.Position
	errs    readerr.Errs

	// skipLine discards through the next LF (after malformed quoting, or
	// a comment); skipRecord discards the rest of an over-long record,
	// following quotes (inQuote) and escapes (escNext: the next byte is
	// escaped).
	skipLine   bool
	skipRecord bool
	inQuote    bool
	escNext    bool

	// capture: discard appends the bytes it drops to raw, the bad record
	// being reported (at most rawCap bytes).
	capture bool
	raw     []byte

	recStart int64 // stream offset of the record parse last looked at
	recLen   int   // length of the last record parsed, without its terminator
	scratch  []byte
	// fields, esc (escaped values), escIdx (their fields) and rec (a
	// record with escaped values) are parse's buffers for one record.
	fields []pusher.Field
	esc    []byte
	escIdx []int
	rec    []byte
	hdr    pusher.Batch
}

// rawCap is how much of a bad record is kept: MaxRawBytes and room for a
// CRLF to remove.
const rawCap = pusher.MaxRawBytes + 2

var _ format.Reader = (*Reader)(nil)

// New returns a CSV Reader for r, starting at start (the zero Position for
// the beginning of the stream, or a Position returned by Pos).
func New(r io.Reader, o format.Options, start pusher.Position) (format.Reader, error) {
	return newReader(r, o, start, bufSize)
}

// newTSV is New for format "tsv": a tab delimiter unless o sets another.
func newTSV(r io.Reader, o format.Options, start pusher.Position) (format.Reader, error) {
	o.Format = format.TSV
	return newReader(r, o, start, bufSize)
}

// newReader is New with the initial buffer size; tests make it tiny to
// exercise records that straddle reads.
func newReader(r io.Reader, o format.Options, start pusher.Position, size int) (*Reader, error) {
	o = o.WithDefaults()
	if err := checkOptions(o); err != nil {
		return nil, err
	}
	if start.Offset < 0 || start.Records < 0 || (start.Offset == 0 && start.Records != 0) {
		return nil, fmt.Errorf("csv: invalid start position %+v", start)
	}
	rd := &Reader{
		o:       o,
		delim:   o.Delimiter,
		quote:   o.Quote,
		comment: o.Comment,
		null:    []byte(o.NullString),
		header:  o.Header,
		start:   start,
		nrec:    start.Records,
		pos:     start,
		Stream:  format.NewStream(r, "csv", size, o),
	}
	if o.Escape != o.Quote {
		rd.escape = o.Escape
	}
	rd.errBare = errBareQuote
	if o.Quote != '"' {
		q := fmt.Sprintf("%q", o.Quote)
		if o.Quote > ' ' && o.Quote < 0x7f {
			q = string(rune(o.Quote))
		}
		rd.errBare = fmt.Errorf("bare %s in non-quoted field", q)
	}
	if !o.Header && len(o.Columns) > 0 {
		rd.cols = append([]string(nil), o.Columns...)
		rd.haveWidth = true
	}
	return rd, nil
}

// checkOptions rejects special bytes that would make records ambiguous:
// the delimiter, quote, escape and comment bytes must differ (except that
// an escape equal to the quote means none) and none may be CR or LF.
func checkOptions(o format.Options) error {
	special := func(c byte) bool { return c == '\r' || c == '\n' }
	switch {
	case special(o.Delimiter) || o.Delimiter == o.Quote:
		return fmt.Errorf("csv: invalid delimiter %q", o.Delimiter)
	case special(o.Quote):
		return fmt.Errorf("csv: invalid quote %q", o.Quote)
	case o.Escape != 0 && o.Escape != o.Quote && (special(o.Escape) || o.Escape == o.Delimiter):
		return fmt.Errorf("csv: invalid escape %q (with delimiter %q)", o.Escape, o.Delimiter)
	case o.Comment != 0 && (special(o.Comment) || o.Comment == o.Delimiter || o.Comment == o.Quote):
		return fmt.Errorf("csv: invalid comment %q (with delimiter %q and quote %q)", o.Comment, o.Delimiter, o.Quote)
	case o.SkipRows < 0:
		return fmt.Errorf("csv: invalid skip rows %d", o.SkipRows)
	}
	return nil
}

// Pos is the position just after the last record returned by Next.
func (r *Reader) Pos() pusher.Position { return r.pos }

// Next resets b and fills it with the next records; see the package doc.
func (r *Reader) Next(b *pusher.Batch) error {
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

func (r *Reader) next(b *pusher.Batch) error {
	if err := r.errs.Due(); err != nil {
		return err
	}
	if !r.started {
		r.started = true
		if err := r.begin(); err != nil {
			return r.errs.Fail(b, err)
		}
	}
	for {
		st, nf, err := r.record(b)
		if err != nil {
			if readerr.IsRecordError(err) {
				r.nrec++
			}
			return r.errs.Fail(b, err)
		}
		if st == stEOF {
			return r.errs.Fail(b, io.EOF)
		}
		if !r.haveWidth {
			r.setWidth(nf)
		} else if nf != len(r.cols) {
			b.DropRecord()
			err := r.recordError(r.recStart, &widthError{n: nf, want: len(r.cols), header: r.header})
			s := int(r.recStart - r.Base)
			err.Raw = pusher.CutRaw(r.Buf[s : s+r.recLen])
			r.nrec++
			return r.errs.Fail(b, err)
		}
		r.nrec++
		r.pos = pusher.Position{Records: r.nrec, Offset: r.Base + int64(r.P)}
		if b.Len() >= r.o.BatchRows || b.Size() >= r.o.BatchBytes {
			return nil
		}
	}
}

// record reads the next record into b, reading and discarding as needed.
// It returns stOK with the record's field count, stEOF, a
// *pusher.RecordError (the record is not in b), or a final read error.
func (r *Reader) record(b *pusher.Batch) (st, nf int, err error) {
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
			if re, ok := err.(*pusher.RecordError); ok {
				r.finishRaw(re)
			}
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

// finishRaw discards the rest of the bad record re (which parse started
// to capture), so that re.Raw holds it up to where reading resumes. A read
// error while discarding leaves the rest for the next call to report.
func (r *Reader) finishRaw(re *pusher.RecordError) {
	for (r.skipLine || r.skipRecord) && !r.discard() && r.ReadErr == nil {
		r.Fill()
	}
	raw := r.raw
	if n := len(raw); n > 0 && raw[n-1] == '\n' {
		raw = raw[:n-1]
	}
	if n := len(raw); n > 0 && raw[n-1] == '\r' {
		raw = raw[:n-1]
	}
	re.Raw = pusher.CutRaw(raw)
	r.capture = false
}

// startRaw begins capturing a bad record with its bytes b already parsed.
func (r *Reader) startRaw(b []byte) {
	r.raw = append(r.raw[:0], b[:min(len(b), rawCap)]...)
	r.capture = true
}

// setWidth names n columns column_1..column_n.
func (r *Reader) setWidth(n int) {
	r.haveWidth = true
	r.cols = make([]string, n)
	for i := range r.cols {
		r.cols[i] = "column_" + strconv.Itoa(i+1)
	}
}

func (r *Reader) recordError(start int64, err error) *pusher.RecordError {
	return &pusher.RecordError{Record: r.nrec + 1, Offset: start, Err: err}
}

// begin skips Options.SkipRows lines, reads the header and skips to the
// start position.
func (r *Reader) begin() error {
	for range r.o.SkipRows {
		r.skipLine = true
		for !r.discard() {
			if r.ReadErr != nil {
				return r.ReadErr
			}
			r.Fill()
		}
	}
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
		what := "header (which ends"
		if !r.header {
			what = "skipped rows (which end"
		}
		return fmt.Errorf("csv: start offset %d is inside the %s at byte %d)", off, what, cur)
	}
	// Without header or given columns, the width is that of the file's
	// first well-formed record, as when reading from the start.
	for !r.haveWidth && r.Base+int64(r.P) < off {
		r.hdr.Reset()
		st, nf, err := r.record(&r.hdr)
		var re *pusher.RecordError
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
	var re *pusher.RecordError
	if errors.As(err, &re) {
		return fmt.Errorf("csv header (byte %d): %w", re.Offset, re.Err)
	}
	if err != nil {
		return err
	}
	if st == stEOF {
		return nil // empty stream: no columns, no records
	}
	names := make([]string, nf)
	for i, f := range r.hdr.Record(0) {
		names[i] = string(r.hdr.Value(f))
	}
	r.cols = uniqueNames(names)
	r.haveWidth = true
	return nil
}

// widthError is a record with the wrong number of fields. Such a record
// is well-formed: its quotes pair up, so the cuts of a split stream after
// it hold.
type widthError struct {
	n, want int
	header  bool
}

func (e *widthError) Error() string {
	what := "expected"
	if e.header {
		what = "header has"
	}
	return fmt.Sprintf("has %d fields, %s %d", e.n, what, e.want)
}

// uniqueNames turns header fields into column names: trimmed, an empty
// name becomes column_N (N the 1-based position), and a name already taken
// by an earlier column gets the first free suffix _2, _3, ...
func uniqueNames(fields []string) []string {
	cols := make([]string, len(fields))
	taken := make(map[string]bool, len(fields))
	for i, f := range fields {
		name := strings.TrimSpace(f)
		if name == "" {
			name = "column_" + strconv.Itoa(i+1)
		}
		if taken[name] {
			base := name
			for k := 2; taken[name]; k++ {
				name = base + "_" + strconv.Itoa(k)
			}
		}
		taken[name] = true
		cols[i] = name
	}
	return cols
}

// discard drops bytes after a bad record or in a comment line. It reports
// whether it is done; when not, the buffer is exhausted and more must be
// read (or the stream has failed). With capture, the dropped bytes are
// appended to raw.
func (r *Reader) discard() bool {
	for {
		data := r.Buf[r.P:r.N]
		if len(data) == 0 {
			if r.EOF {
				r.skipLine, r.skipRecord, r.inQuote, r.escNext = false, false, false, false
				return true
			}
			return false
		}
		if r.skipLine {
			k := bytes.IndexByte(data, '\n')
			if k < 0 {
				r.drop(data)
				continue
			}
			r.drop(data[:k+1])
			r.skipLine = false
			return true
		}
		// skipRecord: follow quotes to find the record's end.
		if r.inQuote {
			var k int
			if r.escape != 0 {
				k = r.quoteEnd(data)
			} else {
				k = bytes.IndexByte(data, r.quote)
			}
			if k < 0 {
				r.drop(data)
				continue
			}
			r.drop(data[:k+1])
			r.inQuote = false
			continue
		}
		nl := bytes.IndexByte(data, '\n')
		line := data
		if nl >= 0 {
			line = data[:nl]
		}
		if q := bytes.IndexByte(line, r.quote); q >= 0 {
			r.drop(data[:q+1])
			r.inQuote = true
			continue
		}
		if nl < 0 {
			r.drop(data)
			continue
		}
		r.drop(data[:nl+1])
		r.skipRecord = false
		return true
	}
}

// quoteEnd is the index in data of the first quote that is not escaped,
// or -1; escNext carries an escape at the end of data over to the next call.
func (r *Reader) quoteEnd(data []byte) int {
	quote, esc := r.quote, r.escape
	for i := 0; i < len(data); i++ {
		switch {
		case r.escNext:
			r.escNext = false
		case data[i] == esc:
			r.escNext = true
		case data[i] == quote:
			return i
		}
	}
	return -1
}

// drop moves past data, the bytes at p, keeping them in raw when
// capturing.
func (r *Reader) drop(data []byte) {
	if r.capture && len(r.raw) < rawCap {
		r.raw = append(r.raw, data[:min(len(data), rawCap-len(r.raw))]...)
	}
	r.P += len(data)
}
