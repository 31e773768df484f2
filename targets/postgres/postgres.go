// Package postgres is the PostgreSQL target. Each chunk is written with one
// binary COPY inside one transaction; when progress state lives in the same
// database, the file's new position is written in that transaction too, so
// a chunk's rows and its progress commit together or not at all.
//
// Field values are converted to the column types on the client (see
// encode.go) and sent in PostgreSQL's binary COPY format, which costs the
// server less than parsing text. A value that does not convert fails the
// chunk with a *pusher.RecordError naming the record and column; nothing of
// that chunk is written.
//
// Column and table names are always quoted identifiers, never SQL text.
package postgres

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ferrydata/ferry/pusher"
	pgstate "github.com/ferrydata/ferry/state/postgres"
)

// querier is what table lookups need from a pool, a connection or a
// transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Config of the target.
type Config struct {
	// Table to load into; created when missing.
	Table pgx.Identifier
	// Columns name column types for a table ferry creates (types inferred
	// from the first records for the others).
	Columns []ColumnSpec
	// SystemColumns fills _ferry_file and _ferry_record.
	SystemColumns bool
	// Pipeline names the job in ferry.files and ferry.rejects.
	Pipeline string
	// StateInTx: Write advances the file's progress in ferry.files in the
	// chunk's transaction (the state lives in this database).
	StateInTx bool
	// SkipRecords: values that do not convert, and rows the server refuses,
	// are rejected (recorded in ferry.rejects) instead of failing the chunk.
	SkipRecords bool
	// UnknownFields: what to do with fields that have no column.
	UnknownFields UnknownFields
	// ExtraColumn is the jsonb column that takes unknown fields under
	// UnknownExtra (default "_extra"; created with the table).
	ExtraColumn string
	// Conversion options for values.
	Conversion Conversion
	// Log, when set, receives notices (a widened column).
	Log func(msg string)
}

// Target is the PostgreSQL target.
type Target struct {
	pool *pgxpool.Pool
	cfg  Config
	m    *pgtype.Map

	mu  sync.Mutex
	tbl *table
}

var _ pusher.Target = (*Target)(nil)

// New returns a target writing into cfg.Table through pool. The pool is the
// caller's.
func New(ctx context.Context, pool *pgxpool.Pool, cfg Config) (*Target, error) {
	if len(cfg.Table) == 0 {
		return nil, errors.New("postgres target: no table")
	}
	if cfg.ExtraColumn == "" {
		cfg.ExtraColumn = "_extra"
	}
	if cfg.UnknownFields == "" {
		cfg.UnknownFields = UnknownError
	}
	// ferry.rejects must exist in this database, also when progress is
	// kept elsewhere.
	if _, err := pgstate.New(ctx, pool); err != nil {
		return nil, err
	}
	t := &Target{pool: pool, cfg: cfg, m: pgtype.NewMap()}
	tbl, err := lookupTable(ctx, pool, t.m, cfg.Table, cfg.Conversion)
	switch {
	case errors.Is(err, errNoTable):
	case err != nil:
		return nil, err
	default:
		if err := t.checkSystemColumns(tbl); err != nil {
			return nil, err
		}
		t.tbl = tbl
	}
	return t, nil
}

func (t *Target) checkSystemColumns(tbl *table) error {
	if !t.cfg.SystemColumns {
		return nil
	}
	for _, name := range []string{FileColumn, RecordColumn} {
		if _, ok := tbl.byName[name]; !ok {
			return fmt.Errorf("table %s has no column %s (needed by --system-columns)", tbl.ident.Sanitize(), name)
		}
	}
	return nil
}

// String implements pusher.Target.
func (t *Target) String() string { return "postgres table " + t.cfg.Table.Sanitize() }

// CommitsProgress implements pusher.Target.
func (t *Target) CommitsProgress() bool { return t.cfg.StateInTx }

// UnknownFields says what happens to fields with no column.
type UnknownFields string

// Unknown-field policies.
const (
	UnknownError  UnknownFields = "error"
	UnknownIgnore UnknownFields = "ignore"
	UnknownExtra  UnknownFields = "extra"
)

// Close implements pusher.Target; the pool stays open.
func (t *Target) Close() error { return nil }

// prepare returns the table, creating it from the batch's columns and a
// sample of its records when it does not exist.
func (t *Target) prepare(ctx context.Context, b *pusher.Batch) (*table, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tbl != nil {
		return t.tbl, nil
	}
	if tbl, err := lookupTable(ctx, t.pool, t.m, t.cfg.Table, t.cfg.Conversion); err == nil {
		t.tbl = tbl
		return tbl, t.checkSystemColumns(tbl)
	} else if !errors.Is(err, errNoTable) {
		return nil, err
	}
	if err := t.create(ctx, b); err != nil {
		return nil, err
	}
	tbl, err := lookupTable(ctx, t.pool, t.m, t.cfg.Table, t.cfg.Conversion)
	if err != nil {
		return nil, err
	}
	t.tbl = tbl
	return tbl, nil
}

func (t *Target) create(ctx context.Context, b *pusher.Batch) error {
	types := inferTypes(b)
	override := map[string]string{}
	for _, c := range t.cfg.Columns {
		if c.Type != "" {
			override[c.Name] = c.Type
		}
	}
	var defs []string
	seen := map[string]bool{}
	for i, name := range b.Columns {
		if len(name) > maxIdentifier {
			return fmt.Errorf("cannot create table %s: column name %q is longer than %d bytes", t.cfg.Table.Sanitize(), name, maxIdentifier)
		}
		if seen[name] {
			return fmt.Errorf("cannot create table %s: column %q appears twice", t.cfg.Table.Sanitize(), name)
		}
		seen[name] = true
		typ := types[i]
		if o, ok := override[name]; ok {
			canon, err := t.canonicalType(ctx, o)
			if err != nil {
				return fmt.Errorf("column %q: %w", name, err)
			}
			typ = canon
		}
		defs = append(defs, pgx.Identifier{name}.Sanitize()+" "+typ)
	}
	if t.cfg.UnknownFields == UnknownExtra && !seen[t.cfg.ExtraColumn] {
		defs = append(defs, pgx.Identifier{t.cfg.ExtraColumn}.Sanitize()+" jsonb")
	}
	if t.cfg.SystemColumns {
		defs = append(defs, FileColumn+" text", RecordColumn+" bigint")
	}
	tx, err := t.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("create table %s: %w", t.cfg.Table.Sanitize(), err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // no-op after commit
	if len(t.cfg.Table) == 2 {
		if _, err := tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{t.cfg.Table[0]}.Sanitize()); err != nil {
			return fmt.Errorf("create schema %q: %w", t.cfg.Table[0], err)
		}
	}
	sql := fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (%s)", t.cfg.Table.Sanitize(), strings.Join(defs, ", "))
	if _, err := tx.Exec(ctx, sql); err != nil {
		return fmt.Errorf("create table %s: %w", t.cfg.Table.Sanitize(), err)
	}
	if _, err := tx.Exec(ctx, fmt.Sprintf("COMMENT ON TABLE %s IS '%s'", t.cfg.Table.Sanitize(), ferryComment)); err != nil {
		return fmt.Errorf("create table %s: %w", t.cfg.Table.Sanitize(), err)
	}
	return tx.Commit(ctx)
}

// widen changes a column of a table ferry created to a wider type, unless
// another worker already did, and drops the cached table so the next plan
// reads the new type.
func (t *Target) widen(ctx context.Context, tbl *table, we *widenError) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tbl != tbl {
		return nil // already re-read since this plan was made
	}
	sql := fmt.Sprintf("ALTER TABLE %s ALTER COLUMN %s TYPE %s USING %s::%s", tbl.ident.Sanitize(),
		pgx.Identifier{we.column}.Sanitize(), we.to, pgx.Identifier{we.column}.Sanitize(), we.to)
	if _, err := t.pool.Exec(ctx, sql); err != nil {
		return fmt.Errorf("widen column %q from %s to %s for record %d: %w", we.column, we.from, we.to, we.record, err)
	}
	t.log(fmt.Sprintf("widened column %q of %s from %s to %s (record %d has %q)", we.column, tbl.ident.Sanitize(), we.from, we.to, we.record, we.value))
	t.tbl = nil
	return nil
}

// invalidate drops the cached table if it is still tbl.
func (t *Target) invalidate(tbl *table) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tbl == tbl {
		t.tbl = nil
	}
}

func (t *Target) log(msg string) {
	if t.cfg.Log != nil {
		t.cfg.Log(msg)
	}
}

// canonicalType checks a user-given type name and returns PostgreSQL's
// spelling of it, so only real type names reach CREATE TABLE.
func (t *Target) canonicalType(ctx context.Context, typ string) (string, error) {
	var canon string
	if err := t.pool.QueryRow(ctx, `SELECT format_type(to_regtype($1), NULL)`, typ).Scan(&canon); err != nil || canon == "" || canon == "-" {
		return "", fmt.Errorf("unknown type %q", typ)
	}
	// format_type drops typmods with NULL: keep the user's spelling once it
	// is known to parse as a type.
	if _, err := t.pool.Exec(ctx, `SELECT NULL::`+typ+` WHERE false`); err != nil {
		return "", fmt.Errorf("unknown type %q: %w", typ, err)
	}
	return typ, nil
}

// plan maps the batch's columns onto the table for one COPY.
type plan struct {
	tbl    *table
	sql    string
	fields []int // per COPY column: batch field index, or sysFile / sysRecord
	enc    []encoder
	cols   []string
	colIdx []int // per COPY column: index in tbl.columns (-1 for system columns)
	extra  []int // batch fields that go into the extra jsonb column
}

const (
	sysFile   = -1
	sysRecord = -2
	sysExtra  = -3
)

func (t *Target) plan(tbl *table, b *pusher.Batch) (*plan, error) {
	p := &plan{tbl: tbl}
	used := map[int]string{}
	extraCol := -1
	if t.cfg.UnknownFields == UnknownExtra {
		ci, ok := tbl.byName[t.cfg.ExtraColumn]
		if !ok {
			return nil, fmt.Errorf("table %s has no column %q for fields without a column (--extra-column)", tbl.ident.Sanitize(), t.cfg.ExtraColumn)
		}
		extraCol = ci
	}
	for i, name := range b.Columns {
		ci, ok := tbl.find(name)
		if ok && ci == extraCol {
			ok = false
		}
		if !ok {
			switch t.cfg.UnknownFields {
			case UnknownIgnore:
				continue
			case UnknownExtra:
				p.extra = append(p.extra, i)
				continue
			}
			return nil, fmt.Errorf("field %q has no column in table %s (use --unknown-fields ignore or extra)", name, tbl.ident.Sanitize())
		}
		if other, dup := used[ci]; dup {
			return nil, fmt.Errorf("fields %q and %q both map to column %q", other, name, tbl.columns[ci].name)
		}
		used[ci] = name
		p.fields = append(p.fields, i)
		p.enc = append(p.enc, tbl.columns[ci].encode)
		p.cols = append(p.cols, tbl.columns[ci].name)
		p.colIdx = append(p.colIdx, ci)
	}
	if len(p.extra) > 0 {
		p.fields = append(p.fields, sysExtra)
		p.enc = append(p.enc, tbl.columns[extraCol].encode)
		p.cols = append(p.cols, tbl.columns[extraCol].name)
		p.colIdx = append(p.colIdx, extraCol)
	}
	if t.cfg.SystemColumns {
		p.fields = append(p.fields, sysFile, sysRecord)
		p.enc = append(p.enc, nil, nil)
		p.cols = append(p.cols, FileColumn, RecordColumn)
		p.colIdx = append(p.colIdx, -1, -1)
	}
	if len(p.cols) == 0 {
		return nil, fmt.Errorf("no field maps to a column of table %s", tbl.ident.Sanitize())
	}
	quoted := make([]string, len(p.cols))
	for i, c := range p.cols {
		quoted[i] = pgx.Identifier{c}.Sanitize()
	}
	p.sql = fmt.Sprintf("COPY %s (%s) FROM STDIN (FORMAT binary)", tbl.ident.Sanitize(), strings.Join(quoted, ", "))
	return p, nil
}

// Attempts bound the retries of one chunk: widening columns, dropping rows
// the server rejects, re-planning after another worker changed the table.
const maxAttempts = 64

// Write implements pusher.Target. Under SkipRecords, a value that does not
// convert, or a row the server refuses (NOT NULL, length, check), becomes a
// reject: the chunk is written without it and the reject is recorded in
// ferry.rejects in the same transaction (and appended to c.Rejects).
func (t *Target) Write(ctx context.Context, c *pusher.Chunk) error {
	var excluded map[int]*pusher.RecordError // batch rows the server refused
	for attempt := 0; ; attempt++ {
		var p *plan
		if c.Batch != nil && c.Batch.Len() > 0 {
			tbl, err := t.prepare(ctx, c.Batch)
			if err != nil {
				return err
			}
			if p, err = t.plan(tbl, c.Batch); err != nil {
				return err
			}
		} else if !t.cfg.StateInTx && len(c.Rejects) == 0 {
			return nil
		}
		rejects, err := t.writeOnce(ctx, c, p, excluded)
		if err == nil {
			c.Rejects = append(c.Rejects, rejects...)
			return nil
		}
		if attempt >= maxAttempts {
			return err
		}
		var we *widenError
		if errors.As(err, &we) {
			if err := t.widen(ctx, p.tbl, we); err != nil {
				return err
			}
			continue
		}
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "22P03" {
			// Binary data did not match the column type: another worker
			// (or process) widened a column since this plan. Re-read it.
			t.invalidate(p.tbl)
			continue
		}
		var le *lineError
		if t.cfg.SkipRecords && errors.As(err, &le) {
			if excluded == nil {
				excluded = map[int]*pusher.RecordError{}
			}
			le.reject.Raw = pusher.CutRaw(c.Batch.AppendJSON(nil, le.row))
			excluded[le.row] = le.reject
			continue
		}
		var re *pusher.RecordError
		if errors.As(err, &re) {
			return err
		}
		if le != nil {
			return le.reject
		}
		return err
	}
}

func (t *Target) writeOnce(ctx context.Context, c *pusher.Chunk, p *plan, excluded map[int]*pusher.RecordError) ([]*pusher.RecordError, error) {
	tx, err := t.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // no-op after commit
	if t.cfg.StateInTx {
		// First, so a concurrent loader of the same file waits on the row
		// lock and then fails the position check instead of copying twice.
		if err := pgstate.Advance(ctx, tx, t.cfg.Pipeline, c); err != nil {
			return nil, err
		}
	}
	var rejects []*pusher.RecordError
	if p != nil {
		r := newCopyReader(c, p, t.cfg.SkipRecords, excluded)
		_, err := tx.Conn().PgConn().CopyFrom(ctx, r, p.sql)
		var pgErr *pgconn.PgError
		if err != nil && (!errors.As(err, &pgErr) || tx.Conn().PgConn().IsClosed()) {
			// The connection broke (also on a FATAL server error, such as
			// an administrator shutdown): pgconn may return before its
			// goroutine stops reading r. Stop r, so that the caller may
			// release the chunk, and leave its buffer to the collector.
			r.detach()
			if rerr := r.failure(); rerr != nil {
				return nil, rerr
			}
			return nil, fmt.Errorf("copy: %w", err)
		}
		defer r.release() // pgconn is done with r
		if r.failure() != nil {
			return nil, r.failure()
		}
		if err != nil {
			return nil, copyError(c, r, err)
		}
		rejects = r.rejects
	}
	all := append(append([]*pusher.RecordError(nil), c.Rejects...), rejects...)
	if c.RejectLimit >= 0 && len(all) > c.RejectLimit {
		return nil, &rejectLimitError{last: all[len(all)-1]}
	}
	if err := pgstate.Reject(ctx, tx, t.cfg.Pipeline, c.File, all); err != nil {
		return nil, err
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	return rejects, nil
}

// rejectLimitError: the chunk would take the file past --max-rejects.
type rejectLimitError struct{ last *pusher.RecordError }

func (e *rejectLimitError) Error() string {
	return fmt.Sprintf("too many rejected records (--max-rejects); last: %v", e.last)
}

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

// widenError: a value does not fit a column of a table ferry created, and
// the column can take a wider type.
type widenError struct {
	column, from, to string
	value            string
	record           int64
}

func (e *widenError) Error() string {
	return fmt.Sprintf("record %d: column %q: %q does not fit %s", e.record, e.column, e.value, e.from)
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
