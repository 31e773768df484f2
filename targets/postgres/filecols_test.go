package postgres

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/ferrydata/ferry/pusher"
)

func TestPartitionType(t *testing.T) {
	for in, want := range map[string]string{
		"2024-05-01":           "date",
		"2024-05-01T10:00:00Z": "timestamptz",
		"2024-05-01 10:00":     "timestamptz",
		"2024":                 "bigint",
		"-3":                   "bigint",
		"05":                   "text", // a leading zero stays text, as in data
		"eu":                   "text",
		"2024-13-01":           "text",
		"1.5":                  "text",
		"99999999999999999999": "text",
	} {
		if got := partitionType(in); got != want {
			t.Errorf("partitionType(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestWiderType(t *testing.T) {
	for _, tt := range []struct{ a, b, want string }{
		{"bigint", "bigint", "bigint"},
		{"bigint", "double precision", "double precision"},
		{"numeric", "bigint", "numeric"},
		{"date", "timestamptz", "timestamptz"},
		{"date", "bigint", "text"},
		{"boolean", "text", "text"},
		{"jsonb", "bigint", "text"},
	} {
		if got := widerType(tt.a, tt.b); got != tt.want {
			t.Errorf("widerType(%s, %s) = %s, want %s", tt.a, tt.b, got, tt.want)
		}
		if got := widerType(tt.b, tt.a); got != tt.want {
			t.Errorf("widerType(%s, %s) = %s, want %s", tt.b, tt.a, got, tt.want)
		}
	}
}

func TestAppendFieldsRescued(t *testing.T) {
	b := &pusher.Batch{Columns: []string{"id", `we"ird`, "n", "j", "gone"}}
	b.StartRecord()
	b.AddField(pusher.String, []byte("x1"))
	b.AddField(pusher.String, []byte("a\nb"))
	b.AddField(pusher.Number, []byte("NaN"))
	b.AddField(pusher.JSON, []byte(`{"k":[1]}`))
	b.AddNull()
	got := string(appendFields(nil, b, b.Record(0), []int{1, 4}, []int{0, 2, 3}))
	want := `{"we\"ird":"a\nb","id":"x1","n":"NaN","j":{"k":[1]}}`
	if got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
}

// testTable builds a table from name/type pairs, as lookupTable would.
func testTable(t *testing.T, ferryMade bool, cols ...string) *table {
	t.Helper()
	m := pgtype.NewMap()
	oids := map[string]uint32{"bigint": pgtype.Int8OID, "text": pgtype.TextOID, "date": pgtype.DateOID,
		"timestamp with time zone": pgtype.TimestamptzOID, "jsonb": pgtype.JSONBOID}
	tbl := &table{ident: pgx.Identifier{"s", "t"}, byName: map[string]int{}, byLower: map[string]int{}, ferryMade: ferryMade}
	for i := 0; i < len(cols); i += 2 {
		enc, err := encoderFor(m, oids[cols[i+1]], "b", cols[i+1], Conversion{})
		if err != nil {
			t.Fatal(err)
		}
		c := column{name: cols[i], typeName: cols[i+1], encode: enc, hasDefault: cols[i] == "_ferry_loaded_at"}
		if ferryMade {
			c.widen = widenRule(cols[i+1])
		}
		tbl.byName[c.name] = len(tbl.columns)
		tbl.byLower[strings.ToLower(c.name)] = len(tbl.columns)
		tbl.columns = append(tbl.columns, c)
	}
	return tbl
}

func testChunk(key string, fields ...string) *pusher.Chunk {
	b := &pusher.Batch{Columns: fields}
	b.StartRecord()
	for range fields {
		b.AddField(pusher.String, []byte("1"))
	}
	return &pusher.Chunk{File: pusher.Object{Key: key, ETag: "e1", Size: 42, LastModified: time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)},
		End: pusher.Position{Records: 1}, Batch: b}
}

func TestPlanFileColumns(t *testing.T) {
	hive, _ := pusher.NewPartitions(true, "", nil)
	meta := []string{pusher.MetaFile, pusher.MetaRecord, pusher.MetaETag, pusher.MetaModified, pusher.MetaSize, pusher.MetaLoadedAt}
	full := []string{"id", "bigint", "_ferry_file", "text", "_ferry_record", "bigint", "_ferry_etag", "text",
		"_ferry_modified", "timestamp with time zone", "_ferry_size", "bigint", "_ferry_loaded_at", "timestamp with time zone", "dt", "date"}
	tg := &Target{cfg: Config{Partitions: hive, UnknownFields: UnknownError}, meta: meta}

	p, err := tg.plan(testTable(t, false, full...), testChunk("dt=2024-05-01/f.csv", "id"))
	if err != nil {
		t.Fatal(err)
	}
	// loaded_at is left to its default: not in the COPY.
	if want := `COPY "s"."t" ("id", "_ferry_file", "_ferry_record", "_ferry_etag", "_ferry_modified", "_ferry_size", "dt") FROM STDIN (FORMAT binary)`; p.sql != want {
		t.Errorf("sql %s\nwant %s", p.sql, want)
	}
	if len(p.consts) != 5 || string(p.consts[0]) != "dt=2024-05-01/f.csv" || string(p.consts[1]) != "e1" || p.consts[3][7] != 42 {
		t.Errorf("consts %q", p.consts)
	}

	// A key that gives no value: the partition column is left out (NULL).
	var logged []string
	tg.cfg.Log = func(s string) { logged = append(logged, s) }
	for range 2 {
		if p, err = tg.plan(testTable(t, false, full...), testChunk("flat/f.csv", "id")); err != nil || strings.Contains(p.sql, `"dt"`) {
			t.Errorf("no partition: %v, %s", err, p.sql)
		}
	}
	if len(logged) != 1 || !strings.Contains(logged[0], `"flat/f.csv" gives no partition values`) {
		t.Errorf("logged %q, want one warning", logged)
	}

	for _, tt := range []struct {
		name      string
		ferryMade bool
		cols      []string
		chunk     *pusher.Chunk
		err       string
	}{
		{"value does not convert", false, full, testChunk("dt=soon/f.csv", "id"), `key "dt=soon/f.csv": partition "dt": invalid date`},
		{"clash with a field", false, full, testChunk("dt=2024-05-01/f.csv", "id", "DT"), `partition "dt" has the name of field "DT"`},
		{"clash with metadata", false, full, testChunk("_ferry_file=x/f.csv", "id"), `partition "_ferry_file" has the name of a column ferry fills itself`},
		{"long name", false, full, testChunk(strings.Repeat("n", 64)+"=1/f.csv", "id"), "longer than 63 bytes"},
		{"missing partition column", false, full[:len(full)-2], testChunk("dt=2024-05-01/f.csv", "id"), `table "s"."t" has no column "dt" for the partition value of key`},
		{"missing metadata column", false, full[:4], testChunk("dt=2024-05-01/f.csv", "id"), `has no column _ferry_record`},
	} {
		_, err := tg.plan(testTable(t, tt.ferryMade, tt.cols...), tt.chunk)
		if err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.err)
		}
	}

	noDefault := testTable(t, false, full...)
	noDefault.columns[noDefault.byName["_ferry_loaded_at"]].hasDefault = false
	if _, err := tg.plan(noDefault, testChunk("f.csv", "id")); err == nil || !strings.Contains(err.Error(), "column _ferry_loaded_at of table \"s\".\"t\" has no default") {
		t.Errorf("loaded_at without a default: %v", err)
	}

	// A table ferry made: missing columns are needed, a date that does not
	// fit widens.
	p, err = tg.plan(testTable(t, true, "id", "bigint", "dt", "date"), testChunk("dt=2024-05-01/region=eu/f.csv", "id"))
	if err != nil {
		t.Fatal(err)
	}
	var needs []string
	for _, n := range p.needs {
		needs = append(needs, n.name+" "+n.typ)
	}
	if got := strings.Join(needs, ", "); got != "_ferry_file text, _ferry_record bigint, _ferry_etag text, _ferry_modified timestamptz, _ferry_size bigint, _ferry_loaded_at timestamptz DEFAULT now(), region text" {
		t.Errorf("needs %s", got)
	}
	tg.meta = nil
	_, err = tg.plan(testTable(t, true, "id", "bigint", "dt", "date"), testChunk("dt=2024-05-01T10:00:00Z/f.csv", "id"))
	if we := (*widenError)(nil); !errors.As(err, &we) || we.to != "timestamp with time zone" {
		t.Errorf("widen: %v", err)
	}
}

func TestPlanUnknownAddAndRescue(t *testing.T) {
	tg := &Target{cfg: Config{UnknownFields: UnknownAdd, RescueColumn: "_rescued", Columns: []ColumnSpec{{Name: "b", Type: "smallint"}}}}
	c := testChunk("f.csv", "id", "a", "b", "_ferry_x")
	_, err := tg.plan(testTable(t, false, "id", "bigint"), c)
	if err == nil || !strings.Contains(err.Error(), `field "_ferry_x" has the name of a column ferry fills itself`) {
		t.Errorf("field named like a metadata column: %v", err)
	}
	c.Batch.Columns = c.Batch.Columns[:3]
	p, err := tg.plan(testTable(t, false, "id", "bigint"), c)
	if err != nil {
		t.Fatal(err)
	}
	var needs []string
	for _, n := range p.needs {
		needs = append(needs, n.name+" "+n.typ)
	}
	if got := strings.Join(needs, ", "); got != "_rescued jsonb, a bigint, b smallint" {
		t.Errorf("needs %s", got)
	}
	p, err = tg.plan(testTable(t, false, "id", "bigint", "a", "bigint", "b", "text", "_rescued", "jsonb"), c)
	if err != nil || len(p.needs) != 0 || !p.rescue || p.fields[len(p.fields)-1] != sysRescue {
		t.Errorf("plan %+v, %v", p, err)
	}
	// Without add, a table ferry did not make is not changed.
	tg.cfg.UnknownFields = UnknownError
	if _, err := tg.plan(testTable(t, false, "id", "bigint"), c); err == nil || !strings.Contains(err.Error(), `no column "_rescued"`) {
		t.Errorf("rescue column missing: %v", err)
	}
}

// TestPartitionLeadingZero: a bigint partition column of a table ferry
// made widens to text for 05, whichever file came first.
func TestPartitionLeadingZero(t *testing.T) {
	p, _ := pusher.NewPartitions(false, `^(?P<month>\d{2})/`, nil)
	tg := &Target{cfg: Config{Partitions: p, UnknownFields: UnknownError}}
	_, err := tg.plan(testTable(t, true, "id", "bigint", "month", "bigint"), testChunk("05/a.csv", "id"))
	if we := (*widenError)(nil); !errors.As(err, &we) || we.to != "text" || we.column != "month" {
		t.Errorf("05 into a bigint column of ferry's: %v", err)
	}
	if _, err := tg.plan(testTable(t, true, "id", "bigint", "month", "bigint"), testChunk("11/a.csv", "id")); err != nil {
		t.Errorf("11: %v", err)
	}
	// A table of the user's: its type holds.
	if _, err := tg.plan(testTable(t, false, "id", "bigint", "month", "bigint"), testChunk("05/a.csv", "id")); err != nil {
		t.Errorf("05 into the user's bigint column: %v", err)
	}
}
