package jsonscan

import "github.com/ferrydata/ferry/pusher"

// Decoder maps JSON objects onto the records of a pusher.Batch, one
// column per top-level key. The zero value is ready to use; it is not safe
// for concurrent use.
type Decoder struct {
	// Cols names the columns in the order their keys were first seen. It
	// only grows, so readers share it with every batch they return (the
	// columns an object introduced are removed, by Object on error or by
	// Drop, before anyone sees them).
	Cols  []string
	index map[string]int
	// order[k] is the column of the k-th key of the last object read.
	order []int
	// mark is len(Cols) before the last object.
	mark    int
	scratch []byte // an unescaped string value
	key     []byte // an unescaped key
}

// SetCols makes cols the columns already known, in order, as if the
// decoder had read objects with those keys. The decoder appends to a copy.
func (d *Decoder) SetCols(cols []string) {
	d.Cols = append([]string(nil), cols...)
	d.index = make(map[string]int, len(cols))
	for i, c := range d.Cols {
		d.index[c] = i
	}
	d.order = d.order[:0]
}

// maxOrder bounds the remembered key order.
const maxOrder = 1024

// Object parses the object starting at data[i] into a new record of b: one
// field per column known once it is read, Null for the keys it lacks. It
// returns the index after the closing brace. On error the record is
// removed from b and the columns it introduced are forgotten.
func (d *Decoder) Object(b *pusher.Batch, data []byte, i int) (int, error) {
	if i >= len(data) || data[i] != '{' {
		return i, Unexpected(data, i, "looking for the beginning of an object")
	}
	d.mark = len(d.Cols)
	b.StartRecord()
	b.AddNulls(d.mark)
	end, err := d.members(b, data, i+1)
	if err != nil {
		d.Drop(b)
		return end, err
	}
	return end, nil
}

// Drop removes from b the record the last Object call added and forgets
// the columns it introduced, for a reader that rejects the record after
// all (the JSON-lines reader, when data follows the object on its line).
func (d *Decoder) Drop(b *pusher.Batch) {
	b.DropRecord()
	for _, c := range d.Cols[d.mark:] {
		delete(d.index, c)
	}
	d.Cols = d.Cols[:d.mark]
}

// members parses the members of an object after its '{' and returns the
// index after its '}'.
func (d *Decoder) members(b *pusher.Batch, data []byte, i int) (int, error) {
	nf := len(d.Cols) // fields in the record
	i = SkipSpace(data, i)
	if i < len(data) && data[i] == '}' {
		return i + 1, nil
	}
	for k := 0; ; k++ { // k counts the members
		if i >= len(data) || data[i] != '"' {
			return i, Unexpected(data, i, "looking for an object key")
		}
		key, j, err := Unquote(data, i, &d.key)
		if err != nil {
			return j, err
		}
		i = SkipSpace(data, j)
		if i >= len(data) || data[i] != ':' {
			return i, Unexpected(data, i, "after object key")
		}
		i = SkipSpace(data, i+1)
		col := d.column(key, k)
		if i >= len(data) {
			return i, Unexpected(data, i, "looking for a value")
		}
		var (
			kind pusher.Kind
			val  []byte
		)
		switch c := data[i]; c {
		case '"':
			kind = pusher.String
			val, j, err = Unquote(data, i, &d.scratch)
		case '{', '[':
			kind = pusher.JSON
			j, err = skipComposite(data, i, 2)
			val = data[i:j]
		case 't':
			kind = pusher.Bool
			j, err = literal(data, i, "true")
			val = data[i:j]
		case 'f':
			kind = pusher.Bool
			j, err = literal(data, i, "false")
			val = data[i:j]
		case 'n':
			kind = pusher.Null
			j, err = literal(data, i, "null")
		default:
			if c != '-' && (c < '0' || c > '9') {
				return i, Unexpected(data, i, "looking for a value")
			}
			kind = pusher.Number
			j, err = number(data, i)
			val = data[i:j]
		}
		if err != nil {
			return j, err
		}
		i = j
		if col < nf {
			b.SetField(col, kind, val)
		} else {
			b.AddField(kind, val)
			nf++
		}
		i = SkipSpace(data, i)
		if i < len(data) && data[i] == ',' {
			i = SkipSpace(data, i+1)
			continue
		}
		if i < len(data) && data[i] == '}' {
			return i + 1, nil
		}
		return i, Unexpected(data, i, "after object value")
	}
}

// column returns the column of key, the k-th member of an object, adding
// a column for a new key. Records usually repeat the previous record's
// keys in the same order, so the column the k-th key had last time is
// tried before the map.
func (d *Decoder) column(key []byte, k int) int {
	if k < len(d.order) {
		if c := d.order[k]; c < len(d.Cols) && d.Cols[c] == string(key) {
			return c
		}
	}
	if d.index == nil {
		d.index = make(map[string]int)
	}
	col, ok := d.index[string(key)]
	if !ok {
		col = len(d.Cols)
		name := string(key)
		d.Cols = append(d.Cols, name)
		d.index[name] = col
	}
	if k < len(d.order) {
		d.order[k] = col
	} else if k == len(d.order) && k < maxOrder {
		d.order = append(d.order, col)
	}
	return col
}
