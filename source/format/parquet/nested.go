package parquet

import (
	"github.com/ferrydata/ferry/pusher"
	parquetgo "github.com/parquet-go/parquet-go"
)

// jsonWriter renders the nested fields of one row as JSON, from the
// row's values of each leaf column with their repetition and definition
// levels (the record assembly of the Dremel paper, written recursively over
// the schema tree).
//
// Every write consumes, from each leaf column under the node written,
// exactly the values of that node's instance. Values that do not fit the
// schema (a corrupt file) set bad instead of panicking or looping.
type jsonWriter struct {
	cols [][]parquetgo.Value // the row's values, by leaf column
	pos  []int               // next value of each leaf column
	buf  []byte              // the JSON written
	tmp  []byte              // a leaf value's text
	bad  bool
}

func (w *jsonWriter) peek(leaf int) (parquetgo.Value, bool) {
	if w.pos[leaf] >= len(w.cols[leaf]) {
		w.bad = true
		return parquetgo.Value{}, false
	}
	return w.cols[leaf][w.pos[leaf]], true
}

// more reports whether rep has another repetition in the current instance
// of its parent: the next value of its first leaf repeats at its level.
func (w *jsonWriter) more(rep *node) bool {
	p := w.pos[rep.leaf]
	return p < len(w.cols[rep.leaf]) && w.cols[rep.leaf][p].RepetitionLevel() == rep.repLevel
}

// skip consumes one value from each leaf of n: n is absent (null, or an
// empty repetition), and so is everything under it.
func (w *jsonWriter) skip(n *node) {
	for j := n.leaf; j < n.leaf+n.nleaves; j++ {
		if w.pos[j] >= len(w.cols[j]) {
			w.bad = true
			continue
		}
		w.pos[j]++
	}
}

// field writes the value of n in the current instance of its parent.
func (w *jsonWriter) field(n *node) {
	if n.repeated() {
		w.array(n, n)
		return
	}
	v, ok := w.peek(n.leaf)
	if !ok {
		w.buf = append(w.buf, "null"...)
		return
	}
	if v.DefinitionLevel() < n.defLevel {
		w.buf = append(w.buf, "null"...)
		w.skip(n)
		return
	}
	w.instance(n)
}

// array writes the repetitions of rep as a JSON array whose elements are
// written by field(elem), or instance(rep) when elem is rep.
func (w *jsonWriter) array(rep, elem *node) {
	v, ok := w.peek(rep.leaf)
	if !ok {
		w.buf = append(w.buf, "[]"...)
		return
	}
	if v.DefinitionLevel() < rep.defLevel {
		w.buf = append(w.buf, "[]"...)
		w.skip(rep)
		return
	}
	w.buf = append(w.buf, '[')
	for first := true; first || w.more(rep); first = false {
		if !first {
			w.buf = append(w.buf, ',')
		}
		if elem == rep {
			w.instance(rep)
		} else {
			w.field(elem)
		}
		if w.bad {
			break
		}
	}
	w.buf = append(w.buf, ']')
}

// instance writes a present instance of n.
func (w *jsonWriter) instance(n *node) {
	if n.isLeaf() {
		v, ok := w.peek(n.leaf)
		if !ok {
			w.buf = append(w.buf, "null"...)
			return
		}
		w.pos[n.leaf]++
		w.leaf(n, v)
		return
	}
	switch n.group {
	case groupList:
		w.array(n.listRep, n.elem)
	case groupMap:
		w.mapValue(n)
	default:
		w.buf = append(w.buf, '{')
		for i, c := range n.children {
			if i > 0 {
				w.buf = append(w.buf, ',')
			}
			w.buf = append(w.buf, c.jsonKey...)
			w.field(c)
		}
		w.buf = append(w.buf, '}')
	}
}

// mapValue writes a present map: an object when its keys are text, else an
// array of {"key":k,"value":v} objects.
func (w *jsonWriter) mapValue(n *node) {
	kv := n.kv
	open, end := byte('['), byte(']')
	if n.stringKeys {
		open, end = '{', '}'
	}
	v, ok := w.peek(kv.leaf)
	if !ok || v.DefinitionLevel() < kv.defLevel {
		w.buf = append(w.buf, open, end)
		if ok {
			w.skip(kv)
		}
		return
	}
	w.buf = append(w.buf, open)
	for first := true; first || w.more(kv); first = false {
		if !first {
			w.buf = append(w.buf, ',')
		}
		if n.stringKeys {
			k, ok := w.peek(n.key.leaf)
			if !ok {
				break
			}
			w.pos[n.key.leaf]++
			if !k.IsNull() && k.Kind() != n.key.conv.phys {
				w.bad = true
				break
			}
			if k.IsNull() {
				w.buf = append(w.buf, `""`...)
			} else {
				w.tmp, _ = n.key.conv.appendValue(w.tmp[:0], k)
				w.buf = pusher.AppendJSONString(w.buf, w.tmp)
			}
			w.buf = append(w.buf, ':')
			w.optField(n.value)
		} else {
			w.buf = append(w.buf, `{"key":`...)
			w.field(n.key)
			w.buf = append(w.buf, `,"value":`...)
			w.optField(n.value)
			w.buf = append(w.buf, '}')
		}
		if w.bad {
			break
		}
	}
	w.buf = append(w.buf, end)
}

// optField writes field(n), or null for a map without values.
func (w *jsonWriter) optField(n *node) {
	if n == nil {
		w.buf = append(w.buf, "null"...)
		return
	}
	w.field(n)
}

// leaf writes a leaf value as a JSON value: numbers and booleans as
// themselves, text (including dates and times) as strings, JSON columns
// as embedded JSON when valid (else as a string, see appendValue).
func (w *jsonWriter) leaf(n *node, v parquetgo.Value) {
	if v.IsNull() {
		w.buf = append(w.buf, "null"...)
		return
	}
	if v.Kind() != n.conv.phys {
		w.bad = true
		w.buf = append(w.buf, "null"...)
		return
	}
	var kind pusher.Kind
	w.tmp, kind = n.conv.appendValue(w.tmp[:0], v)
	switch kind {
	case pusher.Number, pusher.Bool:
		w.buf = append(w.buf, w.tmp...)
	case pusher.JSON:
		w.buf = append(w.buf, w.tmp...)
	default:
		w.buf = pusher.AppendJSONString(w.buf, w.tmp)
	}
}
