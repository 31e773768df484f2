package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	parquetgo "github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/encoding"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	pqformat "github.com/parquet-go/parquet-go/format"

	pt "github.com/ferrydata/ferry/integration/parquettest"
)

func init() { Register("parquet", parquetCases) }

// parquetCases are Parquet files: every physical and logical type, the
// encodings (PLAIN, dictionary, RLE, DELTA_*, BYTE_STREAM_SPLIT), data
// pages v1 and v2, every codec, nulls at every nesting level, written with
// parquet-go; and, built byte by byte (source/format/parquet/parquettest),
// valid layouts that writer never makes and corrupt files. The expected
// records are written here from the values, not from ferry's output.
func parquetCases() ([]File, error) {
	var c parquetCorpus
	c.types()
	c.encodings()
	c.codecs()
	c.nested()
	c.lz4RawLargePage()
	c.handmade()
	c.corrupt()
	return c.files, c.err
}

type parquetCorpus struct {
	files []File
	err   error
}

// add adds a case: want holds the expected records, one JSON object a
// line (a .want file), unless fail is set (a .fail file).
func (c *parquetCorpus) add(name string, data []byte, want []string, fail string, flags ...string) {
	p := "parquet/" + name + ".parquet"
	c.files = append(c.files, File{Path: p, Data: data})
	if fail != "" {
		c.files = append(c.files, File{Path: p + ".fail", Data: []byte(fail + "\n")})
	} else {
		var b strings.Builder
		for _, w := range want {
			b.WriteString(w)
			b.WriteByte('\n')
		}
		c.files = append(c.files, File{Path: p + ".want", Data: []byte(b.String())})
	}
	if len(flags) > 0 {
		c.files = append(c.files, File{Path: p + ".flags", Data: []byte(strings.Join(flags, "\n") + "\n")})
	}
}

func (c *parquetCorpus) fail(err error) {
	if c.err == nil && err != nil {
		c.err = err
	}
}

// write writes rows with the library's writer; the file's created_by is
// fixed so that the output does not change with the library's version.
func pqWrite[T any](c *parquetCorpus, rows []T, opts ...parquetgo.WriterOption) []byte {
	var buf bytes.Buffer
	opts = append([]parquetgo.WriterOption{parquetgo.CreatedBy("ferry corpusgen", "1", "")}, opts...)
	w := parquetgo.NewGenericWriter[T](&buf, opts...)
	if _, err := w.Write(rows); err != nil {
		c.fail(err)
	}
	c.fail(w.Close())
	return buf.Bytes()
}

// pqTypesRow has a column of each physical type and of each logical (and
// converted) type the writer makes.
type pqTypesRow struct {
	Bool     bool             `parquet:"bool"`
	I32      int32            `parquet:"i32"`
	I64      int64            `parquet:"i64"`
	I96      deprecated.Int96 `parquet:"i96"`
	F32      float32          `parquet:"f32"`
	F64      float64          `parquet:"f64"`
	Bin      []byte           `parquet:"bin"`
	Fixed    [3]byte          `parquet:"fixed"`
	Str      string           `parquet:"str"`
	Enum     string           `parquet:"enum,enum"`
	JSON     string           `parquet:"json,json"`
	UUID     [16]byte         `parquet:"uuid,uuid"`
	I8       int8             `parquet:"i8,int(8)"`
	I16      int16            `parquet:"i16,int(16)"`
	U8       uint8            `parquet:"u8,uint(8)"`
	U16      uint16           `parquet:"u16,uint(16)"`
	U32      uint32           `parquet:"u32,uint(32)"`
	U64      uint64           `parquet:"u64,uint(64)"`
	Dec32    int32            `parquet:"dec32,decimal(2:9)"`
	Dec64    int64            `parquet:"dec64,decimal(4:18)"`
	DecBytes [13]byte         `parquet:"decbytes,decimal(3:30)"`
	Date     int32            `parquet:"date,date"`
	TimeMs   int32            `parquet:"time_ms,time(millisecond)"`
	TimeUs   int64            `parquet:"time_us,time(microsecond)"`
	TimeNs   int64            `parquet:"time_ns,time(nanosecond)"`
	TsMs     int64            `parquet:"ts_ms,timestamp(millisecond)"`
	TsUs     int64            `parquet:"ts_us,timestamp(microsecond)"`
	TsNs     int64            `parquet:"ts_ns,timestamp(nanosecond)"`
	TsLocal  int64            `parquet:"ts_local,timestamp(microsecond:local)"`
	Interval [12]byte         `parquet:"interval,interval"`
	OptI64   *int64           `parquet:"opt_i64,optional"`
	OptStr   *string          `parquet:"opt_str,optional"`
}

// int96 encodes t as an INT96 timestamp (nanoseconds of the day, Julian
// day).
func pqInt96(t time.Time) deprecated.Int96 {
	days := int64(math.Floor(float64(t.Unix()) / 86400))
	ns := uint64(t.Sub(time.Unix(days*86400, 0)))
	return deprecated.Int96{uint32(ns), uint32(ns >> 32), uint32(days + 2440588)}
}

// pqTwos13 returns n as 13 big-endian two's complement bytes (a DECIMAL
// of precision 30 in a FIXED_LEN_BYTE_ARRAY).
func pqTwos13(n int64) [13]byte {
	var b [13]byte
	if n < 0 {
		for i := range b {
			b[i] = 0xff
		}
	}
	binary.BigEndian.PutUint64(b[5:], uint64(n))
	return b
}

func (c *parquetCorpus) types() {
	t1 := time.Date(2024, 2, 29, 12, 34, 56, 789012000, time.UTC) // whole microseconds: PostgreSQL keeps no more
	t2 := time.Date(1969, 7, 20, 20, 17, 40, 0, time.UTC)
	midnight := func(t time.Time) time.Time { return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC) }
	row := func(t time.Time, neg bool) pqTypesRow {
		s := int64(1)
		if neg {
			s = -1
		}
		tod := t.Sub(midnight(t))
		return pqTypesRow{
			Bool: !neg, I32: int32(s * 2147483647), I64: s * 9007199254740993, I96: pqInt96(t),
			F32: float32(s) * 1.5, F64: float64(s) * 0.1, Bin: []byte("raw bytes"), Fixed: [3]byte{'a', 'b', 'c'},
			Str: "héllo \"quoted\"\n", Enum: "RED", JSON: `{"a":[1,2,{"b":null}]}`,
			UUID: [16]byte{0x12, 0x3e, 0x45, 0x67, 0xe8, 0x9b, 0x12, 0xd3, 0xa4, 0x56, 0x42, 0x66, 0x14, 0x17, 0x40, 0x00},
			I8:   int8(s * 127), I16: int16(s * 32767), U8: 255, U16: 65535, U32: 4294967295, U64: 18446744073709551615,
			Dec32: int32(s * 12345), Dec64: s * 1234567890123, DecBytes: pqTwos13(s * 123456789012345678),
			Date: int32(math.Floor(float64(t.Unix()) / 86400)), TimeMs: int32(tod.Milliseconds()), TimeUs: tod.Microseconds(), TimeNs: tod.Nanoseconds(),
			TsMs: t.UnixMilli(), TsUs: t.UnixMicro(), TsNs: t.UnixNano(), TsLocal: t.UnixMicro(),
			Interval: [12]byte{14, 0, 0, 0, 3, 0, 0, 0, 0x39, 0x30, 0, 0}, // 14 months, 3 days, 12345 ms
		}
	}
	r1, r2 := row(t1, false), row(t2, true)
	r1.OptI64, r1.OptStr = pqPtr(int64(42)), pqPtr("present")
	rows := []pqTypesRow{r1, r2}
	want := []string{
		`{"bool":true,"i32":2147483647,"i64":9007199254740993,"i96":"2024-02-29T12:34:56.789012000","f32":1.5,"f64":0.1,` +
			`"bin":"raw bytes","fixed":"abc","str":"héllo \"quoted\"\n","enum":"RED","json":{"a":[1,2,{"b":null}]},` +
			`"uuid":"123e4567-e89b-12d3-a456-426614174000","i8":127,"i16":32767,"u8":255,"u16":65535,"u32":4294967295,` +
			`"u64":18446744073709551615,"dec32":123.45,"dec64":123456789.0123,"decbytes":123456789012345.678,` +
			`"date":"2024-02-29","time_ms":"12:34:56.789","time_us":"12:34:56.789012","time_ns":"12:34:56.789012000",` +
			`"ts_ms":"2024-02-29T12:34:56.789Z","ts_us":"2024-02-29T12:34:56.789012Z","ts_ns":"2024-02-29T12:34:56.789012000Z",` +
			`"ts_local":"2024-02-29T12:34:56.789012","interval":"P14M3DT12.345S","opt_i64":42,"opt_str":"present"}`,
		`{"bool":false,"i32":-2147483647,"i64":-9007199254740993,"i96":"1969-07-20T20:17:40.000000000","f32":-1.5,"f64":-0.1,` +
			`"bin":"raw bytes","fixed":"abc","str":"héllo \"quoted\"\n","enum":"RED","json":{"a":[1,2,{"b":null}]},` +
			`"uuid":"123e4567-e89b-12d3-a456-426614174000","i8":-127,"i16":-32767,"u8":255,"u16":65535,"u32":4294967295,` +
			`"u64":18446744073709551615,"dec32":-123.45,"dec64":-123456789.0123,"decbytes":-123456789012345.678,` +
			`"date":"1969-07-20","time_ms":"20:17:40.000","time_us":"20:17:40.000000","time_ns":"20:17:40.000000000",` +
			`"ts_ms":"1969-07-20T20:17:40.000Z","ts_us":"1969-07-20T20:17:40.000000Z","ts_ns":"1969-07-20T20:17:40.000000000Z",` +
			`"ts_local":"1969-07-20T20:17:40.000000","interval":"P14M3DT12.345S","opt_i64":null,"opt_str":null}`,
	}
	for _, v := range []int{1, 2} {
		c.add(fmt.Sprintf("types-v%d", v), pqWrite(c, rows, parquetgo.DataPageVersion(v), parquetgo.Compression(&parquetgo.Snappy)), want, "")
	}

	// FLOAT16 and special floating-point values, by hand: the writer has
	// no FLOAT16 tag.
	half := func(bits ...uint16) []byte {
		var b []byte
		for _, x := range bits {
			b = binary.LittleEndian.AppendUint16(b, x)
		}
		return b
	}
	f := pt.File{
		Schema: []pqformat.SchemaElement{pt.Root(3),
			{Name: "f16", Type: thrift.New(pqformat.FixedLenByteArray), TypeLength: thrift.New(int32(2)), RepetitionType: thrift.New(pqformat.Required),
				LogicalType: pqformat.LogicalType{Value: &pqformat.Float16Type{}}},
			pt.Leaf("f32", pqformat.Float, pqformat.Required),
			pt.Leaf("f64", pqformat.Double, pqformat.Required),
		},
		RowGroups: []pt.RowGroup{{NumRows: 4, Chunks: []pt.Chunk{
			{Pages: []pt.Page{{Header: pt.V1(4, pqformat.Plain), Data: half(0x3e00, 0xc000, 0x7e00, 0xfc00)}}},
			{Pages: []pt.Page{{Header: pt.V1(4, pqformat.Plain), Data: pt.PlainFloat(0.25, float32(math.Inf(1)), float32(math.NaN()), 3.4028235e38)}}},
			{Pages: []pt.Page{{Header: pt.V1(4, pqformat.Plain), Data: pqPlainDouble(-0.5, math.Inf(-1), math.NaN(), 5e-324)}}},
		}}},
	}
	c.add("float-specials", f.Bytes(), []string{
		`{"f16":1.5,"f32":0.25,"f64":-0.5}`,
		`{"f16":-2,"f32":"Infinity","f64":"-Infinity"}`,
		`{"f16":"NaN","f32":"NaN","f64":"NaN"}`,
		`{"f16":"-Infinity","f32":3.4028235e+38,"f64":5e-324}`,
	}, "")
}

func pqPlainDouble(vs ...float64) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
	}
	return b
}

// pqEncRow is written with each encoding the writer has for its types.
type pqEncRow struct {
	B   bool     `parquet:"b"`
	I32 int32    `parquet:"i32"`
	I64 int64    `parquet:"i64"`
	F32 float32  `parquet:"f32"`
	F64 float64  `parquet:"f64"`
	S   string   `parquet:"s"`
	Fix [4]byte  `parquet:"fix"`
	Opt *int32   `parquet:"opt,optional"`
	OS  *string  `parquet:"os,optional"`
	Lst []string `parquet:"lst,list"`
}

func (c *parquetCorpus) encodings() {
	var rows []pqEncRow
	var want []string
	words := []string{"alpha", "alphabet", "alpine", "beta", "", "gamma"}
	for i := range 40 {
		r := pqEncRow{
			B: i%3 == 0, I32: int32(i*i - 100), I64: int64(i) * 1_000_000_007, F32: float32(i) / 4, F64: float64(i) * -1.25,
			S: words[i%len(words)], Fix: [4]byte{'f', byte('a' + i%26), 'x', byte('0' + i%10)},
		}
		opt, os := "null", "null"
		if i%4 != 1 {
			r.Opt = pqPtr(int32(i))
			opt = fmt.Sprint(i)
		}
		if i%5 != 2 {
			r.OS = pqPtr(words[(i+1)%len(words)])
			os = fmt.Sprintf("%q", *r.OS)
		}
		for k := range i % 3 {
			r.Lst = append(r.Lst, words[(i+k)%len(words)])
		}
		lst := "[]"
		if len(r.Lst) > 0 {
			lst = `["` + strings.Join(r.Lst, `","`) + `"]`
		}
		rows = append(rows, r)
		want = append(want, fmt.Sprintf(`{"b":%t,"i32":%d,"i64":%d,"f32":%s,"f64":%s,"s":%q,"fix":%q,"opt":%s,"os":%s,"lst":%s}`,
			r.B, r.I32, r.I64, pqFloat(float64(r.F32), 32), pqFloat(r.F64, 64), r.S, string(r.Fix[:]), opt, os, lst))
	}
	enc := func(kinds []parquetgo.Kind, e encoding.Encoding) []parquetgo.WriterOption {
		var o []parquetgo.WriterOption
		for _, k := range kinds {
			o = append(o, parquetgo.DefaultEncodingFor(k, e))
		}
		return o
	}
	all := []parquetgo.Kind{parquetgo.Boolean, parquetgo.Int32, parquetgo.Int64, parquetgo.Float, parquetgo.Double, parquetgo.ByteArray, parquetgo.FixedLenByteArray}
	cases := []struct {
		name string
		opts []parquetgo.WriterOption
	}{
		{"plain", enc(all, &parquetgo.Plain)},
		{"dictionary", enc(all[1:], &parquetgo.RLEDictionary)},
		{"rle-boolean", enc(all[:1], &parquetgo.RLE)},
		{"delta-binary-packed", enc([]parquetgo.Kind{parquetgo.Int32, parquetgo.Int64}, &parquetgo.DeltaBinaryPacked)},
		{"delta-length-byte-array", enc([]parquetgo.Kind{parquetgo.ByteArray}, &parquetgo.DeltaLengthByteArray)},
		{"delta-byte-array", enc([]parquetgo.Kind{parquetgo.ByteArray, parquetgo.FixedLenByteArray}, &parquetgo.DeltaByteArray)},
		{"byte-stream-split", enc([]parquetgo.Kind{parquetgo.Int32, parquetgo.Int64, parquetgo.Float, parquetgo.Double, parquetgo.FixedLenByteArray}, &parquetgo.ByteStreamSplit)},
	}
	for _, e := range cases {
		for _, v := range []int{1, 2} {
			opts := append(e.opts, parquetgo.DataPageVersion(v), parquetgo.PageBufferSize(256), parquetgo.Compression(&parquetgo.Uncompressed))
			c.add(fmt.Sprintf("encoding-%s-v%d", e.name, v), pqWrite(c, rows, opts...), want, "")
		}
	}
}

// fmtFloat is the text ferry writes for a finite float: the shortest
// form that reads back as the same value.
func pqFloat(f float64, bits int) string {
	return strconv.FormatFloat(f, 'g', -1, bits)
}

func (c *parquetCorpus) codecs() {
	type row struct {
		ID   int64   `parquet:"id"`
		Name *string `parquet:"name,optional"`
		Tags []int32 `parquet:"tags,list"`
	}
	var rows []row
	var want []string
	for i := range 30 {
		r := row{ID: int64(i)}
		name := "null"
		if i%4 != 0 {
			r.Name = pqPtr(fmt.Sprintf("name %d %s", i, strings.Repeat("ab", i)))
			name = fmt.Sprintf("%q", *r.Name)
		}
		var tags []string
		for k := range i % 3 {
			r.Tags = append(r.Tags, int32(i*10+k))
			tags = append(tags, fmt.Sprint(i*10+k))
		}
		rows = append(rows, r)
		want = append(want, fmt.Sprintf(`{"id":%d,"name":%s,"tags":[%s]}`, i, name, strings.Join(tags, ",")))
	}
	for _, codec := range []struct {
		name string
		c    compress.Codec
	}{
		{"uncompressed", &parquetgo.Uncompressed}, {"snappy", &parquetgo.Snappy}, {"gzip", &parquetgo.Gzip},
		{"brotli", &parquetgo.Brotli}, {"zstd", &parquetgo.Zstd}, {"lz4-raw", &parquetgo.Lz4Raw},
	} {
		for _, v := range []int{1, 2} {
			data := pqWrite(c, rows, parquetgo.Compression(codec.c), parquetgo.DataPageVersion(v), parquetgo.PageBufferSize(128), parquetgo.MaxRowsPerRowGroup(20))
			c.add(fmt.Sprintf("codec-%s-v%d", codec.name, v), data, want, "")
		}
	}
}

// nested has nulls at every level: an optional struct holding an
// optional list of optional elements and an optional map with optional
// values, and a list of structs.
func (c *parquetCorpus) nested() {
	type point struct {
		X int32  `parquet:"x"`
		Y *int32 `parquet:"y,optional"`
	}
	type inner struct {
		Tags   []*string         `parquet:"tags,optional,list"`
		Attrs  map[string]*int64 `parquet:"attrs,optional"`
		Points []point           `parquet:"points,list"`
	}
	type row struct {
		ID int32  `parquet:"id"`
		S  *inner `parquet:"s,optional"`
	}
	s := func(v string) *string { return &v }
	i := func(v int64) *int64 { return &v }
	rows := []row{
		{ID: 1, S: nil},
		{ID: 2, S: &inner{}},
		{ID: 3, S: &inner{Tags: []*string{}, Attrs: map[string]*int64{}}},
		{ID: 4, S: &inner{Tags: []*string{nil, s("a"), nil}, Attrs: map[string]*int64{"k": nil, "n": i(-7)}, Points: []point{{X: 1}, {X: 2, Y: pqPtr(int32(3))}}}},
		{ID: 5, S: &inner{Tags: []*string{s("b")}, Points: []point{{X: 0}}}},
	}
	want := []string{
		`{"id":1,"s":null}`,
		`{"id":2,"s":{"tags":null,"attrs":null,"points":[]}}`,
		`{"id":3,"s":{"tags":[],"attrs":{},"points":[]}}`,
		`{"id":4,"s":{"tags":[null,"a",null],"attrs":{"k":null,"n":-7},"points":[{"x":1,"y":null},{"x":2,"y":3}]}}`,
		`{"id":5,"s":{"tags":["b"],"attrs":null,"points":[{"x":0,"y":null}]}}`,
	}
	for _, v := range []int{1, 2} {
		c.add(fmt.Sprintf("nested-nulls-v%d", v), pqWrite(c, rows, parquetgo.DataPageVersion(v), parquetgo.Compression(&parquetgo.Zstd)), want, "")
	}
}

// lz4RawLargePage: strings that do not compress, in one LZ4_RAW page.
// parquet-go decompressed such a page into a buffer of its own and read
// the page's unfilled one: every string was "".
func (c *parquetCorpus) lz4RawLargePage() {
	type row struct {
		A string `parquet:"a"`
	}
	rnd := rand.New(rand.NewPCG(13, 1))
	var rows []row
	var want []string
	for range 100 {
		var b [16]byte
		for k := range b {
			b[k] = byte(rnd.Uint32())
		}
		s := fmt.Sprintf("%x", b)
		rows = append(rows, row{s})
		want = append(want, fmt.Sprintf(`{"a":%q}`, s))
	}
	c.add("lz4-raw-incompressible-page", pqWrite(c, rows, parquetgo.Compression(&parquetgo.Lz4Raw), parquetgo.PageBufferSize(1<<20)), want, "")
}

var (
	pqReq = pqformat.Required
	pqOpt = pqformat.Optional
)

func pqInt32File(rep pqformat.FieldRepetitionType, rows int64, chunk pt.Chunk) []byte {
	f := pt.File{
		Schema:    []pqformat.SchemaElement{pt.Root(1), pt.Leaf("a", pqformat.Int32, rep)},
		RowGroups: []pt.RowGroup{{NumRows: rows, Chunks: []pt.Chunk{chunk}}},
	}
	return f.Bytes()
}

func pqSnappy(b []byte) []byte { return s2.EncodeSnappy(nil, b) }

// handmade are valid files the library's writer never makes, some of
// which the library refused.
func (c *parquetCorpus) handmade() {
	// A null in a snappy v2 page: two bytes of levels and no values,
	// which must not be decompressed ("s2: corrupt input").
	f := pt.File{
		Schema: []pqformat.SchemaElement{pt.Root(1), pt.Leaf("value", pqformat.Float, pqOpt)},
		RowGroups: []pt.RowGroup{{NumRows: 2, Chunks: []pt.Chunk{{Codec: pqformat.Snappy, Pages: []pt.Page{
			pt.V2Page(pt.V2(1, 1, 1, pqformat.Plain), nil, pt.RLE(1, []int{0}), nil, pqSnappy),
			pt.V2Page(pt.V2(1, 0, 1, pqformat.Plain), nil, pt.RLE(1, []int{1}), pt.PlainFloat(1.5), pqSnappy),
		}}}}},
	}
	c.add("empty-v2-page", f.Bytes(), []string{`{"value":null}`, `{"value":1.5}`}, "")

	// Key-value metadata on a column chunk, one entry without a value
	// (the library's footer decoder required one).
	c.add("column-chunk-key-value-metadata", pqInt32File(pqReq, 2, pt.Chunk{
		KeyValue: []pt.KeyValue{{Key: "with", Value: pqPtr("value")}, {Key: "without"}},
		Pages:    []pt.Page{{Header: pt.V1(2, pqformat.Plain), Data: pt.PlainInt32(7, 8)}},
	}), []string{`{"a":7}`, `{"a":8}`}, "")

	// INT96 timestamps past 2262 and before 1677, as Spark writes them
	// (wrapped in int64 microseconds); year 290000 read as 11464668.
	spark := func(micros int64) []byte {
		const usPerDay = 86400e6
		julianUs := micros + 2440588*usPerDay
		days := julianUs / usPerDay
		ns := (julianUs % usPerDay) * 1000
		b := binary.LittleEndian.AppendUint64(nil, uint64(ns))
		return binary.LittleEndian.AppendUint32(b, uint32(int32(days)))
	}
	f = pt.File{
		Schema: []pqformat.SchemaElement{pt.Root(1), pt.Leaf("ts", pqformat.Int96, pqOpt)},
		RowGroups: []pt.RowGroup{{NumRows: 4, Chunks: []pt.Chunk{{Pages: []pt.Page{{Header: pt.V1(4, pqformat.Plain),
			Data: pt.Concat(pt.RLEV1(1, []int{1, 1, 1, 0}), spark(1709210096789012), spark(9089380393200000000), spark(-9000000000000000000))}}}}}},
	}
	c.add("int96-past-2262", f.Bytes(), []string{
		`{"ts":"2024-02-29T12:34:56.789012000"}`,
		`{"ts":"290000-12-30T23:00:00.000000000"}`,
		`{"ts":"-283229-05-10T08:00:00.000000000"}`,
		`{"ts":null}`,
	}, "")

	// BYTE_ARRAY without a string annotation holding bytes that are not
	// UTF-8: text, the bad bytes replaced by U+FFFD (README).
	f = pt.File{
		Schema: []pqformat.SchemaElement{pt.Root(1), pt.Leaf("bin", pqformat.ByteArray, pqReq)},
		RowGroups: []pt.RowGroup{{NumRows: 2, Chunks: []pt.Chunk{{Pages: []pt.Page{{Header: pt.V1(2, pqformat.Plain),
			Data: pt.PlainBytes([]byte("text"), []byte{0xff, 'a', 0xc3})}}}}}},
	}
	c.add("binary-not-utf8", f.Bytes(), []string{`{"bin":"text"}`, "{\"bin\":\"\ufffda\ufffd\"}"}, "")
}

// corrupt are files that must fail with an error naming the row group,
// the column and the page.
func (c *parquetCorpus) corrupt() {
	levels := append(make([]int, 0, 100), pqRepeat(1, 60)...)
	levels = append(levels, pqRepeat(0, 40)...)
	// Levels and only the non-null values, in a REQUIRED column: the
	// library loaded 1,000 copies of a made-up value (ARROW-GH-47662).
	c.add("corrupt-required-with-nulls", pqInt32File(pqReq, 100, pt.Chunk{Pages: []pt.Page{
		{Header: pt.V1(100, pqformat.Plain), Data: pt.Concat(pt.RLEV1(1, levels), pt.PlainInt32(make([]int32, 60)...))},
	}}), nil, `row group 0, column "a", page 0`)
	c.add("corrupt-required-v2-nulls", pqInt32File(pqReq, 5, pt.Chunk{Pages: []pt.Page{
		pt.V2Page(pt.V2(5, 2, 5, pqformat.Plain), nil, pt.RLE(1, []int{1, 0, 1, 1, 0}), pt.PlainInt32(1, 3, 4), nil),
	}}), nil, `row group 0, column "a", page 0: 2 nulls in a page of a REQUIRED column`)

	// A physical type that does not exist: the library read nulls
	// (PARQUET-1481).
	f := pt.File{
		Schema:    []pqformat.SchemaElement{pt.Root(1), pt.Leaf("a", pqformat.Type(-7), pqOpt)},
		RowGroups: []pt.RowGroup{{NumRows: 2, Chunks: []pt.Chunk{{Pages: []pt.Page{{Header: pt.V1(2, pqformat.Plain), Data: pt.Concat(pt.RLEV1(1, []int{1, 1}), pt.PlainInt32(1, 2))}}}}}},
	}
	c.add("corrupt-schema-type", f.Bytes(), nil, `invalid physical type -7`)

	dict := pt.Page{Header: pt.Dict(2), Data: pt.PlainInt32(10, 20)}
	c.add("corrupt-dictionary-index", pqInt32File(pqReq, 3, pt.Chunk{Pages: []pt.Page{dict,
		{Header: pt.V1(3, pqformat.RLEDictionary), Data: append([]byte{2}, pt.RLE(2, []int{0, 1, 2})...)},
	}}), nil, `row group 0, column "a", page 1: dictionary index 2 out of a dictionary of 2 values`)
	c.add("corrupt-optional-short-values", pqInt32File(pqOpt, 5, pt.Chunk{Pages: []pt.Page{
		{Header: pt.V1(5, pqformat.Plain), Data: pt.Concat(pt.RLEV1(1, []int{1, 1, 1, 1, 0}), pt.PlainInt32(1, 3, 4))},
	}}), nil, `row group 0, column "a", page 0`)
	c.add("corrupt-chunk-value-count", pqInt32File(pqReq, 5, pt.Chunk{NumValues: 7, Pages: []pt.Page{
		{Header: pt.V1(5, pqformat.Plain), Data: pt.PlainInt32(1, 2, 3, 4, 5)},
	}}), nil, `row group 0, column "a": the column chunk holds 5 values, its metadata says 7`)
	h := pt.V1(5, pqformat.Plain)
	h.CompressedPageSize, h.UncompressedPageSize = 200, 200
	c.add("corrupt-page-past-chunk", pqInt32File(pqReq, 5, pt.Chunk{Pages: []pt.Page{{Header: h, Data: pt.PlainInt32(1, 2, 3, 4, 5)}}}),
		nil, `row group 0, column "a", page 0: the page's 200 bytes go past the end of its column chunk`)
	h = pt.V1(5, pqformat.Plain)
	h.CRC = 1234
	c.add("corrupt-crc", pqInt32File(pqReq, 5, pt.Chunk{Pages: []pt.Page{{Header: h, Data: pt.PlainInt32(1, 2, 3, 4, 5)}}}),
		nil, `row group 0, column "a", page 0: CRC mismatch`)
	c.add("corrupt-snappy-size", pqInt32File(pqReq, 5, pt.Chunk{Codec: pqformat.Snappy, Pages: []pt.Page{
		{Header: pt.V1(5, pqformat.Plain), Data: pqSnappy(pt.PlainInt32(1, 2, 3, 4, 5)), Raw: make([]byte, 24)},
	}}), nil, `row group 0, column "a", page 0: decompressing the page (SNAPPY): does not decompress to the size its header declares`)
	whole := pqInt32File(pqReq, 5, pt.Chunk{Pages: []pt.Page{{Header: pt.V1(5, pqformat.Plain), Data: pt.PlainInt32(1, 2, 3, 4, 5)}}})
	c.add("corrupt-truncated", whole[:len(whole)-20], nil, `not a Parquet file, or truncated`)

	// A value longer than --max-record-bytes (1 MiB here), in a 64 MiB
	// dictionary page compressed to a few KB: refused before anything is
	// allocated for the page (the library allocated what pages declare:
	// a 4 KB file of two 1 GiB map keys took 5.3 GB).
	raw := pt.PlainBytes(bytes.Repeat([]byte{'a'}, 64<<20))
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
	if err != nil {
		c.fail(err)
		return
	}
	z := enc.EncodeAll(raw, nil)
	idx := append([]byte{1}, pt.RLE(1, []int{0})...)
	zi := enc.EncodeAll(idx, nil)
	enc.Close()
	f = pt.File{
		Schema: []pqformat.SchemaElement{pt.Root(1), pt.Leaf("a", pqformat.ByteArray, pqReq)},
		RowGroups: []pt.RowGroup{{NumRows: 1, Chunks: []pt.Chunk{{Codec: pqformat.Zstd, Pages: []pt.Page{
			{Header: pt.Dict(1), Data: z, Raw: raw},
			{Header: pt.V1(1, pqformat.RLEDictionary), Data: zi, Raw: idx},
		}}}}},
	}
	c.add("value-longer-than-max-record-bytes", f.Bytes(), nil,
		`row group 0, column "a", page 0: the page declares 67108868 bytes for 1 values: a value longer than --max-record-bytes (1048576)`,
		"--max-record-bytes=1048576")
}

func pqRepeat(v, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func pqPtr[T any](v T) *T { return &v }
