package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Adding columns (--unknown-fields add; metadata, rescue and partition
// columns of a table ferry created) happens in the transaction of the
// chunk that needs them, before its COPY: the column and the rows that
// fill it commit together, with the file's progress, or not at all.
//
// ALTER TABLE ... ADD COLUMN IF NOT EXISTS takes the table's ACCESS
// EXCLUSIVE lock until the commit, so transactions that add the same
// column run one after the other: the second finds it there, and its
// plans are made again against the table as it now is (in the same
// transaction, under the lock). A type that differs from the one it
// inferred is then the added column's: values that do not fit it widen
// it (a table ferry created), are rescued, or are bad values. Other
// writers keep copying meanwhile into the columns they know, and see the
// new one at their next plan.

// schemaChange is what evolve did in a transaction: the table as the
// transaction sees it after the ALTER, and the columns it added itself
// (to log once committed).
type schemaChange struct {
	before, after *table
	added         []string
	types         map[string]string
}

// evolve adds the columns the parts' plans need to the table, in tx, and
// plans every part again against the table tx then sees. It returns nil
// when no plan needs a column. An error about one part comes with its
// index, else with -1.
func (t *Target) evolve(ctx context.Context, tx pgx.Tx, parts []*copyPart) (*schemaChange, int, error) {
	var cols []newColumn
	at := map[string]int{}
	var before *table
	for _, pt := range parts {
		if pt.p == nil || len(pt.p.needs) == 0 {
			continue
		}
		before = pt.p.tbl
		for _, n := range pt.p.needs {
			if i, ok := at[n.name]; ok {
				cols[i].typ = widerType(cols[i].typ, n.typ)
				continue
			}
			at[n.name] = len(cols)
			cols = append(cols, n)
		}
	}
	if len(cols) == 0 {
		return nil, -1, nil
	}
	ident := t.cfg.Table.Sanitize()
	adds := make([]string, len(cols))
	names := make([]string, len(cols))
	for i, c := range cols {
		if o := t.override(c.name, ""); o != "" && o == c.typ {
			// A --columns type: check that it names a type before it
			// reaches the statement.
			if _, err := t.canonicalType(ctx, c.typ); err != nil {
				return nil, -1, fmt.Errorf("column %q: %w", c.name, err)
			}
		}
		adds[i] = "ADD COLUMN IF NOT EXISTS " + pgx.Identifier{c.name}.Sanitize() + " " + c.typ
		names[i] = c.name
	}
	if _, err := tx.Exec(ctx, "ALTER TABLE "+ident+" "+strings.Join(adds, ", ")); err != nil {
		return nil, -1, fmt.Errorf("add columns %s to table %s: %w", strings.Join(names, ", "), ident, err)
	}
	ch := &schemaChange{before: before, types: map[string]string{}}
	// The columns whose catalog rows this transaction wrote are the ones
	// it added; the others were there (another writer added them).
	rows, err := tx.Query(ctx, `SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
		WHERE attrelid = to_regclass($1) AND attname = ANY($2) AND xmin = pg_current_xact_id()::xid`, ident, names)
	if err != nil {
		return nil, -1, fmt.Errorf("add columns to table %s: %w", ident, err)
	}
	var name, typ string
	if _, err := pgx.ForEachRow(rows, []any{&name, &typ}, func() error {
		ch.added = append(ch.added, name)
		ch.types[name] = typ
		return nil
	}); err != nil {
		return nil, -1, fmt.Errorf("add columns to table %s: %w", ident, err)
	}
	if ch.after, err = lookupTable(ctx, tx, t.m, t.cfg.Table, t.cfg.Conversion); err != nil {
		return nil, -1, err
	}
	for i, pt := range parts {
		if pt.p == nil {
			continue
		}
		p, err := t.plan(ch.after, pt.c)
		if err != nil {
			return nil, i, err
		}
		if len(p.needs) > 0 {
			return nil, i, fmt.Errorf("table %s: column %q is still missing after adding it", ident, p.needs[0].name)
		}
		pt.p = p
	}
	return ch, -1, nil
}

// committed is called once the transaction that made ch committed: the
// table read in it becomes the one plans use, and each column it added
// is logged (once: only the transaction that added a column logs it).
func (t *Target) committed(ch *schemaChange) {
	if ch == nil {
		return
	}
	t.mu.Lock()
	if t.tbl == ch.before || t.tbl == nil {
		t.tbl = ch.after
	}
	t.mu.Unlock()
	for _, name := range ch.added {
		t.log(fmt.Sprintf("added column %q %s to table %s", name, ch.types[name], t.cfg.Table.Sanitize()))
	}
}

// errStalePlan: a column a plan encoded values for changed type since the
// plan was made (another writer widened it).
var errStalePlan = errors.New("a column changed type since the plan was made")

// verify checks, in tx after the parts' COPY, that the columns they wrote
// still have the types their values were encoded for. Binary COPY does not
// always notice: a bigint sent into a column another process has just
// widened to double precision is 8 bytes either way. The COPY holds the
// table's lock, so no type can change between this check and the commit;
// a change before the COPY fails the transaction with errStalePlan, and the
// chunks are planned and written again. Only a table ferry created has
// columns that change type.
func (t *Target) verify(ctx context.Context, tx pgx.Tx, parts []*copyPart) error {
	changed, err := t.typesChanged(ctx, tx, parts)
	if err != nil {
		return err
	}
	if changed {
		return errStalePlan
	}
	return nil
}

// stale says whether a failed write may be due to a column that changed
// type since the plans (see verify): a COPY whose values the server
// refused as data (class 22) into a table ferry created.
func (t *Target) stale(ctx context.Context, parts []*copyPart, err error) bool {
	if errors.Is(err, errStalePlan) {
		return true
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || !strings.HasPrefix(pgErr.Code, "22") {
		return false
	}
	changed, cerr := t.typesChanged(ctx, t.pool, parts)
	return cerr == nil && changed
}

// typesChanged compares the types of the columns the parts' plans write
// with the catalog's, for a table ferry created.
func (t *Target) typesChanged(ctx context.Context, q querier, parts []*copyPart) (bool, error) {
	planned := map[string]string{}
	var tbl *table
	for _, pt := range parts {
		if pt.p == nil {
			continue
		}
		tbl = pt.p.tbl
		for _, ci := range pt.p.colIdx {
			if ci >= 0 && tbl.columns[ci].widen != nil { // text columns stay text
				planned[tbl.columns[ci].name] = tbl.columns[ci].typeName
			}
		}
	}
	if tbl == nil || !tbl.ferryMade || len(planned) == 0 {
		return false, nil
	}
	names := make([]string, 0, len(planned))
	for n := range planned {
		names = append(names, n)
	}
	rows, err := q.Query(ctx, `SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
		WHERE attrelid = to_regclass($1) AND attname = ANY($2) AND attnum > 0 AND NOT attisdropped`, tbl.ident.Sanitize(), names)
	if err != nil {
		return false, fmt.Errorf("check the column types of table %s: %w", tbl.ident.Sanitize(), err)
	}
	seen := 0
	changed := false
	var name, typ string
	if _, err := pgx.ForEachRow(rows, []any{&name, &typ}, func() error {
		seen++
		changed = changed || planned[name] != typ
		return nil
	}); err != nil {
		return false, fmt.Errorf("check the column types of table %s: %w", tbl.ident.Sanitize(), err)
	}
	return changed || seen != len(planned), nil
}
