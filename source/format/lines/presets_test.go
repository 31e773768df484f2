package lines

import (
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source/format"
	"github.com/ferrydata/ferry/source/format/internal/formattest"
)

// presetCase is a log line and the columns it should read as; columns not
// listed must be Null. want nil: the line does not match.
type presetCase struct {
	name string
	line string
	want map[string]string
}

// Samples written from the formats in the AWS, nginx and Apache
// documentation.
const (
	tgARN   = "arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067"
	certARN = "arn:aws:acm:us-east-2:123456789012:certificate/12345678-1234-1234-1234-123456789012"
	s3Owner = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"
	s3Host  = "s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234="
)

// albBase are the columns of the documentation's HTTP example up to
// chosen_cert_arn; cases add to them.
func albBase(extra map[string]string) map[string]string {
	m := map[string]string{
		"type": "http", "time": "2018-07-02T22:23:00.186641Z", "elb": "app/my-loadbalancer/50dc6c495c0c9188",
		"client_ip": "192.168.131.39", "client_port": "2817", "target_ip": "10.0.0.1", "target_port": "80",
		"request_processing_time": "0.000", "target_processing_time": "0.001", "response_processing_time": "0.000",
		"elb_status_code": "200", "target_status_code": "200", "received_bytes": "34", "sent_bytes": "366",
		"request_method": "GET", "request_url": "http://www.example.com:80/", "request_http_version": "HTTP/1.1",
		"user_agent": "curl/7.46.0", "target_group_arn": tgARN, "trace_id": "Root=1-58337262-36d228ad5d99923122bbe354",
	}
	for k, v := range extra {
		if v == null {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	return m
}

const albHead = `http 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 0.000 0.001 0.000 200 200 34 366 "GET http://www.example.com:80/ HTTP/1.1" "curl/7.46.0" - - ` +
	tgARN + ` "Root=1-58337262-36d228ad5d99923122bbe354" "-" "-"`

var albAll = map[string]string{
	"matched_rule_priority": "0", "request_creation_time": "2018-07-02T22:22:48.364000Z", "actions_executed": "forward",
	"target_port_list": "10.0.0.1:80", "target_status_code_list": "200", "conn_trace_id": "TID_1234abcd5678ef90",
}

func merge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

var presetCases = map[string][]presetCase{
	"alb": {
		{"http with every field", albHead + ` 0 2018-07-02T22:22:48.364000Z "forward" "-" "-" "10.0.0.1:80" "200" "-" "-" TID_1234abcd5678ef90`,
			albBase(albAll)},
		{"original fields only", albHead, albBase(nil)},
		{"without target lists", albHead + ` 0 2018-07-02T22:22:48.364000Z "forward" "-" "-"`,
			albBase(map[string]string{"matched_rule_priority": "0", "request_creation_time": "2018-07-02T22:22:48.364000Z", "actions_executed": "forward"})},
		{"without classification", albHead + ` 0 2018-07-02T22:22:48.364000Z "forward" "-" "-" "10.0.0.1:80" "200"`,
			albBase(merge(albAll, map[string]string{"conn_trace_id": null}))},
		{"without conn_trace_id", albHead + ` 0 2018-07-02T22:22:48.364000Z "forward" "-" "-" "10.0.0.1:80" "200" "Acceptable" "-"`,
			albBase(merge(albAll, map[string]string{"conn_trace_id": null, "classification": "Acceptable"}))},
		{"fields added later are ignored", albHead + ` 0 2018-07-02T22:22:48.364000Z "forward" "-" "-" "10.0.0.1:80" "200" "-" "-" TID_1234abcd5678ef90 "new field" 42`,
			albBase(albAll)},
		// A group that is there but does not parse is not dropped: the
		// line is a bad record.
		{"unquoted target lists", albHead + ` 0 2018-07-02T22:22:48.364000Z "forward" "-" "-" 10.0.0.1:80 200 "-" "-" TID_1234abcd5678ef90`,
			albBase(albAll)},
		{"unquoted target lists, last fields", albHead + ` 0 2018-07-02T22:22:48.364000Z "forward" "-" "-" 10.0.0.1:80 200`,
			albBase(merge(albAll, map[string]string{"conn_trace_id": null}))},
		{"a quote inside a bare target list", albHead + ` 0 2018-07-02T22:22:48.364000Z "forward" "-" "-" 10.0.0.1:80" 200 "-" "-" TID_1234abcd5678ef90`, nil},
		{"unquoted classification", albHead + ` 0 2018-07-02T22:22:48.364000Z "forward" "-" "-" "10.0.0.1:80" "200" - - TID_1234abcd5678ef90`, nil},
		{"unquoted actions", albHead + ` 0 2018-07-02T22:22:48.364000Z forward "-" "-"`, nil},
		{"one target list only", albHead + ` 0 2018-07-02T22:22:48.364000Z "forward" "-" "-" "10.0.0.1:80"`, nil},
		{"https h2 ipv6 client, escaped quotes",
			`h2 2024-01-15T08:00:01.123456Z app/prod-alb/0123456789abcdef 2001:db8:85a3::8a2e:370:7334:54321 10.0.2.15:8080 0.001 0.015 0.000 404 404 512 1024 ` +
				`"GET https://api.example.com:443/v1/items?id=7&q=%22x%22 HTTP/2.0" "Mozilla/5.0 (X11; Linux x86_64) \"quoted\" agent" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 ` +
				tgARN + ` "Root=1-65a4e5a1-0123456789abcdef01234567" "api.example.com" "` + certARN + `" 1 2024-01-15T08:00:01.107000Z "waf,forward" "-" "-" ` +
				`"10.0.2.15:8080" "404" "Ambiguous" "UndefinedContentLengthSemantics" TID_a1b2c3`,
			map[string]string{
				"type": "h2", "time": "2024-01-15T08:00:01.123456Z", "elb": "app/prod-alb/0123456789abcdef",
				"client_ip": "2001:db8:85a3::8a2e:370:7334", "client_port": "54321", "target_ip": "10.0.2.15", "target_port": "8080",
				"request_processing_time": "0.001", "target_processing_time": "0.015", "response_processing_time": "0.000",
				"elb_status_code": "404", "target_status_code": "404", "received_bytes": "512", "sent_bytes": "1024",
				"request_method": "GET", "request_url": "https://api.example.com:443/v1/items?id=7&q=%22x%22", "request_http_version": "HTTP/2.0",
				"user_agent": `Mozilla/5.0 (X11; Linux x86_64) \"quoted\" agent`, "ssl_cipher": "ECDHE-RSA-AES128-GCM-SHA256", "ssl_protocol": "TLSv1.2",
				"target_group_arn": tgARN, "trace_id": "Root=1-65a4e5a1-0123456789abcdef01234567", "domain_name": "api.example.com",
				"chosen_cert_arn": certARN, "matched_rule_priority": "1", "request_creation_time": "2024-01-15T08:00:01.107000Z",
				"actions_executed": "waf,forward", "target_port_list": "10.0.2.15:8080", "target_status_code_list": "404",
				"classification": "Ambiguous", "classification_reason": "UndefinedContentLengthSemantics", "conn_trace_id": "TID_a1b2c3",
			}},
		{"bracketed ipv6 client and target",
			`https 2024-01-15T08:00:02.000000Z app/prod-alb/0123456789abcdef [2001:db8::1]:443 [2600:1f18:abcd::10]:80 0.000 0.002 0.000 200 200 10 20 ` +
				`"POST https://example.com:443/api HTTP/1.1" "-" - - ` + tgARN + ` "-" "-" "-" 5 2024-01-15T08:00:01.998000Z "forward" "-" "-" "[2600:1f18:abcd::10]:80" "200" "-" "-" -`,
			map[string]string{
				"type": "https", "time": "2024-01-15T08:00:02.000000Z", "elb": "app/prod-alb/0123456789abcdef",
				"client_ip": "2001:db8::1", "client_port": "443", "target_ip": "2600:1f18:abcd::10", "target_port": "80",
				"request_processing_time": "0.000", "target_processing_time": "0.002", "response_processing_time": "0.000",
				"elb_status_code": "200", "target_status_code": "200", "received_bytes": "10", "sent_bytes": "20",
				"request_method": "POST", "request_url": "https://example.com:443/api", "request_http_version": "HTTP/1.1",
				"target_group_arn": tgARN, "matched_rule_priority": "5", "request_creation_time": "2024-01-15T08:00:01.998000Z",
				"actions_executed": "forward", "target_port_list": "[2600:1f18:abcd::10]:80", "target_status_code_list": "200",
			}},
		{"lambda target error",
			`https 2018-11-30T22:22:48.364000Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 - 0.000 0.001 0.000 502 - 34 366 ` +
				`"GET https://www.example.com:443/ HTTP/1.1" "curl/7.46.0" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 ` + tgARN +
				` "Root=1-58337364-23a8c76965a2ef7629b185e3" "-" "-" 0 2018-11-30T22:22:48.364000Z "forward" "-" "LambdaInvalidResponse" "-" "-" "-" "-" TID_x`,
			map[string]string{
				"type": "https", "time": "2018-11-30T22:22:48.364000Z", "elb": "app/my-loadbalancer/50dc6c495c0c9188",
				"client_ip": "192.168.131.39", "client_port": "2817",
				"request_processing_time": "0.000", "target_processing_time": "0.001", "response_processing_time": "0.000",
				"elb_status_code": "502", "received_bytes": "34", "sent_bytes": "366",
				"request_method": "GET", "request_url": "https://www.example.com:443/", "request_http_version": "HTTP/1.1",
				"user_agent": "curl/7.46.0", "ssl_cipher": "ECDHE-RSA-AES128-GCM-SHA256", "ssl_protocol": "TLSv1.2",
				"target_group_arn": tgARN, "trace_id": "Root=1-58337364-23a8c76965a2ef7629b185e3",
				"matched_rule_priority": "0", "request_creation_time": "2018-11-30T22:22:48.364000Z", "actions_executed": "forward",
				"error_reason": "LambdaInvalidResponse", "conn_trace_id": "TID_x",
			}},
		{"malformed request",
			`http 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 10.1.2.3:5000 - -1 -1 -1 400 - 0 272 "- - - " "-" - - - "-" "-" "-" - ` +
				`2018-07-02T22:23:00.186000Z "-" "-" "-" "-" "-" "-" "-" TID_y`,
			map[string]string{
				"type": "http", "time": "2018-07-02T22:23:00.186641Z", "elb": "app/my-loadbalancer/50dc6c495c0c9188",
				"client_ip": "10.1.2.3", "client_port": "5000",
				"request_processing_time": "-1", "target_processing_time": "-1", "response_processing_time": "-1",
				"elb_status_code": "400", "received_bytes": "0", "sent_bytes": "272",
				"request_creation_time": "2018-07-02T22:23:00.186000Z", "conn_trace_id": "TID_y",
			}},
		{"websocket, several targets, redirect",
			`wss 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 10.0.0.140:44244 10.0.0.171:8010 0.000 0.001 0.000 101 101 218 786 ` +
				`"GET wss://10.0.0.171:8010/ HTTP/1.1" "-" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 ` + tgARN + ` "-" "-" "-" 0 2018-07-02T22:22:48.364000Z ` +
				`"redirect,forward" "https://example.com:443/new?a=\"b\"" "-" "10.0.0.171:8010 10.0.0.172:8010" "502 101" "-" "-" TID_z`,
			map[string]string{
				"type": "wss", "time": "2018-07-02T22:23:00.186641Z", "elb": "app/my-loadbalancer/50dc6c495c0c9188",
				"client_ip": "10.0.0.140", "client_port": "44244", "target_ip": "10.0.0.171", "target_port": "8010",
				"request_processing_time": "0.000", "target_processing_time": "0.001", "response_processing_time": "0.000",
				"elb_status_code": "101", "target_status_code": "101", "received_bytes": "218", "sent_bytes": "786",
				"request_method": "GET", "request_url": "wss://10.0.0.171:8010/", "request_http_version": "HTTP/1.1",
				"ssl_cipher": "ECDHE-RSA-AES128-GCM-SHA256", "ssl_protocol": "TLSv1.2", "target_group_arn": tgARN,
				"matched_rule_priority": "0", "request_creation_time": "2018-07-02T22:22:48.364000Z", "actions_executed": "redirect,forward",
				"redirect_url": `https://example.com:443/new?a=\"b\"`, "target_port_list": "10.0.0.171:8010 10.0.0.172:8010",
				"target_status_code_list": "502 101", "conn_trace_id": "TID_z",
			}},
		{"classic elb line", `2015-05-13T23:39:43.945958Z my-loadbalancer 192.168.131.39:2817 10.0.0.1:80 0.000073 0.001048 0.000057 200 200 0 29 "GET http://www.example.com:80/ HTTP/1.1" "curl/7.38.0" - -`, nil},
		{"truncated", albHead[:100], nil},
	},
	"combined": {
		{"apache example", `127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"`,
			map[string]string{"remote_addr": "127.0.0.1", "remote_user": "frank", "time_local": "10/Oct/2000:13:55:36 -0700",
				"request_method": "GET", "request_url": "/apache_pb.gif", "request_protocol": "HTTP/1.0", "status": "200", "body_bytes_sent": "2326",
				"http_referer": "http://www.example.com/start.html", "http_user_agent": "Mozilla/4.08 [en] (Win98; I ;Nav)"}},
		{"nginx dashes", `203.0.113.9 - - [01/Mar/2024:12:34:56 +0000] "POST /api/login?next=%2Fhome HTTP/1.1" 302 0 "-" "curl/8.4.0"`,
			map[string]string{"remote_addr": "203.0.113.9", "time_local": "01/Mar/2024:12:34:56 +0000",
				"request_method": "POST", "request_url": "/api/login?next=%2Fhome", "request_protocol": "HTTP/1.1", "status": "302", "body_bytes_sent": "0",
				"http_user_agent": "curl/8.4.0"}},
		{"ipv6 and escaped quotes", `2001:db8::1 - - [01/Mar/2024:12:34:57 +0000] "GET /search?q=\"quoted\" HTTP/2.0" 200 512 "https://example.com/?a=b" "Mozilla/5.0 \"x\" (compatible)"`,
			map[string]string{"remote_addr": "2001:db8::1", "time_local": "01/Mar/2024:12:34:57 +0000",
				"request_method": "GET", "request_url": `/search?q=\"quoted\"`, "request_protocol": "HTTP/2.0", "status": "200", "body_bytes_sent": "512",
				"http_referer": "https://example.com/?a=b", "http_user_agent": `Mozilla/5.0 \"x\" (compatible)`}},
		{"junk request", `198.51.100.7 - - [01/Mar/2024:12:35:00 +0000] "\x16\x03\x01\x00\xF7\x01\x00\x00" 400 157 "-" "-"`,
			map[string]string{"remote_addr": "198.51.100.7", "time_local": "01/Mar/2024:12:35:00 +0000",
				"request_url": `\x16\x03\x01\x00\xF7\x01\x00\x00`, "status": "400", "body_bytes_sent": "157"}},
		{"empty request", `198.51.100.7 - - [01/Mar/2024:12:35:01 +0000] "-" 408 0 "-" "-"`,
			map[string]string{"remote_addr": "198.51.100.7", "time_local": "01/Mar/2024:12:35:01 +0000", "status": "408", "body_bytes_sent": "0"}},
		{"space in url, no bytes", `10.0.0.1 - - [01/Mar/2024:12:35:02 +0000] "GET /a b HTTP/1.1" 304 - "-" "UA"`,
			map[string]string{"remote_addr": "10.0.0.1", "time_local": "01/Mar/2024:12:35:02 +0000",
				"request_method": "GET", "request_url": "/a b", "request_protocol": "HTTP/1.1", "status": "304", "http_user_agent": "UA"}},
		{"extra fields ignored", `10.0.0.1 - - [01/Mar/2024:12:35:03 +0000] "GET / HTTP/1.1" 200 5 "-" "curl/8.4.0" "10.0.0.2, 10.0.0.3" 0.012`,
			map[string]string{"remote_addr": "10.0.0.1", "time_local": "01/Mar/2024:12:35:03 +0000",
				"request_method": "GET", "request_url": "/", "request_protocol": "HTTP/1.1", "status": "200", "body_bytes_sent": "5", "http_user_agent": "curl/8.4.0"}},
		{"common line", `127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326`, nil},
		{"not a log line", `not a log line`, nil},
	},
	"common": {
		{"apache example", `127.0.0.1 user-identifier frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326`,
			map[string]string{"remote_addr": "127.0.0.1", "remote_user": "frank", "time_local": "10/Oct/2000:13:55:36 -0700",
				"request_method": "GET", "request_url": "/apache_pb.gif", "request_protocol": "HTTP/1.0", "status": "200", "body_bytes_sent": "2326"}},
		{"ipv6, no bytes", `::1 - - [01/Mar/2024:12:34:56 +0000] "HEAD / HTTP/1.1" 200 -`,
			map[string]string{"remote_addr": "::1", "time_local": "01/Mar/2024:12:34:56 +0000",
				"request_method": "HEAD", "request_url": "/", "request_protocol": "HTTP/1.1", "status": "200"}},
		{"request without protocol", `10.0.0.1 - - [01/Mar/2024:12:34:56 +0000] "GET /" 200 12`,
			map[string]string{"remote_addr": "10.0.0.1", "time_local": "01/Mar/2024:12:34:56 +0000",
				"request_method": "GET", "request_url": "/", "status": "200", "body_bytes_sent": "12"}},
		{"bad time", `10.0.0.1 - - 01/Mar/2024:12:34:56 "GET /" 200 12`, nil},
	},
	"s3-access": {
		{"documentation example",
			s3Owner + ` awsexamplebucket1 [06/Feb/2019:00:00:38 +0000] 192.0.2.3 ` + s3Owner + ` 3E57427F3EXAMPLE REST.GET.VERSIONING - ` +
				`"GET /awsexamplebucket1?versioning HTTP/1.1" 200 - 113 - 7 - "-" "S3Console/0.4" - ` + s3Host +
				` SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader awsexamplebucket1.s3.us-west-1.amazonaws.com TLSV1.2 arn:aws:s3:us-west-1:123456789012:accesspoint/example-AP Yes`,
			map[string]string{"bucket_owner": s3Owner, "bucket": "awsexamplebucket1", "time": "06/Feb/2019:00:00:38 +0000", "remote_ip": "192.0.2.3",
				"requester": s3Owner, "request_id": "3E57427F3EXAMPLE", "operation": "REST.GET.VERSIONING",
				"request_uri": "GET /awsexamplebucket1?versioning HTTP/1.1", "http_status": "200", "bytes_sent": "113", "total_time": "7",
				"user_agent": "S3Console/0.4", "host_id": s3Host, "signature_version": "SigV4", "cipher_suite": "ECDHE-RSA-AES128-GCM-SHA256",
				"authentication_type": "AuthHeader", "host_header": "awsexamplebucket1.s3.us-west-1.amazonaws.com", "tls_version": "TLSV1.2",
				"access_point_arn": "arn:aws:s3:us-west-1:123456789012:accesspoint/example-AP", "acl_required": "Yes"}},
		{"get object, cli agent with spaces and quotes, trailing fields",
			s3Owner + ` amzn-s3-demo-bucket [15/Jan/2024:10:11:12 +0000] 2001:db8::7 arn:aws:iam::123456789012:user/alice A1B2C3D4E5F6G7H8 REST.GET.OBJECT photos/my%20cat.jpg ` +
				`"GET /amzn-s3-demo-bucket/photos/my%20cat.jpg?x-id=GetObject HTTP/1.1" 206 - 1048576 5242880 55 12 "https://example.com/\"gallery\"" ` +
				`"aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64.amzn.2 prompt/off command/s3.cp" 3HL4kqtJvjVBH40Nrjfkd ` + s3Host +
				` SigV4 TLS_AES_128_GCM_SHA256 AuthHeader amzn-s3-demo-bucket.s3.us-east-1.amazonaws.com TLSv1.3 - - us-east-1 "future"`,
			map[string]string{"bucket_owner": s3Owner, "bucket": "amzn-s3-demo-bucket", "time": "15/Jan/2024:10:11:12 +0000", "remote_ip": "2001:db8::7",
				"requester": "arn:aws:iam::123456789012:user/alice", "request_id": "A1B2C3D4E5F6G7H8", "operation": "REST.GET.OBJECT", "key": "photos/my%20cat.jpg",
				"request_uri": "GET /amzn-s3-demo-bucket/photos/my%20cat.jpg?x-id=GetObject HTTP/1.1", "http_status": "206", "bytes_sent": "1048576",
				"object_size": "5242880", "total_time": "55", "turn_around_time": "12", "referrer": `https://example.com/\"gallery\"`,
				"user_agent": "aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64.amzn.2 prompt/off command/s3.cp", "version_id": "3HL4kqtJvjVBH40Nrjfkd",
				"host_id": s3Host, "signature_version": "SigV4", "cipher_suite": "TLS_AES_128_GCM_SHA256", "authentication_type": "AuthHeader",
				"host_header": "amzn-s3-demo-bucket.s3.us-east-1.amazonaws.com", "tls_version": "TLSv1.3"}},
		{"older line ending at version_id, error code",
			s3Owner + ` awsexamplebucket1 [06/Feb/2016:00:00:38 +0000] 192.0.2.3 - 3E57427F3EXAMPLE REST.GET.OBJECT missing.txt "GET /awsexamplebucket1/missing.txt HTTP/1.1" 404 NoSuchKey 298 - 9 - "-" "curl/7.46.0" -`,
			map[string]string{"bucket_owner": s3Owner, "bucket": "awsexamplebucket1", "time": "06/Feb/2016:00:00:38 +0000", "remote_ip": "192.0.2.3",
				"request_id": "3E57427F3EXAMPLE", "operation": "REST.GET.OBJECT", "key": "missing.txt",
				"request_uri": "GET /awsexamplebucket1/missing.txt HTTP/1.1", "http_status": "404", "error_code": "NoSuchKey", "bytes_sent": "298", "total_time": "9",
				"user_agent": "curl/7.46.0"}},
		{"lifecycle expiry, bare dashes",
			s3Owner + ` awsexamplebucket1 [06/Feb/2019:00:00:38 +0000] - AmazonS3 4A1C2D3E4F5A6B7C S3.EXPIRE.OBJECT logs/old.gz - - - - 1024 - - - - - - - - - - - - -`,
			map[string]string{"bucket_owner": s3Owner, "bucket": "awsexamplebucket1", "time": "06/Feb/2019:00:00:38 +0000",
				"requester": "AmazonS3", "request_id": "4A1C2D3E4F5A6B7C", "operation": "S3.EXPIRE.OBJECT", "key": "logs/old.gz", "object_size": "1024"}},
		{"missing fields", s3Owner + ` awsexamplebucket1 [06/Feb/2019:00:00:38 +0000] 192.0.2.3 ` + s3Owner + ` 3E57427F3EXAMPLE`, nil},
	},
}

func TestPresets(t *testing.T) {
	for name, cases := range presetCases {
		re := regexp.MustCompile(Presets[name])
		var cols []string
		for i, n := range re.SubexpNames() {
			if i > 0 && !slices.Contains(cols, n) { // a name used twice is one column
				cols = append(cols, n)
			}
		}
		var in strings.Builder
		var want []string
		for i, c := range cases {
			in.WriteString(c.line + "\n")
			if c.want == nil {
				want = append(want, fmt.Sprintf("ERR record %d (byte %d): line does not match the pattern", i+1, in.Len()-len(c.line)-1))
				continue
			}
			for k := range c.want {
				if !slices.Contains(cols, k) {
					t.Fatalf("%s/%s: no column %q", name, c.name, k)
				}
			}
			var parts []string
			for _, col := range cols {
				v, ok := c.want[col]
				if !ok {
					v = null
				}
				parts = append(parts, v)
			}
			want = append(want, strings.Join(parts, "|"))
		}
		for _, size := range []int{7, bufSize} {
			res := formattest.Drain(t, open(t, in.String(), format.Options{Preset: name}, pusher.Position{}, size, formattest.Identity), formattest.Values)
			if res.Final != io.EOF || !slices.Equal(res.Cols, cols) {
				t.Fatalf("%s: %v, columns %q", name, res.Final, res.Cols)
			}
			for i, c := range cases {
				if i >= len(res.Events) || res.Events[i] != want[i] {
					got := "nothing"
					if i < len(res.Events) {
						got = res.Events[i]
					}
					t.Errorf("%s/%s:\ngot  %s\nwant %s", name, c.name, got, want[i])
				}
			}
			if len(res.Events) != len(want) {
				t.Fatalf("%s: %d events, want %d", name, len(res.Events), len(want))
			}
		}
	}
}

func TestPresetNames(t *testing.T) {
	want := []string{"alb", "combined", "common", "nginx", "s3-access"}
	if got := PresetNames(); !slices.Equal(got, want) {
		t.Fatalf("%q", got)
	}
	for _, n := range want {
		if _, err := compile("", n); err != nil {
			t.Fatalf("%s: %v", n, err)
		}
	}
	// A user regex is taken as given: "-" stays a string there.
	r := open(t, "- x\n", format.Options{Regex: `^(?P<remote_addr>\S+) (?P<b>\S+)$`}, pusher.Position{}, bufSize, formattest.Identity)
	if res := formattest.Drain(t, r, formattest.Values); !slices.Equal(res.Events, []string{"-|x"}) {
		t.Fatalf("%q", res.Events)
	}
}

// TestValidatePreset: an unknown preset is refused when the options are
// checked (a usage error), not file by file.
func TestValidatePreset(t *testing.T) {
	if err := (format.Options{Preset: "nginx"}).Validate(); err != nil {
		t.Fatal(err)
	}
	err := (format.Options{Preset: "apache"}).Validate()
	if err == nil || !strings.Contains(err.Error(), `lines preset "apache": expected one of alb, combined, common, nginx, s3-access`) {
		t.Fatalf("unknown preset: %v", err)
	}
}
