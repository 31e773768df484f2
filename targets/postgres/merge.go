package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// This file is --merge-key (Config.MergeKey): each COPY of a chunk goes
// into a temporary table made in the chunk's transaction like the target
// (its columns and types as they are then, after any column was added or
// widened; its defaults, NOT NULL and check constraints, so that a row
// the server refuses is refused by the COPY and named by its line), with
// a column numbering the rows in file order (the COPY line number, sent
// by the client). One INSERT ... SELECT
// DISTINCT ON (key) ... ORDER BY key, that number DESC ... ON CONFLICT
// (key) DO UPDATE then keeps the last record of each key and upserts it:
// every column the COPY fills is set, the metadata columns too. The
// temporary table is dropped at commit.
//
// Under overlapping writes (WriteAfter), the chunk's COPY into the
// temporary table runs while the write before commits, but the upsert
// runs only once the chunk's progress moved, which waits for the write
// before to commit: the upserts of a file's chunks apply in file order,
// so the last record of a key in the file wins.

// mergeTable is the temporary table of a chunk's transaction, and
// mergeOrd its column that numbers the rows in the order they came.
const (
	mergeTableName = "ferry_merge"
	mergeTable     = "pg_temp." + mergeTableName
	mergeOrd       = "_ferry_merge_ord"
)

// ParseMergeKey splits 'col, "Odd, Name", col2' into column names: a
// name may be double-quoted to hold commas, spaces or quotes ("" inside).
func ParseMergeKey(s string) ([]string, error) {
	var out []string
	rest := s
	for {
		rest = strings.TrimSpace(rest)
		var name string
		if strings.HasPrefix(rest, `"`) {
			var ok bool
			if name, rest, ok = unquote(rest); !ok {
				return nil, fmt.Errorf("--merge-key %q: unterminated quote", s)
			}
			rest = strings.TrimSpace(rest)
			if rest != "" && rest[0] != ',' {
				return nil, fmt.Errorf("--merge-key %q: expected a comma after %q", s, name)
			}
		} else {
			i := strings.IndexByte(rest, ',')
			if i < 0 {
				i = len(rest)
			}
			name, rest = strings.TrimSpace(rest[:i]), rest[i:]
		}
		if name == "" {
			return nil, fmt.Errorf("--merge-key %q: empty column name", s)
		}
		if len(name) > maxIdentifier {
			return nil, fmt.Errorf("--merge-key: column %q is longer than %d bytes", name, maxIdentifier)
		}
		out = append(out, name)
		if rest == "" {
			return out, nil
		}
		rest = rest[1:] // the comma
	}
}

// mergeKeyValue is the flag.Value of --merge-key: each use (or item of a
// config file's list) adds columns.
type mergeKeyValue struct{ c *Config }

func (v mergeKeyValue) String() string {
	if v.c == nil {
		return ""
	}
	quoted := make([]string, len(v.c.MergeKey))
	for i, k := range v.c.MergeKey {
		quoted[i] = k
		if strings.ContainsAny(k, `", `) {
			quoted[i] = `"` + strings.ReplaceAll(k, `"`, `""`) + `"`
		}
	}
	return strings.Join(quoted, ",")
}

func (v mergeKeyValue) Set(s string) error {
	keys, err := ParseMergeKey(s)
	if err != nil {
		return err
	}
	v.c.MergeKey = append(v.c.MergeKey, keys...)
	return nil
}

// validateMergeKey checks the key's names (Validate).
func (c *Config) validateMergeKey() error {
	for i, k := range c.MergeKey {
		if slices.Contains(c.MergeKey[:i], k) {
			return fmt.Errorf("--merge-key names column %q twice", k)
		}
		if k == mergeOrd {
			return fmt.Errorf("--merge-key: column %q is ferry's own (the order of a merged chunk's rows)", k)
		}
	}
	return nil
}

// usageError is a setting that cannot be (exit status 2).
type usageError struct{ error }

func (usageError) Usage() bool { return true }

// CheckMergeKey refuses what cannot go with MergeKey (New, and the
// command line before it connects).
func (c *Config) CheckMergeKey() error {
	if len(c.MergeKey) == 0 {
		return nil
	}
	if err := c.validateMergeKey(); err != nil {
		return usageError{err}
	}
	if c.ReplaceKeys {
		return usageError{errors.New("--merge-key cannot go with --on-change replace (nor with --on-change resume falling back to replace: give --resume-fallback append): " +
			"a merged row may hold the values of several files, so no file's rows can be deleted; " +
			"with --merge-key, a changed file's new version is merged again (--on-change append)")}
	}
	if c.RemoveKeys {
		return usageError{errors.New("--merge-key cannot go with --delete-on-remove: a merged row may hold the values of several files, so a removed file has no rows of its own to delete")}
	}
	for _, k := range c.MergeKey {
		if k == c.ExtraColumn && c.UnknownFields == UnknownExtra || k == c.RescueColumn {
			return usageError{fmt.Errorf("--merge-key: column %q is the jsonb column of --extra-column or --rescue-column", k)}
		}
	}
	return nil
}

// OnlyPostgres names the settings given that only a PostgreSQL target
// takes, as an error (nil: none).
func (c *Config) OnlyPostgres() error {
	switch {
	case c.RescueColumn != "":
		return errors.New("--rescue-column is for a PostgreSQL target (JSON lines keep every value as read)")
	case len(c.MergeKey) > 0:
		return errors.New("--merge-key is for a PostgreSQL target (JSON lines are appended)")
	}
	return nil
}

// merging says whether chunks are merged (upserted) by key.
func (t *Target) merging() bool { return len(t.cfg.MergeKey) > 0 }

// keyDDL is the unique key a table ferry creates gets under MergeKey.
func (t *Target) keyDDL() string {
	return "PRIMARY KEY (" + quoteAll(t.cfg.MergeKey) + ")"
}

func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = pgx.Identifier{n}.Sanitize()
	}
	return strings.Join(q, ", ")
}

// checkMergeKey fails, naming the table and the key, when a key column is
// not a column of tbl or no unique index of tbl is on exactly the key's
// columns (ON CONFLICT needs one: not partial, not on expressions, not
// deferrable).
func (t *Target) checkMergeKey(ctx context.Context, q querier, tbl *table) error {
	if !t.merging() {
		return nil
	}
	key := quoteAll(t.cfg.MergeKey)
	for _, k := range t.cfg.MergeKey {
		if _, ok := tbl.byName[k]; !ok {
			return fmt.Errorf("table %s has no column %s of --merge-key %s", tbl.ident.Sanitize(), pgx.Identifier{k}.Sanitize(), key)
		}
	}
	var ok bool
	err := q.QueryRow(ctx, `
		SELECT EXISTS (
			SELECT 1 FROM pg_index i
			WHERE i.indrelid = to_regclass($1) AND i.indisunique AND i.indimmediate AND i.indisvalid
				AND i.indpred IS NULL AND i.indexprs IS NULL
				AND (SELECT array_agg(a.attname::text ORDER BY a.attname)
					FROM unnest(i.indkey) WITH ORDINALITY AS k(attnum, n)
					JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
					WHERE k.n <= i.indnkeyatts)
					= (SELECT array_agg(x ORDER BY x) FROM unnest($2::text[]) x))`,
		tbl.ident.Sanitize(), t.cfg.MergeKey).Scan(&ok)
	if err != nil {
		return fmt.Errorf("look up the unique indexes of %s: %w", tbl.ident.Sanitize(), err)
	}
	if !ok {
		return fmt.Errorf("table %s has no unique index on --merge-key (%s), which the merge (INSERT ... ON CONFLICT) needs: create one (CREATE UNIQUE INDEX ON %s (%s)); ferry makes it the primary key of a table it creates",
			tbl.ident.Sanitize(), key, tbl.ident.Sanitize(), key)
	}
	return nil
}

// mergeKeyCols marks the COPY columns of p that are key columns, and fails
// when the plan does not fill one of them (the chunk has no such field).
func (t *Target) mergeKeyCols(p *plan) error {
	if !t.merging() {
		return nil
	}
	p.key = make([]bool, len(p.cols))
	for _, k := range t.cfg.MergeKey {
		j := slices.Index(p.cols, k)
		if j < 0 {
			return fmt.Errorf("no field fills column %s of --merge-key (%s) of table %s", pgx.Identifier{k}.Sanitize(), quoteAll(t.cfg.MergeKey), p.tbl.ident.Sanitize())
		}
		p.key[j] = true
	}
	return nil
}

// mergeCopySQL is the COPY of p's columns into the temporary table.
func mergeCopySQL(p *plan) string {
	return fmt.Sprintf("COPY %s (%s, %s) FROM STDIN (FORMAT binary)", mergeTable, quoteAll(p.cols), pgx.Identifier{mergeOrd}.Sanitize())
}

// createMergeTable makes the transaction's temporary table like the
// target as it is now, and gives the transaction's sorts the memory to
// sort the parts' rows by key without spilling to disk (twice their size
// in memory, from 4 MiB to 1 GiB; never less than work_mem already is).
func (t *Target) createMergeTable(ctx context.Context, tx pgx.Tx, parts []*copyPart) error {
	var size int64
	for _, pt := range parts {
		size += pt.c.Bytes()
	}
	mem := min(max(2*size>>10, 4<<10), 1<<20) // kB
	sql := fmt.Sprintf(`SELECT set_config('work_mem', greatest(%d, (SELECT setting::bigint FROM pg_settings WHERE name = 'work_mem'))::text || 'kB', true);
		CREATE TABLE %s (LIKE %s INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED INCLUDING IDENTITY, %s bigint) ON COMMIT DROP`,
		mem, mergeTable, t.cfg.Table.Sanitize(), pgx.Identifier{mergeOrd}.Sanitize())
	if _, err := tx.Exec(ctx, sql); err != nil {
		return fmt.Errorf("merge into %s: create the temporary table: %w", t.cfg.Table.Sanitize(), err)
	}
	return nil
}

// mergeRows upserts the rows of the temporary table (p's columns) into
// the target, the last of each key winning, and empties it unless last.
func (t *Target) mergeRows(ctx context.Context, tx pgx.Tx, p *plan, last bool) error {
	cols := quoteAll(p.cols)
	key := quoteAll(t.cfg.MergeKey)
	var set []string
	for _, c := range p.cols {
		if !slices.Contains(t.cfg.MergeKey, c) {
			q := pgx.Identifier{c}.Sanitize()
			set = append(set, q+" = EXCLUDED."+q)
		}
	}
	action := "DO NOTHING"
	if len(set) > 0 {
		action = "DO UPDATE SET " + strings.Join(set, ", ")
	}
	sql := fmt.Sprintf(`INSERT INTO %s AS t (%s) SELECT DISTINCT ON (%s) %s FROM %s ORDER BY %s, %s DESC ON CONFLICT (%s) %s`,
		t.cfg.Table.Sanitize(), cols, key, cols, mergeTable, key, pgx.Identifier{mergeOrd}.Sanitize(), key, action)
	if _, err := tx.Exec(ctx, sql); err != nil {
		return fmt.Errorf("merge into %s on %s: %w", t.cfg.Table.Sanitize(), key, err)
	}
	if last {
		return nil
	}
	if _, err := tx.Exec(ctx, "TRUNCATE "+mergeTable); err != nil {
		return fmt.Errorf("merge into %s: %w", t.cfg.Table.Sanitize(), err)
	}
	return nil
}

// mergeMessage names the target instead of the temporary table in a
// server's message about a row the COPY into it refused.
func (t *Target) mergeMessage(err error) error {
	const temp = `relation "` + mergeTableName + `"`
	msg := err.Error()
	if !strings.Contains(msg, temp) {
		return err
	}
	return errors.New(strings.ReplaceAll(msg, temp, "relation "+pgx.Identifier{t.cfg.Table[len(t.cfg.Table)-1]}.Sanitize()))
}
