package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/ferrydata/ferry/pusher"
)

// plan maps one chunk's columns onto the table for one COPY. Chunks whose
// plans have the same sql share a COPY; consts are this chunk's own.
type plan struct {
	tbl    *table
	sql    string
	fields []int // per COPY column: batch field index, or a sys* code
	enc    []encoder
	cols   []string
	colIdx []int // per COPY column: index in tbl.columns (-1 for the record ordinal)
	extra  []int // batch fields that go into the extra jsonb column
	// rescue: values that do not convert go into the rescue column
	// (sysRescue, or sysExtra when it is the same column).
	rescue bool
	// consts are the binary values of the columns that are the same for
	// every row of the chunk (metadata, partitions): column sysConst-k
	// takes consts[k]; nil is NULL.
	consts [][]byte
	// needs are the columns the chunk needs that the table lacks; a plan
	// with needs has no sql until they are added (evolve).
	needs []newColumn
	// key marks the COPY columns of the merge key (Config.MergeKey).
	key []bool
}

const (
	sysRecord = -2
	sysExtra  = -3
	sysRescue = -4
	sysConst  = -16 // and below: sysConst-k is consts[k]
)

// newColumn is a column to add to the table: its name and type, and what
// asks for it (for messages).
type newColumn struct {
	name, typ string
	// partition: the type is inferred from one value (partitionType) and
	// widened across the chunks that add it together (widerType).
	partition bool
}

func (t *Target) plan(tbl *table, c *pusher.Chunk) (*plan, error) {
	b := c.Batch
	p := &plan{tbl: tbl}
	used := map[int]string{}
	add := t.mayAdd(tbl)
	var inferred []string // types of the batch's columns, when one is to be added
	extraCol, rescueCol := -1, -1
	special := func(name, flag string) (int, error) {
		ci, ok := tbl.byName[name]
		if !ok {
			if !add {
				return -1, fmt.Errorf("table %s has no column %q for %s", tbl.ident.Sanitize(), name, flag)
			}
			p.needs = append(p.needs, newColumn{name: name, typ: "jsonb"})
			return -1, nil
		}
		return ci, nil
	}
	var err error
	if t.cfg.UnknownFields == UnknownExtra {
		if extraCol, err = special(t.cfg.ExtraColumn, "fields without a column (--extra-column)"); err != nil {
			return nil, err
		}
	}
	if t.cfg.RescueColumn != "" && (t.cfg.UnknownFields != UnknownExtra || t.cfg.RescueColumn != t.cfg.ExtraColumn) {
		if rescueCol, err = special(t.cfg.RescueColumn, "values that do not convert (--rescue-column)"); err != nil {
			return nil, err
		}
	}
	for i, field := range b.Columns {
		name, badName := columnName(field)
		ci, ok := tbl.find(name)
		if ok && (ci == extraCol || ci == rescueCol) {
			ok = false
		}
		if !ok {
			switch t.cfg.UnknownFields {
			case UnknownIgnore:
				continue
			case UnknownExtra:
				p.extra = append(p.extra, i)
				continue
			case UnknownAdd:
				if inferred == nil {
					inferred = inferTypes(b)
				}
				if len(name) > maxIdentifier {
					return nil, fmt.Errorf("field %q: cannot add a column: the name is longer than %d bytes", name, maxIdentifier)
				}
				if name == t.cfg.RescueColumn || name == t.cfg.ExtraColumn || strings.HasPrefix(name, pusher.MetaPrefix) {
					return nil, fmt.Errorf("field %q has the name of a column ferry fills itself", name)
				}
				typ := inferred[i]
				if badName && t.cfg.Conversion.RejectInvalidUTF8 {
					typ = "text"
				}
				p.needs = append(p.needs, newColumn{name: name, typ: t.override(name, typ)})
				continue
			}
			return nil, fmt.Errorf("field %q has no column in table %s (use --unknown-fields ignore, extra or add)", name, tbl.ident.Sanitize())
		}
		if other, dup := used[ci]; dup {
			return nil, fmt.Errorf("fields %q and %q both map to column %q", other, name, tbl.columns[ci].name)
		}
		used[ci] = name
		p.fields = append(p.fields, i)
		if badName && t.cfg.Conversion.RejectInvalidUTF8 {
			p.enc = append(p.enc, rejectName)
		} else {
			p.enc = append(p.enc, tbl.columns[ci].encode)
		}
		p.cols = append(p.cols, tbl.columns[ci].name)
		p.colIdx = append(p.colIdx, ci)
	}
	p.rescue = t.cfg.RescueColumn != ""
	if extraCol >= 0 && (len(p.extra) > 0 || p.rescue && rescueCol < 0) {
		p.column(sysExtra, extraCol)
	}
	if rescueCol >= 0 {
		p.column(sysRescue, rescueCol)
	}
	if err := t.planFileColumns(p, c); err != nil {
		return nil, err
	}
	if len(p.needs) > 0 {
		return p, nil
	}
	if len(p.cols) == 0 {
		return nil, fmt.Errorf("no field maps to a column of table %s", tbl.ident.Sanitize())
	}
	quoted := make([]string, len(p.cols))
	for i, c := range p.cols {
		quoted[i] = pgx.Identifier{c}.Sanitize()
	}
	p.sql = fmt.Sprintf("COPY %s (%s) FROM STDIN (FORMAT binary)", tbl.ident.Sanitize(), strings.Join(quoted, ", "))
	return p, t.mergeKeyCols(p)
}

// column adds COPY column ci of the table, filled as code says.
func (p *plan) column(code, ci int) {
	p.fields = append(p.fields, code)
	p.enc = append(p.enc, p.tbl.columns[ci].encode)
	p.cols = append(p.cols, p.tbl.columns[ci].name)
	p.colIdx = append(p.colIdx, ci)
}

// override is the type --columns gives name, else typ.
func (t *Target) override(name, typ string) string {
	for _, c := range t.cfg.Columns {
		if c.Name == name && c.Type != "" {
			return c.Type
		}
	}
	return typ
}

// planParts plans every part that has rows against the table (created
// when missing), and says whether there is anything to write. A plan that
// needs a column the cached table lacks is made again against the table
// as it is now (another writer may have added it); a partition value that
// does not fit its column widens it first, and then every part is planned
// again (the plans of one COPY must agree on the column types), once
// beforeWiden has returned (WriteAfter: the write before ended). An error
// about one part comes with its index.
func (t *Target) planParts(ctx context.Context, parts []*copyPart, beforeWiden func(context.Context) error) (work bool, _ int, _ error) {
	for attempt := 0; ; attempt++ {
		work, i, we, err := t.planAll(ctx, parts)
		if we == nil || attempt >= maxAttempts {
			return work, i, err
		}
		if err := beforeWiden(ctx); err != nil {
			return work, i, err
		}
		if err := t.widen(ctx, parts[i].p.tbl, we); err != nil {
			return work, i, err
		}
	}
}

// planAll is one round of planParts: it stops at the first part whose
// partition value asks for a wider column, and returns that.
func (t *Target) planAll(ctx context.Context, parts []*copyPart) (work bool, _ int, _ *widenError, _ error) {
	for _, pt := range parts {
		pt.p = nil
	}
	for i, pt := range parts {
		b := pt.c.Batch
		if b == nil || b.Len() == 0 {
			work = work || t.cfg.StateInTx || len(pt.c.Rejects) > 0 || t.replaces(pt.c)
			continue
		}
		work = true
		for refreshed := false; ; refreshed = true {
			tbl, err := t.prepare(ctx, pt.c)
			if err != nil {
				return work, i, nil, err
			}
			p, err := t.plan(tbl, pt.c)
			if we := (*widenError)(nil); errors.As(err, &we) {
				pt.p = &plan{tbl: tbl}
				return work, i, we, err
			}
			if err != nil {
				return work, i, nil, err
			}
			if len(p.needs) > 0 && !refreshed {
				t.invalidate(tbl)
				continue
			}
			pt.p = p
			break
		}
	}
	return work, -1, nil, nil
}
