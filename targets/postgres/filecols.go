package postgres

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/ferrydata/ferry/pusher"
)

// The columns whose values come from where the file is: metadata
// (_ferry_file, _ferry_etag, ...) and partition values of the key. They
// are the same for every row of a chunk (but _ferry_record), so a plan
// encodes them once (plan.consts).

// metaType is the type of each metadata column ferry creates.
var metaType = map[string]string{
	pusher.MetaFile:     "text",
	pusher.MetaRecord:   "bigint",
	pusher.MetaETag:     "text",
	pusher.MetaModified: "timestamptz",
	pusher.MetaSize:     "bigint",
	// The transaction's start: the same for every row committed together.
	pusher.MetaLoadedAt: "timestamptz DEFAULT now()",
}

// fileColumns returns the metadata, rescue and partition columns a table
// created for chunk c has, after its data columns, with their types.
func (t *Target) fileColumns(c *pusher.Chunk) ([]newColumn, error) {
	var out []newColumn
	if r := t.cfg.RescueColumn; r != "" && (t.cfg.UnknownFields != UnknownExtra || r != t.cfg.ExtraColumn) {
		out = append(out, newColumn{name: r, typ: "jsonb"})
	}
	for _, m := range t.meta {
		out = append(out, newColumn{name: pusher.MetaPrefix + m, typ: metaType[m]})
	}
	parts, err := t.partitions(c)
	if err != nil {
		return nil, err
	}
	for _, pt := range parts {
		typ := "text"
		if !pt.Null {
			typ = partitionType(pt.Value)
		}
		out = append(out, newColumn{name: pt.Name, typ: t.override(pt.Name, typ), partition: true})
	}
	return out, nil
}

// partitions returns the partition columns of c's key (names made valid
// column names), checked: a name must fit PostgreSQL's identifiers and
// must not be a field of the file nor a column ferry fills itself. A key
// that gives no values is logged once.
func (t *Target) partitions(c *pusher.Chunk) ([]pusher.Partition, error) {
	if t.cfg.Partitions == nil {
		return nil, nil
	}
	key := c.File.Key
	parts, matched, err := t.cfg.Partitions.Of(key)
	if err != nil {
		return nil, err
	}
	if !matched {
		t.warnOnce.Do(func() {
			t.log(fmt.Sprintf("key %q gives no partition values (--partition-columns, --key-pattern): its partition columns are NULL; logged once", key))
		})
	}
	for i := range parts {
		name, _ := columnName(parts[i].Name)
		parts[i].Name = name
		switch {
		case len(name) > maxIdentifier:
			return nil, fmt.Errorf("key %q: partition name %q is longer than %d bytes", key, name, maxIdentifier)
		case strings.HasPrefix(name, pusher.MetaPrefix) || name == t.cfg.RescueColumn || t.cfg.UnknownFields == UnknownExtra && name == t.cfg.ExtraColumn:
			return nil, fmt.Errorf("key %q: partition %q has the name of a column ferry fills itself", key, name)
		}
		if c.Batch != nil {
			for _, f := range c.Batch.Columns {
				if fn, _ := columnName(f); strings.EqualFold(fn, name) {
					return nil, fmt.Errorf("key %q: partition %q has the name of field %q of the file: rename one of them", key, name, fn)
				}
			}
		}
	}
	return parts, nil
}

// planFileColumns adds the metadata and partition columns of chunk c to
// p, or to p.needs where the table lacks them and ferry may add them.
func (t *Target) planFileColumns(p *plan, c *pusher.Chunk) error {
	tbl := p.tbl
	add := t.mayAdd(tbl)
	for _, m := range t.meta {
		name := pusher.MetaPrefix + m
		ci, ok := tbl.byName[name]
		switch {
		case !ok && add:
			p.needs = append(p.needs, newColumn{name: name, typ: metaType[m]})
		case !ok:
			return fmt.Errorf("table %s has no column %s (needed by --metadata-columns %s)", tbl.ident.Sanitize(), name, m)
		case m == pusher.MetaRecord:
			p.column(sysRecord, ci)
		case m == pusher.MetaLoadedAt:
			// Filled by its default (now(): the transaction's start).
			if !tbl.columns[ci].hasDefault {
				return fmt.Errorf("column %s of table %s has no default: ferry leaves it to its default, so give it one (ALTER TABLE %s ALTER COLUMN %s SET DEFAULT now())",
					name, tbl.ident.Sanitize(), tbl.ident.Sanitize(), name)
			}
		default:
			k, v, null := metaValue(m, c.File)
			if err := p.constant(ci, k, v, null); err != nil {
				return fmt.Errorf("column %s: %w", name, err)
			}
		}
	}
	parts, err := t.partitions(c)
	if err != nil {
		return err
	}
	for _, pt := range parts {
		ci, ok := tbl.find(pt.Name)
		if !ok {
			if !add {
				return fmt.Errorf("table %s has no column %q for the partition value of key %q (create it, or use --unknown-fields add)",
					tbl.ident.Sanitize(), pt.Name, c.File.Key)
			}
			typ := "text"
			if !pt.Null {
				typ = partitionType(pt.Value)
			}
			p.needs = append(p.needs, newColumn{name: pt.Name, typ: t.override(pt.Name, typ), partition: true})
			continue
		}
		col := tbl.columns[ci]
		if tbl.ferryMade && col.widen != nil && !pt.Null && col.typeName == "bigint" && !isPlainInt([]byte(pt.Value)) {
			// An integer with a leading zero (05) would be inferred as
			// text: a bigint partition column widens to text for it, so
			// the type does not depend on which file came first.
			return &widenError{column: col.name, from: col.typeName, to: "text", value: clip([]byte(pt.Value)), record: c.First()}
		}
		err := p.constant(ci, pusher.String, []byte(pt.Value), pt.Null)
		if err == nil {
			continue
		}
		if tbl.ferryMade && col.widen != nil {
			if to := col.widen(pusher.String, []byte(pt.Value)); to != "" {
				return &widenError{column: col.name, from: col.typeName, to: to, value: clip([]byte(pt.Value)), record: c.First()}
			}
		}
		return fmt.Errorf("key %q: partition %q: %w", c.File.Key, pt.Name, err)
	}
	return nil
}

// constant adds COPY column ci with the same value for every row.
func (p *plan) constant(ci int, k pusher.Kind, v []byte, null bool) error {
	var enc []byte
	if !null {
		var err error
		if enc, err = p.tbl.columns[ci].encode([]byte{}, k, v); err != nil {
			return err
		}
	}
	p.column(sysConst-len(p.consts), ci)
	p.consts = append(p.consts, enc)
	return nil
}

// metaValue is the value of metadata column m for a file.
func metaValue(m string, f pusher.Object) (k pusher.Kind, v []byte, null bool) {
	switch m {
	case pusher.MetaFile:
		return pusher.String, []byte(f.Key), false
	case pusher.MetaETag:
		return pusher.String, []byte(f.ETag), f.ETag == ""
	case pusher.MetaSize:
		return pusher.Number, strconv.AppendInt(nil, f.Size, 10), false
	case pusher.MetaModified:
		if f.LastModified.IsZero() {
			return pusher.Null, nil, true
		}
		return pusher.String, f.LastModified.UTC().AppendFormat(nil, "2006-01-02T15:04:05.999999Z07:00"), false
	}
	return pusher.Null, nil, true
}

// partitionType infers a partition column's type from one value: date,
// timestamptz, bigint (without a leading zero: 05 stays text, as data
// values do) or text.
func partitionType(v string) string {
	b := []byte(v)
	switch {
	case len(b) == 10 && isDate(b):
		return "date"
	case len(b) > 10 && isTimestamp(b):
		return "timestamptz"
	case isPlainInt(b):
		return "bigint"
	}
	return "text"
}

// widerType is a type that holds the values of both a and b: the same,
// the wider number, timestamptz for a date and a timestamp, else text.
func widerType(a, b string) string {
	if a == b {
		return a
	}
	rank := map[string]int{"bigint": 1, "double precision": 2, "numeric": 3}
	if rank[a] > 0 && rank[b] > 0 {
		if rank[a] == 3 || rank[b] == 3 {
			return "numeric"
		}
		return "double precision"
	}
	if (a == "date" || a == "timestamptz") && (b == "date" || b == "timestamptz") {
		return "timestamptz"
	}
	return "text"
}
