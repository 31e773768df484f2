package postgres

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"sync"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ferrydata/ferry/pusher"
)

var copyLine = regexp.MustCompile(`COPY [^,]+, line (\d+)(?:, column ([^:]+))?`)

// lineError is a row the server refused: row of the batch of the COPY's
// part (chunk).
type lineError struct {
	part   int
	row    int
	reject *pusher.RecordError
	err    error
}

func (e *lineError) Error() string { return e.err.Error() }
func (e *lineError) Unwrap() error { return e.err }

// copyError turns a server-side COPY error that names a line (a NOT NULL,
// length or check violation) into a lineError for that row.
func copyError(r *copyReader, err error) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return fmt.Errorf("copy: %w", err)
	}
	cls := pgErr.Code[:2]
	if cls != "22" && cls != "23" || pgErr.Code == "22P03" {
		return fmt.Errorf("copy: %w", err)
	}
	m := copyLine.FindStringSubmatch(pgErr.Where)
	if m == nil {
		return fmt.Errorf("copy: %w", err)
	}
	line, _ := strconv.Atoi(m[1])
	if line < 1 || line > len(r.sent) {
		return fmt.Errorf("copy: %w", err)
	}
	at := r.sent[line-1]
	what := pgErr.Message
	if m[2] != "" {
		what = fmt.Sprintf("column %s: %s", m[2], pgErr.Message)
	}
	c := r.parts[at.part].c
	return &lineError{part: at.part, row: at.row, err: err,
		reject: &pusher.RecordError{Record: c.First() + int64(at.row), Offset: -1, Err: errors.New(what)}}
}

// copyPart is one chunk of a COPY: its rows, the plan they follow (every
// part of a COPY has the same columns), the rows left out because the
// server refused them, and the rows rejected while converting.
type copyPart struct {
	c        *pusher.Chunk
	p        *plan
	excluded map[int]*pusher.RecordError
	rejects  []*pusher.RecordError
	rescued  int // rows with a value kept in the rescue column
}

// sentRow is the part and batch row of a COPY line.
type sentRow struct{ part, row int }

// copyReader streams the rows of one or more chunks (parts) as one COPY
// in binary format, converting values as it goes, so conversion overlaps
// with the server's work on earlier rows.
type copyReader struct {
	parts []*copyPart
	skip  bool // reject rows whose values do not convert
	cur   int  // part being read
	row   int  // its next batch row
	buf   []byte
	off   int
	eof   bool
	mu    sync.Mutex // guards err and errPart, which a broken COPY may read late
	err   error      // conversion error that stops the COPY
	// errPart is the part whose row err is about.
	errPart int
	sent    []sentRow // part and batch row of each COPY line
	extra   []byte
	rescued []int // the current row's fields kept in the rescue column
	// readMu is held by Read; detach takes it to wait for a Read under way
	// and stop later ones, so that the chunks can be released while
	// pgconn's goroutine may still call Read (a broken connection).
	readMu   sync.Mutex
	detached bool
	// ord: each row ends with one more column, its COPY line number (the
	// rows' order in the temporary table of a merge; see merge.go).
	ord bool
}

// errDetached is what Read returns once the writer has given up the COPY.
var errDetached = errors.New("copy abandoned")

// detach waits for a Read under way and makes later ones fail: after it,
// nothing of r touches the chunk or the buffer.
func (r *copyReader) detach() {
	r.readMu.Lock()
	r.detached = true
	r.readMu.Unlock()
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 256<<10); return &b }}

var copyHeader = []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")

func newCopyReader(parts []*copyPart, skip bool) *copyReader {
	bp := bufPool.Get().(*[]byte)
	n := 0
	for _, pt := range parts {
		pt.rejects = pt.rejects[:0]
		pt.rescued = 0
		n += pt.c.Batch.Len()
	}
	return &copyReader{parts: parts, skip: skip, buf: append((*bp)[:0], copyHeader...), sent: make([]sentRow, 0, n)}
}

// failure returns the conversion error that stopped the COPY, if any, and
// the part it is about.
func (r *copyReader) failure() (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.errPart, r.err
}

func (r *copyReader) setErr(err error) {
	r.mu.Lock()
	r.err, r.errPart = err, r.cur
	r.mu.Unlock()
}

func (r *copyReader) release() {
	b := r.buf[:0]
	r.buf = nil
	bufPool.Put(&b)
}

const fillTarget = 128 << 10

func (r *copyReader) Read(p []byte) (int, error) {
	r.readMu.Lock()
	defer r.readMu.Unlock()
	if r.detached {
		return 0, errDetached
	}
	for r.off >= len(r.buf) {
		if r.eof {
			return 0, io.EOF
		}
		if _, err := r.failure(); err != nil {
			return 0, err
		}
		r.buf, r.off = r.buf[:0], 0
		r.fill()
	}
	n := copy(p, r.buf[r.off:])
	r.off += n
	return n, nil
}

func (r *copyReader) fill() {
	buf := r.buf
	for r.cur < len(r.parts) && len(buf) < fillTarget {
		pt := r.parts[r.cur]
		if r.row >= pt.c.Batch.Len() {
			r.cur, r.row = r.cur+1, 0
			continue
		}
		var ok bool
		if buf, ok = r.appendRow(buf, pt); !ok {
			r.buf = buf[:0]
			return
		}
		r.row++
	}
	if r.cur >= len(r.parts) {
		buf = append(buf, 0xff, 0xff) // trailer
		r.eof = true
	}
	r.buf = buf
}

// appendRow appends row r.row of pt, unless it is excluded or rejected
// (then recorded in pt.rejects). It returns false when a value stops the
// COPY (r.err is set).
func (r *copyReader) appendRow(buf []byte, pt *copyPart) ([]byte, bool) {
	b, c, p := pt.c.Batch, pt.c, pt.p
	if rej, ok := pt.excluded[r.row]; ok {
		pt.rejects = append(pt.rejects, rej)
		return buf, true
	}
	rowStart := len(buf)
	fields := b.Record(r.row)
	if p.key != nil {
		if j := nullKey(p, fields); j >= 0 {
			re := &pusher.RecordError{Record: c.First() + int64(r.row), Offset: -1,
				Err: fmt.Errorf("column %q of --merge-key is NULL", p.cols[j])}
			if r.skip {
				re.Raw = pusher.CutRaw(b.AppendJSON(nil, r.row))
				pt.rejects = append(pt.rejects, re)
				return buf, true
			}
			r.setErr(re)
			return buf, false
		}
	}
	r.rescued = r.rescued[:0]
	if r.ord {
		buf = binary.BigEndian.AppendUint16(buf, uint16(len(p.fields)+1))
	} else {
		buf = binary.BigEndian.AppendUint16(buf, uint16(len(p.fields)))
	}
	for j, fi := range p.fields {
		if fi >= 0 {
			// A field of the record: the common case, first.
			if fi >= len(fields) || fields[fi].Kind == pusher.Null {
				buf = append(buf, 0xff, 0xff, 0xff, 0xff)
				continue
			}
			f := fields[fi]
			at := len(buf)
			buf = append(buf, 0, 0, 0, 0)
			var err error
			if buf, err = p.enc[j](buf, f.Kind, b.Value(f)); err == nil {
				binary.BigEndian.PutUint32(buf[at:], uint32(len(buf)-at-4))
				continue
			}
			var st valueStatus
			switch buf, st = r.badValue(buf[:at], pt, rowStart, j, fi, f, err); st {
			case valueRejected:
				return buf, true
			case valueStops:
				return buf, false
			}
			continue
		}
		switch {
		case fi == sysRecord:
			buf = binary.BigEndian.AppendUint32(buf, 8)
			buf = binary.BigEndian.AppendUint64(buf, uint64(c.First()+int64(r.row)))
			continue
		case fi <= sysConst:
			v := p.consts[sysConst-fi]
			if v == nil {
				buf = append(buf, 0xff, 0xff, 0xff, 0xff)
				continue
			}
			buf = binary.BigEndian.AppendUint32(buf, uint32(len(v)))
			buf = append(buf, v...)
			continue
		case fi == sysExtra || fi == sysRescue:
			// The rescue column follows the data columns, so the row's
			// rescued values are known; sysExtra takes them too when the
			// extra column is the rescue column.
			var extra []int
			if fi == sysExtra {
				extra = p.extra
			}
			var rescued []int
			if p.rescue && (fi == sysRescue || !hasRescue(p)) {
				rescued = r.rescued
			}
			if len(extra) == 0 && len(rescued) == 0 {
				buf = append(buf, 0xff, 0xff, 0xff, 0xff)
				continue
			}
			at := len(buf)
			buf = append(buf, 0, 0, 0, 0)
			r.extra = appendFields(r.extra[:0], b, fields, extra, rescued)
			buf, _ = p.enc[j](buf, pusher.JSON, r.extra)
			binary.BigEndian.PutUint32(buf[at:], uint32(len(buf)-at-4))
		}
	}
	if len(r.rescued) > 0 {
		pt.rescued++
	}
	if r.ord {
		buf = binary.BigEndian.AppendUint32(buf, 8)
		buf = binary.BigEndian.AppendUint64(buf, uint64(len(r.sent)+1))
	}
	r.sent = append(r.sent, sentRow{r.cur, r.row})
	return buf, true
}

// nullKey returns the first COPY column of the merge key that is NULL in
// the record, or -1.
func nullKey(p *plan, fields []pusher.Field) int {
	for j, isKey := range p.key {
		if !isKey {
			continue
		}
		switch fi := p.fields[j]; {
		case fi <= sysConst:
			if p.consts[sysConst-fi] == nil {
				return j
			}
		case fi >= 0:
			if fi >= len(fields) || fields[fi].Kind == pusher.Null {
				return j
			}
		}
	}
	return -1
}

// Outcomes of badValue.
type valueStatus int

const (
	valueOK       valueStatus = iota // appended (or NULL with the value rescued)
	valueRejected                    // the row is rejected: buf is cut back to its start
	valueStops                       // the COPY stops: r.err is set
)

// badValue handles field f (index fi) of the current row, which did not
// convert (err) for COPY column j; buf ends where its value would start.
// The value goes to the rescue column (NULL here), or rejects the row
// (recorded in pt.rejects), or stops the COPY.
func (r *copyReader) badValue(buf []byte, pt *copyPart, rowStart, j, fi int, f pusher.Field, err error) ([]byte, valueStatus) {
	b, p := pt.c.Batch, pt.p
	record := pt.c.First() + int64(r.row)
	col := &p.tbl.columns[p.colIdx[j]]
	switch act, to := p.onBadValue(j, col, f.Kind, b.Value(f)); act {
	case keepRescued:
		// Kept as written in the rescue column; NULL here.
		buf = append(buf, 0xff, 0xff, 0xff, 0xff)
		r.rescued = append(r.rescued, fi)
		return buf, valueOK
	case widenColumn:
		r.setErr(&widenError{column: col.name, from: col.typeName, to: to, value: clip(b.Value(f)), record: record})
		return buf, valueStops
	}
	re := &pusher.RecordError{Record: record, Offset: -1, Err: fmt.Errorf("column %q: %w", p.cols[j], err)}
	if r.skip {
		re.Raw = pusher.CutRaw(b.AppendJSON(nil, r.row))
		pt.rejects = append(pt.rejects, re)
		return buf[:rowStart], valueRejected
	}
	r.setErr(re)
	return buf, valueStops
}

// What a load does with a value that does not convert (onBadValue).
type badValueAction int

const (
	rejectRecord badValueAction = iota // the record is bad (rejected, or it stops the load)
	keepRescued                        // kept as written in the rescue column, NULL in its own
	widenColumn                        // the column (of a table ferry made) is widened to fit
)

// onBadValue says what a load does with value v (of kind k) for COPY
// column j, of table column col, which did not convert: the copy does
// it and a dry run reports it, so both follow this one rule. A merge
// key's value is never rescued. For widenColumn, to is the new type.
func (p *plan) onBadValue(j int, col *column, k pusher.Kind, v []byte) (act badValueAction, to string) {
	if p.rescue && (p.key == nil || !p.key[j]) {
		return keepRescued, ""
	}
	if p.tbl.ferryMade && col.widen != nil {
		if to := col.widen(k, v); to != "" {
			return widenColumn, to
		}
	}
	return rejectRecord, ""
}

// hasRescue says whether the plan has a rescue column of its own (else
// rescued values go into the extra column).
func hasRescue(p *plan) bool {
	for _, fi := range p.fields {
		if fi == sysRescue {
			return true
		}
	}
	return false
}

// appendFields renders fields of a record as one JSON object: those of
// extra (fields without a column) and of rescued (values that did not
// convert), each under its field's name, strings as JSON strings and
// other values as written.
func appendFields(dst []byte, b *pusher.Batch, fields []pusher.Field, extra, rescued []int) []byte {
	dst = append(dst, '{')
	n := 0
	for _, list := range [][]int{extra, rescued} {
		for _, fi := range list {
			if fi >= len(fields) || fields[fi].Kind == pusher.Null {
				continue
			}
			if n > 0 {
				dst = append(dst, ',')
			}
			n++
			dst = pusher.AppendJSONString(dst, []byte(b.Columns[fi]))
			dst = append(dst, ':')
			f := fields[fi]
			if v := b.Value(f); f.Kind == pusher.String || f.Kind == pusher.Number && !json.Valid(v) {
				dst = pusher.AppendJSONString(dst, v) // a reader's NaN is no JSON number
			} else {
				dst = append(dst, v...)
			}
		}
	}
	return append(dst, '}')
}
