package lines

import "bytes"

// A preset's regex is its definition; reading a line with it is slow
// (tens of MB/s, less on long lines). Each preset therefore also has a
// hand-written scanner that gives the same result as the regex for every
// line: the same match or no match, and the same span for every group.
// Where a scanner cannot decide cheaply it says so, and the line goes to
// the regex. The fuzz tests (FuzzScan*) hold the scanners to the regexes.
//
// A scanner follows its regex piece by piece. Most pieces match one way
// only: an unquoted field [^ ]* ends at the next space, a quoted field
// "(?:[^"\\]|\\.)*" at the first quote not escaped by a backslash, a
// [time] at the first ']'. The optional trailing groups are kept when they
// parse and are followed by a space or the end of the line, as the regex's
// greedy choice is. The one piece with real choices is the request line,
// see request.

// scanResult is the outcome of a scanner.
type scanResult int8

const (
	scanNoMatch scanResult = iota // the regex does not match
	scanMatch                     // the regex matches, with the spans written
	scanUnsure                    // ask the regex
)

// presetScanner is the scanner of a preset regex.
type presetScanner struct {
	// cols are the regex's named groups, in order; the scanner writes the
	// span of column k to m[2k:2k+2], -1 -1 for a group that did not take
	// part in the match.
	cols []string
	// scan matches line, which holds no LF. general makes the request line
	// take the general path even where the quick one applies (for tests).
	scan func(line []byte, m []int, general bool) scanResult
}

// scanners maps preset regexes to their scanners.
var scanners = map[string]presetScanner{
	ALB:      {albCols[:], scanALB},
	Combined: {combinedCols[:], scanCombined},
	Common:   {commonCols[:], scanCommon},
	S3Access: {s3Cols[:], scanS3Access},
}

// cursor walks a line, writing spans to m. Its matching methods report
// whether the piece matched at i, and move i past it if so.
type cursor struct {
	line []byte
	m    []int
	i    int
}

func (c *cursor) set(k, s, e int) { c.m[2*k], c.m[2*k+1] = s, e }

// unset marks columns from through to as not matched.
func (c *cursor) unset(from, to int) {
	for k := from; k <= to; k++ {
		c.set(k, -1, -1)
	}
}

// more matches the end of the presets, `(?: .*)?$`: the end of the line or
// a space (a line has no LF for .* to stop at).
func (c *cursor) more() bool { return c.i == len(c.line) || c.line[c.i] == ' ' }

// lit matches the byte b.
func (c *cursor) lit(b byte) bool {
	if c.i < len(c.line) && c.line[c.i] == b {
		c.i++
		return true
	}
	return false
}

// tok matches [^ ]* as column k (k < 0: no column). It always matches.
func (c *cursor) tok(k int) bool {
	e := len(c.line)
	if j := bytes.IndexByte(c.line[c.i:], ' '); j >= 0 {
		e = c.i + j
	}
	if k >= 0 {
		c.set(k, c.i, e)
	}
	c.i = e
	return true
}

// tok1 matches [^ ]+ as column k (k < 0: no column).
func (c *cursor) tok1(k int) bool {
	s := c.i
	return c.tok(k) && c.i > s
}

// quoted matches "(?:[^"\\]|\\.)*" with the inside as column k.
func (c *cursor) quoted(k int) bool {
	if c.i >= len(c.line) || c.line[c.i] != '"' {
		return false
	}
	q := qsEnd(c.line, c.i+1)
	if q < 0 {
		return false
	}
	c.set(k, c.i+1, q)
	c.i = q + 1
	return true
}

// quotedOrBare matches (?:"(?:[^"\\]|\\.)*"|[^ "]+) as column k: the inside of
// the quotes, or the bare field.
func (c *cursor) quotedOrBare(k int) bool {
	if c.i < len(c.line) && c.line[c.i] == '"' {
		return c.quoted(k)
	}
	e := c.i
	for e < len(c.line) && c.line[e] != ' ' && c.line[e] != '"' {
		e++
	}
	if e == c.i {
		return false
	}
	c.set(k, c.i, e)
	c.i = e
	return true
}

// quotedOrDash matches (?:"(?:[^"\\]|\\.)*"|-) with the inside of the
// quotes as column k.
func (c *cursor) quotedOrDash(k int) bool {
	if c.lit('-') {
		c.set(k, -1, -1)
		return true
	}
	return c.quoted(k)
}

// bracketed matches \[([^\]]*)\] with the inside as column k.
func (c *cursor) bracketed(k int) bool {
	if !c.lit('[') {
		return false
	}
	j := bytes.IndexByte(c.line[c.i:], ']')
	if j < 0 {
		return false
	}
	c.set(k, c.i, c.i+j)
	c.i += j + 1
	return true
}

// digitsOrDash matches ([0-9]+|-) as column k.
func (c *cursor) digitsOrDash(k int) bool {
	s := c.i
	for c.i < len(c.line) && isDigit(c.line[c.i]) {
		c.i++
	}
	if c.i == s && !c.lit('-') {
		return false
	}
	c.set(k, s, c.i)
	return true
}

// hostPort matches \[?([^ \[\]]*)\]?:([0-9]+) as columns k and k+1 to the
// next space or the end. The port runs from the last colon to the end, so
// the match is unique: the bracket is taken if there is one, and the
// address runs to the colon or to a ']' just before it.
func (c *cursor) hostPort(k int) bool {
	s := c.i
	end := len(c.line)
	if j := bytes.IndexByte(c.line[s:], ' '); j >= 0 {
		end = s + j
	}
	if s < end && c.line[s] == '[' {
		s++
	}
	colon := bytes.LastIndexByte(c.line[s:end], ':')
	if colon < 0 || s+colon+1 == end {
		return false
	}
	colon += s
	for _, b := range c.line[colon+1 : end] {
		if !isDigit(b) {
			return false
		}
	}
	e := colon
	if e > s && c.line[e-1] == ']' {
		e--
	}
	for _, b := range c.line[s:e] {
		if b == '[' || b == ']' {
			return false
		}
	}
	c.set(k, s, e)
	c.set(k+1, colon+1, end)
	c.i = end
	return true
}

func isDigit(b byte) bool { return '0' <= b && b <= '9' }

// qsEnd returns the index of the quote that ends the quoted field whose
// inside starts at i (line[i-1] is its opening quote), or -1. In
// (?:[^"\\]|\\.)* a backslash takes the next byte with it, so the field
// ends at the first quote after an even run of backslashes. (A backslash
// escapes a whole UTF-8 character to the regex, but none of the bytes of
// one is a quote or a backslash, so counting bytes gives the same end.)
func qsEnd(line []byte, i int) int {
	for {
		j := bytes.IndexByte(line[i:], '"')
		if j < 0 {
			return -1
		}
		q := i + j
		n := 0
		for line[q-n-1] == '\\' { // stops at the opening quote at the latest
			n++
		}
		if n%2 == 0 {
			return q
		}
		i = q + 1
	}
}
