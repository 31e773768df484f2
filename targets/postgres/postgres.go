package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ferrydata/ferry/pusher"
	pgstate "github.com/ferrydata/ferry/state/postgres"
)

// Config of the target.
type Config struct {
	// Table to load into; created when missing.
	Table pgx.Identifier
	// Columns name column types for a table ferry creates (types inferred
	// from the first records for the others).
	Columns []ColumnSpec
	// SystemColumns fills _ferry_file and _ferry_record (the same as
	// Metadata file and record).
	SystemColumns bool
	// Metadata names the metadata columns to fill (pusher.MetaNames; each
	// is the column MetaPrefix+name).
	Metadata []string
	// Partitions, when set, fills columns from the values of each file's
	// key (--partition-columns, --key-pattern).
	Partitions *pusher.Partitions
	// RescueColumn, when set, is the jsonb column that keeps values that
	// do not convert to their column's type ({"field": "value"}); the
	// typed column is then NULL and the record is loaded.
	RescueColumn string
	// ReplaceKeys: the first chunk of a file version deletes, in its
	// transaction, the rows of the file's key (found by _ferry_file,
	// filled even without SystemColumns), and marks its other versions
	// replaced when StateInTx (--on-change replace).
	ReplaceKeys bool
	// RemoveKeys: Remove deletes the rows of a key, found by _ferry_file
	// (filled even without SystemColumns), and marks its versions removed
	// when StateInTx (--delete-on-remove).
	RemoveKeys bool
	// Pipeline names the job in ferry.files and ferry.rejects.
	Pipeline string
	// StateSchema is the schema of ferry.files and ferry.rejects (default
	// ferry).
	StateSchema pgstate.Schema
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
	// MergeKey, when set, names the columns of a unique key: each chunk
	// is upserted on it (staged in a temporary table, the last record of
	// a key in file order winning, then INSERT ... ON CONFLICT DO
	// UPDATE) instead of appended (--merge-key; see merge.go). A record
	// whose key is NULL is a bad record. Cannot go with ReplaceKeys or
	// RemoveKeys.
	MergeKey []string
	// Log, when set, receives notices (a widened column).
	Log func(msg string)
}

// Target is the PostgreSQL target.
type Target struct {
	pool *pgxpool.Pool
	cfg  Config
	m    *pgtype.Map

	meta []string // metadata columns to fill, in pusher.MetaNames order

	mu  sync.Mutex
	tbl *table

	warnOnce sync.Once // a key that gives no partition values
}

var _ pusher.Target = (*Target)(nil)

// New returns a target writing into cfg.Table through pool. The pool is the
// caller's. Its errors are classified as Write's are.
func New(ctx context.Context, pool *pgxpool.Pool, cfg Config) (*Target, error) {
	t, err := newTarget(pool, cfg)
	if err != nil {
		return nil, err
	}
	// ferry.rejects must exist in this database, also when progress is
	// kept elsewhere.
	if _, err := cfg.StateSchema.Open(ctx, pool); err != nil {
		return nil, pgstate.Classify(err)
	}
	tbl, err := lookupTable(ctx, pool, t.m, cfg.Table, cfg.Conversion)
	switch {
	case errors.Is(err, errNoTable):
	case err != nil:
		return nil, pgstate.Classify(err)
	default:
		if tbl, err = t.addFileColumn(ctx, tbl); err != nil {
			return nil, pgstate.Classify(err)
		}
		if err := t.checkColumns(tbl); err != nil {
			return nil, err
		}
		if err := t.checkMergeKey(ctx, pool, tbl); err != nil {
			return nil, pgstate.Classify(err)
		}
		t.tbl = tbl
	}
	return t, nil
}

// newTarget checks cfg and fills its defaults, without a query.
func newTarget(pool *pgxpool.Pool, cfg Config) (*Target, error) {
	if len(cfg.Table) == 0 {
		return nil, errors.New("postgres target: no table")
	}
	if cfg.ExtraColumn == "" {
		cfg.ExtraColumn = "_extra"
	}
	if cfg.UnknownFields == "" {
		cfg.UnknownFields = UnknownError
	}
	if err := cfg.CheckMergeKey(); err != nil {
		return nil, err
	}
	if cfg.RescueColumn != "" && len(cfg.RescueColumn) > maxIdentifier {
		return nil, fmt.Errorf("--rescue-column %q is longer than %d bytes", cfg.RescueColumn, maxIdentifier)
	}
	meta := slices.Clone(cfg.Metadata)
	if cfg.SystemColumns {
		meta = append(meta, pusher.MetaFile, pusher.MetaRecord)
	}
	if cfg.ReplaceKeys || cfg.RemoveKeys {
		// Rows are found by key in _ferry_file (see replace.go).
		meta = append(meta, pusher.MetaFile)
	}
	meta, err := pusher.ParseMetaColumns(strings.Join(meta, ","))
	if err != nil {
		return nil, err
	}
	return &Target{pool: pool, cfg: cfg, m: pgtype.NewMap(), meta: meta}, nil
}

// checkColumns fails when a table that ferry may not change lacks a
// metadata or rescue column it needs. ferry adds them to a table it
// created, and to any table under --unknown-fields add.
func (t *Target) checkColumns(tbl *table) error {
	if t.mayAdd(tbl) {
		return nil
	}
	for _, name := range t.meta {
		if _, ok := tbl.byName[pusher.MetaPrefix+name]; !ok {
			return fmt.Errorf("table %s has no column %s (needed by --metadata-columns %s; ferry adds it to tables it created, or with --unknown-fields add)",
				tbl.ident.Sanitize(), pusher.MetaPrefix+name, name)
		}
	}
	if c := t.cfg.RescueColumn; c != "" {
		if _, ok := tbl.byName[c]; !ok {
			return fmt.Errorf("table %s has no column %q for --rescue-column (ferry adds it to tables it created, or with --unknown-fields add)", tbl.ident.Sanitize(), c)
		}
	}
	return nil
}

// mayAdd says whether ferry may add columns to tbl: a table it created,
// or any table under --unknown-fields add.
func (t *Target) mayAdd(tbl *table) bool {
	return tbl.ferryMade || t.cfg.UnknownFields == UnknownAdd
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
	// UnknownAdd: a field with no column becomes a new column, added in
	// the transaction of the chunk that has it.
	UnknownAdd UnknownFields = "add"
)

// UnmarshalText sets a policy from its name (a flag's value).
func (u *UnknownFields) UnmarshalText(b []byte) error {
	switch v := UnknownFields(b); v {
	case UnknownError, UnknownIgnore, UnknownExtra, UnknownAdd:
		*u = v
		return nil
	}
	return errors.New("expected error, ignore, extra or add")
}

// MarshalText returns the policy's name.
func (u UnknownFields) MarshalText() ([]byte, error) { return []byte(u), nil }

// Close implements pusher.Target; the pool stays open.
func (t *Target) Close() error { return nil }

func (t *Target) log(msg string) {
	if t.cfg.Log != nil {
		t.cfg.Log(msg)
	}
}
