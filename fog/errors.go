package fog

import (
	"fmt"
	"net/http"
)

// Cause is the short, machine-readable reason of an error response (its
// "cause" field) and the label of the errors metric.
type Cause string

// The causes, with the HTTP status each is answered with.
const (
	CauseBadLength      Cause = "bad_length"       // 400: the tensor has the wrong number of bytes or values
	CauseBadDtype       Cause = "bad_dtype"        // 400: Splitnas-Dtype or "dtype" is not the model's, or a value is not of it
	CauseBadSplit       Cause = "bad_split"        // 400: Splitnas-Split or "split" missing, not an integer, or out of range
	CauseNotFinite      Cause = "not_finite"       // 400: a NaN or infinite float32 value
	CauseBadJSON        Cause = "bad_json"         // 400: the JSON body does not parse or has unknown fields
	CauseUnauthorized   Cause = "unauthorized"     // 401: no or a wrong bearer token
	CauseUnknownModel   Cause = "unknown_model"    // 404: no model of that name
	CauseNotFound       Cause = "not_found"        // 404: no such path
	CauseMethod         Cause = "method"           // 405: wrong HTTP method
	CauseTooLarge       Cause = "too_large"        // 413: body larger than the largest valid one
	CauseBadContentType Cause = "bad_content_type" // 415: neither application/octet-stream nor application/json
	CauseInternal       Cause = "internal"         // 500: a bug (a recovered panic); never caused by bad input
)

// Status is the HTTP status code a response with cause c carries.
func (c Cause) Status() int {
	switch c {
	case CauseUnauthorized:
		return http.StatusUnauthorized
	case CauseUnknownModel, CauseNotFound:
		return http.StatusNotFound
	case CauseMethod:
		return http.StatusMethodNotAllowed
	case CauseTooLarge:
		return http.StatusRequestEntityTooLarge
	case CauseBadContentType:
		return http.StatusUnsupportedMediaType
	case CauseInternal:
		return http.StatusInternalServerError
	default:
		return http.StatusBadRequest
	}
}

// InputError is a request the fog refuses: what is wrong (Msg, naming the
// header or field and the value expected), where (Field: a header name, a
// JSON field, "body", "path"…) and why in one word (Cause).
type InputError struct {
	Cause Cause
	Field string
	Msg   string
}

func (e *InputError) Error() string { return fmt.Sprintf("fog: %s: %s", e.Field, e.Msg) }

// ErrorBody is the JSON body of every error response.
type ErrorBody struct {
	Error string `json:"error"` // what is wrong, naming the header or field and the expected value
	Cause Cause  `json:"cause"` // one of the Cause constants
}

// StatusError is an error response a Client received: the HTTP status and
// the server's error body (Cause empty if the body was not the fog's JSON).
type StatusError struct {
	Status int
	Body   ErrorBody
}

func (e *StatusError) Error() string {
	if e.Body.Cause == "" {
		return fmt.Sprintf("fog: HTTP %d %s: %s", e.Status, http.StatusText(e.Status), e.Body.Error)
	}
	return fmt.Sprintf("fog: HTTP %d %s (%s): %s", e.Status, http.StatusText(e.Status), e.Body.Cause, e.Body.Error)
}
