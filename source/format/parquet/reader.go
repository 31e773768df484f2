package parquet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	parquetgo "github.com/parquet-go/parquet-go"
	pqformat "github.com/parquet-go/parquet-go/format"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source/format"
	"github.com/ferrydata/ferry/source/format/internal/readerr"
)

func init() {
	format.RegisterAt(format.Parquet, NewAt)
}

// readRows is how many rows are taken from the row group reader at once.
const readRows = 128

// readBufferSize is the read buffer of each column chunk being read: the
// size of the ReadAt calls that read page headers and small pages (larger
// pages are read with one ReadAt). Larger buffers made no difference on
// local files, and there is one per column.
const readBufferSize = 16 << 10

// Reader reads a Parquet file row by row. Create it with NewAt. It is not
// safe for concurrent use.
type Reader struct {
	o      format.Options
	ra     io.ReaderAt
	md     *fileMeta
	schema *parquetgo.Schema   // the library's, for its row reader
	decs   []*parquetgo.Column // the library's leaf columns, as page decoders
	limits pageLimits
	fields []*node // top-level fields, in schema order
	leaves []*node // leaf columns
	cols   []string
	nleaf  int
	groups []rowGroupMeta
	total  int64 // rows in the file

	next   int             // next row group to open
	rows   parquetgo.Rows  // the open row group, nil between groups
	group  int             // index of the open row group
	gread  int64           // rows of the open row group read so far
	grows  int64           // rows of the open row group
	skip   int64           // rows still to skip (resuming)
	buf    []parquetgo.Row // buf[bi:bn]: read, not yet in a batch
	bi, bn int

	vals [][]parquetgo.Value // the current row's values by leaf column
	w    jsonWriter

	nrec int64 // rows consumed (good and bad) since the file start
	pos  int64 // rows up to the last one returned
	errs readerr.Errs
}

var _ format.Reader = (*Reader)(nil)

// NewAt returns a Reader for the Parquet file ra of size bytes, resuming
// after start.Records rows (start.Offset is not used). It reads the footer
// and fails if the file is not Parquet.
func NewAt(ra io.ReaderAt, size int64, o format.Options, start pusher.Position) (format.Reader, error) {
	return newReader(ra, size, o, start)
}

func newReader(ra io.ReaderAt, size int64, o format.Options, start pusher.Position) (*Reader, error) {
	o = o.WithDefaults()
	if start.Records < 0 {
		return nil, fmt.Errorf("parquet: invalid start position %+v", start)
	}
	if headerLayoutErr != nil {
		return nil, headerLayoutErr
	}
	if err := checkMagic(ra, size); err != nil {
		return nil, err
	}
	md, err := readFooter(ra, size)
	if err != nil {
		return nil, err
	}
	fields, leaves, err := buildSchema(md.Schema)
	if err != nil {
		return nil, fmt.Errorf("parquet: invalid schema: %w", err)
	}
	schema, decs, err := decoders(md.Schema)
	if err != nil {
		return nil, fmt.Errorf("parquet: invalid schema: %w", err)
	}
	nleaf := len(leaves)
	if len(decs) != nleaf {
		return nil, fmt.Errorf("parquet: invalid schema: %d leaf columns, the Parquet library sees %d", nleaf, len(decs))
	}
	r := &Reader{
		o:      o,
		ra:     ra,
		md:     md,
		schema: schema,
		decs:   decs,
		limits: newPageLimits(o.MaxRecordBytes),
		fields: fields,
		leaves: leaves,
		nleaf:  nleaf,
		pos:    start.Records,
		groups: md.RowGroups,
		skip:   start.Records,
		nrec:   start.Records,
		buf:    make([]parquetgo.Row, readRows),
		vals:   make([][]parquetgo.Value, nleaf),
	}
	r.w.cols = r.vals
	r.w.pos = make([]int, nleaf)
	for _, n := range fields {
		r.cols = append(r.cols, n.name)
	}
	for i, g := range r.groups {
		if n := len(g.Columns); n != nleaf {
			return nil, fmt.Errorf("parquet: invalid footer: row group %d has %d column chunks, the schema %d leaf columns", i, n, nleaf)
		}
		for j := range g.Columns {
			m := &g.Columns[j].MetaData
			if m.Type != pqformat.Type(leaves[j].conv.phys) {
				return nil, fmt.Errorf("parquet: invalid footer: row group %d, column %q holds %v values, the schema says %v", i, leaves[j].path, m.Type, pqformat.Type(leaves[j].conv.phys))
			}
			if !codecSupported(m.Codec) {
				return nil, fmt.Errorf("parquet: row group %d, column %q: unsupported compression codec %v", i, leaves[j].path, m.Codec)
			}
		}
		r.total += g.NumRows
	}
	if start.Records > r.total {
		return nil, fmt.Errorf("parquet: cannot resume after record %d: the file has %d rows", start.Records, r.total)
	}
	return r, nil
}

// checkMagic tells a file that is not Parquet, or is cut short, from one
// whose footer does not decode.
func checkMagic(ra io.ReaderAt, size int64) error {
	if size < 12 {
		return fmt.Errorf("parquet: not a Parquet file: %d bytes is too short", size)
	}
	var head [4]byte
	if _, err := readFull(ra, head[:], 0); err != nil {
		return fmt.Errorf("parquet: read the header: %w", err)
	}
	var tail [8]byte
	if _, err := readFull(ra, tail[:], size-8); err != nil {
		return fmt.Errorf("parquet: read the footer: %w", err)
	}
	switch {
	case string(head[:]) == "PARE" || string(tail[4:]) == "PARE":
		return errors.New("parquet: encrypted Parquet files are not supported")
	case string(head[:]) != "PAR1":
		return errors.New("parquet: not a Parquet file (no PAR1 magic at the start)")
	case string(tail[4:]) != "PAR1":
		return errors.New("parquet: not a Parquet file, or truncated: no PAR1 magic at the end")
	}
	if n := int64(binary.LittleEndian.Uint32(tail[:4])); n > size-12 {
		return fmt.Errorf("parquet: invalid Parquet footer: %d bytes long in a %d-byte file (truncated?)", n, size)
	}
	return nil
}

func readFull(ra io.ReaderAt, p []byte, off int64) (int, error) {
	n, err := ra.ReadAt(p, off)
	if n == len(p) {
		return n, nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// Pos is the position after the last record returned: Records counts the
// rows from the start of the file; Offset is always 0.
func (r *Reader) Pos() pusher.Position { return pusher.Position{Records: r.pos} }

// Close stops the background page readers of the open row group. Next
// fails after it.
func (r *Reader) Close() error {
	r.closeGroup()
	r.errs.Stop(errors.New("parquet: reader closed"))
	return nil
}

// Next resets b and fills it with the next rows; see the package doc.
func (r *Reader) Next(b *pusher.Batch) (err error) {
	b.Reset()
	b.Columns = r.cols
	pos := r.pos
	defer func() {
		// The library panics on some corrupt data; fill recovers where
		// pages are read, this is for the values of a row.
		// No error is kept or final here: Next returns before reading
		// while one is due.
		if v := recover(); v != nil {
			b.Reset()
			r.pos = pos
			r.closeGroup()
			err = fmt.Errorf("parquet: row group %d, row %d: corrupt data: %v", r.group, r.nrec, v)
			r.errs.Stop(err)
		}
	}()
	if err := r.errs.Due(); err != nil {
		return err
	}
	for {
		if r.bi == r.bn {
			if err := r.fill(); err != nil {
				return r.fail(b, err)
			}
			continue
		}
		row := r.buf[r.bi]
		r.bi++
		r.nrec++
		if err := r.record(b, row); err != nil {
			return r.fail(b, err)
		}
		r.pos = r.nrec
		if b.Len() >= r.o.BatchRows || b.Size() >= r.o.BatchBytes {
			return nil
		}
	}
}

// fail returns err now when b is empty, and otherwise returns b with a nil
// error and keeps err for the next call. Errors other than RecordErrors
// are final and close the open row group.
func (r *Reader) fail(b *pusher.Batch, err error) error {
	if !readerr.IsRecordError(err) {
		r.closeGroup()
	}
	return r.errs.Fail(b, err)
}

// fill reads the next rows into buf, opening row groups as needed. It
// returns io.EOF after the last row group.
func (r *Reader) fill() (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("parquet: row group %d: corrupt data: %v", r.group, v)
		}
	}()
	for {
		if r.rows == nil {
			if err := r.openGroup(); err != nil {
				return err
			}
		}
		n, err := r.rows.ReadRows(r.buf)
		r.bi, r.bn = 0, n
		r.gread += int64(n)
		if r.gread > r.grows {
			return fmt.Errorf("parquet: row group %d holds more rows than the %d its metadata says", r.group, r.grows)
		}
		switch {
		case err == io.EOF:
			if r.gread != r.grows {
				return fmt.Errorf("parquet: row group %d holds %d rows, its metadata says %d", r.group, r.gread, r.grows)
			}
			r.closeGroup()
		case err != nil:
			var pe *pageErr
			if errors.As(err, &pe) {
				return fmt.Errorf("parquet: %w", err)
			}
			return fmt.Errorf("parquet: row group %d: %w", r.group, err)
		case n == 0:
			return fmt.Errorf("parquet: row group %d: %w", r.group, io.ErrNoProgress)
		}
		if n > 0 {
			return nil
		}
	}
}

// openGroup opens the next row group that has rows to read, skipping
// whole row groups and then rows while resuming.
func (r *Reader) openGroup() error {
	for r.next < len(r.groups) {
		i := r.next
		g := &r.groups[i]
		r.next++
		n := g.NumRows
		if r.skip >= n {
			r.skip -= n
			continue
		}
		r.group, r.gread, r.grows = i, r.skip, n
		r.rows = r.rowGroup(i).Rows()
		if r.skip > 0 {
			if err := r.rows.SeekToRow(r.skip); err != nil {
				return fmt.Errorf("parquet: row group %d: seek to row %d: %w", i, r.skip, err)
			}
			r.skip = 0
		}
		return nil
	}
	return io.EOF
}

func (r *Reader) closeGroup() {
	if r.rows != nil {
		r.rows.Close()
		r.rows = nil
	}
}

// record adds one row to b: one field per top-level field. On an error
// the row is not in b.
func (r *Reader) record(b *pusher.Batch, row parquetgo.Row) error {
	b.StartRecord()
	if err := r.addFields(b, row); err != nil {
		b.DropRecord()
		return err
	}
	return nil
}

func (r *Reader) addFields(b *pusher.Batch, row parquetgo.Row) error {
	// Split the row's values by leaf column: they come in column order.
	i := 0
	for j := range r.nleaf {
		s := i
		for i < len(row) && row[i].Column() == j {
			i++
		}
		r.vals[j] = row[s:i]
	}
	if i != len(row) {
		return r.corrupt("values out of column order")
	}
	start := len(b.Data)
	for _, n := range r.fields {
		if n.isLeaf() && !n.repeated() {
			vs := r.vals[n.leaf]
			if len(vs) != 1 {
				return r.corrupt(fmt.Sprintf("column %q has %d values in one row", n.path, len(vs)))
			}
			v := vs[0]
			if v.IsNull() {
				b.AddNull()
				continue
			}
			if v.Kind() != n.conv.phys {
				return r.corrupt(fmt.Sprintf("column %q: a %v value in a %v column", n.path, v.Kind(), n.conv.phys))
			}
			s := len(b.Data)
			var k pusher.Kind
			b.Data, k = n.conv.appendValue(b.Data, v)
			b.Fields = append(b.Fields, pusher.Field{Start: uint32(s), End: uint32(len(b.Data)), Kind: k})
			continue
		}
		if err := r.nested(b, n); err != nil {
			return err
		}
	}
	if len(b.Data)-start > r.o.MaxRecordBytes {
		return &pusher.RecordError{Record: r.nrec, Offset: -1,
			Err: fmt.Errorf("record longer than %d bytes", r.o.MaxRecordBytes)}
	}
	return nil
}

// nested adds a group or repeated field as JSON (Null when absent).
func (r *Reader) nested(b *pusher.Batch, n *node) error {
	w := &r.w
	for j := n.leaf; j < n.leaf+n.nleaves; j++ {
		w.pos[j] = 0
	}
	w.bad = false
	w.buf = w.buf[:0]
	if vs := r.vals[n.leaf]; !n.repeated() && len(vs) > 0 && vs[0].DefinitionLevel() < n.defLevel {
		w.skip(n)
		b.AddNull()
	} else {
		w.field(n)
		b.AddField(pusher.JSON, w.buf)
	}
	for j := n.leaf; j < n.leaf+n.nleaves; j++ {
		if w.pos[j] != len(r.vals[j]) {
			w.bad = true
		}
	}
	if w.bad {
		return r.corrupt(fmt.Sprintf("field %q: levels do not fit the schema", n.name))
	}
	return nil
}

func (r *Reader) corrupt(what string) error {
	return fmt.Errorf("parquet: row group %d, row %d: corrupt data: %s", r.group, r.nrec, what)
}

// rowGroup returns row group i for the library's row reader, its column
// chunks read by pageReaders, in the background (one page ahead).
func (r *Reader) rowGroup(i int) parquetgo.RowGroup {
	g := &r.groups[i]
	rg := &rowGroup{schema: r.schema, rows: g.NumRows, chunks: make([]parquetgo.ColumnChunk, len(g.Columns))}
	for j := range g.Columns {
		rg.chunks[j] = &columnChunk{r: r, chunk: &g.Columns[j], col: r.decs[j],
			where: fmt.Sprintf("row group %d, column %q", i, r.leaves[j].path)}
	}
	return rg
}

type rowGroup struct {
	schema *parquetgo.Schema
	rows   int64
	chunks []parquetgo.ColumnChunk
}

var _ parquetgo.RowGroup = (*rowGroup)(nil)

func (g *rowGroup) NumRows() int64                            { return g.rows }
func (g *rowGroup) ColumnChunks() []parquetgo.ColumnChunk     { return g.chunks }
func (g *rowGroup) Schema() *parquetgo.Schema                 { return g.schema }
func (g *rowGroup) SortingColumns() []parquetgo.SortingColumn { return nil }
func (g *rowGroup) Rows() parquetgo.Rows                      { return parquetgo.NewRowGroupRowReader(g) }

type columnChunk struct {
	r     *Reader
	chunk *chunkMeta
	col   *parquetgo.Column
	where string
}

var _ parquetgo.ColumnChunk = (*columnChunk)(nil)

func (c *columnChunk) Type() parquetgo.Type { return c.col.Type() }
func (c *columnChunk) Column() int          { return c.col.Index() }
func (c *columnChunk) NumValues() int64     { return c.chunk.MetaData.NumValues }
func (c *columnChunk) ColumnIndex() (parquetgo.ColumnIndex, error) {
	return nil, parquetgo.ErrMissingColumnIndex
}
func (c *columnChunk) OffsetIndex() (parquetgo.OffsetIndex, error) {
	return nil, parquetgo.ErrMissingOffsetIndex
}
func (c *columnChunk) BloomFilter() parquetgo.BloomFilter { return nil }

func (c *columnChunk) Pages() parquetgo.Pages {
	return parquetgo.AsyncPages(newPageReader(c.r.ra, c.chunk, c.col, c.where, c.r.limits))
}
