package parquet

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	parquetgo "github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	pqformat "github.com/parquet-go/parquet-go/format"

	pt "github.com/ferrydata/ferry/integration/parquettest"
	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source/format"
)

// readErr reads data to the end and returns the records and the error
// that ended the read (nil at EOF).
func readErr(t testing.TB, data []byte, o ...func(*format.Options)) ([][]string, error) {
	t.Helper()
	r, err := newReader(bytes.NewReader(data), int64(len(data)), opts(o...), pusher.Position{})
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var out [][]string
	var b pusher.Batch
	for {
		err := r.Next(&b)
		out = append(out, records(&b)...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one with %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not say %q", err, p)
		}
	}
}

// TestLZ4RawLargePages: strings that do not compress, in LZ4_RAW pages of
// about 400 KB. The library decompressed them into a buffer of its own
// and left the page's unfilled: every string read as "" (and it printed
// "byte array page has N offsets but numValues is M").
func TestLZ4RawLargePages(t *testing.T) {
	type row struct {
		A string `parquet:"a"`
	}
	rows := make([]row, 10_000)
	raw := make([]byte, 18)
	for i := range rows {
		rand.Read(raw)
		rows[i].A = hex.EncodeToString(raw)
	}
	data := writeRows(t, rows, parquetgo.Compression(&parquetgo.Lz4Raw), parquetgo.PageBufferSize(1<<20))
	got := readAll(t, data)
	if len(got) != len(rows) {
		t.Fatalf("%d records, want %d", len(got), len(rows))
	}
	for i, r := range got {
		if r[0] != "s:"+rows[i].A {
			t.Fatalf("record %d: %q, want %q", i+1, r[0], rows[i].A)
		}
	}
}

func TestCodecs(t *testing.T) {
	type row struct {
		ID   int64   `parquet:"id"`
		Name *string `parquet:"name,optional"`
	}
	rows := make([]row, 3000)
	for i := range rows {
		rows[i].ID = int64(i)
		if i%5 != 0 {
			rows[i].Name = ptr(fmt.Sprintf("name %d %s", i, strings.Repeat("x", i%50)))
		}
	}
	for _, c := range []struct {
		name  string
		codec parquetgo.WriterOption
	}{
		{"none", parquetgo.Compression(&parquetgo.Uncompressed)},
		{"snappy", parquetgo.Compression(&parquetgo.Snappy)},
		{"gzip", parquetgo.Compression(&parquetgo.Gzip)},
		{"brotli", parquetgo.Compression(&parquetgo.Brotli)},
		{"zstd", parquetgo.Compression(&parquetgo.Zstd)},
		{"lz4raw", parquetgo.Compression(&parquetgo.Lz4Raw)},
	} {
		for _, v := range []int{1, 2} {
			t.Run(fmt.Sprintf("%s/v%d", c.name, v), func(t *testing.T) {
				data := writeRows(t, rows, c.codec, parquetgo.DataPageVersion(v), parquetgo.PageBufferSize(4096))
				got := readAll(t, data)
				if len(got) != len(rows) {
					t.Fatalf("%d records", len(got))
				}
				for i, r := range got {
					want := "null"
					if rows[i].Name != nil {
						want = "s:" + *rows[i].Name
					}
					if r[1] != want {
						t.Fatalf("record %d: %q, want %q", i+1, r[1], want)
					}
				}
			})
		}
	}
}

var (
	required = pqformat.Required
	optional = pqformat.Optional
)

func int32File(rep pqformat.FieldRepetitionType, rows int64, chunk pt.Chunk) []byte {
	f := pt.File{
		Schema:    []pqformat.SchemaElement{pt.Root(1), pt.Leaf("a", pqformat.Int32, rep)},
		RowGroups: []pt.RowGroup{{NumRows: rows, Chunks: []pt.Chunk{chunk}}},
	}
	return f.Bytes()
}

// TestCorruptPages: pages whose contents do not match their headers, or
// the schema, fail with an error naming the row group, column and page.
// The library loaded several of them as made-up values.
func TestCorruptPages(t *testing.T) {
	five := pt.PlainInt32(1, 2, 3, 4, 5)
	dict := pt.Page{Header: pt.Dict(2), Data: pt.PlainInt32(10, 20)}
	tests := []struct {
		name string
		data []byte
		want []string
	}{
		{
			// ARROW-GH-47662's kind: levels written for a REQUIRED
			// column, and only the values that are not null, so the
			// values are short of the count.
			name: "required column with levels",
			data: int32File(required, 100, pt.Chunk{Pages: []pt.Page{
				{Header: pt.V1(100, pqformat.Plain), Data: pt.Concat(pt.RLEV1(1, append(repeat(1, 60), repeat(0, 40)...)), pt.PlainInt32(make([]int32, 60)...))},
			}}),
			want: []string{`row group 0, column "a", page 0`, "100 values"},
		},
		{
			name: "nulls in a v2 page of a REQUIRED column",
			data: int32File(required, 5, pt.Chunk{Pages: []pt.Page{
				pt.V2Page(pt.V2(5, 2, 5, pqformat.Plain), nil, pt.RLE(1, []int{1, 0, 1, 1, 0}), pt.PlainInt32(1, 3, 4), nil),
			}}),
			want: []string{`row group 0, column "a", page 0`, "2 nulls in a page of a REQUIRED column"},
		},
		{
			name: "fewer values than the definition levels say",
			data: int32File(optional, 5, pt.Chunk{Pages: []pt.Page{
				{Header: pt.V1(5, pqformat.Plain), Data: pt.Concat(pt.RLEV1(1, []int{1, 1, 1, 1, 0}), pt.PlainInt32(1, 3, 4))},
			}}),
			want: []string{`column "a", page 0`, "4 values"},
		},
		{
			name: "v2 null count",
			data: int32File(optional, 5, pt.Chunk{Pages: []pt.Page{
				pt.V2Page(pt.V2(5, 1, 5, pqformat.Plain), nil, pt.RLE(1, []int{1, 0, 1, 1, 0}), pt.PlainInt32(1, 3, 4, 5), nil),
			}}),
			want: []string{"page 0", "2 nulls, its header says 1"},
		},
		{
			name: "v2 row count",
			data: int32File(required, 5, pt.Chunk{Pages: []pt.Page{
				pt.V2Page(pt.V2(5, 0, 4, pqformat.Plain), nil, nil, five, nil),
			}}),
			want: []string{"page 0", "5 rows, its header says 4"},
		},
		{
			name: "dictionary index out of range",
			data: int32File(required, 3, pt.Chunk{Pages: []pt.Page{
				dict,
				{Header: pt.V1(3, pqformat.RLEDictionary), Data: append([]byte{2}, pt.RLE(2, []int{0, 1, 2})...)},
			}}),
			want: []string{"page 1", "dictionary index 2 out of a dictionary of 2 values"},
		},
		{
			name: "dictionary-encoded page without a dictionary",
			data: int32File(required, 3, pt.Chunk{Pages: []pt.Page{
				{Header: pt.V1(3, pqformat.RLEDictionary), Data: append([]byte{1}, pt.RLE(1, []int{0, 1, 0})...)},
			}}),
			want: []string{"page 0", "without a dictionary page"},
		},
		{
			name: "two dictionaries",
			data: int32File(required, 1, pt.Chunk{Pages: []pt.Page{dict, dict,
				{Header: pt.V1(1, pqformat.RLEDictionary), Data: append([]byte{1}, pt.RLE(1, []int{0})...)},
			}}),
			want: []string{"page 1", "second dictionary page"},
		},
		{
			name: "more values than the chunk's metadata",
			data: int32File(required, 5, pt.Chunk{NumValues: 3, Pages: []pt.Page{{Header: pt.V1(5, pqformat.Plain), Data: five}}}),
			want: []string{"page 0", "5 values, more than the 3"},
		},
		{
			name: "fewer values than the chunk's metadata",
			data: int32File(required, 5, pt.Chunk{NumValues: 7, Pages: []pt.Page{{Header: pt.V1(5, pqformat.Plain), Data: five}}}),
			want: []string{`row group 0, column "a": the column chunk holds 5 values, its metadata says 7`},
		},
		{
			name: "page past the chunk",
			data: int32File(required, 5, pt.Chunk{Pages: []pt.Page{{Header: withSizes(pt.V1(5, pqformat.Plain), 200, 200), Data: five}}}),
			want: []string{"page 0", "go past the end of its column chunk"},
		},
		{
			name: "uncompressed page with two sizes",
			data: int32File(required, 5, pt.Chunk{Pages: []pt.Page{{Header: withSizes(pt.V1(5, pqformat.Plain), 20, 0), Data: five, Raw: make([]byte, 24)}}}),
			want: []string{"page 0", "an uncompressed page of 20 bytes declares 24"},
		},
		{
			name: "snappy page shorter than declared",
			data: int32File(required, 5, pt.Chunk{Codec: pqformat.Snappy, Pages: []pt.Page{{Header: pt.V1(5, pqformat.Plain), Data: s2.EncodeSnappy(nil, five), Raw: make([]byte, 24)}}}),
			want: []string{"page 0", "does not decompress to the size its header declares"},
		},
		{
			name: "snappy page longer than declared",
			data: int32File(required, 5, pt.Chunk{Codec: pqformat.Snappy, Pages: []pt.Page{{Header: pt.V1(5, pqformat.Plain), Data: s2.EncodeSnappy(nil, append(five, 0)), Raw: five}}}),
			want: []string{"page 0", "does not decompress to the size its header declares"},
		},
		{
			name: "bad CRC",
			data: int32File(required, 5, pt.Chunk{Pages: []pt.Page{{Header: withCRC(pt.V1(5, pqformat.Plain), 1234), Data: five}}}),
			want: []string{"page 0", "CRC mismatch"},
		},
		{
			name: "definition level above the maximum",
			data: int32File(optional, 2, pt.Chunk{Pages: []pt.Page{
				{Header: pt.V1(2, pqformat.Plain), Data: pt.Concat(pt.RLEV1(2, []int{1, 3}), pt.PlainInt32(1))},
			}}),
			want: []string{"page 0"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, err := readErr(t, tt.data)
			wantErr(t, err, tt.want...)
			if len(recs) > 0 {
				t.Errorf("records read from a corrupt page: %q", recs)
			}
		})
	}
}

func withSizes(h pqformat.PageHeader, compressed, uncompressed int32) pqformat.PageHeader {
	h.CompressedPageSize, h.UncompressedPageSize = compressed, uncompressed
	return h
}

func withCRC(h pqformat.PageHeader, crc int32) pqformat.PageHeader {
	h.CRC = crc
	return h
}

// TestCorruptSchemaType: a leaf of a physical type that does not exist
// (PARQUET-1481) read as nulls.
func TestCorruptSchemaType(t *testing.T) {
	f := pt.File{
		Schema:    []pqformat.SchemaElement{pt.Root(1), pt.Leaf("a", pqformat.Type(-7), optional)},
		RowGroups: []pt.RowGroup{{NumRows: 2, Chunks: []pt.Chunk{{Pages: []pt.Page{{Header: pt.V1(2, pqformat.Plain), Data: pt.Concat(pt.RLEV1(1, []int{1, 1}), pt.PlainInt32(1, 2))}}}}}},
	}
	_, err := readErr(t, f.Bytes())
	wantErr(t, err, "invalid schema", `"a"`, "invalid physical type -7")
}

// bigValuePage is a zstd-compressed dictionary page of one BYTE_ARRAY
// value of n bytes, and a data page using it.
func bigValueFile(t testing.TB, n int) []byte {
	value := bytes.Repeat([]byte{'a'}, n)
	raw := pt.PlainBytes(value)
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	z := enc.EncodeAll(raw, nil)
	enc.Close()
	f := pt.File{
		Schema: []pqformat.SchemaElement{pt.Root(1), pt.Leaf("a", pqformat.ByteArray, required)},
		RowGroups: []pt.RowGroup{{NumRows: 1, Chunks: []pt.Chunk{{Codec: pqformat.Zstd, Pages: []pt.Page{
			{Header: pt.Dict(1), Data: z, Raw: raw},
			{Header: pt.V1(1, pqformat.RLEDictionary), Data: zstdOf(t, append([]byte{1}, pt.RLE(1, []int{0})...)), Raw: append([]byte{1}, pt.RLE(1, []int{0})...)},
		}}}}},
	}
	return f.Bytes()
}

func zstdOf(t testing.TB, b []byte) []byte {
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	return enc.EncodeAll(b, nil)
}

// TestDeclaredLengths: a page that declares more bytes than its values
// may hold (a value longer than MaxRecordBytes) fails before anything is
// allocated for it. The library allocated what the page declared (a
// 4 KB file of two 1 GiB map keys took 5.3 GB).
func TestDeclaredLengths(t *testing.T) {
	data := bigValueFile(t, 64<<20)
	if len(data) > 64<<10 {
		t.Fatalf("the test file is %d bytes", len(data))
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := readErr(t, data, func(o *format.Options) { o.MaxRecordBytes = 1 << 20 })
	runtime.ReadMemStats(&after)
	wantErr(t, err, `row group 0, column "a", page 0`, "a value longer than --max-record-bytes (1048576)")
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 16<<20 {
		t.Errorf("allocated %d MB reading a %d-byte file", grew>>20, len(data))
	}

	// Within the limit, the same value loads.
	data = bigValueFile(t, 3<<20)
	recs, err := readErr(t, data, func(o *format.Options) { o.MaxRecordBytes = 4 << 20 })
	if err != nil || len(recs) != 1 || len(recs[0][0]) != 2+3<<20 {
		t.Fatalf("%d records, %v", len(recs), err)
	}

	// A page that declares more values than ferry reads in one page.
	h := pt.V1(1<<30, pqformat.Plain)
	data = int32File(optional, 1, pt.Chunk{NumValues: 1 << 30, Pages: []pt.Page{{Header: h, Data: pt.Concat(pt.RLEV1(1, make([]int, 1)), pt.PlainInt32())}}})
	runtime.ReadMemStats(&before)
	_, err = readErr(t, data)
	runtime.ReadMemStats(&after)
	wantErr(t, err, "page 0", "declares 1073741824 values")
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 16<<20 {
		t.Errorf("allocated %d MB reading a %d-byte file", grew>>20, len(data))
	}
}

// TestValidLayouts: layouts the library refused.
func TestValidLayouts(t *testing.T) {
	t.Run("column chunk key-value metadata without a value", func(t *testing.T) {
		data := int32File(required, 2, pt.Chunk{
			KeyValue: []pt.KeyValue{{Key: "with", Value: ptr("value")}, {Key: "without"}},
			Pages:    []pt.Page{{Header: pt.V1(2, pqformat.Plain), Data: pt.PlainInt32(7, 8)}},
		})
		diff(t, readAll(t, data), [][]string{{"n:7"}, {"n:8"}})
	})
	t.Run("empty v2 page", func(t *testing.T) {
		// A null in a snappy v2 page: two bytes of levels, no values
		// and nothing to decompress.
		f := pt.File{
			Schema: []pqformat.SchemaElement{pt.Root(1), pt.Leaf("value", pqformat.Float, optional)},
			RowGroups: []pt.RowGroup{{NumRows: 2, Chunks: []pt.Chunk{{Codec: pqformat.Snappy, Pages: []pt.Page{
				pt.V2Page(pt.V2(1, 1, 1, pqformat.Plain), nil, pt.RLE(1, []int{0}), nil, snappy),
				pt.V2Page(pt.V2(1, 0, 1, pqformat.Plain), nil, pt.RLE(1, []int{1}), pt.PlainFloat(1.5), snappy),
			}}}}},
		}
		diff(t, readAll(t, f.Bytes()), [][]string{{"null"}, {"n:1.5"}})
	})
	t.Run("v2 page not compressed in a compressed chunk", func(t *testing.T) {
		f := pt.File{
			Schema: []pqformat.SchemaElement{pt.Root(1), pt.Leaf("a", pqformat.Int32, required)},
			RowGroups: []pt.RowGroup{{NumRows: 2, Chunks: []pt.Chunk{{Codec: pqformat.Snappy, Pages: []pt.Page{
				pt.V2Page(pt.V2(2, 0, 2, pqformat.Plain), nil, nil, pt.PlainInt32(3, 4), nil),
			}}}}},
		}
		diff(t, readAll(t, f.Bytes()), [][]string{{"n:3"}, {"n:4"}})
	})
	t.Run("chunk with only a dictionary page", func(t *testing.T) {
		f := pt.File{
			Schema:    []pqformat.SchemaElement{pt.Root(1), pt.Leaf("a", pqformat.Int32, optional)},
			RowGroups: []pt.RowGroup{{NumRows: 0, Chunks: []pt.Chunk{{Pages: []pt.Page{{Header: pt.Dict(1), Data: pt.PlainInt32(1)}}}}}},
		}
		diff(t, readAll(t, f.Bytes()), nil)
	})
	t.Run("index page", func(t *testing.T) {
		data := int32File(required, 2, pt.Chunk{Pages: []pt.Page{
			{Header: pqformat.PageHeader{Type: pqformat.IndexPage, IndexPageHeader: thrift.New(pqformat.IndexPageHeader{})}, Data: []byte{1, 2, 3}},
			{Header: pt.V1(2, pqformat.Plain), Data: pt.PlainInt32(7, 8)},
		}})
		diff(t, readAll(t, data), [][]string{{"n:7"}, {"n:8"}})
	})
}

func snappy(b []byte) []byte { return s2.EncodeSnappy(nil, b) }

func repeat(v, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// TestThriftDeclarations: a footer or page header that declares a huge
// list or binary value fails before it is allocated (the library's Thrift
// decoder allocated what was declared).
func TestThriftDeclarations(t *testing.T) {
	// A footer: version 1, then a schema list of 2^31-1 elements.
	footer := []byte{0x15, 0x02, 0x19, 0xfc, 0xff, 0xff, 0xff, 0xff, 0x07, 0x00}
	bigList := pt.Concat([]byte("PAR1"), footer, binary.LittleEndian.AppendUint32(nil, uint32(len(footer))), []byte("PAR1"))

	// A page header whose statistics' max value declares 1 GiB.
	h := pt.V1(5, pqformat.Plain)
	h.DataPageHeader.V.Statistics.MaxValue = []byte("MAXMAXMAXM")
	good := int32File(required, 5, pt.Chunk{Pages: []pt.Page{{Header: h, Data: pt.PlainInt32(1, 2, 3, 4, 5)}}})
	i := bytes.Index(good, []byte("MAXMAXMAXM"))
	if i < 1 || good[i-1] != 10 {
		t.Fatal("no statistics value in the page header")
	}
	bigValue := pt.Concat(good[:i-1], []byte{0x80, 0x80, 0x80, 0x80, 0x04}, good[i:])

	for _, tt := range []struct {
		name string
		data []byte
		want []string
	}{
		{"footer list", bigList, []string{"invalid Parquet footer", "list of 2147483647"}},
		{"page header value", bigValue, []string{`column "a", page 0`, "invalid page header", "binary value of 1073741824"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, err := readErr(t, tt.data)
			runtime.ReadMemStats(&after)
			wantErr(t, err, tt.want...)
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 16<<20 {
				t.Errorf("allocated %d MB reading a %d-byte file", grew>>20, len(tt.data))
			}
		})
	}
}
