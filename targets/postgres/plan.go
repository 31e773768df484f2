package postgres

import (
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/ferrydata/ferry/pusher"
)

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
	for i, field := range b.Columns {
		name, badName := columnName(field)
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
		if badName && t.cfg.Conversion.RejectInvalidUTF8 {
			p.enc = append(p.enc, rejectName)
		} else {
			p.enc = append(p.enc, tbl.columns[ci].encode)
		}
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
	} else if t.keysRows() {
		p.fields = append(p.fields, sysFile)
		p.enc = append(p.enc, nil)
		p.cols = append(p.cols, FileColumn)
		p.colIdx = append(p.colIdx, -1)
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
