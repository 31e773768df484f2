package json

// skipper finds where a JSON value ends in data fed to it in pieces. It
// follows strings and nesting only and does not check the grammar, so it
// also finds the end of an invalid value: a bad record is passed over to
// its end and reading goes on after it. Its state is a few words however
// long the value.
type skipper struct {
	depth  int  // open objects and arrays
	begun  bool // the value's first byte was seen
	str    bool // inside a string
	esc    bool // after a backslash inside a string
	scalar bool // a number or literal (or junk) outside any string or nesting
}

// delim[c] is true for the bytes that end a number or literal.
var delim = func() (t [256]bool) {
	for _, c := range []byte(" \t\r\n,:]}[{\"") {
		t[c] = true
	}
	return t
}()

// scan reads data, the next bytes of the value, and returns how many of
// them belong to the value and whether the value ends there. With eof,
// data ends the stream, which ends a number or literal.
func (s *skipper) scan(data []byte, eof bool) (int, bool) {
	i := 0
	if !s.begun && len(data) > 0 {
		s.begun = true
		switch data[0] {
		case '{', '[':
			s.depth, i = 1, 1
		case '"':
			s.str, i = true, 1
		default:
			s.scalar = true
		}
	}
	if s.scalar {
		for ; i < len(data); i++ {
			if delim[data[i]] {
				return i, true
			}
		}
		return i, eof
	}
	for i < len(data) {
		c := data[i]
		i++
		if s.str {
			switch {
			case s.esc:
				s.esc = false
			case c == '\\':
				s.esc = true
			case c == '"':
				s.str = false
				if s.depth == 0 {
					return i, true
				}
			}
			continue
		}
		switch c {
		case '"':
			s.str = true
		case '{', '[':
			s.depth++
		case '}', ']':
			if s.depth--; s.depth == 0 {
				return i, true
			}
		}
	}
	return i, false
}
