package pusher

import (
	"bytes"
	"slices"
	"strconv"
	"testing"
)

func TestReserve(t *testing.T) {
	full := &Batch{}
	for i := range 1000 {
		full.StartRecord()
		full.AddField(String, []byte("value"))
		full.AddField(Number, []byte(strconv.Itoa(i)))
	}
	b := &Batch{}
	b.Reserve(full.Dims())
	data, fields, rows := cap(b.Data), cap(b.Fields), cap(b.rows)
	for i := range 1000 {
		b.StartRecord()
		b.AddField(String, []byte("value"))
		b.AddField(Number, []byte(strconv.Itoa(i)))
	}
	if cap(b.Data) != data || cap(b.Fields) != fields || cap(b.rows) != rows {
		t.Errorf("a reserved batch grew while filled as large as its model")
	}
	if b.Dims() != full.Dims() {
		t.Errorf("dims %+v, want %+v", b.Dims(), full.Dims())
	}
}

func TestAddNulls(t *testing.T) {
	var a, b Batch
	for _, n := range []int{0, 3, 1} {
		a.StartRecord()
		b.StartRecord()
		a.AddField(String, []byte("x"))
		b.AddField(String, []byte("x"))
		for range n {
			a.AddNull()
		}
		b.AddNulls(n)
	}
	if !slices.Equal(a.Fields, b.Fields) || !slices.Equal(a.rows, b.rows) || !bytes.Equal(a.Data, b.Data) {
		t.Errorf("AddNulls: fields %v rows %v, AddNull: %v %v", b.Fields, b.rows, a.Fields, a.rows)
	}
}
