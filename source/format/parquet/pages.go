package parquet

import (
	"bufio"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	parquetgo "github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	pqformat "github.com/parquet-go/parquet-go/format"
)

// pageReader reads the pages of one column chunk. It replaces the
// library's page reader, keeping only its value decoders
// (Column.DecodeDataPageV1, DecodeDataPageV2, DecodeDictionary), so that
// what the library trusted is checked first:
//
//   - Before allocating: a page lies within its column chunk, its
//     declared sizes fit limits derived from MaxRecordBytes (no value can
//     be longer than a record may be), and its value count fits what the
//     column chunk's metadata has left.
//   - Pages are decompressed by the reader (see decompress) into buffers
//     of the declared size, which they must fill exactly. The values of a
//     v2 page are not decompressed when there are none (an empty page).
//   - After decoding: the page holds as many values as its header says,
//     as many non-null values as its definition levels say (a REQUIRED
//     column's page that holds fewer values, or levels, is corrupt), its
//     null and row counts match its v2 header, and dictionary indexes are
//     within the dictionary.
//   - At the end of the chunk, the values read match the chunk's metadata.
//
// Errors name the row group, the column and the page (counted from 0,
// the dictionary page included).
type pageReader struct {
	col    *parquetgo.Column
	meta   *columnMeta
	ra     io.ReaderAt
	chunk  *chunkMeta
	where  string // row group N, column "path"
	limits pageLimits

	start, end int64 // the chunk's bytes
	sec        *io.SectionReader
	rbuf       *bufio.Reader
	dec        thrift.Decoder

	dict   parquetgo.Dictionary
	page   int   // index of the next page
	values int64 // values in the data pages read
	// counted is whether values counts from the chunk's first page (not
	// after a seek with the offset index).
	counted bool
	zbuf    []byte

	skip    int64 // rows still to skip (SeekToRow)
	seeking bool  // skipping rows: a v1 page may start inside a row
	done    bool
}

// pageLimits bound what a page may declare.
type pageLimits struct {
	maxRecord int64 // Options.MaxRecordBytes
	maxPage   int64 // uncompressed bytes of one page
	maxValues int64 // values (levels) of one page
}

func newPageLimits(maxRecord int) pageLimits {
	l := pageLimits{maxRecord: int64(maxRecord), maxPage: max(256<<20, 2*int64(maxRecord))}
	l.maxValues = l.maxPage / 16
	return l
}

var _ parquetgo.Pages = (*pageReader)(nil)

func newPageReader(ra io.ReaderAt, chunk *chunkMeta, col *parquetgo.Column, where string, limits pageLimits) *pageReader {
	m := &chunk.MetaData
	p := &pageReader{col: col, meta: m, chunk: chunk, ra: ra, where: where, limits: limits}
	p.start = m.start()
	p.end = p.start + m.TotalCompressedSize
	p.reset(p.start)
	p.counted = true
	return p
}

func (p *pageReader) reset(off int64) {
	p.sec = io.NewSectionReader(p.ra, off, p.end-off)
	if p.rbuf == nil {
		p.rbuf = bufio.NewReaderSize(p.sec, readBufferSize)
	} else {
		p.rbuf.Reset(p.sec)
	}
	p.dec.Reset(boundedReader{new(thrift.CompactProtocol).NewReader(p.rbuf), func() int64 { return p.end - p.pos() }})
}

// pos is the file offset of the next byte to read.
func (p *pageReader) pos() int64 {
	off, _ := p.sec.Seek(0, io.SeekCurrent)
	base := p.end - p.sec.Size()
	return base + off - int64(p.rbuf.Buffered())
}

// pageErr is an error of a page, or of the column chunk (page < 0).
type pageErr struct {
	where string
	page  int
	err   error
}

func (e *pageErr) Error() string {
	if e.page < 0 {
		return e.where + ": " + e.err.Error()
	}
	return fmt.Sprintf("%s, page %d: %v", e.where, e.page, e.err)
}

func (e *pageErr) Unwrap() error { return e.err }

func (p *pageReader) fail(page int, format string, args ...any) error {
	return &pageErr{where: p.where, page: page, err: fmt.Errorf(format, args...)}
}

// ReadPage returns the next data page, or io.EOF after the last one.
func (p *pageReader) ReadPage() (pg parquetgo.Page, err error) {
	defer func() {
		if v := recover(); v != nil {
			pg, err = nil, p.fail(p.page, "corrupt page: %v", v)
		}
	}()
	for {
		if p.done {
			return nil, io.EOF
		}
		if p.pos() >= p.end {
			if p.counted && p.values != p.meta.NumValues {
				return nil, p.fail(-1, "the column chunk holds %d values, its metadata says %d", p.values, p.meta.NumValues)
			}
			p.done = true
			return nil, io.EOF
		}
		i := p.page
		p.page++
		pg, err := p.readPage(i)
		if err != nil {
			var pe *pageErr
			if errors.As(err, &pe) {
				return nil, err
			}
			return nil, p.fail(i, "%w", err)
		}
		if pg == nil {
			continue
		}
		if pg = p.skipRows(pg); pg != nil {
			return pg, nil
		}
	}
}

// skipRows applies a pending SeekToRow to a data page: nil when the whole
// page is skipped.
func (p *pageReader) skipRows(pg parquetgo.Page) parquetgo.Page {
	if !p.seeking {
		return pg
	}
	n := pg.NumRows()
	if p.skip > 0 {
		if n <= p.skip {
			p.skip -= n
			parquetgo.Release(pg)
			return nil
		}
		tail := pg.Slice(p.skip, n)
		p.skip, p.seeking = 0, false
		return tail
	}
	// The first page after the skipped ones: a v1 page may start with the
	// end of a row of the previous page.
	p.seeking = false
	if rep := pg.RepetitionLevels(); len(rep) > 0 && rep[0] != 0 {
		if n == 0 {
			p.seeking = true
			parquetgo.Release(pg)
			return nil
		}
		return pg.Slice(0, n)
	}
	return pg
}

// readPage reads page i: a data page, or nil for a dictionary or index
// page.
func (p *pageReader) readPage(i int) (parquetgo.Page, error) {
	h := new(pqformat.PageHeader)
	if err := p.dec.Decode(h); err != nil {
		return nil, fmt.Errorf("invalid page header: %w", err)
	}
	left := p.end - p.pos()
	switch {
	case h.CompressedPageSize < 0 || h.UncompressedPageSize < 0:
		return nil, fmt.Errorf("invalid page header: %d bytes compressed, %d uncompressed", h.CompressedPageSize, h.UncompressedPageSize)
	case int64(h.CompressedPageSize) > left:
		return nil, fmt.Errorf("the page's %d bytes go past the end of its column chunk (%d bytes left)", h.CompressedPageSize, left)
	}
	switch h.Type {
	case pqformat.DictionaryPage:
		if !h.DictionaryPageHeader.Valid {
			return nil, errors.New("dictionary page without its header")
		}
		if p.dict != nil || p.values > 0 {
			return nil, errors.New("a second dictionary page, or one after data pages")
		}
		return nil, p.readDictionary(h)
	case pqformat.DataPage:
		if !h.DataPageHeader.Valid {
			return nil, errors.New("data page without its header")
		}
		return p.readDataPage(h, int64(h.DataPageHeader.V.NumValues), 0, 0)
	case pqformat.DataPageV2:
		if !h.DataPageHeaderV2.Valid {
			return nil, errors.New("data page v2 without its header")
		}
		v := &h.DataPageHeaderV2.V
		switch {
		case v.NumNulls < 0 || v.NumRows < 0 || v.NumNulls > v.NumValues || v.NumRows > v.NumValues:
			return nil, fmt.Errorf("invalid page header: %d values, %d nulls, %d rows", v.NumValues, v.NumNulls, v.NumRows)
		case v.RepetitionLevelsByteLength < 0 || v.DefinitionLevelsByteLength < 0 ||
			int64(v.RepetitionLevelsByteLength)+int64(v.DefinitionLevelsByteLength) > int64(min(h.CompressedPageSize, h.UncompressedPageSize)):
			return nil, fmt.Errorf("invalid page header: levels of %d and %d bytes in a page of %d bytes", v.RepetitionLevelsByteLength, v.DefinitionLevelsByteLength, h.CompressedPageSize)
		case v.NumNulls > 0 && p.col.MaxDefinitionLevel() == 0:
			return nil, fmt.Errorf("%d nulls in a page of a REQUIRED column", v.NumNulls)
		}
		return p.readDataPage(h, int64(v.NumValues), int(v.RepetitionLevelsByteLength)+int(v.DefinitionLevelsByteLength), 2)
	}
	// Index pages, and page types of later versions of the format.
	if _, err := p.rbuf.Discard(int(h.CompressedPageSize)); err != nil {
		return nil, err
	}
	return nil, nil
}

// checkSizes checks a page's declared sizes before anything is allocated
// for it.
func (p *pageReader) checkSizes(h *pqformat.PageHeader, numValues int64) error {
	l := p.limits
	size := int64(h.UncompressedPageSize)
	switch {
	case numValues < 0:
		return fmt.Errorf("invalid page header: %d values", numValues)
	case numValues > l.maxValues:
		return fmt.Errorf("the page declares %d values, more than the %d ferry reads in one page", numValues, l.maxValues)
	case size > l.maxPage || int64(h.CompressedPageSize) > l.maxPage:
		return fmt.Errorf("the page declares %d bytes (%d compressed), more than the %d ferry reads in one page (twice --max-record-bytes, at least 256 MiB)", size, h.CompressedPageSize, l.maxPage)
	case size > max(numValues, 1)*(l.maxRecord+6)+64:
		// Each value takes at most its own bytes, a 4-byte length and
		// a byte of each level: at least one is longer than a record
		// may be.
		return fmt.Errorf("the page declares %d bytes for %d values: a value longer than --max-record-bytes (%d)", size, numValues, l.maxRecord)
	}
	return nil
}

// readBody reads the page's bytes, checks its CRC when it has one, and
// returns them decompressed, skip bytes at the start being stored as they
// are (the levels of a v2 page).
func (p *pageReader) readBody(h *pqformat.PageHeader, skip int, compressed bool) ([]byte, error) {
	n := int(h.CompressedPageSize)
	codec := p.meta.Codec
	if codec == pqformat.Uncompressed || !compressed {
		// Read straight into the page's buffer: the decoded page keeps
		// references to it.
		if h.UncompressedPageSize != h.CompressedPageSize {
			return nil, fmt.Errorf("an uncompressed page of %d bytes declares %d", h.CompressedPageSize, h.UncompressedPageSize)
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(p.rbuf, buf); err != nil {
			return nil, err
		}
		return buf, p.checkCRC(h, buf)
	}
	if cap(p.zbuf) < n {
		p.zbuf = make([]byte, n)
	}
	src := p.zbuf[:n]
	if _, err := io.ReadFull(p.rbuf, src); err != nil {
		return nil, err
	}
	if err := p.checkCRC(h, src); err != nil {
		return nil, err
	}
	buf := make([]byte, h.UncompressedPageSize)
	if skip > len(buf) {
		return nil, fmt.Errorf("levels of %d bytes in a page of %d bytes", skip, len(buf))
	}
	copy(buf, src[:skip])
	if len(buf) == skip && n == skip {
		// No values, and no bytes for them: nothing to decompress (a
		// codec would refuse empty input: an empty v2 page).
		return buf, nil
	}
	if err := decompress(codec, buf[skip:], src[skip:]); err != nil {
		return nil, fmt.Errorf("decompressing the page (%v): %w", codec, err)
	}
	return buf, nil
}

func (p *pageReader) checkCRC(h *pqformat.PageHeader, b []byte) error {
	if h.CRC == 0 {
		return nil
	}
	if got := crc32.ChecksumIEEE(b); got != uint32(h.CRC) {
		return fmt.Errorf("CRC mismatch: the header says %08x, the page has %08x", uint32(h.CRC), got)
	}
	return nil
}

func (p *pageReader) readDictionary(h *pqformat.PageHeader) error {
	d := &h.DictionaryPageHeader.V
	n := int64(d.NumValues)
	if err := p.checkSizes(h, n); err != nil {
		return err
	}
	body, err := p.readBody(h, 0, true)
	if err != nil {
		return err
	}
	if d.Encoding == pqformat.PlainDictionary {
		d.Encoding = pqformat.Plain
	}
	if d.Encoding != pqformat.Plain {
		return fmt.Errorf("dictionary page encoded with %v", d.Encoding)
	}
	dict, err := p.col.DecodeDictionary(libDict(d), body)
	if err != nil {
		return fmt.Errorf("decoding the dictionary: %w", err)
	}
	if got := int64(dict.Len()); got != n {
		return fmt.Errorf("the dictionary holds %d values, its header says %d", got, n)
	}
	p.dict = dict
	return nil
}

// readDataPage reads and decodes a data page of version 1 or 2, whose
// first levels bytes are levels stored uncompressed (v2).
func (p *pageReader) readDataPage(h *pqformat.PageHeader, numValues int64, levels int, version int) (parquetgo.Page, error) {
	if err := p.checkSizes(h, numValues); err != nil {
		return nil, err
	}
	if left := p.meta.NumValues - p.values; p.counted && numValues > left {
		return nil, fmt.Errorf("the page holds %d values, more than the %d its column chunk's metadata has left", numValues, left)
	}
	var enc pqformat.Encoding
	compressed := true
	if version == 2 {
		v := &h.DataPageHeaderV2.V
		enc = v.Encoding
		if c, ok := v.IsCompressed.Get(); ok && !c {
			compressed = false
		}
	} else {
		enc = h.DataPageHeader.V.Encoding
	}
	dictEncoded := enc == pqformat.PlainDictionary || enc == pqformat.RLEDictionary
	if dictEncoded && p.dict == nil {
		return nil, errors.New("a dictionary-encoded page without a dictionary page")
	}
	body, err := p.readBody(h, levels, compressed)
	if err != nil {
		return nil, err
	}
	var dict parquetgo.Dictionary
	if dictEncoded {
		dict = p.dict
	}
	var pg parquetgo.Page
	if version == 2 {
		v := h.DataPageHeaderV2.V
		v.IsCompressed = thrift.Null[bool]{V: false, Valid: true}
		pg, err = p.col.DecodeDataPageV2(libV2(&v), body, dict)
	} else {
		pg, err = p.col.DecodeDataPageV1(libV1(&h.DataPageHeader.V), body, dict)
	}
	if err != nil {
		return nil, fmt.Errorf("decoding the page: %w", err)
	}
	if err := p.checkPage(h, pg, numValues, dict); err != nil {
		parquetgo.Release(pg)
		return nil, err
	}
	p.values += numValues
	return pg, nil
}

// checkPage checks a decoded page against its header and levels.
func (p *pageReader) checkPage(h *pqformat.PageHeader, pg parquetgo.Page, numValues int64, dict parquetgo.Dictionary) error {
	if got := pg.NumValues(); got != numValues {
		return fmt.Errorf("the page holds %d values, its header says %d", got, numValues)
	}
	maxDef := p.col.MaxDefinitionLevel()
	nonNull := numValues
	if maxDef > 0 {
		nonNull = 0
		for _, d := range pg.DefinitionLevels() {
			if int(d) == maxDef {
				nonNull++
			} else if int(d) > maxDef {
				return fmt.Errorf("definition level %d above the column's maximum %d", d, maxDef)
			}
		}
	}
	if maxRep := p.col.MaxRepetitionLevel(); maxRep > 0 {
		for _, r := range pg.RepetitionLevels() {
			if int(r) > maxRep {
				return fmt.Errorf("repetition level %d above the column's maximum %d", r, maxRep)
			}
		}
	}
	if h.Type == pqformat.DataPageV2 {
		v := &h.DataPageHeaderV2.V
		if nulls := numValues - nonNull; nulls != int64(v.NumNulls) {
			return fmt.Errorf("the page holds %d nulls, its header says %d", nulls, v.NumNulls)
		}
		if rows := pg.NumRows(); rows != int64(v.NumRows) {
			return fmt.Errorf("the page holds %d rows, its header says %d", rows, v.NumRows)
		}
	}
	got, err := storedValues(pg.Data(), dict)
	if err != nil {
		return err
	}
	if got >= 0 && got != nonNull {
		what := "its definition levels say"
		if maxDef == 0 {
			what = "its header says (REQUIRED column)"
		}
		return fmt.Errorf("the page holds %d non-null values, %s %d", got, what, nonNull)
	}
	return nil
}

// storedValues counts the values a page's data holds, and checks that
// dictionary indexes are within the dictionary. Booleans are bits: only
// a lower bound is known (-1 when it is enough).
func storedValues(v encoding.Values, dict parquetgo.Dictionary) (int64, error) {
	if dict != nil {
		n := int32(dict.Len())
		idx := v.Int32()
		for _, i := range idx {
			if i < 0 || i >= n {
				return 0, fmt.Errorf("dictionary index %d out of a dictionary of %d values", i, n)
			}
		}
		return int64(len(idx)), nil
	}
	switch v.Kind() {
	case encoding.ByteArray:
		_, offsets := v.ByteArray()
		return int64(max(len(offsets)-1, 0)), nil
	case encoding.FixedLenByteArray:
		data, size := v.FixedLenByteArray()
		if size <= 0 {
			return 0, nil
		}
		if len(data)%size != 0 {
			return 0, fmt.Errorf("%d bytes of values of %d bytes each", len(data), size)
		}
		return int64(len(data) / size), nil
	case encoding.Boolean:
		return -1, nil
	}
	data, _ := v.Data()
	size := map[encoding.Kind]int{encoding.Int32: 4, encoding.Float: 4, encoding.Int64: 8, encoding.Double: 8, encoding.Int96: 12}[v.Kind()]
	if size == 0 {
		return -1, nil
	}
	return int64(len(data) / size), nil
}

// SeekToRow positions the reader at row (of the row group): with the
// chunk's offset index, at the page holding it, else at the first page,
// skipping rows as pages are read.
func (p *pageReader) SeekToRow(row int64) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = p.fail(-1, "corrupt page index: %v", v)
		}
	}()
	if row < 0 {
		return p.fail(-1, "seek to row %d", row)
	}
	p.reset(p.start)
	p.page, p.values, p.counted, p.done, p.dict = 0, 0, true, false, nil
	p.skip, p.seeking = row, row > 0
	if row == 0 {
		return nil
	}
	locs, err := p.offsetIndex()
	if err != nil || len(locs) == 0 {
		return err
	}
	k := 0
	for k+1 < len(locs) && locs[k+1].FirstRowIndex <= row {
		k++
	}
	if k == 0 {
		return nil
	}
	loc := locs[k]
	if loc.Offset < p.start || loc.Offset >= p.end || loc.FirstRowIndex > row {
		return p.fail(-1, "invalid offset index: page %d at offset %d, row %d", k, loc.Offset, loc.FirstRowIndex)
	}
	if p.start < locs[0].Offset {
		// Read the dictionary (and any page before the first data
		// page) first.
		for p.pos() < locs[0].Offset {
			i := p.page
			p.page++
			pg, err := p.readPage(i)
			if err != nil {
				return p.fail(i, "%w", err)
			}
			if pg != nil {
				parquetgo.Release(pg)
				return p.fail(i, "a data page before the offset index's first page")
			}
		}
	}
	p.reset(loc.Offset)
	// Pages are counted from the first data page in the offset index:
	// those before loc were not read.
	p.page += k
	p.counted = false // values before loc were not read
	p.skip = row - loc.FirstRowIndex
	p.seeking = true
	return nil
}

// offsetIndex reads the chunk's offset index, if it has one.
func (p *pageReader) offsetIndex() ([]pqformat.PageLocation, error) {
	c := p.chunk
	if c.OffsetIndexOffset <= 0 || c.OffsetIndexLength <= 0 {
		return nil, nil
	}
	if c.OffsetIndexLength > 64<<20 {
		return nil, p.fail(-1, "offset index of %d bytes", c.OffsetIndexLength)
	}
	buf := make([]byte, c.OffsetIndexLength)
	if _, err := readFull(p.ra, buf, c.OffsetIndexOffset); err != nil {
		return nil, p.fail(-1, "read the offset index: %w", err)
	}
	var oi pqformat.OffsetIndex
	if err := decodeThrift(buf, &oi); err != nil {
		return nil, p.fail(-1, "invalid offset index: %w", err)
	}
	locs := oi.PageLocations
	for i := 1; i < len(locs); i++ {
		if locs[i].FirstRowIndex < locs[i-1].FirstRowIndex || locs[i].Offset <= locs[i-1].Offset {
			return nil, p.fail(-1, "invalid offset index: pages out of order")
		}
	}
	return locs, nil
}

func (p *pageReader) Close() error {
	p.done = true
	return nil
}
