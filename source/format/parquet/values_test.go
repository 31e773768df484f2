package parquet

import (
	"math"
	"math/big"
	"testing"
	"time"

	"github.com/ferrydata/ferry/pusher"
	parquetgo "github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
)

func ptr[T any](v T) *T { return &v }

type flatRow struct {
	Bool  *bool    `parquet:"bool,optional"`
	I8    *int8    `parquet:"i8,optional"`
	I16   int16    `parquet:"i16"`
	I32   int32    `parquet:"i32"`
	I64   *int64   `parquet:"i64,optional"`
	U8    uint8    `parquet:"u8"`
	U16   uint16   `parquet:"u16"`
	U32   uint32   `parquet:"u32"`
	U64   uint64   `parquet:"u64"`
	F32   float32  `parquet:"f32"`
	F64   *float64 `parquet:"f64,optional"`
	Str   *string  `parquet:"str,optional"`
	Bytes []byte   `parquet:"bytes"`
	Enum  string   `parquet:"enum,enum"`
	JSON  string   `parquet:"json,json"`
	UUID  [16]byte `parquet:"uuid,uuid"`
}

func TestFlatTypes(t *testing.T) {
	rows := []flatRow{{
		Bool: ptr(true), I8: ptr(int8(-128)), I16: -32768, I32: math.MinInt32, I64: ptr(int64(math.MinInt64)),
		U8: 255, U16: 65535, U32: math.MaxUint32, U64: math.MaxUint64,
		F32: 1.5, F64: ptr(0.1), Str: ptr("héllo \"q\"\n"), Bytes: []byte{0xff, 'a', 0}, Enum: "RED",
		JSON: `{"a":[1,2]}`,
		UUID: [16]byte{0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff},
	}, {
		F32: float32(math.NaN()), Bytes: []byte{}, JSON: `"s"`,
	}, {
		Bool: ptr(false), I8: ptr(int8(127)), I16: 32767, I32: math.MaxInt32, I64: ptr(int64(math.MaxInt64)),
		F32: float32(math.Inf(1)), F64: ptr(math.Inf(-1)), Str: ptr(""), Bytes: []byte("plain"), Enum: "GREEN", JSON: "[]",
	}, {
		F32: math.MaxFloat32, F64: ptr(5e-324), Bytes: []byte("x"), JSON: "1",
	}, {
		F32: float32(math.Copysign(0, -1)), F64: ptr(123456789.125), Bytes: []byte("y"), JSON: "not json",
	}}
	want := [][]string{
		{"b:true", "n:-128", "n:-32768", "n:-2147483648", "n:-9223372036854775808", "n:255", "n:65535", "n:4294967295", "n:18446744073709551615",
			"n:1.5", "n:0.1", "s:héllo \"q\"\n", "s:\xffa\x00", "s:RED", `j:{"a":[1,2]}`, "s:00112233-4455-6677-8899-aabbccddeeff"},
		{"null", "null", "n:0", "n:0", "null", "n:0", "n:0", "n:0", "n:0",
			"s:NaN", "null", "null", "s:", "s:", `j:"s"`, "s:00000000-0000-0000-0000-000000000000"},
		{"b:false", "n:127", "n:32767", "n:2147483647", "n:9223372036854775807", "n:0", "n:0", "n:0", "n:0",
			"s:Infinity", "s:-Infinity", "s:", "s:plain", "s:GREEN", "j:[]", "s:00000000-0000-0000-0000-000000000000"},
		{"null", "null", "n:0", "n:0", "null", "n:0", "n:0", "n:0", "n:0",
			"n:3.4028235e+38", "n:5e-324", "null", "s:x", "s:", "j:1", "s:00000000-0000-0000-0000-000000000000"},
		{"null", "null", "n:0", "n:0", "null", "n:0", "n:0", "n:0", "n:0",
			"n:-0", "n:1.23456789125e+08", "null", "s:y", "s:", "s:not json", "s:00000000-0000-0000-0000-000000000000"},
	}
	r := open(t, writeRows(t, rows), opts(), pusher.Position{})
	wantCols := "[bool i8 i16 i32 i64 u8 u16 u32 u64 f32 f64 str bytes enum json uuid]"
	if got := fmtCols(r.cols); got != wantCols {
		t.Errorf("columns %s, want %s", got, wantCols)
	}
	diff(t, dump(t, r), want)
}

// TestOptionalLogicalTypes covers nulls in columns that struct tags
// cannot make optional (the library's writer drops *string JSON values).
func TestOptionalLogicalTypes(t *testing.T) {
	schema := parquetgo.NewSchema("opt", parquetgo.Group{
		"a_json": parquetgo.Optional(parquetgo.JSON()),
		"b_uuid": parquetgo.Optional(parquetgo.UUID()),
		"c_enum": parquetgo.Optional(parquetgo.Enum()),
		"d_str":  parquetgo.Optional(parquetgo.String()),
		"e_i96":  parquetgo.Optional(parquetgo.Leaf(parquetgo.Int96Type)),
		"f_u32":  parquetgo.Optional(parquetgo.Uint(32)),
		"g_i16":  parquetgo.Optional(parquetgo.Int(16)),
	})
	u := [16]byte{15: 1}
	i96 := int96Of(time.Date(2001, 2, 3, 4, 5, 6, 7, time.UTC))
	rows := []parquetgo.Row{{
		parquetgo.ByteArrayValue([]byte(`{"k":[true,null]}`)).Level(0, 1, 0),
		parquetgo.FixedLenByteArrayValue(u[:]).Level(0, 1, 1),
		parquetgo.ByteArrayValue([]byte("BLUE")).Level(0, 1, 2),
		parquetgo.ByteArrayValue([]byte("ü")).Level(0, 1, 3),
		parquetgo.Int96Value(i96).Level(0, 1, 4),
		parquetgo.Int32Value(-1).Level(0, 1, 5),
		parquetgo.Int32Value(-300).Level(0, 1, 6),
	}, {
		parquetgo.NullValue().Level(0, 0, 0),
		parquetgo.NullValue().Level(0, 0, 1),
		parquetgo.NullValue().Level(0, 0, 2),
		parquetgo.NullValue().Level(0, 0, 3),
		parquetgo.NullValue().Level(0, 0, 4),
		parquetgo.NullValue().Level(0, 0, 5),
		parquetgo.NullValue().Level(0, 0, 6),
	}}
	want := [][]string{
		{`j:{"k":[true,null]}`, "s:00000000-0000-0000-0000-000000000001", "s:BLUE", "s:ü", "s:2001-02-03T04:05:06.000000007", "n:4294967295", "n:-300"},
		{"null", "null", "null", "null", "null", "null", "null"},
	}
	diff(t, readAll(t, writeSchemaRows(t, schema, rows)), want)
}

func fmtCols(c []string) string {
	s := "["
	for i, x := range c {
		if i > 0 {
			s += " "
		}
		s += x
	}
	return s + "]"
}

type timeRow struct {
	Date   int32            `parquet:"date,date"`
	TimeMs int32            `parquet:"time_ms,time(millisecond)"`
	TimeUs int64            `parquet:"time_us,time(microsecond)"`
	TimeNs int64            `parquet:"time_ns,time(nanosecond)"`
	TsMs   int64            `parquet:"ts_ms,timestamp(millisecond)"`
	TsUs   int64            `parquet:"ts_us,timestamp(microsecond)"`
	TsNs   int64            `parquet:"ts_ns,timestamp(nanosecond)"`
	TsMsL  int64            `parquet:"ts_ms_local,timestamp(millisecond:local)"`
	TsUsL  int64            `parquet:"ts_us_local,timestamp(microsecond:local)"`
	TsNsL  int64            `parquet:"ts_ns_local,timestamp(nanosecond:local)"`
	Int96  deprecated.Int96 `parquet:"int96"`
	TsOpt  *time.Time       `parquet:"ts_opt,optional,timestamp(microsecond)"`
	DateOp *int32           `parquet:"date_opt,optional,date"`
}

// int96Of encodes t as a legacy INT96 timestamp.
func int96Of(t time.Time) deprecated.Int96 {
	days := t.Unix() / 86400
	if t.Unix() < 0 && t.Unix()%86400 != 0 {
		days--
	}
	ns := uint64(t.UnixNano() - days*86400e9)
	if t.Year() < 1678 || t.Year() > 2261 { // outside UnixNano's range
		ns = uint64(t.Sub(time.Unix(days*86400, 0)))
	}
	return deprecated.Int96{uint32(ns), uint32(ns >> 32), uint32(days + 2440588)}
}

func timeRowOf(ts time.Time, opt bool) timeRow {
	days := int32(ts.Unix() / 86400)
	if ts.Unix() < 0 && ts.Unix()%86400 != 0 {
		days--
	}
	midnight := time.Date(ts.Year(), ts.Month(), ts.Day(), 0, 0, 0, 0, time.UTC)
	tod := ts.Sub(midnight)
	r := timeRow{
		Date: days, TimeMs: int32(tod.Milliseconds()), TimeUs: tod.Microseconds(), TimeNs: tod.Nanoseconds(),
		TsMs: ts.UnixMilli(), TsUs: ts.UnixMicro(), TsNs: ts.UnixNano(),
		TsMsL: ts.UnixMilli(), TsUsL: ts.UnixMicro(), TsNsL: ts.UnixNano(),
		Int96: int96Of(ts),
	}
	if opt {
		r.TsOpt = &ts
		r.DateOp = &days
	}
	return r
}

func TestTimes(t *testing.T) {
	rows := []timeRow{
		timeRowOf(time.Date(2024, 2, 29, 13, 14, 15, 123456789, time.UTC), true),
		timeRowOf(time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC), false),
		timeRowOf(time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), true),
		timeRowOf(time.Date(2000, 1, 1, 0, 0, 0, 1000000, time.UTC), false),
	}
	// Units beyond UnixNano's range (1678-2262): nanosecond columns zero.
	far := timeRowOf(time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), true)
	far.TsNs, far.TsNsL = 0, 0
	end := timeRowOf(time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC), false)
	end.TsNs, end.TsNsL = 0, 0
	rows = append(rows, far, end)
	want := [][]string{
		{"s:2024-02-29", "s:13:14:15.123", "s:13:14:15.123456", "s:13:14:15.123456789",
			"s:2024-02-29T13:14:15.123Z", "s:2024-02-29T13:14:15.123456Z", "s:2024-02-29T13:14:15.123456789Z",
			"s:2024-02-29T13:14:15.123", "s:2024-02-29T13:14:15.123456", "s:2024-02-29T13:14:15.123456789",
			"s:2024-02-29T13:14:15.123456789", "s:2024-02-29T13:14:15.123456Z", "s:2024-02-29"},
		{"s:1969-12-31", "s:23:59:59.999", "s:23:59:59.999999", "s:23:59:59.999999999",
			"s:1969-12-31T23:59:59.999Z", "s:1969-12-31T23:59:59.999999Z", "s:1969-12-31T23:59:59.999999999Z",
			"s:1969-12-31T23:59:59.999", "s:1969-12-31T23:59:59.999999", "s:1969-12-31T23:59:59.999999999",
			"s:1969-12-31T23:59:59.999999999", "null", "null"},
		{"s:1970-01-01", "s:00:00:00.000", "s:00:00:00.000000", "s:00:00:00.000000000",
			"s:1970-01-01T00:00:00.000Z", "s:1970-01-01T00:00:00.000000Z", "s:1970-01-01T00:00:00.000000000Z",
			"s:1970-01-01T00:00:00.000", "s:1970-01-01T00:00:00.000000", "s:1970-01-01T00:00:00.000000000",
			"s:1970-01-01T00:00:00.000000000", "s:1970-01-01T00:00:00.000000Z", "s:1970-01-01"},
		{"s:2000-01-01", "s:00:00:00.001", "s:00:00:00.001000", "s:00:00:00.001000000",
			"s:2000-01-01T00:00:00.001Z", "s:2000-01-01T00:00:00.001000Z", "s:2000-01-01T00:00:00.001000000Z",
			"s:2000-01-01T00:00:00.001", "s:2000-01-01T00:00:00.001000", "s:2000-01-01T00:00:00.001000000",
			"s:2000-01-01T00:00:00.001000000", "null", "null"},
		{"s:0001-01-01", "s:00:00:00.000", "s:00:00:00.000000", "s:00:00:00.000000000",
			"s:0001-01-01T00:00:00.000Z", "s:0001-01-01T00:00:00.000000Z", "s:1970-01-01T00:00:00.000000000Z",
			"s:0001-01-01T00:00:00.000", "s:0001-01-01T00:00:00.000000", "s:1970-01-01T00:00:00.000000000",
			"s:0001-01-01T00:00:00.000000000", "s:0001-01-01T00:00:00.000000Z", "s:0001-01-01"},
		{"s:9999-12-31", "s:23:59:59.999", "s:23:59:59.999999", "s:23:59:59.999999000",
			"s:9999-12-31T23:59:59.999Z", "s:9999-12-31T23:59:59.999999Z", "s:1970-01-01T00:00:00.000000000Z",
			"s:9999-12-31T23:59:59.999", "s:9999-12-31T23:59:59.999999", "s:1970-01-01T00:00:00.000000000",
			"s:9999-12-31T23:59:59.999999000", "null", "null"},
	}
	diff(t, readAll(t, writeRows(t, rows)), want)
}

type decRow struct {
	D32  int32    `parquet:"d32,decimal(2:9)"`
	D64  int64    `parquet:"d64,decimal(4:18)"`
	DF   [16]byte `parquet:"dflba,decimal(3:38)"`
	D0   int64    `parquet:"d0,decimal(0:18)"`
	D32O *int32   `parquet:"d32_opt,optional,decimal(9:9)"`
}

// twos encodes n as size big-endian two's complement bytes (size 0: as
// few as hold it).
func twos(n *big.Int, size int) []byte {
	if size == 0 {
		size = (n.BitLen()+8)/8 + 0
	}
	m := new(big.Int).Set(n)
	if n.Sign() < 0 {
		m.Add(m, new(big.Int).Lsh(big.NewInt(1), uint(8*size)))
	}
	b := m.FillBytes(make([]byte, size))
	return b
}

func bigInt(s string) *big.Int {
	n, ok := new(big.Int).SetString(s, 10)
	if !ok {
		panic(s)
	}
	return n
}

func flba16(s string) [16]byte { return [16]byte(twos(bigInt(s), 16)) }

func TestDecimals(t *testing.T) {
	rows := []decRow{
		{D32: -12345, D64: -1234500, DF: flba16("12345678901234567890123"), D0: 42, D32O: ptr(int32(-1))},
		{D32: 5, D64: 10000, DF: flba16("-1"), D0: -7},
		{D32: -5, D64: math.MinInt64, DF: flba16("99999999999999999999999999999999999999"), D0: 0, D32O: ptr(int32(999999999))},
		{D32: math.MaxInt32, D64: math.MaxInt64, DF: flba16("-99999999999999999999999999999999999999"), D32O: ptr(int32(0))},
		{D32: math.MinInt32, D64: 1, DF: flba16("0")},
	}
	want := [][]string{
		{"n:-123.45", "n:-123.4500", "n:12345678901234567890.123", "n:42", "n:-0.000000001"},
		{"n:0.05", "n:1.0000", "n:-0.001", "n:-7", "null"},
		{"n:-0.05", "n:-922337203685477.5808", "n:99999999999999999999999999999999999.999", "n:0", "n:0.999999999"},
		{"n:21474836.47", "n:922337203685477.5807", "n:-99999999999999999999999999999999999.999", "n:0", "n:0.000000000"},
		{"n:-21474836.48", "n:0.0001", "n:0.000", "n:0", "null"},
	}
	diff(t, readAll(t, writeRows(t, rows)), want)
}

// TestByteArrayDecimal covers DECIMAL over a variable-length BYTE_ARRAY,
// which struct tags do not produce.
func TestByteArrayDecimal(t *testing.T) {
	schema := parquetgo.NewSchema("dec", parquetgo.Group{
		"ba": parquetgo.Optional(parquetgo.Decimal(3, 40, parquetgo.ByteArrayType)),
	})
	vals := [][]byte{
		{0x80},
		{},
		{0x00, 0xff},
		twos(bigInt("-18446744073709551616"), 9),
		twos(bigInt("10000000000000000000000000"), 0),
		twos(bigInt("-1"), 12),
		nil,
	}
	var rows []parquetgo.Row
	for _, v := range vals {
		if v == nil {
			rows = append(rows, parquetgo.Row{parquetgo.NullValue().Level(0, 0, 0)})
			continue
		}
		rows = append(rows, parquetgo.Row{parquetgo.ByteArrayValue(v).Level(0, 1, 0)})
	}
	want := [][]string{
		{"n:-0.128"}, {"n:0.000"}, {"n:0.255"}, {"n:-18446744073709551.616"},
		{"n:10000000000000000000000.000"}, {"n:-0.001"}, {"null"},
	}
	diff(t, readAll(t, writeSchemaRows(t, schema, rows)), want)
}

func TestAppendScaled(t *testing.T) {
	for _, tt := range []struct {
		digits string
		neg    bool
		scale  int
		want   string
	}{
		{"0", false, 0, "0"},
		{"0", false, 2, "0.00"},
		{"5", true, 3, "-0.005"},
		{"12345", false, 2, "123.45"},
		{"12345", true, 5, "-0.12345"},
		{"12345", false, 7, "0.0012345"},
	} {
		if got := string(appendScaled(nil, []byte(tt.digits), tt.neg, tt.scale)); got != tt.want {
			t.Errorf("appendScaled(%s, %v, %d) = %s, want %s", tt.digits, tt.neg, tt.scale, got, tt.want)
		}
	}
}

func TestCivil(t *testing.T) {
	// Every day over a wide range against the time package.
	for d := int64(-800_000); d <= 3_000_000; d += 7 {
		y, m, dd := civil(d)
		tt := time.Unix(d*86400, 0).UTC()
		if y != int64(tt.Year()) || m != int(tt.Month()) || dd != tt.Day() {
			t.Fatalf("civil(%d) = %d-%d-%d, want %s", d, y, m, dd, tt.Format(time.DateOnly))
		}
	}
	for _, tt := range []struct {
		days int64
		want string
	}{
		{0, "1970-01-01"},
		{-719528, "0000-01-01"},
		{-719529, "-0001-12-31"},
		{2932897, "10000-01-01"},
	} {
		if got := string(appendDate(nil, tt.days)); got != tt.want {
			t.Errorf("appendDate(%d) = %s, want %s", tt.days, got, tt.want)
		}
	}
}

func TestFloat16(t *testing.T) {
	for _, tt := range []struct {
		bits uint16
		want string
	}{
		{0x3c00, "n:1"},
		{0xc000, "n:-2"},
		{0x3555, "n:0.33325195"},
		{0x7bff, "n:65504"},
		{0x0001, "n:5.9604645e-08"},
		{0x8000, "n:-0"},
		{0x7c00, "s:Infinity"},
		{0xfc00, "s:-Infinity"},
		{0x7e00, "s:NaN"},
	} {
		c := leafConv{kind: kFloat16}
		b := []byte{byte(tt.bits), byte(tt.bits >> 8)}
		got, k := c.appendValue(nil, parquetgo.FixedLenByteArrayValue(b))
		if s := kindPrefix(k) + string(got); s != tt.want {
			t.Errorf("float16 %#04x = %s, want %s", tt.bits, s, tt.want)
		}
	}
}

func TestTimeAndInterval(t *testing.T) {
	c := leafConv{kind: kTime, unit: 1e6}
	for _, tt := range []struct {
		v    int32
		want string
	}{
		{0, "00:00:00.000"},
		{86_399_999, "23:59:59.999"},
		{86_400_000, "24:00:00.000"},
		{-1, "-1"},
		{86_400_001, "86400001"},
	} {
		got, _ := c.appendValue(nil, parquetgo.Int32Value(tt.v))
		if string(got) != tt.want {
			t.Errorf("time(ms) %d = %s, want %s", tt.v, got, tt.want)
		}
	}
	iv := leafConv{kind: kInterval}
	b := []byte{14, 0, 0, 0, 3, 0, 0, 0, 0x39, 0x30, 0, 0} // 14 months, 3 days, 12345 ms
	if got, k := iv.appendValue(nil, parquetgo.FixedLenByteArrayValue(b)); string(got) != "P14M3DT12.345S" || k != pusher.String {
		t.Errorf("interval = %s (kind %v)", got, k)
	}
}

// sparkInt96 encodes microseconds since 1970 as Spark does: the days and
// time of day of micros + the epoch's Julian day, in wrapping int64
// arithmetic, so that the parts wrap past about year 2262.
func sparkInt96(micros int64) deprecated.Int96 {
	const usPerDay = 86400e6
	julianUs := micros + 2440588*usPerDay
	days := julianUs / usPerDay // truncated, as in Scala
	ns := (julianUs % usPerDay) * 1000
	return deprecated.Int96{uint32(ns), uint32(uint64(ns) >> 32), uint32(int32(days))}
}

// TestInt96: timestamps past 2262 (and before 1677) wrapped silently
// (year 290000 came out as year 11464668).
func TestInt96(t *testing.T) {
	tests := []struct {
		v    deprecated.Int96
		want string
	}{
		{deprecated.Int96{0, 0, 2440588}, "1970-01-01T00:00:00.000000000"},
		{int96Of(time.Date(2001, 2, 3, 4, 5, 6, 7, time.UTC)), "2001-02-03T04:05:06.000000007"},
		{int96Of(time.Date(1601, 12, 31, 23, 59, 59, 999999999, time.UTC)), "1601-12-31T23:59:59.999999999"},
		{int96Of(time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)), "9999-12-31T23:59:59.999999999"},
		// The value of parquet-testing's int96_from_spark.parquet, row 6:
		// 290000-12-31T01:00:00+02:00.
		{deprecated.Int96{3350814720, 4294959726, 4189105064}, "290000-12-30T23:00:00.000000000"},
		{sparkInt96(time.Date(2262, 4, 11, 23, 47, 16, 854775000, time.UTC).UnixMicro() + 1), "2262-04-11T23:47:16.854776000"},
		{sparkInt96(-9e18), "-283229-05-10T08:00:00.000000000"},
		// Nanoseconds past the end of the day carry into the next.
		{deprecated.Int96{uint32(uint64(86400e9+5) & 0xffffffff), uint32(uint64(86400e9+5) >> 32), 2440588}, "1970-01-02T00:00:00.000000005"},
	}
	for _, tt := range tests {
		if got := string(appendInt96(nil, tt.v)); got != tt.want {
			t.Errorf("appendInt96(%v) = %s, want %s", tt.v, got, tt.want)
		}
	}
}
