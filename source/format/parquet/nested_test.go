package parquet

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/ferrydata/ferry/pusher"
	parquetgo "github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	pqformat "github.com/parquet-go/parquet-go/format"
)

type point struct {
	X int32   `parquet:"x"`
	Y *string `parquet:"y,optional"`
}

type nestRow struct {
	ID  int32              `parquet:"id"`
	L   []int32            `parquet:"l,list"`
	LN  []int32            `parquet:"ln,optional,list"`
	LO  []*string          `parquet:"lo,list" parquet-element:",optional"`
	LL  [][]int32          `parquet:"ll,list"`
	R   []string           `parquet:"r"`
	M   map[string]int64   `parquet:"m"`
	MI  map[int32]string   `parquet:"mi"`
	ML  map[string][]int64 `parquet:"ml" parquet-value:",list"`
	St  point              `parquet:"st"`
	StO *point             `parquet:"st_opt,optional"`
	LS  []point            `parquet:"ls,list"`
	LT  []time.Time        `parquet:"lt,list" parquet-element:",timestamp(millisecond)"`
	LD  []int64            `parquet:"ld,list" parquet-element:",decimal(2:18)"`
	Q   string             `parquet:"q\"uote"`
}

func TestNested(t *testing.T) {
	ts := time.Date(2024, 5, 6, 7, 8, 9, 10_000_000, time.UTC)
	rows := []nestRow{{
		ID: 1, L: []int32{1, 2, 3}, LO: []*string{ptr("a"), nil}, LL: [][]int32{{1}, {}, {2, 3}},
		R: []string{"x", "y\"z"}, M: map[string]int64{"k": 1, "a\tb": -2}, MI: map[int32]string{3: "c", -1: "d"},
		ML: map[string][]int64{"e": {1, 2}},
		St: point{X: 5, Y: ptr("s")}, LS: []point{{1, ptr("p")}, {2, nil}}, LT: []time.Time{ts},
		LD: []int64{-1, 12345}, Q: "q",
	}, {
		ID: 2, L: []int32{}, LN: []int32{}, LO: []*string{}, LL: [][]int32{}, M: map[string]int64{}, MI: map[int32]string{},
		ML:  map[string][]int64{"f": {}},
		StO: &point{X: 7, Y: ptr("q")},
	}, {
		ID: 3, LN: []int32{4}, LO: []*string{nil}, LL: [][]int32{{}},
		StO: &point{X: 8},
	}}
	want := [][]string{
		{"n:1", "j:[1,2,3]", "null", `j:["a",null]`, "j:[[1],[],[2,3]]", `j:["x","y\"z"]`,
			`j:{"a\tb":-2,"k":1}`, `j:[{"key":-1,"value":"d"},{"key":3,"value":"c"}]`, `j:{"e":[1,2]}`,
			`j:{"x":5,"y":"s"}`, "null", `j:[{"x":1,"y":"p"},{"x":2,"y":null}]`, `j:["2024-05-06T07:08:09.010Z"]`,
			"j:[-0.01,123.45]", "s:q"},
		{"n:2", "j:[]", "j:[]", "j:[]", "j:[]", "j:[]", "j:{}", "j:[]", `j:{"f":[]}`,
			`j:{"x":0,"y":null}`, `j:{"x":7,"y":"q"}`, "j:[]", "j:[]", "j:[]", "s:"},
		{"n:3", "j:[]", "j:[4]", "j:[null]", "j:[[]]", "j:[]", "j:{}", "j:[]", "j:{}",
			`j:{"x":0,"y":null}`, `j:{"x":8,"y":null}`, "j:[]", "j:[]", "j:[]", "s:"},
	}
	r := open(t, writeRows(t, rows), opts(), pusher.Position{})
	if got, want := fmtCols(r.cols), `[id l ln lo ll r m mi ml st st_opt ls lt ld q"uote]`; got != want {
		t.Errorf("columns %s, want %s", got, want)
	}
	diff(t, dump(t, r), want)
}

// schemaElem builds a schema element for the hand-made schemas below.
func group(name string, rep pqformat.FieldRepetitionType, children int) pqformat.SchemaElement {
	return pqformat.SchemaElement{Name: name, RepetitionType: thrift.New(rep), NumChildren: thrift.New(int32(children))}
}

func leafElem(name string, rep pqformat.FieldRepetitionType, typ pqformat.Type) pqformat.SchemaElement {
	return pqformat.SchemaElement{Name: name, RepetitionType: thrift.New(rep), Type: thrift.New(typ)}
}

func annotated(e pqformat.SchemaElement, ct deprecated.ConvertedType, lt pqformat.LogicalTypeValue) pqformat.SchemaElement {
	if ct >= 0 {
		e.ConvertedType = thrift.New(ct)
	}
	e.LogicalType.Value = lt
	return e
}

// lv is a value with its levels: rep, def and the value (nil: null).
type lv struct {
	rep, def int
	v        any
}

// TestLayouts renders nested fields of hand-made schemas, covering the
// list and map layouts older writers use (the format's
// backward-compatibility rules), straight from levels.
func TestLayouts(t *testing.T) {
	const (
		req = pqformat.Required
		opt = pqformat.Optional
		rpt = pqformat.Repeated
	)
	list := &pqformat.ListType{}
	str := &pqformat.StringType{}
	tests := []struct {
		name   string
		schema []pqformat.SchemaElement // the field, without the root
		leaves [][]lv                   // one row: the values of each leaf
		want   string                   // "null" for Null
	}{{
		name:   "two-level list of a repeated primitive",
		schema: []pqformat.SchemaElement{annotated(group("a", opt, 1), deprecated.List, list), leafElem("element", rpt, pqformat.Int32)},
		leaves: [][]lv{{{0, 2, int32(1)}, {1, 2, int32(2)}}},
		want:   "[1,2]",
	}, {
		name:   "two-level list, empty",
		schema: []pqformat.SchemaElement{annotated(group("a", opt, 1), deprecated.List, list), leafElem("element", rpt, pqformat.Int32)},
		leaves: [][]lv{{{0, 1, nil}}},
		want:   "[]",
	}, {
		name:   "two-level list, null",
		schema: []pqformat.SchemaElement{annotated(group("a", opt, 1), deprecated.List, list), leafElem("element", rpt, pqformat.Int32)},
		leaves: [][]lv{{{0, 0, nil}}},
		want:   "null",
	}, {
		name: "repeated group named array is the element",
		schema: []pqformat.SchemaElement{annotated(group("a", opt, 1), deprecated.List, nil), group("array", rpt, 1),
			leafElem("x", req, pqformat.Int32)},
		leaves: [][]lv{{{0, 2, int32(1)}, {1, 2, int32(2)}}},
		want:   `[{"x":1},{"x":2}]`,
	}, {
		name: "repeated group named <list>_tuple is the element",
		schema: []pqformat.SchemaElement{annotated(group("a", opt, 1), deprecated.List, nil), group("a_tuple", rpt, 1),
			leafElem("x", opt, pqformat.Int32)},
		leaves: [][]lv{{{0, 3, int32(1)}, {1, 2, nil}}},
		want:   `[{"x":1},{"x":null}]`,
	}, {
		name: "repeated group of two fields is the element",
		schema: []pqformat.SchemaElement{annotated(group("a", req, 1), -1, list), group("item", rpt, 2),
			leafElem("x", req, pqformat.Int32), annotated(leafElem("y", req, pqformat.ByteArray), deprecated.UTF8, nil)},
		leaves: [][]lv{{{0, 1, int32(1)}, {1, 1, int32(2)}}, {{0, 1, []byte("p")}, {1, 1, []byte("q")}}},
		want:   `[{"x":1,"y":"p"},{"x":2,"y":"q"}]`,
	}, {
		name: "three-level list with other names",
		schema: []pqformat.SchemaElement{annotated(group("a", opt, 1), deprecated.List, list), group("bag", rpt, 1),
			leafElem("array_element", opt, pqformat.Int64)},
		leaves: [][]lv{{{0, 3, int64(7)}, {1, 2, nil}, {1, 3, int64(8)}}},
		want:   "[7,null,8]",
	}, {
		name: "list of lists",
		schema: []pqformat.SchemaElement{annotated(group("a", opt, 1), -1, list), group("list", rpt, 1),
			annotated(group("element", opt, 1), -1, list), group("list", rpt, 1), leafElem("element", opt, pqformat.Int32)},
		// [[1,2],null,[],[null]]
		leaves: [][]lv{{{0, 5, int32(1)}, {2, 5, int32(2)}, {1, 2, nil}, {1, 3, nil}, {1, 4, nil}}},
		want:   "[[1,2],null,[],[null]]",
	}, {
		name: "legacy MAP_KEY_VALUE map",
		schema: []pqformat.SchemaElement{annotated(group("m", opt, 1), deprecated.Map, nil),
			annotated(group("map", rpt, 2), deprecated.MapKeyValue, nil),
			annotated(leafElem("key", req, pqformat.ByteArray), deprecated.UTF8, nil), leafElem("value", opt, pqformat.Int32)},
		leaves: [][]lv{{{0, 2, []byte("k")}, {1, 2, []byte("l")}}, {{0, 3, int32(1)}, {1, 2, nil}}},
		want:   `{"k":1,"l":null}`,
	}, {
		name: "key-only map",
		schema: []pqformat.SchemaElement{annotated(group("m", req, 1), -1, &pqformat.MapType{}), group("key_value", rpt, 1),
			annotated(leafElem("key", req, pqformat.ByteArray), -1, str)},
		leaves: [][]lv{{{0, 1, []byte("k")}}},
		want:   `{"k":null}`,
	}, {
		name: "map with struct keys",
		schema: []pqformat.SchemaElement{annotated(group("m", req, 1), -1, &pqformat.MapType{}), group("key_value", rpt, 2),
			leafElem("key", req, pqformat.Boolean), group("value", opt, 1), leafElem("v", req, pqformat.Double)},
		leaves: [][]lv{{{0, 1, true}, {1, 1, false}}, {{0, 2, 1.5}, {1, 1, nil}}},
		want:   `[{"key":true,"value":{"v":1.5}},{"key":false,"value":null}]`,
	}, {
		name: "a LIST group that does not follow the layout is a struct",
		schema: []pqformat.SchemaElement{annotated(group("a", req, 2), deprecated.List, list),
			leafElem("p", req, pqformat.Int32), leafElem("q", rpt, pqformat.Int32)},
		leaves: [][]lv{{{0, 0, int32(1)}}, {{0, 1, int32(2)}, {1, 1, int32(3)}}},
		want:   `{"p":1,"q":[2,3]}`,
	}, {
		name:   "a repeated group without annotation",
		schema: []pqformat.SchemaElement{group("a", rpt, 2), leafElem("p", req, pqformat.Int32), leafElem("q", opt, pqformat.Float)},
		leaves: [][]lv{{{0, 1, int32(1)}, {1, 1, int32(2)}}, {{0, 2, float32(0.5)}, {1, 1, nil}}},
		want:   `[{"p":1,"q":0.5},{"p":2,"q":null}]`,
	}, {
		name:   "a repeated group, empty",
		schema: []pqformat.SchemaElement{group("a", rpt, 2), leafElem("p", req, pqformat.Int32), leafElem("q", opt, pqformat.Float)},
		leaves: [][]lv{{{0, 0, nil}}, {{0, 0, nil}}},
		want:   `[]`,
	}, {
		name: "struct with text, bytes, NaN and escapes",
		schema: []pqformat.SchemaElement{group("s", opt, 4), annotated(leafElem("a\"b", req, pqformat.ByteArray), -1, str),
			leafElem("raw", req, pqformat.ByteArray), leafElem("f", req, pqformat.Double),
			annotated(leafElem("j", opt, pqformat.ByteArray), deprecated.Json, nil)},
		leaves: [][]lv{{{0, 1, []byte("x\n\x01")}}, {{0, 1, []byte("\xff\xfeok")}}, {{0, 1, nan()}}, {{0, 1, nil}}},
		want:   "{\"a\\\"b\":\"x\\n\\u0001\",\"raw\":\"\ufffd\ufffdok\",\"f\":\"NaN\",\"j\":null}",
	}, {
		name: "list of JSON values",
		schema: []pqformat.SchemaElement{annotated(group("a", opt, 1), -1, list), group("list", rpt, 1),
			annotated(leafElem("element", opt, pqformat.ByteArray), -1, &pqformat.JsonType{})},
		leaves: [][]lv{{{0, 3, []byte(`{"a":[1]}`)}, {1, 3, []byte("not json")}, {1, 2, nil}, {1, 3, []byte(" 1 ")}}},
		want:   `[{"a":[1]},"not json",null, 1 ]`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := group("root", req, 1)
			root.RepetitionType = thrift.Null[pqformat.FieldRepetitionType]{}
			fields, leaves, err := buildSchema(append([]pqformat.SchemaElement{root}, tt.schema...))
			if err != nil {
				t.Fatal(err)
			}
			if len(leaves) != len(tt.leaves) {
				t.Fatalf("%d leaves, test has values for %d", len(leaves), len(tt.leaves))
			}
			got, err := renderField(fields[0], leaves, tt.leaves)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			// A leaf without values, or with values left over, is
			// corrupt data, not a panic.
			for j := range tt.leaves {
				short := append([][]lv(nil), tt.leaves...)
				short[j] = nil
				if got, err := renderField(fields[0], leaves, short); err == nil {
					t.Errorf("leaf %d without values: %s, no error", j, got)
				}
				long := append([][]lv(nil), tt.leaves...)
				long[j] = append(append([]lv(nil), long[j]...), lv{0, 0, nil})
				if got, err := renderField(fields[0], leaves, long); err == nil {
					t.Errorf("leaf %d with a value left over: %s, no error", j, got)
				}
			}
		})
	}
}

func nan() float64 { var z float64; return z / z }

// renderField renders field n of one row from its leaves' values.
func renderField(n *node, leaves []*node, vals [][]lv) (string, error) {
	r := &Reader{vals: make([][]parquetgo.Value, len(leaves))}
	r.w.cols = r.vals
	r.w.pos = make([]int, len(leaves))
	for j, vs := range vals {
		for _, x := range vs {
			var v parquetgo.Value
			switch x := x.v.(type) {
			case nil:
				v = parquetgo.NullValue()
			case int32:
				v = parquetgo.Int32Value(x)
			case int64:
				v = parquetgo.Int64Value(x)
			case bool:
				v = parquetgo.BooleanValue(x)
			case float32:
				v = parquetgo.FloatValue(x)
			case float64:
				v = parquetgo.DoubleValue(x)
			case []byte:
				v = parquetgo.ByteArrayValue(x)
			}
			r.vals[j] = append(r.vals[j], v.Level(x.rep, x.def, j))
		}
	}
	var b pusher.Batch
	b.StartRecord()
	if err := r.nested(&b, n); err != nil {
		return "", err
	}
	f := b.Record(0)[0]
	if f.Kind == pusher.Null {
		return "null", nil
	}
	return string(b.Value(f)), nil
}

// TestOtherWriters reads files written by other implementations (Impala,
// parquet-mr, Arrow), from apache/parquet-testing via parquet-go's test
// data.
func TestOtherWriters(t *testing.T) {
	tests := []struct {
		file string
		cols string
		want [][]string
	}{{
		file: "alltypes_plain.parquet", // Impala: INT96 timestamps, plain binary strings
		cols: "[id bool_col tinyint_col smallint_col int_col bigint_col float_col double_col date_string_col string_col timestamp_col]",
		want: [][]string{
			{"n:4", "b:true", "n:0", "n:0", "n:0", "n:0", "n:0", "n:0", "s:03/01/09", "s:0", "s:2009-03-01T00:00:00.000000000"},
			{"n:5", "b:false", "n:1", "n:1", "n:1", "n:10", "n:1.1", "n:10.1", "s:03/01/09", "s:1", "s:2009-03-01T00:01:00.000000000"},
			{"n:6", "b:true", "n:0", "n:0", "n:0", "n:0", "n:0", "n:0", "s:04/01/09", "s:0", "s:2009-04-01T00:00:00.000000000"},
			{"n:7", "b:false", "n:1", "n:1", "n:1", "n:10", "n:1.1", "n:10.1", "s:04/01/09", "s:1", "s:2009-04-01T00:01:00.000000000"},
			{"n:2", "b:true", "n:0", "n:0", "n:0", "n:0", "n:0", "n:0", "s:02/01/09", "s:0", "s:2009-02-01T00:00:00.000000000"},
			{"n:3", "b:false", "n:1", "n:1", "n:1", "n:10", "n:1.1", "n:10.1", "s:02/01/09", "s:1", "s:2009-02-01T00:01:00.000000000"},
			{"n:0", "b:true", "n:0", "n:0", "n:0", "n:0", "n:0", "n:0", "s:01/01/09", "s:0", "s:2009-01-01T00:00:00.000000000"},
			{"n:1", "b:false", "n:1", "n:1", "n:1", "n:10", "n:1.1", "n:10.1", "s:01/01/09", "s:1", "s:2009-01-01T00:01:00.000000000"},
		},
	}, {
		file: "nested_lists.snappy.parquet",
		cols: "[a b]",
		want: [][]string{
			{`j:[[["a","b"],["c"]],[null,["d"]]]`, "n:1"},
			{`j:[[["a","b"],["c","d"]],[null,["e"]]]`, "n:1"},
			{`j:[[["a","b"],["c","d"],["e"]],[null,["f"]]]`, "n:1"},
		},
	}, {
		file: "nested_maps.snappy.parquet", // map<string, map<int, bool>>
		cols: "[a b c]",
		want: [][]string{
			{`j:{"a":[{"key":1,"value":true},{"key":2,"value":false}]}`, "n:1", "n:1"},
			{`j:{"b":[{"key":1,"value":true}]}`, "n:1", "n:1"},
			{`j:{"c":null}`, "n:1", "n:1"},
			{`j:{"d":[]}`, "n:1", "n:1"},
			{`j:{"e":[{"key":1,"value":true}]}`, "n:1", "n:1"},
			{`j:{"f":[{"key":3,"value":true},{"key":4,"value":false},{"key":5,"value":true}]}`, "n:1", "n:1"},
		},
	}, {
		file: "nullable.impala.parquet",
		cols: "[id int_array int_array_Array int_map int_Map_Array nested_struct]",
		want: [][]string{
			{"n:1", "j:[1,2,3]", "j:[[1,2],[3,4]]", `j:{"k1":1,"k2":100}`, `j:[{"k1":1}]`,
				`j:{"A":1,"b":[1],"C":{"d":[[{"E":10,"F":"aaa"},{"E":-10,"F":"bbb"}],[{"E":11,"F":"c"}]]},"g":{"foo":{"H":{"i":[1.1]}}}}`},
			{"n:2", "j:[null,1,2,null,3,null]", "j:[[null,1,2,null],[3,null,4],[],null]", `j:{"k1":2,"k2":null}`, `j:[{"k3":null,"k1":1},null,{}]`,
				`j:{"A":null,"b":[null],"C":{"d":[[{"E":null,"F":null},{"E":10,"F":"aaa"},{"E":null,"F":null},{"E":-10,"F":"bbb"},{"E":null,"F":null}],[{"E":11,"F":"c"},null],[],null]},"g":{"g1":{"H":{"i":[2.2,null]}},"g2":{"H":{"i":[]}},"g3":null,"g4":{"H":{"i":null}},"g5":{"H":null}}}`},
			{"n:3", "j:[]", "j:[null]", "j:{}", "j:[null,null]", `j:{"A":null,"b":null,"C":{"d":[]},"g":{}}`},
			{"n:4", "null", "j:[]", "j:{}", "j:[]", `j:{"A":null,"b":null,"C":{"d":null},"g":null}`},
			{"n:5", "null", "null", "j:{}", "null", `j:{"A":null,"b":null,"C":null,"g":{"foo":{"H":{"i":[2.2,3.3]}}}}`},
			{"n:6", "null", "null", "null", "null", "null"},
			{"n:7", "null", "j:[null,[5,6]]", `j:{"k1":null,"k3":null}`, "null", `j:{"A":7,"b":[2,3,null],"C":{"d":[[],[null],null]},"g":null}`},
		},
	}, {
		file: "repeated_no_annotation.parquet", // a repeated group inside an optional group
		cols: "[id phoneNumbers]",
		want: [][]string{
			{"n:1", "null"},
			{"n:2", "null"},
			{"n:3", `j:{"phone":[]}`},
			{"n:4", `j:{"phone":[{"number":5555555555,"kind":null}]}`},
			{"n:5", `j:{"phone":[{"number":1111111111,"kind":"home"}]}`},
			{"n:6", `j:{"phone":[{"number":1111111111,"kind":"home"},{"number":2222222222,"kind":null},{"number":3333333333,"kind":"mobile"}]}`},
		},
	}, {
		file: "datapage_v2.snappy.parquet",
		cols: "[a b c d e]",
		want: [][]string{
			{"s:abc", "n:1", "n:2", "b:true", "j:[1,2,3]"},
			{"s:abc", "n:2", "n:3", "b:true", "null"},
			{"s:abc", "n:3", "n:4", "b:true", "null"},
			{"null", "n:4", "n:5", "b:false", "j:[1,2,3]"},
			{"s:abc", "n:5", "n:2", "b:true", "j:[1,2]"},
		},
	}}
	for _, name := range []string{"byte_array_decimal.parquet", "fixed_length_decimal_legacy.parquet"} {
		var want [][]string
		for i := 1; i <= 24; i++ {
			want = append(want, []string{"n:" + strconv.Itoa(i) + ".00"})
		}
		tests = append(tests, struct {
			file string
			cols string
			want [][]string
		}{name, "[value]", want})
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			r := open(t, data, opts(), pusher.Position{})
			if got := fmtCols(r.cols); got != tt.cols {
				t.Errorf("columns %s, want %s", got, tt.cols)
			}
			diff(t, dump(t, r), tt.want)
		})
	}
}
