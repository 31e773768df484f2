package parquet

import (
	"fmt"
	"io"

	parquetgo "github.com/parquet-go/parquet-go"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source/format"
)

// File is a Parquet file opened to read a few of its columns page by
// page, for callers that need neither records nor the other columns (the
// S3 Inventory listing reads 4 to 7 columns of about 20). Opening checks
// the file as NewAt does; its pages are checked as the Reader's are
// (declared sizes before allocating, CRCs, value counts; panics of the
// decoding library turned into errors naming the row group, column and
// page). Memory is a page of each column being read.
type File struct {
	r *Reader
}

// OpenFile reads the footer of the Parquet file ra of size bytes. o bounds
// the pages as for the Reader (MaxRecordBytes).
func OpenFile(ra io.ReaderAt, size int64, o format.Options) (*File, error) {
	r, err := newReader(ra, size, o, pusher.Position{})
	if err != nil {
		return nil, err
	}
	return &File{r: r}, nil
}

// Schema is the file's schema, as the Parquet library reads it: Lookup
// gives a leaf column's index, type and levels.
func (f *File) Schema() *parquetgo.Schema { return f.r.schema }

// RowGroups is how many row groups the file has.
func (f *File) RowGroups() int { return len(f.r.groups) }

// RowGroupRows is how many rows row group g holds.
func (f *File) RowGroupRows(g int) int64 { return f.r.groups[g].NumRows }

// Pages returns the data pages of leaf column col (its index in the
// schema's leaf columns) in row group g, read in the caller's goroutine.
// Close it when done.
func (f *File) Pages(g, col int) (parquetgo.Pages, error) {
	if g < 0 || g >= len(f.r.groups) || col < 0 || col >= f.r.nleaf {
		return nil, fmt.Errorf("parquet: no column %d in row group %d (%d row groups, %d columns)", col, g, len(f.r.groups), f.r.nleaf)
	}
	where := fmt.Sprintf("row group %d, column %q", g, f.r.leaves[col].path)
	return newPageReader(f.r.ra, &f.r.groups[g].Columns[col], f.r.decs[col], where, f.r.limits), nil
}
