package parquet

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"reflect"
	"unsafe"

	parquetgo "github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	pqformat "github.com/parquet-go/parquet-go/format"
)

// The footer is decoded into ferry's own structs, not the library's
// format.FileMetaData: they hold only what reading needs, and what they
// leave out is skipped unread. The library's structs declare some optional
// fields required (the value of a column chunk's key-value metadata), so
// valid files failed to open.

// fileMeta is the part of the footer (FileMetaData) the reader uses.
type fileMeta struct {
	Version   int32                    `thrift:"1,required"`
	Schema    []pqformat.SchemaElement `thrift:"2,required"`
	NumRows   int64                    `thrift:"3,required"`
	RowGroups []rowGroupMeta           `thrift:"4,required"`
}

type rowGroupMeta struct {
	Columns []chunkMeta `thrift:"1,required"`
	NumRows int64       `thrift:"3,required"`
}

type chunkMeta struct {
	FilePath          string     `thrift:"1,optional"`
	MetaData          columnMeta `thrift:"3,optional"`
	OffsetIndexOffset int64      `thrift:"4,optional"`
	OffsetIndexLength int32      `thrift:"5,optional"`
	// Encryption: the reader refuses encrypted columns.
	CryptoMetadata          *present `thrift:"8,optional"`
	EncryptedColumnMetadata []byte   `thrift:"9,optional"`
}

// present decodes any struct, leaving out its fields: only its presence
// matters.
type present struct{}

type columnMeta struct {
	Type                  pqformat.Type             `thrift:"1,required"`
	PathInSchema          []string                  `thrift:"3,required"`
	Codec                 pqformat.CompressionCodec `thrift:"4,required"`
	NumValues             int64                     `thrift:"5,required"`
	TotalCompressedSize   int64                     `thrift:"7,required"`
	DataPageOffset        int64                     `thrift:"9,required"`
	DictionaryPageOffset  int64                     `thrift:"11,optional"`
	TotalUncompressedSize int64                     `thrift:"6,required"`
}

// start is the offset of the chunk's first page: its dictionary page, if
// it has one (some writers leave the data page offset at 0 in a chunk
// without data pages).
func (m *columnMeta) start() int64 {
	if d := m.DictionaryPageOffset; d > 0 && (d < m.DataPageOffset || m.DataPageOffset < 4) {
		return d
	}
	return m.DataPageOffset
}

// readFooter reads and decodes the footer of a file checkMagic accepted.
func readFooter(ra io.ReaderAt, size int64) (*fileMeta, error) {
	var tail [8]byte
	if _, err := readFull(ra, tail[:], size-8); err != nil {
		return nil, fmt.Errorf("parquet: read the footer: %w", err)
	}
	n := int64(binary.LittleEndian.Uint32(tail[:4]))
	buf := make([]byte, n) // checkMagic: n <= size-12
	if _, err := readFull(ra, buf, size-8-n); err != nil {
		return nil, fmt.Errorf("parquet: read the footer: %w", err)
	}
	md := new(fileMeta)
	if err := decodeThrift(buf, md); err != nil {
		return nil, fmt.Errorf("parquet: invalid Parquet footer: %w", err)
	}
	if err := md.check(size - 8 - n); err != nil {
		return nil, fmt.Errorf("parquet: invalid Parquet footer: %w", err)
	}
	return md, nil
}

// check validates what reading relies on: each column chunk lies within
// the data part of the file (before the footer) and is neither encrypted
// nor in another file.
func (md *fileMeta) check(dataEnd int64) error {
	if md.NumRows < 0 {
		return fmt.Errorf("%d rows", md.NumRows)
	}
	for i := range md.RowGroups {
		g := &md.RowGroups[i]
		if g.NumRows < 0 {
			return fmt.Errorf("row group %d has %d rows", i, g.NumRows)
		}
		for j := range g.Columns {
			c := &g.Columns[j]
			m := &c.MetaData
			switch {
			case c.CryptoMetadata != nil || c.EncryptedColumnMetadata != nil:
				return fmt.Errorf("row group %d, column %d is encrypted: encrypted Parquet files are not supported", i, j)
			case c.FilePath != "":
				return fmt.Errorf("row group %d, column %d is in another file (%q): not supported", i, j, c.FilePath)
			}
			start := m.start()
			if start < 4 || m.TotalCompressedSize < 0 || m.TotalCompressedSize > dataEnd-start {
				return fmt.Errorf("row group %d, column %d: %d bytes at offset %d are outside the file's %d bytes of data", i, j, m.TotalCompressedSize, start, dataEnd)
			}
			if m.NumValues < 0 {
				return fmt.Errorf("row group %d, column %d has %d values", i, j, m.NumValues)
			}
		}
	}
	return nil
}

// decoders returns the library's schema and leaf columns for elems,
// without compression: the columns only decode pages that the reader read
// and decompressed itself (see pageReader). They come from a file of that
// schema and no row groups, opened with the library.
func decoders(elems []pqformat.SchemaElement) (_ *parquetgo.Schema, _ []*parquetgo.Column, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("%v", v)
		}
	}()
	footer, err := thrift.Marshal(new(thrift.CompactProtocol), &pqformat.FileMetaData{Version: 1, Schema: elems})
	if err != nil {
		return nil, nil, err
	}
	var b bytes.Buffer
	b.WriteString("PAR1")
	b.Write(footer)
	b.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(footer))))
	b.WriteString("PAR1")
	f, err := parquetgo.OpenFile(bytes.NewReader(b.Bytes()), int64(b.Len()), parquetgo.SkipPageIndex(true), parquetgo.SkipBloomFilters(true))
	if err != nil {
		return nil, nil, err
	}
	var leaves []*parquetgo.Column
	var walk func(c *parquetgo.Column)
	walk = func(c *parquetgo.Column) {
		if c.Leaf() {
			leaves = append(leaves, c)
			return
		}
		for _, k := range c.Columns() {
			walk(k)
		}
	}
	walk(f.Root())
	return f.Schema(), leaves, nil
}

// The library decodes pages (Column.DecodeDataPageV1 and friends) given
// its page header types, whose only field, a pointer to the Thrift header,
// is unexported. The reader builds them by conversion from a struct of
// the same layout; headerLayoutOK checks, once, that the layout is still
// that (a new library version could change it: then the reader refuses
// to run instead of misreading memory).
type (
	v1Header   struct{ h *pqformat.DataPageHeader }
	v2Header   struct{ h *pqformat.DataPageHeaderV2 }
	dictHeader struct {
		h *pqformat.DictionaryPageHeader
	}
)

var headerLayoutErr = func() error {
	check := func(v any, field any) error {
		t := reflect.TypeOf(v)
		if t.Kind() != reflect.Struct || t.NumField() != 1 || t.Field(0).Type != reflect.TypeOf(field) || t.Size() != unsafe.Sizeof(uintptr(0)) {
			return fmt.Errorf("parquet: the Parquet library's %v has an unexpected layout", t)
		}
		return nil
	}
	for _, c := range []struct{ v, f any }{
		{parquetgo.DataPageHeaderV1{}, (*pqformat.DataPageHeader)(nil)},
		{parquetgo.DataPageHeaderV2{}, (*pqformat.DataPageHeaderV2)(nil)},
		{parquetgo.DictionaryPageHeader{}, (*pqformat.DictionaryPageHeader)(nil)},
	} {
		if err := check(c.v, c.f); err != nil {
			return err
		}
	}
	return nil
}()

func libV1(h *pqformat.DataPageHeader) parquetgo.DataPageHeaderV1 {
	x := v1Header{h}
	return *(*parquetgo.DataPageHeaderV1)(unsafe.Pointer(&x))
}

func libV2(h *pqformat.DataPageHeaderV2) parquetgo.DataPageHeaderV2 {
	x := v2Header{h}
	return *(*parquetgo.DataPageHeaderV2)(unsafe.Pointer(&x))
}

func libDict(h *pqformat.DictionaryPageHeader) parquetgo.DictionaryPageHeader {
	x := dictHeader{h}
	return *(*parquetgo.DictionaryPageHeader)(unsafe.Pointer(&x))
}
