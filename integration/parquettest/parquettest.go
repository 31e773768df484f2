// Package parquettest builds Parquet files byte by byte, for tests and
// the conformance corpus: files the library's writer cannot make (corrupt
// ones, and valid layouts it never writes, such as an empty v2 page or
// key-value metadata on a column chunk).
//
// A File is a schema and row groups of column chunks, each a list of
// pages given as their header and stored bytes (already encoded and
// compressed: see the helpers). Bytes lays them out after the "PAR1"
// magic and writes the footer; sizes and offsets are filled in unless a
// test sets them to lie.
//
// It lives under integration/ because the corpus generator
// (integration/corpusgen) uses it, and code there may import only
// integration (cmd/ferry's TestImportsFollowTheFlow); the Parquet reader's
// own tests use it too.
package parquettest

import (
	"bytes"
	"encoding/binary"
	"math"
	"slices"

	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// File is a Parquet file to build.
type File struct {
	Schema    []format.SchemaElement // root first, flattened depth-first
	RowGroups []RowGroup
}

// RowGroup is one row group: NumRows and a chunk per leaf column.
type RowGroup struct {
	NumRows int64
	Chunks  []Chunk
}

// Chunk is a column chunk.
type Chunk struct {
	Codec format.CompressionCodec
	Pages []Page
	// NumValues is the chunk's num_values in the footer; 0 means the sum
	// of its pages' values.
	NumValues int64
	// KeyValue is the chunk's key-value metadata; an entry with a nil
	// Value has none (the field is optional).
	KeyValue []KeyValue
}

// KeyValue is an entry of key-value metadata.
type KeyValue struct {
	Key   string
	Value *string
}

// Page is one page: its header and the bytes stored after it.
// CompressedPageSize is set from Data when it is 0, and
// UncompressedPageSize from Raw (the page before compression) when it
// is 0 and Raw is not nil, else from Data.
type Page struct {
	Header format.PageHeader
	Data   []byte
	Raw    []byte
}

// Footer structs of this package's own, so that tests can write what the
// library's would not (an entry of key-value metadata without a value).
type fileMeta struct {
	Version   int32                  `thrift:"1,required"`
	Schema    []format.SchemaElement `thrift:"2,required"`
	NumRows   int64                  `thrift:"3,required"`
	RowGroups []rowGroupMeta         `thrift:"4,required"`
	CreatedBy string                 `thrift:"6,optional"`
}

type rowGroupMeta struct {
	Columns       []chunkMeta `thrift:"1,required"`
	TotalByteSize int64       `thrift:"2,required"`
	NumRows       int64       `thrift:"3,required"`
}

type chunkMeta struct {
	FileOffset int64      `thrift:"2,required"`
	MetaData   columnMeta `thrift:"3,optional"`
}

type columnMeta struct {
	Type                  format.Type             `thrift:"1,required"`
	Encoding              []format.Encoding       `thrift:"2,required"`
	PathInSchema          []string                `thrift:"3,required"`
	Codec                 format.CompressionCodec `thrift:"4,required"`
	NumValues             int64                   `thrift:"5,required"`
	TotalUncompressedSize int64                   `thrift:"6,required"`
	TotalCompressedSize   int64                   `thrift:"7,required"`
	KeyValueMetadata      []keyValue              `thrift:"8,optional"`
	DataPageOffset        int64                   `thrift:"9,required"`
	DictionaryPageOffset  int64                   `thrift:"11,optional"`
}

type keyValue struct {
	Key   string  `thrift:"1,required"`
	Value *string `thrift:"2,optional"`
}

// Bytes lays the file out.
func (f *File) Bytes() []byte {
	var b bytes.Buffer
	b.WriteString("PAR1")
	md := fileMeta{Version: 1, Schema: f.Schema, CreatedBy: "ferry parquettest"}
	leaves := leafPaths(f.Schema)
	for _, g := range f.RowGroups {
		rg := rowGroupMeta{NumRows: g.NumRows}
		md.NumRows += g.NumRows
		for j, c := range g.Chunks {
			start := int64(b.Len())
			cm := columnMeta{Codec: c.Codec, NumValues: c.NumValues, DataPageOffset: -1}
			if j < len(leaves) {
				cm.PathInSchema = leaves[j].path
				cm.Type = leaves[j].typ
			}
			encs := map[format.Encoding]bool{}
			var values int64
			for _, p := range c.Pages {
				h := p.Header
				if h.CompressedPageSize == 0 {
					h.CompressedPageSize = int32(len(p.Data))
				}
				if h.UncompressedPageSize == 0 {
					if p.Raw != nil {
						h.UncompressedPageSize = int32(len(p.Raw))
					} else {
						h.UncompressedPageSize = int32(len(p.Data))
					}
				}
				off := int64(b.Len())
				switch h.Type {
				case format.DictionaryPage:
					if cm.DictionaryPageOffset == 0 {
						cm.DictionaryPageOffset = off
					}
					encs[h.DictionaryPageHeader.V.Encoding] = true
				case format.DataPage:
					values += int64(h.DataPageHeader.V.NumValues)
					encs[h.DataPageHeader.V.Encoding] = true
				case format.DataPageV2:
					values += int64(h.DataPageHeaderV2.V.NumValues)
					encs[h.DataPageHeaderV2.V.Encoding] = true
				}
				if cm.DataPageOffset < 0 && h.Type != format.DictionaryPage {
					cm.DataPageOffset = off
				}
				hb, err := thrift.Marshal(new(thrift.CompactProtocol), &h)
				if err != nil {
					panic(err)
				}
				b.Write(hb)
				b.Write(p.Data)
				cm.TotalUncompressedSize += int64(len(hb)) + int64(h.UncompressedPageSize)
			}
			if cm.DataPageOffset < 0 {
				cm.DataPageOffset = start
			}
			if cm.NumValues == 0 {
				cm.NumValues = values
			}
			for e := range encs {
				cm.Encoding = append(cm.Encoding, e)
			}
			slices.Sort(cm.Encoding) // the same bytes every time
			if len(cm.Encoding) == 0 {
				cm.Encoding = []format.Encoding{format.Plain}
			}
			for _, kv := range c.KeyValue {
				cm.KeyValueMetadata = append(cm.KeyValueMetadata, keyValue(kv))
			}
			cm.TotalCompressedSize = int64(b.Len()) - start
			rg.TotalByteSize += cm.TotalUncompressedSize
			rg.Columns = append(rg.Columns, chunkMeta{FileOffset: start, MetaData: cm})
		}
		md.RowGroups = append(md.RowGroups, rg)
	}
	fb, err := thrift.Marshal(new(thrift.CompactProtocol), &md)
	if err != nil {
		panic(err)
	}
	b.Write(fb)
	b.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(fb))))
	b.WriteString("PAR1")
	return b.Bytes()
}

type leaf struct {
	path []string
	typ  format.Type
}

// leafPaths returns the leaf columns of a flattened schema.
func leafPaths(s []format.SchemaElement) []leaf {
	var out []leaf
	i := 1
	var walk func(n int, path []string)
	walk = func(n int, path []string) {
		for range n {
			if i >= len(s) {
				return
			}
			e := s[i]
			i++
			p := append(append([]string(nil), path...), e.Name)
			if nc, ok := e.NumChildren.Get(); ok && nc > 0 {
				walk(int(nc), p)
				continue
			}
			out = append(out, leaf{p, e.Type.V})
		}
	}
	if len(s) > 0 {
		nc, _ := s[0].NumChildren.Get()
		walk(int(nc), nil)
	}
	return out
}

// Root is the schema's root element with n fields.
func Root(n int) format.SchemaElement {
	return format.SchemaElement{Name: "schema", NumChildren: thrift.New(int32(n))}
}

// Leaf is a leaf schema element.
func Leaf(name string, t format.Type, rep format.FieldRepetitionType) format.SchemaElement {
	return format.SchemaElement{Name: name, Type: thrift.New(t), RepetitionType: thrift.New(rep)}
}

// Group is a group schema element with n fields.
func Group(name string, n int, rep format.FieldRepetitionType) format.SchemaElement {
	return format.SchemaElement{Name: name, NumChildren: thrift.New(int32(n)), RepetitionType: thrift.New(rep)}
}

// V1 is a data page v1 header of n values.
func V1(n int32, enc format.Encoding) format.PageHeader {
	return format.PageHeader{Type: format.DataPage, DataPageHeader: thrift.New(format.DataPageHeader{
		NumValues: n, Encoding: enc, DefinitionLevelEncoding: format.RLE, RepetitionLevelEncoding: format.RLE,
	})}
}

// V2 is a data page v2 header; its level byte lengths are set by
// V2Page.
func V2(values, nulls, rows int32, enc format.Encoding) format.PageHeader {
	return format.PageHeader{Type: format.DataPageV2, DataPageHeaderV2: thrift.New(format.DataPageHeaderV2{
		NumValues: values, NumNulls: nulls, NumRows: rows, Encoding: enc,
	})}
}

// V2Page is a v2 page: repetition and definition levels (RLE, no length
// prefix) stored as they are, then values, compressed by compress (nil:
// stored as they are, and the page says it is not compressed).
func V2Page(h format.PageHeader, rep, def, values []byte, compress func([]byte) []byte) Page {
	v := &h.DataPageHeaderV2.V
	v.RepetitionLevelsByteLength = int32(len(rep))
	v.DefinitionLevelsByteLength = int32(len(def))
	stored := values
	if compress == nil {
		v.IsCompressed = thrift.New(false)
	} else if len(values) > 0 {
		stored = compress(values)
	}
	levels := append(append([]byte(nil), rep...), def...)
	h.UncompressedPageSize = int32(len(levels) + len(values))
	return Page{Header: h, Data: append(levels, stored...)}
}

// Dict is a dictionary page header of n values (PLAIN).
func Dict(n int32) format.PageHeader {
	return format.PageHeader{Type: format.DictionaryPage, DictionaryPageHeader: thrift.New(format.DictionaryPageHeader{
		NumValues: n, Encoding: format.Plain,
	})}
}

// RLE encodes levels of bitWidth bits with the RLE/bit-packing hybrid
// encoding, as runs only, without the 4-byte length of v1 pages.
func RLE(bitWidth int, levels []int) []byte {
	var b []byte
	width := (bitWidth + 7) / 8
	for i := 0; i < len(levels); {
		j := i
		for j < len(levels) && levels[j] == levels[i] {
			j++
		}
		b = binary.AppendUvarint(b, uint64(j-i)<<1)
		for k := range width {
			b = append(b, byte(levels[i]>>(8*k)))
		}
		i = j
	}
	return b
}

// RLEV1 is RLE with the 4-byte length v1 pages put before levels.
func RLEV1(bitWidth int, levels []int) []byte {
	r := RLE(bitWidth, levels)
	return append(binary.LittleEndian.AppendUint32(nil, uint32(len(r))), r...)
}

// PlainInt32 encodes values with PLAIN.
func PlainInt32(vs ...int32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint32(b, uint32(v))
	}
	return b
}

// PlainFloat encodes values with PLAIN.
func PlainFloat(vs ...float32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

// PlainBytes encodes BYTE_ARRAY values with PLAIN.
func PlainBytes(vs ...[]byte) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(v)))
		b = append(b, v...)
	}
	return b
}

// Concat concatenates byte slices (levels, then values).
func Concat(parts ...[]byte) []byte {
	return bytes.Join(parts, nil)
}
