package parquet

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	parquetgo "github.com/parquet-go/parquet-go"
)

// TestFileColumns reads one column of three, page by page, across row
// groups, and does not read the others' bytes.
func TestFileColumns(t *testing.T) {
	type row struct {
		ID   int64   `parquet:"id"`
		Name string  `parquet:"name"`
		Note *string `parquet:"note,optional"`
	}
	var rows []row
	for i := range 3000 {
		note := fmt.Sprintf("%064x", i*7919) // most of the file's bytes
		rows = append(rows, row{ID: int64(i), Name: fmt.Sprintf("name-%d", i), Note: &note})
	}
	data := writeRows(t, rows, parquetgo.MaxRowsPerRowGroup(1000), parquetgo.PageBufferSize(1<<10))
	ra := newCounting(data)
	f, err := OpenFile(ra, int64(len(data)), opts())
	if err != nil {
		t.Fatal(err)
	}
	leaf, ok := f.Schema().Lookup("name")
	if !ok || f.RowGroups() != 3 || f.RowGroupRows(2) != 1000 {
		t.Fatalf("lookup %v, %d row groups, %d rows in the last", ok, f.RowGroups(), f.RowGroupRows(2))
	}
	footer := ra.read()
	var names []string
	for g := range f.RowGroups() {
		pages, err := f.Pages(g, leaf.ColumnIndex)
		if err != nil {
			t.Fatal(err)
		}
		for {
			p, err := pages.ReadPage()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			vals := make([]parquetgo.Value, p.NumValues())
			n, _ := p.Values().ReadValues(vals)
			for _, v := range vals[:n] {
				names = append(names, string(v.ByteArray()))
			}
		}
		pages.Close()
	}
	if len(names) != len(rows) || names[0] != "name-0" || names[2999] != "name-2999" {
		t.Fatalf("%d names, first %q", len(names), names[:min(1, len(names))])
	}
	if read := ra.read() - footer; read >= int64(len(data))/3 {
		t.Errorf("read %d bytes of %d for one column of three", read, len(data))
	}
	if _, err := f.Pages(3, 0); err == nil || !strings.Contains(err.Error(), "no column 0 in row group 3") {
		t.Errorf("row group out of range: %v", err)
	}
	if _, err := OpenFile(bytes.NewReader(data[:100]), 100, opts()); err == nil || !strings.Contains(err.Error(), "not a Parquet file") {
		t.Errorf("truncated file: %v", err)
	}
}
