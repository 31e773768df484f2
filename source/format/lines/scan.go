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

// Columns of ALB, in the order of its groups.
const (
	albType = iota
	albTime
	albELB
	albClientIP
	albClientPort
	albTargetIP
	albTargetPort
	albRequestProcessingTime
	albTargetProcessingTime
	albResponseProcessingTime
	albELBStatusCode
	albTargetStatusCode
	albReceivedBytes
	albSentBytes
	albRequestMethod
	albRequestURL
	albRequestHTTPVersion
	albUserAgent
	albSSLCipher
	albSSLProtocol
	albTargetGroupARN
	albTraceID
	albDomainName
	albChosenCertARN
	albMatchedRulePriority
	albRequestCreationTime
	albActionsExecuted
	albRedirectURL
	albErrorReason
	albTargetPortList
	albTargetStatusCodeList
	albClassification
	albClassificationReason
	albConnTraceID
	albNumCols
)

var albCols = [albNumCols]string{
	albType: "type", albTime: "time", albELB: "elb", albClientIP: "client_ip", albClientPort: "client_port",
	albTargetIP: "target_ip", albTargetPort: "target_port", albRequestProcessingTime: "request_processing_time",
	albTargetProcessingTime: "target_processing_time", albResponseProcessingTime: "response_processing_time",
	albELBStatusCode: "elb_status_code", albTargetStatusCode: "target_status_code", albReceivedBytes: "received_bytes",
	albSentBytes: "sent_bytes", albRequestMethod: "request_method", albRequestURL: "request_url",
	albRequestHTTPVersion: "request_http_version", albUserAgent: "user_agent", albSSLCipher: "ssl_cipher",
	albSSLProtocol: "ssl_protocol", albTargetGroupARN: "target_group_arn", albTraceID: "trace_id",
	albDomainName: "domain_name", albChosenCertARN: "chosen_cert_arn", albMatchedRulePriority: "matched_rule_priority",
	albRequestCreationTime: "request_creation_time", albActionsExecuted: "actions_executed", albRedirectURL: "redirect_url",
	albErrorReason: "error_reason", albTargetPortList: "target_port_list", albTargetStatusCodeList: "target_status_code_list",
	albClassification: "classification", albClassificationReason: "classification_reason", albConnTraceID: "conn_trace_id",
}

// scanALB is the scanner of ALB.
func scanALB(line []byte, m []int, general bool) scanResult {
	c := cursor{line: line, m: m}
	if !(c.tok(albType) && c.lit(' ') && c.tok(albTime) && c.lit(' ') && c.tok(albELB) && c.lit(' ') &&
		c.hostPort(albClientIP) && c.lit(' ')) {
		return scanNoMatch
	}
	// (?:TARGET|-): a "-" has no colon, so at most one of them matches.
	if c.i+1 < len(line) && line[c.i] == '-' && line[c.i+1] == ' ' {
		c.unset(albTargetIP, albTargetPort)
		c.i++
	} else if !c.hostPort(albTargetIP) {
		return scanNoMatch
	}
	for k := albRequestProcessingTime; k <= albSentBytes; k++ {
		if !(c.lit(' ') && c.tok(k)) {
			return scanNoMatch
		}
	}
	if !(c.lit(' ') && c.lit('"')) {
		return scanNoMatch
	}
	return request(line, c.i, m, albRequestMethod, albRest, general)
}

// albRest matches ALB after the request line, closed at line[q].
func albRest(line []byte, q int, m []int) bool {
	c := cursor{line: line, m: m, i: q + 1}
	if !(c.lit(' ') && c.quoted(albUserAgent) && c.lit(' ') && c.tok(albSSLCipher) && c.lit(' ') &&
		c.tok(albSSLProtocol) && c.lit(' ') && c.tok(albTargetGroupARN) && c.lit(' ') && c.quoted(albTraceID) &&
		c.lit(' ') && c.quoted(albDomainName) && c.lit(' ') && c.quoted(albChosenCertARN) && c.more()) {
		return false
	}
	// Each optional group is kept if it parses and the line goes on with a
	// space or ends after it; otherwise the regex drops it, and the groups
	// in it, and matches the end at the space before it.
	c.unset(albMatchedRulePriority, albConnTraceID)
	if !(c.lit(' ') && c.tok(albMatchedRulePriority) && c.lit(' ') && c.tok(albRequestCreationTime) &&
		c.lit(' ') && c.quoted(albActionsExecuted) && c.lit(' ') && c.quoted(albRedirectURL) &&
		c.lit(' ') && c.quoted(albErrorReason) && c.more()) {
		c.unset(albMatchedRulePriority, albErrorReason)
		return true
	}
	if !(c.lit(' ') && c.quoted(albTargetPortList) && c.lit(' ') && c.quoted(albTargetStatusCodeList) && c.more()) {
		c.unset(albTargetPortList, albTargetStatusCodeList)
		return true
	}
	if !(c.lit(' ') && c.quoted(albClassification) && c.lit(' ') && c.quoted(albClassificationReason) && c.more()) {
		c.unset(albClassification, albClassificationReason)
		return true
	}
	if c.lit(' ') {
		c.tok(albConnTraceID)
	}
	return true
}

// Columns of Combined, in the order of its groups; Common has the first
// commonNumCols of them.
const (
	clfRemoteAddr = iota
	clfRemoteUser
	clfTimeLocal
	clfRequestMethod
	clfRequestURL
	clfRequestProtocol
	clfStatus
	clfBodyBytesSent
	clfHTTPReferer
	clfHTTPUserAgent
	combinedNumCols

	commonNumCols = clfHTTPReferer
)

var combinedCols = [combinedNumCols]string{
	clfRemoteAddr: "remote_addr", clfRemoteUser: "remote_user", clfTimeLocal: "time_local",
	clfRequestMethod: "request_method", clfRequestURL: "request_url", clfRequestProtocol: "request_protocol",
	clfStatus: "status", clfBodyBytesSent: "body_bytes_sent", clfHTTPReferer: "http_referer", clfHTTPUserAgent: "http_user_agent",
}

var commonCols = [commonNumCols]string(combinedCols[:commonNumCols])

// scanCommon is the scanner of Common.
func scanCommon(line []byte, m []int, general bool) scanResult {
	return scanCLF(line, m, general, commonRest)
}

// scanCombined is the scanner of Combined.
func scanCombined(line []byte, m []int, general bool) scanResult {
	return scanCLF(line, m, general, combinedRest)
}

// scanCLF matches the part Common and Combined share, up to the request
// line; rest matches the rest.
func scanCLF(line []byte, m []int, general bool, rest restFunc) scanResult {
	c := cursor{line: line, m: m}
	if !(c.tok1(clfRemoteAddr) && c.lit(' ') && c.tok1(-1) && c.lit(' ') && c.tok1(clfRemoteUser) && c.lit(' ') &&
		c.bracketed(clfTimeLocal) && c.lit(' ') && c.lit('"')) {
		return scanNoMatch
	}
	return request(line, c.i, m, clfRequestMethod, rest, general)
}

// commonRest matches Common after the request line, closed at line[q].
func commonRest(line []byte, q int, m []int) bool {
	c := cursor{line: line, m: m, i: q + 1}
	return c.lit(' ') && c.digitsOrDash(clfStatus) && c.lit(' ') && c.digitsOrDash(clfBodyBytesSent) && c.more()
}

// combinedRest matches Combined after the request line, closed at line[q].
func combinedRest(line []byte, q int, m []int) bool {
	c := cursor{line: line, m: m, i: q + 1}
	return c.lit(' ') && c.digitsOrDash(clfStatus) && c.lit(' ') && c.digitsOrDash(clfBodyBytesSent) &&
		c.lit(' ') && c.quoted(clfHTTPReferer) && c.lit(' ') && c.quoted(clfHTTPUserAgent) && c.more()
}

// Columns of S3Access, in the order of its groups.
const (
	s3BucketOwner = iota
	s3Bucket
	s3Time
	s3RemoteIP
	s3Requester
	s3RequestID
	s3Operation
	s3Key
	s3RequestURI
	s3HTTPStatus
	s3ErrorCode
	s3BytesSent
	s3ObjectSize
	s3TotalTime
	s3TurnAroundTime
	s3Referrer
	s3UserAgent
	s3VersionID
	s3HostID
	s3SignatureVersion
	s3CipherSuite
	s3AuthenticationType
	s3HostHeader
	s3TLSVersion
	s3AccessPointARN
	s3ACLRequired
	s3NumCols
)

var s3Cols = [s3NumCols]string{
	s3BucketOwner: "bucket_owner", s3Bucket: "bucket", s3Time: "time", s3RemoteIP: "remote_ip", s3Requester: "requester",
	s3RequestID: "request_id", s3Operation: "operation", s3Key: "key", s3RequestURI: "request_uri", s3HTTPStatus: "http_status",
	s3ErrorCode: "error_code", s3BytesSent: "bytes_sent", s3ObjectSize: "object_size", s3TotalTime: "total_time",
	s3TurnAroundTime: "turn_around_time", s3Referrer: "referrer", s3UserAgent: "user_agent", s3VersionID: "version_id",
	s3HostID: "host_id", s3SignatureVersion: "signature_version", s3CipherSuite: "cipher_suite",
	s3AuthenticationType: "authentication_type", s3HostHeader: "host_header", s3TLSVersion: "tls_version",
	s3AccessPointARN: "access_point_arn", s3ACLRequired: "acl_required",
}

// scanS3Access is the scanner of S3Access. It has no request line to
// split, so it always decides.
func scanS3Access(line []byte, m []int, _ bool) scanResult {
	c := cursor{line: line, m: m}
	if !(c.tok(s3BucketOwner) && c.lit(' ') && c.tok(s3Bucket) && c.lit(' ') && c.bracketed(s3Time)) {
		return scanNoMatch
	}
	for k := s3RemoteIP; k <= s3Key; k++ {
		if !(c.lit(' ') && c.tok(k)) {
			return scanNoMatch
		}
	}
	if !(c.lit(' ') && c.quotedOrDash(s3RequestURI)) {
		return scanNoMatch
	}
	for k := s3HTTPStatus; k <= s3TurnAroundTime; k++ {
		if !(c.lit(' ') && c.tok(k)) {
			return scanNoMatch
		}
	}
	if !(c.lit(' ') && c.quotedOrDash(s3Referrer) && c.lit(' ') && c.quotedOrDash(s3UserAgent) &&
		c.lit(' ') && c.tok(s3VersionID)) {
		return scanNoMatch
	}
	// The optional fields: each is there if a space is (a field ends at a
	// space or the end of the line, where the regex's end then matches).
	k := s3HostID
	for ; k <= s3ACLRequired && c.lit(' '); k++ {
		c.tok(k)
	}
	c.unset(k, s3ACLRequired)
	return scanMatch
}
