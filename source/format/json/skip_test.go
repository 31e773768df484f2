package json

import "testing"

func TestSkipper(t *testing.T) {
	tests := []struct {
		in   string
		end  int // -1: not ended
		eof  bool
		name string
	}{
		{name: "object", in: `{"a":[1,{"b":"}]"}]} ,`, end: 20},
		{name: "array", in: `[[],{},"]"] x`, end: 11},
		{name: "string", in: `"a\"b\\" ,`, end: 8},
		{name: "escaped quote at end", in: `"a\"`, end: -1},
		{name: "number", in: `-12.5e3,`, end: 7},
		{name: "number at eof", in: `12`, end: 2, eof: true},
		{name: "number open", in: `12`, end: -1},
		{name: "literal", in: "true]", end: 4},
		{name: "junk", in: "x1{", end: 2},
		{name: "open object", in: `{"a":{}`, end: -1},
		{name: "open object at eof", in: `{"a":{}`, end: -1, eof: true},
		{name: "mismatched", in: `{"a":[1}]`, end: 9},
		{name: "whitespace", in: "{ \n}", end: 4},
	}
	for _, tt := range tests {
		// Fed in two pieces split anywhere, the value ends at the same place.
		for split := 1; split <= len(tt.in); split++ {
			var s skipper
			end := -1
			n, done := s.scan([]byte(tt.in[:split]), tt.eof && split == len(tt.in))
			if done {
				end = n
			} else if split < len(tt.in) {
				m, done := s.scan([]byte(tt.in[split:]), tt.eof)
				if n != split {
					t.Fatalf("%s split %d: consumed %d without ending", tt.name, split, n)
				}
				if done {
					end = split + m
				}
			}
			if end != tt.end {
				t.Fatalf("%s split %d: end %d, want %d", tt.name, split, end, tt.end)
			}
		}
	}
}
