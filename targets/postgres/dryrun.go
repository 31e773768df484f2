package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/state"
	pgstate "github.com/ferrydata/ferry/state/postgres"
)

// Planner is the dry run of the target (ferry plan): it maps a sample of
// chunks onto the table with the code a load runs (the DDL of a new
// table, the plans of its COPY, the conversion of each value), and only
// reads the catalog: it creates, alters and writes nothing.
type Planner struct {
	t     *Target
	close func()
	url   string
}

// NewPlanner returns a planner for the target cfg configures. The pool is
// the caller's; nothing is queried yet.
func NewPlanner(pool *pgxpool.Pool, cfg Config) (*Planner, error) {
	t, err := newTarget(pool, cfg)
	if err != nil {
		return nil, err
	}
	return &Planner{t: t}, nil
}

// OpenPlanner connects to the database at url (two connections, closed
// by Close) and returns a planner for the target cfg configures.
func OpenPlanner(ctx context.Context, url string, cfg Config) (*Planner, error) {
	pool, err := pgstate.Connect(ctx, url, 2, "ferry/plan")
	if errors.Is(err, pgstate.ErrBadURL) {
		return nil, usageError{err} // exit 2, as the jobs'
	}
	if err != nil {
		return nil, err
	}
	p, err := NewPlanner(pool, cfg)
	if err != nil {
		pool.Close()
		return nil, err
	}
	p.close, p.url = pool.Close, url
	return p, nil
}

// Pipeline is the name of the job's pipeline when --pipeline is not
// given, for a planner OpenPlanner opened: PipelineName, or the older
// name an older ferry gave the job when the state st (nil: none yet)
// holds its progress under it (OlderPipeline; sameDB: st is in the
// target's database).
func (p *Planner) Pipeline(ctx context.Context, source string, st state.Store, sameDB bool) (string, error) {
	name, older, err := PipelineName(source, p.url, p.t.cfg.Table)
	if err != nil || st == nil {
		return name, err
	}
	keep, _, err := OlderPipeline(ctx, st, name, older, sameDB, p.t.pool, p.t.cfg.Table)
	if keep {
		return older, err
	}
	return name, err
}

// String names the table, for the report.
func (p *Planner) String() string { return "PostgreSQL table " + p.t.cfg.Table.Sanitize() }

// Close closes the connections OpenPlanner opened.
func (p *Planner) Close() {
	if p != nil && p.close != nil {
		p.close()
	}
}

// Section is what Plan returns: the same type as source/plan's Section
// (an unnamed interface, so that *Planner is a plan.Target without this
// package importing source).
type Section = interface {
	WriteText(w io.Writer) error
	Failed() string
}

// PlanSample is Plan as source/plan's Target calls it.
func (p *Planner) PlanSample(ctx context.Context, sample []*pusher.Chunk, reject func(c *pusher.Chunk, e *pusher.RecordError, rescued bool)) (Section, error) {
	tp, err := p.Plan(ctx, sample, reject)
	if err != nil {
		return nil, err
	}
	return tp, nil
}

// TablePlan is what a load of the sample would do to the table.
type TablePlan struct {
	Table  string `json:"table"`
	Exists bool   `json:"exists"`
	// CreatedByFerry: the table carries ferry's comment, so ferry widens
	// its columns and adds the metadata, rescue and partition columns.
	CreatedByFerry bool `json:"created_by_ferry"`
	// Create is the DDL a load would run for a new table, types inferred
	// from the sample's first chunk.
	Create []string `json:"create,omitempty"`
	// UnknownFields is the --unknown-fields policy.
	UnknownFields string    `json:"unknown_fields"`
	Matched       []Matched `json:"matched"`
	Unknown       []Unknown `json:"unknown"`
	Missing       []Missing `json:"missing"`
	// Alter is the DDL a load would run on the table: columns added
	// (--unknown-fields add, metadata, rescue and partition columns) and
	// columns widened (a table ferry created).
	Alter     []string   `json:"alter,omitempty"`
	Conflicts []Conflict `json:"conflicts"`
	// Failure, when set, is why the load would fail whatever the
	// --on-error policy (the first such error).
	Failure string `json:"failure,omitempty"`
}

// Matched is a field of the files that has a column.
type Matched struct {
	Field  string `json:"field"`
	Column string `json:"column"`
	Type   string `json:"type"`
}

// Unknown is a field without a column, and what the policy does with it.
type Unknown struct {
	Field  string `json:"field"`
	Action string `json:"action"`
}

// Missing is a column no field fills, and what it gets.
type Missing struct {
	Column string `json:"column"`
	Type   string `json:"type"`
	// Gets: "NULL", "its default", or "refused" (NOT NULL without a
	// default: every record would be rejected by the server).
	Gets string `json:"gets"`
}

// Conflict is a column some of whose sample values do not convert to its
// type, and what a load does with them: rejects them, keeps them in the
// rescue column, or widens the column (a table ferry created).
type Conflict struct {
	Column string `json:"column"`
	Type   string `json:"type"`
	Values int    `json:"values"`
	Action string `json:"action"`
	// The first such value, where it is.
	File   string `json:"file"`
	Record int64  `json:"record"`
	Value  string `json:"value"`
}

// Plan maps the sample's chunks onto the table. Each record whose values
// would not convert is passed to reject (rescued: kept in the rescue
// column instead). A configuration or table the load would fail on is
// TablePlan.Failure; errors are the catalog's.
func (p *Planner) Plan(ctx context.Context, sample []*pusher.Chunk, reject func(c *pusher.Chunk, e *pusher.RecordError, rescued bool)) (*TablePlan, error) {
	t := p.t
	tp := &TablePlan{Table: t.cfg.Table.Sanitize(), UnknownFields: string(t.cfg.UnknownFields)}
	var chunks []*pusher.Chunk
	for _, c := range sample {
		if c.Batch != nil && c.Batch.Len() > 0 {
			chunks = append(chunks, c)
		}
	}
	tbl, err := lookupTable(ctx, t.pool, t.m, t.cfg.Table, t.cfg.Conversion)
	switch {
	case errors.Is(err, errNoTable):
		if len(chunks) == 0 {
			return tp, nil
		}
		if tp.Create, err = t.createDDL(ctx, t.pool, chunks[0]); err != nil {
			tp.Failure = err.Error()
			return tp, nil
		}
		cols, err := t.createColumns(ctx, t.pool, chunks[0])
		if err != nil {
			return nil, err
		}
		if tbl, err = t.withColumns(ctx, &table{ident: t.cfg.Table, byName: map[string]int{}, byLower: map[string]int{}, ferryMade: true}, cols); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, err
	default:
		tp.Exists, tp.CreatedByFerry = true, tbl.ferryMade
		if err := t.checkColumns(tbl); err != nil {
			tp.Failure = err.Error()
		}
		if t.keysRows() && !tbl.ferryMade {
			if _, ok := tbl.byName[FileColumn]; !ok && tp.Failure == "" {
				tp.Failure = fmt.Sprintf("table %s has no column %s (needed by --on-change replace and --delete-on-remove)", tbl.ident.Sanitize(), FileColumn)
			}
		}
		if err := p.describe(ctx, tp, tbl, chunks); err != nil {
			return nil, err
		}
	}
	var added []newColumn
	for _, c := range chunks {
		pl, err := t.plan(tbl, c)
		if we := (*widenError)(nil); errors.As(err, &we) {
			tp.alter(widenDDL(tbl, we))
			continue
		}
		if err != nil {
			tp.fail(err)
			continue
		}
		if len(pl.needs) > 0 {
			for _, n := range pl.needs {
				if i := slices.IndexFunc(added, func(a newColumn) bool { return a.name == n.name }); i >= 0 {
					added[i].typ = widerType(added[i].typ, n.typ)
				} else {
					added = append(added, n)
				}
			}
			if tbl, err = t.withColumns(ctx, tbl, pl.needs); err != nil {
				return nil, err
			}
			if pl, err = t.plan(tbl, c); err != nil {
				tp.fail(err)
				continue
			}
		}
		if err := t.convert(ctx, tp, pl, c, reject); err != nil {
			return nil, err
		}
	}
	if len(added) > 0 {
		adds := make([]string, len(added))
		for i, c := range added {
			adds[i] = "ADD COLUMN IF NOT EXISTS " + pgx.Identifier{c.name}.Sanitize() + " " + c.typ
		}
		tp.Alter = append([]string{"ALTER TABLE " + tp.Table + " " + strings.Join(adds, ", ")}, tp.Alter...)
	}
	return tp, nil
}

func (tp *TablePlan) alter(sql string) {
	if !slices.Contains(tp.Alter, sql) {
		tp.Alter = append(tp.Alter, sql)
	}
}

func (tp *TablePlan) fail(err error) {
	if tp.Failure == "" {
		tp.Failure = err.Error()
	}
}

// describe fills the mapping of the sample's fields onto an existing
// table: matched, unknown and missing columns.
func (p *Planner) describe(ctx context.Context, tp *TablePlan, tbl *table, chunks []*pusher.Chunk) error {
	t := p.t
	filled := map[string]bool{t.cfg.ExtraColumn: t.cfg.UnknownFields == UnknownExtra, t.cfg.RescueColumn: t.cfg.RescueColumn != ""}
	for _, m := range t.meta {
		filled[pusher.MetaPrefix+m] = true
	}
	special := map[string]bool{}
	for name, ok := range filled {
		special[name] = ok // the extra and rescue columns take no field of their own
	}
	seen := map[string]bool{}
	for _, c := range chunks {
		if parts, err := t.partitions(c); err == nil {
			for _, pt := range parts {
				filled[pt.Name] = true
			}
		}
		for _, field := range c.Batch.Columns {
			if seen[field] {
				continue
			}
			seen[field] = true
			name, _ := columnName(field)
			if ci, ok := tbl.find(name); ok && !special[tbl.columns[ci].name] {
				col := tbl.columns[ci]
				filled[col.name] = true
				tp.Matched = append(tp.Matched, Matched{Field: field, Column: col.name, Type: col.typeName})
				continue
			}
			action := map[UnknownFields]string{
				UnknownError:  "error: the load fails (--unknown-fields ignore, extra or add)",
				UnknownIgnore: "ignored",
				UnknownExtra:  "kept in column " + t.cfg.ExtraColumn,
				UnknownAdd:    "added as a column",
			}[t.cfg.UnknownFields]
			tp.Unknown = append(tp.Unknown, Unknown{Field: field, Action: action})
		}
	}
	rows, err := t.pool.Query(ctx, `SELECT attname FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0
		AND NOT attisdropped AND attnotnull AND NOT atthasdef AND attgenerated = '' AND attidentity = ''`, tbl.ident.Sanitize())
	if err != nil {
		return fmt.Errorf("look up table %s: %w", tbl.ident.Sanitize(), err)
	}
	notNull, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("look up table %s: %w", tbl.ident.Sanitize(), err)
	}
	for _, col := range tbl.columns {
		if filled[col.name] {
			continue
		}
		m := Missing{Column: col.name, Type: col.typeName, Gets: "NULL"}
		switch {
		case col.hasDefault:
			m.Gets = "its default"
		case slices.Contains(notNull, col.name):
			m.Gets = "refused: NOT NULL without a default"
			tp.fail(fmt.Errorf("column %q of table %s is NOT NULL without a default and no field fills it: every record would be rejected", col.name, tbl.ident.Sanitize()))
		}
		tp.Missing = append(tp.Missing, m)
	}
	return nil
}

// convert converts every value of c as its COPY would, in the order
// appendRow decides: a value that does not convert is rescued (a rescue
// column), widens its column (a table ferry created), or rejects its
// record. A widened column takes the wider type for the values after.
func (t *Target) convert(ctx context.Context, tp *TablePlan, pl *plan, c *pusher.Chunk, reject func(*pusher.Chunk, *pusher.RecordError, bool)) error {
	b := c.Batch
	enc := slices.Clone(pl.enc)
	cols := slices.Clone(pl.tbl.columns)
	var buf []byte
	for row := 0; row < b.Len(); row++ {
		fields := b.Record(row)
		record := c.First() + int64(row)
		for j, fi := range pl.fields {
			if fi < 0 || fi >= len(fields) || fields[fi].Kind == pusher.Null {
				continue
			}
			f := fields[fi]
			var err error
			if buf, err = enc[j](buf[:0], f.Kind, b.Value(f)); err == nil {
				continue
			}
			col := &cols[pl.colIdx[j]]
			cf := tp.conflict(col, c, record, b.Value(f))
			re := &pusher.RecordError{Record: record, Offset: -1, Err: fmt.Errorf("column %q: %w", col.name, err)}
			switch act, to := pl.onBadValue(j, col, f.Kind, b.Value(f)); act {
			case keepRescued:
				cf.Action = "kept in the rescue column " + t.cfg.RescueColumn + ", the column NULL"
				reject(c, re, true)
				continue
			case widenColumn:
				tp.alter(widenDDL(pl.tbl, &widenError{column: col.name, from: col.typeName, to: to}))
				cf.Action = "widen the column to " + to
				wide, err := t.withColumns(ctx, &table{ident: pl.tbl.ident, byName: map[string]int{}, byLower: map[string]int{}, ferryMade: true}, []newColumn{{name: col.name, typ: to}})
				if err != nil {
					return err
				}
				*col, enc[j] = wide.columns[0], wide.columns[0].encode
				continue
			}
			cf.Action = "reject the record"
			reject(c, re, false)
			break
		}
	}
	return nil
}

// conflict returns the conflict of column col, counting one more value.
func (tp *TablePlan) conflict(col *column, c *pusher.Chunk, record int64, v []byte) *Conflict {
	for i := range tp.Conflicts {
		if tp.Conflicts[i].Column == col.name {
			tp.Conflicts[i].Values++
			return &tp.Conflicts[i]
		}
	}
	tp.Conflicts = append(tp.Conflicts, Conflict{Column: col.name, Type: col.typeName, Values: 1, File: c.File.Key, Record: record, Value: clip(v)})
	return &tp.Conflicts[len(tp.Conflicts)-1]
}

// withColumns returns a copy of tbl with cols added (types as in DDL, a
// DEFAULT clause allowed), resolved in the catalog without creating them.
func (t *Target) withColumns(ctx context.Context, tbl *table, cols []newColumn) (*table, error) {
	out := &table{ident: tbl.ident, columns: slices.Clone(tbl.columns), byName: map[string]int{}, byLower: map[string]int{}, ferryMade: tbl.ferryMade}
	for _, c := range cols {
		if _, ok := tbl.byName[c.name]; ok {
			continue
		}
		typ, def, _ := strings.Cut(c.typ, " DEFAULT ")
		var typeName, typtype string
		var oid uint32
		err := t.pool.QueryRow(ctx, `SELECT format_type(t.oid, NULL), CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END,
			coalesce(bt.typtype, t.typtype)::text
			FROM pg_type t LEFT JOIN pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype
			WHERE t.oid = to_regtype($1)`, typ).Scan(&typeName, &oid, &typtype)
		if err != nil {
			return nil, fmt.Errorf("column %q: type %q: %w", c.name, typ, err)
		}
		enc, err := encoderFor(t.m, oid, typtype, typeName, t.cfg.Conversion)
		if err != nil {
			return nil, fmt.Errorf("table %s column %q: %w", tbl.ident.Sanitize(), c.name, err)
		}
		col := column{name: c.name, typeName: typeName, hasDefault: def != "", encode: enc}
		if out.ferryMade && !strings.HasPrefix(c.name, pusher.MetaPrefix) {
			col.widen = widenRule(typeName)
		}
		out.columns = append(out.columns, col)
	}
	for i, c := range out.columns {
		out.byName[c.name] = i
		l := strings.ToLower(c.name)
		if _, dup := out.byLower[l]; dup {
			out.byLower[l] = -1
		} else {
			out.byLower[l] = i
		}
	}
	for l, i := range out.byLower {
		if i < 0 {
			delete(out.byLower, l)
		}
	}
	return out, nil
}

// WriteText writes the plan as the text of ferry plan's table section.
func (tp *TablePlan) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	switch {
	case tp.Exists && tp.CreatedByFerry:
		ew.printf("Table %s exists (created by ferry: columns may be added and widened).\n", tp.Table)
	case tp.Exists:
		ew.printf("Table %s exists (not created by ferry: altered only under --unknown-fields add).\n", tp.Table)
	case len(tp.Create) > 0:
		ew.printf("Table %s does not exist; a load would create it (types inferred from the sample):\n", tp.Table)
		for _, s := range tp.Create {
			ew.printf("  %s;\n", s)
		}
	case tp.Failure != "":
		ew.printf("Table %s does not exist; a load could not create it (below).\n", tp.Table)
	default:
		ew.printf("Table %s does not exist; no record in the sample to infer its columns from.\n", tp.Table)
	}
	if tp.Exists {
		ew.printf("  matched fields: %d\n", len(tp.Matched))
		for _, m := range tp.Matched {
			ew.printf("    %s -> %s %s\n", m.Field, m.Column, m.Type)
		}
		ew.printf("  unknown fields (--unknown-fields %s): %d\n", tp.UnknownFields, len(tp.Unknown))
		for _, u := range tp.Unknown {
			ew.printf("    %s: %s\n", u.Field, u.Action)
		}
		ew.printf("  columns no field fills: %d\n", len(tp.Missing))
		for _, m := range tp.Missing {
			ew.printf("    %s %s: %s\n", m.Column, m.Type, m.Gets)
		}
	}
	if len(tp.Alter) > 0 {
		ew.printf("  a load would change the table:\n")
		for _, s := range tp.Alter {
			ew.printf("    %s;\n", s)
		}
	}
	ew.printf("  type conflicts: %d\n", len(tp.Conflicts))
	for _, c := range tp.Conflicts {
		ew.printf("    %s %s: %d value(s) do not convert, first %q (%s record %d): %s\n", c.Column, c.Type, c.Values, c.Value, c.File, c.Record, c.Action)
	}
	if tp.Failure != "" {
		ew.printf("  the load would fail: %s\n", tp.Failure)
	}
	return ew.err
}

// Failed returns why the load would fail, or "".
func (tp *TablePlan) Failed() string { return tp.Failure }

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}
