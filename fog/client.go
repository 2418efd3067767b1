package fog

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxResponseBytes bounds a response body a Client reads: a model list of
// a few hundred models, or one inference's scores.
const maxResponseBytes = 4 << 20

// Client calls a fog Server. Its methods may be called from several
// goroutines at once.
type Client struct {
	// BaseURL is the server's scheme, host and port, e.g.
	// "http://127.0.0.1:8080" (a trailing slash is ignored).
	BaseURL string
	// Token is sent as "Authorization: Bearer <Token>" unless empty.
	Token string
	// HTTP sends the requests; nil means a client with a 30 s timeout.
	HTTP *http.Client
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Timeout: 30 * time.Second}
}

// Infer sends tensor P of model (payload, raw little-endian values of dtype)
// and returns the server's answer. An error response is a *StatusError.
func (c *Client) Infer(ctx context.Context, model string, P int, dtype string, payload []byte) (Response, error) {
	u := strings.TrimSuffix(c.BaseURL, "/") + "/v1/models/" + url.PathEscape(model) + inferSuffix
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(payload))
	if err != nil {
		return Response{}, fmt.Errorf("fog: %w", err)
	}
	req.Header.Set("Content-Type", ContentTypeRaw)
	req.Header.Set(HeaderSplit, strconv.Itoa(P))
	req.Header.Set(HeaderDtype, dtype)
	var r Response
	return r, c.do(req, &r)
}

// Models lists the server's models.
func (c *Client) Models(ctx context.Context) ([]Info, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(c.BaseURL, "/")+"/v1/models", nil)
	if err != nil {
		return nil, fmt.Errorf("fog: %w", err)
	}
	var r struct {
		Models []Info `json:"models"`
	}
	return r.Models, c.do(req, &r)
}

// do sends req with the token and decodes a 200's JSON body into v.
func (c *Client) do(req *http.Request, v any) error {
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	req.Header.Set("Accept", ContentTypeJSON)
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return fmt.Errorf("fog: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return fmt.Errorf("fog: %s %s: reading the response: %w", req.Method, req.URL, err)
	}
	if len(body) > maxResponseBytes {
		return fmt.Errorf("fog: %s %s: response over %d bytes", req.Method, req.URL, maxResponseBytes)
	}
	if resp.StatusCode != http.StatusOK {
		se := &StatusError{Status: resp.StatusCode}
		if json.Unmarshal(body, &se.Body) != nil || se.Body.Error == "" {
			se.Body = ErrorBody{Error: clip(strings.TrimSpace(string(body)))}
		}
		return se
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("fog: %s %s: response is not the expected JSON: %w", req.Method, req.URL, err)
	}
	return nil
}
