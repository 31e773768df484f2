// Package postgres is the PostgreSQL target. Each chunk is written with one
// binary COPY inside one transaction; when progress state lives in the same
// database, the file's new position is written in that transaction too, so
// a chunk's rows and its progress commit together or not at all.
//
// Field values are converted to the column types on the client (see
// encode.go) and sent in PostgreSQL's binary COPY format, which costs the
// server less than parsing text. A value that does not convert fails the
// chunk with a *source.RecordError naming the record and column; nothing of
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

	"github.com/ferrydata/ferry/source"
	pgstate "github.com/ferrydata/ferry/state/postgres"
	"github.com/ferrydata/ferry/targets"
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
	// IgnoreUnknownFields drops fields with no column instead of failing.
	IgnoreUnknownFields bool
	// SystemColumns fills _ferry_file and _ferry_record.
	SystemColumns bool
	// Pipeline, when set, makes Write advance the file's progress in
	// ferry.files in the chunk's transaction.
	Pipeline string
}

// Target is the PostgreSQL target.
type Target struct {
	pool *pgxpool.Pool
	cfg  Config
	m    *pgtype.Map

	mu  sync.Mutex
	tbl *table
}

var _ targets.Target = (*Target)(nil)

// New returns a target writing into cfg.Table through pool. The pool is the
// caller's.
func New(ctx context.Context, pool *pgxpool.Pool, cfg Config) (*Target, error) {
	if len(cfg.Table) == 0 {
		return nil, errors.New("postgres target: no table")
	}
	t := &Target{pool: pool, cfg: cfg, m: pgtype.NewMap()}
	tbl, err := lookupTable(ctx, pool, t.m, cfg.Table)
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

// String implements targets.Target.
func (t *Target) String() string { return "postgres table " + t.cfg.Table.Sanitize() }

// CommitsProgress implements targets.Target.
func (t *Target) CommitsProgress() bool { return t.cfg.Pipeline != "" }

// Close implements targets.Target; the pool stays open.
func (t *Target) Close() error { return nil }

// prepare returns the table, creating it from the batch's columns and a
// sample of its records when it does not exist.
func (t *Target) prepare(ctx context.Context, b *source.Batch) (*table, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tbl != nil {
		return t.tbl, nil
	}
	if tbl, err := lookupTable(ctx, t.pool, t.m, t.cfg.Table); err == nil {
		t.tbl = tbl
		return tbl, t.checkSystemColumns(tbl)
	} else if !errors.Is(err, errNoTable) {
		return nil, err
	}
	if err := t.create(ctx, b); err != nil {
		return nil, err
	}
	tbl, err := lookupTable(ctx, t.pool, t.m, t.cfg.Table)
	if err != nil {
		return nil, err
	}
	t.tbl = tbl
	return tbl, nil
}

func (t *Target) create(ctx context.Context, b *source.Batch) error {
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
	return tx.Commit(ctx)
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
	sql    string
	fields []int // per COPY column: batch field index, or sysFile / sysRecord
	enc    []encoder
	cols   []string
}

const (
	sysFile   = -1
	sysRecord = -2
)

func (t *Target) plan(tbl *table, b *source.Batch) (*plan, error) {
	p := &plan{}
	used := map[int]string{}
	for i, name := range b.Columns {
		ci, ok := tbl.find(name)
		if !ok {
			if t.cfg.IgnoreUnknownFields {
				continue
			}
			return nil, fmt.Errorf("field %q has no column in table %s (use --ignore-unknown-fields to drop it)", name, tbl.ident.Sanitize())
		}
		if other, dup := used[ci]; dup {
			return nil, fmt.Errorf("fields %q and %q both map to column %q", other, name, tbl.columns[ci].name)
		}
		used[ci] = name
		p.fields = append(p.fields, i)
		p.enc = append(p.enc, tbl.columns[ci].encode)
		p.cols = append(p.cols, tbl.columns[ci].name)
	}
	if t.cfg.SystemColumns {
		p.fields = append(p.fields, sysFile, sysRecord)
		p.enc = append(p.enc, nil, nil)
		p.cols = append(p.cols, FileColumn, RecordColumn)
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

// Write implements targets.Target.
func (t *Target) Write(ctx context.Context, c *source.Chunk) error {
	var p *plan
	if c.Batch != nil && c.Batch.Len() > 0 {
		tbl, err := t.prepare(ctx, c.Batch)
		if err != nil {
			return err
		}
		if p, err = t.plan(tbl, c.Batch); err != nil {
			return err
		}
	} else if t.cfg.Pipeline == "" {
		return nil
	}
	tx, err := t.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // no-op after commit
	if t.cfg.Pipeline != "" {
		// First, so a concurrent loader of the same file waits on the row
		// lock and then fails the position check instead of copying twice.
		if err := pgstate.Advance(ctx, tx, t.cfg.Pipeline, c); err != nil {
			return err
		}
	}
	if p != nil {
		r := newCopyReader(c, p)
		defer r.release()
		_, err := tx.Conn().PgConn().CopyFrom(ctx, r, p.sql)
		if r.err != nil {
			return r.err
		}
		if err != nil {
			return copyError(c, p, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

var copyLine = regexp.MustCompile(`COPY [^,]+, line (\d+)(?:, column ([^:]+))?`)

// copyError turns a server-side COPY error into a RecordError when the
// server names the line (for example a NOT NULL or length violation).
func copyError(c *source.Chunk, p *plan, err error) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return fmt.Errorf("copy: %w", err)
	}
	cls := pgErr.Code[:2]
	if cls != "22" && cls != "23" {
		return fmt.Errorf("copy: %w", err)
	}
	m := copyLine.FindStringSubmatch(pgErr.Where)
	if m == nil {
		return fmt.Errorf("copy: %w", err)
	}
	line, _ := strconv.ParseInt(m[1], 10, 64)
	what := pgErr.Message
	if m[2] != "" {
		what = fmt.Sprintf("column %s: %s", m[2], pgErr.Message)
	}
	return &source.RecordError{Record: c.First() + line - 1, Offset: -1, Err: errors.New(what)}
}

// copyReader streams a chunk in binary COPY format, converting values as it
// goes, so conversion overlaps with the server's work on earlier rows.
type copyReader struct {
	c   *source.Chunk
	p   *plan
	row int
	buf []byte
	off int
	eof bool
	err error // a conversion error, as a RecordError
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 256<<10); return &b }}

var copyHeader = []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")

func newCopyReader(c *source.Chunk, p *plan) *copyReader {
	bp := bufPool.Get().(*[]byte)
	r := &copyReader{c: c, p: p, buf: append((*bp)[:0], copyHeader...)}
	return r
}

func (r *copyReader) release() {
	b := r.buf[:0]
	r.buf = nil
	bufPool.Put(&b)
}

const fillTarget = 128 << 10

func (r *copyReader) Read(p []byte) (int, error) {
	for r.off >= len(r.buf) {
		if r.eof {
			return 0, io.EOF
		}
		if r.err != nil {
			return 0, r.err
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
	for r.row < b.Len() && len(buf) < fillTarget {
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
			case fi >= len(fields) || fields[fi].Kind == source.Null:
				buf = append(buf, 0xff, 0xff, 0xff, 0xff)
				continue
			}
			f := fields[fi]
			at := len(buf)
			buf = append(buf, 0, 0, 0, 0)
			var err error
			buf, err = r.p.enc[j](buf, f.Kind, b.Value(f))
			if err != nil {
				r.err = &source.RecordError{
					Record: r.c.First() + int64(r.row),
					Offset: -1,
					Err:    fmt.Errorf("column %q: %w", r.p.cols[j], err),
				}
				r.buf = buf[:0]
				return
			}
			binary.BigEndian.PutUint32(buf[at:], uint32(len(buf)-at-4))
		}
		r.row++
	}
	if r.row >= b.Len() {
		buf = append(buf, 0xff, 0xff) // trailer
		r.eof = true
	}
	r.buf = buf
}
