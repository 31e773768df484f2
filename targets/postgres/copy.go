package postgres

import (
	"encoding/binary"
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

// lineError is a row the server refused, by batch row.
type lineError struct {
	row    int
	reject *pusher.RecordError
	err    error
}

func (e *lineError) Error() string { return e.err.Error() }
func (e *lineError) Unwrap() error { return e.err }

// copyError turns a server-side COPY error that names a line (a NOT NULL,
// length or check violation) into a lineError for that row.
func copyError(c *pusher.Chunk, r *copyReader, err error) error {
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
	row := r.sent[line-1]
	what := pgErr.Message
	if m[2] != "" {
		what = fmt.Sprintf("column %s: %s", m[2], pgErr.Message)
	}
	return &lineError{row: row, err: err,
		reject: &pusher.RecordError{Record: c.First() + int64(row), Offset: -1, Err: errors.New(what)}}
}

// copyReader streams a chunk in binary COPY format, converting values as it
// goes, so conversion overlaps with the server's work on earlier rows.
type copyReader struct {
	c        *pusher.Chunk
	p        *plan
	skip     bool                        // reject rows whose values do not convert
	excluded map[int]*pusher.RecordError // rows left out (refused by the server)
	row      int
	buf      []byte
	off      int
	eof      bool
	mu       sync.Mutex            // guards err, which a broken COPY may read late
	err      error                 // conversion error that stops the COPY
	rejects  []*pusher.RecordError // rows left out, with why
	sent     []int                 // batch row of each COPY line
	extra    []byte
	// readMu is held by Read; detach takes it to wait for a Read under way
	// and stop later ones, so that the chunk can be released while
	// pgconn's goroutine may still call Read (a broken connection).
	readMu   sync.Mutex
	detached bool
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

func newCopyReader(c *pusher.Chunk, p *plan, skip bool, excluded map[int]*pusher.RecordError) *copyReader {
	bp := bufPool.Get().(*[]byte)
	return &copyReader{c: c, p: p, skip: skip, excluded: excluded, buf: append((*bp)[:0], copyHeader...),
		sent: make([]int, 0, c.Batch.Len())}
}

// failure returns the conversion error that stopped the COPY, if any.
func (r *copyReader) failure() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

func (r *copyReader) setErr(err error) {
	r.mu.Lock()
	r.err = err
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
		if err := r.failure(); err != nil {
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
	b := r.c.Batch
	buf := r.buf
	ncols := uint16(len(r.p.fields))
rows:
	for ; r.row < b.Len() && len(buf) < fillTarget; r.row++ {
		if rej, ok := r.excluded[r.row]; ok {
			r.rejects = append(r.rejects, rej)
			continue
		}
		rowStart := len(buf)
		fields := b.Record(r.row)
		buf = binary.BigEndian.AppendUint16(buf, ncols)
		for j, fi := range r.p.fields {
			switch {
			case fi == sysFile:
				buf = binary.BigEndian.AppendUint32(buf, uint32(len(r.c.File.Key)))
				buf = append(buf, r.c.File.Key...)
				continue
			case fi == sysRecord:
				buf = binary.BigEndian.AppendUint32(buf, 8)
				buf = binary.BigEndian.AppendUint64(buf, uint64(r.c.First()+int64(r.row)))
				continue
			case fi == sysExtra:
				at := len(buf)
				buf = append(buf, 0, 0, 0, 0)
				r.extra = r.appendExtra(r.extra[:0], fields)
				buf, _ = r.p.enc[j](buf, pusher.JSON, r.extra)
				binary.BigEndian.PutUint32(buf[at:], uint32(len(buf)-at-4))
				continue
			case fi >= len(fields) || fields[fi].Kind == pusher.Null:
				buf = append(buf, 0xff, 0xff, 0xff, 0xff)
				continue
			}
			f := fields[fi]
			at := len(buf)
			buf = append(buf, 0, 0, 0, 0)
			var err error
			buf, err = r.p.enc[j](buf, f.Kind, b.Value(f))
			if err != nil {
				record := r.c.First() + int64(r.row)
				if col := r.p.tbl.columns[r.p.colIdx[j]]; r.p.tbl.ferryMade && col.widen != nil {
					if to := col.widen(f.Kind, b.Value(f)); to != "" {
						r.setErr(&widenError{column: col.name, from: col.typeName, to: to, value: clip(b.Value(f)), record: record})
						r.buf = buf[:0]
						return
					}
				}
				re := &pusher.RecordError{Record: record, Offset: -1, Err: fmt.Errorf("column %q: %w", r.p.cols[j], err)}
				if r.skip {
					re.Raw = pusher.CutRaw(b.AppendJSON(nil, r.row))
					r.rejects = append(r.rejects, re)
					buf = buf[:rowStart]
					continue rows
				}
				r.setErr(re)
				r.buf = buf[:0]
				return
			}
			binary.BigEndian.PutUint32(buf[at:], uint32(len(buf)-at-4))
		}
		r.sent = append(r.sent, r.row)
	}
	if r.row >= b.Len() {
		buf = append(buf, 0xff, 0xff) // trailer
		r.eof = true
	}
	r.buf = buf
}

// appendExtra renders the fields that have no column as one JSON object.
func (r *copyReader) appendExtra(dst []byte, fields []pusher.Field) []byte {
	b := r.c.Batch
	dst = append(dst, '{')
	n := 0
	for _, fi := range r.p.extra {
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
		if f.Kind == pusher.String {
			dst = pusher.AppendJSONString(dst, b.Value(f))
		} else {
			dst = append(dst, b.Value(f)...)
		}
	}
	return append(dst, '}')
}
