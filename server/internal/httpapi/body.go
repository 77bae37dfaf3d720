package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"

	"github.com/authproxy/authproxy/server/internal/problem"
)

// singleJSONBody refuses a JSON body that holds anything after its one value (a second
// object, stray characters): decoders downstream would silently ignore it.
func singleJSONBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if r.Body == nil || r.Body == http.NoBody || mt != "application/json" {
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				writeProblem(w, r, problem.New(http.StatusRequestEntityTooLarge, "request body exceeds %d bytes", tooLarge.Limit))
				return
			}
			writeProblem(w, r, problem.InvalidField("body", "could not read the request body"))
			return
		}
		if len(bytes.TrimSpace(body)) > 0 {
			dec := json.NewDecoder(bytes.NewReader(body))
			var v json.RawMessage
			if err := dec.Decode(&v); err == nil {
				if _, err := dec.Token(); err != io.EOF {
					writeProblem(w, r, problem.InvalidField("body", "not valid JSON: unexpected data after the JSON value at offset %d", dec.InputOffset()))
					return
				}
			}
			// Malformed JSON is left to the validator, which names the problem.
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
}
