package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ferrydata/ferry/pusher"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// System columns added by --system-columns (metadata columns file and
// record).
const (
	FileColumn   = pusher.MetaPrefix + pusher.MetaFile
	RecordColumn = pusher.MetaPrefix + pusher.MetaRecord
)

// maxIdentifier is PostgreSQL's NAMEDATALEN-1.
const maxIdentifier = 63

// unquote reads the double-quoted identifier s starts with ("" stands
// for a quote in it) and returns it and what follows; ok is false when
// the closing quote is missing.
func unquote(s string) (name, rest string, ok bool) {
	var b strings.Builder
	end := 1
	for {
		i := strings.IndexByte(s[end:], '"')
		if i < 0 {
			return "", "", false
		}
		b.WriteString(s[end : end+i])
		end += i + 1
		if end < len(s) && s[end] == '"' {
			b.WriteByte('"')
			end++
			continue
		}
		return b.String(), s[end:], true
	}
}

// ParseTable splits "[schema.]name". A part may be double-quoted to hold
// dots or upper case ("My.Schema"."T"); unquoted parts are taken as written.
func ParseTable(s string) (pgx.Identifier, error) {
	var parts []string
	rest := strings.TrimSpace(s)
	for {
		var part string
		if strings.HasPrefix(rest, `"`) {
			var ok bool
			if part, rest, ok = unquote(rest); !ok {
				return nil, fmt.Errorf("table %q: unterminated quote", s)
			}
		} else {
			i := strings.IndexByte(rest, '.')
			if i < 0 {
				i = len(rest)
			}
			part, rest = rest[:i], rest[i:]
		}
		if part == "" {
			return nil, fmt.Errorf("table %q: empty name", s)
		}
		if len(part) > maxIdentifier {
			return nil, fmt.Errorf("table %q: %q is longer than %d bytes", s, part, maxIdentifier)
		}
		parts = append(parts, part)
		if rest == "" {
			break
		}
		if rest[0] != '.' {
			return nil, fmt.Errorf("table %q: expected [schema.]name", s)
		}
		rest = rest[1:]
	}
	if len(parts) > 2 {
		return nil, fmt.Errorf("table %q: expected [schema.]name", s)
	}
	return pgx.Identifier(parts), nil
}

var nonIdent = regexp.MustCompile(`[^a-z0-9_]+`)

// DefaultTable makes a valid, unquoted-style identifier from a name (the
// last path element of the source).
func DefaultTable(name string) string {
	n := strings.Trim(nonIdent.ReplaceAllString(strings.ToLower(name), "_"), "_")
	if n == "" {
		n = "ferry_data"
	}
	if n[0] >= '0' && n[0] <= '9' {
		n = "t_" + n
	}
	if len(n) > maxIdentifier {
		n = n[:maxIdentifier]
	}
	return n
}

// ColumnSpec is one "name type" item of --columns; Type may be empty.
type ColumnSpec struct {
	Name, Type string
}

// ParseColumns parses 'name type, name type(1,2), "Odd Name" text'.
// Commas inside parentheses belong to the type.
func ParseColumns(s string) ([]ColumnSpec, error) {
	var out []ColumnSpec
	depth, start := 0, 0
	quoted := false
	var items []string
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			quoted = !quoted
		}
		if quoted {
			continue
		}
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				items = append(items, s[start:i])
				start = i + 1
			}
		}
	}
	items = append(items, s[start:])
	for _, it := range items {
		it = strings.TrimSpace(it)
		if it == "" {
			return nil, fmt.Errorf("columns %q: empty item", s)
		}
		var name, typ string
		if it[0] == '"' {
			end := strings.IndexByte(it[1:], '"')
			if end < 0 {
				return nil, fmt.Errorf("columns %q: unterminated quote", s)
			}
			name, typ = it[1:end+1], strings.TrimSpace(it[end+2:])
		} else if i := strings.IndexAny(it, " \t"); i >= 0 {
			name, typ = it[:i], strings.TrimSpace(it[i+1:])
		} else {
			name = it
		}
		if len(name) > maxIdentifier {
			return nil, fmt.Errorf("column name %q is longer than %d bytes", name, maxIdentifier)
		}
		out = append(out, ColumnSpec{Name: name, Type: typ})
	}
	return out, nil
}

// column is a table column as COPY needs it.
type column struct {
	name       string
	typeName   string
	hasDefault bool
	encode     encoder
	// widen, for a column of a table ferry created, returns the type to
	// change the column to so that a value that did not convert fits ("" if
	// none).
	widen func(k pusher.Kind, v []byte) string
}

// table is the resolved target table.
type table struct {
	ident     pgx.Identifier
	columns   []column
	byName    map[string]int
	byLower   map[string]int // unique lower-case names only
	ferryMade bool           // created by ferry: columns may be widened
}

// ferryComment marks the tables ferry creates.
const ferryComment = "created by ferry; column types may be widened to fit new values"

// widenRule gives the next wider type for a value that does not fit: an
// integer column takes doubles (or numeric for huge integers), a date column
// takes timestamps, anything else becomes text.
func widenRule(typeName string) func(k pusher.Kind, v []byte) string {
	switch typeName {
	case "text":
		return nil
	case "bigint", "integer", "smallint":
		return func(k pusher.Kind, v []byte) string {
			if k == pusher.Number || k == pusher.String {
				if _, err := parseInt(v, 64); errors.Is(err, strconv.ErrRange) {
					return "numeric"
				}
				if _, err := parseFloat(pusher.String, v, 64, ""); err == nil {
					return "double precision"
				}
			}
			return "text"
		}
	case "date":
		return func(k pusher.Kind, v []byte) string {
			if k == pusher.String && isTimestamp(trimSpace(v)) {
				return "timestamp with time zone"
			}
			return "text"
		}
	}
	return func(pusher.Kind, []byte) string { return "text" }
}

func (t *table) find(name string) (int, bool) {
	if i, ok := t.byName[name]; ok {
		return i, true
	}
	i, ok := t.byLower[strings.ToLower(name)]
	return i, ok
}

// querier is what table lookups need from a pool, a connection or a
// transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// errNoTable is returned by lookupTable when the table does not exist.
var errNoTable = errors.New("table does not exist")

func lookupTable(ctx context.Context, q querier, m *pgtype.Map, ident pgx.Identifier, conv Conversion) (*table, error) {
	var comment string
	if err := q.QueryRow(ctx, `SELECT coalesce(obj_description(to_regclass($1), 'pg_class'), '')`, ident.Sanitize()).Scan(&comment); err != nil {
		return nil, fmt.Errorf("look up table %s: %w", ident.Sanitize(), err)
	}
	rows, err := q.Query(ctx, `
		SELECT a.attname, format_type(a.atttypid, a.atttypmod),
			CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE a.atttypid END,
			coalesce(bt.typtype, t.typtype)::text, a.atthasdef
		FROM pg_attribute a
		JOIN pg_type t ON t.oid = a.atttypid
		LEFT JOIN pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype
		WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
		ORDER BY a.attnum`, ident.Sanitize())
	if err != nil {
		return nil, fmt.Errorf("look up table %s: %w", ident.Sanitize(), err)
	}
	t := &table{ident: ident, byName: map[string]int{}, byLower: map[string]int{}, ferryMade: comment == ferryComment}
	lowerCount := map[string]int{}
	for rows.Next() {
		var name, typeName, typtype string
		var oid uint32
		var hasDefault bool
		if err := rows.Scan(&name, &typeName, &oid, &typtype, &hasDefault); err != nil {
			return nil, fmt.Errorf("look up table %s: %w", ident.Sanitize(), err)
		}
		enc, err := encoderFor(m, oid, typtype, typeName, conv)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("table %s column %q: %w", ident.Sanitize(), name, err)
		}
		t.byName[name] = len(t.columns)
		lowerCount[strings.ToLower(name)]++
		t.byLower[strings.ToLower(name)] = len(t.columns)
		col := column{name: name, typeName: typeName, hasDefault: hasDefault, encode: enc}
		if t.ferryMade && !strings.HasPrefix(name, pusher.MetaPrefix) {
			col.widen = widenRule(typeName)
		}
		t.columns = append(t.columns, col)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("look up table %s: %w", ident.Sanitize(), err)
	}
	if len(t.columns) == 0 {
		var exists bool
		if err := q.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, ident.Sanitize()).Scan(&exists); err != nil {
			return nil, fmt.Errorf("look up table %s: %w", ident.Sanitize(), err)
		}
		if !exists {
			return nil, errNoTable
		}
	}
	for l, n := range lowerCount {
		if n > 1 {
			delete(t.byLower, l)
		}
	}
	return t, nil
}

// columnName is the column a field name maps to: PostgreSQL identifiers
// hold neither invalid UTF-8 nor NUL bytes, so each such byte becomes
// U+FFFD, as in text values. bad reports that the name was changed: under
// Conversion.RejectInvalidUTF8 a value under such a name is a bad value
// (see rejectName), as a value with such bytes is.
func columnName(name string) (col string, bad bool) {
	if utf8.ValidString(name) && strings.IndexByte(name, 0) < 0 {
		return name, false
	}
	col = strings.ToValidUTF8(name, "\uFFFD")
	return strings.ReplaceAll(col, "\x00", "\uFFFD"), true
}

// errInvalidName: a value under a field name that is not valid UTF-8 (or
// holds NUL), under --invalid-utf8 reject.
var errInvalidName = errors.New("field name is not valid UTF-8 (--invalid-utf8 reject)")

// rejectName is the encoder for the column of a field whose name is not
// valid UTF-8, under Conversion.RejectInvalidUTF8: any value is bad.
func rejectName(dst []byte, _ pusher.Kind, _ []byte) ([]byte, error) { return dst, errInvalidName }

// inferSample bounds how many records inference looks at.
const inferSample = 10_000

// inferTypes picks a column type for each batch column from a sample of its
// records: bigint, double precision, boolean, timestamptz, date, jsonb or
// text (the fallback, also for columns that are always NULL).
func inferTypes(b *pusher.Batch) []string {
	n := b.Len()
	if n > inferSample {
		n = inferSample
	}
	types := make([]string, len(b.Columns))
	for c := range b.Columns {
		var seen, ints, floats, specials, bools, stamps, dates, jsons int
		exact := 0 // numbers a double would round: integers past 64 bits, decimals of more than 15 digits
		for r := 0; r < n; r++ {
			fields := b.Record(r)
			if c >= len(fields) || fields[c].Kind == pusher.Null {
				continue
			}
			f := fields[c]
			v := b.Value(f)
			seen++
			switch f.Kind {
			case pusher.JSON:
				jsons++
			case pusher.Bool:
				bools++
			case pusher.Number:
				if _, err := parseInt(v, 64); err == nil {
					ints++
				} else {
					floats++
					if roundsInDouble(v) {
						exact++
					}
				}
			case pusher.String:
				switch {
				case len(v) > 1 && (v[0] == '{' || v[0] == '[') && json.Valid(v):
					jsons++
				case isPlainInt(v):
					ints++
				case isPlainFloat(v):
					floats++
					if roundsInDouble(v) {
						exact++
					}
				case isSpecialFloat(v):
					specials++
				case string(v) == "true" || string(v) == "false":
					bools++
				case len(v) == 10 && isDate(v):
					dates++
				case len(v) > 10 && isTimestamp(v):
					stamps++
				}
			}
		}
		switch {
		case seen == 0:
			types[c] = "text"
		case jsons > 0:
			types[c] = "jsonb"
		case ints == seen:
			types[c] = "bigint"
		case ints+floats == seen && exact > 0:
			types[c] = "numeric" // exact: a double would round some values
		case ints+floats+specials == seen && ints+floats > 0:
			types[c] = "double precision"
		case bools == seen:
			types[c] = "boolean"
		case dates == seen:
			types[c] = "date"
		case stamps+dates == seen && stamps > 0:
			types[c] = "timestamptz"
		default:
			types[c] = "text"
		}
	}
	return types
}

// isPlainInt: an int64 without a leading zero (so codes like 007 stay text).
func isPlainInt(v []byte) bool {
	d := v
	if len(d) > 0 && d[0] == '-' {
		d = d[1:]
	}
	if len(d) > 1 && d[0] == '0' {
		return false
	}
	_, err := parseInt(v, 64)
	return err == nil && len(trimSpace(v)) == len(v)
}

// isPlainFloat: a decimal or exponent number (-0.0, 1e3, 0E-5), without a
// leading zero before other digits (so codes like 0012.5 stay text).
func isPlainFloat(v []byte) bool {
	d := v
	if len(d) > 0 && d[0] == '-' {
		d = d[1:]
	}
	if len(d) == 0 || d[0] < '0' || d[0] > '9' {
		return false // not NaN, Inf, .5 or +1
	}
	if len(d) > 1 && d[0] == '0' && d[1] != '.' && d[1] != 'e' && d[1] != 'E' {
		return false
	}
	_, err := parseFloat(pusher.String, v, 64, "")
	return err == nil && len(trimSpace(v)) == len(v)
}

// roundsInDouble reports whether a decimal number (not an int64) has
// more significant digits than a double keeps exactly (15), or is an
// integer beyond 64 bits: such a column is numeric, not double precision.
func roundsInDouble(v []byte) bool {
	digits, exp := 0, false
	leading := true
	for _, c := range trimSpace(v) {
		switch {
		case c == 'e' || c == 'E':
			exp = true
		case exp:
		case c >= '1' && c <= '9':
			leading = false
			digits++
		case c == '0' && !leading:
			digits++
		}
	}
	return digits > 15
}

// isSpecialFloat: NaN or an infinity as PostgreSQL writes them (and the
// Parquet reader gives them). Such values alone do not make a column
// double precision; beside numbers, they do not keep it from being one.
func isSpecialFloat(v []byte) bool {
	switch string(v) {
	case "NaN", "Infinity", "-Infinity":
		return true
	}
	return false
}

func isDate(v []byte) bool { _, err := parseDate(v); return err == nil }

func isTimestamp(v []byte) bool { _, err := parseTimestamp(v, true); return err == nil }
