package json

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source/format"
	"github.com/ferrydata/ferry/source/format/internal/jsonscan"
	"github.com/ferrydata/ferry/source/format/internal/readerr"
)

func init() {
	format.Register(format.JSON, New)
}

// bufSize is the initial size of the read buffer. It grows only for a
// value longer than it (up to MaxRecordBytes).
const bufSize = 1 << 20

var bom = []byte{0xEF, 0xBB, 0xBF}

// Where the reader is in the document.
const (
	phHead  = iota // nothing read yet
	phFirst        // after the '[' of the records: a record or ']'
	phNext         // after a ',' between records (or before the only one): a record
	phAfter        // after a record: ',' or ']' (for the only record, the tail)
	phTail         // after the records: the rest of the document
	phDone         // at the end: io.EOF
)

// errLong is span's answer for a value longer than MaxRecordBytes.
var errLong = errors.New("value too long")

// Reader reads the records of a JSON document. Create it with New. It is
// not safe for concurrent use.
type Reader struct {
	o     format.Options
	start pusher.Position
	path  []string // Options.RecordsField split at the dots

	format.Stream // Buf[P:N] is read but not yet parsed

	phase  int
	single bool  // the document is the only record
	nrec   int64 // records consumed (good and bad) since the file start
	pos    pusher.Position
	errs   readerr.Errs

	// skipping: the rest of an over-long record is to be passed over,
	// following sk.
	skipping bool
	sk       skipper

	// dec maps objects to columns; dec.Cols is shared with every batch.
	dec      jsonscan.Decoder
	recStart int64  // stream offset of the record being read
	key      []byte // the last object key read outside the records
	scratch  []byte
}

var _ format.Reader = (*Reader)(nil)

// New returns a JSON document Reader for r, starting at start (the zero
// Position for the beginning of the stream, or a Position returned by Pos).
func New(r io.Reader, o format.Options, start pusher.Position) (format.Reader, error) {
	return newReader(r, o, start, bufSize)
}

// newReader is New with the initial buffer size; tests make it tiny to
// exercise values that straddle reads.
func newReader(r io.Reader, o format.Options, start pusher.Position, size int) (*Reader, error) {
	o = o.WithDefaults()
	if start.Offset < 0 || start.Records < 0 || (start.Offset == 0 && start.Records != 0) {
		return nil, fmt.Errorf("json: invalid start position %+v", start)
	}
	var path []string
	if o.RecordsField != "" {
		path = strings.Split(o.RecordsField, ".")
		if slices.Contains(path, "") {
			return nil, fmt.Errorf("json: invalid records field %q", o.RecordsField)
		}
	}
	return &Reader{
		o:      o,
		start:  start,
		path:   path,
		nrec:   start.Records,
		pos:    start,
		Stream: format.NewStream(r, "json", size, o),
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

func (r *Reader) next(b *pusher.Batch) error {
	if err := r.errs.Due(); err != nil {
		return err
	}
	for {
		if r.skipping {
			if err := r.skipRest(); err != nil {
				return r.errs.Fail(b, r.ended(err, fmt.Sprintf("in record %d (byte %d)", r.nrec, r.recStart)))
			}
			r.skipping = false
		}
		switch r.phase {
		case phHead:
			if err := r.head(); err != nil {
				return r.errs.Fail(b, err)
			}
		case phFirst, phNext:
			c, err := r.peek()
			if err != nil {
				return r.errs.Fail(b, r.ended(err, "looking for a record"))
			}
			if c == ']' && r.phase == phFirst {
				r.P++
				r.phase = phTail
				continue
			}
			if jsonscan.Kind(c) == "" {
				return r.errs.Fail(b, r.unexpected("looking for a record"))
			}
			r.phase = phAfter
			if err := r.record(b); err != nil {
				if readerr.IsRecordError(err) {
					r.nrec++
				}
				return r.errs.Fail(b, err)
			}
			r.nrec++
			r.pos = pusher.Position{Records: r.nrec, Offset: r.Base + int64(r.P)}
			if b.Len() >= r.o.BatchRows || b.Size() >= r.o.BatchBytes {
				return nil
			}
		case phAfter:
			if r.single {
				r.phase = phTail
				continue
			}
			c, err := r.peek()
			if err != nil {
				return r.errs.Fail(b, r.ended(err, "after a record"))
			}
			switch c {
			case ',':
				r.phase = phNext
			case ']':
				r.phase = phTail
			default:
				return r.errs.Fail(b, r.unexpected("after array element"))
			}
			r.P++
		case phTail:
			if err := r.tail(); err != nil {
				return r.errs.Fail(b, err)
			}
			r.phase = phDone
		case phDone:
			return r.errs.Fail(b, io.EOF)
		}
	}
}

// head reads the document down to its first record, then skips to the
// start position.
func (r *Reader) head() error {
	for r.N-r.P < len(bom) && !r.EOF && r.ReadErr == nil {
		r.Fill()
	}
	if bytes.HasPrefix(r.Buf[r.P:r.N], bom) {
		r.P += len(bom)
	}
	c, err := r.peek()
	switch {
	case err == io.EOF:
		r.phase = phDone // no document, no records
	case err != nil:
		return err
	case jsonscan.Kind(c) == "":
		return r.unexpected("looking for a value")
	case r.path != nil:
		if c != '{' {
			return fmt.Errorf("json: records field %q: the document is %s, not an object", r.o.RecordsField, jsonscan.Kind(c))
		}
		r.P++
		if err := r.walk(); err != nil {
			return err
		}
		r.phase = phFirst
	case c == '[':
		r.P++
		r.phase = phFirst
	case c == '{':
		r.single = true
		r.phase = phNext
	default:
		return fmt.Errorf("json: the document is %s, not an array or an object", jsonscan.Kind(c))
	}
	if r.start.Offset > 0 {
		return r.resume()
	}
	return nil
}

// walk follows the records field from just inside the top-level object to
// just inside its array.
func (r *Reader) walk() error {
	for k, name := range r.path {
		for first := true; ; first = false {
			key, ok, err := r.member(first)
			if err != nil {
				return err
			}
			if !ok {
				in := "the document"
				if k > 0 {
					in = fmt.Sprintf("%q", strings.Join(r.path[:k], "."))
				}
				return fmt.Errorf("json: records field %q not found: no key %q in %s", r.o.RecordsField, name, in)
			}
			c, err := r.peek()
			if err != nil {
				return r.ended(err, "looking for a value")
			}
			if jsonscan.Kind(c) == "" {
				return r.unexpected("looking for a value")
			}
			if string(key) != name {
				if err := r.skipValue(); err != nil {
					return err
				}
				continue
			}
			switch {
			case k == len(r.path)-1 && c != '[':
				return fmt.Errorf("json: records field %q is %s, not an array", r.o.RecordsField, jsonscan.Kind(c))
			case k < len(r.path)-1 && c != '{':
				return fmt.Errorf("json: records field %q: %q is %s, not an object", r.o.RecordsField, strings.Join(r.path[:k+1], "."), jsonscan.Kind(c))
			}
			r.P++
			break
		}
	}
	return nil
}

// tail reads the rest of the document after the records: the members
// that follow the array in each object around it, then whitespace.
func (r *Reader) tail() error {
	for range r.path {
		for {
			_, ok, err := r.member(false)
			if err != nil {
				return err
			}
			if !ok {
				break
			}
			if _, err := r.peek(); err != nil {
				return r.ended(err, "looking for a value")
			}
			if err := r.skipValue(); err != nil {
				return err
			}
		}
	}
	if _, err := r.peek(); err != io.EOF {
		if err != nil {
			return err
		}
		return r.unexpected("after the document")
	}
	return nil
}

// member reads the next member's key and colon in an object: the first
// member just after '{', or a later one after a value (with first false).
// It returns false after the object's '}'. The key is valid until the next
// call.
func (r *Reader) member(first bool) ([]byte, bool, error) {
	c, err := r.peek()
	if err != nil {
		return nil, false, r.ended(err, "in an object")
	}
	if c == '}' {
		r.P++
		return nil, false, nil
	}
	if !first {
		if c != ',' {
			return nil, false, r.unexpected("after object value")
		}
		r.P++
		if c, err = r.peek(); err != nil {
			return nil, false, r.ended(err, "looking for an object key")
		}
	}
	if c != '"' {
		return nil, false, r.unexpected("looking for an object key")
	}
	e, err := r.span()
	switch {
	case err == errLong || (err == nil && e-r.P > r.o.MaxRecordBytes):
		return nil, false, fmt.Errorf("json: object key at byte %d is longer than %d bytes", r.Base+int64(r.P), r.o.MaxRecordBytes)
	case err != nil:
		return nil, false, r.ended(err, "in an object key")
	}
	key, _, err := jsonscan.Unquote(r.Buf[:e], r.P, &r.scratch)
	if err != nil {
		return nil, false, fmt.Errorf("json: %w", syntax(err, r.Base))
	}
	r.key = append(r.key[:0], key...)
	r.P = e
	if c, err = r.peek(); err != nil {
		return nil, false, r.ended(err, "after object key")
	}
	if c != ':' {
		return nil, false, r.unexpected("after object key")
	}
	r.P++
	return r.key, true, nil
}

// skipValue passes over the value at P, checking it when it is at most
// MaxRecordBytes long.
func (r *Reader) skipValue() error {
	if jsonscan.Kind(r.Buf[r.P]) == "" {
		return r.unexpected("looking for a value")
	}
	e, err := r.span()
	switch {
	case err == errLong:
		r.P = e
		err = r.skipRest()
	case err == nil && e-r.P <= r.o.MaxRecordBytes:
		if _, err := jsonscan.SkipValue(r.Buf[:r.N], r.P); err != nil {
			return fmt.Errorf("json: %w", syntax(err, r.Base))
		}
		fallthrough
	case err == nil:
		r.P = e
	}
	return r.ended(err, "in a value")
}

// record reads the value at P as a record. A bad record is a
// *pusher.RecordError; any other error is final.
func (r *Reader) record(b *pusher.Batch) error {
	r.recStart = r.Base + int64(r.P)
	if r.Buf[r.P] == '{' {
		// Most records are whole in the buffer: parse them in one pass.
		if end, err := r.dec.Object(b, r.Buf[:r.N], r.P); err == nil {
			raw := r.Buf[r.P:end]
			r.P = end
			if len(raw) > r.o.MaxRecordBytes {
				r.dec.Drop(b)
				return r.bad(r.tooLong(), raw)
			}
			return nil
		}
	}
	// Not an object, invalid or not all read: find where it ends.
	e, err := r.span()
	switch {
	case err == errLong:
		raw := r.Buf[r.P:e]
		r.P = e
		r.skipping = true
		return r.bad(r.tooLong(), raw)
	case err != nil:
		return r.ended(err, fmt.Sprintf("in record %d (byte %d)", r.nrec+1, r.recStart))
	}
	raw := r.Buf[r.P:e]
	switch {
	case len(raw) > r.o.MaxRecordBytes:
		err = r.tooLong()
	case raw[0] != '{':
		err = fmt.Errorf("not a JSON object: the array element is %s", jsonscan.Kind(raw[0]))
	default:
		var end int
		if end, err = r.dec.Object(b, r.Buf[:r.N], r.P); err == nil {
			r.P = end // it was not all read before
			return nil
		}
		err = syntax(err, r.Base)
	}
	r.P = e
	return r.bad(err, raw)
}

func (r *Reader) tooLong() error {
	return fmt.Errorf("record longer than %d bytes", r.o.MaxRecordBytes)
}

// bad returns a RecordError for the record being read; raw holds its
// first bytes.
func (r *Reader) bad(err error, raw []byte) error {
	return &pusher.RecordError{Record: r.nrec + 1, Offset: r.recStart, Err: err, Raw: pusher.CutRaw(raw)}
}

// syntax rewrites a scanner error found in data whose first byte is at
// stream offset base to give the stream offset.
func syntax(err error, base int64) error {
	var se *jsonscan.SyntaxError
	if errors.As(err, &se) && !se.End {
		return fmt.Errorf("invalid JSON at byte %d: %s", base+int64(se.Off), se.Msg)
	}
	return err
}

// unexpected is a final error for the byte at P.
func (r *Reader) unexpected(what string) error {
	return fmt.Errorf("json: %w", syntax(jsonscan.Unexpected(r.Buf[:r.N], r.P, what), r.Base))
}

// ended turns io.EOF (the document ends early) into a final error.
func (r *Reader) ended(err error, what string) error {
	if err == io.EOF {
		return fmt.Errorf("json: unexpected end of the document %s", what)
	}
	return err
}

// peek skips whitespace, reading more as needed, and returns the next
// byte. It returns io.EOF at the end of the stream, or the read error.
func (r *Reader) peek() (byte, error) {
	for {
		if r.P = jsonscan.SkipSpace(r.Buf[:r.N], r.P); r.P < r.N {
			return r.Buf[r.P], nil
		}
		if r.ReadErr != nil {
			return 0, r.ReadErr
		}
		if r.EOF {
			return 0, io.EOF
		}
		r.Fill()
	}
}

// span finds the end e of the value starting at P, reading more as
// needed: the value is Buf[P:e]. When the value runs longer than
// MaxRecordBytes before its end is read, span returns errLong and e = N
// once MaxRawBytes of it are buffered (for RecordError.Raw) or the stream
// ends, and sk holds what skipRest needs to pass over the rest. At the end
// of the stream before the end of a shorter value it returns io.EOF.
func (r *Reader) span() (int, error) {
	r.sk = skipper{}
	at := r.P
	for {
		n, done := r.sk.scan(r.Buf[at:r.N], r.EOF)
		if at += n; done {
			return at, nil
		}
		end := r.EOF || r.ReadErr != nil
		if at-r.P > r.o.MaxRecordBytes && (at-r.P >= pusher.MaxRawBytes || end) {
			return at, errLong
		}
		if r.ReadErr != nil {
			return 0, r.ReadErr
		}
		if r.EOF {
			return 0, io.EOF
		}
		at -= r.P
		r.Fill()
		at += r.P
	}
}

// skipRest passes over the rest of the value span found too long, from
// P, without keeping it. It returns io.EOF when the stream ends first.
func (r *Reader) skipRest() error {
	for {
		n, done := r.sk.scan(r.Buf[r.P:r.N], r.EOF)
		if r.P += n; done {
			return nil
		}
		if r.ReadErr != nil {
			return r.ReadErr
		}
		if r.EOF {
			return io.EOF
		}
		r.Fill()
	}
}

// resume skips to the start position, from just inside the array (or
// before the only record), and checks that a record ends there.
func (r *Reader) resume() error {
	off := r.start.Offset
	if at := r.Base + int64(r.P); off <= at {
		return fmt.Errorf("json: start offset %d is not after a record (the records start at byte %d)", off, at)
	}
	// Read up to off keeping the byte before it, the end of a record.
	if r.o.Seek != nil && off-1 > r.Base+int64(r.N) {
		rd, err := r.o.Seek(off - 1)
		if err != nil {
			return fmt.Errorf("json: seek to byte %d: %w", off-1, err)
		}
		buf := r.Buf
		r.Stream = format.NewStream(rd, "json", 1, r.o)
		r.Buf, r.Base = buf, off-1
	}
	for r.Base+int64(r.N) < off {
		if r.ReadErr != nil {
			return r.ReadErr
		}
		if r.EOF {
			return fmt.Errorf("json: start offset %d is beyond the end of the stream (%d bytes)", off, r.Base+int64(r.N))
		}
		r.P = max(r.N-1, 0)
		r.Fill()
	}
	r.P = int(off - r.Base)
	if r.Buf[r.P-1] != '}' {
		return fmt.Errorf("json: start offset %d is not just after a record", off)
	}
	r.phase = phAfter
	return nil
}
