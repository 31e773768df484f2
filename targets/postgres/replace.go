package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/ferrydata/ferry/pusher"
	pgstate "github.com/ferrydata/ferry/state/postgres"
)

// This file is --on-change replace (Config.ReplaceKeys): the rows of a
// file are found by its key in FileColumn, and the first chunk of a
// version deletes the key's rows in its own transaction, so that the rows
// of the older versions give way to the new version's in one commit.

// replaces says whether writing c deletes its key's rows first: c is the
// first chunk of a version under ReplaceKeys.
func (t *Target) replaces(c *pusher.Chunk) bool {
	return t.cfg.ReplaceKeys && c.Start.Records == 0
}

// keysRows says whether the rows carry FileColumn to be found by key:
// ReplaceKeys or RemoveKeys.
func (t *Target) keysRows() bool { return t.cfg.ReplaceKeys || t.cfg.RemoveKeys }

// fileColumnDDL is what a table ferry creates gets for keysRows (the
// column unless SystemColumns adds it, and its index, by which the
// first chunk finds the key's rows), after CREATE TABLE.
func (t *Target) fileColumnDDL() []string {
	if !t.keysRows() {
		return nil
	}
	var ddl []string
	if !t.cfg.SystemColumns {
		ddl = append(ddl, fmt.Sprintf("ALTER TABLE %s ADD COLUMN IF NOT EXISTS %s text", t.cfg.Table.Sanitize(), FileColumn))
	}
	return append(ddl, fmt.Sprintf("CREATE INDEX IF NOT EXISTS %s ON %s (%s)",
		pgx.Identifier{indexName(t.cfg.Table)}.Sanitize(), t.cfg.Table.Sanitize(), FileColumn))
}

// indexName names the index on FileColumn after the table.
func indexName(tbl pgx.Identifier) string {
	name := tbl[len(tbl)-1]
	const suffix = "_ferry_file_idx"
	if len(name) > maxIdentifier-len(suffix) {
		name = name[:maxIdentifier-len(suffix)]
	}
	return name + suffix
}

// addFileColumn gives an existing table ferry created, which lacks
// FileColumn, the column and its index, for ReplaceKeys. The rows it
// already holds get NULL: no file's new version replaces them. A table
// ferry did not create is not altered: the error says what to do.
func (t *Target) addFileColumn(ctx context.Context, tbl *table) (*table, error) {
	if !t.keysRows() {
		return tbl, nil
	}
	if _, ok := tbl.byName[FileColumn]; ok {
		return tbl, nil
	}
	if !tbl.ferryMade {
		return nil, fmt.Errorf("table %s has no column %s, which --on-change replace and --delete-on-remove need to find a file's rows, and ferry did not create it: add it (ALTER TABLE %s ADD COLUMN %s text, and an index on it)",
			tbl.ident.Sanitize(), FileColumn, tbl.ident.Sanitize(), FileColumn)
	}
	tx, err := t.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("add column %s to %s: %w", FileColumn, tbl.ident.Sanitize(), err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // no-op after commit
	ddl := []string{fmt.Sprintf("ALTER TABLE %s ADD COLUMN IF NOT EXISTS %s text", t.cfg.Table.Sanitize(), FileColumn)}
	if t.cfg.SystemColumns {
		ddl = append(ddl, fmt.Sprintf("ALTER TABLE %s ADD COLUMN IF NOT EXISTS %s bigint", t.cfg.Table.Sanitize(), RecordColumn))
	}
	for _, sql := range append(ddl, t.fileColumnDDL()...) {
		if _, err := tx.Exec(ctx, sql); err != nil {
			return nil, fmt.Errorf("add column %s to %s: %w", FileColumn, tbl.ident.Sanitize(), err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("add column %s to %s: %w", FileColumn, tbl.ident.Sanitize(), err)
	}
	t.log(fmt.Sprintf("added column %s to %s for --on-change replace or --delete-on-remove (the rows already there have none: they are never replaced or deleted)", FileColumn, tbl.ident.Sanitize()))
	return lookupTable(ctx, t.pool, t.m, t.cfg.Table, t.cfg.Conversion)
}

// deleteReplaced runs in the transaction of parts, before their progress
// advances and their rows are copied: for each part that is the first
// chunk of a version, it marks the key's other versions replaced in the
// state (when the state is in this database: a load of one still under
// way then fails its next commit) and deletes the key's rows, the older
// versions' and any this version left in an attempt whose progress was
// not recorded. The state's rows are updated first: a chunk of an older
// version committing meanwhile is waited for, and its rows then deleted.
func (t *Target) deleteReplaced(ctx context.Context, tx pgx.Tx, parts []*copyPart) (int, error) {
	var objs []pusher.Object
	var keys []string
	first := -1
	for i, pt := range parts {
		if t.replaces(pt.c) {
			if first < 0 {
				first = i
			}
			objs = append(objs, pt.c.File)
			keys = append(keys, pt.c.File.Key)
		}
	}
	if len(objs) == 0 {
		return -1, nil
	}
	at := first
	if len(objs) > 1 {
		at = -1
	}
	if t.cfg.StateInTx {
		if err := t.cfg.StateSchema.Replace(ctx, tx, t.cfg.Pipeline, objs); err != nil {
			return at, err
		}
	}
	// A table not created yet holds no rows; one created concurrently
	// does not exist in the statement's snapshot either way.
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, t.cfg.Table.Sanitize()).Scan(&exists); err != nil {
		return at, fmt.Errorf("delete the older rows of %q: %w", objs[0].Key, err)
	}
	if !exists {
		return -1, nil
	}
	_, err := tx.Exec(ctx, fmt.Sprintf("DELETE FROM %s WHERE %s = ANY($1)", t.cfg.Table.Sanitize(), FileColumn), keys)
	if err != nil {
		var what error = err
		if isUndefinedColumn(err) {
			what = fmt.Errorf("table %s has no column %s (needed by --on-change replace and --delete-on-remove): %w", t.cfg.Table.Sanitize(), FileColumn, err)
		}
		return at, fmt.Errorf("delete the older rows of %q: %w", objs[0].Key, what)
	}
	return -1, nil
}

// isUndefinedColumn: SQLSTATE 42703.
func isUndefinedColumn(err error) bool {
	var pgErr interface{ SQLState() string }
	return errors.As(err, &pgErr) && pgErr.SQLState() == "42703"
}

var _ pusher.Remover = (*Target)(nil)

// Remove implements pusher.Remover (--delete-on-remove): in one
// transaction, it marks every version of key removed in the state (when
// the state is in this database; a chunk of the key committing meanwhile
// is waited for, and a load of it still under way then fails its next
// commit) and deletes the rows loaded from key. It returns how many rows
// it deleted; a key already removed deletes none.
func (t *Target) Remove(ctx context.Context, key string) (int64, error) {
	n, err := t.remove(ctx, key)
	return n, pgstate.Classify(err)
}

func (t *Target) remove(ctx context.Context, key string) (int64, error) {
	tx, err := t.pool.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("remove %q: begin: %w", key, err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // no-op after commit
	if t.cfg.StateInTx {
		if err := t.cfg.StateSchema.Remove(ctx, tx, t.cfg.Pipeline, key); err != nil {
			return 0, err
		}
	}
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, t.cfg.Table.Sanitize()).Scan(&exists); err != nil {
		return 0, fmt.Errorf("remove %q: %w", key, err)
	}
	var n int64
	if exists {
		tag, err := tx.Exec(ctx, fmt.Sprintf("DELETE FROM %s WHERE %s = $1", t.cfg.Table.Sanitize(), FileColumn), key)
		if err != nil {
			return 0, fmt.Errorf("remove %q: delete its rows from %s: %w", key, t.cfg.Table.Sanitize(), err)
		}
		n = tag.RowsAffected()
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("remove %q: commit: %w", key, err)
	}
	return n, nil
}
