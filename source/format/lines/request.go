package lines

// The request line of the web-server presets: the one piece of their
// regexes with real choices (where the quoted request may close).

import "bytes"

// restFunc matches what follows a request line whose closing quote is
// line[c], writing the spans of its columns (all of them, matched or not).
type restFunc func(line []byte, c int, m []int) bool

// request matches a quoted request line, requestHTTPVersion or
// requestProtocol: "(?:(METHOD) )?(URL)(?: (VERSION))? ?" where METHOD is
// [^ "]+, URL is (?:[^"\\]|\\.)*? (lazy) and VERSION is HTTP/[^ "]*|-.
// line[a-1] is the opening quote; the method, URL and version are columns
// k, k+1 and k+2, and rest must match the rest of the line.
//
// The regex may close the request at more than one quote, and which split
// it picks depends on whether the rest of the line then matches: it tries
// a method first, then none; the shortest URL first; a version first; the
// space before the quote first. In the usual request, no backslash before
// the first quote, every way of closing it ends at that quote, so the rest
// is matched once and the split read from the ends of the request (see
// requestSplit). Otherwise requestGeneral tries the ways in the regex's
// order.
func request(line []byte, a int, m []int, k int, rest restFunc, general bool) scanResult {
	q := bytes.IndexByte(line[a:], '"')
	if q < 0 {
		return scanNoMatch // every way of closing it needs a quote
	}
	s := a + q
	if general || bytes.IndexByte(line[a:s], '\\') >= 0 {
		return requestGeneral(line, a, m, k, rest)
	}
	if !rest(line, s, m) {
		return scanNoMatch
	}
	requestSplit(line, a, s, m, k)
	return scanMatch
}

// requestSplit splits the request line[a:s], which has no quote and no
// backslash and is closed by the quote at s, as the regex does.
func requestSplit(line []byte, a, s int, m []int, k int) {
	// The method runs to the first space; there is none without one, or if
	// the request starts with a space.
	u := a
	m[2*k], m[2*k+1] = -1, -1
	if j := bytes.IndexByte(line[a:s], ' '); j > 0 {
		m[2*k], m[2*k+1] = a, a+j
		u = a + j + 1
	}
	// The URL is as short as can be: it ends at the first space from which
	// " VERSION", " VERSION " or " " reaches the quote. As the version has
	// no space, that is the last space before the quote, or the one before
	// it if the request ends with a space.
	p, vs, ve := s, -1, -1
	if s > u {
		e := s
		if line[s-1] == ' ' {
			e = s - 1
		}
		if j := bytes.LastIndexByte(line[u:e], ' '); j >= 0 && isVersion(line[u+j+1:e]) {
			p, vs, ve = u+j, u+j+1, e
		} else {
			p = e
		}
	}
	m[2*k+2], m[2*k+3] = u, p
	m[2*k+4], m[2*k+5] = vs, ve
}

// isVersion reports whether v, which has no space or quote, matches
// HTTP/[^ "]*|-.
func isVersion(v []byte) bool {
	return len(v) == 1 && v[0] == '-' || bytes.HasPrefix(v, []byte("HTTP/"))
}

// versionEnd returns the end of a version, HTTP/[^ "]*|-, at line[i:], or
// -1.
func versionEnd(line []byte, i int) int {
	if i < len(line) && line[i] == '-' {
		return i + 1
	}
	if !bytes.HasPrefix(line[i:], []byte("HTTP/")) {
		return -1
	}
	i += len("HTTP/")
	for i < len(line) && line[i] != ' ' && line[i] != '"' {
		i++
	}
	return i
}

// maxCloses bounds the closing quotes requestGeneral tries before it
// leaves the line to the regex.
const maxCloses = 4

// requestGeneral is request for any line: it tries the ways of closing the
// request in the regex's order, each closing quote once.
func requestGeneral(line []byte, a int, m []int, k int, rest restFunc) scanResult {
	var failed [maxCloses]int
	nfailed := 0
	// try closes the request at c with method ms:me, URL us:ue and
	// version vs:ve (-1 -1: none), and reports whether that decides the
	// line: res is then scanMatch, or scanUnsure after too many quotes.
	var res scanResult
	try := func(c, ms, me, us, ue, vs, ve int) (done bool) {
		for _, f := range failed[:nfailed] {
			if f == c {
				return false
			}
		}
		if nfailed == maxCloses {
			res = scanUnsure
			return true
		}
		if !rest(line, c, m) {
			failed[nfailed] = c
			nfailed++
			return false
		}
		m[2*k], m[2*k+1] = ms, me
		m[2*k+2], m[2*k+3] = us, ue
		m[2*k+4], m[2*k+5] = vs, ve
		res = scanMatch
		return true
	}
	for _, withMethod := range []bool{true, false} {
		ms, me, u := -1, -1, a
		if withMethod {
			j := a
			for j < len(line) && line[j] != ' ' && line[j] != '"' {
				j++
			}
			if j == a || j == len(line) || line[j] != ' ' {
				continue
			}
			ms, me, u = a, j, j+1
		}
		// The URL grows a character at a time, a backslash and the byte
		// after it together, and stops at a quote it cannot take.
	url:
		for p := u; p < len(line); {
			switch line[p] {
			case ' ':
				if v := versionEnd(line, p+1); v >= 0 {
					switch {
					case v+1 < len(line) && line[v] == ' ' && line[v+1] == '"':
						if try(v+1, ms, me, u, p, p+1, v) {
							return res
						}
					case v < len(line) && line[v] == '"':
						if try(v, ms, me, u, p, p+1, v) {
							return res
						}
					}
				}
				if p+1 < len(line) && line[p+1] == '"' && try(p+1, ms, me, u, p, -1, -1) {
					return res
				}
				p++
			case '"':
				if try(p, ms, me, u, p, -1, -1) {
					return res
				}
				break url
			case '\\':
				if p+1 == len(line) {
					break url
				}
				p += 2
			default:
				p++
			}
		}
	}
	return scanNoMatch
}
