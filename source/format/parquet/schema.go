package parquet

import (
	"fmt"
	"strings"

	"github.com/ferrydata/ferry/pusher"
	"github.com/parquet-go/parquet-go/deprecated"

	pqformat "github.com/parquet-go/parquet-go/format"
)

// node is one element of the file's schema tree, with what reading needs:
// its levels, its leaves and how its values are written.
type node struct {
	name     string
	rep      pqformat.FieldRepetitionType
	children []*node
	// defLevel and repLevel are the definition and repetition levels of a
	// value defined down to this node (inclusive).
	defLevel, repLevel int
	// leaf is the index of the node's first leaf column; nleaves how many
	// leaf columns it spans.
	leaf, nleaves int

	jsonKey []byte   // the name as a JSON object key, with the colon
	conv    leafConv // leaves: how values are converted
	path    string   // leaves: dotted path, for messages

	group groupKind
	// lists: elem is what each repetition of listRep holds: listRep
	// itself (legacy lists of a repeated primitive or of structs) or its
	// only child.
	listRep, elem *node
	// maps: kv is the repeated key_value group, key and value its fields
	// (value is nil for a key-only map); stringKeys is whether the keys
	// render as JSON object keys.
	kv, key, value *node
	stringKeys     bool
}

type groupKind uint8

const (
	groupStruct groupKind = iota
	groupList
	groupMap
)

func (n *node) repeated() bool { return n.rep == pqformat.Repeated }
func (n *node) isLeaf() bool   { return n.children == nil }

// maxDepth bounds schema nesting; deeper schemas are refused rather than
// recursed into.
const maxDepth = 100

// buildSchema turns the flattened schema of a file into a tree and returns
// the root's fields. It checks what the reader relies on: child counts,
// depth, and that leaves have a physical type.
func buildSchema(elems []pqformat.SchemaElement) (fields, leaves []*node, err error) {
	if len(elems) == 0 {
		return nil, nil, fmt.Errorf("empty schema")
	}
	b := schemaBuilder{elems: elems, i: 1}
	root := &node{name: elems[0].Name}
	nc, _ := elems[0].NumChildren.Get()
	if err := b.children(root, int(nc), 0, nil); err != nil {
		return nil, nil, err
	}
	if b.i != len(elems) {
		return nil, nil, fmt.Errorf("schema has %d elements, the tree %d", len(elems), b.i)
	}
	if len(root.children) == 0 {
		return nil, nil, fmt.Errorf("schema without columns")
	}
	return root.children, b.leaves, nil
}

type schemaBuilder struct {
	elems  []pqformat.SchemaElement
	i      int     // next element
	leaves []*node // leaf columns in order
}

func (b *schemaBuilder) children(parent *node, n, depth int, path []string) error {
	if depth > maxDepth {
		return fmt.Errorf("schema nested deeper than %d", maxDepth)
	}
	if n < 0 || n > len(b.elems)-b.i {
		return fmt.Errorf("schema element %q: %d children, %d elements left", parent.name, n, len(b.elems)-b.i)
	}
	parent.children = make([]*node, 0, n)
	for range n {
		e := &b.elems[b.i]
		b.i++
		c := &node{name: e.Name, leaf: len(b.leaves), defLevel: parent.defLevel, repLevel: parent.repLevel}
		c.jsonKey = append(pusher.AppendJSONString(nil, []byte(e.Name)), ':')
		c.rep, _ = e.RepetitionType.Get()
		switch c.rep {
		case pqformat.Required:
		case pqformat.Optional:
			c.defLevel++
		case pqformat.Repeated:
			c.defLevel++
			c.repLevel++
		default:
			return fmt.Errorf("schema element %q: invalid repetition %d", e.Name, c.rep)
		}
		p := append(path, e.Name)
		if nc, ok := e.NumChildren.Get(); ok && !e.Type.Valid {
			if nc == 0 {
				return fmt.Errorf("schema element %q: group without fields", e.Name)
			}
			if err := b.children(c, int(nc), depth+1, p); err != nil {
				return err
			}
			c.nleaves = len(b.leaves) - c.leaf
			classifyGroup(c, e)
		} else {
			if !e.Type.Valid {
				return fmt.Errorf("schema element %q: leaf without a type", e.Name)
			}
			if e.Type.V < pqformat.Boolean || e.Type.V > pqformat.FixedLenByteArray {
				return fmt.Errorf("schema element %q: invalid physical type %d", e.Name, e.Type.V)
			}
			if n, _ := e.TypeLength.Get(); e.Type.V == pqformat.FixedLenByteArray && n <= 0 {
				return fmt.Errorf("schema element %q: FIXED_LEN_BYTE_ARRAY of length %d", e.Name, n)
			}
			c.nleaves = 1
			c.path = strings.Join(p, ".")
			c.conv = leafConvOf(e)
			b.leaves = append(b.leaves, c)
		}
		parent.children = append(parent.children, c)
	}
	return nil
}

// classifyGroup recognises LIST and MAP groups laid out as the format
// specifies (with its backward-compatibility rules); anything else is a
// struct.
func classifyGroup(n *node, e *pqformat.SchemaElement) {
	ct, hasCT := e.ConvertedType.Get()
	lt := e.LogicalType.Value
	switch {
	case isList(lt, ct, hasCT):
		if len(n.children) != 1 || !n.children[0].repeated() {
			return
		}
		r := n.children[0]
		n.group, n.listRep, n.elem = groupList, r, r
		if !r.isLeaf() && len(r.children) == 1 && r.name != "array" && r.name != n.name+"_tuple" {
			n.elem = r.children[0]
		}
	case isMap(lt, ct, hasCT):
		if len(n.children) != 1 || !n.children[0].repeated() || n.children[0].isLeaf() {
			return
		}
		kv := n.children[0]
		if len(kv.children) < 1 || len(kv.children) > 2 || !kv.children[0].isLeaf() {
			return
		}
		n.group, n.kv, n.key = groupMap, kv, kv.children[0]
		if len(kv.children) == 2 {
			n.value = kv.children[1]
		}
		n.stringKeys = n.key.conv.kind == kString || n.key.conv.kind == kBytes
	}
}

func isList(lt pqformat.LogicalTypeValue, ct deprecated.ConvertedType, hasCT bool) bool {
	if _, ok := lt.(*pqformat.ListType); ok {
		return true
	}
	return lt == nil && hasCT && ct == deprecated.List
}

func isMap(lt pqformat.LogicalTypeValue, ct deprecated.ConvertedType, hasCT bool) bool {
	if _, ok := lt.(*pqformat.MapType); ok {
		return true
	}
	return lt == nil && hasCT && (ct == deprecated.Map || ct == deprecated.MapKeyValue)
}
