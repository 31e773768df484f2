package jsonscan

import (
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxDepth bounds the nesting of objects and arrays, the outermost value
// included.
const MaxDepth = 1000

// ErrTooDeep is returned for values nested deeper than MaxDepth.
var ErrTooDeep = fmt.Errorf("JSON nested deeper than %d levels", MaxDepth)

// A SyntaxError is invalid JSON at byte Off of the data scanned.
type SyntaxError struct {
	// Off indexes the byte at fault in the data; it is len(data) when the
	// data ended too early (End).
	Off int
	End bool
	// Msg says what is wrong, such as "unexpected '}' after object key";
	// with End, "unexpected end of line looking for a value" or
	// "unterminated string".
	Msg string
}

// Error describes the error as the JSON-lines reader reports it: the data
// is a line and Off+1 its column.
func (e *SyntaxError) Error() string {
	if e.End {
		return "invalid JSON: " + e.Msg
	}
	return fmt.Sprintf("invalid JSON at column %d: %s", e.Off+1, e.Msg)
}

// Unexpected describes the byte data[i] (or the end of data) as
// unexpected, what saying where: "after object value".
func Unexpected(data []byte, i int, what string) error {
	if i >= len(data) {
		return &SyntaxError{Off: len(data), End: true, Msg: "unexpected end of line " + what}
	}
	return &SyntaxError{Off: i, Msg: "unexpected " + QuoteByte(data[i]) + " " + what}
}

// QuoteByte names c for an error message: 'x', or byte 0x01.
func QuoteByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return fmt.Sprintf("%q", rune(c))
	}
	return fmt.Sprintf("byte 0x%02x", c)
}

// Kind names the kind of value that starts with c ("an object", "a
// number", ...), or returns "" when no JSON value starts with c.
func Kind(c byte) string {
	switch {
	case c == '{':
		return "an object"
	case c == '[':
		return "an array"
	case c == '"':
		return "a string"
	case c == '-' || (c >= '0' && c <= '9'):
		return "a number"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	}
	return ""
}

// IsSpace reports whether c is JSON whitespace.
func IsSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// SkipSpace returns the index of the first byte at or after i in data
// that is not JSON whitespace.
func SkipSpace(data []byte, i int) int {
	for i < len(data) && IsSpace(data[i]) {
		i++
	}
	return i
}

// plain[c] is true for bytes that stand for themselves inside a JSON string.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// Unquote reads the string starting at the quote data[i]. It returns its
// unescaped bytes (a subslice of data when it has no escapes, otherwise
// *dst, reused) and the index after the closing quote.
func Unquote(data []byte, i int, dst *[]byte) ([]byte, int, error) {
	i++
	s := i
	for i < len(data) && plain[data[i]] {
		i++
	}
	if i < len(data) && data[i] == '"' {
		return data[s:i], i + 1, nil
	}
	buf := append((*dst)[:0], data[s:i]...)
	for i < len(data) {
		c := data[i]
		if plain[c] {
			j := i + 1
			for j < len(data) && plain[data[j]] {
				j++
			}
			buf = append(buf, data[i:j]...)
			i = j
			continue
		}
		switch c {
		case '"':
			*dst = buf
			return buf, i + 1, nil
		case '\\':
			if i+1 >= len(data) {
				return nil, i, Unexpected(data, i+1, "in string escape")
			}
			switch e := data[i+1]; e {
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
				r1, ok := hex4(data, i+2)
				if !ok {
					return nil, i, badUnicode(i)
				}
				i += 6
				if utf16.IsSurrogate(r1) {
					if r2, ok := hex4(data, i+2); ok && data[i] == '\\' && data[i+1] == 'u' {
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
				return nil, i, badEscape(data, i)
			}
			i += 2
		default:
			return nil, i, Unexpected(data, i, "in string (control characters must be escaped)")
		}
	}
	return nil, i, errUnterminated(data)
}

func badUnicode(i int) error { return &SyntaxError{Off: i, Msg: `invalid \u escape in string`} }

func badEscape(data []byte, i int) error {
	return &SyntaxError{Off: i, Msg: fmt.Sprintf("invalid escape %q in string", data[i:i+2])}
}

func errUnterminated(data []byte) error {
	return &SyntaxError{Off: len(data), End: true, Msg: "unterminated string"}
}

// hex4 decodes the 4 hex digits at data[i:i+4].
func hex4(data []byte, i int) (rune, bool) {
	if i+4 > len(data) {
		return 0, false
	}
	var v rune
	for _, c := range data[i : i+4] {
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

// SkipValue checks the value starting at data[i] and returns the index
// after it.
func SkipValue(data []byte, i int) (int, error) {
	if i >= len(data) {
		return i, Unexpected(data, i, "looking for a value")
	}
	return skipValue(data, i, 1)
}

// skipValue checks the value starting at data[i], at nesting depth depth,
// and returns the index after it.
func skipValue(data []byte, i, depth int) (int, error) {
	switch c := data[i]; c {
	case '"':
		return skipString(data, i)
	case '{', '[':
		return skipComposite(data, i, depth)
	case 't':
		return literal(data, i, "true")
	case 'f':
		return literal(data, i, "false")
	case 'n':
		return literal(data, i, "null")
	default:
		if c != '-' && (c < '0' || c > '9') {
			return i, Unexpected(data, i, "looking for a value")
		}
		return number(data, i)
	}
}

func literal(data []byte, i int, lit string) (int, error) {
	e := i + len(lit)
	if e > len(data) || string(data[i:e]) != lit {
		return i, Unexpected(data, i, "looking for a value")
	}
	return e, nil
}

// number returns the end of the JSON number at data[i], checking its
// grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func number(data []byte, i int) (int, error) {
	if data[i] == '-' {
		i++
	}
	switch {
	case i < len(data) && data[i] == '0':
		i++
	case i < len(data) && data[i] >= '1' && data[i] <= '9':
		i = digits(data, i+1)
	default:
		return i, Unexpected(data, i, "in number")
	}
	if i < len(data) && data[i] == '.' {
		j := digits(data, i+1)
		if j == i+1 {
			return j, Unexpected(data, j, "after decimal point in number")
		}
		i = j
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		j := digits(data, i)
		if j == i {
			return j, Unexpected(data, j, "in exponent of number")
		}
		i = j
	}
	return i, nil
}

func digits(data []byte, i int) int {
	for i < len(data) && data[i] >= '0' && data[i] <= '9' {
		i++
	}
	return i
}

// skipString checks the string starting at the quote data[i] and returns
// the index after its closing quote.
func skipString(data []byte, i int) (int, error) {
	i++
	for i < len(data) {
		c := data[i]
		if plain[c] {
			i++
			continue
		}
		switch c {
		case '"':
			return i + 1, nil
		case '\\':
			if i+1 >= len(data) {
				return i, Unexpected(data, i+1, "in string escape")
			}
			switch data[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if _, ok := hex4(data, i+2); !ok {
					return i, badUnicode(i)
				}
				i += 6
			default:
				return i, badEscape(data, i)
			}
		default:
			return i, Unexpected(data, i, "in string (control characters must be escaped)")
		}
	}
	return i, errUnterminated(data)
}

// skipComposite checks the object or array starting at data[i], at
// nesting depth depth, and returns the index after it.
func skipComposite(data []byte, i, depth int) (int, error) {
	if depth > MaxDepth {
		return i, ErrTooDeep
	}
	closing := byte('}')
	if data[i] == '[' {
		closing = ']'
	}
	i = SkipSpace(data, i+1)
	if i < len(data) && data[i] == closing {
		return i + 1, nil
	}
	for {
		var err error
		if closing == '}' {
			if i >= len(data) || data[i] != '"' {
				return i, Unexpected(data, i, "looking for an object key")
			}
			if i, err = skipString(data, i); err != nil {
				return i, err
			}
			i = SkipSpace(data, i)
			if i >= len(data) || data[i] != ':' {
				return i, Unexpected(data, i, "after object key")
			}
			i = SkipSpace(data, i+1)
		}
		if i >= len(data) {
			return i, Unexpected(data, i, "looking for a value")
		}
		if i, err = skipValue(data, i, depth+1); err != nil {
			return i, err
		}
		i = SkipSpace(data, i)
		if i < len(data) && data[i] == ',' {
			i = SkipSpace(data, i+1)
			continue
		}
		if i < len(data) && data[i] == closing {
			return i + 1, nil
		}
		if closing == '}' {
			return i, Unexpected(data, i, "after object value")
		}
		return i, Unexpected(data, i, "after array element")
	}
}
