package parquet

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	parquetgo "github.com/parquet-go/parquet-go"
	pqformat "github.com/parquet-go/parquet-go/format"

	pt "github.com/ferrydata/ferry/integration/parquettest"
	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source/format"
)

// FuzzParquet damages valid files and checks that reading them never
// panics or hangs: every outcome is records, then EOF or an error. When
// the file reads without error, resuming after a prefix gives the rest.
func FuzzParquet(f *testing.F) {
	seeds := [][]byte{
		writeRows(f, groupRows(40), parquetgo.MaxRowsPerRowGroup(15), parquetgo.PageBufferSize(64)),
		writeRows(f, []nestRow{{ID: 1, L: []int32{1, 2}, LL: [][]int32{{1}, {}}, M: map[string]int64{"k": 1},
			LS: []point{{1, ptr("p")}}}}),
		writeRows(f, []decRow{{D32: -12345, DF: flba16("-1")}}, parquetgo.Compression(&parquetgo.Snappy)),
	}
	// Files the library's writer does not make: an empty v2 page and a
	// dictionary, built byte by byte; and other codecs.
	seeds = append(seeds, fuzzHandmade()...)
	seeds = append(seeds,
		writeRows(f, groupRows(30), parquetgo.Compression(&parquetgo.Zstd), parquetgo.DataPageVersion(2), parquetgo.PageBufferSize(64)),
		writeRows(f, groupRows(30), parquetgo.Compression(&parquetgo.Lz4Raw), parquetgo.PageBufferSize(128)),
	)
	for _, name := range []string{"nested_lists.snappy.parquet", "nullable.impala.parquet", "datapage_v2.snappy.parquet", "alltypes_plain.parquet"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, data)
	}
	for _, s := range seeds {
		f.Add(s, uint32(0), uint8(0), uint8(5))
		f.Add(s, uint32(len(s)/2), uint8(0xff), uint8(3))
		f.Add(s, uint32(len(s)-20), uint8(0x01), uint8(1))
	}
	f.Fuzz(func(t *testing.T, data []byte, at uint32, xor uint8, batch uint8) {
		// Damage one byte (the fuzzer also mutates the file itself).
		if len(data) > 0 && xor != 0 {
			data = bytes.Clone(data)
			data[int(at)%len(data)] ^= xor
		}
		o := format.Options{Format: format.Parquet, BatchRows: int(batch%8) + 1, MaxRecordBytes: 1 << 16}.WithDefaults()
		r, err := newReader(bytes.NewReader(data), int64(len(data)), o, pusher.Position{})
		if err != nil {
			return
		}
		var b pusher.Batch
		var all [][]string
		var positions []pusher.Position
		for i := 0; ; i++ {
			err := r.Next(&b)
			all = append(all, records(&b)...)
			if err == io.EOF {
				break
			}
			if err != nil {
				r.Close()
				return
			}
			positions = append(positions, r.Pos())
			if i > 1_000_000 {
				t.Fatal("no end")
			}
		}
		if len(positions) == 0 {
			return
		}
		p := positions[len(positions)/2]
		r2, err := newReader(bytes.NewReader(data), int64(len(data)), o, p)
		if err != nil {
			t.Fatalf("resume at %+v: %v", p, err)
		}
		var rest [][]string
		for {
			err := r2.Next(&b)
			rest = append(rest, records(&b)...)
			if err == io.EOF {
				break
			}
			if err != nil {
				// Seeking may read pages the full read did not check
				// the same way (the page index); an error is fine.
				return
			}
		}
		if int64(len(rest)) != int64(len(all))-p.Records {
			t.Fatalf("resume at %d: %d records, want %d", p.Records, len(rest), int64(len(all))-p.Records)
		}
		for i := range rest {
			if fmtCols(rest[i]) != fmtCols(all[int(p.Records)+i]) {
				t.Fatalf("resume at %d: record %d differs", p.Records, int(p.Records)+i+1)
			}
		}
	})
}

func fuzzHandmade() [][]byte {
	f := pt.File{
		Schema: []pqformat.SchemaElement{pt.Root(2), pt.Leaf("value", pqformat.Float, optional), pt.Leaf("d", pqformat.Int32, required)},
		RowGroups: []pt.RowGroup{{NumRows: 2, Chunks: []pt.Chunk{
			{Codec: pqformat.Snappy, Pages: []pt.Page{
				pt.V2Page(pt.V2(1, 1, 1, pqformat.Plain), nil, pt.RLE(1, []int{0}), nil, snappy),
				pt.V2Page(pt.V2(1, 0, 1, pqformat.Plain), nil, pt.RLE(1, []int{1}), pt.PlainFloat(1.5), snappy),
			}},
			{KeyValue: []pt.KeyValue{{Key: "k"}}, Pages: []pt.Page{
				{Header: pt.Dict(2), Data: pt.PlainInt32(10, 20)},
				{Header: pt.V1(2, pqformat.RLEDictionary), Data: append([]byte{1}, pt.RLE(1, []int{1, 0})...)},
			}},
		}}},
	}
	return [][]byte{f.Bytes()}
}
