package jsonl

import (
	"errors"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/ferrydata/ferry/source"
)

// maxDepth bounds the nesting of objects and arrays, the line's object
// included.
const maxDepth = 1000

var errTooDeep = fmt.Errorf("JSON nested deeper than %d levels", maxDepth)

// plain[c] is true for bytes that stand for themselves inside a JSON string.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// syntaxError describes invalid JSON at byte i of the line.
func syntaxError(line []byte, i int, what string) error {
	if i >= len(line) {
		return fmt.Errorf("invalid JSON: unexpected end of line %s", what)
	}
	return fmt.Errorf("invalid JSON at column %d: unexpected %s %s", i+1, quoteByte(line[i]), what)
}

func quoteByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return fmt.Sprintf("%q", rune(c))
	}
	return fmt.Sprintf("byte 0x%02x", c)
}

func skipSpace(line []byte, i int) int {
	for i < len(line) {
		switch line[i] {
		case ' ', '\t', '\r', '\n':
			i++
		default:
			return i
		}
	}
	return i
}

// object parses the object starting at line[i] into a new record of b.
func (r *Reader) object(b *source.Batch, line []byte, i int) error {
	if line[i] != '{' {
		return notObject(line, i)
	}
	ncols := len(r.cols)
	b.StartRecord()
	for range ncols {
		b.AddNull()
	}
	if err := r.members(b, line, i+1); err != nil {
		b.DropRecord()
		// Forget the columns this record introduced.
		for _, c := range r.cols[ncols:] {
			delete(r.index, c)
		}
		r.cols = r.cols[:ncols]
		return err
	}
	return nil
}

func notObject(line []byte, i int) error {
	var what string
	switch c := line[i]; {
	case c == '[':
		what = "an array"
	case c == '"':
		what = "a string"
	case c == '-' || (c >= '0' && c <= '9'):
		what = "a number"
	case c == 't' || c == 'f':
		what = "a boolean"
	case c == 'n':
		what = "null"
	default:
		return syntaxError(line, i, "looking for the beginning of an object")
	}
	return fmt.Errorf("not a JSON object: the line holds %s", what)
}

// members parses the members of an object after its '{' and checks that
// only whitespace follows it.
func (r *Reader) members(b *source.Batch, line []byte, i int) error {
	nf := len(r.cols) // fields in the record
	k := 0            // members seen
	i = skipSpace(line, i)
	if i < len(line) && line[i] == '}' {
		i++
	} else {
		for {
			if i >= len(line) || line[i] != '"' {
				return syntaxError(line, i, "looking for an object key")
			}
			key, j, err := r.str(line, i, &r.key)
			if err != nil {
				return err
			}
			i = skipSpace(line, j)
			if i >= len(line) || line[i] != ':' {
				return syntaxError(line, i, "after object key")
			}
			i = skipSpace(line, i+1)
			col := r.column(key, k)
			k++
			if i >= len(line) {
				return syntaxError(line, i, "looking for a value")
			}
			var (
				kind source.Kind
				val  []byte
			)
			switch c := line[i]; c {
			case '"':
				kind = source.String
				val, i, err = r.str(line, i, &r.scratch)
			case '{', '[':
				kind = source.JSON
				var e int
				e, err = skipComposite(line, i, 2)
				val, i = line[i:e], e
			case 't':
				kind = source.Bool
				val, i, err = literal(line, i, "true")
			case 'f':
				kind = source.Bool
				val, i, err = literal(line, i, "false")
			case 'n':
				kind = source.Null
				_, i, err = literal(line, i, "null")
			default:
				if c != '-' && (c < '0' || c > '9') {
					return syntaxError(line, i, "looking for a value")
				}
				kind = source.Number
				var e int
				e, err = number(line, i)
				val, i = line[i:e], e
			}
			if err != nil {
				return err
			}
			if col < nf {
				b.SetField(col, kind, val)
			} else {
				b.AddField(kind, val)
				nf++
			}
			i = skipSpace(line, i)
			if i < len(line) && line[i] == ',' {
				i = skipSpace(line, i+1)
				continue
			}
			if i < len(line) && line[i] == '}' {
				i++
				break
			}
			return syntaxError(line, i, "after object value")
		}
	}
	if i = skipSpace(line, i); i < len(line) {
		return syntaxError(line, i, "after the object (one object per line)")
	}
	return nil
}

// column returns the column of key, the k-th member of an object, adding
// a column for a new key. Lines usually repeat the previous line's keys in
// the same order, so the column the k-th key had last time is tried before
// the map.
func (r *Reader) column(key []byte, k int) int {
	if k < len(r.order) {
		if c := r.order[k]; c < len(r.cols) && r.cols[c] == string(key) {
			return c
		}
	}
	col, ok := r.index[string(key)]
	if !ok {
		col = len(r.cols)
		name := string(key)
		r.cols = append(r.cols, name)
		r.index[name] = col
	}
	if k < len(r.order) {
		r.order[k] = col
	} else if k == len(r.order) && k < maxOrder {
		r.order = append(r.order, col)
	}
	return col
}

// maxOrder bounds the remembered key order.
const maxOrder = 1024

func literal(line []byte, i int, lit string) ([]byte, int, error) {
	e := i + len(lit)
	if e > len(line) || string(line[i:e]) != lit {
		return nil, i, syntaxError(line, i, "looking for a value")
	}
	return line[i:e], e, nil
}

// str reads the string starting at the quote line[i]. It returns its
// unescaped bytes (a subslice of line when it has no escapes, otherwise
// *dst) and the index after the closing quote.
func (r *Reader) str(line []byte, i int, dst *[]byte) ([]byte, int, error) {
	i++
	s := i
	for i < len(line) && plain[line[i]] {
		i++
	}
	if i < len(line) && line[i] == '"' {
		return line[s:i], i + 1, nil
	}
	buf := append((*dst)[:0], line[s:i]...)
	for i < len(line) {
		c := line[i]
		if plain[c] {
			j := i + 1
			for j < len(line) && plain[line[j]] {
				j++
			}
			buf = append(buf, line[i:j]...)
			i = j
			continue
		}
		switch c {
		case '"':
			*dst = buf
			return buf, i + 1, nil
		case '\\':
			if i+1 >= len(line) {
				return nil, i, syntaxError(line, i+1, "in string escape")
			}
			switch e := line[i+1]; e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r1, ok := hex4(line, i+2)
				if !ok {
					return nil, i, fmt.Errorf("invalid JSON at column %d: invalid \\u escape in string", i+1)
				}
				i += 6
				if utf16.IsSurrogate(r1) {
					if r2, ok := hex4(line, i+2); ok && line[i] == '\\' && line[i+1] == 'u' {
						if d := utf16.DecodeRune(r1, r2); d != utf8.RuneError {
							buf = utf8.AppendRune(buf, d)
							i += 6
							continue
						}
					}
					r1 = utf8.RuneError
				}
				buf = utf8.AppendRune(buf, r1)
				continue
			default:
				return nil, i, fmt.Errorf("invalid JSON at column %d: invalid escape %q in string", i+1, line[i:i+2])
			}
			i += 2
		default:
			return nil, i, syntaxError(line, i, "in string (control characters must be escaped)")
		}
	}
	return nil, i, errors.New("invalid JSON: unterminated string")
}

// hex4 decodes the 4 hex digits at line[i:i+4].
func hex4(line []byte, i int) (rune, bool) {
	if i+4 > len(line) {
		return 0, false
	}
	var v rune
	for _, c := range line[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		v = v<<4 | rune(c)
	}
	return v, true
}

// number returns the end of the JSON number at line[i], checking its
// grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func number(line []byte, i int) (int, error) {
	if line[i] == '-' {
		i++
	}
	switch {
	case i < len(line) && line[i] == '0':
		i++
	case i < len(line) && line[i] >= '1' && line[i] <= '9':
		i = digits(line, i+1)
	default:
		return i, syntaxError(line, i, "in number")
	}
	if i < len(line) && line[i] == '.' {
		j := digits(line, i+1)
		if j == i+1 {
			return j, syntaxError(line, j, "after decimal point in number")
		}
		i = j
	}
	if i < len(line) && (line[i] == 'e' || line[i] == 'E') {
		i++
		if i < len(line) && (line[i] == '+' || line[i] == '-') {
			i++
		}
		j := digits(line, i)
		if j == i {
			return j, syntaxError(line, j, "in exponent of number")
		}
		i = j
	}
	return i, nil
}

func digits(line []byte, i int) int {
	for i < len(line) && line[i] >= '0' && line[i] <= '9' {
		i++
	}
	return i
}

// skipString checks the string starting at the quote line[i] and returns
// the index after its closing quote.
func skipString(line []byte, i int) (int, error) {
	i++
	for i < len(line) {
		c := line[i]
		if plain[c] {
			i++
			continue
		}
		switch c {
		case '"':
			return i + 1, nil
		case '\\':
			if i+1 >= len(line) {
				return i, syntaxError(line, i+1, "in string escape")
			}
			switch line[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if _, ok := hex4(line, i+2); !ok {
					return i, fmt.Errorf("invalid JSON at column %d: invalid \\u escape in string", i+1)
				}
				i += 6
			default:
				return i, fmt.Errorf("invalid JSON at column %d: invalid escape %q in string", i+1, line[i:i+2])
			}
		default:
			return i, syntaxError(line, i, "in string (control characters must be escaped)")
		}
	}
	return i, errors.New("invalid JSON: unterminated string")
}

// skipComposite checks the object or array starting at line[i], at nesting
// depth depth, and returns the index after it.
func skipComposite(line []byte, i, depth int) (int, error) {
	if depth > maxDepth {
		return i, errTooDeep
	}
	closing := byte('}')
	if line[i] == '[' {
		closing = ']'
	}
	i = skipSpace(line, i+1)
	if i < len(line) && line[i] == closing {
		return i + 1, nil
	}
	for {
		var err error
		if closing == '}' {
			if i >= len(line) || line[i] != '"' {
				return i, syntaxError(line, i, "looking for an object key")
			}
			if i, err = skipString(line, i); err != nil {
				return i, err
			}
			i = skipSpace(line, i)
			if i >= len(line) || line[i] != ':' {
				return i, syntaxError(line, i, "after object key")
			}
			i = skipSpace(line, i+1)
		}
		if i >= len(line) {
			return i, syntaxError(line, i, "looking for a value")
		}
		switch c := line[i]; c {
		case '"':
			i, err = skipString(line, i)
		case '{', '[':
			i, err = skipComposite(line, i, depth+1)
		case 't':
			_, i, err = literal(line, i, "true")
		case 'f':
			_, i, err = literal(line, i, "false")
		case 'n':
			_, i, err = literal(line, i, "null")
		default:
			if c != '-' && (c < '0' || c > '9') {
				return i, syntaxError(line, i, "looking for a value")
			}
			i, err = number(line, i)
		}
		if err != nil {
			return i, err
		}
		i = skipSpace(line, i)
		if i < len(line) && line[i] == ',' {
			i = skipSpace(line, i+1)
			continue
		}
		if i < len(line) && line[i] == closing {
			return i + 1, nil
		}
		if closing == '}' {
			return i, syntaxError(line, i, "after object value")
		}
		return i, syntaxError(line, i, "after array element")
	}
}
