package pusher

import (
	"slices"
	"sync"
	"unsafe"
)

// Kind is the kind of a field value.
type Kind uint8

const (
	// Null is SQL NULL, also used for a field a record does not have.
	Null Kind = iota
	// String is text: a CSV field or a JSON string (unescaped).
	String
	// Number is a JSON number, as written.
	Number
	// Bool is a JSON true or false, as written.
	Bool
	// JSON is a JSON object or array, as written.
	JSON
)

func (k Kind) String() string {
	switch k {
	case Null:
		return "null"
	case String:
		return "string"
	case Number:
		return "number"
	case Bool:
		return "bool"
	case JSON:
		return "json"
	}
	return "unknown"
}

// Field is one value in a Batch: a byte range of Batch.Data and its kind.
type Field struct {
	Start, End uint32
	Kind       Kind
}

// Batch is a set of records stored without per-field allocation: every
// value's bytes live in Data, each record is a run of Fields, and field i of
// a record belongs to Columns[i]. A record may have fewer fields than there
// are columns; the missing ones are Null.
//
// Batches are reused: Reset keeps the buffers.
type Batch struct {
	// Columns names the fields by position. Readers may append columns as
	// they discover them (JSON lines); a batch's Columns never shrink.
	Columns []string
	Data    []byte
	Fields  []Field
	// rows[i] is the index in Fields of record i's first field.
	rows []uint32
}

// Reset empties the batch, keeping its buffers and columns.
func (b *Batch) Reset() {
	b.Data = b.Data[:0]
	b.Fields = b.Fields[:0]
	b.rows = b.rows[:0]
}

// Dims is how much the batch holds: bytes of values, fields and records.
type Dims struct{ Data, Fields, Records int }

// Dims returns the batch's dimensions, to Reserve another batch as large.
func (b *Batch) Dims() Dims { return Dims{len(b.Data), len(b.Fields), len(b.rows)} }

// Reserve makes room for about d (an eighth more), so that filling the
// batch does not grow its buffers step by step, copying them each time.
func (b *Batch) Reserve(d Dims) {
	if n := d.Data + d.Data/8; cap(b.Data) < n {
		b.Data = append(make([]byte, 0, n), b.Data...)
	}
	if n := d.Fields + d.Fields/8; cap(b.Fields) < n {
		b.Fields = append(make([]Field, 0, n), b.Fields...)
	}
	if n := d.Records + d.Records/8; cap(b.rows) < n {
		b.rows = append(make([]uint32, 0, n), b.rows...)
	}
}

// Len is the number of records.
func (b *Batch) Len() int { return len(b.rows) }

// Size is the number of bytes the batch holds, for batching.
func (b *Batch) Size() int { return len(b.Data) + len(b.Fields)*fieldSize + len(b.rows)*4 }

const fieldSize = int(unsafe.Sizeof(Field{}))

// StartRecord begins a new record; AddField calls that follow add to it.
func (b *Batch) StartRecord() { b.rows = append(b.rows, uint32(len(b.Fields))) }

// AddField appends a field to the current record, copying v.
func (b *Batch) AddField(k Kind, v []byte) {
	start := uint32(len(b.Data))
	b.Data = append(b.Data, v...)
	b.Fields = append(b.Fields, Field{Start: start, End: uint32(len(b.Data)), Kind: k})
}

// AddRecord appends a record whose values are byte ranges of data: data
// is copied once, and each field's Start and End, given relative to data,
// are moved to where it lands. A reader that finds a record's values in
// one buffer (CSV) copies the record at once instead of field by field.
func (b *Batch) AddRecord(data []byte, fields []Field) {
	base := uint32(len(b.Data))
	b.Data = append(b.Data, data...)
	n := len(b.Fields)
	b.rows = append(b.rows, uint32(n))
	b.Fields = slices.Grow(b.Fields, len(fields))[:n+len(fields)]
	dst := b.Fields[n:]
	for i, f := range fields {
		dst[i] = Field{Start: f.Start + base, End: f.End + base, Kind: f.Kind}
	}
}

// AddNull appends a NULL field to the current record.
func (b *Batch) AddNull() {
	n := uint32(len(b.Data))
	b.Fields = append(b.Fields, Field{Start: n, End: n, Kind: Null})
}

// AddNulls appends n NULL fields to the current record.
func (b *Batch) AddNulls(n int) {
	at := uint32(len(b.Data))
	k := len(b.Fields)
	b.Fields = slices.Grow(b.Fields, n)[:k+n]
	for i := range b.Fields[k:] {
		b.Fields[k+i] = Field{Start: at, End: at, Kind: Null}
	}
}

// SetField replaces field i of the current record (which must exist).
func (b *Batch) SetField(i int, k Kind, v []byte) {
	start := uint32(len(b.Data))
	b.Data = append(b.Data, v...)
	b.Fields[int(b.rows[len(b.rows)-1])+i] = Field{Start: start, End: uint32(len(b.Data)), Kind: k}
}

// DropRecord removes the current (last) record and the fields added to it.
func (b *Batch) DropRecord() {
	if len(b.rows) == 0 {
		return
	}
	first := b.rows[len(b.rows)-1]
	if int(first) < len(b.Fields) {
		b.Data = b.Data[:b.Fields[first].Start]
	}
	b.Fields = b.Fields[:first]
	b.rows = b.rows[:len(b.rows)-1]
}

// Record returns the fields of record i.
func (b *Batch) Record(i int) []Field {
	end := len(b.Fields)
	if i+1 < len(b.rows) {
		end = int(b.rows[i+1])
	}
	return b.Fields[b.rows[i]:end]
}

// Value returns the bytes of f. They alias Data: copy to keep them.
func (b *Batch) Value(f Field) []byte { return b.Data[f.Start:f.End] }

var batches = sync.Pool{New: func() any { return new(Batch) }}

// GetBatch returns an empty batch from a shared pool.
func GetBatch() *Batch {
	b := batches.Get().(*Batch)
	b.Reset()
	b.Columns = nil
	return b
}

// PutBatch returns a batch to the pool; nothing may use it afterwards.
func PutBatch(b *Batch) {
	if b != nil && cap(b.Data) <= 64<<20 {
		batches.Put(b)
	}
}
