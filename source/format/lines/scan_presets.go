package lines

// The hand-written scanners of the presets, one per log format; see
// scan.go for how a scanner follows its regex.

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
		c.lit(' ') && c.quoted(albDomainName) && c.lit(' ') && c.quoted(albChosenCertARN)) {
		return false
	}
	// The line may end after each group of later fields; if it goes on,
	// the next group must parse.
	c.unset(albMatchedRulePriority, albConnTraceID)
	if c.i == len(line) {
		return true
	}
	if !(c.lit(' ') && c.tok(albMatchedRulePriority) && c.lit(' ') && c.tok(albRequestCreationTime) &&
		c.lit(' ') && c.quoted(albActionsExecuted) && c.lit(' ') && c.quoted(albRedirectURL) &&
		c.lit(' ') && c.quoted(albErrorReason)) {
		return false
	}
	if c.i == len(line) {
		return true
	}
	if !(c.lit(' ') && c.quotedOrBare(albTargetPortList) && c.lit(' ') && c.quotedOrBare(albTargetStatusCodeList)) {
		return false
	}
	if c.i == len(line) {
		return true
	}
	if !(c.lit(' ') && c.quoted(albClassification) && c.lit(' ') && c.quoted(albClassificationReason)) {
		return false
	}
	if c.i == len(line) {
		return true
	}
	// " conn_trace_id", then anything after a space.
	return c.lit(' ') && c.tok(albConnTraceID) && c.more()
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
