package postgres

import (
	"encoding/binary"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/ferrydata/ferry/pusher"
	"github.com/jackc/pgx/v5/pgtype"
)

func TestParseInt(t *testing.T) {
	tests := []struct {
		in   string
		bits int
		want int64
		ok   bool
	}{
		{"0", 64, 0, true},
		{"-9223372036854775808", 64, math.MinInt64, true},
		{"9223372036854775807", 64, math.MaxInt64, true},
		{"9223372036854775808", 64, 0, false},
		{"+42", 32, 42, true},
		{" 7 ", 16, 7, true},
		{"32767", 16, 32767, true},
		{"32768", 16, 0, false},
		{"-32768", 16, -32768, true},
		{"2147483648", 32, 0, false},
		{"1.0", 64, 0, false},
		{"", 64, 0, false},
		{"-", 64, 0, false},
		{"12a", 64, 0, false},
		{"99999999999999999999", 64, 0, false},
	}
	for _, tt := range tests {
		got, err := parseInt([]byte(tt.in), tt.bits)
		if (err == nil) != tt.ok || (tt.ok && got != tt.want) {
			t.Errorf("parseInt(%q, %d) = %d, %v; want %d ok=%v", tt.in, tt.bits, got, err, tt.want, tt.ok)
		}
	}
}

func TestParseTimestamp(t *testing.T) {
	epoch := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	us := func(tm time.Time) int64 { return tm.Sub(epoch).Microseconds() }
	tests := []struct {
		in       string
		withZone bool
		want     time.Time
		ok       bool
	}{
		{"2024-03-01T12:34:56.789Z", true, time.Date(2024, 3, 1, 12, 34, 56, 789e6, time.UTC), true},
		{"2024-03-01 12:34:56", true, time.Date(2024, 3, 1, 12, 34, 56, 0, time.UTC), true},
		{"2024-03-01T12:34", true, time.Date(2024, 3, 1, 12, 34, 0, 0, time.UTC), true},
		{"2024-03-01", true, time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC), true},
		{"2024-03-01T12:00:00+02:00", true, time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC), true},
		{"2024-03-01T12:00:00-0530", true, time.Date(2024, 3, 1, 17, 30, 0, 0, time.UTC), true},
		{"2024-03-01 12:00:00+02", true, time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC), true},
		{"2024-03-01 12:00:00 +02:00", true, time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC), true},
		{"2024-03-01T12:00:00+02:00", false, time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC), true},
		{"2024-03-01T12:00:00.1234567Z", true, time.Date(2024, 3, 1, 12, 0, 0, 123457e3, time.UTC), true},
		{"1969-12-31T23:59:59Z", true, time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC), true},
		{"2024-02-29T00:00:00Z", true, time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), true},
		{"2023-02-29T00:00:00Z", true, time.Time{}, false},
		{"2024-13-01", true, time.Time{}, false},
		{"2024-03-01T25:00", true, time.Time{}, false},
		{"2024-03-01X12:00", true, time.Time{}, false},
		{"2024-03-01T12:00:00Q", true, time.Time{}, false},
		{"2024-03-01T12:00:00.", true, time.Time{}, false},
		{"yesterday", true, time.Time{}, false},
		{"", true, time.Time{}, false},
	}
	for _, tt := range tests {
		got, err := parseTimestamp([]byte(tt.in), tt.withZone)
		if (err == nil) != tt.ok {
			t.Errorf("parseTimestamp(%q) error = %v, want ok=%v", tt.in, err, tt.ok)
			continue
		}
		if tt.ok && got != us(tt.want) {
			t.Errorf("parseTimestamp(%q) = %d, want %d (%s)", tt.in, got, us(tt.want), tt.want)
		}
	}
	// Years past 9999, to PostgreSQL's last (a Parquet INT96 timestamp
	// of year 290000 made a text column).
	for _, tt := range []struct {
		in   string
		want int64 // days since 2000-01-01
		ok   bool
	}{
		{"10000-01-01", daysFromCivil(10000, 1, 1) - pgEpochDays, true},
		{"290000-12-30T23:00:00.000000000", daysFromCivil(290000, 12, 30) - pgEpochDays, true},
		{"294276-12-31", daysFromCivil(294276, 12, 31) - pgEpochDays, true},
		{"294277-01-01", 0, false},
		{"1234567-01-01", 0, false},
	} {
		got, err := parseTimestamp([]byte(tt.in), true)
		if (err == nil) != tt.ok {
			t.Errorf("parseTimestamp(%q) error = %v, want ok=%v", tt.in, err, tt.ok)
			continue
		}
		if tt.ok && got/usPerDay != tt.want {
			t.Errorf("parseTimestamp(%q) = day %d, want %d", tt.in, got/usPerDay, tt.want)
		}
	}
	if !isTimestamp([]byte("290000-12-30T23:00:00.000000000")) {
		t.Error("a timestamp of year 290000 is not a timestamp to type inference")
	}
}

func TestParseDate(t *testing.T) {
	d, err := parseDate([]byte("2000-01-02"))
	if err != nil || d != 1 {
		t.Fatalf("parseDate = %d, %v; want 1", d, err)
	}
	d, err = parseDate([]byte("1999-12-31"))
	if err != nil || d != -1 {
		t.Fatalf("parseDate = %d, %v; want -1", d, err)
	}
	for _, bad := range []string{"2000-1-2", "2000-01-02T00:00", "2000-02-30", "abcd-ef-gh"} {
		if _, err := parseDate([]byte(bad)); err == nil {
			t.Errorf("parseDate(%q) succeeded", bad)
		}
	}
}

func TestEncoders(t *testing.T) {
	m := pgtype.NewMap()
	enc := func(oid uint32, name string) encoder {
		e, err := encoderFor(m, oid, "b", name, Conversion{})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	tests := []struct {
		name    string
		e       encoder
		kind    pusher.Kind
		in      string
		want    []byte
		wantErr string
	}{
		{"int8", enc(pgtype.Int8OID, "bigint"), pusher.String, "258", binary.BigEndian.AppendUint64(nil, 258), ""},
		{"int4 number", enc(pgtype.Int4OID, "integer"), pusher.Number, "-1", []byte{0xff, 0xff, 0xff, 0xff}, ""},
		{"int2 overflow", enc(pgtype.Int2OID, "smallint"), pusher.String, "40000", nil, "out of range for smallint"},
		{"int from bool", enc(pgtype.Int8OID, "bigint"), pusher.Bool, "true", nil, "cannot convert bool"},
		{"int garbage", enc(pgtype.Int8OID, "bigint"), pusher.String, "abc", nil, `invalid bigint "abc"`},
		{"float8", enc(pgtype.Float8OID, "double precision"), pusher.String, "1.5", binary.BigEndian.AppendUint64(nil, math.Float64bits(1.5)), ""},
		{"float8 nan", enc(pgtype.Float8OID, "double precision"), pusher.String, "NaN", binary.BigEndian.AppendUint64(nil, math.Float64bits(math.NaN())), ""},
		{"float8 hex", enc(pgtype.Float8OID, "double precision"), pusher.String, "0x10", nil, "invalid double precision"},
		{"float4", enc(pgtype.Float4OID, "real"), pusher.Number, "2", binary.BigEndian.AppendUint32(nil, math.Float32bits(2)), ""},
		{"bool yes", enc(pgtype.BoolOID, "boolean"), pusher.String, "YES", []byte{1}, ""},
		{"bool f", enc(pgtype.BoolOID, "boolean"), pusher.String, "f", []byte{0}, ""},
		{"bool json", enc(pgtype.BoolOID, "boolean"), pusher.Bool, "false", []byte{0}, ""},
		{"bool bad", enc(pgtype.BoolOID, "boolean"), pusher.String, "maybe", nil, "invalid boolean"},
		{"text", enc(pgtype.TextOID, "text"), pusher.String, "héllo", []byte("héllo"), ""},
		{"jsonb object", enc(pgtype.JSONBOID, "jsonb"), pusher.JSON, `{"a":1}`, []byte("\x01{\"a\":1}"), ""},
		{"jsonb string", enc(pgtype.JSONBOID, "jsonb"), pusher.String, `a"b`, []byte("\x01\"a\\\"b\""), ""},
		{"jsonb csv doc", enc(pgtype.JSONBOID, "jsonb"), pusher.String, `[1,2]`, []byte("\x01[1,2]"), ""},
		{"jsonb bad doc", enc(pgtype.JSONBOID, "jsonb"), pusher.String, `{"a":`, nil, "invalid JSON"},
		{"json number", enc(pgtype.JSONOID, "json"), pusher.Number, `12`, []byte("12"), ""},
		{"uuid", enc(pgtype.UUIDOID, "uuid"), pusher.String, "00112233-4455-6677-8899-aabbccddeeff",
			[]byte{0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}, ""},
		{"uuid bad", enc(pgtype.UUIDOID, "uuid"), pusher.String, "0011", nil, "invalid uuid"},
		{"date", enc(pgtype.DateOID, "date"), pusher.String, "2000-01-03", []byte{0, 0, 0, 2}, ""},
		{"timestamptz", enc(pgtype.TimestamptzOID, "timestamptz"), pusher.String, "2000-01-01T00:00:01Z", binary.BigEndian.AppendUint64(nil, 1e6), ""},
		{"timestamptz number", enc(pgtype.TimestamptzOID, "timestamptz"), pusher.Number, "12", nil, "cannot convert number"},
		{"numeric", enc(pgtype.NumericOID, "numeric"), pusher.String, "12.50", nil, ""},
		{"numeric bad", enc(pgtype.NumericOID, "numeric"), pusher.String, "12,5", nil, "invalid numeric"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.e(nil, tt.kind, []byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.want != nil && string(got) != string(tt.want) {
				t.Fatalf("got %x, want %x", got, tt.want)
			}
		})
	}
}

func TestParseTable(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		ok   bool
	}{
		{"events", []string{"events"}, true},
		{"raw.events", []string{"raw", "events"}, true},
		{`"My.Schema"."Ev""x"`, []string{"My.Schema", `Ev"x`}, true},
		{"a.b.c", nil, false},
		{"", nil, false},
		{"a.", nil, false},
		{`"open`, nil, false},
		{strings.Repeat("x", 64), nil, false},
	}
	for _, tt := range tests {
		got, err := ParseTable(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("ParseTable(%q) error %v, want ok=%v", tt.in, err, tt.ok)
			continue
		}
		if tt.ok && strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("ParseTable(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseColumns(t *testing.T) {
	got, err := ParseColumns(`id bigint, price numeric(10, 2), "Odd, Name" text, note`)
	if err != nil {
		t.Fatal(err)
	}
	want := []ColumnSpec{{"id", "bigint"}, {"price", "numeric(10, 2)"}, {"Odd, Name", "text"}, {"note", ""}}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("item %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if _, err := ParseColumns("a,,b"); err == nil {
		t.Error("empty item accepted")
	}
}

func TestDefaultTable(t *testing.T) {
	for in, want := range map[string]string{"events": "events", "My Events-2024": "my_events_2024", "2024": "t_2024", "...": "ferry_data"} {
		if got := DefaultTable(in); got != want {
			t.Errorf("DefaultTable(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestInferTypes(t *testing.T) {
	b := &pusher.Batch{Columns: []string{"i", "f", "b", "ts", "d", "s", "zip", "j", "n", "mixed"}}
	rows := [][]struct {
		k pusher.Kind
		v string
	}{
		{{pusher.String, "1"}, {pusher.String, "1.5"}, {pusher.String, "true"}, {pusher.String, "2024-01-01T00:00:00Z"}, {pusher.String, "2024-01-01"}, {pusher.String, "x"}, {pusher.String, "007"}, {pusher.JSON, `{"a":1}`}, {pusher.Null, ""}, {pusher.String, "2024-01-01"}},
		{{pusher.Number, "2"}, {pusher.String, "2"}, {pusher.Bool, "false"}, {pusher.String, "2024-01-01 10:00:00"}, {pusher.String, "2024-01-02"}, {pusher.String, "1"}, {pusher.String, "010"}, {pusher.String, "x"}, {pusher.Null, ""}, {pusher.String, "2024-01-01 10:00:00"}},
	}
	for _, r := range rows {
		b.StartRecord()
		for _, f := range r {
			if f.k == pusher.Null {
				b.AddNull()
			} else {
				b.AddField(f.k, []byte(f.v))
			}
		}
	}
	got := inferTypes(b)
	want := []string{"bigint", "double precision", "boolean", "timestamptz", "date", "text", "text", "jsonb", "text", "timestamptz"}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("column %s: %s, want %s", b.Columns[i], got[i], want[i])
		}
	}
}

// TestInferFloatSpecials: NaN, the infinities and negative zero beside
// numbers keep a column double precision (they were text).
func TestInferFloatSpecials(t *testing.T) {
	for _, tc := range []struct {
		values []string
		kind   pusher.Kind
		want   string
	}{
		{[]string{"1.5", "NaN", "2"}, pusher.String, "double precision"},
		{[]string{"Infinity", "-Infinity", "0.25"}, pusher.String, "double precision"},
		{[]string{"-0.0", "3"}, pusher.String, "double precision"},
		{[]string{"-0", "1.5"}, pusher.Number, "double precision"},
		{[]string{"0e0", "-0E-3", "1e300"}, pusher.String, "double precision"},
		{[]string{"NaN", "NaN"}, pusher.String, "text"}, // no number at all
		{[]string{"NaN", "x"}, pusher.String, "text"},
		{[]string{"-0", "7"}, pusher.String, "bigint"},
		{[]string{"00e1"}, pusher.String, "text"},
		// What a double would round is numeric: integers past 64 bits,
		// decimals of more than 15 significant digits.
		{[]string{"18446744073709551615", "1"}, pusher.Number, "numeric"},
		{[]string{"123456789012345.678", "0.5"}, pusher.Number, "numeric"},
		{[]string{"123456789012345.678"}, pusher.String, "numeric"},
		{[]string{"0.000000000000000001", "1e300"}, pusher.Number, "double precision"},
		{[]string{"123456789012345.6", "NaN"}, pusher.String, "double precision"},
	} {
		b := &pusher.Batch{Columns: []string{"f"}}
		for _, v := range tc.values {
			b.StartRecord()
			b.AddField(tc.kind, []byte(v))
		}
		if got := inferTypes(b)[0]; got != tc.want {
			t.Errorf("%v: %s, want %s", tc.values, got, tc.want)
		}
		if tc.want == "double precision" {
			for _, v := range tc.values {
				if _, err := encodeFloat8(nil, tc.kind, []byte(v)); err != nil {
					t.Errorf("%q does not encode as double precision: %v", v, err)
				}
			}
		}
	}
}

func BenchmarkEncodeRow(b *testing.B) {
	m := pgtype.NewMap()
	var encs []encoder
	for _, oid := range []uint32{pgtype.Int8OID, pgtype.TimestamptzOID, pgtype.Int4OID, pgtype.TextOID, pgtype.Float8OID, pgtype.BoolOID, pgtype.TextOID} {
		e, _ := encoderFor(m, oid, "b", "", Conversion{})
		encs = append(encs, e)
	}
	vals := [][]byte{[]byte("1234567"), []byte("2024-03-01T12:34:56.789Z"), []byte("4711"), []byte("click"), []byte("12.50"), []byte("true"), []byte(`said "hi", café`)}
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = buf[:0]
		for i, e := range encs {
			buf, _ = e(buf, pusher.String, vals[i])
		}
	}
}

func TestColumnName(t *testing.T) {
	for in, want := range map[string]string{
		"plain":     "plain",
		"café":      "café",
		"a\x00b":    "a\uFFFDb",
		"k\xfe":     "k\uFFFD",
		"\xff\xfe!": "\uFFFD!", // a run of bad bytes is one U+FFFD, as in text values
	} {
		got, bad := columnName(in)
		if got != want || bad != (in != want) {
			t.Errorf("columnName(%q) = %q, %v; want %q", in, got, bad, want)
		}
	}
}
