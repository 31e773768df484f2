package s3

import (
	"errors"
	"io"
	"net"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/ferrydata/ferry/pusher"
)

// classify marks err as pusher.ClassUnavailable when it says that S3 is
// unavailable or overloaded (a 5xx answer, SlowDown, a request timeout, a
// network error) rather than something about the object; other errors are
// returned as they are.
func classify(err error) error {
	if err == nil || !transient(err) {
		return err
	}
	return pusher.Unavailable(err)
}

func transient(err error) bool {
	var respErr *smithyhttp.ResponseError
	if errors.As(err, &respErr) && respErr.HTTPStatusCode() >= 500 {
		return true
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout":
			return true
		}
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	var opErr *net.OpError
	return errors.As(err, &opErr)
}

// body classifies the errors of an object's body as classify does: a
// connection reset while reading is S3's, not the file's.
type body struct{ io.ReadCloser }

func (b body) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		err = classify(err)
	}
	return n, err
}
