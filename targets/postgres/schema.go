package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/ferrydata/ferry/pusher"
)

// prepare returns the table, creating it from the chunk's columns and a
// sample of its records when it does not exist.
func (t *Target) prepare(ctx context.Context, c *pusher.Chunk) (*table, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tbl != nil {
		return t.tbl, nil
	}
	if tbl, err := lookupTable(ctx, t.pool, t.m, t.cfg.Table, t.cfg.Conversion); err == nil {
		if err := t.checkMergeKey(ctx, t.pool, tbl); err != nil {
			return nil, err
		}
		t.tbl = tbl
		return tbl, t.checkColumns(tbl)
	} else if !errors.Is(err, errNoTable) {
		return nil, err
	}
	if err := t.create(ctx, c); err != nil {
		return nil, err
	}
	tbl, err := lookupTable(ctx, t.pool, t.m, t.cfg.Table, t.cfg.Conversion)
	if err != nil {
		return nil, err
	}
	t.tbl = tbl
	return tbl, nil
}

func (t *Target) create(ctx context.Context, c *pusher.Chunk) error {
	tx, err := t.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("create table %s: %w", t.cfg.Table.Sanitize(), err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // no-op after commit
	ddl, err := t.createDDL(ctx, tx, c)
	if err != nil {
		return err
	}
	for _, sql := range ddl {
		if _, err := tx.Exec(ctx, sql); err != nil {
			if strings.HasPrefix(sql, "CREATE SCHEMA") {
				return fmt.Errorf("create schema %q: %w", t.cfg.Table[0], err)
			}
			return fmt.Errorf("create table %s: %w", t.cfg.Table.Sanitize(), err)
		}
	}
	return tx.Commit(ctx)
}

// createDDL returns the statements that create the table for chunk c (its
// columns, and their types inferred from a sample of its records), in
// order: the schema when missing, the table, its comment and the index
// of the file column. create runs them; a dry run (Planner) prints them.
// q only reads (the schema's existence, the --columns types).
func (t *Target) createDDL(ctx context.Context, q querier, c *pusher.Chunk) ([]string, error) {
	cols, err := t.createColumns(ctx, q, c)
	if err != nil {
		return nil, err
	}
	defs := make([]string, len(cols))
	seen := map[string]bool{}
	for i, col := range cols {
		defs[i] = pgx.Identifier{col.name}.Sanitize() + " " + col.typ
		seen[col.name] = true
	}
	if t.merging() {
		for _, k := range t.cfg.MergeKey {
			if !seen[k] {
				return nil, fmt.Errorf("cannot create table %s: column %s of --merge-key (%s) is not a field of the file", t.cfg.Table.Sanitize(), pgx.Identifier{k}.Sanitize(), quoteAll(t.cfg.MergeKey))
			}
		}
		defs = append(defs, t.keyDDL())
	}
	var ddl []string
	if len(t.cfg.Table) == 2 {
		// Only when missing: CREATE SCHEMA IF NOT EXISTS needs CREATE on
		// the database even when the schema is there.
		var exists bool
		if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, t.cfg.Table[0]).Scan(&exists); err != nil {
			return nil, fmt.Errorf("create schema %q: %w", t.cfg.Table[0], err)
		}
		if !exists {
			ddl = append(ddl, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{t.cfg.Table[0]}.Sanitize())
		}
	}
	ddl = append(ddl, fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (%s)", t.cfg.Table.Sanitize(), strings.Join(defs, ", ")),
		fmt.Sprintf("COMMENT ON TABLE %s IS '%s'", t.cfg.Table.Sanitize(), ferryComment))
	return append(ddl, t.fileColumnDDL()...), nil
}

// createColumns returns the columns of a table created for chunk c, with
// their types (a type may end in a DEFAULT clause).
func (t *Target) createColumns(ctx context.Context, q querier, c *pusher.Chunk) ([]newColumn, error) {
	b := c.Batch
	types := inferTypes(b)
	override := map[string]string{}
	for _, c := range t.cfg.Columns {
		if c.Type != "" {
			override[c.Name] = c.Type
		}
	}
	var defs []newColumn
	seen := map[string]bool{}
	for i, field := range b.Columns {
		name, badName := columnName(field)
		if len(name) > maxIdentifier {
			return nil, fmt.Errorf("cannot create table %s: column name %q is longer than %d bytes", t.cfg.Table.Sanitize(), name, maxIdentifier)
		}
		if seen[name] {
			return nil, fmt.Errorf("cannot create table %s: column %q appears twice", t.cfg.Table.Sanitize(), name)
		}
		seen[name] = true
		typ := types[i]
		if badName && t.cfg.Conversion.RejectInvalidUTF8 {
			typ = "text" // takes no value (rejectName): no type to widen
		}
		if o, ok := override[name]; ok {
			canon, err := canonicalType(ctx, q, o)
			if err != nil {
				return nil, fmt.Errorf("column %q: %w", name, err)
			}
			typ = canon
		}
		defs = append(defs, newColumn{name: name, typ: typ})
	}
	if t.cfg.UnknownFields == UnknownExtra && !seen[t.cfg.ExtraColumn] {
		defs = append(defs, newColumn{name: t.cfg.ExtraColumn, typ: "jsonb"})
	}
	more, err := t.fileColumns(c)
	if err != nil {
		return nil, fmt.Errorf("cannot create table %s: %w", t.cfg.Table.Sanitize(), err)
	}
	for _, col := range more {
		if seen[col.name] {
			return nil, fmt.Errorf("cannot create table %s: column %q appears twice", t.cfg.Table.Sanitize(), col.name)
		}
		seen[col.name] = true
		typ := col.typ
		if typ != "jsonb" && t.override(col.name, "") == typ {
			if typ, err = canonicalType(ctx, q, typ); err != nil {
				return nil, fmt.Errorf("column %q: %w", col.name, err)
			}
		}
		defs = append(defs, newColumn{name: col.name, typ: typ})
	}
	return defs, nil
}

// widen changes a column of a table ferry created to a wider type, unless
// another worker already did, and drops the cached table so the next plan
// reads the new type.
func (t *Target) widen(ctx context.Context, tbl *table, we *widenError) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tbl != tbl {
		// Re-read since this plan was made, or the plan is of the table
		// as a transaction that added columns saw it (evolve), rolled
		// back: widen only a column that still has the planned type.
		var typ string
		err := t.pool.QueryRow(ctx, `SELECT format_type(atttypid, atttypmod) FROM pg_attribute
			WHERE attrelid = to_regclass($1) AND attname = $2 AND NOT attisdropped`, tbl.ident.Sanitize(), we.column).Scan(&typ)
		if err != nil || typ != we.from {
			return nil
		}
	}
	if _, err := t.pool.Exec(ctx, widenDDL(tbl, we)); err != nil {
		return fmt.Errorf("widen column %q from %s to %s for record %d: %w", we.column, we.from, we.to, we.record, err)
	}
	t.log(fmt.Sprintf("widened column %q of %s from %s to %s (record %d has %q)", we.column, tbl.ident.Sanitize(), we.from, we.to, we.record, we.value))
	t.tbl = nil
	return nil
}

// widenDDL is the statement that widens we's column of tbl (run by
// widen, printed by a dry run).
func widenDDL(tbl *table, we *widenError) string {
	col := pgx.Identifier{we.column}.Sanitize()
	return fmt.Sprintf("ALTER TABLE %s ALTER COLUMN %s TYPE %s USING %s::%s", tbl.ident.Sanitize(), col, we.to, col, we.to)
}

// invalidate drops the cached table if it is still tbl.
func (t *Target) invalidate(tbl *table) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tbl == tbl {
		t.tbl = nil
	}
}

// canonicalType checks a user-given type name and returns PostgreSQL's
// spelling of it, so only real type names reach CREATE TABLE.
func (t *Target) canonicalType(ctx context.Context, typ string) (string, error) {
	return canonicalType(ctx, t.pool, typ)
}

func canonicalType(ctx context.Context, q querier, typ string) (string, error) {
	var canon string
	if err := q.QueryRow(ctx, `SELECT format_type(to_regtype($1), NULL)`, typ).Scan(&canon); err != nil || canon == "" || canon == "-" {
		return "", fmt.Errorf("unknown type %q", typ)
	}
	// format_type drops typmods with NULL: keep the user's spelling once it
	// is known to parse as a type.
	rows, err := q.Query(ctx, `SELECT NULL::`+typ+` WHERE false`)
	if err == nil {
		rows.Close()
		err = rows.Err()
	}
	if err != nil {
		return "", fmt.Errorf("unknown type %q: %w", typ, err)
	}
	return typ, nil
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
