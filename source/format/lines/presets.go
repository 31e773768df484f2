package lines

import (
	"maps"
	"slices"
)

// Building blocks of the presets.
const (
	// tok is an unquoted field: anything up to the next space.
	tok = `[^ ]*`
	// qs is the inside of a double-quoted field, where a backslash escapes
	// the next byte (\" is a quote, as nginx, Apache and AWS write it).
	qs = `(?:[^"\\]|\\.)*`
	// bare is an unquoted field where a quoted one may also be: at least
	// one byte, up to the next space, no quote.
	bare = `[^ "]+`
	// more tolerates fields after the known ones, and is the line's end.
	more = `(?: .*)?$`
)

// Parts shared by presets.
const (
	// hostPortClient and hostPortTarget match ip:port as two groups. The
	// port follows the last colon, so an IPv6 address is read whether
	// written bare (2001:db8::1:443) or in brackets ([2001:db8::1]:443).
	hostPortClient = `\[?(?P<client_ip>[^ \[\]]*)\]?:(?P<client_port>[0-9]+)`
	hostPortTarget = `\[?(?P<target_ip>[^ \[\]]*)\]?:(?P<target_port>[0-9]+)`

	// requestHTTPVersion and requestProtocol match a quoted HTTP request
	// line "METHOD URL PROTOCOL" as request_method, request_url and
	// request_http_version or request_protocol. A request that does not
	// split so keeps what it can: AWS's "- - - " reads as three "-";
	// nginx's "-" or junk sent to an HTTP port (no method followed by a
	// space, no trailing HTTP/x) is all in request_url.
	requestHTTPVersion = `"(?:(?P<request_method>[^ "]+) )?(?P<request_url>` + qs + `?)(?: (?P<request_http_version>HTTP/[^ "]*|-))? ?"`
	requestProtocol    = `"(?:(?P<request_method>[^ "]+) )?(?P<request_url>` + qs + `?)(?: (?P<request_protocol>HTTP/[^ "]*|-))? ?"`
)

// ALB is the preset "alb": AWS Application Load Balancer access logs
// (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-access-logs.html).
// Columns, in order: type, time, elb, client_ip, client_port, target_ip,
// target_port (Null when the target is "-"), request_processing_time,
// target_processing_time, response_processing_time, elb_status_code,
// target_status_code, received_bytes, sent_bytes, request_method,
// request_url, request_http_version (the "request" field split),
// user_agent, ssl_cipher, ssl_protocol, target_group_arn, trace_id,
// domain_name, chosen_cert_arn, matched_rule_priority,
// request_creation_time, actions_executed, redirect_url, error_reason,
// target_port_list, target_status_code_list, classification,
// classification_reason, conn_trace_id. The fields from
// matched_rule_priority on were added over the years, in groups; a line may
// end after any group (the missing fields are Null), and fields AWS appends
// after conn_trace_id are ignored. target_port_list and
// target_status_code_list are read quoted (as AWS documents them) or bare
// (as some older samples write them). A line that goes on but whose next
// group does not parse does not match: it is a bad record, never a record
// with those values lost.
const ALB = `^(?P<type>` + tok + `) (?P<time>` + tok + `) (?P<elb>` + tok + `) ` +
	hostPortClient + ` (?:` + hostPortTarget + `|-) ` +
	`(?P<request_processing_time>` + tok + `) (?P<target_processing_time>` + tok + `) (?P<response_processing_time>` + tok + `) ` +
	`(?P<elb_status_code>` + tok + `) (?P<target_status_code>` + tok + `) (?P<received_bytes>` + tok + `) (?P<sent_bytes>` + tok + `) ` +
	requestHTTPVersion + ` "(?P<user_agent>` + qs + `)" (?P<ssl_cipher>` + tok + `) (?P<ssl_protocol>` + tok + `) ` +
	`(?P<target_group_arn>` + tok + `) "(?P<trace_id>` + qs + `)" "(?P<domain_name>` + qs + `)" "(?P<chosen_cert_arn>` + qs + `)"` +
	`(?:$| (?P<matched_rule_priority>` + tok + `) (?P<request_creation_time>` + tok + `) "(?P<actions_executed>` + qs + `)" ` +
	`"(?P<redirect_url>` + qs + `)" "(?P<error_reason>` + qs + `)"` +
	`(?:$| (?:"(?P<target_port_list>` + qs + `)"|(?P<target_port_list>` + bare + `)) ` +
	`(?:"(?P<target_status_code_list>` + qs + `)"|(?P<target_status_code_list>` + bare + `))` +
	`(?:$| "(?P<classification>` + qs + `)" "(?P<classification_reason>` + qs + `)"` +
	`(?:$| (?P<conn_trace_id>` + tok + `)` + more + `))))`

// Common is the preset "common": the Common Log Format of Apache and nginx
// (%h %l %u %t "%r" %>s %b). Columns: remote_addr, remote_user,
// time_local, request_method, request_url, request_protocol (the request
// line split), status, body_bytes_sent. The identity field (%l, always "-"
// in nginx) is not a column. Fields after the known ones are ignored.
const Common = `^(?P<remote_addr>[^ ]+) [^ ]+ (?P<remote_user>[^ ]+) \[(?P<time_local>[^\]]*)\] ` +
	requestProtocol + ` (?P<status>[0-9]+|-) (?P<body_bytes_sent>[0-9]+|-)` + more

// Combined is the preset "combined" (also "nginx"): the combined log
// format of nginx and Apache, the Common Log Format followed by the quoted
// referer and user agent. Columns: those of Common, then http_referer and
// http_user_agent. Fields after the known ones (a custom format adding
// "$http_x_forwarded_for", say) are ignored.
const Combined = `^(?P<remote_addr>[^ ]+) [^ ]+ (?P<remote_user>[^ ]+) \[(?P<time_local>[^\]]*)\] ` +
	requestProtocol + ` (?P<status>[0-9]+|-) (?P<body_bytes_sent>[0-9]+|-) ` +
	`"(?P<http_referer>` + qs + `)" "(?P<http_user_agent>` + qs + `)"` + more

// S3Access is the preset "s3-access": Amazon S3 server access logs
// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/LogFormat.html).
// Columns: bucket_owner, bucket, time, remote_ip, requester, request_id,
// operation, key, request_uri, http_status, error_code, bytes_sent,
// object_size, total_time, turn_around_time, referrer, user_agent,
// version_id, host_id, signature_version, cipher_suite,
// authentication_type, host_header, tls_version, access_point_arn,
// acl_required. request_uri, referrer and user_agent are quoted, or a bare
// "-". The fields from host_id on were added over the years; older lines
// without them read as Null, and fields AWS appends later are ignored.
const S3Access = `^(?P<bucket_owner>` + tok + `) (?P<bucket>` + tok + `) \[(?P<time>[^\]]*)\] (?P<remote_ip>` + tok + `) ` +
	`(?P<requester>` + tok + `) (?P<request_id>` + tok + `) (?P<operation>` + tok + `) (?P<key>` + tok + `) ` +
	`(?:"(?P<request_uri>` + qs + `)"|-) (?P<http_status>` + tok + `) (?P<error_code>` + tok + `) (?P<bytes_sent>` + tok + `) ` +
	`(?P<object_size>` + tok + `) (?P<total_time>` + tok + `) (?P<turn_around_time>` + tok + `) ` +
	`(?:"(?P<referrer>` + qs + `)"|-) (?:"(?P<user_agent>` + qs + `)"|-) (?P<version_id>` + tok + `)` +
	`(?: (?P<host_id>` + tok + `)(?: (?P<signature_version>` + tok + `)(?: (?P<cipher_suite>` + tok + `)` +
	`(?: (?P<authentication_type>` + tok + `)(?: (?P<host_header>` + tok + `)(?: (?P<tls_version>` + tok + `)` +
	`(?: (?P<access_point_arn>` + tok + `)(?: (?P<acl_required>` + tok + `))?)?)?)?)?)?)?)?` + more

// Presets maps the names Options.Preset accepts to their regexes. In a
// preset, a field that is exactly "-" is Null.
//
// The regexes define the presets; each also has a scanner (scan.go) that
// must agree with it, held to it by FuzzScan*. Scanners are found by the
// text of the regex: a changed regex is read with regexp until its
// scanner is changed too (TestScannersAttached fails meanwhile).
var Presets = map[string]string{
	"alb":       ALB,
	"combined":  Combined,
	"nginx":     Combined,
	"common":    Common,
	"s3-access": S3Access,
}

// PresetNames lists the preset names, sorted, for help text.
func PresetNames() []string {
	return slices.Sorted(maps.Keys(Presets))
}
