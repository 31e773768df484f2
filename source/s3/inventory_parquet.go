package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	parquetgo "github.com/parquet-go/parquet-go"
	pqformat "github.com/parquet-go/parquet-go/format"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source/format"
	"github.com/ferrydata/ferry/source/format/parquet"
)

// The columns of a Parquet report ferry reads (AWS's names). The first
// four are required: a file version is its key and ETag, as a listing
// gives them; the others, when there, leave rows out.
const (
	pqKey          = "key"
	pqSize         = "size"
	pqModified     = "last_modified_date"
	pqETag         = "e_tag"
	pqBucket       = "bucket"
	pqLatest       = "is_latest"
	pqDeleteMarker = "is_delete_marker"
)

var pqRequired = []string{pqKey, pqSize, pqModified, pqETag}

// pqField matches one primitive field of a Parquet message type
// ("optional int64 size;"), capturing its name.
var pqField = regexp.MustCompile(`(?:required|optional|repeated)\s+\w+\s+(\w+)`)

// checkParquetSchema checks that a Parquet manifest's fileSchema (a
// Parquet message type) has the columns ferry needs, so that a report
// configured without them fails before its files are read. The files'
// own schemas are checked again when they are read.
func checkParquetSchema(s string) error {
	have := map[string]bool{}
	for _, m := range pqField.FindAllStringSubmatch(s, -1) {
		have[m[1]] = true
	}
	for _, name := range pqRequired {
		if !have[name] {
			return fmt.Errorf("inventory schema %q has no %s column: add its field to the report's configuration (ferry needs Key, Size, LastModifiedDate and ETag)", s, name)
		}
	}
	return nil
}

// readParquet reads the Parquet file key of the report's bucket, through
// ranged GETs (only the columns ferry needs are fetched).
func (inv *Inventory) readParquet(ctx context.Context, key string, fn func(page []pusher.Object) error) error {
	rs := *inv.Store // the same client, on the report's bucket
	rs.bucket, rs.prefix, rs.object = inv.mbucket, "", false
	obj := pusher.Object{Key: key}
	head, err := rs.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(rs.bucket), Key: aws.String(key)})
	if err != nil {
		return rs.rangeError(obj, 0, 0, err)
	}
	obj.Size = aws.ToInt64(head.ContentLength)
	obj.ETag = strings.Trim(aws.ToString(head.ETag), `"`)
	ra, err := rs.OpenAtWith(ctx, obj, ReadAtOptions{})
	if err != nil {
		return err
	}
	defer ra.Close()
	return readInventoryParquet(ra, obj.Size, inv.bucket, inv.listPrefix(), fn)
}

// inventoryBatch is how many rows are read from each column at once.
const inventoryBatch = 1024

// readInventoryParquet reads one Parquet file of a report, row group by
// row group and page by page of the columns ferry needs (memory is
// bounded by a page of each, not by the file or the row group), and calls
// fn with pages of the current objects of bucket whose keys start with
// prefix. Keys are as stored (Parquet reports do not URL-encode them).
func readInventoryParquet(ra io.ReaderAt, size int64, bucket, prefix string, fn func(page []pusher.Object) error) error {
	f, err := parquet.OpenFile(ra, size, format.Options{})
	if err != nil {
		return err
	}
	cols, err := pqColumns(f.Schema(), bucket)
	if err != nil {
		return err
	}
	pg := newPager(prefix, fn)
	vals := make([]parquetgo.Value, inventoryBatch)
	rows := make([]pqRecord, inventoryBatch)
	var row int64 // rows before the current batch, in the file
	for g := range f.RowGroups() {
		err := func() error {
			for _, c := range cols {
				pages, err := f.Pages(g, c.index)
				if err != nil {
					return err
				}
				c.pages, c.values = pages, nil
				defer pages.Close()
			}
			for left := f.RowGroupRows(g); left > 0; {
				n := int(min(left, inventoryBatch))
				clear(rows[:n])
				for _, c := range cols {
					if err := c.read(g, vals[:n], rows[:n]); err != nil {
						return err
					}
				}
				for i := range rows[:n] {
					obj, ok, err := rows[i].object()
					if err != nil {
						return fmt.Errorf("row %d: %w", row+int64(i)+1, err)
					}
					if !ok {
						continue
					}
					if err := pg.add(obj); err != nil {
						return err
					}
				}
				row += int64(n)
				left -= int64(n)
			}
			return nil
		}()
		if err != nil {
			return err
		}
	}
	return pg.flush()
}

// pqRecord holds what ferry reads of one report row.
type pqRecord struct {
	key, etag                              string
	size                                   int64
	modified                               time.Time
	otherBucket, notLatest, isDeleteMarker bool
}

// object is the row's object; ok is false for a row to leave out
// (another bucket, a delete marker, a non-current version), as in CSV
// reports.
func (r *pqRecord) object() (pusher.Object, bool, error) {
	if r.otherBucket || r.isDeleteMarker || r.notLatest {
		return pusher.Object{}, false, nil
	}
	if r.key == "" {
		return pusher.Object{}, false, errors.New("no key")
	}
	return pusher.Object{Key: r.key, Size: r.size, ETag: strings.Trim(r.etag, `"`), LastModified: r.modified}, true, nil
}

// pqColumn is one column ferry reads, in the open row group.
type pqColumn struct {
	name  string
	index int
	unit  time.Duration // last_modified_date: the timestamp's unit
	set   func(r *pqRecord, v parquetgo.Value, unit time.Duration)

	pages  parquetgo.Pages
	values parquetgo.ValueReader // of the current page; nil: read the next
}

// pqColumns finds the columns ferry reads in a file's schema and checks
// their types.
func pqColumns(sc *parquetgo.Schema, bucket string) (_ []*pqColumn, err error) {
	// The library panics on some schemas it read without complaint (the
	// pages' panics are errors already).
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("corrupt Parquet schema: %v", v)
		}
	}()
	var cols []*pqColumn
	for _, c := range []struct {
		name     string
		kind     parquetgo.Kind
		required bool
		set      func(r *pqRecord, v parquetgo.Value, unit time.Duration)
	}{
		{pqKey, parquetgo.ByteArray, true, func(r *pqRecord, v parquetgo.Value, _ time.Duration) { r.key = string(v.ByteArray()) }},
		{pqSize, parquetgo.Int64, true, func(r *pqRecord, v parquetgo.Value, _ time.Duration) { r.size = v.Int64() }},
		{pqModified, parquetgo.Int64, true, func(r *pqRecord, v parquetgo.Value, unit time.Duration) { r.modified = pqTime(v.Int64(), unit) }},
		{pqETag, parquetgo.ByteArray, true, func(r *pqRecord, v parquetgo.Value, _ time.Duration) { r.etag = string(v.ByteArray()) }},
		{pqBucket, parquetgo.ByteArray, false, func(r *pqRecord, v parquetgo.Value, _ time.Duration) {
			b := v.ByteArray()
			r.otherBucket = len(b) > 0 && string(b) != bucket // no copy
		}},
		{pqLatest, parquetgo.Boolean, false, func(r *pqRecord, v parquetgo.Value, _ time.Duration) { r.notLatest = !v.Boolean() }},
		{pqDeleteMarker, parquetgo.Boolean, false, func(r *pqRecord, v parquetgo.Value, _ time.Duration) { r.isDeleteMarker = v.Boolean() }},
	} {
		leaf, ok := sc.Lookup(c.name)
		if !ok {
			if c.required {
				return nil, fmt.Errorf("no %s column (ferry needs key, size, last_modified_date and e_tag)", c.name)
			}
			continue
		}
		t := leaf.Node.Type()
		if k, ok := leafKind(t); !ok || leaf.MaxRepetitionLevel > 0 || k != c.kind {
			return nil, fmt.Errorf("column %s is %s, want %s", c.name, pqTypeName(leaf), c.kind)
		}
		col := &pqColumn{name: c.name, index: leaf.ColumnIndex, unit: time.Millisecond, set: c.set}
		if lt := t.LogicalType(); c.name == pqModified && lt != nil {
			if ts, ok := lt.Value.(*pqformat.TimestampType); ok && ts.Unit.Value != nil {
				col.unit = ts.Unit.Value.Duration()
			}
		}
		cols = append(cols, col)
	}
	return cols, nil
}

// leafKind is t's physical type; ok is false for a type that has none
// (the library panics on a LIST or MAP annotation, out of place on a leaf).
func leafKind(t parquetgo.Type) (k parquetgo.Kind, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return t.Kind(), true
}

func pqTypeName(leaf parquetgo.LeafColumn) string {
	if leaf.MaxRepetitionLevel > 0 {
		return "repeated " + leaf.Node.Type().String()
	}
	return leaf.Node.Type().String()
}

// pqTime is a timestamp of unit (milliseconds when the column does not
// say, as AWS's TIMESTAMP_MILLIS) in UTC.
func pqTime(v int64, unit time.Duration) time.Time {
	switch unit {
	case time.Microsecond:
		return time.UnixMicro(v).UTC()
	case time.Nanosecond:
		return time.Unix(0, v).UTC()
	}
	return time.UnixMilli(v).UTC()
}

// read reads the column's next len(vals) values in row group g (one per
// row: the column is not repeated) into rows; an absent value leaves the
// row's zero value. The pages' errors name the row group, column and page.
func (c *pqColumn) read(g int, vals []parquetgo.Value, rows []pqRecord) error {
	for n := 0; n < len(vals); {
		if c.values == nil {
			p, err := c.pages.ReadPage()
			if errors.Is(err, io.EOF) {
				return fmt.Errorf("row group %d, column %q: %d values missing", g, c.name, len(vals)-n)
			}
			if err != nil {
				return err
			}
			c.values = p.Values()
		}
		k, err := c.values.ReadValues(vals[n:])
		for i, v := range vals[n : n+k] {
			if !v.IsNull() {
				c.set(&rows[n+i], v, c.unit)
			}
		}
		n += k
		switch {
		case errors.Is(err, io.EOF):
			c.values = nil
		case err != nil:
			return err
		case k == 0:
			return fmt.Errorf("row group %d, column %q: a page returned no values", g, c.name)
		}
	}
	return nil
}
